//! `tutti bench lod`: GPU-driven crowd rendering, each figure with its baseline in the same run.
//!
//! - **LOD**: GPU time per 1920×1080 frame of a crowd with automatic LOD against the same crowd
//!   with level 0 forced (`lod_speedup` = forced / automatic), and the avatars that fit in
//!   16.7 ms at each rate.
//! - **Multi-resolution**: four targets (1920×1080, 960×540, 480×270, 240×135) in one frame
//!   against the largest alone (`multires_ratio` = four / largest alone; goal ≤ 1.3).
//! - **CPU frame time** per avatar count: the engine's frame graph on the job system (animation,
//!   environment, audio), its animation jobs writing the palettes straight into GPU staging
//!   memory, plus recording and submitting the GPU frame, against a sequential animation loop
//!   on one thread.
//!
//! GPU time comes from timestamp queries around the frame's passes (cull, skin, raster of every
//! target) where the device has them; wall time from submitting a frame (uploads included, no
//! readback) until the device has finished it is reported beside it, and used where there are
//! no timestamps. Medians over the timed frames after one warm-up frame.

use super::{FrameInput, Pipelines, RenderError, SceneRenderer};
use crate::anim::PoseScratch;
use crate::assets::AssetLibrary;
use crate::gpu::{GpuContext, GpuError, GpuTimer};
use crate::jobs::Executor;
use crate::scene::FrameGraph;
use crate::scene::{Animation, MAX_TARGETS, SceneError, Skinning, TargetDesc, World, parse_scene};
use glam::Mat4;
use serde::Serialize;
use std::sync::Arc;
use std::time::Instant;

/// The four targets of the multi-resolution figure, largest first.
pub const MULTIRES_TARGETS: [(u32, u32); 4] = [(1920, 1080), (960, 540), (480, 270), (240, 135)];
/// GPU time budget of one frame at 60 Hz.
pub const FRAME_BUDGET_MS: f64 = 16.7;

/// Errors of the GPU benchmarks (`tutti bench lod`, `tutti bench gpu`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// The benchmark crowd's scene text did not load (a bug in [`crowd_scene`]).
    #[error("the benchmark crowd's scene did not load")]
    Scene(#[from] Box<SceneError>),
    /// The scene does not fit the device, or rendering failed.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The device failed while waiting or reading timestamps.
    #[error(transparent)]
    Gpu(#[from] GpuError),
    /// A benchmark's own check of what the GPU computed failed (the figures would be
    /// meaningless): run the render tests on this adapter.
    #[error("{what} on {adapter}: {message}")]
    Check {
        /// Which figure.
        what: &'static str,
        /// Adapter label.
        adapter: String,
        /// What disagreed.
        message: String,
    },
}

/// What to measure.
#[derive(Debug, Clone)]
pub struct LodBenchConfig {
    /// Avatars in the GPU figures.
    pub avatars: u32,
    /// Timed frames per GPU figure (after one warm-up frame).
    pub frames: u32,
    /// Avatar counts of the CPU frame-time figure.
    pub cpu_counts: Vec<u32>,
    /// Timed frames per CPU figure.
    pub cpu_frames: u32,
    /// Where the crowd is skinned.
    pub skinning: Skinning,
}

impl LodBenchConfig {
    /// The full run (10,000 avatars; CPU at 1k, 10k, 50k), or `--quick` (1,000 avatars, fewer
    /// frames: under two minutes on two cores without a GPU).
    pub fn new(quick: bool) -> Self {
        if quick {
            Self {
                avatars: 1_000,
                frames: 3,
                cpu_counts: vec![1_000, 10_000, 50_000],
                cpu_frames: 3,
                skinning: Skinning::Auto,
            }
        } else {
            Self {
                avatars: 10_000,
                frames: 10,
                cpu_counts: vec![1_000, 10_000, 50_000],
                cpu_frames: 10,
                skinning: Skinning::Auto,
            }
        }
    }

    /// Tiny sizes (16 avatars, one frame per figure): checks that every figure runs, for tests.
    pub fn smoke() -> Self {
        Self {
            avatars: 16,
            frames: 1,
            cpu_counts: vec![64],
            cpu_frames: 1,
            skinning: Skinning::Auto,
        }
    }
}

/// One GPU figure: median frame time, and what the frame drew.
#[derive(Debug, Clone, Serialize)]
pub struct GpuFigure {
    /// Median frame time, ms: GPU time from timestamp queries where the device has them,
    /// otherwise wall time from submit to completion.
    pub frame_ms: f64,
    /// Median GPU time from timestamp queries (first to last pass), ms, where available.
    pub gpu_ms: Option<f64>,
    /// Median wall time from submit (uploads included) to completion, ms.
    pub wall_ms: f64,
    /// Avatars drawn (all targets).
    pub drawn: u64,
    /// Triangles drawn (all targets).
    pub triangles: u64,
    /// Avatars that would fit in [`FRAME_BUDGET_MS`] at this rate (linear in the count).
    pub avatars_per_16_7ms: f64,
}

/// One CPU figure.
#[derive(Debug, Clone, Serialize)]
pub struct CpuFigure {
    /// Avatars.
    pub avatars: u32,
    /// Median engine CPU frame time (frame graph + record and submit), ms.
    pub frame_ms: f64,
    /// Median of the frame graph alone, ms.
    pub animate_ms: f64,
    /// Median of recording and submitting the GPU frame, ms.
    pub submit_ms: f64,
    /// Median of the baseline: a sequential animation loop on one thread, ms.
    pub sequential_animate_ms: f64,
    /// Baseline over the frame graph's animation.
    pub animate_speedup: f64,
    /// Median CPU frame time with GPU animation (`animation: Gpu`: no animation jobs, no
    /// palette upload), ms.
    pub gpu_animation_frame_ms: f64,
}

/// Results of `tutti bench lod`.
#[derive(Debug, Clone, Serialize)]
pub struct LodBench {
    /// Adapter measured.
    pub adapter: String,
    /// Avatars in the GPU figures.
    pub avatars: u32,
    /// Whether the crowd was skinned in the vertex stage.
    pub vertex_skinning: bool,
    /// 1920×1080 with automatic LOD.
    pub lod: GpuFigure,
    /// 1920×1080 with level 0 forced.
    pub lod0: GpuFigure,
    /// 1920×1080 with automatic LOD and GPU animation (the animation pass included).
    pub lod_gpu_animation: GpuFigure,
    /// `lod0.frame_ms / lod.frame_ms`.
    pub lod_speedup: f64,
    /// The four targets of [`MULTIRES_TARGETS`] in one frame, automatic LOD.
    pub multires: GpuFigure,
    /// `multires.frame_ms / lod.frame_ms`.
    pub multires_ratio: f64,
    /// CPU frame time per avatar count.
    pub cpu: Vec<CpuFigure>,
}

/// Distance between neighbours in the benchmark crowd's grids, m.
const CROWD_SPACING: f32 = 1.6;

/// Half the width of one of the benchmark crowd's four square blocks plus a margin, m. The
/// blocks are centred at x = ±half and z = 0 or -2·half, so the crowd covers about
/// x ∈ [-2·half, 2·half] and z ∈ [-3·half, half] (see [`crowd_scene`]).
pub fn crowd_half_extent(avatars: u32) -> f32 {
    let per_block = avatars.div_ceil(4).max(1);
    let columns = (f64::from(per_block).sqrt().ceil() as u32).max(1);
    columns as f32 * CROWD_SPACING * 0.5 + 0.5
}

/// The benchmark crowd as scene text: `avatars` medium-detail humanoids in four blocks (two
/// walking, two idle) on a ground, seen from behind the front edge as in `scenes/crowd.ron`.
pub fn crowd_scene(
    avatars: u32,
    targets: &[(u32, u32)],
    force: Option<u32>,
    (skinning, animation): (Skinning, Animation),
) -> String {
    let per_block = avatars.div_ceil(4).max(1);
    let columns = (f64::from(per_block).sqrt().ceil() as u32).max(1);
    let spacing = CROWD_SPACING;
    let half = crowd_half_extent(avatars);
    let mut left = avatars;
    let mut groups = String::new();
    for (i, (x, z, clip, tint)) in [
        (-half, 0.0, "walk", "(1.0, 0.85, 0.8)"),
        (half, 0.0, "walk", "(0.8, 0.9, 1.0)"),
        (-half, -2.0 * half, "idle", "(0.85, 1.0, 0.8)"),
        (half, -2.0 * half, "idle", "(1.0, 1.0, 0.75)"),
    ]
    .into_iter()
    .enumerate()
    {
        let count = per_block.min(left);
        left -= count;
        if count == 0 {
            continue;
        }
        groups.push_str(&format!(
            "(asset: \"humanoid:medium\", count: {count}, layout: Grid(columns: {columns}, spacing: {spacing}), position: ({x}, 0.0, {z}), yaw: {}, clip: \"{clip}\", speed: {}, phase_spread: 1.0, tint: {tint}),\n",
            90.0 * i as f32,
            1.0 + 0.1 * i as f32,
        ));
    }
    let targets: Vec<String> = targets
        .iter()
        .enumerate()
        .map(|(i, (w, h))| format!("(name: \"t{i}\", width: {w}, height: {h})"))
        .collect();
    let force = force.map_or("None".to_string(), |f| format!("Some({f})"));
    format!(
        "Scene(
    name: \"bench-crowd\",
    camera: (eye: (0.0, 7.0, {eye_z}), target: (0.0, 1.0, {target_z}), fov_y: 50.0, near: 0.1, far: {far}),
    targets: [{targets}],
    environment: (ground: Some((size: {ground}))),
    lod: (force: {force}),
    skinning: {skinning:?},
    animation: {animation:?},
    avatars: [
{groups}    ],
)",
        eye_z = half + 6.5,
        target_z = half - 28.5,
        far = 4.0 * half + 200.0,
        targets = targets.join(", "),
        ground = 4.0 * half + 40.0,
    )
}

/// The benchmark crowd as a [`World`] (see [`crowd_scene`]).
pub fn crowd_world(
    avatars: u32,
    targets: &[(u32, u32)],
    force: Option<u32>,
    modes: (Skinning, Animation),
) -> Result<World, Box<SceneError>> {
    crowd_world_in(&AssetLibrary::new(), avatars, targets, force, modes)
}

/// [`crowd_world`] with its assets from `library` (built once when several worlds share it).
///
/// Scene files may have at most [`MAX_TARGETS`] targets (output images per frame); the views
/// benchmark wants more views of one world, so targets past that are added to the [`World`]
/// directly, named `t<i>` as the others. [`SceneRenderer::new`] checks every target against the
/// device's limits.
pub fn crowd_world_in(
    library: &AssetLibrary,
    avatars: u32,
    targets: &[(u32, u32)],
    force: Option<u32>,
    modes: (Skinning, Animation),
) -> Result<World, Box<SceneError>> {
    let in_scene = &targets[..targets.len().min(MAX_TARGETS)];
    let text = crowd_scene(avatars, in_scene, force, modes);
    let mut world = parse_scene(&text, std::path::Path::new("<bench crowd>"), None, library)
        .map(|s| s.world())
        .map_err(Box::new)?;
    for (i, &(width, height)) in targets.iter().enumerate().skip(in_scene.len()) {
        world.desc.targets.push(TargetDesc {
            name: format!("t{i}"),
            width,
            height,
        });
    }
    Ok(world)
}

/// The median of `v` (0 when empty).
pub(super) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

pub(super) fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

/// A [`GpuFigure`] and how the scene was skinned.
#[derive(Debug, Clone)]
pub(super) struct GpuRun {
    /// The figure.
    pub figure: GpuFigure,
    /// Whether the scene skinned in the vertex stage.
    pub vertex_skinning: bool,
}

/// Median GPU time of `frames` frames of a world (after one warm-up frame, whose stats are
/// returned with it).
pub(super) fn gpu_figure(
    ctx: &GpuContext,
    renderer: &Pipelines,
    world: &World,
    frames: u32,
) -> Result<GpuRun, BenchError> {
    let sr = SceneRenderer::new(ctx, renderer, world)?;
    let anim = world.animate(world.frame_time(0));
    // Warm-up frame with readback, for the stats.
    let images = sr.render(ctx, renderer, &anim)?;
    let drawn = images.iter().map(|i| u64::from(i.stats.visible())).sum();
    let triangles = images.iter().map(|i| i.stats.triangles).sum();
    let timer = GpuTimer::new(ctx);
    let (mut wall, mut gpu) = (Vec::new(), Vec::new());
    for _ in 0..frames.max(1) {
        let t = Instant::now();
        let out = sr.submit(
            ctx,
            renderer,
            &FrameInput::new(&anim).with_timer(timer.as_ref()),
        )?;
        ctx.wait_for(out.submission)?;
        wall.push(ms(t));
        if let Some(timer) = &timer {
            gpu.push(timer.read_ms(ctx)?);
        }
    }
    let wall_ms = median(wall);
    let gpu_ms = timer.is_some().then(|| median(gpu));
    let frame_ms = gpu_ms.unwrap_or(wall_ms);
    Ok(GpuRun {
        figure: GpuFigure {
            frame_ms,
            gpu_ms,
            wall_ms,
            drawn,
            triangles,
            avatars_per_16_7ms: f64::from(world.avatars.len() as u32) * FRAME_BUDGET_MS
                / frame_ms.max(1e-9),
        },
        vertex_skinning: sr.vertex_skinning(),
    })
}

/// CPU frame time at one avatar count.
fn cpu_figure(
    (ctx, renderer, exec): (&GpuContext, &Pipelines, &Executor),
    library: &AssetLibrary,
    avatars: u32,
    frames: u32,
) -> Result<CpuFigure, BenchError> {
    let cpu = cpu_frame(
        ctx,
        renderer,
        exec,
        library,
        (avatars, frames),
        Animation::Cpu,
    )?;
    let gpu = cpu_frame(
        ctx,
        renderer,
        exec,
        library,
        (avatars, frames),
        Animation::Gpu,
    )?;
    Ok(CpuFigure {
        avatars,
        frame_ms: cpu.frame_ms,
        animate_ms: cpu.animate_ms,
        submit_ms: cpu.submit_ms,
        sequential_animate_ms: cpu.sequential_animate_ms,
        animate_speedup: cpu.sequential_animate_ms / cpu.animate_ms.max(1e-9),
        gpu_animation_frame_ms: gpu.frame_ms,
    })
}

/// Medians of one [`cpu_frame`] run, ms.
#[derive(Debug, Clone, Copy)]
struct CpuFrameMedians {
    /// The engine's CPU frame: frame graph plus record and submit.
    frame_ms: f64,
    /// The frame graph alone.
    animate_ms: f64,
    /// Recording and submitting alone.
    submit_ms: f64,
    /// The baseline: sequential animation on one thread.
    sequential_animate_ms: f64,
}

/// CPU frame times of `frames` frames (after one warm-up frame) at `avatars` avatars.
fn cpu_frame(
    ctx: &GpuContext,
    renderer: &Pipelines,
    exec: &Executor,
    library: &AssetLibrary,
    (avatars, frames): (u32, u32),
    animation: Animation,
) -> Result<CpuFrameMedians, BenchError> {
    let world = Arc::new(crowd_world_in(
        library,
        avatars,
        &MULTIRES_TARGETS[..1],
        None,
        (Skinning::Auto, animation),
    )?);
    let sr = SceneRenderer::new(ctx, renderer, &world)?;
    let graph = FrameGraph::new(world.clone(), 32);
    let (mut animate, mut submit, mut total, mut sequential) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut palettes = vec![Mat4::IDENTITY; world.palette_len];
    let mut scratch = PoseScratch::default();
    for f in 0..frames.max(1) + 1 {
        let time = world.frame_time(f);
        // The engine's path (as the offscreen scheduler): palettes written straight into GPU
        // staging memory, or nothing to upload with GPU animation.
        let t0 = Instant::now();
        let prepared = sr.prepare(ctx, exec, &graph, time)?;
        let a = ms(t0);
        let t1 = Instant::now();
        let out = sr.submit(ctx, renderer, &prepared.input())?;
        let s = ms(t1);
        let t = ms(t0);
        ctx.wait_for(out.submission)?;
        // Baseline: the same animation, one avatar after another on this thread.
        let t2 = Instant::now();
        for av in &world.avatars {
            let n = world.assets[av.asset].skeleton.bindings.len();
            let at = av.palette_offset as usize;
            world.animate_avatar(av, time, &mut scratch, &mut palettes[at..at + n]);
        }
        let q = ms(t2);
        if f > 0 {
            animate.push(a);
            submit.push(s);
            total.push(t);
            sequential.push(q);
        }
    }
    Ok(CpuFrameMedians {
        frame_ms: median(total),
        animate_ms: median(animate),
        submit_ms: median(submit),
        sequential_animate_ms: median(sequential),
    })
}

/// Run the benchmark on one device. `progress` is told what is being measured.
pub fn run(
    ctx: &GpuContext,
    exec: &Executor,
    cfg: &LodBenchConfig,
    mut progress: impl FnMut(&str),
) -> Result<LodBench, BenchError> {
    let renderer = Pipelines::new(ctx);
    let library = AssetLibrary::new();
    let n = cfg.avatars;
    let mut figure = |what: &str, targets: &[(u32, u32)], force, animation| {
        progress(&format!("{n} avatars {what}"));
        let world = crowd_world_in(&library, n, targets, force, (cfg.skinning, animation))?;
        gpu_figure(ctx, &renderer, &world, cfg.frames)
    };
    let one = &MULTIRES_TARGETS[..1];
    let first = figure("at 1920x1080, automatic LOD", one, None, Animation::Cpu)?;
    let (lod, vertex_skinning) = (first.figure, first.vertex_skinning);
    let lod0 = figure("at 1920x1080, level 0 forced", one, Some(0), Animation::Cpu)?.figure;
    let lod_gpu_animation = figure(
        "at 1920x1080, automatic LOD, GPU animation",
        one,
        None,
        Animation::Gpu,
    )?
    .figure;
    let multires = figure(
        "at four resolutions",
        &MULTIRES_TARGETS,
        None,
        Animation::Cpu,
    )?
    .figure;
    let mut cpu = Vec::new();
    for &count in &cfg.cpu_counts {
        progress(&format!("CPU frame time, {count} avatars"));
        cpu.push(cpu_figure(
            (ctx, &renderer, exec),
            &library,
            count,
            cfg.cpu_frames,
        )?);
    }
    Ok(LodBench {
        adapter: ctx.label.clone(),
        avatars: n,
        vertex_skinning,
        lod_speedup: lod0.frame_ms / lod.frame_ms.max(1e-9),
        multires_ratio: multires.frame_ms / lod.frame_ms.max(1e-9),
        lod,
        lod0,
        lod_gpu_animation,
        multires,
        cpu,
    })
}

impl LodBench {
    /// The figures as JSON (`tutti bench lod --json`): every field, plus `cpu_frame_ms` and
    /// `cpu_frame_ms_gpu_animation` keyed by avatar count.
    pub fn to_json(&self) -> serde_json::Value {
        let by_count = |pick: fn(&CpuFigure) -> f64| -> serde_json::Value {
            self.cpu
                .iter()
                .map(|c| (c.avatars.to_string(), serde_json::json!(pick(c))))
                .collect::<serde_json::Map<_, _>>()
                .into()
        };
        let mut value = serde_json::to_value(self).unwrap_or_default();
        value["cpu_frame_ms"] = by_count(|c| c.frame_ms);
        value["cpu_frame_ms_gpu_animation"] = by_count(|c| c.gpu_animation_frame_ms);
        value
    }
}

impl std::fmt::Display for LodBench {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let skinning = if self.vertex_skinning {
            "vertex"
        } else {
            "compute"
        };
        writeln!(
            f,
            "GPU-driven crowd on {}: {} humanoid:medium avatars, {skinning} skinning",
            self.adapter, self.avatars
        )?;
        let clock = if self.lod.gpu_ms.is_some() {
            "GPU time (timestamps)"
        } else {
            "wall time (no timestamp queries)"
        };
        writeln!(
            f,
            "  frame times are {clock}; wall time from submit to completion in brackets"
        )?;
        let mut row = |name: &str, g: &GpuFigure| {
            writeln!(
                f,
                "  {name:<40} {:>9.2} ms ({:>8.2} ms)  {:>9} avatars drawn  {:>11} triangles  {:>9.0} avatars per 16.7 ms",
                g.frame_ms, g.wall_ms, g.drawn, g.triangles, g.avatars_per_16_7ms
            )
        };
        row("1920x1080, automatic LOD", &self.lod)?;
        row("1920x1080, level 0 forced (baseline)", &self.lod0)?;
        row(
            &format!("{} targets, automatic LOD", MULTIRES_TARGETS.len()),
            &self.multires,
        )?;
        row(
            "1920x1080, automatic LOD, GPU animation",
            &self.lod_gpu_animation,
        )?;
        writeln!(
            f,
            "  lod_speedup (level 0 forced / automatic): {:.2}x",
            self.lod_speedup
        )?;
        writeln!(
            f,
            "  multires_ratio (four targets / 1920x1080 alone): {:.2}x (goal <= 1.3)",
            self.multires_ratio
        )?;
        write!(
            f,
            "  CPU frame time (frame graph + record and submit; baseline: sequential animation):"
        )?;
        for c in &self.cpu {
            write!(
                f,
                "\n  {:>7} avatars: {:>8.2} ms (animate {:.2} ms, submit {:.2} ms; sequential animate {:.2} ms, {:.2}x); with GPU animation {:.2} ms",
                c.avatars,
                c.frame_ms,
                c.animate_ms,
                c.submit_ms,
                c.sequential_animate_ms,
                c.animate_speedup,
                c.gpu_animation_frame_ms
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crowd_scene_text_parses_with_the_requested_count_and_targets() {
        for n in [1, 7, 1_000, 10_001] {
            let w = crowd_world(
                n,
                &MULTIRES_TARGETS,
                Some(2),
                (Skinning::Vertex, Animation::Gpu),
            )
            .expect("parses");
            assert_eq!(w.avatars.len(), n as usize);
            assert_eq!(w.desc.targets.len(), 4);
            assert_eq!(w.desc.lod.force, Some(2));
            assert!(w.desc.environment.ground.is_some());
            assert_eq!(w.desc.skinning, Skinning::Vertex);
            assert!(w.animates_on_gpu());
        }
    }

    #[test]
    fn worlds_may_have_more_targets_than_a_scene_file() {
        let targets = vec![(64, 64); MAX_TARGETS + 5];
        let w = crowd_world(8, &targets, None, (Skinning::Auto, Animation::Cpu)).expect("parses");
        assert_eq!(w.desc.targets.len(), MAX_TARGETS + 5);
        let mut names: Vec<&str> = w.desc.targets.iter().map(|t| t.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), MAX_TARGETS + 5, "target names are unique");
    }
}
