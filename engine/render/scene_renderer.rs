//! [`SceneRenderer`]: one world's GPU state on one device (buffers, bind groups, targets),
//! created from the world's CPU-side [`SceneTables`] once the limits check passed.

use super::animate::AnimGpu;
use super::avatar::AvatarFrameBindings;
use super::common::slot;
use super::cull_lod::{CullDispatch, CullLodBindings, StatsLayout};
use super::frame::srgb_to_linear;
use super::gpu_data::{
    BatchParams, CameraUniform, CullParams, DrawParams, GroundUniform, LightUniform,
};
use super::ground::GroundBindings;
use super::mesh::GpuMesh;
use super::skin::SkinFrameBindings;
use super::tables::SceneTables;
use super::{FitReport, Pipelines, ReadbackSlot, RenderError, RenderTarget, limits};
use crate::gpu::GpuContext;
use crate::scene::{Camera, LodSettings, World};
use std::sync::Arc;

/// A target's own GPU state besides its textures: cull groups and indirect draws.
pub(super) struct TargetGpu {
    pub state: wgpu::Buffer,
    pub visible: wgpu::Buffer,
    pub draws: wgpu::Buffer,
    pub cull_group: wgpu::BindGroup,
    pub avatar_group: wgpu::BindGroup,
}

/// A world's GPU state on one device: buffers, bind groups and targets. Create it with
/// [`Self::new`] (own colour targets, read back or used as textures) or [`Self::for_host`]
/// (drawing into the host's views), then submit frames with [`Self::submit`] or
/// [`Self::record`].
pub struct SceneRenderer {
    pub(super) world_name: String,
    pub(super) tables: SceneTables,
    pub(super) meshes: Vec<Arc<GpuMesh>>,
    pub(super) vertex_skinning: bool,
    pub(super) cull_dispatch: CullDispatch,
    pub(super) palettes: wgpu::Buffer,
    pub(super) palette_len: usize,
    pub(super) anim_gpu: Option<AnimGpu>,
    pub(super) skinned: wgpu::Buffer,
    pub(super) cameras: wgpu::Buffer,
    pub(super) camera_stride: u64,
    pub(super) cull_params: wgpu::Buffer,
    pub(super) cull_stride: u64,
    pub(super) light: wgpu::Buffer,
    pub(super) ground: Option<wgpu::BindGroup>,
    pub(super) skin_group: wgpu::BindGroup,
    pub(super) needed: wgpu::Buffer,
    pub(super) target_gpu: Vec<TargetGpu>,
    pub(super) stats_layout: Arc<StatsLayout>,
    /// The targets, in scene order.
    pub targets: Vec<RenderTarget>,
    /// Readback slot used by [`Self::render`] (none for a host-drawn scene).
    pub(super) default_slot: Option<ReadbackSlot>,
    pub(super) camera: Camera,
    /// Per-target camera overrides ([`Self::set_target_camera`]).
    pub(super) target_cameras: Vec<Option<Camera>>,
    pub(super) lod: LodSettings,
    /// Avatars drawn ([`Self::set_avatar_count`]); at most the scene's.
    pub(super) avatar_count: u32,
}

impl SceneRenderer {
    /// Check, without creating anything, that a world fits the device: every buffer, binding,
    /// dispatch and texture [`Self::new`] would create, against `ctx.limits`
    /// ([`limits::check_scene`]). A scene that does not fit gives
    /// [`RenderError::ExceedsLimit`] naming the scene, the adapter, the limit, the size needed
    /// and what to change.
    pub fn check(ctx: &GpuContext, world: &World) -> Result<FitReport, RenderError> {
        limits::check_scene(&ctx.limits, world).map_err(|exceeded| RenderError::ExceedsLimit {
            scene: world.desc.name.clone(),
            adapter: ctx.label.clone(),
            exceeded: Box::new(exceeded),
        })
    }

    /// Allocate everything a world needs on a device, with a colour texture per target (read
    /// back with [`Self::render`] or a [`ReadbackSlot`]). Fails with
    /// [`RenderError::ExceedsLimit`], before creating anything, when the world does not fit
    /// the device's limits ([`Self::check`]; `ctx.limits` may be lowered to make tutti treat
    /// the device as smaller than it is).
    pub fn new(
        ctx: &GpuContext,
        pipelines: &Pipelines,
        world: &World,
    ) -> Result<Self, RenderError> {
        Self::create(ctx, pipelines, world, true)
    }

    /// As [`Self::new`], for a scene drawn into the host's colour views ([`Self::record`]):
    /// no colour textures and no readback; tutti owns each target's depth buffer (sized like
    /// the target) and its cull + LOD state.
    pub fn for_host(
        ctx: &GpuContext,
        pipelines: &Pipelines,
        world: &World,
    ) -> Result<Self, RenderError> {
        Self::create(ctx, pipelines, world, false)
    }

    fn create(
        ctx: &GpuContext,
        pipelines: &Pipelines,
        world: &World,
        own_color: bool,
    ) -> Result<Self, RenderError> {
        let plan = Self::check(ctx, world)?.plan;
        let animate = match (&plan.animation, &pipelines.animate) {
            (None, _) => None,
            (Some(animation), Ok(pass)) => Some((animation, pass)),
            // Only where `ctx.limits` changed after the pipelines were built.
            (Some(_), Err(exceeded)) => {
                return Err(RenderError::ExceedsLimit {
                    scene: world.desc.name.clone(),
                    adapter: ctx.label.clone(),
                    exceeded: Box::new(exceeded.clone()),
                });
            }
        };
        let device = &ctx.device;
        let name = world.desc.name.clone();
        let meshes: Vec<Arc<GpuMesh>> = world
            .assets
            .iter()
            .map(|a| pipelines.mesh(ctx, a))
            .collect();
        let tables = SceneTables::new(world, &plan, pipelines.avatar.multi_draw);
        let stats_layout = Arc::new(StatsLayout {
            triangles: tables.triangles.clone(),
            avatars: tables.instances.len() as u32,
        });

        let init = |label: &str, contents: &[u8], usage: wgpu::BufferUsages| {
            wgpu::util::DeviceExt::create_buffer_init(
                device,
                &wgpu::util::BufferInitDescriptor {
                    label: Some(label),
                    contents,
                    usage,
                },
            )
        };
        let buffer = |label: &str, size: u64, usage: wgpu::BufferUsages| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: size.max(64),
                usage,
                mapped_at_creation: false,
            })
        };
        let uniform = wgpu::BufferUsages::UNIFORM;
        let storage = wgpu::BufferUsages::STORAGE;
        let copy_dst = wgpu::BufferUsages::COPY_DST;
        let copy_src = wgpu::BufferUsages::COPY_SRC;
        let params = init("scene::batch_params", &tables.batch_params, uniform);
        let draw_params = init("scene::draw_params", &tables.draw_params, uniform);
        let batch_lods = init(
            "scene::batch_lods",
            bytemuck::cast_slice(&tables.batch_lods),
            storage,
        );
        let draw_slots = init(
            "scene::draw_slots",
            bytemuck::cast_slice(&tables.draw_slots),
            storage,
        );
        let palettes = buffer(
            "scene::palettes",
            plan.palettes,
            storage | copy_dst | copy_src,
        );
        let anim_gpu = animate
            .map(|((data, dispatch), pass)| AnimGpu::new(ctx, pass, data, &palettes, *dispatch));
        let instances = buffer("scene::instances", plan.instances, storage | copy_dst);
        let skinned = buffer("scene::skinned", plan.skinned, storage | copy_src);
        let n_targets = world.desc.targets.len() as u64;
        let cameras = buffer(
            "scene::cameras",
            plan.camera_stride * n_targets,
            uniform | copy_dst,
        );
        let cull_params = buffer(
            "scene::cull_params",
            plan.cull_stride * n_targets,
            uniform | copy_dst,
        );
        let light = buffer(
            "scene::light",
            size_of::<LightUniform>() as u64,
            uniform | copy_dst,
        );
        let needed = buffer("scene::needed_levels", plan.cull.needed, storage | copy_dst);
        let skin_group = pipelines.skin.frame_group(
            device,
            &SkinFrameBindings {
                palettes: palettes.as_entire_binding(),
                instances: instances.as_entire_binding(),
                skinned: skinned.as_entire_binding(),
                params: slot(&params, size_of::<BatchParams>() as u64),
                needed: needed.as_entire_binding(),
            },
        );
        let ground = world.desc.environment.ground.as_ref().map(|g| {
            let c = srgb_to_linear(g.color);
            let constants = GroundUniform {
                color: [c[0] as f32, c[1] as f32, c[2] as f32, 1.0],
                half_size: g.size * 0.5,
                _pad: [0.0; 3],
            };
            let constants = init("scene::ground", bytemuck::bytes_of(&constants), uniform);
            pipelines.ground.group(
                device,
                &GroundBindings {
                    camera: slot(&cameras, size_of::<CameraUniform>() as u64),
                    light: light.as_entire_binding(),
                    ground: constants.as_entire_binding(),
                },
            )
        });
        let targets: Vec<RenderTarget> = world
            .desc
            .targets
            .iter()
            .map(|t| {
                RenderTarget::new(
                    ctx,
                    &name,
                    &t.name,
                    (t.width, t.height),
                    stats_layout.counts_bytes(),
                    own_color,
                )
            })
            .collect();
        let draw_bytes = tables.draw_bytes();
        let target_gpu = targets
            .iter()
            .map(|t| {
                let label = format!("{name}/{}", t.name);
                let state = buffer(
                    &format!("scene::lod_state[{label}]"),
                    plan.cull.state,
                    storage | copy_dst,
                );
                let visible = buffer(
                    &format!("scene::visible[{label}]"),
                    plan.cull.visible,
                    storage | copy_src,
                );
                let draws = init(
                    &format!("scene::draws[{label}]"),
                    &draw_bytes,
                    storage | wgpu::BufferUsages::INDIRECT | copy_src,
                );
                let cull_group = pipelines.cull_lod.group(
                    device,
                    &label,
                    &CullLodBindings {
                        params: slot(&cull_params, size_of::<CullParams>() as u64),
                        instances: instances.as_entire_binding(),
                        batch_lods: batch_lods.as_entire_binding(),
                        state: state.as_entire_binding(),
                        counts: t.counts.as_entire_binding(),
                        visible: visible.as_entire_binding(),
                        draws: draws.as_entire_binding(),
                        draw_slots: draw_slots.as_entire_binding(),
                        needed: needed.as_entire_binding(),
                    },
                );
                let avatar_group = pipelines.avatar.frame_group(
                    device,
                    &label,
                    &AvatarFrameBindings {
                        camera: slot(&cameras, size_of::<CameraUniform>() as u64),
                        light: light.as_entire_binding(),
                        skinned: skinned.as_entire_binding(),
                        instances: instances.as_entire_binding(),
                        draw_params: slot(&draw_params, size_of::<DrawParams>() as u64),
                        palettes: palettes.as_entire_binding(),
                        visible: visible.as_entire_binding(),
                    },
                );
                TargetGpu {
                    state,
                    visible,
                    draws,
                    cull_group,
                    avatar_group,
                }
            })
            .collect();
        let default_slot =
            own_color.then(|| ReadbackSlot::new(ctx, &name, &targets, stats_layout.clone()));
        ctx.queue
            .write_buffer(&instances, 0, bytemuck::cast_slice(&tables.instances));
        Ok(Self {
            world_name: name,
            tables,
            meshes,
            vertex_skinning: plan.vertex_skinning,
            cull_dispatch: plan.cull_dispatch,
            palettes,
            palette_len: world.palette_len,
            anim_gpu,
            skinned,
            cameras,
            camera_stride: plan.camera_stride,
            cull_params,
            cull_stride: plan.cull_stride,
            light,
            ground,
            skin_group,
            needed,
            target_gpu,
            stats_layout,
            target_cameras: vec![None; targets.len()],
            targets,
            default_slot,
            camera: world.desc.camera.clone(),
            lod: world.desc.lod.clone(),
            avatar_count: world.avatars.len() as u32,
        })
    }

    /// Scene name.
    pub fn name(&self) -> &str {
        &self.world_name
    }

    /// The scene's CPU-side tables (instances, LOD tables, draws), as uploaded.
    pub fn tables(&self) -> &SceneTables {
        &self.tables
    }

    /// True when avatars are skinned in the vertex stage (see [`crate::scene::Skinning`]).
    pub fn vertex_skinning(&self) -> bool {
        self.vertex_skinning
    }

    /// True when the animation pass computes the palettes on the GPU (scene option
    /// `animation: Gpu`); palettes given with a frame are then ignored.
    pub fn animates_on_gpu(&self) -> bool {
        self.anim_gpu.is_some()
    }

    /// A new readback slot for this scene's targets (one per frame in flight). Fails for a
    /// scene drawn into the host's views, which has nothing to read back.
    pub fn new_slot(&self, ctx: &GpuContext) -> Result<ReadbackSlot, RenderError> {
        if self.default_slot.is_none() {
            return Err(RenderError::NoReadback {
                scene: self.world_name.clone(),
            });
        }
        Ok(ReadbackSlot::new(
            ctx,
            &self.world_name,
            &self.targets,
            self.stats_layout.clone(),
        ))
    }

    /// Replace the camera of every target without its own ([`Self::set_target_camera`]) for
    /// the following frames (each target keeps its aspect ratio).
    pub fn set_camera(&mut self, camera: Camera) {
        self.camera = camera;
    }

    /// Give target `target` its own camera for the following frames (`None`: the scene's
    /// camera again). Out-of-range targets are ignored.
    pub fn set_target_camera(&mut self, target: usize, camera: Option<Camera>) {
        if let Some(slot) = self.target_cameras.get_mut(target) {
            *slot = camera;
        }
    }

    /// Replace the LOD settings for the following frames.
    pub fn set_lod(&mut self, lod: LodSettings) {
        self.lod = lod;
    }

    /// The LOD settings in use.
    pub fn lod(&self) -> &LodSettings {
        &self.lod
    }

    /// Draw only the first `count` avatars (in the scene's order: each asset's avatars
    /// together, groups in file order) from the next frame on, without rebuilding anything:
    /// the cull + LOD pass skips the rest. Clamped to the scene's avatar count.
    pub fn set_avatar_count(&mut self, count: u32) {
        self.avatar_count = count.min(self.tables.instances.len() as u32);
    }

    /// Avatars drawn per frame at most ([`Self::set_avatar_count`]).
    pub fn avatar_count(&self) -> u32 {
        self.avatar_count
    }

    /// Resize target `t` (a host's window changed size): its depth buffer and, for a scene
    /// with its own colour textures, its colour texture and readback are recreated. Slots made
    /// by [`Self::new_slot`] before the resize must be made again.
    pub fn resize_target(
        &mut self,
        ctx: &GpuContext,
        t: usize,
        (width, height): (u32, u32),
    ) -> Result<(), RenderError> {
        let max = ctx.limits.max_texture_dimension_2d;
        let Some(target) = self.targets.get_mut(t) else {
            return Ok(());
        };
        if width == 0 || height == 0 || width > max || height > max {
            return Err(RenderError::TargetSize {
                scene: self.world_name.clone(),
                target: target.name.clone(),
                width,
                height,
                max,
            });
        }
        target.resize(ctx, &self.world_name, (width, height));
        if self.default_slot.is_some() {
            self.default_slot = Some(ReadbackSlot::new(
                ctx,
                &self.world_name,
                &self.targets,
                self.stats_layout.clone(),
            ));
        }
        Ok(())
    }
}
