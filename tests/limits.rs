//! Device limits on lavapipe devices opened with lowered limits: a scene that does not fit is
//! declined with a typed error before anything is created and the device stays healthy;
//! dispatches beyond the per-dimension cap are split over two dimensions and still match the
//! CPU twins; and a device with exactly the limits the check reports renders the scene.

mod common;

use common::*;
use glam::Vec3;
use tutti::render::MAX_LODS;
use tutti::render::cull_lod::cull_lod_cpu;
use tutti::render::{Pipelines, RenderError, SceneRenderer};
use tutti::scene::{World, parse_scene};
use tutti::{AssetLibrary, GpuContext};

fn world(text: &str) -> World {
    parse_scene(
        text,
        std::path::Path::new("limits.ron"),
        None,
        &AssetLibrary::new(),
    )
    .expect("scene parses")
    .world()
}

/// `count` avatars of `asset` in a grid, seen from above and behind, with a ground.
fn crowd(asset: &str, count: u32, options: &str) -> World {
    world(&format!(
        r#"Scene(
            name: "crowd-{count}",
            {options}
            camera: (eye: (0.0, 18.0, 40.0), target: (0.0, 0.0, 0.0), fov_y: 50.0, near: 0.1, far: 200.0),
            targets: [(name: "main", width: 96, height: 64), (name: "thumb", width: 24, height: 16)],
            environment: (ground: Some((size: 80.0))),
            avatars: [(asset: "{asset}", count: {count}, layout: Grid(spacing: 1.5), clip: Some("walk"), phase_spread: 1.0)],
        )"#
    ))
}

/// The expected error: the scene does not fit, named by what and which limit.
fn assert_declined(result: Result<SceneRenderer, RenderError>, what: &str, limit: &str) {
    let err = match result {
        Ok(_) => panic!("the scene should not fit"),
        Err(e) => e,
    };
    assert!(err.is_does_not_fit(), "{err}");
    let need = err.exceeded_limit().expect("a limit").need();
    assert!(need.what.contains(what), "{err}");
    assert_eq!(need.limit, limit, "{err}");
    assert!(need.needed > need.available, "{err}");
    let message = err.to_string();
    for part in [
        "does not fit",
        what,
        limit,
        &need.needed.to_string(),
        &need.available.to_string(),
    ] {
        assert!(message.contains(part), "{message:?} lacks {part:?}");
    }
}

/// Render one frame of a small scene on `ctx` and check the device is still healthy.
fn renders_a_small_scene(ctx: &GpuContext, renderer: &Pipelines) {
    let small = crowd("humanoid:low", 6, "");
    let sr = SceneRenderer::new(ctx, renderer, &small).expect("the small scene fits");
    let images = sr
        .render(ctx, renderer, &small.animate(0.5))
        .expect("the small scene renders");
    ctx.check().expect("the device is healthy");
    assert!(covered_fraction(&images[0].rgba) > 0.005);
}

/// A lavapipe device whose storage bindings hold 768 KiB: one `humanoid:high` needs 1 MiB of
/// rest vertices (a storage binding of the skin pass), and a thousand avatars' palettes need
/// 1.3 MiB. Both are declined before anything is created, and the same device then renders
/// a small scene. (Before the check, the first created an oversized binding: a validation
/// error that retired the device.)
#[test]
fn a_scene_too_large_for_the_device_is_declined_and_the_device_stays_healthy() {
    let Some(ctx) = lavapipe_with_limits(|l| l.max_storage_buffer_binding_size = 768 << 10) else {
        return;
    };
    let renderer = Pipelines::new(&ctx);
    let detailed = crowd("humanoid:high", 1, "");
    assert_declined(
        SceneRenderer::new(&ctx, &renderer, &detailed),
        "rest vertex buffer of asset \"humanoid:high\"",
        "max_storage_buffer_binding_size",
    );
    ctx.check()
        .expect("declining a scene leaves the device healthy");
    let many = crowd("humanoid:low", 1000, "skinning: Vertex,");
    assert_declined(
        SceneRenderer::new(&ctx, &renderer, &many),
        "joint palette buffer",
        "max_storage_buffer_binding_size",
    );
    // The check alone says the same, without a renderer.
    let err = SceneRenderer::check(&ctx, &many).expect_err("does not fit");
    assert!(err.is_does_not_fit() && err.to_string().contains(&ctx.label));
    ctx.check()
        .expect("declining a scene leaves the device healthy");
    renders_a_small_scene(&ctx, &renderer);
}

/// A target larger than the device's textures, and a pass needing more than the square of the
/// per-dimension workgroup cap, are declined the same way.
#[test]
fn oversized_targets_and_dispatches_are_declined() {
    let Some(ctx) = lavapipe_with_limits(|l| {
        l.max_texture_dimension_2d = 512;
        l.max_compute_workgroups_per_dimension = 3;
    }) else {
        return;
    };
    let renderer = Pipelines::new(&ctx);
    let mut wide = crowd("humanoid:low", 2, "");
    wide.desc.targets[0].width = 600;
    assert_declined(
        SceneRenderer::new(&ctx, &renderer, &wide),
        "target \"main\" colour texture",
        "max_texture_dimension_2d",
    );
    // 700 avatars: 11 cull workgroups, more than 3 x 3.
    assert_declined(
        SceneRenderer::new(&ctx, &renderer, &crowd("humanoid:low", 700, "")),
        "cull dispatch",
        "max_compute_workgroups_per_dimension squared",
    );
    ctx.check()
        .expect("declining a scene leaves the device healthy");
    renders_a_small_scene(&ctx, &renderer);
}

/// A lavapipe device that runs at most five workgroups per dimension: with 700 avatars the cull
/// and animation passes need 11 workgroups and the skin pass 25 per avatar, so every compute
/// pass folds its workgroups into two dimensions. The GPU still agrees with the CPU twins
/// (palettes, culling, indirect draw counts, skinned vertices) and draws the picture an
/// unlimited device draws.
#[test]
fn dispatches_beyond_the_per_dimension_cap_are_split_and_match_the_cpu_twins() {
    let Some(ctx) = lavapipe_with_limits(|l| l.max_compute_workgroups_per_dimension = 5) else {
        return;
    };
    let mut world = crowd("humanoid:low", 700, "skinning: Compute, animation: Gpu,");
    world.desc.lod.force = Some(0);
    let renderer = Pipelines::new(&ctx);
    let sr = SceneRenderer::new(&ctx, &renderer, &world).expect("fits once split");
    assert!(sr.animates_on_gpu() && !sr.vertex_skinning());
    let t = 0.7;
    let anim = world.animate(t);
    let images = sr.render(&ctx, &renderer, &anim).expect("renders");
    ctx.check().expect("no validation error");

    // Animation: every palette matrix.
    let palettes = sr.read_palettes(&ctx).expect("palettes");
    assert_eq!(palettes.len(), anim.palettes.len());
    for (i, (g, c)) in palettes.iter().zip(&anim.palettes).enumerate() {
        let err = (*g - *c)
            .abs()
            .to_cols_array()
            .into_iter()
            .fold(0.0f32, f32::max);
        assert!(err < 1e-4, "palette matrix {i} differs by {err}");
    }

    // Culling and the draw counts of both targets.
    let mut visible_avatars = vec![false; world.avatars.len()];
    for (ti, img) in images.iter().enumerate() {
        let gpu = sr.read_lod_choices(&ctx, ti).expect("choices");
        let tutti::render::debug::CullInputs {
            instances,
            batch_lods: batches,
            params,
        } = sr.cull_inputs(ti);
        let cpu = cull_lod_cpu(instances, batches, &params, &mut vec![0; instances.len()]);
        let mut margin_only = 0;
        for (a, (c, g)) in cpu.iter().zip(&gpu).enumerate() {
            match (c, g) {
                (Some(c), Some(g)) => assert_eq!(c, g, "target {ti} avatar {a}"),
                (Some(_), None) => panic!("target {ti}: the GPU culled avatar {a}"),
                (None, Some(_)) => margin_only += 1,
                (None, None) => {}
            }
            visible_avatars[a] |= g.is_some();
        }
        let visible = gpu.iter().flatten().count();
        assert!(visible > 100, "target {ti}: only {visible} avatars visible");
        assert!(
            margin_only * 100 <= visible,
            "target {ti}: {margin_only} extra"
        );
        let draws = sr.read_draws(&ctx, ti).expect("draws");
        let submeshes = world.assets[0].mesh.submeshes.len();
        assert_eq!(draws.len(), submeshes * MAX_LODS);
        for (d, draw) in draws.iter().enumerate() {
            let level = (d % MAX_LODS) as u32;
            let want = gpu.iter().filter(|&&g| g == Some(level)).count();
            assert_eq!(draw.instance_count as usize, want, "target {ti} draw {d}");
        }
        assert_eq!(img.stats.visible() as usize, visible);
    }

    // Skinning: every vertex of every avatar some target draws (all at level 0).
    let skinned = sr.read_skinned(&ctx).expect("skinned");
    let asset = &world.assets[0];
    let joints = asset.skeleton.bindings.len();
    let n = asset.mesh.vertices.len();
    for (a, avatar) in world.avatars.iter().enumerate() {
        if !visible_avatars[a] {
            continue;
        }
        let offset = avatar.palette_offset as usize;
        let palette = &anim.palettes[offset..offset + joints];
        let cpu = tutti::anim::skin_cpu(&asset.mesh, palette, avatar.model);
        for (i, (p, _)) in cpu.iter().enumerate() {
            let g = Vec3::from_slice(&skinned[a * n + i].position[..3]);
            let err = (g - *p).length() / (1.0 + p.length());
            assert!(err < 1e-4, "avatar {a} vertex {i}: gpu {g} cpu {p}");
        }
    }

    // The same picture as a device without the cap.
    let Some(full) = lavapipe() else { return };
    let full_renderer = Pipelines::new(&full);
    let reference = SceneRenderer::new(&full, &full_renderer, &world)
        .expect("fits")
        .render(&full, &full_renderer, &anim)
        .expect("renders");
    for (x, y) in images.iter().zip(&reference) {
        let d = diff(&x.rgba, &y.rgba);
        assert!(d.mean < 0.1 && d.bad_fraction < 0.001, "{}: {d:?}", x.name);
    }
}

/// The check's sizes are what the renderer allocates: a device whose limits are exactly the
/// largest needs the check reports (every binding, buffer, texture side, storage buffers per
/// stage, and the smallest workgroup cap the dispatches fit in) creates and renders the scene
/// without a validation error.
#[test]
fn a_device_with_exactly_the_reported_limits_renders_the_scene() {
    let Some(probe) = lavapipe() else { return };
    let world = crowd("humanoid:medium", 150, "skinning: Compute, animation: Gpu,");
    let report = SceneRenderer::check(&probe, &world).expect("fits lavapipe");
    drop(probe);
    let largest = |limit: &str| {
        report
            .needs()
            .iter()
            .filter(|n| n.limit == limit)
            .map(|n| n.needed)
            .max()
            .unwrap_or_else(|| panic!("no need against {limit}"))
    };
    let workgroups = largest("max_compute_workgroups_per_dimension squared");
    let cap = (1u32..).find(|c| u64::from(*c) * u64::from(*c) >= workgroups);
    let Some(ctx) = lavapipe_with_limits(|l| {
        l.max_storage_buffer_binding_size = largest("max_storage_buffer_binding_size");
        l.max_buffer_size = largest("max_buffer_size");
        l.max_uniform_buffer_binding_size = largest("max_uniform_buffer_binding_size");
        l.max_texture_dimension_2d = largest("max_texture_dimension_2d") as u32;
        l.max_storage_buffers_per_shader_stage =
            largest("max_storage_buffers_per_shader_stage") as u32;
        l.max_compute_workgroups_per_dimension = cap.expect("a cap");
    }) else {
        return;
    };
    eprintln!(
        "limits: {:?}; tightest need: {:?}",
        ctx.limits,
        report.tightest()
    );
    assert!(
        ctx.limits.max_compute_workgroups_per_dimension < 65_535,
        "the cap should force a split"
    );
    let renderer = Pipelines::new(&ctx);
    let sr = SceneRenderer::new(&ctx, &renderer, &world).expect("exactly fits");
    sr.render(&ctx, &renderer, &world.animate(1.1))
        .expect("renders without a validation error");
    ctx.check().expect("healthy");
    // A target one pixel wider than the device allows is declined.
    let mut larger = world.clone();
    larger.desc.targets[0].width = ctx.limits.max_texture_dimension_2d + 1;
    assert!(
        SceneRenderer::new(&ctx, &renderer, &larger)
            .err()
            .is_some_and(|e| e.is_does_not_fit())
    );
}
