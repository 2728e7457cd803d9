//! The CPU-side tables of a scene on a device, computed without a device: instances, the LOD
//! table of each batch, the indirect-draw template and its counts slots, the per-level draw
//! params and the skin chunks' params. [`super::SceneRenderer::new`] uploads them as they are;
//! tests inspect them directly.

use super::common::{MAX_LODS, push_slot};
use super::gpu_data::{BatchLod, BatchParams, DrawIndexedIndirect, DrawParams, GpuInstance};
use super::limits::ScenePlan;
use crate::anim;
use crate::assets::{Asset, Submesh};
use crate::scene::World;

/// What the tables need to know of an asset's GPU mesh: its vertex count, the index range of
/// each submesh per level (indices of every level in one buffer, level after level) and the
/// triangles per level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeshLayout {
    /// Vertices per avatar.
    pub vertex_count: u32,
    /// Per level, the index range of each submesh in the mesh's index buffer.
    pub levels: Vec<Vec<Submesh>>,
    /// Triangles per level.
    pub level_triangles: Vec<u64>,
    /// Submeshes (one material each).
    pub submeshes: usize,
}

impl MeshLayout {
    /// The layout `GpuMesh::new` uploads `asset` with.
    pub fn of(asset: &Asset) -> Self {
        let mut base = 0u32;
        let mut levels = Vec::new();
        let mut level_triangles = Vec::new();
        for level in asset.lods() {
            levels.push(
                level
                    .submeshes
                    .iter()
                    .map(|sm| Submesh {
                        first_index: base + sm.first_index,
                        ..*sm
                    })
                    .collect(),
            );
            level_triangles.push(level.triangle_count() as u64);
            base += level.indices.len() as u32;
        }
        Self {
            vertex_count: asset.mesh.vertices.len() as u32,
            levels,
            level_triangles,
            submeshes: asset.mesh.submeshes.len(),
        }
    }
}

/// One batch's draws: the first of its indirect draws (ordered by submesh, then level), and the
/// dynamic offset of each level's [`DrawParams`] slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchDrawTable {
    /// The batch's asset (index into `World::assets`).
    pub asset: usize,
    /// Index of its first indirect draw.
    pub first_draw: u32,
    /// Dynamic offset of each level's draw params.
    pub level_params: [u32; MAX_LODS],
}

/// One skin dispatch: a chunk of one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SkinChunkTable {
    /// The batch's asset.
    pub asset: usize,
    /// Dynamic offset of the chunk's [`BatchParams`] slot.
    pub params_offset: u32,
    /// Workgroups `[x, y, z]`.
    pub workgroups: [u32; 3],
}

/// Every CPU-side table of a scene on a device (see the module doc).
#[derive(Debug, Clone)]
pub struct SceneTables {
    /// One per avatar: placement, bounds, palette offset, skinned-vertex base, batch.
    pub instances: Vec<GpuInstance>,
    /// One LOD table per batch.
    pub batch_lods: Vec<BatchLod>,
    /// Per batch, where its draws are.
    pub batch_draws: Vec<BatchDrawTable>,
    /// The indirect draws with zero instances (each target's draws start from this).
    pub draw_template: Vec<DrawIndexedIndirect>,
    /// Per indirect draw, its (batch, level) counts slot.
    pub draw_slots: Vec<u32>,
    /// The [`DrawParams`] slots (slot 0 has base 0).
    pub draw_params: Vec<u8>,
    /// Triangles per (batch, level), for the frame statistics.
    pub triangles: Vec<u64>,
    /// The skin dispatches (empty with vertex skinning).
    pub skin_chunks: Vec<SkinChunkTable>,
    /// The [`BatchParams`] slots of the skin chunks (at least one slot).
    pub batch_params: Vec<u8>,
    /// Skinned vertices of one frame (0 with vertex skinning).
    pub skinned_vertices: u64,
}

impl SceneTables {
    /// The tables of `world` for a device whose plan is `plan` ([`super::limits::check_scene`])
    /// and which can (`multi_draw`) or cannot give draws a first instance.
    pub(super) fn new(world: &World, plan: &ScenePlan, multi_draw: bool) -> Self {
        let meshes: Vec<MeshLayout> = world.assets.iter().map(|a| MeshLayout::of(a)).collect();
        let vertex_skinning = plan.vertex_skinning;

        // Instance data: placement, bounds, skinned-vertex ranges.
        let mut skinned_vertices: u64 = 0;
        let mut instances: Vec<GpuInstance> = world
            .avatars
            .iter()
            .map(|a| {
                let base = skinned_vertices;
                if !vertex_skinning {
                    skinned_vertices += u64::from(meshes[a.asset].vertex_count);
                }
                let bounds = anim::bounds(&world.assets[a.asset]);
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
        debug_assert_eq!(skinned_vertices, plan.skinned_vertices);

        // LOD tables, indirect draws (per batch: submesh-major, level-minor) and their
        // visible-list regions.
        let draw_params_stride = plan.draw_params_stride;
        let mut draw_params = vec![0u8; draw_params_stride as usize]; // slot 0: base 0
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
                    &mut draw_params,
                    &DrawParams {
                        list_base: region(l),
                        _pad: [0; 3],
                    },
                    draw_params_stride,
                );
                triangles.push(mesh.level_triangles.get(l).copied().unwrap_or(0));
            }
            batch_draws.push(BatchDrawTable {
                asset: b.asset,
                first_draw: draw_template.len() as u32,
                level_params,
            });
            for s in 0..mesh.submeshes {
                for l in 0..MAX_LODS {
                    // Levels past the chain never get avatars (the pass clamps to the chain).
                    let sm = mesh.levels.get(l).and_then(|lv| lv.get(s));
                    draw_template.push(DrawIndexedIndirect {
                        index_count: sm.map_or(0, |sm| sm.index_count),
                        instance_count: 0,
                        first_index: sm.map_or(0, |sm| sm.first_index),
                        base_vertex: 0,
                        first_instance: if multi_draw { region(l) } else { 0 },
                    });
                    draw_slots.push((bi * MAX_LODS + l) as u32);
                }
            }
        }

        // Skin-pass chunks and their params slots (compute skinning only).
        let params_stride = plan.batch_params_stride;
        let mut batch_params = Vec::new();
        let skin_chunks = plan
            .skin_chunks
            .iter()
            .map(|c| {
                let asset = world.batches[c.batch].asset;
                let mut level_vertices = [0u32; 8];
                for (v, level) in level_vertices.iter_mut().zip(world.assets[asset].lods()) {
                    *v = level.vertex_count;
                }
                let params_offset = push_slot(
                    &mut batch_params,
                    &BatchParams {
                        vertex_count: meshes[asset].vertex_count,
                        first_instance: c.first_instance,
                        instance_count: c.instances,
                        _pad: 0,
                        level_vertices,
                    },
                    params_stride,
                );
                SkinChunkTable {
                    asset,
                    params_offset,
                    workgroups: c.dispatch,
                }
            })
            .collect();
        // The skin group binds one slot even when nothing is skinned in a compute pass.
        batch_params.resize(batch_params.len().max(params_stride as usize), 0);
        Self {
            instances,
            batch_lods,
            batch_draws,
            draw_template,
            draw_slots,
            draw_params,
            triangles,
            skin_chunks,
            batch_params,
            skinned_vertices,
        }
    }

    /// The tables of `world` on a device with `limits` ([`super::limits::check_scene`] first),
    /// with (`multi_draw`) or without `INDIRECT_FIRST_INSTANCE`.
    pub fn for_limits(
        world: &World,
        limits: &wgpu::Limits,
        multi_draw: bool,
    ) -> Result<Self, super::LimitExceeded> {
        let plan = super::limits::check_scene(limits, world)?.plan;
        Ok(Self::new(world, &plan, multi_draw))
    }

    /// The indirect draws' initial bytes (at least one draw's worth: a buffer cannot be empty).
    pub fn draw_bytes(&self) -> Vec<u8> {
        let mut bytes = bytemuck::cast_slice(&self.draw_template).to_vec();
        bytes.resize(bytes.len().max(size_of::<DrawIndexedIndirect>()), 0);
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assets::AssetLibrary;
    use crate::render::limits::check_scene;
    use crate::scene::default_scene;

    fn default_world() -> World {
        let lib = AssetLibrary::new();
        World::new(&default_scene(&lib).expect("default scene"))
    }

    #[test]
    fn tables_cover_every_avatar_batch_and_level_and_match_the_limits_plan() {
        let world = default_world();
        let plan = check_scene(&wgpu::Limits::default(), &world)
            .expect("fits")
            .plan;
        for multi_draw in [true, false] {
            let t = SceneTables::new(&world, &plan, multi_draw);
            assert_eq!(t.instances.len(), world.avatars.len());
            assert_eq!(t.batch_lods.len(), world.batches.len());
            assert_eq!(t.triangles.len(), world.batches.len() * MAX_LODS);
            assert_eq!(t.draw_template.len(), t.draw_slots.len());
            assert_eq!(
                [
                    size_of_val(t.batch_lods.as_slice()),
                    size_of_val(t.draw_slots.as_slice()),
                    t.draw_bytes().len(),
                ]
                .map(|n| n as u64),
                [plan.cull.batch_lods, plan.cull.draw_slots, plan.cull.draws],
                "the limits check sized the cull + LOD tables differently"
            );
            assert_eq!(t.skinned_vertices, plan.skinned_vertices);
            // Every avatar sits in its batch, and batches tile the avatars.
            for (bi, b) in world.batches.iter().enumerate() {
                for i in b.first..b.first + b.count {
                    assert_eq!(t.instances[i as usize].batch, bi as u32);
                }
            }
            // Draws point at their own (batch, level) region only with first-instance support.
            let regions: Vec<u32> = t.draw_template.iter().map(|d| d.first_instance).collect();
            assert_eq!(
                regions.iter().any(|&r| r != 0),
                multi_draw && world.avatars.len() > 1
            );
            // Every slot of the draw params is a multiple of the stride.
            assert_eq!(t.draw_params.len() as u64 % plan.draw_params_stride, 0);
            for b in &t.batch_draws {
                for &o in &b.level_params {
                    assert_eq!(u64::from(o) % plan.draw_params_stride, 0);
                }
            }
        }
    }
}
