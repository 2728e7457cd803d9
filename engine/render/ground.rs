//! The ground pass (`shaders/ground.wgsl`): one lit square at y = 0, drawn first into each
//! target's avatar render pass when the scene's environment has a ground.

use super::common::{GROUND_SHADER, bind_group, color_target, depth_state, pipeline_layout};
use crate::gpu::GpuContext;

bind_group! {
    /// Group 0 of the pass, one per scene.
    pub struct GroundBindings {
        /// One [`super::gpu_data::CameraUniform`] slot (dynamic offset per target).
        camera: uniform(true, wgpu::ShaderStages::VERTEX),
        /// The sun and ambient light.
        light: uniform(false, wgpu::ShaderStages::VERTEX_FRAGMENT),
        /// [`super::gpu_data::GroundUniform`].
        ground: uniform(false, wgpu::ShaderStages::VERTEX_FRAGMENT),
    }
}

/// Pipeline and layout of the ground pass, built once per device.
pub struct GroundPass {
    pipeline: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
}

impl GroundPass {
    /// Build the pipeline on a device, drawing into `color_format` targets.
    pub fn new(ctx: &GpuContext, color_format: wgpu::TextureFormat) -> Self {
        let device = &ctx.device;
        let layout = GroundBindings::create_layout(device, "ground::layout");
        let pipeline_layout = pipeline_layout(ctx, "ground", &[&layout]);
        let module = GROUND_SHADER.module(device);
        let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("ground::pipeline"),
            layout: Some(&pipeline_layout),
            vertex: wgpu::VertexState {
                module: &module,
                entry_point: Some("vs_main"),
                compilation_options: Default::default(),
                buffers: &[],
            },
            primitive: wgpu::PrimitiveState::default(),
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
        });
        Self { pipeline, layout }
    }

    /// The scene's group.
    pub fn group(&self, device: &wgpu::Device, bindings: &GroundBindings<'_>) -> wgpu::BindGroup {
        bindings.create(device, &self.layout, "ground::group")
    }

    /// Draw the ground into an open render pass.
    pub fn record(&self, pass: &mut wgpu::RenderPass<'_>, group: &wgpu::BindGroup, camera: u32) {
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, group, &[camera]);
        pass.draw(0..6, 0..1);
    }
}
