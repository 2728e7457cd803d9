//! One metrics model for every way tutti renders: frames delivered and failed per adapter,
//! summed time per stage per adapter, queue depths, retired adapters, and the job executor's
//! live counters, in one [`Telemetry`] shared by whoever produces them (the offscreen scheduler,
//! the desktop app) and read by whoever shows them (the app's overlay, the Prometheus export in
//! [`prometheus`]).
//!
//! Producers call [`Telemetry::record_frame`] (a delivered frame with its stage times),
//! [`Telemetry::add_stage_times`] (stage time of work that is not a whole frame),
//! [`Telemetry::frame_failed`], [`Telemetry::set_queue_depth`] / [`Telemetry::add_queue_depth`]
//! and [`Telemetry::retire`]; readers call [`Telemetry::snapshot`]. Adapters are named by their
//! label (`GpuContext::label`) and listed in the order they were first seen.
//!
//! Floor 1 (`jobs`, `gpu`) is all this module uses: it knows nothing of scenes, rendering or
//! batches.

pub mod prometheus;

pub use prometheus::{MetricsServer, encode_text, serve_prometheus};

use crate::jobs::{Executor, MetricsSnapshot};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// Live metrics of a run, shared as `Arc<Telemetry>` (it is `Send + Sync`).
///
/// Cost of an update: a read lock on the adapter table (a write lock only the first time an
/// adapter is seen) and the lock of that adapter's own record, held for a few additions. Threads
/// updating different adapters do not contend; nothing allocates after an adapter's stages and
/// queues have been seen once. Meant for per-frame updates (thousands per second), not per job:
/// the job system keeps its own lock-free counters ([`crate::jobs::MetricsSnapshot`]), read when
/// a snapshot is taken.
#[derive(Debug)]
pub struct Telemetry {
    started: Instant,
    adapters: RwLock<Vec<Arc<AdapterCell>>>,
    executor: RwLock<Option<Executor>>,
}

impl Default for Telemetry {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Debug)]
struct AdapterCell {
    name: String,
    state: Mutex<AdapterTelemetry>,
}

impl Telemetry {
    /// Empty telemetry; its uptime starts now.
    pub fn new() -> Self {
        Self {
            started: Instant::now(),
            adapters: RwLock::default(),
            executor: RwLock::default(),
        }
    }

    /// Read the counters of `executor` into every snapshot from now on (replacing any executor
    /// attached before).
    pub fn attach_executor(&self, executor: Executor) {
        *self.executor.write().unwrap_or_else(|e| e.into_inner()) = Some(executor);
    }

    /// The record of `adapter`, created (with zero counts) the first time.
    fn cell(&self, adapter: &str) -> Arc<AdapterCell> {
        {
            let list = self.adapters.read().unwrap_or_else(|e| e.into_inner());
            if let Some(c) = list.iter().find(|c| c.name == adapter) {
                return c.clone();
            }
        }
        let mut list = self.adapters.write().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = list.iter().find(|c| c.name == adapter) {
            return c.clone();
        }
        let cell = Arc::new(AdapterCell {
            name: adapter.to_string(),
            state: Mutex::new(AdapterTelemetry {
                adapter: adapter.to_string(),
                ..Default::default()
            }),
        });
        list.push(cell.clone());
        cell
    }

    fn update(&self, adapter: &str, f: impl FnOnce(&mut AdapterTelemetry)) {
        let cell = self.cell(adapter);
        f(&mut cell.state.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// List `adapter` with zero counts, so that it shows from the start of a run (in the order
    /// of these calls) before its first frame.
    pub fn register_adapter(&self, adapter: &str) {
        self.cell(adapter);
    }

    /// One frame delivered by `adapter`, with the time it spent in each stage (`("render",
    /// 4 ms)`, or the app's `("cpu_frame", ..)` and `("gpu_frame", ..)`; a stage given twice
    /// counts twice). Stage times add to the adapter's totals.
    pub fn record_frame(&self, adapter: &str, stage_times: &[(&str, Duration)]) {
        self.update(adapter, |a| {
            a.frames_delivered += 1;
            a.add_stages(stage_times);
        });
    }

    /// Stage time spent by `adapter` on work that is not counted as a frame here (the parts of
    /// a frame that are timed before it is delivered, say).
    pub fn add_stage_times(&self, adapter: &str, stage_times: &[(&str, Duration)]) {
        self.update(adapter, |a| a.add_stages(stage_times));
    }

    /// One frame delivered by `adapter` whose stage times were given with
    /// [`Self::add_stage_times`].
    pub fn frame_delivered(&self, adapter: &str) {
        self.update(adapter, |a| a.frames_delivered += 1);
    }

    /// One frame that `adapter` failed to deliver.
    pub fn frame_failed(&self, adapter: &str) {
        self.update(adapter, |a| a.frames_failed += 1);
    }

    /// Set the depth of one of `adapter`'s queues (`"frames_in_flight"`, say).
    pub fn set_queue_depth(&self, adapter: &str, queue: &str, depth: i64) {
        self.update(adapter, |a| *a.queue_mut(queue) = depth);
    }

    /// Change the depth of one of `adapter`'s queues by `delta` (+1 when an item enters, -1
    /// when it leaves).
    pub fn add_queue_depth(&self, adapter: &str, queue: &str, delta: i64) {
        self.update(adapter, |a| *a.queue_mut(queue) += delta);
    }

    /// `adapter` was retired (it failed and left service) for `reason`.
    pub fn retire(&self, adapter: &str, reason: &str) {
        self.update(adapter, |a| a.retired = Some(reason.to_string()));
    }

    /// Everything now, with the attached executor's counters read at this moment. Counters are
    /// read one adapter at a time: a snapshot is not a consistent cut across adapters.
    pub fn snapshot(&self) -> TelemetrySnapshot {
        let cells: Vec<Arc<AdapterCell>> = self
            .adapters
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        TelemetrySnapshot {
            uptime_s: self.started.elapsed().as_secs_f64(),
            adapters: cells
                .iter()
                .map(|c| c.state.lock().unwrap_or_else(|e| e.into_inner()).clone())
                .collect(),
            jobs: self
                .executor
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
                .map(Executor::metrics),
        }
    }
}

/// What one [`Telemetry::snapshot`] saw.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct TelemetrySnapshot {
    /// Seconds since the telemetry was created.
    pub uptime_s: f64,
    /// Per adapter, in the order first seen.
    pub adapters: Vec<AdapterTelemetry>,
    /// The attached executor's counters ([`Telemetry::attach_executor`]), if any.
    pub jobs: Option<MetricsSnapshot>,
}

impl TelemetrySnapshot {
    /// Frames delivered by every adapter together.
    pub fn frames_delivered(&self) -> u64 {
        self.adapters.iter().map(|a| a.frames_delivered).sum()
    }

    /// The adapter named `adapter`, if seen.
    pub fn adapter(&self, adapter: &str) -> Option<&AdapterTelemetry> {
        self.adapters.iter().find(|a| a.adapter == adapter)
    }
}

/// One adapter's figures in a [`TelemetrySnapshot`].
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct AdapterTelemetry {
    /// Adapter label.
    pub adapter: String,
    /// Frames delivered.
    pub frames_delivered: u64,
    /// Frames that failed.
    pub frames_failed: u64,
    /// Summed time per stage, in the order the stages were first seen.
    pub stages: Vec<StageTotal>,
    /// Queue depths, in the order the queues were first seen.
    pub queues: Vec<QueueDepth>,
    /// Why the adapter was retired, if it was.
    pub retired: Option<String>,
}

impl AdapterTelemetry {
    fn add_stages(&mut self, stage_times: &[(&str, Duration)]) {
        for &(stage, t) in stage_times {
            let s = match self.stages.iter_mut().position(|s| s.stage == stage) {
                Some(i) => &mut self.stages[i],
                None => {
                    self.stages.push(StageTotal {
                        stage: stage.to_string(),
                        seconds: 0.0,
                    });
                    self.stages.last_mut().expect("just pushed")
                }
            };
            s.seconds += t.as_secs_f64();
        }
    }

    fn queue_mut(&mut self, queue: &str) -> &mut i64 {
        let i = match self.queues.iter().position(|q| q.queue == queue) {
            Some(i) => i,
            None => {
                self.queues.push(QueueDepth {
                    queue: queue.to_string(),
                    depth: 0,
                });
                self.queues.len() - 1
            }
        };
        &mut self.queues[i].depth
    }

    /// Summed seconds of `stage` (0 if never seen).
    pub fn stage_seconds(&self, stage: &str) -> f64 {
        self.stages
            .iter()
            .find(|s| s.stage == stage)
            .map_or(0.0, |s| s.seconds)
    }

    /// Depth of `queue` (0 if never set).
    pub fn queue_depth(&self, queue: &str) -> i64 {
        self.queues
            .iter()
            .find(|q| q.queue == queue)
            .map_or(0, |q| q.depth)
    }
}

/// Summed time of one stage.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StageTotal {
    /// Stage name (`animate`, `render`, `readback`, `encode`, `write`; the app's own).
    pub stage: String,
    /// Summed time, seconds.
    pub seconds: f64,
}

/// The depth of one queue.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct QueueDepth {
    /// Queue name (`frames_in_flight`, `pending_writes`).
    pub queue: String,
    /// Items in it.
    pub depth: i64,
}

/// Why the metrics could not be served.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TelemetryError {
    /// The address could not be bound.
    #[error(
        "cannot serve metrics on {addr}: {source}; the port may be in use or not allowed: pass another --metrics-addr, e.g. 127.0.0.1:9465"
    )]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The HTTP server or its thread could not be started.
    #[error("cannot start the metrics server on {addr}: {reason}")]
    Server {
        /// The address asked for.
        addr: SocketAddr,
        /// What failed.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn updates_from_many_threads_all_count() {
        let t = Arc::new(Telemetry::new());
        t.register_adapter("b");
        let threads: Vec<_> = (0..4)
            .map(|i| {
                let t = t.clone();
                std::thread::spawn(move || {
                    let adapter = if i % 2 == 0 { "a" } else { "b" };
                    for _ in 0..1000 {
                        t.record_frame(adapter, &[("render", ms(1)), ("readback", ms(2))]);
                        t.add_queue_depth(adapter, "frames_in_flight", 1);
                        t.add_queue_depth(adapter, "frames_in_flight", -1);
                    }
                    t.frame_failed(adapter);
                })
            })
            .collect();
        for th in threads {
            th.join().expect("thread");
        }
        let s = t.snapshot();
        // "b" was registered first, so it is listed first.
        let names: Vec<&str> = s.adapters.iter().map(|a| a.adapter.as_str()).collect();
        assert_eq!(names, ["b", "a"]);
        assert_eq!(s.frames_delivered(), 4000);
        let a = s.adapter("a").expect("a");
        assert_eq!((a.frames_delivered, a.frames_failed), (2000, 2));
        assert!((a.stage_seconds("render") - 2.0).abs() < 1e-9);
        assert!((a.stage_seconds("readback") - 4.0).abs() < 1e-9);
        assert_eq!(a.stage_seconds("encode"), 0.0);
        assert_eq!(a.queue_depth("frames_in_flight"), 0);
        assert!(s.jobs.is_none());
    }

    #[test]
    fn stage_times_queues_retirement_and_the_executor_reach_the_snapshot() {
        let t = Telemetry::new();
        t.add_stage_times("gpu0", &[("animate", ms(3))]);
        t.add_stage_times("gpu0", &[("animate", ms(4)), ("render", ms(5))]);
        t.frame_delivered("gpu0");
        t.set_queue_depth("gpu0", "pending_writes", 7);
        t.add_queue_depth("gpu0", "pending_writes", -2);
        t.retire("gpu0", "device lost");
        let exec = Executor::with_workers(1).expect("executor");
        t.attach_executor(exec.clone());
        let s = t.snapshot();
        let a = &s.adapters[0];
        assert_eq!(a.frames_delivered, 1);
        assert_eq!(
            a.stages
                .iter()
                .map(|s| s.stage.as_str())
                .collect::<Vec<_>>(),
            ["animate", "render"]
        );
        assert!((a.stage_seconds("animate") - 0.007).abs() < 1e-9);
        assert_eq!(a.queue_depth("pending_writes"), 5);
        assert_eq!(a.retired.as_deref(), Some("device lost"));
        let jobs = s.jobs.as_ref().expect("executor attached");
        assert_eq!(jobs.workers, 1);
        let json = serde_json::to_value(&s).expect("json");
        assert_eq!(json["adapters"][0]["retired"], "device lost");
        assert_eq!(json["jobs"]["profile"], "performance");
    }
}
