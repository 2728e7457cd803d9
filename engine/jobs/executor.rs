//! The executor: runs job graphs on a rayon pool with per-priority ready queues.
//!
//! Scheduling: a job that becomes ready is pushed onto the lock-free queue of its priority. Rayon
//! tasks are *drainers*: they carry no job, but pop the best ready job (critical first) again and
//! again until the queues are empty. A push spawns a new drainer only while fewer drainers than
//! the allowed concurrency are active, so a busy pool schedules without any rayon spawn. After a
//! job finishes, its worker continues directly with the most urgent newly ready dependent when no
//! higher-priority job is waiting (no queue round trip for chains), and pushes the others.
//!
//! Claims: every queue entry carries a *ticket*, the attempt it may start. A job's slot holds the
//! ticket of its pending entries; popping an entry claims the attempt only if the tickets match
//! (one compare-exchange), so duplicates (a priority raise, the copy in a run's helper queue)
//! and entries of an earlier attempt are dropped when popped.
//!
//! Waiting (the blocking rule, `README.md`): a pool thread that waits for a run or for a job's
//! children runs only jobs of that run (from the run's helper queue) or those children (from the
//! parent's child queue), and otherwise parks on the run's condition variable.

use super::graph::JobGraph;
use super::metrics::Metrics;
use super::profile::{ExecutorConfig, ExecutorError, Profile};
use super::timer::Timer;
use super::{
    JobError, JobId, JobReport, JobStatus, MetricsSnapshot, Priority, RunReport, drop_payload,
    panic_message,
};
use crossbeam_queue::SegQueue;
use std::hash::BuildHasher;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release, SeqCst};
use std::sync::atomic::fence;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, AtomicUsize};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// A cooperative cancellation flag handed to every job attempt.
#[derive(Debug, Default)]
pub struct CancelToken {
    cancelled: AtomicBool,
    timed_out: AtomicBool,
}

impl CancelToken {
    /// True once the attempt should stop (timeout or run cancelled).
    pub fn is_cancelled(&self) -> bool {
        // Acquire pairs with the Release in `time_out`: once a body saw the token fire, the
        // executor's later `timed_out()` on this thread reads true (README, "Timeouts").
        self.cancelled.load(Acquire)
    }

    /// True if the cancellation came from the job's timeout.
    pub fn timed_out(&self) -> bool {
        self.timed_out.load(Relaxed)
    }

    fn time_out(&self) {
        self.timed_out.store(true, Relaxed);
        // Release: publishes `timed_out` to whoever sees `cancelled` (see `is_cancelled`).
        self.cancelled.store(true, Release);
    }
}

type ChildFn = Box<dyn for<'a> FnOnce(&JobContext<'a>) -> Result<(), JobError> + Send>;

/// Ticket bit: the attempt waits in the timer for its backoff (no entry may claim it, a priority
/// raise pushes none).
const BACKOFF: u64 = 1 << 63;

/// A queue entry of a helper queue: the job and the ticket it may claim.
type Entry = (JobRef, u64);

#[derive(Default)]
struct Slot {
    priority: AtomicU8,
    indeg: AtomicUsize,
    finished: AtomicBool,
    /// `0`: no entry may start the job (not ready, running, or ended). `t`: queue entries with
    /// ticket `t` may claim attempt `t` (exactly one does, by swapping in 0). `t | BACKOFF`:
    /// attempt `t` waits in the timer.
    ticket: AtomicU64,
    attempts: AtomicU32,
    ready_ns: AtomicU64,
    start_ns: AtomicU64,
    run_ns: AtomicU64,
    status: OnceLock<JobStatus>,
    /// Children spawned by this job that have not finished.
    pending_children: AtomicUsize,
    /// Entries of this job's ready children, for `wait_children` (made with the first child).
    kids: OnceLock<Box<SegQueue<Entry>>>,
}

impl Slot {
    /// Claim the attempt that entries with `ticket` may start.
    fn claim(&self, ticket: u64) -> bool {
        ticket & BACKOFF == 0
            && self
                .ticket
                .compare_exchange(ticket, 0, AcqRel, Relaxed)
                .is_ok()
    }
}

struct Child {
    name: String,
    body: Mutex<Option<ChildFn>>,
    slot: Slot,
    parent: JobRef,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum JobRef {
    Graph(usize),
    Child(usize),
}

pub(crate) struct RunState {
    graph: JobGraph,
    slots: Box<[Slot]>,
    children: Mutex<Vec<Arc<Child>>>,
    remaining: AtomicUsize,
    cancelled: AtomicBool,
    start: Instant,
    end_ns: AtomicU64,
    /// True once every job has ended.
    done_flag: AtomicBool,
    /// `done_cv` wakes threads waiting for the run (outside the pool, or parked pool threads
    /// waiting for the run or for children of its jobs); `done_lock` guards the sleep.
    done_lock: Mutex<()>,
    done_cv: Condvar,
    /// Pool threads parked on `done_cv` (see [`Inner::wait_on`]).
    sleepers: AtomicUsize,
    /// Set once a pool thread may wait for the run: from then on every entry of the run also
    /// goes to `local`, the run's helper queue.
    local_on: AtomicBool,
    local: SegQueue<Entry>,
}

impl RunState {
    fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64 + 1
    }

    fn child(&self, i: usize) -> Arc<Child> {
        self.children.lock().unwrap_or_else(|e| e.into_inner())[i].clone()
    }

    /// Wake parked pool threads after a change they may wait for (an entry pushed to a helper
    /// queue, a child ended). The fence pairs with the one in [`Inner::wait_on`]: either the
    /// sleeper sees the change before parking, or this sees the sleeper and notifies under the
    /// lock it holds until it waits.
    fn notify_waiters(&self) {
        fence(SeqCst);
        if self.sleepers.load(Relaxed) > 0 {
            let _guard = self.done_lock.lock().unwrap_or_else(|e| e.into_inner());
            self.done_cv.notify_all();
        }
    }
}

/// A queue entry: a job of a run and the ticket (attempt) it may claim.
struct Task {
    run: Arc<RunState>,
    job: JobRef,
    ticket: u64,
}

struct Limiter {
    limit: AtomicUsize,
    last_ns: AtomicU64,
    last_busy: AtomicU64,
}

pub(crate) struct Inner {
    pool: rayon::ThreadPool,
    queues: [SegQueue<Task>; 4],
    timer: Timer,
    metrics: Metrics,
    workers: usize,
    started: Instant,
    /// Drainers running or spawned.
    drainers: AtomicUsize,
    limiter: Option<Limiter>,
    hasher: std::hash::RandomState,
    profile: Profile,
}

/// Runs job graphs. Cheap to clone (shared pool).
#[derive(Clone)]
pub struct Executor {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Executor({} workers)", self.inner.workers)
    }
}

impl Executor {
    /// An executor with the given configuration.
    pub fn new(config: ExecutorConfig) -> Result<Self, ExecutorError> {
        config.validate()?;
        let workers = config.worker_count();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(workers)
            .thread_name(|i| format!("tutti-job-{i}"))
            // A panic escaping a task spawned on the pool would abort the process. tutti's own
            // tasks catch theirs; this catches what anything else spawns on `pool()`.
            .panic_handler(|payload| {
                tracing::error!(
                    "a task on the job pool panicked: {}",
                    panic_message(&*payload)
                );
                drop_payload(payload);
            })
            .build()
            .map_err(|e| ExecutorError::PoolStart {
                workers,
                reason: e.to_string(),
            })?;
        let limiter = (config.profile == Profile::Adaptive).then(|| Limiter {
            limit: AtomicUsize::new((workers / 2).max(1)),
            last_ns: AtomicU64::new(0),
            last_busy: AtomicU64::new(0),
        });
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                queues: Default::default(),
                timer: Timer::start(),
                metrics: Metrics::new(workers),
                workers,
                started: Instant::now(),
                drainers: AtomicUsize::new(0),
                limiter,
                hasher: std::hash::RandomState::new(),
                profile: config.profile,
            }),
        })
    }

    /// An executor with `workers` workers (performance profile otherwise).
    pub fn with_workers(workers: usize) -> Result<Self, ExecutorError> {
        Self::new(ExecutorConfig {
            profile: Profile::Performance,
            workers: Some(workers),
        })
    }

    /// Number of workers.
    pub fn workers(&self) -> usize {
        self.inner.workers
    }

    /// Live counters (lock-free).
    pub fn metrics(&self) -> MetricsSnapshot {
        let queued = std::array::from_fn(|p| self.inner.queues[p].len());
        self.inner.metrics.snapshot(
            self.inner.started,
            self.inner.workers,
            self.inner.limit(),
            queued,
            self.inner.profile,
        )
    }

    /// Start a run of `graph` and return at once.
    pub fn submit(&self, graph: &JobGraph) -> RunHandle {
        self.inner.submit(graph)
    }

    /// Run `graph` to completion. Safe to call from inside a job: the waiting worker runs jobs
    /// of this run meanwhile (and nothing else), so nested runs neither deadlock nor nest
    /// unrelated jobs on its stack (see "The blocking rule" in `engine/jobs/README.md`).
    pub fn run(&self, graph: &JobGraph) -> RunReport {
        self.inner.submit_with(graph, self.inner.on_pool()).wait()
    }

    /// The rayon pool (for parallel iterators inside jobs, e.g. `pool().install(..)`).
    pub fn pool(&self) -> &rayon::ThreadPool {
        &self.inner.pool
    }
}

impl Inner {
    fn submit(self: &Arc<Self>, graph: &JobGraph) -> RunHandle {
        self.submit_with(graph, false)
    }

    /// Start a run; `helped`: a pool thread is about to wait for it, so its entries go to its
    /// helper queue from the start.
    fn submit_with(self: &Arc<Self>, graph: &JobGraph, helped: bool) -> RunHandle {
        self.metrics.submitted_runs.fetch_add(1, Relaxed);
        let slots: Box<[Slot]> = graph
            .nodes
            .iter()
            .map(|n| {
                let s = Slot::default();
                s.priority.store(n.priority as u8, Relaxed);
                s.indeg.store(n.deps.len(), Relaxed);
                s
            })
            .collect();
        let run = Arc::new(RunState {
            graph: graph.clone(),
            slots,
            children: Mutex::default(),
            remaining: AtomicUsize::new(graph.len()),
            cancelled: AtomicBool::new(false),
            start: Instant::now(),
            end_ns: AtomicU64::new(0),
            done_flag: AtomicBool::new(false),
            done_lock: Mutex::new(()),
            done_cv: Condvar::new(),
            sleepers: AtomicUsize::new(0),
            local_on: AtomicBool::new(helped),
            local: SegQueue::new(),
        });
        if graph.is_empty() {
            self.complete(&run);
        }
        for &r in &graph.roots {
            self.make_ready(&run, JobRef::Graph(r));
        }
        RunHandle {
            inner: self.clone(),
            run,
        }
    }

    fn slot<'a>(run: &'a RunState, child: &'a Option<Arc<Child>>, job: JobRef) -> &'a Slot {
        match (job, child) {
            (JobRef::Graph(i), _) => &run.slots[i],
            (JobRef::Child(_), Some(c)) => &c.slot,
            (JobRef::Child(_), None) => unreachable!("child slot looked up without the child"),
        }
    }

    fn child_of(run: &RunState, job: JobRef) -> Option<Arc<Child>> {
        match job {
            JobRef::Child(i) => Some(run.child(i)),
            JobRef::Graph(_) => None,
        }
    }

    /// A job became ready (its dependencies ended, or it was spawned): queue its first attempt.
    fn make_ready(self: &Arc<Self>, run: &Arc<RunState>, job: JobRef) {
        let child = Self::child_of(run, job);
        let slot = Self::slot(run, &child, job);
        slot.ready_ns.store(run.now_ns(), Relaxed);
        let ticket = u64::from(slot.attempts.load(Relaxed)) + 1;
        // SeqCst: pairs with `local_on` (see `help_run`) and `priority` (see `raise_priority`).
        slot.ticket.store(ticket, SeqCst);
        self.enqueue(run, job, &child, ticket);
    }

    /// Push the entries of a job whose slot already holds `ticket`: the shared queue of its
    /// priority, its parent's child queue (for a child) and the run's helper queue (when on).
    fn enqueue(
        self: &Arc<Self>,
        run: &Arc<RunState>,
        job: JobRef,
        child: &Option<Arc<Child>>,
        ticket: u64,
    ) {
        let p = Self::slot(run, child, job).priority.load(SeqCst);
        self.push(
            Task {
                run: run.clone(),
                job,
                ticket,
            },
            p,
        );
        let mut notify = false;
        if let Some(c) = child {
            let parent = Self::child_of(run, c.parent);
            if let Some(kids) = Self::slot(run, &parent, c.parent).kids.get() {
                kids.push((job, ticket));
                notify = true;
            }
        }
        if run.local_on.load(SeqCst) {
            run.local.push((job, ticket));
            notify = true;
        }
        if notify {
            run.notify_waiters();
        }
    }

    /// The timer's end of a backoff: queue the retry unless the run's cancellation took it.
    fn retry_due(self: &Arc<Self>, run: &Arc<RunState>, job: JobRef, ticket: u64) {
        let child = Self::child_of(run, job);
        let slot = Self::slot(run, &child, job);
        if slot
            .ticket
            .compare_exchange(ticket | BACKOFF, ticket, SeqCst, Relaxed)
            .is_ok()
        {
            self.enqueue(run, job, &child, ticket);
        }
    }

    /// Jobs allowed to run at once: the adaptive limit, else the worker count.
    fn limit(&self) -> usize {
        self.limiter
            .as_ref()
            .map(|l| l.limit.load(Relaxed))
            .unwrap_or(self.workers)
    }

    fn push(self: &Arc<Self>, task: Task, priority: u8) {
        self.queues[(priority as usize).min(3)].push(task);
        // Pairs with the fence in `drain`: either a retiring drainer sees this entry, or `wake`
        // sees its retirement and starts a new drainer.
        fence(SeqCst);
        self.wake();
    }

    /// Start a drainer if fewer than the limit are active.
    fn wake(self: &Arc<Self>) {
        let limit = self.limit();
        let mut n = self.drainers.load(SeqCst);
        while n < limit {
            match self
                .drainers
                .compare_exchange_weak(n, n + 1, SeqCst, SeqCst)
            {
                Ok(_) => {
                    let me = self.clone();
                    self.pool.spawn(move || me.drain());
                    return;
                }
                Err(now) => n = now,
            }
        }
    }

    fn pop(&self) -> Option<Task> {
        for p in (0..4).rev() {
            if let Some(t) = self.queues[p].pop() {
                return Some(t);
            }
        }
        None
    }

    fn queues_empty(&self) -> bool {
        self.queues.iter().all(SegQueue::is_empty)
    }

    /// True when a job of priority above `p` is waiting.
    fn higher_waiting(&self, p: u8) -> bool {
        ((p as usize + 1)..4).any(|q| !self.queues[q].is_empty())
    }

    /// A drainer: run ready jobs until none is left, then retire (re-checking, so a job pushed
    /// while it was retiring is never stranded).
    fn drain(self: &Arc<Self>) {
        loop {
            while self.drainers.load(Relaxed) <= self.limit() {
                let Some(t) = self.pop() else { break };
                self.execute_guarded(t);
                if let Some(lim) = &self.limiter {
                    self.adapt(lim);
                }
            }
            self.drainers.fetch_sub(1, SeqCst);
            // Pairs with the fence in `push` (see README.md, "Memory ordering").
            fence(SeqCst);
            if self.queues_empty() {
                return;
            }
            // Work arrived: re-enter if still under the limit.
            let mut n = self.drainers.load(SeqCst);
            loop {
                if n >= self.limit() {
                    return;
                }
                match self
                    .drainers
                    .compare_exchange_weak(n, n + 1, SeqCst, SeqCst)
                {
                    Ok(_) => break,
                    Err(now) => n = now,
                }
            }
        }
    }

    /// Adaptive rule (every 20 ms): if the allowed jobs kept their slots more than 85 % busy over
    /// the last window while more jobs were queued than allowed, allow one more (up to the worker
    /// count); below 50 % busy, allow one fewer (down to one).
    fn adapt(self: &Arc<Self>, lim: &Limiter) {
        let now = self.started.elapsed().as_nanos() as u64;
        let last = lim.last_ns.load(Relaxed);
        if now.saturating_sub(last) < 20_000_000
            || lim
                .last_ns
                .compare_exchange(last, now, AcqRel, Relaxed)
                .is_err()
        {
            return;
        }
        let busy = self.metrics.busy_ns();
        let prev = lim.last_busy.swap(busy, Relaxed);
        let limit = lim.limit.load(Relaxed);
        let util = busy.saturating_sub(prev) as f64 / ((now - last) as f64 * limit as f64).max(1.0);
        let queued: usize = self.queues.iter().map(SegQueue::len).sum();
        if util > 0.85 && queued > limit && limit < self.workers {
            lim.limit.store(limit + 1, Relaxed);
            self.wake();
        } else if util < 0.5 && limit > 1 {
            lim.limit.store(limit - 1, Relaxed);
        }
    }

    /// [`Self::execute`], with any panic that escapes it (dropping a run's last reference runs
    /// user `Drop` code) caught and logged: a rayon task must never unwind.
    fn execute_guarded(self: &Arc<Self>, task: Task) {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| self.execute(task))) {
            tracing::error!(
                "the job executor caught a panic: {}",
                panic_message(&*panic)
            );
            drop_payload(panic);
        }
    }

    /// Claim a task's attempt and run it, then every dependent handed back for inline
    /// continuation, reusing the previous job's end time as the next one's start. A stale entry
    /// (its ticket no longer current) is dropped.
    fn execute(self: &Arc<Self>, task: Task) {
        let Task {
            run,
            mut job,
            ticket,
        } = task;
        let mut child = Self::child_of(&run, job);
        if !Self::slot(&run, &child, job).claim(ticket) {
            return;
        }
        let mut now = None;
        loop {
            let step = catch_unwind(AssertUnwindSafe(|| {
                self.execute_job(&run, job, &child, &mut now)
            }));
            match step {
                Ok(Some(next)) => {
                    job = next;
                    child = Self::child_of(&run, job);
                }
                Ok(None) => return,
                Err(panic) => {
                    // Not the job's body (that is caught inside): end the job anyway, so that
                    // its run still completes.
                    let why = format!("the executor panicked: {}", panic_message(&*panic));
                    drop_payload(panic);
                    tracing::error!("job ended: {why}");
                    let at = run.now_ns();
                    let _ = self.finish(&run, job, &child, JobStatus::Failed(why), at);
                    return;
                }
            }
        }
    }

    /// Run one claimed attempt; returns a ready dependent to continue with inline.
    fn execute_job(
        self: &Arc<Self>,
        run: &Arc<RunState>,
        job: JobRef,
        child: &Option<Arc<Child>>,
        now: &mut Option<u64>,
    ) -> Option<JobRef> {
        let slot = Self::slot(run, child, job);
        if slot.finished.load(Acquire) {
            return None;
        }
        if run.cancelled.load(Relaxed) {
            return self.finish(
                run,
                job,
                child,
                JobStatus::Cancelled("the run was cancelled".into()),
                run.now_ns(),
            );
        }
        let attempt = slot.attempts.fetch_add(1, Relaxed) + 1;
        let t0 = now.take().unwrap_or_else(|| run.now_ns());
        let counters = self.metrics.local();
        if slot
            .start_ns
            .compare_exchange(0, t0, Relaxed, Relaxed)
            .is_ok()
        {
            // The first attempt: its start latency (ready to start, both stamps taken anyway
            // for the run report) goes to this worker's histogram, one relaxed increment.
            let waited = t0.saturating_sub(slot.ready_ns.load(Relaxed));
            counters
                .start_latency
                .record(slot.priority.load(Relaxed), waited);
        }
        counters.started.fetch_add(1, Relaxed);
        counters.running.fetch_add(1, Relaxed);
        let policy = match job {
            JobRef::Graph(i) => run.graph.nodes[i].policy,
            JobRef::Child(_) => Default::default(),
        };
        let token = policy.timeout.map(|timeout| {
            let token = Arc::new(CancelToken::default());
            // A timeout too large to represent never fires.
            if let Some(at) = Instant::now().checked_add(timeout) {
                let t = token.clone();
                self.timer.schedule(at, move || t.time_out());
            }
            token
        });
        let ctx = JobContext {
            inner: self,
            run,
            job,
            token: token.as_deref(),
            attempt,
        };
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| match job {
            JobRef::Graph(i) => (run.graph.nodes[i].body)(&ctx),
            JobRef::Child(_) => match child
                .as_ref()
                .and_then(|c| c.body.lock().unwrap_or_else(|e| e.into_inner()).take())
            {
                Some(body) => body(&ctx),
                None => Ok(()),
            },
        }));
        let end = run.now_ns();
        *now = Some(end);
        let elapsed = end - t0;
        slot.run_ns.fetch_add(elapsed, Relaxed);
        let counters = self.metrics.local();
        counters.busy_ns.fetch_add(elapsed, Relaxed);
        counters.running.fetch_sub(1, Relaxed);
        let error = match result {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.0),
            Err(panic) => {
                let message = format!("panicked: {}", panic_message(&*panic));
                drop_payload(panic);
                Some(message)
            }
        };
        if token.as_ref().is_some_and(|t| t.timed_out()) {
            return self.finish(run, job, child, JobStatus::TimedOut, end);
        }
        match error {
            None => self.finish(run, job, child, JobStatus::Ok, end),
            Some(e) if attempt <= policy.retries && !run.cancelled.load(SeqCst) => {
                self.metrics.local().retried.fetch_add(1, Relaxed);
                let unit =
                    (self.hasher.hash_one((t0, attempt, &e)) >> 11) as f64 / (1u64 << 53) as f64;
                let delay = policy.backoff.delay(attempt, unit);
                // The waiting retry sits in the timer, not on a worker, and no queue entry can
                // start it before the timer hands it back (`retry_due`).
                let next = u64::from(attempt) + 1;
                slot.ticket.store(next | BACKOFF, SeqCst);
                if run.cancelled.load(SeqCst) {
                    // `cancel` may have swept before the store above: end the job here (or
                    // leave it to the sweep, whichever swaps the ticket first).
                    if slot
                        .ticket
                        .compare_exchange(next | BACKOFF, 0, SeqCst, Relaxed)
                        .is_ok()
                    {
                        let reason = "the run was cancelled".to_string();
                        return self.finish(run, job, child, JobStatus::Cancelled(reason), end);
                    }
                    return None;
                }
                // A delay too large to add to the current time: the retry never comes (the
                // run ends when it is cancelled).
                if let Some(at) = Instant::now().checked_add(delay) {
                    // Weak: a long backoff does not keep a dropped executor's pool alive.
                    let me = Arc::downgrade(self);
                    let run = run.clone();
                    self.timer.schedule(at, move || {
                        if let Some(me) = me.upgrade() {
                            me.retry_due(&run, job, next);
                        }
                    });
                }
                None
            }
            Some(e) => self.finish(run, job, child, JobStatus::Failed(e), end),
        }
    }

    /// Record a job's end, release or cancel its dependents; returns one dependent to run inline.
    fn finish(
        self: &Arc<Self>,
        run: &Arc<RunState>,
        job: JobRef,
        child: &Option<Arc<Child>>,
        status: JobStatus,
        at: u64,
    ) -> Option<JobRef> {
        let slot = Self::slot(run, child, job);
        if slot.finished.swap(true, AcqRel) {
            return None;
        }
        match &status {
            JobStatus::Ok => self.metrics.local().completed.fetch_add(1, Relaxed),
            JobStatus::Failed(_) => self.metrics.local().failed.fetch_add(1, Relaxed),
            JobStatus::TimedOut => self.metrics.local().timed_out.fetch_add(1, Relaxed),
            JobStatus::Cancelled(_) => self.metrics.local().cancelled.fetch_add(1, Relaxed),
        };
        let ok = status == JobStatus::Ok;
        let reason = match (&status, job) {
            (JobStatus::Ok, _) | (_, JobRef::Child(_)) => String::new(),
            (JobStatus::Failed(_), JobRef::Graph(i)) => {
                format!("dependency {:?} failed", run.graph.nodes[i].name)
            }
            (JobStatus::TimedOut, JobRef::Graph(i)) => {
                format!("dependency {:?} timed out", run.graph.nodes[i].name)
            }
            (JobStatus::Cancelled(_), JobRef::Graph(i)) => {
                format!("dependency {:?} was cancelled", run.graph.nodes[i].name)
            }
        };
        let _ = slot.status.set(status);
        let mut inline = None;
        if let JobRef::Graph(i) = job {
            // Continue inline with the most urgent newly ready job unless something more urgent
            // is already waiting; queue the rest.
            let mut best: Option<usize> = None;
            for &d in &run.graph.nodes[i].dependents {
                if ok {
                    if run.slots[d].indeg.fetch_sub(1, AcqRel) == 1 {
                        match best {
                            None => best = Some(d),
                            Some(b)
                                if run.slots[d].priority.load(Relaxed)
                                    > run.slots[b].priority.load(Relaxed) =>
                            {
                                self.make_ready(run, JobRef::Graph(b));
                                best = Some(d);
                            }
                            Some(_) => self.make_ready(run, JobRef::Graph(d)),
                        }
                    }
                } else {
                    self.cancel_subtree(run, d, &reason);
                }
            }
            if let Some(d) = best {
                if self.higher_waiting(run.slots[d].priority.load(Relaxed)) {
                    self.make_ready(run, JobRef::Graph(d));
                } else {
                    // Ready now; the caller starts it at once with the same timestamp.
                    run.slots[d].ready_ns.store(at, Relaxed);
                    inline = Some(JobRef::Graph(d));
                }
            }
        }
        if let Some(c) = child {
            match c.parent {
                JobRef::Graph(p) => run.slots[p].pending_children.fetch_sub(1, AcqRel),
                JobRef::Child(p) => run.child(p).slot.pending_children.fetch_sub(1, AcqRel),
            };
            run.notify_waiters();
        }
        if run.remaining.fetch_sub(1, AcqRel) == 1 {
            self.complete(run);
        }
        inline
    }

    /// Cancel a job and everything after it (iteratively: chains can be long).
    fn cancel_subtree(self: &Arc<Self>, run: &Arc<RunState>, start: usize, reason: &str) {
        let mut stack = vec![(start, reason.to_string())];
        while let Some((j, why)) = stack.pop() {
            let slot = &run.slots[j];
            if slot.finished.swap(true, AcqRel) {
                continue;
            }
            self.metrics.local().cancelled.fetch_add(1, Relaxed);
            let _ = slot.status.set(JobStatus::Cancelled(why));
            let next = format!("dependency {:?} was cancelled", run.graph.nodes[j].name);
            for &d in &run.graph.nodes[j].dependents {
                stack.push((d, next.clone()));
            }
            if run.remaining.fetch_sub(1, AcqRel) == 1 {
                self.complete(run);
            }
        }
    }

    fn complete(&self, run: &RunState) {
        run.end_ns.store(run.now_ns(), Relaxed);
        let _guard = run.done_lock.lock().unwrap_or_else(|e| e.into_inner());
        run.done_flag.store(true, Release);
        run.done_cv.notify_all();
    }

    /// Wait on a pool thread until `done()`, running only the entries of `queue` meanwhile (the
    /// helper queue of the run waited for, or the child queue of the job whose children are
    /// waited for), and otherwise parking on the run's condition variable. Nothing else runs on
    /// this stack, so waits nest only as deep as the waits themselves do.
    fn wait_on(
        self: &Arc<Self>,
        run: &Arc<RunState>,
        queue: &SegQueue<Entry>,
        done: impl Fn() -> bool,
    ) {
        loop {
            if done() {
                return;
            }
            if let Some((job, ticket)) = queue.pop() {
                self.execute_guarded(Task {
                    run: run.clone(),
                    job,
                    ticket,
                });
                continue;
            }
            let mut guard = run.done_lock.lock().unwrap_or_else(|e| e.into_inner());
            run.sleepers.fetch_add(1, SeqCst);
            // Pairs with the fence in `notify_waiters` (and `complete` sets `done_flag` under the
            // lock): a change made before it is seen below, one made after it sees the sleeper.
            fence(SeqCst);
            while !done() && queue.is_empty() {
                guard = run.done_cv.wait(guard).unwrap_or_else(|e| e.into_inner());
            }
            run.sleepers.fetch_sub(1, Relaxed);
        }
    }

    /// Wait for `run` on a pool thread, helping with its jobs only.
    fn help_run(self: &Arc<Self>, run: &Arc<RunState>) {
        if !run.local_on.swap(true, SeqCst) {
            // Entries queued before the helper queue was on are only in the shared queues: copy
            // them. SeqCst pairs with `make_ready`/`retry_due` (ticket store, then `local_on`
            // load): every entry is either seen here or pushed to `local` by its producer.
            for (i, slot) in run.slots.iter().enumerate() {
                let t = slot.ticket.load(SeqCst);
                if t != 0 && t & BACKOFF == 0 {
                    run.local.push((JobRef::Graph(i), t));
                }
            }
            let children = run.children.lock().unwrap_or_else(|e| e.into_inner());
            for (i, c) in children.iter().enumerate() {
                let t = c.slot.ticket.load(SeqCst);
                if t != 0 && t & BACKOFF == 0 {
                    run.local.push((JobRef::Child(i), t));
                }
            }
        }
        self.wait_on(run, &run.local, || run.done_flag.load(Acquire));
    }

    /// End every job of a cancelled run that waits for its retry's backoff (the others end
    /// when next claimed).
    fn sweep_backoffs(self: &Arc<Self>, run: &Arc<RunState>) {
        let cancel = |job: JobRef, child: &Option<Arc<Child>>| {
            let slot = Self::slot(run, child, job);
            let t = slot.ticket.load(SeqCst);
            if t & BACKOFF != 0 && slot.ticket.compare_exchange(t, 0, SeqCst, Relaxed).is_ok() {
                let why = JobStatus::Cancelled("the run was cancelled".into());
                let _ = self.finish(run, job, child, why, run.now_ns());
            }
        };
        for i in 0..run.slots.len() {
            cancel(JobRef::Graph(i), &None);
        }
        let children: Vec<Arc<Child>> = run
            .children
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for (i, c) in children.into_iter().enumerate() {
            cancel(JobRef::Child(i), &Some(c));
        }
    }

    fn on_pool(&self) -> bool {
        self.pool.current_thread_index().is_some()
    }

    fn report(&self, run: &RunState) -> RunReport {
        let job_report = |name: String, slot: &Slot, child: bool| JobReport {
            name,
            priority: Priority::from_index(slot.priority.load(Relaxed)),
            status: slot
                .status
                .get()
                .cloned()
                .unwrap_or_else(|| JobStatus::Cancelled("never ran".into())),
            retries: slot.attempts.load(Relaxed).saturating_sub(1),
            run_time: Duration::from_nanos(slot.run_ns.load(Relaxed)),
            queue_wait: Duration::from_nanos(
                slot.start_ns
                    .load(Relaxed)
                    .saturating_sub(slot.ready_ns.load(Relaxed))
                    * u64::from(slot.start_ns.load(Relaxed) != 0),
            ),
            child,
        };
        let mut jobs: Vec<JobReport> = run
            .graph
            .nodes
            .iter()
            .zip(run.slots.iter())
            .map(|(n, s)| job_report(n.name.to_string(), s, false))
            .collect();
        for c in run
            .children
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            jobs.push(job_report(c.name.clone(), &c.slot, true));
        }
        RunReport {
            jobs,
            wall: Duration::from_nanos(run.end_ns.load(Relaxed)),
            workers: self.workers,
            cancelled: run.cancelled.load(Relaxed),
        }
    }
}

/// A run in progress.
pub struct RunHandle {
    inner: Arc<Inner>,
    run: Arc<RunState>,
}

impl RunHandle {
    /// Cancel the run: pending jobs never start (reported as cancelled); running jobs see
    /// [`JobContext::is_cancelled`].
    pub fn cancel(&self) {
        // SeqCst pairs with the retry path in `execute_job` (ticket store, then this flag).
        self.run.cancelled.store(true, SeqCst);
        self.inner.sweep_backoffs(&self.run);
    }

    /// Raise a job's priority (never lowers it). A queued job moves to the higher queue; a job
    /// waiting for its retry's backoff keeps waiting and is queued at the new priority.
    pub fn raise_priority(&self, job: JobId, priority: Priority) {
        let Some(slot) = self.run.slots.get(job.0) else {
            return;
        };
        // SeqCst pairs with `enqueue` (ticket store, then priority load): either it queues at
        // the new priority, or the ticket is seen here.
        let old = slot.priority.fetch_max(priority as u8, SeqCst);
        let ticket = slot.ticket.load(SeqCst);
        if (priority as u8) > old && ticket != 0 && ticket & BACKOFF == 0 {
            // A second entry for the same attempt: whichever is popped first claims it, the
            // other is dropped when popped.
            let task = Task {
                run: self.run.clone(),
                job: JobRef::Graph(job.0),
                ticket,
            };
            self.inner.push(task, priority as u8);
        }
    }

    /// True once every job has ended.
    pub fn is_done(&self) -> bool {
        self.run.done_flag.load(Acquire)
    }

    /// Wait for the run and return its report. On a pool worker this runs jobs of this run
    /// meanwhile, and no other jobs (see "The blocking rule" in `engine/jobs/README.md`).
    pub fn wait(&self) -> RunReport {
        if self.inner.on_pool() {
            self.inner.help_run(&self.run);
        } else {
            let mut guard = self.run.done_lock.lock().unwrap_or_else(|e| e.into_inner());
            while !self.run.done_flag.load(Acquire) {
                guard = self
                    .run
                    .done_cv
                    .wait(guard)
                    .unwrap_or_else(|e| e.into_inner());
            }
        }
        self.inner.report(&self.run)
    }
}

/// What a running job sees.
pub struct JobContext<'a> {
    inner: &'a Arc<Inner>,
    run: &'a Arc<RunState>,
    job: JobRef,
    token: Option<&'a CancelToken>,
    attempt: u32,
}

impl JobContext<'_> {
    /// This job's id in its graph (`JobId(usize::MAX)` for a child spawned at run time).
    pub fn job(&self) -> JobId {
        match self.job {
            JobRef::Graph(i) => JobId(i),
            JobRef::Child(_) => JobId(usize::MAX),
        }
    }

    /// 1 for the first attempt, 2 for the first retry, ...
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// True when the job should stop: its timeout fired or the run was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.token.is_some_and(CancelToken::is_cancelled) || self.run.cancelled.load(Relaxed)
    }

    /// The attempt's timeout token (present when the job has a timeout).
    pub fn token(&self) -> Option<&CancelToken> {
        self.token
    }

    /// Spawn a child job that joins this run (the run ends only after it).
    pub fn spawn(
        &self,
        name: impl Into<String>,
        priority: Priority,
        body: impl FnOnce(&JobContext) -> Result<(), JobError> + Send + 'static,
    ) {
        let me = Inner::child_of(self.run, self.job);
        let my_slot = Inner::slot(self.run, &me, self.job);
        my_slot.pending_children.fetch_add(1, AcqRel);
        my_slot.kids.get_or_init(Default::default);
        self.run.remaining.fetch_add(1, AcqRel);
        let slot = Slot::default();
        slot.priority.store(priority as u8, Relaxed);
        let child = Arc::new(Child {
            name: name.into(),
            body: Mutex::new(Some(Box::new(body))),
            slot,
            parent: self.job,
        });
        let index = {
            let mut list = self.run.children.lock().unwrap_or_else(|e| e.into_inner());
            list.push(child);
            list.len() - 1
        };
        self.inner.make_ready(self.run, JobRef::Child(index));
    }

    /// Wait until every child this job spawned has ended, running this job's ready children
    /// meanwhile and nothing else (so a waiting job never deadlocks the pool, even with one
    /// worker, and never stacks unrelated jobs on its own).
    pub fn wait_children(&self) {
        let me = Inner::child_of(self.run, self.job);
        let slot = Inner::slot(self.run, &me, self.job);
        let Some(kids) = slot.kids.get() else {
            return; // never spawned a child
        };
        self.inner
            .wait_on(self.run, kids, || slot.pending_children.load(Acquire) == 0);
    }

    /// Run another graph on the same executor and wait for it, running only its jobs meanwhile.
    pub fn run_graph(&self, graph: &JobGraph) -> RunReport {
        self.inner.submit_with(graph, self.inner.on_pool()).wait()
    }
}

#[cfg(test)]
mod tests {
    use super::CancelToken;
    use std::sync::Arc;

    /// The message-passing litmus test behind the Acquire/Release pair of [`CancelToken`]: a
    /// thread that sees a token fire must see it fired by a timeout. (On x86 it passes with
    /// `Relaxed` too; on a weakly ordered CPU, `Relaxed` lets it fail.)
    #[test]
    fn a_token_seen_cancelled_is_seen_timed_out() {
        const N: usize = 100_000;
        let tokens: Arc<Vec<CancelToken>> = Arc::new((0..N).map(|_| Default::default()).collect());
        let writer = {
            let tokens = tokens.clone();
            std::thread::spawn(move || tokens.iter().for_each(CancelToken::time_out))
        };
        for t in tokens.iter() {
            while !t.is_cancelled() {
                std::hint::spin_loop();
            }
            assert!(t.timed_out(), "saw the token cancelled but not timed out");
        }
        writer.join().expect("writer");
    }
}
