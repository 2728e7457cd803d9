//! `tutti bench offscreen`: the same batch three ways in one run: a naive sequential loop on one
//! adapter, the pipelined scheduler on each adapter alone, and the scheduler on all adapters.

use super::{
    Compression, OffscreenOptions, render_offscreen, report::bottleneck, write_png_atomic,
};
use crate::gpu::GpuContext;
use crate::render::{FrameRenderer, SceneRenderer};
use crate::scene::LoadedScene;
use serde::Serialize;
use std::time::Instant;

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
    pub pipelined_fps: Vec<(String, f64)>,
    /// The pipelined scheduler on all adapters together.
    pub all_fps: f64,
    /// Pipelined (same adapter as the baseline) over sequential.
    pub ratio: f64,
    /// All together over the sum of each alone.
    pub scaling_efficiency: f64,
    /// Bottleneck stage of the pipelined single-adapter run, and its utilisation.
    pub bottleneck: (String, f64),
}

/// Run the benchmark on `devices` (the first one is the sequential baseline's adapter).
pub fn run(
    devices: &[GpuContext],
    scene: &LoadedScene,
    frames: u32,
    compression: Compression,
) -> Result<OffscreenBench, String> {
    let first = devices.first().ok_or("no device")?;
    let tmp = std::env::temp_dir().join(format!("tutti-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let range = (0, frames);

    // Sequential baseline.
    let world = scene.world();
    let renderer = FrameRenderer::new(first);
    let sr = SceneRenderer::new(first, &renderer, &world).map_err(|e| e.to_string())?;
    let dir = tmp.join("sequential");
    let t0 = Instant::now();
    for f in range.0..range.1 {
        let images = sr
            .render(first, &renderer, &world.animate(world.frame_time(f)))
            .map_err(|e| e.to_string())?;
        for img in images {
            let path = super::frame_path(&dir, &world.desc.name, &img.name, f);
            write_png_atomic(&path, img.width, img.height, &img.rgba).map_err(|e| e.to_string())?;
        }
    }
    let sequential_fps = f64::from(frames) / t0.elapsed().as_secs_f64();

    let run = |subset: &[GpuContext], name: &str| -> Result<super::OffscreenReport, String> {
        let opts = OffscreenOptions {
            out_dir: tmp.join(name),
            frames: Some(range),
            compression,
            ..Default::default()
        };
        let r = render_offscreen(subset, std::slice::from_ref(scene), &opts)
            .map_err(|e| e.to_string())?;
        if let Some(f) = r.failures.first() {
            return Err(f.to_string());
        }
        Ok(r)
    };
    let mut pipelined_fps = Vec::new();
    let mut first_bottleneck = ("none".to_string(), 0.0);
    for (i, d) in devices.iter().enumerate() {
        let r = run(std::slice::from_ref(d), &format!("alone-{i}"))?;
        if i == 0 {
            let (name, u) = bottleneck(&r);
            first_bottleneck = (name.to_string(), u);
        }
        pipelined_fps.push((d.label.clone(), r.frames() as f64 / r.wall_s));
    }
    let all = run(devices, "all")?;
    let all_fps = all.frames() as f64 / all.wall_s;
    let _ = std::fs::remove_dir_all(&tmp);
    let sum: f64 = pipelined_fps.iter().map(|(_, f)| f).sum();
    Ok(OffscreenBench {
        frames,
        sequential_adapter: first.label.clone(),
        sequential_fps,
        ratio: pipelined_fps[0].1 / sequential_fps,
        pipelined_fps,
        all_fps,
        scaling_efficiency: all_fps / sum,
        bottleneck: first_bottleneck,
    })
}
