//! Running families: sizes per [`Scale`], devices opened once for every GPU family.

use super::{BenchError, BenchRun, Family, FamilyResult, Scale};
use crate::assets::AssetLibrary;
use crate::gpu::{AdapterSpec, Discovery, GpuContext};
use crate::jobs::Executor;
use crate::jobs::bench::SuiteSize;
use crate::offscreen::Compression;
use crate::render::bench::LodBenchConfig;
use crate::render::bench_gpu::GpuBenchConfig;
use crate::scene::{Skinning, default_scene};

/// What `tutti bench` was asked for, besides the families.
#[derive(Debug, Clone, Default)]
pub struct BenchOptions {
    /// How long to measure.
    pub scale: Scale,
    /// Adapters: the offscreen family uses all of them, lod and gpu the first.
    pub adapters: AdapterSpec,
    /// Worker threads of the jobs family (tutti and the rayon baseline).
    pub jobs_threads: usize,
    /// Avatars in the lod family's GPU figures (default from the scale).
    pub lod_avatars: Option<u32>,
    /// Where the lod family's crowd is skinned.
    pub lod_skinning: Skinning,
    /// Views per submit in the gpu family (default from the scale).
    pub gpu_views: Option<u32>,
}

/// Offscreen frames per configuration at a scale.
fn offscreen_frames(scale: Scale) -> u32 {
    match scale {
        Scale::Smoke => 4,
        Scale::Quick => 48,
        Scale::Full => 240,
    }
}

/// Run `families` in order with `options`; the lod family's CPU figures run on `exec`.
/// `progress` is told what is being measured. Devices are opened once, when a GPU family is
/// asked for, and shared by the families.
pub fn run_families(
    families: &[Family],
    options: &BenchOptions,
    exec: &Executor,
    progress: &mut dyn FnMut(&str),
) -> Result<BenchRun, BenchError> {
    let quick = options.scale != Scale::Full;
    let mut devices: Vec<GpuContext> = Vec::new();
    if families.iter().any(|f| *f != Family::Jobs) {
        let discovery = Discovery::run();
        for skipped in discovery.skipped() {
            tracing::warn!("{skipped}");
        }
        let selected = discovery.select(&options.adapters)?;
        devices = discovery.open(&selected)?;
    }
    let mut run = BenchRun::default();
    for &family in families {
        progress(&format!("bench {family}"));
        let result = match family {
            Family::Jobs => {
                let size = match options.scale {
                    Scale::Smoke => SuiteSize::Smoke,
                    Scale::Quick => SuiteSize::Quick,
                    Scale::Full => SuiteSize::Full,
                };
                FamilyResult::Jobs(crate::jobs::bench::run_suite(
                    options.jobs_threads.max(1),
                    size,
                    |r| progress(&format!("jobs: {} body {} ns", r.workload, r.body_ns)),
                ))
            }
            Family::Offscreen => {
                let scene = default_scene(&AssetLibrary::new())?;
                FamilyResult::Offscreen(crate::offscreen::bench::run(
                    &devices,
                    &scene,
                    offscreen_frames(options.scale),
                    Compression::Fast,
                )?)
            }
            Family::Lod => {
                let ctx = first(&devices)?;
                let mut cfg = match options.scale {
                    Scale::Smoke => LodBenchConfig::smoke(),
                    _ => LodBenchConfig::new(quick),
                };
                if let Some(n) = options.lod_avatars {
                    cfg.avatars = n.max(1);
                }
                cfg.skinning = options.lod_skinning;
                let r = crate::render::bench::run(ctx, exec, &cfg, |what| {
                    progress(&format!("lod: {what} on {}", ctx.label))
                })
                .map_err(|source| BenchError::Render { family, source })?;
                FamilyResult::Lod(r)
            }
            Family::Gpu => {
                let ctx = first(&devices)?;
                let mut cfg = match options.scale {
                    Scale::Smoke => GpuBenchConfig::smoke(),
                    _ => GpuBenchConfig::new(quick),
                };
                if let Some(n) = options.gpu_views {
                    cfg.views = n.max(1);
                }
                let r = crate::render::bench_gpu::run(ctx, &cfg, |what| {
                    progress(&format!("gpu: {what} on {}", ctx.label))
                })
                .map_err(|source| BenchError::Render { family, source })?;
                FamilyResult::Gpu(r)
            }
        };
        run.results.push(result);
    }
    Ok(run)
}

fn first(devices: &[GpuContext]) -> Result<&GpuContext, BenchError> {
    devices
        .first()
        .ok_or(BenchError::Gpu(crate::gpu::GpuError::NoAdapters))
}
