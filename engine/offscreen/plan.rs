//! The batch plan: which (scene, frame) work items a run covers, and how `--shard K/N` splits
//! them deterministically across processes or machines.

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
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "{s:?} is not a shard; write K/N with 0 <= K < N, e.g. 0/4 (Slurm: $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT)"
            )
        };
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
}

/// The whole run (every shard writes the same plan).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Scenes in order.
    pub scenes: Vec<PlanScene>,
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

    /// Read `plan.json`.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_str(&text)
            .map_err(|e| format!("{}: not a tutti plan: {e}", path.display()))
    }

    /// Write `plan.json` atomically (identical bytes from every shard).
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        super::write_atomic(path, text.as_bytes()).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_items() {
        let plan = Plan {
            scenes: vec![
                PlanScene {
                    name: "a".into(),
                    frames: (0, 10),
                    targets: vec!["t".into()],
                },
                PlanScene {
                    name: "b".into(),
                    frames: (5, 12),
                    targets: vec!["t".into(), "u".into()],
                },
            ],
        };
        let all = plan.items();
        let mut union = Vec::new();
        for k in 0..3 {
            let part = plan.shard_items(Some(Shard { index: k, count: 3 }));
            assert!((5..=6).contains(&part.len()));
            union.extend(part);
        }
        union.sort_by_key(|w| (w.scene, w.frame));
        assert_eq!(union, all);
        assert!("3/3".parse::<Shard>().is_err());
        assert_eq!("1/4".parse::<Shard>(), Ok(Shard { index: 1, count: 4 }));
    }
}
