//! Live executor counters. Each worker updates its own cache-padded shard of plain atomics, so
//! the hot path has no locks and no shared cache lines; a snapshot sums the shards and can be
//! taken at any time (for the overlay).
//!
//! Start latency (a job's first attempt starting, measured from the moment it became ready) is
//! kept per priority in a fixed log-linear histogram of atomics in each shard
//! ([`LatencyHistogram`]): recording is one relaxed `fetch_add` on the worker's own shard, with
//! no lock, no allocation and no clock read of its own (the executor already stamps a job's
//! ready and start times). The p99 is computed from the summed buckets when a snapshot is taken.

use super::profile::Profile;
use crossbeam_utils::CachePadded;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Instant;

/// Linear sub-buckets per power of two, as a bit count: 3 bits, 8 sub-buckets, so a bucket is at
/// most 1/8 (12.5 %) of its lower bound wide.
const SUB_BITS: u32 = 3;
const SUB: usize = 1 << SUB_BITS;
/// Latencies of `2^MAX_EXP` ns (about 68.7 s) or more share the last bucket.
const MAX_EXP: u32 = 36;
/// Buckets per priority: exact buckets for 0..8 ns, then 8 per power of two up to `2^MAX_EXP`.
pub(crate) const BUCKETS: usize = SUB + (MAX_EXP - SUB_BITS) as usize * SUB;

/// A fixed-size log-linear histogram of nanosecond latencies, per priority.
///
/// Resolution: values below 8 ns have a bucket each; above, every power of two `[2^e, 2^(e+1))`
/// is split into 8 equal buckets, so a bucket spans at most 12.5 % of its lower bound. Values of
/// `2^36` ns (about 68.7 s) and more land in the last bucket. 272 buckets per priority, 8.5 KiB
/// per shard for the four priorities.
pub(crate) struct LatencyHistogram {
    buckets: [[AtomicU64; BUCKETS]; 4],
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self {
            buckets: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
        }
    }
}

impl LatencyHistogram {
    /// Count one latency of `ns` nanoseconds at priority index `p` (0 background .. 3 critical).
    #[inline]
    pub fn record(&self, p: u8, ns: u64) {
        self.buckets[(p as usize).min(3)][bucket(ns)].fetch_add(1, Relaxed);
    }
}

/// The bucket of a latency of `ns` nanoseconds.
#[inline]
fn bucket(ns: u64) -> usize {
    if ns < SUB as u64 {
        return ns as usize;
    }
    let exp = 63 - ns.leading_zeros(); // floor(log2 ns) >= SUB_BITS
    if exp >= MAX_EXP {
        return BUCKETS - 1;
    }
    let sub = (ns >> (exp - SUB_BITS)) as usize & (SUB - 1);
    SUB + (exp - SUB_BITS) as usize * SUB + sub
}

/// The smallest latency (ns) of bucket `i`.
fn bucket_low(i: usize) -> u64 {
    if i < SUB {
        return i as u64;
    }
    let exp = (i - SUB) as u32 / SUB as u32 + SUB_BITS;
    let sub = ((i - SUB) % SUB) as u64;
    (1u64 << exp) + (sub << (exp - SUB_BITS))
}

/// The end (exclusive, ns) of bucket `i`: every latency counted in it is below this. The last
/// bucket has no end; its start is returned.
fn bucket_end(i: usize) -> u64 {
    if i + 1 < BUCKETS {
        bucket_low(i + 1)
    } else {
        bucket_low(i)
    }
}

/// The 99th percentile of summed bucket counts, in seconds: the end of the bucket that holds
/// the `ceil(0.99 n)`-th smallest value, so never below the true p99 and at most 12.5 % above
/// it. `None` when nothing was counted.
fn p99_s(counts: &[u64; BUCKETS]) -> Option<f64> {
    let n: u64 = counts.iter().sum();
    if n == 0 {
        return None;
    }
    let rank = n - n / 100; // ceil(0.99 n) for n >= 1, without floating point
    let mut seen = 0;
    for (i, &c) in counts.iter().enumerate() {
        seen += c;
        if seen >= rank {
            return Some(bucket_end(i) as f64 * 1e-9);
        }
    }
    Some(bucket_end(BUCKETS - 1) as f64 * 1e-9)
}

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
    /// Start latency of first attempts, per priority.
    pub start_latency: LatencyHistogram,
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

    /// Summed start-latency buckets of priority index `p`.
    fn latency_counts(&self, p: usize) -> [u64; BUCKETS] {
        let mut sum = [0u64; BUCKETS];
        for shard in self.shards.iter() {
            for (s, b) in sum.iter_mut().zip(&shard.start_latency.buckets[p]) {
                *s += b.load(Relaxed);
            }
        }
        sum
    }

    pub fn snapshot(
        &self,
        start: Instant,
        workers: usize,
        limit: usize,
        queued: [usize; 4],
        profile: Profile,
    ) -> MetricsSnapshot {
        let latency: [[u64; BUCKETS]; 4] = std::array::from_fn(|p| self.latency_counts(p));
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
            start_latency_p99_s: std::array::from_fn(|p| p99_s(&latency[p])),
            first_starts: std::array::from_fn(|p| latency[p].iter().sum()),
            profile,
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
    /// 99th percentile of start latency per priority (background, normal, high, critical),
    /// seconds, over every job since the executor started: the time from a job becoming ready
    /// (queued) to its first attempt starting. `None` for a priority no job has started at.
    /// From a log-linear histogram whose buckets are at most 12.5 % wide: the value is the end
    /// of the bucket holding the p99, never below the true p99 and at most 12.5 % above it
    /// (latencies of 68.7 s or more saturate at about 64 s).
    pub start_latency_p99_s: [Option<f64>; 4],
    /// First attempts started per priority (the samples behind `start_latency_p99_s`).
    pub first_starts: [u64; 4],
    /// The executor's performance profile (serialised by its name, e.g. `"performance"`).
    pub profile: Profile,
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

    /// Jobs completed per second between `previous` (an earlier snapshot of the same executor)
    /// and this one: take a snapshot about once a second and this is the rolling rate over the
    /// last second, where [`Self::jobs_per_sec`] averages over the executor's whole life.
    /// 0 when no time passed between the two (or `previous` is not earlier).
    pub fn rate_since(&self, previous: &MetricsSnapshot) -> f64 {
        let dt = self.uptime_s - previous.uptime_s;
        if dt <= 0.0 {
            return 0.0;
        }
        self.completed.saturating_sub(previous.completed) as f64 / dt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_ordered_and_at_most_an_eighth_wide() {
        for i in 0..BUCKETS - 1 {
            let (lo, end) = (bucket_low(i), bucket_end(i));
            assert!(end > lo, "bucket {i}");
            assert_eq!(bucket(lo), i, "low of {i}");
            assert_eq!(bucket(end - 1), i, "last value of {i}");
            assert_eq!(bucket(end), i + 1, "end of {i}");
            if i >= SUB {
                assert!((end - lo) * 8 <= lo, "bucket {i} [{lo}, {end}) too wide");
            }
        }
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
        assert_eq!(bucket(1 << MAX_EXP), BUCKETS - 1);
    }

    #[test]
    fn p99_is_the_end_of_the_bucket_of_the_99th_percentile() {
        let h = LatencyHistogram::default();
        // 990 fast starts (1 µs) and 10 slow ones (50 ms): the p99 is still fast...
        for _ in 0..990 {
            h.record(1, 1_000);
        }
        for _ in 0..10 {
            h.record(1, 50_000_000);
        }
        let counts = std::array::from_fn(|i| h.buckets[1][i].load(Relaxed));
        let p99 = p99_s(&counts).expect("samples");
        assert!((1e-6..=1.125e-6).contains(&p99), "{p99}");
        // ...and one more slow start moves it to the slow bucket.
        h.record(1, 50_000_000);
        let counts = std::array::from_fn(|i| h.buckets[1][i].load(Relaxed));
        let p99 = p99_s(&counts).expect("samples");
        assert!((0.05..=0.05 * 1.125).contains(&p99), "{p99}");
        let empty = std::array::from_fn(|i| h.buckets[0][i].load(Relaxed));
        assert_eq!(p99_s(&empty), None);
    }

    #[test]
    fn rate_since_uses_only_the_interval_between_the_snapshots() {
        let before = MetricsSnapshot {
            completed: 1_000_000,
            uptime_s: 100.0,
            ..Default::default()
        };
        let after = MetricsSnapshot {
            completed: 1_000_500,
            uptime_s: 101.0,
            ..Default::default()
        };
        assert_eq!(after.rate_since(&before), 500.0);
        assert!(after.jobs_per_sec() > 9_000.0); // the lifetime average is another figure
        assert_eq!(before.rate_since(&after), 0.0);
        assert_eq!(after.rate_since(&after), 0.0);
    }
}
