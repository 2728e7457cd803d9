//! The ground pass (`shaders/ground.wgsl`): one lit square at y = 0, drawn first into each
//! target's avatar render pass when the scene's environment has a ground.

use super::avatar::{color_target, depth_state};
use super::skin::uniform;
use crate::gpu::GpuContext;

/// Group 0 of the pass: camera (dynamic), light, ground constants.
pub(super) fn layout_entries() -> [wgpu::BindGroupLayoutEntry; 3] {
    let vs = wgpu::ShaderStages::VERTEX;
    let vf = wgpu::ShaderStages::VERTEX_FRAGMENT;
    [
        uniform(0, true, vs),
        uniform(1, false, vf),
        uniform(2, false, vf),
    ]
}

/// Pipeline and layout of the ground pass, built once per device.
pub struct GroundPass {
    pipeline: wgpu::RenderPipeline,
    /// Group 0: camera (dynamic), light, ground constants.
    pub layout: wgpu::BindGroupLayout,
}

impl GroundPass {
    /// Build the pipeline on a device.
    pub fn new(ctx: &GpuContext) -> Self {
        let device = &ctx.device;
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("ground::layout"),
            entries: &layout_entries(),
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("ground::pipeline_layout"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("ground::shader"),
            source: wgpu::ShaderSource::Wgsl(super::shader_source!("ground.wgsl").into()),
        });
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
                targets: &[Some(color_target())],
            }),
            multiview_mask: None,
            cache: None,
        });
        Self { pipeline, layout }
    }

    /// Draw the ground into an open render pass.
    pub fn record(&self, pass: &mut wgpu::RenderPass<'_>, group: &wgpu::BindGroup, camera: u32) {
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, group, &[camera]);
        pass.draw(0..6, 0..1);
    }
}
