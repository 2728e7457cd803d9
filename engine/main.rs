//! The `tutti` command line: a thin layer over the library.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use tutti::AssetLibrary;
use tutti::assets::procedural::{self, Detail};
use tutti::gpu::{AdapterSpec, AdapterStatus, Discovery};
use tutti::offscreen::{OffscreenOptions, render_offscreen};
use tutti::scene::{LoadedScene, default_scene, load_scene};

#[derive(Parser)]
#[command(
    name = "tutti",
    version,
    about = "Multi-adapter GPU rendering of animated avatar crowds"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List every GPU adapter wgpu finds on every backend, and whether tutti can use it.
    Adapters {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Render scenes. With no scene, renders the built-in default scene.
    Render {
        /// Scene files (RON).
        scenes: Vec<PathBuf>,
        /// Render to PNG files instead of a window (the only mode built so far).
        #[arg(long)]
        offscreen: bool,
        /// Output folder: files go to OUT/<scene>/<target>/<frame:06>.png.
        #[arg(long, default_value = "out")]
        out: PathBuf,
        /// Frame range A..B (end exclusive) overriding the scenes' own ranges; `N` is one frame.
        #[arg(long, value_parser = parse_frames)]
        frames: Option<(u32, u32)>,
        /// Adapters: `default` (every working adapter, one backend per GPU), `all`, a backend
        /// (vulkan, metal, dx12, gl) or a comma list of indices from `tutti adapters`.
        #[arg(long, default_value = "default")]
        adapters: AdapterSpec,
    },
    /// Export the procedural humanoid avatar as a glTF 2.0 binary.
    Avatar {
        /// Output .glb file.
        #[arg(long)]
        out: PathBuf,
        /// Tessellation: low, medium, high or ultra (ultra is over 50,000 triangles).
        #[arg(long, default_value = "medium", value_parser = |s: &str| s.parse::<Detail>())]
        detail: Detail,
    },
}

fn parse_frames(s: &str) -> Result<(u32, u32), String> {
    let bad = || {
        format!("{s:?} is not a frame range; write A..B (end exclusive), A..=B or a single frame N")
    };
    let num = |t: &str| t.trim().parse::<u32>().map_err(|_| bad());
    let (a, b) = if let Some((a, b)) = s.split_once("..=") {
        (num(a)?, num(b)?.checked_add(1).ok_or_else(bad)?)
    } else if let Some((a, b)) = s.split_once("..") {
        (num(a)?, num(b)?)
    } else {
        let n = num(s)?;
        (n, n.checked_add(1).ok_or_else(bad)?)
    };
    if b <= a {
        return Err(format!(
            "frame range {s:?} is empty; the end must exceed the start"
        ));
    }
    Ok((a, b))
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,wgpu_hal::gles::egl=off".into()),
        )
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Adapters { json } => adapters(json),
        Command::Render {
            scenes,
            offscreen,
            out,
            frames,
            adapters,
        } => {
            if !offscreen {
                bail!("the window mode is not built yet; pass --offscreen to render PNG files");
            }
            render(&scenes, out, frames, &adapters)
        }
        Command::Avatar { out, detail } => {
            let asset = procedural::humanoid(detail);
            let bytes = tutti::assets::export_glb(&asset).map_err(anyhow::Error::msg)?;
            tutti::offscreen::write_atomic(&out, &bytes)
                .with_context(|| format!("writing {}", out.display()))?;
            println!(
                "wrote {} ({} bytes): {} vertices, {} triangles, {} joints, clips {}",
                out.display(),
                bytes.len(),
                asset.mesh.vertices.len(),
                asset.mesh.triangle_count(),
                asset.skeleton.nodes.len(),
                asset.clip_names()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn adapters(json: bool) -> Result<ExitCode> {
    let discovery = Discovery::run();
    if json {
        println!("{}", serde_json::to_string_pretty(&discovery.adapters)?);
        return Ok(ExitCode::SUCCESS);
    }
    if discovery.adapters.is_empty() {
        println!("no adapters found. {}", tutti::gpu::NO_ADAPTER_HELP);
        return Ok(ExitCode::FAILURE);
    }
    for a in &discovery.adapters {
        let status = match &a.status {
            AdapterStatus::Ok => match a.duplicate_of {
                Some(d) => format!("ok (same GPU as #{d}; used with --adapters all)"),
                None => "ok".to_string(),
            },
            AdapterStatus::Unusable { reason } => format!("unusable: {reason}"),
        };
        println!("#{} {}", a.index, a.name);
        println!(
            "    backend {} · type {} · driver {} {}",
            a.backend, a.device_type, a.driver, a.driver_info
        );
        println!(
            "    max texture {} · max storage binding {} MiB · storage buffers/stage {} · max buffer {} MiB · timestamps {}",
            a.max_texture_dimension_2d,
            a.max_storage_buffer_binding_size >> 20,
            a.max_storage_buffers_per_shader_stage,
            a.max_buffer_size >> 20,
            a.timestamp_query
        );
        println!("    status: {status}");
    }
    Ok(ExitCode::SUCCESS)
}

fn render(
    scene_paths: &[PathBuf],
    out: PathBuf,
    frames: Option<(u32, u32)>,
    spec: &AdapterSpec,
) -> Result<ExitCode> {
    let library = AssetLibrary::new();
    let mut scenes: Vec<LoadedScene> = Vec::new();
    let mut errors = Vec::new();
    if scene_paths.is_empty() {
        scenes.push(default_scene(&library)?);
    }
    for p in scene_paths {
        match load_scene(p, &library) {
            Ok(s) => scenes.push(s),
            Err(e) => errors.push(e.to_string()),
        }
    }
    if !errors.is_empty() {
        for e in &errors {
            eprintln!("error: {e}");
        }
        bail!("{} scene file(s) could not be loaded", errors.len());
    }
    let discovery = Discovery::run();
    for s in discovery.skipped() {
        tracing::warn!("{s}");
    }
    let selected = discovery.select(spec)?;
    let devices = discovery.open(&selected)?;
    for d in &devices {
        tracing::info!("rendering on {}", d.label);
    }
    let start = std::time::Instant::now();
    let report = render_offscreen(
        &devices,
        &scenes,
        &OffscreenOptions {
            out_dir: out.clone(),
            frames,
        },
    )?;
    let secs = start.elapsed().as_secs_f64();
    let frames_done: usize = report.frames_per_adapter.iter().map(|(_, n)| n).sum();
    for (adapter, n) in &report.frames_per_adapter {
        tracing::info!("{adapter}: {n} frames");
    }
    println!(
        "wrote {} files ({} frames) to {} in {:.2} s ({:.1} frames/s)",
        report.written.len(),
        frames_done,
        out.display(),
        secs,
        frames_done as f64 / secs.max(1e-9)
    );
    if report.failures.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        for f in &report.failures {
            eprintln!("failed: {f}");
        }
        eprintln!("{} failure(s)", report.failures.len());
        Ok(ExitCode::FAILURE)
    }
}
