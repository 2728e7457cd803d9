//! The one way a frame reaches the GPU: a [`FrameInput`] (scene time, palettes, environment,
//! and what to do with the result) goes to [`SceneRenderer::submit`], or to
//! [`SceneRenderer::record`] into a host's encoder and views. [`SceneRenderer::prepare`] runs
//! the scene's frame graph first and stages its palettes the cheapest way.

use super::cull_lod;
use super::gpu_data::{CameraUniform, CullParams, LightUniform};
use super::skin::SkinDispatch;
use super::{Pipelines, ReadbackSlot, RenderError, SceneRenderer, TargetImage};
use crate::env::EnvironmentFrame;
use crate::gpu::{GpuContext, GpuTimer, ReadbackError};
use crate::jobs::Executor;
use crate::scene::{Camera, FrameGraph, SceneFrame};
use glam::{Mat4, Vec3};

/// Where a frame's joint palettes come from.
#[derive(Debug, Clone, Copy)]
pub enum Palettes<'a> {
    /// Already written into the scene's staging memory by [`SceneRenderer::prepare`], or
    /// computed on the GPU (`animation: Gpu`), or the scene has none.
    Staged,
    /// Given here; uploaded with the frame (ignored when the scene animates on the GPU).
    Cpu(&'a [Mat4]),
}

/// The body of one GPU timing scope: records passes into the encoder.
pub type ScopeBody<'b> = dyn FnMut(&mut wgpu::CommandEncoder) -> Result<(), RenderError> + 'b;

/// Brackets groups of passes with GPU timestamp scopes, e.g. a `wgpu_profiler::GpuProfiler`
/// (the desktop app's overlay does that). [`SceneRenderer::record`] opens one scope per group:
/// `animate`, `cull+lod <target>` per target, `skin`, and `raster <target>` per target.
pub trait PassScopes {
    /// Record `body` into `encoder` inside a scope named `label`.
    fn scope(
        &self,
        label: &str,
        encoder: &mut wgpu::CommandEncoder,
        body: &mut ScopeBody<'_>,
    ) -> Result<(), RenderError>;
}

/// No scopes: run the body as is.
fn scoped(
    scopes: Option<&dyn PassScopes>,
    label: impl FnOnce() -> String,
    encoder: &mut wgpu::CommandEncoder,
    body: &mut ScopeBody<'_>,
) -> Result<(), RenderError> {
    match scopes {
        Some(s) => s.scope(&label(), encoder, body),
        None => body(encoder),
    }
}

/// One frame for [`SceneRenderer::submit`] / [`SceneRenderer::record`].
#[derive(Clone, Copy)]
pub struct FrameInput<'a> {
    /// Scene time in seconds (offscreen: `frame / fps`, never the wall clock).
    pub time: f32,
    /// The joint palettes.
    pub palettes: Palettes<'a>,
    /// Sun, sky and ambient light: what the environment job computed.
    pub environment: &'a EnvironmentFrame,
    /// Copy every target's image and counts into this slot ([`SceneRenderer::submit`] only).
    pub readback: Option<&'a ReadbackSlot>,
    /// Time the frame's passes on the GPU.
    pub timer: Option<&'a GpuTimer>,
    /// Time each group of passes in its own scope.
    pub scopes: Option<&'a dyn PassScopes>,
}

impl<'a> FrameInput<'a> {
    /// A frame computed on the CPU in one piece (e.g. by [`crate::scene::World::animate`] or
    /// [`FrameGraph::run`]), palettes uploaded with it.
    pub fn new(frame: &'a SceneFrame) -> Self {
        Self {
            time: frame.time,
            palettes: Palettes::Cpu(&frame.palettes),
            environment: &frame.environment,
            readback: None,
            timer: None,
            scopes: None,
        }
    }

    /// Time each group of passes in a scope of `scopes`.
    pub fn with_scopes(self, scopes: Option<&'a dyn PassScopes>) -> Self {
        Self { scopes, ..self }
    }

    /// Copy the targets into `slot`.
    pub fn with_readback(self, slot: &'a ReadbackSlot) -> Self {
        Self {
            readback: Some(slot),
            ..self
        }
    }

    /// Time the passes with `timer`.
    pub fn with_timer(self, timer: Option<&'a GpuTimer>) -> Self {
        Self { timer, ..self }
    }
}

impl<'a> From<&'a SceneFrame> for FrameInput<'a> {
    fn from(frame: &'a SceneFrame) -> Self {
        Self::new(frame)
    }
}

/// A frame whose CPU side has run ([`SceneRenderer::prepare`]): its palettes are staged for the
/// scene's device, or held here when no staging memory could be had.
#[derive(Debug, Clone)]
pub struct PreparedFrame {
    /// Scene time in seconds.
    pub time: f32,
    /// What the environment job computed.
    pub environment: EnvironmentFrame,
    /// Palettes not staged (empty when they were staged or are computed on the GPU).
    palettes: Option<Vec<Mat4>>,
}

impl PreparedFrame {
    /// The frame to submit.
    pub fn input(&self) -> FrameInput<'_> {
        FrameInput {
            time: self.time,
            palettes: match &self.palettes {
                Some(p) => Palettes::Cpu(p),
                None => Palettes::Staged,
            },
            environment: &self.environment,
            readback: None,
            timer: None,
            scopes: None,
        }
    }
}

/// What a submitted frame gives back.
#[derive(Debug, Clone)]
pub struct FrameOutput {
    /// The submission; wait for it with [`GpuContext::wait_for`], then read the readback slot.
    pub submission: wgpu::SubmissionIndex,
}

impl SceneRenderer {
    /// Run `graph` (this scene's [`FrameGraph`]) for scene time `time` on `exec`, getting the
    /// palettes to the device the cheapest way: nothing when the scene animates on the GPU,
    /// otherwise the animation jobs write straight into GPU staging memory, or into a vector
    /// when none can be had. Submit the result with [`PreparedFrame::input`] next, on the same
    /// queue, before preparing another frame of this scene.
    pub fn prepare(
        &self,
        ctx: &GpuContext,
        exec: &Executor,
        graph: &FrameGraph,
        time: f32,
    ) -> Result<PreparedFrame, RenderError> {
        if !self.animates_on_gpu()
            && let Some(size) = wgpu::BufferSize::new((self.palette_len * size_of::<Mat4>()) as u64)
            && let Some(mut view) = ctx.queue.write_buffer_with(&self.palettes, 0, size)
        {
            let environment = graph.run_into(exec, time, view.slice(..))?;
            return Ok(PreparedFrame {
                time,
                environment,
                palettes: None,
            });
        }
        let frame = graph.run(exec, time)?;
        Ok(PreparedFrame {
            time,
            environment: frame.environment,
            palettes: (!self.animates_on_gpu() && !frame.palettes.is_empty())
                .then_some(frame.palettes),
        })
    }

    /// Record and submit one frame into this scene's own targets: upload, skin once (compute
    /// skinning), then per target cull and pick levels, draw, and copy the image and counts
    /// into `input.readback` when given. Map that slot with [`ReadbackSlot::request_map`].
    pub fn submit(
        &self,
        ctx: &GpuContext,
        pipelines: &Pipelines,
        input: &FrameInput<'_>,
    ) -> Result<FrameOutput, RenderError> {
        if input.readback.is_some() && self.default_slot.is_none() {
            return Err(RenderError::NoReadback {
                scene: self.world_name.clone(),
            });
        }
        let mut encoder = ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("scene::frame"),
            });
        self.record(ctx, pipelines, &mut encoder, input, None)?;
        if let Some(slot) = input.readback {
            slot.encode_copies(&mut encoder, &self.targets);
        }
        Ok(FrameOutput {
            submission: ctx.queue.submit([encoder.finish()]),
        })
    }

    /// Record one frame into `encoder` (uniform uploads go to `ctx.queue` and take effect at
    /// the next submission, so submit the encoder before recording this scene's next frame).
    /// `views` gives one colour view per target (a host's surface or texture, in the format
    /// `pipelines` were built for, sized like the target; see [`Self::resize_target`]); `None`
    /// draws into the scene's own colour textures. Depth is always the scene's own. The
    /// readback in `input` is ignored here (see [`Self::submit`]).
    pub fn record(
        &self,
        ctx: &GpuContext,
        pipelines: &Pipelines,
        encoder: &mut wgpu::CommandEncoder,
        input: &FrameInput<'_>,
        views: Option<&[&wgpu::TextureView]>,
    ) -> Result<(), RenderError> {
        let colors: Vec<&wgpu::TextureView> = match views {
            Some(views) if views.len() == self.targets.len() => views.to_vec(),
            Some(views) => {
                return Err(RenderError::Views {
                    scene: self.world_name.clone(),
                    targets: self.targets.len(),
                    views: views.len(),
                });
            }
            None => self
                .targets
                .iter()
                .map(|t| t.color.as_ref().map(|c| &c.view))
                .collect::<Option<_>>()
                .ok_or_else(|| RenderError::Views {
                    scene: self.world_name.clone(),
                    targets: self.targets.len(),
                    views: 0,
                })?,
        };
        self.upload(ctx, input);
        if let Some(t) = input.timer {
            t.begin(encoder);
        }
        let scopes = input.scopes;
        if let (Some(anim), Ok(pass)) = (&self.anim_gpu, &pipelines.animate) {
            scoped(scopes, || "animate".into(), encoder, &mut |e| {
                pass.record(e, anim);
                Ok(())
            })?;
        }
        // Cull and pick levels in every target first: the skin pass then skins each avatar
        // only as far as the finest level any target draws it at.
        encoder.clear_buffer(&self.needed, 0, None);
        for (i, (target, gpu)) in self.targets.iter().zip(&self.target_gpu).enumerate() {
            scoped(
                scopes,
                || format!("cull+lod {}", target.name),
                encoder,
                &mut |e| {
                    e.clear_buffer(&target.counts, 0, None);
                    pipelines.cull_lod.record(
                        e,
                        &gpu.cull_group,
                        (i as u64 * self.cull_stride) as u32,
                        self.cull_dispatch,
                    );
                    Ok(())
                },
            )?;
        }
        if !self.vertex_skinning {
            let chunks: Vec<SkinDispatch<'_>> = self
                .tables
                .skin_chunks
                .iter()
                .map(|c| SkinDispatch {
                    mesh_group: &self.meshes[c.asset].rest_group,
                    params_offset: c.params_offset,
                    workgroups: c.workgroups,
                })
                .collect();
            scoped(scopes, || "skin".into(), encoder, &mut |e| {
                pipelines.skin.record(e, &self.skin_group, &chunks)
            })?;
        }
        let draws: Vec<_> = self
            .tables
            .batch_draws
            .iter()
            .map(|b| self.meshes[b.asset].draws(b.first_draw, b.level_params))
            .collect();
        let sky = srgb_to_linear(input.environment.sky.into());
        for (i, ((target, gpu), color)) in self
            .targets
            .iter()
            .zip(&self.target_gpu)
            .zip(colors)
            .enumerate()
        {
            scoped(
                scopes,
                || format!("raster {}", target.name),
                encoder,
                &mut |e| {
                    let mut pass = e.begin_render_pass(&wgpu::RenderPassDescriptor {
                        label: Some("avatar::pass"),
                        color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                            view: color,
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
                        pipelines.ground.record(&mut pass, group, camera_offset);
                    }
                    pipelines.avatar.record(
                        &mut pass,
                        &gpu.avatar_group,
                        camera_offset,
                        self.vertex_skinning,
                        &draws,
                        &gpu.draws,
                    );
                    Ok(())
                },
            )?;
        }
        if let Some(t) = input.timer {
            t.end(encoder);
        }
        Ok(())
    }

    /// Write the frame's palettes (unless staged or computed on the GPU), cameras, cull
    /// parameters and light.
    fn upload(&self, ctx: &GpuContext, input: &FrameInput<'_>) {
        let queue = &ctx.queue;
        match (&self.anim_gpu, input.palettes) {
            (Some(anim), _) => anim.set_time(ctx, input.time),
            (None, Palettes::Cpu(palettes)) if !palettes.is_empty() => {
                queue.write_buffer(&self.palettes, 0, bytemuck::cast_slice(palettes))
            }
            (None, _) => {}
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
            bytemuck::bytes_of(&light_uniform(input.environment)),
        );
    }

    /// Target `t`'s camera uniform and cull parameters for its current camera.
    pub(super) fn target_uniforms(&self, t: usize) -> (CameraUniform, CullParams) {
        let target = &self.targets[t];
        let cam = self.target_cameras[t].as_ref().unwrap_or(&self.camera);
        let camera = camera_uniform(cam, target.width as f32 / target.height as f32);
        let params = cull_lod::cull_params(
            cam,
            Mat4::from_cols_array_2d(&camera.view_proj),
            target.height,
            &self.lod,
            self.avatar_count,
            self.tables.draw_template.len() as u32,
        );
        (camera, params)
    }

    /// Render one frame into every target and read them back (blocking): [`Self::submit`]
    /// with the scene's own readback slot, then wait.
    pub fn render<'a>(
        &self,
        ctx: &GpuContext,
        pipelines: &Pipelines,
        frame: impl Into<FrameInput<'a>>,
    ) -> Result<Vec<TargetImage>, RenderError> {
        let slot = self
            .default_slot
            .as_ref()
            .ok_or_else(|| RenderError::NoReadback {
                scene: self.world_name.clone(),
            })?;
        let out = self.submit(ctx, pipelines, &frame.into().with_readback(slot))?;
        slot.request_map();
        ctx.wait_for(out.submission)?;
        let images = slot.take_images().map_err(|message| {
            RenderError::Readback(ReadbackError::Map {
                adapter: ctx.label.clone(),
                message,
            })
        })?;
        ctx.check()?;
        Ok(images)
    }
}

/// View-projection for a camera at an aspect ratio (wgpu depth range 0..1).
pub fn camera_uniform(cam: &Camera, aspect: f32) -> CameraUniform {
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

/// The light uniform of an environment frame.
fn light_uniform(env: &EnvironmentFrame) -> LightUniform {
    LightUniform {
        to_sun: env.to_sun.extend(0.0).to_array(),
        sun_color: env.sun_color.extend(0.0).to_array(),
        ambient: [env.ambient, env.ambient, env.ambient, 0.0],
    }
}

/// sRGB (0..1) to linear, for the clear colour of an sRGB target.
pub(super) fn srgb_to_linear(c: (f32, f32, f32)) -> [f64; 3] {
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
