//! The avatar raster pass (`shaders/avatar.wgsl`): indirect, instanced draws of the avatars the
//! cull + LOD pass kept, per (asset, material, level), into one target, with depth, Lambert sun
//! and ambient lighting and base colour x texture x tint. Vertices come either from the compute
//! skin pass (`vs_preskinned`) or are skinned here (`vs_skinning`).
//!
//! Where the device has `INDIRECT_FIRST_INSTANCE`, each (asset, material) is one
//! `multi_draw_indexed_indirect` over its levels, and each draw's first instance points into the
//! visible list. Otherwise a loop of `draw_indexed_indirect` calls passes that offset through a
//! dynamic uniform instead.

use super::gpu_data::MaterialUniform;
use super::mesh::GpuMesh;
use super::skin::{storage_entry, uniform};
use crate::assets::Texture;
use crate::gpu::GpuContext;
use wgpu::util::DeviceExt;

/// Colour format of every target (sRGB, so PNG bytes are display-ready).
pub const COLOR_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8UnormSrgb;
/// Depth format of every target.
pub const DEPTH_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Depth32Float;

/// Depth test and write of every opaque pass into a target.
pub(super) fn depth_state() -> wgpu::DepthStencilState {
    wgpu::DepthStencilState {
        format: DEPTH_FORMAT,
        depth_write_enabled: Some(true),
        depth_compare: Some(wgpu::CompareFunction::Less),
        stencil: Default::default(),
        bias: Default::default(),
    }
}

/// The colour target of every opaque pass.
pub(super) fn color_target() -> wgpu::ColorTargetState {
    wgpu::ColorTargetState {
        format: COLOR_FORMAT,
        blend: None,
        write_mask: wgpu::ColorWrites::ALL,
    }
}

/// One asset's draws in a target: the mesh, the first of its indirect draws (ordered by
/// submesh, then level), and the [`super::gpu_data::DrawParams`] offset of each level's
/// visible-list region (used without `INDIRECT_FIRST_INSTANCE`).
pub struct BatchDraws {
    /// The asset's GPU mesh.
    pub mesh: std::sync::Arc<GpuMesh>,
    /// Index of the batch's first indirect draw.
    pub first_draw: u32,
    /// Dynamic offset of each level's draw params.
    pub level_params: [u32; super::cull_lod::MAX_LODS],
}

/// Group 0 of the pass: camera (dynamic), light, skinned vertices, instances, draw params
/// (dynamic), palettes, visible list.
pub(super) fn frame_entries() -> [wgpu::BindGroupLayoutEntry; 7] {
    let vs = wgpu::ShaderStages::VERTEX;
    let fs = wgpu::ShaderStages::FRAGMENT;
    [
        uniform(0, true, vs),
        uniform(1, false, fs),
        storage_entry(2, true, vs),
        storage_entry(3, true, vs),
        uniform(4, true, vs),
        storage_entry(5, true, vs),
        storage_entry(6, true, vs),
    ]
}

/// Group 1 of the pass: material uniform, base colour texture, sampler.
pub(super) fn material_entries() -> [wgpu::BindGroupLayoutEntry; 3] {
    let fs = wgpu::ShaderStages::FRAGMENT;
    [
        uniform(0, false, wgpu::ShaderStages::VERTEX_FRAGMENT),
        wgpu::BindGroupLayoutEntry {
            binding: 1,
            visibility: fs,
            ty: wgpu::BindingType::Texture {
                sample_type: wgpu::TextureSampleType::Float { filterable: true },
                view_dimension: wgpu::TextureViewDimension::D2,
                multisampled: false,
            },
            count: None,
        },
        wgpu::BindGroupLayoutEntry {
            binding: 2,
            visibility: fs,
            ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Filtering),
            count: None,
        },
    ]
}

/// Pipelines, layouts, sampler and fallback texture of the avatar pass, built once per device.
pub struct AvatarPass {
    preskinned: wgpu::RenderPipeline,
    skinning: wgpu::RenderPipeline,
    /// Whether draws may carry a first instance (one multi-draw per asset and material).
    pub multi_draw: bool,
    /// Group 0: camera (dynamic), light, skinned vertices, instances, draw params (dynamic),
    /// palettes, visible list.
    pub frame_layout: wgpu::BindGroupLayout,
    /// Group 1: material uniform, base colour texture, sampler.
    pub material_layout: wgpu::BindGroupLayout,
    sampler: wgpu::Sampler,
    white: wgpu::TextureView,
}

impl AvatarPass {
    /// Build the pipeline on a device.
    pub fn new(ctx: &GpuContext) -> Self {
        let device = &ctx.device;
        let frame_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("avatar::frame_layout"),
            entries: &frame_entries(),
        });
        let material_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("avatar::material_layout"),
            entries: &material_entries(),
        });
        let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("avatar::pipeline_layout"),
            bind_group_layouts: &[Some(&frame_layout), Some(&material_layout)],
            immediate_size: 0,
        });
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("avatar::shader"),
            source: wgpu::ShaderSource::Wgsl(super::shader_source!("avatar.wgsl", skinning).into()),
        });
        let uv_layout = wgpu::VertexBufferLayout {
            array_stride: 8,
            step_mode: wgpu::VertexStepMode::Vertex,
            attributes: &wgpu::vertex_attr_array![0 => Float32x2],
        };
        let rest_layout = wgpu::VertexBufferLayout {
            array_stride: size_of::<super::gpu_data::RestVertex>() as u64,
            step_mode: wgpu::VertexStepMode::Vertex,
            attributes: &wgpu::vertex_attr_array![
                1 => Float32x4, 2 => Float32x4, 3 => Uint32x4, 4 => Float32x4
            ],
        };
        let pipeline = |entry: &str, buffers: &[Option<wgpu::VertexBufferLayout<'_>>]| {
            device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
                label: Some(&format!("avatar::{entry}")),
                layout: Some(&layout),
                vertex: wgpu::VertexState {
                    module: &module,
                    entry_point: Some(entry),
                    compilation_options: Default::default(),
                    buffers,
                },
                primitive: wgpu::PrimitiveState {
                    topology: wgpu::PrimitiveTopology::TriangleList,
                    front_face: wgpu::FrontFace::Ccw,
                    // glTF materials may be double-sided; depth testing hides back faces anyway.
                    cull_mode: None,
                    ..Default::default()
                },
                depth_stencil: Some(depth_state()),
                multisample: wgpu::MultisampleState::default(),
                fragment: Some(wgpu::FragmentState {
                    module: &module,
                    entry_point: Some("fs_main"),
                    compilation_options: Default::default(),
                    targets: &[Some(color_target())],
                }),
                multiview_mask: None,
                cache: None,
            })
        };
        let preskinned = pipeline("vs_preskinned", &[Some(uv_layout.clone())]);
        let skinning = pipeline("vs_skinning", &[Some(uv_layout), Some(rest_layout)]);
        let sampler = device.create_sampler(&wgpu::SamplerDescriptor {
            label: Some("avatar::sampler"),
            address_mode_u: wgpu::AddressMode::Repeat,
            address_mode_v: wgpu::AddressMode::Repeat,
            mag_filter: wgpu::FilterMode::Linear,
            min_filter: wgpu::FilterMode::Linear,
            ..Default::default()
        });
        let white = upload_texture(
            ctx,
            "avatar::white",
            &Texture {
                width: 1,
                height: 1,
                rgba: vec![255; 4],
            },
        );
        Self {
            preskinned,
            skinning,
            multi_draw: ctx
                .device
                .features()
                .contains(wgpu::Features::INDIRECT_FIRST_INSTANCE),
            frame_layout,
            material_layout,
            sampler,
            white,
        }
    }

    /// Bind group for one material (white texture when it has none).
    pub fn material_group(
        &self,
        ctx: &GpuContext,
        label: &str,
        uniform: &MaterialUniform,
        texture: Option<&Texture>,
    ) -> wgpu::BindGroup {
        let buffer = ctx
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(&format!("avatar::material[{label}]")),
                contents: bytemuck::bytes_of(uniform),
                usage: wgpu::BufferUsages::UNIFORM,
            });
        let own_view =
            texture.map(|t| upload_texture(ctx, &format!("avatar::texture[{label}]"), t));
        let view = own_view.as_ref().unwrap_or(&self.white);
        ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(&format!("avatar::material_group[{label}]")),
            layout: &self.material_layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: buffer.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: wgpu::BindingResource::TextureView(view),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: wgpu::BindingResource::Sampler(&self.sampler),
                },
            ],
        })
    }

    /// Record the indirect draws of every batch into an open render pass. `vertex_skinning`
    /// picks `vs_skinning` over `vs_preskinned`; `draws` are this target's indirect draws.
    pub fn record(
        &self,
        pass: &mut wgpu::RenderPass<'_>,
        frame_group: &wgpu::BindGroup,
        camera_offset: u32,
        vertex_skinning: bool,
        batches: &[BatchDraws],
        draws: &wgpu::Buffer,
    ) {
        const STRIDE: u64 = size_of::<super::gpu_data::DrawIndexedIndirect>() as u64;
        let levels = super::cull_lod::MAX_LODS as u32;
        pass.set_pipeline(if vertex_skinning {
            &self.skinning
        } else {
            &self.preskinned
        });
        if self.multi_draw {
            pass.set_bind_group(0, frame_group, &[camera_offset, 0]);
        }
        for b in batches {
            let mesh = &b.mesh;
            pass.set_vertex_buffer(0, mesh.uvs.slice(..));
            if vertex_skinning {
                pass.set_vertex_buffer(1, mesh.rest.slice(..));
            }
            pass.set_index_buffer(mesh.indices.slice(..), wgpu::IndexFormat::Uint32);
            for (s, material) in mesh.materials.iter().enumerate() {
                pass.set_bind_group(1, material, &[]);
                let first = u64::from(b.first_draw + s as u32 * levels);
                if self.multi_draw {
                    pass.multi_draw_indexed_indirect(draws, first * STRIDE, levels);
                } else {
                    for l in 0..levels {
                        pass.set_bind_group(
                            0,
                            frame_group,
                            &[camera_offset, b.level_params[l as usize]],
                        );
                        pass.draw_indexed_indirect(draws, (first + u64::from(l)) * STRIDE);
                    }
                }
            }
        }
    }
}

fn upload_texture(ctx: &GpuContext, label: &str, t: &Texture) -> wgpu::TextureView {
    let texture = ctx.device.create_texture_with_data(
        &ctx.queue,
        &wgpu::TextureDescriptor {
            label: Some(label),
            size: wgpu::Extent3d {
                width: t.width,
                height: t.height,
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: wgpu::TextureFormat::Rgba8UnormSrgb,
            usage: wgpu::TextureUsages::TEXTURE_BINDING,
            view_formats: &[],
        },
        wgpu::util::TextureDataOrder::LayerMajor,
        &t.rgba,
    );
    texture.create_view(&wgpu::TextureViewDescriptor {
        label: Some(label),
        ..Default::default()
    })
}
