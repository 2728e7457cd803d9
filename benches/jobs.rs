//! Criterion benchmark of the job system against plain rayon in the same run: a prebuilt
//! wavefront DAG (B x B jobs, each after its left and upper neighbours) at 2 threads, with empty
//! and ~1 µs bodies. `tutti bench jobs` runs the full suite (chain, tree, engine frame, ...).

use criterion::{Criterion, criterion_group, criterion_main};
use tutti::jobs::bench::wavefront_pair;

fn jobs(c: &mut Criterion) {
    let mut group = c.benchmark_group("wavefront_100x100_2_threads");
    group.sample_size(20);
    for body_ns in [0u64, 1_000] {
        let (mut tutti, mut rayon) = wavefront_pair(2, 100, body_ns);
        group.bench_function(format!("tutti_body_{body_ns}ns"), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| tutti()).sum())
        });
        group.bench_function(format!("rayon_body_{body_ns}ns"), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| rayon()).sum())
        });
    }
    group.finish();
}

criterion_group!(benches, jobs);
criterion_main!(benches);
