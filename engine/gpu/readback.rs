//! Reading textures and buffers back to the CPU.

use super::{GpuContext, GpuError};

/// Errors from readback.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadbackError {
    /// Mapping the staging buffer failed.
    #[error("{adapter}: mapping a readback buffer failed: {message}")]
    Map {
        /// Adapter label.
        adapter: String,
        /// wgpu's message.
        message: String,
    },
    /// The device failed while the copy ran.
    #[error(transparent)]
    Device(#[from] GpuError),
}

/// Bytes per padded row for a texture copy of `width` RGBA8 pixels.
pub fn padded_row_bytes(width: u32) -> u32 {
    (width * 4).div_ceil(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT) * wgpu::COPY_BYTES_PER_ROW_ALIGNMENT
}

/// Record a copy of an RGBA8 texture into `staging` (which must hold
/// `padded_row_bytes(width) * height` bytes).
pub fn encode_texture_copy(
    encoder: &mut wgpu::CommandEncoder,
    texture: &wgpu::Texture,
    staging: &wgpu::Buffer,
) {
    let size = texture.size();
    encoder.copy_texture_to_buffer(
        wgpu::TexelCopyTextureInfo {
            texture,
            mip_level: 0,
            origin: wgpu::Origin3d::ZERO,
            aspect: wgpu::TextureAspect::All,
        },
        wgpu::TexelCopyBufferInfo {
            buffer: staging,
            layout: wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(padded_row_bytes(size.width)),
                rows_per_image: Some(size.height),
            },
        },
        wgpu::Extent3d {
            width: size.width,
            height: size.height,
            depth_or_array_layers: 1,
        },
    );
}

/// Map a buffer (after its copies were submitted), wait, and return its contents.
pub fn read_buffer(ctx: &GpuContext, buffer: &wgpu::Buffer) -> Result<Vec<u8>, ReadbackError> {
    let (tx, rx) = std::sync::mpsc::channel();
    buffer.map_async(wgpu::MapMode::Read, .., move |r| {
        let _ = tx.send(r);
    });
    ctx.wait_idle()?;
    let map_err = |message: String| ReadbackError::Map {
        adapter: ctx.label.clone(),
        message,
    };
    rx.recv()
        .map_err(|_| map_err("the map callback never ran".into()))?
        .map_err(|e| map_err(e.to_string()))?;
    let data = buffer
        .get_mapped_range(..)
        .map_err(|e| map_err(e.to_string()))?
        .to_vec();
    buffer.unmap();
    Ok(data)
}

/// Strip row padding from a mapped texture copy: tightly packed RGBA8 rows.
pub fn unpad_rows(data: &[u8], width: u32, height: u32) -> Vec<u8> {
    let padded = padded_row_bytes(width) as usize;
    let tight = width as usize * 4;
    let mut out = Vec::with_capacity(tight * height as usize);
    for row in 0..height as usize {
        out.extend_from_slice(&data[row * padded..row * padded + tight]);
    }
    out
}
