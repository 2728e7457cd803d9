//! Rendering: one file per pass (`skin.rs`, `avatar.rs`), GPU meshes, targets, and the
//! [`SceneRenderer`] that draws a [`World`] frame into all of its targets.
//!
//! Per frame and device: the palettes and instance data are uploaded once, the skin pass runs
//! once, then each target gets one raster pass from the same skinned vertices and a copy into its
//! staging buffer. Targets differ only in their camera uniform (aspect ratio) and size.

/// The WGSL source of a pass: `shaders/shared/types.wgsl` followed by `shaders/<file>`.
macro_rules! shader_source {
    ($file:literal) => {
        concat!(
            include_str!("../../shaders/shared/types.wgsl"),
            "\n",
            include_str!(concat!("../../shaders/", $file))
        )
    };
}
pub(crate) use shader_source;

pub mod avatar;
pub mod gpu_data;
mod mesh;
pub mod skin;
mod target;

pub use mesh::GpuMesh;
pub use target::{ReadbackSlot, RenderTarget, TargetImage};

use crate::gpu::{GpuContext, GpuError, ReadbackError, read_buffer};
use crate::scene::{FrameAnimation, World};
use avatar::AvatarPass;
use glam::{Mat4, Vec3};
use gpu_data::{BatchParams, CameraUniform, GpuInstance, LightUniform, SkinnedVertex};
use skin::SkinPass;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Errors from rendering.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// The scene does not fit this device.
    #[error("scene {scene:?} does not fit adapter {adapter}: {message}")]
    TooLarge {
        /// Scene name.
        scene: String,
        /// Adapter label.
        adapter: String,
        /// What exceeds which limit, and what to do.
        message: String,
    },
    /// A device error during the frame.
    #[error(transparent)]
    Gpu(#[from] GpuError),
    /// Readback failed.
    #[error(transparent)]
    Readback(#[from] ReadbackError),
}

/// GPU meshes by asset identity; the `Arc<Asset>` keeps the key's allocation alive.
type MeshCache = HashMap<usize, (Arc<crate::assets::Asset>, Arc<GpuMesh>)>;

/// Per-device renderer state shared by every scene on that device: pipelines and GPU meshes.
pub struct FrameRenderer {
    /// The skin pass.
    pub skin: SkinPass,
    /// The avatar raster pass.
    pub avatar: AvatarPass,
    meshes: Mutex<MeshCache>,
}

impl FrameRenderer {
    /// Build the pipelines on a device (once; reused by every scene and frame).
    pub fn new(ctx: &GpuContext) -> Self {
        Self {
            skin: SkinPass::new(ctx),
            avatar: AvatarPass::new(ctx),
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

/// One draw-batch chunk: at most 65,535 instances (the dispatch limit per dimension).
struct Chunk {
    mesh: Arc<GpuMesh>,
    params_offset: u32,
    instances: u32,
}

fn align(size: u64, to: u64) -> u64 {
    size.div_ceil(to) * to
}

/// A world's GPU state on one device: buffers, bind groups and targets.
pub struct SceneRenderer {
    world_name: String,
    instances: Vec<GpuInstance>,
    chunks: Vec<Chunk>,
    palettes: wgpu::Buffer,
    instance_buffer: wgpu::Buffer,
    skinned: wgpu::Buffer,
    skinned_count: u64,
    cameras: wgpu::Buffer,
    camera_stride: u64,
    light: wgpu::Buffer,
    skin_group: wgpu::BindGroup,
    avatar_group: wgpu::BindGroup,
    /// The targets, in scene order.
    pub targets: Vec<RenderTarget>,
    /// Readback slot used by [`Self::render`].
    default_slot: ReadbackSlot,
    camera: crate::scene::Camera,
    environment: crate::scene::Environment,
}

impl SceneRenderer {
    /// Allocate everything a world needs on a device. Fails if the world exceeds device limits.
    pub fn new(
        ctx: &GpuContext,
        renderer: &FrameRenderer,
        world: &World,
    ) -> Result<Self, RenderError> {
        let device = &ctx.device;
        let name = world.desc.name.clone();
        let too_large = |message: String| RenderError::TooLarge {
            scene: name.clone(),
            adapter: ctx.label.clone(),
            message,
        };
        let meshes: Vec<Arc<GpuMesh>> =
            world.assets.iter().map(|a| renderer.mesh(ctx, a)).collect();

        // Instance data and skinned-vertex ranges.
        let mut skinned_count: u64 = 0;
        let instances: Vec<GpuInstance> = world
            .avatars
            .iter()
            .map(|a| {
                let base = skinned_count;
                skinned_count += u64::from(meshes[a.asset].vertex_count);
                GpuInstance {
                    model: a.model.to_cols_array_2d(),
                    tint: a.tint.to_array(),
                    palette_offset: a.palette_offset,
                    skinned_base: base as u32,
                    _pad: [0; 2],
                }
            })
            .collect();
        let skinned_bytes = skinned_count * size_of::<SkinnedVertex>() as u64;
        let max_binding = ctx
            .limits
            .max_storage_buffer_binding_size
            .min(ctx.limits.max_buffer_size);
        if skinned_bytes > max_binding || skinned_count > u64::from(u32::MAX) {
            return Err(too_large(format!(
                "the skinned vertices of all avatars need {skinned_bytes} bytes, the device binds at most {max_binding}; use fewer avatars or a lower-detail asset"
            )));
        }
        let palette_bytes = (world.palette_len * 64) as u64;
        if palette_bytes > max_binding {
            return Err(too_large(format!(
                "joint palettes need {palette_bytes} bytes, the device binds at most {max_binding}"
            )));
        }
        for t in &world.desc.targets {
            let max = ctx.limits.max_texture_dimension_2d;
            if t.width > max || t.height > max {
                return Err(too_large(format!(
                    "target {:?} is {}x{}, the device allows at most {max} pixels per side",
                    t.name, t.width, t.height
                )));
            }
        }

        // Batch chunks and their params slots.
        let ualign = u64::from(ctx.limits.min_uniform_buffer_offset_alignment);
        let params_stride = align(size_of::<BatchParams>() as u64, ualign);
        let mut params_bytes = Vec::new();
        let mut chunks = Vec::new();
        for b in &world.batches {
            let mut first = b.first;
            let end = b.first + b.count;
            while first < end {
                let n = (end - first).min(65_535);
                let offset = params_bytes.len() as u64;
                params_bytes.extend_from_slice(bytemuck::bytes_of(&BatchParams {
                    vertex_count: meshes[b.asset].vertex_count,
                    first_instance: first,
                    instance_count: n,
                    _pad: 0,
                }));
                params_bytes.resize(align(params_bytes.len() as u64, params_stride) as usize, 0);
                chunks.push(Chunk {
                    mesh: meshes[b.asset].clone(),
                    params_offset: offset as u32,
                    instances: n,
                });
                first += n;
            }
        }
        let params = wgpu::util::DeviceExt::create_buffer_init(
            device,
            &wgpu::util::BufferInitDescriptor {
                label: Some("scene::batch_params"),
                contents: &params_bytes,
                usage: wgpu::BufferUsages::UNIFORM,
            },
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
        let palettes = buffer(
            "scene::palettes",
            palette_bytes,
            wgpu::BufferUsages::STORAGE | copy_dst,
        );
        let instance_buffer = buffer(
            "scene::instances",
            (instances.len() * size_of::<GpuInstance>()) as u64,
            wgpu::BufferUsages::STORAGE | copy_dst,
        );
        let skinned = buffer(
            "scene::skinned",
            skinned_bytes,
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        );
        let camera_stride = align(size_of::<CameraUniform>() as u64, ualign);
        let cameras = buffer(
            "scene::cameras",
            camera_stride * world.desc.targets.len() as u64,
            wgpu::BufferUsages::UNIFORM | copy_dst,
        );
        let light = buffer(
            "scene::light",
            size_of::<LightUniform>() as u64,
            wgpu::BufferUsages::UNIFORM | copy_dst,
        );

        fn sized(buffer: &wgpu::Buffer, size: u64) -> wgpu::BufferBinding<'_> {
            wgpu::BufferBinding {
                buffer,
                offset: 0,
                size: wgpu::BufferSize::new(size),
            }
        }
        let skin_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("scene::skin_group"),
            layout: &renderer.skin.frame_layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: palettes.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: instance_buffer.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: skinned.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 3,
                    resource: wgpu::BindingResource::Buffer(sized(
                        &params,
                        size_of::<BatchParams>() as u64,
                    )),
                },
            ],
        });
        let avatar_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("scene::avatar_group"),
            layout: &renderer.avatar.frame_layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: wgpu::BindingResource::Buffer(sized(
                        &cameras,
                        size_of::<CameraUniform>() as u64,
                    )),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: light.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: skinned.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 3,
                    resource: instance_buffer.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 4,
                    resource: wgpu::BindingResource::Buffer(sized(
                        &params,
                        size_of::<BatchParams>() as u64,
                    )),
                },
            ],
        });
        let targets: Vec<RenderTarget> = world
            .desc
            .targets
            .iter()
            .map(|t| RenderTarget::new(ctx, &name, &t.name, t.width, t.height))
            .collect();
        let default_slot = ReadbackSlot::new(ctx, &name, &targets);
        Ok(Self {
            world_name: name,
            instances,
            chunks,
            palettes,
            instance_buffer,
            skinned,
            skinned_count,
            cameras,
            camera_stride,
            light,
            skin_group,
            avatar_group,
            targets,
            default_slot,
            camera: world.desc.camera.clone(),
            environment: world.desc.environment.clone(),
        })
    }

    /// Scene name.
    pub fn name(&self) -> &str {
        &self.world_name
    }

    /// A new readback slot for this scene's targets (one per frame in flight).
    pub fn new_slot(&self, ctx: &GpuContext) -> ReadbackSlot {
        ReadbackSlot::new(ctx, &self.world_name, &self.targets)
    }

    /// Record and submit one frame: upload, skin once, draw every target, copy every target into
    /// `slot`. Returns the submission index; map the slot with [`ReadbackSlot::request_map`].
    pub fn submit(
        &self,
        ctx: &GpuContext,
        renderer: &FrameRenderer,
        anim: &FrameAnimation,
        slot: &ReadbackSlot,
    ) -> Result<wgpu::SubmissionIndex, RenderError> {
        let queue = &ctx.queue;
        queue.write_buffer(&self.palettes, 0, bytemuck::cast_slice(&anim.palettes));
        queue.write_buffer(
            &self.instance_buffer,
            0,
            bytemuck::cast_slice(&self.instances),
        );
        let mut camera_bytes = vec![0u8; self.camera_stride as usize * self.targets.len()];
        for (i, t) in self.targets.iter().enumerate() {
            let u = camera_uniform(&self.camera, t.width as f32 / t.height as f32);
            let at = i * self.camera_stride as usize;
            camera_bytes[at..at + size_of::<CameraUniform>()]
                .copy_from_slice(bytemuck::bytes_of(&u));
        }
        queue.write_buffer(&self.cameras, 0, &camera_bytes);
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
        let chunks: Vec<(&GpuMesh, u32, u32)> = self
            .chunks
            .iter()
            .map(|c| (c.mesh.as_ref(), c.params_offset, c.instances))
            .collect();
        renderer
            .skin
            .record(&mut encoder, &self.skin_group, &chunks)?;
        let sky = srgb_to_linear(self.environment.sky);
        for (i, target) in self.targets.iter().enumerate() {
            {
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
                renderer.avatar.record(
                    &mut pass,
                    &self.avatar_group,
                    (i as u64 * self.camera_stride) as u32,
                    &chunks,
                );
            }
        }
        slot.encode_copies(&mut encoder, &self.targets);
        Ok(queue.submit([encoder.finish()]))
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

    /// Read the skinned vertices of the last frame (for comparing with the CPU twin).
    pub fn read_skinned(&self, ctx: &GpuContext) -> Result<Vec<SkinnedVertex>, RenderError> {
        let size = (self.skinned_count * size_of::<SkinnedVertex>() as u64).max(64);
        let staging = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("scene::skinned_readback"),
            size,
            usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
            mapped_at_creation: false,
        });
        let mut encoder = ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("scene::skinned_copy"),
            });
        encoder.copy_buffer_to_buffer(&self.skinned, 0, &staging, 0, size);
        ctx.queue.submit([encoder.finish()]);
        let bytes = read_buffer(ctx, &staging)?;
        let n = self.skinned_count as usize;
        Ok(bytemuck::pod_collect_to_vec::<u8, SkinnedVertex>(&bytes)[..n].to_vec())
    }
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
