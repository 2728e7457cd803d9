//! Avatar assets: skinned meshes, skeletons and animation clips.
//!
//! An [`Asset`] is what every scene and every device shares: it is imported once (from glTF with
//! [`import_gltf`], or built by [`procedural::humanoid`]) and handed around as `Arc<Asset>` through
//! an [`AssetLibrary`].
//!
//! The skinning model is deliberately uniform: every vertex is bound to up to four entries of the
//! skeleton's [`Skeleton::bindings`]. A binding is a node plus an inverse bind matrix, so a glTF
//! skin joint is a binding, and a rigid (unskinned) glTF mesh becomes a binding to its own node with
//! an identity inverse bind matrix. The renderer and the CPU twin therefore only know one path.
//!
//! Every asset is checked before meshoptimizer (C++) sees it, and the importer allocates nothing
//! for a count read from a file before checking it against the bytes present and against the
//! [`limits`]. A malformed file is an [`AssetError`] naming the file, never an abort.

mod glb_export;
mod gltf_import;
mod library;
pub mod limits;
pub mod lod;
pub mod procedural;

pub use glb_export::export_glb;
pub use gltf_import::{import_gltf, import_gltf_slice};
pub use library::{AssetLibrary, AssetRef, BUILTIN_ASSETS};
pub use limits::MeshError;

use glam::{Mat4, Quat, Vec2, Vec3, Vec4};
use std::path::PathBuf;
use std::sync::Arc;

/// Errors raised while importing or building assets.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AssetError {
    /// The file could not be read.
    #[error("{path}: cannot read the file: {source}")]
    Io {
        /// File that failed.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The glTF JSON or GLB container is malformed.
    #[error("{path}: not a valid glTF 2.0 file: {message}")]
    Parse {
        /// File that failed.
        path: PathBuf,
        /// What the glTF parser said.
        message: String,
    },
    /// A buffer is shorter than the file declares (truncated download, cut-off base64, ...).
    #[error(
        "{path}: buffer {buffer} is truncated: {declared} bytes declared, {actual} present; re-export or re-download the file"
    )]
    TruncatedBuffer {
        /// File that failed.
        path: PathBuf,
        /// Buffer index.
        buffer: usize,
        /// `byteLength` in the file.
        declared: usize,
        /// Bytes actually available.
        actual: usize,
    },
    /// An external URI points outside the glTF's own folder.
    #[error(
        "{path}: URI {uri:?} escapes the folder of the glTF file; external files must live beside it"
    )]
    UriEscapes {
        /// File that failed.
        path: PathBuf,
        /// The offending URI.
        uri: String,
    },
    /// A confined [`AssetLibrary`] was asked for a file outside its folder.
    #[error(
        "{path}: the asset lies outside {root}, the only folder assets may be loaded from here; copy it there"
    )]
    OutsideFolder {
        /// The file asked for.
        path: PathBuf,
        /// The library's folder.
        root: PathBuf,
    },
    /// The geometry, skeleton or clips break a rule every asset must keep (see [`limits`]).
    #[error("{path}: {source}")]
    BadMesh {
        /// File that failed.
        path: PathBuf,
        /// What is wrong.
        source: MeshError,
    },
    /// Any other structural problem, described in words.
    #[error("{path}: {message}")]
    Invalid {
        /// File that failed.
        path: PathBuf,
        /// What is wrong and, where possible, what to do.
        message: String,
    },
    /// An asset name that is neither built in nor a file.
    #[error("unknown asset {name:?}; use one of {known} or a path to a .gltf/.glb file")]
    Unknown {
        /// The name asked for.
        name: String,
        /// Known built-in names, comma separated.
        known: String,
    },
}

/// A local transform: translation, rotation, scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transform {
    /// Translation.
    pub translation: Vec3,
    /// Rotation (unit quaternion).
    pub rotation: Quat,
    /// Non-uniform scale.
    pub scale: Vec3,
}

impl Default for Transform {
    fn default() -> Self {
        Self::IDENTITY
    }
}

impl Transform {
    /// The identity transform.
    pub const IDENTITY: Self = Self {
        translation: Vec3::ZERO,
        rotation: Quat::IDENTITY,
        scale: Vec3::ONE,
    };

    /// As a matrix (T * R * S).
    pub fn matrix(&self) -> Mat4 {
        Mat4::from_scale_rotation_translation(self.scale, self.rotation, self.translation)
    }

    /// Decompose a matrix (as glTF does for `matrix` nodes).
    pub fn from_matrix(m: Mat4) -> Self {
        let (scale, rotation, translation) = m.to_scale_rotation_translation();
        Self {
            translation,
            rotation,
            scale,
        }
    }
}

/// One node of a skeleton (a glTF node, including non-joint ancestors such as a Z-up fix).
#[derive(Debug, Clone)]
pub struct SkeletonNode {
    /// Node name (empty if the file had none).
    pub name: String,
    /// Parent index; parents always come before their children.
    pub parent: Option<usize>,
    /// Rest (bind-time) local transform, used where no clip channel animates the node.
    pub rest: Transform,
}

/// One palette entry: a node and the inverse bind matrix that takes mesh space into its space.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    /// Index into [`Skeleton::nodes`].
    pub node: usize,
    /// Inverse bind matrix.
    pub inverse_bind: Mat4,
}

/// Node hierarchy plus the bindings that vertices refer to.
#[derive(Debug, Clone, Default)]
pub struct Skeleton {
    /// Nodes in topological order (parents first).
    pub nodes: Vec<SkeletonNode>,
    /// Palette entries; vertex joint indices index this list.
    pub bindings: Vec<Binding>,
}

impl Skeleton {
    /// Index of the node with this name.
    pub fn node_index(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }
}

/// Which property a channel animates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Property {
    /// Translation (xyz).
    Translation,
    /// Rotation (quaternion xyzw).
    Rotation,
    /// Scale (xyz).
    Scale,
}

/// Keyframe interpolation, as in glTF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interpolation {
    /// Hold the previous key.
    Step,
    /// Linear (spherical linear for rotations).
    Linear,
    /// Cubic Hermite spline with in/out tangents per key.
    CubicSpline,
}

/// One animated property of one node.
#[derive(Debug, Clone)]
pub struct Channel {
    /// Target node index.
    pub node: usize,
    /// Animated property.
    pub property: Property,
    /// Interpolation mode.
    pub interpolation: Interpolation,
    /// Key times in seconds, ascending.
    pub times: Vec<f32>,
    /// Key values (xyz in `.xyz` for translation/scale, xyzw for rotation). For
    /// [`Interpolation::CubicSpline`] there are three per key: in-tangent, value, out-tangent.
    pub values: Vec<Vec4>,
}

/// A named animation clip.
#[derive(Debug, Clone)]
pub struct Clip {
    /// Clip name (`clipN` when the file gave none).
    pub name: String,
    /// Length in seconds (the last key time of any channel).
    pub duration: f32,
    /// Channels.
    pub channels: Vec<Channel>,
}

/// A skinned vertex in mesh space.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SkinVertex {
    /// Position.
    pub position: Vec3,
    /// Unit normal.
    pub normal: Vec3,
    /// Texture coordinate (TEXCOORD_0), zero when absent.
    pub uv: Vec2,
    /// Binding indices.
    pub joints: [u32; 4],
    /// Weights, summing to one.
    pub weights: [f32; 4],
}

/// A decoded RGBA8 texture.
#[derive(Debug, Clone)]
pub struct Texture {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// RGBA8 sRGB pixels, row-major.
    pub rgba: Vec<u8>,
}

/// A material: base colour factor and optional base colour texture.
#[derive(Debug, Clone)]
pub struct Material {
    /// Material name.
    pub name: String,
    /// Linear base colour factor.
    pub base_color: Vec4,
    /// Base colour texture (sampled with TEXCOORD_0).
    pub texture: Option<Arc<Texture>>,
}

impl Default for Material {
    fn default() -> Self {
        Self {
            name: "default".into(),
            base_color: Vec4::ONE,
            texture: None,
        }
    }
}

/// A range of indices drawn with one material.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Submesh {
    /// First index.
    pub first_index: u32,
    /// Number of indices.
    pub index_count: u32,
    /// Index into [`MeshAsset::materials`].
    pub material: usize,
}

/// All the skinned geometry of an asset, merged into one vertex and index list.
#[derive(Debug, Clone, Default)]
pub struct MeshAsset {
    /// Vertices.
    pub vertices: Vec<SkinVertex>,
    /// Triangle list indices.
    pub indices: Vec<u32>,
    /// Material ranges.
    pub submeshes: Vec<Submesh>,
    /// Materials referenced by the submeshes.
    pub materials: Vec<Material>,
}

impl MeshAsset {
    /// Number of triangles.
    pub fn triangle_count(&self) -> usize {
        self.indices.len() / 3
    }
}

/// A complete avatar asset.
#[derive(Debug, Clone)]
pub struct Asset {
    /// Name used in scenes and logs.
    pub name: String,
    /// Geometry.
    pub mesh: MeshAsset,
    /// Hierarchy and bindings.
    pub skeleton: Skeleton,
    /// Animation clips.
    pub clips: Vec<Clip>,
    /// LOD chain (level 0 is the full mesh), built with the asset by [`Asset::new`].
    lods: Vec<lod::LodLevel>,
    /// Animated bounding sphere, computed on first use by `anim::bounds` (which samples the
    /// clips; assets know nothing of animation).
    bounds: std::sync::OnceLock<lod::Bounds>,
}

impl Asset {
    /// Build an asset from parts known to be well formed (procedural or test geometry): as
    /// [`Asset::try_new`].
    ///
    /// # Panics
    ///
    /// If the parts fail [`limits::check_asset`]. Use [`Asset::try_new`] for anything built from
    /// input.
    pub fn new(name: String, mesh: MeshAsset, skeleton: Skeleton, clips: Vec<Clip>) -> Self {
        match Self::try_new(name, mesh, skeleton, clips) {
            Ok(asset) => asset,
            Err(e) => panic!("Asset::new given a malformed asset ({e}); use Asset::try_new"),
        }
    }

    /// Check the parts ([`limits::check_asset`]: triangles, index ranges, finite attributes,
    /// joints, parent order, clips), then build the asset: optimise nothing that changes what is
    /// drawn, build its LOD chain with meshoptimizer and renumber the vertices so that every level
    /// uses a prefix of the vertex list (see [`lod`]). Triangles and their order are unchanged.
    pub fn try_new(
        name: String,
        mut mesh: MeshAsset,
        skeleton: Skeleton,
        clips: Vec<Clip>,
    ) -> Result<Self, MeshError> {
        limits::check_asset(&mesh, &skeleton, &clips)?;
        let lods = lod::build_nested_chain(&mut mesh)?;
        Ok(Self {
            name,
            mesh,
            skeleton,
            clips,
            lods,
            bounds: Default::default(),
        })
    }

    /// The asset's LOD chain: level 0 draws [`MeshAsset::indices`]; each later level has fewer
    /// triangles and uses a prefix of the vertices of the level before.
    pub fn lods(&self) -> &[lod::LodLevel] {
        &self.lods
    }

    /// Where `anim::bounds` keeps this asset's animated bounding sphere once computed.
    pub fn bounds_cache(&self) -> &std::sync::OnceLock<lod::Bounds> {
        &self.bounds
    }

    /// Index of the clip called `name`.
    pub fn clip_index(&self, name: &str) -> Option<usize> {
        self.clips.iter().position(|c| c.name == name)
    }

    /// Comma-separated clip names, for error messages.
    pub fn clip_names(&self) -> String {
        if self.clips.is_empty() {
            return "(none)".into();
        }
        self.clips
            .iter()
            .map(|c| format!("{:?}", c.name))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
