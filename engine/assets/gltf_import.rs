//! glTF 2.0 import (`.gltf` with embedded or external buffers, and `.glb`).
//!
//! The `gltf` crate parses and validates the document; this module resolves buffers itself so that
//! it can enforce two rules the crate leaves to the caller: external URIs must stay inside the
//! glTF's own folder, and every buffer, view and accessor must fit in the bytes actually present
//! (a truncated file is an error naming the file, never a panic).

use super::{
    Asset, AssetError, Binding, Channel, Clip, Interpolation, Material, MeshAsset, Property,
    Skeleton, SkeletonNode, SkinVertex, Submesh, Texture, Transform,
};
use base64::Engine as _;
use glam::{Mat4, Quat, Vec2, Vec3, Vec4};
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
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

impl Importer {
    fn invalid(&self, message: impl Into<String>) -> AssetError {
        AssetError::Invalid {
            path: self.path.clone(),
            message: message.into(),
        }
    }

    fn run(&self, bytes: &[u8], name: &str) -> Result<Asset, AssetError> {
        let gltf = gltf::Gltf::from_slice(bytes).map_err(|e| AssetError::Parse {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        let doc = &gltf.document;
        let buffers = self.load_buffers(doc, gltf.blob.as_deref())?;
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
        let mut texture_cache: HashMap<usize, Arc<Texture>> = HashMap::new();
        // Primitives that share their attribute accessors (and skin) share vertices.
        let mut vertex_sets: HashMap<VertexSetKey, u32> = HashMap::new();

        for node in doc.nodes() {
            let Some(gmesh) = node.mesh() else { continue };
            let Some(&our_node) = node_map.get(&node.index()) else {
                continue; // not part of the displayed scene
            };
            let skin_map: Option<Vec<u32>> = match node.skin() {
                Some(skin) => {
                    if let Some(map) = skin_bindings.get(&skin.index()) {
                        Some(map.clone())
                    } else {
                        let ibms: Vec<Mat4> = match skin.reader(get).read_inverse_bind_matrices() {
                            Some(iter) => iter.map(|m| Mat4::from_cols_array_2d(&m)).collect(),
                            None => vec![Mat4::IDENTITY; skin.joints().count()],
                        };
                        let mut map = Vec::new();
                        for (j, joint) in skin.joints().enumerate() {
                            let Some(&jn) = node_map.get(&joint.index()) else {
                                return Err(self.invalid(format!(
                                    "skin {} uses joint node {} which is not in the scene",
                                    skin.index(),
                                    joint.index()
                                )));
                            };
                            let ibm = ibms.get(j).copied().unwrap_or(Mat4::IDENTITY);
                            map.push(skeleton.bindings.len() as u32);
                            skeleton.bindings.push(Binding {
                                node: jn,
                                inverse_bind: ibm,
                            });
                        }
                        skin_bindings.insert(skin.index(), map.clone());
                        Some(map)
                    }
                }
                None => None,
            };
            let rigid = *rigid_bindings.entry(our_node).or_insert_with(|| {
                skeleton.bindings.push(Binding {
                    node: our_node,
                    inverse_bind: Mat4::IDENTITY,
                });
                skeleton.bindings.len() as u32 - 1
            });

            for prim in gmesh.primitives() {
                if prim.mode() != gltf::mesh::Mode::Triangles {
                    tracing::warn!(
                        "{}: mesh {} has a {:?} primitive; only triangles are drawn, it is skipped",
                        self.path.display(),
                        gmesh.index(),
                        prim.mode()
                    );
                    continue;
                }
                let reader = prim.reader(get);
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
                        let m = self.material(&prim.material(), &buffers, &mut texture_cache)?;
                        mesh.materials.push(m);
                        material_map.insert(material_index, mesh.materials.len() - 1);
                        mesh.materials.len() - 1
                    }
                };
                let n = prim
                    .get(&gltf::Semantic::Positions)
                    .map(|acc| acc.count())
                    .ok_or_else(|| {
                        self.invalid(format!(
                            "mesh {} has a primitive without POSITION",
                            gmesh.index()
                        ))
                    })?;
                let indices: Vec<u32> = match reader.read_indices() {
                    Some(i) => i.into_u32().collect(),
                    None => (0..n as u32).collect(),
                };
                if let Some(&bad) = indices.iter().find(|&&i| i as usize >= n) {
                    return Err(self.invalid(format!(
                        "mesh {} has index {bad} but only {n} vertices",
                        gmesh.index()
                    )));
                }
                let base = match vertex_sets.get(&set_key) {
                    Some(&base) => base,
                    None => {
                        let base = mesh.vertices.len() as u32;
                        vertex_sets.insert(set_key, base);
                        self.read_vertices(
                            &reader,
                            n,
                            &indices,
                            skin_map.as_deref(),
                            rigid,
                            gmesh.index(),
                            &mut mesh.vertices,
                        )?;
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
        Ok(Asset::new(name.to_string(), mesh, skeleton, clips))
    }

    /// Read one primitive's vertices (positions, normals, UVs, joints mapped to bindings, weights).
    #[allow(clippy::too_many_arguments)]
    fn read_vertices<'a, 's, F>(
        &self,
        reader: &gltf::mesh::Reader<'a, 's, F>,
        n: usize,
        indices: &[u32],
        skin_map: Option<&[u32]>,
        rigid: u32,
        mesh_index: usize,
        out: &mut Vec<SkinVertex>,
    ) -> Result<(), AssetError>
    where
        F: Clone + Fn(gltf::Buffer<'a>) -> Option<&'s [u8]>,
    {
        let positions: Vec<Vec3> = reader
            .read_positions()
            .map(|p| p.map(Vec3::from).collect())
            .unwrap_or_default();
        if positions.len() != n {
            return Err(self.invalid(format!("mesh {mesh_index}: POSITION cannot be read")));
        }
        let normals: Vec<Vec3> = match reader.read_normals() {
            Some(it) => it.map(Vec3::from).collect(),
            None => smooth_normals(&positions, indices),
        };
        let uvs: Vec<Vec2> = match reader.read_tex_coords(0) {
            Some(t) => t.into_f32().map(Vec2::from).collect(),
            None => vec![Vec2::ZERO; n],
        };
        let skinned = match (skin_map, reader.read_joints(0), reader.read_weights(0)) {
            (Some(map), Some(j), Some(w)) => Some((
                map,
                j.into_u16().collect::<Vec<_>>(),
                w.into_f32().collect::<Vec<_>>(),
            )),
            _ => None,
        };
        if positions.len() != n || normals.len() != n || uvs.len() != n {
            return Err(self.invalid(format!(
                "mesh {}: attribute counts differ from POSITION's {n}",
                mesh_index
            )));
        }
        for i in 0..n {
            let (joints, weights) = match &skinned {
                Some((map, j, w)) => {
                    let (Some(jj), Some(ww)) = (j.get(i), w.get(i)) else {
                        return Err(self.invalid(format!(
                            "mesh {}: JOINTS_0/WEIGHTS_0 shorter than POSITION",
                            mesh_index
                        )));
                    };
                    let mut joints = [0u32; 4];
                    for k in 0..4 {
                        joints[k] = *map.get(jj[k] as usize).ok_or_else(|| {
                            self.invalid(format!(
                                "mesh {}: joint index {} outside its skin",
                                mesh_index, jj[k]
                            ))
                        })?;
                    }
                    (joints, normalize_weights(*ww, rigid, &mut joints))
                }
                None => ([rigid, rigid, rigid, rigid], [1.0, 0.0, 0.0, 0.0]),
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

    /// Resolve every buffer to its bytes and check it holds `byteLength` bytes.
    fn load_buffers(
        &self,
        doc: &gltf::Document,
        blob: Option<&[u8]>,
    ) -> Result<Vec<Vec<u8>>, AssetError> {
        let mut out = Vec::new();
        for buffer in doc.buffers() {
            let data = match buffer.source() {
                gltf::buffer::Source::Bin => blob
                    .ok_or_else(|| {
                        self.invalid("a buffer refers to the GLB BIN chunk, which is missing")
                    })?
                    .to_vec(),
                gltf::buffer::Source::Uri(uri) => self.read_uri(uri)?,
            };
            if data.len() < buffer.length() {
                return Err(AssetError::TruncatedBuffer {
                    path: self.path.clone(),
                    buffer: buffer.index(),
                    declared: buffer.length(),
                    actual: data.len(),
                });
            }
            out.push(data);
        }
        Ok(out)
    }

    fn read_uri(&self, uri: &str) -> Result<Vec<u8>, AssetError> {
        if let Some(rest) = uri.strip_prefix("data:") {
            let Some((_, payload)) = rest.split_once(";base64,") else {
                return Err(self.invalid("a data: URI is not base64-encoded"));
            };
            return base64::engine::general_purpose::STANDARD
                .decode(payload.trim_end())
                .map_err(|e| {
                    self.invalid(format!(
                        "a data: URI is not valid base64 ({e}); the file may be truncated"
                    ))
                });
        }
        let rel = percent_decode(uri);
        let Some(dir) = &self.base_dir else {
            return Err(self.invalid(format!(
                "URI {uri:?} refers to an external file, but this asset has no folder to resolve it in"
            )));
        };
        let escapes = || AssetError::UriEscapes {
            path: self.path.clone(),
            uri: uri.to_string(),
        };
        if rel.contains("://") {
            return Err(escapes());
        }
        let mut depth: i32 = 0;
        for comp in Path::new(&rel).components() {
            match comp {
                Component::Normal(_) => depth += 1,
                Component::CurDir => {}
                Component::ParentDir => {
                    depth -= 1;
                    if depth < 0 {
                        return Err(escapes());
                    }
                }
                Component::RootDir | Component::Prefix(_) => return Err(escapes()),
            }
        }
        let full = dir.join(&rel);
        // Symbolic links may still lead out of the folder: compare canonical paths.
        if let (Ok(canon_dir), Ok(canon_file)) = (dir.canonicalize(), full.canonicalize())
            && !canon_file.starts_with(&canon_dir)
        {
            return Err(escapes());
        }
        std::fs::read(&full).map_err(|source| AssetError::Io { path: full, source })
    }

    /// Every view inside its buffer, every accessor inside its view, so reading never panics.
    fn check_bounds(&self, doc: &gltf::Document, buffers: &[Vec<u8>]) -> Result<(), AssetError> {
        for view in doc.views() {
            let buf = view.buffer();
            let end = view.offset().checked_add(view.length());
            if end.is_none_or(|e| e > buf.length() || e > buffers[buf.index()].len()) {
                return Err(self.invalid(format!(
                    "buffer view {} (offset {}, length {}) runs past the end of buffer {}; the file is truncated or corrupt",
                    view.index(),
                    view.offset(),
                    view.length(),
                    buf.index()
                )));
            }
        }
        let fits = |view: &gltf::buffer::View<'_>, offset: usize, count: usize, elem: usize| {
            if count == 0 {
                return true;
            }
            let stride = view.stride().unwrap_or(elem).max(elem);
            (count - 1)
                .checked_mul(stride)
                .and_then(|x| x.checked_add(offset))
                .and_then(|x| x.checked_add(elem))
                .is_some_and(|end| end <= view.length())
        };
        for acc in doc.accessors() {
            if let Some(view) = acc.view()
                && !fits(&view, acc.offset(), acc.count(), acc.size())
            {
                return Err(self.invalid(format!(
                    "accessor {} ({} elements) runs past the end of buffer view {}",
                    acc.index(),
                    acc.count(),
                    view.index()
                )));
            }
            if let Some(sparse) = acc.sparse() {
                let idx = sparse.indices();
                let vals = sparse.values();
                let idx_size = idx.index_type().size();
                if !fits(&idx.view(), idx.offset(), sparse.count(), idx_size)
                    || !fits(&vals.view(), vals.offset(), sparse.count(), acc.size())
                {
                    return Err(self.invalid(format!(
                        "sparse accessor {} runs past the end of its buffer views",
                        acc.index()
                    )));
                }
            }
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
            let rest = match node.transform() {
                gltf::scene::Transform::Matrix { matrix } => {
                    Transform::from_matrix(Mat4::from_cols_array_2d(&matrix))
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
        cache: &mut HashMap<usize, Arc<Texture>>,
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
                match cache.get(&image.index()) {
                    Some(t) => Some(t.clone()),
                    None => {
                        let bytes = match image.source() {
                            gltf::image::Source::View { view, .. } => {
                                let start = view.offset();
                                buffers[view.buffer().index()][start..start + view.length()]
                                    .to_vec()
                            }
                            gltf::image::Source::Uri { uri, .. } => self.read_uri(uri)?,
                        };
                        let decoded = image::load_from_memory(&bytes)
                            .map_err(|e| {
                                self.invalid(format!(
                                    "image {} cannot be decoded: {e}",
                                    image.index()
                                ))
                            })?
                            .to_rgba8();
                        let tex = Arc::new(Texture {
                            width: decoded.width(),
                            height: decoded.height(),
                            rgba: decoded.into_raw(),
                        });
                        cache.insert(image.index(), tex.clone());
                        Some(tex)
                    }
                }
            }
            None => None,
        };
        Ok(Material {
            name: mat.name().unwrap_or("material").to_string(),
            base_color: Vec4::from(pbr.base_color_factor()),
            texture,
        })
    }

    fn clips<'a, 's, F>(
        &self,
        doc: &'a gltf::Document,
        node_map: &HashMap<usize, usize>,
        get: F,
    ) -> Result<Vec<Clip>, AssetError>
    where
        F: Clone + Fn(gltf::Buffer<'a>) -> Option<&'s [u8]>,
    {
        let mut clips = Vec::new();
        for anim in doc.animations() {
            let mut channels = Vec::new();
            let mut duration = 0.0f32;
            for ch in anim.channels() {
                let Some(&node) = node_map.get(&ch.target().node().index()) else {
                    continue;
                };
                let property = match ch.target().property() {
                    gltf::animation::Property::Translation => Property::Translation,
                    gltf::animation::Property::Rotation => Property::Rotation,
                    gltf::animation::Property::Scale => Property::Scale,
                    gltf::animation::Property::MorphTargetWeights => {
                        tracing::warn!(
                            "{}: morph target animation is not supported; channel skipped",
                            self.path.display()
                        );
                        continue;
                    }
                };
                let interpolation = match ch.sampler().interpolation() {
                    gltf::animation::Interpolation::Step => Interpolation::Step,
                    gltf::animation::Interpolation::Linear => Interpolation::Linear,
                    gltf::animation::Interpolation::CubicSpline => Interpolation::CubicSpline,
                };
                let reader = ch.reader(get.clone());
                let times: Vec<f32> = reader
                    .read_inputs()
                    .ok_or_else(|| {
                        self.invalid(format!(
                            "animation {} has a sampler without input",
                            anim.index()
                        ))
                    })?
                    .collect();
                let values: Vec<Vec4> = match reader.read_outputs() {
                    Some(gltf::animation::util::ReadOutputs::Translations(it)) => {
                        it.map(|v| Vec3::from(v).extend(0.0)).collect()
                    }
                    Some(gltf::animation::util::ReadOutputs::Scales(it)) => {
                        it.map(|v| Vec3::from(v).extend(0.0)).collect()
                    }
                    Some(gltf::animation::util::ReadOutputs::Rotations(r)) => {
                        r.into_f32().map(Vec4::from).collect()
                    }
                    _ => {
                        return Err(self.invalid(format!(
                            "animation {} has a sampler without usable output",
                            anim.index()
                        )));
                    }
                };
                let per_key = if interpolation == Interpolation::CubicSpline {
                    3
                } else {
                    1
                };
                if times.is_empty() || values.len() != times.len() * per_key {
                    return Err(self.invalid(format!(
                        "animation {}: {} key times but {} values",
                        anim.index(),
                        times.len(),
                        values.len()
                    )));
                }
                if times.windows(2).any(|w| w[1] < w[0]) || times.iter().any(|t| !t.is_finite()) {
                    return Err(self.invalid(format!(
                        "animation {}: key times are not ascending",
                        anim.index()
                    )));
                }
                duration = duration.max(*times.last().unwrap_or(&0.0));
                channels.push(Channel {
                    node,
                    property,
                    interpolation,
                    times,
                    values,
                });
            }
            clips.push(Clip {
                name: anim
                    .name()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("clip{}", anim.index())),
                duration,
                channels,
            });
        }
        Ok(clips)
    }
}

/// Normalise weights to sum to one; an all-zero set binds rigidly.
fn normalize_weights(w: [f32; 4], fallback: u32, joints: &mut [u32; 4]) -> [f32; 4] {
    let w = w.map(|x| if x.is_finite() { x.max(0.0) } else { 0.0 });
    let sum: f32 = w.iter().sum();
    if sum <= 1e-6 {
        *joints = [fallback; 4];
        return [1.0, 0.0, 0.0, 0.0];
    }
    w.map(|x| x / sum)
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

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(v) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
