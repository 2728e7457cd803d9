//! Views per second: many views of one world per submit against one view per submit.

use super::{GpuBenchConfig, ViewsFigure, orbit_camera};
use crate::assets::AssetLibrary;
use crate::gpu::{GpuContext, ReadbackError};
use crate::render::FrameInput;
use crate::render::bench::{BenchError, crowd_world_in, median};
use crate::render::{Pipelines, ReadbackSlot, RenderError, SceneRenderer, TargetImage};
use crate::scene::{Animation, Camera, SceneFrame, Skinning};
use std::time::{Duration, Instant};

/// Take the images of a slot whose submission has finished.
/// Submit one frame of `scene`, copying its targets into `slot` (and mapping it) when
/// `readback`.
fn submit(
    ctx: &GpuContext,
    renderer: &Pipelines,
    scene: &SceneRenderer,
    anim: &SceneFrame,
    slot: &ReadbackSlot,
    readback: bool,
) -> Result<wgpu::SubmissionIndex, BenchError> {
    let input = FrameInput::new(anim);
    let input = if readback {
        input.with_readback(slot)
    } else {
        input
    };
    let out = scene.submit(ctx, renderer, &input)?;
    if readback {
        slot.request_map();
    }
    Ok(out.submission)
}

fn take(ctx: &GpuContext, slot: &ReadbackSlot) -> Result<Vec<TargetImage>, BenchError> {
    if !slot.is_mapped() {
        ctx.wait_idle()?;
    }
    slot.take_images().map_err(|message| {
        BenchError::Render(RenderError::Readback(ReadbackError::Map {
            adapter: ctx.label.clone(),
            message,
        }))
    })
}

/// The views figure at one size: the crowd seen by `views` cameras, all in one submit
/// ([`Self::batched`]) or one per submit ([`Self::single`], the baseline).
pub struct ViewsBench<'a> {
    ctx: &'a GpuContext,
    renderer: &'a Pipelines,
    anim: SceneFrame,
    cameras: Vec<Camera>,
    /// One world, one target per view, each with its own camera.
    many: SceneRenderer,
    many_slots: Vec<ReadbackSlot>,
    /// One world, one target, its camera changed before each submit.
    one: SceneRenderer,
    one_slots: Vec<ReadbackSlot>,
    frames: usize,
}

impl<'a> ViewsBench<'a> {
    /// Build both worlds at `size`×`size` for `cfg.avatars` avatars and `cfg.views` views.
    pub fn new(
        ctx: &'a GpuContext,
        renderer: &'a Pipelines,
        library: &AssetLibrary,
        cfg: &GpuBenchConfig,
        size: u32,
    ) -> Result<Self, BenchError> {
        let n = cfg.views.max(1);
        let frames = cfg.frames_in_flight.max(1) as usize;
        let modes = (Skinning::Auto, Animation::Cpu);
        let targets = vec![(size, size); n as usize];
        let many_world = crowd_world_in(library, cfg.avatars, &targets, None, modes)?;
        let one_world = crowd_world_in(library, cfg.avatars, &targets[..1], None, modes)?;
        let cameras: Vec<Camera> = (0..n).map(|i| orbit_camera(cfg.avatars, i, n)).collect();
        let mut many = SceneRenderer::new(ctx, renderer, &many_world)?;
        for (i, camera) in cameras.iter().enumerate() {
            many.set_target_camera(i, Some(camera.clone()));
        }
        let one = SceneRenderer::new(ctx, renderer, &one_world)?;
        Ok(Self {
            ctx,
            renderer,
            anim: many_world.animate(many_world.frame_time(0)),
            many_slots: (0..frames)
                .map(|_| many.new_slot(ctx))
                .collect::<Result<_, _>>()?,
            one_slots: (0..frames * n as usize)
                .map(|_| one.new_slot(ctx))
                .collect::<Result<_, _>>()?,
            cameras,
            many,
            one,
            frames,
        })
    }

    /// Views drawn by one run of either mode: views per submit × frames in flight.
    pub fn views_per_run(&self) -> usize {
        self.frames * self.cameras.len()
    }

    /// Whether the crowd is skinned in the vertex stage.
    pub fn vertex_skinning(&self) -> bool {
        self.many.vertex_skinning()
    }

    /// Submit every view `frames in flight` times, all views in one submit, and wait; with
    /// `readback`, read every image back. Returns the wall time and the first submit's images.
    fn run_many(&self, readback: bool) -> Result<(Duration, Vec<TargetImage>), BenchError> {
        let (ctx, renderer) = (self.ctx, self.renderer);
        let t = Instant::now();
        let mut last = None;
        for slot in &self.many_slots {
            last = Some(submit(
                ctx, renderer, &self.many, &self.anim, slot, readback,
            )?);
        }
        if let Some(index) = last {
            ctx.wait_for(index)?;
        }
        let mut first = Vec::new();
        if readback {
            for (k, slot) in self.many_slots.iter().enumerate() {
                let images = take(ctx, slot)?;
                if k == 0 {
                    first = images;
                }
            }
        }
        Ok((t.elapsed(), first))
    }

    /// One run of the batched mode ([`Self::views_per_run`] views, many per submit): wall time
    /// from the first submit until the device finished the last (and the images were copied
    /// out, with `readback`).
    pub fn batched(&self, readback: bool) -> Result<Duration, BenchError> {
        Ok(self.run_many(readback)?.0)
    }

    /// One run of the baseline: the same views, one per submit.
    pub fn single(&mut self, readback: bool) -> Result<Duration, BenchError> {
        let (ctx, renderer) = (self.ctx, self.renderer);
        let t = Instant::now();
        let mut last = None;
        for (k, slot) in self.one_slots.iter().enumerate() {
            self.one
                .set_camera(self.cameras[k % self.cameras.len()].clone());
            last = Some(submit(
                ctx, renderer, &self.one, &self.anim, slot, readback,
            )?);
        }
        if let Some(index) = last {
            ctx.wait_for(index)?;
        }
        if readback {
            for slot in &self.one_slots {
                take(ctx, slot)?;
            }
        }
        Ok(t.elapsed())
    }

    /// Check that the views really have their own cameras: the first and the middle view of a
    /// batched run with readback differ.
    pub fn check_views_differ(&self) -> Result<(), BenchError> {
        let (_, images) = self.run_many(true)?;
        if images.len() >= 2 && images[0].rgba == images[images.len() / 2].rgba {
            return Err(BenchError::Check {
                what: "views per second",
                adapter: self.ctx.label.clone(),
                message: "two views with different cameras drew the same image".into(),
            });
        }
        Ok(())
    }
}

/// The views figures at one size: without, then with readback. Also says whether the crowd was
/// skinned in the vertex stage.
pub(super) fn views_figures(
    ctx: &GpuContext,
    renderer: &Pipelines,
    library: &AssetLibrary,
    cfg: &GpuBenchConfig,
    size: u32,
) -> Result<(Vec<ViewsFigure>, bool), BenchError> {
    let mut bench = ViewsBench::new(ctx, renderer, library, cfg, size)?;
    bench.check_views_differ()?;
    let mut out = Vec::new();
    for readback in [false, true] {
        // One warm-up run each, then the two modes in turn.
        bench.batched(readback)?;
        bench.single(readback)?;
        let (mut many, mut one) = (Vec::new(), Vec::new());
        for _ in 0..cfg.samples.max(1) {
            many.push(bench.batched(readback)?.as_secs_f64());
            one.push(bench.single(readback)?.as_secs_f64());
        }
        let count = bench.views_per_run() as f64;
        let views_per_s = count / median(many).max(1e-12);
        let baseline_views_per_s = count / median(one).max(1e-12);
        out.push(ViewsFigure {
            size,
            readback,
            views_per_submit: cfg.views.max(1),
            views_per_s,
            baseline_views_per_s,
            ratio: views_per_s / baseline_views_per_s.max(1e-12),
        });
    }
    Ok((out, bench.vertex_skinning()))
}
