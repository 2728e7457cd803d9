//! GPU culling and LOD selection on the software adapters, against the CPU twin: random
//! cameras, indirect draw counts, forced levels and bias, hysteresis, small targets against a
//! downscaled large one, compute against vertex skinning, and the 10,000-avatar crowd scene.

mod common;

use common::*;
use tutti::render::MAX_LODS;
use tutti::render::cull_lod::cull_lod_cpu;
use tutti::render::{Pipelines, SceneRenderer, TargetImage};
use tutti::scene::{Camera, World, parse_scene};
use tutti::{AssetLibrary, GpuContext};

/// Mixed assets spread over a field, with a ground, at two target sizes of the same aspect.
const FIELD: &str = r#"Scene(
    name: "field",
    camera: (eye: (0.0, 3.0, 22.0), target: (0.0, 0.5, 0.0), fov_y: 45.0, near: 0.1, far: 200.0),
    targets: [(name: "big", width: 320, height: 180), (name: "small", width: 80, height: 45)],
    environment: (ground: Some((size: 80.0))),
    avatars: [
        (asset: "humanoid:medium", count: 144, layout: Grid(columns: 12, spacing: 2.5), clip: Some("walk"), phase_spread: 1.0),
        (asset: "RiggedFigure", count: 30, layout: Circle(spacing: 3.0), position: (0.0, 0.0, -12.0)),
        (asset: "RiggedSimple", count: 5, scale: 0.2, position: (6.0, 0.0, 4.0)),
    ],
)"#;

fn field(edit: impl FnOnce(&mut World)) -> World {
    let lib = AssetLibrary::new();
    let mut world = parse_scene(FIELD, std::path::Path::new("field.ron"), None, &lib)
        .expect("scene")
        .world();
    edit(&mut world);
    world
}

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40) as f32 / (1u64 << 24) as f32
    }
    fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }
}

fn render(ctx: &GpuContext, r: &Pipelines, sr: &SceneRenderer, w: &World) -> Vec<TargetImage> {
    sr.render(ctx, r, &w.animate(0.4)).expect("frame renders")
}

/// Over many random cameras, on both adapters: the GPU keeps every avatar the CPU twin finds
/// visible (and keeps others only within its small margin), both pick the same levels except
/// within rounding of a threshold, and each indirect draw's instance count is the number of
/// visible avatars of its batch at its level.
#[test]
fn gpu_culling_and_lod_match_the_cpu_twin_over_random_cameras() {
    // No hysteresis here, so one disagreement cannot carry into the next camera.
    let world = field(|w| w.desc.lod.hysteresis = 0.0);
    for ctx in software_adapters() {
        let renderer = Pipelines::new(&ctx);
        let mut sr = SceneRenderer::new(&ctx, &renderer, &world).expect("fits");
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let (mut visible_total, mut culled_total, mut margin_only, mut levels_seen) =
            (0usize, 0usize, 0usize, [0usize; MAX_LODS]);
        for cam in 0..40 {
            let camera = Camera {
                eye: (
                    rng.range(-40.0, 40.0),
                    rng.range(0.3, 25.0),
                    rng.range(-40.0, 40.0),
                ),
                target: (
                    rng.range(-12.0, 12.0),
                    rng.range(0.0, 2.0),
                    rng.range(-12.0, 12.0),
                ),
                fov_y: rng.range(15.0, 100.0),
                near: 0.1,
                far: rng.range(20.0, 200.0),
            };
            sr.set_camera(camera);
            let images = render(&ctx, &renderer, &sr, &world);
            for (t, img) in images.iter().enumerate() {
                let gpu = sr.read_lod_choices(&ctx, t).expect("choices");
                let tutti::render::debug::CullInputs {
                    instances,
                    batch_lods: batches,
                    params,
                } = sr.cull_inputs(t);
                let mut state = vec![0u32; instances.len()];
                let cpu = cull_lod_cpu(instances, batches, &params, &mut state);
                // The same pass with the tolerance nudged either way: choices within rounding
                // of a threshold may go either way.
                let nudged = |f: f32| {
                    let mut p = params;
                    p.pixel_error *= f;
                    cull_lod_cpu(instances, batches, &p, &mut vec![0; instances.len()])
                };
                let (lo, hi) = (nudged(1.0 - 1e-4), nudged(1.0 + 1e-4));
                for a in 0..instances.len() {
                    match (cpu[a], gpu[a]) {
                        (Some(_), None) => panic!(
                            "{} camera {cam} target {t}: the GPU culled avatar {a}, which the CPU twin finds visible",
                            ctx.label
                        ),
                        (None, Some(_)) => margin_only += 1,
                        (None, None) => culled_total += 1,
                        (Some(c), Some(g)) => {
                            visible_total += 1;
                            levels_seen[g as usize] += 1;
                            assert!(
                                g == c || Some(g) == lo[a] || Some(g) == hi[a],
                                "{} camera {cam} target {t}: avatar {a} at level {g} on the GPU, {c} on the CPU",
                                ctx.label
                            );
                        }
                    }
                }
                // Indirect draws: per (batch, submesh, level) the instance count is the number
                // of avatars of that batch the GPU chose that level for.
                let draws = sr.read_draws(&ctx, t).expect("draws");
                let mut d = 0;
                for (bi, b) in batches.iter().enumerate() {
                    let members =
                        b.first_avatar as usize..(b.first_avatar + b.avatar_count) as usize;
                    let submeshes = world.assets[bi].mesh.submeshes.len();
                    for _ in 0..submeshes {
                        for l in 0..MAX_LODS as u32 {
                            let want = members.clone().filter(|&a| gpu[a] == Some(l)).count();
                            assert_eq!(
                                draws[d].instance_count as usize, want,
                                "{} camera {cam} target {t}: batch {bi} level {l}",
                                ctx.label
                            );
                            d += 1;
                        }
                    }
                }
                assert_eq!(d, draws.len());
                // The frame's stats agree with the choices.
                let visible = gpu.iter().flatten().count() as u32;
                assert_eq!(img.stats.visible(), visible);
                assert_eq!(img.stats.culled, instances.len() as u32 - visible);
            }
        }
        eprintln!(
            "{}: {visible_total} visible, {culled_total} culled, {margin_only} kept only by the GPU's margin, levels {levels_seen:?}",
            ctx.label
        );
        assert!(
            visible_total > 1000 && culled_total > 1000,
            "cameras should both see and miss many avatars"
        );
        assert!(
            margin_only * 100 <= visible_total,
            "the GPU's margin should keep few extra avatars"
        );
        assert!(
            levels_seen.iter().filter(|&&n| n > 0).count() >= 3,
            "random cameras should exercise several levels: {levels_seen:?}"
        );
    }
}

#[test]
fn forced_level_and_bias_move_every_choice() {
    for (force, bias) in [(Some(3u32), 0i32), (Some(9), 0), (None, 2), (None, -3)] {
        let world = field(|w| {
            w.desc.lod.force = force;
            w.desc.lod.bias = bias;
        });
        let plain = field(|_| {});
        let Some(ctx) = lavapipe() else { return };
        let renderer = Pipelines::new(&ctx);
        let sr = SceneRenderer::new(&ctx, &renderer, &world).expect("fits");
        let base = SceneRenderer::new(&ctx, &renderer, &plain).expect("fits");
        render(&ctx, &renderer, &sr, &world);
        render(&ctx, &renderer, &base, &plain);
        let got = sr.read_lod_choices(&ctx, 0).expect("choices");
        let unbiased = base.read_lod_choices(&ctx, 0).expect("choices");
        let tutti::render::debug::CullInputs {
            instances: _,
            batch_lods: batches,
            params: _,
        } = sr.cull_inputs(0);
        let last = MAX_LODS as i32 - 1;
        for (bi, b) in batches.iter().enumerate() {
            for a in b.first_avatar..b.first_avatar + b.avatar_count {
                let (g, u) = (got[a as usize], unbiased[a as usize]);
                assert_eq!(
                    g.is_some(),
                    u.is_some(),
                    "visibility does not depend on LOD"
                );
                let (Some(g), Some(u)) = (g, u) else { continue };
                let want = match force {
                    Some(f) => f.min(b.level_count - 1),
                    None => (u as i32 + bias).clamp(0, last.min(b.level_count as i32 - 1)) as u32,
                };
                assert_eq!(
                    g, want,
                    "force {force:?} bias {bias}: batch {bi} avatar {a}"
                );
            }
        }
    }
}

/// An avatar near the distance where its level changes keeps the level it came with, on the GPU
/// as on the CPU twin; without hysteresis both sides of the approach agree.
#[test]
fn hysteresis_keeps_the_previous_level_near_a_threshold() {
    const ONE: &str = r#"Scene(
        name: "one",
        targets: [(name: "t", width: 256, height: 256)],
        avatars: [(asset: "humanoid:medium", clip: Some("idle"))],
    )"#;
    let lib = AssetLibrary::new();
    let world = parse_scene(ONE, std::path::Path::new("one.ron"), None, &lib)
        .expect("scene")
        .world();
    let Some(ctx) = lavapipe() else { return };
    let renderer = Pipelines::new(&ctx);
    let mut sr = SceneRenderer::new(&ctx, &renderer, &world).expect("fits");
    let tutti::render::debug::CullInputs {
        instances,
        batch_lods: batches,
        params,
    } = sr.cull_inputs(0);
    let sphere = instances[0].sphere;
    let (radius, scale) = (sphere[3], instances[0].scale);
    let errors = batches[0].errors;
    // Distance (to the sphere's surface) where level 2's error is exactly the tolerance.
    let threshold = params.pixels_per_unit * scale * errors[2] / params.pixel_error;
    let camera_at = |d: f32| Camera {
        eye: (sphere[0], sphere[1], sphere[2] + d + radius),
        target: (sphere[0], sphere[1], sphere[2]),
        fov_y: 40.0,
        near: 0.05,
        far: 500.0,
    };
    let mut cpu_state = vec![0u32];
    let run = |sr: &mut SceneRenderer, d: f32, state: &mut [u32]| {
        sr.set_camera(camera_at(d));
        render(&ctx, &renderer, sr, &world);
        let gpu = sr.read_lod_choices(&ctx, 0).expect("choices")[0];
        let tutti::render::debug::CullInputs {
            instances,
            batch_lods: batches,
            params,
        } = sr.cull_inputs(0);
        let cpu = cull_lod_cpu(instances, batches, &params, state)[0];
        assert_eq!(gpu, cpu, "distance {d}: GPU and CPU twin disagree");
        gpu.expect("the avatar is in view")
    };
    let near_side = 0.9 * threshold;
    let just_past = 1.05 * threshold;
    let far_side = 1.6 * threshold;
    // Coming from nearer, the avatar keeps its finer level just past the threshold ...
    let a = run(&mut sr, near_side, &mut cpu_state);
    let from_near = run(&mut sr, just_past, &mut cpu_state);
    assert_eq!(from_near, a, "kept while within the band");
    // ... and coming from farther, it keeps its coarser level at the same distance.
    let b = run(&mut sr, far_side, &mut cpu_state);
    let from_far = run(&mut sr, just_past, &mut cpu_state);
    assert!(
        b >= 2 && from_far >= 2,
        "coarser from afar: {b}, {from_far}"
    );
    assert!(
        from_near < from_far,
        "{from_near} vs {from_far}: no hysteresis"
    );
    // Far outside the band the level follows the distance again.
    assert_eq!(run(&mut sr, 0.5 * threshold, &mut cpu_state), a.min(1));
    // History can be cleared: the plain choice just past the threshold is level 2 or coarser.
    sr.reset_lod_history(&ctx);
    cpu_state[0] = 0;
    assert!(run(&mut sr, just_past, &mut cpu_state) >= 2);
}

/// Box-filter an RGBA8 image down by an integer factor.
fn downscale(img: &TargetImage, factor: u32) -> Vec<u8> {
    let (w, h) = (img.width / factor, img.height / factor);
    let mut out = Vec::with_capacity((w * h * 4) as usize);
    for y in 0..h {
        for x in 0..w {
            for c in 0..4 {
                let mut sum = 0u32;
                for dy in 0..factor {
                    for dx in 0..factor {
                        let i =
                            (((y * factor + dy) * img.width + x * factor + dx) * 4 + c) as usize;
                        sum += u32::from(img.rgba[i]);
                    }
                }
                out.push((sum / (factor * factor)) as u8);
            }
        }
    }
    out
}

#[test]
fn small_targets_match_the_downscaled_large_target() {
    let world = field(|_| {});
    for ctx in software_adapters() {
        let renderer = Pipelines::new(&ctx);
        let sr = SceneRenderer::new(&ctx, &renderer, &world).expect("fits");
        let images = render(&ctx, &renderer, &sr, &world);
        let (big, small) = (&images[0], &images[1]);
        let reduced = downscale(big, 4);
        let d = diff(&reduced, &small.rgba);
        let (cb, cs) = (covered_fraction(&reduced), covered_fraction(&small.rgba));
        eprintln!(
            "{}: small vs downscaled big {d:?}, covered {cb:.3} vs {cs:.3}, levels {:?} vs {:?}",
            ctx.label, big.stats.lod_histogram, small.stats.lod_histogram
        );
        assert!(d.mean < 6.0, "{}: mean difference {}", ctx.label, d.mean);
        assert!(
            (cb - cs).abs() < 0.03,
            "{}: coverage {cb} vs {cs}",
            ctx.label
        );
        // The small target draws coarser levels and fewer triangles.
        let mean_level = |h: &[u32; MAX_LODS]| {
            h.iter()
                .enumerate()
                .map(|(l, &n)| l as f64 * f64::from(n))
                .sum::<f64>()
                / f64::from(h.iter().sum::<u32>().max(1))
        };
        assert!(mean_level(&small.stats.lod_histogram) > mean_level(&big.stats.lod_histogram));
        assert!(small.stats.triangles < big.stats.triangles);
    }
}

#[test]
fn compute_and_vertex_skinning_draw_the_same_picture() {
    use tutti::scene::Skinning;
    let compute = field(|w| w.desc.skinning = Skinning::Compute);
    let vertex = field(|w| w.desc.skinning = Skinning::Vertex);
    for ctx in software_adapters() {
        let renderer = Pipelines::new(&ctx);
        let a = SceneRenderer::new(&ctx, &renderer, &compute).expect("fits");
        let b = SceneRenderer::new(&ctx, &renderer, &vertex).expect("fits");
        assert!(!a.vertex_skinning() && b.vertex_skinning());
        let ia = render(&ctx, &renderer, &a, &compute);
        let ib = render(&ctx, &renderer, &b, &vertex);
        for (x, y) in ia.iter().zip(&ib) {
            let d = diff(&x.rgba, &y.rgba);
            assert!(
                d.mean < 0.2 && d.bad_fraction < 0.002,
                "{} {}: {d:?}",
                ctx.label,
                x.name
            );
            assert_eq!(x.stats, y.stats);
        }
    }
}

/// The crowd scene renders on lavapipe through the CLI: 10,000 avatars, every one either drawn
/// or culled, far fewer triangles than at full detail, and a picture with ground and avatars.
#[test]
fn the_crowd_scene_renders_through_the_cli() {
    if lavapipe().is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let scene = tests_path("../scenes/crowd.ron");
    let o = tutti(
        &[
            "render",
            scene.to_str().expect("utf-8 path"),
            "--offscreen",
            "--frames",
            "0..2",
            "--adapters",
            "vulkan",
            "--out",
            out.to_str().expect("utf-8 path"),
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let manifest = std::fs::read_to_string(out.join("manifest.jsonl")).expect("manifest");
    let entries: Vec<serde_json::Value> = manifest
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(entries.len(), 4);
    for e in &entries {
        let hist: Vec<u64> = e["lod_histogram"]
            .as_array()
            .expect("histogram")
            .iter()
            .map(|v| v.as_u64().expect("count"))
            .collect();
        let drawn: u64 = hist.iter().sum();
        let culled = e["culled"].as_u64().expect("culled");
        assert_eq!(drawn + culled, 10_000, "{e}");
        assert!(drawn > 5_000 && culled > 0, "{e}");
        let triangles = e["triangles"].as_u64().expect("triangles");
        assert!(triangles < drawn * 9_120 / 4, "LOD must cut triangles: {e}");
        let png = image::open(out.join(e["path"].as_str().expect("path")))
            .expect("png")
            .to_rgba8();
        let covered = covered_fraction(png.as_raw());
        assert!(covered > 0.4 && covered < 0.95, "{e}: covered {covered}");
    }
}

/// With compute skinning, the skin pass skins each avatar exactly as far as the finest level any
/// target draws it at (matching the CPU twin there), and leaves avatars no target sees alone.
#[test]
fn the_skin_pass_skins_only_what_the_targets_draw() {
    let world = field(|w| w.desc.skinning = tutti::scene::Skinning::Compute);
    let Some(ctx) = lavapipe() else { return };
    let renderer = Pipelines::new(&ctx);
    let mut sr = SceneRenderer::new(&ctx, &renderer, &world).expect("fits");
    // Look at one corner of the field, so some avatars are culled in both targets.
    sr.set_camera(Camera {
        eye: (-20.0, 2.0, 20.0),
        target: (-10.0, 0.5, 5.0),
        ..world.desc.camera.clone()
    });
    let anim = world.animate(0.4);
    sr.render(&ctx, &renderer, &anim).expect("renders");
    let skinned = sr.read_skinned(&ctx).expect("skinned");
    let choices: Vec<Vec<Option<u32>>> = (0..world.desc.targets.len())
        .map(|t| sr.read_lod_choices(&ctx, t).expect("choices"))
        .collect();
    let (mut base, mut skipped, mut partial) = (0usize, 0, 0);
    for (a, av) in world.avatars.iter().enumerate() {
        let asset = &world.assets[av.asset];
        let n = asset.mesh.vertices.len();
        let finest = choices.iter().filter_map(|c| c[a]).min();
        let done = finest.map_or(0, |l| asset.lods()[l as usize].vertex_count as usize);
        let bindings = asset.skeleton.bindings.len();
        let at = av.palette_offset as usize;
        let cpu = tutti::anim::skin_cpu(&asset.mesh, &anim.palettes[at..at + bindings], av.model);
        for (i, (p, _)) in cpu.iter().enumerate() {
            let g = glam::Vec3::from_slice(&skinned[base + i].position[..3]);
            if i < done {
                assert!(
                    (g - *p).length() < 1e-3 * (1.0 + p.length()),
                    "avatar {a} vertex {i}"
                );
            } else {
                assert_eq!(
                    skinned[base + i].position,
                    [0.0; 4],
                    "avatar {a} vertex {i} skinned"
                );
            }
        }
        skipped += usize::from(finest.is_none());
        partial += usize::from(done > 0 && done < n);
        base += n;
    }
    assert!(
        skipped > 0 && partial > 0,
        "{skipped} skipped, {partial} partly skinned"
    );
}

/// Offscreen output depends only on the frame: a frame rendered on a fresh renderer has the same
/// bytes as the same frame rendered after others (LOD history, visible-list order and skinned
/// prefixes leave no trace), on both adapters.
#[test]
fn a_frame_has_the_same_bytes_whatever_was_rendered_before() {
    let world = field(|_| {});
    for ctx in software_adapters() {
        let renderer = Pipelines::new(&ctx);
        let fresh = SceneRenderer::new(&ctx, &renderer, &world).expect("fits");
        let used = SceneRenderer::new(&ctx, &renderer, &world).expect("fits");
        for f in [9, 2, 30] {
            used.render(&ctx, &renderer, &world.animate(world.frame_time(f)))
                .expect("renders");
        }
        let anim = world.animate(world.frame_time(5));
        let a = fresh.render(&ctx, &renderer, &anim).expect("renders");
        let b = used.render(&ctx, &renderer, &anim).expect("renders");
        for (x, y) in a.iter().zip(&b) {
            assert!(x.rgba == y.rgba, "{} {}: bytes differ", ctx.label, x.name);
            assert_eq!(x.stats, y.stats);
        }
    }
}

/// Simplification thins thin parts (limbs), so distant avatars cover fewer pixels than at full
/// detail. This bounds the loss at the default tolerance, per target.
#[test]
fn automatic_lod_keeps_what_the_avatars_cover() {
    let auto = field(|w| w.desc.environment.ground = None);
    let full = field(|w| {
        w.desc.environment.ground = None;
        w.desc.lod.force = Some(0);
    });
    let Some(ctx) = lavapipe() else { return };
    let renderer = Pipelines::new(&ctx);
    let a = SceneRenderer::new(&ctx, &renderer, &auto).expect("fits");
    let f = SceneRenderer::new(&ctx, &renderer, &full).expect("fits");
    let ia = render(&ctx, &renderer, &a, &auto);
    let ifull = render(&ctx, &renderer, &f, &full);
    // Measured 2026-11-22 with the default 0.5 px: big (avatars 15-40 px tall) loses 11 %,
    // small (4-10 px) 49 %; at 1.0 px both lose more. A known limit of mesh simplification.
    for ((x, y), limit) in ia.iter().zip(&ifull).zip([0.15, 0.55]) {
        let (ca, cf) = (covered_fraction(&x.rgba), covered_fraction(&y.rgba));
        eprintln!(
            "{}: covered {ca:.4} with LOD, {cf:.4} at level 0; levels {:?}",
            x.name, x.stats.lod_histogram
        );
        assert!(
            x.stats.lod_histogram[0] < x.stats.visible(),
            "LOD is in use"
        );
        assert!(
            (cf - ca) / cf < limit,
            "{}: LOD loses {:.1} % of the covered pixels",
            x.name,
            100.0 * (cf - ca) / cf
        );
    }
}
