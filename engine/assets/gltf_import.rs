//! glTF 2.0 import (`.gltf` with embedded or external buffers, and `.glb`).
//!
//! The `gltf` crate parses and validates the document; this module resolves buffers itself (in
//! [`data`]) so that it can enforce the rules the crate leaves to the caller: external URIs must
//! stay inside the glTF's own folder, and every buffer, view and accessor must fit in the bytes
//! actually present (a truncated file is an error naming the file, never a panic).
//!
//! Every count read from the file is checked against those bytes and against the
//! [`limits`](super::limits) before anything is allocated for it, and every primitive is checked
//! (whole triangles, indices in range, finite attributes) before meshoptimizer sees it; errors
//! name the file, the mesh and the primitive.

mod clips;
mod data;

use super::limits::{
    MAX_BINDINGS, MAX_CLIPS, MAX_INDICES, MAX_NODES, MAX_TEXTURE_BYTES, MAX_VERTICES,
};
use super::{
    Asset, AssetError, Binding, Material, MeshAsset, Skeleton, SkeletonNode, SkinVertex, Submesh,
    Texture, Transform,
};
use glam::{Mat4, Quat, Vec2, Vec3, Vec4};
use gltf::accessor::{DataType, Dimensions};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Import a `.gltf` or `.glb` file from disk. External buffers and images resolve relative to the
/// file's folder and may not leave it.
pub fn import_gltf(path: &Path) -> Result<Asset, AssetError> {
    let bytes = std::fs::read(path).map_err(|source| AssetError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "asset".into());
    let dir = path.parent().map(Path::to_path_buf);
    import_gltf_slice(&bytes, &name, path, dir.as_deref())
}

/// Import glTF from memory. `origin` names the file in errors; `base_dir` is the folder external
/// URIs resolve in (`None` forbids external URIs, as for assets compiled into the binary).
pub fn import_gltf_slice(
    bytes: &[u8],
    name: &str,
    origin: &Path,
    base_dir: Option<&Path>,
) -> Result<Asset, AssetError> {
    let importer = Importer {
        path: origin.to_path_buf(),
        base_dir: base_dir.map(Path::to_path_buf),
    };
    if bytes.starts_with(b"glTF") {
        // The gltf crate subtracts the header size from the declared length unchecked.
        let declared = bytes
            .get(8..12)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        if declared.is_none_or(|len| len < 12) {
            return Err(AssetError::Parse {
                path: origin.to_path_buf(),
                message: "the GLB header is truncated or declares an impossible length".into(),
            });
        }
    }
    // Belt and braces: a malformed file must never take the process down.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| importer.run(bytes, name)))
        .unwrap_or_else(|_| {
            Err(AssetError::Invalid {
                path: origin.to_path_buf(),
                message: "the file is malformed in a way the glTF reader could not handle".into(),
            })
        })
}

/// Attribute accessors (by semantic), skin and node of a primitive: primitives with equal keys
/// share their vertices.
type VertexSetKey = (Vec<(String, usize)>, Option<usize>, usize);

struct Importer {
    path: PathBuf,
    base_dir: Option<PathBuf>,
}

/// Decoded textures by image index, and the decoded bytes the asset may still take.
struct Textures {
    cache: HashMap<usize, Arc<Texture>>,
    budget: u64,
}

/// A primitive being read, with what its vertices bind to.
struct PrimitiveData<'a> {
    prim: &'a gltf::Primitive<'a>,
    /// `mesh 0 "Body" primitive 1`, for errors.
    label: &'a str,
    /// Binding of each joint of the node's skin.
    skin_map: Option<&'a [u32]>,
    /// The node's own binding, for unskinned vertices.
    rigid: u32,
}

fn primitive_label(mesh: &gltf::Mesh<'_>, primitive: usize) -> String {
    match mesh.name() {
        Some(name) => format!("mesh {} {name:?} primitive {primitive}", mesh.index()),
        None => format!("mesh {} primitive {primitive}", mesh.index()),
    }
}

impl Importer {
    fn invalid(&self, message: impl Into<String>) -> AssetError {
        AssetError::Invalid {
            path: self.path.clone(),
            message: message.into(),
        }
    }

    fn run(&self, bytes: &[u8], name: &str) -> Result<Asset, AssetError> {
        let parse_error = |e: gltf::Error| AssetError::Parse {
            path: self.path.clone(),
            message: e.to_string(),
        };
        let unchecked = gltf::Gltf::from_slice_without_validation(bytes).map_err(parse_error)?;
        self.check_unvalidated(unchecked.document.as_json())?;
        let blob = unchecked.blob;
        let document =
            gltf::Document::from_json(unchecked.document.into_json()).map_err(parse_error)?;
        let doc = &document;
        for (what, count, max) in [
            ("nodes", doc.nodes().len(), MAX_NODES),
            ("animations", doc.animations().len(), MAX_CLIPS),
        ] {
            if count > max {
                return Err(self.invalid(format!(
                    "{count} {what} exceed the limit of {max}; simplify the asset"
                )));
            }
        }
        let buffers = self.load_buffers(doc, blob.as_deref())?;
        self.check_bounds(doc, &buffers)?;
        let get = |b: gltf::Buffer<'_>| buffers.get(b.index()).map(Vec::as_slice);

        let (skeleton_nodes, node_map) = self.build_hierarchy(doc)?;
        let mut skeleton = Skeleton {
            nodes: skeleton_nodes,
            bindings: Vec::new(),
        };
        let mut skin_bindings: HashMap<usize, Vec<u32>> = HashMap::new();
        let mut rigid_bindings: HashMap<usize, u32> = HashMap::new();
        let mut mesh = MeshAsset::default();
        let mut material_map: HashMap<Option<usize>, usize> = HashMap::new();
        let mut textures = Textures {
            cache: HashMap::new(),
            budget: MAX_TEXTURE_BYTES,
        };
        // Primitives that share their attribute accessors (and skin) share vertices.
        let mut vertex_sets: HashMap<VertexSetKey, u32> = HashMap::new();

        for node in doc.nodes() {
            let Some(gmesh) = node.mesh() else { continue };
            let Some(&our_node) = node_map.get(&node.index()) else {
                continue; // not part of the displayed scene
            };
            let skin_map: Option<Vec<u32>> = match node.skin() {
                Some(skin) => Some(match skin_bindings.get(&skin.index()) {
                    Some(map) => map.clone(),
                    None => {
                        let map = self.read_skin(&skin, &node_map, get, &mut skeleton)?;
                        skin_bindings.insert(skin.index(), map.clone());
                        map
                    }
                }),
                None => None,
            };
            let rigid = match rigid_bindings.get(&our_node) {
                Some(&b) => b,
                None => {
                    self.check_bindings(skeleton.bindings.len(), 1)?;
                    skeleton.bindings.push(Binding {
                        node: our_node,
                        inverse_bind: Mat4::IDENTITY,
                    });
                    let b = skeleton.bindings.len() as u32 - 1;
                    rigid_bindings.insert(our_node, b);
                    b
                }
            };

            for prim in gmesh.primitives() {
                let label = primitive_label(&gmesh, prim.index());
                if prim.mode() != gltf::mesh::Mode::Triangles {
                    tracing::warn!(
                        "{}: {label} is drawn as {:?}; only triangles are drawn, it is skipped",
                        self.path.display(),
                        prim.mode()
                    );
                    continue;
                }
                let mut attr_key: Vec<(String, usize)> = prim
                    .attributes()
                    .map(|(sem, acc)| (sem.to_string(), acc.index()))
                    .collect();
                attr_key.sort();
                let set_key = (attr_key, node.skin().map(|s| s.index()), our_node);
                let material_index = prim.material().index();
                let mat = match material_map.get(&material_index) {
                    Some(&m) => m,
                    None => {
                        let m = self.material(&prim.material(), &buffers, &mut textures)?;
                        mesh.materials.push(m);
                        material_map.insert(material_index, mesh.materials.len() - 1);
                        mesh.materials.len() - 1
                    }
                };
                let shared = vertex_sets.get(&set_key).copied();
                let new_vertices = if shared.is_some() {
                    0
                } else {
                    mesh.vertices.len()
                };
                let prim_data = PrimitiveData {
                    prim: &prim,
                    label: &label,
                    skin_map: skin_map.as_deref(),
                    rigid,
                };
                let indices = self.read_indices(&prim_data, get, &mesh, new_vertices)?;
                let base = match shared {
                    Some(base) => base,
                    None => {
                        let base = mesh.vertices.len() as u32;
                        vertex_sets.insert(set_key, base);
                        self.read_vertices(&prim_data, get, &indices, &mut mesh.vertices)?;
                        base
                    }
                };
                let first_index = mesh.indices.len() as u32;
                mesh.indices.extend(indices.iter().map(|i| i + base));
                mesh.submeshes.push(Submesh {
                    first_index,
                    index_count: indices.len() as u32,
                    material: mat,
                });
            }
        }
        if mesh.vertices.is_empty() {
            return Err(self.invalid("the scene has no triangle mesh to draw"));
        }

        let clips = self.clips(doc, &node_map, get)?;
        Asset::try_new(name.to_string(), mesh, skeleton, clips).map_err(|source| {
            AssetError::BadMesh {
                path: self.path.clone(),
                source,
            }
        })
    }

    /// Check what gltf-json's validation gets wrong, before it runs (all found by the
    /// `gltf_import` fuzz target): it looks up each primitive's POSITION accessor without
    /// checking the index (a panic on a bad one), it never validates animation channel
    /// targets, whose node index and path the `gltf` crate later unwraps (a panic too), and it
    /// lets an image go without the `uri` or `mimeType` the crate unwraps.
    fn check_unvalidated(&self, root: &gltf::json::Root) -> Result<(), AssetError> {
        use gltf::json::validation::{Checked, Validate};
        let parse = |message: String| AssetError::Parse {
            path: self.path.clone(),
            message,
        };
        let accessors = root.accessors.len();
        for (m, mesh) in root.meshes.iter().enumerate() {
            for (p, prim) in mesh.primitives.iter().enumerate() {
                if let Some(index) = prim
                    .attributes
                    .get(&Checked::Valid(gltf::json::mesh::Semantic::Positions))
                    && index.value() >= accessors
                {
                    return Err(parse(format!(
                        "meshes[{m}].primitives[{p}].attributes.POSITION names accessor {}, but the file has {accessors}",
                        index.value()
                    )));
                }
            }
        }
        // The gltf crate unwraps an image's `uri` when it has no `bufferView`, and its
        // `mimeType` when it has one; validation requires neither.
        for (i, image) in root.images.iter().enumerate() {
            match (&image.buffer_view, &image.uri, &image.mime_type) {
                (Some(_), _, None) => {
                    return Err(parse(format!(
                        "images[{i}] lies in a bufferView but has no mimeType; glTF requires one there"
                    )));
                }
                (None, None, _) => {
                    return Err(parse(format!(
                        "images[{i}] has neither a uri nor a bufferView; glTF requires one of them"
                    )));
                }
                _ => {}
            }
        }
        for (a, anim) in root.animations.iter().enumerate() {
            for (c, channel) in anim.channels.iter().enumerate() {
                let mut errors = Vec::new();
                channel.target.validate(
                    root,
                    || {
                        gltf::json::Path::new()
                            .field("animations")
                            .index(a)
                            .field("channels")
                            .index(c)
                            .field("target")
                    },
                    &mut |path, error| errors.push(format!("{}: {error}", path())),
                );
                if !errors.is_empty() {
                    return Err(parse(format!("invalid glTF: {}", errors.join("; "))));
                }
            }
        }
        Ok(())
    }

    /// An accessor's element type must be one the reader for its use handles: the `gltf`
    /// crate's readers assume it (a panic, or misread data, otherwise; found by the
    /// `gltf_import` fuzz target). `kinds` are the allowed component types.
    fn check_type(
        &self,
        acc: &gltf::Accessor<'_>,
        what: &str,
        kinds: &[DataType],
        dims: Dimensions,
    ) -> Result<(), AssetError> {
        if acc.dimensions() == dims && kinds.contains(&acc.data_type()) {
            return Ok(());
        }
        Err(self.invalid(format!(
            "{what} (accessor {}) holds {:?} of {:?}; it must hold {dims:?} of one of {kinds:?}",
            acc.index(),
            acc.dimensions(),
            acc.data_type()
        )))
    }

    /// Check the types of every attribute [`Self::read_vertices`] reads.
    fn check_attribute_types(&self, p: &PrimitiveData<'_>) -> Result<(), AssetError> {
        use DataType::{F32, U8, U16};
        use gltf::Semantic;
        for (semantic, kinds, dims) in [
            (Semantic::Positions, &[F32][..], Dimensions::Vec3),
            (Semantic::Normals, &[F32][..], Dimensions::Vec3),
            (
                Semantic::TexCoords(0),
                &[F32, U8, U16][..],
                Dimensions::Vec2,
            ),
            (Semantic::Joints(0), &[U8, U16][..], Dimensions::Vec4),
            (Semantic::Weights(0), &[F32, U8, U16][..], Dimensions::Vec4),
        ] {
            if let Some(acc) = p.prim.get(&semantic) {
                self.check_type(
                    &acc,
                    &format!("{}: {}", p.label, semantic.to_string()),
                    kinds,
                    dims,
                )?;
            }
        }
        Ok(())
    }

    /// A node's rest transform, finite. A matrix decomposes into translation, rotation and
    /// scale; one that collapses an axis (scale 0) has no defined rotation, which becomes the
    /// identity (found by the `gltf_import` fuzz target: the rotation was NaN).
    fn node_transform(&self, node: &gltf::Node<'_>) -> Result<Transform, AssetError> {
        let rest = match node.transform() {
            gltf::scene::Transform::Matrix { matrix } => {
                let m = Mat4::from_cols_array_2d(&matrix);
                let mut t = Transform::from_matrix(m);
                if m.is_finite() && !t.rotation.is_finite() {
                    t.rotation = Quat::IDENTITY;
                }
                t
            }
            gltf::scene::Transform::Decomposed {
                translation,
                rotation,
                scale,
            } => Transform {
                translation: Vec3::from(translation),
                rotation: Quat::from_array(rotation).normalize(),
                scale: Vec3::from(scale),
            },
        };
        if !(rest.translation.is_finite() && rest.rotation.is_finite() && rest.scale.is_finite()) {
            return Err(self.invalid(format!(
                "node {}: its transform is not finite (NaN or infinity, or a zero rotation quaternion)",
                node.index()
            )));
        }
        Ok(rest)
    }

    fn check_bindings(&self, have: usize, more: usize) -> Result<(), AssetError> {
        if have.saturating_add(more) > MAX_BINDINGS {
            return Err(self.invalid(format!(
                "the skins and meshes need more than {MAX_BINDINGS} joints (palette entries); simplify the rig"
            )));
        }
        Ok(())
    }

    /// Add a skin's joints to the skeleton's bindings; returns the binding of each skin joint.
    fn read_skin<'a, 's, F>(
        &self,
        skin: &'a gltf::Skin<'a>,
        node_map: &HashMap<usize, usize>,
        get: F,
        skeleton: &mut Skeleton,
    ) -> Result<Vec<u32>, AssetError>
    where
        F: Clone + Fn(gltf::Buffer<'a>) -> Option<&'s [u8]>,
    {
        let joints = skin.joints().len();
        self.check_bindings(skeleton.bindings.len(), joints)?;
        let ibms: Vec<Mat4> = match skin.inverse_bind_matrices() {
            Some(acc) if acc.count() < joints => {
                return Err(self.invalid(format!(
                    "skin {} has {joints} joints but only {} inverse bind matrices",
                    skin.index(),
                    acc.count()
                )));
            }
            // At most `joints` matrices are read, so the allocation is bounded by the joints.
            Some(acc) => match self
                .check_type(
                    &acc,
                    &format!("skin {}: inverse bind matrices", skin.index()),
                    &[DataType::F32],
                    Dimensions::Mat4,
                )
                .map(|()| skin.reader(get).read_inverse_bind_matrices())?
            {
                Some(iter) => iter
                    .take(joints)
                    .map(|m| Mat4::from_cols_array_2d(&m))
                    .collect(),
                None => {
                    return Err(self.invalid(format!(
                        "skin {}: the inverse bind matrices cannot be read",
                        skin.index()
                    )));
                }
            },
            None => vec![Mat4::IDENTITY; joints],
        };
        if !ibms.iter().all(Mat4::is_finite) {
            return Err(self.invalid(format!(
                "skin {}: an inverse bind matrix is not finite",
                skin.index()
            )));
        }
        let mut map = Vec::with_capacity(joints);
        for (j, joint) in skin.joints().enumerate() {
            let Some(&jn) = node_map.get(&joint.index()) else {
                return Err(self.invalid(format!(
                    "skin {} uses joint node {} which is not in the scene",
                    skin.index(),
                    joint.index()
                )));
            };
            map.push(skeleton.bindings.len() as u32);
            skeleton.bindings.push(Binding {
                node: jn,
                inverse_bind: ibms.get(j).copied().unwrap_or(Mat4::IDENTITY),
            });
        }
        Ok(map)
    }

    /// A primitive's triangle list (its own numbering), checked before meshoptimizer sees it:
    /// within the vertex and index limits (`new_vertices` is the vertex count the asset will have
    /// before this primitive's vertices, 0 when they are shared), a non-empty multiple of three
    /// indices, each below the POSITION count.
    fn read_indices<'a, 's, F>(
        &self,
        p: &PrimitiveData<'a>,
        get: F,
        mesh: &MeshAsset,
        new_vertices: usize,
    ) -> Result<Vec<u32>, AssetError>
    where
        F: Clone + Fn(gltf::Buffer<'a>) -> Option<&'s [u8]>,
    {
        let label = p.label;
        let n = p
            .prim
            .get(&gltf::Semantic::Positions)
            .map(|acc| acc.count())
            .ok_or_else(|| self.invalid(format!("{label} has no POSITION attribute")))?;
        if new_vertices.saturating_add(n) > MAX_VERTICES {
            return Err(self.invalid(format!(
                "{label}: {n} vertices take the asset past the limit of {MAX_VERTICES}; simplify or split it"
            )));
        }
        let count = p.prim.indices().map_or(n, |acc| acc.count());
        if mesh.indices.len().saturating_add(count) > MAX_INDICES {
            return Err(self.invalid(format!(
                "{label}: {count} indices take the asset past the limit of {MAX_INDICES}; simplify or split it"
            )));
        }
        if count == 0 || !count.is_multiple_of(3) {
            let what = if p.prim.indices().is_some() {
                "indices"
            } else {
                "vertices and no indices"
            };
            return Err(self.invalid(format!(
                "{label} has {count} {what}, which is not a whole number of triangles; a triangle list needs a non-zero multiple of 3 (re-export it triangulated)"
            )));
        }
        if let Some(acc) = p.prim.indices() {
            use DataType::{U8, U16, U32};
            let what = format!("{label}: indices");
            self.check_type(&acc, &what, &[U8, U16, U32], Dimensions::Scalar)?;
        }
        let indices: Vec<u32> = match p.prim.indices() {
            None => (0..n as u32).collect(),
            Some(_) => match p.prim.reader(get).read_indices() {
                Some(i) => i.into_u32().collect(),
                None => {
                    return Err(self.invalid(format!("{label}: the indices cannot be read")));
                }
            },
        };
        if indices.len() != count {
            return Err(self.invalid(format!(
                "{label}: {} of {count} indices could be read",
                indices.len()
            )));
        }
        if let Some((at, &bad)) = indices.iter().enumerate().find(|&(_, &i)| i as usize >= n) {
            return Err(self.invalid(format!(
                "{label}: index {at} is {bad}, but POSITION has only {n} vertices"
            )));
        }
        Ok(indices)
    }

    /// Read one primitive's vertices (positions, normals, UVs, joints mapped to bindings,
    /// weights). Every attribute must have POSITION's count (checked before reading), and
    /// positions, normals, UVs and weights must be finite.
    fn read_vertices<'a, 's, F>(
        &self,
        p: &PrimitiveData<'a>,
        get: F,
        indices: &[u32],
        out: &mut Vec<SkinVertex>,
    ) -> Result<(), AssetError>
    where
        F: Clone + Fn(gltf::Buffer<'a>) -> Option<&'s [u8]>,
    {
        let label = p.label;
        let n = p
            .prim
            .get(&gltf::Semantic::Positions)
            .map_or(0, |acc| acc.count());
        for (semantic, acc) in p.prim.attributes() {
            if acc.count() != n {
                return Err(self.invalid(format!(
                    "{label}: {} has {} elements but POSITION has {n}; every attribute of a primitive needs one element per vertex",
                    semantic.to_string(),
                    acc.count()
                )));
            }
        }
        self.check_attribute_types(p)?;
        let reader = p.prim.reader(get);
        let not_finite = |attribute: &str, vertex: usize| {
            self.invalid(format!(
                "{label}: {attribute} of vertex {vertex} is not finite (NaN or infinity)"
            ))
        };
        let positions: Vec<Vec3> = reader
            .read_positions()
            .map(|p| p.map(Vec3::from).collect())
            .unwrap_or_default();
        if positions.len() != n {
            return Err(self.invalid(format!("{label}: POSITION cannot be read")));
        }
        if let Some(v) = positions.iter().position(|p| !p.is_finite()) {
            return Err(not_finite("POSITION", v));
        }
        let normals: Vec<Vec3> = match reader.read_normals() {
            Some(it) => it.map(Vec3::from).collect(),
            None => smooth_normals(&positions, indices),
        };
        if let Some(v) = normals.iter().position(|p| !p.is_finite()) {
            return Err(not_finite("NORMAL", v));
        }
        let uvs: Vec<Vec2> = match reader.read_tex_coords(0) {
            Some(t) => t.into_f32().map(Vec2::from).collect(),
            None => vec![Vec2::ZERO; n],
        };
        if let Some(v) = uvs.iter().position(|p| !p.is_finite()) {
            return Err(not_finite("TEXCOORD_0", v));
        }
        let skinned = match (p.skin_map, reader.read_joints(0), reader.read_weights(0)) {
            (Some(map), Some(j), Some(w)) => Some((
                map,
                j.into_u16().collect::<Vec<_>>(),
                w.into_f32().collect::<Vec<_>>(),
            )),
            _ => None,
        };
        if normals.len() != n || uvs.len() != n {
            return Err(self.invalid(format!(
                "{label}: attribute counts differ from POSITION's {n}"
            )));
        }
        out.reserve(n);
        for i in 0..n {
            let (joints, weights) = match &skinned {
                Some((map, j, w)) => {
                    let (Some(jj), Some(ww)) = (j.get(i), w.get(i)) else {
                        return Err(self.invalid(format!(
                            "{label}: JOINTS_0/WEIGHTS_0 shorter than POSITION"
                        )));
                    };
                    if !ww.iter().all(|w| w.is_finite()) {
                        return Err(not_finite("WEIGHTS_0", i));
                    }
                    let mut joints = [0u32; 4];
                    for k in 0..4 {
                        joints[k] = *map.get(jj[k] as usize).ok_or_else(|| {
                            self.invalid(format!(
                                "{label}: vertex {i} uses joint {} but its skin has {}",
                                jj[k],
                                map.len()
                            ))
                        })?;
                    }
                    (joints, normalize_weights(*ww, p.rigid, &mut joints))
                }
                None => ([p.rigid; 4], [1.0, 0.0, 0.0, 0.0]),
            };
            out.push(SkinVertex {
                position: positions[i],
                normal: normals[i].normalize_or(Vec3::Y),
                uv: uvs[i],
                joints,
                weights,
            });
        }
        Ok(())
    }

    /// Nodes of the default scene in parent-first order, plus the map glTF index -> our index.
    fn build_hierarchy(
        &self,
        doc: &gltf::Document,
    ) -> Result<(Vec<SkeletonNode>, HashMap<usize, usize>), AssetError> {
        let roots: Vec<gltf::Node<'_>> = match doc.default_scene().or_else(|| doc.scenes().next()) {
            Some(scene) => scene.nodes().collect(),
            None => {
                let mut is_child = vec![false; doc.nodes().len()];
                for n in doc.nodes() {
                    for c in n.children() {
                        is_child[c.index()] = true;
                    }
                }
                doc.nodes().filter(|n| !is_child[n.index()]).collect()
            }
        };
        let mut nodes = Vec::new();
        let mut map = HashMap::new();
        let mut queue: std::collections::VecDeque<(gltf::Node<'_>, Option<usize>)> =
            roots.into_iter().map(|n| (n, None)).collect();
        while let Some((node, parent)) = queue.pop_front() {
            if map.contains_key(&node.index()) {
                return Err(self.invalid(format!(
                    "node {} has more than one parent; glTF node hierarchies must be trees",
                    node.index()
                )));
            }
            let rest = self.node_transform(&node)?;
            let ours = nodes.len();
            map.insert(node.index(), ours);
            nodes.push(SkeletonNode {
                name: node.name().unwrap_or("").to_string(),
                parent,
                rest,
            });
            for child in node.children() {
                queue.push_back((child, Some(ours)));
            }
        }
        Ok((nodes, map))
    }

    fn material(
        &self,
        mat: &gltf::Material<'_>,
        buffers: &[Vec<u8>],
        textures: &mut Textures,
    ) -> Result<Material, AssetError> {
        let pbr = mat.pbr_metallic_roughness();
        let texture = match pbr.base_color_texture() {
            Some(info) => {
                if info.tex_coord() != 0 {
                    tracing::warn!(
                        "{}: base colour texture uses TEXCOORD_{}; only TEXCOORD_0 is supported",
                        self.path.display(),
                        info.tex_coord()
                    );
                }
                let image = info.texture().source();
                match textures.cache.get(&image.index()) {
                    Some(t) => Some(t.clone()),
                    None => {
                        let bytes = match image.source() {
                            gltf::image::Source::View { view, .. } => {
                                let start = view.offset();
                                // check_bounds put every view inside its buffer.
                                buffers
                                    .get(view.buffer().index())
                                    .and_then(|b| b.get(start..start + view.length()))
                                    .ok_or_else(|| {
                                        self.invalid(format!(
                                            "image {} lies outside its buffer",
                                            image.index()
                                        ))
                                    })?
                                    .to_vec()
                            }
                            gltf::image::Source::Uri { uri, .. } => self.read_uri(uri)?,
                        };
                        let (width, height, rgba) =
                            self.decode_image(image.index(), &bytes, &mut textures.budget)?;
                        let tex = Arc::new(Texture {
                            width,
                            height,
                            rgba,
                        });
                        textures.cache.insert(image.index(), tex.clone());
                        Some(tex)
                    }
                }
            }
            None => None,
        };
        let base_color = Vec4::from(pbr.base_color_factor());
        if !base_color.is_finite() {
            return Err(self.invalid(format!(
                "material {}: baseColorFactor {base_color} is not finite",
                mat.index().map_or("(default)".into(), |i| i.to_string())
            )));
        }
        Ok(Material {
            name: mat.name().unwrap_or("material").to_string(),
            base_color,
            texture,
        })
    }
}

/// Normalise weights to sum to one; an all-zero (or all but zero) set binds rigidly.
fn normalize_weights(w: [f32; 4], fallback: u32, joints: &mut [u32; 4]) -> [f32; 4] {
    let w = w.map(|x| if x.is_finite() { x.max(0.0) } else { 0.0 });
    // In f64, so that huge (finite) weights cannot overflow the sum.
    let sum: f64 = w.iter().map(|&x| f64::from(x)).sum();
    if sum <= 1e-6 {
        *joints = [fallback; 4];
        return [1.0, 0.0, 0.0, 0.0];
    }
    w.map(|x| (f64::from(x) / sum) as f32)
}

/// Area-weighted vertex normals for meshes that ship without NORMAL.
pub(crate) fn smooth_normals(positions: &[Vec3], indices: &[u32]) -> Vec<Vec3> {
    let mut normals = vec![Vec3::ZERO; positions.len()];
    for tri in indices.chunks_exact(3) {
        let [a, b, c] = [tri[0] as usize, tri[1] as usize, tri[2] as usize];
        let n = (positions[b] - positions[a]).cross(positions[c] - positions[a]);
        normals[a] += n;
        normals[b] += n;
        normals[c] += n;
    }
    normals
        .into_iter()
        .map(|n| n.normalize_or(Vec3::Y))
        .collect()
}
