//! Export an [`Asset`] as a glTF 2.0 binary (`.glb`): one skinned mesh, one skin whose joints are
//! the asset's bindings, its node hierarchy and its clips. The GLB container is written by the
//! `gltf` crate; the JSON document is built with `serde_json`.

use super::{Asset, Interpolation, Property};
use serde_json::{Value, json};
use std::borrow::Cow;

/// Accumulates the BIN chunk and the bufferView/accessor lists.
#[derive(Default)]
struct Bin {
    data: Vec<u8>,
    views: Vec<Value>,
    accessors: Vec<Value>,
}

impl Bin {
    fn view(&mut self, bytes: &[u8], target: Option<u32>) -> usize {
        while !self.data.len().is_multiple_of(4) {
            self.data.push(0);
        }
        let mut v =
            json!({ "buffer": 0, "byteOffset": self.data.len(), "byteLength": bytes.len() });
        if let Some(t) = target {
            v["target"] = json!(t);
        }
        self.data.extend_from_slice(bytes);
        self.views.push(v);
        self.views.len() - 1
    }

    fn accessor(
        &mut self,
        bytes: &[u8],
        component: u32,
        kind: &str,
        count: usize,
        target: Option<u32>,
        min_max: Option<(Vec<f32>, Vec<f32>)>,
    ) -> usize {
        let view = self.view(bytes, target);
        let mut a =
            json!({ "bufferView": view, "componentType": component, "count": count, "type": kind });
        if let Some((min, max)) = min_max {
            a["min"] = json!(min);
            a["max"] = json!(max);
        }
        self.accessors.push(a);
        self.accessors.len() - 1
    }
}

/// A vertex's `JOINTS_0` entry as written: a slot with zero weight names joint 0, as glTF asks
/// (the Khronos validator's `ACCESSOR_JOINTS_USED_ZERO_WEIGHT`). Skinning is unchanged: a slot
/// with zero weight adds nothing whichever joint it names.
fn export_joints(v: &super::SkinVertex) -> [u16; 4] {
    std::array::from_fn(|k| {
        if v.weights[k] == 0.0 {
            0
        } else {
            v.joints[k] as u16
        }
    })
}

const FLOAT: u32 = 5126;
const UNSIGNED_SHORT: u32 = 5123;
const UNSIGNED_INT: u32 = 5125;
const ARRAY_BUFFER: u32 = 34962;
const ELEMENT_ARRAY_BUFFER: u32 = 34963;

/// Serialize an asset to GLB bytes.
///
/// Fails only if the asset has more than 65,536 bindings (glTF JOINTS_0 here is 16-bit) or a
/// texture cannot be PNG-encoded.
pub fn export_glb(asset: &Asset) -> Result<Vec<u8>, String> {
    let mesh = &asset.mesh;
    let skel = &asset.skeleton;
    if skel.bindings.len() > u16::MAX as usize + 1 {
        return Err(format!(
            "{} bindings exceed the 16-bit joint index",
            skel.bindings.len()
        ));
    }
    let mut bin = Bin::default();

    // Vertex attributes.
    let n = mesh.vertices.len();
    let pos: Vec<[f32; 3]> = mesh
        .vertices
        .iter()
        .map(|v| v.position.to_array())
        .collect();
    let mut min = [f32::MAX; 3];
    let mut max = [f32::MIN; 3];
    for p in &pos {
        for k in 0..3 {
            min[k] = min[k].min(p[k]);
            max[k] = max[k].max(p[k]);
        }
    }
    let nrm: Vec<[f32; 3]> = mesh.vertices.iter().map(|v| v.normal.to_array()).collect();
    let uv: Vec<[f32; 2]> = mesh.vertices.iter().map(|v| v.uv.to_array()).collect();
    let joints: Vec<[u16; 4]> = mesh.vertices.iter().map(export_joints).collect();
    let weights: Vec<[f32; 4]> = mesh.vertices.iter().map(|v| v.weights).collect();
    let a_pos = bin.accessor(
        bytemuck::cast_slice(&pos),
        FLOAT,
        "VEC3",
        n,
        Some(ARRAY_BUFFER),
        Some((min.to_vec(), max.to_vec())),
    );
    let a_nrm = bin.accessor(
        bytemuck::cast_slice(&nrm),
        FLOAT,
        "VEC3",
        n,
        Some(ARRAY_BUFFER),
        None,
    );
    let a_uv = bin.accessor(
        bytemuck::cast_slice(&uv),
        FLOAT,
        "VEC2",
        n,
        Some(ARRAY_BUFFER),
        None,
    );
    let a_joints = bin.accessor(
        bytemuck::cast_slice(&joints),
        UNSIGNED_SHORT,
        "VEC4",
        n,
        Some(ARRAY_BUFFER),
        None,
    );
    let a_weights = bin.accessor(
        bytemuck::cast_slice(&weights),
        FLOAT,
        "VEC4",
        n,
        Some(ARRAY_BUFFER),
        None,
    );

    // Materials and their textures.
    let mut images = Vec::new();
    let mut textures = Vec::new();
    let mut materials = Vec::new();
    for m in &mesh.materials {
        let mut pbr = json!({ "baseColorFactor": m.base_color.to_array(), "metallicFactor": 0.0, "roughnessFactor": 1.0 });
        if let Some(t) = &m.texture {
            let mut png = Vec::new();
            image::write_buffer_with_format(
                &mut std::io::Cursor::new(&mut png),
                &t.rgba,
                t.width,
                t.height,
                image::ExtendedColorType::Rgba8,
                image::ImageFormat::Png,
            )
            .map_err(|e| format!("texture of material {:?}: {e}", m.name))?;
            let view = bin.view(&png, None);
            images.push(json!({ "bufferView": view, "mimeType": "image/png" }));
            textures.push(json!({ "source": images.len() - 1 }));
            pbr["baseColorTexture"] = json!({ "index": textures.len() - 1 });
        }
        materials.push(json!({ "name": m.name, "pbrMetallicRoughness": pbr }));
    }

    // Primitives share the attributes; each has its own index range.
    let mut primitives = Vec::new();
    for sm in &mesh.submeshes {
        let range = sm.first_index as usize..(sm.first_index + sm.index_count) as usize;
        let idx = &mesh.indices[range];
        let a_idx = bin.accessor(
            bytemuck::cast_slice(idx),
            UNSIGNED_INT,
            "SCALAR",
            idx.len(),
            Some(ELEMENT_ARRAY_BUFFER),
            None,
        );
        primitives.push(json!({
            "attributes": { "POSITION": a_pos, "NORMAL": a_nrm, "TEXCOORD_0": a_uv, "JOINTS_0": a_joints, "WEIGHTS_0": a_weights },
            "indices": a_idx,
            "material": sm.material,
        }));
    }

    // Nodes: the skeleton's nodes keep their indices; the mesh node comes last.
    let mut nodes: Vec<Value> = skel
        .nodes
        .iter()
        .map(|node| {
            json!({
                "name": node.name,
                "translation": node.rest.translation.to_array(),
                "rotation": node.rest.rotation.normalize().to_array(),
                "scale": node.rest.scale.to_array(),
            })
        })
        .collect();
    for (i, node) in skel.nodes.iter().enumerate() {
        if let Some(p) = node.parent {
            let children = nodes[p]
                .as_object_mut()
                .map(|o| o.entry("children").or_insert_with(|| json!([])));
            if let Some(Value::Array(c)) = children {
                c.push(json!(i));
            }
        }
    }
    let mesh_node = nodes.len();
    nodes.push(json!({ "name": format!("{}_mesh", asset.name), "mesh": 0, "skin": 0 }));
    let mut roots: Vec<usize> = (0..skel.nodes.len())
        .filter(|&i| skel.nodes[i].parent.is_none())
        .collect();
    roots.push(mesh_node);

    let ibms: Vec<[f32; 16]> = skel
        .bindings
        .iter()
        .map(|b| b.inverse_bind.to_cols_array())
        .collect();
    let a_ibm = bin.accessor(
        bytemuck::cast_slice(&ibms),
        FLOAT,
        "MAT4",
        ibms.len(),
        None,
        None,
    );
    let skin = json!({ "joints": skel.bindings.iter().map(|b| b.node).collect::<Vec<_>>(), "inverseBindMatrices": a_ibm });

    let mut animations = Vec::new();
    for clip in &asset.clips {
        let mut samplers = Vec::new();
        let mut channels = Vec::new();
        for ch in &clip.channels {
            let tmin = ch.times.first().copied().unwrap_or(0.0);
            let tmax = ch.times.last().copied().unwrap_or(0.0);
            let input = bin.accessor(
                bytemuck::cast_slice(&ch.times),
                FLOAT,
                "SCALAR",
                ch.times.len(),
                None,
                Some((vec![tmin], vec![tmax])),
            );
            let (kind, path, data): (&str, &str, Vec<f32>) = match ch.property {
                Property::Translation => (
                    "VEC3",
                    "translation",
                    ch.values
                        .iter()
                        .flat_map(|v| v.truncate().to_array())
                        .collect(),
                ),
                Property::Scale => (
                    "VEC3",
                    "scale",
                    ch.values
                        .iter()
                        .flat_map(|v| v.truncate().to_array())
                        .collect(),
                ),
                Property::Rotation => (
                    "VEC4",
                    "rotation",
                    ch.values.iter().flat_map(|v| v.to_array()).collect(),
                ),
            };
            let output = bin.accessor(
                bytemuck::cast_slice(&data),
                FLOAT,
                kind,
                ch.values.len(),
                None,
                None,
            );
            let interpolation = match ch.interpolation {
                Interpolation::Step => "STEP",
                Interpolation::Linear => "LINEAR",
                Interpolation::CubicSpline => "CUBICSPLINE",
            };
            samplers
                .push(json!({ "input": input, "output": output, "interpolation": interpolation }));
            channels.push(json!({ "sampler": samplers.len() - 1, "target": { "node": ch.node, "path": path } }));
        }
        animations.push(json!({ "name": clip.name, "samplers": samplers, "channels": channels }));
    }

    while !bin.data.len().is_multiple_of(4) {
        bin.data.push(0);
    }
    let mut doc = json!({
        "asset": { "version": "2.0", "generator": "tutti" },
        "scene": 0,
        "scenes": [{ "nodes": roots }],
        "nodes": nodes,
        "meshes": [{ "name": asset.name, "primitives": primitives }],
        "materials": materials,
        "skins": [skin],
        "buffers": [{ "byteLength": bin.data.len() }],
        "bufferViews": bin.views,
        "accessors": bin.accessors,
    });
    if !animations.is_empty() {
        doc["animations"] = json!(animations);
    }
    if !images.is_empty() {
        doc["images"] = json!(images);
        doc["textures"] = json!(textures);
        doc["samplers"] = json!([{}]);
        for t in doc["textures"].as_array_mut().into_iter().flatten() {
            t["sampler"] = json!(0);
        }
    }
    let json_bytes = serde_json::to_vec(&doc).map_err(|e| e.to_string())?;
    let glb = gltf::binary::Glb {
        header: gltf::binary::Header {
            magic: *b"glTF",
            version: 2,
            length: 0,
        },
        json: Cow::Owned(json_bytes),
        bin: Some(Cow::Owned(bin.data)),
    };
    glb.to_vec().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assets::procedural::{Detail, humanoid};

    /// glTF: "unused joint values (zero weight) MUST be set to zero". The Khronos validator
    /// reported 46,784 `ACCESSOR_JOINTS_USED_ZERO_WEIGHT` warnings on `tutti avatar` output.
    #[test]
    fn zero_weight_slots_name_joint_zero() {
        for detail in Detail::ALL {
            let asset = humanoid(detail);
            assert!(
                asset
                    .mesh
                    .vertices
                    .iter()
                    .any(|v| (0..4).any(|k| v.weights[k] == 0.0 && v.joints[k] != 0)),
                "{detail:?}: the test needs zero-weight slots naming other joints"
            );
            let glb = export_glb(&asset).expect("export");
            let gltf = gltf::Gltf::from_slice(&glb).expect("parse");
            let blob = gltf.blob.as_deref().expect("BIN chunk");
            let prim = gltf
                .document
                .meshes()
                .next()
                .and_then(|m| m.primitives().next())
                .expect("a primitive");
            let reader = prim.reader(|_| Some(blob));
            let joints: Vec<[u16; 4]> = reader
                .read_joints(0)
                .expect("JOINTS_0")
                .into_u16()
                .collect();
            let weights: Vec<[f32; 4]> = reader
                .read_weights(0)
                .expect("WEIGHTS_0")
                .into_f32()
                .collect();
            assert_eq!(joints.len(), asset.mesh.vertices.len());
            let mut used = 0;
            for (i, (j, w)) in joints.iter().zip(&weights).enumerate() {
                for k in 0..4 {
                    if w[k] == 0.0 {
                        assert_eq!(j[k], 0, "{detail:?}: vertex {i} slot {k} has zero weight");
                    } else {
                        used += 1;
                        assert_eq!(u32::from(j[k]), asset.mesh.vertices[i].joints[k]);
                    }
                }
            }
            assert!(
                used >= joints.len(),
                "every vertex keeps its weighted joints"
            );
        }
    }
}
