//! `#[repr(C)]` data shared with the shaders. Keep in sync with `shaders/*.wgsl`; the size
//! asserts below catch drift on the Rust side.

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

/// Per-avatar data (keep in sync with `Instance` in shaders/shared/types.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct GpuInstance {
    /// Model matrix, column-major.
    pub model: [[f32; 4]; 4],
    /// Tint (linear RGB, alpha 1).
    pub tint: [f32; 4],
    /// World-space bounding sphere over every pose: centre, radius.
    pub sphere: [f32; 4],
    /// First palette matrix of this avatar.
    pub palette_offset: u32,
    /// First skinned vertex of this avatar (compute skinning only).
    pub skinned_base: u32,
    /// Draw batch (asset) of this avatar.
    pub batch: u32,
    /// Largest axis scale of `model`.
    pub scale: f32,
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
    /// Vertices used by each level (a prefix of the vertex list; the first `MAX_LODS` used).
    pub level_vertices: [u32; 8],
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

/// Per-target culling and LOD parameters (keep in sync with `CullParams` in cull_lod.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct CullParams {
    /// Frustum planes, normals pointing inwards, normalised.
    pub planes: [[f32; 4]; 6],
    /// Eye position.
    pub eye: [f32; 4],
    /// `height / (2 tan(fov_y / 2))`.
    pub pixels_per_unit: f32,
    /// Allowed screen-space error, pixels.
    pub pixel_error: f32,
    /// Relative hysteresis band.
    pub hysteresis: f32,
    /// Near plane distance.
    pub near: f32,
    /// Levels added after selection.
    pub bias: i32,
    /// Forced level or -1.
    pub force: i32,
    /// Avatars in the scene.
    pub avatar_count: u32,
    /// Indirect draws per target.
    pub draw_count: u32,
}

/// LOD table of one draw batch (keep in sync with `BatchLod` in cull_lod.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct BatchLod {
    /// Model-space error per level (the first `MAX_LODS` used).
    pub errors: [f32; 8],
    /// Levels in the asset's chain.
    pub level_count: u32,
    /// First avatar of the batch.
    pub first_avatar: u32,
    /// Avatars in the batch.
    pub avatar_count: u32,
    /// Padding.
    pub _pad: u32,
}

/// One indexed indirect draw (the layout wgpu and the APIs read; keep in sync with
/// `DrawIndexedIndirect` in cull_lod.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq, Eq)]
pub struct DrawIndexedIndirect {
    /// Indices per instance.
    pub index_count: u32,
    /// Instances (written each frame by the finalize pass).
    pub instance_count: u32,
    /// First index.
    pub first_index: u32,
    /// Added to each index.
    pub base_vertex: i32,
    /// First instance (the draw's offset in the visible list where supported).
    pub first_instance: u32,
}

/// Per-draw constants of the avatar pass (keep in sync with `DrawParams` in avatar.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct DrawParams {
    /// Offset added to `instance_index` to index the visible list.
    pub list_base: u32,
    /// Padding.
    pub _pad: [u32; 3],
}

/// Ground plane constants (keep in sync with `Ground` in ground.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct GroundUniform {
    /// Linear colour.
    pub color: [f32; 4],
    /// Half the side length.
    pub half_size: f32,
    /// Padding.
    pub _pad: [f32; 3],
}

/// Per-frame constants of the animation pass (keep in sync with `AnimParams` in animate.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct AnimParams {
    /// Scene time, seconds.
    pub time: f32,
    /// Avatars to animate.
    pub avatar_count: u32,
    /// Padding.
    pub _pad: [u32; 2],
}

/// One avatar for the animation pass (keep in sync with `AnimAvatar` in animate.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct AnimAvatar {
    /// First node of its asset.
    pub node_offset: u32,
    /// Nodes of its asset.
    pub node_count: u32,
    /// First binding of its asset.
    pub binding_offset: u32,
    /// Bindings of its asset.
    pub binding_count: u32,
    /// Global clip index, -1 for the rest pose.
    pub clip: i32,
    /// Playback speed.
    pub speed: f32,
    /// Time offset, seconds.
    pub phase: f32,
    /// First palette matrix.
    pub palette_offset: u32,
    /// First of its node matrices in the scratch buffer.
    pub global_offset: u32,
    /// Padding.
    pub _pad: [u32; 3],
}

/// A node's rest transform and parent (keep in sync with `AnimNode` in animate.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct AnimNode {
    /// Rest translation (w unused).
    pub translation: [f32; 4],
    /// Rest rotation quaternion (x, y, z, w).
    pub rotation: [f32; 4],
    /// Rest scale (w unused).
    pub scale: [f32; 4],
    /// Parent within the asset, -1 for a root.
    pub parent: i32,
    /// Padding.
    pub _pad: [u32; 3],
}

/// A skin binding (keep in sync with `AnimBinding` in animate.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct AnimBinding {
    /// Inverse bind matrix, column-major.
    pub inverse_bind: [[f32; 4]; 4],
    /// Node within the asset.
    pub node: u32,
    /// Padding.
    pub _pad: [u32; 3],
}

/// A clip (keep in sync with `AnimClip` in animate.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct AnimClip {
    /// Duration, seconds.
    pub duration: f32,
    /// First channel.
    pub first_channel: u32,
    /// Channels.
    pub channel_count: u32,
    /// First entry of this clip in the per-node channel table.
    pub node_table: u32,
}

/// A clip channel (keep in sync with `AnimChannel` in animate.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct AnimChannel {
    /// Node within the asset.
    pub node: u32,
    /// 0 translation, 1 rotation, 2 scale.
    pub property: u32,
    /// 0 step, 1 linear, 2 cubic spline.
    pub interpolation: u32,
    /// Keys.
    pub key_count: u32,
    /// First key time.
    pub first_time: u32,
    /// First key value.
    pub first_value: u32,
    /// Padding.
    pub _pad: [u32; 2],
}

const _: () = assert!(size_of::<AnimParams>() == 16);
const _: () = assert!(size_of::<AnimAvatar>() == 48);
const _: () = assert!(size_of::<AnimNode>() == 64);
const _: () = assert!(size_of::<AnimBinding>() == 80);
const _: () = assert!(size_of::<AnimClip>() == 16);
const _: () = assert!(size_of::<AnimChannel>() == 32);
const _: () = assert!(size_of::<CullParams>() == 144);
const _: () = assert!(size_of::<BatchLod>() == 48);
const _: () = assert!(size_of::<DrawIndexedIndirect>() == 20);
const _: () = assert!(size_of::<DrawParams>() == 16);
const _: () = assert!(size_of::<GroundUniform>() == 32);
const _: () = assert!(size_of::<RestVertex>() == 64);
const _: () = assert!(size_of::<GpuInstance>() == 112);
const _: () = assert!(size_of::<SkinnedVertex>() == 32);
const _: () = assert!(size_of::<BatchParams>() == 48);
const _: () = assert!(size_of::<CameraUniform>() == 80);
const _: () = assert!(size_of::<LightUniform>() == 48);
const _: () = assert!(size_of::<MaterialUniform>() == 16);
