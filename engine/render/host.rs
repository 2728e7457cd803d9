//! Drawing into a host application's frame on the host's own device: [`HostRenderer`].
//!
//! The host owns the instance, adapter, device, queue, command encoders and colour targets
//! (a swapchain image or a texture). tutti creates no device in this mode. Per frame:
//! 1. [`HostRenderer::prepare`] runs the scene's frame graph on the host-given
//!    [`Executor`] for a scene time and stages the palettes on the host's queue;
//! 2. [`HostRenderer::record`] records every pass into the host's [`wgpu::CommandEncoder`],
//!    drawing target `i` of the scene into the host's view `i`;
//! 3. the host submits the encoder with its own work, before preparing the next frame.
//!
//! Depth: tutti owns one depth buffer per target (`Depth32Float`, sized like the target), and
//! clears it each frame; the host's depth is not touched. Colour: the views must be of the
//! format given to [`HostRenderer::new`] and sized like the targets; the pass clears them to the
//! scene's sky first, so draw tutti's frame before the host's overlays. Call
//! [`HostRenderer::resize`] when a window changes size.
//!
//! The same scene, frame and adapter give the same pixels as `tutti render` when the host's
//! colour format is [`super::COLOR_FORMAT`] (`examples/embed_host_device.rs` checks the bytes).

use super::{Pipelines, PreparedFrame, RenderError, SceneRenderer};
use crate::gpu::GpuContext;
use crate::jobs::Executor;
use crate::scene::{Camera, FrameGraph, World};
use std::sync::Arc;

/// Avatars per animation job of a host's frame graph.
const ANIMATION_BATCH: usize = 32;

/// A scene drawn into a host application's frame on the host's own wgpu device (see the module
/// doc).
pub struct HostRenderer {
    ctx: GpuContext,
    pipelines: Pipelines,
    scene: SceneRenderer,
    graph: FrameGraph,
    world: Arc<World>,
}

impl HostRenderer {
    /// Prepare `world` for drawing into `color_format` views on the host's device. Checks the
    /// world against the device's limits first ([`RenderError::ExceedsLimit`] when it does not
    /// fit; nothing is created then). Installs no error handler on the host's device
    /// ([`GpuContext::from_host`]).
    pub fn new(
        adapter: &wgpu::Adapter,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        color_format: wgpu::TextureFormat,
        world: Arc<World>,
    ) -> Result<Self, RenderError> {
        let label = format!("host {}", adapter.get_info().name);
        let ctx = GpuContext::from_host(label, adapter, device, queue);
        let graph = FrameGraph::try_new(world.clone(), ANIMATION_BATCH)
            .map_err(crate::scene::FrameError::from)?;
        let pipelines = Pipelines::with_format(&ctx, color_format);
        let scene = SceneRenderer::for_host(&ctx, &pipelines, &world)?;
        Ok(Self {
            ctx,
            pipelines,
            scene,
            graph,
            world,
        })
    }

    /// The world drawn.
    pub fn world(&self) -> &Arc<World> {
        &self.world
    }

    /// The scene's targets (name and size), in the order [`Self::record`] takes views.
    pub fn targets(&self) -> &[super::RenderTarget] {
        &self.scene.targets
    }

    /// Resize target `t` (e.g. to the window's new size).
    pub fn resize(&mut self, t: usize, size: (u32, u32)) -> Result<(), RenderError> {
        self.scene.resize_target(&self.ctx, t, size)
    }

    /// Replace the scene's camera (every target), e.g. from the host's input.
    pub fn set_camera(&mut self, camera: Camera) {
        self.scene.set_camera(camera);
    }

    /// Give target `t` its own camera (`None`: the scene's again).
    pub fn set_target_camera(&mut self, t: usize, camera: Option<Camera>) {
        self.scene.set_target_camera(t, camera);
    }

    /// Replace the LOD settings for the following frames.
    pub fn set_lod(&mut self, lod: crate::scene::LodSettings) {
        self.scene.set_lod(lod);
    }

    /// Draw only the first `count` avatars from the next frame on (see
    /// [`SceneRenderer::set_avatar_count`]).
    pub fn set_avatar_count(&mut self, count: u32) {
        self.scene.set_avatar_count(count);
    }

    /// The scene's GPU state (targets, LOD settings, avatars drawn, debug readbacks).
    pub fn scene(&self) -> &SceneRenderer {
        &self.scene
    }

    /// The device context (the host's device, queue and adapter).
    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    /// Run the frame's CPU side (animation, environment) on `exec` for scene time `time`, and
    /// stage the palettes on the host's queue.
    pub fn prepare(&self, exec: &Executor, time: f32) -> Result<PreparedFrame, RenderError> {
        self.scene.prepare(&self.ctx, exec, &self.graph, time)
    }

    /// Record the prepared frame into the host's encoder, target `i` into `views[i]`.
    pub fn record(
        &self,
        frame: &PreparedFrame,
        encoder: &mut wgpu::CommandEncoder,
        views: &[&wgpu::TextureView],
    ) -> Result<(), RenderError> {
        self.record_with(frame, encoder, views, None)
    }

    /// As [`Self::record`], timing each group of passes in a scope of `scopes` (see
    /// [`super::PassScopes`]).
    pub fn record_with(
        &self,
        frame: &PreparedFrame,
        encoder: &mut wgpu::CommandEncoder,
        views: &[&wgpu::TextureView],
        scopes: Option<&dyn super::PassScopes>,
    ) -> Result<(), RenderError> {
        self.scene.record(
            &self.ctx,
            &self.pipelines,
            encoder,
            &frame.input().with_scopes(scopes),
            Some(views),
        )
    }
}
