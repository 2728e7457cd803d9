//! # tutti
//!
//! A multi-adapter GPU compute and rendering engine for crowds of skinned, animated glTF
//! avatars. Every adapter wgpu finds (Vulkan, Metal, DX12, GL) can render at once; the CPU side
//! of every frame runs as jobs on rayon.
//!
//! ## The house: floors, from the bottom
//!
//! ```text
//!  8  main.rs (the `tutti` CLI)                        reads the environment, parses flags
//!  7  engine · bench                                   facades: the Engine, `tutti bench`
//!  6  offscreen · (app)                                batches across devices · the desktop app
//!  5  render                                           passes, pipelines, SceneRenderer, HostRenderer
//!  4  scene                                            scene files, World, FrameGraph (jobs per frame)
//!  3  anim · env                                       clip sampling, bounds · sun and sky, on plain inputs
//!  2  assets · telemetry                               glTF import, meshes, LOD chains · live metrics
//!  1  jobs · gpu                                       executor on rayon · adapters, devices, readback
//! ```
//!
//! An import only points down (`tests/layers.rs` checks every `use`). The render passes
//! (`animate`, `cull_lod`, `skin`, `avatar`, `ground`) import no other pass; what they share
//! lives in [`render::common`].
//!
//! ## The path of one frame
//!
//! ```text
//! scenes/*.ron ──scene::load_scene──▶ LoadedScene (validated; errors carry file:line:col or field)
//!                                        │          (or LoadedScene::from_desc for a scene built in code)
//! assets/*.gltf ─assets::import_gltf──▶ Asset: mesh + LOD chain · skeleton · clips (AssetLibrary cache)
//!                                        ▼
//!                                      World (placed avatars, draw batches)
//!                                        │  frame index → time = frame / fps (offscreen)
//!                                        ▼
//!        scene::FrameGraph on the jobs::Executor: animation batches (palettes written straight
//!        into GPU staging memory) · environment (env::EnvironmentFrame)
//!                                        │  SceneRenderer::prepare → PreparedFrame
//!                                        ▼
//!        render::SceneRenderer::submit(FrameInput) / ::record into a host's encoder:
//!          ([compute] animate: clips sampled on the GPU, `animation: Gpu`)
//!          → [compute] cull_lod per target → [compute] skin once
//!          → [raster] ground + avatars per target (multi-draw indirect) → copies to readback
//!                                        ▼
//!        offscreen: readback ring → PNG encode jobs → temp file + rename → manifest
//! ```
//!
//! ## Four ways in
//!
//! **Offscreen batches.** `tutti render --offscreen SCENE.ron` renders every frame of every
//! scene across every adapter, resumable and shardable (see the README). In code, the
//! [`Engine`] does the same:
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use tutti::{Engine, EngineOptions, offscreen::OffscreenOptions};
//! let engine = Engine::new(EngineOptions::default())?;
//! let scene = engine.load_scene("scenes/crowd.ron".as_ref())?;
//! let report = engine.run_batch(
//!     &[scene],
//!     &OffscreenOptions { out_dir: "out".into(), ..Default::default() },
//! )?;
//! println!("{} images", report.written.len());
//! # Ok(())
//! # }
//! ```
//!
//! Scenes can be built in code and are validated like files (problems listed by field):
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use tutti::scene::LoadedScene;
//! let library = tutti::AssetLibrary::new();
//! let mut desc = tutti::default_scene(&library)?.desc;
//! desc.fps = 0.0;
//! let err = LoadedScene::from_desc(desc, "in-code".as_ref(), None, &library).unwrap_err();
//! assert!(err.to_string().contains("fps"), "{err}");
//! # Ok(())
//! # }
//! ```
//!
//! **Embedding in a game on its own device.** [`render::HostRenderer`] takes the host's
//! adapter, device and queue, runs each frame's jobs, and records into the host's command
//! encoder and colour views; tutti creates no device and owns only its depth buffers
//! (`examples/embed_host_device.rs`):
//!
//! ```no_run
//! # fn frame(adapter: &wgpu::Adapter, device: &wgpu::Device, queue: &wgpu::Queue,
//! #          view: &wgpu::TextureView, format: wgpu::TextureFormat)
//! #          -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! let scene = tutti::default_scene(&tutti::AssetLibrary::new())?;
//! let world = Arc::new(scene.world());
//! let tutti = tutti::render::HostRenderer::new(adapter, device, queue, format, world.clone())?;
//! let exec = tutti::jobs::Executor::new(Default::default())?;
//! // Every frame:
//! let prepared = tutti.prepare(&exec, world.frame_time(12))?;
//! let mut encoder = device.create_command_encoder(&Default::default());
//! tutti.record(&prepared, &mut encoder, &[view, view])?; // one view per scene target
//! queue.submit([encoder.finish()]);
//! # Ok(())
//! # }
//! ```
//!
//! **The job system alone.** [`jobs`] is a priority DAG executor on rayon with retries,
//! timeouts, cancellation, pipelines, batching, profiles and live metrics; it knows nothing of
//! rendering (`examples/compute.rs` drives a GPU compute pass with it):
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use tutti::jobs::{Executor, GraphBuilder, Priority};
//! let mut g = GraphBuilder::new();
//! let a = g.add("load", Priority::High, |_| Ok(()));
//! let b = g.add("use", Priority::Normal, |_| Ok(()));
//! g.depends(b, a);
//! let exec = Executor::with_workers(2)?;
//! assert!(exec.run(&g.build()?).ok());
//! # Ok(())
//! # }
//! ```
//!
//! **Benchmarks.** `tutti bench` runs every family (jobs, offscreen, lod, gpu) and prints one
//! table of figures against baselines measured in the same run; `cargo bench` runs the
//! criterion benches. Figures are recorded in `benches/README.md`.
//!
//! The desktop app (`tutti run`, feature `app`) and live audio output (feature
//! `audio-device`) are not built yet; both features are on by default, and
//! `default-features = false` gives the core library.
//!
//! Shaders live in `shaders/`, listed in [`render::common::PASS_SHADERS`], and are validated
//! with naga by a plain unit test.

#![warn(missing_docs)]
#![deny(unsafe_code)]

pub mod anim;
#[cfg(feature = "app")]
pub mod app;
pub mod assets;
pub mod bench;
pub mod engine;
pub mod env;
pub mod gpu;
pub mod jobs;
pub mod offscreen;
pub mod render;
pub mod scene;
pub mod telemetry;

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
