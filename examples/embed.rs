//! Embedding tutti in a host application that owns its wgpu device.
//!
//! The host creates the instance, adapter and device as it likes; tutti only needs them wrapped
//! in a `GpuContext`. This example renders frame 12 of the built-in default scene and writes
//! `embed_<target>.png` into the current folder.
//!
//! Run with `cargo run --example embed`.

use anyhow::{Context, Result};
use tutti::render::{Pipelines, SceneRenderer};
use tutti::{AssetLibrary, GpuContext, default_scene};

fn main() -> Result<()> {
    // The host's own device.
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapter =
        pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default()))
            .context("no adapter; see the README for software adapters")?;
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("host::device"),
        required_limits: adapter.limits(),
        ..Default::default()
    }))?;
    let ctx = GpuContext::new(
        0,
        format!("host {}", adapter.get_info().name),
        adapter,
        device,
        queue,
    );

    // tutti on top of it.
    let scene = default_scene(&AssetLibrary::new())?;
    let world = scene.world();
    let renderer = Pipelines::new(&ctx);
    let gpu_scene = SceneRenderer::new(&ctx, &renderer, &world)?;
    let anim = world.animate(world.frame_time(12));
    for image in gpu_scene.render(&ctx, &renderer, &anim)? {
        let path = format!("embed_{}.png", image.name);
        tutti::offscreen::write_png_atomic(
            std::path::Path::new(&path),
            image.width,
            image.height,
            &image.rgba,
        )?;
        println!("wrote {path} ({}x{})", image.width, image.height);
    }
    Ok(())
}
