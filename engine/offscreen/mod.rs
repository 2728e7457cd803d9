//! Offscreen batch rendering: (scene, frame) work items spread round-robin over the selected
//! devices, one thread per device; PNGs encoded on rayon and written atomically
//! (temporary name, then rename) to `DIR/<scene>/<target>/<frame:06>.png`.

mod writer;

pub use writer::{WriteError, encode_png, frame_path, write_atomic, write_png_atomic};

use crate::gpu::GpuContext;
use crate::render::{FrameRenderer, SceneRenderer};
use crate::scene::{LoadedScene, World};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Options of an offscreen run.
#[derive(Debug, Clone)]
pub struct OffscreenOptions {
    /// Output root.
    pub out_dir: PathBuf,
    /// Frame range override `(start, end)`, end exclusive; `None` uses each scene's own range.
    pub frames: Option<(u32, u32)>,
}

/// One file that was written.
#[derive(Debug, Clone)]
pub struct WrittenFile {
    /// Scene name.
    pub scene: String,
    /// Target name.
    pub target: String,
    /// Frame index.
    pub frame: u32,
    /// Final path.
    pub path: PathBuf,
    /// Adapter label.
    pub adapter: String,
    /// File size in bytes.
    pub bytes: u64,
}

/// One thing that failed; the run continues with the other items.
#[derive(Debug, Clone)]
pub struct Failure {
    /// Scene name.
    pub scene: String,
    /// Frame, when the failure is about one frame.
    pub frame: Option<u32>,
    /// Adapter label.
    pub adapter: String,
    /// What went wrong.
    pub message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.frame {
            Some(fr) => write!(
                f,
                "scene {} frame {fr} on {}: {}",
                self.scene, self.adapter, self.message
            ),
            None => write!(
                f,
                "scene {} on {}: {}",
                self.scene, self.adapter, self.message
            ),
        }
    }
}

/// Outcome of an offscreen run.
#[derive(Debug, Default)]
pub struct OffscreenReport {
    /// Files written, in completion order.
    pub written: Vec<WrittenFile>,
    /// Failures.
    pub failures: Vec<Failure>,
    /// Frames rendered per adapter label.
    pub frames_per_adapter: Vec<(String, usize)>,
}

/// Errors that stop a run before it starts.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OffscreenError {
    /// The output directory cannot be created or written.
    #[error("output directory {path}: {message}")]
    OutputDir {
        /// Directory.
        path: PathBuf,
        /// What failed and what to do.
        message: String,
    },
    /// Two scenes share a name and would overwrite each other's files.
    #[error(
        "two scenes are named {0:?}; scene names must differ because they name the output folders"
    )]
    DuplicateScene(String),
    /// No devices were given.
    #[error("no device to render on")]
    NoDevices,
}

/// Check that `dir` exists (creating it) and is writable.
pub fn prepare_output_dir(dir: &Path) -> Result<(), OffscreenError> {
    let fail = |message: String| OffscreenError::OutputDir {
        path: dir.to_path_buf(),
        message,
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| fail(format!("cannot create it: {e}; choose another --out")))?;
    let probe = dir.join(format!(".tutti-write-test-{}", std::process::id()));
    std::fs::write(&probe, b"ok").map_err(|e| {
        fail(format!(
            "is not writable: {e}; choose another --out or fix its permissions"
        ))
    })?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Render every frame of every scene on the given devices.
pub fn render_offscreen(
    devices: &[GpuContext],
    scenes: &[LoadedScene],
    options: &OffscreenOptions,
) -> Result<OffscreenReport, OffscreenError> {
    if devices.is_empty() {
        return Err(OffscreenError::NoDevices);
    }
    for (i, s) in scenes.iter().enumerate() {
        if scenes[..i].iter().any(|o| o.desc.name == s.desc.name) {
            return Err(OffscreenError::DuplicateScene(s.desc.name.clone()));
        }
    }
    prepare_output_dir(&options.out_dir)?;
    let worlds: Vec<World> = scenes.iter().map(LoadedScene::world).collect();
    let items: Vec<(usize, u32)> = worlds
        .iter()
        .enumerate()
        .flat_map(|(s, w)| {
            let (a, b) = options.frames.unwrap_or(w.desc.frames);
            (a..b).map(move |f| (s, f))
        })
        .collect();
    let report = Mutex::new(OffscreenReport::default());
    std::thread::scope(|scope| {
        for (d, ctx) in devices.iter().enumerate() {
            let mine: Vec<(usize, u32)> = items
                .iter()
                .copied()
                .skip(d)
                .step_by(devices.len())
                .collect();
            let worlds = &worlds;
            let report = &report;
            scope.spawn(move || {
                let done = device_worker(ctx, worlds, &mine, &options.out_dir, report);
                report
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .frames_per_adapter
                    .push((ctx.label.clone(), done));
            });
        }
    });
    let mut report = report.into_inner().unwrap_or_else(|e| e.into_inner());
    report.frames_per_adapter.sort();
    Ok(report)
}

/// Render one device's share; returns the number of frames fully written.
fn device_worker(
    ctx: &GpuContext,
    worlds: &[World],
    items: &[(usize, u32)],
    out_dir: &Path,
    report: &Mutex<OffscreenReport>,
) -> usize {
    let fail = |scene: &World, frame: Option<u32>, message: String| {
        report
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .failures
            .push(Failure {
                scene: scene.desc.name.clone(),
                frame,
                adapter: ctx.label.clone(),
                message,
            });
    };
    let renderer = FrameRenderer::new(ctx);
    let mut scene_gpu: Vec<Option<Result<SceneRenderer, String>>> =
        (0..worlds.len()).map(|_| None).collect();
    let mut done = 0;
    let mut device_dead: Option<String> = None;
    for &(s, frame) in items {
        let world = &worlds[s];
        if let Some(reason) = &device_dead {
            fail(
                world,
                Some(frame),
                format!("not rendered: the device failed earlier ({reason})"),
            );
            continue;
        }
        let sr = scene_gpu[s].get_or_insert_with(|| {
            SceneRenderer::new(ctx, &renderer, world).map_err(|e| e.to_string())
        });
        let sr = match sr {
            Ok(sr) => sr,
            Err(message) => {
                fail(world, Some(frame), message.clone());
                continue;
            }
        };
        let anim = world.animate(world.frame_time(frame));
        let images = match sr.render(ctx, &renderer, &anim) {
            Ok(images) => images,
            Err(e) => {
                let message = e.to_string();
                fail(world, Some(frame), message.clone());
                if ctx.check().is_err() {
                    device_dead = Some(message);
                }
                continue;
            }
        };
        let results: Vec<Result<WrittenFile, String>> = images
            .par_iter()
            .map(|img| {
                let path = frame_path(out_dir, &world.desc.name, &img.name, frame);
                write_png_atomic(&path, img.width, img.height, &img.rgba)
                    .map(|bytes| WrittenFile {
                        scene: world.desc.name.clone(),
                        target: img.name.clone(),
                        frame,
                        path: path.clone(),
                        adapter: ctx.label.clone(),
                        bytes,
                    })
                    .map_err(|e| e.to_string())
            })
            .collect();
        let mut ok = true;
        for r in results {
            match r {
                Ok(w) => report
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .written
                    .push(w),
                Err(message) => {
                    ok = false;
                    fail(world, Some(frame), message);
                }
            }
        }
        if ok {
            done += 1;
        }
    }
    done
}
