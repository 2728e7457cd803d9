//! The run report (`--report FILE.json`): totals, per-adapter frames/s and busy fraction,
//! per-stage time and utilisation, the bottleneck stage, and an SVG chart of throughput per
//! adapter over time beside it (`FILE.svg`).

use super::{OffscreenReport, WriteError};
use plotters::prelude::*;
use serde_json::json;
use std::path::{Path, PathBuf};

/// One pipeline stage's time over a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StageUse {
    /// Stage name: animate, render, readback, encode or write.
    pub stage: &'static str,
    /// Summed time in the stage, seconds.
    pub total_s: f64,
    /// Utilisation: the summed time over (wall time x lanes working on that stage), 0..1.
    pub utilisation: f64,
}

/// Stage utilisation: summed stage time over (wall time x lanes working on that stage).
pub fn stage_utilisation(r: &OffscreenReport) -> Vec<StageUse> {
    let wall = r.wall_s.max(1e-9);
    let devices = r.adapters.len().max(1) as f64;
    let threads = r.encode_threads.max(1) as f64;
    let s = &r.stages;
    let stage = |stage, total_s: f64, lanes: f64| StageUse {
        stage,
        total_s,
        utilisation: total_s / (wall * lanes),
    };
    vec![
        stage("animate", s.animate_s, devices),
        stage("render", s.render_s, devices),
        stage("readback", s.readback_s, devices),
        stage("encode", s.encode_s, threads),
        stage("write", s.write_s, threads),
    ]
}

/// The stage with the highest utilisation (`none` with zero time when nothing ran).
pub fn bottleneck(r: &OffscreenReport) -> StageUse {
    stage_utilisation(r).into_iter().fold(
        StageUse {
            stage: "none",
            total_s: 0.0,
            utilisation: 0.0,
        },
        |best, x| {
            if x.utilisation > best.utilisation {
                x
            } else {
                best
            }
        },
    )
}

/// Per (scene, target) LOD figures of the files written: frames, summed LOD histogram, and
/// mean avatars culled and triangles drawn per frame.
pub fn target_lod_summary(r: &OffscreenReport) -> Vec<serde_json::Value> {
    /// Frames, summed histogram, culled and triangles of one (scene, target).
    type Sums = (u64, [u64; crate::render::MAX_LODS], u64, u64);
    let mut by_target: std::collections::BTreeMap<(&str, &str), Sums> = Default::default();
    for e in &r.written {
        let t = by_target
            .entry((e.scene.as_str(), e.target.as_str()))
            .or_default();
        t.0 += 1;
        for (sum, n) in t.1.iter_mut().zip(e.stats.lod_histogram) {
            *sum += u64::from(n);
        }
        t.2 += u64::from(e.stats.culled);
        t.3 += e.stats.triangles;
    }
    by_target
        .into_iter()
        .map(|((scene, target), (frames, hist, culled, tris))| {
            let n = frames.max(1) as f64;
            json!({
                "scene": scene,
                "target": target,
                "frames": frames,
                "lod_histogram": hist,
                "culled_per_frame": culled as f64 / n,
                "triangles_per_frame": tris as f64 / n,
            })
        })
        .collect()
}

/// The report as JSON.
pub fn report_json(r: &OffscreenReport) -> serde_json::Value {
    let wall = r.wall_s.max(1e-9);
    let StageUse {
        stage: bottleneck,
        utilisation: busy,
        ..
    } = bottleneck(r);
    json!({
        "totals": {
            "items": r.items,
            "frames": r.frames(),
            "files_written": r.written.len(),
            "files_kept": r.kept,
            "files_stale": r.stale,
            "files_corrupt": r.corrupt,
            "malformed_manifest_lines": r.malformed_lines,
            "failures": r.failures.len(),
            "wall_s": r.wall_s,
            "frames_per_s": r.frames() as f64 / wall,
            "bytes": r.written.iter().map(|e| e.bytes).sum::<u64>(),
        },
        "adapters": r.adapters.iter().map(|a| json!({
            "adapter": a.adapter,
            "frames": a.frames,
            "frames_per_s": a.frames as f64 / wall,
            "busy_fraction": a.busy_s / wall,
            "retired": a.retired,
            "declined": a.declined.iter().map(|d| json!({"scene": d.scene, "reason": d.reason})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "stages": stage_utilisation(r).into_iter().map(|StageUse { stage: name, total_s: total, utilisation: u }| json!({
            "stage": name, "total_s": total, "utilisation": u,
        })).collect::<Vec<_>>(),
        "bottleneck": { "stage": bottleneck, "utilisation": busy },
        "targets": target_lod_summary(r),
        "failures": r.failures,
    })
}

/// Why the report or its chart could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The report or the chart file could not be written.
    #[error("{0}; choose another --report path")]
    Write(WriteError),
    /// The report could not be turned into JSON (a bug: it is plain data).
    #[error("cannot serialise the report: {0}")]
    Serialize(serde_json::Error),
    /// The chart could not be drawn.
    #[error("chart: {0}")]
    Chart(String),
}

/// Write the JSON report and its SVG chart; returns the chart's path.
pub fn write_report(r: &OffscreenReport, path: &Path) -> Result<PathBuf, ReportError> {
    let text = serde_json::to_string_pretty(&report_json(r)).map_err(ReportError::Serialize)?;
    super::write_atomic(path, text.as_bytes()).map_err(ReportError::Write)?;
    let chart = path.with_extension("svg");
    let mut svg = String::new();
    draw_chart(r, &mut svg).map_err(|e| ReportError::Chart(e.to_string()))?;
    super::write_atomic(&chart, svg.as_bytes()).map_err(ReportError::Write)?;
    Ok(chart)
}

/// Frames/s per adapter in time buckets.
fn draw_chart(r: &OffscreenReport, out: &mut String) -> Result<(), Box<dyn std::error::Error>> {
    let wall = r.wall_s.max(1e-3);
    let buckets = 20usize;
    let width = wall / buckets as f64;
    let series: Vec<(String, Vec<(f64, f64)>)> = r
        .adapters
        .iter()
        .map(|a| {
            let mut counts = vec![0usize; buckets];
            for &t in &a.completions {
                counts[((t / width) as usize).min(buckets - 1)] += 1;
            }
            let pts = counts
                .iter()
                .enumerate()
                .map(|(i, &c)| ((i as f64 + 0.5) * width, c as f64 / width))
                .collect();
            (a.adapter.clone(), pts)
        })
        .collect();
    let ymax = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|x| x.1))
        .fold(1.0f64, f64::max)
        * 1.15;
    let root = SVGBackend::with_string(out, (900, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("throughput per adapter", ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..wall, 0.0..ymax)?;
    chart
        .configure_mesh()
        .x_desc("seconds")
        .y_desc("frames/s")
        .draw()?;
    for (i, (label, pts)) in series.into_iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(pts, color.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
