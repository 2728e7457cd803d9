//! Criterion benchmark of GPU-driven crowds on the first working adapter, each figure with its
//! baseline in the same run: automatic LOD against level 0 forced, four resolutions against the
//! largest alone, and the engine's CPU frame against a sequential animation loop.
//!
//! `cargo bench --bench lod`. Sizes are small so it finishes on software adapters; `tutti bench
//! lod` runs the full figures (1920x1080, 10,000 avatars) and prints the ratios as JSON.

use criterion::{Criterion, criterion_group, criterion_main};
use std::sync::Arc;
use tutti::anim::PoseScratch;
use tutti::jobs::Executor;
use tutti::render::bench::{MULTIRES_TARGETS, crowd_world};
use tutti::render::{Pipelines, SceneRenderer};
use tutti::scene::FrameGraph;
use tutti::scene::{Animation, SceneFrame, Skinning};
use tutti::{Discovery, GpuContext};

const AVATARS: u32 = 400;

/// One frame, submitted and waited for (no readback).
fn frame(ctx: &GpuContext, renderer: &Pipelines, sr: &SceneRenderer, anim: &SceneFrame) {
    let out = sr
        .submit(ctx, renderer, &tutti::FrameInput::new(anim))
        .expect("submits");
    ctx.wait_for(out.submission).expect("finishes");
}

fn lod(c: &mut Criterion) {
    let ctx = match Discovery::run().open_first(&Default::default()) {
        Ok(ctx) => ctx,
        Err(e) => {
            eprintln!("SKIPPED: {e}");
            return;
        }
    };
    eprintln!("lod bench on {}", ctx.label);
    let renderer = Pipelines::new(&ctx);
    let world = |targets: &[(u32, u32)], force| {
        crowd_world(AVATARS, targets, force, (Skinning::Auto, Animation::Cpu)).expect("crowd")
    };
    let mut group = c.benchmark_group(format!("crowd_{AVATARS}"));
    group.sample_size(10);
    for (name, w) in [
        ("1080p_auto_lod", world(&MULTIRES_TARGETS[..1], None)),
        (
            "1080p_lod0_forced_baseline",
            world(&MULTIRES_TARGETS[..1], Some(0)),
        ),
        ("four_targets_auto_lod", world(&MULTIRES_TARGETS, None)),
    ] {
        let sr = SceneRenderer::new(&ctx, &renderer, &w).expect("fits");
        let anim = w.animate(0.5);
        group.bench_function(name, |b| b.iter(|| frame(&ctx, &renderer, &sr, &anim)));
    }
    // CPU side: the engine's frame graph against a sequential loop, 1,000 avatars.
    let w = Arc::new(
        crowd_world(
            1_000,
            &MULTIRES_TARGETS[..1],
            None,
            (Skinning::Auto, Animation::Cpu),
        )
        .expect("crowd"),
    );
    let exec = Executor::new(Default::default()).expect("executor");
    let graph = FrameGraph::new(w.clone(), 32);
    group.bench_function("cpu_frame_graph_1000", |b| {
        b.iter(|| graph.run(&exec, 0.5).expect("frame"))
    });
    let mut palettes = vec![glam::Mat4::IDENTITY; w.palette_len];
    let mut scratch = PoseScratch::default();
    group.bench_function("cpu_sequential_baseline_1000", |b| {
        b.iter(|| {
            for a in &w.avatars {
                let n = w.assets[a.asset].skeleton.bindings.len();
                let at = a.palette_offset as usize;
                w.animate_avatar(a, 0.5, &mut scratch, &mut palettes[at..at + n]);
            }
        })
    });
    group.finish();
}

criterion_group!(benches, lod);
criterion_main!(benches);
