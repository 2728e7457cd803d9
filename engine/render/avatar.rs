//! The avatar raster pass (`shaders/avatar.wgsl`): indirect, instanced draws of the avatars the
//! cull + LOD pass kept, per (asset, material, level), into one target, with depth, Lambert sun
//! and ambient lighting and base colour x texture x tint. Vertices come either from the compute
//! skin pass (`vs_preskinned`) or are skinned here (`vs_skinning`).
//!
//! Where the device has `INDIRECT_FIRST_INSTANCE`, each (asset, material) is one
//! `multi_draw_indexed_indirect` over its levels, and each draw's first instance points into the
//! visible list. Otherwise a loop of `draw_indexed_indirect` calls passes that offset through a
//! dynamic uniform instead.

use super::common::{
    AVATAR_SHADER, MAX_LODS, bind_group, color_target, depth_state, pipeline_layout,
};
use super::gpu_data::{DrawIndexedIndirect, MaterialUniform, RestVertex};
use crate::assets::Texture;
use crate::gpu::GpuContext;
use wgpu::util::DeviceExt;

/// One asset's draws in a target: its buffers, the first of its indirect draws (ordered by
/// submesh, then level), and the [`super::gpu_data::DrawParams`] offset of each level's
/// visible-list region (used without `INDIRECT_FIRST_INSTANCE`).
#[derive(Debug, Clone, Copy)]
pub struct AvatarDraws<'a> {
    /// The mesh's texture coordinates (vertex buffer 0).
    pub uvs: &'a wgpu::Buffer,
    /// The mesh's rest vertices (vertex buffer 1, vertex skinning only).
    pub rest: &'a wgpu::Buffer,
    /// The mesh's indices (`u32`).
    pub indices: &'a wgpu::Buffer,
    /// One [`MaterialBindings`] group per submesh.
    pub materials: &'a [wgpu::BindGroup],
    /// Index of the batch's first indirect draw.
    pub first_draw: u32,
    /// Dynamic offset of each level's draw params.
    pub level_params: [u32; MAX_LODS],
}

bind_group! {
    /// Group 0 of the pass, one per target.
    pub struct AvatarFrameBindings {
        /// One [`super::gpu_data::CameraUniform`] slot (dynamic offset per target).
        camera: uniform(true, wgpu::ShaderStages::VERTEX),
        /// The sun and ambient light ([`super::gpu_data::LightUniform`]).
        light: uniform(false, wgpu::ShaderStages::FRAGMENT),
        /// Skinned vertices from the skin pass.
        skinned: storage(true, wgpu::ShaderStages::VERTEX),
        /// Instances.
        instances: storage(true, wgpu::ShaderStages::VERTEX),
        /// One [`super::gpu_data::DrawParams`] slot (dynamic offset per level).
        draw_params: uniform(true, wgpu::ShaderStages::VERTEX),
        /// Joint palettes (vertex skinning).
        palettes: storage(true, wgpu::ShaderStages::VERTEX),
        /// The target's visible lists.
        visible: storage(true, wgpu::ShaderStages::VERTEX),
    }
}

bind_group! {
    /// Group 1 of the pass, one per material.
    pub struct MaterialBindings {
        /// [`MaterialUniform`].
        material: uniform(false, wgpu::ShaderStages::VERTEX_FRAGMENT),
        /// Base colour texture (sRGB).
        base_color: texture_2d(wgpu::ShaderStages::FRAGMENT),
        /// Its sampler.
        sampler: sampler(wgpu::ShaderStages::FRAGMENT),
    }
}

/// Pipelines, layouts, sampler and fallback texture of the avatar pass, built once per device.
pub struct AvatarPass {
    preskinned: wgpu::RenderPipeline,
    skinning: wgpu::RenderPipeline,
    /// Whether draws may carry a first instance (one multi-draw per asset and material).
    pub multi_draw: bool,
    frame_layout: wgpu::BindGroupLayout,
    material_layout: wgpu::BindGroupLayout,
    sampler: wgpu::Sampler,
    white: wgpu::TextureView,
}

impl AvatarPass {
    /// Build the pipelines on a device, drawing into `color_format` targets.
    pub fn new(ctx: &GpuContext, color_format: wgpu::TextureFormat) -> Self {
        let device = &ctx.device;
        let frame_layout = AvatarFrameBindings::create_layout(device, "avatar::frame_layout");
        let material_layout = MaterialBindings::create_layout(device, "avatar::material_layout");
        let layout = pipeline_layout(ctx, "avatar", &[&frame_layout, &material_layout]);
        let module = AVATAR_SHADER.module(device);
        let uv_layout = wgpu::VertexBufferLayout {
            array_stride: 8,
            step_mode: wgpu::VertexStepMode::Vertex,
            attributes: &wgpu::vertex_attr_array![0 => Float32x2],
        };
        let rest_layout = wgpu::VertexBufferLayout {
            array_stride: size_of::<RestVertex>() as u64,
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
                    targets: &[Some(color_target(color_format))],
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
        MaterialBindings {
            material: buffer.as_entire_binding(),
            base_color: wgpu::BindingResource::TextureView(view),
            sampler: wgpu::BindingResource::Sampler(&self.sampler),
        }
        .create(
            &ctx.device,
            &self.material_layout,
            &format!("avatar::material_group[{label}]"),
        )
    }

    /// A target's group 0.
    pub fn frame_group(
        &self,
        device: &wgpu::Device,
        label: &str,
        bindings: &AvatarFrameBindings<'_>,
    ) -> wgpu::BindGroup {
        bindings.create(
            device,
            &self.frame_layout,
            &format!("avatar::frame_group[{label}]"),
        )
    }

    /// Record the indirect draws of every batch into an open render pass. `vertex_skinning`
    /// picks `vs_skinning` over `vs_preskinned`; `draws` are this target's indirect draws.
    pub fn record(
        &self,
        pass: &mut wgpu::RenderPass<'_>,
        frame_group: &wgpu::BindGroup,
        camera_offset: u32,
        vertex_skinning: bool,
        batches: &[AvatarDraws<'_>],
        draws: &wgpu::Buffer,
    ) {
        const STRIDE: u64 = size_of::<DrawIndexedIndirect>() as u64;
        let levels = MAX_LODS as u32;
        pass.set_pipeline(if vertex_skinning {
            &self.skinning
        } else {
            &self.preskinned
        });
        if self.multi_draw {
            pass.set_bind_group(0, frame_group, &[camera_offset, 0]);
        }
        for b in batches {
            pass.set_vertex_buffer(0, b.uvs.slice(..));
            if vertex_skinning {
                pass.set_vertex_buffer(1, b.rest.slice(..));
            }
            pass.set_index_buffer(b.indices.slice(..), wgpu::IndexFormat::Uint32);
            for (s, material) in b.materials.iter().enumerate() {
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
