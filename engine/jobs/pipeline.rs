//! Multi-stage pipelines on the executor's pool: per-stage concurrency, bounded queues between
//! stages (backpressure), ordered or unordered output.
//!
//! Credit rule: a stage may start an item only when the queue after it has room for the result
//! (queued plus reserved items below the capacity), so a stage task never blocks a worker waiting
//! for space. The caller's thread feeds inputs while queue 0 has room and delivers outputs to the
//! sink. With [`Order::Ordered`], at most `capacity` items are inside the pipeline at once (a
//! sliding window over input sequence numbers), so the reorder buffer is bounded too and the
//! oldest item can always finish.

use super::{Executor, JobError, drop_payload, panic_message};
use std::any::Any;
use std::collections::{BTreeMap, VecDeque};
use std::marker::PhantomData;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

type Item = Result<Box<dyn Any + Send>, (String, JobError)>;
type StageFn =
    Arc<dyn Fn(Box<dyn Any + Send>) -> Result<Box<dyn Any + Send>, JobError> + Send + Sync>;

struct StageDef {
    name: String,
    concurrency: usize,
    f: StageFn,
}

/// Output order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Outputs arrive in input order.
    Ordered,
    /// Outputs arrive as they finish.
    Unordered,
}

/// An item that failed in a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageFailure {
    /// Input sequence number.
    pub seq: u64,
    /// Stage name.
    pub stage: String,
    /// The stage's error.
    pub error: JobError,
}

/// Builds a [`Pipeline`] stage by stage; `Cur` is the current item type.
pub struct PipelineBuilder<In, Cur> {
    stages: Vec<StageDef>,
    _types: PhantomData<fn(In) -> Cur>,
}

impl<In: Send + 'static> PipelineBuilder<In, In> {
    /// A pipeline with no stage yet.
    pub fn new() -> Self {
        Self {
            stages: Vec::new(),
            _types: PhantomData,
        }
    }
}

impl<In: Send + 'static> Default for PipelineBuilder<In, In> {
    fn default() -> Self {
        Self::new()
    }
}

impl<In: Send + 'static, Cur: Send + 'static> PipelineBuilder<In, Cur> {
    /// Add a stage running at most `concurrency` items at once.
    pub fn stage<N: Send + 'static>(
        mut self,
        name: impl Into<String>,
        concurrency: usize,
        f: impl Fn(Cur) -> Result<N, JobError> + Send + Sync + 'static,
    ) -> PipelineBuilder<In, N> {
        let f: StageFn = Arc::new(move |x: Box<dyn Any + Send>| match x.downcast::<Cur>() {
            Ok(v) => f(*v).map(|n| Box::new(n) as Box<dyn Any + Send>),
            Err(_) => Err(JobError(
                "pipeline stage received an item of the wrong type".into(),
            )),
        });
        self.stages.push(StageDef {
            name: name.into(),
            concurrency: concurrency.max(1),
            f,
        });
        PipelineBuilder {
            stages: self.stages,
            _types: PhantomData,
        }
    }

    /// Freeze with a queue capacity (per queue) and an output order.
    pub fn build(self, capacity: usize, order: Order) -> Pipeline<In, Cur> {
        Pipeline {
            stages: self.stages.into(),
            capacity: capacity.max(1),
            order,
            _types: PhantomData,
        }
    }
}

/// A reusable pipeline from `In` to `Out`.
pub struct Pipeline<In, Out> {
    stages: Arc<[StageDef]>,
    capacity: usize,
    order: Order,
    _types: PhantomData<fn(In) -> Out>,
}

/// What a pipeline run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PipelineStats {
    /// Items fed.
    pub items: u64,
    /// Largest number of items inside the pipeline at once (fed, not yet delivered).
    pub max_in_flight: usize,
    /// The bound `max_in_flight` can never exceed.
    pub bound: usize,
    /// Largest number of items a stage processed at once, per stage.
    pub max_active: Vec<usize>,
}

struct Sched {
    /// queues[s]: items waiting for stage s; queues[n]: finished items.
    queues: Vec<VecDeque<(u64, Item)>>,
    /// Items being processed whose result will land in queue k.
    reserved: Vec<usize>,
    active: Vec<usize>,
    max_active: Vec<usize>,
}

struct State {
    stages: Arc<[StageDef]>,
    cap: usize,
    sched: Mutex<Sched>,
    changed: Condvar,
}

impl State {
    fn occupancy(s: &Sched, k: usize) -> usize {
        s.queues[k].len() + s.reserved[k]
    }

    /// Start every item the credit rule allows; returns (stage, seq, item) to run.
    fn pump(&self, s: &mut Sched) -> Vec<(usize, u64, Item)> {
        let n = self.stages.len();
        let mut start = Vec::new();
        for st in (0..n).rev() {
            while s.active[st] < self.stages[st].concurrency
                && !s.queues[st].is_empty()
                && Self::occupancy(s, st + 1) < self.cap
            {
                let Some((seq, item)) = s.queues[st].pop_front() else {
                    break;
                };
                s.reserved[st + 1] += 1;
                s.active[st] += 1;
                s.max_active[st] = s.max_active[st].max(s.active[st]);
                start.push((st, seq, item));
            }
        }
        start
    }

    fn spawn(self: &Arc<Self>, exec: &Executor, work: Vec<(usize, u64, Item)>) {
        for (st, seq, item) in work {
            let me = self.clone();
            let exec2 = exec.clone();
            // The task catches the stage's panic (and never lets the panic's payload unwind
            // out when dropped): a panic escaping a task spawned on rayon aborts the process.
            exec.pool().spawn(move || {
                let stage = &me.stages[st];
                let out = match item {
                    Ok(v) => match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        (stage.f)(v)
                    })) {
                        Ok(Ok(v)) => Ok(v),
                        Ok(Err(e)) => Err((stage.name.clone(), e)),
                        Err(panic) => {
                            let message = format!("panicked: {}", panic_message(&*panic));
                            drop_payload(panic);
                            Err((stage.name.clone(), JobError(message)))
                        }
                    },
                    Err(e) => Err(e),
                };
                let more = {
                    let mut s = me.sched.lock().unwrap_or_else(|e| e.into_inner());
                    s.reserved[st + 1] -= 1;
                    s.active[st] -= 1;
                    s.queues[st + 1].push_back((seq, out));
                    me.pump(&mut s)
                };
                me.changed.notify_all();
                me.spawn(&exec2, more);
            });
        }
    }
}

impl<In: Send + 'static, Out: Send + 'static> Pipeline<In, Out> {
    /// Feed `inputs` through the stages on `exec`, handing each result (or the failure of the
    /// stage that rejected it) to `sink` on the calling thread. Call it from outside the pool.
    pub fn run(
        &self,
        exec: &Executor,
        inputs: impl IntoIterator<Item = In>,
        mut sink: impl FnMut(Result<Out, StageFailure>),
    ) -> PipelineStats {
        let n = self.stages.len();
        let state = Arc::new(State {
            stages: self.stages.clone(),
            cap: self.capacity,
            sched: Mutex::new(Sched {
                queues: (0..=n).map(|_| VecDeque::new()).collect(),
                reserved: vec![0; n + 1],
                active: vec![0; n],
                max_active: vec![0; n],
            }),
            changed: Condvar::new(),
        });
        let window = match self.order {
            Order::Ordered => self.capacity,
            Order::Unordered => usize::MAX,
        };
        let bound = match self.order {
            Order::Ordered => self.capacity,
            Order::Unordered => (n + 1) * self.capacity,
        };
        let mut inputs = inputs.into_iter().peekable();
        let mut fed: u64 = 0;
        let mut delivered: u64 = 0;
        let mut next_out: u64 = 0;
        let mut reorder: BTreeMap<u64, Item> = BTreeMap::new();
        let mut max_in_flight = 0usize;
        loop {
            let (finished, work, exhausted_and_idle) = {
                let mut s = state.sched.lock().unwrap_or_else(|e| e.into_inner());
                while State::occupancy(&s, 0) < self.capacity
                    && ((fed - delivered) as usize) < window
                    && inputs.peek().is_some()
                {
                    let Some(x) = inputs.next() else { break };
                    let item: Item = Ok(Box::new(x));
                    s.queues[0].push_back((fed, item));
                    fed += 1;
                }
                max_in_flight = max_in_flight.max((fed - delivered) as usize);
                let finished: Vec<(u64, Item)> = s.queues[n].drain(..).collect();
                let work = state.pump(&mut s);
                let idle = inputs.peek().is_none()
                    && s.queues.iter().all(VecDeque::is_empty)
                    && s.active.iter().all(|&a| a == 0)
                    && finished.is_empty()
                    && work.is_empty();
                if finished.is_empty() && work.is_empty() && !idle {
                    let _ = state.changed.wait_timeout(s, Duration::from_millis(5));
                }
                (finished, work, idle)
            };
            state.spawn(exec, work);
            for (seq, item) in finished {
                match self.order {
                    Order::Unordered => {
                        delivered += 1;
                        deliver(&mut sink, seq, item);
                    }
                    Order::Ordered => {
                        reorder.insert(seq, item);
                        while let Some(item) = reorder.remove(&next_out) {
                            deliver(&mut sink, next_out, item);
                            next_out += 1;
                            delivered += 1;
                        }
                    }
                }
            }
            if exhausted_and_idle && reorder.is_empty() {
                break;
            }
        }
        let max_active = state
            .sched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .max_active
            .clone();
        PipelineStats {
            items: fed,
            max_in_flight,
            bound,
            max_active,
        }
    }
}

fn deliver<Out: 'static>(sink: &mut impl FnMut(Result<Out, StageFailure>), seq: u64, item: Item) {
    match item {
        Ok(v) => match v.downcast::<Out>() {
            Ok(v) => sink(Ok(*v)),
            Err(_) => sink(Err(StageFailure {
                seq,
                stage: "output".into(),
                error: JobError("pipeline produced an item of the wrong type".into()),
            })),
        },
        Err((stage, error)) => sink(Err(StageFailure { seq, stage, error })),
    }
}
