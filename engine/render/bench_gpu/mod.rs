//! `tutti bench gpu` (and `benches/gpu_throughput.rs`): GPU throughput, each figure against a
//! baseline measured in the same run on the same device.
//!
//! - **Views per second** at 64², 128² and 256²: a crowd of [`GpuBenchConfig::avatars`]
//!   procedural humanoids (`humanoid:medium`, as [`super::bench::crowd_scene`]) seen by
//!   [`GpuBenchConfig::views`] targets of one world, each with its own camera on an orbit
//!   around the crowd ([`crate::render::SceneRenderer::set_target_camera`]), all recorded into
//!   one submit: cull + LOD per view, skinning once for all of them, raster per view. Baseline: the same views one per
//!   submit (a world with one target whose camera changes before each submit). Measured without
//!   and with reading the images back; [`GpuBenchConfig::frames_in_flight`] submits' worth of
//!   views are queued before waiting, in both.
//! - **Compute dispatches per second**: [`GpuBenchConfig::dispatches`] one-workgroup dispatches
//!   of a trivial shader (`shaders/bench_dispatch.wgsl`) in one compute pass and one submit;
//!   baseline: one dispatch per submit. The shader counts its runs, and the count is checked.
//! - **Skinned vertices per second**: the compute skin pass (`skin.wgsl`) skinning every
//!   avatar's full-detail vertices, [`GpuBenchConfig::skin_passes`] times in one submit, wall
//!   clock per pass. (Timestamps are not used here: on lavapipe, timestamps around a
//!   compute-only submit read 0.05 ms for 1.4 M vertices, 30 G vertices/s on two CPU cores.)
//!   Baseline: its CPU twin ([`crate::anim::skin_cpu`]) on every rayon thread. The first and
//!   last avatar are compared with the twin.
//! - **Multi-resolution**: one frame with targets at [`MULTIRES_SIZES`] (one camera) against
//!   the same targets each rendered alone in its own frame: `ratio` = one frame / the sum of the
//!   separate frames (below 1: the shared work, uploads and skinning, pays), and
//!   `overhead_vs_largest` = one frame / the largest target alone.
//!
//! Throughput figures (views, dispatches, skinning) use the wall clock from the first submit
//! until the device has finished the last. Multi-resolution uses GPU time from timestamp
//! queries around the frame's passes where the device has them, else the wall clock. Every
//! figure is the median of [`GpuBenchConfig::samples`] timed runs after one warm-up run.

mod dispatch;
mod skin;
mod views;

pub use dispatch::DispatchBench;
pub use skin::SkinBench;
pub use views::ViewsBench;

use super::Pipelines;
use super::bench::{BenchError, crowd_half_extent, crowd_world_in, gpu_figure};
use crate::assets::AssetLibrary;
use crate::gpu::GpuContext;
use crate::scene::{Animation, Camera, Skinning};
use serde::Serialize;

/// Target sizes of the views-per-second figures (square).
pub const VIEW_SIZES: [u32; 3] = [64, 128, 256];
/// Targets of the multi-resolution figure, largest first.
pub const MULTIRES_SIZES: [(u32, u32); 3] = [(256, 256), (128, 128), (64, 64)];

/// What to measure.
#[derive(Debug, Clone)]
pub struct GpuBenchConfig {
    /// Avatars in the crowd (256 in the figure).
    pub avatars: u32,
    /// Views (targets) per submit in the batched figures.
    pub views: u32,
    /// Square target sizes of the views figures.
    pub sizes: Vec<u32>,
    /// Submits' worth of views queued before waiting (batched: this many submits; baseline:
    /// `views` times as many).
    pub frames_in_flight: u32,
    /// Timed runs per figure (after one warm-up run); the median is reported.
    pub samples: u32,
    /// Dispatches per run of the dispatch figure.
    pub dispatches: u32,
    /// Skin passes per submit in the skinning figure.
    pub skin_passes: u32,
}

impl GpuBenchConfig {
    /// The full run (64 views per submit, 10 samples), or `--quick` (16 views per submit,
    /// 3 samples; under a minute on two cores without a GPU, where the full run takes many
    /// times longer).
    pub fn new(quick: bool) -> Self {
        if quick {
            Self {
                avatars: 256,
                views: 16,
                sizes: VIEW_SIZES.to_vec(),
                frames_in_flight: 2,
                samples: 3,
                dispatches: 1_000,
                skin_passes: 4,
            }
        } else {
            Self {
                avatars: 256,
                views: 64,
                sizes: VIEW_SIZES.to_vec(),
                frames_in_flight: 3,
                samples: 10,
                dispatches: 10_000,
                skin_passes: 16,
            }
        }
    }

    /// Tiny sizes (8 avatars, 2 views, one sample): checks that every figure runs, for tests.
    pub fn smoke() -> Self {
        Self {
            avatars: 8,
            views: 2,
            sizes: VIEW_SIZES.to_vec(),
            frames_in_flight: 1,
            samples: 1,
            dispatches: 16,
            skin_passes: 1,
        }
    }
}

/// Views per second at one size, batched against one view per submit.
#[derive(Debug, Clone, Serialize)]
pub struct ViewsFigure {
    /// Width and height of every view, pixels.
    pub size: u32,
    /// Whether the images were read back to the CPU.
    pub readback: bool,
    /// Views per submit in the batched run.
    pub views_per_submit: u32,
    /// Views per second, many per submit (median).
    pub views_per_s: f64,
    /// Views per second, one per submit (median): the baseline.
    pub baseline_views_per_s: f64,
    /// `views_per_s / baseline_views_per_s`.
    pub ratio: f64,
}

/// Compute dispatches per second, many per submit against one per submit.
#[derive(Debug, Clone, Serialize)]
pub struct DispatchFigure {
    /// Dispatches per timed run.
    pub dispatches: u32,
    /// Dispatches per second, all in one compute pass and one submit (median).
    pub per_s: f64,
    /// Dispatches per second, one per submit (median): the baseline.
    pub baseline_per_s: f64,
    /// `per_s / baseline_per_s`.
    pub ratio: f64,
}

/// Skinned vertices per second: the compute skin pass against its CPU twin.
#[derive(Debug, Clone, Serialize)]
pub struct SkinFigure {
    /// Avatars skinned.
    pub avatars: u32,
    /// Vertices skinned per pass (every avatar's full-detail mesh).
    pub vertices: u64,
    /// Skin passes recorded into each timed submit.
    pub passes_per_submit: u32,
    /// Median wall time from submit until finished, divided by `passes_per_submit`, ms.
    pub pass_ms: f64,
    /// Vertices per second on the GPU.
    pub vertices_per_s: f64,
    /// Median time of the CPU twin on `cpu_threads` threads, ms: the baseline.
    pub cpu_ms: f64,
    /// rayon threads of the CPU twin.
    pub cpu_threads: usize,
    /// Vertices per second of the CPU twin.
    pub cpu_vertices_per_s: f64,
    /// `vertices_per_s / cpu_vertices_per_s`.
    pub ratio: f64,
    /// Largest difference between a GPU and a CPU position (first and last avatar), m.
    pub max_error: f32,
}

/// Several resolutions in one frame against the same targets one per frame.
#[derive(Debug, Clone, Serialize)]
pub struct MultiresFigure {
    /// The targets, largest first.
    pub sizes: Vec<[u32; 2]>,
    /// Median time of one frame with every target, ms.
    pub one_frame_ms: f64,
    /// Median time of each target alone in its own frame, ms (order of `sizes`).
    pub separate_ms: Vec<f64>,
    /// Sum of `separate_ms`: the baseline.
    pub separate_sum_ms: f64,
    /// `one_frame_ms / separate_sum_ms` (below 1: rendering the targets together saves time).
    pub ratio: f64,
    /// `one_frame_ms / separate_ms[0]`: the cost of the smaller targets on top of the largest.
    pub overhead_vs_largest: f64,
    /// Whether the times are GPU time from timestamp queries (else wall clock).
    pub timestamps: bool,
}

/// Results of `tutti bench gpu`.
#[derive(Debug, Clone, Serialize)]
pub struct GpuBench {
    /// Adapter measured.
    pub adapter: String,
    /// Avatars in the crowd.
    pub avatars: u32,
    /// Views per submit in the batched figures.
    pub views_per_submit: u32,
    /// Whether the crowd was skinned in the vertex stage in the views figures.
    pub vertex_skinning: bool,
    /// Views per second, per size, without then with readback.
    pub views: Vec<ViewsFigure>,
    /// Compute dispatches per second.
    pub dispatch: DispatchFigure,
    /// Skinned vertices per second.
    pub skin: SkinFigure,
    /// Multi-resolution overhead.
    pub multires: MultiresFigure,
}

impl GpuBench {
    /// The figures as JSON (`tutti bench gpu --json`).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// View `i` of `n` of the benchmark crowd of `avatars`: on a circle around the crowd's centre,
/// looking down at it from about 30°, so that every view sees the whole crowd from its own side.
pub fn orbit_camera(avatars: u32, i: u32, n: u32) -> Camera {
    let half = crowd_half_extent(avatars);
    let centre = (0.0, 0.9, -half);
    let radius = 2.4 * half + 6.0;
    let angle = std::f32::consts::TAU * (i as f32 + 0.5) / n.max(1) as f32;
    Camera {
        eye: (
            centre.0 + radius * angle.sin(),
            0.6 * radius,
            centre.2 + radius * angle.cos(),
        ),
        target: centre,
        fov_y: 50.0,
        near: 0.1,
        far: 4.0 * radius + 100.0,
    }
}

/// One frame at every size of [`MULTIRES_SIZES`] against each size alone.
fn multires_figure(
    ctx: &GpuContext,
    renderer: &Pipelines,
    library: &AssetLibrary,
    cfg: &GpuBenchConfig,
) -> Result<MultiresFigure, BenchError> {
    let modes = (Skinning::Auto, Animation::Cpu);
    let frames = cfg.samples.max(1);
    let all = crowd_world_in(library, cfg.avatars, &MULTIRES_SIZES, None, modes)?;
    let one = gpu_figure(ctx, renderer, &all, frames)?.figure;
    let mut separate_ms = Vec::new();
    for size in MULTIRES_SIZES {
        let world = crowd_world_in(library, cfg.avatars, &[size], None, modes)?;
        separate_ms.push(gpu_figure(ctx, renderer, &world, frames)?.figure.frame_ms);
    }
    let separate_sum_ms: f64 = separate_ms.iter().sum();
    Ok(MultiresFigure {
        sizes: MULTIRES_SIZES.iter().map(|&(w, h)| [w, h]).collect(),
        one_frame_ms: one.frame_ms,
        ratio: one.frame_ms / separate_sum_ms.max(1e-12),
        overhead_vs_largest: one.frame_ms / separate_ms[0].max(1e-12),
        separate_ms,
        separate_sum_ms,
        timestamps: one.gpu_ms.is_some(),
    })
}

/// Run the benchmark on one device. `progress` is told what is being measured.
pub fn run(
    ctx: &GpuContext,
    cfg: &GpuBenchConfig,
    mut progress: impl FnMut(&str),
) -> Result<GpuBench, BenchError> {
    let renderer = Pipelines::new(ctx);
    let library = AssetLibrary::new();
    let mut views = Vec::new();
    let mut vertex_skinning = false;
    for &size in &cfg.sizes {
        progress(&format!(
            "views per second at {size}x{size}, {} avatars, {} views per submit",
            cfg.avatars, cfg.views
        ));
        let (figures, vertex) = views::views_figures(ctx, &renderer, &library, cfg, size)?;
        views.extend(figures);
        vertex_skinning |= vertex;
    }
    progress(&format!("{} compute dispatches", cfg.dispatches));
    let dispatch = dispatch::dispatch_figure(ctx, cfg)?;
    progress(&format!("skinning {} avatars", cfg.avatars));
    let skin = skin::skin_figure(ctx, &renderer, &library, cfg)?;
    progress("multi-resolution overhead");
    let multires = multires_figure(ctx, &renderer, &library, cfg)?;
    Ok(GpuBench {
        adapter: ctx.label.clone(),
        avatars: cfg.avatars,
        views_per_submit: cfg.views.max(1),
        vertex_skinning,
        views,
        dispatch,
        skin,
        multires,
    })
}

impl std::fmt::Display for GpuBench {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let skinning = if self.vertex_skinning {
            "vertex"
        } else {
            "compute"
        };
        writeln!(
            f,
            "GPU throughput on {}: {} humanoid:medium avatars, {skinning} skinning",
            self.adapter, self.avatars
        )?;
        writeln!(
            f,
            "  views per second, {} views per submit, each with its own camera (baseline: one view per submit; wall clock):",
            self.views_per_submit
        )?;
        for v in &self.views {
            let what = if v.readback {
                "with readback"
            } else {
                "without readback"
            };
            writeln!(
                f,
                "    {:>3}x{:<3} {what:<16} {:>10.1} views/s   baseline {:>10.1} views/s   {:>6.2}x",
                v.size, v.size, v.views_per_s, v.baseline_views_per_s, v.ratio
            )?;
        }
        let d = &self.dispatch;
        writeln!(
            f,
            "  compute dispatches, {} in one submit: {:.0}/s   baseline (one per submit) {:.0}/s   {:.2}x",
            d.dispatches, d.per_s, d.baseline_per_s, d.ratio
        )?;
        let s = &self.skin;
        let clock = |timestamps: bool| {
            if timestamps { "GPU time" } else { "wall clock" }
        };
        writeln!(
            f,
            "  compute skinning, {} vertices ({} avatars), {} passes per submit: {:.2} ms per pass (wall clock) = {:.1} M vertices/s   baseline CPU twin on {} threads {:.2} ms = {:.1} M vertices/s   {:.2}x (max difference {:.1e} m)",
            s.vertices,
            s.avatars,
            s.passes_per_submit,
            s.pass_ms,
            s.vertices_per_s / 1e6,
            s.cpu_threads,
            s.cpu_ms,
            s.cpu_vertices_per_s / 1e6,
            s.ratio,
            s.max_error
        )?;
        let m = &self.multires;
        let sizes: Vec<String> = m.sizes.iter().map(|[w, h]| format!("{w}x{h}")).collect();
        let alone: Vec<String> = m.separate_ms.iter().map(|t| format!("{t:.2}")).collect();
        write!(
            f,
            "  multi-resolution ({}): {} in one frame {:.2} ms; each alone in its own frame {} ms (sum {:.2} ms); one frame / sum {:.2}x; one frame / {} alone {:.2}x",
            clock(m.timestamps),
            sizes.join(" + "),
            m.one_frame_ms,
            alone.join(" / "),
            m.separate_sum_ms,
            m.ratio,
            sizes[0],
            m.overhead_vs_largest
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orbit_cameras_differ_and_look_at_the_crowd_centre() {
        let n = 16;
        let cams: Vec<Camera> = (0..n).map(|i| orbit_camera(256, i, n)).collect();
        for (i, c) in cams.iter().enumerate() {
            assert_eq!(c.target, cams[0].target);
            assert!(c.eye.1 > 1.0, "view {i} is above the ground");
            assert!(c.far > c.near);
            for d in &cams[i + 1..] {
                assert_ne!(c.eye, d.eye);
            }
        }
    }

    #[test]
    fn configs_measure_every_size() {
        for cfg in [
            GpuBenchConfig::new(true),
            GpuBenchConfig::new(false),
            GpuBenchConfig::smoke(),
        ] {
            assert_eq!(cfg.sizes, VIEW_SIZES);
            assert!(cfg.views >= 2 && cfg.samples >= 1 && cfg.dispatches >= 1);
        }
    }
}
