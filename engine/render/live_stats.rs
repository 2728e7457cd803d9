//! What the cull + LOD pass drew, read back without ever waiting for the GPU: each frame's
//! per-target counts are copied into one of a few small mappable buffers, mapped
//! asynchronously, and read once the GPU is done with them — one or more frames later. A
//! frame whose buffers are all still in flight is simply not sampled. For live displays such
//! as the desktop app's overlay; batches read the counts with their images instead.

use super::{SceneRenderer, TargetStats};
use crate::gpu::GpuContext;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

/// Buffers in the ring: a frame's counts are usually ready two frames later.
const RING: usize = 3;

const FREE: u8 = 0;
const COPIED: u8 = 1;
const MAPPING: u8 = 2;
const MAPPED: u8 = 3;
const FAILED: u8 = 4;

struct Slot {
    buffer: wgpu::Buffer,
    state: Arc<AtomicU8>,
    /// Frame number and avatars submitted, for the frame copied into this slot.
    frame: u64,
    avatars: u32,
}

/// A ring of small readback buffers for every target's counts (see the module doc).
pub struct LiveStats {
    slots: Vec<Slot>,
    per_target_bytes: u64,
    targets: usize,
    frame: u64,
    latest: Option<(u64, Vec<TargetStats>)>,
}

impl LiveStats {
    /// Buffers for `scene`'s targets on `ctx`.
    pub fn new(ctx: &GpuContext, scene: &SceneRenderer) -> Self {
        let per_target_bytes = scene.stats_layout.counts_bytes();
        let targets = scene.targets.len();
        let slots = (0..RING)
            .map(|i| Slot {
                buffer: ctx.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(&format!("live_stats[{}]#{i}", scene.world_name)),
                    size: per_target_bytes * targets.max(1) as u64,
                    usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
                    mapped_at_creation: false,
                }),
                state: Arc::new(AtomicU8::new(FREE)),
                frame: 0,
                avatars: 0,
            })
            .collect();
        Self {
            slots,
            per_target_bytes,
            targets,
            frame: 0,
            latest: None,
        }
    }

    /// Record copies of this frame's counts into a free buffer, after the scene's passes in
    /// the same encoder. Returns false when every buffer is still in flight (the frame is not
    /// sampled). Call [`Self::after_submit`] once the encoder is submitted.
    pub fn encode(&mut self, encoder: &mut wgpu::CommandEncoder, scene: &SceneRenderer) -> bool {
        self.frame += 1;
        let Some(slot) = self
            .slots
            .iter_mut()
            .find(|s| s.state.load(Ordering::Acquire) == FREE)
        else {
            return false;
        };
        for (i, t) in scene.targets.iter().enumerate().take(self.targets) {
            encoder.copy_buffer_to_buffer(
                &t.counts,
                0,
                &slot.buffer,
                i as u64 * self.per_target_bytes,
                self.per_target_bytes,
            );
        }
        slot.frame = self.frame;
        slot.avatars = scene.avatar_count;
        slot.state.store(COPIED, Ordering::Release);
        true
    }

    /// Start mapping the buffers copied into since the last call (after the submission).
    pub fn after_submit(&mut self) {
        for slot in &self.slots {
            if slot
                .state
                .compare_exchange(COPIED, MAPPING, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                let state = slot.state.clone();
                slot.buffer.map_async(wgpu::MapMode::Read, .., move |r| {
                    state.store(if r.is_ok() { MAPPED } else { FAILED }, Ordering::Release);
                });
            }
        }
    }

    /// The newest per-target stats whose buffers the GPU has finished with (map callbacks run
    /// when the device is polled, e.g. by a submission or `device.poll`), and the frame
    /// number they belong to (frames counted by [`Self::encode`]).
    pub fn latest(&mut self, scene: &SceneRenderer) -> Option<(u64, &[TargetStats])> {
        let words = (self.per_target_bytes / 4) as usize;
        for slot in &mut self.slots {
            match slot.state.load(Ordering::Acquire) {
                MAPPED => {
                    let counts: Option<Vec<u32>> = slot
                        .buffer
                        .get_mapped_range(..)
                        .ok()
                        .map(|v| bytemuck::pod_collect_to_vec(&v));
                    slot.buffer.unmap();
                    if let Some(counts) = counts
                        && self.latest.as_ref().is_none_or(|(f, _)| *f < slot.frame)
                    {
                        let stats = counts
                            .chunks_exact(words.max(1))
                            .take(self.targets)
                            .map(|c| scene.stats_layout.stats_of(c, slot.avatars))
                            .collect();
                        self.latest = Some((slot.frame, stats));
                    }
                    slot.state.store(FREE, Ordering::Release);
                }
                FAILED => slot.state.store(FREE, Ordering::Release),
                _ => {}
            }
        }
        self.latest.as_ref().map(|(f, s)| (*f, s.as_slice()))
    }
}
