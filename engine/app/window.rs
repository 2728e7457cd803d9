//! One scene in one window: its surface on an adapter that can present to it, the scene drawn
//! through [`HostRenderer`] (the frame API the offscreen path uses, recorded into this
//! window's frame), the egui overlay, the camera, the clock, GPU scopes and live draw stats.

use super::AppError;
use super::camera::OrbitCamera;
use super::clock::{SceneClock, TimeMode};
use super::overlay::{Controls, Overlay, OverlayFrame};
use super::profiler::GpuScopes;
use crate::env::EnvironmentFrame;
use crate::gpu::{GpuContext, encode_texture_copy, padded_row_bytes, read_buffer, unpad_rows};
use crate::jobs::{Executor, MetricsSnapshot};
use crate::render::{HostRenderer, LiveStats, PreparedFrame};
use crate::scene::{Animation, LoadedScene, World};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use winit::event::{ElementState, MouseButton, MouseScrollDelta, WindowEvent};
use winit::keyboard::{Key, NamedKey};
use winit::window::Window;

/// What a drawn frame asks of the app.
#[derive(Debug, Default)]
pub struct FrameResult {
    /// The overlay picked another job profile.
    pub profile: Option<crate::jobs::Profile>,
    /// A screenshot was written.
    pub screenshot: Option<PathBuf>,
    /// A frame was drawn and presented (not skipped: minimised, surface busy).
    pub drawn: bool,
}

/// What the window does after an input event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputResult {
    /// Nothing more.
    Handled,
    /// Close this window (Esc).
    Close,
}

/// A colour texture for a target the window does not show (the scene still draws it: the
/// multi-resolution targets behave as offscreen).
struct HiddenTarget {
    _texture: wgpu::Texture,
    view: wgpu::TextureView,
}

/// One scene's window (see the module doc).
pub struct SceneWindow {
    /// The window.
    pub window: Arc<Window>,
    /// Index of the device (in the app's device list) the surface lives on.
    pub device: usize,
    scene: LoadedScene,
    surface: wgpu::Surface<'static>,
    config: wgpu::SurfaceConfiguration,
    /// The format egui draws in (a non-sRGB view of the surface where allowed).
    overlay_format: wgpu::TextureFormat,
    renderer: HostRenderer,
    /// Scene sizes of the targets (the shown one follows the window).
    target_sizes: Vec<(u32, u32)>,
    hidden: Vec<Option<HiddenTarget>>,
    orbit: OrbitCamera,
    clock: SceneClock,
    overlay: Overlay,
    egui_ctx: egui::Context,
    egui_state: egui_winit::State,
    egui_renderer: egui_wgpu::Renderer,
    scopes: GpuScopes,
    stats: LiveStats,
    controls: Controls,
    /// Frames drawn.
    pub frames: u64,
    started: Instant,
    last_tick: Option<Instant>,
    last_cpu_ms: f64,
    fps: (Instant, u64, f64),
    jobs_rate: (Instant, u64, f64),
    environment: Option<EnvironmentFrame>,
    minimized: bool,
    drag: Option<(MouseButton, (f64, f64))>,
    cursor: (f64, f64),
    screenshot_next: Option<PathBuf>,
    screenshots_taken: u32,
}

/// Where `F12` screenshots go: `tutti-<scene>-<n>.png` in the working folder.
fn f12_path(scene: &str, n: u32) -> PathBuf {
    PathBuf::from(format!("tutti-{scene}-{n:03}.png"))
}

impl SceneWindow {
    /// Set up `scene` in `window`, presenting through `surface` on `ctx`.
    #[expect(
        clippy::too_many_arguments,
        reason = "one call site, each piece distinct"
    )]
    pub fn new(
        window: Arc<Window>,
        surface: wgpu::Surface<'static>,
        ctx: &GpuContext,
        device: usize,
        scene: LoadedScene,
        vsync: bool,
        time_mode: TimeMode,
        overlay: bool,
    ) -> Result<Self, AppError> {
        let caps = surface.get_capabilities(&ctx.adapter);
        let format = caps
            .formats
            .iter()
            .copied()
            .find(|f| {
                matches!(
                    f,
                    wgpu::TextureFormat::Bgra8UnormSrgb | wgpu::TextureFormat::Rgba8UnormSrgb
                )
            })
            .or_else(|| caps.formats.iter().copied().find(|f| f.is_srgb()))
            .or_else(|| caps.formats.first().copied())
            .ok_or_else(|| AppError::Surface {
                scene: scene.desc.name.clone(),
                message: format!("{} offers no surface format for this window", ctx.label),
            })?;
        let present_mode = pick_present_mode(&caps.present_modes, vsync);
        // The scene draws into the sRGB surface (as offscreen); egui wants to blend in the
        // surface's own (gamma) space, so it draws through a non-sRGB view of the same texture
        // where the adapter allows view formats on surfaces.
        let overlay_format = if format.is_srgb()
            && ctx
                .adapter
                .get_downlevel_capabilities()
                .flags
                .contains(wgpu::DownlevelFlags::SURFACE_VIEW_FORMATS)
        {
            format.remove_srgb_suffix()
        } else {
            format
        };
        let size = window.inner_size();
        let config = wgpu::SurfaceConfiguration {
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT
                | (caps.usages & wgpu::TextureUsages::COPY_SRC),
            format,
            color_space: wgpu::SurfaceColorSpace::Auto,
            width: size.width.max(1),
            height: size.height.max(1),
            present_mode,
            desired_maximum_frame_latency: 2,
            alpha_mode: caps
                .alpha_modes
                .first()
                .copied()
                .unwrap_or(wgpu::CompositeAlphaMode::Auto),
            view_formats: if overlay_format == format {
                vec![]
            } else {
                vec![overlay_format]
            },
        };
        surface.configure(&ctx.device, &config);
        let world = Arc::new(World::new(&scene));
        let renderer =
            HostRenderer::new(&ctx.adapter, &ctx.device, &ctx.queue, format, world.clone())?;
        let target_sizes: Vec<(u32, u32)> = renderer
            .targets()
            .iter()
            .map(|t| (t.width, t.height))
            .collect();
        let egui_ctx = egui::Context::default();
        let egui_state = egui_winit::State::new(
            egui_ctx.clone(),
            egui::ViewportId::ROOT,
            &window,
            Some(window.scale_factor() as f32),
            None,
            Some(ctx.limits.max_texture_dimension_2d as usize),
        );
        let egui_renderer = egui_wgpu::Renderer::new(
            &ctx.device,
            overlay_format,
            // No dithering: the overlay is flat colours and text, and the noise costs a
            // software rasteriser a good part of the overlay's time.
            egui_wgpu::RendererOptions {
                dithering: false,
                ..Default::default()
            },
        );
        let stats = LiveStats::new(renderer.context(), renderer.scene());
        let controls = Controls {
            avatar_count: world.avatars.len() as u32,
            lod: scene.desc.lod.clone(),
            gpu_animation: scene.desc.animation == Animation::Gpu,
            profile: crate::jobs::Profile::default(),
            paused: false,
            time_scale: 1.0,
            shown_target: 0,
        };
        let now = Instant::now();
        let mut w = Self {
            orbit: OrbitCamera::from_camera(&scene.desc.camera),
            clock: SceneClock::new(time_mode, scene.desc.fps, scene.desc.frames.0),
            window,
            device,
            surface,
            config,
            overlay_format,
            renderer,
            hidden: Vec::new(),
            target_sizes,
            overlay: Overlay::new(overlay),
            egui_ctx,
            egui_state,
            egui_renderer,
            scopes: GpuScopes::new(ctx),
            stats,
            controls,
            frames: 0,
            started: now,
            last_tick: None,
            last_cpu_ms: 0.0,
            fps: (now, 0, 0.0),
            jobs_rate: (now, 0, 0.0),
            environment: None,
            minimized: size.width == 0 || size.height == 0,
            drag: None,
            cursor: (0.0, 0.0),
            screenshot_next: None,
            screenshots_taken: 0,
            scene,
        };
        w.layout_targets()?;
        Ok(w)
    }

    /// Set the job profile the overlay shows as active.
    pub fn set_profile(&mut self, profile: crate::jobs::Profile) {
        self.controls.profile = profile;
    }

    /// Give the shown target the window's size and every other target its own texture at its
    /// scene size.
    fn layout_targets(&mut self) -> Result<(), AppError> {
        let ctx = self.renderer.context();
        let shown = self.controls.shown_target;
        let mut hidden = Vec::with_capacity(self.target_sizes.len());
        for (t, &(w, h)) in self.target_sizes.iter().enumerate() {
            if t == shown {
                hidden.push(None);
                continue;
            }
            let texture = colour_texture(
                ctx,
                "app::hidden_target",
                (w, h),
                self.config.format,
                wgpu::TextureUsages::RENDER_ATTACHMENT,
                &[],
            );
            hidden.push(Some(HiddenTarget {
                view: texture.create_view(&Default::default()),
                _texture: texture,
            }));
        }
        for t in 0..self.target_sizes.len() {
            let size = if t == shown {
                (self.config.width, self.config.height)
            } else {
                self.target_sizes[t]
            };
            self.renderer.resize(t, size)?;
        }
        self.hidden = hidden;
        Ok(())
    }

    /// The window changed size: reconfigure the surface and resize the shown target. A zero
    /// size (minimised) pauses drawing until the window has an area again.
    pub fn resize(&mut self, ctx: &GpuContext, width: u32, height: u32) -> Result<(), AppError> {
        if width == 0 || height == 0 {
            self.minimized = true;
            return Ok(());
        }
        self.minimized = false;
        let max = ctx.limits.max_texture_dimension_2d;
        self.config.width = width.min(max);
        self.config.height = height.min(max);
        self.surface.configure(&ctx.device, &self.config);
        self.renderer.resize(
            self.controls.shown_target,
            (self.config.width, self.config.height),
        )?;
        Ok(())
    }

    /// Whether the window has no area (minimised): no frame is drawn then.
    pub fn is_minimized(&self) -> bool {
        self.minimized
    }

    /// Take a screenshot of the next frame drawn, into `path`.
    pub fn screenshot_next_frame(&mut self, path: PathBuf) {
        self.screenshot_next = Some(path);
    }

    /// An input event: egui first; what it does not take moves the camera or is a key.
    pub fn input(&mut self, event: &WindowEvent) -> InputResult {
        let response = self.egui_state.on_window_event(&self.window, event);
        if response.repaint {
            self.window.request_redraw();
        }
        let egui_wants_pointer = self.overlay.visible && self.egui_ctx.egui_wants_pointer_input();
        let egui_wants_keys = self.overlay.visible && self.egui_ctx.egui_wants_keyboard_input();
        match event {
            WindowEvent::KeyboardInput { event, .. }
                if event.state == ElementState::Pressed && !egui_wants_keys =>
            {
                match &event.logical_key {
                    Key::Named(NamedKey::Space) => {
                        self.controls.paused = !self.controls.paused;
                    }
                    Key::Named(NamedKey::F1) => self.overlay.visible = !self.overlay.visible,
                    Key::Named(NamedKey::F12) => {
                        self.screenshots_taken += 1;
                        self.screenshot_next =
                            Some(f12_path(&self.scene.desc.name, self.screenshots_taken));
                    }
                    Key::Named(NamedKey::Escape) => return InputResult::Close,
                    Key::Character(c) if c == "+" || c == "=" => {
                        self.clock.step_scale(true);
                        self.controls.time_scale = self.clock.scale();
                    }
                    Key::Character(c) if c == "-" || c == "_" => {
                        self.clock.step_scale(false);
                        self.controls.time_scale = self.clock.scale();
                    }
                    _ => {}
                }
            }
            WindowEvent::CursorMoved { position, .. } => {
                let (x, y) = (position.x, position.y);
                let (dx, dy) = ((x - self.cursor.0) as f32, (y - self.cursor.1) as f32);
                self.cursor = (x, y);
                match self.drag {
                    Some((MouseButton::Left, _)) => self.orbit.orbit(dx, dy),
                    Some((MouseButton::Right | MouseButton::Middle, _)) => {
                        self.orbit.pan(dx, dy, self.config.height as f32)
                    }
                    _ => {}
                }
            }
            WindowEvent::MouseInput { state, button, .. } => match state {
                ElementState::Pressed if !egui_wants_pointer => {
                    self.drag = Some((*button, self.cursor));
                }
                ElementState::Released => self.drag = None,
                _ => {}
            },
            WindowEvent::MouseWheel { delta, .. } if !egui_wants_pointer => {
                let steps = match delta {
                    MouseScrollDelta::LineDelta(_, y) => *y,
                    MouseScrollDelta::PixelDelta(p) => (p.y / 40.0) as f32,
                };
                self.orbit.zoom(steps);
            }
            _ => {}
        }
        InputResult::Handled
    }

    /// Draw one frame: the scene's CPU side on `exec`, every pass into this window's frame,
    /// the overlay on top, present. `jobs` is the executor's latest snapshot.
    pub fn draw(
        &mut self,
        ctx: &GpuContext,
        exec: &Executor,
        jobs: &MetricsSnapshot,
    ) -> Result<FrameResult, AppError> {
        let mut result = FrameResult::default();
        if self.minimized {
            return Ok(result);
        }
        let start = Instant::now();
        let dt = self
            .last_tick
            .map_or(Duration::ZERO, |t| start.duration_since(t));
        self.last_tick = Some(start);
        self.clock.paused = self.controls.paused;
        self.clock.set_scale(self.controls.time_scale);
        let time = self.clock.tick(dt);
        self.renderer.set_camera(self.orbit.camera());
        let prepared = self.renderer.prepare(exec, time)?;
        let frame = match self.surface.get_current_texture() {
            wgpu::CurrentSurfaceTexture::Success(f)
            | wgpu::CurrentSurfaceTexture::Suboptimal(f) => f,
            wgpu::CurrentSurfaceTexture::Timeout | wgpu::CurrentSurfaceTexture::Occluded => {
                return Ok(result);
            }
            wgpu::CurrentSurfaceTexture::Outdated | wgpu::CurrentSurfaceTexture::Lost => {
                self.surface.configure(&ctx.device, &self.config);
                return Ok(result);
            }
            wgpu::CurrentSurfaceTexture::Validation => {
                ctx.check()?;
                return Ok(result);
            }
        };
        let mut encoder = ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("app::frame"),
            });
        self.environment = Some(prepared.environment);
        let before = self.controls.clone();
        let overlay = if self.overlay.visible {
            Some(self.prepare_overlay(ctx, &mut encoder, time, jobs))
        } else {
            None
        };
        self.record_into(
            &mut encoder,
            &prepared,
            &frame.texture,
            overlay.as_ref(),
            true,
        )?;
        self.stats.encode(&mut encoder, self.renderer.scene());
        let capture = match self.screenshot_next.take() {
            None => None,
            Some(path)
                if frame
                    .texture
                    .usage()
                    .contains(wgpu::TextureUsages::COPY_SRC) =>
            {
                Some(Capture::encode(ctx, &mut encoder, &frame.texture, path)?)
            }
            // The surface cannot be copied from (GL): draw the same frame once more into a
            // texture that can, and capture that.
            Some(path) => {
                let size = frame.texture.size();
                let texture = colour_texture(
                    ctx,
                    "app::capture",
                    (size.width, size.height),
                    self.config.format,
                    wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
                    &[self.overlay_format],
                );
                self.record_into(&mut encoder, &prepared, &texture, overlay.as_ref(), false)?;
                Some(Capture::encode(ctx, &mut encoder, &texture, path)?)
            }
        };
        let (egui_buffers, egui_free) = match overlay {
            Some(o) => (o.buffers, o.free),
            None => (Vec::new(), Vec::new()),
        };
        self.scopes.resolve(&mut encoder);
        ctx.queue
            .submit(egui_buffers.into_iter().chain([encoder.finish()]));
        for id in &egui_free {
            self.egui_renderer.free_texture(id);
        }
        self.stats.after_submit();
        self.scopes.end_frame();
        self.last_cpu_ms = start.elapsed().as_secs_f64() * 1e3;
        self.window.pre_present_notify();
        ctx.queue.present(frame);
        if let Some(capture) = capture {
            result.screenshot = Some(capture.write(ctx, self.config.format)?);
        }
        ctx.check()?;
        result.drawn = true;
        self.frames += 1;
        let now = Instant::now();
        self.overlay.push_times(
            now.duration_since(self.started).as_secs_f64(),
            self.last_cpu_ms,
            self.scopes.frame_ms(),
        );
        if now.duration_since(self.fps.0) >= Duration::from_secs(1) {
            let secs = now.duration_since(self.fps.0).as_secs_f64();
            self.fps = (now, self.frames, (self.frames - self.fps.1) as f64 / secs);
        }
        if now.duration_since(self.jobs_rate.0) >= Duration::from_secs(1) {
            let secs = now.duration_since(self.jobs_rate.0).as_secs_f64();
            let rate = jobs.completed.saturating_sub(self.jobs_rate.1) as f64 / secs;
            self.jobs_rate = (now, jobs.completed, rate);
        }
        result.profile = self.apply_controls(ctx, &before)?;
        Ok(result)
    }

    /// Record the scene into `texture` (its shown target; the others into their own textures)
    /// and paint the overlay over it. `timed`: inside the GPU scopes (the presented frame;
    /// a screenshot's second drawing is not timed).
    fn record_into(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        prepared: &PreparedFrame,
        texture: &wgpu::Texture,
        overlay: Option<&OverlayPaint>,
        timed: bool,
    ) -> Result<(), AppError> {
        let view = texture.create_view(&Default::default());
        let views: Vec<&wgpu::TextureView> = self
            .hidden
            .iter()
            .map(|h| h.as_ref().map_or(&view, |h| &h.view))
            .collect();
        let scopes = self.scopes.scopes().filter(|_| timed);
        self.renderer
            .record_with(prepared, encoder, &views, scopes)?;
        if let Some(o) = overlay {
            let overlay_view = texture.create_view(&wgpu::TextureViewDescriptor {
                format: Some(self.overlay_format),
                ..Default::default()
            });
            self.paint_overlay(encoder, &overlay_view, o, timed)?;
        }
        Ok(())
    }

    /// Run the overlay's UI for this frame and upload what it draws.
    fn prepare_overlay(
        &mut self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        time: f32,
        jobs: &MetricsSnapshot,
    ) -> OverlayPaint {
        let targets: Vec<(String, u32, u32)> = self
            .renderer
            .targets()
            .iter()
            .map(|t| (t.name.clone(), t.width, t.height))
            .collect();
        let world = self.renderer.world().clone();
        let lod_levels = world
            .assets
            .iter()
            .map(|a| a.lods().len() as u32)
            .max()
            .unwrap_or(1);
        let figures = self.environment.map(environment_rows).unwrap_or_default();
        let figures = [("Environment", figures)];
        let stats = self
            .stats
            .latest(self.renderer.scene())
            .map(|(_, s)| s.to_vec());
        let info = ctx.info();
        let input = self.egui_state.take_egui_input(&self.window);
        let (overlay, controls) = (&mut self.overlay, &mut self.controls);
        let frame = OverlayFrame {
            scene: &self.scene.desc.name,
            adapter: &info,
            time,
            fixed_step: self.clock.mode() == TimeMode::FixedStep,
            cpu_ms: self.last_cpu_ms,
            fps: self.fps.2,
            gpu: &self.scopes,
            jobs,
            jobs_per_s: self.jobs_rate.2,
            targets: &targets,
            stats: stats.as_deref(),
            max_avatars: world.avatars.len() as u32,
            lod_levels,
            figures: &figures,
        };
        let output = self
            .egui_ctx
            .run_pass(input, |ctx| overlay.ui(ctx, &frame, controls));
        self.egui_state
            .handle_platform_output(&self.window, output.platform_output);
        let pixels_per_point = output.pixels_per_point;
        let primitives = self.egui_ctx.tessellate(output.shapes, pixels_per_point);
        let mut textures = output.textures_delta;
        for (id, deltas) in textures.set.drain() {
            for delta in &deltas {
                self.egui_renderer
                    .update_texture(&ctx.device, &ctx.queue, id, delta);
            }
        }
        let screen = egui_wgpu::ScreenDescriptor {
            size_in_pixels: [self.config.width, self.config.height],
            pixels_per_point,
        };
        let buffers = self.egui_renderer.update_buffers(
            &ctx.device,
            &ctx.queue,
            encoder,
            &primitives,
            &screen,
        );
        OverlayPaint {
            primitives,
            screen,
            buffers,
            free: textures.free.drain().collect(),
        }
    }

    /// Paint the prepared overlay over `view` (in its own GPU scope when `timed`).
    fn paint_overlay(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        view: &wgpu::TextureView,
        paint: &OverlayPaint,
        timed: bool,
    ) -> Result<(), AppError> {
        let (primitives, screen) = (&paint.primitives, &paint.screen);
        let renderer = &self.egui_renderer;
        let mut body = |e: &mut wgpu::CommandEncoder| {
            let pass = e.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("app::overlay"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view,
                    depth_slice: None,
                    resolve_target: None,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Load,
                        store: wgpu::StoreOp::Store,
                    },
                })],
                depth_stencil_attachment: None,
                timestamp_writes: None,
                occlusion_query_set: None,
                multiview_mask: None,
            });
            renderer.render(&mut pass.forget_lifetime(), primitives, screen);
            Ok(())
        };
        match self.scopes.scopes().filter(|_| timed) {
            Some(s) => s.scope("overlay", encoder, &mut body)?,
            None => body(encoder)?,
        }
        Ok(())
    }

    /// Apply what the overlay changed; returns a new job profile for the app to apply.
    fn apply_controls(
        &mut self,
        ctx: &GpuContext,
        before: &Controls,
    ) -> Result<Option<crate::jobs::Profile>, AppError> {
        let c = self.controls.clone();
        if c.gpu_animation != before.gpu_animation {
            self.scene.desc.animation = if c.gpu_animation {
                Animation::Gpu
            } else {
                Animation::Cpu
            };
            let world = Arc::new(World::new(&self.scene));
            self.renderer = HostRenderer::new(
                &ctx.adapter,
                &ctx.device,
                &ctx.queue,
                self.config.format,
                world,
            )?;
            self.stats = LiveStats::new(self.renderer.context(), self.renderer.scene());
            self.layout_targets()?;
            self.renderer.set_lod(c.lod.clone());
            self.renderer.set_avatar_count(c.avatar_count);
        }
        if c.avatar_count != before.avatar_count {
            self.renderer.set_avatar_count(c.avatar_count);
        }
        if c.lod != before.lod {
            self.renderer.set_lod(c.lod.clone());
        }
        if c.shown_target != before.shown_target {
            self.layout_targets()?;
        }
        Ok((c.profile != before.profile).then_some(c.profile))
    }

    /// Mean GPU time of the overlay's own scope, ms (none without timestamps).
    pub fn overlay_gpu_ms(&self) -> Option<f64> {
        self.scopes.pass_ms("overlay")
    }

    /// GPU time of the newest timed frame, ms.
    pub fn gpu_frame_ms(&self) -> Option<f64> {
        self.scopes.frame_ms()
    }

    /// CPU time of the last frame, ms.
    pub fn cpu_frame_ms(&self) -> f64 {
        self.last_cpu_ms
    }

    /// Keep every frame's GPU times (benchmarks).
    pub fn record_samples(&mut self) {
        self.scopes.record_samples();
    }

    /// Every timed frame's (GPU frame ms, overlay scope ms).
    pub fn gpu_samples(&self) -> &[(f64, Option<f64>)] {
        self.scopes.samples()
    }

    /// Whether the overlay is shown.
    pub fn overlay_visible(&self) -> bool {
        self.overlay.visible
    }
}

fn environment_rows(e: EnvironmentFrame) -> Vec<(String, String)> {
    let elevation = e.to_sun.y.clamp(-1.0, 1.0).asin().to_degrees();
    vec![
        (
            "sun".into(),
            format!(
                "elevation {elevation:.1}° · colour ({:.2}, {:.2}, {:.2})",
                e.sun_color.x, e.sun_color.y, e.sun_color.z
            ),
        ),
        (
            "sky".into(),
            format!("({:.2}, {:.2}, {:.2})", e.sky.x, e.sky.y, e.sky.z),
        ),
        ("ambient".into(), format!("{:.2}", e.ambient)),
    ]
}

/// Vsync on: FIFO (always there). Off: immediate, else mailbox, else FIFO.
fn pick_present_mode(modes: &[wgpu::PresentMode], vsync: bool) -> wgpu::PresentMode {
    use wgpu::PresentMode::*;
    let order: &[wgpu::PresentMode] = if vsync {
        &[Fifo, FifoRelaxed]
    } else {
        &[Immediate, Mailbox, Fifo]
    };
    order
        .iter()
        .copied()
        .find(|m| modes.contains(m))
        .unwrap_or(Fifo)
}

/// The overlay of one frame, ready to paint.
struct OverlayPaint {
    primitives: Vec<egui::ClippedPrimitive>,
    screen: egui_wgpu::ScreenDescriptor,
    /// egui's buffer uploads, submitted before the frame.
    buffers: Vec<wgpu::CommandBuffer>,
    /// Textures to free once painted.
    free: Vec<egui::TextureId>,
}

/// A copy of the window's frame on its way to a PNG file.
struct Capture {
    buffer: wgpu::Buffer,
    width: u32,
    height: u32,
    path: PathBuf,
}

impl Capture {
    fn encode(
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        texture: &wgpu::Texture,
        path: PathBuf,
    ) -> Result<Self, AppError> {
        if !texture.usage().contains(wgpu::TextureUsages::COPY_SRC) {
            return Err(AppError::Screenshot {
                path,
                message: format!(
                    "the window surface on {} cannot be copied from (no COPY_SRC)",
                    ctx.label
                ),
            });
        }
        let (width, height) = (texture.width(), texture.height());
        let buffer = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("app::screenshot"),
            size: u64::from(padded_row_bytes(width)) * u64::from(height),
            usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
            mapped_at_creation: false,
        });
        encode_texture_copy(encoder, texture, &buffer);
        Ok(Self {
            buffer,
            width,
            height,
            path,
        })
    }

    /// Wait for the copy and write the PNG (RGBA; BGRA surfaces are swizzled).
    fn write(self, ctx: &GpuContext, format: wgpu::TextureFormat) -> Result<PathBuf, AppError> {
        let fail = |message: String| AppError::Screenshot {
            path: self.path.clone(),
            message,
        };
        let bytes = read_buffer(ctx, &self.buffer).map_err(|e| fail(e.to_string()))?;
        let mut rgba = unpad_rows(&bytes, self.width, self.height);
        if matches!(
            format,
            wgpu::TextureFormat::Bgra8Unorm | wgpu::TextureFormat::Bgra8UnormSrgb
        ) {
            for px in rgba.chunks_exact_mut(4) {
                px.swap(0, 2);
            }
        }
        for px in rgba.chunks_exact_mut(4) {
            px[3] = 255;
        }
        crate::offscreen::write_png_atomic(&self.path, self.width, self.height, &rgba)
            .map_err(|e| fail(e.to_string()))?;
        Ok(self.path)
    }
}

/// A 2D colour texture of one window (a hidden target, a screenshot's capture).
fn colour_texture(
    ctx: &GpuContext,
    label: &str,
    (width, height): (u32, u32),
    format: wgpu::TextureFormat,
    usage: wgpu::TextureUsages,
    view_formats: &[wgpu::TextureFormat],
) -> wgpu::Texture {
    ctx.device.create_texture(&wgpu::TextureDescriptor {
        label: Some(label),
        size: wgpu::Extent3d {
            width,
            height,
            depth_or_array_layers: 1,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format,
        usage,
        view_formats,
    })
}
