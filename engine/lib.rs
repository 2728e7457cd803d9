//! # tutti
//!
//! A multi-adapter GPU compute and rendering engine for crowds of skinned, animated glTF avatars.
//! Every adapter wgpu finds (Vulkan, Metal, DX12, GL) can render at once; the CPU side of every
//! frame runs on rayon.
//!
//! ## The path of one frame
//!
//! ```text
//! scenes/*.ron ──scene::load_scene──▶ LoadedScene (validated; errors carry file:line:col or field)
//!                                        │
//! assets/*.gltf ─assets::import_gltf──▶ Asset: MeshAsset + LOD chain · Skeleton · Clips · bounds
//!                                        │                              (AssetLibrary cache)
//!                                        │
//!                                        ▼
//!                                      World (placed avatars, draw batches)
//!                                        │  frame index → time = frame / fps (offscreen)
//!                                        ▼
//!        jobs::frame::FrameGraph on the jobs::Executor (rayon pool, priorities):
//!        animation batches (clip sampling + joint palettes, written straight into GPU
//!        staging memory) · environment · audio block
//!                                        │
//!                        gpu::Discovery picks devices (--adapters), one GpuContext each
//!                                        ▼
//!                     render::SceneRenderer on that device (instances uploaded once per scene):
//!                        ([compute] animate.wgsl: clips sampled on the GPU, `animation: Gpu`)
//!                        → [compute] cull_lod.wgsl per target: frustum cull, LOD pick, indirect draws
//!                        → [compute] skin.wgsl once, each avatar as far as its finest level
//!                        → [raster] ground + avatar.wgsl per target (multi-draw indirect)
//!                        → copy images and per-target LOD counts to staging
//!                                        ▼
//!                      offscreen: readback ring → PNG encode (job pool) → temp file + rename → manifest
//! ```
//!
//! ## Modules
//!
//! | Module | Owns |
//! |---|---|
//! | [`assets`] | glTF import, mesh/skeleton/clip types, meshopt LOD chains, the procedural humanoid, GLB export |
//! | [`anim`] | clip sampling, palettes, the CPU skinning twin |
//! | [`scene`] | scene file format, loading and validation, [`scene::World`] |
//! | [`gpu`] | adapter discovery/selection, [`gpu::GpuContext`], readback, timestamp timing |
//! | [`render`] | one file per pass (`animate`, `cull_lod`, `skin`, `avatar`, `ground`), meshes, targets, [`render::SceneRenderer`], the crowd and GPU throughput benchmarks |
//! | [`jobs`] | priority DAG executor on rayon: retries, timeouts, cancellation, pipelines, batching, profiles, metrics |
//! | [`offscreen`] | batch rendering across devices: work pulling, frames in flight, manifest, resume, shards, reports |
//! | [`bench`](mod@bench) | `tutti bench`: runs every benchmark family (jobs, offscreen, lod, gpu) and prints one summary table of each figure against its baseline |
//!
//! Shaders live in `shaders/` and are validated with naga by a plain unit test.

#![warn(missing_docs)]
#![deny(unsafe_code)]

pub mod anim;
pub mod assets;
pub mod bench;
pub mod gpu;
pub mod jobs;
pub mod offscreen;
pub mod render;
pub mod scene;

pub use assets::{Asset, AssetLibrary, AssetRef};
pub use gpu::{AdapterSpec, Discovery, GpuContext};
pub use offscreen::{OffscreenOptions, OffscreenReport, render_offscreen};
pub use render::{FrameRenderer, SceneRenderer, TargetImage};
pub use scene::{LoadedScene, World, default_scene, load_scene};

#[cfg(test)]
mod shader_tests {
    /// Every `.wgsl` pass shader in `shaders/`, prefixed with the shared snippets in
    /// `shaders/shared/` exactly as the renderer builds it, parses and validates with naga (no GPU
    /// needed).
    #[test]
    fn every_shader_validates_with_naga() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
        let shared = std::fs::read_to_string(dir.join("shared/types.wgsl")).expect("shared types");
        let skinning =
            std::fs::read_to_string(dir.join("shared/skinning.wgsl")).expect("shared skinning");
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).expect("shaders/ exists") {
            let path = entry.expect("readable entry").path();
            if path.extension().and_then(|e| e.to_str()) != Some("wgsl") {
                continue;
            }
            let pass = std::fs::read_to_string(&path).expect("readable shader");
            // The renderer adds the skinning snippet to the passes that bind the palettes.
            let snippet = if pass.contains("var<storage, read> palettes") {
                skinning.as_str()
            } else {
                ""
            };
            let source = format!("{shared}\n{snippet}\n{pass}");
            let module = naga::front::wgsl::parse_str(&source)
                .unwrap_or_else(|e| panic!("{}: {}", path.display(), e.emit_to_string(&source)));
            naga::valid::Validator::new(
                naga::valid::ValidationFlags::all(),
                naga::valid::Capabilities::default(),
            )
            .validate(&module)
            .unwrap_or_else(|e| panic!("{}: {}", path.display(), e.emit_to_string(&source)));
            checked += 1;
        }
        assert!(
            checked >= 4,
            "expected the skin, cull_lod, avatar and ground shaders, found {checked}"
        );
    }
}
