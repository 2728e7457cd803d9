//! What one asset may hold, and the checks that keep every asset within what meshoptimizer, the
//! animation code and the renderer assume.
//!
//! meshoptimizer is C++: handed an index count that is not a multiple of three, an index past the
//! vertex list or a NaN position, it asserts (aborting the process) or, with asserts compiled out,
//! reads out of bounds. So no mesh reaches it unchecked: [`Asset::try_new`](super::Asset::try_new)
//! runs [`check_asset`] first, and the glTF importer checks each primitive as it reads it, so that
//! its errors can name the file, the mesh and the primitive.
//!
//! The limits bound what a file can make tutti allocate: the importer checks every count it reads
//! from a file against the bytes that hold the data and against these limits *before* it
//! allocates anything for it.
//!
//! | Limit | Value | Why |
//! |---|---|---|
//! | [`MAX_VERTICES`] | 4,194,304 vertices per asset | 256 MiB of skinned vertices; avatars have far fewer |
//! | [`MAX_INDICES`] | 12,582,912 indices (4,194,304 triangles) per asset | 48 MiB of indices |
//! | [`MAX_BINDINGS`] | 65,536 palette entries per asset | exported `JOINTS_0` is 16-bit |
//! | [`MAX_NODES`] | 65,536 nodes per file | every node is posed for every avatar, every frame |
//! | [`MAX_CLIPS`] | 1,024 animations per file | bounds are sampled 32 times per clip |
//! | [`MAX_ANIMATION_KEYS`] | 4,194,304 keys over all channels | at most 208 MiB of key data |
//! | [`MAX_TEXTURE_SIDE`] | 16,384 pixels | a larger texture cannot be created on common GPUs |
//! | [`MAX_TEXTURE_BYTES`] | 1 GiB of decoded RGBA8 per asset | one 16,384 × 16,384 texture |

use super::{Clip, Interpolation, MeshAsset, Skeleton};

/// Most vertices one asset may have (all primitives together).
pub const MAX_VERTICES: usize = 1 << 22;
/// Most indices one asset may have (all primitives together): 4,194,304 triangles.
pub const MAX_INDICES: usize = 3 << 22;
/// Most palette entries (glTF skin joints plus one per rigidly drawn node) one asset may have.
pub const MAX_BINDINGS: usize = 1 << 16;
/// Most nodes one glTF file may have.
pub const MAX_NODES: usize = 1 << 16;
/// Most animations (clips) one glTF file may have.
pub const MAX_CLIPS: usize = 1024;
/// Most key frames over every channel of every clip of one asset (cubic splines count once per
/// key, although they store three values per key).
pub const MAX_ANIMATION_KEYS: usize = 1 << 22;
/// Largest accepted texture width or height, in pixels.
pub const MAX_TEXTURE_SIDE: u32 = 16_384;
/// Most decoded texture bytes (RGBA8) one asset may have, over all of its textures.
pub const MAX_TEXTURE_BYTES: u64 = 1 << 30;

/// What is wrong with a mesh, skeleton or clip handed to [`Asset::try_new`](super::Asset::try_new).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MeshError {
    /// No vertices or no triangles.
    #[error("the mesh has no triangles; an avatar needs at least one")]
    Empty,
    /// More vertices or indices than an asset may have.
    #[error("{what}: {count} exceeds the limit of {max}; simplify or split the asset")]
    TooLarge {
        /// What was counted.
        what: &'static str,
        /// How many there are.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A submesh whose index count is not a multiple of three.
    #[error(
        "submesh {submesh}: {count} indices is not a multiple of 3; a triangle list needs three indices per triangle"
    )]
    NotTriangles {
        /// Submesh index.
        submesh: usize,
        /// Its index count.
        count: usize,
    },
    /// A submesh whose range lies outside the index list, or that names a missing material.
    #[error("submesh {submesh}: {message}")]
    BadSubmesh {
        /// Submesh index.
        submesh: usize,
        /// What is wrong.
        message: String,
    },
    /// Indices not covered by any submesh, or covered twice.
    #[error(
        "the submeshes cover {covered} of the {indices} indices; each index must belong to exactly one submesh, in order"
    )]
    SubmeshCoverage {
        /// Indices the submeshes cover.
        covered: usize,
        /// Indices in the mesh.
        indices: usize,
    },
    /// An index past the end of the vertex list.
    #[error("index {position} is {index}, but there are only {vertices} vertices")]
    IndexOutOfRange {
        /// Position in the index list.
        position: usize,
        /// The index.
        index: u32,
        /// Vertex count.
        vertices: usize,
    },
    /// A NaN or infinite vertex attribute.
    #[error("vertex {vertex}: {attribute} is not finite (NaN or infinity)")]
    NotFinite {
        /// Vertex index.
        vertex: usize,
        /// `position`, `normal`, `uv` or `weights`.
        attribute: &'static str,
    },
    /// A NaN or infinite value elsewhere (a rest transform, an inverse bind matrix, a colour).
    #[error("{0} is not finite (NaN or infinity)")]
    NotFiniteValue(String),
    /// A vertex bound to a palette entry that does not exist.
    #[error("vertex {vertex}: joint {joint} is past the {bindings} bindings of the skeleton")]
    JointOutOfRange {
        /// Vertex index.
        vertex: usize,
        /// The joint (binding) index.
        joint: u32,
        /// Bindings in the skeleton.
        bindings: usize,
    },
    /// A skeleton whose nodes are not parents-first, or whose bindings name missing nodes.
    #[error("skeleton: {0}")]
    Skeleton(String),
    /// A clip that the sampler cannot play.
    #[error("clip {clip:?}: {message}")]
    Clip {
        /// Clip name.
        clip: String,
        /// What is wrong.
        message: String,
    },
}

/// Check a whole asset: [`check_mesh`], the skeleton's order and bindings, and every clip.
pub fn check_asset(mesh: &MeshAsset, skeleton: &Skeleton, clips: &[Clip]) -> Result<(), MeshError> {
    check_mesh(mesh)?;
    check_skeleton(skeleton)?;
    let bindings = skeleton.bindings.len();
    for (vertex, v) in mesh.vertices.iter().enumerate() {
        if let Some(&joint) = v.joints.iter().find(|&&j| j as usize >= bindings) {
            return Err(MeshError::JointOutOfRange {
                vertex,
                joint,
                bindings,
            });
        }
    }
    for clip in clips {
        check_clip(clip, skeleton.nodes.len())?;
    }
    if let Some(m) = mesh.materials.iter().find(|m| !m.base_color.is_finite()) {
        return Err(MeshError::NotFiniteValue(format!(
            "material {:?}: base colour",
            m.name
        )));
    }
    Ok(())
}

/// Check what meshoptimizer and the renderer assume of a mesh: at most [`MAX_VERTICES`] vertices
/// and [`MAX_INDICES`] indices, at least one triangle, submeshes that tile the index list in order
/// with a multiple of three indices each and an existing material, every index in range, and
/// finite positions, normals, UVs and weights.
pub fn check_mesh(mesh: &MeshAsset) -> Result<(), MeshError> {
    let (n, ni) = (mesh.vertices.len(), mesh.indices.len());
    if n > MAX_VERTICES {
        return Err(MeshError::TooLarge {
            what: "vertices",
            count: n,
            max: MAX_VERTICES,
        });
    }
    if ni > MAX_INDICES {
        return Err(MeshError::TooLarge {
            what: "indices",
            count: ni,
            max: MAX_INDICES,
        });
    }
    if n == 0 || ni == 0 || mesh.submeshes.is_empty() {
        return Err(MeshError::Empty);
    }
    let mut next = 0usize;
    for (submesh, sm) in mesh.submeshes.iter().enumerate() {
        let (first, count) = (sm.first_index as usize, sm.index_count as usize);
        if first != next || first + count > ni {
            return Err(MeshError::BadSubmesh {
                submesh,
                message: format!(
                    "indices {first} .. {} do not follow the previous submesh (which ended at {next}) within the {ni} indices",
                    first + count
                ),
            });
        }
        if count == 0 || !count.is_multiple_of(3) {
            return Err(MeshError::NotTriangles { submesh, count });
        }
        if sm.material >= mesh.materials.len() {
            return Err(MeshError::BadSubmesh {
                submesh,
                message: format!(
                    "material {} does not exist ({} materials)",
                    sm.material,
                    mesh.materials.len()
                ),
            });
        }
        next = first + count;
    }
    if next != ni {
        return Err(MeshError::SubmeshCoverage {
            covered: next,
            indices: ni,
        });
    }
    if let Some((position, &index)) = mesh
        .indices
        .iter()
        .enumerate()
        .find(|&(_, &i)| i as usize >= n)
    {
        return Err(MeshError::IndexOutOfRange {
            position,
            index,
            vertices: n,
        });
    }
    for (vertex, v) in mesh.vertices.iter().enumerate() {
        let attribute = if !v.position.is_finite() {
            "position"
        } else if !v.normal.is_finite() {
            "normal"
        } else if !v.uv.is_finite() {
            "uv"
        } else if !v.weights.iter().all(|w| w.is_finite()) {
            "weights"
        } else {
            continue;
        };
        return Err(MeshError::NotFinite { vertex, attribute });
    }
    Ok(())
}

fn check_skeleton(skeleton: &Skeleton) -> Result<(), MeshError> {
    let nodes = skeleton.nodes.len();
    if nodes > MAX_NODES {
        return Err(MeshError::TooLarge {
            what: "skeleton nodes",
            count: nodes,
            max: MAX_NODES,
        });
    }
    if skeleton.bindings.len() > MAX_BINDINGS {
        return Err(MeshError::TooLarge {
            what: "bindings",
            count: skeleton.bindings.len(),
            max: MAX_BINDINGS,
        });
    }
    for (i, node) in skeleton.nodes.iter().enumerate() {
        if node.parent.is_some_and(|p| p >= i) {
            return Err(MeshError::Skeleton(format!(
                "node {i} comes before its parent; parents must precede their children"
            )));
        }
    }
    for (i, node) in skeleton.nodes.iter().enumerate() {
        let t = &node.rest;
        if !(t.translation.is_finite() && t.rotation.is_finite() && t.scale.is_finite()) {
            return Err(MeshError::NotFiniteValue(format!(
                "skeleton node {i}: rest transform"
            )));
        }
    }
    if let Some(i) = skeleton
        .bindings
        .iter()
        .position(|b| !b.inverse_bind.is_finite())
    {
        return Err(MeshError::NotFiniteValue(format!(
            "binding {i}: inverse bind matrix"
        )));
    }
    if let Some((i, b)) = skeleton
        .bindings
        .iter()
        .enumerate()
        .find(|(_, b)| b.node >= nodes)
    {
        return Err(MeshError::Skeleton(format!(
            "binding {i} names node {} of {nodes}",
            b.node
        )));
    }
    Ok(())
}

fn check_clip(clip: &Clip, nodes: usize) -> Result<(), MeshError> {
    let bad = |message: String| MeshError::Clip {
        clip: clip.name.clone(),
        message,
    };
    if !(clip.duration.is_finite() && clip.duration >= 0.0) {
        return Err(bad(format!(
            "duration {} is not a finite, non-negative number of seconds",
            clip.duration
        )));
    }
    for (c, ch) in clip.channels.iter().enumerate() {
        if ch.node >= nodes {
            return Err(bad(format!(
                "channel {c} animates node {} of {nodes}",
                ch.node
            )));
        }
        let per_key = if ch.interpolation == Interpolation::CubicSpline {
            3
        } else {
            1
        };
        if ch.times.is_empty() || ch.values.len() != ch.times.len() * per_key {
            return Err(bad(format!(
                "channel {c} has {} key times and {} values; it needs at least one key and {per_key} value(s) per key",
                ch.times.len(),
                ch.values.len()
            )));
        }
        if !ch.values.iter().all(|v| v.is_finite()) {
            return Err(bad(format!("channel {c}: a key value is not finite")));
        }
        if ch.times.iter().any(|t| !t.is_finite()) || ch.times.windows(2).any(|w| w[1] < w[0]) {
            return Err(bad(format!(
                "channel {c}: key times must be finite and ascending"
            )));
        }
    }
    Ok(())
}
