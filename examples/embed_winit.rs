//! Embedding tutti in a host's own winit loop and swapchain: the host owns the event loop, the
//! window, the wgpu instance, adapter, device, queue and surface, and each frame's encoder.
//! tutti's `HostRenderer` runs the frame's jobs and records its passes into the host's encoder,
//! drawing the scene's main target into the swapchain image and its thumbnail into a texture of
//! the host's, which the host then copies into the corner of its frame (its own work).
//!
//! ```text
//! cargo run --release --example embed_winit -- --backend vulkan --frames 60 --screenshot embed.png
//! ```
//!
//! `--frames N` quits after N frames (CI runs it under Xvfb); `--screenshot FILE` saves the last
//! one. Resizing the window resizes the main target.

use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use tutti::jobs::Executor;
use tutti::render::HostRenderer;
use tutti::{AssetLibrary, World, default_scene};
use winit::application::ApplicationHandler;
use winit::event::WindowEvent;
use winit::event_loop::{ActiveEventLoop, ControlFlow, EventLoop};
use winit::window::{Window, WindowId};

struct Args {
    backend: wgpu::Backends,
    frames: Option<u64>,
    screenshot: Option<PathBuf>,
}

fn args() -> Result<Args> {
    let mut a = Args {
        backend: wgpu::Backends::all(),
        frames: None,
        screenshot: None,
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
            "--frames" => a.frames = Some(value.parse().context("--frames takes a count")?),
            "--screenshot" => a.screenshot = Some(value.into()),
            other => bail!("unknown option {other}; use --backend, --frames or --screenshot"),
        }
    }
    Ok(a)
}

/// The host's GPU state for its one window.
struct Gpu {
    window: Arc<Window>,
    device: wgpu::Device,
    queue: wgpu::Queue,
    surface: wgpu::Surface<'static>,
    config: wgpu::SurfaceConfiguration,
    tutti: HostRenderer,
    /// The host's texture for the scene's second target (the thumbnail).
    thumb: Option<wgpu::Texture>,
}

struct Host {
    args: Args,
    world: Arc<World>,
    exec: Executor,
    gpu: Option<Gpu>,
    frames: u64,
    start: Instant,
    error: Option<anyhow::Error>,
}

impl Host {
    fn open(&mut self, event_loop: &ActiveEventLoop) -> Result<()> {
        let (w, h) = self
            .world
            .desc
            .targets
            .first()
            .map_or((640, 360), |t| (t.width, t.height));
        let window = Arc::new(
            event_loop.create_window(
                Window::default_attributes()
                    .with_title("host app with tutti inside")
                    .with_inner_size(winit::dpi::PhysicalSize::new(w, h)),
            )?,
        );
        // The host's own instance, adapter and device, made the way the host likes.
        let mut desc = wgpu::InstanceDescriptor::new_with_display_handle(Box::new(
            event_loop.owned_display_handle(),
        ));
        desc.backends = self.args.backend;
        let instance = wgpu::Instance::new(desc);
        let surface = instance.create_surface(window.clone())?;
        let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
            compatible_surface: Some(&surface),
            ..Default::default()
        }))
        .context("no adapter can present to this window")?;
        let (device, queue) =
            pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
                label: Some("host device"),
                required_features: adapter.features() & wgpu::Features::INDIRECT_FIRST_INSTANCE,
                required_limits: adapter.limits(),
                ..Default::default()
            }))?;
        let caps = surface.get_capabilities(&adapter);
        let format = caps
            .formats
            .iter()
            .copied()
            .find(|f| f.is_srgb())
            .unwrap_or(caps.formats[0]);
        let size = window.inner_size();
        let config = wgpu::SurfaceConfiguration {
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT
                | (caps.usages & (wgpu::TextureUsages::COPY_SRC | wgpu::TextureUsages::COPY_DST)),
            format,
            color_space: wgpu::SurfaceColorSpace::Auto,
            width: size.width.max(1),
            height: size.height.max(1),
            present_mode: wgpu::PresentMode::Fifo,
            desired_maximum_frame_latency: 2,
            alpha_mode: caps.alpha_modes[0],
            view_formats: vec![],
        };
        surface.configure(&device, &config);
        // tutti on the host's device, drawing in the surface's format.
        let mut tutti = HostRenderer::new(&adapter, &device, &queue, format, self.world.clone())?;
        tutti.resize(0, (config.width, config.height))?;
        let thumb = tutti.targets().get(1).map(|t| {
            device.create_texture(&wgpu::TextureDescriptor {
                label: Some("host thumbnail"),
                size: wgpu::Extent3d {
                    width: t.width,
                    height: t.height,
                    depth_or_array_layers: 1,
                },
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format,
                usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
                view_formats: &[],
            })
        });
        println!(
            "host: {} ({}), surface {:?} {}x{}",
            adapter.get_info().name,
            adapter.get_info().backend.to_str(),
            format,
            config.width,
            config.height
        );
        self.gpu = Some(Gpu {
            window,
            device,
            queue,
            surface,
            config,
            tutti,
            thumb,
        });
        Ok(())
    }

    fn frame(&mut self) -> Result<bool> {
        let Some(gpu) = &mut self.gpu else {
            return Ok(true);
        };
        // Wall-clock scene time, looping over the scene's range.
        let world = gpu.tutti.world();
        let (a, b) = world.desc.frames;
        let span = (b - a).max(1) as f32 / world.desc.fps;
        let time = a as f32 / world.desc.fps + self.start.elapsed().as_secs_f32() % span;
        let prepared = gpu.tutti.prepare(&self.exec, time)?;
        let frame = match gpu.surface.get_current_texture() {
            wgpu::CurrentSurfaceTexture::Success(f)
            | wgpu::CurrentSurfaceTexture::Suboptimal(f) => f,
            wgpu::CurrentSurfaceTexture::Outdated | wgpu::CurrentSurfaceTexture::Lost => {
                gpu.surface.configure(&gpu.device, &gpu.config);
                return Ok(false);
            }
            _ => return Ok(false),
        };
        let view = frame.texture.create_view(&Default::default());
        let thumb_view = gpu
            .thumb
            .as_ref()
            .map(|t| t.create_view(&Default::default()));
        let mut views = vec![&view];
        views.extend(thumb_view.as_ref());
        let mut encoder = gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("host frame"),
            });
        gpu.tutti.record(&prepared, &mut encoder, &views)?;
        // The host's own work: the thumbnail into the top-right corner of its frame.
        if let Some(thumb) = &gpu.thumb
            && frame
                .texture
                .usage()
                .contains(wgpu::TextureUsages::COPY_DST)
            && thumb.width() + 8 <= gpu.config.width
            && thumb.height() + 8 <= gpu.config.height
        {
            encoder.copy_texture_to_texture(
                thumb.as_image_copy(),
                wgpu::TexelCopyTextureInfo {
                    texture: &frame.texture,
                    mip_level: 0,
                    origin: wgpu::Origin3d {
                        x: gpu.config.width - thumb.width() - 8,
                        y: 8,
                        z: 0,
                    },
                    aspect: wgpu::TextureAspect::All,
                },
                thumb.size(),
            );
        }
        self.frames += 1;
        let last = self.args.frames.is_some_and(|n| self.frames >= n);
        let shot = match (&self.args.screenshot, last) {
            (Some(path), true)
                if frame
                    .texture
                    .usage()
                    .contains(wgpu::TextureUsages::COPY_SRC) =>
            {
                Some((
                    path.clone(),
                    copy_out(&gpu.device, &mut encoder, &frame.texture),
                ))
            }
            (Some(_), true) => {
                println!("host: this surface cannot be copied from; no screenshot");
                None
            }
            _ => None,
        };
        gpu.queue.submit([encoder.finish()]);
        gpu.window.pre_present_notify();
        gpu.queue.present(frame);
        if let Some((path, (buffer, w, h))) = shot {
            save(&gpu.device, &buffer, w, h, gpu.config.format, &path)?;
            println!("host: wrote {}", path.display());
        }
        Ok(last)
    }
}

/// Copy a texture into a mappable buffer (rows padded to 256 bytes).
fn copy_out(
    device: &wgpu::Device,
    encoder: &mut wgpu::CommandEncoder,
    texture: &wgpu::Texture,
) -> (wgpu::Buffer, u32, u32) {
    let (w, h) = (texture.width(), texture.height());
    let buffer = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("host screenshot"),
        size: u64::from(tutti::gpu::padded_row_bytes(w)) * u64::from(h),
        usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
        mapped_at_creation: false,
    });
    tutti::gpu::encode_texture_copy(encoder, texture, &buffer);
    (buffer, w, h)
}

fn save(
    device: &wgpu::Device,
    buffer: &wgpu::Buffer,
    w: u32,
    h: u32,
    format: wgpu::TextureFormat,
    path: &std::path::Path,
) -> Result<()> {
    let (tx, rx) = std::sync::mpsc::channel();
    buffer.map_async(wgpu::MapMode::Read, .., move |r| {
        let _ = tx.send(r);
    });
    device.poll(wgpu::PollType::wait_indefinitely())?;
    rx.recv()??;
    let mut rgba = tutti::gpu::unpad_rows(&buffer.get_mapped_range(..)?, w, h);
    if matches!(
        format,
        wgpu::TextureFormat::Bgra8Unorm | wgpu::TextureFormat::Bgra8UnormSrgb
    ) {
        for px in rgba.chunks_exact_mut(4) {
            px.swap(0, 2);
        }
    }
    image::save_buffer(path, &rgba, w, h, image::ExtendedColorType::Rgba8)?;
    Ok(())
}

impl ApplicationHandler for Host {
    fn resumed(&mut self, event_loop: &ActiveEventLoop) {
        if self.gpu.is_none()
            && let Err(e) = self.open(event_loop)
        {
            self.error = Some(e);
            event_loop.exit();
        }
    }

    fn window_event(&mut self, event_loop: &ActiveEventLoop, _: WindowId, event: WindowEvent) {
        let result = match event {
            WindowEvent::CloseRequested => {
                event_loop.exit();
                Ok(())
            }
            WindowEvent::Resized(size) => match &mut self.gpu {
                Some(gpu) if size.width > 0 && size.height > 0 => {
                    gpu.config.width = size.width;
                    gpu.config.height = size.height;
                    gpu.surface.configure(&gpu.device, &gpu.config);
                    gpu.tutti
                        .resize(0, (size.width, size.height))
                        .map_err(anyhow::Error::from)
                }
                _ => Ok(()),
            },
            WindowEvent::RedrawRequested => match self.frame() {
                Ok(true) if self.args.frames.is_some() => {
                    event_loop.exit();
                    Ok(())
                }
                Ok(_) => Ok(()),
                Err(e) => Err(e),
            },
            _ => Ok(()),
        };
        if let Err(e) = result {
            self.error = Some(e);
            event_loop.exit();
        }
    }

    fn about_to_wait(&mut self, event_loop: &ActiveEventLoop) {
        if let Some(gpu) = &self.gpu {
            gpu.window.request_redraw();
        }
        event_loop.set_control_flow(ControlFlow::Poll);
    }
}

fn main() -> Result<()> {
    let args = args()?;
    let library = AssetLibrary::new();
    let scene = default_scene(&library)?;
    let mut host = Host {
        args,
        world: Arc::new(World::new(&scene)),
        exec: Executor::new(Default::default())?,
        gpu: None,
        frames: 0,
        start: Instant::now(),
        error: None,
    };
    let event_loop = EventLoop::new()
        .context("no display: this example opens a window (run it under a desktop or xvfb-run)")?;
    event_loop.run_app(&mut host)?;
    if let Some(e) = host.error {
        return Err(e);
    }
    println!("host: {} frames", host.frames);
    Ok(())
}
