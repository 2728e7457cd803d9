//! Device limits: everything a scene will create on a device (buffers, storage and uniform
//! bindings, compute dispatches, textures, bind group layouts), sized on the CPU and checked
//! against the device's [`wgpu::Limits`] before a single wgpu object exists.
//!
//! wgpu reports a resource the device cannot hold as a validation error, and a validation error
//! marks the whole device as failed ([`crate::gpu::GpuContext::check`]). Without this check, a
//! scene too large for one adapter would retire that healthy adapter, then the next. With it,
//! [`super::SceneRenderer::new`] fails with [`super::RenderError::ExceedsLimit`] instead (tell
//! it apart with [`super::RenderError::is_does_not_fit`]): the scene does not fit this device,
//! and the device stays fine for other scenes. [`check_scene`] runs the same check without a
//! device, on any [`wgpu::Limits`].
//!
//! The sizes come from the functions the passes allocate with (`CullLodSizes`, `MeshSizes`,
//! `skin::plan_chunks`, `AnimData::buffers`, `target::staging_bytes`), computed once: the
//! plan a successful check returns is what `SceneRenderer::new` allocates.
//!
//! Compute dispatches are split over two dimensions ([`crate::gpu::split_workgroups`]), so a
//! pass may use up to `max_compute_workgroups_per_dimension²` workgroups.
//!
//! Not checked: the device's total memory (wgpu has no limit for it; running out is reported as
//! a device error), and limits that tutti's fixed pipelines are far below on every device
//! wgpu opens (vertex buffers and attributes, inter-stage variables, colour attachments,
//! workgroup storage). The adapter probe (`gpu::adapters`) checks 64-wide workgroups.

use super::animate::{self, AnimData, AnimateBindings};
use super::avatar::{AvatarFrameBindings, MaterialBindings};
use super::common::MAX_LODS;
use super::cull_lod::{self, CullDispatch, CullLodBindings, CullLodSizes};
use super::gpu_data::{
    AnimParams, BatchParams, CameraUniform, CullParams, DrawParams, GpuInstance, GroundUniform,
    LightUniform, MaterialUniform, SkinnedVertex,
};
use super::ground::GroundBindings;
use super::mesh::MeshSizes;
use super::skin::{self, SkinChunk, SkinFrameBindings, SkinMeshBindings};
use super::target;
use crate::gpu::{max_split_workgroups, split_workgroups};
use crate::scene::{Skinning, World};
use std::fmt;

const AVATARS: &str = "use fewer avatars";
const JOINTS: &str = "use fewer avatars or assets with fewer joints";
const DETAIL: &str = "use a lower-detail asset";
const SKINNING: &str = "use `skinning: Vertex` or `Auto`, fewer avatars or a lower-detail asset";
const ANIMATION: &str = "use `animation: Cpu`, fewer avatars or shorter clips";
const TEXTURE: &str = "use a smaller texture in the asset";
const TARGET: &str = "use a smaller target";
const TARGETS: &str = "use fewer targets";
const DRAWS: &str = "use fewer assets or materials";
const PIPELINE: &str = "this device cannot run the pass at all";

/// One thing a scene needs from a device, and what the device allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    /// What needs it, e.g. `instance buffer`, `target "main" colour texture`, `cull dispatch`.
    pub what: String,
    /// The [`wgpu::Limits`] field it is checked against, e.g.
    /// `max_storage_buffer_binding_size`. Two are not plain fields:
    /// `max_compute_workgroups_per_dimension squared` (dispatches are split over two
    /// dimensions) and `32-bit indexing` (the shaders index with `u32`).
    pub limit: &'static str,
    /// What the scene needs, in [`Self::unit`].
    pub needed: u64,
    /// What the device allows, in [`Self::unit`].
    pub available: u64,
    /// The unit of both numbers: `bytes`, `pixels per side`, `workgroups`, ...
    pub unit: &'static str,
    /// What to change in the scene so that it fits.
    pub hint: &'static str,
}

impl Need {
    /// True when the device allows what the scene needs.
    pub fn fits(&self) -> bool {
        self.needed <= self.available
    }

    /// How much of the limit the scene uses (above 1: it does not fit).
    pub fn ratio(&self) -> f64 {
        self.needed as f64 / self.available.max(1) as f64
    }
}

impl fmt::Display for Need {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the {} needs {} {}, the device allows {} ({})",
            self.what, self.needed, self.unit, self.available, self.limit
        )
    }
}

/// A scene needs more than a device allows. Nothing was created on the device, which is fine:
/// render the scene on another adapter or make it smaller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0}; {hint}, or render it on another adapter with a larger {limit} (`tutti adapters` lists their limits)",
    hint = .0.hint,
    limit = .0.limit
)]
pub struct LimitExceeded(pub Need);

impl LimitExceeded {
    /// The need that does not fit.
    pub fn need(&self) -> &Need {
        &self.0
    }
}

/// A scene that fits a device: every need that was checked, and the sizes to allocate.
#[derive(Debug)]
pub struct FitReport {
    needs: Vec<Need>,
    pub(super) plan: ScenePlan,
}

impl FitReport {
    /// True when the avatars will be skinned in the vertex stage: asked for with
    /// `skinning: Vertex`, or chosen by `skinning: Auto` because compute skinning does not fit.
    pub fn vertex_skinning(&self) -> bool {
        self.plan.vertex_skinning
    }

    /// Every need that was checked (all of them fit).
    pub fn needs(&self) -> &[Need] {
        &self.needs
    }

    /// The need closest to its limit.
    pub fn tightest(&self) -> Option<&Need> {
        self.needs
            .iter()
            .max_by(|a, b| a.ratio().total_cmp(&b.ratio()))
    }
}

/// What `SceneRenderer::new` allocates for a scene that fits: sizes in bytes (before the
/// renderer pads empty buffers), dynamic-uniform strides and compute dispatches.
#[derive(Debug)]
pub(super) struct ScenePlan {
    /// Skin in the vertex stage rather than in the compute skin pass.
    pub vertex_skinning: bool,
    /// The joint palettes of every avatar.
    pub palettes: u64,
    /// One [`GpuInstance`] per avatar.
    pub instances: u64,
    /// Vertices the skin pass writes (0 with vertex skinning).
    pub skinned_vertices: u64,
    /// Bytes of the skinned vertices.
    pub skinned: u64,
    /// The cull + LOD buffers.
    pub cull: CullLodSizes,
    /// One target's cull + LOD dispatches.
    pub cull_dispatch: CullDispatch,
    /// Stride of the dynamic uniform slots of each kind.
    pub camera_stride: u64,
    /// See [`Self::camera_stride`].
    pub cull_stride: u64,
    /// See [`Self::camera_stride`].
    pub draw_params_stride: u64,
    /// See [`Self::camera_stride`].
    pub batch_params_stride: u64,
    /// The skin pass's dispatches (empty with vertex skinning).
    pub skin_chunks: Vec<SkinChunk>,
    /// The packed animation data and the animation pass's dispatch (`animation: Gpu`).
    pub animation: Option<(AnimData, [u32; 2])>,
}

/// Collects the needs of a scene.
struct Checker<'a> {
    limits: &'a wgpu::Limits,
    needs: Vec<Need>,
}

impl Checker<'_> {
    fn need(
        &mut self,
        what: impl Into<String>,
        limit: &'static str,
        (needed, available): (u64, u64),
        unit: &'static str,
        hint: &'static str,
    ) {
        self.needs.push(Need {
            what: what.into(),
            limit,
            needed,
            available,
            unit,
            hint,
        });
    }

    /// A buffer that is not bound as a storage or uniform buffer.
    fn buffer(&mut self, what: impl Into<String>, bytes: u64, hint: &'static str) {
        let max = self.limits.max_buffer_size;
        self.need(what, "max_buffer_size", (bytes, max), "bytes", hint);
    }

    /// A buffer bound whole as a storage buffer.
    fn storage(&mut self, what: impl Into<String>, bytes: u64, hint: &'static str) {
        let what = what.into();
        self.buffer(what.clone(), bytes, hint);
        let max = self.limits.max_storage_buffer_binding_size;
        let limit = "max_storage_buffer_binding_size";
        self.need(what, limit, (bytes, max), "bytes", hint);
    }

    /// A uniform buffer of `bytes`, bound `binding` bytes at a time.
    fn uniform(&mut self, what: &str, (bytes, binding): (u64, u64), hint: &'static str) {
        self.buffer(what, bytes, hint);
        let max = self.limits.max_uniform_buffer_binding_size;
        let limit = "max_uniform_buffer_binding_size";
        self.need(what, limit, (binding, max), "bytes", hint);
    }

    fn texture(
        &mut self,
        what: impl Into<String>,
        (width, height): (u32, u32),
        hint: &'static str,
    ) {
        let side = u64::from(width.max(height));
        let max = u64::from(self.limits.max_texture_dimension_2d);
        let limit = "max_texture_dimension_2d";
        self.need(what, limit, (side, max), "pixels per side", hint);
    }

    /// A count the shaders index with `u32`.
    fn indexed(&mut self, what: &str, count: u64, hint: &'static str) {
        let max = u64::from(u32::MAX);
        self.need(what, "32-bit indexing", (count, max), "elements", hint);
    }

    /// A dispatch of `workgroups` workgroups, split over two dimensions. Returns the split
    /// (`[0, 0]` when it does not fit; the check then fails).
    fn dispatch(&mut self, what: &str, workgroups: u64, hint: &'static str) -> [u32; 2] {
        let max = self.limits.max_compute_workgroups_per_dimension;
        let limit = "max_compute_workgroups_per_dimension squared";
        self.need(
            what,
            limit,
            (workgroups, max_split_workgroups(max)),
            "workgroups",
            hint,
        );
        u32::try_from(workgroups)
            .ok()
            .and_then(|n| split_workgroups(n, max))
            .unwrap_or([0, 0])
    }

    /// The bind group layouts of one pipeline, against the per-stage and per-layout limits.
    fn pipeline(&mut self, pass: &str, groups: &[&[wgpu::BindGroupLayoutEntry]]) {
        let l = self.limits;
        let what = format!("{pass} pipeline");
        self.need(
            what.as_str(),
            "max_bind_groups",
            (groups.len() as u64, u64::from(l.max_bind_groups)),
            "bind groups",
            PIPELINE,
        );
        for group in groups {
            self.need(
                what.as_str(),
                "max_bindings_per_bind_group",
                (group.len() as u64, u64::from(l.max_bindings_per_bind_group)),
                "bindings",
                PIPELINE,
            );
        }
        let entries = || groups.iter().flat_map(|g| g.iter());
        let dynamic = entries()
            .filter(|e| {
                matches!(
                    e.ty,
                    wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: true,
                        ..
                    }
                )
            })
            .count();
        self.need(
            what.as_str(),
            "max_dynamic_uniform_buffers_per_pipeline_layout",
            (
                dynamic as u64,
                u64::from(l.max_dynamic_uniform_buffers_per_pipeline_layout),
            ),
            "dynamic uniform buffers",
            PIPELINE,
        );
        for (stage, name) in [
            (wgpu::ShaderStages::VERTEX, "vertex"),
            (wgpu::ShaderStages::FRAGMENT, "fragment"),
            (wgpu::ShaderStages::COMPUTE, "compute"),
        ] {
            let count = |kind: fn(&wgpu::BindingType) -> bool| {
                entries()
                    .filter(|e| e.visibility.contains(stage) && kind(&e.ty))
                    .count() as u64
            };
            let storage = count(|t| {
                matches!(
                    t,
                    wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Storage { .. },
                        ..
                    }
                )
            });
            let uniform = count(|t| {
                matches!(
                    t,
                    wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        ..
                    }
                )
            });
            let textures = count(|t| matches!(t, wgpu::BindingType::Texture { .. }));
            let samplers = count(|t| matches!(t, wgpu::BindingType::Sampler(_)));
            for (limit, needed, max, unit) in [
                (
                    "max_storage_buffers_per_shader_stage",
                    storage,
                    l.max_storage_buffers_per_shader_stage,
                    "storage buffers",
                ),
                (
                    "max_uniform_buffers_per_shader_stage",
                    uniform,
                    l.max_uniform_buffers_per_shader_stage,
                    "uniform buffers",
                ),
                (
                    "max_sampled_textures_per_shader_stage",
                    textures,
                    l.max_sampled_textures_per_shader_stage,
                    "sampled textures",
                ),
                (
                    "max_samplers_per_shader_stage",
                    samplers,
                    l.max_samplers_per_shader_stage,
                    "samplers",
                ),
            ] {
                if needed > 0 {
                    let what = format!("{pass} pipeline's {name} stage");
                    self.need(what, limit, (needed, u64::from(max)), unit, PIPELINE);
                }
            }
        }
    }

    fn first_failure(&self) -> Option<&Need> {
        self.needs.iter().find(|n| !n.fits())
    }
}

/// Whether a device with `limits` can create the pipeline of `pass` with these bind group
/// layouts (the per-stage and per-layout binding counts).
pub(super) fn pipeline_fits(
    limits: &wgpu::Limits,
    pass: &str,
    groups: &[&[wgpu::BindGroupLayoutEntry]],
) -> Result<(), LimitExceeded> {
    let mut c = Checker {
        limits,
        needs: Vec::new(),
    };
    c.pipeline(pass, groups);
    match c.first_failure() {
        Some(need) => Err(LimitExceeded(need.clone())),
        None => Ok(()),
    }
}

fn align(size: u64, to: u64) -> u64 {
    size.div_ceil(to.max(1)) * to.max(1)
}

/// The compute skin pass's needs: the skinned vertices and each asset's dispatch.
fn compute_skinning_needs(c: &mut Checker<'_>, world: &World, meshes: &[MeshSizes]) -> u64 {
    let vertices: u64 = world.avatars.iter().map(|a| meshes[a.asset].vertices).sum();
    c.indexed("skinned vertex list", vertices, SKINNING);
    let bytes = vertices * size_of::<SkinnedVertex>() as u64;
    c.storage("skinned vertex buffer", bytes, SKINNING);
    for b in &world.batches {
        let what = format!("skin dispatch of asset {:?}", world.assets[b.asset].name);
        c.dispatch(
            &what,
            skin::vertex_workgroups(meshes[b.asset].vertices),
            DETAIL,
        );
    }
    vertices
}

/// Check everything `world` will create on a device with `limits`, without creating anything.
///
/// With `skinning: Auto`, the avatars are skinned in the vertex stage when the compute skin
/// pass's buffer or dispatches do not fit ([`FitReport::vertex_skinning`]). Fails with the first
/// need that does not fit.
pub fn check_scene(limits: &wgpu::Limits, world: &World) -> Result<FitReport, LimitExceeded> {
    let meshes: Vec<MeshSizes> = world.assets.iter().map(|a| MeshSizes::of(a)).collect();
    let mut c = Checker {
        limits,
        needs: Vec::new(),
    };

    // Where skinning runs.
    let vertex_skinning = match world.desc.skinning {
        Skinning::Vertex => true,
        Skinning::Auto | Skinning::Compute => {
            let mut trial = Checker {
                limits,
                needs: Vec::new(),
            };
            compute_skinning_needs(&mut trial, world, &meshes);
            match trial.first_failure() {
                None => false,
                Some(_) if world.desc.skinning == Skinning::Auto => true,
                Some(need) => return Err(LimitExceeded(need.clone())),
            }
        }
    };
    let skinned_vertices = if vertex_skinning {
        0
    } else {
        compute_skinning_needs(&mut c, world, &meshes)
    };

    // Per asset: its mesh buffers and textures.
    for (asset, m) in world.assets.iter().zip(&meshes) {
        let name = &asset.name;
        c.storage(
            format!("rest vertex buffer of asset {name:?}"),
            m.rest_bytes,
            DETAIL,
        );
        c.buffer(format!("UV buffer of asset {name:?}"), m.uv_bytes, DETAIL);
        c.buffer(
            format!("index buffer of asset {name:?}"),
            m.index_bytes,
            DETAIL,
        );
        c.indexed(&format!("index list of asset {name:?}"), m.indices, DETAIL);
        for (material, width, height) in &m.textures {
            let what = format!("texture of material {material:?} of asset {name:?}");
            c.texture(what, (*width, *height), TEXTURE);
        }
    }

    // Scene buffers shared by the targets.
    let avatars = world.avatars.len() as u64;
    let batches = world.batches.len() as u64;
    let draws: u64 = world
        .batches
        .iter()
        .map(|b| (world.assets[b.asset].mesh.submeshes.len() * MAX_LODS) as u64)
        .sum();
    let palettes = world.palette_len as u64 * 64;
    c.storage("joint palette buffer", palettes, JOINTS);
    c.indexed("joint palette list", world.palette_len as u64, JOINTS);
    let instances = avatars * size_of::<GpuInstance>() as u64;
    c.storage("instance buffer", instances, AVATARS);
    let cull = CullLodSizes::new(avatars, batches, draws);
    c.storage("LOD table buffer", cull.batch_lods, DRAWS);
    c.storage("draw slot buffer", cull.draw_slots, DRAWS);
    c.storage("needed-level buffer", cull.needed, AVATARS);
    c.indexed("visible list", avatars * MAX_LODS as u64, AVATARS);

    // Per target: textures, cull + LOD buffers, readback.
    for t in &world.desc.targets {
        let name = &t.name;
        let size = (t.width, t.height);
        c.texture(format!("target {name:?} colour texture"), size, TARGET);
        c.texture(format!("target {name:?} depth texture"), size, TARGET);
        let staging = target::staging_bytes(t.width, t.height);
        c.buffer(format!("target {name:?} readback buffer"), staging, TARGET);
        c.storage(
            format!("target {name:?} LOD state buffer"),
            cull.state,
            AVATARS,
        );
        c.storage(format!("target {name:?} counts buffer"), cull.counts, DRAWS);
        c.storage(
            format!("target {name:?} visible-list buffer"),
            cull.visible,
            AVATARS,
        );
        c.storage(
            format!("target {name:?} indirect draw buffer"),
            cull.draws,
            DRAWS,
        );
    }
    let n_targets = world.desc.targets.len() as u64;
    c.buffer(
        "readback stats buffer",
        cull.counts * n_targets.max(1),
        TARGETS,
    );

    // Uniforms: dynamic-offset slots and constants.
    let ualign = u64::from(limits.min_uniform_buffer_offset_alignment);
    let camera_stride = align(size_of::<CameraUniform>() as u64, ualign);
    let cull_stride = align(size_of::<CullParams>() as u64, ualign);
    let draw_params_stride = align(size_of::<DrawParams>() as u64, ualign);
    let batch_params_stride = align(size_of::<BatchParams>() as u64, ualign);
    let slot = |stride: u64, count: u64, binding: usize| (stride * count, binding as u64);
    c.uniform(
        "camera uniform buffer",
        slot(camera_stride, n_targets, size_of::<CameraUniform>()),
        TARGETS,
    );
    c.uniform(
        "cull parameter buffer",
        slot(cull_stride, n_targets, size_of::<CullParams>()),
        TARGETS,
    );
    c.uniform(
        "draw parameter buffer",
        slot(
            draw_params_stride,
            1 + batches * MAX_LODS as u64,
            size_of::<DrawParams>(),
        ),
        DRAWS,
    );
    let light = size_of::<LightUniform>() as u64;
    c.uniform("light uniform buffer", (light, light), PIPELINE);
    let material = size_of::<MaterialUniform>() as u64;
    c.uniform("material uniform buffer", (material, material), PIPELINE);
    if world.desc.environment.ground.is_some() {
        let ground = size_of::<GroundUniform>() as u64;
        c.uniform("ground uniform buffer", (ground, ground), PIPELINE);
    }

    // Compute dispatches and the skin pass's chunks.
    let max_per_dimension = limits.max_compute_workgroups_per_dimension;
    let cull_dispatch = CullDispatch {
        cull: c.dispatch("cull dispatch", cull_lod::workgroups(avatars), AVATARS),
        finalize: c.dispatch("draw-count dispatch", cull_lod::workgroups(draws), DRAWS),
    };
    let skin_chunks = if vertex_skinning {
        Vec::new()
    } else {
        let vertices: Vec<u64> = meshes.iter().map(|m| m.vertices).collect();
        // `None` only where a skin dispatch does not fit, which fails the check below.
        skin::plan_chunks(&world.batches, &vertices, max_per_dimension).unwrap_or_default()
    };
    c.uniform(
        "skin parameter buffer",
        slot(
            batch_params_stride,
            skin_chunks.len().max(1) as u64,
            size_of::<BatchParams>(),
        ),
        SKINNING,
    );
    let animation = world.animates_on_gpu().then(|| {
        let data = AnimData::new(world);
        for (label, bytes) in data.buffers() {
            c.storage(
                format!("{label} buffer"),
                animate::storage_bytes(bytes.len()),
                ANIMATION,
            );
        }
        c.storage("animate::globals buffer", data.globals_bytes(), ANIMATION);
        let params = size_of::<AnimParams>() as u64;
        c.uniform("animation parameter buffer", (params, params), PIPELINE);
        let workgroups = cull_lod::workgroups(data.avatars.len() as u64);
        let dispatch = c.dispatch("animation dispatch", workgroups, AVATARS);
        (data, dispatch)
    });

    // Bind group layouts of the pipelines the scene uses.
    c.pipeline("cull + LOD", &[&CullLodBindings::layout_entries()]);
    c.pipeline(
        "avatar",
        &[
            &AvatarFrameBindings::layout_entries(),
            &MaterialBindings::layout_entries(),
        ],
    );
    if world.desc.environment.ground.is_some() {
        c.pipeline("ground", &[&GroundBindings::layout_entries()]);
    }
    if !vertex_skinning {
        c.pipeline(
            "skin",
            &[
                &SkinFrameBindings::layout_entries(),
                &SkinMeshBindings::layout_entries(),
            ],
        );
    }
    if animation.is_some() {
        c.pipeline(animate::PIPELINE, &[&AnimateBindings::layout_entries()]);
    }

    if let Some(need) = c.first_failure() {
        return Err(LimitExceeded(need.clone()));
    }
    Ok(FitReport {
        needs: c.needs,
        plan: ScenePlan {
            vertex_skinning,
            palettes,
            instances,
            skinned_vertices,
            skinned: skinned_vertices * size_of::<SkinnedVertex>() as u64,
            cull,
            cull_dispatch,
            camera_stride,
            cull_stride,
            draw_params_stride,
            batch_params_stride,
            skin_chunks,
            animation,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AssetLibrary;
    use crate::scene::parse_scene;

    /// wgpu's downlevel defaults with the eight storage buffers per stage the cull + LOD pass
    /// binds (every adapter tutti opens has them: see `gpu::adapters`).
    fn small_device() -> wgpu::Limits {
        wgpu::Limits {
            max_storage_buffers_per_shader_stage: 8,
            ..wgpu::Limits::downlevel_defaults()
        }
    }

    fn crowd(count: u32, options: &str) -> World {
        let text = format!(
            r#"Scene(
                name: "crowd",
                {options}
                targets: [(name: "main", width: 64, height: 48), (name: "thumb", width: 16, height: 12)],
                environment: (ground: Some((size: 40.0))),
                avatars: [(asset: "humanoid:low", count: {count}, layout: Grid(spacing: 1.5), clip: Some("walk"))],
            )"#
        );
        parse_scene(
            &text,
            std::path::Path::new("crowd.ron"),
            None,
            &AssetLibrary::new(),
        )
        .expect("scene parses")
        .world()
    }

    fn find<'a>(needs: &'a [Need], what: &str, limit: &str) -> &'a Need {
        needs
            .iter()
            .find(|n| n.what == what && n.limit == limit)
            .unwrap_or_else(|| panic!("no need {what:?} against {limit}"))
    }

    fn exceeded(limits: &wgpu::Limits, world: &World) -> Need {
        check_scene(limits, world)
            .map(|r| r.needs().len())
            .expect_err("should not fit")
            .0
    }

    #[test]
    fn a_small_scene_fits_the_downlevel_defaults_and_reports_every_need() {
        let w = crowd(100, "");
        let report = check_scene(&small_device(), &w).expect("fits");
        assert!(!report.vertex_skinning());
        assert!(report.needs().iter().all(Need::fits));
        let storage = "max_storage_buffer_binding_size";
        let instances = find(report.needs(), "instance buffer", storage);
        assert_eq!(instances.needed, 100 * size_of::<GpuInstance>() as u64);
        assert_eq!(instances.available, 128 << 20);
        let palettes = find(report.needs(), "joint palette buffer", storage);
        assert_eq!(palettes.needed, w.palette_len as u64 * 64);
        let visible = find(
            report.needs(),
            "target \"thumb\" visible-list buffer",
            storage,
        );
        assert_eq!(visible.needed, 100 * MAX_LODS as u64 * 4);
        let texture = find(
            report.needs(),
            "target \"main\" colour texture",
            "max_texture_dimension_2d",
        );
        assert_eq!((texture.needed, texture.available), (64, 2048));
        let cull = find(
            report.needs(),
            "cull dispatch",
            "max_compute_workgroups_per_dimension squared",
        );
        assert_eq!(cull.needed, 2);
        assert_eq!(report.plan.cull_dispatch.cull, [2, 1]);
        assert!(report.tightest().is_some_and(Need::fits));
    }

    #[test]
    fn a_buffer_over_a_limit_is_a_typed_error_that_names_it() {
        let w = crowd(100, "skinning: Vertex,");
        let fits = check_scene(&small_device(), &w).expect("fits");
        let instances = find(
            fits.needs(),
            "instance buffer",
            "max_storage_buffer_binding_size",
        );
        // Exactly the instance buffer's size still fits; one byte less does not. The palettes
        // are larger than the instances, so give them room through a larger buffer limit
        // while the binding limit sits at the instances' size.
        let mut limits = small_device();
        limits.max_storage_buffer_binding_size = instances.needed - 1;
        let need = exceeded(&limits, &w);
        assert!(!need.fits());
        assert_eq!(need.limit, "max_storage_buffer_binding_size");
        assert_eq!(need.available, instances.needed - 1);
        let message = LimitExceeded(need.clone()).to_string();
        for part in [
            need.what.as_str(),
            "max_storage_buffer_binding_size",
            &need.needed.to_string(),
            &need.available.to_string(),
            need.hint,
            "another adapter",
        ] {
            assert!(message.contains(part), "{message:?} lacks {part:?}");
        }
        // The instance buffer itself, once everything larger fits.
        let mut w1 = crowd(1000, "skinning: Vertex,");
        w1.palette_len = 1;
        let fits = check_scene(&small_device(), &w1).expect("fits");
        let instances = find(
            fits.needs(),
            "instance buffer",
            "max_storage_buffer_binding_size",
        );
        limits.max_storage_buffer_binding_size = instances.needed;
        check_scene(&limits, &w1).expect("exactly the limit fits");
        limits.max_storage_buffer_binding_size = instances.needed - 1;
        let need = exceeded(&limits, &w1);
        assert_eq!(
            (need.what.as_str(), need.needed),
            ("instance buffer", instances.needed)
        );
    }

    #[test]
    fn auto_skinning_falls_back_to_the_vertex_stage_and_compute_skinning_fails() {
        let mut limits = small_device();
        let w = crowd(100, "");
        let report = check_scene(&limits, &w).expect("fits");
        let skinned = find(
            report.needs(),
            "skinned vertex buffer",
            "max_storage_buffer_binding_size",
        );
        limits.max_storage_buffer_binding_size = skinned.needed - 1;
        let report = check_scene(&limits, &w).expect("fits with vertex skinning");
        assert!(report.vertex_skinning());
        assert!(report.plan.skin_chunks.is_empty());
        assert!(report.needs().iter().all(|n| {
            n.what != "skinned vertex buffer" && !n.what.starts_with("skin dispatch")
        }));
        let need = exceeded(&limits, &crowd(100, "skinning: Compute,"));
        assert_eq!(need.what, "skinned vertex buffer");
        assert!(need.hint.contains("skinning: Vertex"));
    }

    #[test]
    fn dispatches_split_over_two_dimensions_until_the_square_of_the_cap() {
        // 1000 avatars: 16 cull workgroups; humanoid:low's vertices: 25 skin workgroups each.
        let w = crowd(1000, "skinning: Compute,");
        let mut limits = small_device();
        limits.max_compute_workgroups_per_dimension = 5;
        let report = check_scene(&limits, &w).expect("16 cull workgroups fit 5 x 5");
        assert_eq!(report.plan.cull_dispatch.cull, [5, 4]);
        // Every skin chunk stays within the cap and together they cover every avatar once.
        let mut covered = 0;
        for c in &report.plan.skin_chunks {
            assert_eq!((c.dispatch[0], c.dispatch[2]), (5, 5), "{c:?}");
            assert_eq!((c.first_instance, c.dispatch[1]), (covered, c.instances));
            covered += c.instances;
        }
        assert_eq!(covered, 1000);
        assert_eq!(report.plan.skin_chunks.len(), 200);
        // Four per dimension: the skin pass no longer fits, the cull pass still does.
        limits.max_compute_workgroups_per_dimension = 4;
        let need = exceeded(&limits, &w);
        assert_eq!(
            (need.what.as_str(), need.needed, need.available),
            ("skin dispatch of asset \"humanoid:low\"", 25, 16)
        );
        let auto = check_scene(&limits, &crowd(1000, "")).expect("fits with vertex skinning");
        assert!(auto.vertex_skinning());
        assert_eq!(auto.plan.cull_dispatch.cull, [4, 4]);
        limits.max_compute_workgroups_per_dimension = 3;
        let need = exceeded(&limits, &w);
        assert_eq!(
            (need.limit, need.needed, need.available),
            ("max_compute_workgroups_per_dimension squared", 25, 9)
        );
        let need = exceeded(&limits, &crowd(1000, ""));
        assert_eq!(
            (need.what.as_str(), need.needed, need.available),
            ("cull dispatch", 16, 9)
        );
    }

    #[test]
    fn targets_textures_and_pipelines_are_checked() {
        let mut w = crowd(10, "");
        w.desc.targets[1].width = 4096;
        let need = exceeded(&small_device(), &w);
        assert_eq!(
            (need.what.as_str(), need.needed, need.available),
            ("target \"thumb\" colour texture", 4096, 2048)
        );
        assert!(LimitExceeded(need).to_string().contains("smaller target"));

        // The animation pass binds ten storage buffers; the CPU-animated scene needs eight.
        let limits = small_device();
        check_scene(&limits, &crowd(10, "")).expect("fits");
        let need = exceeded(&limits, &crowd(10, "animation: Gpu,"));
        assert_eq!(
            (need.what.as_str(), need.limit, need.needed),
            (
                "animation pipeline's compute stage",
                "max_storage_buffers_per_shader_stage",
                10
            )
        );
    }
}
