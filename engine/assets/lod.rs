//! Level-of-detail chains built with meshoptimizer: about four levels (100 / 50 / 25 / 12.5 % of
//! the triangles), each simplified within an error bound, all indexing the asset's one vertex
//! list, so skin attributes (joints, weights) and UVs are preserved as they are. Index order is
//! optimised for the vertex cache and the vertex list for fetch locality.
//!
//! Built once per asset (the [`super::AssetLibrary`] caches the asset), shared by every scene and
//! device. The renderer does not select levels yet: GPU LOD selection is the next step.

use super::{MeshAsset, Submesh};

/// Target triangle fractions of the levels.
pub const LOD_RATIOS: [f32; 4] = [1.0, 0.5, 0.25, 0.125];
/// Largest simplification error per level, relative to the mesh extent.
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
}

impl LodLevel {
    /// Triangles in this level.
    pub fn triangle_count(&self) -> usize {
        self.indices.len() / 3
    }
}

/// Reorder a mesh's vertices for fetch locality and its indices for the vertex cache (per
/// material range). The mesh draws the same triangles afterwards.
pub fn optimize_mesh(mesh: &mut MeshAsset) {
    let n = mesh.vertices.len();
    if n == 0 {
        return;
    }
    for sm in &mesh.submeshes {
        let range = sm.first_index as usize..(sm.first_index + sm.index_count) as usize;
        let optimized = meshopt::optimize_vertex_cache(&mesh.indices[range.clone()], n);
        mesh.indices[range].copy_from_slice(&optimized);
    }
    // Reorders vertices in first-use order, rewrites the indices, drops unused vertices.
    mesh.vertices = meshopt::optimize_vertex_fetch(&mut mesh.indices, &mesh.vertices);
}

/// Build the chain for a mesh (call [`optimize_mesh`] first for the best vertex order).
/// Each level simplifies every material range separately, towards its ratio of the original
/// triangles and within [`LOD_MAX_ERROR`]; a level never has more triangles than the one before.
pub fn build_lod_chain(mesh: &MeshAsset) -> Vec<LodLevel> {
    let positions: Vec<[f32; 3]> = mesh
        .vertices
        .iter()
        .map(|v| v.position.to_array())
        .collect();
    let n = positions.len();
    let mut levels: Vec<LodLevel> = vec![LodLevel {
        indices: mesh.indices.clone(),
        submeshes: mesh.submeshes.clone(),
        error: 0.0,
    }];
    for &ratio in &LOD_RATIOS[1..] {
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
                    LOD_MAX_ERROR,
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
        levels.push(LodLevel {
            indices,
            submeshes,
            error: worst.max(prev.error),
        });
    }
    levels
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assets::procedural::{Detail, humanoid};

    #[test]
    fn levels_are_monotone_and_within_their_error_bound() {
        let mut mesh = humanoid(Detail::Ultra).mesh;
        let triangles = mesh.triangle_count();
        optimize_mesh(&mut mesh);
        assert_eq!(
            mesh.triangle_count(),
            triangles,
            "optimisation keeps every triangle"
        );
        let levels = build_lod_chain(&mesh);
        assert_eq!(levels.len(), 4);
        let counts: Vec<usize> = levels.iter().map(LodLevel::triangle_count).collect();
        assert!(counts.windows(2).all(|w| w[1] < w[0]), "{counts:?}");
        // The ultra humanoid is smooth enough to reach each target within the bound.
        for (l, ratio) in levels.iter().zip(LOD_RATIOS) {
            assert!(
                l.triangle_count() as f32 <= triangles as f32 * ratio * 1.1 + 3.0,
                "{counts:?}"
            );
            assert!(l.error <= LOD_MAX_ERROR, "error {} over the bound", l.error);
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
        optimize_mesh(&mut mesh);
        let levels = build_lod_chain(&mesh);
        let counts: Vec<usize> = levels.iter().map(LodLevel::triangle_count).collect();
        assert!(counts.windows(2).all(|w| w[1] <= w[0]), "{counts:?}");
        assert!(levels.iter().all(|l| l.error <= LOD_MAX_ERROR));
    }
}

#[cfg(test)]
mod asset_tests {
    use crate::assets::{AssetLibrary, AssetRef};

    #[test]
    fn assets_share_one_lazily_built_chain() {
        let lib = AssetLibrary::new();
        let a = lib.load(&AssetRef::Builtin("RiggedFigure")).expect("asset");
        let b = lib.load(&AssetRef::Builtin("RiggedFigure")).expect("asset");
        assert!(
            std::ptr::eq(a.lods().as_ptr(), b.lods().as_ptr()),
            "one chain per asset"
        );
        assert_eq!(a.lods()[0].indices, a.mesh.indices);
        // Skin attributes are preserved: every level indexes the same skinned vertices.
        assert!(a.lods().iter().all(|l| {
            l.indices
                .iter()
                .all(|&i| (i as usize) < a.mesh.vertices.len())
        }));
    }
}
