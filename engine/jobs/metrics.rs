//! Live executor counters. Each worker updates its own cache-padded shard of plain atomics, so
//! the hot path has no locks and no shared cache lines; a snapshot sums the shards and can be
//! taken at any time (for the overlay).

use crossbeam_utils::CachePadded;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Instant;

#[derive(Default)]
pub(crate) struct Counters {
    pub started: AtomicU64,
    pub completed: AtomicU64,
    pub failed: AtomicU64,
    pub timed_out: AtomicU64,
    pub cancelled: AtomicU64,
    pub retried: AtomicU64,
    pub busy_ns: AtomicU64,
    pub running: AtomicI64,
}

pub(crate) struct Metrics {
    shards: Box<[CachePadded<Counters>]>,
    pub submitted_runs: AtomicU64,
}

impl Metrics {
    pub fn new(workers: usize) -> Self {
        Self {
            shards: (0..=workers)
                .map(|_| CachePadded::new(Counters::default()))
                .collect(),
            submitted_runs: AtomicU64::new(0),
        }
    }

    /// This thread's shard (workers by pool index; every other thread shares the last one).
    #[inline]
    pub fn local(&self) -> &Counters {
        let last = self.shards.len() - 1;
        let i = rayon::current_thread_index().unwrap_or(last).min(last);
        &self.shards[i]
    }

    fn sum(&self, f: impl Fn(&Counters) -> u64) -> u64 {
        self.shards.iter().map(|c| f(c)).sum()
    }

    pub fn busy_ns(&self) -> u64 {
        self.sum(|c| c.busy_ns.load(Relaxed))
    }

    pub fn running(&self) -> usize {
        self.shards
            .iter()
            .map(|c| c.running.load(Relaxed))
            .sum::<i64>()
            .max(0) as usize
    }

    pub fn snapshot(
        &self,
        start: Instant,
        workers: usize,
        limit: usize,
        queued: [usize; 4],
    ) -> MetricsSnapshot {
        MetricsSnapshot {
            runs: self.submitted_runs.load(Relaxed),
            started: self.sum(|c| c.started.load(Relaxed)),
            completed: self.sum(|c| c.completed.load(Relaxed)),
            failed: self.sum(|c| c.failed.load(Relaxed)),
            timed_out: self.sum(|c| c.timed_out.load(Relaxed)),
            cancelled: self.sum(|c| c.cancelled.load(Relaxed)),
            retried: self.sum(|c| c.retried.load(Relaxed)),
            running: self.running(),
            queued,
            busy_s: self.busy_ns() as f64 * 1e-9,
            uptime_s: start.elapsed().as_secs_f64(),
            workers,
            in_flight_limit: limit,
        }
    }
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
    /// Current limit on jobs running at once (adaptive profile), else the worker count.
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
