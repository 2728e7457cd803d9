//! Multi-device scheduling: one worker thread per device pulls the next work item from a shared
//! queue, so faster adapters take more. Each worker keeps up to K frames in flight (a ring of
//! readback slots): while the GPU renders frame N+1, frame N is read back and earlier frames are
//! PNG-encoded and written on rayon. A failing device is retired and its in-flight items go back
//! to the queue for the others.
//!
//! Frames in flight: `--frames-in-flight N` fixes K. By default K adapts between 1 and
//! [`MAX_IN_FLIGHT`]: it starts at 2, grows by one when the oldest frame was already finished by
//! the time the worker came to collect it (the GPU was starved, so queue more), and shrinks by one
//! when handing a frame to the encoders had to wait for a free encode slot (encoding is the
//! bottleneck, so extra frames in flight only hold memory).

use super::Failure;
use super::manifest::{ManifestEntry, sha256_hex};
use super::plan::WorkItem;
use super::writer::{Compression, encode_png_with, frame_path, write_atomic};
use crate::gpu::GpuContext;
use crate::jobs::Executor;
use crate::render::{Pipelines, ReadbackSlot, SceneRenderer, TargetImage};
use crate::scene::FrameGraph;
use crate::scene::World;
use crate::telemetry::Telemetry;
use crossbeam_channel::{Receiver, Sender};
use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Upper bound of the adaptive frames-in-flight depth.
pub const MAX_IN_FLIGHT: usize = 4;
/// Largest `--frames-in-flight` accepted: each frame in flight holds a readback slot of every
/// target on every device.
pub const MAX_FRAMES_IN_FLIGHT: usize = 16;

/// Messages from device workers and encode jobs to the collecting thread.
pub(crate) enum Event {
    /// A file was written and renamed into place.
    Written {
        device: usize,
        item: WorkItem,
        entry: ManifestEntry,
    },
    /// A frame finished on the GPU (for per-adapter busy time).
    Rendered {
        device: usize,
        render_ms: f64,
        readback_ms: f64,
        animate_ms: f64,
    },
    /// Something failed for one item (`fatal`: stop the whole run, e.g. a disk error).
    Failed { failure: Failure, fatal: bool },
    /// A device was retired.
    Retired { device: usize, reason: String },
    /// A device declined a scene that does not fit it (the device stays in service).
    Declined {
        device: usize,
        scene: usize,
        reason: String,
    },
}

/// State shared by the device workers.
pub(crate) struct Shared {
    /// Items still to hand out, one queue per scene (in plan order).
    queues: Mutex<Queues>,
    /// Items not yet handed to the encoders (queued or in flight).
    outstanding: AtomicUsize,
    /// Set on a fatal error: workers stop pulling.
    pub stop: AtomicBool,
}

/// The work queues and which device declined which scene.
struct Queues {
    by_scene: Vec<VecDeque<WorkItem>>,
    /// `declined[scene][device]`: why the device cannot render the scene (it does not fit).
    declined: Vec<Vec<Option<String>>>,
    retired: Vec<bool>,
}

/// A scene no remaining device can render: its queued items, already taken off the queue.
pub(crate) struct Unplaceable {
    pub scene: usize,
    pub items: Vec<WorkItem>,
    /// Each declining device's reason.
    pub reasons: Vec<String>,
}

impl Queues {
    /// Scenes that some device declined and every device still in service declined: take their
    /// items off the queue. Nothing is taken while no device is in service (then the run's
    /// summary says every adapter was retired).
    fn unplaceable(&mut self) -> Vec<Unplaceable> {
        let mut out = Vec::new();
        if self.retired.iter().all(|&r| r) {
            return out;
        }
        for scene in 0..self.by_scene.len() {
            let declined = &self.declined[scene];
            let all = (0..self.retired.len()).all(|d| self.retired[d] || declined[d].is_some());
            if all && !self.by_scene[scene].is_empty() {
                out.push(Unplaceable {
                    scene,
                    items: self.by_scene[scene].drain(..).collect(),
                    reasons: declined.iter().flatten().cloned().collect(),
                });
            }
        }
        out
    }
}

impl Shared {
    pub fn new(items: Vec<WorkItem>, scenes: usize, devices: usize) -> Self {
        let mut by_scene = vec![VecDeque::new(); scenes];
        let outstanding = items.len();
        for it in items {
            by_scene[it.scene].push_back(it);
        }
        Self {
            outstanding: AtomicUsize::new(outstanding),
            queues: Mutex::new(Queues {
                by_scene,
                declined: vec![vec![None; devices]; scenes],
                retired: vec![false; devices],
            }),
            stop: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queues> {
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next item of a scene `device` has not declined.
    fn pop(&self, device: usize) -> Option<WorkItem> {
        let mut q = self.lock();
        let Queues {
            by_scene, declined, ..
        } = &mut *q;
        by_scene
            .iter_mut()
            .zip(declined.iter())
            .filter(|(_, d)| d[device].is_none())
            .find_map(|(queue, _)| queue.pop_front())
    }

    fn requeue(&self, items: impl IntoIterator<Item = WorkItem>) {
        let mut q = self.lock();
        for it in items {
            q.by_scene[it.scene].push_front(it);
        }
    }

    /// `device` cannot render `scene` (it does not fit): its items go to the other devices.
    /// Returns the scenes that no device in service can render any more.
    fn decline(&self, device: usize, scene: usize, reason: String) -> Vec<Unplaceable> {
        let mut q = self.lock();
        q.declined[scene][device] = Some(reason);
        q.unplaceable()
    }

    /// `device` left service. Returns the scenes that no device in service can render any more.
    fn retire(&self, device: usize) -> Vec<Unplaceable> {
        let mut q = self.lock();
        q.retired[device] = true;
        q.unplaceable()
    }

    fn handed_off(&self) {
        self.outstanding.fetch_sub(1, Ordering::SeqCst);
    }

    /// Items never handed off (left in the queue when every device is gone or the run stopped).
    pub fn leftovers(&self) -> Vec<WorkItem> {
        self.lock()
            .by_scene
            .iter_mut()
            .flat_map(|q| q.drain(..))
            .collect()
    }
}

/// Configuration of one device worker.
pub(crate) struct WorkerConfig<'a> {
    pub device: usize,
    pub worlds: &'a [Arc<World>],
    pub executor: &'a Executor,
    pub out_dir: &'a Path,
    pub compression: Compression,
    pub frames_in_flight: Option<usize>,
    /// Fail this device after this many frames (`TUTTI_FAULT_DEVICE_LOST`).
    pub fault_after: Option<usize>,
    /// Content hash of each scene, recorded in its manifest lines.
    pub scene_hashes: &'a [String],
    /// Panic while encoding this frame (fault injection).
    pub encode_panic: Option<u32>,
    /// Encode slots: take one before handing a frame to rayon, give it back when written.
    pub tokens: (&'a Sender<()>, &'a Receiver<()>),
    /// Live metrics: this worker sets its frames in flight and pending writes.
    pub telemetry: Option<Arc<Telemetry>>,
}

/// Avatars per animation job of the frame graph.
const ANIMATION_BATCH: usize = 32;

struct SceneState {
    renderer: SceneRenderer,
    frame_graph: FrameGraph,
    slots: Vec<ReadbackSlot>,
    free: Vec<usize>,
}

struct InFlight {
    item: WorkItem,
    slot: usize,
    index: wgpu::SubmissionIndex,
    submitted: Instant,
    animate_ms: f64,
}

/// Run one device until the queue is drained, the run stops, or the device fails.
pub(crate) fn device_worker(
    ctx: &GpuContext,
    cfg: &WorkerConfig<'_>,
    shared: &Shared,
    tx: &Sender<Event>,
) {
    let pipelines = Pipelines::new(ctx);
    let mut scenes: Vec<Option<SceneState>> = (0..cfg.worlds.len()).map(|_| None).collect();
    let adaptive = cfg.frames_in_flight.is_none();
    let max_k = cfg.frames_in_flight.unwrap_or(MAX_IN_FLIGHT).max(1);
    let mut k = cfg.frames_in_flight.unwrap_or(2).clamp(1, max_k);
    let mut in_flight: VecDeque<InFlight> = VecDeque::new();
    let mut completed = 0usize;
    let mut last_gpu_done = Instant::now();

    // Scenes nobody can take any more fail as a whole, with every adapter's reason.
    let give_up = |lost: Vec<Unplaceable>| {
        for u in lost {
            for _ in &u.items {
                shared.handed_off();
            }
            let world = &cfg.worlds[u.scene];
            let message = format!(
                "{} frames not rendered: no adapter in service can render this scene ({}); use fewer avatars or smaller targets, or an adapter with larger limits",
                u.items.len(),
                u.reasons.join("; ")
            );
            let _ = tx.send(Event::Failed {
                failure: Failure::new(world, None, "-", message),
                fatal: false,
            });
        }
    };
    let retire = |in_flight: &mut VecDeque<InFlight>, reason: String| {
        shared.requeue(in_flight.drain(..).rev().map(|f| f.item));
        give_up(shared.retire(cfg.device));
        let _ = tx.send(Event::Retired {
            device: cfg.device,
            reason,
        });
    };

    loop {
        if shared.stop.load(Ordering::SeqCst) {
            shared.requeue(in_flight.drain(..).rev().map(|f| f.item));
            return;
        }
        // Fill the pipeline.
        while in_flight.len() < k {
            let Some(item) = shared.pop(cfg.device) else {
                break;
            };
            let world = &cfg.worlds[item.scene];
            if scenes[item.scene].is_none() {
                let created = SceneRenderer::new(ctx, &pipelines, world).and_then(|sr| {
                    let slots = (0..max_k)
                        .map(|_| sr.new_slot(ctx))
                        .collect::<Result<Vec<ReadbackSlot>, _>>()?;
                    Ok((sr, slots))
                });
                match created {
                    Ok((sr, slots)) => {
                        scenes[item.scene] = Some(SceneState {
                            renderer: sr,
                            frame_graph: FrameGraph::new(world.clone(), ANIMATION_BATCH),
                            free: (0..slots.len()).collect(),
                            slots,
                        });
                    }
                    Err(e) if e.is_does_not_fit() => {
                        // Declined: this device stays in service for other scenes, and the
                        // scene's frames go to devices it fits.
                        tracing::warn!("{e}; other adapters will render it");
                        shared.requeue([item]);
                        let _ = tx.send(Event::Declined {
                            device: cfg.device,
                            scene: item.scene,
                            reason: e.to_string(),
                        });
                        give_up(shared.decline(cfg.device, item.scene, e.to_string()));
                        continue;
                    }
                    Err(e) => {
                        shared.handed_off();
                        let _ = tx.send(Event::Failed {
                            failure: Failure::new(
                                world,
                                Some(item.frame),
                                &ctx.label,
                                e.to_string(),
                            ),
                            fatal: false,
                        });
                        continue;
                    }
                }
            }
            let Some(state) = scenes[item.scene].as_mut() else {
                continue;
            };
            let Some(slot) = state.free.pop() else {
                shared.requeue([item]);
                break;
            };
            let t0 = Instant::now();
            let time = world.frame_time(item.frame);
            let prepared = match state
                .renderer
                .prepare(ctx, cfg.executor, &state.frame_graph, time)
            {
                Ok(prepared) => prepared,
                Err(e) => {
                    state.free.push(slot);
                    shared.handed_off();
                    let _ = tx.send(Event::Failed {
                        failure: Failure::new(world, Some(item.frame), &ctx.label, e.to_string()),
                        fatal: false,
                    });
                    continue;
                }
            };
            let animate_ms = ms(t0.elapsed());
            let input = prepared.input().with_readback(&state.slots[slot]);
            match state.renderer.submit(ctx, &pipelines, &input) {
                Ok(out) => {
                    let index = out.submission;
                    state.slots[slot].request_map();
                    in_flight.push_back(InFlight {
                        item,
                        slot,
                        index,
                        submitted: Instant::now(),
                        animate_ms,
                    });
                }
                Err(e) => {
                    state.free.push(slot);
                    shared.requeue([item]);
                    return retire(&mut in_flight, e.to_string());
                }
            }
        }
        if let Some(t) = &cfg.telemetry {
            t.set_queue_depth(&ctx.label, "frames_in_flight", in_flight.len() as i64);
        }
        let Some(front) = in_flight.pop_front() else {
            if shared.outstanding.load(Ordering::SeqCst) == 0 {
                return;
            }
            // Another device may still hand items back; wait a moment.
            std::thread::sleep(Duration::from_millis(2));
            continue;
        };
        let Some(state) = scenes[front.item.scene].as_mut() else {
            continue;
        };
        let slot = &state.slots[front.slot];
        let was_ready = slot.is_mapped();
        if let Err(e) = ctx.wait_for(front.index.clone()) {
            in_flight.push_front(front);
            return retire(&mut in_flight, e.to_string());
        }
        let gpu_done = Instant::now();
        let render_ms = ms(gpu_done.duration_since(front.submitted.max(last_gpu_done)));
        last_gpu_done = gpu_done;
        let t0 = Instant::now();
        let images = match slot.take_images() {
            Ok(images) => images,
            Err(e) => {
                state.free.push(front.slot);
                in_flight.push_front(front);
                return retire(&mut in_flight, e);
            }
        };
        state.free.push(front.slot);
        if let Err(e) = ctx.check() {
            in_flight.push_front(front);
            return retire(&mut in_flight, e.to_string());
        }
        let readback_ms = ms(t0.elapsed());
        let _ = tx.send(Event::Rendered {
            device: cfg.device,
            render_ms,
            readback_ms,
            animate_ms: front.animate_ms,
        });
        // Hand the frame to the encoders (bounded: wait for an encode slot).
        let t_wait = Instant::now();
        let _ = cfg.tokens.1.recv();
        let waited = t_wait.elapsed();
        if adaptive {
            if was_ready && k < max_k {
                k += 1;
            } else if waited > Duration::from_millis(1) && k > 1 {
                k -= 1;
            }
        }
        spawn_encode(
            cfg,
            front.item,
            images,
            render_ms,
            readback_ms,
            &ctx.label,
            tx.clone(),
        );
        shared.handed_off();
        completed += 1;
        if cfg.fault_after == Some(completed) {
            ctx.mark_lost("device lost (injected by TUTTI_FAULT_DEVICE_LOST)");
        }
        if let Err(e) = ctx.check() {
            return retire(&mut in_flight, e.to_string());
        }
    }
}

/// Encode and write every target of a frame on rayon, then report each file.
fn spawn_encode(
    cfg: &WorkerConfig<'_>,
    item: WorkItem,
    images: Vec<TargetImage>,
    render_ms: f64,
    readback_ms: f64,
    adapter: &str,
    tx: Sender<Event>,
) {
    let world = &cfg.worlds[item.scene];
    let job = EncodeJob {
        scene: world.desc.name.clone(),
        scene_hash: cfg.scene_hashes[item.scene].clone(),
        out_dir: cfg.out_dir.to_path_buf(),
        compression: cfg.compression,
        adapter: adapter.to_string(),
        device: cfg.device,
        item,
        render_ms,
        readback_ms,
        panic_at: cfg.encode_panic,
    };
    let token = cfg.tokens.0.clone();
    let telemetry = cfg.telemetry.clone();
    if let Some(t) = &telemetry {
        t.add_queue_depth(adapter, "pending_writes", 1);
    }
    cfg.executor.pool().spawn(move || {
        use rayon::prelude::*;
        // The encode slot (and the pending-writes count) goes back however this task ends.
        struct GiveBack(Sender<()>, Option<Arc<Telemetry>>, String);
        impl Drop for GiveBack {
            fn drop(&mut self) {
                if let Some(t) = &self.1 {
                    t.add_queue_depth(&self.2, "pending_writes", -1);
                }
                let _ = self.0.send(());
            }
        }
        let _slot = GiveBack(token, telemetry, job.adapter.clone());
        // A panic escaping a rayon task aborts the process: catch it per image and report it as
        // that file's failure (the frame's other files are still written).
        images.into_par_iter().for_each(|img| {
            let name = img.name.clone();
            let caught =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.run(img, &tx)));
            if let Err(payload) = caught {
                let what = crate::gpu::panic_text(&payload);
                job.fail(
                    &tx,
                    format!("target {name}: encoding panicked: {what}"),
                    false,
                );
            }
        });
    });
}

/// What the encode task of one frame needs.
struct EncodeJob {
    scene: String,
    scene_hash: String,
    out_dir: std::path::PathBuf,
    compression: Compression,
    adapter: String,
    device: usize,
    item: WorkItem,
    render_ms: f64,
    readback_ms: f64,
    /// Fault injection: panic while encoding this frame.
    panic_at: Option<u32>,
}

impl EncodeJob {
    fn fail(&self, tx: &Sender<Event>, message: String, fatal: bool) {
        let failure = Failure {
            scene: self.scene.clone(),
            frame: Some(self.item.frame),
            adapter: self.adapter.clone(),
            message,
        };
        let _ = tx.send(Event::Failed { failure, fatal });
    }

    /// Encode one target, write it atomically and report it.
    fn run(&self, img: TargetImage, tx: &Sender<Event>) {
        let item = self.item;
        if self.panic_at == Some(item.frame) {
            panic!("injected by TUTTI_FAULT_ENCODE_PANIC");
        }
        let path = frame_path(&self.out_dir, &self.scene, &img.name, item.frame);
        let t0 = Instant::now();
        let png = match encode_png_with(img.width, img.height, &img.rgba, self.compression) {
            Ok(png) => png,
            Err(message) => return self.fail(tx, message, false),
        };
        let encode_ms = ms(t0.elapsed());
        let t1 = Instant::now();
        if let Err(e) = write_atomic(&path, &png) {
            // A disk error stops the whole run.
            return self.fail(tx, e.to_string(), true);
        }
        let write_ms = ms(t1.elapsed());
        let rel = path
            .strip_prefix(&self.out_dir)
            .unwrap_or(&path)
            .to_string_lossy()
            .replace('\\', "/");
        let entry = ManifestEntry {
            scene: self.scene.clone(),
            target: img.name,
            frame: item.frame,
            path: rel,
            adapter: self.adapter.clone(),
            bytes: png.len() as u64,
            sha256: sha256_hex(&png),
            render_ms: self.render_ms,
            readback_ms: self.readback_ms,
            encode_ms,
            write_ms,
            stats: img.stats,
            scene_hash: self.scene_hash.clone(),
        };
        let _ = tx.send(Event::Written {
            device: self.device,
            item,
            entry,
        });
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(scene: usize, frames: std::ops::Range<u32>) -> Vec<WorkItem> {
        frames.map(|frame| WorkItem { scene, frame }).collect()
    }

    #[test]
    fn declined_scenes_go_to_other_devices_and_fail_once_nobody_can_take_them() {
        let shared = Shared::new([items(0, 0..3), items(1, 0..2)].concat(), 2, 2);
        // Device 0 declines scene 0: it gets scene 1's items, device 1 still gets scene 0's.
        assert!(shared.decline(0, 0, "too big for #0".into()).is_empty());
        assert_eq!(shared.pop(0), Some(WorkItem { scene: 1, frame: 0 }));
        assert_eq!(shared.pop(1), Some(WorkItem { scene: 0, frame: 0 }));
        // Device 1 declines it too (after putting its item back): the scene is unplaceable.
        shared.requeue([WorkItem { scene: 0, frame: 0 }]);
        let lost = shared.decline(1, 0, "too big for #1".into());
        assert_eq!(lost.len(), 1);
        assert_eq!(lost[0].scene, 0);
        assert_eq!(lost[0].items, items(0, 0..3));
        assert_eq!(lost[0].reasons, ["too big for #0", "too big for #1"]);
        // Nothing is reported twice, and the other scene is untouched.
        assert!(shared.retire(1).is_empty());
        assert_eq!(shared.leftovers(), items(1, 1..2));
    }

    #[test]
    fn retiring_the_last_device_that_could_take_a_scene_gives_it_up() {
        let shared = Shared::new(items(0, 0..4), 1, 2);
        assert!(shared.decline(0, 0, "too big".into()).is_empty());
        let lost = shared.retire(1);
        assert_eq!(lost.len(), 1);
        assert_eq!(lost[0].items.len(), 4);
        // With every device retired nothing is given up: the summary says they were retired.
        let shared = Shared::new(items(0, 0..4), 1, 1);
        assert!(shared.retire(0).is_empty());
        assert_eq!(shared.leftovers().len(), 4);
    }
}
