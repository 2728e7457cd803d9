//! `tutti bench offscreen`: the same batch three ways in one run: a naive sequential loop on one
//! adapter, the pipelined scheduler on each adapter alone, and the scheduler on all adapters.

use super::{
    Compression, Failure, OffscreenError, OffscreenOptions, WriteError, render_offscreen,
    report::bottleneck, write_png_atomic,
};
use crate::gpu::GpuContext;
use crate::render::{Pipelines, RenderError, SceneRenderer};
use crate::scene::LoadedScene;
use serde::Serialize;
use std::time::Instant;

/// Errors of the offscreen benchmark.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OffscreenBenchError {
    /// No device was given.
    #[error("no device to benchmark; check `tutti adapters`")]
    NoDevice,
    /// The sequential baseline failed to render.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The sequential baseline failed to write a frame.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// The scheduler refused to start.
    #[error(transparent)]
    Offscreen(#[from] OffscreenError),
    /// The scheduler ran but a frame failed.
    #[error("{0}")]
    Frame(Box<Failure>),
}

/// Frames per second of one adapter.
#[derive(Debug, Clone, Serialize)]
pub struct AdapterFps {
    /// Adapter label.
    pub adapter: String,
    /// Frames per second.
    pub fps: f64,
}

/// The busiest stage of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Bottleneck {
    /// Stage name (`render`, `readback`, `encode`, `write`, ...).
    pub stage: String,
    /// Fraction of the run it was busy (0..1).
    pub utilisation: f64,
}

/// Results of the offscreen benchmark.
#[derive(Debug, Clone, Serialize)]
pub struct OffscreenBench {
    /// Frames rendered in each configuration.
    pub frames: u32,
    /// Adapter used by the sequential baseline.
    pub sequential_adapter: String,
    /// Naive loop: render, wait, read back, encode, write, one frame at a time.
    pub sequential_fps: f64,
    /// The pipelined scheduler on each adapter alone.
    pub pipelined_fps: Vec<AdapterFps>,
    /// The pipelined scheduler on all adapters together.
    pub all_fps: f64,
    /// Pipelined (same adapter as the baseline) over sequential.
    pub ratio: f64,
    /// All together over the sum of each alone.
    pub scaling_efficiency: f64,
    /// Bottleneck stage of the pipelined single-adapter run, and its utilisation.
    pub bottleneck: Bottleneck,
}

/// Run the benchmark on `devices` (the first one is the sequential baseline's adapter).
pub fn run(
    devices: &[GpuContext],
    scene: &LoadedScene,
    frames: u32,
    compression: Compression,
) -> Result<OffscreenBench, OffscreenBenchError> {
    let first = devices.first().ok_or(OffscreenBenchError::NoDevice)?;
    let tmp = std::env::temp_dir().join(format!("tutti-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let range = (0, frames);

    // Sequential baseline.
    let world = scene.world();
    let renderer = Pipelines::new(first);
    let sr = SceneRenderer::new(first, &renderer, &world)?;
    let dir = tmp.join("sequential");
    let t0 = Instant::now();
    for f in range.0..range.1 {
        let images = sr.render(first, &renderer, &world.animate(world.frame_time(f)))?;
        for img in images {
            let path = super::frame_path(&dir, &world.desc.name, &img.name, f);
            write_png_atomic(&path, img.width, img.height, &img.rgba)?;
        }
    }
    let sequential_fps = f64::from(frames) / t0.elapsed().as_secs_f64();

    let run = |subset: &[GpuContext],
               name: &str|
     -> Result<super::OffscreenReport, OffscreenBenchError> {
        let opts = OffscreenOptions {
            out_dir: tmp.join(name),
            frames: Some(range),
            compression,
            ..Default::default()
        };
        let r = render_offscreen(subset, std::slice::from_ref(scene), &opts)?;
        if let Some(f) = r.failures.first() {
            return Err(OffscreenBenchError::Frame(Box::new(f.clone())));
        }
        Ok(r)
    };
    let mut pipelined_fps = Vec::new();
    let mut first_bottleneck = Bottleneck {
        stage: "none".to_string(),
        utilisation: 0.0,
    };
    for (i, d) in devices.iter().enumerate() {
        let r = run(std::slice::from_ref(d), &format!("alone-{i}"))?;
        if i == 0 {
            let b = bottleneck(&r);
            first_bottleneck = Bottleneck {
                stage: b.stage.to_string(),
                utilisation: b.utilisation,
            };
        }
        pipelined_fps.push(AdapterFps {
            adapter: d.label.clone(),
            fps: r.frames() as f64 / r.wall_s,
        });
    }
    let all = run(devices, "all")?;
    let all_fps = all.frames() as f64 / all.wall_s;
    let _ = std::fs::remove_dir_all(&tmp);
    let sum: f64 = pipelined_fps.iter().map(|a| a.fps).sum();
    Ok(OffscreenBench {
        frames,
        sequential_adapter: first.label.clone(),
        sequential_fps,
        ratio: pipelined_fps[0].fps / sequential_fps,
        pipelined_fps,
        all_fps,
        scaling_efficiency: all_fps / sum,
        bottleneck: first_bottleneck,
    })
}

impl OffscreenBench {
    /// The figures as JSON (`tutti bench offscreen --json`).
    pub fn to_json(&self) -> serde_json::Value {
        let pipelined: serde_json::Map<String, serde_json::Value> = self
            .pipelined_fps
            .iter()
            .map(|a| (a.adapter.clone(), serde_json::json!(a.fps)))
            .collect();
        serde_json::json!({
            "frames": self.frames,
            "sequential_adapter": self.sequential_adapter,
            "sequential_fps": self.sequential_fps,
            "pipelined_fps": pipelined,
            "all_fps": self.all_fps,
            "ratio": self.ratio,
            "scaling_efficiency": self.scaling_efficiency,
            "bottleneck_stage": self.bottleneck.stage,
            "bottleneck_utilisation": self.bottleneck.utilisation,
        })
    }
}

impl std::fmt::Display for OffscreenBench {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "offscreen batch: default scene, {} frames x 2 targets",
            self.frames
        )?;
        writeln!(
            f,
            "  sequential loop on {}: {:.1} frames/s",
            self.sequential_adapter, self.sequential_fps
        )?;
        for a in &self.pipelined_fps {
            writeln!(
                f,
                "  pipelined on {} alone: {:.1} frames/s",
                a.adapter, a.fps
            )?;
        }
        writeln!(
            f,
            "  pipelined on all adapters: {:.1} frames/s",
            self.all_fps
        )?;
        writeln!(f, "  pipelined / sequential: {:.2}x", self.ratio)?;
        writeln!(
            f,
            "  scaling efficiency (all / sum of each alone): {:.2}",
            self.scaling_efficiency
        )?;
        write!(
            f,
            "  bottleneck (pipelined, first adapter): {} at {:.0}% utilisation",
            self.bottleneck.stage,
            100.0 * self.bottleneck.utilisation
        )
    }
}
