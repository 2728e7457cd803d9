//! glTF import: external buffers, URIs escaping their folder, truncated files, and the exported
//! procedural avatar loading back.

use base64::Engine as _;
use std::path::Path;
use tutti::anim::{PoseScratch, compute_palette, skin_cpu};
use tutti::assets::procedural::{Detail, humanoid};
use tutti::assets::{AssetError, export_glb, import_gltf, import_gltf_slice};

fn sample(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("assets")
            .join(name),
    )
    .expect("sample asset")
}

/// Move RiggedSimple's embedded buffer to an external file referenced by `uri`, under `dir`.
fn externalize(dir: &Path, uri: &str, bin_path: &Path) -> std::path::PathBuf {
    let text = sample("RiggedSimple.gltf");
    let mut doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    let data_uri = doc["buffers"][0]["uri"].as_str().expect("uri").to_string();
    let payload = data_uri.split_once(";base64,").expect("base64").1;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(payload)
        .expect("decode");
    std::fs::create_dir_all(bin_path.parent().expect("parent")).expect("mkdir");
    std::fs::write(bin_path, bytes).expect("write bin");
    doc["buffers"][0]["uri"] = serde_json::json!(uri);
    let gltf = dir.join("external.gltf");
    std::fs::write(&gltf, serde_json::to_vec(&doc).expect("json")).expect("write gltf");
    gltf
}

#[test]
fn external_buffer_inside_the_folder_loads() {
    let tmp = tempfile::tempdir().expect("tmp");
    let gltf = externalize(
        tmp.path(),
        "bufs/rigged%20simple.bin",
        &tmp.path().join("bufs/rigged simple.bin"),
    );
    let asset = import_gltf(&gltf).expect("external buffer loads");
    let embedded = import_gltf_slice(
        sample("RiggedSimple.gltf").as_bytes(),
        "e",
        Path::new("e.gltf"),
        None,
    )
    .expect("embedded");
    assert_eq!(asset.mesh.vertices, embedded.mesh.vertices);
    assert_eq!(asset.clips.len(), 1);
}

#[test]
fn uri_escaping_the_folder_is_an_error() {
    let tmp = tempfile::tempdir().expect("tmp");
    let inner = tmp.path().join("inner");
    std::fs::create_dir_all(&inner).expect("mkdir");
    for uri in ["../outside.bin", "/etc/passwd", "a/../../outside.bin"] {
        let gltf = externalize(&inner, uri, &tmp.path().join("outside.bin"));
        let err = import_gltf(&gltf).expect_err("must be rejected");
        assert!(matches!(err, AssetError::UriEscapes { .. }), "{uri}: {err}");
        let msg = err.to_string();
        assert!(
            msg.contains("external.gltf") && msg.contains("escapes the folder"),
            "{msg}"
        );
    }
}

#[test]
fn truncated_embedded_buffer_is_an_error_naming_the_file() {
    let text = sample("RiggedFigure.gltf");
    let start = text.find(";base64,").expect("data uri") + 8;
    let end = start + text[start..].find('"').expect("end quote");
    let cut = start + (end - start) / 2 / 4 * 4;
    let truncated = format!("{}{}", &text[..cut], &text[end..]);
    let tmp = tempfile::tempdir().expect("tmp");
    let path = tmp.path().join("cut.gltf");
    std::fs::write(&path, truncated).expect("write");
    let err = import_gltf(&path).expect_err("truncated buffer");
    let msg = err.to_string();
    assert!(matches!(err, AssetError::TruncatedBuffer { .. }), "{msg}");
    assert!(
        msg.contains("cut.gltf") && msg.contains("truncated"),
        "{msg}"
    );
}

#[test]
fn truncated_and_garbage_glb_files_are_errors_not_panics() {
    let glb = export_glb(&humanoid(Detail::Low)).expect("export");
    let tmp = tempfile::tempdir().expect("tmp");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("half.glb", glb[..glb.len() / 2].to_vec()),
        ("header.glb", glb[..16].to_vec()),
        (
            "badlen.glb",
            [b"glTF".as_slice(), &2u32.to_le_bytes(), &4u32.to_le_bytes()].concat(),
        ),
        ("garbage.gltf", b"{ this is not json".to_vec()),
        ("empty.glb", Vec::new()),
    ];
    for (name, bytes) in cases {
        let path = tmp.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        let err = import_gltf(&path).expect_err(name);
        assert!(err.to_string().contains(name), "{name}: {err}");
    }
    let missing = import_gltf(&tmp.path().join("missing.glb")).expect_err("missing");
    assert!(missing.to_string().contains("missing.glb"), "{missing}");
}

#[test]
fn exported_procedural_avatar_loads_back_identically() {
    for detail in [Detail::Low, Detail::Ultra] {
        let original = humanoid(detail);
        let glb = export_glb(&original).expect("export");
        let back = import_gltf_slice(&glb, "back", Path::new("back.glb"), None).expect("re-import");
        assert_eq!(back.mesh.vertices.len(), original.mesh.vertices.len());
        // Vertex numbering may differ (each asset orders its vertices for its LOD chain), but
        // the triangles, in order, are the same: compared below through their skinned corners.
        assert_eq!(back.mesh.indices.len(), original.mesh.indices.len());
        assert_eq!(back.mesh.submeshes.len(), original.mesh.submeshes.len());
        assert_eq!(
            back.clips
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>(),
            ["walk", "idle"]
        );
        assert!(back.mesh.triangle_count() >= if detail == Detail::Ultra { 50_000 } else { 1 });
        // Same pose, same skinned mesh.
        for (clip, t) in [(0usize, 0.3f32), (1, 2.2)] {
            let mut s = PoseScratch::default();
            let mut pa = vec![glam::Mat4::IDENTITY; original.skeleton.bindings.len()];
            let mut pb = vec![glam::Mat4::IDENTITY; back.skeleton.bindings.len()];
            compute_palette(&original, Some(clip), t, &mut s, &mut pa);
            compute_palette(&back, Some(clip), t, &mut s, &mut pb);
            let a = skin_cpu(&original.mesh, &pa, glam::Mat4::IDENTITY);
            let b = skin_cpu(&back.mesh, &pb, glam::Mat4::IDENTITY);
            let worst = original
                .mesh
                .indices
                .iter()
                .zip(&back.mesh.indices)
                .map(|(&i, &j)| (a[i as usize].0 - b[j as usize].0).length())
                .fold(0.0f32, f32::max);
            assert!(
                worst < 1e-4,
                "{detail:?} clip {clip}: skinned positions differ by {worst}"
            );
        }
    }
}

#[test]
fn base_colour_textures_round_trip_and_are_drawn() {
    use std::sync::Arc;
    use tutti::assets::Texture;
    // A 2x2 texture: red, green, blue, white.
    let rgba = vec![
        255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255, 255, 255, 255, 255,
    ];
    let mut asset = humanoid(Detail::Low);
    for m in &mut asset.mesh.materials {
        m.texture = Some(Arc::new(Texture {
            width: 2,
            height: 2,
            rgba: rgba.clone(),
        }));
    }
    let glb = export_glb(&asset).expect("export");
    let back = import_gltf_slice(&glb, "t", Path::new("t.glb"), None).expect("import");
    let tex = back.mesh.materials[0]
        .texture
        .as_ref()
        .expect("texture survives");
    assert_eq!((tex.width, tex.height), (2, 2));
    assert_eq!(tex.rgba, rgba);
}
