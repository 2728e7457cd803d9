//! Render targets (colour + depth textures of one output size, and the per-(batch, level)
//! avatar counts of the cull + LOD pass) and readback slots: one staging buffer per target plus
//! one for the counts, so several frames can be in flight while earlier ones are read back.

use super::common::{COLOR_FORMAT, DEPTH_FORMAT};
use super::cull_lod::{StatsLayout, TargetStats};
use crate::gpu::{GpuContext, encode_texture_copy, unpad_rows};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Bytes of one target's readback staging buffer: `height` rows of `width` RGBA8 pixels, each
/// row padded to wgpu's copy alignment (as [`crate::gpu::padded_row_bytes`], without overflow).
pub(super) fn staging_bytes(width: u32, height: u32) -> u64 {
    let align = u64::from(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT);
    (u64::from(width) * 4).div_ceil(align) * align * u64::from(height)
}

/// A target's own colour texture ([`COLOR_FORMAT`]) and its view.
pub struct TargetColor {
    /// The texture (render attachment, copy source, sampled).
    pub texture: wgpu::Texture,
    /// Its default view.
    pub view: wgpu::TextureView,
}

/// One output target on one device.
pub struct RenderTarget {
    /// Target name.
    pub name: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Colour texture and its view; `None` for a scene drawn into the host's views.
    pub color: Option<TargetColor>,
    /// View of the depth texture (always tutti's own).
    pub depth_view: wgpu::TextureView,
    /// Avatars drawn per (batch, level) this frame, written by the cull + LOD pass.
    pub counts: wgpu::Buffer,
}

impl RenderTarget {
    /// Allocate a target: its depth texture, its counts buffer and, with `own_color`, its
    /// colour texture ([`COLOR_FORMAT`]).
    pub fn new(
        ctx: &GpuContext,
        scene: &str,
        name: &str,
        (width, height): (u32, u32),
        counts_bytes: u64,
        own_color: bool,
    ) -> Self {
        let counts = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(&format!("target::counts[{scene}/{name}]")),
            size: counts_bytes,
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let (color, depth_view) = textures(ctx, scene, name, (width, height), own_color);
        Self {
            name: name.to_string(),
            width,
            height,
            counts,
            color,
            depth_view,
        }
    }

    /// Recreate the textures at a new size (the counts buffer does not depend on it).
    pub fn resize(&mut self, ctx: &GpuContext, scene: &str, (width, height): (u32, u32)) {
        let (color, depth_view) = textures(
            ctx,
            scene,
            &self.name,
            (width, height),
            self.color.is_some(),
        );
        self.width = width;
        self.height = height;
        self.color = color;
        self.depth_view = depth_view;
    }
}

/// A target's colour texture (with `own_color`) and depth view.
fn textures(
    ctx: &GpuContext,
    scene: &str,
    name: &str,
    (width, height): (u32, u32),
    own_color: bool,
) -> (Option<TargetColor>, wgpu::TextureView) {
    let size = wgpu::Extent3d {
        width,
        height,
        depth_or_array_layers: 1,
    };
    let texture = |label: String, format, usage| {
        ctx.device.create_texture(&wgpu::TextureDescriptor {
            label: Some(&label),
            size,
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format,
            usage,
            view_formats: &[],
        })
    };
    let color = own_color.then(|| {
        let color = texture(
            format!("target::color[{scene}/{name}]"),
            COLOR_FORMAT,
            wgpu::TextureUsages::RENDER_ATTACHMENT
                | wgpu::TextureUsages::COPY_SRC
                | wgpu::TextureUsages::TEXTURE_BINDING,
        );
        TargetColor {
            view: color.create_view(&Default::default()),
            texture: color,
        }
    });
    let depth = texture(
        format!("target::depth[{scene}/{name}]"),
        DEPTH_FORMAT,
        wgpu::TextureUsages::RENDER_ATTACHMENT,
    );
    (color, depth.create_view(&Default::default()))
}

/// Staging buffers for every target of one frame. A frame is copied into a slot, the slot is
/// mapped, and once the GPU is done its images are read out and the slot is reused.
pub struct ReadbackSlot {
    buffers: Vec<(String, u32, u32, wgpu::Buffer)>,
    stats: wgpu::Buffer,
    layout: Arc<StatsLayout>,
    mapped: Arc<AtomicUsize>,
    map_error: Arc<Mutex<Option<String>>>,
}

impl ReadbackSlot {
    /// Staging buffers for the given targets.
    pub fn new(
        ctx: &GpuContext,
        scene: &str,
        targets: &[RenderTarget],
        layout: Arc<StatsLayout>,
    ) -> Self {
        let buffers = targets
            .iter()
            .map(|t| {
                let buffer = ctx.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(&format!("readback::staging[{scene}/{}]", t.name)),
                    size: staging_bytes(t.width, t.height),
                    usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
                    mapped_at_creation: false,
                });
                (t.name.clone(), t.width, t.height, buffer)
            })
            .collect();
        let stats = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(&format!("readback::stats[{scene}]")),
            size: layout.counts_bytes() * targets.len().max(1) as u64,
            usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
            mapped_at_creation: false,
        });
        Self {
            buffers,
            stats,
            layout,
            mapped: Arc::default(),
            map_error: Arc::default(),
        }
    }

    /// Record the copies of every target's colour texture into this slot.
    pub fn encode_copies(&self, encoder: &mut wgpu::CommandEncoder, targets: &[RenderTarget]) {
        let counts = self.layout.counts_bytes();
        for (i, (t, (_, _, _, buffer))) in targets.iter().zip(&self.buffers).enumerate() {
            if let Some(color) = &t.color {
                encode_texture_copy(encoder, &color.texture, buffer);
            }
            encoder.copy_buffer_to_buffer(&t.counts, 0, &self.stats, i as u64 * counts, counts);
        }
    }

    /// Request mapping of every buffer (call after the submission that fills them).
    pub fn request_map(&self) {
        self.mapped.store(0, Ordering::SeqCst);
        for buffer in self.buffers.iter().map(|b| &b.3).chain([&self.stats]) {
            let mapped = self.mapped.clone();
            let error = self.map_error.clone();
            buffer.map_async(wgpu::MapMode::Read, .., move |r| {
                if let Err(e) = r {
                    let mut slot = error.lock().unwrap_or_else(|p| p.into_inner());
                    slot.get_or_insert_with(|| e.to_string());
                }
                mapped.fetch_add(1, Ordering::SeqCst);
            });
        }
    }

    /// True once every buffer's map callback ran.
    pub fn is_mapped(&self) -> bool {
        self.mapped.load(Ordering::SeqCst) == self.buffers.len() + 1
    }

    /// Copy the mapped images out and unmap. Call only when [`Self::is_mapped`].
    pub fn take_images(&self) -> Result<Vec<TargetImage>, String> {
        if let Some(e) = self
            .map_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            for b in self.buffers.iter().map(|b| &b.3).chain([&self.stats]) {
                b.unmap();
            }
            return Err(format!("mapping a readback buffer failed: {e}"));
        }
        let counts: Vec<u32> = {
            let view = self.stats.get_mapped_range(..).map_err(|e| e.to_string())?;
            bytemuck::pod_collect_to_vec(&view)
        };
        self.stats.unmap();
        let per_target = (self.layout.counts_bytes() / 4) as usize;
        let mut out = Vec::with_capacity(self.buffers.len());
        for (i, (name, width, height, buffer)) in self.buffers.iter().enumerate() {
            let rgba = {
                let view = buffer.get_mapped_range(..).map_err(|e| e.to_string())?;
                unpad_rows(&view, *width, *height)
            };
            buffer.unmap();
            out.push(TargetImage {
                name: name.clone(),
                width: *width,
                height: *height,
                rgba,
                stats: self
                    .layout
                    .stats(&counts[i * per_target..(i + 1) * per_target]),
            });
        }
        Ok(out)
    }
}

/// A rendered target read back to the CPU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetImage {
    /// Target name.
    pub name: String,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Tightly packed RGBA8 (sRGB) pixels.
    pub rgba: Vec<u8>,
    /// What the cull + LOD pass drew into this target.
    pub stats: TargetStats,
}
