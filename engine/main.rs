//! The `tutti` command line: a thin layer over the library.

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tutti::AssetLibrary;
use tutti::assets::procedural::{self, Detail};
use tutti::bench::{BenchOptions, Family, Scale};
use tutti::gpu::{AdapterSpec, AdapterStatus, Discovery};
use tutti::jobs::{Executor, ExecutorConfig, Profile};
use tutti::offscreen::Faults;
use tutti::offscreen::{Compression, OffscreenOptions, Shard, render_offscreen};
use tutti::scene::{LoadedScene, default_scene, load_scene};

#[derive(Parser)]
#[command(
    name = "tutti",
    version,
    about = "Multi-adapter GPU rendering of animated avatar crowds"
)]
struct Cli {
    /// Job-system profile: conservative, balanced, performance, maximum or adaptive
    /// (default: $TUTTI_PROFILE, else performance).
    #[arg(long, global = true, value_parser = |s: &str| s.parse::<Profile>())]
    profile: Option<Profile>,
    /// Job workers (default: $TUTTI_WORKERS, else from the profile).
    #[arg(long, global = true)]
    workers: Option<usize>,
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
        /// Frames in flight per adapter (default: adapts between 1 and 4).
        #[arg(long)]
        frames_in_flight: Option<usize>,
        /// PNG compression: fast, default or best.
        #[arg(long, default_value = "fast", value_parser = |s: &str| s.parse::<Compression>())]
        png_compression: Compression,
        /// Keep files that match the manifest's checksums; render only missing or corrupt ones.
        #[arg(long)]
        resume: bool,
        /// Render shard K of N (work item i belongs to shard i mod N). Slurm:
        /// `--shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT`.
        #[arg(long, value_parser = |s: &str| s.parse::<Shard>())]
        shard: Option<Shard>,
        /// Write a JSON report (and an SVG throughput chart beside it).
        #[arg(long)]
        report: Option<PathBuf>,
        /// Serve live metrics for Prometheus at http://ADDR/metrics while the batch runs
        /// (e.g. 127.0.0.1:9464; only this address is bound).
        #[arg(long, value_name = "ADDR")]
        metrics_addr: Option<std::net::SocketAddr>,
    },
    /// Open scenes in windows (one per scene, spread across the adapters that can present),
    /// with an overlay of live metrics. With no scene, opens the built-in default scene.
    /// Keys: mouse drag orbits (left) and pans (right/middle), the wheel zooms, Space pauses,
    /// +/- change the time scale, F1 toggles the overlay, F12 saves a screenshot, Esc closes.
    Run {
        /// Scene files (RON).
        scenes: Vec<PathBuf>,
        /// Adapters to present on, as for `render`.
        #[arg(long, default_value = "default")]
        adapters: AdapterSpec,
        /// Wait for the display's refresh when presenting: on or off.
        #[arg(long, default_value = "on", value_parser = parse_on_off, action = clap::ArgAction::Set)]
        vsync: bool,
        /// Most frames per second per window (default: the display's refresh rate). Frames are
        /// paced even with vsync off, so an idle scene does not spin a core.
        #[arg(long)]
        fps_cap: Option<f64>,
        /// Scene time from the frame index (frame / fps), as offscreen: frame N in the window
        /// equals the offscreen frame N.
        #[arg(long)]
        fixed_step: bool,
        /// Quit after every window drew N frames.
        #[arg(long)]
        exit_after_frames: Option<u64>,
        /// Save each window's last frame (overlay included) to FILE.png, or FILE-<scene>.png
        /// with several windows.
        #[arg(long)]
        screenshot: Option<PathBuf>,
        /// Start with the overlay hidden (F1 shows it).
        #[arg(long)]
        no_overlay: bool,
        /// Serve the app's metrics (frames and frame times per adapter, job system) for
        /// Prometheus at http://ADDR/metrics while it runs, e.g. 127.0.0.1:9464.
        #[arg(long)]
        metrics_addr: Option<std::net::SocketAddr>,
        /// Resize every window at a pacing tick, TICK:WxH (repeatable; 0x0 is what minimising
        /// gives). For tests and automation.
        #[arg(long, hide = true)]
        resize_at: Vec<String>,
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
    /// Manifest tools.
    Manifest {
        #[command(subcommand)]
        command: ManifestCommand,
    },
    /// Benchmarks. With no family, runs every family (jobs, offscreen, lod, gpu) and ends with
    /// one summary table: each figure, its baseline from the same run, and their ratio.
    #[command(args_conflicts_with_subcommands = true)]
    Bench {
        #[command(subcommand)]
        command: Option<BenchCommand>,
        #[command(flatten)]
        all: BenchAll,
    },
}

#[derive(Subcommand)]
enum ManifestCommand {
    /// Merge shard manifests, verifying every checksum, that no file appears twice and that
    /// together they cover the whole run (plan.json).
    Merge {
        /// Output folders of the shards (one folder shared by all shards works too).
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Merged manifest (default: FIRST_DIR/manifest.jsonl).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// `tutti bench` with no family.
#[derive(Args)]
struct BenchAll {
    /// Print JSON instead: {"rows": [one object per figure], "families": {each family's own
    /// JSON}}.
    #[arg(long)]
    json: bool,
    /// Smaller sizes for every family (all of them in under three minutes on two cores without
    /// a GPU).
    #[arg(long)]
    quick: bool,
    /// Tiny sizes and one sample: checks that every figure runs (tests); the figures mean little.
    #[arg(long, conflicts_with = "quick")]
    smoke: bool,
    /// Families to run, a comma list of jobs, offscreen, lod and gpu (default: all four).
    #[arg(long, value_delimiter = ',')]
    families: Vec<Family>,
    /// Adapters: the offscreen family uses every one selected, lod and gpu the first.
    #[arg(long, default_value = "default")]
    adapters: AdapterSpec,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// The desktop app's overlay: GPU and CPU frame time of the default scene with and without
    /// the overlay, in one run (two windows on one adapter), and the overlay's own GPU scope.
    /// Needs a display (e.g. `xvfb-run`).
    App {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Frames per window (default 120; 30 with --quick).
        #[arg(long)]
        frames: Option<u64>,
        /// Fewer frames.
        #[arg(long)]
        quick: bool,
        /// Adapters: the first one that can present is measured.
        #[arg(long, default_value = "default")]
        adapters: AdapterSpec,
    },
    /// Offscreen batch throughput: sequential loop vs pipelined scheduler, each adapter alone and
    /// all together.
    Offscreen {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Smaller batch (well under two minutes on two cores without a GPU).
        #[arg(long)]
        quick: bool,
        /// Adapters to use.
        #[arg(long, default_value = "default")]
        adapters: AdapterSpec,
    },
    /// Job system against plain rayon: wavefront, chain, tree and an engine frame, with empty,
    /// ~1 µs and ~10 µs bodies.
    Jobs {
        /// Print a JSON array, one object per workload and body size.
        #[arg(long)]
        json: bool,
        /// Small sizes only (under two minutes on two cores).
        #[arg(long)]
        quick: bool,
    },
    /// GPU-driven crowds: automatic LOD vs level 0 forced at 1920x1080, four resolutions vs the
    /// largest alone, and CPU frame time at 1k, 10k and 50k avatars vs a sequential loop.
    Lod {
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        /// 1,000 avatars and fewer frames (under two minutes on two cores without a GPU).
        #[arg(long)]
        quick: bool,
        /// Avatars in the GPU figures (default 10,000; 1,000 with --quick).
        #[arg(long)]
        avatars: Option<u32>,
        /// Where the crowd is skinned: auto, compute or vertex (as the scene option).
        #[arg(long, default_value = "auto", value_parser = parse_skinning)]
        skinning: tutti::scene::Skinning,
        /// Adapter to measure (the first one selected).
        #[arg(long, default_value = "default")]
        adapters: AdapterSpec,
    },
    /// GPU throughput: views per second at 64x64, 128x128 and 256x256 for 256 skinned avatars
    /// (many views per submit, each with its own camera, vs one per submit; with and without
    /// readback), compute dispatches, skinned vertices (vs the CPU twin) and multi-resolution.
    Gpu {
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        /// 16 views per submit and 3 samples (under a minute on two cores without a GPU).
        /// Without it, 64 views per submit and 10 samples.
        #[arg(long)]
        quick: bool,
        /// Views per submit (default 64; 16 with --quick).
        #[arg(long)]
        views: Option<u32>,
        /// Adapter to measure (the first one selected).
        #[arg(long, default_value = "default")]
        adapters: AdapterSpec,
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

/// lavapipe's window-system probe calls `wl_display_connect`, and without `XDG_RUNTIME_DIR`
/// libwayland prints "error: XDG_RUNTIME_DIR is invalid or not set" (once per Vulkan instance)
/// on every headless run. Give it a private, empty runtime folder instead: the probe then fails
/// quietly, as it does on a desktop without Wayland.
#[cfg(target_os = "linux")]
fn quiet_headless_wayland_probe() {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    if std::env::var_os("XDG_RUNTIME_DIR").is_some()
        || std::env::var_os("WAYLAND_DISPLAY").is_some()
    {
        return;
    }
    let Ok(uid) = std::fs::metadata("/proc/self").map(|m| m.uid()) else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("tutti-runtime-{uid}"));
    let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
    // Use it only if it is ours and private (another user could have made it first).
    let Ok(meta) = std::fs::symlink_metadata(&dir) else {
        return;
    };
    if !meta.is_dir() || meta.uid() != uid || meta.permissions().mode() & 0o077 != 0 {
        return;
    }
    // SAFETY: called first thing in `main`, before any other thread exists, so nothing can read
    // the environment concurrently.
    #[expect(unsafe_code, reason = "set_var before any thread is started")]
    unsafe {
        std::env::set_var("XDG_RUNTIME_DIR", &dir);
    }
}

#[cfg(not(target_os = "linux"))]
fn quiet_headless_wayland_probe() {}

fn main() -> ExitCode {
    quiet_headless_wayland_probe();
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

/// A `TUTTI_*` variable's value, `None` when unset (or not Unicode).
fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The executor configuration from `TUTTI_PROFILE` and `TUTTI_WORKERS`; a bad value is an error
/// naming the variable.
fn executor_config_from_env() -> Result<ExecutorConfig> {
    let mut config = ExecutorConfig::default();
    if let Some(p) = env_var("TUTTI_PROFILE") {
        config.profile = p.parse().context("TUTTI_PROFILE")?;
    }
    if let Some(w) = env_var("TUTTI_WORKERS") {
        config.workers = Some(tutti::jobs::parse_workers(&w).context("TUTTI_WORKERS")?);
    }
    Ok(config)
}

/// Faults to inject from `TUTTI_FAULT_DEVICE_LOST=<adapter index>@<frame count>` and
/// `TUTTI_FAULT_ENCODE_PANIC=<frame>` (blank is unset); a bad value is an error naming the
/// variable.
fn faults_from_env() -> Result<Faults> {
    let var = |name: &str| env_var(name).filter(|v| !v.trim().is_empty());
    Ok(Faults {
        device_lost: var("TUTTI_FAULT_DEVICE_LOST")
            .map(|v| Faults::parse_device_lost(&v))
            .transpose()
            .context("TUTTI_FAULT_DEVICE_LOST")?,
        encode_panic: var("TUTTI_FAULT_ENCODE_PANIC")
            .map(|v| Faults::parse_encode_panic(&v))
            .transpose()
            .context("TUTTI_FAULT_ENCODE_PANIC")?,
    })
}

/// The executor from the environment, overridden by --profile / --workers.
fn executor(cli_profile: Option<Profile>, cli_workers: Option<usize>) -> Result<Executor> {
    let mut config = executor_config_from_env()?;
    if let Some(p) = cli_profile {
        config.profile = p;
    }
    if let Some(w) = cli_workers {
        config.workers = Some(w); // checked by Executor::new
    }
    Ok(Executor::new(config)?)
}

fn run(cli: Cli) -> Result<ExitCode> {
    let (profile, workers) = (cli.profile, cli.workers);
    match cli.command {
        Command::Adapters { json } => adapters(json),
        Command::Render {
            scenes,
            offscreen,
            out,
            frames,
            adapters,
            frames_in_flight,
            png_compression,
            resume,
            shard,
            report,
            metrics_addr,
        } => {
            if !offscreen {
                bail!(
                    "`tutti render` writes PNG files: pass --offscreen; to open scenes in windows, use `tutti run`"
                );
            }
            let max_in_flight = tutti::offscreen::scheduler::MAX_FRAMES_IN_FLIGHT;
            if let Some(k) = frames_in_flight
                && !(1..=max_in_flight).contains(&k)
            {
                bail!("--frames-in-flight {k} is outside 1..={max_in_flight}");
            }
            let options = OffscreenOptions {
                out_dir: out,
                frames,
                frames_in_flight,
                compression: png_compression,
                resume,
                shard,
                progress: true,
                executor: Some(executor(profile, workers)?),
                faults: faults_from_env()?,
                telemetry: metrics_addr.map(|_| Default::default()),
            };
            render(
                &scenes,
                &options,
                &adapters,
                report.as_deref(),
                metrics_addr,
            )
        }
        Command::Run {
            scenes,
            adapters,
            vsync,
            fps_cap,
            fixed_step,
            exit_after_frames,
            screenshot,
            no_overlay,
            metrics_addr,
            resize_at,
        } => run_app(
            &scenes,
            RunFlags {
                adapters,
                vsync,
                fps_cap,
                fixed_step,
                exit_after_frames,
                screenshot,
                no_overlay,
                metrics_addr,
                resize_at,
            },
            (profile, workers),
        ),
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
            let lods: Vec<String> = asset
                .lods()
                .iter()
                .map(|l| format!("{} (error {:.4})", l.triangle_count(), l.error))
                .collect();
            println!("LOD chain (triangles): {}", lods.join(" / "));
            Ok(ExitCode::SUCCESS)
        }
        Command::Manifest {
            command: ManifestCommand::Merge { dirs, out },
        } => {
            let out = out.unwrap_or_else(|| dirs[0].join("manifest.jsonl"));
            let summary = tutti::offscreen::merge(&dirs, &out)?;
            println!(
                "merged {} entries from {} manifests into {}: every checksum verified, no duplicates, the plan is complete",
                summary.entries,
                summary.manifests,
                summary.out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench { command, all } => bench(command, all, (profile, workers)),
    }
}

/// `tutti bench`: the families asked for, at the scale asked for; every report prints itself.
fn bench(
    command: Option<BenchCommand>,
    all: BenchAll,
    (profile, workers): (Option<Profile>, Option<usize>),
) -> Result<ExitCode> {
    if let Some(BenchCommand::App {
        json,
        frames,
        quick,
        adapters,
    }) = command
    {
        return bench_app(
            json,
            frames.unwrap_or(if quick { 30 } else { 120 }),
            adapters,
            (profile, workers),
        );
    }
    let scale = |quick: bool| if quick { Scale::Quick } else { Scale::Full };
    let mut options = BenchOptions {
        jobs_threads: executor(profile, workers.or(Some(2)))?.workers(),
        ..Default::default()
    };
    // The families to run, whether to print one family's own JSON, and --json.
    let (families, own_json, json) = match command {
        None => {
            options.scale = if all.smoke {
                Scale::Smoke
            } else {
                scale(all.quick)
            };
            options.adapters = all.adapters;
            let families = if all.families.is_empty() {
                Family::ALL.to_vec()
            } else {
                all.families
            };
            (families, false, all.json)
        }
        Some(BenchCommand::Jobs { json, quick }) => {
            options.scale = scale(quick);
            (vec![Family::Jobs], true, json)
        }
        Some(BenchCommand::Offscreen {
            json,
            quick,
            adapters,
        }) => {
            options.scale = scale(quick);
            options.adapters = adapters;
            (vec![Family::Offscreen], true, json)
        }
        Some(BenchCommand::Lod {
            json,
            quick,
            avatars,
            skinning,
            adapters,
        }) => {
            options.scale = scale(quick);
            options.adapters = adapters;
            options.lod_avatars = avatars;
            options.lod_skinning = skinning;
            (vec![Family::Lod], true, json)
        }
        Some(BenchCommand::App { .. }) => unreachable!("handled above"),
        Some(BenchCommand::Gpu {
            json,
            quick,
            views,
            adapters,
        }) => {
            options.scale = scale(quick);
            options.adapters = adapters;
            options.gpu_views = views;
            (vec![Family::Gpu], true, json)
        }
    };
    let exec = executor(profile, workers)?;
    let run = tutti::bench::run_families(&families, &options, &exec, &mut |what| {
        tracing::info!("measuring {what}")
    })?;
    match (json, own_json, run.results.as_slice()) {
        (true, true, [one]) => {
            println!("{}", serde_json::to_string_pretty(&one.to_json())?)
        }
        (true, ..) => println!("{}", serde_json::to_string_pretty(&run.to_json())?),
        (false, ..) => println!("{run}"),
    }
    Ok(ExitCode::SUCCESS)
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

fn load_scenes(scene_paths: &[PathBuf], library: &AssetLibrary) -> Result<Vec<LoadedScene>> {
    let mut scenes: Vec<LoadedScene> = Vec::new();
    let mut errors = Vec::new();
    if scene_paths.is_empty() {
        scenes.push(default_scene(library)?);
    }
    for p in scene_paths {
        match load_scene(p, library) {
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
    Ok(scenes)
}

fn open_devices(spec: &AdapterSpec) -> Result<Vec<tutti::GpuContext>> {
    let discovery = Discovery::run();
    for s in discovery.skipped() {
        tracing::warn!("{s}");
    }
    let selected = discovery.select(spec)?;
    Ok(discovery.open(&selected)?)
}

fn render(
    scene_paths: &[PathBuf],
    options: &OffscreenOptions,
    spec: &AdapterSpec,
    report_path: Option<&Path>,
    metrics_addr: Option<std::net::SocketAddr>,
) -> Result<ExitCode> {
    // Bound first, so that a port in use fails before any work.
    let metrics = match (metrics_addr, &options.telemetry) {
        (Some(addr), Some(telemetry)) => {
            let server = tutti::telemetry::serve_prometheus(addr, telemetry.clone())?;
            tracing::info!("serving metrics at http://{}/metrics", server.addr());
            Some(server)
        }
        _ => None,
    };
    let library = AssetLibrary::new();
    let scenes = load_scenes(scene_paths, &library)?;
    let devices = open_devices(spec)?;
    for d in &devices {
        tracing::info!("rendering on {}", d.label);
    }
    let report = render_offscreen(&devices, &scenes, options)?;
    if let Some(server) = metrics {
        server.stop();
    }
    for a in &report.adapters {
        let state = match &a.retired {
            Some(reason) => format!(" (retired: {reason})"),
            None => String::new(),
        };
        tracing::info!(
            "{}: {} frames, busy {:.0}%{state}",
            a.adapter,
            a.frames,
            100.0 * a.busy_s / report.wall_s.max(1e-9)
        );
    }
    if let Some(path) = report_path {
        let chart = tutti::offscreen::report::write_report(&report, path)?;
        tracing::info!("report: {} and {}", path.display(), chart.display());
    }
    let tutti::offscreen::report::StageUse {
        stage,
        utilisation: busy,
        ..
    } = tutti::offscreen::report::bottleneck(&report);
    if report.stale + report.corrupt + report.malformed_lines > 0 {
        println!(
            "resume: {} stale files (their scene changed) and {} missing or corrupt files rendered again; {} malformed manifest lines skipped",
            report.stale, report.corrupt, report.malformed_lines
        );
    }
    println!(
        "wrote {} files ({} frames) to {} in {:.2} s ({:.1} frames/s); kept {} files from an earlier run; bottleneck: {stage} ({:.0}% busy)",
        report.written.len(),
        report.frames(),
        options.out_dir.display(),
        report.wall_s,
        report.frames() as f64 / report.wall_s.max(1e-9),
        report.kept,
        100.0 * busy
    );
    for t in tutti::offscreen::report::target_lod_summary(&report) {
        tracing::info!(
            "{}/{}: LOD histogram {} over {} frames, {:.0} avatars culled and {:.0} triangles drawn per frame",
            t["scene"].as_str().unwrap_or(""),
            t["target"].as_str().unwrap_or(""),
            t["lod_histogram"],
            t["frames"],
            t["culled_per_frame"].as_f64().unwrap_or(0.0),
            t["triangles_per_frame"].as_f64().unwrap_or(0.0),
        );
    }
    for a in report.adapters.iter().filter(|a| a.retired.is_some()) {
        println!(
            "retired {} after {} frames: {}",
            a.adapter,
            a.frames,
            a.retired.as_deref().unwrap_or("")
        );
    }
    for a in &report.adapters {
        for tutti::offscreen::Declined { scene, reason: why } in &a.declined {
            println!(
                "{} declined scene {scene} (it stayed in service for the others): {why}",
                a.adapter
            );
        }
    }
    if report.failures.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    for f in &report.failures {
        eprintln!("failed: {f}");
    }
    eprintln!("{} failure(s)", report.failures.len());
    Ok(ExitCode::FAILURE)
}

#[cfg(feature = "app")]
fn bench_app(
    json: bool,
    frames: u64,
    adapters: AdapterSpec,
    (profile, workers): (Option<Profile>, Option<usize>),
) -> Result<ExitCode> {
    if let Err(e) = tutti::app::display_available() {
        eprintln!("error: {e}");
        return Ok(ExitCode::FAILURE);
    }
    let mut executor = executor_config_from_env()?;
    if let Some(p) = profile {
        executor.profile = p;
    }
    if let Some(w) = workers {
        executor.workers = Some(w);
    }
    let r = tutti::app::bench::run_bench(&tutti::app::bench::AppBenchConfig {
        frames: frames.max(1),
        adapters,
        executor,
    })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        println!("{r}");
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(not(feature = "app"))]
fn bench_app(
    _: bool,
    _: u64,
    _: AdapterSpec,
    _: (Option<Profile>, Option<usize>),
) -> Result<ExitCode> {
    bail!("this tutti was built without the `app` feature; `tutti bench app` needs it")
}

fn parse_on_off(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" => Ok(true),
        "off" | "false" | "no" => Ok(false),
        _ => Err(format!("{s:?} is neither on nor off")),
    }
}

/// `tutti run`'s flags.
struct RunFlags {
    adapters: AdapterSpec,
    vsync: bool,
    fps_cap: Option<f64>,
    fixed_step: bool,
    exit_after_frames: Option<u64>,
    screenshot: Option<PathBuf>,
    no_overlay: bool,
    metrics_addr: Option<std::net::SocketAddr>,
    resize_at: Vec<String>,
}

#[cfg(feature = "app")]
fn run_app(
    scene_paths: &[PathBuf],
    flags: RunFlags,
    (profile, workers): (Option<Profile>, Option<usize>),
) -> Result<ExitCode> {
    use tutti::app::{AppError, AppOptions, ResizeStep};
    // Checked first: without a display nothing else is worth loading.
    if let Err(e) = tutti::app::display_available() {
        eprintln!("error: {e}");
        return Ok(ExitCode::FAILURE);
    }
    if let Some(cap) = flags.fps_cap
        && !(cap.is_finite() && (1.0..=1000.0).contains(&cap))
    {
        bail!("--fps-cap {cap} is outside 1..=1000");
    }
    let resize_script = flags
        .resize_at
        .iter()
        .map(|s| s.parse::<ResizeStep>().map_err(anyhow::Error::msg))
        .collect::<Result<Vec<_>>>()?;
    let library = AssetLibrary::new();
    let scenes = load_scenes(scene_paths, &library)?;
    let mut executor = executor_config_from_env()?;
    if let Some(p) = profile {
        executor.profile = p;
    }
    if let Some(w) = workers {
        executor.workers = Some(w);
    }
    let options = AppOptions {
        scenes,
        adapters: flags.adapters,
        vsync: flags.vsync,
        fps_cap: flags.fps_cap,
        fixed_step: flags.fixed_step,
        exit_after_frames: flags.exit_after_frames,
        screenshot: flags.screenshot,
        overlay: !flags.no_overlay,
        executor,
        resize_script,
        ..AppOptions::default()
    };
    let _server = flags
        .metrics_addr
        .map(|addr| {
            let server = tutti::telemetry::serve_prometheus(addr, options.telemetry.clone())?;
            tracing::info!("metrics at http://{}/metrics", server.addr());
            anyhow::Ok(server)
        })
        .transpose()?;
    match tutti::app::run(options) {
        Ok(summary) => {
            for w in &summary.windows {
                let gpu = w.gpu_ms.map_or("n/a".to_string(), |g| format!("{g:.2} ms"));
                let overlay = w
                    .overlay_gpu_ms
                    .map_or("n/a".to_string(), |g| format!("{g:.3} ms"));
                println!(
                    "{}: {} frames on {}; CPU {:.2} ms/frame, GPU {gpu}/frame, overlay GPU {overlay}",
                    w.scene, w.frames, w.adapter, w.cpu_ms
                );
                for s in &w.screenshots {
                    println!("screenshot {}", s.display());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ AppError::NoDisplay { .. }) => {
            eprintln!("error: {e}");
            Ok(ExitCode::FAILURE)
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(not(feature = "app"))]
fn run_app(_: &[PathBuf], _: RunFlags, _: (Option<Profile>, Option<usize>)) -> Result<ExitCode> {
    bail!(
        "this tutti was built without the `app` feature; rebuild with it, or use `tutti render --offscreen`"
    )
}

fn parse_skinning(s: &str) -> Result<tutti::scene::Skinning, String> {
    use tutti::scene::Skinning;
    match s.trim().to_ascii_lowercase().as_str() {
        "auto" => Ok(Skinning::Auto),
        "compute" => Ok(Skinning::Compute),
        "vertex" => Ok(Skinning::Vertex),
        _ => Err(format!(
            "{s:?} is not a skinning mode; use auto, compute or vertex"
        )),
    }
}
