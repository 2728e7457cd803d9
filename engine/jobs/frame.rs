//! The engine's per-frame job graph: animation in batches of avatars, the environment update and
//! the audio block, built once per scene (and per device worker) and run every frame.

use super::{Executor, GraphBuilder, JobGraph, JobStatus, Priority};
use crate::anim::PoseScratch;
use crate::scene::{FrameAnimation, World};
use glam::{Mat4, Vec3};
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
    /// Per batch: first avatar, avatar count, first palette entry, and the batch's output.
    batches: Vec<(usize, usize, usize, Mutex<Vec<Mat4>>)>,
    environment: Mutex<EnvironmentFrame>,
    audio: Mutex<Vec<f32>>,
}

/// A scene's frame graph.
pub struct FrameGraph {
    graph: JobGraph,
    shared: Arc<Shared>,
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
            batches.push((
                first,
                count,
                palette_start,
                Mutex::new(vec![Mat4::IDENTITY; palette_end - palette_start]),
            ));
            first += count;
        }
        let shared = Arc::new(Shared {
            world,
            time: Mutex::new(0.0),
            batches,
            environment: Mutex::default(),
            audio: Mutex::default(),
        });
        let mut g = GraphBuilder::new();
        for k in 0..shared.batches.len() {
            let s = shared.clone();
            g.add(format!("animate[{k}]"), Priority::High, move |_| {
                let t = *s.time.lock().unwrap_or_else(|e| e.into_inner());
                let (first, count, base, out) = &s.batches[k];
                let mut out = out.lock().unwrap_or_else(|e| e.into_inner());
                let mut scratch = PoseScratch::default();
                for a in &s.world.avatars[*first..first + count] {
                    let n = s.world.assets[a.asset].skeleton.bindings.len();
                    let at = a.palette_offset as usize - base;
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
        *self.shared.time.lock().unwrap_or_else(|e| e.into_inner()) = time;
        let report = exec.run(&self.graph);
        if let Some(bad) = report.jobs.iter().find(|j| j.status != JobStatus::Ok) {
            return Err(format!("frame job {} ended {:?}", bad.name, bad.status));
        }
        let mut palettes = vec![Mat4::IDENTITY; self.shared.world.palette_len];
        for (_, _, base, out) in &self.shared.batches {
            let out = out.lock().unwrap_or_else(|e| e.into_inner());
            palettes[*base..base + out.len()].copy_from_slice(&out);
        }
        let env = *self
            .shared
            .environment
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        Ok((FrameAnimation { time, palettes }, env))
    }
}
