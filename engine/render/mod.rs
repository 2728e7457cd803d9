//! Rendering: one file per pass (`animate.rs`, `cull_lod.rs`, `skin.rs`, `avatar.rs`,
//! `ground.rs`), GPU
//! meshes, targets, and the [`SceneRenderer`] that draws a [`World`] frame into all of its
//! targets.
//!
//! Per frame and device the palettes are uploaded once (or computed by the animation pass).
//! Each target then gets a cull + LOD
//! compute pass (its own indirect draws and visible lists); one skin pass skins each avatar as
//! far as the finest level any target draws it at (or, with vertex skinning, the raster pass
//! applies the palettes); each target gets one raster pass (ground, then the indirect avatar
//! draws) and a copy of its image and counts into a readback slot. Targets share the palettes,
//! instances, skinning and meshes; only culling, LOD choice and rasterisation are per target.
//!
//! Before anything is created, [`limits`] sizes every buffer, binding, dispatch and texture a
//! scene needs and checks them against the device's limits: a scene that does not fit fails
//! with [`RenderError::ExceedsLimit`] and leaves the device untouched.

/// The WGSL source of a pass: `shaders/shared/types.wgsl`, then (with `skinning`) the shared
/// skinning snippet, then `shaders/<file>`.
macro_rules! shader_source {
    ($file:literal) => {
        concat!(
            include_str!("../../shaders/shared/types.wgsl"),
            "\n",
            include_str!(concat!("../../shaders/", $file))
        )
    };
    ($file:literal, skinning) => {
        concat!(
            include_str!("../../shaders/shared/types.wgsl"),
            "\n",
            include_str!("../../shaders/shared/skinning.wgsl"),
            "\n",
            include_str!(concat!("../../shaders/", $file))
        )
    };
}
pub(crate) use shader_source;

pub mod animate;
pub mod avatar;
pub mod bench;
pub mod bench_gpu;
pub mod cull_lod;
pub mod gpu_data;
pub mod ground;
pub mod limits;
mod mesh;
pub mod skin;
mod target;

pub use cull_lod::TargetStats;
pub use limits::{FitReport, LimitExceeded, Need};
pub use mesh::GpuMesh;
pub use target::{ReadbackSlot, RenderTarget, TargetImage};

use crate::gpu::{GpuContext, GpuError, GpuTimer, ReadbackError, read_buffer};
use crate::scene::{FrameAnimation, World};
use animate::{AnimGpu, AnimatePass};
use avatar::{AvatarPass, BatchDraws};
use cull_lod::{CullDispatch, CullLodPass, MAX_LODS, StatsLayout};
use glam::{Mat4, Vec3};
use gpu_data::{
    BatchLod, BatchParams, CameraUniform, CullParams, DrawIndexedIndirect, DrawParams, GpuInstance,
    GroundUniform, LightUniform, SkinnedVertex,
};
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

/// Per-device renderer state shared by every scene on that device: pipelines and GPU meshes.
pub struct FrameRenderer {
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
    meshes: Mutex<MeshCache>,
}

impl FrameRenderer {
    /// Build the pipelines on a device (once; reused by every scene and frame).
    pub fn new(ctx: &GpuContext) -> Self {
        Self {
            animate: limits::pipeline_fits(
                &ctx.limits,
                animate::PIPELINE,
                &[&animate::layout_entries()],
            )
            .map(|()| AnimatePass::new(ctx)),
            skin: SkinPass::new(ctx),
            cull_lod: CullLodPass::new(ctx),
            avatar: AvatarPass::new(ctx),
            ground: GroundPass::new(ctx),
            meshes: Mutex::default(),
        }
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

/// One skin-pass dispatch: at most `max_compute_workgroups_per_dimension` avatars of a batch.
struct Chunk {
    mesh: Arc<GpuMesh>,
    params_offset: u32,
    dispatch: [u32; 3],
}

fn align(size: u64, to: u64) -> u64 {
    size.div_ceil(to) * to
}

/// Append `value` to a buffer of dynamic-offset uniform slots `stride` bytes apart; returns its
/// offset.
fn push_slot<T: bytemuck::Pod>(bytes: &mut Vec<u8>, value: &T, stride: u64) -> u32 {
    let offset = bytes.len();
    bytes.extend_from_slice(bytemuck::bytes_of(value));
    bytes.resize(align(bytes.len() as u64, stride) as usize, 0);
    offset as u32
}

/// A target's own GPU state besides its textures: cull groups and indirect draws.
struct TargetGpu {
    state: wgpu::Buffer,
    visible: wgpu::Buffer,
    draws: wgpu::Buffer,
    cull_group: wgpu::BindGroup,
    avatar_group: wgpu::BindGroup,
}

/// A world's GPU state on one device: buffers, bind groups and targets.
pub struct SceneRenderer {
    world_name: String,
    instances: Vec<GpuInstance>,
    batch_lods: Vec<BatchLod>,
    chunks: Vec<Chunk>,
    batch_draws: Vec<BatchDraws>,
    draw_template: Vec<DrawIndexedIndirect>,
    vertex_skinning: bool,
    cull_dispatch: CullDispatch,
    palettes: wgpu::Buffer,
    palette_len: usize,
    anim_gpu: Option<AnimGpu>,
    _instance_buffer: wgpu::Buffer,
    skinned: wgpu::Buffer,
    skinned_count: u64,
    cameras: wgpu::Buffer,
    camera_stride: u64,
    cull_params: wgpu::Buffer,
    cull_stride: u64,
    light: wgpu::Buffer,
    ground: Option<wgpu::BindGroup>,
    skin_group: wgpu::BindGroup,
    needed: wgpu::Buffer,
    target_gpu: Vec<TargetGpu>,
    stats_layout: Arc<StatsLayout>,
    /// The targets, in scene order.
    pub targets: Vec<RenderTarget>,
    /// Readback slot used by [`Self::render`].
    default_slot: ReadbackSlot,
    camera: crate::scene::Camera,
    /// Per-target camera overrides ([`Self::set_target_camera`]); `None` uses `camera`.
    target_cameras: Vec<Option<crate::scene::Camera>>,
    environment: crate::scene::Environment,
    lod: crate::scene::LodSettings,
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

    /// Allocate everything a world needs on a device. Fails with
    /// [`RenderError::ExceedsLimit`], before creating anything, when the world does not fit
    /// the device's limits ([`Self::check`]; `ctx.limits` may be lowered to make tutti treat
    /// the device as smaller than it is).
    pub fn new(
        ctx: &GpuContext,
        renderer: &FrameRenderer,
        world: &World,
    ) -> Result<Self, RenderError> {
        let plan = Self::check(ctx, world)?.plan;
        let animate = match (&plan.animation, &renderer.animate) {
            (None, _) => None,
            (Some(animation), Ok(pass)) => Some((animation, pass)),
            // Only where `ctx.limits` changed after the renderer was built.
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
        let meshes: Vec<Arc<GpuMesh>> =
            world.assets.iter().map(|a| renderer.mesh(ctx, a)).collect();
        let vertex_skinning = plan.vertex_skinning;

        // Instance data: placement, bounds, skinned-vertex ranges.
        let mut skinned_count: u64 = 0;
        let mut instances: Vec<GpuInstance> = world
            .avatars
            .iter()
            .map(|a| {
                let base = skinned_count;
                if !vertex_skinning {
                    skinned_count += u64::from(meshes[a.asset].vertex_count);
                }
                let bounds = world.assets[a.asset].bounds();
                let scale = a
                    .model
                    .to_scale_rotation_translation()
                    .0
                    .abs()
                    .max_element();
                let center = a.model.transform_point3(bounds.center);
                GpuInstance {
                    model: a.model.to_cols_array_2d(),
                    tint: a.tint.to_array(),
                    sphere: center.extend(bounds.radius * scale).to_array(),
                    palette_offset: a.palette_offset,
                    skinned_base: base as u32,
                    batch: 0,
                    scale,
                }
            })
            .collect();
        debug_assert_eq!(skinned_count, plan.skinned_vertices);

        // LOD tables, indirect draws (per batch: submesh-major, level-minor) and their
        // visible-list regions.
        let draw_params_stride = plan.draw_params_stride;
        let mut draw_params_bytes = vec![0u8; draw_params_stride as usize]; // slot 0: base 0
        let mut batch_lods = Vec::new();
        let mut batch_draws = Vec::new();
        let mut draw_template = Vec::new();
        let mut draw_slots: Vec<u32> = Vec::new();
        let mut triangles = Vec::new();
        for (bi, b) in world.batches.iter().enumerate() {
            let mesh = &meshes[b.asset];
            let lods = world.assets[b.asset].lods();
            for inst in &mut instances[b.first as usize..(b.first + b.count) as usize] {
                inst.batch = bi as u32;
            }
            let mut errors = [0.0f32; 8];
            for (e, level) in errors.iter_mut().zip(lods) {
                *e = level.model_error;
            }
            let level_count = lods.len().clamp(1, MAX_LODS);
            batch_lods.push(BatchLod {
                errors,
                level_count: level_count as u32,
                first_avatar: b.first,
                avatar_count: b.count,
                _pad: 0,
            });
            let region = |l: usize| MAX_LODS as u32 * b.first + l as u32 * b.count;
            let mut level_params = [0u32; MAX_LODS];
            for (l, offset) in level_params.iter_mut().enumerate() {
                *offset = push_slot(
                    &mut draw_params_bytes,
                    &DrawParams {
                        list_base: region(l),
                        _pad: [0; 3],
                    },
                    draw_params_stride,
                );
                triangles.push(mesh.level_triangles.get(l).copied().unwrap_or(0));
            }
            batch_draws.push(BatchDraws {
                mesh: mesh.clone(),
                first_draw: draw_template.len() as u32,
                level_params,
            });
            for s in 0..mesh.materials.len() {
                for l in 0..MAX_LODS {
                    // Levels past the chain never get avatars (the pass clamps to the chain).
                    let sm = mesh.levels.get(l).and_then(|lv| lv.get(s));
                    draw_template.push(DrawIndexedIndirect {
                        index_count: sm.map_or(0, |sm| sm.index_count),
                        instance_count: 0,
                        first_index: sm.map_or(0, |sm| sm.first_index),
                        base_vertex: 0,
                        first_instance: if renderer.avatar.multi_draw {
                            region(l)
                        } else {
                            0
                        },
                    });
                    draw_slots.push((bi * MAX_LODS + l) as u32);
                }
            }
        }
        let stats_layout = Arc::new(StatsLayout {
            triangles,
            avatars: instances.len() as u32,
        });
        debug_assert_eq!(
            [
                size_of_val(batch_lods.as_slice()),
                size_of_val(draw_slots.as_slice()),
                size_of_val(draw_template.as_slice()).max(size_of::<DrawIndexedIndirect>()),
            ]
            .map(|n| n as u64),
            [plan.cull.batch_lods, plan.cull.draw_slots, plan.cull.draws],
            "the limits check sized the cull + LOD tables differently"
        );

        // Skin-pass chunks and their params slots (compute skinning only).
        let params_stride = plan.batch_params_stride;
        let mut params_bytes = Vec::new();
        let chunks: Vec<Chunk> = plan
            .skin_chunks
            .iter()
            .map(|c| {
                let asset = world.batches[c.batch].asset;
                let mut level_vertices = [0u32; 8];
                for (v, level) in level_vertices.iter_mut().zip(world.assets[asset].lods()) {
                    *v = level.vertex_count;
                }
                let params_offset = push_slot(
                    &mut params_bytes,
                    &BatchParams {
                        vertex_count: meshes[asset].vertex_count,
                        first_instance: c.first_instance,
                        instance_count: c.instances,
                        _pad: 0,
                        level_vertices,
                    },
                    params_stride,
                );
                Chunk {
                    mesh: meshes[asset].clone(),
                    params_offset,
                    dispatch: c.dispatch,
                }
            })
            .collect();
        // The skin group binds one slot even when nothing is skinned in a compute pass.
        params_bytes.resize(params_bytes.len().max(params_stride as usize), 0);
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
        let params = init(
            "scene::batch_params",
            &params_bytes,
            wgpu::BufferUsages::UNIFORM,
        );
        let draw_params = init(
            "scene::draw_params",
            &draw_params_bytes,
            wgpu::BufferUsages::UNIFORM,
        );
        let batch_lod_buffer = init(
            "scene::batch_lods",
            bytemuck::cast_slice(&batch_lods),
            wgpu::BufferUsages::STORAGE,
        );
        let draw_slot_buffer = init(
            "scene::draw_slots",
            bytemuck::cast_slice(&draw_slots),
            wgpu::BufferUsages::STORAGE,
        );
        let buffer = |label: &str, size: u64, usage: wgpu::BufferUsages| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: size.max(64),
                usage,
                mapped_at_creation: false,
            })
        };
        let copy_dst = wgpu::BufferUsages::COPY_DST;
        let storage = wgpu::BufferUsages::STORAGE;
        let palettes = buffer(
            "scene::palettes",
            plan.palettes,
            storage | copy_dst | wgpu::BufferUsages::COPY_SRC,
        );
        let anim_gpu = animate
            .map(|((data, dispatch), pass)| AnimGpu::new(ctx, pass, data, &palettes, *dispatch));
        let instance_buffer = buffer("scene::instances", plan.instances, storage | copy_dst);
        let skinned = buffer(
            "scene::skinned",
            plan.skinned,
            storage | wgpu::BufferUsages::COPY_SRC,
        );
        let n_targets = world.desc.targets.len() as u64;
        let camera_stride = plan.camera_stride;
        let cameras = buffer(
            "scene::cameras",
            camera_stride * n_targets,
            wgpu::BufferUsages::UNIFORM | copy_dst,
        );
        let cull_stride = plan.cull_stride;
        let cull_params = buffer(
            "scene::cull_params",
            cull_stride * n_targets,
            wgpu::BufferUsages::UNIFORM | copy_dst,
        );
        let light = buffer(
            "scene::light",
            size_of::<LightUniform>() as u64,
            wgpu::BufferUsages::UNIFORM | copy_dst,
        );

        fn sized(buffer: &wgpu::Buffer, size: u64) -> wgpu::BindingResource<'_> {
            wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer,
                offset: 0,
                size: wgpu::BufferSize::new(size),
            })
        }
        fn entries<'a>(resources: Vec<wgpu::BindingResource<'a>>) -> Vec<wgpu::BindGroupEntry<'a>> {
            resources
                .into_iter()
                .enumerate()
                .map(|(i, resource)| wgpu::BindGroupEntry {
                    binding: i as u32,
                    resource,
                })
                .collect()
        }
        let needed = buffer("scene::needed_levels", plan.cull.needed, storage | copy_dst);
        let skin_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("scene::skin_group"),
            layout: &renderer.skin.frame_layout,
            entries: &entries(vec![
                palettes.as_entire_binding(),
                instance_buffer.as_entire_binding(),
                skinned.as_entire_binding(),
                sized(&params, size_of::<BatchParams>() as u64),
                needed.as_entire_binding(),
            ]),
        });
        let ground = world.desc.environment.ground.as_ref().map(|g| {
            let c = srgb_to_linear(g.color);
            let uniform = GroundUniform {
                color: [c[0] as f32, c[1] as f32, c[2] as f32, 1.0],
                half_size: g.size * 0.5,
                _pad: [0.0; 3],
            };
            let constants = init(
                "scene::ground",
                bytemuck::bytes_of(&uniform),
                wgpu::BufferUsages::UNIFORM,
            );
            device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("scene::ground_group"),
                layout: &renderer.ground.layout,
                entries: &entries(vec![
                    sized(&cameras, size_of::<CameraUniform>() as u64),
                    light.as_entire_binding(),
                    constants.as_entire_binding(),
                ]),
            })
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
                )
            })
            .collect();
        let draw_bytes: &[u8] = bytemuck::cast_slice(&draw_template);
        let target_gpu = targets
            .iter()
            .map(|t| {
                let label = |what: &str| format!("scene::{what}[{name}/{}]", t.name);
                let state = buffer(&label("lod_state"), plan.cull.state, storage | copy_dst);
                let copy_src = wgpu::BufferUsages::COPY_SRC;
                let visible = buffer(&label("visible"), plan.cull.visible, storage | copy_src);
                let draws = init(
                    &label("draws"),
                    if draw_bytes.is_empty() {
                        &[0; 20]
                    } else {
                        draw_bytes
                    },
                    storage | wgpu::BufferUsages::INDIRECT | copy_src,
                );
                let cull_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some(&label("cull_group")),
                    layout: &renderer.cull_lod.layout,
                    entries: &entries(vec![
                        sized(&cull_params, size_of::<CullParams>() as u64),
                        instance_buffer.as_entire_binding(),
                        batch_lod_buffer.as_entire_binding(),
                        state.as_entire_binding(),
                        t.counts.as_entire_binding(),
                        visible.as_entire_binding(),
                        draws.as_entire_binding(),
                        draw_slot_buffer.as_entire_binding(),
                        needed.as_entire_binding(),
                    ]),
                });
                let avatar_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some(&label("avatar_group")),
                    layout: &renderer.avatar.frame_layout,
                    entries: &entries(vec![
                        sized(&cameras, size_of::<CameraUniform>() as u64),
                        light.as_entire_binding(),
                        skinned.as_entire_binding(),
                        instance_buffer.as_entire_binding(),
                        sized(&draw_params, size_of::<DrawParams>() as u64),
                        palettes.as_entire_binding(),
                        visible.as_entire_binding(),
                    ]),
                });
                TargetGpu {
                    state,
                    visible,
                    draws,
                    cull_group,
                    avatar_group,
                }
            })
            .collect();
        let default_slot = ReadbackSlot::new(ctx, &name, &targets, stats_layout.clone());
        ctx.queue
            .write_buffer(&instance_buffer, 0, bytemuck::cast_slice(&instances));
        Ok(Self {
            world_name: name,
            instances,
            batch_lods,
            chunks,
            batch_draws,
            draw_template,
            vertex_skinning,
            cull_dispatch: plan.cull_dispatch,
            palettes,
            palette_len: world.palette_len,
            anim_gpu,
            _instance_buffer: instance_buffer,
            skinned,
            skinned_count: plan.skinned_vertices,
            cameras,
            camera_stride,
            cull_params,
            cull_stride,
            light,
            ground,
            skin_group,
            needed,
            target_gpu,
            stats_layout,
            targets,
            default_slot,
            camera: world.desc.camera.clone(),
            target_cameras: vec![None; world.desc.targets.len()],
            environment: world.desc.environment.clone(),
            lod: world.desc.lod.clone(),
        })
    }

    /// Scene name.
    pub fn name(&self) -> &str {
        &self.world_name
    }

    /// True when avatars are skinned in the vertex stage (see [`crate::scene::Skinning`]).
    pub fn vertex_skinning(&self) -> bool {
        self.vertex_skinning
    }

    /// A new readback slot for this scene's targets (one per frame in flight).
    pub fn new_slot(&self, ctx: &GpuContext) -> ReadbackSlot {
        ReadbackSlot::new(
            ctx,
            &self.world_name,
            &self.targets,
            self.stats_layout.clone(),
        )
    }

    /// Replace the camera for the following frames (each target keeps its aspect ratio).
    /// Targets given their own camera with [`Self::set_target_camera`] keep it.
    pub fn set_camera(&mut self, camera: crate::scene::Camera) {
        self.camera = camera;
    }

    /// Give target `target` (scene order) its own camera for the following frames, in place
    /// of the scene's (many views of one world in one submit). Panics when `target` is not
    /// below `targets.len()`.
    pub fn set_target_camera(&mut self, target: usize, camera: crate::scene::Camera) {
        self.target_cameras[target] = Some(camera);
    }

    /// Replace the LOD settings for the following frames.
    pub fn set_lod(&mut self, lod: crate::scene::LodSettings) {
        self.lod = lod;
    }

    /// The inputs of target `t`'s cull + LOD pass, for its CPU twin
    /// ([`cull_lod::cull_lod_cpu`]): instances, batch LOD tables and the pass parameters.
    pub fn cull_inputs(&self, t: usize) -> (&[GpuInstance], &[BatchLod], CullParams) {
        (&self.instances, &self.batch_lods, self.target_uniforms(t).1)
    }

    /// Target `t`'s camera uniform and cull parameters for its current camera.
    fn target_uniforms(&self, t: usize) -> (CameraUniform, CullParams) {
        let target = &self.targets[t];
        let eye = self.target_cameras[t].as_ref().unwrap_or(&self.camera);
        let camera = camera_uniform(eye, target.width as f32 / target.height as f32);
        let params = cull_lod::cull_params(
            eye,
            Mat4::from_cols_array_2d(&camera.view_proj),
            target.height,
            &self.lod,
            self.instances.len() as u32,
            self.draw_template.len() as u32,
        );
        (camera, params)
    }

    /// Record and submit one frame: upload, skin once (compute skinning), then per target cull
    /// and pick levels, draw, and copy the image and counts into `slot`. Returns the submission
    /// index; map the slot with [`ReadbackSlot::request_map`].
    pub fn submit(
        &self,
        ctx: &GpuContext,
        renderer: &FrameRenderer,
        anim: &FrameAnimation,
        slot: &ReadbackSlot,
    ) -> Result<wgpu::SubmissionIndex, RenderError> {
        self.encode_and_submit(
            ctx,
            renderer,
            (anim.time, Some(&anim.palettes)),
            Some(slot),
            None,
        )
    }

    /// Record and submit one frame without reading anything back (benchmarks, or a caller that
    /// uses the target textures on the GPU). With a `timer`, the frame's passes are timed on
    /// the GPU; read the time with [`GpuTimer::read_ms`] once the submission has finished.
    pub fn submit_without_readback(
        &self,
        ctx: &GpuContext,
        renderer: &FrameRenderer,
        anim: &FrameAnimation,
        timer: Option<&GpuTimer>,
    ) -> Result<wgpu::SubmissionIndex, RenderError> {
        self.encode_and_submit(
            ctx,
            renderer,
            (anim.time, Some(&anim.palettes)),
            None,
            timer,
        )
    }

    /// Upload this frame's palettes by letting `write` fill the GPU staging memory directly
    /// (`palette_len × 64` bytes; see `jobs::frame::FrameGraph::run_into`), which saves a copy
    /// of every palette. Returns `None` when the scene has no palettes or the staging memory
    /// cannot be had; then upload with [`Self::submit`] instead. Follow with
    /// [`Self::submit_uploaded`].
    pub fn write_palettes_with<T>(
        &self,
        ctx: &GpuContext,
        write: impl FnOnce(wgpu::WriteOnly<'_, [u8]>) -> T,
    ) -> Option<T> {
        let size = wgpu::BufferSize::new((self.palette_len * size_of::<Mat4>()) as u64)?;
        let mut view = ctx.queue.write_buffer_with(&self.palettes, 0, size)?;
        Some(write(view.slice(..)))
    }

    /// Record and submit the frame at scene time `time` whose palettes were uploaded with
    /// [`Self::write_palettes_with`], are computed on the GPU ([`Self::animates_on_gpu`]), or
    /// are given as `palettes` (as `jobs::frame::FrameGraph::run_for` returns them); copy the
    /// targets into `slot` when given, time the passes with `timer` when given.
    pub fn submit_uploaded(
        &self,
        ctx: &GpuContext,
        renderer: &FrameRenderer,
        (time, palettes): (f32, Option<&FrameAnimation>),
        slot: Option<&ReadbackSlot>,
        timer: Option<&GpuTimer>,
    ) -> Result<wgpu::SubmissionIndex, RenderError> {
        let palettes = palettes.map(|a| a.palettes.as_slice());
        self.encode_and_submit(ctx, renderer, (time, palettes), slot, timer)
    }

    /// True when the animation pass computes the palettes on the GPU (scene option
    /// `animation: Gpu`); palettes passed to [`Self::submit`] are then ignored.
    pub fn animates_on_gpu(&self) -> bool {
        self.anim_gpu.is_some()
    }

    /// Read the palettes of the last frame (for comparing with the CPU). Blocking.
    pub fn read_palettes(&self, ctx: &GpuContext) -> Result<Vec<Mat4>, RenderError> {
        let words = read_buffer_copy(ctx, &self.palettes)?;
        Ok(bytemuck::pod_collect_to_vec::<u32, Mat4>(&words)[..self.palette_len].to_vec())
    }

    fn encode_and_submit(
        &self,
        ctx: &GpuContext,
        renderer: &FrameRenderer,
        (time, palettes): (f32, Option<&[Mat4]>),
        slot: Option<&ReadbackSlot>,
        timer: Option<&GpuTimer>,
    ) -> Result<wgpu::SubmissionIndex, RenderError> {
        let queue = &ctx.queue;
        match (&self.anim_gpu, palettes) {
            (Some(anim), _) => anim.set_time(ctx, time),
            (None, Some(palettes)) => {
                queue.write_buffer(&self.palettes, 0, bytemuck::cast_slice(palettes))
            }
            (None, None) => {}
        }
        let mut camera_bytes = vec![0u8; self.camera_stride as usize * self.targets.len()];
        let mut cull_bytes = vec![0u8; self.cull_stride as usize * self.targets.len()];
        for i in 0..self.targets.len() {
            let (camera, params) = self.target_uniforms(i);
            let at = i * self.camera_stride as usize;
            camera_bytes[at..at + size_of::<CameraUniform>()]
                .copy_from_slice(bytemuck::bytes_of(&camera));
            let at = i * self.cull_stride as usize;
            cull_bytes[at..at + size_of::<CullParams>()]
                .copy_from_slice(bytemuck::bytes_of(&params));
        }
        queue.write_buffer(&self.cameras, 0, &camera_bytes);
        queue.write_buffer(&self.cull_params, 0, &cull_bytes);
        queue.write_buffer(
            &self.light,
            0,
            bytemuck::bytes_of(&light_uniform(&self.environment)),
        );

        let mut encoder = ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("scene::frame"),
            });
        if let Some(t) = timer {
            t.begin(&mut encoder);
        }
        if let (Some(anim), Ok(pass)) = (&self.anim_gpu, &renderer.animate) {
            pass.record(&mut encoder, anim);
        }
        // Cull and pick levels in every target first: the skin pass then skins each avatar
        // only as far as the finest level any target draws it at.
        encoder.clear_buffer(&self.needed, 0, None);
        for (i, (target, gpu)) in self.targets.iter().zip(&self.target_gpu).enumerate() {
            encoder.clear_buffer(&target.counts, 0, None);
            renderer.cull_lod.record(
                &mut encoder,
                &gpu.cull_group,
                (i as u64 * self.cull_stride) as u32,
                self.cull_dispatch,
            );
        }
        if !self.vertex_skinning {
            let chunks: Vec<(&GpuMesh, u32, [u32; 3])> = self
                .chunks
                .iter()
                .map(|c| (c.mesh.as_ref(), c.params_offset, c.dispatch))
                .collect();
            renderer
                .skin
                .record(&mut encoder, &self.skin_group, &chunks)?;
        }
        let sky = srgb_to_linear(self.environment.sky);
        for (i, (target, gpu)) in self.targets.iter().zip(&self.target_gpu).enumerate() {
            let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("avatar::pass"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: &target.color_view,
                    depth_slice: None,
                    resolve_target: None,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(wgpu::Color {
                            r: sky[0],
                            g: sky[1],
                            b: sky[2],
                            a: 1.0,
                        }),
                        store: wgpu::StoreOp::Store,
                    },
                })],
                depth_stencil_attachment: Some(wgpu::RenderPassDepthStencilAttachment {
                    view: &target.depth_view,
                    depth_ops: Some(wgpu::Operations {
                        load: wgpu::LoadOp::Clear(1.0),
                        store: wgpu::StoreOp::Discard,
                    }),
                    stencil_ops: None,
                }),
                timestamp_writes: None,
                occlusion_query_set: None,
                multiview_mask: None,
            });
            let camera_offset = (i as u64 * self.camera_stride) as u32;
            if let Some(group) = &self.ground {
                renderer.ground.record(&mut pass, group, camera_offset);
            }
            renderer.avatar.record(
                &mut pass,
                &gpu.avatar_group,
                camera_offset,
                self.vertex_skinning,
                &self.batch_draws,
                &gpu.draws,
            );
        }
        if let Some(t) = timer {
            t.end(&mut encoder);
        }
        if let Some(slot) = slot {
            slot.encode_copies(&mut encoder, &self.targets);
        }
        Ok(queue.submit([encoder.finish()]))
    }

    /// Forget every avatar's previous level (hysteresis restarts from the plain choice).
    pub fn reset_lod_history(&self, ctx: &GpuContext) {
        let mut encoder = ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("scene::reset_lod_history"),
            });
        for gpu in &self.target_gpu {
            encoder.clear_buffer(&gpu.state, 0, None);
        }
        ctx.queue.submit([encoder.finish()]);
    }

    /// Read target `t`'s choices of the last frame: each avatar's level, `None` if culled.
    /// Blocking; for tests and tools.
    pub fn read_lod_choices(
        &self,
        ctx: &GpuContext,
        t: usize,
    ) -> Result<Vec<Option<u32>>, RenderError> {
        let target = &self.targets[t];
        let counts = read_buffer_copy(ctx, &target.counts)?;
        let visible = read_buffer_copy(ctx, &self.target_gpu[t].visible)?;
        let mut out = vec![None; self.instances.len()];
        for (bi, b) in self.batch_lods.iter().enumerate() {
            for l in 0..MAX_LODS {
                let n = counts[bi * MAX_LODS + l] as usize;
                let base = (MAX_LODS as u32 * b.first_avatar + l as u32 * b.avatar_count) as usize;
                for &a in &visible[base..base + n] {
                    out[a as usize] = Some(l as u32);
                }
            }
        }
        Ok(out)
    }

    /// Read target `t`'s indirect draws of the last frame.
    pub fn read_draws(
        &self,
        ctx: &GpuContext,
        t: usize,
    ) -> Result<Vec<DrawIndexedIndirect>, RenderError> {
        let words = read_buffer_copy(ctx, &self.target_gpu[t].draws)?;
        Ok(
            bytemuck::pod_collect_to_vec::<u32, DrawIndexedIndirect>(&words)
                [..self.draw_template.len()]
                .to_vec(),
        )
    }

    /// Render one frame into every target and read them back (blocking).
    pub fn render(
        &self,
        ctx: &GpuContext,
        renderer: &FrameRenderer,
        anim: &FrameAnimation,
    ) -> Result<Vec<TargetImage>, RenderError> {
        let index = self.submit(ctx, renderer, anim, &self.default_slot)?;
        self.default_slot.request_map();
        ctx.wait_for(index)?;
        let images = self.default_slot.take_images().map_err(|message| {
            RenderError::Readback(ReadbackError::Map {
                adapter: ctx.label.clone(),
                message,
            })
        })?;
        ctx.check()?;
        Ok(images)
    }

    /// Read the skinned vertices of the last frame (for comparing with the CPU twin). Empty
    /// when the scene skins in the vertex stage.
    pub fn read_skinned(&self, ctx: &GpuContext) -> Result<Vec<SkinnedVertex>, RenderError> {
        let words = read_buffer_copy(ctx, &self.skinned)?;
        let n = self.skinned_count as usize;
        Ok(bytemuck::pod_collect_to_vec::<u32, SkinnedVertex>(&words)[..n].to_vec())
    }
}

/// Copy a `COPY_SRC` buffer into a staging buffer and read it as `u32` words (blocking).
fn read_buffer_copy(ctx: &GpuContext, buffer: &wgpu::Buffer) -> Result<Vec<u32>, RenderError> {
    let staging = ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("scene::debug_readback"),
        size: buffer.size(),
        usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
        mapped_at_creation: false,
    });
    let mut encoder = ctx
        .device
        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("scene::debug_copy"),
        });
    encoder.copy_buffer_to_buffer(buffer, 0, &staging, 0, buffer.size());
    ctx.queue.submit([encoder.finish()]);
    Ok(bytemuck::pod_collect_to_vec(&read_buffer(ctx, &staging)?))
}

/// View-projection for a camera at an aspect ratio (wgpu depth range 0..1).
pub fn camera_uniform(cam: &crate::scene::Camera, aspect: f32) -> CameraUniform {
    let eye = Vec3::new(cam.eye.0, cam.eye.1, cam.eye.2);
    let target = Vec3::new(cam.target.0, cam.target.1, cam.target.2);
    let dir = (target - eye).normalize_or(Vec3::NEG_Z);
    let up = if dir.cross(Vec3::Y).length() < 1e-4 {
        Vec3::Z
    } else {
        Vec3::Y
    };
    let view = Mat4::look_at_rh(eye, target, up);
    let proj = Mat4::perspective_rh(cam.fov_y.to_radians(), aspect, cam.near, cam.far);
    CameraUniform {
        view_proj: (proj * view).to_cols_array_2d(),
        eye: eye.extend(1.0).to_array(),
    }
}

fn light_uniform(env: &crate::scene::Environment) -> LightUniform {
    let d = Vec3::new(
        env.sun_direction.0,
        env.sun_direction.1,
        env.sun_direction.2,
    );
    let to_sun = (-d).normalize_or(Vec3::Y);
    LightUniform {
        to_sun: to_sun.extend(0.0).to_array(),
        sun_color: [env.sun_color.0, env.sun_color.1, env.sun_color.2, 0.0],
        ambient: [env.ambient, env.ambient, env.ambient, 0.0],
    }
}

/// sRGB (0..1) to linear, for the clear colour of an sRGB target.
fn srgb_to_linear(c: (f32, f32, f32)) -> [f64; 3] {
    let f = |x: f32| {
        let x = f64::from(x.clamp(0.0, 1.0));
        if x <= 0.04045 {
            x / 12.92
        } else {
            ((x + 0.055) / 1.055).powf(2.4)
        }
    };
    [f(c.0), f(c.1), f(c.2)]
}
