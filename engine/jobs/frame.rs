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
        // Scenes animated on the GPU get no animation jobs (and empty palettes).
        let animated = if world.animates_on_gpu() {
            0
        } else {
            world.avatars.len()
        };
        while first < animated {
            let count = batch.min(animated - first);
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
                    return Err("animation job run outside FrameGraph::run_raw".into());
                }
                #[expect(
                    unsafe_code,
                    reason = "animation jobs write their disjoint ranges of one palette buffer in place, saving a copy of every palette per frame"
                )]
                // SAFETY: `run_raw` holds `running` for the whole frame, and its caller provides
                // `palette_len` writable matrices at `ptr` until every job has returned. Batch
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

    /// Palette matrices a frame produces: the world's, or none when it animates on the GPU.
    pub fn palette_len(&self) -> usize {
        self.shared.batches.last().map_or(0, |b| b.3)
    }

    /// Number of jobs per frame.
    pub fn jobs(&self) -> usize {
        self.graph.len()
    }

    /// Run one frame at scene time `time` and return the palettes.
    pub fn run(
        &self,
        exec: &Executor,
        time: f32,
    ) -> Result<(FrameAnimation, EnvironmentFrame), String> {
        let len = self.palette_len();
        let mut palettes: Vec<Mat4> = Vec::with_capacity(len);
        #[expect(
            unsafe_code,
            reason = "the animation jobs write the palettes in place (see run_raw)"
        )]
        // SAFETY: the Vec's buffer holds `len` matrices, is aligned, and nothing else uses it
        // until `run_raw` returns; on success every element has been written (the batches
        // cover `0..len` contiguously, as `new` builds them), so the length can be set.
        let env = unsafe {
            let env = self.run_raw(exec, time, palettes.as_mut_ptr())?;
            palettes.set_len(len);
            env
        };
        Ok((FrameAnimation { time, palettes }, env))
    }

    /// Run one frame at scene time `time`, the animation jobs writing the palettes straight
    /// into `out` (`palette_len × 64` bytes, e.g. GPU staging memory from
    /// `SceneRenderer::write_palettes_with`), saving a copy of every palette.
    pub fn run_into(
        &self,
        exec: &Executor,
        time: f32,
        mut out: wgpu::WriteOnly<'_, [u8]>,
    ) -> Result<EnvironmentFrame, String> {
        let len = self.palette_len();
        if out.len() != len * size_of::<Mat4>() {
            return Err(format!(
                "palette destination holds {} bytes, the frame writes {}",
                out.len(),
                len * size_of::<Mat4>()
            ));
        }
        let ptr = out.as_raw_element_ptr().as_ptr();
        if !(ptr as usize).is_multiple_of(align_of::<Mat4>()) {
            // Misaligned destination: animate into a Vec and copy.
            let (anim, env) = self.run(exec, time)?;
            out.copy_from_slice(bytemuck::cast_slice(&anim.palettes));
            return Ok(env);
        }
        #[expect(unsafe_code, reason = "the animation jobs write into `out` in place")]
        // SAFETY: `out` is an exclusive, writable region of exactly `len` matrices (checked
        // above), aligned for `Mat4` (checked above), and outlives this call.
        unsafe {
            self.run_raw(exec, time, ptr.cast::<Mat4>())
        }
    }

    /// Run frame `time` and get its palettes to `scene` the cheapest way: nothing to do when the
    /// scene animates on the GPU, otherwise the animation jobs write straight into GPU staging
    /// memory ([`Self::run_into`]). Returns the palettes only when no staging memory could be
    /// had; hand them to `SceneRenderer::submit_uploaded` with the frame.
    pub fn run_for(
        &self,
        exec: &Executor,
        time: f32,
        ctx: &crate::gpu::GpuContext,
        scene: &crate::render::SceneRenderer,
    ) -> Result<Option<FrameAnimation>, String> {
        if !scene.animates_on_gpu()
            && let Some(written) =
                scene.write_palettes_with(ctx, |out| self.run_into(exec, time, out))
        {
            return written.map(|_environment| None);
        }
        let (anim, _environment) = self.run(exec, time)?;
        Ok((!scene.animates_on_gpu()).then_some(anim))
    }

    /// Run the graph with the animation jobs writing into `target`.
    ///
    /// # Safety
    /// `target` must be valid for writes of `palette_len` aligned matrices, used by nothing
    /// else until this returns. When it returns `Ok`, every one of them has been written.
    #[expect(unsafe_code, reason = "the caller provides the palette memory")]
    unsafe fn run_raw(
        &self,
        exec: &Executor,
        time: f32,
        target: *mut Mat4,
    ) -> Result<EnvironmentFrame, String> {
        let _frame = self.running.lock().unwrap_or_else(|e| e.into_inner());
        *self.shared.time.lock().unwrap_or_else(|e| e.into_inner()) = time;
        self.shared.target.store(target, Ordering::Release);
        let report = exec.run(&self.graph);
        self.shared
            .target
            .store(std::ptr::null_mut(), Ordering::Release);
        if let Some(bad) = report.jobs.iter().find(|j| j.status != JobStatus::Ok) {
            return Err(format!("frame job {} ended {:?}", bad.name, bad.status));
        }
        let env = *self
            .shared
            .environment
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        Ok(env)
    }
}
