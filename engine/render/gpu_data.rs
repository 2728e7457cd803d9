//! `#[repr(C)]` data shared with the shaders. Keep in sync with `shaders/skin.wgsl` and
//! `shaders/avatar.wgsl`; the size asserts below catch drift on the Rust side.

use bytemuck::{Pod, Zeroable};

/// A rest-pose vertex for the skin pass (keep in sync with `RestVertex` in skin.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct RestVertex {
    /// Position (w unused).
    pub position: [f32; 4],
    /// Normal (w unused).
    pub normal: [f32; 4],
    /// Palette-relative joint indices.
    pub joints: [u32; 4],
    /// Weights.
    pub weights: [f32; 4],
}

/// Per-avatar data (keep in sync with `Instance` in skin.wgsl and avatar.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct GpuInstance {
    /// Model matrix, column-major.
    pub model: [[f32; 4]; 4],
    /// Tint (linear RGB, alpha 1).
    pub tint: [f32; 4],
    /// First palette matrix of this avatar.
    pub palette_offset: u32,
    /// First skinned vertex of this avatar.
    pub skinned_base: u32,
    /// Padding.
    pub _pad: [u32; 2],
}

/// A skinned world-space vertex (keep in sync with `SkinnedVertex`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq)]
pub struct SkinnedVertex {
    /// Position (w = 1).
    pub position: [f32; 4],
    /// Unit normal (w = 0).
    pub normal: [f32; 4],
}

/// One draw batch chunk (keep in sync with `BatchParams`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct BatchParams {
    /// Vertices per avatar of this batch's asset.
    pub vertex_count: u32,
    /// First instance of the batch.
    pub first_instance: u32,
    /// Instances in the batch.
    pub instance_count: u32,
    /// Padding.
    pub _pad: u32,
}

/// Per-target camera (keep in sync with `Camera` in avatar.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct CameraUniform {
    /// Projection x view.
    pub view_proj: [[f32; 4]; 4],
    /// Eye position.
    pub eye: [f32; 4],
}

/// Sun and ambient light (keep in sync with `Light` in avatar.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct LightUniform {
    /// Unit vector towards the sun.
    pub to_sun: [f32; 4],
    /// Sun colour.
    pub sun_color: [f32; 4],
    /// Ambient colour.
    pub ambient: [f32; 4],
}

/// Material constants (keep in sync with `Material` in avatar.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct MaterialUniform {
    /// Linear base colour factor.
    pub base_color: [f32; 4],
}

const _: () = assert!(size_of::<RestVertex>() == 64);
const _: () = assert!(size_of::<GpuInstance>() == 96);
const _: () = assert!(size_of::<SkinnedVertex>() == 32);
const _: () = assert!(size_of::<BatchParams>() == 16);
const _: () = assert!(size_of::<CameraUniform>() == 80);
const _: () = assert!(size_of::<LightUniform>() == 48);
const _: () = assert!(size_of::<MaterialUniform>() == 16);
