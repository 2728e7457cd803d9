//! Per-pass GPU times for the overlay, through `wgpu-profiler`: each group of passes the
//! scene records gets a timestamp scope ([`PassScopes`]), the overlay gets its own, and the
//! results are read back several frames later from buffers the profiler maps asynchronously,
//! so timing never stalls the GPU. Frames whose results are not back when the ring of pending
//! frames is full are dropped by the profiler, not waited for.
//!
//! `wgpu-profiler` rather than the hand-written [`crate::gpu::GpuTimer`]: the timer measures one
//! span and reads it back blocking (right for benchmarks); the overlay needs many labelled
//! scopes per frame, read without blocking, which is what the profiler does.

use crate::gpu::GpuContext;
use crate::render::{PassScopes, RenderError, ScopeBody};
use std::collections::BTreeMap;
use wgpu_profiler::{GpuProfiler, GpuProfilerSettings, GpuTimerQueryResult};

/// Frames averaged in the per-pass figures.
const AVERAGE_OVER: usize = 30;

/// Why a window has no GPU times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    /// The adapter lacks `TIMESTAMP_QUERY` / `TIMESTAMP_QUERY_INSIDE_ENCODERS`.
    NoTimestamps(String),
    /// The profiler could not be created.
    Failed(String),
}

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoTimestamps(adapter) => write!(
                f,
                "{adapter} has no timestamp queries between passes: GPU times are not available"
            ),
            Self::Failed(e) => write!(f, "GPU timing is off: {e}"),
        }
    }
}

/// One window's GPU scopes and their recent results.
pub struct GpuScopes {
    profiler: Option<GpuProfiler>,
    unavailable: Option<Unavailable>,
    period: f32,
    /// Per scope label, its last [`AVERAGE_OVER`] times in ms (labels in first-seen order).
    history: BTreeMap<String, (usize, Vec<f64>)>,
    /// GPU time of the newest finished frame, ms: first scope start to last scope end.
    last_frame_ms: Option<f64>,
    /// Every finished frame's (GPU frame ms, overlay scope ms), when recording (benchmarks).
    samples: Option<Vec<(f64, Option<f64>)>>,
}

impl GpuScopes {
    /// Scopes on `ctx`'s device, or none (with the reason) when it cannot time passes.
    pub fn new(ctx: &GpuContext) -> Self {
        let needed =
            wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS;
        let (profiler, unavailable) = if !ctx.device.features().contains(needed) {
            (None, Some(Unavailable::NoTimestamps(ctx.label.clone())))
        } else {
            let settings = GpuProfilerSettings {
                enable_timer_queries: true,
                enable_debug_groups: false,
                max_num_pending_frames: 4,
            };
            match GpuProfiler::new(&ctx.device, settings) {
                Ok(p) => (Some(p), None),
                Err(e) => (None, Some(Unavailable::Failed(e.to_string()))),
            }
        };
        Self {
            profiler,
            unavailable,
            period: ctx.queue.get_timestamp_period(),
            history: BTreeMap::new(),
            last_frame_ms: None,
            samples: None,
        }
    }

    /// Keep every finished frame's GPU time and overlay time ([`Self::samples`]).
    pub fn record_samples(&mut self) {
        self.samples.get_or_insert_with(Vec::new);
    }

    /// Every finished frame's (GPU frame ms, overlay scope ms) since [`Self::record_samples`].
    pub fn samples(&self) -> &[(f64, Option<f64>)] {
        self.samples.as_deref().unwrap_or(&[])
    }

    /// Why there are no GPU times, if there are none.
    pub fn unavailable(&self) -> Option<&Unavailable> {
        self.unavailable.as_ref()
    }

    /// The scopes to hand the renderer (none when timing is unavailable).
    pub fn scopes(&self) -> Option<&dyn PassScopes> {
        self.profiler.as_ref().map(|p| p as &dyn PassScopes)
    }

    /// Resolve this frame's queries into `encoder` (the last one submitted this frame).
    pub fn resolve(&mut self, encoder: &mut wgpu::CommandEncoder) {
        if let Some(p) = &mut self.profiler {
            p.resolve_queries(encoder);
        }
    }

    /// End the frame (after its submission) and take in every frame whose results are back.
    pub fn end_frame(&mut self) {
        let Some(p) = &mut self.profiler else {
            return;
        };
        if let Err(e) = p.end_frame() {
            tracing::warn!("GPU timing frame dropped: {e}");
        }
        while let Some(results) = p.process_finished_frame(self.period) {
            let mut span: Option<(f64, f64)> = None;
            for r in &results {
                collect(r, &mut self.history, &mut span);
            }
            if let Some((a, b)) = span {
                let ms = (b - a) * 1e3;
                self.last_frame_ms = Some(ms);
                if let Some(samples) = &mut self.samples {
                    let overlay = results
                        .iter()
                        .find(|r| r.label == "overlay")
                        .and_then(|r| r.time.as_ref())
                        .map(|t| (t.end - t.start) * 1e3);
                    samples.push((ms, overlay));
                }
            }
        }
    }

    /// GPU time of the newest frame whose results are back, ms.
    pub fn frame_ms(&self) -> Option<f64> {
        self.last_frame_ms
    }

    /// Per scope (in first-seen order), its mean time over the last frames, ms.
    pub fn passes(&self) -> Vec<(String, f64)> {
        let mut v: Vec<(usize, String, f64)> = self
            .history
            .iter()
            .map(|(label, (order, times))| (*order, label.clone(), mean(times)))
            .collect();
        v.sort_by_key(|x| x.0);
        v.into_iter().map(|(_, l, ms)| (l, ms)).collect()
    }

    /// Mean time of one scope over the last frames, ms.
    pub fn pass_ms(&self, label: &str) -> Option<f64> {
        self.history.get(label).map(|(_, t)| mean(t))
    }
}

fn mean(times: &[f64]) -> f64 {
    times.iter().sum::<f64>() / times.len().max(1) as f64
}

fn collect(
    r: &GpuTimerQueryResult,
    history: &mut BTreeMap<String, (usize, Vec<f64>)>,
    span: &mut Option<(f64, f64)>,
) {
    if let Some(t) = &r.time {
        let next = history.len();
        let (_, times) = history
            .entry(r.label.clone())
            .or_insert_with(|| (next, Vec::new()));
        if times.len() == AVERAGE_OVER {
            times.remove(0);
        }
        times.push((t.end - t.start) * 1e3);
        *span = Some(match *span {
            Some((a, b)) => (a.min(t.start), b.max(t.end)),
            None => (t.start, t.end),
        });
    }
    for n in &r.nested_queries {
        collect(n, history, span);
    }
}

impl PassScopes for GpuProfiler {
    fn scope(
        &self,
        label: &str,
        encoder: &mut wgpu::CommandEncoder,
        body: &mut ScopeBody<'_>,
    ) -> Result<(), RenderError> {
        let query = self.begin_query(label, encoder);
        let result = body(encoder);
        self.end_query(encoder, query);
        result
    }
}
