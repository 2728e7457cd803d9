//! The run report (`--report FILE.json`): totals, per-adapter frames/s, busy fraction and
//! stage times, per-stage time and utilisation, the bottleneck stage, and an SVG chart beside
//! it (`FILE.svg`): throughput per adapter over a trailing window ([`rolling_throughput`]) and
//! the time per stage per adapter.

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
            "stages": a.stages,
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

/// The trailing window of the throughput chart for a run of `wall_s` seconds in which the
/// busiest adapter delivered `most_frames` frames: 1 s for runs of 5 s or more; for shorter runs
/// long enough to hold about 10 of that adapter's frames (so one frame is not a step of many
/// frames/s), at least a fifth of the run and at most half of it.
pub fn throughput_window(wall_s: f64, most_frames: usize) -> f64 {
    if wall_s >= 5.0 {
        return 1.0;
    }
    let ten_frames = wall_s * 10.0 / most_frames.max(1) as f64;
    ten_frames.clamp(wall_s / 5.0, wall_s / 2.0).max(1e-3)
}

/// Frames per second over a trailing window: at each of `points` times `t` evenly spread over
/// `[window_s, wall_s]`, the completions in `(t - window_s, t]` divided by `window_s`. Every
/// window is whole (the curve starts one window into the run), so neither end is normalised by
/// a partial bin: a steady rate reads the same at the start, in the middle and at the end. A run
/// shorter than the window gives one point, its completions over its whole length.
/// `completions` are seconds since the start, in any order.
pub fn rolling_throughput(
    completions: &[f64],
    window_s: f64,
    wall_s: f64,
    points: usize,
) -> Vec<(f64, f64)> {
    let mut times: Vec<f64> = completions
        .iter()
        .copied()
        .filter(|t| t.is_finite())
        .collect();
    times.sort_by(f64::total_cmp);
    let count_upto = |t: f64| times.partition_point(|&c| c <= t);
    if wall_s.is_nan() || wall_s <= 0.0 {
        return Vec::new();
    }
    if window_s.is_nan() || window_s <= 0.0 || wall_s <= window_s {
        return vec![(wall_s, count_upto(wall_s) as f64 / wall_s)];
    }
    let points = points.max(2);
    (0..points)
        .map(|i| {
            let t = window_s + (wall_s - window_s) * i as f64 / (points - 1) as f64;
            let n = count_upto(t) - count_upto(t - window_s);
            (t, n as f64 / window_s)
        })
        .collect()
}

/// The chart: throughput per adapter over a trailing window (left) and summed time per stage
/// (right: animate, render and readback per adapter; encode and write on the shared encode
/// lanes).
fn draw_chart(r: &OffscreenReport, out: &mut String) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::with_string(out, (1300, 440)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(780);
    draw_throughput(r, &left)?;
    draw_stages(r, &right)?;
    root.present()?;
    Ok(())
}

fn draw_throughput<DB: DrawingBackend>(
    r: &OffscreenReport,
    area: &DrawingArea<DB, plotters::coord::Shift>,
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    let wall = r.wall_s.max(1e-3);
    let most = r.adapters.iter().map(|a| a.frames).max().unwrap_or(0);
    let window = throughput_window(wall, most);
    let series: Vec<(String, Vec<(f64, f64)>)> = r
        .adapters
        .iter()
        .map(|a| {
            (
                a.adapter.clone(),
                rolling_throughput(&a.completions, window, wall, 200),
            )
        })
        .collect();
    let ymax = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|x| x.1))
        .fold(1.0f64, f64::max)
        * 1.15;
    let mut chart = ChartBuilder::on(area)
        .caption("throughput per adapter", ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..wall, 0.0..ymax)?;
    chart
        .configure_mesh()
        .x_desc("seconds since start")
        .y_desc(format!("frames/s (trailing {window:.2} s window)"))
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
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// One bar of the stage chart: its label and (stage, seconds) segments, stacked in order.
type StageBar = (String, Vec<(&'static str, f64)>);

/// The bars of the stage chart: one per adapter (animate, render, readback), then one for the
/// encode lanes that every adapter shares (encode, write).
pub fn stage_bars(r: &OffscreenReport) -> Vec<StageBar> {
    let mut bars: Vec<StageBar> = r
        .adapters
        .iter()
        .map(|a| {
            (
                a.adapter.clone(),
                vec![
                    ("animate", a.stages.animate_s),
                    ("render", a.stages.render_s),
                    ("readback", a.stages.readback_s),
                ],
            )
        })
        .collect();
    bars.push((
        format!("encode lanes (shared, {} threads)", r.encode_threads),
        vec![("encode", r.stages.encode_s), ("write", r.stages.write_s)],
    ));
    bars
}

const STAGES: [&str; 5] = ["animate", "render", "readback", "encode", "write"];

fn draw_stages<DB: DrawingBackend>(
    r: &OffscreenReport,
    area: &DrawingArea<DB, plotters::coord::Shift>,
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    let bars = stage_bars(r);
    let xmax = bars
        .iter()
        .map(|(_, segs)| segs.iter().map(|s| s.1).sum::<f64>())
        .fold(1e-3f64, f64::max)
        * 1.3; // room on the right for the legend
    let n = bars.len() as f64;
    let mut chart = ChartBuilder::on(area)
        .caption("time per stage", ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(10)
        .build_cartesian_2d(0.0..xmax, -0.6..(n - 0.4))?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(WHITE)
        .y_labels(0)
        .x_desc("summed seconds")
        .draw()?;
    // Bars from the top down, in the order of `stage_bars`.
    let row = |i: usize| n - 1.0 - i as f64;
    for (k, stage) in STAGES.iter().enumerate() {
        let color = Palette99::pick(k + 3).to_rgba();
        let rects: Vec<Rectangle<(f64, f64)>> = bars
            .iter()
            .enumerate()
            .filter_map(|(i, (_, segs))| {
                let at = segs.iter().position(|s| s.0 == *stage)?;
                let x0: f64 = segs[..at].iter().map(|s| s.1).sum();
                let y = row(i);
                Some(Rectangle::new(
                    [(x0, y - 0.25), (x0 + segs[at].1, y + 0.15)],
                    color.filled(),
                ))
            })
            .collect();
        chart
            .draw_series(rects)?
            .label(*stage)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], color.filled()));
    }
    let labels: Vec<Text<(f64, f64), String>> = bars
        .iter()
        .enumerate()
        .map(|(i, (label, segs))| {
            let total: f64 = segs.iter().map(|s| s.1).sum();
            Text::new(
                format!("{label}: {total:.2} s"),
                (xmax * 0.01, row(i) + 0.42),
                ("sans-serif", 13),
            )
        })
        .collect();
    chart.draw_series(labels)?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A steady 10 frames/s for 5 s reads about 10 everywhere, the end included (the old
    /// binned chart spiked or dropped in its last bin).
    #[test]
    fn rolling_throughput_of_a_steady_rate_is_flat_to_the_end() {
        let completions: Vec<f64> = (0..50).map(|k| (k as f64 + 0.5) * 0.1).collect();
        let pts = rolling_throughput(&completions, 1.0, 5.0, 100);
        assert_eq!(pts.len(), 100);
        assert!((pts[0].0 - 1.0).abs() < 1e-9 && (pts[99].0 - 5.0).abs() < 1e-9);
        for (t, rate) in &pts {
            assert!((rate - 10.0).abs() <= 1.0, "{rate} frames/s at {t} s");
        }
        // Ending between two frames (the batch's wall time is a little past its last frame)
        // is no spike either, and jittered completions stay within 10 %.
        let jittered: Vec<f64> = (0..50)
            .map(|k| (k as f64 + 0.5 + 0.3 * ((k * 7 % 5) as f64 / 5.0 - 0.5)) * 0.1)
            .collect();
        for (t, rate) in rolling_throughput(&jittered, 1.0, 5.02, 37) {
            assert!((rate - 10.0).abs() <= 1.0, "{rate} frames/s at {t} s");
        }
    }

    #[test]
    fn rolling_throughput_sees_a_change_of_rate_and_handles_short_runs() {
        // 10 frames/s for 3 s, then 20 frames/s for 3 s.
        let mut c: Vec<f64> = (0..30).map(|k| (k as f64 + 0.5) * 0.1).collect();
        c.extend((0..60).map(|k| 3.0 + (k as f64 + 0.5) * 0.05));
        let pts = rolling_throughput(&c, 1.0, 6.0, 51);
        let at = |t: f64| {
            pts.iter()
                .find(|p| (p.0 - t).abs() < 1e-6)
                .map(|p| p.1)
                .expect("sampled")
        };
        assert!((at(2.0) - 10.0).abs() <= 1.0);
        assert!((at(6.0) - 20.0).abs() <= 1.0);
        // A run shorter than the window: one point, frames over the run's length.
        assert_eq!(
            rolling_throughput(&[0.1, 0.2], 1.0, 0.5, 10),
            vec![(0.5, 4.0)]
        );
        assert!(rolling_throughput(&[], 1.0, 0.0, 10).is_empty());
        assert_eq!(throughput_window(20.0, 2000), 1.0);
        // Short runs: about ten frames of the busiest adapter, within [wall/5, wall/2].
        assert!((throughput_window(2.0, 100) - 0.4).abs() < 1e-12);
        assert!((throughput_window(2.0, 40) - 0.5).abs() < 1e-12);
        assert!((throughput_window(2.0, 10) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn stage_bars_give_each_adapter_its_stages_and_the_encode_lanes_one_bar() {
        let mut r = OffscreenReport {
            encode_threads: 4,
            ..Default::default()
        };
        for (name, render) in [("#0 a", 2.0), ("#1 b", 3.0)] {
            let mut a = super::super::AdapterRun {
                adapter: name.into(),
                ..Default::default()
            };
            a.stages.render_s = render;
            a.stages.animate_s = 0.5;
            r.adapters.push(a);
        }
        r.stages.encode_s = 7.0;
        r.stages.write_s = 1.0;
        let bars = stage_bars(&r);
        assert_eq!(bars.len(), 3);
        assert_eq!(bars[1].0, "#1 b");
        assert_eq!(
            bars[1].1,
            vec![("animate", 0.5), ("render", 3.0), ("readback", 0.0)]
        );
        assert_eq!(bars[2].1, vec![("encode", 7.0), ("write", 1.0)]);
        assert!(bars[2].0.contains("4 threads"));
        let mut svg = String::new();
        draw_chart(&r, &mut svg).expect("chart");
        for needle in [
            "throughput per adapter",
            "time per stage",
            "trailing",
            "#1 b",
        ] {
            assert!(svg.contains(needle), "{needle} missing from the chart");
        }
    }
}
