//! Skinned vertices per second: the compute skin pass alone against its CPU twin.

use super::{GpuBenchConfig, SkinFigure};
use crate::assets::AssetLibrary;
use crate::gpu::GpuContext;
use crate::render::MAX_LODS;
use crate::render::bench::{BenchError, crowd_world_in, median};
use crate::render::debug::read_buffer_copy;
use crate::render::gpu_data::{BatchParams, GpuInstance, SkinnedVertex};
use crate::render::skin::{SkinDispatch, SkinFrameBindings};
use crate::render::tables::{SceneTables, SkinChunkTable};
use crate::render::{GpuMesh, Pipelines, SceneRenderer};
use crate::scene::{Animation, SceneFrame, Skinning, World};
use rayon::prelude::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The skinning figure: the compute skin pass over every avatar's full-detail vertices
/// ([`Self::gpu`]) and its CPU twin on every rayon thread ([`Self::cpu`], the baseline).
pub struct SkinBench<'a> {
    ctx: &'a GpuContext,
    renderer: &'a Pipelines,
    world: World,
    anim: SceneFrame,
    meshes: Vec<Arc<GpuMesh>>,
    instances: Vec<GpuInstance>,
    /// The skin dispatches, as the renderer lays them out.
    chunks: Vec<SkinChunkTable>,
    group: wgpu::BindGroup,
    skinned: wgpu::Buffer,
    vertices: u64,
}

impl<'a> SkinBench<'a> {
    /// Upload the crowd of `avatars` (palettes, instances) and size the output.
    pub fn new(
        ctx: &'a GpuContext,
        renderer: &'a Pipelines,
        library: &AssetLibrary,
        avatars: u32,
    ) -> Result<Self, BenchError> {
        let world = crowd_world_in(
            library,
            avatars,
            &[(64, 64)],
            None,
            (Skinning::Auto, Animation::Cpu),
        )?;
        let anim = world.animate(world.frame_time(0));
        let meshes: Vec<Arc<GpuMesh>> =
            world.assets.iter().map(|a| renderer.mesh(ctx, a)).collect();
        // The skin pass's instances, chunks and params, as the renderer lays them out.
        let plan = SceneRenderer::check(ctx, &world)?.plan;
        if plan.vertex_skinning {
            let vertices: u64 = world
                .avatars
                .iter()
                .map(|a| u64::from(meshes[a.asset].vertex_count))
                .sum();
            return Err(BenchError::Check {
                what: "skinned vertices",
                adapter: ctx.label.clone(),
                message: format!(
                    "{avatars} avatars need {} bytes of skinned vertices, more than the device binds ({}); use fewer avatars",
                    vertices * size_of::<SkinnedVertex>() as u64,
                    ctx.limits.max_storage_buffer_binding_size
                ),
            });
        }
        let SceneTables {
            instances,
            skin_chunks: chunks,
            batch_params: params,
            skinned_vertices: vertices,
            ..
        } = SceneTables::new(&world, &plan, renderer.avatar.multi_draw);
        let skinned_bytes = vertices * size_of::<SkinnedVertex>() as u64;
        let init = |label: &str, contents: &[u8], usage: wgpu::BufferUsages| {
            wgpu::util::DeviceExt::create_buffer_init(
                &ctx.device,
                &wgpu::util::BufferInitDescriptor {
                    label: Some(label),
                    contents,
                    usage,
                },
            )
        };
        let storage = wgpu::BufferUsages::STORAGE;
        let palettes = init(
            "bench_gpu::palettes",
            bytemuck::cast_slice(&anim.palettes),
            storage,
        );
        let instance_buffer = init(
            "bench_gpu::instances",
            bytemuck::cast_slice(&instances),
            storage,
        );
        // Every avatar drawn at level 0 somewhere: skin all of its vertices.
        let needed = vec![MAX_LODS as u32; instances.len().max(1)];
        let needed = init("bench_gpu::needed", bytemuck::cast_slice(&needed), storage);
        let params = init("bench_gpu::params", &params, wgpu::BufferUsages::UNIFORM);
        let skinned = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("bench_gpu::skinned"),
            size: skinned_bytes.max(64),
            usage: storage | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let group = renderer.skin.frame_group(
            &ctx.device,
            &SkinFrameBindings {
                palettes: palettes.as_entire_binding(),
                instances: instance_buffer.as_entire_binding(),
                skinned: skinned.as_entire_binding(),
                params: crate::render::common::slot(&params, size_of::<BatchParams>() as u64),
                needed: needed.as_entire_binding(),
            },
        );
        Ok(Self {
            ctx,
            renderer,
            world,
            anim,
            meshes,
            instances,
            chunks,
            group,
            skinned,
            vertices,
        })
    }

    /// Vertices skinned per run.
    pub fn vertices(&self) -> u64 {
        self.vertices
    }

    /// `passes` skin passes in one submit: wall time from submit until finished.
    pub fn gpu(&self, passes: u32) -> Result<Duration, BenchError> {
        let ctx = self.ctx;
        let dispatches: Vec<SkinDispatch<'_>> = self
            .chunks
            .iter()
            .map(|c| SkinDispatch {
                mesh_group: &self.meshes[c.asset].rest_group,
                params_offset: c.params_offset,
                workgroups: c.workgroups,
            })
            .collect();
        let t = Instant::now();
        let mut encoder = ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("bench_gpu::skin"),
            });
        for _ in 0..passes.max(1) {
            self.renderer
                .skin
                .record(&mut encoder, &self.group, &dispatches)?;
        }
        ctx.wait_for(ctx.queue.submit([encoder.finish()]))?;
        Ok(t.elapsed())
    }

    /// Avatar `i` skinned by the CPU twin.
    fn cpu_avatar(&self, i: usize) -> Vec<(glam::Vec3, glam::Vec3)> {
        let a = &self.world.avatars[i];
        let n = self.world.assets[a.asset].skeleton.bindings.len();
        let at = a.palette_offset as usize;
        crate::anim::skin_cpu(
            &self.world.assets[a.asset].mesh,
            &self.anim.palettes[at..at + n],
            a.model,
        )
    }

    /// One run of the baseline: the CPU twin skinning every avatar, on every rayon thread.
    pub fn cpu(&self) -> Duration {
        let t = Instant::now();
        let skinned: usize = (0..self.world.avatars.len())
            .into_par_iter()
            .map(|i| self.cpu_avatar(i).len())
            .sum();
        let elapsed = t.elapsed();
        debug_assert_eq!(skinned as u64, self.vertices);
        elapsed
    }

    /// The largest difference between a GPU-skinned and a CPU-skinned position of the first
    /// and the last avatar after [`Self::gpu`], m (blocking). Fails above 1 mm.
    pub fn check(&self) -> Result<f32, BenchError> {
        let words = read_buffer_copy(self.ctx, &self.skinned)?;
        let out: Vec<SkinnedVertex> = bytemuck::pod_collect_to_vec(&words);
        let mut max_error = 0.0f32;
        for i in [0, self.instances.len().saturating_sub(1)] {
            let Some(inst) = self.instances.get(i) else {
                continue;
            };
            for (k, (p, _)) in self.cpu_avatar(i).iter().enumerate() {
                let g = out[inst.skinned_base as usize + k].position;
                let d = (g[0] - p.x)
                    .abs()
                    .max((g[1] - p.y).abs())
                    .max((g[2] - p.z).abs());
                // f32::max drops NaN; a NaN position is an error as large as any.
                max_error = max_error.max(if d.is_nan() { f32::INFINITY } else { d });
            }
        }
        if max_error > 1e-3 {
            return Err(BenchError::Check {
                what: "skinned vertices",
                adapter: self.ctx.label.clone(),
                message: format!("GPU and CPU skinning differ by {max_error} m"),
            });
        }
        Ok(max_error)
    }
}

/// Skinned vertices per second: the skin pass alone against the CPU twin.
pub(super) fn skin_figure(
    ctx: &GpuContext,
    renderer: &Pipelines,
    library: &AssetLibrary,
    cfg: &GpuBenchConfig,
) -> Result<SkinFigure, BenchError> {
    let bench = SkinBench::new(ctx, renderer, library, cfg.avatars)?;
    let passes = cfg.skin_passes.max(1);
    let (mut gpu, mut cpu) = (Vec::new(), Vec::new());
    for run in 0..=cfg.samples.max(1) {
        let g = bench.gpu(passes)?;
        let c = bench.cpu();
        if run > 0 {
            gpu.push(g.as_secs_f64() * 1e3 / f64::from(passes));
            cpu.push(c.as_secs_f64() * 1e3);
        }
    }
    let max_error = bench.check()?;
    let (pass_ms, cpu_ms) = (median(gpu), median(cpu));
    let vertices = bench.vertices();
    let vertices_per_s = vertices as f64 / (pass_ms / 1e3).max(1e-12);
    let cpu_vertices_per_s = vertices as f64 / (cpu_ms / 1e3).max(1e-12);
    Ok(SkinFigure {
        avatars: cfg.avatars,
        vertices,
        passes_per_submit: passes,
        pass_ms,
        vertices_per_s,
        cpu_ms,
        cpu_threads: rayon::current_num_threads(),
        cpu_vertices_per_s,
        ratio: vertices_per_s / cpu_vertices_per_s.max(1e-12),
        max_error,
    })
}
