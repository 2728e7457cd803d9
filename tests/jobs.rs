//! The job system: DAG order, priorities, retries, timeouts, cancellation, panics, cycles,
//! nested waits, pipelines and batching.

use proptest::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tutti::jobs::{Backoff, Executor, GraphBuilder, GraphError, JobPolicy, JobStatus, Priority};

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    /// Every job runs exactly once, and only after all of its dependencies.
    #[test]
    fn random_dags_run_each_job_once_after_its_dependencies(
        n in 1usize..120,
        edges in proptest::collection::vec((0usize..1000, 0usize..1000), 0..400),
        workers in 1usize..4,
    ) {
        let exec = Executor::with_workers(workers).expect("executor");
        let order = Arc::new(Mutex::new(Vec::new()));
        let runs: Arc<Vec<AtomicUsize>> = Arc::new((0..n).map(|_| AtomicUsize::new(0)).collect());
        let mut g = GraphBuilder::new();
        let ids: Vec<_> = (0..n).map(|i| {
            let order = order.clone();
            let runs = runs.clone();
            g.add(format!("j{i}"), Priority::ALL[i % 4], move |_| {
                runs[i].fetch_add(1, SeqCst);
                order.lock().unwrap().push(i);
                Ok(())
            })
        }).collect();
        // Edges only from higher to lower index: acyclic by construction.
        let mut deps = Vec::new();
        for (a, b) in edges {
            let (a, b) = (a % n, b % n);
            if a > b {
                g.depends(ids[a], ids[b]);
                deps.push((a, b));
            }
        }
        let graph = g.build().expect("acyclic");
        for _ in 0..2 {
            order.lock().unwrap().clear();
            for r in runs.iter() { r.store(0, SeqCst); }
            let report = exec.run(&graph);
            prop_assert!(report.ok());
            prop_assert!(runs.iter().all(|r| r.load(SeqCst) == 1));
            let order = order.lock().unwrap();
            let pos: Vec<usize> = { let mut p = vec![0; n]; for (k, &j) in order.iter().enumerate() { p[j] = k; } p };
            for &(a, b) in &deps {
                prop_assert!(pos[b] < pos[a], "job {} ran before its dependency {}", a, b);
            }
        }
    }
}

#[test]
fn with_one_worker_ready_high_priority_jobs_run_first() {
    let exec = Executor::with_workers(1).expect("executor");
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut g = GraphBuilder::new();
    // A gate job makes all others ready at once when it finishes.
    let gate = g.add("gate", Priority::Normal, |_| Ok(()));
    for (name, p) in [
        ("bg", Priority::Background),
        ("normal", Priority::Normal),
        ("crit", Priority::Critical),
        ("high", Priority::High),
        ("bg2", Priority::Background),
        ("crit2", Priority::Critical),
    ] {
        let order = order.clone();
        let j = g.add(name, p, move |_| {
            order.lock().unwrap().push(name);
            Ok(())
        });
        g.depends(j, gate);
    }
    let report = exec.run(&g.build().expect("graph"));
    assert!(report.ok());
    let order = order.lock().unwrap().clone();
    let rank = |n: &str| match n {
        "crit" | "crit2" => 0,
        "high" => 1,
        "normal" => 2,
        _ => 3,
    };
    let ranks: Vec<u8> = order.iter().map(|n| rank(n)).collect();
    assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "order {order:?}");
}

#[test]
fn priority_can_be_raised_after_submission() {
    let exec = Executor::with_workers(1).expect("executor");
    let order = Arc::new(Mutex::new(Vec::new()));
    let release = Arc::new(std::sync::Barrier::new(2));
    let mut g = GraphBuilder::new();
    let r2 = release.clone();
    let blocker = g.add("blocker", Priority::Critical, move |_| {
        r2.wait();
        std::thread::sleep(Duration::from_millis(20));
        Ok(())
    });
    let mut late = None;
    for i in 0..5 {
        let order = order.clone();
        let name = format!("bg{i}");
        let j = g.add(name.clone(), Priority::Background, move |_| {
            order.lock().unwrap().push(name.clone());
            Ok(())
        });
        g.depends(j, blocker);
        late = Some(j);
    }
    let late = late.expect("jobs");
    let handle = exec.submit(&g.build().expect("graph"));
    release.wait();
    // While the only worker is busy, nothing else is ready yet: raise after the blocker ends.
    std::thread::sleep(Duration::from_millis(1));
    handle.raise_priority(late, Priority::Critical);
    let report = handle.wait();
    assert!(report.ok());
    assert_eq!(report.jobs[late.0].priority, Priority::Critical);
    assert_eq!(
        order.lock().unwrap()[0],
        "bg4",
        "{:?}",
        order.lock().unwrap()
    );
}

#[test]
fn retries_back_off_within_bounds_and_honour_the_count() {
    let exec = Executor::with_workers(2).expect("executor");
    let attempts = Arc::new(Mutex::new(Vec::new()));
    let mut g = GraphBuilder::new();
    let a2 = attempts.clone();
    let flaky = g.add("flaky", Priority::Normal, move |ctx| {
        a2.lock().unwrap().push((ctx.attempt(), Instant::now()));
        if ctx.attempt() < 4 {
            Err("not yet".into())
        } else {
            Ok(())
        }
    });
    let backoff = Backoff {
        base: Duration::from_millis(20),
        max: Duration::from_millis(50),
        jitter: 0.5,
    };
    g.set_policy(
        flaky,
        JobPolicy {
            retries: 3,
            backoff,
            timeout: None,
        },
    );
    let a3 = attempts.clone();
    let doomed = g.add("doomed", Priority::Normal, move |_| {
        let _ = &a3;
        Err("always".into())
    });
    g.set_policy(
        doomed,
        JobPolicy {
            retries: 2,
            backoff: Backoff {
                base: Duration::from_millis(1),
                ..backoff
            },
            timeout: None,
        },
    );
    let report = exec.run(&g.build().expect("graph"));
    let f = report.job("flaky").expect("flaky");
    assert_eq!(f.status, JobStatus::Ok);
    assert_eq!(f.retries, 3);
    let d = report.job("doomed").expect("doomed");
    assert_eq!(d.status, JobStatus::Failed("always".into()));
    assert_eq!(d.retries, 2);
    let times = attempts.lock().unwrap().clone();
    assert_eq!(times.len(), 4);
    for (k, w) in times.windows(2).enumerate() {
        let gap = w[1].1 - w[0].1;
        let full = backoff.delay(k as u32 + 1, 0.0);
        assert!(
            gap >= full / 2,
            "retry {}: waited {gap:?}, at least {:?}",
            k + 1,
            full / 2
        );
        assert!(
            gap <= full + Duration::from_millis(150),
            "retry {}: waited {gap:?}, at most {full:?} plus scheduling",
            k + 1
        );
    }
}

#[test]
fn waiting_retries_do_not_occupy_workers() {
    let exec = Executor::with_workers(1).expect("executor");
    let mut g = GraphBuilder::new();
    let slow_retry = g.add("slow_retry", Priority::Normal, |ctx| {
        if ctx.attempt() == 1 {
            Err("again".into())
        } else {
            Ok(())
        }
    });
    g.set_policy(
        slow_retry,
        JobPolicy {
            retries: 1,
            backoff: Backoff {
                base: Duration::from_millis(1500),
                max: Duration::from_millis(1500),
                jitter: 0.0,
            },
            timeout: None,
        },
    );
    let done = Arc::new(Mutex::new(None));
    let d2 = done.clone();
    g.add("other", Priority::Normal, move |_| {
        std::thread::sleep(Duration::from_millis(5));
        *d2.lock().unwrap() = Some(Instant::now());
        Ok(())
    });
    let start = Instant::now();
    let report = exec.run(&g.build().expect("graph"));
    assert!(report.ok());
    let other_done = done.lock().unwrap().expect("ran") - start;
    assert!(
        other_done < Duration::from_millis(1000),
        "the single worker was blocked by a waiting retry: {other_done:?}"
    );
}

#[test]
fn a_timeout_cancels_the_job_and_its_dependents() {
    let exec = Executor::with_workers(2).expect("executor");
    let mut g = GraphBuilder::new();
    let slow = g.add("slow", Priority::Normal, |ctx| {
        while !ctx.is_cancelled() {
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    });
    g.set_policy(
        slow,
        JobPolicy {
            timeout: Some(Duration::from_millis(30)),
            ..Default::default()
        },
    );
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let after = g.add("after", Priority::Normal, move |_| {
        r.fetch_add(1, SeqCst);
        Ok(())
    });
    g.depends(after, slow);
    let r = ran.clone();
    let after2 = g.add("after2", Priority::Normal, move |_| {
        r.fetch_add(1, SeqCst);
        Ok(())
    });
    g.depends(after2, after);
    let independent = g.add("independent", Priority::Normal, |_| Ok(()));
    let _ = independent;
    let report = exec.run(&g.build().expect("graph"));
    assert_eq!(
        report.job("slow").expect("slow").status,
        JobStatus::TimedOut
    );
    assert_eq!(
        report.job("after").expect("after").status,
        JobStatus::Cancelled("dependency \"slow\" timed out".into())
    );
    assert!(
        matches!(&report.job("after2").expect("after2").status, JobStatus::Cancelled(r) if r.contains("after"))
    );
    assert_eq!(
        report.job("independent").expect("independent").status,
        JobStatus::Ok
    );
    assert_eq!(ran.load(SeqCst), 0);
}

#[test]
fn cancelling_a_run_stops_pending_jobs() {
    let exec = Executor::with_workers(1).expect("executor");
    let started = Arc::new(AtomicUsize::new(0));
    let mut g = GraphBuilder::new();
    let mut prev = None;
    for i in 0..50 {
        let s = started.clone();
        let j = g.add(format!("step{i}"), Priority::Normal, move |ctx| {
            s.fetch_add(1, SeqCst);
            for _ in 0..20 {
                if ctx.is_cancelled() {
                    return Err("stopped".into());
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            Ok(())
        });
        if let Some(p) = prev {
            g.depends(j, p);
        }
        prev = Some(j);
    }
    let handle = exec.submit(&g.build().expect("graph"));
    std::thread::sleep(Duration::from_millis(50));
    handle.cancel();
    let report = handle.wait();
    assert!(report.cancelled);
    let n = started.load(SeqCst);
    assert!(n < 10, "{n} jobs started");
    let cancelled = report
        .jobs
        .iter()
        .filter(|j| matches!(j.status, JobStatus::Cancelled(_)))
        .count();
    assert!(cancelled >= 40, "{cancelled} cancelled");
    assert_eq!(report.jobs.len(), 50);
}

#[test]
fn a_panic_is_that_jobs_failure_and_the_pool_keeps_working() {
    let exec = Executor::with_workers(2).expect("executor");
    let mut g = GraphBuilder::new();
    let bad = g.add("bad", Priority::High, |_| panic!("boom"));
    let after = g.add("after", Priority::Normal, |_| Ok(()));
    g.depends(after, bad);
    let report = exec.run(&g.build().expect("graph"));
    assert_eq!(
        report.job("bad").expect("bad").status,
        JobStatus::Failed("panicked: boom".into())
    );
    assert!(matches!(
        report.job("after").expect("after").status,
        JobStatus::Cancelled(_)
    ));
    let mut g = GraphBuilder::new();
    for i in 0..100 {
        g.add(format!("fine{i}"), Priority::Normal, |_| Ok(()));
    }
    assert!(exec.run(&g.build().expect("graph")).ok());
}

#[test]
fn a_cycle_is_rejected_with_its_jobs_named() {
    let mut g = GraphBuilder::new();
    let a = g.add("load", Priority::Normal, |_| Ok(()));
    let b = g.add("animate", Priority::Normal, |_| Ok(()));
    let c = g.add("render", Priority::Normal, |_| Ok(()));
    let d = g.add("free", Priority::Normal, |_| Ok(()));
    g.depends(b, a).depends(c, b).depends(a, c).depends(d, a);
    match g.build() {
        Err(GraphError::Cycle(names)) => {
            let text = GraphError::Cycle(names.clone()).to_string();
            for n in ["load", "animate", "render"] {
                assert!(names.iter().any(|x| x == n), "{text}");
            }
            assert!(!names.iter().any(|x| x == "free"), "{text}");
            assert_eq!(names.first(), names.last(), "{text}");
        }
        other => panic!("expected a cycle, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn nested_waits_do_not_deadlock_even_with_one_worker() {
    let exec = Executor::with_workers(1).expect("executor");
    let total = Arc::new(AtomicUsize::new(0));
    let inner_graph = {
        let mut g = GraphBuilder::new();
        for i in 0..8 {
            let t = total.clone();
            g.add(format!("inner{i}"), Priority::Normal, move |_| {
                t.fetch_add(1, SeqCst);
                Ok(())
            });
        }
        g.build().expect("inner")
    };
    let mut g = GraphBuilder::new();
    let t = total.clone();
    g.add("parent", Priority::Normal, move |ctx| {
        for i in 0..16 {
            let t = t.clone();
            ctx.spawn(format!("child{i}"), Priority::High, move |c| {
                t.fetch_add(1, SeqCst);
                let t2 = t.clone();
                c.spawn("grandchild", Priority::Normal, move |_| {
                    t2.fetch_add(1, SeqCst);
                    Ok(())
                });
                c.wait_children();
                Ok(())
            });
        }
        ctx.wait_children();
        // All 16 children and their grandchildren are done here.
        assert_eq!(t.load(SeqCst), 32);
        let r = ctx.run_graph(&inner_graph);
        if r.ok() {
            Ok(())
        } else {
            Err("inner run failed".into())
        }
    });
    let (tx, rx) = std::sync::mpsc::channel();
    let graph = g.build().expect("graph");
    let e2 = exec.clone();
    std::thread::spawn(move || {
        let _ = tx.send(e2.run(&graph));
    });
    let report = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("deadlock: the run did not finish");
    assert!(
        report.ok(),
        "{:?}",
        report
            .jobs
            .iter()
            .filter(|j| j.status != JobStatus::Ok)
            .collect::<Vec<_>>()
    );
    assert_eq!(total.load(SeqCst), 40);
    assert_eq!(report.jobs.iter().filter(|j| j.child).count(), 32);
}

#[test]
fn reports_and_live_metrics() {
    let exec = Executor::with_workers(2).expect("executor");
    let mut g = GraphBuilder::new();
    for i in 0..200 {
        g.add(
            format!("j{i}"),
            if i % 2 == 0 {
                Priority::High
            } else {
                Priority::Background
            },
            |_| {
                std::thread::sleep(Duration::from_micros(200));
                Ok(())
            },
        );
    }
    let handle = exec.submit(&g.build().expect("graph"));
    // Live counters are readable while the run goes on.
    let mut seen_running = false;
    while !handle.is_done() {
        let live = exec.metrics();
        assert!(live.completed <= 200 && live.running <= 2);
        seen_running |= live.started > 0 && live.completed < 200;
        std::thread::sleep(Duration::from_micros(500));
    }
    assert!(seen_running, "never observed the run in progress");
    let report = handle.wait();
    assert!(report.ok());
    assert!(report.jobs_per_sec() > 0.0);
    assert!(
        report.utilisation() > 0.3 && report.utilisation() <= 1.05,
        "{}",
        report.utilisation()
    );
    let (p50, p99) = report
        .latency_percentiles(Priority::High)
        .expect("high jobs");
    let (bp50, _) = report
        .latency_percentiles(Priority::Background)
        .expect("background jobs");
    assert!(p50 <= p99);
    assert!(
        p50 < bp50,
        "high-priority jobs should wait less: {p50:?} vs {bp50:?}"
    );
    let m = exec.metrics();
    assert_eq!(m.completed, 200);
    assert_eq!(m.queued, [0; 4]);
}

/// Background jobs made ready while the only worker runs a 60 ms critical job wait at least
/// that long: the live p99 start latency of their priority shows it, the critical job (which
/// started inline the moment it was ready) does not, and the profile is the configured one.
#[test]
fn live_metrics_show_p99_start_latency_per_priority_and_the_profile() {
    use tutti::jobs::{ExecutorConfig, Profile};
    const HOLD: Duration = Duration::from_millis(60);
    let exec = Executor::new(ExecutorConfig {
        profile: Profile::Balanced,
        workers: Some(1),
    })
    .expect("executor");
    let before = exec.metrics();
    assert_eq!(before.profile, Profile::Balanced);
    assert_eq!(before.profile.name(), "balanced");
    assert_eq!(before.start_latency_p99_s, [None; 4]);
    let mut g = GraphBuilder::new();
    let gate = g.add("gate", Priority::Normal, |_| Ok(()));
    let hold = g.add("hold", Priority::Critical, |_| {
        std::thread::sleep(HOLD);
        Ok(())
    });
    g.depends(hold, gate);
    for i in 0..20 {
        let j = g.add(format!("late{i}"), Priority::Background, |_| Ok(()));
        g.depends(j, gate);
    }
    assert!(exec.run(&g.build().expect("graph")).ok());
    let m = exec.metrics();
    assert_eq!(m.first_starts, [20, 1, 0, 1]);
    let background = m.start_latency_p99_s[Priority::Background as usize].expect("background");
    assert!(
        background >= HOLD.as_secs_f64(),
        "background p99 start latency {background} s, expected at least {HOLD:?}"
    );
    let critical = m.start_latency_p99_s[Priority::Critical as usize].expect("critical");
    assert!(critical < HOLD.as_secs_f64() / 2.0, "critical {critical} s");
    assert_eq!(m.start_latency_p99_s[Priority::High as usize], None);
    // The snapshot serialises the profile by name and the latencies per priority.
    let json = serde_json::to_value(&m).expect("json");
    assert_eq!(json["profile"], "balanced");
    assert_eq!(json["start_latency_p99_s"][2], serde_json::Value::Null);
    // The rolling rate counts only the jobs between the two snapshots.
    assert!((m.rate_since(&before) - 22.0 / (m.uptime_s - before.uptime_s)).abs() < 1e-6);
}

#[test]
fn a_pipeline_under_backpressure_never_holds_more_than_its_bounds() {
    use tutti::jobs::pipeline::{Order, PipelineBuilder};
    let exec = Executor::with_workers(2).expect("executor");
    let inside = Arc::new(AtomicUsize::new(0));
    let max_inside = Arc::new(AtomicUsize::new(0));
    for order in [Order::Ordered, Order::Unordered] {
        let pipeline = PipelineBuilder::<u64, u64>::new()
            .stage("parse", 2, |x: u64| Ok(x * 2))
            .stage("slow", 1, |x: u64| {
                std::thread::sleep(Duration::from_micros(300));
                Ok(x + 1)
            })
            .stage("format", 3, |x: u64| {
                if x == 41 {
                    Err("forty-one".into())
                } else {
                    Ok(format!("{x}"))
                }
            })
            .build(4, order);
        let (i2, m2) = (inside.clone(), max_inside.clone());
        let mut out = Vec::new();
        let mut errors = Vec::new();
        let stats = pipeline.run(
            &exec,
            (0..200u64).inspect(move |_| {
                let now = i2.fetch_add(1, SeqCst) + 1;
                m2.fetch_max(now, SeqCst);
            }),
            |r| {
                inside.fetch_sub(1, SeqCst);
                match r {
                    Ok(s) => out.push(s),
                    Err(e) => errors.push(e),
                }
            },
        );
        assert_eq!(stats.items, 200);
        assert!(stats.max_in_flight <= stats.bound, "{stats:?}");
        assert!(
            max_inside.load(SeqCst) <= stats.bound + 1,
            "{} inside, bound {}",
            max_inside.load(SeqCst),
            stats.bound
        );
        assert!(
            stats.max_active[1] <= 1 && stats.max_active[0] <= 2 && stats.max_active[2] <= 3,
            "{stats:?}"
        );
        assert_eq!(errors.len(), 1);
        assert_eq!((errors[0].seq, errors[0].stage.as_str()), (20, "format"));
        assert_eq!(out.len(), 199);
        if order == Order::Ordered {
            let expect: Vec<String> = (0..200u64)
                .filter(|&x| x != 20)
                .map(|x| format!("{}", x * 2 + 1))
                .collect();
            assert_eq!(out, expect);
        }
        max_inside.store(0, SeqCst);
    }
}

#[test]
fn the_batcher_groups_by_count_and_by_time() {
    use tutti::jobs::batch::Batcher;
    let batches = Arc::new(Mutex::new(Vec::<Vec<u32>>::new()));
    let b2 = batches.clone();
    let batcher = Batcher::new(10, Duration::from_millis(30), move |b| {
        b2.lock().unwrap().push(b)
    });
    for i in 0..25 {
        batcher.push(i);
    }
    std::thread::sleep(Duration::from_millis(100));
    {
        let got = batches.lock().unwrap();
        assert_eq!(
            got.iter().map(Vec::len).collect::<Vec<_>>(),
            [10, 10, 5],
            "the last 5 leave by time"
        );
    }
    batcher.push(99);
    batcher.finish();
    assert_eq!(batches.lock().unwrap().last().cloned(), Some(vec![99]));
}

#[test]
fn profiles_and_environment_configure_workers() {
    use tutti::jobs::{ExecutorConfig, Profile};
    assert_eq!(Profile::Conservative.workers(8), 1);
    assert_eq!(Profile::Balanced.workers(8), 4);
    assert_eq!(Profile::Performance.workers(8), 8);
    assert_eq!(Profile::Maximum.workers(8), 16);
    assert!(
        "turbo"
            .parse::<Profile>()
            .unwrap_err()
            .to_string()
            .contains("conservative")
    );
    let c = ExecutorConfig {
        profile: Profile::Balanced,
        workers: Some(3),
    };
    assert_eq!(c.worker_count(), 3);
    let exec = Executor::new(ExecutorConfig {
        profile: Profile::Adaptive,
        workers: Some(4),
    })
    .expect("adaptive");
    let mut g = GraphBuilder::new();
    for i in 0..400 {
        g.add(format!("j{i}"), Priority::Normal, |_| {
            std::thread::sleep(Duration::from_micros(100));
            Ok(())
        });
    }
    assert!(exec.run(&g.build().expect("graph")).ok());
    let m = exec.metrics();
    assert!((1..=4).contains(&m.in_flight_limit), "{m:?}");
}

#[test]
fn the_frame_graph_matches_the_rayon_animation() {
    use tutti::scene::FrameGraph;
    let scene = tutti::default_scene(&tutti::AssetLibrary::new()).expect("scene");
    let world = Arc::new(scene.world());
    let exec = Executor::with_workers(2).expect("executor");
    let fg = FrameGraph::new(world.clone(), 3);
    // Animation batches plus the environment job (no job computes what nobody reads).
    assert_eq!(fg.jobs(), world.avatars.len().div_ceil(3) + 1);
    for t in [0.0, 0.4, 1.7] {
        let a = fg.run(&exec, t).expect("frame");
        let b = world.animate(t);
        assert_eq!(a.palettes, b.palettes);
        assert_eq!(a.environment, b.environment);
        assert!((a.environment.to_sun.length() - 1.0).abs() < 1e-5);
        // Writing in place (as into GPU staging memory) gives the same bytes, aligned or not.
        let mut bytes = vec![0u8; world.palette_len * 64 + 16];
        let want: &[u8] = bytemuck::cast_slice(&b.palettes);
        for shift in [0usize, 4] {
            let start = bytes.as_ptr().align_offset(16) + shift;
            let out = &mut bytes[start..start + want.len()];
            fg.run_into(&exec, t, wgpu::WriteOnly::from(&mut *out))
                .expect("frame");
            assert!(out == want, "t={t} shift {shift}: in-place palettes differ");
        }
        // A destination of the wrong size is refused.
        let mut small = [0u8; 64];
        assert!(
            fg.run_into(&exec, t, wgpu::WriteOnly::from(&mut small[..]))
                .is_err()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Issue 9: frame graph soundness, the blocking rule, saturating durations, panics on the pool,
// priority raises against retry backoffs.

/// Run the scenario of test `name` in a child process (this test binary again, filtered to that
/// test), so that a scenario that aborts the process or overflows a stack fails only this test;
/// the child is killed after `timeout`. In the child, `scenario` just runs.
fn in_child_process(name: &str, timeout: Duration, scenario: impl FnOnce()) {
    use std::io::Read;
    use std::process::{Command, Stdio};
    const MARK: &str = "TUTTI_JOBS_CHILD_TEST";
    if std::env::var(MARK).as_deref() == Ok(name) {
        scenario();
        return;
    }
    let exe = std::env::current_exe().expect("the test binary");
    let mut child = Command::new(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(MARK, name)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning the test binary");
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("stdout")));
    let err = drain(Box::new(child.stderr.take().expect("stderr")));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for the child") {
            break Some(status);
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (out, err) = (
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    );
    let tail = |s: &str| s[s.floor_char_boundary(s.len().saturating_sub(3000))..].to_string();
    match status {
        None => panic!(
            "{name}: no result after {timeout:?} (deadlock?)\nstdout:\n{}\nstderr:\n{}",
            tail(&out),
            tail(&err)
        ),
        Some(s) => assert!(
            s.success() && out.contains("1 passed"),
            "{name}: the child process ended with {s}\nstdout:\n{}\nstderr:\n{}",
            tail(&out),
            tail(&err)
        ),
    }
}

/// A world animated on the CPU with at least `avatars` avatars (copies of the default scene's).
fn cpu_world(avatars: usize) -> tutti::World {
    let scene = tutti::default_scene(&tutti::AssetLibrary::new()).expect("scene");
    let mut world = scene.world();
    world.desc.animation = tutti::scene::Animation::Cpu;
    let originals = world.avatars.clone();
    while world.avatars.len() < avatars {
        let mut a = originals[world.avatars.len() % originals.len()].clone();
        a.palette_offset = world.palette_len as u32;
        world.palette_len += world.assets[a.asset].skeleton.bindings.len();
        world.avatars.push(a);
    }
    world
}

/// Worlds whose palette layout would make the animation jobs write outside the palette buffer.
fn broken_worlds() -> Vec<(&'static str, tutti::World)> {
    let good = cpu_world(33);
    assert!(good.avatars.len() >= 33 && good.palette_len > 33);
    let mut v = Vec::new();
    let mut w = good.clone();
    w.palette_len = 1;
    v.push(("palette_len = 1 with 33 avatars", w));
    let mut w = good.clone();
    w.palette_len -= 1;
    v.push(("palette_len one short", w));
    let mut w = good.clone();
    w.avatars[1].palette_offset = w.avatars[0].palette_offset;
    v.push(("overlapping offsets", w));
    let mut w = good.clone();
    w.avatars.swap(3, 4);
    w.avatars[3].palette_offset = good.avatars[4].palette_offset;
    w.avatars[4].palette_offset = good.avatars[3].palette_offset;
    v.push(("offsets out of avatar order", w));
    let mut w = good.clone();
    let last = w.avatars.len() - 1;
    w.avatars[last].palette_offset = u32::MAX;
    v.push(("offset past the end", w));
    let mut w = good.clone();
    w.avatars[2].asset = 1_000;
    v.push(("unknown asset", w));
    v
}

#[test]
fn a_frame_graph_never_writes_outside_its_palette_buffer() {
    in_child_process(
        "a_frame_graph_never_writes_outside_its_palette_buffer",
        Duration::from_secs(120),
        || {
            let exec = Executor::with_workers(2).expect("executor");
            for (what, world) in broken_worlds() {
                let real_len = cpu_world(33).palette_len;
                for batch in [1usize, 4, 32] {
                    let fg = tutti::scene::FrameGraph::new(Arc::new(world.clone()), batch);
                    assert!(fg.run(&exec, 0.5).is_err(), "{what}, batch {batch}: ran");
                    // The destination the graph asks for, inside a larger buffer whose rest
                    // must stay untouched (writes past the destination land there, not in
                    // someone else's heap memory).
                    let len = fg.palette_len() * 64;
                    let mut bytes = vec![0xA5u8; len + real_len * 64 + 4096];
                    let start = bytes.as_ptr().align_offset(16);
                    let result = fg.run_into(
                        &exec,
                        0.5,
                        wgpu::WriteOnly::from(&mut bytes[start..start + len]),
                    );
                    assert!(result.is_err(), "{what}, batch {batch}: ran in place");
                    assert!(
                        bytes[start + len..].iter().all(|&b| b == 0xA5),
                        "{what}, batch {batch}: wrote past the {len}-byte destination"
                    );
                }
            }
            // The pool is fine afterwards, and a sound world still animates.
            let good = Arc::new(cpu_world(33));
            let fg = tutti::scene::FrameGraph::new(good.clone(), 4);
            let anim = fg.run(&exec, 0.5).expect("a sound world animates");
            assert_eq!(anim.palettes, good.animate(0.5).palettes);
        },
    );
}

#[test]
fn frame_graph_try_new_names_the_broken_layout() {
    use tutti::scene::{FrameGraph, FrameGraphError};
    for (what, world) in broken_worlds() {
        match FrameGraph::try_new(Arc::new(world), 32) {
            Err(
                e @ (FrameGraphError::OutOfRange { .. }
                | FrameGraphError::Overlap { .. }
                | FrameGraphError::UnknownAsset { .. }),
            ) => assert!(!e.to_string().is_empty()),
            Err(e) => panic!("{what}: unexpected error {e}"),
            Ok(_) => panic!("{what}: accepted"),
        }
    }
    let mut w = cpu_world(33);
    w.palette_len = 1;
    assert!(matches!(
        FrameGraph::try_new(Arc::new(w), 32),
        Err(FrameGraphError::OutOfRange { len: 1, .. })
    ));
    // Gaps between palettes are sound (written as identity), and GPU-animated worlds have no
    // CPU palettes to check.
    let mut w = cpu_world(5);
    w.palette_len += 3;
    let fg = FrameGraph::try_new(Arc::new(w.clone()), 2).expect("a gap at the end is fine");
    let exec = Executor::with_workers(2).expect("executor");
    let anim = fg.run(&exec, 0.25).expect("frame");
    assert_eq!(anim.palettes.len(), w.palette_len);
    assert!(
        anim.palettes[w.palette_len - 3..]
            .iter()
            .all(|m| *m == glam::Mat4::IDENTITY)
    );
    let mut gpu = cpu_world(5);
    gpu.desc.animation = tutti::scene::Animation::Gpu;
    gpu.palette_len = 0;
    assert_eq!(
        FrameGraph::try_new(Arc::new(gpu), 2)
            .expect("gpu")
            .palette_len(),
        0
    );
}

/// 20,000 jobs that each run a one-job graph and wait for it, on one and on two workers.
fn nested_run_graphs(workers: usize) {
    let exec = Executor::with_workers(workers).expect("executor");
    let inner_runs = Arc::new(AtomicUsize::new(0));
    let inner = {
        let mut g = GraphBuilder::new();
        let n = inner_runs.clone();
        g.add("inner", Priority::Normal, move |_| {
            n.fetch_add(1, SeqCst);
            Ok(())
        });
        g.build().expect("inner")
    };
    let mut g = GraphBuilder::new();
    let body: tutti::jobs::JobFn = Arc::new(move |ctx| {
        if ctx.run_graph(&inner).ok() {
            Ok(())
        } else {
            Err("inner run failed".into())
        }
    });
    for _ in 0..20_000 {
        g.add_shared("outer", Priority::Normal, body.clone());
    }
    let report = exec.run(&g.build().expect("graph"));
    assert!(report.ok());
    assert_eq!(inner_runs.load(SeqCst), 20_000);
}

#[test]
fn twenty_thousand_nested_run_graphs_on_one_worker_keep_the_stack_flat() {
    in_child_process(
        "twenty_thousand_nested_run_graphs_on_one_worker_keep_the_stack_flat",
        Duration::from_secs(120),
        || nested_run_graphs(1),
    );
}

#[test]
fn twenty_thousand_nested_run_graphs_on_two_workers_keep_the_stack_flat() {
    in_child_process(
        "twenty_thousand_nested_run_graphs_on_two_workers_keep_the_stack_flat",
        Duration::from_secs(120),
        || nested_run_graphs(2),
    );
}

#[test]
fn a_high_priority_job_can_wait_for_a_run_whose_job_is_below_it() {
    // One worker. The outer run's job waits for an inner run. While it waits, a critical job of
    // another run becomes ready, and that job waits for the outer run. Were the critical job run
    // on top of the waiting one (as "helping" used to), the outer run could never end.
    let exec = Executor::with_workers(1).expect("executor");
    let outer_handle: Arc<std::sync::OnceLock<tutti::jobs::RunHandle>> = Arc::default();
    let critical_queued = Arc::new(std::sync::Barrier::new(2));
    let order = Arc::new(Mutex::new(Vec::new()));
    let inner = {
        let mut g = GraphBuilder::new();
        let o = order.clone();
        g.add("inner", Priority::Normal, move |_| {
            o.lock().unwrap().push("inner");
            Ok(())
        });
        g.build().expect("inner")
    };
    let mut g = GraphBuilder::new();
    let (o, q) = (order.clone(), critical_queued.clone());
    g.add("outer", Priority::Normal, move |ctx| {
        q.wait(); // running
        q.wait(); // the critical run is submitted and queued now
        let r = ctx.run_graph(&inner);
        o.lock().unwrap().push("outer");
        if r.ok() {
            Ok(())
        } else {
            Err("inner failed".into())
        }
    });
    let outer = g.build().expect("outer");
    let mut g = GraphBuilder::new();
    let (o, h) = (order.clone(), outer_handle.clone());
    g.add("critical", Priority::Critical, move |_| {
        let report = h.get().expect("outer handle").wait();
        o.lock().unwrap().push("critical");
        if report.ok() {
            Ok(())
        } else {
            Err("outer failed".into())
        }
    });
    let critical = g.build().expect("critical");
    let (tx, rx) = std::sync::mpsc::channel();
    let e2 = exec.clone();
    std::thread::spawn(move || {
        let _ = outer_handle.set(e2.submit(&outer));
        critical_queued.wait();
        let c = e2.submit(&critical);
        critical_queued.wait();
        let _ = tx.send(c.wait());
    });
    let report = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("deadlock: the critical job waiting for the outer run never returned");
    assert!(report.ok(), "{:?}", report.jobs);
    assert_eq!(*order.lock().unwrap(), ["inner", "outer", "critical"]);
}

#[test]
fn a_waiting_job_runs_only_what_it_waits_for() {
    // One worker: while a job waits for its children and for a nested run, a ready job of
    // another run must not start on its stack; it starts after the waiting job ends.
    let exec = Executor::with_workers(1).expect("executor");
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let gate = Arc::new(std::sync::Barrier::new(2));
    let inner = {
        let mut g = GraphBuilder::new();
        let l = log.clone();
        g.add("nested", Priority::Background, move |_| {
            l.lock().unwrap().push("nested".into());
            Ok(())
        });
        g.build().expect("inner")
    };
    let mut g = GraphBuilder::new();
    let (l, gt) = (log.clone(), gate.clone());
    g.add("waiter", Priority::Background, move |ctx| {
        gt.wait(); // running
        gt.wait(); // the other run is queued now
        for i in 0..3 {
            let l = l.clone();
            ctx.spawn(format!("child{i}"), Priority::Background, move |_| {
                l.lock().unwrap().push(format!("child{i}"));
                Ok(())
            });
        }
        ctx.wait_children();
        assert!(ctx.run_graph(&inner).ok());
        l.lock().unwrap().push("waiter done".into());
        Ok(())
    });
    let waiter = g.build().expect("waiter");
    let mut g = GraphBuilder::new();
    let l = log.clone();
    g.add("unrelated", Priority::Critical, move |_| {
        l.lock().unwrap().push("unrelated".into());
        Ok(())
    });
    let unrelated = g.build().expect("unrelated");
    let h = exec.submit(&waiter);
    gate.wait();
    let u = exec.submit(&unrelated);
    gate.wait();
    assert!(h.wait().ok());
    assert!(u.wait().ok());
    let log = log.lock().unwrap().clone();
    assert_eq!(log.last().map(String::as_str), Some("unrelated"), "{log:?}");
    assert_eq!(log.len(), 6, "{log:?}");
}

#[test]
fn a_timeout_of_duration_max_never_fires_and_does_not_abort() {
    in_child_process(
        "a_timeout_of_duration_max_never_fires_and_does_not_abort",
        Duration::from_secs(60),
        || {
            let exec = Executor::with_workers(2).expect("executor");
            let mut g = GraphBuilder::new();
            for (i, timeout) in [
                Duration::MAX,
                Duration::MAX - Duration::from_secs(1),
                Duration::from_secs(u64::MAX / 2),
            ]
            .into_iter()
            .enumerate()
            {
                let j = g.add(format!("patient{i}"), Priority::Normal, |ctx| {
                    std::thread::sleep(Duration::from_millis(20));
                    if ctx.is_cancelled() {
                        Err("cancelled".into())
                    } else {
                        Ok(())
                    }
                });
                g.set_policy(
                    j,
                    JobPolicy {
                        timeout: Some(timeout),
                        ..Default::default()
                    },
                );
            }
            let report = exec.run(&g.build().expect("graph"));
            assert!(report.ok(), "{:?}", report.jobs);
        },
    );
}

#[test]
fn a_backoff_near_duration_max_saturates_and_ends_on_cancel() {
    in_child_process(
        "a_backoff_near_duration_max_saturates_and_ends_on_cancel",
        Duration::from_secs(60),
        || {
            let exec = Executor::with_workers(2).expect("executor");
            let attempts = Arc::new(AtomicUsize::new(0));
            let mut g = GraphBuilder::new();
            for (i, backoff) in [
                Backoff {
                    base: Duration::MAX,
                    max: Duration::MAX,
                    jitter: 0.0,
                },
                Backoff {
                    base: Duration::MAX / 2,
                    max: Duration::MAX - Duration::from_nanos(1),
                    jitter: 0.5,
                },
                Backoff {
                    base: Duration::from_secs(u64::MAX / 4),
                    max: Duration::MAX,
                    jitter: f64::NAN,
                },
            ]
            .into_iter()
            .enumerate()
            {
                let a = attempts.clone();
                let j = g.add(format!("flaky{i}"), Priority::Normal, move |_| {
                    a.fetch_add(1, SeqCst);
                    Err("once more".into())
                });
                g.set_policy(
                    j,
                    JobPolicy {
                        retries: 3,
                        backoff,
                        timeout: None,
                    },
                );
            }
            g.add("fine", Priority::Normal, |_| Ok(()));
            let handle = exec.submit(&g.build().expect("graph"));
            let t0 = Instant::now();
            while attempts.load(SeqCst) < 3 && t0.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(5));
            }
            std::thread::sleep(Duration::from_millis(50));
            assert_eq!(attempts.load(SeqCst), 3, "each job tried once, then waits");
            assert!(!handle.is_done(), "the retries wait (practically) forever");
            handle.cancel();
            let report = handle.wait();
            assert!(report.cancelled);
            for i in 0..3 {
                let j = report.job(&format!("flaky{i}")).expect("flaky");
                assert_eq!(
                    j.status,
                    JobStatus::Cancelled("the run was cancelled".into())
                );
                assert_eq!(j.retries, 0);
            }
            assert_eq!(report.job("fine").expect("fine").status, JobStatus::Ok);
            // The executor is fine afterwards.
            let mut g = GraphBuilder::new();
            g.add("after", Priority::Normal, |_| Ok(()));
            assert!(exec.run(&g.build().expect("graph")).ok());
        },
    );
}

#[test]
fn a_batcher_with_an_endless_max_wait_flushes_on_finish() {
    use tutti::jobs::batch::Batcher;
    let batches = Arc::new(Mutex::new(Vec::<Vec<u32>>::new()));
    let b2 = batches.clone();
    let batcher = Batcher::new(10, Duration::MAX, move |b| b2.lock().unwrap().push(b));
    for i in 0..13 {
        batcher.push(i);
    }
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        batches.lock().unwrap().len(),
        1,
        "the first 10 leave by count"
    );
    batcher.finish();
    assert_eq!(
        *batches.lock().unwrap(),
        [(0..10).collect::<Vec<_>>(), vec![10, 11, 12]]
    );
}

/// A panic payload whose `Drop` panics again.
struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("the payload's drop panicked");
        }
    }
}

#[test]
fn panics_on_the_pool_never_abort_the_process() {
    in_child_process(
        "panics_on_the_pool_never_abort_the_process",
        Duration::from_secs(60),
        || {
            use tutti::jobs::pipeline::{Order, PipelineBuilder};
            let exec = Executor::with_workers(2).expect("executor");
            // A job whose panic payload panics again when dropped.
            let mut g = GraphBuilder::new();
            g.add("nasty", Priority::Normal, |_| {
                std::panic::panic_any(PanicOnDrop)
            });
            g.add("plain", Priority::Normal, |_| panic!("plain panic"));
            let report = exec.run(&g.build().expect("graph"));
            assert_eq!(
                report.job("nasty").expect("nasty").status,
                JobStatus::Failed("panicked: unknown panic".into())
            );
            assert_eq!(
                report.job("plain").expect("plain").status,
                JobStatus::Failed("panicked: plain panic".into())
            );
            // The same in a pipeline stage, whose failure names the panic.
            let pipeline = PipelineBuilder::<u32, u32>::new()
                .stage("stage", 2, |x: u32| match x {
                    3 => std::panic::panic_any(PanicOnDrop),
                    5 => panic!("bad item {x}"),
                    _ => Ok(x),
                })
                .build(4, Order::Ordered);
            let mut failures = Vec::new();
            let mut ok = 0;
            pipeline.run(&exec, 0..10u32, |r| match r {
                Ok(_) => ok += 1,
                Err(e) => failures.push((e.seq, e.error.0)),
            });
            assert_eq!(ok, 8);
            assert_eq!(
                failures,
                [
                    (3, "panicked: unknown panic".to_string()),
                    (5, "panicked: bad item 5".to_string())
                ]
            );
            // Anything else spawned on the pool.
            let (tx, rx) = std::sync::mpsc::channel();
            exec.pool().spawn(|| panic!("a task on the pool"));
            exec.pool().spawn(move || {
                let _ = tx.send(());
            });
            rx.recv_timeout(Duration::from_secs(10))
                .expect("the pool lives");
            let mut g = GraphBuilder::new();
            for i in 0..50 {
                g.add(format!("fine{i}"), Priority::Normal, |_| Ok(()));
            }
            assert!(exec.run(&g.build().expect("graph")).ok());
        },
    );
}

#[test]
fn raising_a_priority_never_lets_a_retry_skip_its_backoff() {
    // One worker, busy with a critical blocker while `flaky` (fails once, 300 ms backoff) is
    // queued. Raising `flaky` then adds a second queue entry; after the first attempt fails,
    // that entry must not start the retry early. A second raise during the backoff must not
    // either, and the retry then runs at the raised priority.
    const BACKOFF_MS: u64 = 300;
    let exec = Executor::with_workers(1).expect("executor");
    let runs = Arc::new(Mutex::new(Vec::<(u32, Instant, Instant)>::new()));
    let started = Arc::new(std::sync::Barrier::new(2));
    let mut g = GraphBuilder::new();
    let s = started.clone();
    g.add("blocker", Priority::Critical, move |_| {
        s.wait();
        std::thread::sleep(Duration::from_millis(30));
        Ok(())
    });
    let r = runs.clone();
    let flaky = g.add("flaky", Priority::Normal, move |ctx| {
        let t0 = Instant::now();
        let result = if ctx.attempt() == 1 {
            Err("first try fails".into())
        } else {
            Ok(())
        };
        r.lock().unwrap().push((ctx.attempt(), t0, Instant::now()));
        result
    });
    g.set_policy(
        flaky,
        JobPolicy {
            retries: 3,
            backoff: Backoff {
                base: Duration::from_millis(BACKOFF_MS),
                max: Duration::from_millis(BACKOFF_MS),
                jitter: 0.0,
            },
            timeout: None,
        },
    );
    let handle = exec.submit(&g.build().expect("graph"));
    started.wait();
    handle.raise_priority(flaky, Priority::High); // while queued behind the blocker
    let t0 = Instant::now();
    while runs.lock().unwrap().is_empty() && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(20));
    handle.raise_priority(flaky, Priority::Critical); // during the backoff
    let report = handle.wait();
    let runs = runs.lock().unwrap().clone();
    let f = report.job("flaky").expect("flaky");
    assert_eq!(f.status, JobStatus::Ok);
    assert_eq!(f.priority, Priority::Critical);
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(f.retries, 1);
    assert_eq!((runs[0].0, runs[1].0), (1, 2));
    let gap = runs[1].1 - runs[0].2;
    assert!(
        gap >= Duration::from_millis(BACKOFF_MS),
        "the retry started {gap:?} after the failure, before its {BACKOFF_MS} ms backoff"
    );
}

#[test]
fn a_worker_waiting_for_a_run_submitted_earlier_runs_its_queued_jobs() {
    // One worker. A run is submitted from outside while the worker is busy, so its jobs sit in
    // the shared queues (one of them will wait for a retry). A job on the only worker then
    // waits for that run: it must find and run those jobs itself.
    let exec = Executor::with_workers(1).expect("executor");
    let gate = Arc::new(std::sync::Barrier::new(2));
    let handle: Arc<std::sync::OnceLock<tutti::jobs::RunHandle>> = Arc::default();
    let mut g = GraphBuilder::new();
    let ran = Arc::new(AtomicUsize::new(0));
    for i in 0..5 {
        let r = ran.clone();
        let j = g.add(format!("queued{i}"), Priority::Background, move |ctx| {
            r.fetch_add(1, SeqCst);
            if i == 0 && ctx.attempt() == 1 {
                Err("retry me".into())
            } else {
                Ok(())
            }
        });
        if i == 0 {
            g.set_policy(
                j,
                JobPolicy {
                    retries: 1,
                    backoff: Backoff {
                        base: Duration::from_millis(30),
                        max: Duration::from_millis(30),
                        jitter: 0.0,
                    },
                    timeout: None,
                },
            );
        }
    }
    let earlier = g.build().expect("graph");
    let mut g = GraphBuilder::new();
    let (gt, h) = (gate.clone(), handle.clone());
    g.add("waiter", Priority::Critical, move |_| {
        gt.wait(); // running
        gt.wait(); // the other run is submitted
        if h.get().expect("handle").wait().ok() {
            Ok(())
        } else {
            Err("the earlier run failed".into())
        }
    });
    let waiter = exec.submit(&g.build().expect("graph"));
    gate.wait();
    let _ = handle.set(exec.submit(&earlier));
    gate.wait();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(waiter.wait());
    });
    let report = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("deadlock: the only worker waits for jobs nobody runs");
    assert!(report.ok());
    assert_eq!(ran.load(SeqCst), 6);
}

/// A random graph for [`random_nested_workloads_always_finish`]: jobs that run nested graphs,
/// spawn (grand)children and wait for them or not, fail once and retry, or time out.
fn random_graph(seed: u64, depth: u32) -> tutti::jobs::JobGraph {
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut g = GraphBuilder::new();
    let mut ids = Vec::new();
    for i in 0..1 + next() % 10 {
        let (kind, arg) = (next() % 6, next());
        let id = g.add(
            format!("j{i}"),
            Priority::ALL[(next() % 4) as usize],
            move |ctx| {
                match kind {
                    0 | 1 if depth > 0 => {
                        let inner = random_graph(arg, depth - 1);
                        for _ in 0..=kind {
                            let _ = ctx.run_graph(&inner);
                        }
                    }
                    2 => {
                        for k in 0..arg % 5 {
                            ctx.spawn(
                                format!("child{k}"),
                                Priority::ALL[(k % 4) as usize],
                                move |c| {
                                    if k % 2 == 0 {
                                        c.spawn("grandchild", Priority::High, |_| Ok(()));
                                        c.wait_children();
                                    }
                                    Ok(())
                                },
                            );
                        }
                        if arg % 3 != 0 {
                            ctx.wait_children();
                        }
                    }
                    3 if ctx.attempt() == 1 => return Err("fails once".into()),
                    4 => std::thread::sleep(Duration::from_micros(arg % 300)),
                    _ => {}
                }
                Ok(())
            },
        );
        g.set_policy(
            id,
            JobPolicy {
                retries: 1,
                backoff: Backoff {
                    base: Duration::from_micros(200),
                    max: Duration::from_millis(2),
                    jitter: 0.5,
                },
                timeout: (kind == 4).then_some(Duration::from_micros(100)),
            },
        );
        if !ids.is_empty() && next() % 2 == 0 {
            g.depends(id, ids[next() as usize % ids.len()]);
        }
        ids.push(id);
    }
    g.build().expect("edges point backwards")
}

#[test]
fn random_nested_workloads_always_finish() {
    use tutti::jobs::{ExecutorConfig, JobId, Profile};
    for workers in 1..=3 {
        let fixed = Executor::with_workers(workers).expect("executor");
        let adaptive = Executor::new(ExecutorConfig {
            profile: Profile::Adaptive,
            workers: Some(workers),
        })
        .expect("executor");
        for seed in 0..60u64 {
            let exec = if seed % 2 == 0 { &fixed } else { &adaptive }.clone();
            let graph = random_graph(seed * 7919 + workers as u64, 2);
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let handle = exec.submit(&graph);
                if seed % 5 == 0 {
                    for j in 0..graph.len() {
                        handle.raise_priority(JobId(j), Priority::Critical);
                    }
                }
                if seed % 7 == 0 {
                    handle.cancel();
                }
                let _ = tx.send(handle.wait());
            });
            let report = rx
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("{workers} workers, seed {seed}: the run never ended"));
            if !report.cancelled {
                let failed: Vec<_> = report
                    .jobs
                    .iter()
                    .filter(|j| matches!(j.status, JobStatus::Failed(_)))
                    .collect();
                assert!(
                    failed.is_empty(),
                    "{workers} workers, seed {seed}: {failed:?}"
                );
            }
        }
    }
}
