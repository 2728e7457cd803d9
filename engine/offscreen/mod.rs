//! Offscreen batch rendering to PNG across every selected device.
//!
//! - Work items are (scene, frame) pairs covering every target of the frame ([`plan`]).
//! - One worker per device pulls items, keeping several frames in flight ([`scheduler`]);
//!   encoding and writing run on rayon.
//! - Files go to `DIR/<scene>/<target>/<frame:06>.png`, written under a temporary name and renamed
//!   (`writer.rs`, [`write_atomic`]); only then is a line appended to the manifest ([`manifest`]).
//! - `--resume` keeps files that match their manifest checksum and their scene's content hash
//!   ([`fingerprint`]); `--shard K/N` renders a deterministic share; a failing device is retired
//!   and its items go to the others.
//! - A run holds a lock on its manifest, so shards share a folder safely and a second copy of the
//!   same run refuses to start ([`lock`]).
//! - [`report`] writes the JSON report and the throughput chart.

pub mod bench;
pub mod fingerprint;
pub mod lock;
pub mod manifest;
mod options;
pub mod plan;
mod progress;
pub mod report;
pub mod scheduler;
mod writer;

pub use lock::{LockError, OutputLock};
pub use manifest::{ManifestEntry, ManifestError, MergeSummary, merge};
pub use options::{Faults, OffscreenOptions, OptionError};
pub use plan::{Plan, PlanError, PlanScene, Shard, WorkItem};
pub use writer::{
    Compression, STALE_EMPTY_TEMPORARY, WriteError, encode_png, encode_png_with, frame_path,
    is_temporary_name, process_token, remove_stale_temporary, write_atomic, write_png_atomic,
};

use crate::gpu::GpuContext;
use crate::scene::{LoadedScene, World};
use manifest::{ManifestWriter, load_counted, manifest_name, verify_entry};
use scheduler::{Event, Shared, WorkerConfig, device_worker};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// One thing that failed.
#[derive(Debug, Clone, serde::Serialize)]
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

impl Failure {
    pub(crate) fn new(world: &World, frame: Option<u32>, adapter: &str, message: String) -> Self {
        Self {
            scene: world.desc.name.clone(),
            frame,
            adapter: adapter.to_string(),
            message,
        }
    }
}

/// A failure of the run as a whole (no scene, frame or adapter).
fn run_failure(message: String) -> Failure {
    Failure {
        scene: "-".into(),
        frame: None,
        adapter: "-".into(),
        message,
    }
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

/// A scene an adapter declined because it does not fit the adapter's limits.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Declined {
    /// Scene name.
    pub scene: String,
    /// The limit it exceeds, by how much, and what to do.
    pub reason: String,
}

/// Per-adapter outcome.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct AdapterRun {
    /// Adapter label.
    pub adapter: String,
    /// Frames whose every target was written.
    pub frames: usize,
    /// Summed GPU time, seconds.
    pub busy_s: f64,
    /// Why the adapter was retired, if it was.
    pub retired: Option<String>,
    /// Scenes the adapter declined because they do not fit it. It stayed in service for the
    /// others.
    pub declined: Vec<Declined>,
    /// Completion time (seconds since start) of each frame, for the throughput chart.
    pub completions: Vec<f64>,
    /// Summed stage time of this adapter's frames (encode and write: of its frames' files).
    pub stages: StageTimes,
}

/// Summed time per pipeline stage, seconds.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct StageTimes {
    /// Clip sampling and palettes (CPU).
    pub animate_s: f64,
    /// GPU render of all targets.
    pub render_s: f64,
    /// Map, copy out, unpad.
    pub readback_s: f64,
    /// PNG encoding.
    pub encode_s: f64,
    /// File write + rename.
    pub write_s: f64,
}

/// Outcome of an offscreen run.
#[derive(Debug, Default)]
pub struct OffscreenReport {
    /// Files written by this run, in completion order.
    pub written: Vec<ManifestEntry>,
    /// Files kept from an earlier run (`--resume`).
    pub kept: usize,
    /// Files of an earlier run rendered again because their scene changed since (`--resume`).
    pub stale: usize,
    /// Files of an earlier run rendered again because they were missing or did not match their
    /// checksum (`--resume`).
    pub corrupt: usize,
    /// Malformed manifest lines skipped (`--resume`; their files are rendered again).
    pub malformed_lines: usize,
    /// Work items this run had to render.
    pub items: usize,
    /// Failures.
    pub failures: Vec<Failure>,
    /// Per adapter, in device order.
    pub adapters: Vec<AdapterRun>,
    /// Stage totals.
    pub stages: StageTimes,
    /// Wall time, seconds.
    pub wall_s: f64,
    /// Encode/write lanes (rayon threads).
    pub encode_threads: usize,
}

impl OffscreenReport {
    /// Frames fully written by this run.
    pub fn frames(&self) -> usize {
        self.adapters.iter().map(|a| a.frames).sum()
    }
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
    /// The job executor could not be configured or started.
    #[error("job system: {0}")]
    Jobs(crate::jobs::ExecutorError),
    /// Two scenes share a name (ignoring case) and would overwrite each other's files.
    #[error(
        "two scenes are named {0:?} (ignoring case); scene names must differ, even in case-insensitive file systems, because they name the output folders"
    )]
    DuplicateScene(String),
    /// A scene name collides with a file tutti keeps in the output folder.
    #[error(
        "scene name {0:?} collides with tutti's own files in the output folder (plan.json, manifest*, *.lock, dot files); rename the scene"
    )]
    ReservedSceneName(String),
    /// Another process holds the output folder.
    #[error(transparent)]
    Locked(#[from] LockError),
    /// `plan.json` cannot be used, or the run is too large to plan.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// An option is out of range.
    #[error("{0}")]
    Options(String),
    /// No devices were given.
    #[error("no device to render on")]
    NoDevices,
    /// The manifest could not be read or written.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// `--resume` on a folder that holds a different run.
    #[error("{0}")]
    PlanMismatch(String),
}

/// Check that `dir` exists (creating it) and is writable.
pub fn prepare_output_dir(dir: &Path) -> Result<(), OffscreenError> {
    let fail = |message: String| OffscreenError::OutputDir {
        path: dir.to_path_buf(),
        message,
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| fail(format!("cannot create it: {e}; choose another --out")))?;
    let probe = dir.join(format!(".tutti-write-test-{}", writer::process_token()));
    std::fs::write(&probe, b"ok").map_err(|e| {
        fail(format!(
            "is not writable: {e}; choose another --out or fix its permissions"
        ))
    })?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Build the plan of a run: each scene's frames (or the `frames` override), targets and content
/// hash (`hashes[i]` for `worlds[i]`, see [`fingerprint::scene_hashes`]).
pub fn make_plan(
    worlds: &[std::sync::Arc<World>],
    hashes: &[String],
    frames: Option<(u32, u32)>,
) -> Result<Plan, PlanError> {
    Plan::new(
        worlds
            .iter()
            .zip(hashes)
            .map(|(w, hash)| PlanScene {
                name: w.desc.name.clone(),
                frames: frames.unwrap_or(w.desc.frames),
                targets: w.desc.targets.iter().map(|t| t.name.clone()).collect(),
                hash: hash.clone(),
            })
            .collect(),
    )
}

/// Is `name` (a scene name, which names a folder in the output) one of tutti's own file names
/// there, on a case-insensitive file system too?
pub fn is_reserved_scene_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with('.')
        || lower == "plan.json"
        || lower.starts_with("manifest")
        || lower.ends_with(".lock")
        || lower.ends_with(".tmp")
}

/// Check scene names: none reserved, none equal to another ignoring case.
fn check_scene_names(scenes: &[LoadedScene]) -> Result<(), OffscreenError> {
    for (i, s) in scenes.iter().enumerate() {
        let name = &s.desc.name;
        if is_reserved_scene_name(name) {
            return Err(OffscreenError::ReservedSceneName(name.clone()));
        }
        if scenes[..i]
            .iter()
            .any(|o| o.desc.name.eq_ignore_ascii_case(name))
        {
            return Err(OffscreenError::DuplicateScene(name.clone()));
        }
    }
    Ok(())
}

/// Render every frame of every scene (or this shard's share) on the given devices.
pub fn render_offscreen(
    devices: &[GpuContext],
    scenes: &[LoadedScene],
    options: &OffscreenOptions,
) -> Result<OffscreenReport, OffscreenError> {
    if devices.is_empty() {
        return Err(OffscreenError::NoDevices);
    }
    check_scene_names(scenes)?;
    if let Some(k) = options.frames_in_flight
        && !(1..=scheduler::MAX_FRAMES_IN_FLIGHT).contains(&k)
    {
        return Err(OffscreenError::Options(format!(
            "frames in flight {k} is outside 1..={}",
            scheduler::MAX_FRAMES_IN_FLIGHT
        )));
    }
    let out_dir = &options.out_dir;
    prepare_output_dir(out_dir)?;
    let manifest_file = manifest_name(options.shard);
    let _lock = OutputLock::acquire(out_dir, &manifest_file)?;
    lock::check_same_split(out_dir, &manifest_file)?;
    let executor = match &options.executor {
        Some(e) => e.clone(),
        None => crate::jobs::Executor::new(crate::jobs::ExecutorConfig::default())
            .map_err(OffscreenError::Jobs)?,
    };
    let telemetry = options.telemetry.as_deref();
    if let Some(t) = telemetry {
        t.attach_executor(executor.clone());
        for d in devices {
            t.register_adapter(&d.label);
        }
    }
    let worlds: Vec<std::sync::Arc<World>> = scenes
        .iter()
        .map(|s| std::sync::Arc::new(s.world()))
        .collect();
    let hashes = fingerprint::scene_hashes(scenes, options.compression);
    let plan = make_plan(&worlds, &hashes, options.frames)?;
    let plan_path = out_dir.join("plan.json");
    match Plan::load(&plan_path) {
        Ok(old) => {
            if options.resume && !old.same_layout(&plan) {
                return Err(OffscreenError::PlanMismatch(format!(
                    "{} describes a different run (other scenes, frames or targets); --resume needs the same scenes and --frames, or use another --out",
                    plan_path.display()
                )));
            }
        }
        Err(e) if e.is_missing() => {}
        // Never overwrite a file that is not ours; never resume against a plan we cannot read.
        Err(e @ PlanError::Foreign { .. }) => return Err(e.into()),
        Err(e) if options.resume => return Err(e.into()),
        Err(_) => {} // an older tutti's plan, replaced by this run's
    }
    plan.save(&plan_path)
        .map_err(|e| OffscreenError::OutputDir {
            path: out_dir.clone(),
            message: e.to_string(),
        })?;
    let mut folders = vec![out_dir.clone()];
    for s in &plan.scenes {
        folders.extend(s.targets.iter().map(|t| out_dir.join(&s.name).join(t)));
    }
    lock::clean_stale_temporaries(folders.iter().map(PathBuf::as_path));

    // Resume: keep verified entries of fully done items; everything else is rendered again.
    let manifest_path = out_dir.join(&manifest_file);
    let mut valid: HashMap<(String, String, u32), ManifestEntry> = HashMap::new();
    let (mut stale, mut corrupt, mut malformed_lines) = (0, 0, 0);
    if options.resume && manifest_path.exists() {
        use rayon::prelude::*;
        let loaded = load_counted(&manifest_path)?;
        malformed_lines = loaded.malformed;
        let hash_of: HashMap<&str, &str> = plan
            .scenes
            .iter()
            .map(|s| (s.name.as_str(), s.hash.as_str()))
            .collect();
        let checked: Vec<(ManifestEntry, Result<(), bool>)> = loaded
            .entries
            .into_par_iter()
            .map(|e| {
                let verdict = if hash_of.get(e.scene.as_str()) != Some(&e.scene_hash.as_str()) {
                    Err(true)
                } else {
                    verify_entry(out_dir, &e).map_err(|_| false)
                };
                (e, verdict)
            })
            .collect();
        for (e, verdict) in checked {
            match verdict {
                Ok(()) => {
                    valid.insert(e.key(), e);
                }
                Err(true) => stale += 1,
                Err(false) => corrupt += 1,
            }
        }
    }
    let item_done = |w: &WorkItem| {
        let s = &plan.scenes[w.scene];
        s.targets
            .iter()
            .all(|t| valid.contains_key(&(s.name.clone(), t.clone(), w.frame)))
    };
    let all_items = plan.shard_items(options.shard);
    let todo: Vec<WorkItem> = all_items
        .iter()
        .copied()
        .filter(|w| !item_done(w))
        .collect();
    let done_items: HashSet<WorkItem> =
        all_items.iter().copied().filter(|w| item_done(w)).collect();
    let mut keep: Vec<ManifestEntry> = valid
        .into_values()
        .filter(|e| {
            let scene = plan.scenes.iter().position(|s| s.name == e.scene);
            scene.is_some_and(|scene| {
                done_items.contains(&WorkItem {
                    scene,
                    frame: e.frame,
                })
            })
        })
        .collect();
    keep.sort_by(|a, b| (&a.scene, a.frame, &a.target).cmp(&(&b.scene, b.frame, &b.target)));
    let mut manifest = ManifestWriter::create(&manifest_path, &keep)?;

    let mut report = OffscreenReport {
        kept: keep.len(),
        stale,
        corrupt,
        malformed_lines,
        items: todo.len(),
        encode_threads: executor.workers(),
        adapters: devices
            .iter()
            .map(|d| AdapterRun {
                adapter: d.label.clone(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let targets_per_scene: Vec<usize> = plan.scenes.iter().map(|s| s.targets.len()).collect();
    let shared = Shared::new(todo, worlds.len(), devices.len());
    let fault = options.faults.device_lost;
    let (tx, rx) = crossbeam_channel::unbounded::<Event>();
    let encode_slots = (2 * devices.len() * scheduler::MAX_IN_FLIGHT).max(4);
    let (token_tx, token_rx) = crossbeam_channel::bounded::<()>(encode_slots);
    for _ in 0..encode_slots {
        let _ = token_tx.send(());
    }
    let mut progress = progress::Progress::new(report.items, options.progress, devices);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for (d, ctx) in devices.iter().enumerate() {
            let cfg = WorkerConfig {
                device: d,
                worlds: &worlds,
                out_dir,
                compression: options.compression,
                frames_in_flight: options.frames_in_flight,
                fault_after: fault.filter(|(a, _)| *a == ctx.index).map(|(_, n)| n),
                scene_hashes: &hashes,
                encode_panic: options.faults.encode_panic,
                tokens: (&token_tx, &token_rx),
                executor: &executor,
                telemetry: options.telemetry.clone(),
            };
            let tx = tx.clone();
            let shared = &shared;
            let spawned = std::thread::Builder::new()
                .name(format!("tutti-device-{d}"))
                .spawn_scoped(scope, move || {
                    // A panic in a device worker (a bug) would leave its in-flight frames
                    // unaccounted and the others waiting for them: stop the run instead, with
                    // the panic as its failure (the frames done so far are kept for --resume).
                    let run = std::panic::AssertUnwindSafe(|| device_worker(ctx, &cfg, shared, &tx));
                    if let Err(payload) = std::panic::catch_unwind(run) {
                        shared.stop.store(true, std::sync::atomic::Ordering::SeqCst);
                        let _ = tx.send(Event::Failed {
                            failure: run_failure(format!(
                                "the worker of {} panicked: {}; the run stopped, render the rest with --resume",
                                ctx.label,
                                crate::gpu::panic_text(&payload)
                            )),
                            fatal: true,
                        });
                    }
                });
            if let Err(e) = spawned {
                shared.stop.store(true, std::sync::atomic::Ordering::SeqCst);
                report
                    .failures
                    .push(run_failure(format!("cannot start a device thread: {e}")));
            }
        }
        drop(tx);
        let mut remaining: HashMap<WorkItem, usize> = HashMap::new();
        // Frames counted as failed in the telemetry (a frame whose several files fail counts
        // once).
        let mut failed_frames: HashSet<(String, u32, String)> = HashSet::new();
        loop {
            // Wake at least every sync interval, so appended lines reach the disk on time even
            // while no frame completes.
            let event = match rx.recv_timeout(manifest.until_due()) {
                Ok(event) => event,
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                    if let Err(e) = manifest.sync_due() {
                        report.failures.push(run_failure(e.to_string()));
                        shared.stop.store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                    continue;
                }
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
            };
            match event {
                Event::Written {
                    device,
                    item,
                    entry,
                } => {
                    if let Err(e) = manifest.append(&entry) {
                        report.failures.push(Failure {
                            scene: entry.scene.clone(),
                            frame: Some(entry.frame),
                            adapter: entry.adapter.clone(),
                            message: e.to_string(),
                        });
                        shared.stop.store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                    report.stages.encode_s += entry.encode_ms / 1e3;
                    report.stages.write_s += entry.write_ms / 1e3;
                    let a = &mut report.adapters[device];
                    a.stages.encode_s += entry.encode_ms / 1e3;
                    a.stages.write_s += entry.write_ms / 1e3;
                    if let Some(t) = telemetry {
                        t.add_stage_times(
                            &devices[device].label,
                            &[
                                ("encode", seconds(entry.encode_ms)),
                                ("write", seconds(entry.write_ms)),
                            ],
                        );
                    }
                    report.written.push(entry);
                    let left = remaining
                        .entry(item)
                        .or_insert(targets_per_scene[item.scene]);
                    *left -= 1;
                    if *left == 0 {
                        remaining.remove(&item);
                        let a = &mut report.adapters[device];
                        a.frames += 1;
                        a.completions.push(start.elapsed().as_secs_f64());
                        progress.frame_done(device);
                        if let Some(t) = telemetry {
                            t.frame_delivered(&devices[device].label);
                        }
                    }
                }
                Event::Rendered {
                    device,
                    render_ms,
                    readback_ms,
                    animate_ms,
                } => {
                    report.adapters[device].busy_s += render_ms / 1e3;
                    report.stages.render_s += render_ms / 1e3;
                    report.stages.readback_s += readback_ms / 1e3;
                    report.stages.animate_s += animate_ms / 1e3;
                    let a = &mut report.adapters[device].stages;
                    a.render_s += render_ms / 1e3;
                    a.readback_s += readback_ms / 1e3;
                    a.animate_s += animate_ms / 1e3;
                    if let Some(t) = telemetry {
                        t.add_stage_times(
                            &devices[device].label,
                            &[
                                ("animate", seconds(animate_ms)),
                                ("render", seconds(render_ms)),
                                ("readback", seconds(readback_ms)),
                            ],
                        );
                    }
                }
                Event::Failed { failure, fatal } => {
                    if fatal {
                        shared.stop.store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                    if let (Some(t), Some(frame)) = (telemetry, failure.frame)
                        && failed_frames.insert((
                            failure.scene.clone(),
                            frame,
                            failure.adapter.clone(),
                        ))
                    {
                        t.frame_failed(&failure.adapter);
                    }
                    progress.message(&format!("failed: {failure}"));
                    report.failures.push(failure);
                }
                Event::Retired { device, reason } => {
                    progress.message(&format!("retired {}: {reason}", devices[device].label));
                    if let Some(t) = telemetry {
                        t.retire(&devices[device].label, &reason);
                        t.set_queue_depth(&devices[device].label, "frames_in_flight", 0);
                    }
                    report.adapters[device].retired = Some(reason);
                }
                Event::Declined {
                    device,
                    scene,
                    reason,
                } => {
                    progress.message(&format!(
                        "{} declined scene {}: {reason}",
                        devices[device].label, worlds[scene].desc.name
                    ));
                    report.adapters[device].declined.push(Declined {
                        scene: worlds[scene].desc.name.clone(),
                        reason,
                    });
                }
            }
        }
    });
    if let Err(e) = manifest.sync() {
        report.failures.push(run_failure(e.to_string()));
    }
    report.wall_s = start.elapsed().as_secs_f64();
    progress.finish();
    let stopped = shared.stop.load(std::sync::atomic::Ordering::SeqCst);
    for item in shared.leftovers() {
        let why = if stopped {
            "not rendered: the run stopped after a fatal error".to_string()
        } else {
            "not rendered: every adapter was retired".to_string()
        };
        if let Some(t) = telemetry {
            // No adapter rendered it: counted under the adapter "-", as in the failure list.
            t.frame_failed("-");
        }
        report.failures.push(Failure::new(
            &worlds[item.scene],
            Some(item.frame),
            "-",
            why,
        ));
    }
    Ok(report)
}

/// Milliseconds as a duration (0 for a value that is not a finite, non-negative time).
fn seconds(ms: f64) -> std::time::Duration {
    std::time::Duration::try_from_secs_f64(ms / 1e3).unwrap_or_default()
}
