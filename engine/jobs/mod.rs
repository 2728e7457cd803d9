//! The CPU job system: a priority DAG executor on a rayon thread pool.
//!
//! - [`GraphBuilder`] / [`JobGraph`]: named jobs with a [`Priority`], a [`JobPolicy`] (retries
//!   with exponential backoff and jitter, timeout) and dependency edges; cycles are rejected at
//!   build time with the jobs on the cycle named. A graph is built once and run many times.
//! - [`Executor`]: runs graphs on a rayon pool sized by a [`Profile`]. Ready jobs wait in one
//!   lock-free queue per priority; every rayon task pops the best ready job when it starts, so a
//!   ready higher-priority job always starts before ready lower-priority ones.
//! - [`RunHandle`]: cancel a run, raise a job's priority, wait for the [`RunReport`].
//! - [`pipeline`] and [`batch`]: multi-stage pipelines with bounded queues, and a batcher.
//!
//! See `engine/jobs/README.md` for the rules (blocking waits, adaptive profile).

pub mod batch;
pub mod bench;
mod executor;
mod graph;
mod metrics;
pub mod pipeline;
mod profile;
mod timer;

pub use executor::{CancelToken, Executor, JobContext, RunHandle};
pub use graph::{GraphBuilder, GraphError, JobFn, JobGraph, JobId};
pub use metrics::MetricsSnapshot;
pub use profile::{ExecutorConfig, ExecutorError, MAX_WORKERS, Profile, parse_workers};

use std::time::Duration;

/// Job priority; higher runs first among ready jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Whatever is left over.
    Background = 0,
    /// The default.
    Normal = 1,
    /// Frame-critical work.
    High = 2,
    /// Must start as soon as a worker is free.
    Critical = 3,
}

impl Priority {
    /// All levels, lowest first.
    pub const ALL: [Priority; 4] = [
        Priority::Background,
        Priority::Normal,
        Priority::High,
        Priority::Critical,
    ];

    pub(crate) fn from_index(i: u8) -> Self {
        match i {
            0 => Priority::Background,
            1 => Priority::Normal,
            2 => Priority::High,
            _ => Priority::Critical,
        }
    }
}

/// Exponential backoff between retries: `base * 2^(attempt-1)`, capped at `max`, then scaled by
/// a random factor in `[1 - jitter, 1]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// First delay.
    pub base: Duration,
    /// Largest delay.
    pub max: Duration,
    /// Jitter fraction in `[0, 1]`.
    pub jitter: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(10),
            max: Duration::from_secs(2),
            jitter: 0.5,
        }
    }
}

impl Backoff {
    /// Delay before retry number `retry` (1-based), with `unit` in `[0, 1)` as the random draw.
    ///
    /// Saturates instead of overflowing: never more than `max`, up to [`Duration::MAX`] (a
    /// delay too large to add to the current time means the retry never comes; see
    /// [`JobPolicy`]). A NaN jitter or draw counts as 0.
    pub fn delay(&self, retry: u32, unit: f64) -> Duration {
        let exp = 2f64.powi(retry.saturating_sub(1).min(60) as i32);
        let raw = (self.base.as_secs_f64() * exp).min(self.max.as_secs_f64());
        let clean = |x: f64| if x.is_nan() { 0.0 } else { x.clamp(0.0, 1.0) };
        let scaled = raw * (1.0 - clean(self.jitter) * clean(unit));
        Duration::try_from_secs_f64(scaled)
            .unwrap_or(Duration::MAX)
            .min(self.max)
    }
}

/// Per-job policy.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct JobPolicy {
    /// Retries after a failure (0: fail at once).
    pub retries: u32,
    /// Delay between retries.
    pub backoff: Backoff,
    /// Cooperative timeout per attempt: the job's [`CancelToken`] fires and the job is reported
    /// as timed out; its dependents are cancelled. A timeout too large to add to the current
    /// time (such as [`Duration::MAX`]) never fires.
    ///
    /// The same holds for a retry's backoff: a delay that cannot be added to the current time
    /// means the retry never comes, and the run ends only when it is cancelled
    /// ([`RunHandle::cancel`] ends a job waiting for its retry at once).
    pub timeout: Option<Duration>,
}

/// The message of a caught panic (`"unknown panic"` when its payload is not a string).
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into())
}

/// Drop a caught panic's payload without letting a panic in its `Drop` escape: a payload whose
/// drop panics again is leaked instead (as the standard library does for thread results).
pub(crate) fn drop_payload(payload: Box<dyn std::any::Any + Send>) {
    if let Err(again) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        drop(payload);
    })) {
        std::mem::forget(again);
    }
}

/// A job's error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobError(pub String);

impl std::fmt::Display for JobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for JobError {}

impl From<String> for JobError {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&str> for JobError {
    fn from(s: &str) -> Self {
        Self(s.to_string())
    }
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", content = "reason", rename_all = "snake_case")]
pub enum JobStatus {
    /// Succeeded.
    Ok,
    /// Failed (after its retries); the error or panic message.
    Failed(String),
    /// Its timeout fired.
    TimedOut,
    /// Never ran (or stopped) because of the reason given.
    Cancelled(String),
}

/// One job's outcome in a run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct JobReport {
    /// Job name.
    pub name: String,
    /// Priority it ran at (after any raise).
    pub priority: Priority,
    /// How it ended.
    pub status: JobStatus,
    /// Retries used.
    pub retries: u32,
    /// Time spent running (all attempts).
    pub run_time: Duration,
    /// Time from ready to first start.
    pub queue_wait: Duration,
    /// True for a child spawned by a running job.
    pub child: bool,
}

/// The outcome of one run of a graph.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunReport {
    /// Graph jobs in graph order, then children in spawn order.
    pub jobs: Vec<JobReport>,
    /// Wall time of the run.
    pub wall: Duration,
    /// Workers of the executor.
    pub workers: usize,
    /// True if the run was cancelled from outside.
    pub cancelled: bool,
}

impl RunReport {
    /// True when every job succeeded.
    pub fn ok(&self) -> bool {
        self.jobs.iter().all(|j| j.status == JobStatus::Ok)
    }

    /// Jobs finished per second of wall time.
    pub fn jobs_per_sec(&self) -> f64 {
        self.jobs.len() as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    /// Summed run time over (wall x workers).
    pub fn utilisation(&self) -> f64 {
        let busy: f64 = self.jobs.iter().map(|j| j.run_time.as_secs_f64()).sum();
        busy / (self.wall.as_secs_f64() * self.workers.max(1) as f64).max(1e-12)
    }

    /// p50 and p99 of queue wait (ready to start) for jobs of one priority.
    pub fn latency_percentiles(&self, priority: Priority) -> Option<(Duration, Duration)> {
        let mut w: Vec<Duration> = self
            .jobs
            .iter()
            .filter(|j| j.priority == priority && !matches!(j.status, JobStatus::Cancelled(_)))
            .map(|j| j.queue_wait)
            .collect();
        if w.is_empty() {
            return None;
        }
        w.sort_unstable();
        let at = |q: f64| w[((w.len() - 1) as f64 * q).round() as usize];
        Some((at(0.5), at(0.99)))
    }

    /// The report of the job with this name (first match).
    pub fn job(&self, name: &str) -> Option<&JobReport> {
        self.jobs.iter().find(|j| j.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_saturates_near_duration_max() {
        for (base, max) in [
            (Duration::MAX, Duration::MAX),
            (Duration::MAX / 2, Duration::MAX - Duration::from_nanos(1)),
            (Duration::from_secs(u64::MAX / 4), Duration::MAX),
        ] {
            for jitter in [0.0, 0.5, 1.0, f64::NAN] {
                let b = Backoff { base, max, jitter };
                for retry in [1, 2, 64, u32::MAX] {
                    for unit in [0.0, 0.5, 0.999, f64::NAN] {
                        let d = b.delay(retry, unit);
                        assert!(d <= max, "{b:?} retry {retry} unit {unit}: {d:?}");
                    }
                }
            }
        }
        let b = Backoff {
            base: Duration::MAX,
            max: Duration::MAX,
            jitter: 0.0,
        };
        assert_eq!(b.delay(1, 0.0), Duration::MAX);
        assert_eq!(b.delay(5, 0.3), Duration::MAX);
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered_within_bounds() {
        let b = Backoff {
            base: Duration::from_millis(10),
            max: Duration::from_millis(100),
            jitter: 0.5,
        };
        assert_eq!(b.delay(1, 0.0), Duration::from_millis(10));
        assert_eq!(b.delay(3, 0.0), Duration::from_millis(40));
        assert_eq!(b.delay(10, 0.0), Duration::from_millis(100));
        for r in 1..8 {
            for u in [0.0, 0.3, 0.999] {
                let d = b.delay(r, u);
                let full = b.delay(r, 0.0);
                assert!(d <= full && d >= full / 2, "retry {r}: {d:?} vs {full:?}");
            }
        }
    }
}
