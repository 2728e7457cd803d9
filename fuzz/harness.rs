//! What the fuzz targets run on one input, shared with `tests/fuzz_corpus.rs` (which includes
//! this file with `#[path]`), so that a plain `cargo test` feeds the seed corpus and every
//! regression input through exactly the code the fuzzers exercise.
//!
//! Inputs are confined: glTF URIs resolve in an asset folder this file fills, and may not leave
//! it (`import_gltf_slice` refuses `..`, absolute paths and links out); scenes load assets
//! through an [`AssetLibrary::confined`] library rooted at the same folder.
//!
//! Any outcome is fine except a crash: an error is the expected answer to a malformed input. On
//! success a few invariants are asserted, so that a wrong answer is a crash too.

#![allow(dead_code)] // each fuzz target uses one half

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use tutti::AssetLibrary;
use tutti::assets::procedural::{Detail, humanoid};
use tutti::assets::{BUILTIN_ASSETS, export_glb, import_gltf_slice};
use tutti::scene::parse_scene;

/// Scenes whose avatars (over all groups) are at most this many also get their world built.
pub const WORLD_AVATARS: u64 = 10_000;

/// Fill `dir` with the files inputs may name: the three built-in glTFs, `avatar.glb` (the low
/// detail humanoid), `external.gltf` with its buffer in `buffers/simple.bin`, and `texture.png`.
pub fn populate(dir: &Path) -> std::io::Result<()> {
    use base64::Engine as _;
    std::fs::create_dir_all(dir.join("buffers"))?;
    for (name, text) in BUILTIN_ASSETS {
        std::fs::write(dir.join(format!("{name}.gltf")), text)?;
    }
    let glb = export_glb(&humanoid(Detail::Low)).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("avatar.glb"), glb)?;
    // RiggedSimple with its buffer moved to a file beside it.
    let simple = BUILTIN_ASSETS
        .iter()
        .find(|(n, _)| *n == "RiggedSimple")
        .map(|(_, t)| *t)
        .ok_or_else(|| std::io::Error::other("RiggedSimple is not built in"))?;
    let mut doc: serde_json::Value = serde_json::from_str(simple).map_err(std::io::Error::other)?;
    let uri = doc["buffers"][0]["uri"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let payload = uri.split_once(";base64,").map_or("", |(_, p)| p);
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(payload)
        .map_err(std::io::Error::other)?;
    std::fs::write(dir.join("buffers/simple.bin"), bytes)?;
    doc["buffers"][0]["uri"] = serde_json::json!("buffers/simple.bin");
    std::fs::write(
        dir.join("external.gltf"),
        serde_json::to_vec(&doc).map_err(std::io::Error::other)?,
    )?;
    let mut png = Vec::new();
    image::write_buffer_with_format(
        &mut std::io::Cursor::new(&mut png),
        &[
            255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255, 255, 255, 255, 255,
        ],
        2,
        2,
        image::ExtendedColorType::Rgba8,
        image::ImageFormat::Png,
    )
    .map_err(std::io::Error::other)?;
    std::fs::write(dir.join("texture.png"), png)?;
    Ok(())
}

/// A populated asset folder for this process (under the system temp folder), made once.
pub fn shared_folder() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("tutti-fuzz-{}", std::process::id()));
        if let Err(e) = populate(&dir) {
            panic!("cannot fill the fuzz asset folder {}: {e}", dir.display());
        }
        dir
    })
}

/// A library confined to [`shared_folder`], shared by every input of this process (so each
/// asset is imported and its LOD chain built once).
pub fn shared_library() -> &'static AssetLibrary {
    static LIB: OnceLock<AssetLibrary> = OnceLock::new();
    LIB.get_or_init(|| AssetLibrary::confined(shared_folder()))
}

/// Fuzz target `gltf_import`: bytes → `import_gltf_slice` with URIs confined to `dir`. On
/// success: the LOD chain indexes the vertex list, the bounds can be computed, and the asset
/// exports to a GLB that imports again with the same triangles. Returns whether the input was
/// accepted.
pub fn gltf_import(data: &[u8], dir: &Path) -> bool {
    let Ok(asset) = import_gltf_slice(data, "fuzz", &dir.join("fuzz.gltf"), Some(dir)) else {
        return false;
    };
    let n = asset.mesh.vertices.len();
    assert!(n > 0 && !asset.mesh.indices.is_empty());
    for level in asset.lods() {
        assert!(level.indices.len().is_multiple_of(3));
        assert!(level.indices.iter().all(|&i| (i as usize) < n));
        assert!(level.vertex_count as usize <= n);
    }
    let _ = tutti::anim::bounds(&asset);
    let glb = match export_glb(&asset) {
        Ok(glb) => glb,
        Err(e) => panic!("an imported asset does not export: {e}"),
    };
    match import_gltf_slice(&glb, "again", Path::new("again.glb"), None) {
        Ok(again) => assert_eq!(again.mesh.indices.len(), asset.mesh.indices.len()),
        Err(e) => panic!("an exported asset does not import again: {e}"),
    }
    true
}

/// Fuzz target `scene_load`: text → `parse_scene` (validated, assets resolved in `dir` through
/// `library`). On success a scene of at most [`WORLD_AVATARS`] avatars also builds its world,
/// which must hold every avatar. Returns whether the input was accepted.
pub fn scene_load(data: &[u8], dir: &Path, library: &AssetLibrary) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let Ok(scene) = parse_scene(text, &dir.join("fuzz.ron"), Some(dir), library) else {
        return false;
    };
    let avatars: u64 = scene.desc.avatars.iter().map(|g| u64::from(g.count)).sum();
    assert!(avatars >= 1 && scene.groups.len() == scene.desc.avatars.len());
    if avatars <= WORLD_AVATARS {
        let world = scene.world();
        assert_eq!(world.avatars.len() as u64, avatars);
    }
    true
}
