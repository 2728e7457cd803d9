//! GPU rendering on the software adapters: golden images, target sizes, determinism, both
//! adapters, and GPU skinning against the CPU twin.

mod common;

use common::*;
use glam::Vec3;
use tutti::render::{Pipelines, SceneRenderer, TargetImage};
use tutti::scene::{World, parse_scene};
use tutti::{AssetLibrary, GpuContext, default_scene};

fn default_world() -> World {
    default_scene(&AssetLibrary::new())
        .expect("default scene")
        .world()
}

fn render_frame(ctx: &GpuContext, world: &World, frame: u32) -> Vec<TargetImage> {
    let renderer = Pipelines::new(ctx);
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
        let renderer = Pipelines::new(&ctx);
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

/// A humanoid whose clip uses every interpolation: STEP translation, LINEAR rotation (slerp) and
/// scale, CUBICSPLINE translation and rotation, with keys at uneven times.
fn every_interpolation_asset() -> tutti::Asset {
    use glam::{Quat, Vec4};
    use tutti::assets::{Channel, Clip, Interpolation, Property};
    let h = tutti::assets::procedural::humanoid(tutti::assets::procedural::Detail::Low);
    let q = |axis: Vec3, angle: f32| Vec4::from(Quat::from_axis_angle(axis.normalize(), angle));
    let times = vec![0.0, 0.3, 0.35, 1.1, 2.0];
    let channels = vec![
        Channel {
            node: 1,
            property: Property::Translation,
            interpolation: Interpolation::Step,
            times: times.clone(),
            values: (0..5)
                .map(|k| Vec4::new(0.01 * k as f32, 1.0, 0.0, 0.0))
                .collect(),
        },
        Channel {
            node: 2,
            property: Property::Rotation,
            interpolation: Interpolation::Linear,
            times: times.clone(),
            values: (0..5)
                .map(|k| q(Vec3::new(1.0, 0.2, 0.0), 0.7 * k as f32))
                .collect(),
        },
        Channel {
            node: 5,
            property: Property::Scale,
            interpolation: Interpolation::Linear,
            times: times.clone(),
            values: (0..5).map(|k| Vec4::splat(1.0 + 0.1 * k as f32)).collect(),
        },
        Channel {
            node: 7,
            property: Property::Rotation,
            interpolation: Interpolation::CubicSpline,
            times: times.clone(),
            values: (0..5)
                .flat_map(|k| {
                    let v = q(Vec3::new(0.0, 0.3, 1.0), 0.5 * k as f32);
                    [v * 0.2, v, v * -0.3]
                })
                .collect(),
        },
        Channel {
            node: 9,
            property: Property::Translation,
            interpolation: Interpolation::CubicSpline,
            times,
            values: (0..5)
                .flat_map(|k| {
                    let v = Vec4::new(0.2, -0.1 * k as f32, 0.05, 0.0);
                    [
                        Vec4::new(0.0, 0.3, 0.0, 0.0),
                        v,
                        Vec4::new(0.1, 0.0, -0.2, 0.0),
                    ]
                })
                .collect(),
        },
    ];
    let clip = Clip {
        name: "mix".into(),
        duration: 2.0,
        channels,
    };
    tutti::Asset::new(
        "mix".into(),
        h.mesh.clone(),
        h.skeleton.clone(),
        vec![clip, h.clips[0].clone()],
    )
}

/// The GPU animation pass writes the palettes the CPU computes, for every interpolation, the
/// built-in assets and a rest-pose avatar, at times that wrap the clips; and the frame it draws
/// matches the CPU-animated frame.
#[test]
fn gpu_animation_matches_the_cpu_palettes() {
    let lib = AssetLibrary::new();
    let mut scene =
        parse_scene(MIXED_SCENE, std::path::Path::new("mixed.ron"), None, &lib).expect("scene");
    scene.desc.animation = tutti::scene::Animation::Gpu;
    let mut extra = scene.desc.avatars[1].clone();
    extra.count = 4;
    extra.phase_spread = 0.9;
    extra.speed = 1.3;
    extra.position = (0.0, 0.0, 2.0);
    scene.desc.avatars.push(extra);
    scene.groups.push(tutti::scene::ResolvedGroup {
        asset: std::sync::Arc::new(every_interpolation_asset()),
        clip: Some(0),
    });
    let mut rest = scene.desc.avatars[3].clone();
    rest.position = (-2.0, 0.0, 2.0);
    scene.desc.avatars.push(rest);
    scene.groups.push(tutti::scene::ResolvedGroup {
        asset: scene.groups[1].asset.clone(),
        clip: None,
    });
    let world = scene.world();
    assert!(world.animates_on_gpu());
    let mut cpu_world = world.clone();
    cpu_world.desc.animation = tutti::scene::Animation::Cpu;
    for ctx in software_adapters() {
        let renderer = Pipelines::new(&ctx);
        let gpu = SceneRenderer::new(&ctx, &renderer, &world).expect("fits");
        let cpu = SceneRenderer::new(&ctx, &renderer, &cpu_world).expect("fits");
        assert!(gpu.animates_on_gpu() && !cpu.animates_on_gpu());
        for t in [0.0f32, 0.32, 1.05, 3.7, 19.3] {
            let anim = world.animate(t);
            let gpu_images = gpu.render(&ctx, &renderer, &anim).expect("renders");
            let palettes = gpu.read_palettes(&ctx).expect("palettes");
            let mut worst = 0.0f32;
            for (i, (g, c)) in palettes.iter().zip(&anim.palettes).enumerate() {
                let err = (*g - *c)
                    .abs()
                    .to_cols_array()
                    .into_iter()
                    .fold(0.0f32, f32::max)
                    / (1.0 + c.abs().to_cols_array().into_iter().fold(0.0f32, f32::max));
                worst = worst.max(err);
                assert!(
                    err < 1e-4,
                    "{} t={t}: palette matrix {i} differs by {err}",
                    ctx.label
                );
            }
            eprintln!(
                "{} t={t}: worst relative palette error {worst:e}",
                ctx.label
            );
            let cpu_images = cpu.render(&ctx, &renderer, &anim).expect("renders");
            for (x, y) in gpu_images.iter().zip(&cpu_images) {
                let d = diff(&x.rgba, &y.rgba);
                assert!(
                    d.mean < 0.1 && d.bad_fraction < 0.001,
                    "{} t={t}: {d:?}",
                    ctx.label
                );
            }
        }
    }
}

#[test]
fn a_target_camera_overrides_the_scene_camera_for_that_target_only() {
    let Some(ctx) = lavapipe() else { return };
    let world = default_world();
    let anim = world.animate(world.frame_time(7));
    let renderer = Pipelines::new(&ctx);
    let plain = SceneRenderer::new(&ctx, &renderer, &world)
        .expect("scene fits")
        .render(&ctx, &renderer, &anim)
        .expect("frame renders");
    let mut scene = SceneRenderer::new(&ctx, &renderer, &world).expect("scene fits");
    // Target 1 looks straight up: nothing but sky.
    let up = tutti::scene::Camera {
        eye: (0.0, 1.6, 6.0),
        target: (0.0, 50.0, 6.01),
        ..Default::default()
    };
    scene.set_target_camera(1, Some(up));
    // Moving the scene camera afterwards leaves target 1 on its own camera.
    let mut moved = world.desc.camera.clone();
    moved.eye.0 += 0.5;
    scene.set_camera(moved.clone());
    let images = scene.render(&ctx, &renderer, &anim).expect("frame renders");
    assert!(
        covered_fraction(&images[1].rgba) == 0.0,
        "target 1 should see only sky, {:.3} covered",
        covered_fraction(&images[1].rgba)
    );
    assert!(
        covered_fraction(&images[0].rgba) > 0.03,
        "target 0 is blank"
    );
    assert_ne!(images[0].rgba, plain[0].rgba, "target 0 follows set_camera");
    // Target 0 with the moved scene camera is what a scene with that camera draws.
    let mut expected = world.clone();
    expected.desc.camera = moved;
    let want = SceneRenderer::new(&ctx, &renderer, &expected)
        .expect("scene fits")
        .render(&ctx, &renderer, &anim)
        .expect("frame renders");
    assert_eq!(images[0].rgba, want[0].rgba);
}
