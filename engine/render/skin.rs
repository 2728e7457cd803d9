//! The compute skinning pass (`shaders/skin.wgsl`): skins every avatar once per frame into a
//! world-space vertex buffer that every target of the frame draws from, only as far as the
//! finest level any target draws it at, and not at all when no target sees it.

use super::RenderError;
use super::mesh::GpuMesh;
use crate::gpu::GpuContext;

/// Workgroup width of `skin.wgsl`.
pub const WORKGROUP: u32 = 64;

/// Pipeline and layouts of the skin pass, built once per device.
pub struct SkinPass {
    pipeline: wgpu::ComputePipeline,
    /// Layout of group 0: palettes, instances, skinned output, batch params (dynamic), the
    /// finest level each avatar is drawn at.
    pub frame_layout: wgpu::BindGroupLayout,
    /// Layout of group 1: the asset's rest vertices.
    pub mesh_layout: wgpu::BindGroupLayout,
}

pub(super) fn storage_entry(
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

pub(super) fn uniform(
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

impl SkinPass {
    /// Build the pipeline on a device.
    pub fn new(ctx: &GpuContext) -> Self {
        let device = &ctx.device;
        let cs = wgpu::ShaderStages::COMPUTE;
        let frame_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("skin::frame_layout"),
            entries: &[
                storage_entry(0, true, cs),
                storage_entry(1, true, cs),
                storage_entry(2, false, cs),
                uniform(3, true, cs),
                storage_entry(4, true, cs),
            ],
        });
        let mesh_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("skin::mesh_layout"),
            entries: &[storage_entry(0, true, cs)],
        });
        let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("skin::pipeline_layout"),
            bind_group_layouts: &[Some(&frame_layout), Some(&mesh_layout)],
            immediate_size: 0,
        });
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("skin::shader"),
            source: wgpu::ShaderSource::Wgsl(super::shader_source!("skin.wgsl", skinning).into()),
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("skin::pipeline"),
            layout: Some(&layout),
            module: &module,
            entry_point: Some("skin"),
            compilation_options: Default::default(),
            cache: None,
        });
        Self {
            pipeline,
            frame_layout,
            mesh_layout,
        }
    }

    /// Record the skinning dispatches of one frame: one per batch chunk.
    ///
    /// `chunks` gives, per chunk, the mesh, the dynamic offset of its [`super::gpu_data::BatchParams`]
    /// and its instance count.
    pub fn record(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        frame_group: &wgpu::BindGroup,
        chunks: &[(&GpuMesh, u32, u32)],
    ) -> Result<(), RenderError> {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("skin::pass"),
            timestamp_writes: None,
        });
        pass.set_pipeline(&self.pipeline);
        for &(mesh, params_offset, instances) in chunks {
            pass.set_bind_group(0, frame_group, &[params_offset]);
            pass.set_bind_group(1, &mesh.rest_group, &[]);
            pass.dispatch_workgroups(mesh.vertex_count.div_ceil(WORKGROUP), instances, 1);
        }
        Ok(())
    }
}
