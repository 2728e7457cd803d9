//! Criterion benchmark of GPU throughput on the first working adapter, each figure against its
//! baseline in the same run, with the ratio of their medians (over every iteration criterion
//! ran, its warm-up included) printed at the end:
//!
//! - views per second of 256 skinned avatars at 64x64, 128x128 and 256x256: 16 views per submit,
//!   each with its own camera, against one view per submit (no readback);
//! - compute dispatches: 1,000 in one submit against one per submit;
//! - skinned vertices: the compute skin pass (4 passes per submit, wall clock) against the CPU
//!   twin on every rayon thread (time per pass).
//!
//! `cargo bench --bench gpu_throughput`. `tutti bench gpu` measures the same figures plus
//! readback and multi-resolution, and prints them as a table or JSON.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::cell::RefCell;
use std::time::Duration;
use tutti::render::Pipelines;
use tutti::render::bench_gpu::{DispatchBench, GpuBenchConfig, SkinBench, VIEW_SIZES, ViewsBench};
use tutti::{AssetLibrary, Discovery};

/// Per-iteration times of one benchmark function, for the ratio printed at the end.
#[derive(Default)]
struct Times(RefCell<Vec<f64>>);

impl Times {
    /// Run `f` `iters` times, recording each time.
    fn run(&self, iters: u64, mut f: impl FnMut() -> Duration) -> Duration {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            let d = f();
            self.0.borrow_mut().push(d.as_secs_f64());
            total += d;
        }
        total
    }

    fn median(&self) -> f64 {
        let mut v = self.0.borrow().clone();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    }
}

fn gpu_throughput(c: &mut Criterion) {
    let ctx = match Discovery::run().open_first(&Default::default()) {
        Ok(ctx) => ctx,
        Err(e) => {
            eprintln!("SKIPPED: {e}");
            return;
        }
    };
    println!("gpu_throughput bench on {}", ctx.label);
    let renderer = Pipelines::new(&ctx);
    let library = AssetLibrary::new();
    let cfg = GpuBenchConfig {
        frames_in_flight: 1,
        ..GpuBenchConfig::new(true)
    };
    // (figure, baseline, figure's median time, baseline's median time) for the same work.
    let mut pairs = Vec::new();
    let mut group = c.benchmark_group("gpu_throughput");
    group.sample_size(10);
    for size in VIEW_SIZES {
        let bench = ViewsBench::new(&ctx, &renderer, &library, &cfg, size).expect("fits");
        bench
            .check_views_differ()
            .expect("each view has its own camera");
        group.throughput(Throughput::Elements(bench.views_per_run() as u64));
        let bench = RefCell::new(bench);
        let (many, one) = (Times::default(), Times::default());
        let name = format!("views_{size}x{size}_{}_per_submit", cfg.views);
        group.bench_function(&name, |b| {
            b.iter_custom(|iters| {
                many.run(iters, || bench.borrow().batched(false).expect("renders"))
            })
        });
        group.bench_function(
            format!("views_{size}x{size}_one_per_submit_baseline"),
            |b| {
                b.iter_custom(|iters| {
                    one.run(iters, || bench.borrow_mut().single(false).expect("renders"))
                })
            },
        );
        pairs.push((name, "one view per submit", many.median(), one.median()));
    }

    let dispatch = DispatchBench::new(&ctx);
    let m = cfg.dispatches;
    group.throughput(Throughput::Elements(u64::from(m)));
    let (many, one) = (Times::default(), Times::default());
    let name = format!("dispatches_{m}_per_submit");
    group.bench_function(&name, |b| {
        b.iter_custom(|iters| many.run(iters, || dispatch.batched(m).expect("runs")))
    });
    group.bench_function("dispatches_one_per_submit_baseline", |b| {
        b.iter_custom(|iters| one.run(iters, || dispatch.single(m).expect("runs")))
    });
    dispatch.check().expect("every dispatch ran once");
    pairs.push((name, "one dispatch per submit", many.median(), one.median()));

    let skin = SkinBench::new(&ctx, &renderer, &library, cfg.avatars).expect("fits");
    let passes = cfg.skin_passes;
    group.throughput(Throughput::Elements(skin.vertices()));
    let (gpu, cpu) = (Times::default(), Times::default());
    let name = format!("skin_{}_avatars_compute_pass", cfg.avatars);
    group.bench_function(&name, |b| {
        b.iter_custom(|iters| gpu.run(iters, || skin.gpu(passes).expect("skins") / passes))
    });
    group.bench_function(
        format!("skin_{}_avatars_cpu_twin_baseline", cfg.avatars),
        |b| b.iter_custom(|iters| cpu.run(iters, || skin.cpu())),
    );
    skin.check().expect("the GPU skins as the CPU twin");
    pairs.push((name, "CPU twin", gpu.median(), cpu.median()));
    group.finish();

    println!(
        "gpu_throughput on {} (ratio = baseline median / figure median for the same work; above 1 the figure is faster):",
        ctx.label
    );
    for (name, baseline, figure, base) in pairs {
        println!(
            "  {name}: {:.3} ms vs {baseline} {:.3} ms: {:.2}x",
            figure * 1e3,
            base * 1e3,
            base / figure
        );
    }
}

criterion_group!(benches, gpu_throughput);
criterion_main!(benches);
