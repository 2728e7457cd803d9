//! The compute skinning pass (`shaders/skin.wgsl`): skins every avatar once per frame into a
//! world-space vertex buffer that every target of the frame draws from, only as far as the
//! finest level any target draws it at, and not at all when no target sees it.
//!
//! Each batch is skinned in chunks of at most `max_compute_workgroups_per_dimension` avatars
//! (one per workgroup row, y); a mesh whose vertices need more workgroups than one dimension
//! allows folds them into x and z ([`crate::gpu::split_workgroups`]).

use super::RenderError;
use super::mesh::GpuMesh;
use crate::gpu::{GpuContext, split_workgroups};
use crate::scene::DrawBatch;

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

/// One skin dispatch: `instances` avatars of batch `batch` from avatar `first_instance` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct SkinChunk {
    /// Index into the world's batches.
    pub batch: usize,
    /// First avatar of the chunk.
    pub first_instance: u32,
    /// Avatars in the chunk (the dispatch's y).
    pub instances: u32,
    /// Workgroups `[x, y, z]`: the mesh's vertex workgroups folded into x and z, one row of
    /// them per avatar in y.
    pub dispatch: [u32; 3],
}

/// Workgroups that skin one avatar of a mesh with `vertices` vertices.
pub(super) fn vertex_workgroups(vertices: u64) -> u64 {
    vertices.div_ceil(u64::from(WORKGROUP))
}

/// The skin dispatches of `batches` on a device that runs at most `max_per_dimension`
/// workgroups along each axis. `vertices[asset]` is the vertex count of each asset. `None` when
/// some mesh needs more than `max_per_dimension²` workgroups per avatar (check that first with
/// [`vertex_workgroups`]).
pub(super) fn plan_chunks(
    batches: &[DrawBatch],
    vertices: &[u64],
    max_per_dimension: u32,
) -> Option<Vec<SkinChunk>> {
    let mut chunks = Vec::new();
    for (bi, b) in batches.iter().enumerate() {
        let workgroups = u32::try_from(vertex_workgroups(vertices[b.asset])).ok()?;
        let [x, z] = split_workgroups(workgroups, max_per_dimension)?;
        let mut first = b.first;
        let end = b.first + b.count;
        while first < end {
            let n = (end - first).min(max_per_dimension);
            chunks.push(SkinChunk {
                batch: bi,
                first_instance: first,
                instances: n,
                dispatch: [x, n, z],
            });
            first += n;
        }
    }
    Some(chunks)
}

/// Group 0 of the pass: palettes, instances, skinned output, batch params (dynamic), the
/// finest level each avatar is drawn at.
pub(super) fn frame_entries() -> [wgpu::BindGroupLayoutEntry; 5] {
    let cs = wgpu::ShaderStages::COMPUTE;
    [
        storage_entry(0, true, cs),
        storage_entry(1, true, cs),
        storage_entry(2, false, cs),
        uniform(3, true, cs),
        storage_entry(4, true, cs),
    ]
}

/// Group 1 of the pass: the asset's rest vertices.
pub(super) fn mesh_entries() -> [wgpu::BindGroupLayoutEntry; 1] {
    [storage_entry(0, true, wgpu::ShaderStages::COMPUTE)]
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
        let frame_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("skin::frame_layout"),
            entries: &frame_entries(),
        });
        let mesh_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("skin::mesh_layout"),
            entries: &mesh_entries(),
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
    /// and its workgroups `[x, y, z]` (vertices folded into x and z, one avatar per y).
    pub fn record(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        frame_group: &wgpu::BindGroup,
        chunks: &[(&GpuMesh, u32, [u32; 3])],
    ) -> Result<(), RenderError> {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("skin::pass"),
            timestamp_writes: None,
        });
        pass.set_pipeline(&self.pipeline);
        for &(mesh, params_offset, [x, y, z]) in chunks {
            pass.set_bind_group(0, frame_group, &[params_offset]);
            pass.set_bind_group(1, &mesh.rest_group, &[]);
            pass.dispatch_workgroups(x, y, z);
        }
        Ok(())
    }
}
