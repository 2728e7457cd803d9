//! A scene's per-frame job graph: animation in batches of avatars and the environment update,
//! built once per scene (and per device worker) and run every frame on the
//! [`Executor`]. It produces a [`SceneFrame`] (or writes the palettes straight into GPU staging
//! memory with [`FrameGraph::run_into`]); the renderer takes it from there
//! (`render::SceneRenderer::prepare`). Nothing here knows about devices or passes.
//!
//! Soundness: the animation jobs write their palette ranges in place through a raw pointer, so
//! the ranges are checked when the graph is built ([`FrameGraph::try_new`] rejects a world whose
//! avatars' palettes leave `palette_len`, overlap or run out of avatar order, with a
//! [`FrameGraphError`]), kept private afterwards, and checked once more against the length of
//! the destination before each write. No safe caller can make them write out of bounds.

use super::{SceneFrame, World};
use crate::anim::PoseScratch;
use crate::env::EnvironmentFrame;
use crate::jobs::{Executor, GraphBuilder, JobGraph, JobStatus, Priority};
use glam::Mat4;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Why a [`World`] cannot be animated by a [`FrameGraph`]: its avatars' palette ranges
/// (`palette_offset` plus the asset's joint count) must lie inside `palette_len`, in avatar order,
/// without overlapping. [`World::new`] always builds such a world; this catches hand-edited ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameGraphError {
    /// An avatar names an asset the world does not have.
    #[error(
        "avatar {avatar} uses asset {asset}, but the world has {assets} assets; \
         set `Avatar::asset` to an index into `World::assets`"
    )]
    UnknownAsset {
        /// Avatar index.
        avatar: usize,
        /// Its asset index.
        asset: usize,
        /// Number of assets in the world.
        assets: usize,
    },
    /// An avatar's palette starts before the previous avatar's ends.
    #[error(
        "avatar {avatar}'s palette starts at {start}, before avatar {previous}'s ends at {previous_end}; \
         palettes must follow avatar order without overlapping (as `World::new` lays them out)"
    )]
    Overlap {
        /// Avatar index.
        avatar: usize,
        /// Its first palette entry.
        start: usize,
        /// The previous avatar.
        previous: usize,
        /// One past the previous avatar's last palette entry.
        previous_end: usize,
    },
    /// An avatar's palette ends past `World::palette_len`.
    #[error(
        "avatar {avatar}'s palette covers {start}..{end}, past the world's palette_len of {len}; \
         palette_len must count every avatar's joints"
    )]
    OutOfRange {
        /// Avatar index.
        avatar: usize,
        /// Its first palette entry.
        start: usize,
        /// One past its last palette entry (saturated).
        end: usize,
        /// `World::palette_len`.
        len: usize,
    },
}

/// One animation job's share: avatars `first..first + count`, writing palette entries
/// `start..end` (every batch's range follows the previous one's, from 0 to the palette length).
#[derive(Debug, Clone, Copy)]
struct Batch {
    first: usize,
    count: usize,
    start: usize,
    end: usize,
}

/// Check `world`'s palette layout for the avatars animated on the CPU (see [`FrameGraphError`]).
fn check_palettes(world: &World, animated: usize) -> Result<(), FrameGraphError> {
    let mut previous_end = 0usize;
    for (i, a) in world.avatars[..animated].iter().enumerate() {
        let Some(asset) = world.assets.get(a.asset) else {
            return Err(FrameGraphError::UnknownAsset {
                avatar: i,
                asset: a.asset,
                assets: world.assets.len(),
            });
        };
        let start = a.palette_offset as usize;
        if start < previous_end {
            return Err(FrameGraphError::Overlap {
                avatar: i,
                start,
                previous: i - 1,
                previous_end,
            });
        }
        let end = start.saturating_add(asset.skeleton.bindings.len());
        if end > world.palette_len {
            return Err(FrameGraphError::OutOfRange {
                avatar: i,
                start,
                end,
                len: world.palette_len,
            });
        }
        previous_end = end;
    }
    Ok(())
}

/// Why a frame could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The graph was built from a world that fails [`FrameGraph::try_new`]'s checks.
    #[error("cannot animate this world: {0}")]
    InvalidWorld(#[from] FrameGraphError),
    /// A frame job failed, panicked, timed out or was cancelled.
    #[error("frame job {job} ended {status}")]
    Job {
        /// The job's name.
        job: String,
        /// How it ended.
        status: String,
    },
    /// The palette destination given to [`FrameGraph::run_into`] has the wrong size.
    #[error("palette destination holds {given} bytes, the frame writes {needed}")]
    Destination {
        /// Bytes given.
        given: usize,
        /// Bytes the frame writes.
        needed: usize,
    },
}

struct Shared {
    world: Arc<World>,
    time: Mutex<f32>,
    /// The animation jobs' shares, checked when built and never changed.
    batches: Vec<Batch>,
    /// The palette buffer of the running frame (`target_len` matrices); null between frames.
    target: AtomicPtr<Mat4>,
    /// Length of `target` in matrices (stored before `target`, read after it).
    target_len: AtomicUsize,
    environment: Mutex<EnvironmentFrame>,
}

/// A scene's frame graph.
pub struct FrameGraph {
    graph: JobGraph,
    shared: Arc<Shared>,
    /// Held for a whole frame: one frame at a time writes into `Shared::target`.
    running: Mutex<()>,
    /// Set when [`FrameGraph::new`] was given a world that fails the checks: every run returns it.
    invalid: Option<FrameGraphError>,
}

impl FrameGraph {
    /// Build the graph for `world`, `batch` avatars per animation job, after checking the
    /// world's palette layout (see [`FrameGraphError`]).
    pub fn try_new(world: Arc<World>, batch: usize) -> Result<Self, FrameGraphError> {
        // Scenes animated on the GPU get no animation jobs (and empty palettes).
        let animated = if world.animates_on_gpu() {
            0
        } else {
            world.avatars.len()
        };
        check_palettes(&world, animated)?;
        Ok(Self::build(world, batch, animated, None))
    }

    /// Build the graph for `world`, `batch` avatars per animation job. A world that fails
    /// [`FrameGraph::try_new`]'s checks gives a graph without animation jobs whose every run
    /// returns that error; use `try_new` to see it at once.
    pub fn new(world: Arc<World>, batch: usize) -> Self {
        match Self::try_new(world.clone(), batch) {
            Ok(graph) => graph,
            Err(e) => Self::build(world, batch, 0, Some(e)),
        }
    }

    /// The graph, with animation jobs for the first `animated` avatars (already checked).
    fn build(
        world: Arc<World>,
        batch: usize,
        animated: usize,
        invalid: Option<FrameGraphError>,
    ) -> Self {
        let batch = batch.max(1);
        let mut batches = Vec::new();
        let mut first = 0;
        // Ranges run from 0 to `palette_len` without gaps (entries between avatars, if any, are
        // written as identity), so a finished frame has written every entry.
        let mut start = 0;
        while first < animated {
            let count = batch.min(animated - first);
            let end = world
                .avatars
                .get(first + count)
                .filter(|_| first + count < animated)
                .map_or(world.palette_len, |a| a.palette_offset as usize);
            batches.push(Batch {
                first,
                count,
                start,
                end,
            });
            start = end;
            first += count;
        }
        let shared = Arc::new(Shared {
            world,
            time: Mutex::new(0.0),
            batches,
            target: AtomicPtr::new(std::ptr::null_mut()),
            target_len: AtomicUsize::new(0),
            environment: Mutex::default(),
        });
        let mut g = GraphBuilder::new();
        for k in 0..shared.batches.len() {
            let s = shared.clone();
            g.add(format!("animate[{k}]"), Priority::High, move |_| {
                let t = *s.time.lock().unwrap_or_else(|e| e.into_inner());
                let Batch {
                    first,
                    count,
                    start,
                    end,
                } = s.batches[k];
                let ptr = s.target.load(Ordering::Acquire);
                let len = s.target_len.load(Ordering::Relaxed);
                if ptr.is_null() {
                    return Err("animation job run outside FrameGraph::run_raw".into());
                }
                if start > end || end > len {
                    return Err(format!(
                        "animation job {k} would write palette entries {start}..{end} of {len}"
                    )
                    .into());
                }
                #[expect(
                    unsafe_code,
                    reason = "animation jobs write their disjoint ranges of one palette buffer in place, saving a copy of every palette per frame"
                )]
                // SAFETY: `run_raw` holds `running` for the whole frame, and its caller provides
                // `len` writable matrices at `ptr` until every job has returned (`target_len` is
                // stored before `target` is published with Release, and read after the Acquire
                // load above). `start <= end <= len` was checked just above, and batch ranges are
                // disjoint (each starts where the previous one ended, see `build`), so this job
                // is the only one touching these elements; each is written before the slice is
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
                    // Checked by `try_new`; indexing stays bounds-checked all the same.
                    let n = s.world.assets[a.asset].skeleton.bindings.len();
                    let at = a.palette_offset as usize - start;
                    s.world
                        .animate_avatar(a, t, &mut scratch, &mut out[at..at + n]);
                }
                Ok(())
            });
        }
        let s = shared.clone();
        let inputs = shared.world.environment_inputs();
        g.add("environment", Priority::Normal, move |_| {
            let t = *s.time.lock().unwrap_or_else(|e| e.into_inner());
            *s.environment.lock().unwrap_or_else(|e| e.into_inner()) =
                EnvironmentFrame::compute(&inputs, t);
            Ok(())
        });
        Self {
            graph: g
                .build()
                .expect("the frame graph has no edges, so no cycle"),
            shared,
            running: Mutex::new(()),
            invalid,
        }
    }

    /// Palette matrices a frame produces: the world's, or none when it animates on the GPU.
    pub fn palette_len(&self) -> usize {
        self.shared.batches.last().map_or(0, |b| b.end)
    }

    /// Number of jobs per frame.
    pub fn jobs(&self) -> usize {
        self.graph.len()
    }

    /// Run one frame at scene time `time` and return the palettes and the environment.
    pub fn run(&self, exec: &Executor, time: f32) -> Result<SceneFrame, FrameError> {
        self.check()?;
        let len = self.palette_len();
        let mut palettes: Vec<Mat4> = Vec::with_capacity(len);
        #[expect(
            unsafe_code,
            reason = "the animation jobs write the palettes in place (see run_raw)"
        )]
        // SAFETY: the Vec's buffer holds `len` matrices, is aligned, and nothing else uses it
        // until `run_raw` returns; on success every element has been written (the batches
        // cover `0..len` contiguously, as `build` makes them), so the length can be set.
        let environment = unsafe {
            let env = self.run_raw(exec, time, palettes.as_mut_ptr(), len)?;
            palettes.set_len(len);
            env
        };
        Ok(SceneFrame {
            time,
            palettes,
            environment,
        })
    }

    /// Run one frame at scene time `time`, the animation jobs writing the palettes straight
    /// into `out` (`palette_len × 64` bytes, e.g. GPU staging memory from
    /// `SceneRenderer::prepare`), saving a copy of every palette. Returns the environment.
    pub fn run_into(
        &self,
        exec: &Executor,
        time: f32,
        mut out: wgpu::WriteOnly<'_, [u8]>,
    ) -> Result<EnvironmentFrame, FrameError> {
        self.check()?;
        let len = self.palette_len();
        if out.len() != len * size_of::<Mat4>() {
            return Err(FrameError::Destination {
                given: out.len(),
                needed: len * size_of::<Mat4>(),
            });
        }
        let ptr = out.as_raw_element_ptr().as_ptr();
        if !(ptr as usize).is_multiple_of(align_of::<Mat4>()) {
            // Misaligned destination: animate into a Vec and copy.
            let frame = self.run(exec, time)?;
            out.copy_from_slice(bytemuck::cast_slice(&frame.palettes));
            return Ok(frame.environment);
        }
        #[expect(unsafe_code, reason = "the animation jobs write into `out` in place")]
        // SAFETY: `out` is an exclusive, writable region of exactly `len` matrices (checked
        // above), aligned for `Mat4` (checked above), and outlives this call.
        unsafe {
            self.run_raw(exec, time, ptr.cast::<Mat4>(), len)
        }
    }

    /// The error of a graph built from a world that failed the checks.
    fn check(&self) -> Result<(), FrameError> {
        match &self.invalid {
            Some(e) => Err(FrameError::InvalidWorld(e.clone())),
            None => Ok(()),
        }
    }

    /// Run the graph with the animation jobs writing into `target`.
    ///
    /// # Safety
    /// `target` must be valid for writes of `len` aligned matrices, used by nothing else until
    /// this returns. When it returns `Ok` and `len` is [`Self::palette_len`], every one of them
    /// has been written.
    #[expect(unsafe_code, reason = "the caller provides the palette memory")]
    unsafe fn run_raw(
        &self,
        exec: &Executor,
        time: f32,
        target: *mut Mat4,
        len: usize,
    ) -> Result<EnvironmentFrame, FrameError> {
        let _frame = self.running.lock().unwrap_or_else(|e| e.into_inner());
        *self.shared.time.lock().unwrap_or_else(|e| e.into_inner()) = time;
        self.shared.target_len.store(len, Ordering::Relaxed);
        self.shared.target.store(target, Ordering::Release);
        let report = exec.run(&self.graph);
        self.shared
            .target
            .store(std::ptr::null_mut(), Ordering::Release);
        if let Some(bad) = report.jobs.iter().find(|j| j.status != JobStatus::Ok) {
            return Err(FrameError::Job {
                job: bad.name.clone(),
                status: format!("{:?}", bad.status),
            });
        }
        let env = *self
            .shared
            .environment
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        Ok(env)
    }
}
