//! `tutti bench`: every benchmark family (jobs, offscreen, lod, gpu), and one summary table of
//! their figures.
//!
//! Each family measures every figure against a baseline in the same run and prints itself
//! ([`std::fmt::Display`]); [`BenchRows::rows`] turns a family's result into [`BenchRow`]s, one
//! per figure, which [`BenchSummary`] prints as one table or writes as JSON. [`run_families`]
//! runs the families a command asked for, at one [`Scale`].
//!
//! This module sits on the top floor: it imports the families (`jobs`, `render`, `offscreen`);
//! none of them imports it.

mod rows;
mod run;

pub use rows::BenchRows;
pub use run::{BenchOptions, run_families};

use crate::gpu::GpuError;
use crate::jobs::bench::JobsBench;
use crate::offscreen::bench::{OffscreenBench, OffscreenBenchError};
use crate::render::bench::LodBench;
use crate::render::bench_gpu::GpuBench;
use crate::scene::SceneError;
use serde::Serialize;

/// Errors of `tutti bench`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// No adapter could be selected or opened.
    #[error(transparent)]
    Gpu(#[from] GpuError),
    /// The built-in default scene failed to load (the offscreen family renders it).
    #[error("the default scene did not load")]
    Scene(#[from] SceneError),
    /// The offscreen family failed.
    #[error("bench offscreen")]
    Offscreen(#[from] OffscreenBenchError),
    /// The lod or gpu family failed.
    #[error("bench {family}")]
    Render {
        /// `lod` or `gpu`.
        family: Family,
        /// What failed.
        source: crate::render::bench::BenchError,
    },
}

/// A benchmark family: a `tutti bench` subcommand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// The job system against plain rayon (`jobs::bench`).
    Jobs,
    /// Offscreen batch throughput, sequential against pipelined (`offscreen::bench`).
    Offscreen,
    /// GPU-driven crowds: LOD, multi-resolution, CPU frame time (`render::bench`).
    Lod,
    /// GPU throughput: views, dispatches, skinned vertices, multi-resolution
    /// (`render::bench_gpu`).
    Gpu,
}

impl Family {
    /// Every family, in the order `tutti bench` runs them.
    pub const ALL: [Family; 4] = [Family::Jobs, Family::Offscreen, Family::Lod, Family::Gpu];

    /// The family's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Family::Jobs => "jobs",
            Family::Offscreen => "offscreen",
            Family::Lod => "lod",
            Family::Gpu => "gpu",
        }
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Family {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        Family::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| format!("{s:?} is not a bench family; use jobs, offscreen, lod or gpu"))
    }
}

/// How long to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scale {
    /// Tiny sizes, one sample: checks that every figure runs (tests). The figures mean little.
    Smoke,
    /// Small sizes: every family together in under three minutes on two cores without a GPU.
    Quick,
    /// The documented sizes.
    #[default]
    Full,
}

/// Which way a figure improves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    /// Higher is better (rates: views/s, frames/s, ...).
    Higher,
    /// Lower is better (times: ms, ns/task, ...).
    Lower,
}

/// One figure of a family against its baseline from the same run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchRow {
    /// Family that measured it.
    pub family: Family,
    /// What was measured (`views/s 64x64 no readback`, ...).
    pub figure: String,
    /// The figure's value, in `unit`.
    pub value: f64,
    /// Unit of `value` and `baseline_value`.
    pub unit: String,
    /// What the figure is compared with.
    pub baseline: String,
    /// The baseline's value, in `unit`, measured in the same run.
    pub baseline_value: f64,
    /// `value / baseline_value`; whether above 1 is good says `better`.
    pub ratio: f64,
    /// Which way the figure improves.
    pub better: Better,
}

impl BenchRow {
    /// A figure of `family` measured at `value` `unit`; compare it with its baseline with
    /// [`Self::against`].
    pub fn figure(
        family: Family,
        figure: impl Into<String>,
        value: f64,
        unit: &str,
        better: Better,
    ) -> Self {
        Self {
            family,
            figure: figure.into(),
            value,
            unit: unit.to_string(),
            baseline: String::new(),
            baseline_value: f64::NAN,
            ratio: f64::NAN,
            better,
        }
    }

    /// The row with its baseline, measured at `value` (in the figure's unit) in the same run;
    /// sets the ratio `value / baseline value`.
    pub fn against(mut self, baseline: impl Into<String>, value: f64) -> Self {
        self.baseline = baseline.into();
        self.baseline_value = value;
        self.ratio = self.value / value;
        self
    }
}

/// The figures of one or more families: one table, or JSON.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BenchSummary {
    /// One row per figure, in the order the families ran.
    pub rows: Vec<BenchRow>,
}

impl BenchSummary {
    /// The rows as JSON: `{"rows": [{family, figure, value, unit, baseline, baseline_value,
    /// ratio, better}, ...]}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// A number with about four significant digits and no exponent.
fn number(v: f64) -> String {
    let a = v.abs();
    if !v.is_finite() {
        format!("{v}")
    } else if a >= 1000.0 {
        format!("{v:.0}")
    } else if a >= 100.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

impl std::fmt::Display for BenchSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cells: Vec<[String; 6]> = self
            .rows
            .iter()
            .map(|r| {
                [
                    r.family.to_string(),
                    r.figure.clone(),
                    format!("{} {}", number(r.value), r.unit),
                    r.baseline.clone(),
                    format!("{} {}", number(r.baseline_value), r.unit),
                    format!(
                        "{:.2}x ({} is better)",
                        r.ratio,
                        match r.better {
                            Better::Higher => "higher",
                            Better::Lower => "lower",
                        }
                    ),
                ]
            })
            .collect();
        let header = [
            "family",
            "figure",
            "value",
            "baseline",
            "baseline value",
            "ratio",
        ];
        let mut width = header.map(str::len);
        for row in &cells {
            for (w, c) in width.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |f: &mut std::fmt::Formatter<'_>, row: [&str; 6]| -> std::fmt::Result {
            let [a, b, c, d, e, g] = row;
            write!(
                f,
                "{a:<w0$}  {b:<w1$}  {c:>w2$}  {d:<w3$}  {e:>w4$}  {g}",
                w0 = width[0],
                w1 = width[1],
                w2 = width[2],
                w3 = width[3],
                w4 = width[4],
            )
        };
        writeln!(
            f,
            "summary: each figure against its baseline from the same run (ratio = value / baseline)"
        )?;
        line(f, header)?;
        for row in &cells {
            writeln!(f)?;
            line(f, [0, 1, 2, 3, 4, 5].map(|i| row[i].as_str()))?;
        }
        Ok(())
    }
}

/// One family's result.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum FamilyResult {
    /// `tutti bench jobs`.
    Jobs(JobsBench),
    /// `tutti bench offscreen`.
    Offscreen(OffscreenBench),
    /// `tutti bench lod`.
    Lod(LodBench),
    /// `tutti bench gpu`.
    Gpu(GpuBench),
}

impl FamilyResult {
    /// Which family.
    pub fn family(&self) -> Family {
        match self {
            Self::Jobs(_) => Family::Jobs,
            Self::Offscreen(_) => Family::Offscreen,
            Self::Lod(_) => Family::Lod,
            Self::Gpu(_) => Family::Gpu,
        }
    }

    /// The family's own JSON (what `tutti bench <family> --json` prints).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Self::Jobs(r) => r.to_json(),
            Self::Offscreen(r) => r.to_json(),
            Self::Lod(r) => r.to_json(),
            Self::Gpu(r) => r.to_json(),
        }
    }
}

impl BenchRows for FamilyResult {
    fn rows(&self) -> Vec<BenchRow> {
        match self {
            Self::Jobs(r) => r.rows(),
            Self::Offscreen(r) => r.rows(),
            Self::Lod(r) => r.rows(),
            Self::Gpu(r) => r.rows(),
        }
    }
}

impl std::fmt::Display for FamilyResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Jobs(r) => r.fmt(f),
            Self::Offscreen(r) => r.fmt(f),
            Self::Lod(r) => r.fmt(f),
            Self::Gpu(r) => r.fmt(f),
        }
    }
}

/// The results of a `tutti bench` run: each family's detail, then one summary table.
#[derive(Debug, Clone, Default)]
pub struct BenchRun {
    /// Each family's result, in the order they ran.
    pub results: Vec<FamilyResult>,
}

impl BenchRun {
    /// Every family's rows in one table.
    pub fn summary(&self) -> BenchSummary {
        BenchSummary {
            rows: self.results.iter().flat_map(BenchRows::rows).collect(),
        }
    }

    /// `{"rows": [...], "families": {"jobs": ..., ...}}`: the summary's rows, and each family's
    /// own JSON (as `tutti bench <family> --json` prints it).
    pub fn to_json(&self) -> serde_json::Value {
        let families: serde_json::Map<String, serde_json::Value> = self
            .results
            .iter()
            .map(|r| (r.family().to_string(), r.to_json()))
            .collect();
        let mut value = self.summary().to_json();
        value["families"] = families.into();
        value
    }
}

impl std::fmt::Display for BenchRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for r in &self.results {
            writeln!(f, "{r}\n")?;
        }
        self.summary().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(family: Family, figure: &str, value: f64, base: f64) -> BenchRow {
        BenchRow::figure(family, figure, value, "views/s", Better::Higher)
            .against("one per submit", base)
    }

    #[test]
    fn families_parse_by_name_and_reject_others() {
        for f in Family::ALL {
            assert_eq!(f.name().parse::<Family>(), Ok(f));
        }
        assert_eq!(" GPU ".parse::<Family>(), Ok(Family::Gpu));
        let e = "render".parse::<Family>().unwrap_err();
        assert!(e.contains("jobs, offscreen, lod or gpu"), "{e}");
    }

    #[test]
    fn summary_prints_one_aligned_row_per_figure_and_writes_json() {
        let summary = BenchSummary {
            rows: vec![
                row(Family::Gpu, "views/s 64x64", 2000.0, 500.0),
                row(Family::Jobs, "a much longer figure name", 1.5, 3.0),
            ],
        };
        assert_eq!(summary.rows[0].ratio, 4.0);
        let text = summary.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[2].starts_with("gpu "), "{text}");
        assert!(lines[2].contains("4.00x (higher is better)"), "{text}");
        assert!(lines[3].contains("0.50x"), "{text}");
        // The baseline column starts at the same place on every line.
        let at = |l: &str, s: &str| l.find(s).expect("present");
        assert_eq!(
            at(lines[2], "one per submit"),
            at(lines[3], "one per submit")
        );
        let json = summary.to_json();
        assert_eq!(json["rows"][0]["family"], "gpu");
        assert_eq!(json["rows"][0]["baseline_value"], 500.0);
        assert_eq!(json["rows"][1]["better"], "higher");
        assert_eq!(json["rows"].as_array().map(Vec::len), Some(2));
    }
}
