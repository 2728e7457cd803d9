//! The scene file format (RON). Every optional field has its default documented here; the
//! `scenes/default.ron` file shows them all. The range each value must lie in is checked when a
//! scene is loaded (see the table in `scene/validate.rs`, mirrored by the `MAX_*` constants of
//! [`crate::scene`]); numbers not given a range here must be finite, with a magnitude of at most
//! 1,000,000.

use serde::{Deserialize, Serialize};

/// A scene: what to render, from where, at which sizes, for which frames.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "Scene")]
pub struct SceneDesc {
    /// Scene name; also the output folder name. Letters, digits, `-`, `_` and `.`.
    pub name: String,
    /// Frames per second (1 ..= 1000); offscreen time of frame `f` is `f / fps`. Default 24.
    #[serde(default = "default_fps")]
    pub fps: f32,
    /// Frame range `(start, end)`, end exclusive, at most 1,000,000 frames. Default `(0, 48)`.
    #[serde(default = "default_frames")]
    pub frames: (u32, u32),
    /// The camera. Default: see [`Camera`].
    #[serde(default)]
    pub camera: Camera,
    /// Output targets; 1 ..= 16, with distinct names. Every target of a frame shares the frame's
    /// animation, uploads and skinning.
    pub targets: Vec<TargetDesc>,
    /// Sky, sun and ambient light. Default: see [`Environment`].
    #[serde(default)]
    pub environment: Environment,
    /// Avatar groups; at least one, with at most 1,000,000 avatars in all.
    pub avatars: Vec<AvatarGroup>,
    /// Level-of-detail selection. Default: see [`LodSettings`].
    #[serde(default)]
    pub lod: LodSettings,
    /// Where skinning runs. Default `Auto`.
    #[serde(default)]
    pub skinning: Skinning,
    /// Where clips are sampled into joint palettes. Default `Cpu`.
    #[serde(default)]
    pub animation: Animation,
}

/// Where avatars' clips are sampled into joint palettes each frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Animation {
    /// On the CPU, by the frame graph's animation jobs (palettes uploaded every frame).
    #[default]
    Cpu,
    /// In a compute pass (`shaders/animate.wgsl`): the CPU uploads nothing per avatar, so its
    /// frame cost does not grow with the avatar count.
    Gpu,
}

/// How each avatar's level of detail is chosen, per target (see `render::cull_lod`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LodSettings {
    /// Largest simplification error allowed on screen, in pixels: an avatar gets the coarsest
    /// level whose error, projected at its distance and the target's resolution, stays within
    /// it. Default 0.5: parts thinner than about twice this may vanish, so larger values thin
    /// out distant crowds (at 1.0 a 10,000-avatar crowd loses 14 % of its covered pixels at
    /// 1280x720, at 0.5 about 4 %). Above 0, at most 1000.
    pub pixel_error: f32,
    /// Levels added to (coarser) or taken from (finer) every choice, after hysteresis.
    /// -3 ..= 3. Default 0.
    pub bias: i32,
    /// Draw every avatar at this level (0 ..= 7, clamped to each asset's chain), for debugging
    /// and comparisons. Default `None`.
    pub force: Option<u32>,
    /// Hysteresis band, relative to `pixel_error` (0 ..= 0.9): an avatar keeps its previous
    /// level while that level's error stays within `pixel_error × (1 ± hysteresis)`.
    /// Default 0.2.
    pub hysteresis: f32,
}

impl Default for LodSettings {
    fn default() -> Self {
        Self {
            pixel_error: 0.5,
            bias: 0,
            force: None,
            hysteresis: 0.2,
        }
    }
}

/// Where avatars are skinned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Skinning {
    /// `Compute` while the compute skin pass fits the device (every avatar's full-detail
    /// skinned vertices in one storage binding, each mesh's dispatch; see `render::limits`),
    /// `Vertex` beyond.
    #[default]
    Auto,
    /// A compute pass skins every avatar once per frame into a buffer every target draws from.
    Compute,
    /// Each target's vertex shader applies the (shared, once-uploaded) palettes to the vertices
    /// of the level it draws; no skinned buffer, so crowds of any size fit.
    Vertex,
}

fn default_fps() -> f32 {
    24.0
}
fn default_frames() -> (u32, u32) {
    (0, 48)
}

/// A perspective camera looking from `eye` at `target`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Camera {
    /// Eye position. Default `(0.0, 1.6, 6.0)`.
    pub eye: (f32, f32, f32),
    /// Look-at point. Default `(0.0, 0.9, 0.0)`.
    pub target: (f32, f32, f32),
    /// Vertical field of view in degrees, strictly between 1 and 179. Default 40.
    pub fov_y: f32,
    /// Near plane, above 0. Default 0.05.
    pub near: f32,
    /// Far plane, beyond the near plane and at most 1,000,000. Default 500.
    pub far: f32,
}

impl Default for Camera {
    fn default() -> Self {
        Self {
            eye: (0.0, 1.6, 6.0),
            target: (0.0, 0.9, 0.0),
            fov_y: 40.0,
            near: 0.05,
            far: 500.0,
        }
    }
}

/// A named output image size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetDesc {
    /// Target name; also the output sub-folder name.
    pub name: String,
    /// Width in pixels (1 ..= 8192, and within the device's texture limit).
    pub width: u32,
    /// Height in pixels (1 ..= 8192, and within the device's texture limit).
    pub height: u32,
}

/// Environment basics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Environment {
    /// Sky (clear) colour, sRGB 0..1. Default `(0.53, 0.70, 0.88)`.
    pub sky: (f32, f32, f32),
    /// Direction the sunlight travels (need not be normalised). Default `(-0.4, -1.0, -0.6)`.
    pub sun_direction: (f32, f32, f32),
    /// Sun colour and intensity, linear. Default `(1.0, 0.96, 0.88)`.
    pub sun_color: (f32, f32, f32),
    /// Ambient light level, linear 0..1. Default 0.3.
    pub ambient: f32,
    /// A lit ground plane at y = 0. Default `None`.
    pub ground: Option<Ground>,
}

/// A square ground plane at y = 0, centred on the origin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ground {
    /// Side length, above 0 and at most 1,000,000. Default 100.
    #[serde(default = "hundred")]
    pub size: f32,
    /// Colour, sRGB 0..1. Default `(0.42, 0.5, 0.34)`.
    #[serde(default = "grass")]
    pub color: (f32, f32, f32),
}

fn hundred() -> f32 {
    100.0
}
fn grass() -> (f32, f32, f32) {
    (0.42, 0.5, 0.34)
}

impl Default for Environment {
    fn default() -> Self {
        Self {
            sky: (0.53, 0.70, 0.88),
            sun_direction: (-0.4, -1.0, -0.6),
            sun_color: (1.0, 0.96, 0.88),
            ambient: 0.3,
            ground: None,
        }
    }
}

/// How a group's avatars are placed around [`AvatarGroup::position`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Layout {
    /// Rows of `columns` avatars, `spacing` apart, centred on the group position, facing +Z.
    Grid {
        /// Avatars per row (0 means a square-ish grid).
        #[serde(default)]
        columns: u32,
        /// Distance between neighbours (0 ..= 1000).
        spacing: f32,
    },
    /// A ring whose circumference gives each avatar `spacing`, every avatar facing along the ring.
    Circle {
        /// Distance between neighbours along the ring (0 ..= 1000).
        spacing: f32,
    },
}

impl Default for Layout {
    fn default() -> Self {
        Layout::Grid {
            columns: 0,
            spacing: 1.0,
        }
    }
}

/// A group of identical avatars.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AvatarGroup {
    /// Asset: a built-in name (`RiggedFigure`, `RiggedSimple`, `SimpleSkin`), `humanoid` or
    /// `humanoid:<low|medium|high|ultra>`, or a `.gltf`/`.glb` path relative to the scene file.
    pub asset: String,
    /// Number of avatars (1 ..= 100000; at most 1,000,000 over all groups). Default 1.
    #[serde(default = "one_u32")]
    pub count: u32,
    /// Placement. Default `Grid(columns: 0, spacing: 1.0)`.
    #[serde(default)]
    pub layout: Layout,
    /// Group centre. Default `(0, 0, 0)`.
    #[serde(default)]
    pub position: (f32, f32, f32),
    /// Extra rotation about +Y in degrees applied to every avatar. Default 0.
    #[serde(default)]
    pub yaw: f32,
    /// Uniform scale, above 0 and at most 1000. Default 1.
    #[serde(default = "one_f32")]
    pub scale: f32,
    /// Clip name; default: the asset's first clip. An asset without clips holds its rest pose.
    #[serde(default)]
    pub clip: Option<String>,
    /// Playback speed multiplier (-1000 ..= 1000). Default 1.
    #[serde(default = "one_f32")]
    pub speed: f32,
    /// Time offset of the whole group, in seconds. Default 0.
    #[serde(default)]
    pub phase_offset: f32,
    /// Fraction of the clip (0..1) spread evenly across the group's avatars. Default 0.
    #[serde(default)]
    pub phase_spread: f32,
    /// Colour multiplied with the material's base colour (linear RGB). Default `(1, 1, 1)`.
    #[serde(default = "white")]
    pub tint: (f32, f32, f32),
}

fn one_u32() -> u32 {
    1
}
fn one_f32() -> f32 {
    1.0
}
fn white() -> (f32, f32, f32) {
    (1.0, 1.0, 1.0)
}
