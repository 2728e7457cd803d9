//! What the render passes share, so that no pass imports another: target formats, the LOD
//! level count, the pass shader table, bind-group layout helpers and the
//! [`bind_group!`](crate::render::common) macro with which each pass declares its bindings once.

use crate::gpu::GpuContext;

/// Colour format of tutti's own targets (sRGB, so PNG bytes are display-ready). A renderer
/// made for a host's surface may use another format ([`super::Pipelines::with_format`]).
pub const COLOR_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8UnormSrgb;
/// Depth format of every target.
pub const DEPTH_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Depth32Float;
/// Levels per asset the cull + LOD pass handles (the chain length of `assets::lod`; keep
/// `MAX_LODS` in shaders/shared/types.wgsl equal).
pub const MAX_LODS: usize = crate::assets::lod::LOD_RATIOS.len();

/// The WGSL source of a pass: `shaders/shared/types.wgsl`, then (with `skinning`) the shared
/// skinning snippet, then `shaders/<file>`.
macro_rules! shader_source {
    ($file:literal) => {
        concat!(
            include_str!("../../shaders/shared/types.wgsl"),
            "\n",
            include_str!(concat!("../../shaders/", $file))
        )
    };
    ($file:literal, skinning) => {
        concat!(
            include_str!("../../shaders/shared/types.wgsl"),
            "\n",
            include_str!("../../shaders/shared/skinning.wgsl"),
            "\n",
            include_str!(concat!("../../shaders/", $file))
        )
    };
}

/// One pass's shader: its file in `shaders/`, and the source the engine compiles (the shared
/// snippets it needs, then the file).
#[derive(Debug, Clone, Copy)]
pub struct PassShader {
    /// The pass (its module under `render/`), used in labels.
    pub pass: &'static str,
    /// File name under `shaders/`.
    pub file: &'static str,
    /// Whether the shared skinning snippet is prepended.
    pub skinning: bool,
    /// The full source, as compiled.
    pub source: &'static str,
}

impl PassShader {
    /// Compile the shader on a device.
    pub fn module(&self, device: &wgpu::Device) -> wgpu::ShaderModule {
        device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(&format!("{}::shader", self.pass)),
            source: wgpu::ShaderSource::Wgsl(self.source.into()),
        })
    }
}

/// `shaders/animate.wgsl`.
pub const ANIMATE_SHADER: PassShader = PassShader {
    pass: "animate",
    file: "animate.wgsl",
    skinning: false,
    source: shader_source!("animate.wgsl"),
};
/// `shaders/skin.wgsl`.
pub const SKIN_SHADER: PassShader = PassShader {
    pass: "skin",
    file: "skin.wgsl",
    skinning: true,
    source: shader_source!("skin.wgsl", skinning),
};
/// `shaders/cull_lod.wgsl`.
pub const CULL_LOD_SHADER: PassShader = PassShader {
    pass: "cull_lod",
    file: "cull_lod.wgsl",
    skinning: false,
    source: shader_source!("cull_lod.wgsl"),
};
/// `shaders/avatar.wgsl`.
pub const AVATAR_SHADER: PassShader = PassShader {
    pass: "avatar",
    file: "avatar.wgsl",
    skinning: true,
    source: shader_source!("avatar.wgsl", skinning),
};
/// `shaders/ground.wgsl`.
pub const GROUND_SHADER: PassShader = PassShader {
    pass: "ground",
    file: "ground.wgsl",
    skinning: false,
    source: shader_source!("ground.wgsl"),
};

/// `shaders/bench_dispatch.wgsl`: the trivial kernel of the `gpu` benchmark's dispatch figure.
pub const BENCH_DISPATCH_SHADER: PassShader = PassShader {
    pass: "bench_dispatch",
    file: "bench_dispatch.wgsl",
    skinning: false,
    source: include_str!("../../shaders/bench_dispatch.wgsl"),
};

/// Every pass shader the engine compiles. The naga test validates exactly these sources, and
/// fails on a `.wgsl` file in `shaders/` that is not listed here.
pub const PASS_SHADERS: [PassShader; 6] = [
    ANIMATE_SHADER,
    SKIN_SHADER,
    CULL_LOD_SHADER,
    AVATAR_SHADER,
    GROUND_SHADER,
    BENCH_DISPATCH_SHADER,
];

/// A storage-buffer layout entry.
pub fn storage(
    binding: u32,
    read_only: bool,
    visibility: wgpu::ShaderStages,
) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

/// A uniform-buffer layout entry, with or without a dynamic offset.
pub fn uniform(
    binding: u32,
    dynamic: bool,
    visibility: wgpu::ShaderStages,
) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Uniform,
            has_dynamic_offset: dynamic,
            min_binding_size: None,
        },
        count: None,
    }
}

/// A filterable 2D float texture layout entry.
pub fn texture_2d(binding: u32, visibility: wgpu::ShaderStages) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility,
        ty: wgpu::BindingType::Texture {
            sample_type: wgpu::TextureSampleType::Float { filterable: true },
            view_dimension: wgpu::TextureViewDimension::D2,
            multisampled: false,
        },
        count: None,
    }
}

/// A filtering sampler layout entry.
pub fn sampler(binding: u32, visibility: wgpu::ShaderStages) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility,
        ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Filtering),
        count: None,
    }
}

/// The first `size` bytes of a buffer (one dynamic-offset slot of a uniform array).
pub fn slot(buffer: &wgpu::Buffer, size: u64) -> wgpu::BindingResource<'_> {
    wgpu::BindingResource::Buffer(wgpu::BufferBinding {
        buffer,
        offset: 0,
        size: wgpu::BufferSize::new(size),
    })
}

/// Declare a bind group once: a struct with one named [`wgpu::BindingResource`] per binding, in
/// binding order, each with its layout entry. Generates `layout_entries()` (numbered in
/// declaration order), `create_layout` and `create`, so a binding is written once in Rust and
/// once in WGSL.
macro_rules! bind_group {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                $field:ident: $kind:ident($($arg:expr),*)
            ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name<'a> {
            $(
                $(#[$fmeta])*
                pub $field: wgpu::BindingResource<'a>,
            )+
        }

        impl $name<'_> {
            /// Layout entries, numbered in declaration order.
            pub fn layout_entries() -> Vec<wgpu::BindGroupLayoutEntry> {
                let entries: &[&dyn Fn(u32) -> wgpu::BindGroupLayoutEntry] = &[
                    $(&|binding| $crate::render::common::$kind(binding, $($arg),*)),+
                ];
                entries
                    .iter()
                    .enumerate()
                    .map(|(binding, entry)| entry(binding as u32))
                    .collect()
            }

            /// Create the layout on a device.
            pub fn create_layout(device: &wgpu::Device, label: &str) -> wgpu::BindGroupLayout {
                device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                    label: Some(label),
                    entries: &Self::layout_entries(),
                })
            }

            /// Create the bind group on `layout` (made by [`Self::create_layout`]).
            pub fn create(
                &self,
                device: &wgpu::Device,
                layout: &wgpu::BindGroupLayout,
                label: &str,
            ) -> wgpu::BindGroup {
                let entries: Vec<wgpu::BindGroupEntry<'_>> = [$(self.$field.clone()),+]
                    .into_iter()
                    .enumerate()
                    .map(|(binding, resource)| wgpu::BindGroupEntry {
                        binding: binding as u32,
                        resource,
                    })
                    .collect();
                device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some(label),
                    layout,
                    entries: &entries,
                })
            }
        }
    };
}
pub(crate) use bind_group;

/// Depth test and write of every opaque pass into a target.
pub fn depth_state() -> wgpu::DepthStencilState {
    wgpu::DepthStencilState {
        format: DEPTH_FORMAT,
        depth_write_enabled: Some(true),
        depth_compare: Some(wgpu::CompareFunction::Less),
        stencil: Default::default(),
        bias: Default::default(),
    }
}

/// The colour target of every opaque pass, in `format`.
pub fn color_target(format: wgpu::TextureFormat) -> wgpu::ColorTargetState {
    wgpu::ColorTargetState {
        format,
        blend: None,
        write_mask: wgpu::ColorWrites::ALL,
    }
}

/// Round `size` up to a multiple of `to`.
pub fn align(size: u64, to: u64) -> u64 {
    size.div_ceil(to) * to
}

/// Append `value` to a buffer of dynamic-offset uniform slots `stride` bytes apart; returns its
/// offset.
pub fn push_slot<T: bytemuck::Pod>(bytes: &mut Vec<u8>, value: &T, stride: u64) -> u32 {
    let offset = bytes.len();
    bytes.extend_from_slice(bytemuck::bytes_of(value));
    bytes.resize(align(bytes.len() as u64, stride) as usize, 0);
    offset as u32
}

/// A pipeline layout over `groups`, labelled `<pass>::pipeline_layout`.
pub fn pipeline_layout(
    ctx: &GpuContext,
    pass: &str,
    groups: &[&wgpu::BindGroupLayout],
) -> wgpu::PipelineLayout {
    let groups: Vec<Option<&wgpu::BindGroupLayout>> = groups.iter().copied().map(Some).collect();
    ctx.device
        .create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(&format!("{pass}::pipeline_layout")),
            bind_group_layouts: &groups,
            immediate_size: 0,
        })
}
