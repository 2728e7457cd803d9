//! `tutti bench app`: what the overlay costs. One run opens the default scene twice on one
//! adapter, one window with the overlay and one without, drawn in turn under the same load, and
//! compares their frame times: GPU frame time (timestamp scopes), the overlay's own GPU scope,
//! and CPU frame time. Medians over the frames after a warm-up.
//!
//! winit allows one event loop per process, so the baseline (no overlay) runs beside the
//! figure in the same loop rather than in a second run.

use super::{AppError, AppOptions, AppSummary, WindowSummary, run};
use crate::gpu::AdapterSpec;
use crate::jobs::ExecutorConfig;
use crate::scene::{LoadedScene, default_scene};
use serde::Serialize;

/// Frames not counted at the start (pipelines, font atlas and first uploads).
const WARM_UP: usize = 10;

/// How `tutti bench app` runs.
#[derive(Debug, Clone)]
pub struct AppBenchConfig {
    /// Frames per window.
    pub frames: u64,
    /// The adapter: the first of these that can present.
    pub adapters: AdapterSpec,
    /// The executor.
    pub executor: ExecutorConfig,
}

/// The overlay's cost (see the module doc). Times in ms, medians.
#[derive(Debug, Clone, Serialize)]
pub struct AppBench {
    /// The adapter measured.
    pub adapter: String,
    /// Frames counted per window (after warm-up).
    pub frames: usize,
    /// GPU frame time with the overlay.
    pub gpu_ms_overlay: Option<f64>,
    /// GPU frame time without (the baseline).
    pub gpu_ms_bare: Option<f64>,
    /// The overlay's own GPU scope.
    pub overlay_gpu_ms: Option<f64>,
    /// The overlay's scope over the GPU frame time with it, 0..1.
    pub overlay_share: Option<f64>,
    /// CPU frame time with the overlay (prepare, record, egui, submit).
    pub cpu_ms_overlay: f64,
    /// CPU frame time without.
    pub cpu_ms_bare: f64,
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

/// Run the app benchmark (needs a display: [`AppError::NoDisplay`] otherwise).
pub fn run_bench(config: &AppBenchConfig) -> Result<AppBench, AppError> {
    let library = crate::assets::AssetLibrary::new();
    let scene = default_scene(&library).map_err(|e| AppError::Window {
        scene: "default".into(),
        message: e.to_string(),
    })?;
    let mut bare: LoadedScene = scene.clone();
    bare.desc.name = "default-bare".into();
    let summary: AppSummary = run(AppOptions {
        scenes: vec![scene, bare],
        adapters: config.adapters.clone(),
        vsync: false,
        fps_cap: Some(1000.0),
        fixed_step: true,
        exit_after_frames: Some(config.frames + WARM_UP as u64),
        overlay: true,
        overlay_off: vec![1],
        one_adapter: true,
        record_samples: true,
        executor: config.executor,
        ..AppOptions::default()
    })?;
    let find = |overlay: bool| -> Option<&WindowSummary> {
        summary.windows.iter().find(|w| w.overlay == overlay)
    };
    let (Some(with), Some(without)) = (find(true), find(false)) else {
        return Err(AppError::EventLoop(
            "the benchmark's windows closed early".into(),
        ));
    };
    let skip = |v: &[f64]| v.iter().skip(WARM_UP).copied().collect::<Vec<_>>();
    let gpu =
        |w: &WindowSummary| median(skip(&w.gpu_samples.iter().map(|s| s.0).collect::<Vec<_>>()));
    let overlay_gpu_ms = median(
        with.gpu_samples
            .iter()
            .skip(WARM_UP)
            .filter_map(|s| s.1)
            .collect(),
    );
    let gpu_ms_overlay = gpu(with);
    Ok(AppBench {
        adapter: with.adapter.clone(),
        frames: with.cpu_samples.len().saturating_sub(WARM_UP),
        gpu_ms_overlay,
        gpu_ms_bare: gpu(without),
        overlay_gpu_ms,
        overlay_share: overlay_gpu_ms
            .zip(gpu_ms_overlay)
            .map(|(o, f)| o / f.max(1e-9)),
        cpu_ms_overlay: median(skip(&with.cpu_samples)).unwrap_or(f64::NAN),
        cpu_ms_bare: median(skip(&without.cpu_samples)).unwrap_or(f64::NAN),
    })
}

impl std::fmt::Display for AppBench {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |v: Option<f64>| v.map_or("n/a (no timestamps)".into(), |v| format!("{v:.3} ms"));
        writeln!(
            f,
            "app: the default scene on {}, with and without the overlay in one run, {} frames each (medians)",
            self.adapter, self.frames
        )?;
        writeln!(
            f,
            "  GPU frame time  with overlay {}  without {}  ratio {}",
            ms(self.gpu_ms_overlay),
            ms(self.gpu_ms_bare),
            self.gpu_ms_overlay
                .zip(self.gpu_ms_bare)
                .map_or("n/a".into(), |(a, b)| format!("{:.2}x", a / b.max(1e-9)))
        )?;
        writeln!(
            f,
            "  overlay's own GPU scope {}  ({} of the frame; goal: at most 0.5 ms on a GPU, 5 % on lavapipe)",
            ms(self.overlay_gpu_ms),
            self.overlay_share
                .map_or("n/a".into(), |s| format!("{:.1} %", s * 100.0))
        )?;
        write!(
            f,
            "  CPU frame time  with overlay {:.3} ms  without {:.3} ms  ratio {:.2}x",
            self.cpu_ms_overlay,
            self.cpu_ms_bare,
            self.cpu_ms_overlay / self.cpu_ms_bare.max(1e-9)
        )
    }
}
