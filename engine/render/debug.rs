//! Debug readbacks of a [`SceneRenderer`]'s GPU state, for tests and tools: blocking copies of
//! the palettes, skinned vertices, LOD choices and indirect draws of the last frame, and the
//! inputs of the cull + LOD pass's CPU twin.

use super::gpu_data::{BatchLod, CullParams, DrawIndexedIndirect, GpuInstance, SkinnedVertex};
use super::{MAX_LODS, RenderError, SceneRenderer};
use crate::gpu::{GpuContext, read_buffer};
use glam::Mat4;

/// The inputs of one target's cull + LOD pass, for its CPU twin
/// ([`super::cull_lod::cull_lod_cpu`]).
#[derive(Debug, Clone, Copy)]
pub struct CullInputs<'a> {
    /// Every avatar's instance.
    pub instances: &'a [GpuInstance],
    /// The batches' LOD tables.
    pub batch_lods: &'a [BatchLod],
    /// The target's pass parameters for the current camera.
    pub params: CullParams,
}

impl SceneRenderer {
    /// The inputs of target `t`'s cull + LOD pass, for its CPU twin.
    pub fn cull_inputs(&self, t: usize) -> CullInputs<'_> {
        CullInputs {
            instances: &self.tables.instances,
            batch_lods: &self.tables.batch_lods,
            params: self.target_uniforms(t).1,
        }
    }

    /// Forget every avatar's previous level (hysteresis restarts from the plain choice).
    pub fn reset_lod_history(&self, ctx: &GpuContext) {
        let mut encoder = ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("scene::reset_lod_history"),
            });
        for gpu in &self.target_gpu {
            encoder.clear_buffer(&gpu.state, 0, None);
        }
        ctx.queue.submit([encoder.finish()]);
    }

    /// Read the palettes of the last frame (for comparing with the CPU). Blocking.
    pub fn read_palettes(&self, ctx: &GpuContext) -> Result<Vec<Mat4>, RenderError> {
        let words = read_buffer_copy(ctx, &self.palettes)?;
        Ok(bytemuck::pod_collect_to_vec::<u32, Mat4>(&words)[..self.palette_len].to_vec())
    }

    /// Read target `t`'s choices of the last frame: each avatar's level, `None` if culled.
    /// Blocking.
    pub fn read_lod_choices(
        &self,
        ctx: &GpuContext,
        t: usize,
    ) -> Result<Vec<Option<u32>>, RenderError> {
        let target = &self.targets[t];
        let counts = read_buffer_copy(ctx, &target.counts)?;
        let visible = read_buffer_copy(ctx, &self.target_gpu[t].visible)?;
        let mut out = vec![None; self.tables.instances.len()];
        for (bi, b) in self.tables.batch_lods.iter().enumerate() {
            for l in 0..MAX_LODS {
                let n = counts[bi * MAX_LODS + l] as usize;
                let base = (MAX_LODS as u32 * b.first_avatar + l as u32 * b.avatar_count) as usize;
                for &a in &visible[base..base + n] {
                    out[a as usize] = Some(l as u32);
                }
            }
        }
        Ok(out)
    }

    /// Read target `t`'s indirect draws of the last frame. Blocking.
    pub fn read_draws(
        &self,
        ctx: &GpuContext,
        t: usize,
    ) -> Result<Vec<DrawIndexedIndirect>, RenderError> {
        let words = read_buffer_copy(ctx, &self.target_gpu[t].draws)?;
        Ok(
            bytemuck::pod_collect_to_vec::<u32, DrawIndexedIndirect>(&words)
                [..self.tables.draw_template.len()]
                .to_vec(),
        )
    }

    /// Read the skinned vertices of the last frame (for comparing with the CPU twin). Empty
    /// when the scene skins in the vertex stage. Blocking.
    pub fn read_skinned(&self, ctx: &GpuContext) -> Result<Vec<SkinnedVertex>, RenderError> {
        let words = read_buffer_copy(ctx, &self.skinned)?;
        let n = self.tables.skinned_vertices as usize;
        Ok(bytemuck::pod_collect_to_vec::<u32, SkinnedVertex>(&words)[..n].to_vec())
    }
}

/// Copy a `COPY_SRC` buffer into a staging buffer and read it as `u32` words (blocking).
pub(crate) fn read_buffer_copy(
    ctx: &GpuContext,
    buffer: &wgpu::Buffer,
) -> Result<Vec<u32>, RenderError> {
    let staging = ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("scene::debug_readback"),
        size: buffer.size(),
        usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
        mapped_at_creation: false,
    });
    let mut encoder = ctx
        .device
        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("scene::debug_copy"),
        });
    encoder.copy_buffer_to_buffer(buffer, 0, &staging, 0, buffer.size());
    ctx.queue.submit([encoder.finish()]);
    Ok(bytemuck::pod_collect_to_vec(&read_buffer(ctx, &staging)?))
}
