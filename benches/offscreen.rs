//! Criterion benchmark of offscreen batch throughput: the naive sequential loop against the
//! pipelined scheduler, on the first working adapter, in the same run.
//!
//! `cargo bench --bench offscreen`. `tutti bench offscreen` prints the same comparison plus
//! per-adapter and all-adapter figures.

use criterion::{Criterion, criterion_group, criterion_main};
use tutti::offscreen::{OffscreenOptions, render_offscreen, write_png_atomic};
use tutti::render::{Pipelines, SceneRenderer};
use tutti::{AssetLibrary, Discovery, default_scene};

const FRAMES: u32 = 12;

fn offscreen(c: &mut Criterion) {
    let ctx = match Discovery::run().open_first(&Default::default()) {
        Ok(ctx) => ctx,
        Err(e) => {
            eprintln!("SKIPPED: {e}");
            return;
        }
    };
    let scene = default_scene(&AssetLibrary::new()).expect("default scene");
    let world = scene.world();
    let tmp = std::env::temp_dir().join(format!("tutti-criterion-{}", std::process::id()));
    eprintln!("offscreen bench on {}", ctx.label);
    let mut group = c.benchmark_group(format!("offscreen_{FRAMES}_frames"));
    group.sample_size(10);
    group.bench_function("sequential_loop", |b| {
        let renderer = Pipelines::new(&ctx);
        let sr = SceneRenderer::new(&ctx, &renderer, &world).expect("fits");
        b.iter(|| {
            for f in 0..FRAMES {
                for img in sr
                    .render(&ctx, &renderer, &world.animate(world.frame_time(f)))
                    .expect("renders")
                {
                    let path =
                        tutti::offscreen::frame_path(&tmp.join("seq"), "default", &img.name, f);
                    write_png_atomic(&path, img.width, img.height, &img.rgba).expect("writes");
                }
            }
        })
    });
    group.bench_function("pipelined_scheduler", |b| {
        let opts = OffscreenOptions {
            out_dir: tmp.join("pipe"),
            frames: Some((0, FRAMES)),
            ..Default::default()
        };
        let devices = std::slice::from_ref(&ctx);
        b.iter(|| {
            let r = render_offscreen(devices, std::slice::from_ref(&scene), &opts).expect("runs");
            assert!(r.failures.is_empty());
        })
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&tmp);
}

criterion_group!(benches, offscreen);
criterion_main!(benches);
