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
                    rows.push(
                        BenchRow::figure(
                            f,
                            format!("engine frame p50, work scale {scale}"),
                            p50,
                            "us",
                            Better::Lower,
                        )
                        .against("rayon scope + par_iter", rayon),
                    );
                    if let (Some(h), Some(rh)) =
                        (r.high_priority_p99_us, r.rayon_high_priority_p99_us)
                    {
                        rows.push(
                            BenchRow::figure(
                                f,
                                format!("critical-job start p99, work scale {scale}"),
                                h,
                                "us",
                                Better::Lower,
                            )
                            .against("rayon spawn start p99", rh),
                        );
                    }
                }
                _ => {
                    rows.push(
                        BenchRow::figure(
                            f,
                            format!("{} body {} ns", r.workload, r.body_ns),
                            r.tutti_ns_per_task,
                            "ns/task",
                            Better::Lower,
                        )
                        .against("plain rayon", r.rayon_ns_per_task),
                    );
                    if let Some(speedup) = r.speedup_vs_1_thread {
                        rows.push(
                            BenchRow::figure(
                                f,
                                format!("{} on {} threads", r.workload, r.threads),
                                r.tutti_ns_per_task,
                                "ns/task",
                                Better::Lower,
                            )
                            .against("tutti on 1 thread", r.tutti_ns_per_task * speedup),
                        );
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
            rows.push(
                BenchRow::figure(
                    f,
                    format!("pipelined on {}", first.adapter),
                    first.fps,
                    "frames/s",
                    Better::Higher,
                )
                .against("sequential loop", self.sequential_fps),
            );
        }
        let sum: f64 = self.pipelined_fps.iter().map(|a| a.fps).sum();
        rows.push(
            BenchRow::figure(
                f,
                format!("pipelined on all {} adapters", self.pipelined_fps.len()),
                self.all_fps,
                "frames/s",
                Better::Higher,
            )
            .against("sum of each adapter alone", sum),
        );
        rows
    }
}

impl BenchRows for LodBench {
    fn rows(&self) -> Vec<BenchRow> {
        let f = Family::Lod;
        let n = self.avatars;
        let mut rows = vec![
            BenchRow::figure(
                f,
                format!("{n} avatars 1080p automatic LOD"),
                self.lod.frame_ms,
                "ms",
                Better::Lower,
            )
            .against("level 0 forced", self.lod0.frame_ms),
            BenchRow::figure(
                f,
                format!("{n} avatars 4 targets in one frame"),
                self.multires.frame_ms,
                "ms",
                Better::Lower,
            )
            .against("1080p alone", self.lod.frame_ms),
            BenchRow::figure(
                f,
                format!("{n} avatars 1080p GPU animation"),
                self.lod_gpu_animation.frame_ms,
                "ms",
                Better::Lower,
            )
            .against("CPU animation", self.lod.frame_ms),
        ];
        for c in &self.cpu {
            rows.push(
                BenchRow::figure(
                    f,
                    format!("{} avatars frame graph animation", c.avatars),
                    c.animate_ms,
                    "ms",
                    Better::Lower,
                )
                .against("sequential animation", c.sequential_animate_ms),
            );
            rows.push(
                BenchRow::figure(
                    f,
                    format!("{} avatars CPU frame, GPU animation", c.avatars),
                    c.gpu_animation_frame_ms,
                    "ms",
                    Better::Lower,
                )
                .against("CPU frame, CPU animation", c.frame_ms),
            );
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
                BenchRow::figure(
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
                    v.views_per_s,
                    "views/s",
                    Better::Higher,
                )
                .against("one view per submit", v.baseline_views_per_s)
            })
            .collect();
        let d = &self.dispatch;
        rows.push(
            BenchRow::figure(
                f,
                format!("{} compute dispatches in one submit", d.dispatches),
                d.per_s,
                "dispatches/s",
                Better::Higher,
            )
            .against("one dispatch per submit", d.baseline_per_s),
        );
        let s = &self.skin;
        rows.push(
            BenchRow::figure(
                f,
                format!("compute skin pass, {} avatars", s.avatars),
                s.vertices_per_s / 1e6,
                "M vertices/s",
                Better::Higher,
            )
            .against(
                format!("CPU twin, {} threads", s.cpu_threads),
                s.cpu_vertices_per_s / 1e6,
            ),
        );
        let m = &self.multires;
        let sizes: Vec<String> = m.sizes.iter().map(|[w, h]| format!("{w}x{h}")).collect();
        rows.push(
            BenchRow::figure(
                f,
                format!("{} in one frame", sizes.join("+")),
                m.one_frame_ms,
                "ms",
                Better::Lower,
            )
            .against("each in its own frame, summed", m.separate_sum_ms),
        );
        if let Some(&largest) = m.separate_ms.first() {
            rows.push(
                BenchRow::figure(
                    f,
                    format!("{} in one frame", sizes.join("+")),
                    m.one_frame_ms,
                    "ms",
                    Better::Lower,
                )
                .against(format!("{} alone", sizes[0]), largest),
            );
        }
        rows
    }
}
