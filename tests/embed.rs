//! The embedding API: a `HostRenderer` drawing into the host's own textures on the host's
//! device gives the pixels `SceneRenderer::render` gives, refuses views that do not match the
//! targets, follows a resize; the `Engine` renders the same frame as the renderer.

mod common;

use common::*;
use std::sync::Arc;
use tutti::jobs::Executor;
use tutti::render::{COLOR_FORMAT, HostRenderer, Pipelines, RenderError, SceneRenderer};
use tutti::{AssetLibrary, GpuContext, default_scene};

/// Render `frame` of `world` with `host` into fresh textures of each target's size; returns
/// tightly packed RGBA8 per target.
fn host_frame(ctx: &GpuContext, host: &HostRenderer, exec: &Executor, frame: u32) -> Vec<Vec<u8>> {
    let device = &ctx.device;
    let textures = target_textures(ctx, host);
    let views: Vec<wgpu::TextureView> = textures
        .iter()
        .map(|t| t.create_view(&Default::default()))
        .collect();
    let refs: Vec<&wgpu::TextureView> = views.iter().collect();
    let prepared = host
        .prepare(exec, host.world().frame_time(frame))
        .expect("prepares");
    let mut encoder = device.create_command_encoder(&Default::default());
    host.record(&prepared, &mut encoder, &refs)
        .expect("records");
    ctx.queue.submit([encoder.finish()]);
    textures
        .iter()
        .map(|t| read_texture(ctx, t, t.width(), t.height()))
        .collect()
}

/// One colour texture per target of `host`, sized like it, that can be copied from.
fn target_textures(ctx: &GpuContext, host: &HostRenderer) -> Vec<wgpu::Texture> {
    host.targets()
        .iter()
        .map(|t| {
            ctx.device.create_texture(&wgpu::TextureDescriptor {
                label: Some("test::host_color"),
                size: wgpu::Extent3d {
                    width: t.width,
                    height: t.height,
                    depth_or_array_layers: 1,
                },
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format: COLOR_FORMAT,
                usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
                view_formats: &[],
            })
        })
        .collect()
}

/// Copy a texture out (blocking) as tightly packed RGBA8.
fn read_texture(ctx: &GpuContext, texture: &wgpu::Texture, width: u32, height: u32) -> Vec<u8> {
    let row = (width * 4).div_ceil(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT)
        * wgpu::COPY_BYTES_PER_ROW_ALIGNMENT;
    let staging = ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("test::staging"),
        size: u64::from(row * height),
        usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
        mapped_at_creation: false,
    });
    let mut encoder = ctx.device.create_command_encoder(&Default::default());
    tutti::gpu::encode_texture_copy(&mut encoder, texture, &staging);
    ctx.queue.submit([encoder.finish()]);
    let bytes = tutti::gpu::read_buffer(ctx, &staging).expect("reads back");
    tutti::gpu::unpad_rows(&bytes, width, height)
}

#[test]
fn a_host_device_frame_equals_the_renderers_frame_and_views_are_checked() {
    let Some(ctx) = lavapipe() else {
        return;
    };
    let world = Arc::new(
        default_scene(&AssetLibrary::new())
            .expect("default scene")
            .world(),
    );
    let exec = Executor::with_workers(2).expect("executor");
    let mut host = HostRenderer::new(
        &ctx.adapter,
        &ctx.device,
        &ctx.queue,
        COLOR_FORMAT,
        world.clone(),
    )
    .expect("fits");
    let pipelines = Pipelines::new(&ctx);
    let own = SceneRenderer::new(&ctx, &pipelines, &world).expect("fits");
    for frame in [0, 17] {
        let expected = own
            .render(&ctx, &pipelines, &world.animate(world.frame_time(frame)))
            .expect("renders");
        let got = host_frame(&ctx, &host, &exec, frame);
        assert_eq!(got.len(), expected.len());
        for (g, e) in got.iter().zip(&expected) {
            assert!(covered_fraction(g) > 0.02, "{}: nothing drawn", e.name);
            assert!(g == &e.rgba, "frame {frame} {}: host pixels differ", e.name);
        }
    }
    // One view for two targets is refused, naming the counts.
    let prepared = host.prepare(&exec, 0.0).expect("prepares");
    let texture = ctx.device.create_texture(&wgpu::TextureDescriptor {
        label: None,
        size: wgpu::Extent3d {
            width: 8,
            height: 8,
            depth_or_array_layers: 1,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: COLOR_FORMAT,
        usage: wgpu::TextureUsages::RENDER_ATTACHMENT,
        view_formats: &[],
    });
    let view = texture.create_view(&Default::default());
    let mut encoder = ctx.device.create_command_encoder(&Default::default());
    let err = host
        .record(&prepared, &mut encoder, &[&view])
        .expect_err("one view for two targets");
    assert!(
        matches!(
            err,
            RenderError::Views {
                targets: 2,
                views: 1,
                ..
            }
        ),
        "{err}"
    );
    drop(encoder);
    // A resize to zero is refused; a real one changes the target and the frame still renders.
    assert!(matches!(
        host.resize(0, (0, 10)),
        Err(RenderError::TargetSize { .. })
    ));
    host.resize(0, (200, 120)).expect("resizes");
    assert_eq!(
        (host.targets()[0].width, host.targets()[0].height),
        (200, 120)
    );
    let resized = host_frame(&ctx, &host, &exec, 3);
    assert_eq!(resized[0].len(), 200 * 120 * 4);
    assert!(covered_fraction(&resized[0]) > 0.02);
    ctx.check().expect("no device error");
}

#[test]
fn the_engine_renders_what_the_renderer_renders() {
    if lavapipe().is_none() {
        return;
    }
    let engine = tutti::Engine::new(tutti::EngineOptions {
        adapters: "vulkan".parse().expect("a spec"),
        ..Default::default()
    })
    .expect("engine");
    let scene = engine.default_scene().expect("scene");
    let images = engine.render_frame(&scene, 5).expect("renders");
    let ctx = &engine.devices()[0];
    let world = scene.world();
    let pipelines = Pipelines::new(ctx);
    let own = SceneRenderer::new(ctx, &pipelines, &world).expect("fits");
    let expected = own
        .render(ctx, &pipelines, &world.animate(world.frame_time(5)))
        .expect("renders");
    assert_eq!(images, expected);
    let err = engine
        .render_frame(&scene, 1_000_000)
        .expect_err("out of range");
    assert!(err.to_string().contains("outside"), "{err}");
    assert!(engine.metrics().completed > 0, "the frame ran as jobs");
}

/// Records the labels of the scopes it is asked to open.
#[derive(Default)]
struct Labels(std::sync::Mutex<Vec<String>>);

impl tutti::render::PassScopes for Labels {
    fn scope(
        &self,
        label: &str,
        encoder: &mut wgpu::CommandEncoder,
        body: &mut tutti::render::ScopeBody<'_>,
    ) -> Result<(), RenderError> {
        self.0.lock().expect("labels").push(label.to_string());
        body(encoder)
    }
}

#[test]
fn live_stats_match_the_blocking_readback_and_follow_the_avatar_count_and_scopes_name_each_pass() {
    let Some(ctx) = lavapipe() else {
        return;
    };
    let world = Arc::new(
        default_scene(&AssetLibrary::new())
            .expect("default scene")
            .world(),
    );
    let exec = Executor::with_workers(2).expect("executor");
    let mut host = HostRenderer::new(
        &ctx.adapter,
        &ctx.device,
        &ctx.queue,
        COLOR_FORMAT,
        world.clone(),
    )
    .expect("fits");
    let avatars = world.avatars.len() as u32;
    let textures = target_textures(&ctx, &host);
    let views: Vec<wgpu::TextureView> = textures
        .iter()
        .map(|t| t.create_view(&Default::default()))
        .collect();
    let refs: Vec<&wgpu::TextureView> = views.iter().collect();
    let mut live = tutti::render::LiveStats::new(host.context(), host.scene());
    for count in [avatars, 3, 0] {
        host.set_avatar_count(count);
        assert_eq!(host.scene().avatar_count(), count.min(avatars));
        let labels = Labels::default();
        let mut sampled = 0;
        // Frames until one of this count's frames is read back (the ring never blocks).
        for _ in 0..20 {
            let prepared = host.prepare(&exec, 0.5).expect("prepares");
            let mut encoder = ctx.device.create_command_encoder(&Default::default());
            host.record_with(&prepared, &mut encoder, &refs, Some(&labels))
                .expect("records");
            if live.encode(&mut encoder, host.scene()) {
                sampled += 1;
            }
            ctx.queue.submit([encoder.finish()]);
            live.after_submit();
            ctx.device
                .poll(wgpu::PollType::wait_indefinitely())
                .expect("polls");
            if sampled >= 2 {
                break;
            }
        }
        let (_, stats) = live.latest(host.scene()).expect("stats read back");
        let stats = stats.to_vec();
        for (t, s) in stats.iter().enumerate() {
            // The CPU side: the blocking readback of the same (last) frame's choices.
            let choices = host
                .scene()
                .read_lod_choices(&ctx, t)
                .expect("reads choices");
            let mut histogram = [0u32; tutti::render::MAX_LODS];
            for level in choices.iter().flatten() {
                histogram[*level as usize] += 1;
            }
            assert_eq!(
                s.lod_histogram, histogram,
                "target {t} with {count} avatars"
            );
            assert_eq!(s.visible() + s.culled, count.min(avatars), "target {t}");
        }
        if count == 0 {
            assert!(stats.iter().all(|s| s.visible() == 0 && s.triangles == 0));
        }
        // One scope per group of passes, in recording order, per frame.
        let labels = labels.0.lock().expect("labels").clone();
        let names: Vec<&str> = host.targets().iter().map(|t| t.name.as_str()).collect();
        let mut frame = Vec::new();
        for n in &names {
            frame.push(format!("cull+lod {n}"));
        }
        frame.push("skin".into());
        for n in &names {
            frame.push(format!("raster {n}"));
        }
        assert_eq!(labels[..frame.len()], frame[..], "{labels:?}");
        assert_eq!(labels.len() % frame.len(), 0);
    }
    ctx.check().expect("no device error");
}
