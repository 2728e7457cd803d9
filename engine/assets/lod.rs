//! Level-of-detail chains built with meshoptimizer: eight levels (100 / 50 / 25 / 12.5 / 6.25 /
//! 3 / 1.5 / 0.8 % of the triangles), each simplified within an error bound, all indexing the
//! asset's one vertex list, so skin attributes (joints, weights) and UVs are preserved as they are. Index order is
//! optimised for the vertex cache and the vertex list for fetch locality.
//!
//! The chain is built with the asset ([`super::Asset::new`]) and shared by every scene and device
//! through the [`super::AssetLibrary`]. Every level is simplified from the one before, so the
//! vertices a level uses are a subset of those of the level before. [`build_nested_chain`]
//! renumbers the vertices so that these sets are prefixes of the vertex list: level `l` uses
//! vertices `0 .. levels[l].vertex_count`. Triangle order and vertex values are unchanged, so
//! level 0 rasterises exactly as the mesh did before renumbering.
//!
//! The renderer picks a level per avatar and target from the projected size of
//! [`LodLevel::model_error`] (see `render::cull_lod`).

use super::limits::{MeshError, check_mesh};
use super::{MeshAsset, Submesh};
use glam::Vec3;

/// Target triangle fractions of the levels. The two coarsest serve avatars a few dozen pixels
/// tall or less, where crowds and small multi-resolution targets spend most of their triangles.
pub const LOD_RATIOS: [f32; 8] = [1.0, 0.5, 0.25, 0.125, 0.0625, 0.03, 0.015, 0.008];
/// Largest simplification error of each level, relative to the mesh extent. Levels 1-4 stay
/// within [`LOD_MAX_ERROR`]; the three coarsest may deviate more, which the renderer accepts
/// only while that error projects to at most `lod.pixel_error` pixels, i.e. on avatars a few
/// dozen (level 5) down to a few (level 7) pixels tall.
pub const LOD_MAX_ERRORS: [f32; 8] = [
    0.0,
    LOD_MAX_ERROR,
    LOD_MAX_ERROR,
    LOD_MAX_ERROR,
    LOD_MAX_ERROR,
    0.04,
    0.1,
    0.25,
];
/// Error bound of the detailed levels (1-4), relative to the mesh extent.
pub const LOD_MAX_ERROR: f32 = 0.02;

/// One level of a chain.
#[derive(Debug, Clone, PartialEq)]
pub struct LodLevel {
    /// Triangle indices into the asset's vertex list.
    pub indices: Vec<u32>,
    /// Material ranges within [`Self::indices`].
    pub submeshes: Vec<Submesh>,
    /// Simplification error reached, relative to the mesh extent (0 for level 0).
    pub error: f32,
    /// The same error in model-space units (`error` × meshoptimizer's scale of the mesh).
    pub model_error: f32,
    /// Vertices this level uses: a prefix `0 .. vertex_count` of the asset's vertex list once the
    /// chain is built by [`build_nested_chain`] (before that, the whole list).
    pub vertex_count: u32,
}

impl LodLevel {
    /// Triangles in this level.
    pub fn triangle_count(&self) -> usize {
        self.indices.len() / 3
    }
}

/// Reorder a mesh's vertices for fetch locality and its indices for the vertex cache (per
/// material range). The mesh draws the same triangles afterwards. Fails, before meshoptimizer
/// sees it, on a mesh that does not pass [`check_mesh`].
pub fn optimize_mesh(mesh: &mut MeshAsset) -> Result<(), MeshError> {
    check_mesh(mesh)?;
    let n = mesh.vertices.len();
    for sm in &mesh.submeshes {
        let range = sm.first_index as usize..(sm.first_index + sm.index_count) as usize;
        let optimized = meshopt::optimize_vertex_cache(&mesh.indices[range.clone()], n);
        mesh.indices[range].copy_from_slice(&optimized);
    }
    // Reorders vertices in first-use order, rewrites the indices, drops unused vertices.
    mesh.vertices = meshopt::optimize_vertex_fetch(&mut mesh.indices, &mesh.vertices);
    Ok(())
}

/// Build the chain for a mesh (call [`optimize_mesh`] first for the best vertex order).
/// Each level simplifies every material range separately, towards its ratio of the original
/// triangles and within its [`LOD_MAX_ERRORS`] bound; a level never has more triangles than the
/// one before. Fails, before meshoptimizer sees it, on a mesh that does not pass [`check_mesh`].
pub fn build_lod_chain(mesh: &MeshAsset) -> Result<Vec<LodLevel>, MeshError> {
    check_mesh(mesh)?;
    let positions: Vec<[f32; 3]> = mesh
        .vertices
        .iter()
        .map(|v| v.position.to_array())
        .collect();
    let n = positions.len();
    let scale = if n == 0 {
        0.0
    } else {
        meshopt::simplify_scale_decoder(&positions)
    };
    let mut levels: Vec<LodLevel> = vec![LodLevel {
        indices: mesh.indices.clone(),
        submeshes: mesh.submeshes.clone(),
        error: 0.0,
        model_error: 0.0,
        vertex_count: n as u32,
    }];
    for (&ratio, &max_error) in LOD_RATIOS[1..].iter().zip(&LOD_MAX_ERRORS[1..]) {
        let prev = levels.last().cloned().unwrap_or_else(|| levels[0].clone());
        let mut indices = Vec::new();
        let mut submeshes = Vec::new();
        let mut worst = 0.0f32;
        for (sm, prev_sm) in mesh.submeshes.iter().zip(&prev.submeshes) {
            let source = &prev.indices[prev_sm.first_index as usize
                ..(prev_sm.first_index + prev_sm.index_count) as usize];
            let target = ((sm.index_count as f32 * ratio) as usize / 3 * 3).max(3);
            let mut error = 0.0f32;
            let simplified = if source.len() > target {
                meshopt::simplify_decoder(
                    source,
                    &positions,
                    target,
                    max_error,
                    meshopt::SimplifyOptions::None,
                    Some(&mut error),
                )
            } else {
                source.to_vec()
            };
            let simplified = if simplified.is_empty() {
                source.to_vec()
            } else {
                simplified
            };
            let optimized = meshopt::optimize_vertex_cache(&simplified, n);
            worst = worst.max(error);
            submeshes.push(Submesh {
                first_index: indices.len() as u32,
                index_count: optimized.len() as u32,
                material: sm.material,
            });
            indices.extend(optimized);
        }
        let error = worst.max(prev.error);
        levels.push(LodLevel {
            indices,
            submeshes,
            error,
            model_error: error * scale,
            vertex_count: n as u32,
        });
    }
    Ok(levels)
}

/// Build the chain of `mesh` and renumber its vertices so that each level uses a prefix of the
/// vertex list (the coarsest level's vertices first). Vertices no triangle uses go last and
/// belong to level 0 only. The mesh draws the same triangles, in the same order, afterwards.
/// Fails, before meshoptimizer sees it, on a mesh that does not pass [`check_mesh`].
pub fn build_nested_chain(mesh: &mut MeshAsset) -> Result<Vec<LodLevel>, MeshError> {
    let mut levels = build_lod_chain(mesh)?;
    let n = mesh.vertices.len();
    // Coarsest level using each vertex (levels are nested: each is simplified from the last).
    let mut coarsest = vec![-1i32; n];
    for (l, level) in levels.iter().enumerate() {
        for &i in &level.indices {
            coarsest[i as usize] = l as i32;
        }
    }
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.sort_by_key(|&v| std::cmp::Reverse(coarsest[v as usize]));
    let mut remap = vec![0u32; n];
    for (new, &old) in order.iter().enumerate() {
        remap[old as usize] = new as u32;
    }
    mesh.vertices = order.iter().map(|&v| mesh.vertices[v as usize]).collect();
    for i in &mut mesh.indices {
        *i = remap[*i as usize];
    }
    for (l, level) in levels.iter_mut().enumerate() {
        for i in &mut level.indices {
            *i = remap[*i as usize];
        }
        // Level 0 keeps every vertex (unused ones sit at the end), so skinning at full detail
        // covers the whole list.
        level.vertex_count = if l == 0 {
            n as u32
        } else {
            coarsest.iter().filter(|&&c| c >= l as i32).count() as u32
        };
    }
    Ok(levels)
}

/// A model-space bounding sphere.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    /// Centre.
    pub center: Vec3,
    /// Radius.
    pub radius: f32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assets::procedural::{Detail, humanoid};

    #[test]
    fn levels_are_monotone_and_within_their_error_bound() {
        let mut mesh = humanoid(Detail::Ultra).mesh;
        let triangles = mesh.triangle_count();
        optimize_mesh(&mut mesh).expect("valid mesh");
        assert_eq!(
            mesh.triangle_count(),
            triangles,
            "optimisation keeps every triangle"
        );
        let levels = build_lod_chain(&mesh).expect("valid mesh");
        assert_eq!(levels.len(), LOD_RATIOS.len());
        let counts: Vec<usize> = levels.iter().map(LodLevel::triangle_count).collect();
        assert!(counts.windows(2).all(|w| w[1] < w[0]), "{counts:?}");
        // The ultra humanoid is smooth enough to reach the targets of the detailed levels within
        // their bound (the coarsest stop where the body parts cannot shrink further).
        for (i, ((l, ratio), max_error)) in levels
            .iter()
            .zip(LOD_RATIOS)
            .zip(LOD_MAX_ERRORS)
            .enumerate()
        {
            if max_error <= LOD_MAX_ERROR {
                assert!(
                    l.triangle_count() as f32 <= triangles as f32 * ratio * 1.1 + 3.0,
                    "level {i}: {counts:?}"
                );
            }
            assert!(l.error <= max_error, "error {} over the bound", l.error);
            assert!(
                l.indices
                    .iter()
                    .all(|&i| (i as usize) < mesh.vertices.len())
            );
            assert_eq!(
                l.submeshes
                    .iter()
                    .map(|s| s.index_count as usize)
                    .sum::<usize>(),
                l.indices.len()
            );
        }
    }

    #[test]
    fn low_poly_meshes_stop_at_their_error_bound() {
        let mut mesh = humanoid(Detail::Low).mesh;
        optimize_mesh(&mut mesh).expect("valid mesh");
        let levels = build_lod_chain(&mesh).expect("valid mesh");
        let counts: Vec<usize> = levels.iter().map(LodLevel::triangle_count).collect();
        assert!(counts.windows(2).all(|w| w[1] <= w[0]), "{counts:?}");
        assert!(
            levels
                .iter()
                .zip(LOD_MAX_ERRORS)
                .all(|(l, max)| l.error <= max)
        );
    }
}

#[cfg(test)]
mod asset_tests {
    use crate::assets::{AssetLibrary, AssetRef};

    #[test]
    fn assets_share_one_chain_with_nested_vertex_prefixes() {
        let lib = AssetLibrary::new();
        let a = lib.load(&AssetRef::Builtin("RiggedFigure")).expect("asset");
        let b = lib.load(&AssetRef::Builtin("RiggedFigure")).expect("asset");
        assert!(
            std::ptr::eq(a.lods().as_ptr(), b.lods().as_ptr()),
            "one chain per asset"
        );
        assert_eq!(a.lods()[0].indices, a.mesh.indices);
        for h in [
            lib.load(&AssetRef::Builtin("RiggedSimple")).expect("asset"),
            lib.load(&AssetRef::Humanoid(crate::assets::procedural::Detail::High))
                .expect("asset"),
        ] {
            let lods = h.lods();
            assert!(
                lods.windows(2)
                    .all(|w| w[1].vertex_count <= w[0].vertex_count)
            );
            for l in lods {
                let used = l.indices.iter().copied().max().map_or(0, |m| m + 1);
                assert!(
                    used <= l.vertex_count,
                    "{}: level uses vertex {used}",
                    h.name
                );
            }
        }
        // Skin attributes are preserved: every level indexes the same skinned vertices.
        assert!(a.lods().iter().all(|l| {
            l.indices
                .iter()
                .all(|&i| (i as usize) < a.mesh.vertices.len())
        }));
    }
}
