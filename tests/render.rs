//! GPU rendering on the software adapters: golden images, target sizes, determinism, both
//! adapters, and GPU skinning against the CPU twin.

mod common;

use common::*;
use glam::Vec3;
use tutti::render::{FrameRenderer, SceneRenderer, TargetImage};
use tutti::scene::{World, parse_scene};
use tutti::{AssetLibrary, GpuContext, default_scene};

fn default_world() -> World {
    default_scene(&AssetLibrary::new())
        .expect("default scene")
        .world()
}

fn render_frame(ctx: &GpuContext, world: &World, frame: u32) -> Vec<TargetImage> {
    let renderer = FrameRenderer::new(ctx);
    let scene = SceneRenderer::new(ctx, &renderer, world).expect("scene fits");
    scene
        .render(ctx, &renderer, &world.animate(world.frame_time(frame)))
        .expect("frame renders")
}

/// Frames chosen to show different phases of the walk.
const GOLDEN_FRAMES: [u32; 2] = [0, 20];

/// Render the golden frames of the default scene on `ctx` and compare them with the references:
/// `default_*` with automatic LOD, `lod0_default_*` with level 0 forced (the renderer's output
/// before LOD selection existed).
fn check_golden_frames(ctx: &GpuContext, force_lod0: bool) {
    let mut world = default_world();
    let prefix = if force_lod0 {
        world.desc.lod.force = Some(0);
        "lod0_default"
    } else {
        "default"
    };
    for frame in GOLDEN_FRAMES {
        for img in render_frame(ctx, &world, frame) {
            let name = format!("{prefix}_{}_{frame:06}", img.name);
            assert_matches_golden(&name, img.width, img.height, &img.rgba);
        }
    }
}

#[test]
fn default_scene_matches_golden_images_on_lavapipe() {
    let Some(ctx) = lavapipe() else { return };
    check_golden_frames(&ctx, false);
}

#[test]
fn with_lod0_forced_both_adapters_match_the_golden_images_from_before_lod() {
    for ctx in software_adapters() {
        check_golden_frames(&ctx, true);
    }
}

#[test]
fn every_target_has_its_size_and_is_not_blank_on_both_adapters() {
    let world = default_world();
    let devices = software_adapters();
    for ctx in &devices {
        let images = render_frame(ctx, &world, 7);
        assert_eq!(images.len(), world.desc.targets.len());
        for (img, t) in images.iter().zip(&world.desc.targets) {
            assert_eq!(
                (img.name.as_str(), img.width, img.height),
                (t.name.as_str(), t.width, t.height)
            );
            assert_eq!(img.rgba.len(), (t.width * t.height * 4) as usize);
            let covered = covered_fraction(&img.rgba);
            assert!(
                covered > 0.03 && covered < 0.6,
                "{} {}: {covered:.3} of pixels covered",
                ctx.label,
                img.name
            );
            // The clear colour is the scene's sky colour (sRGB bytes).
            let sky = world.desc.environment.sky;
            let expect = [sky.0, sky.1, sky.2].map(|c| (c * 255.0).round() as i32);
            for (got, want) in img.rgba[..3].iter().zip(expect) {
                assert!(
                    (i32::from(*got) - want).abs() <= 1,
                    "{}: sky pixel {:?}",
                    ctx.label,
                    &img.rgba[..4]
                );
            }
        }
    }
}

#[test]
fn llvmpipe_frames_match_lavapipe_golden_images() {
    // "Both adapters produce correct frames": the GL adapter renders the same pictures.
    let Some(ctx) = llvmpipe() else { return };
    check_golden_frames(&ctx, false);
}

#[test]
fn rendering_the_same_frame_twice_gives_identical_bytes() {
    let world = default_world();
    for ctx in software_adapters() {
        let a = render_frame(&ctx, &world, 13);
        let b = render_frame(&ctx, &world, 13);
        let c = render_frame(&ctx, &world, 14);
        for ((x, y), z) in a.iter().zip(&b).zip(&c) {
            let px = tutti::offscreen::encode_png(x.width, x.height, &x.rgba).expect("png");
            let py = tutti::offscreen::encode_png(y.width, y.height, &y.rgba).expect("png");
            assert!(
                px == py,
                "{}: frame 13 target {} differs between runs",
                ctx.label,
                x.name
            );
            assert!(
                x.rgba != z.rgba,
                "{}: frames 13 and 14 should differ (animation)",
                ctx.label
            );
        }
    }
}

/// A scene with four different assets, so several draw batches share the buffers.
const MIXED_SCENE: &str = r#"Scene(
    name: "mixed",
    targets: [(name: "t", width: 96, height: 64)],
    avatars: [
        (asset: "RiggedFigure", count: 3, layout: Grid(spacing: 1.5), phase_spread: 0.5),
        (asset: "humanoid:low", count: 2, layout: Circle(spacing: 2.0), position: (0.0, 0.0, -3.0), clip: Some("walk")),
        (asset: "RiggedSimple", count: 2, scale: 0.2, position: (3.0, 0.0, 0.0), speed: 1.3),
        (asset: "SimpleSkin", count: 1, position: (-3.0, 0.0, 0.0), phase_offset: 1.0),
    ],
)"#;

#[test]
fn gpu_skinning_matches_the_cpu_twin() {
    let lib = AssetLibrary::new();
    let scene =
        parse_scene(MIXED_SCENE, std::path::Path::new("mixed.ron"), None, &lib).expect("scene");
    let mut world = scene.world();
    // Level 0 everywhere, so the skin pass skins every vertex of every avatar.
    world.desc.lod.force = Some(0);
    for ctx in software_adapters() {
        let renderer = FrameRenderer::new(&ctx);
        let sr = SceneRenderer::new(&ctx, &renderer, &world).expect("fits");
        for t in [0.0f32, 0.37, 1.9] {
            let anim = world.animate(t);
            sr.render(&ctx, &renderer, &anim).expect("renders");
            let gpu = sr.read_skinned(&ctx).expect("readback");
            let mut base = 0usize;
            let mut worst = 0.0f32;
            for a in &world.avatars {
                let asset = &world.assets[a.asset];
                let n = asset.skeleton.bindings.len();
                let palette =
                    &anim.palettes[a.palette_offset as usize..a.palette_offset as usize + n];
                let cpu = tutti::anim::skin_cpu(&asset.mesh, palette, a.model);
                for (i, (p, nrm)) in cpu.iter().enumerate() {
                    let g = gpu[base + i];
                    let gp = Vec3::from_slice(&g.position[..3]);
                    let gn = Vec3::from_slice(&g.normal[..3]);
                    let err = (gp - *p).length() / (1.0 + p.length());
                    worst = worst.max(err);
                    assert!(
                        err < 1e-4,
                        "{} t={t} {}: vertex {i}: gpu {gp} cpu {p}",
                        ctx.label,
                        asset.name
                    );
                    assert!(
                        (gn - *nrm).length() < 1e-3,
                        "{} t={t} {}: normal {i}: gpu {gn} cpu {nrm}",
                        ctx.label,
                        asset.name
                    );
                }
                base += cpu.len();
            }
            assert_eq!(base, gpu.len());
            eprintln!(
                "{} t={t}: worst relative position error {worst:e}",
                ctx.label
            );
        }
    }
}

#[test]
fn mixed_assets_render_on_both_adapters_alike() {
    let lib = AssetLibrary::new();
    let world = parse_scene(MIXED_SCENE, std::path::Path::new("mixed.ron"), None, &lib)
        .expect("scene")
        .world();
    let images: Vec<Vec<TargetImage>> = software_adapters()
        .iter()
        .map(|ctx| render_frame(ctx, &world, 5))
        .collect();
    for imgs in &images {
        assert!(covered_fraction(&imgs[0].rgba) > 0.02);
    }
    if let [a, b] = images.as_slice() {
        let d = diff(&a[0].rgba, &b[0].rgba);
        assert!(
            d.mean < 1.0 && d.bad_fraction < 0.01,
            "lavapipe vs llvmpipe: {d:?}"
        );
    }
}
