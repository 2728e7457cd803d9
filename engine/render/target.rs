//! Render targets: colour + depth textures of one output size, and the staging buffer their
//! colour is copied into for readback.

use super::avatar::{COLOR_FORMAT, DEPTH_FORMAT};
use crate::gpu::{GpuContext, encode_texture_copy, padded_row_bytes};

/// One output target on one device.
pub struct RenderTarget {
    /// Target name.
    pub name: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Colour texture.
    pub color: wgpu::Texture,
    /// View of [`Self::color`].
    pub color_view: wgpu::TextureView,
    /// View of the depth texture.
    pub depth_view: wgpu::TextureView,
    /// Readback staging buffer (rows padded to 256 bytes).
    pub staging: wgpu::Buffer,
}

impl RenderTarget {
    /// Allocate a target.
    pub fn new(ctx: &GpuContext, scene: &str, name: &str, width: u32, height: u32) -> Self {
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
        let color = texture(
            format!("target::color[{scene}/{name}]"),
            COLOR_FORMAT,
            wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
        );
        let depth = texture(
            format!("target::depth[{scene}/{name}]"),
            DEPTH_FORMAT,
            wgpu::TextureUsages::RENDER_ATTACHMENT,
        );
        let staging = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(&format!("target::staging[{scene}/{name}]")),
            size: u64::from(padded_row_bytes(width)) * u64::from(height),
            usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
            mapped_at_creation: false,
        });
        Self {
            name: name.to_string(),
            width,
            height,
            color_view: color.create_view(&Default::default()),
            depth_view: depth.create_view(&Default::default()),
            color,
            staging,
        }
    }

    /// Record the copy of the colour texture into the staging buffer.
    pub fn encode_copy(&self, encoder: &mut wgpu::CommandEncoder) {
        encode_texture_copy(encoder, &self.color, &self.staging);
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
}
