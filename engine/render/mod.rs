//! Rendering: one file per pass (`animate.rs`, `cull_lod.rs`, `skin.rs`, `avatar.rs`,
//! `ground.rs`), what they share (`common.rs`), GPU meshes, targets, and the [`SceneRenderer`]
//! that draws a [`World`](crate::scene::World) frame into all of its targets.
//!
//! Per frame and device the palettes are uploaded once (or computed by the animation pass).
//! Each target then gets a cull + LOD compute pass (its own indirect draws and visible lists);
//! one skin pass skins each avatar as far as the finest level any target draws it at (or, with
//! vertex skinning, the raster pass applies the palettes); each target gets one raster pass
//! (ground, then the indirect avatar draws) and, when asked, a copy of its image and counts into
//! a readback slot. Targets share the palettes, instances, skinning and meshes; only culling,
//! LOD choice and rasterisation are per target.
//!
//! The pieces, long-lived to per-frame:
//! - [`Pipelines`] (one per device and colour format): every pass's pipelines and layouts, and
//!   the GPU meshes of the assets drawn so far.
//! - [`SceneRenderer`] (one per scene and device): the scene's buffers, bind groups and
//!   targets, built from its CPU-side [`tables`].
//! - [`FrameInput`] → [`SceneRenderer::submit`] (or [`SceneRenderer::record`] into a host's
//!   encoder) → [`FrameOutput`]: the one way a frame reaches the GPU. [`SceneRenderer::prepare`]
//!   runs the scene's [`crate::scene::FrameGraph`] and stages its palettes first.
//!
//! Before anything is created, [`limits`] sizes every buffer, binding, dispatch and texture a
//! scene needs and checks them against the device's limits: a scene that does not fit fails
//! with [`RenderError::ExceedsLimit`] and leaves the device untouched.

pub mod animate;
pub mod avatar;
pub mod bench;
pub mod bench_gpu;
pub mod common;
pub mod cull_lod;
pub mod debug;
mod frame;
pub mod gpu_data;
pub mod ground;
mod host;
pub mod limits;
mod live_stats;
mod mesh;
mod scene_renderer;
pub mod skin;
pub mod tables;
mod target;

pub use common::{COLOR_FORMAT, DEPTH_FORMAT, MAX_LODS};
pub use cull_lod::TargetStats;
pub use frame::{
    FrameInput, FrameOutput, Palettes, PassScopes, PreparedFrame, ScopeBody, camera_uniform,
};
pub use host::HostRenderer;
pub use limits::{FitReport, LimitExceeded, Need};
pub use live_stats::LiveStats;
pub use mesh::GpuMesh;
pub use scene_renderer::SceneRenderer;
pub use target::{ReadbackSlot, RenderTarget, TargetColor, TargetImage};

use crate::gpu::{GpuContext, GpuError, ReadbackError};
use crate::scene::FrameError;
use animate::{AnimateBindings, AnimatePass};
use avatar::AvatarPass;
use cull_lod::CullLodPass;
use ground::GroundPass;
use skin::SkinPass;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Errors from rendering.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// The scene needs more than this device allows ([`limits::check_scene`]). Nothing was
    /// created and the device is fine: render the scene on another adapter, make it smaller,
    /// and keep using this device for other scenes. [`Self::is_does_not_fit`] tells this
    /// apart from errors that mean the device failed.
    #[error("scene {scene:?} does not fit adapter {adapter}: {exceeded}")]
    ExceedsLimit {
        /// Scene name.
        scene: String,
        /// Adapter label.
        adapter: String,
        /// What exceeds which limit, by how much, and what to do.
        exceeded: Box<LimitExceeded>,
    },
    /// A device error during the frame.
    #[error(transparent)]
    Gpu(#[from] GpuError),
    /// Readback failed.
    #[error(transparent)]
    Readback(#[from] ReadbackError),
    /// The frame's CPU side (the frame graph) failed.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The caller passed colour views that do not match the scene's targets.
    #[error(
        "scene {scene:?} has {targets} targets but {views} colour views were given; \
         pass one view per target, sized like the target (see `SceneRenderer::targets`)"
    )]
    Views {
        /// Scene name.
        scene: String,
        /// Targets of the scene.
        targets: usize,
        /// Views given.
        views: usize,
    },
    /// A target size of zero or past the device's texture limit.
    #[error(
        "target {scene}/{target} cannot be {width}x{height}: each side must be 1..={max} on this \
         device"
    )]
    TargetSize {
        /// Scene name.
        scene: String,
        /// Target name.
        target: String,
        /// Width asked for.
        width: u32,
        /// Height asked for.
        height: u32,
        /// The device's `max_texture_dimension_2d`.
        max: u32,
    },
    /// A host-drawn scene was asked for a readback: it has no colour textures of its own.
    #[error(
        "scene {scene:?} draws into the host's views and has no colour textures to read back; \
         read the host's texture instead"
    )]
    NoReadback {
        /// Scene name.
        scene: String,
    },
}

impl RenderError {
    /// True when the scene does not fit the device ([`Self::ExceedsLimit`]): decline the scene
    /// on this device, which stays in service. Every other error means the device failed.
    pub fn is_does_not_fit(&self) -> bool {
        matches!(self, Self::ExceedsLimit { .. })
    }

    /// The limit the scene exceeds, when it does not fit the device.
    pub fn exceeded_limit(&self) -> Option<&LimitExceeded> {
        match self {
            Self::ExceedsLimit { exceeded, .. } => Some(exceeded),
            _ => None,
        }
    }
}

/// GPU meshes by asset identity; the `Arc<Asset>` keeps the key's allocation alive.
type MeshCache = HashMap<usize, (Arc<crate::assets::Asset>, Arc<GpuMesh>)>;

/// Everything per device (and colour format) that every scene on it shares: each pass's
/// pipelines and layouts, built once, and the GPU meshes of the assets drawn so far.
pub struct Pipelines {
    /// The animation pass (scenes with `animation: Gpu`), or the limit that keeps this device
    /// from running it (it binds ten storage buffers); such scenes then do not fit the device.
    pub animate: Result<AnimatePass, LimitExceeded>,
    /// The skin pass.
    pub skin: SkinPass,
    /// The cull + LOD pass.
    pub cull_lod: CullLodPass,
    /// The avatar raster pass.
    pub avatar: AvatarPass,
    /// The ground pass.
    pub ground: GroundPass,
    color_format: wgpu::TextureFormat,
    meshes: Mutex<MeshCache>,
}

impl Pipelines {
    /// Build the pipelines on a device for tutti's own targets ([`COLOR_FORMAT`]).
    pub fn new(ctx: &GpuContext) -> Self {
        Self::with_format(ctx, COLOR_FORMAT)
    }

    /// Build the pipelines on a device for targets of `color_format` (a host's surface or
    /// texture format; any renderable colour format).
    pub fn with_format(ctx: &GpuContext, color_format: wgpu::TextureFormat) -> Self {
        Self {
            animate: limits::pipeline_fits(
                &ctx.limits,
                animate::PIPELINE,
                &[&AnimateBindings::layout_entries()],
            )
            .map(|()| AnimatePass::new(ctx)),
            skin: SkinPass::new(ctx),
            cull_lod: CullLodPass::new(ctx),
            avatar: AvatarPass::new(ctx, color_format),
            ground: GroundPass::new(ctx, color_format),
            color_format,
            meshes: Mutex::default(),
        }
    }

    /// The colour format the raster pipelines draw into.
    pub fn color_format(&self) -> wgpu::TextureFormat {
        self.color_format
    }

    /// The GPU mesh of an asset on this device, uploaded on first use.
    pub fn mesh(&self, ctx: &GpuContext, asset: &Arc<crate::assets::Asset>) -> Arc<GpuMesh> {
        let key = Arc::as_ptr(asset) as usize;
        let mut cache = self.meshes.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .entry(key)
            .or_insert_with(|| {
                (
                    asset.clone(),
                    Arc::new(GpuMesh::new(ctx, &self.skin, &self.avatar, asset)),
                )
            })
            .1
            .clone()
    }
}
