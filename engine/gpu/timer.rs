//! GPU timing with timestamp queries: the device time between the start of the first and the
//! end of the last pass recorded between [`GpuTimer::begin`] and [`GpuTimer::end`].

use super::{GpuContext, GpuError, read_buffer};

/// Two timestamps around a span of passes in one encoder, resolved and read back on request.
pub struct GpuTimer {
    set: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    readback: wgpu::Buffer,
    period_ns: f64,
}

impl GpuTimer {
    /// A timer on `ctx`, or `None` when the device was opened without `TIMESTAMP_QUERY`.
    pub fn new(ctx: &GpuContext) -> Option<Self> {
        if !ctx
            .device
            .features()
            .contains(wgpu::Features::TIMESTAMP_QUERY)
        {
            return None;
        }
        let set = ctx.device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("timer::queries"),
            ty: wgpu::QueryType::Timestamp,
            count: 2,
        });
        let buffer = |label, usage| {
            ctx.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: 2 * u64::from(wgpu::QUERY_SIZE),
                usage,
                mapped_at_creation: false,
            })
        };
        Some(Self {
            set,
            resolve: buffer(
                "timer::resolve",
                wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            ),
            readback: buffer(
                "timer::readback",
                wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
            ),
            period_ns: f64::from(ctx.queue.get_timestamp_period()),
        })
    }

    fn marker(&self, encoder: &mut wgpu::CommandEncoder, begin: bool) {
        encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some(if begin { "timer::begin" } else { "timer::end" }),
            timestamp_writes: Some(wgpu::ComputePassTimestampWrites {
                query_set: &self.set,
                beginning_of_pass_write_index: begin.then_some(0),
                end_of_pass_write_index: (!begin).then_some(1),
            }),
        });
    }

    /// Record the start timestamp (an empty marker pass).
    pub fn begin(&self, encoder: &mut wgpu::CommandEncoder) {
        self.marker(encoder, true);
    }

    /// Record the end timestamp and copy both into the readback buffer.
    pub fn end(&self, encoder: &mut wgpu::CommandEncoder) {
        self.marker(encoder, false);
        encoder.resolve_query_set(&self.set, 0..2, &self.resolve, 0);
        encoder.copy_buffer_to_buffer(&self.resolve, 0, &self.readback, 0, self.resolve.size());
    }

    /// Milliseconds between the two timestamps of the last finished submission (blocking).
    pub fn read_ms(&self, ctx: &GpuContext) -> Result<f64, GpuError> {
        let bytes = read_buffer(ctx, &self.readback).map_err(|e| GpuError::Device {
            adapter: ctx.label.clone(),
            message: e.to_string(),
        })?;
        let t: Vec<u64> = bytemuck::pod_collect_to_vec(&bytes);
        Ok(t[1].saturating_sub(t[0]) as f64 * self.period_ns / 1e6)
    }
}
