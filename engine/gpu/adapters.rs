//! Adapter discovery and selection.
//!
//! Every backend is enumerated. Each adapter is probed by opening a device on it; an adapter
//! whose device cannot be created, or that lacks what tutti's passes need, is listed with the
//! reason and skipped. The default selection is every working adapter, minus a second backend of
//! the same physical GPU (the preferred backend wins: Vulkan, Metal, DX12, then GL). Software
//! rasterisers (lavapipe, llvmpipe) are different drivers rather than one GPU seen twice, so both
//! are kept.

use super::{GpuContext, GpuError};
use serde::Serialize;
use std::panic::AssertUnwindSafe;

/// What to install when there is no adapter.
pub const NO_ADAPTER_HELP: &str = "tutti needs a Vulkan, Metal, DX12 or OpenGL adapter. On a headless \
Linux machine without GPU drivers, install Mesa's software rasterisers: `apt-get install mesa-vulkan-drivers` \
(lavapipe, Vulkan) and `libegl1 libgl1-mesa-dri` (llvmpipe, OpenGL).";

/// Result of probing one adapter.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum AdapterStatus {
    /// A device opened and has everything tutti needs.
    Ok,
    /// Not usable; the reason says why.
    Unusable {
        /// Why.
        reason: String,
    },
}

/// One adapter wgpu found, with its probe result.
#[derive(Debug, Clone, Serialize)]
pub struct AdapterEntry {
    /// Stable index within this discovery (enumeration order).
    pub index: usize,
    /// Adapter name.
    pub name: String,
    /// Backend (`vulkan`, `gl`, ...).
    pub backend: String,
    /// Device type (`DiscreteGpu`, `Cpu`, ...).
    pub device_type: String,
    /// Driver name.
    pub driver: String,
    /// Driver details.
    pub driver_info: String,
    /// PCI vendor id.
    pub vendor: u32,
    /// PCI device id.
    pub device: u32,
    /// Largest 2D texture side.
    pub max_texture_dimension_2d: u32,
    /// Largest storage buffer binding, bytes.
    pub max_storage_buffer_binding_size: u64,
    /// Storage buffers per shader stage.
    pub max_storage_buffers_per_shader_stage: u32,
    /// Largest buffer, bytes.
    pub max_buffer_size: u64,
    /// Compute workgroup invocations.
    pub max_compute_invocations_per_workgroup: u32,
    /// Whether indirect draws run natively (`DownlevelFlags::INDIRECT_EXECUTION`).
    pub indirect_execution: bool,
    /// Whether indirect draws may carry a first instance (`INDIRECT_FIRST_INSTANCE`): the
    /// renderer then issues one `multi_draw_indexed_indirect` per asset and material instead
    /// of a loop of single indirect draws.
    pub indirect_first_instance: bool,
    /// Whether timestamp queries are available.
    pub timestamp_query: bool,
    /// Probe result.
    #[serde(flatten)]
    pub status: AdapterStatus,
    /// Index of the adapter this one duplicates (same physical GPU on another backend).
    pub duplicate_of: Option<usize>,
    #[serde(skip)]
    adapter: wgpu::Adapter,
}

impl AdapterEntry {
    /// True when the probe succeeded.
    pub fn is_ok(&self) -> bool {
        matches!(self.status, AdapterStatus::Ok)
    }

    /// Short label: `#1 llvmpipe (LLVM 15) [vulkan]`.
    pub fn label(&self) -> String {
        format!("#{} {} [{}]", self.index, self.name, self.backend)
    }

    /// The adapter's limits (what [`Self::open`] asks for).
    pub fn limits(&self) -> wgpu::Limits {
        self.adapter.limits()
    }

    /// Open a fresh device on this adapter with every limit the adapter offers.
    pub fn open(&self) -> Result<GpuContext, GpuError> {
        self.open_with_limits(self.adapter.limits())
    }

    /// Open a fresh device that enforces `limits` (each at most the adapter's, see
    /// [`Self::limits`]): a device smaller than the adapter, to leave room for other work or to
    /// rehearse a smaller GPU. wgpu then rejects anything beyond `limits` as a validation error,
    /// and tutti checks scenes against them ([`GpuContext::limits`]).
    pub fn open_with_limits(&self, limits: wgpu::Limits) -> Result<GpuContext, GpuError> {
        let unusable = |reason: String| GpuError::Unusable {
            index: self.index,
            name: self.name.clone(),
            reason,
        };
        check_requirements(&self.adapter).map_err(|e| unusable(e.to_string()))?;
        let adapter = self.adapter.clone();
        let exclusive = (adapter.get_info().backend == wgpu::Backend::Gl).then(|| {
            super::context::ExclusiveGuard::acquire(format!(
                "gl:{}:{}",
                self.name, self.driver_info
            ))
        });
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
            pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
                label: Some("tutti::device"),
                // Timestamps between passes (not only at pass boundaries) let a profiler time
                // groups of passes (`render::PassScopes`) without touching the passes.
                required_features: adapter.features()
                    & (wgpu::Features::INDIRECT_FIRST_INSTANCE
                        | wgpu::Features::TIMESTAMP_QUERY
                        | wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS),
                required_limits: limits,
                experimental_features: wgpu::ExperimentalFeatures::disabled(),
                memory_hints: wgpu::MemoryHints::Performance,
                trace: wgpu::Trace::Off,
            }))
        }));
        match result {
            Ok(Ok((device, queue))) => Ok(GpuContext::with_guard(
                self.index,
                self.label(),
                adapter,
                device,
                queue,
                exclusive,
            )),
            Ok(Err(e)) => Err(unusable(format!("device creation failed: {e}"))),
            Err(panic) => Err(unusable(format!(
                "device creation panicked: {}",
                panic_text(&panic)
            ))),
        }
    }
}

/// The message of a caught panic.
pub(crate) fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into())
}

/// One thing an adapter lacks of what tutti's passes need.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum Lack {
    #[error("compute shaders")]
    ComputeShaders,
    #[error("storage buffers in vertex shaders")]
    VertexStorage,
    #[error("8 storage buffers per stage (has {0})")]
    StorageBuffers(u32),
    #[error("64-wide compute workgroups")]
    Workgroups,
}

/// Everything an adapter lacks (never empty).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("lacks {}", .0.iter().map(Lack::to_string).collect::<Vec<_>>().join(", "))]
struct Unmet(Vec<Lack>);

/// What tutti's passes need: compute shaders, storage buffers readable from vertex shaders.
fn check_requirements(adapter: &wgpu::Adapter) -> Result<(), Unmet> {
    let down = adapter.get_downlevel_capabilities();
    let limits = adapter.limits();
    let mut missing = Vec::new();
    if !down.flags.contains(wgpu::DownlevelFlags::COMPUTE_SHADERS) {
        missing.push(Lack::ComputeShaders);
    }
    if !down.flags.contains(wgpu::DownlevelFlags::VERTEX_STORAGE) {
        missing.push(Lack::VertexStorage);
    }
    // The cull + LOD pass binds eight storage buffers in its compute stage (the animation
    // pass's ten are checked per scene: `render::limits`).
    if limits.max_storage_buffers_per_shader_stage < 8 {
        missing.push(Lack::StorageBuffers(
            limits.max_storage_buffers_per_shader_stage,
        ));
    }
    if limits.max_compute_workgroup_size_x < 64 || limits.max_compute_invocations_per_workgroup < 64
    {
        missing.push(Lack::Workgroups);
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Unmet(missing))
    }
}

/// Everything wgpu found, probed.
pub struct Discovery {
    /// The instance the adapters belong to.
    pub instance: wgpu::Instance,
    /// Every adapter on every backend, in enumeration order.
    pub adapters: Vec<AdapterEntry>,
}

fn backend_rank(b: wgpu::Backend) -> u8 {
    match b {
        wgpu::Backend::Vulkan => 0,
        wgpu::Backend::Metal => 1,
        wgpu::Backend::Dx12 => 2,
        wgpu::Backend::Gl => 3,
        _ => 4,
    }
}

impl Discovery {
    /// Enumerate every adapter on every backend and probe each by opening a device.
    pub fn run() -> Self {
        // Every backend, unless wgpu's own `WGPU_BACKEND` (and its other `WGPU_*` settings, which
        // wgpu reads itself in `*_from_env`) narrows them: the default backend set is all of them.
        Self::with_instance(wgpu::Instance::new(
            wgpu::InstanceDescriptor::new_without_display_handle_from_env(),
        ))
    }

    /// As [`Self::run`], on an instance connected to a window system's display (e.g. winit's
    /// `OwnedDisplayHandle`), so that its adapters can present to windows of that display. The
    /// GL backend needs this: its EGL platform is chosen when the instance is made.
    pub fn for_display(
        display: impl wgpu::rwh::HasDisplayHandle + std::fmt::Debug + Send + Sync + 'static,
    ) -> Self {
        Self::with_instance(wgpu::Instance::new(
            wgpu::InstanceDescriptor::new_with_display_handle_from_env(Box::new(display)),
        ))
    }

    fn with_instance(instance: wgpu::Instance) -> Self {
        let found = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
        let mut adapters: Vec<AdapterEntry> = found
            .into_iter()
            .enumerate()
            .map(|(index, adapter)| {
                let info = adapter.get_info();
                let limits = adapter.limits();
                let features = adapter.features();
                let mut entry = AdapterEntry {
                    index,
                    name: info.name.clone(),
                    backend: info.backend.to_str().to_string(),
                    device_type: format!("{:?}", info.device_type),
                    driver: info.driver.clone(),
                    driver_info: info.driver_info.clone(),
                    vendor: info.vendor,
                    device: info.device,
                    max_texture_dimension_2d: limits.max_texture_dimension_2d,
                    max_storage_buffer_binding_size: limits.max_storage_buffer_binding_size,
                    max_storage_buffers_per_shader_stage: limits
                        .max_storage_buffers_per_shader_stage,
                    max_buffer_size: limits.max_buffer_size,
                    max_compute_invocations_per_workgroup: limits
                        .max_compute_invocations_per_workgroup,
                    indirect_execution: adapter
                        .get_downlevel_capabilities()
                        .flags
                        .contains(wgpu::DownlevelFlags::INDIRECT_EXECUTION),
                    indirect_first_instance: features
                        .contains(wgpu::Features::INDIRECT_FIRST_INSTANCE),
                    timestamp_query: features.contains(wgpu::Features::TIMESTAMP_QUERY),
                    status: AdapterStatus::Ok,
                    duplicate_of: None,
                    adapter,
                };
                entry.status = match entry.open() {
                    Ok(_) => AdapterStatus::Ok,
                    Err(GpuError::Unusable { reason, .. }) => AdapterStatus::Unusable { reason },
                    Err(e) => AdapterStatus::Unusable {
                        reason: e.to_string(),
                    },
                };
                entry
            })
            .collect();
        // Mark a second backend of the same physical GPU.
        let ranked: Vec<(usize, u8)> = adapters
            .iter()
            .map(|a| (a.index, backend_rank(a.adapter.get_info().backend)))
            .collect();
        for i in 0..adapters.len() {
            let a = &adapters[i];
            if a.device_type == "Cpu" || a.device == 0 || !a.is_ok() {
                continue;
            }
            let better = adapters.iter().find(|b| {
                b.index != a.index
                    && b.is_ok()
                    && b.vendor == a.vendor
                    && b.device == a.device
                    && b.device_type == a.device_type
                    && (ranked[b.index].1, b.index) < (ranked[a.index].1, a.index)
            });
            if let Some(b) = better.map(|b| b.index) {
                adapters[i].duplicate_of = Some(b);
            }
        }
        Self { instance, adapters }
    }

    /// Resolve an `--adapters` spec to adapter indices (all of them usable).
    pub fn select(&self, spec: &AdapterSpec) -> Result<Vec<usize>, GpuError> {
        if self.adapters.is_empty() {
            return Err(GpuError::NoAdapters);
        }
        let working: Vec<&AdapterEntry> = self.adapters.iter().filter(|a| a.is_ok()).collect();
        if working.is_empty() {
            let details = self
                .adapters
                .iter()
                .map(|a| match &a.status {
                    AdapterStatus::Unusable { reason } => format!("  {}: {reason}", a.label()),
                    AdapterStatus::Ok => format!("  {}: ok", a.label()),
                })
                .collect::<Vec<_>>()
                .join("\n");
            return Err(GpuError::NoUsableAdapters { details });
        }
        let bad = |message: String| GpuError::BadSpec {
            spec: spec.text.clone(),
            message,
        };
        let picked: Vec<usize> = match &spec.kind {
            SpecKind::Default => working
                .iter()
                .filter(|a| a.duplicate_of.is_none())
                .map(|a| a.index)
                .collect(),
            SpecKind::All => working.iter().map(|a| a.index).collect(),
            SpecKind::Indices(list) => {
                let mut out = Vec::new();
                for &i in list {
                    let Some(a) = self.adapters.get(i) else {
                        return Err(bad(format!(
                            "there is no adapter {i}; `tutti adapters` lists indices 0..{}",
                            self.adapters.len() - 1
                        )));
                    };
                    if let AdapterStatus::Unusable { reason } = &a.status {
                        return Err(GpuError::Unusable {
                            index: i,
                            name: a.name.clone(),
                            reason: reason.clone(),
                        });
                    }
                    if !out.contains(&i) {
                        out.push(i);
                    }
                }
                out
            }
            SpecKind::Backend(b) => working
                .iter()
                .filter(|a| &a.backend == b)
                .map(|a| a.index)
                .collect(),
        };
        if picked.is_empty() {
            return Err(bad(
                "matches no working adapter; run `tutti adapters` to see them".into(),
            ));
        }
        Ok(picked)
    }

    /// Open a fresh device on each of these adapters.
    pub fn open(&self, indices: &[usize]) -> Result<Vec<GpuContext>, GpuError> {
        indices.iter().map(|&i| self.adapters[i].open()).collect()
    }

    /// A device on the first adapter `spec` selects (for single-device work such as benchmarks).
    pub fn open_first(&self, spec: &AdapterSpec) -> Result<GpuContext, GpuError> {
        let selected = self.select(spec)?;
        // `select` fails rather than return an empty list.
        self.adapters[selected[0]].open()
    }

    /// The adapters that were skipped, with reasons, for logs.
    pub fn skipped(&self) -> Vec<String> {
        self.adapters
            .iter()
            .filter_map(|a| match &a.status {
                AdapterStatus::Unusable { reason } => {
                    Some(format!("{} skipped: {reason}", a.label()))
                }
                AdapterStatus::Ok => None,
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum SpecKind {
    Default,
    All,
    Indices(Vec<usize>),
    Backend(String),
}

/// A parsed `--adapters` value: `default`, `all`, a comma list of indices, or a backend name
/// (`vulkan`, `metal`, `dx12`, `gl`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterSpec {
    text: String,
    kind: SpecKind,
}

impl Default for AdapterSpec {
    fn default() -> Self {
        Self {
            text: "default".into(),
            kind: SpecKind::Default,
        }
    }
}

impl std::str::FromStr for AdapterSpec {
    type Err = GpuError;
    fn from_str(s: &str) -> Result<Self, GpuError> {
        let t = s.trim().to_ascii_lowercase();
        let kind = match t.as_str() {
            "" | "default" => SpecKind::Default,
            "all" => SpecKind::All,
            "vulkan" | "vk" => SpecKind::Backend("vulkan".into()),
            "metal" => SpecKind::Backend("metal".into()),
            "dx12" | "d3d12" => SpecKind::Backend("dx12".into()),
            "gl" | "gles" | "opengl" => SpecKind::Backend("gl".into()),
            _ => {
                let list: Result<Vec<usize>, _> =
                    t.split(',').map(|p| p.trim().parse::<usize>()).collect();
                SpecKind::Indices(list.map_err(|_| GpuError::NotASpec { text: s.into() })?)
            }
        };
        Ok(Self {
            text: s.to_string(),
            kind,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        assert_eq!(
            "all".parse::<AdapterSpec>().ok().map(|s| s.kind),
            Some(SpecKind::All)
        );
        assert_eq!(
            "0, 2".parse::<AdapterSpec>().ok().map(|s| s.kind),
            Some(SpecKind::Indices(vec![0, 2]))
        );
        assert_eq!(
            "GL".parse::<AdapterSpec>().ok().map(|s| s.kind),
            Some(SpecKind::Backend("gl".into()))
        );
        assert!(
            "fast"
                .parse::<AdapterSpec>()
                .unwrap_err()
                .to_string()
                .contains("not `default`")
        );
    }
}
