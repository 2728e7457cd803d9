//! Live executor counters: plain atomics, readable at any time (for the overlay) without locks.

use super::Priority;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

#[derive(Default)]
pub(crate) struct Metrics {
    pub submitted_runs: AtomicU64,
    pub started: AtomicU64,
    pub completed: AtomicU64,
    pub failed: AtomicU64,
    pub timed_out: AtomicU64,
    pub cancelled: AtomicU64,
    pub retried: AtomicU64,
    pub busy_ns: AtomicU64,
    pub running: AtomicUsize,
    pub queued: [AtomicUsize; 4],
}

/// A snapshot of the executor's counters.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct MetricsSnapshot {
    /// Runs submitted.
    pub runs: u64,
    /// Job attempts started.
    pub started: u64,
    /// Jobs that succeeded.
    pub completed: u64,
    /// Jobs that failed for good.
    pub failed: u64,
    /// Jobs that timed out.
    pub timed_out: u64,
    /// Jobs cancelled.
    pub cancelled: u64,
    /// Retries scheduled.
    pub retried: u64,
    /// Jobs running now.
    pub running: usize,
    /// Ready jobs waiting, per priority (background, normal, high, critical).
    pub queued: [usize; 4],
    /// Summed job run time, seconds.
    pub busy_s: f64,
    /// Seconds since the executor started.
    pub uptime_s: f64,
    /// Workers.
    pub workers: usize,
    /// Current concurrency limit (adaptive profile) or the worker count.
    pub in_flight_limit: usize,
}

impl MetricsSnapshot {
    /// Worker utilisation since start: busy time over (uptime x workers).
    pub fn utilisation(&self) -> f64 {
        self.busy_s / (self.uptime_s * self.workers.max(1) as f64).max(1e-9)
    }

    /// Jobs completed per second since start.
    pub fn jobs_per_sec(&self) -> f64 {
        self.completed as f64 / self.uptime_s.max(1e-9)
    }
}

impl Metrics {
    pub fn snapshot(&self, start: Instant, workers: usize, limit: usize) -> MetricsSnapshot {
        MetricsSnapshot {
            runs: self.submitted_runs.load(Relaxed),
            started: self.started.load(Relaxed),
            completed: self.completed.load(Relaxed),
            failed: self.failed.load(Relaxed),
            timed_out: self.timed_out.load(Relaxed),
            cancelled: self.cancelled.load(Relaxed),
            retried: self.retried.load(Relaxed),
            running: self.running.load(Relaxed),
            queued: std::array::from_fn(|i| self.queued[i].load(Relaxed)),
            busy_s: self.busy_ns.load(Relaxed) as f64 * 1e-9,
            uptime_s: start.elapsed().as_secs_f64(),
            workers,
            in_flight_limit: limit,
        }
    }

    pub fn queued_total(&self) -> usize {
        Priority::ALL.iter().map(|p| self.queued[*p as usize].load(Relaxed)).sum()
    }
}
