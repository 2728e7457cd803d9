//! Each family's result as [`BenchRow`]s: one per figure, with its baseline from the same run.
//! The conversions live here, on the top floor, so that the families need not know this module.

use super::{BenchRow, Better, Family};
use crate::jobs::bench::JobsBench;
use crate::offscreen::bench::OffscreenBench;
use crate::render::bench::LodBench;
use crate::render::bench_gpu::GpuBench;

/// A benchmark result as summary rows.
pub trait BenchRows {
    /// One row per figure, each against its baseline from the same run.
    fn rows(&self) -> Vec<BenchRow>;
}

impl BenchRows for JobsBench {
    fn rows(&self) -> Vec<BenchRow> {
        let f = Family::Jobs;
        let mut rows = Vec::new();
        for r in &self.rows {
            match (r.frame_p50_us, r.rayon_frame_p50_us) {
                (Some(p50), Some(rayon)) => {
                    let scale = r.body_ns as f64 / 12_500.0;
                    rows.push(BenchRow::new(
                        f,
                        format!("engine frame p50, work scale {scale}"),
                        (p50, "us"),
                        ("rayon scope + par_iter", rayon),
                        Better::Lower,
                    ));
                    if let (Some(h), Some(rh)) =
                        (r.high_priority_p99_us, r.rayon_high_priority_p99_us)
                    {
                        rows.push(BenchRow::new(
                            f,
                            format!("critical-job start p99, work scale {scale}"),
                            (h, "us"),
                            ("rayon spawn start p99", rh),
                            Better::Lower,
                        ));
                    }
                }
                _ => {
                    rows.push(BenchRow::new(
                        f,
                        format!("{} body {} ns", r.workload, r.body_ns),
                        (r.tutti_ns_per_task, "ns/task"),
                        ("plain rayon", r.rayon_ns_per_task),
                        Better::Lower,
                    ));
                    if let Some(speedup) = r.speedup_vs_1_thread {
                        rows.push(BenchRow::new(
                            f,
                            format!("{} on {} threads", r.workload, r.threads),
                            (r.tutti_ns_per_task, "ns/task"),
                            ("tutti on 1 thread", r.tutti_ns_per_task * speedup),
                            Better::Lower,
                        ));
                    }
                }
            }
        }
        rows
    }
}

impl BenchRows for OffscreenBench {
    fn rows(&self) -> Vec<BenchRow> {
        let f = Family::Offscreen;
        let mut rows = Vec::new();
        if let Some(first) = self.pipelined_fps.first() {
            rows.push(BenchRow::new(
                f,
                format!("pipelined on {}", first.adapter),
                (first.fps, "frames/s"),
                ("sequential loop", self.sequential_fps),
                Better::Higher,
            ));
        }
        let sum: f64 = self.pipelined_fps.iter().map(|a| a.fps).sum();
        rows.push(BenchRow::new(
            f,
            format!("pipelined on all {} adapters", self.pipelined_fps.len()),
            (self.all_fps, "frames/s"),
            ("sum of each adapter alone", sum),
            Better::Higher,
        ));
        rows
    }
}

impl BenchRows for LodBench {
    fn rows(&self) -> Vec<BenchRow> {
        let f = Family::Lod;
        let n = self.avatars;
        let mut rows = vec![
            BenchRow::new(
                f,
                format!("{n} avatars 1080p automatic LOD"),
                (self.lod.frame_ms, "ms"),
                ("level 0 forced", self.lod0.frame_ms),
                Better::Lower,
            ),
            BenchRow::new(
                f,
                format!("{n} avatars 4 targets in one frame"),
                (self.multires.frame_ms, "ms"),
                ("1080p alone", self.lod.frame_ms),
                Better::Lower,
            ),
            BenchRow::new(
                f,
                format!("{n} avatars 1080p GPU animation"),
                (self.lod_gpu_animation.frame_ms, "ms"),
                ("CPU animation", self.lod.frame_ms),
                Better::Lower,
            ),
        ];
        for c in &self.cpu {
            rows.push(BenchRow::new(
                f,
                format!("{} avatars frame graph animation", c.avatars),
                (c.animate_ms, "ms"),
                ("sequential animation", c.sequential_animate_ms),
                Better::Lower,
            ));
            rows.push(BenchRow::new(
                f,
                format!("{} avatars CPU frame, GPU animation", c.avatars),
                (c.gpu_animation_frame_ms, "ms"),
                ("CPU frame, CPU animation", c.frame_ms),
                Better::Lower,
            ));
        }
        rows
    }
}

impl BenchRows for GpuBench {
    fn rows(&self) -> Vec<BenchRow> {
        let f = Family::Gpu;
        let mut rows: Vec<BenchRow> = self
            .views
            .iter()
            .map(|v| {
                BenchRow::new(
                    f,
                    format!(
                        "{}x{} {} views/submit {}",
                        v.size,
                        v.size,
                        v.views_per_submit,
                        if v.readback {
                            "with readback"
                        } else {
                            "no readback"
                        }
                    ),
                    (v.views_per_s, "views/s"),
                    ("one view per submit", v.baseline_views_per_s),
                    Better::Higher,
                )
            })
            .collect();
        let d = &self.dispatch;
        rows.push(BenchRow::new(
            f,
            format!("{} compute dispatches in one submit", d.dispatches),
            (d.per_s, "dispatches/s"),
            ("one dispatch per submit", d.baseline_per_s),
            Better::Higher,
        ));
        let s = &self.skin;
        rows.push(BenchRow::new(
            f,
            format!("compute skin pass, {} avatars", s.avatars),
            (s.vertices_per_s / 1e6, "M vertices/s"),
            (
                format!("CPU twin, {} threads", s.cpu_threads),
                s.cpu_vertices_per_s / 1e6,
            ),
            Better::Higher,
        ));
        let m = &self.multires;
        let sizes: Vec<String> = m.sizes.iter().map(|[w, h]| format!("{w}x{h}")).collect();
        rows.push(BenchRow::new(
            f,
            format!("{} in one frame", sizes.join("+")),
            (m.one_frame_ms, "ms"),
            ("each in its own frame, summed", m.separate_sum_ms),
            Better::Lower,
        ));
        if let Some(&largest) = m.separate_ms.first() {
            rows.push(BenchRow::new(
                f,
                format!("{} in one frame", sizes.join("+")),
                (m.one_frame_ms, "ms"),
                (format!("{} alone", sizes[0]), largest),
                Better::Lower,
            ));
        }
        rows
    }
}
