//! The compute skinning pass (`shaders/skin.wgsl`): skins every avatar once per frame into a
//! world-space vertex buffer that every target of the frame draws from, only as far as the
//! finest level any target draws it at, and not at all when no target sees it.
//!
//! Each batch is skinned in chunks of at most `max_compute_workgroups_per_dimension` avatars
//! (one per workgroup row, y); a mesh whose vertices need more workgroups than one dimension
//! allows folds them into x and z ([`crate::gpu::split_workgroups`]).

use super::RenderError;
use super::common::{SKIN_SHADER, bind_group, pipeline_layout};
use crate::gpu::{GpuContext, split_workgroups};
use crate::scene::DrawBatch;

/// Workgroup width of `skin.wgsl`.
pub const WORKGROUP: u32 = 64;

/// Pipeline and layouts of the skin pass, built once per device.
pub struct SkinPass {
    pipeline: wgpu::ComputePipeline,
    frame_layout: wgpu::BindGroupLayout,
    mesh_layout: wgpu::BindGroupLayout,
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

bind_group! {
    /// Group 0 of the pass, one per scene.
    pub struct SkinFrameBindings {
        /// Joint palettes (`mat4x4<f32>` each).
        palettes: storage(true, wgpu::ShaderStages::COMPUTE),
        /// Instances ([`super::gpu_data::GpuInstance`]).
        instances: storage(true, wgpu::ShaderStages::COMPUTE),
        /// Skinned output ([`super::gpu_data::SkinnedVertex`]).
        skinned: storage(false, wgpu::ShaderStages::COMPUTE),
        /// One [`super::gpu_data::BatchParams`] slot (dynamic offset per chunk).
        params: uniform(true, wgpu::ShaderStages::COMPUTE),
        /// The finest level each avatar is drawn at this frame.
        needed: storage(true, wgpu::ShaderStages::COMPUTE),
    }
}

bind_group! {
    /// Group 1 of the pass, one per mesh.
    pub struct SkinMeshBindings {
        /// The asset's rest vertices ([`super::gpu_data::RestVertex`]).
        rest: storage(true, wgpu::ShaderStages::COMPUTE),
    }
}

/// One recorded skin dispatch: a chunk of one batch.
#[derive(Debug, Clone, Copy)]
pub struct SkinDispatch<'a> {
    /// The mesh's [`SkinMeshBindings`] group.
    pub mesh_group: &'a wgpu::BindGroup,
    /// Dynamic offset of the chunk's [`super::gpu_data::BatchParams`].
    pub params_offset: u32,
    /// Workgroups `[x, y, z]`: vertices folded into x and z, one avatar per y.
    pub workgroups: [u32; 3],
}

impl SkinPass {
    /// Build the pipeline on a device.
    pub fn new(ctx: &GpuContext) -> Self {
        let device = &ctx.device;
        let frame_layout = SkinFrameBindings::create_layout(device, "skin::frame_layout");
        let mesh_layout = SkinMeshBindings::create_layout(device, "skin::mesh_layout");
        let layout = pipeline_layout(ctx, "skin", &[&frame_layout, &mesh_layout]);
        let module = SKIN_SHADER.module(device);
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

    /// The scene's group 0.
    pub fn frame_group(
        &self,
        device: &wgpu::Device,
        bindings: &SkinFrameBindings<'_>,
    ) -> wgpu::BindGroup {
        bindings.create(device, &self.frame_layout, "skin::frame_group")
    }

    /// A mesh's group 1.
    pub fn mesh_group(
        &self,
        device: &wgpu::Device,
        label: &str,
        bindings: &SkinMeshBindings<'_>,
    ) -> wgpu::BindGroup {
        bindings.create(
            device,
            &self.mesh_layout,
            &format!("skin::mesh_group[{label}]"),
        )
    }

    /// Record the skinning dispatches of one frame: one per batch chunk.
    pub fn record(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        frame_group: &wgpu::BindGroup,
        chunks: &[SkinDispatch<'_>],
    ) -> Result<(), RenderError> {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("skin::pass"),
            timestamp_writes: None,
        });
        pass.set_pipeline(&self.pipeline);
        for c in chunks {
            let [x, y, z] = c.workgroups;
            pass.set_bind_group(0, frame_group, &[c.params_offset]);
            pass.set_bind_group(1, c.mesh_group, &[]);
            pass.dispatch_workgroups(x, y, z);
        }
        Ok(())
    }
}
