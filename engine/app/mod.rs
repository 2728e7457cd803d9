//! The desktop app (`tutti run`): one window per scene, each presenting on an adapter that can
//! present to it (scenes spread across those adapters), drawn through the same frame API the
//! offscreen path uses, with an egui overlay of live metrics and controls.
//!
//! Frame pacing: every window draws at most once per display refresh (or `fps_cap`), waiting
//! in the event loop between frames, so an idle scene does not spin a core even with vsync
//! off. Time is the wall clock unless `fixed_step` (then frame N is the offscreen frame N).
//! Closing a window ends its scene; closing the last one quits. Without a display, [`run`]
//! fails with [`AppError::NoDisplay`] at once.
//!
//! The event loop owns the thread it runs on (the main thread on most platforms), and winit
//! allows one per process.

pub mod bench;
pub mod camera;
pub mod clock;
pub mod overlay;
pub mod profiler;
mod window;

use crate::gpu::{AdapterSpec, Discovery, GpuContext, GpuError};
use crate::jobs::{Executor, ExecutorConfig, ExecutorError};
use crate::render::RenderError;
use crate::scene::LoadedScene;
use crate::telemetry::Telemetry;
use clock::TimeMode;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use window::{InputResult, SceneWindow};
use winit::application::ApplicationHandler;
use winit::event::WindowEvent;
use winit::event_loop::{ActiveEventLoop, ControlFlow, EventLoop};
use winit::window::WindowId;

/// Refresh rate assumed when the display does not say.
const DEFAULT_REFRESH_HZ: f64 = 60.0;

/// How the app starts.
#[derive(Debug, Clone)]
pub struct AppOptions {
    /// Scenes, one window each (at least one).
    pub scenes: Vec<LoadedScene>,
    /// Adapters to present on (`default`: every working adapter).
    pub adapters: AdapterSpec,
    /// Wait for the display's vertical blank when presenting.
    pub vsync: bool,
    /// Most frames per second per window (default: the display's refresh rate).
    pub fps_cap: Option<f64>,
    /// Scene time from the frame index (`frame / fps`) instead of the wall clock.
    pub fixed_step: bool,
    /// Quit after every window drew this many frames.
    pub exit_after_frames: Option<u64>,
    /// Save each window's last frame here (`FILE-<scene>.png` with several windows).
    pub screenshot: Option<PathBuf>,
    /// Show the overlay at start (F1 toggles it).
    pub overlay: bool,
    /// The job executor.
    pub executor: ExecutorConfig,
    /// Scenes (by index) whose windows start without the overlay, whatever `overlay` says.
    pub overlay_off: Vec<usize>,
    /// Every window on the first adapter that can present (instead of spreading them).
    pub one_adapter: bool,
    /// Keep every frame's CPU and GPU times in the summary (benchmarks).
    pub record_samples: bool,
    /// The metrics model the app feeds (frames and CPU/GPU frame time per adapter, and the
    /// executor's counters, which the overlay reads from it); serve it with
    /// [`crate::telemetry::serve_prometheus`] for the same figures headless tools see.
    pub telemetry: Arc<Telemetry>,
    /// Window resizes to send through the event loop, each at a pacing tick (for tests and
    /// automation: a zero size is what minimising gives).
    pub resize_script: Vec<ResizeStep>,
}

/// One scripted resize of every window ([`AppOptions::resize_script`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResizeStep {
    /// The pacing tick (one per frame interval, counted from the first) to send it at.
    pub tick: u64,
    /// New width in pixels (0: minimised).
    pub width: u32,
    /// New height in pixels (0: minimised).
    pub height: u32,
}

impl std::str::FromStr for ResizeStep {
    type Err = String;
    /// `TICK:WxH`, e.g. `5:1x1` or `8:0x0`.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a resize step; write TICK:WIDTHxHEIGHT, e.g. 5:1x1");
        let (tick, size) = s.split_once(':').ok_or_else(bad)?;
        let (w, h) = size.split_once(['x', 'X']).ok_or_else(bad)?;
        let n = |t: &str| t.trim().parse::<u32>().map_err(|_| bad());
        Ok(Self {
            tick: tick.trim().parse().map_err(|_| bad())?,
            width: n(w)?,
            height: n(h)?,
        })
    }
}

/// Events sent to the app's own event loop.
#[derive(Debug, Clone, Copy)]
enum AppEvent {
    /// Resize every window (a scripted step).
    Resize(u32, u32),
}

impl Default for AppOptions {
    fn default() -> Self {
        Self {
            scenes: Vec::new(),
            adapters: AdapterSpec::default(),
            vsync: true,
            fps_cap: None,
            fixed_step: false,
            exit_after_frames: None,
            screenshot: None,
            overlay: true,
            executor: ExecutorConfig::default(),
            resize_script: Vec::new(),
            overlay_off: Vec::new(),
            one_adapter: false,
            record_samples: false,
            telemetry: Arc::default(),
        }
    }
}

/// Errors of the app.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// There is no window system to open windows on.
    #[error(
        "no display: tutti run needs a window system ({reason}); to render without one, use `tutti render --offscreen`"
    )]
    NoDisplay {
        /// What is missing.
        reason: String,
    },
    /// No scene was given.
    #[error("no scene to open")]
    NoScenes,
    /// The event loop failed.
    #[error("window system: {0}")]
    EventLoop(String),
    /// A window could not be created.
    #[error("cannot open a window for scene {scene}: {message}")]
    Window {
        /// Scene.
        scene: String,
        /// Why.
        message: String,
    },
    /// No selected adapter can present to the windows.
    #[error(
        "none of the selected adapters can present to a window ({details}); try `--adapters default` or check `tutti adapters`"
    )]
    NoPresentableAdapter {
        /// The adapters tried.
        details: String,
    },
    /// A surface could not be configured.
    #[error("scene {scene}: window surface: {message}")]
    Surface {
        /// Scene.
        scene: String,
        /// Why.
        message: String,
    },
    /// Adapter selection or a device failed.
    #[error(transparent)]
    Gpu(#[from] GpuError),
    /// Drawing failed.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The executor could not start.
    #[error(transparent)]
    Executor(#[from] ExecutorError),
    /// A screenshot could not be written.
    #[error("screenshot {path}: {message}")]
    Screenshot {
        /// File.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

/// What a finished run did, per window in opening order.
#[derive(Debug, Clone, Default)]
pub struct AppSummary {
    /// Per window: scene, adapter label, frames drawn, screenshot written.
    pub windows: Vec<WindowSummary>,
}

/// One window of an [`AppSummary`].
#[derive(Debug, Clone)]
pub struct WindowSummary {
    /// Scene name.
    pub scene: String,
    /// The adapter it presented on.
    pub adapter: String,
    /// Frames drawn.
    pub frames: u64,
    /// Screenshots written.
    pub screenshots: Vec<PathBuf>,
    /// Mean CPU frame time over the run's frames, ms.
    pub cpu_ms: f64,
    /// GPU time of the last timed frame, ms (none without timestamps).
    pub gpu_ms: Option<f64>,
    /// Mean GPU time of the overlay's scope, ms (none without timestamps or overlay).
    pub overlay_gpu_ms: Option<f64>,
    /// Whether the overlay was shown at the end.
    pub overlay: bool,
    /// With [`AppOptions::record_samples`]: every frame's CPU time, ms.
    pub cpu_samples: Vec<f64>,
    /// With [`AppOptions::record_samples`]: every timed frame's (GPU frame ms, overlay ms).
    pub gpu_samples: Vec<(f64, Option<f64>)>,
}

/// Whether this process can reach a window system (checked before winit is asked).
pub fn display_available() -> Result<(), AppError> {
    #[cfg(all(unix, not(target_os = "macos")))]
    {
        let set = |v| std::env::var_os(v).is_some_and(|s| !s.is_empty());
        if !set("DISPLAY") && !set("WAYLAND_DISPLAY") && !set("WAYLAND_SOCKET") {
            return Err(AppError::NoDisplay {
                reason: "neither DISPLAY nor WAYLAND_DISPLAY is set".into(),
            });
        }
    }
    Ok(())
}

/// Run the app until every window is closed (or `exit_after_frames`).
pub fn run(options: AppOptions) -> Result<AppSummary, AppError> {
    if options.scenes.is_empty() {
        return Err(AppError::NoScenes);
    }
    display_available()?;
    let event_loop = EventLoop::<AppEvent>::with_user_event()
        .build()
        .map_err(|e| AppError::NoDisplay {
            reason: e.to_string(),
        })?;
    let proxy = event_loop.create_proxy();
    let executor = Executor::new(options.executor)?;
    options.telemetry.attach_executor(executor.clone());
    let mut app = App {
        options,
        executor,
        devices: Vec::new(),
        windows: HashMap::new(),
        order: Vec::new(),
        summary: AppSummary::default(),
        error: None,
        started: false,
        next_frame: Instant::now(),
        interval: Duration::from_secs_f64(1.0 / DEFAULT_REFRESH_HZ),
        cpu_sums: HashMap::new(),
        ticks: 0,
        proxy,
    };
    event_loop
        .run_app(&mut app)
        .map_err(|e| AppError::EventLoop(e.to_string()))?;
    if let Some(e) = app.error {
        return Err(e);
    }
    Ok(app.summary)
}

struct App {
    options: AppOptions,
    executor: Executor,
    devices: Vec<GpuContext>,
    windows: HashMap<WindowId, SceneWindow>,
    /// Window ids in opening order, with their summary index.
    order: Vec<(WindowId, usize)>,
    summary: AppSummary,
    error: Option<AppError>,
    started: bool,
    next_frame: Instant,
    interval: Duration,
    cpu_sums: HashMap<WindowId, f64>,
    ticks: u64,
    proxy: winit::event_loop::EventLoopProxy<AppEvent>,
}

impl App {
    /// Open every window and the devices they present on.
    fn start(&mut self, event_loop: &ActiveEventLoop) -> Result<(), AppError> {
        let discovery = Discovery::for_display(event_loop.owned_display_handle());
        for s in discovery.skipped() {
            tracing::warn!("{s}");
        }
        let selected = discovery.select(&self.options.adapters)?;
        self.devices = discovery.open(&selected)?;
        for d in &self.devices {
            self.options.telemetry.register_adapter(&d.label);
        }
        let refresh = event_loop
            .primary_monitor()
            .and_then(|m| m.refresh_rate_millihertz())
            .map_or(DEFAULT_REFRESH_HZ, |mhz| f64::from(mhz) / 1000.0);
        let fps = self.options.fps_cap.unwrap_or(refresh).clamp(1.0, 1000.0);
        self.interval = Duration::from_secs_f64(1.0 / fps);
        let scenes = self.options.scenes.clone();
        let mut names: HashMap<String, usize> = HashMap::new();
        for (i, scene) in scenes.into_iter().enumerate() {
            let name = scene.desc.name.clone();
            let (w, h) = scene
                .desc
                .targets
                .first()
                .map_or((640, 360), |t| (t.width, t.height));
            let attrs = winit::window::Window::default_attributes()
                .with_title(format!("tutti · {name}"))
                .with_inner_size(winit::dpi::PhysicalSize::new(w, h));
            let window =
                Arc::new(
                    event_loop
                        .create_window(attrs)
                        .map_err(|e| AppError::Window {
                            scene: name.clone(),
                            message: e.to_string(),
                        })?,
                );
            let surface = discovery
                .instance
                .create_surface(window.clone())
                .map_err(|e| AppError::Surface {
                    scene: name.clone(),
                    message: e.to_string(),
                })?;
            let presentable: Vec<usize> = (0..self.devices.len())
                .filter(|&d| self.devices[d].adapter.is_surface_supported(&surface))
                .collect();
            if presentable.is_empty() {
                return Err(AppError::NoPresentableAdapter {
                    details: self
                        .devices
                        .iter()
                        .map(|d| d.label.clone())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
            let device = if self.options.one_adapter {
                presentable[0]
            } else {
                presentable[i % presentable.len()]
            };
            let ctx = &self.devices[device];
            let info = ctx.info();
            window.set_title(&format!(
                "tutti · {name} · {} ({})",
                info.name,
                info.backend.to_str()
            ));
            let mut sw = SceneWindow::new(
                window.clone(),
                surface,
                ctx,
                device,
                scene,
                self.options.vsync,
                if self.options.fixed_step {
                    TimeMode::FixedStep
                } else {
                    TimeMode::Wall
                },
                self.options.overlay && !self.options.overlay_off.contains(&i),
            )?;
            sw.set_profile(self.options.executor.profile);
            if self.options.record_samples {
                sw.record_samples();
            }
            tracing::info!("scene {name} on {}", ctx.label);
            let n = names.entry(name.clone()).or_default();
            *n += 1;
            let id = window.id();
            self.order.push((id, self.summary.windows.len()));
            self.summary.windows.push(WindowSummary {
                scene: if *n > 1 { format!("{name}-{n}") } else { name },
                adapter: ctx.label.clone(),
                frames: 0,
                screenshots: Vec::new(),
                cpu_ms: 0.0,
                gpu_ms: None,
                overlay_gpu_ms: None,
                overlay: false,
                cpu_samples: Vec::new(),
                gpu_samples: Vec::new(),
            });
            self.windows.insert(id, sw);
        }
        Ok(())
    }

    fn summary_index(&self, id: WindowId) -> Option<usize> {
        self.order.iter().find(|(w, _)| *w == id).map(|(_, i)| *i)
    }

    /// `--screenshot FILE`: FILE for one window, `FILE-<scene>.png` for several.
    fn screenshot_path(&self, index: usize) -> Option<PathBuf> {
        let file = self.options.screenshot.as_ref()?;
        if self.summary.windows.len() == 1 {
            return Some(file.clone());
        }
        let stem = file.file_stem().map_or_else(
            || "screenshot".to_string(),
            |s| s.to_string_lossy().into_owned(),
        );
        let ext = file
            .extension()
            .map_or_else(|| "png".to_string(), |e| e.to_string_lossy().into_owned());
        Some(file.with_file_name(format!(
            "{stem}-{}.{ext}",
            self.summary.windows[index].scene
        )))
    }

    fn close(&mut self, event_loop: &ActiveEventLoop, id: WindowId) {
        if let Some(w) = self.windows.remove(&id)
            && let Some(i) = self.summary_index(id)
        {
            let s = &mut self.summary.windows[i];
            s.frames = w.frames;
            s.cpu_ms = self.cpu_sums.get(&id).copied().unwrap_or(0.0) / w.frames.max(1) as f64;
            s.gpu_ms = w.gpu_frame_ms();
            s.overlay_gpu_ms = w.overlay_gpu_ms();
            s.overlay = w.overlay_visible();
            s.gpu_samples = w.gpu_samples().to_vec();
        }
        if self.windows.is_empty() {
            event_loop.exit();
        }
    }

    fn fail(&mut self, event_loop: &ActiveEventLoop, e: AppError) {
        tracing::error!("{e}");
        self.error.get_or_insert(e);
        self.windows.clear();
        event_loop.exit();
    }

    fn redraw(&mut self, event_loop: &ActiveEventLoop, id: WindowId) {
        let index = self.summary_index(id);
        let exit_after = self.options.exit_after_frames;
        let screenshot = index.and_then(|i| self.screenshot_path(i));
        let Some(w) = self.windows.get_mut(&id) else {
            return;
        };
        if w.is_minimized() {
            return;
        }
        // The last frame of an --exit-after-frames run carries the --screenshot.
        let last = exit_after.is_some_and(|n| w.frames + 1 >= n);
        if last && let Some(path) = screenshot {
            w.screenshot_next_frame(path);
        }
        // The overlay reads the job system from the one metrics model.
        let jobs = self
            .options
            .telemetry
            .snapshot()
            .jobs
            .unwrap_or_else(|| self.executor.metrics());
        let ctx = &self.devices[w.device];
        match w.draw(ctx, &self.executor, &jobs) {
            Ok(r) => {
                if r.drawn {
                    let mut stages =
                        vec![("cpu_frame", Duration::from_secs_f64(w.cpu_frame_ms() / 1e3))];
                    if let Some(gpu) = w.gpu_frame_ms() {
                        stages.push(("gpu_frame", Duration::from_secs_f64(gpu / 1e3)));
                    }
                    self.options.telemetry.record_frame(&ctx.label, &stages);
                }
                *self.cpu_sums.entry(id).or_default() += w.cpu_frame_ms();
                if self.options.record_samples
                    && let Some(i) = index
                {
                    self.summary.windows[i].cpu_samples.push(w.cpu_frame_ms());
                }
                if let (Some(path), Some(i)) = (r.screenshot, index) {
                    tracing::info!("screenshot {}", path.display());
                    self.summary.windows[i].screenshots.push(path);
                }
                if let Some(profile) = r.profile {
                    self.set_profile(profile);
                }
                if exit_after.is_some_and(|n| self.windows.get(&id).is_some_and(|w| w.frames >= n))
                {
                    self.close(event_loop, id);
                }
            }
            Err(e) => {
                self.options.telemetry.frame_failed(&ctx.label);
                self.fail(event_loop, e)
            }
        }
    }

    /// A new executor with `profile`, shared by every window from the next frame on.
    fn set_profile(&mut self, profile: crate::jobs::Profile) {
        let config = ExecutorConfig {
            profile,
            ..self.options.executor
        };
        match Executor::new(config) {
            Ok(exec) => {
                tracing::info!("job profile {profile}: {} workers", exec.workers());
                self.options.telemetry.attach_executor(exec.clone());
                self.executor = exec;
                self.options.executor = config;
                for w in self.windows.values_mut() {
                    w.set_profile(profile);
                }
            }
            Err(e) => tracing::error!("cannot switch to job profile {profile}: {e}"),
        }
    }
}

impl ApplicationHandler<AppEvent> for App {
    fn user_event(&mut self, event_loop: &ActiveEventLoop, event: AppEvent) {
        match event {
            AppEvent::Resize(width, height) => {
                let ids: Vec<WindowId> = self.windows.keys().copied().collect();
                for id in ids {
                    if let Some(w) = self.windows.get(&id)
                        && width > 0
                        && height > 0
                    {
                        let _ = w
                            .window
                            .request_inner_size(winit::dpi::PhysicalSize::new(width, height));
                    }
                    tracing::info!("scripted resize to {width}x{height}");
                    self.window_event(
                        event_loop,
                        id,
                        WindowEvent::Resized(winit::dpi::PhysicalSize::new(width, height)),
                    );
                }
            }
        }
    }

    fn resumed(&mut self, event_loop: &ActiveEventLoop) {
        if self.started {
            return;
        }
        self.started = true;
        if let Err(e) = self.start(event_loop) {
            self.fail(event_loop, e);
        }
    }

    fn window_event(&mut self, event_loop: &ActiveEventLoop, id: WindowId, event: WindowEvent) {
        match event {
            WindowEvent::CloseRequested | WindowEvent::Destroyed => self.close(event_loop, id),
            WindowEvent::Resized(size) => {
                if let Some(w) = self.windows.get_mut(&id) {
                    let ctx = &self.devices[w.device];
                    if let Err(e) = w.resize(ctx, size.width, size.height) {
                        self.fail(event_loop, e);
                    }
                }
            }
            WindowEvent::RedrawRequested => self.redraw(event_loop, id),
            other => {
                if let Some(w) = self.windows.get_mut(&id)
                    && w.input(&other) == InputResult::Close
                {
                    self.close(event_loop, id);
                }
            }
        }
    }

    fn about_to_wait(&mut self, event_loop: &ActiveEventLoop) {
        if self.windows.is_empty() {
            return;
        }
        let now = Instant::now();
        if now >= self.next_frame {
            self.ticks += 1;
            for step in &self.options.resize_script {
                if step.tick == self.ticks {
                    let _ = self
                        .proxy
                        .send_event(AppEvent::Resize(step.width, step.height));
                }
            }
            for w in self.windows.values() {
                w.window.request_redraw();
            }
            self.next_frame += self.interval;
            if self.next_frame < now {
                self.next_frame = now + self.interval;
            }
        }
        event_loop.set_control_flow(ControlFlow::WaitUntil(self.next_frame));
    }
}
