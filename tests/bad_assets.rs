//! Malformed glTF files are errors that name the file, the mesh and the primitive, never an
//! abort (meshoptimizer's C++ asserts) and never a huge allocation from a count in the file.
//!
//! Every file here is built in memory: a small JSON document with its buffer embedded as a
//! `data:` URI, then imported from bytes (`import_gltf_slice`) or from disk (`import_gltf`).

use base64::Engine as _;
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};
use tutti::assets::import_gltf_slice;

const FLOAT: u32 = 5126;
const UNSIGNED_SHORT: u32 = 5123;

/// Little-endian bytes of some floats.
fn f32s(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn u16s(v: &[u16]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A document around `buffer` (embedded as base64): one node with mesh 0, in scene 0. `doc`
/// supplies the rest (meshes, accessors, bufferViews, ...).
fn gltf(buffer: &[u8], mut doc: Value) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(buffer);
    doc["asset"] = json!({ "version": "2.0" });
    doc["buffers"] = json!([{
        "byteLength": buffer.len(),
        "uri": format!("data:application/octet-stream;base64,{b64}"),
    }]);
    // glTF requires POSITION bounds; the values do not matter to the importer.
    let mut positions = Vec::new();
    for m in doc["meshes"].as_array().into_iter().flatten() {
        for p in m["primitives"].as_array().into_iter().flatten() {
            positions.extend(p["attributes"]["POSITION"].as_u64());
        }
    }
    for a in positions {
        let acc = &mut doc["accessors"][a as usize];
        if acc.get("min").is_none() {
            acc["min"] = json!([0.0, 0.0, 0.0]);
            acc["max"] = json!([1.0, 1.0, 1.0]);
        }
    }
    if doc.get("nodes").is_none() {
        doc["nodes"] = json!([{ "mesh": 0 }]);
    }
    doc["scenes"] = json!([{ "nodes": [0] }]);
    doc["scene"] = json!(0);
    serde_json::to_vec(&doc).expect("json")
}

/// A triangle list of `positions` (and `indices`, u16, when given) in one primitive.
fn mesh(positions: &[[f32; 3]], indices: Option<&[u16]>) -> Vec<u8> {
    let flat: Vec<f32> = positions.iter().flatten().copied().collect();
    let mut bytes = f32s(&flat);
    let mut views = vec![json!({ "buffer": 0, "byteOffset": 0, "byteLength": bytes.len() })];
    let mut accessors = vec![json!({
        "bufferView": 0, "componentType": FLOAT, "count": positions.len(), "type": "VEC3",
    })];
    let mut primitive = json!({ "attributes": { "POSITION": 0 } });
    if let Some(idx) = indices {
        let offset = bytes.len();
        bytes.extend(u16s(idx));
        views.push(json!({ "buffer": 0, "byteOffset": offset, "byteLength": idx.len() * 2 }));
        accessors.push(json!({
            "bufferView": 1, "componentType": UNSIGNED_SHORT, "count": idx.len(), "type": "SCALAR",
        }));
        primitive["indices"] = json!(1);
    }
    gltf(
        &bytes,
        json!({
            "meshes": [{ "name": "Body", "primitives": [primitive] }],
            "bufferViews": views,
            "accessors": accessors,
        }),
    )
}

const QUAD: [[f32; 3]; 4] = [
    [0.0, 0.0, 0.0],
    [1.0, 0.0, 0.0],
    [1.0, 1.0, 0.0],
    [0.0, 1.0, 0.0],
];

fn import_err(bytes: &[u8]) -> String {
    match import_gltf_slice(bytes, "bad", Path::new("bad.gltf"), None) {
        Ok(a) => panic!(
            "a malformed file was accepted ({} vertices, {} indices)",
            a.mesh.vertices.len(),
            a.mesh.indices.len()
        ),
        Err(e) => e.to_string(),
    }
}

fn assert_mentions(msg: &str, needles: &[&str]) {
    for n in needles {
        assert!(msg.contains(n), "{n:?} missing from: {msg}");
    }
}

/// The issue's reproducer: four positions and no indices. On main this reached meshoptimizer,
/// whose C++ assert aborted the process (SIGABRT).
#[test]
fn four_positions_without_indices_is_an_error() {
    let msg = import_err(&mesh(&QUAD, None));
    assert_mentions(
        &msg,
        &[
            "bad.gltf",
            "mesh 0 \"Body\" primitive 0",
            "4 vertices and no indices",
            "multiple of 3",
        ],
    );
}

#[test]
fn index_count_that_is_not_whole_triangles_is_an_error() {
    let msg = import_err(&mesh(&QUAD, Some(&[0, 1, 2, 3])));
    assert_mentions(
        &msg,
        &["bad.gltf", "mesh 0 \"Body\" primitive 0", "4 indices"],
    );
}

#[test]
fn out_of_range_index_is_an_error() {
    let msg = import_err(&mesh(&QUAD, Some(&[0, 1, 2, 0, 2, 9])));
    assert_mentions(
        &msg,
        &["bad.gltf", "primitive 0", "index 5 is 9", "only 4 vertices"],
    );
}

#[test]
fn non_finite_positions_are_an_error() {
    let mut quad = QUAD;
    quad[2][1] = f32::NAN;
    let msg = import_err(&mesh(&quad, Some(&[0, 1, 2, 0, 2, 3])));
    assert_mentions(&msg, &["bad.gltf", "primitive 0", "POSITION of vertex 2"]);
    quad[2][1] = f32::INFINITY;
    let msg = import_err(&mesh(&quad, Some(&[0, 1, 2, 0, 2, 3])));
    assert_mentions(&msg, &["POSITION of vertex 2", "not finite"]);
}

#[test]
fn non_finite_normals_and_uvs_are_errors() {
    for (semantic, kind, width) in [("NORMAL", "VEC3", 3usize), ("TEXCOORD_0", "VEC2", 2)] {
        let mut bytes = f32s(&[0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
        let mut attr = vec![0.0f32; 3 * width];
        if semantic == "NORMAL" {
            for v in 0..3 {
                attr[v * 3 + 2] = 1.0;
            }
        }
        attr[width] = f32::NAN; // vertex 1
        let offset = bytes.len();
        bytes.extend(f32s(&attr));
        let doc = gltf(
            &bytes,
            json!({
                "meshes": [{ "primitives": [{ "attributes": { "POSITION": 0, semantic: 1 } }] }],
                "bufferViews": [
                    { "buffer": 0, "byteOffset": 0, "byteLength": offset },
                    { "buffer": 0, "byteOffset": offset, "byteLength": attr.len() * 4 },
                ],
                "accessors": [
                    { "bufferView": 0, "componentType": FLOAT, "count": 3, "type": "VEC3" },
                    { "bufferView": 1, "componentType": FLOAT, "count": 3, "type": kind },
                ],
            }),
        );
        let msg = import_err(&doc);
        assert_mentions(
            &msg,
            &[
                "bad.gltf",
                "mesh 0 primitive 0",
                semantic,
                "vertex 1",
                "not finite",
            ],
        );
    }
}

/// A sparse accessor needs no bytes for its base elements (they are zeros): a huge `count`
/// asked for tens of gigabytes on main. It must be refused, quickly, before anything is
/// allocated for it.
#[test]
fn sparse_accessor_with_a_huge_count_is_refused_before_allocating() {
    let positions = f32s(&[0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
    let mut bytes = positions.clone();
    let idx_offset = bytes.len();
    bytes.extend(0u32.to_le_bytes());
    for count in [3_000_000_000u64, 50_000_000, 4_194_305 * 3] {
        let doc = gltf(
            &bytes,
            json!({
                "meshes": [{ "name": "Huge", "primitives": [{ "attributes": { "POSITION": 0 } }] }],
                "bufferViews": [
                    { "buffer": 0, "byteOffset": 0, "byteLength": 36 },
                    { "buffer": 0, "byteOffset": idx_offset, "byteLength": 4 },
                ],
                "accessors": [{
                    "componentType": FLOAT, "count": count, "type": "VEC3",
                    "sparse": {
                        "count": 1,
                        "indices": { "bufferView": 1, "componentType": 5125 },
                        "values": { "bufferView": 0 },
                    },
                }],
            }),
        );
        let start = Instant::now();
        let msg = import_err(&doc);
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "count {count}: took {:?}",
            start.elapsed()
        );
        assert!(msg.contains("bad.gltf"), "{msg}");
        assert!(
            msg.contains("without a buffer view") || msg.contains("limit of 4194304"),
            "count {count}: {msg}"
        );
    }
}

#[test]
fn sparse_accessor_replacing_more_elements_than_it_has_is_an_error() {
    let mut bytes = f32s(&[0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
    bytes.extend(f32s(&[0.0; 9]));
    let idx_offset = bytes.len();
    for i in 0..3u32 {
        bytes.extend(i.to_le_bytes());
    }
    let doc = gltf(
        &bytes,
        json!({
            "meshes": [{ "primitives": [{ "attributes": { "POSITION": 0 } }] }],
            "bufferViews": [
                { "buffer": 0, "byteOffset": 0, "byteLength": 72 },
                { "buffer": 0, "byteOffset": idx_offset, "byteLength": 12 },
            ],
            "accessors": [{
                "bufferView": 0, "componentType": FLOAT, "count": 2, "type": "VEC3",
                "sparse": {
                    "count": 3,
                    "indices": { "bufferView": 1, "componentType": 5125 },
                    "values": { "bufferView": 0 },
                },
            }],
        }),
    );
    let msg = import_err(&doc);
    assert_mentions(
        &msg,
        &["sparse accessor 0 replaces 3 elements but has only 2"],
    );
}

/// A PNG of `width` x `height` pixels.
fn png(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    image::write_buffer_with_format(
        &mut std::io::Cursor::new(&mut out),
        &vec![0u8; (width * height * 4) as usize],
        width,
        height,
        image::ExtendedColorType::Rgba8,
        image::ImageFormat::Png,
    )
    .expect("encode png");
    out
}

/// A triangle whose material has a base colour texture from `image` (a PNG in the buffer).
fn textured_triangle(image: &[u8]) -> Vec<u8> {
    let mut bytes = f32s(&[0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
    let image_offset = bytes.len();
    bytes.extend_from_slice(image);
    gltf(
        &bytes,
        json!({
            "meshes": [{ "primitives": [{ "attributes": { "POSITION": 0 }, "material": 0 }] }],
            "materials": [{ "pbrMetallicRoughness": { "baseColorTexture": { "index": 0 } } }],
            "textures": [{ "source": 0 }],
            "images": [{ "bufferView": 1, "mimeType": "image/png" }],
            "bufferViews": [
                { "buffer": 0, "byteOffset": 0, "byteLength": 36 },
                { "buffer": 0, "byteOffset": image_offset, "byteLength": image.len() },
            ],
            "accessors": [{ "bufferView": 0, "componentType": FLOAT, "count": 3, "type": "VEC3" }],
        }),
    )
}

#[test]
fn textures_larger_than_the_limit_are_refused_before_decoding() {
    import_gltf_slice(
        &textured_triangle(&png(4, 2)),
        "ok",
        Path::new("ok.gltf"),
        None,
    )
    .expect("a small texture loads");
    for (w, h) in [(16_385, 1), (1, 20_000)] {
        let msg = import_err(&textured_triangle(&png(w, h)));
        assert_mentions(
            &msg,
            &[
                "bad.gltf",
                &format!("image 0 is {w}x{h} pixels"),
                "at most 16384x16384",
            ],
        );
    }
}

/// A skinned triangle whose skin lists `joints` joints (all node 0).
fn skin_with_joints(joints: usize) -> Vec<u8> {
    let bytes = f32s(&[0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
    gltf(
        &bytes,
        json!({
            "nodes": [{ "mesh": 0, "skin": 0 }],
            "skins": [{ "joints": vec![0; joints] }],
            "meshes": [{ "primitives": [{ "attributes": { "POSITION": 0 } }] }],
            "bufferViews": [{ "buffer": 0, "byteOffset": 0, "byteLength": 36 }],
            "accessors": [{ "bufferView": 0, "componentType": FLOAT, "count": 3, "type": "VEC3" }],
        }),
    )
}

#[test]
fn skins_with_more_joints_than_the_limit_are_refused() {
    import_gltf_slice(&skin_with_joints(4), "ok", Path::new("ok.gltf"), None)
        .expect("a small skin loads");
    let msg = import_err(&skin_with_joints(65_537));
    assert_mentions(&msg, &["bad.gltf", "more than 65536 joints"]);
}

#[test]
fn files_with_more_nodes_than_the_limit_are_refused() {
    let bytes = f32s(&[0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
    let mut nodes = vec![json!({ "mesh": 0, "children": [1] })];
    nodes.extend((1..65_537).map(|i| json!({ "children": [i + 1] })));
    nodes.push(json!({}));
    let doc = gltf(
        &bytes,
        json!({
            "nodes": nodes,
            "meshes": [{ "primitives": [{ "attributes": { "POSITION": 0 } }] }],
            "bufferViews": [{ "buffer": 0, "byteOffset": 0, "byteLength": 36 }],
            "accessors": [{ "bufferView": 0, "componentType": FLOAT, "count": 3, "type": "VEC3" }],
        }),
    );
    let msg = import_err(&doc);
    assert_mentions(&msg, &["bad.gltf", "65538 nodes exceed the limit of 65536"]);
}

#[test]
fn node_cycles_are_errors() {
    let bytes = f32s(&[0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
    let doc = gltf(
        &bytes,
        json!({
            "nodes": [{ "mesh": 0, "children": [1] }, { "children": [0] }],
            "meshes": [{ "primitives": [{ "attributes": { "POSITION": 0 } }] }],
            "bufferViews": [{ "buffer": 0, "byteOffset": 0, "byteLength": 36 }],
            "accessors": [{ "bufferView": 0, "componentType": FLOAT, "count": 3, "type": "VEC3" }],
        }),
    );
    let msg = import_err(&doc);
    assert_mentions(&msg, &["bad.gltf", "more than one parent"]);
}

/// An animation sampler shared by `channels` channels, each of `keys` keys.
fn animation(channels: usize, keys: usize, outputs: usize) -> Vec<u8> {
    let mut bytes = f32s(&[0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
    let times: Vec<f32> = (0..keys).map(|k| k as f32 / 24.0).collect();
    let t_offset = bytes.len();
    bytes.extend(f32s(&times));
    let v_offset = bytes.len();
    bytes.extend(f32s(&vec![0.0; outputs * 3]));
    gltf(
        &bytes,
        json!({
            "nodes": [{ "mesh": 0 }],
            "meshes": [{ "primitives": [{ "attributes": { "POSITION": 0 } }] }],
            "bufferViews": [
                { "buffer": 0, "byteOffset": 0, "byteLength": 36 },
                { "buffer": 0, "byteOffset": t_offset, "byteLength": keys * 4 },
                { "buffer": 0, "byteOffset": v_offset, "byteLength": outputs * 12 },
            ],
            "accessors": [
                { "bufferView": 0, "componentType": FLOAT, "count": 3, "type": "VEC3" },
                { "bufferView": 1, "componentType": FLOAT, "count": keys, "type": "SCALAR",
                  "min": [0.0], "max": [times[keys - 1]] },
                { "bufferView": 2, "componentType": FLOAT, "count": outputs, "type": "VEC3" },
            ],
            "animations": [{
                "samplers": [{ "input": 1, "output": 2 }],
                "channels": (0..channels)
                    .map(|_| json!({ "sampler": 0, "target": { "node": 0, "path": "translation" } }))
                    .collect::<Vec<_>>(),
            }],
        }),
    )
}

#[test]
fn animation_keys_are_bounded_and_sampler_counts_must_agree() {
    let ok = import_gltf_slice(&animation(2, 10, 10), "ok", Path::new("ok.gltf"), None)
        .expect("a small animation loads");
    assert_eq!(ok.clips[0].channels.len(), 2);
    let msg = import_err(&animation(1, 10, 7));
    assert_mentions(&msg, &["bad.gltf", "10 key times but 7 values"]);
    // 5,000 channels sharing one 1,000-key sampler: 16 kB of keys would become 100 MB of clips.
    let msg = import_err(&animation(5_000, 1_000, 1_000));
    assert_mentions(&msg, &["bad.gltf", "more than 4194304 key frames"]);
}

/// The CLI reports a scene whose asset is not made of triangles and exits with an error; on
/// main the process died of SIGABRT in meshoptimizer (exit 134), in debug and release builds.
#[test]
fn cli_reports_a_bad_asset_instead_of_aborting() {
    let tmp = tempfile::tempdir().expect("tmp");
    std::fs::write(tmp.path().join("quad.gltf"), mesh(&QUAD, None)).expect("write gltf");
    let scene = tmp.path().join("bad.ron");
    std::fs::write(
        &scene,
        r#"(name: "bad", targets: [(name: "main", width: 16, height: 16)],
            avatars: [(asset: "quad.gltf")])"#,
    )
    .expect("write scene");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tutti"))
        .args(["render", "--offscreen", "--out"])
        .arg(tmp.path().join("out"))
        .arg(&scene)
        .output()
        .expect("run tutti");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{:?}\n{stderr}", out.status);
    assert_mentions(
        &stderr,
        &["bad.ron: avatars[0].asset:", "quad.gltf", "multiple of 3"],
    );
}
