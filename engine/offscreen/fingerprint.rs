//! Content hashes of fully resolved scenes, so that `--resume` keeps a file only when the scene
//! that made it is still exactly the scene being rendered.
//!
//! A scene's hash covers:
//! - every field of the scene after defaults were filled in (its JSON form),
//! - the decoded content of every asset it uses: vertices, indices, materials and texture pixels,
//!   skeleton, clips and the LOD chain (so an edited `.bin` or texture beside a `.gltf`, or a
//!   changed procedural generator, changes the hash, while moving the files does not),
//! - the PNG compression, and
//! - [`OUTPUT_FORMAT_VERSION`], bumped whenever the renderer's output for the same scene changes.
//!
//! The `--frames` range is not part of it: frames are listed in the plan one by one.

use super::manifest::hex;
use super::writer::Compression;
use crate::assets::Asset;
use crate::scene::LoadedScene;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;

/// Version of what a scene renders to. Bump it when the renderer's output for an unchanged scene
/// changes (shading, LOD rules, PNG encoding), so `--resume` re-renders instead of keeping files
/// made by the older renderer.
pub const OUTPUT_FORMAT_VERSION: u32 = 1;

/// Hex SHA-256 of a scene as rendered with `compression` (see the module doc for what it covers).
pub fn scene_hash(scene: &LoadedScene, compression: Compression) -> String {
    scene_hash_cached(scene, compression, &mut HashMap::new())
}

/// [`scene_hash`] for several scenes, hashing each shared asset once.
pub fn scene_hashes(scenes: &[LoadedScene], compression: Compression) -> Vec<String> {
    let mut assets = HashMap::new();
    scenes
        .iter()
        .map(|s| scene_hash_cached(s, compression, &mut assets))
        .collect()
}

fn scene_hash_cached(
    scene: &LoadedScene,
    compression: Compression,
    assets: &mut HashMap<*const Asset, [u8; 32]>,
) -> String {
    let mut h = Hasher::default();
    h.str("tutti scene");
    h.u32(OUTPUT_FORMAT_VERSION);
    h.str(&format!("{compression:?}"));
    // The scene after defaults. Serialising a plain data struct to JSON cannot fail; if it ever
    // did, the Debug form (equally complete) stands in.
    let desc = serde_json::to_string(&scene.desc).unwrap_or_else(|_| format!("{:?}", scene.desc));
    h.str(&desc);
    h.u64(scene.groups.len() as u64);
    for crate::scene::ResolvedGroup { asset, clip } in &scene.groups {
        let digest = *assets
            .entry(Arc::as_ptr(asset))
            .or_insert_with(|| asset_digest(asset));
        h.0.update(digest);
        h.u64(clip.map_or(u64::MAX, |c| c as u64));
    }
    hex(&h.0.finalize())
}

/// SHA-256 of an asset's decoded content.
pub fn asset_digest(asset: &Asset) -> [u8; 32] {
    let mut h = Hasher::default();
    h.str(&asset.name);
    let mesh = &asset.mesh;
    h.u64(mesh.vertices.len() as u64);
    for v in &mesh.vertices {
        h.f32s(&v.position.to_array());
        h.f32s(&v.normal.to_array());
        h.f32s(&v.uv.to_array());
        h.u32s(&v.joints);
        h.f32s(&v.weights);
    }
    h.u32s(&mesh.indices);
    h.u64(mesh.submeshes.len() as u64);
    for s in &mesh.submeshes {
        h.u32s(&[s.first_index, s.index_count]);
        h.u64(s.material as u64);
    }
    h.u64(mesh.materials.len() as u64);
    for m in &mesh.materials {
        h.str(&m.name);
        h.f32s(&m.base_color.to_array());
        match &m.texture {
            Some(t) => {
                h.u32s(&[1, t.width, t.height]);
                h.bytes(&t.rgba);
            }
            None => h.u32(0),
        }
    }
    let sk = &asset.skeleton;
    h.u64(sk.nodes.len() as u64);
    for n in &sk.nodes {
        h.str(&n.name);
        h.u64(n.parent.map_or(u64::MAX, |p| p as u64));
        h.f32s(&n.rest.translation.to_array());
        h.f32s(&n.rest.rotation.to_array());
        h.f32s(&n.rest.scale.to_array());
    }
    h.u64(sk.bindings.len() as u64);
    for b in &sk.bindings {
        h.u64(b.node as u64);
        h.f32s(&b.inverse_bind.to_cols_array());
    }
    h.u64(asset.clips.len() as u64);
    for c in &asset.clips {
        h.str(&c.name);
        h.f32s(&[c.duration]);
        h.u64(c.channels.len() as u64);
        for ch in &c.channels {
            h.u64(ch.node as u64);
            h.str(&format!("{:?} {:?}", ch.property, ch.interpolation));
            h.u64(ch.times.len() as u64);
            h.f32s(&ch.times);
            h.u64(ch.values.len() as u64);
            for v in &ch.values {
                h.f32s(&v.to_array());
            }
        }
    }
    h.u64(asset.lods().len() as u64);
    for l in asset.lods() {
        h.u32s(&l.indices);
        h.u32s(&[l.vertex_count]);
        h.f32s(&[l.error, l.model_error]);
        h.u64(l.submeshes.len() as u64);
        for s in &l.submeshes {
            h.u32s(&[s.first_index, s.index_count]);
            h.u64(s.material as u64);
        }
    }
    h.0.finalize().into()
}

/// SHA-256 fed with length-prefixed, little-endian fields (so no two field lists collide).
#[derive(Default)]
struct Hasher(Sha256);

impl Hasher {
    fn u32(&mut self, v: u32) {
        self.0.update(v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.update(v.to_le_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.u64(b.len() as u64);
        self.0.update(b);
    }
    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
    fn u32s(&mut self, v: &[u32]) {
        self.u64(v.len() as u64);
        for x in v {
            self.0.update(x.to_le_bytes());
        }
    }
    fn f32s(&mut self, v: &[f32]) {
        self.u64(v.len() as u64);
        for x in v {
            self.0.update(x.to_bits().to_le_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assets::AssetLibrary;
    use crate::scene::default_scene;

    #[test]
    fn the_hash_follows_every_input() {
        let lib = AssetLibrary::new();
        let scene = default_scene(&lib).expect("default scene");
        let base = scene_hash(&scene, Compression::Fast);
        assert_eq!(base.len(), 64);
        assert_eq!(base, scene_hash(&scene, Compression::Fast), "deterministic");
        assert_ne!(base, scene_hash(&scene, Compression::Best), "compression");

        let mut wider = scene.clone();
        wider.desc.targets[0].width += 1;
        assert_ne!(base, scene_hash(&wider, Compression::Fast), "target size");

        let mut moved = scene.clone();
        moved.desc.camera.eye.0 += 0.5;
        assert_ne!(base, scene_hash(&moved, Compression::Fast), "camera");

        let mut edited = scene.clone();
        let mut asset = (*edited.groups[0].asset).clone();
        asset.mesh.vertices[0].position.x += 1e-3;
        edited.groups[0].asset = Arc::new(asset);
        assert_ne!(base, scene_hash(&edited, Compression::Fast), "asset bytes");

        let mut renamed_source = scene.clone();
        renamed_source.source = "elsewhere/default.ron".into();
        assert_eq!(
            base,
            scene_hash(&renamed_source, Compression::Fast),
            "where the scene file lives does not matter"
        );
    }
}
