//! The engine's per-frame job graph: animation in batches of avatars, the environment update and
//! the audio block, built once per scene (and per device worker) and run every frame.

use super::{Executor, GraphBuilder, JobGraph, JobStatus, Priority};
use crate::anim::PoseScratch;
use crate::scene::{FrameAnimation, World};
use glam::{Mat4, Vec3};
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Arc, Mutex};

/// Environment state of one frame (sun and sky), computed by the `environment` job.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct EnvironmentFrame {
    /// Unit vector towards the sun.
    pub to_sun: Vec3,
    /// Sun colour.
    pub sun_color: Vec3,
    /// Ambient level.
    pub ambient: f32,
}

struct Shared {
    world: Arc<World>,
    time: Mutex<f32>,
    /// Per batch: first avatar, avatar count, and its palette range `start..end`.
    batches: Vec<(usize, usize, usize, usize)>,
    /// The palette buffer of the running frame (`palette_len` matrices, allocated by
    /// [`FrameGraph::run`]); null between frames.
    target: AtomicPtr<Mat4>,
    environment: Mutex<EnvironmentFrame>,
    audio: Mutex<Vec<f32>>,
}

/// A scene's frame graph.
pub struct FrameGraph {
    graph: JobGraph,
    shared: Arc<Shared>,
    /// Held for a whole frame: one frame at a time writes into `Shared::target`.
    running: Mutex<()>,
}

/// Audio sample rate of the (placeholder) audio block.
pub const AUDIO_RATE: u32 = 48_000;

impl FrameGraph {
    /// Build the graph for `world`, `batch` avatars per animation job.
    pub fn new(world: Arc<World>, batch: usize) -> Self {
        let batch = batch.max(1);
        let mut batches = Vec::new();
        let mut first = 0;
        while first < world.avatars.len() {
            let count = batch.min(world.avatars.len() - first);
            let palette_start = world.avatars[first].palette_offset as usize;
            let palette_end = world
                .avatars
                .get(first + count)
                .map(|a| a.palette_offset as usize)
                .unwrap_or(world.palette_len);
            batches.push((first, count, palette_start, palette_end));
            first += count;
        }
        let shared = Arc::new(Shared {
            world,
            time: Mutex::new(0.0),
            batches,
            target: AtomicPtr::new(std::ptr::null_mut()),
            environment: Mutex::default(),
            audio: Mutex::default(),
        });
        let mut g = GraphBuilder::new();
        for k in 0..shared.batches.len() {
            let s = shared.clone();
            g.add(format!("animate[{k}]"), Priority::High, move |_| {
                let t = *s.time.lock().unwrap_or_else(|e| e.into_inner());
                let (first, count, start, end) = s.batches[k];
                let ptr = s.target.load(Ordering::Acquire);
                if ptr.is_null() {
                    return Err("animation job run outside FrameGraph::run".into());
                }
                #[expect(
                    unsafe_code,
                    reason = "animation jobs write their disjoint ranges of one palette buffer in place, saving a copy of every palette per frame"
                )]
                // SAFETY: `run` holds `running` for the whole frame, allocated `palette_len`
                // matrices at `ptr` and frees them only after every job has returned. Batch
                // ranges `start..end` are disjoint and within `palette_len`, so this job is the
                // only one touching these elements, and each is written before the slice is
                // formed.
                let out: &mut [Mat4] = unsafe {
                    let p = ptr.add(start);
                    for i in 0..end - start {
                        p.add(i).write(Mat4::IDENTITY);
                    }
                    std::slice::from_raw_parts_mut(p, end - start)
                };
                let mut scratch = PoseScratch::default();
                for a in &s.world.avatars[first..first + count] {
                    let n = s.world.assets[a.asset].skeleton.bindings.len();
                    let at = a.palette_offset as usize - start;
                    s.world
                        .animate_avatar(a, t, &mut scratch, &mut out[at..at + n]);
                }
                Ok(())
            });
        }
        let s = shared.clone();
        g.add("environment", Priority::Normal, move |_| {
            let env = &s.world.desc.environment;
            let d = Vec3::new(
                env.sun_direction.0,
                env.sun_direction.1,
                env.sun_direction.2,
            );
            *s.environment.lock().unwrap_or_else(|e| e.into_inner()) = EnvironmentFrame {
                to_sun: (-d).normalize_or(Vec3::Y),
                sun_color: Vec3::new(env.sun_color.0, env.sun_color.1, env.sun_color.2),
                ambient: env.ambient,
            };
            Ok(())
        });
        let s = shared.clone();
        g.add("audio_block", Priority::High, move |_| {
            // Placeholder until the audio subsystem exists: one frame of silence.
            let samples = (AUDIO_RATE as f32 / s.world.desc.fps).round() as usize;
            let mut buf = s.audio.lock().unwrap_or_else(|e| e.into_inner());
            buf.clear();
            buf.resize(samples, 0.0);
            Ok(())
        });
        Self {
            graph: g
                .build()
                .expect("the frame graph has no edges, so no cycle"),
            shared,
            running: Mutex::new(()),
        }
    }

    /// Number of jobs per frame.
    pub fn jobs(&self) -> usize {
        self.graph.len()
    }

    /// Run one frame at scene time `time` and assemble the palettes.
    pub fn run(
        &self,
        exec: &Executor,
        time: f32,
    ) -> Result<(FrameAnimation, EnvironmentFrame), String> {
        let _frame = self.running.lock().unwrap_or_else(|e| e.into_inner());
        *self.shared.time.lock().unwrap_or_else(|e| e.into_inner()) = time;
        let len = self.shared.world.palette_len;
        let mut palettes: Vec<Mat4> = Vec::with_capacity(len);
        self.shared
            .target
            .store(palettes.as_mut_ptr(), Ordering::Release);
        let report = exec.run(&self.graph);
        self.shared
            .target
            .store(std::ptr::null_mut(), Ordering::Release);
        if let Some(bad) = report.jobs.iter().find(|j| j.status != JobStatus::Ok) {
            return Err(format!("frame job {} ended {:?}", bad.name, bad.status));
        }
        let covered = self.shared.batches.last().map_or(0, |b| b.3);
        assert_eq!(covered, len, "the animation batches cover every palette");
        #[expect(
            unsafe_code,
            reason = "the palettes were written in place by the animation jobs"
        )]
        // SAFETY: every animation job returned Ok, so each batch initialised its range; the
        // ranges are contiguous from 0 and end at `len` (checked above), and `exec.run`
        // returns only after every job has finished, so all writes happened before this.
        unsafe {
            palettes.set_len(len)
        };
        let env = *self
            .shared
            .environment
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        Ok((FrameAnimation { time, palettes }, env))
    }
}
