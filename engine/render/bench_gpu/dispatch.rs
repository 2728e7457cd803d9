//! Compute dispatches per second: many dispatches per submit against one per submit.

use super::{DispatchFigure, GpuBenchConfig};
use crate::gpu::GpuContext;
use crate::render::bench::{BenchError, median};
use crate::render::common::{BENCH_DISPATCH_SHADER, storage};
use crate::render::debug::read_buffer_copy;
use std::time::{Duration, Instant};

/// The dispatch figure: a trivial one-workgroup compute shader (`shaders/bench_dispatch.wgsl`)
/// dispatched many times in one submit ([`Self::batched`]) or once per submit
/// ([`Self::single`], the baseline). The shader counts its runs ([`Self::check`]).
pub struct DispatchBench<'a> {
    ctx: &'a GpuContext,
    pipeline: wgpu::ComputePipeline,
    group: wgpu::BindGroup,
    ticks: wgpu::Buffer,
    submitted: std::cell::Cell<u64>,
}

impl<'a> DispatchBench<'a> {
    /// Build the pipeline and the counter on a device.
    pub fn new(ctx: &'a GpuContext) -> Self {
        let device = &ctx.device;
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("bench_gpu::layout"),
            entries: &[storage(0, false, wgpu::ShaderStages::COMPUTE)],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("bench_gpu::pipeline_layout"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let module = BENCH_DISPATCH_SHADER.module(device);
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("bench_gpu::pipeline"),
            layout: Some(&pipeline_layout),
            module: &module,
            entry_point: Some("tick"),
            compilation_options: Default::default(),
            cache: None,
        });
        let ticks = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("bench_gpu::ticks"),
            size: 256,
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("bench_gpu::group"),
            layout: &layout,
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: ticks.as_entire_binding(),
            }],
        });
        Self {
            ctx,
            pipeline,
            group,
            ticks,
            submitted: std::cell::Cell::new(0),
        }
    }

    /// A command buffer with `dispatches` dispatches in one compute pass.
    fn encode(&self, dispatches: u32) -> wgpu::CommandBuffer {
        let mut encoder = self
            .ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("bench_gpu::dispatches"),
            });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("bench_gpu::pass"),
                timestamp_writes: None,
            });
            pass.set_pipeline(&self.pipeline);
            pass.set_bind_group(0, &self.group, &[]);
            for _ in 0..dispatches {
                pass.dispatch_workgroups(1, 1, 1);
            }
        }
        self.submitted
            .set(self.submitted.get() + u64::from(dispatches));
        encoder.finish()
    }

    /// `dispatches` dispatches in one compute pass and one submit; wall time until finished.
    pub fn batched(&self, dispatches: u32) -> Result<Duration, BenchError> {
        let t = Instant::now();
        self.ctx
            .wait_for(self.ctx.queue.submit([self.encode(dispatches)]))?;
        Ok(t.elapsed())
    }

    /// The baseline: `dispatches` submits of one dispatch each; wall time until the last
    /// finished.
    pub fn single(&self, dispatches: u32) -> Result<Duration, BenchError> {
        let t = Instant::now();
        let mut last = None;
        for _ in 0..dispatches {
            last = Some(self.ctx.queue.submit([self.encode(1)]));
        }
        if let Some(index) = last {
            self.ctx.wait_for(index)?;
        }
        Ok(t.elapsed())
    }

    /// Check that every dispatch submitted so far ran exactly once (blocking).
    pub fn check(&self) -> Result<(), BenchError> {
        let ran = u64::from(read_buffer_copy(self.ctx, &self.ticks)?[0]);
        let submitted = self.submitted.get() % (1 << 32);
        if ran != submitted {
            return Err(BenchError::Check {
                what: "compute dispatches",
                adapter: self.ctx.label.clone(),
                message: format!("{ran} dispatches ran, {submitted} were submitted"),
            });
        }
        Ok(())
    }
}

/// Compute dispatches per second, one pass against one submit each.
pub(super) fn dispatch_figure(
    ctx: &GpuContext,
    cfg: &GpuBenchConfig,
) -> Result<DispatchFigure, BenchError> {
    let bench = DispatchBench::new(ctx);
    let m = cfg.dispatches.max(1);
    let (mut many, mut one) = (Vec::new(), Vec::new());
    for run in 0..=cfg.samples.max(1) {
        let (a, b) = (bench.batched(m)?, bench.single(m)?);
        if run > 0 {
            many.push(a.as_secs_f64());
            one.push(b.as_secs_f64());
        }
    }
    bench.check()?;
    let per_s = f64::from(m) / median(many).max(1e-12);
    let baseline_per_s = f64::from(m) / median(one).max(1e-12);
    Ok(DispatchFigure {
        dispatches: m,
        per_s,
        baseline_per_s,
        ratio: per_s / baseline_per_s.max(1e-12),
    })
}
