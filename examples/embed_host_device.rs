//! Embedding tutti on the host's own wgpu device: the host creates the instance, adapter,
//! device, queue, a colour texture per scene target and the command encoder; tutti's
//! `HostRenderer` runs the frame's jobs and records its passes into the host's encoder. The host
//! then copies its textures out and saves PNGs.
//!
//! The PNG bytes equal `tutti render --offscreen` of the same scene, frame and adapter (CI
//! compares them with `cmp`):
//!
//! ```text
//! cargo run --release --example embed_host_device -- --backend vulkan --frame 12 --out target/embed
//! tutti render --offscreen --adapters vulkan --frames 12 --out target/cli
//! cmp target/embed/main.png target/cli/default/main/000012.png
//! ```

use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::sync::Arc;
use tutti::jobs::Executor;
use tutti::render::{COLOR_FORMAT, HostRenderer};
use tutti::{AssetLibrary, default_scene};

struct Args {
    backend: wgpu::Backends,
    frame: u32,
    out: PathBuf,
}

fn args() -> Result<Args> {
    let mut a = Args {
        backend: wgpu::Backends::VULKAN,
        frame: 12,
        out: PathBuf::from("target/embed"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--backend" => {
                a.backend = match value.as_str() {
                    "vulkan" => wgpu::Backends::VULKAN,
                    "gl" => wgpu::Backends::GL,
                    "metal" => wgpu::Backends::METAL,
                    "dx12" => wgpu::Backends::DX12,
                    other => bail!("unknown backend {other:?}; use vulkan, gl, metal or dx12"),
                }
            }
            "--frame" => a.frame = value.parse().context("--frame takes a frame number")?,
            "--out" => a.out = value.into(),
            other => bail!("unknown option {other}; use --backend, --frame or --out"),
        }
    }
    Ok(a)
}

fn main() -> Result<()> {
    let args = args()?;

    // The host's own device, made the way the host likes.
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapter = pollster::block_on(instance.enumerate_adapters(args.backend))
        .into_iter()
        .next()
        .context("no adapter on that backend; see the README for software adapters")?;
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("host::device"),
        required_features: adapter.features() & wgpu::Features::INDIRECT_FIRST_INSTANCE,
        required_limits: adapter.limits(),
        ..Default::default()
    }))?;
    println!("host device on {}", adapter.get_info().name);

    // tutti on top of it: the built-in default scene, drawn into the host's textures.
    let scene = default_scene(&AssetLibrary::new())?;
    let world = Arc::new(scene.world());
    let tutti = HostRenderer::new(&adapter, &device, &queue, COLOR_FORMAT, world.clone())?;
    let exec = Executor::new(Default::default())?;

    // The host's colour textures, one per scene target, and its readback buffers.
    let targets: Vec<(String, u32, u32)> = tutti
        .targets()
        .iter()
        .map(|t| (t.name.clone(), t.width, t.height))
        .collect();
    let textures: Vec<wgpu::Texture> = targets
        .iter()
        .map(|(name, w, h)| {
            device.create_texture(&wgpu::TextureDescriptor {
                label: Some(&format!("host::color[{name}]")),
                size: wgpu::Extent3d {
                    width: *w,
                    height: *h,
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
        .collect();
    let views: Vec<wgpu::TextureView> = textures
        .iter()
        .map(|t| t.create_view(&Default::default()))
        .collect();
    let view_refs: Vec<&wgpu::TextureView> = views.iter().collect();

    // One frame: tutti prepares (jobs, uploads), then records into the host's encoder.
    let frame = tutti.prepare(&exec, world.frame_time(args.frame))?;
    let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
        label: Some("host::frame"),
    });
    tutti.record(&frame, &mut encoder, &view_refs)?;
    let mut readbacks = Vec::new();
    for (texture, (_, w, h)) in textures.iter().zip(&targets) {
        let row = (w * 4).div_ceil(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT)
            * wgpu::COPY_BYTES_PER_ROW_ALIGNMENT;
        let buffer = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("host::readback"),
            size: u64::from(row * h),
            usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
            mapped_at_creation: false,
        });
        encoder.copy_texture_to_buffer(
            texture.as_image_copy(),
            wgpu::TexelCopyBufferInfo {
                buffer: &buffer,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(row),
                    rows_per_image: Some(*h),
                },
            },
            texture.size(),
        );
        readbacks.push((buffer, row));
    }
    queue.submit([encoder.finish()]);

    std::fs::create_dir_all(&args.out)?;
    for ((buffer, row), (name, w, h)) in readbacks.iter().zip(&targets) {
        buffer.map_async(wgpu::MapMode::Read, .., |r| r.expect("readback maps"));
        device.poll(wgpu::PollType::wait_indefinitely())?;
        let mut rgba = Vec::with_capacity((w * h * 4) as usize);
        {
            let mapped = buffer.get_mapped_range(..)?;
            for y in 0..*h as usize {
                let start = y * *row as usize;
                rgba.extend_from_slice(&mapped[start..start + (w * 4) as usize]);
            }
        }
        buffer.unmap();
        if rgba.chunks(4).all(|p| p == &rgba[..4]) {
            bail!("{name}: every pixel is the same colour; nothing was drawn");
        }
        let path = args.out.join(format!("{name}.png"));
        tutti::offscreen::write_png_atomic(&path, *w, *h, &rgba)?;
        println!("wrote {} ({w}x{h})", path.display());
    }
    Ok(())
}
