//! The batch plan: which (scene, frame) work items a run covers, and how `--shard K/N` splits
//! them deterministically across processes or machines.

use super::options::OptionError;
use super::writer::WriteError;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// `--shard K/N`: this process renders work items `i` with `i % N == K`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// This shard, `0 ..= count - 1`.
    pub index: u32,
    /// Number of shards.
    pub count: u32,
}

impl std::str::FromStr for Shard {
    type Err = OptionError;
    fn from_str(s: &str) -> Result<Self, OptionError> {
        let bad = || OptionError::NotAShard { text: s.into() };
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u32 = k.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Self { index, count })
    }
}

/// One scene of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanScene {
    /// Scene name.
    pub name: String,
    /// Frame range, end exclusive.
    pub frames: (u32, u32),
    /// Target names.
    pub targets: Vec<String>,
    /// Content hash of the fully resolved scene ([`super::fingerprint::scene_hash`]); every
    /// manifest line made from this scene carries it.
    pub hash: String,
}

/// `format` field of every `plan.json` tutti writes.
pub const PLAN_FORMAT: &str = "tutti-plan";
/// Current `plan.json` version (1: before scene hashes; 2: scene hashes).
pub const PLAN_VERSION: u32 = 2;
/// Most work items (scene frames) one run may plan. A longer job is split with `--frames` or
/// `--shard`; the limit keeps the plan, the manifest and merge's bookkeeping in memory bounds.
pub const MAX_PLAN_ITEMS: u64 = 1_000_000;
/// Most files (frames × targets) one run may plan.
pub const MAX_PLAN_FILES: u64 = 16_000_000;

/// The whole run (every shard writes the same plan).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Always [`PLAN_FORMAT`]: marks the file as tutti's.
    pub format: String,
    /// [`PLAN_VERSION`] of the writer.
    pub version: u32,
    /// Scenes in order.
    pub scenes: Vec<PlanScene>,
}

/// Why a `plan.json` cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The file could not be read (including: it does not exist).
    #[error("{path}: cannot read the run plan: {source}")]
    Io {
        /// File.
        path: std::path::PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is not a plan tutti wrote: the folder holds something else.
    #[error("{path}: {message}")]
    Foreign {
        /// File.
        path: std::path::PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
    /// A tutti plan this version cannot check files against (older, newer or damaged).
    #[error("{path}: {message}")]
    Incompatible {
        /// File.
        path: std::path::PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
    /// The plan is larger than [`MAX_PLAN_ITEMS`] frames or [`MAX_PLAN_FILES`] files.
    #[error(
        "the run has {items} frames and {files} files, more than the {MAX_PLAN_ITEMS} frames and {MAX_PLAN_FILES} files one run may plan; split it with --frames A..B"
    )]
    TooLarge {
        /// Frames the run would have.
        items: u64,
        /// Files (frames × targets) the run would have.
        files: u64,
    },
    /// The plan could not be written.
    #[error("{0}")]
    Write(WriteError),
    /// The plan could not be turned into JSON (a bug: it is plain data).
    #[error("cannot serialise the run plan: {0}")]
    Serialize(serde_json::Error),
}

impl PlanError {
    /// True when the file simply does not exist.
    pub fn is_missing(&self) -> bool {
        matches!(self, Self::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

/// One work item: a frame of a scene, covering all of its targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WorkItem {
    /// Scene index in the plan.
    pub scene: usize,
    /// Frame index.
    pub frame: u32,
}

impl Plan {
    /// A plan of these scenes (current format and version), refusing runs over
    /// [`MAX_PLAN_ITEMS`] frames.
    pub fn new(scenes: Vec<PlanScene>) -> Result<Self, PlanError> {
        let frames = |s: &PlanScene| u64::from(s.frames.1.saturating_sub(s.frames.0));
        let items: u64 = scenes.iter().map(frames).sum();
        let files: u64 = scenes
            .iter()
            .map(|s| frames(s).saturating_mul(s.targets.len() as u64))
            .fold(0, u64::saturating_add);
        if items > MAX_PLAN_ITEMS || files > MAX_PLAN_FILES {
            return Err(PlanError::TooLarge { items, files });
        }
        Ok(Self {
            format: PLAN_FORMAT.into(),
            version: PLAN_VERSION,
            scenes,
        })
    }

    /// True when both plans cover the same scenes, frames and targets (scene hashes aside).
    pub fn same_layout(&self, other: &Self) -> bool {
        self.scenes.len() == other.scenes.len()
            && self
                .scenes
                .iter()
                .zip(&other.scenes)
                .all(|(a, b)| a.name == b.name && a.frames == b.frames && a.targets == b.targets)
    }

    /// Every work item of the run, in plan order.
    pub fn items(&self) -> Vec<WorkItem> {
        self.scenes
            .iter()
            .enumerate()
            .flat_map(|(scene, s)| {
                (s.frames.0..s.frames.1).map(move |frame| WorkItem { scene, frame })
            })
            .collect()
    }

    /// The work items of one shard (all of them without a shard).
    pub fn shard_items(&self, shard: Option<Shard>) -> Vec<WorkItem> {
        let all = self.items();
        match shard {
            None => all,
            Some(s) => all
                .into_iter()
                .enumerate()
                .filter(|(i, _)| *i as u64 % u64::from(s.count) == u64::from(s.index))
                .map(|(_, w)| w)
                .collect(),
        }
    }

    /// Every (scene, target, frame) file of the whole run.
    pub fn all_files(&self) -> Vec<(String, String, u32)> {
        let mut out = Vec::new();
        for s in &self.scenes {
            for f in s.frames.0..s.frames.1 {
                for t in &s.targets {
                    out.push((s.name.clone(), t.clone(), f));
                }
            }
        }
        out
    }

    /// Read `plan.json`: a plan of the current version, or an error that says what to do.
    pub fn load(path: &Path) -> Result<Self, PlanError> {
        let foreign = |message: String| PlanError::Foreign {
            path: path.to_path_buf(),
            message,
        };
        let incompatible = |message: String| PlanError::Incompatible {
            path: path.to_path_buf(),
            message,
        };
        let text = std::fs::read(path).map_err(|source| PlanError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let value: serde_json::Value = serde_json::from_slice(&text).map_err(|e| {
            foreign(format!(
                "is not a tutti run plan ({e}); this folder holds something else: use another --out, or remove the file if it is yours to delete"
            ))
        })?;
        if value.get("format").and_then(|f| f.as_str()) != Some(PLAN_FORMAT) {
            if value.get("scenes").is_some() {
                return Err(incompatible(
                    "was written by an older tutti without scene hashes, so its files cannot be checked against the scenes; render again without --resume, or into another --out".into(),
                ));
            }
            return Err(foreign(
                "is not a tutti run plan; this folder holds something else: use another --out"
                    .into(),
            ));
        }
        let version = value.get("version").and_then(|v| v.as_u64()).unwrap_or(0);
        if version != u64::from(PLAN_VERSION) {
            return Err(incompatible(format!(
                "is a version {version} plan; this tutti reads version {PLAN_VERSION}: render again without --resume, or use the tutti that wrote it"
            )));
        }
        let plan: Self = serde_json::from_value(value).map_err(|e| {
            incompatible(format!(
                "is a damaged tutti run plan ({e}); render again without --resume"
            ))
        })?;
        // A hand-edited plan must not make the reader allocate without bound.
        Self::new(plan.scenes)
    }

    /// Write `plan.json` atomically (identical bytes from every shard).
    pub fn save(&self, path: &Path) -> Result<(), PlanError> {
        let text = serde_json::to_string_pretty(self).map_err(PlanError::Serialize)?;
        super::write_atomic(path, text.as_bytes()).map_err(PlanError::Write)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_items() {
        let plan = Plan::new(vec![
            PlanScene {
                name: "a".into(),
                frames: (0, 10),
                targets: vec!["t".into()],
                hash: "x".into(),
            },
            PlanScene {
                name: "b".into(),
                frames: (5, 12),
                targets: vec!["t".into(), "u".into()],
                hash: "y".into(),
            },
        ])
        .expect("small plan");
        let all = plan.items();
        let mut union = Vec::new();
        for k in 0..3 {
            let part = plan.shard_items(Some(Shard { index: k, count: 3 }));
            assert!((5..=6).contains(&part.len()));
            union.extend(part);
        }
        union.sort_by_key(|w| (w.scene, w.frame));
        assert_eq!(union, all);
        assert!(
            "3/3"
                .parse::<Shard>()
                .unwrap_err()
                .to_string()
                .contains("write K/N with 0 <= K < N")
        );
        assert_eq!("1/4".parse::<Shard>(), Ok(Shard { index: 1, count: 4 }));
    }

    #[test]
    fn huge_plans_are_refused_before_anything_is_allocated() {
        let scene = |frames| PlanScene {
            name: "a".into(),
            frames,
            targets: vec!["t".into()],
            hash: String::new(),
        };
        let err = Plan::new(vec![scene((0, 4_000_000_000))]).expect_err("too large");
        assert!(err.to_string().contains("4000000000 frames"), "{err}");
        let mut wide = scene((0, 1_000_000));
        wide.targets = vec!["t".into(); 17];
        assert!(Plan::new(vec![wide]).is_err(), "too many files");
        assert!(err.to_string().contains("--frames"), "{err}");
        assert!(Plan::new(vec![scene((0, 1_000_000))]).is_ok());
    }

    #[test]
    fn foreign_old_and_damaged_plans_are_errors_that_say_what_to_do() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("plan.json");
        let missing = Plan::load(&path).expect_err("missing");
        assert!(missing.is_missing());
        for (text, expect) in [
            ("not json at all", "another --out"),
            (r#"{"scenes": []}"#, "older tutti"),
            (r#"{"kind": "something else"}"#, "not a tutti run plan"),
            (
                r#"{"format": "tutti-plan", "version": 99, "scenes": []}"#,
                "version 99",
            ),
            (
                r#"{"format": "tutti-plan", "version": 2, "scenes": 7}"#,
                "damaged",
            ),
        ] {
            std::fs::write(&path, text).expect("write");
            let err = Plan::load(&path).expect_err(text);
            assert!(!err.is_missing());
            assert!(err.to_string().contains(expect), "{text}: {err}");
        }
        std::fs::write(
            &path,
            r#"{"format": "tutti-plan", "version": 2, "scenes": [{"name": "a", "frames": [0, 4000000000], "targets": ["t"], "hash": ""}]}"#,
        )
        .expect("write");
        let err = Plan::load(&path).expect_err("huge");
        assert!(err.to_string().contains("--frames"), "{err}");
        let plan = Plan::new(vec![]).expect("empty");
        plan.save(&path).expect("save");
        assert_eq!(Plan::load(&path).expect("load"), plan);
    }
}
