//! The cull + LOD pass (`shaders/cull_lod.wgsl`), run once per target and frame, and its CPU twin.
//!
//! For each avatar: test its bounding sphere (the asset's animated bounds, placed by the model
//! matrix) against the target's frustum; pick the coarsest level of its asset's chain whose
//! simplification error, projected at the sphere's nearest distance and the target's
//! resolution, stays within `lod.pixel_error` pixels; keep last frame's level while it stays
//! within `pixel_error × (1 ± hysteresis)`; add `lod.bias`; or take `lod.force`. The avatar is
//! then appended to the visible list of its (batch, level), and a second dispatch writes the
//! per-(batch, level) counts into the target's indirect draws.
//!
//! The CPU twin [`cull_lod_cpu`] computes the same choice. It tests spheres exactly, while the
//! GPU keeps spheres within a small margin outside a plane, so the GPU never drops an avatar
//! the CPU finds visible.
//!
//! Both entry points run one thread per item (avatar, draw); more than
//! `max_compute_workgroups_per_dimension` workgroups are folded into x and y
//! ([`crate::gpu::split_workgroups`]).

use super::common::{CULL_LOD_SHADER, MAX_LODS, bind_group, pipeline_layout};
use super::gpu_data::{BatchLod, CullParams, DrawIndexedIndirect, GpuInstance};
use crate::gpu::GpuContext;
use crate::scene::{Camera, LodSettings};
use glam::{Mat4, Vec3, Vec4};

/// Workgroup width of both entry points.
pub const WORKGROUP: u32 = 64;

/// The sizes of one scene's cull + LOD buffers, in bytes (checked against the device's limits
/// in `limits.rs` before anything is created).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct CullLodSizes {
    /// LOD tables, one [`BatchLod`] per batch (shared by the targets).
    pub batch_lods: u64,
    /// The counts slot of each indirect draw (shared).
    pub draw_slots: u64,
    /// Per avatar, the finest level any target draws it at (shared with the skin pass).
    pub needed: u64,
    /// Per target: each avatar's level last frame.
    pub state: u64,
    /// Per target: the avatars per (batch, level).
    pub counts: u64,
    /// Per target: the visible lists, `MAX_LODS` regions per batch.
    pub visible: u64,
    /// Per target: the indirect draws.
    pub draws: u64,
}

impl CullLodSizes {
    /// Sizes for `avatars` avatars in `batches` batches drawn with `draws` indirect draws.
    pub fn new(avatars: u64, batches: u64, draws: u64) -> Self {
        Self {
            batch_lods: batches * size_of::<BatchLod>() as u64,
            draw_slots: draws * 4,
            needed: avatars * 4,
            state: avatars * 4,
            counts: counts_bytes(batches),
            visible: avatars * MAX_LODS as u64 * 4,
            draws: draws.max(1) * size_of::<DrawIndexedIndirect>() as u64,
        }
    }
}

/// Bytes of one target's counts: one `u32` per (batch, level), at least one.
pub(super) fn counts_bytes(batches: u64) -> u64 {
    (batches * MAX_LODS as u64 * 4).max(4)
}

/// Workgroups of a dispatch with one thread per item (at least one workgroup).
pub(super) fn workgroups(items: u64) -> u64 {
    items.div_ceil(u64::from(WORKGROUP)).max(1)
}

/// Workgroups `[x, y]` of one target's `cull` and `finalize` dispatches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CullDispatch {
    /// One thread per avatar.
    pub cull: [u32; 2],
    /// One thread per indirect draw.
    pub finalize: [u32; 2],
}

bind_group! {
    /// The pass's group, one per target.
    pub struct CullLodBindings {
        /// One [`CullParams`] slot (dynamic offset per target).
        params: uniform(true, wgpu::ShaderStages::COMPUTE),
        /// Instances.
        instances: storage(true, wgpu::ShaderStages::COMPUTE),
        /// LOD tables, one [`BatchLod`] per batch.
        batch_lods: storage(true, wgpu::ShaderStages::COMPUTE),
        /// Each avatar's level last frame (hysteresis).
        state: storage(false, wgpu::ShaderStages::COMPUTE),
        /// Avatars per (batch, level).
        counts: storage(false, wgpu::ShaderStages::COMPUTE),
        /// Visible lists.
        visible: storage(false, wgpu::ShaderStages::COMPUTE),
        /// Indirect draws.
        draws: storage(false, wgpu::ShaderStages::COMPUTE),
        /// The counts slot of each indirect draw.
        draw_slots: storage(true, wgpu::ShaderStages::COMPUTE),
        /// The finest level each avatar is drawn at (shared with the skin pass).
        needed: storage(false, wgpu::ShaderStages::COMPUTE),
    }
}

/// Pipelines and layout of the pass, built once per device.
pub struct CullLodPass {
    cull: wgpu::ComputePipeline,
    finalize: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
}

impl CullLodPass {
    /// Build the pipelines on a device.
    pub fn new(ctx: &GpuContext) -> Self {
        let device = &ctx.device;
        let layout = CullLodBindings::create_layout(device, "cull_lod::layout");
        let pipeline_layout = pipeline_layout(ctx, "cull_lod", &[&layout]);
        let module = CULL_LOD_SHADER.module(device);
        let pipeline = |entry: &str| {
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(&format!("cull_lod::{entry}")),
                layout: Some(&pipeline_layout),
                module: &module,
                entry_point: Some(entry),
                compilation_options: Default::default(),
                cache: None,
            })
        };
        Self {
            cull: pipeline("cull"),
            finalize: pipeline("finalize"),
            layout,
        }
    }

    /// A target's group.
    pub fn group(
        &self,
        device: &wgpu::Device,
        label: &str,
        bindings: &CullLodBindings<'_>,
    ) -> wgpu::BindGroup {
        bindings.create(device, &self.layout, &format!("cull_lod::group[{label}]"))
    }

    /// Record one target's cull and finalize dispatches. The target's counts buffer must have
    /// been cleared earlier in the same encoder.
    pub fn record(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        group: &wgpu::BindGroup,
        params_offset: u32,
        dispatch: CullDispatch,
    ) {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("cull_lod::pass"),
            timestamp_writes: None,
        });
        pass.set_bind_group(0, group, &[params_offset]);
        pass.set_pipeline(&self.cull);
        pass.dispatch_workgroups(dispatch.cull[0], dispatch.cull[1], 1);
        pass.set_pipeline(&self.finalize);
        pass.dispatch_workgroups(dispatch.finalize[0], dispatch.finalize[1], 1);
    }
}

/// The six frustum planes of a view-projection with wgpu's 0..1 depth range, normals inwards,
/// normalised: left, right, bottom, top, near, far.
pub fn frustum_planes(view_proj: Mat4) -> [Vec4; 6] {
    let r = |i| view_proj.row(i);
    let planes = [
        r(3) + r(0),
        r(3) - r(0),
        r(3) + r(1),
        r(3) - r(1),
        r(2),
        r(3) - r(2),
    ];
    planes.map(|p| p / p.truncate().length().max(f32::MIN_POSITIVE))
}

/// The cull parameters of one target.
pub fn cull_params(
    camera: &Camera,
    view_proj: Mat4,
    height: u32,
    lod: &LodSettings,
    avatars: u32,
    draws: u32,
) -> CullParams {
    CullParams {
        planes: frustum_planes(view_proj).map(|p| p.to_array()),
        eye: [camera.eye.0, camera.eye.1, camera.eye.2, 1.0],
        pixels_per_unit: height as f32 / (2.0 * (camera.fov_y.to_radians() * 0.5).tan()),
        pixel_error: lod.pixel_error,
        hysteresis: lod.hysteresis,
        near: camera.near,
        bias: lod.bias,
        force: lod.force.map_or(-1, |f| f.min(i32::MAX as u32) as i32),
        avatar_count: avatars,
        draw_count: draws,
    }
}

/// Coarsest level whose projected error is within `tolerance` pixels (as `coarsest_within` in
/// the shader).
fn coarsest_within(b: &BatchLod, px_per_model_unit: f32, tolerance: f32) -> u32 {
    let mut level = 0;
    for l in 1..b.level_count {
        if b.errors[l as usize] * px_per_model_unit <= tolerance {
            level = l;
        }
    }
    level
}

/// The CPU twin of one target's cull + LOD pass: each avatar's level, or `None` when its
/// sphere lies outside the frustum. `state` holds level + 1 per avatar from the last frame (0:
/// none) and is updated as the GPU updates its copy.
pub fn cull_lod_cpu(
    instances: &[GpuInstance],
    batches: &[BatchLod],
    params: &CullParams,
    state: &mut [u32],
) -> Vec<Option<u32>> {
    let eye = Vec4::from_array(params.eye).truncate();
    instances
        .iter()
        .zip(state.iter_mut())
        .map(|(inst, prev)| {
            let center = Vec3::new(inst.sphere[0], inst.sphere[1], inst.sphere[2]);
            let radius = inst.sphere[3];
            let outside = params
                .planes
                .iter()
                .any(|p| Vec4::from_array(*p).truncate().dot(center) + p[3] < -radius);
            if outside {
                return None;
            }
            let b = &batches[inst.batch as usize];
            if params.force >= 0 {
                return Some((params.force as u32).min(b.level_count - 1));
            }
            let distance = ((center - eye).length() - radius).max(params.near);
            let px = params.pixels_per_unit * inst.scale / distance;
            let tolerance = params.pixel_error;
            let level = if *prev == 0 {
                coarsest_within(b, px, tolerance)
            } else {
                let finest = coarsest_within(b, px, tolerance * (1.0 - params.hysteresis));
                let coarsest = coarsest_within(b, px, tolerance * (1.0 + params.hysteresis));
                (*prev - 1).clamp(finest, coarsest)
            };
            *prev = level + 1;
            Some((level as i32 + params.bias).clamp(0, b.level_count as i32 - 1) as u32)
        })
        .collect()
}

/// What one target drew in one frame, from the pass's counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct TargetStats {
    /// Avatars drawn at each level.
    pub lod_histogram: [u32; MAX_LODS],
    /// Avatars outside the frustum.
    pub culled: u32,
    /// Triangles drawn (avatars only).
    pub triangles: u64,
}

impl TargetStats {
    /// Avatars drawn.
    pub fn visible(&self) -> u32 {
        self.lod_histogram.iter().sum()
    }
}

/// Turns one target's raw counts (`batch * MAX_LODS + level`) into [`TargetStats`].
#[derive(Debug, Clone, Default)]
pub struct StatsLayout {
    /// Triangles per (batch, level), same indexing as the counts.
    pub triangles: Vec<u64>,
    /// Avatars in the scene.
    pub avatars: u32,
}

impl StatsLayout {
    /// Bytes of one target's counts.
    pub fn counts_bytes(&self) -> u64 {
        counts_bytes((self.triangles.len() / MAX_LODS) as u64)
    }

    /// Stats from one target's counts.
    pub fn stats(&self, counts: &[u32]) -> TargetStats {
        self.stats_of(counts, self.avatars)
    }

    /// Stats from one target's counts when only `avatars` of the scene's were submitted to
    /// the pass (the rest are neither drawn nor culled).
    pub fn stats_of(&self, counts: &[u32], avatars: u32) -> TargetStats {
        let mut s = TargetStats::default();
        for (slot, (&n, &tris)) in counts.iter().zip(&self.triangles).enumerate() {
            s.lod_histogram[slot % MAX_LODS] += n;
            s.triangles += u64::from(n) * tris;
        }
        s.culled = avatars.saturating_sub(s.visible());
        s
    }
}
