//! [`Engine`]: the high-level way in. It owns adapter discovery, the opened devices and the job
//! executor; it loads scenes, renders single frames to images, runs offscreen batches across
//! every device, and exposes the executor's live metrics.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let engine = tutti::Engine::new(tutti::EngineOptions::default())?;
//! let scene = engine.default_scene()?;
//! for image in engine.render_frame(&scene, 12)? {
//!     println!("{}: {}x{}", image.name, image.width, image.height);
//! }
//! println!("{:?}", engine.metrics());
//! # Ok(())
//! # }
//! ```

use crate::assets::AssetLibrary;
use crate::gpu::{AdapterSpec, Discovery, GpuContext, GpuError};
use crate::jobs::{Executor, ExecutorConfig, MetricsSnapshot};
use crate::offscreen::{OffscreenError, OffscreenOptions, OffscreenReport, render_offscreen};
use crate::render::{Pipelines, RenderError, SceneRenderer, TargetImage};
use crate::scene::{FrameGraph, LoadedScene, SceneError, default_scene, load_scene};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Errors of the [`Engine`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// No adapter could be selected or opened.
    #[error(transparent)]
    Gpu(#[from] GpuError),
    /// The executor configuration was refused.
    #[error(transparent)]
    Executor(#[from] crate::jobs::ExecutorError),
    /// A scene failed to load.
    #[error(transparent)]
    Scene(#[from] SceneError),
    /// A frame failed to render.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// A batch failed.
    #[error(transparent)]
    Offscreen(#[from] OffscreenError),
    /// The frame is outside the scene's range.
    #[error("frame {frame} is outside scene {scene:?}'s frames {start}..{end}; pick one in range")]
    FrameOutOfRange {
        /// Scene name.
        scene: String,
        /// The frame asked for.
        frame: u32,
        /// First frame.
        start: u32,
        /// One past the last frame.
        end: u32,
    },
}

/// How an [`Engine`] starts.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// Which adapters to open (default: every working adapter, one backend per GPU).
    pub adapters: AdapterSpec,
    /// The job executor (default: the `performance` profile).
    pub executor: ExecutorConfig,
    /// Confine the assets scene files may load to this folder (default: anywhere; see
    /// [`AssetLibrary::confined`]).
    pub asset_root: Option<std::path::PathBuf>,
}

/// The engine: discovery, devices and executor (see the module doc).
pub struct Engine {
    discovery: Discovery,
    devices: Vec<GpuContext>,
    /// Per device, its pipelines once [`Engine::render_frame`] needed them.
    pipelines: Vec<Mutex<Option<Arc<Pipelines>>>>,
    executor: Executor,
    library: AssetLibrary,
}

impl Engine {
    /// Discover adapters, open the selected ones and start the executor.
    pub fn new(options: EngineOptions) -> Result<Self, EngineError> {
        let discovery = Discovery::run();
        let selected = discovery.select(&options.adapters)?;
        let devices = discovery.open(&selected)?;
        let pipelines = devices.iter().map(|_| Mutex::default()).collect();
        let executor = Executor::new(options.executor)?;
        Ok(Self {
            discovery,
            devices,
            pipelines,
            executor,
            library: match options.asset_root {
                Some(root) => AssetLibrary::confined(root),
                None => AssetLibrary::new(),
            },
        })
    }

    /// Every adapter found, with its status (usable or skipped, and why).
    pub fn discovery(&self) -> &Discovery {
        &self.discovery
    }

    /// The opened devices, in selection order.
    pub fn devices(&self) -> &[GpuContext] {
        &self.devices
    }

    /// The job executor every frame's CPU side runs on.
    pub fn executor(&self) -> &Executor {
        &self.executor
    }

    /// Live metrics of the executor (jobs run, queued, retried, timings).
    pub fn metrics(&self) -> MetricsSnapshot {
        self.executor.metrics()
    }

    /// Load a scene file (errors name file, line and column).
    pub fn load_scene(&self, path: &Path) -> Result<LoadedScene, EngineError> {
        Ok(load_scene(path, &self.library)?)
    }

    /// Validate a scene built in code and resolve its assets (the checks of a scene file;
    /// `source` names it in errors; relative asset paths resolve in the working folder).
    pub fn scene_from_desc(
        &self,
        desc: crate::scene::SceneDesc,
        source: &Path,
    ) -> Result<LoadedScene, EngineError> {
        Ok(LoadedScene::from_desc(desc, source, None, &self.library)?)
    }

    /// The asset library scenes load through (assets are cached and shared by every scene).
    pub fn library(&self) -> &AssetLibrary {
        &self.library
    }

    /// The built-in default scene.
    pub fn default_scene(&self) -> Result<LoadedScene, EngineError> {
        Ok(default_scene(&self.library)?)
    }

    /// Render frame `frame` of `scene` on the first device that can hold it and read every
    /// target back (blocking). The same scene, frame and adapter give the same pixels as
    /// `tutti render --offscreen`. Devices the scene does not fit are skipped.
    pub fn render_frame(
        &self,
        scene: &LoadedScene,
        frame: u32,
    ) -> Result<Vec<TargetImage>, EngineError> {
        let (start, end) = scene.desc.frames;
        if !(start..end).contains(&frame) {
            return Err(EngineError::FrameOutOfRange {
                scene: scene.desc.name.clone(),
                frame,
                start,
                end,
            });
        }
        let world = Arc::new(scene.world());
        let mut last = None;
        for (ctx, pipelines) in self.devices.iter().zip(&self.pipelines) {
            let pipelines = pipelines
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_or_insert_with(|| Arc::new(Pipelines::new(ctx)))
                .clone();
            let renderer = match SceneRenderer::new(ctx, &pipelines, &world) {
                Ok(r) => r,
                Err(e) if e.is_does_not_fit() => {
                    last = Some(e);
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let graph = FrameGraph::try_new(world.clone(), 32)
                .map_err(|e| RenderError::from(crate::scene::FrameError::from(e)))?;
            let frame = graph
                .run(&self.executor, world.frame_time(frame))
                .map_err(RenderError::from)?;
            return Ok(renderer.render(ctx, &pipelines, &frame)?);
        }
        Err(match last {
            Some(e) => e.into(),
            None => GpuError::NoAdapters.into(),
        })
    }

    /// Render a batch of scenes to PNG files across every device (see
    /// [`crate::offscreen`]). The engine's executor is used unless `options` names one.
    pub fn run_batch(
        &self,
        scenes: &[LoadedScene],
        options: &OffscreenOptions,
    ) -> Result<OffscreenReport, EngineError> {
        let mut options = options.clone();
        options
            .executor
            .get_or_insert_with(|| self.executor.clone());
        Ok(render_offscreen(&self.devices, scenes, &options)?)
    }
}
