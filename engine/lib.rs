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
//! | [`render`] | one file per pass (`animate`, `cull_lod`, `skin`, `avatar`, `ground`), meshes, targets, [`render::SceneRenderer`], the crowd benchmark |
//! | [`jobs`] | priority DAG executor on rayon: retries, timeouts, cancellation, pipelines, batching, profiles, metrics |
//! | [`offscreen`] | batch rendering across devices: work pulling, frames in flight, manifest, resume, shards, reports |
//!
//! Shaders live in `shaders/` and are validated with naga by a plain unit test.

#![warn(missing_docs)]
#![deny(unsafe_code)]

pub mod anim;
pub mod assets;
pub mod engine;
pub mod env;
pub mod gpu;
pub mod jobs;
pub mod offscreen;
pub mod render;
pub mod scene;

pub use assets::{Asset, AssetLibrary, AssetRef};
pub use engine::{Engine, EngineError, EngineOptions};
pub use gpu::{AdapterSpec, Discovery, GpuContext};
pub use offscreen::{OffscreenOptions, OffscreenReport, render_offscreen};
pub use render::{FrameInput, Pipelines, SceneRenderer, TargetImage};
pub use scene::{LoadedScene, World, default_scene, load_scene};

#[cfg(test)]
mod shader_tests {
    use crate::render::common::PASS_SHADERS;

    /// Every pass shader, exactly as the engine compiles it (the table in `render::common`),
    /// parses and validates with naga (no GPU needed).
    #[test]
    fn every_pass_shader_validates_with_naga() {
        for shader in PASS_SHADERS {
            let source = shader.source;
            let module = naga::front::wgsl::parse_str(source)
                .unwrap_or_else(|e| panic!("{}: {}", shader.file, e.emit_to_string(source)));
            naga::valid::Validator::new(
                naga::valid::ValidationFlags::all(),
                naga::valid::Capabilities::default(),
            )
            .validate(&module)
            .unwrap_or_else(|e| panic!("{}: {}", shader.file, e.emit_to_string(source)));
        }
    }

    /// The examples' own shaders (`examples/*.wgsl`) validate too.
    #[test]
    fn every_example_shader_validates_with_naga() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).expect("examples/ exists") {
            let path = entry.expect("readable entry").path();
            if path.extension().and_then(|e| e.to_str()) != Some("wgsl") {
                continue;
            }
            let source = std::fs::read_to_string(&path).expect("readable shader");
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
        assert!(checked >= 1, "expected examples/compute.wgsl");
    }

    /// Every `.wgsl` file in `shaders/` (outside `shared/`) is in the table, so none escapes
    /// validation, and the table's skinning flags match what each file binds.
    #[test]
    fn the_shader_table_lists_every_file_in_shaders() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .expect("shaders/ exists")
            .map(|e| e.expect("readable entry").path())
            .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("wgsl"))
            .map(|p| {
                p.file_name()
                    .expect("a name")
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        files.sort();
        let mut listed: Vec<String> = PASS_SHADERS.iter().map(|s| s.file.to_string()).collect();
        listed.sort();
        assert_eq!(
            files, listed,
            "shaders/ and render::common::PASS_SHADERS differ"
        );
        for shader in PASS_SHADERS {
            let file = std::fs::read_to_string(dir.join(shader.file)).expect("readable");
            assert!(
                shader.source.ends_with(&file),
                "{}: source is not the file",
                shader.file
            );
            assert_eq!(
                shader.skinning,
                file.contains("var<storage, read> palettes"),
                "{}: the skinning snippet goes to exactly the passes that bind the palettes",
                shader.file
            );
        }
    }
}
