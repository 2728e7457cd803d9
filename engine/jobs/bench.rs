//! Job-system benchmarks (`tutti bench jobs`, `benches/jobs.rs`): every workload runs on tutti and
//! on a plain-rayon baseline in the same run. DAG baselines use atomic in-degree counters with
//! `scope.spawn`; the tree baseline uses `rayon::join`.

use super::{Executor, GraphBuilder, JobFn, JobGraph, Priority};
use rayon::prelude::*;
use serde::Serialize;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One result row: a workload at one body size, on tutti and on the rayon baseline.
#[derive(Debug, Clone, Serialize, Default)]
pub struct JobsRow {
    /// Workload name (`wavefront_256`, `chain_10000`, `tree_65536`, `engine_frame`).
    pub workload: String,
    /// Approximate body duration, ns.
    pub body_ns: u64,
    /// Worker threads.
    pub threads: usize,
    /// Tasks per run.
    pub tasks: usize,
    /// tutti, prebuilt graph re-run, ns per task (median).
    pub tutti_ns_per_task: f64,
    /// tutti, first run including graph building, ns per task.
    pub tutti_build_and_run_ns_per_task: f64,
    /// Graph building alone, ns per task.
    pub build_ns_per_task: f64,
    /// rayon baseline, ns per task (median).
    pub rayon_ns_per_task: f64,
    /// tutti / rayon (prebuilt).
    pub ratio: f64,
    /// Speedup of tutti at `threads` over tutti at 1 thread (wavefront rows only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speedup_vs_1_thread: Option<f64>,
    /// Engine frame: p50 frame time, µs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame_p50_us: Option<f64>,
    /// Engine frame: p99 frame time, µs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame_p99_us: Option<f64>,
    /// Engine frame: p99 start latency of the injected high-priority job, µs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub high_priority_p99_us: Option<f64>,
    /// Engine frame, rayon baseline: p50 frame time, µs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rayon_frame_p50_us: Option<f64>,
    /// Engine frame, rayon baseline: p99 start latency of the injected job (`rayon::spawn`), µs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rayon_high_priority_p99_us: Option<f64>,
}

/// Busy-wait for about `ns` nanoseconds (0: nothing).
#[inline]
pub fn spin(ns: u64) {
    if ns == 0 {
        return;
    }
    let t = Instant::now();
    while (t.elapsed().as_nanos() as u64) < ns {
        std::hint::spin_loop();
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn percentile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// Shape of a DAG workload: task count and each task's dependents.
trait Dag: Sync {
    fn len(&self) -> usize;
    fn dependents(&self, i: usize, out: &mut Vec<usize>);
    fn indegree(&self, i: usize) -> u32;
}

struct Wavefront(usize);
impl Dag for Wavefront {
    fn len(&self) -> usize {
        self.0 * self.0
    }
    fn dependents(&self, i: usize, out: &mut Vec<usize>) {
        let (r, c) = (i / self.0, i % self.0);
        if c + 1 < self.0 {
            out.push(i + 1);
        }
        if r + 1 < self.0 {
            out.push(i + self.0);
        }
    }
    fn indegree(&self, i: usize) -> u32 {
        u32::from(!i.is_multiple_of(self.0)) + u32::from(i / self.0 > 0)
    }
}

struct Chain(usize);
impl Dag for Chain {
    fn len(&self) -> usize {
        self.0
    }
    fn dependents(&self, i: usize, out: &mut Vec<usize>) {
        if i + 1 < self.0 {
            out.push(i + 1);
        }
    }
    fn indegree(&self, i: usize) -> u32 {
        u32::from(i > 0)
    }
}

/// Binary reduction tree: node i (heap order) runs after its children 2i+1 and 2i+2.
struct Tree(usize);
impl Dag for Tree {
    fn len(&self) -> usize {
        self.0
    }
    fn dependents(&self, i: usize, out: &mut Vec<usize>) {
        if i > 0 {
            out.push((i - 1) / 2);
        }
    }
    fn indegree(&self, i: usize) -> u32 {
        u32::from(2 * i + 1 < self.0) + u32::from(2 * i + 2 < self.0)
    }
}

fn build_graph(dag: &dyn Dag, body_ns: u64) -> JobGraph {
    let body: JobFn = Arc::new(move |_| {
        spin(body_ns);
        Ok(())
    });
    let mut g = GraphBuilder::new();
    for _ in 0..dag.len() {
        g.add_shared("task", Priority::Normal, body.clone());
    }
    let mut deps = Vec::new();
    for i in 0..dag.len() {
        deps.clear();
        dag.dependents(i, &mut deps);
        for &d in &deps {
            g.depends(super::JobId(d), super::JobId(i));
        }
    }
    g.build().expect("benchmark DAGs are acyclic")
}

/// The rayon baseline for a DAG: atomic in-degree counters and `scope.spawn`.
fn rayon_dag(pool: &rayon::ThreadPool, dag: &dyn Dag, body_ns: u64) {
    let indeg: Vec<AtomicU32> = (0..dag.len())
        .map(|i| AtomicU32::new(dag.indegree(i)))
        .collect();
    fn go<'s>(
        s: &rayon::Scope<'s>,
        dag: &'s dyn Dag,
        indeg: &'s [AtomicU32],
        i: usize,
        body_ns: u64,
    ) {
        spin(body_ns);
        let mut deps = Vec::with_capacity(2);
        dag.dependents(i, &mut deps);
        for d in deps {
            if indeg[d].fetch_sub(1, Relaxed) == 1 {
                s.spawn(move |s| go(s, dag, indeg, d, body_ns));
            }
        }
    }
    let indeg_ref = &indeg;
    pool.scope(|s| {
        for i in (0..dag.len()).filter(|&i| dag.indegree(i) == 0) {
            s.spawn(move |s| go(s, dag, indeg_ref, i, body_ns));
        }
    });
}

fn rayon_tree(pool: &rayon::ThreadPool, nodes: usize, body_ns: u64) {
    fn node(i: usize, n: usize, body_ns: u64) {
        let (l, r) = (2 * i + 1, 2 * i + 2);
        match (l < n, r < n) {
            (true, true) => {
                rayon::join(|| node(l, n, body_ns), || node(r, n, body_ns));
            }
            (true, false) => node(l, n, body_ns),
            _ => {}
        }
        spin(body_ns);
    }
    pool.install(|| node(0, nodes, body_ns));
}

fn dag_row(
    name: &str,
    dag: &dyn Dag,
    body_ns: u64,
    threads: usize,
    reps: usize,
    is_tree: bool,
) -> JobsRow {
    let exec = Executor::with_workers(threads).expect("executor");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("rayon pool");
    let n = dag.len() as f64;
    let t0 = Instant::now();
    let graph = build_graph(dag, body_ns);
    let build = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    assert!(exec.run(&graph).ok());
    let first = t1.elapsed().as_secs_f64();
    let mut tutti = Vec::new();
    let mut base = Vec::new();
    for _ in 0..reps {
        let t = Instant::now();
        let r = exec.run(&graph);
        tutti.push(t.elapsed().as_secs_f64());
        debug_assert!(r.ok());
        let t = Instant::now();
        if is_tree {
            rayon_tree(&pool, dag.len(), body_ns);
        } else {
            rayon_dag(&pool, dag, body_ns);
        }
        base.push(t.elapsed().as_secs_f64());
    }
    let tutti = median(tutti) * 1e9 / n;
    let rayon = median(base) * 1e9 / n;
    JobsRow {
        workload: name.to_string(),
        body_ns,
        threads,
        tasks: dag.len(),
        tutti_ns_per_task: tutti,
        tutti_build_and_run_ns_per_task: (build + first) * 1e9 / n,
        build_ns_per_task: build * 1e9 / n,
        rayon_ns_per_task: rayon,
        ratio: tutti / rayon,
        ..Default::default()
    }
}

/// Avatars per animation job in the engine frame: 2 keeps every job under ~40 µs, the bound on
/// how long a newly ready critical job can wait for a worker (jobs are not preempted).
const AVATARS_PER_JOB: usize = 2;

/// The engine-frame workload: 1000 avatars of 5-20 µs animation work in batches, 64 voice
/// jobs then a mix, an environment parallel-for of 32 chunks, and one critical job injected
/// mid-frame from another thread. Returns the row (frames x jobs as tasks).
fn engine_frame_row(threads: usize, frames: usize, body_scale: f64) -> JobsRow {
    let exec = Executor::with_workers(threads).expect("executor");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("rayon pool");
    let avatar_ns: Arc<Vec<u64>> = Arc::new(
        (0..1000u64)
            .map(|i| ((5_000 + (i * 7919) % 15_000) as f64 * body_scale) as u64)
            .collect(),
    );
    let voice_ns = (8_000.0 * body_scale) as u64;
    let env_ns = (20_000.0 * body_scale) as u64;
    let done_anim = Arc::new(AtomicU64::new(0));
    let mut g = GraphBuilder::new();
    let mut anim = Vec::new();
    let batches = 1000 / AVATARS_PER_JOB;
    for b in 0..batches {
        let a = avatar_ns.clone();
        let d = done_anim.clone();
        anim.push(g.add(format!("animate[{b}]"), Priority::High, move |_| {
            for i in b * AVATARS_PER_JOB..(b + 1) * AVATARS_PER_JOB {
                spin(a[i]);
            }
            d.fetch_add(1, Relaxed);
            Ok(())
        }));
    }
    let mut voices = Vec::new();
    for v in 0..64 {
        voices.push(g.add(format!("voice[{v}]"), Priority::Normal, move |_| {
            spin(voice_ns);
            Ok(())
        }));
    }
    let mix = g.add("mix", Priority::High, move |_| {
        spin(voice_ns);
        Ok(())
    });
    for v in &voices {
        g.depends(mix, *v);
    }
    for c in 0..32 {
        g.add(format!("environment[{c}]"), Priority::Normal, move |_| {
            spin(env_ns);
            Ok(())
        });
    }
    let graph = g.build().expect("frame graph");
    let tasks = graph.len();
    let stamp = Arc::new(Mutex::new(None::<Instant>));
    let urgent = {
        let mut g = GraphBuilder::new();
        let s = stamp.clone();
        g.add("urgent", Priority::Critical, move |_| {
            *s.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
            Ok(())
        });
        g.build().expect("urgent graph")
    };
    let mut frame_us = Vec::new();
    let mut latency_us = Vec::new();
    for _ in 0..frames {
        done_anim.store(0, Relaxed);
        let t = Instant::now();
        let h = exec.submit(&graph);
        // Inject mid-frame: once half the animation batches are done (every worker busy).
        while done_anim.load(Relaxed) < (batches / 2) as u64 && !h.is_done() {
            std::hint::spin_loop();
        }
        let submitted = Instant::now();
        let u = exec.submit(&urgent);
        let r = h.wait();
        let _ = u.wait();
        frame_us.push(t.elapsed().as_secs_f64() * 1e6);
        if let Some(started) = stamp.lock().unwrap_or_else(|e| e.into_inner()).take() {
            latency_us.push(started.duration_since(submitted).as_secs_f64() * 1e6);
        }
        debug_assert!(r.ok());
    }
    // rayon baseline: the same work with scope + par_iter, the injected job via pool.spawn.
    let mut rayon_frame_us = Vec::new();
    let mut rayon_latency_us = Vec::new();
    for _ in 0..frames {
        let t = Instant::now();
        let done = AtomicU64::new(0);
        let started = Arc::new(Mutex::new(None::<Instant>));
        let mut submitted = None;
        pool.scope(|s| {
            s.spawn(|_| {
                (0..batches).into_par_iter().for_each(|b| {
                    for i in b * AVATARS_PER_JOB..(b + 1) * AVATARS_PER_JOB {
                        spin(avatar_ns[i]);
                    }
                    done.fetch_add(1, Relaxed);
                })
            });
            s.spawn(|_| {
                (0..64).into_par_iter().for_each(|_| spin(voice_ns));
                spin(voice_ns);
            });
            s.spawn(|_| (0..32).into_par_iter().for_each(|_| spin(env_ns)));
            while done.load(Relaxed) < (batches / 2) as u64 {
                std::hint::spin_loop();
            }
            submitted = Some(Instant::now());
            let st = started.clone();
            s.spawn(move |_| *st.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now()));
        });
        rayon_frame_us.push(t.elapsed().as_secs_f64() * 1e6);
        if let (Some(a), Some(b)) = (
            submitted,
            *started.lock().unwrap_or_else(|e| e.into_inner()),
        ) {
            rayon_latency_us.push(b.saturating_duration_since(a).as_secs_f64() * 1e6);
        }
    }
    let p50 = percentile(&mut frame_us, 0.5);
    let rp50 = percentile(&mut rayon_frame_us, 0.5);
    JobsRow {
        workload: "engine_frame".into(),
        body_ns: (12_500.0 * body_scale) as u64,
        threads,
        tasks,
        tutti_ns_per_task: p50 * 1e3 / tasks as f64,
        tutti_build_and_run_ns_per_task: p50 * 1e3 / tasks as f64,
        build_ns_per_task: 0.0,
        rayon_ns_per_task: rp50 * 1e3 / tasks as f64,
        ratio: p50 / rp50,
        frame_p50_us: Some(p50),
        frame_p99_us: Some(percentile(&mut frame_us, 0.99)),
        high_priority_p99_us: (!latency_us.is_empty()).then(|| percentile(&mut latency_us, 0.99)),
        rayon_frame_p50_us: Some(rp50),
        rayon_high_priority_p99_us: (!rayon_latency_us.is_empty())
            .then(|| percentile(&mut rayon_latency_us, 0.99)),
        ..Default::default()
    }
}

/// How much of the suite to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SuiteSize {
    /// Tiny sizes and one repetition: checks that every workload runs (tests), measures little.
    Smoke,
    /// The small sizes (well under a minute on two cores).
    Quick,
    /// Every size.
    #[default]
    Full,
}

/// Results of `tutti bench jobs`: one row per workload and body size.
#[derive(Debug, Clone, Serialize)]
pub struct JobsBench {
    /// Worker threads of tutti and of the rayon baseline.
    pub threads: usize,
    /// The rows, in the order they ran.
    pub rows: Vec<JobsRow>,
}

impl JobsBench {
    /// The rows as a JSON array, one object per workload and body size
    /// (`tutti bench jobs --json`).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.rows).unwrap_or_default()
    }
}

impl std::fmt::Display for JobsRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:<24} {:>8} {:>9} {:>12.1} {:>12.1} {:>7.2} {:>12.1}",
            self.workload,
            self.body_ns,
            self.tasks,
            self.tutti_ns_per_task,
            self.rayon_ns_per_task,
            self.ratio,
            self.build_ns_per_task
        )?;
        if let Some(s) = self.speedup_vs_1_thread {
            write!(f, "  speedup vs 1 thread {s:.2}x")?;
        }
        if let (Some(p50), Some(p99), Some(h)) = (
            self.frame_p50_us,
            self.frame_p99_us,
            self.high_priority_p99_us,
        ) {
            write!(
                f,
                "  frame p50 {p50:.0} us p99 {p99:.0} us (rayon p50 {:.0} us); high-priority start p99 {h:.1} us (rayon spawn {:.1} us)",
                self.rayon_frame_p50_us.unwrap_or(0.0),
                self.rayon_high_priority_p99_us.unwrap_or(0.0)
            )?;
        }
        Ok(())
    }
}

impl std::fmt::Display for JobsBench {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "job system vs plain rayon, {} threads (ns per task; ratio = tutti / rayon, prebuilt graph)",
            self.threads
        )?;
        write!(
            f,
            "{:<24} {:>8} {:>9} {:>12} {:>12} {:>7} {:>12}",
            "workload", "body_ns", "tasks", "tutti", "rayon", "ratio", "build"
        )?;
        for r in &self.rows {
            write!(f, "\n{r}")?;
        }
        Ok(())
    }
}

/// Run the suite at `size` on `threads` workers; `progress` sees each row as it is measured.
pub fn run_suite(threads: usize, size: SuiteSize, mut progress: impl FnMut(&JobsRow)) -> JobsBench {
    let bodies: [u64; 3] = [0, 1_000, 10_000];
    let reps = match size {
        SuiteSize::Smoke => 1,
        SuiteSize::Quick => 3,
        SuiteSize::Full => 5,
    };
    let mut rows = Vec::new();
    let mut push = |r: JobsRow, rows: &mut Vec<JobsRow>| {
        progress(&r);
        rows.push(r);
    };
    let (wave_sizes, chain_sizes, tree_sizes): (&[usize], &[usize], &[usize]) = match size {
        SuiteSize::Smoke => (&[16], &[500], &[1 << 10]),
        SuiteSize::Quick => (&[100, 256], &[10_000], &[1 << 16]),
        SuiteSize::Full => (&[100, 256, 1024], &[10_000, 1_000_000], &[1 << 16, 1 << 20]),
    };
    for &body in &bodies {
        for &b in wave_sizes {
            // Keep the long runs affordable: 10 µs bodies on the 1024² wavefront take ~5 s a rep.
            let r = if b >= 1024 && body > 0 { 1 } else { reps };
            push(
                dag_row(
                    &format!("wavefront_{b}"),
                    &Wavefront(b),
                    body,
                    threads,
                    r,
                    false,
                ),
                &mut rows,
            );
        }
        for &n in chain_sizes {
            let r = if n >= 1_000_000 && body > 0 { 1 } else { reps };
            push(
                dag_row(&format!("chain_{n}"), &Chain(n), body, threads, r, false),
                &mut rows,
            );
        }
        for &n in tree_sizes {
            let r = if n >= 1 << 20 && body > 0 { 1 } else { reps };
            push(
                dag_row(&format!("tree_{n}"), &Tree(n), body, threads, r, true),
                &mut rows,
            );
        }
    }
    // Scaling: wavefront 256 with ~1.5 µs bodies at 1 thread vs `threads`.
    let side = if size == SuiteSize::Smoke { 32 } else { 256 };
    let name = format!("wavefront_{side}_scaling");
    let one = dag_row(&name, &Wavefront(side), 1_500, 1, reps, false);
    let mut many = dag_row(&name, &Wavefront(side), 1_500, threads, reps, false);
    many.speedup_vs_1_thread = Some(one.tutti_ns_per_task / many.tutti_ns_per_task);
    push(many, &mut rows);
    let frames = match size {
        SuiteSize::Smoke => 5,
        SuiteSize::Quick => 200,
        SuiteSize::Full => 1000,
    };
    for scale in [0.0, 0.1, 1.0] {
        push(engine_frame_row(threads, frames, scale), &mut rows);
    }
    JobsBench { threads, rows }
}

/// A small fixed workload for the criterion bench: (tutti prebuilt run, rayon baseline).
pub fn wavefront_pair(
    threads: usize,
    b: usize,
    body_ns: u64,
) -> (impl FnMut() -> Duration, impl FnMut() -> Duration) {
    let exec = Executor::with_workers(threads).expect("executor");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool");
    let graph = build_graph(&Wavefront(b), body_ns);
    let wave = Wavefront(b);
    (
        move || {
            let t = Instant::now();
            exec.run(&graph);
            t.elapsed()
        },
        move || {
            let t = Instant::now();
            rayon_dag(&pool, &wave, body_ns);
            t.elapsed()
        },
    )
}
