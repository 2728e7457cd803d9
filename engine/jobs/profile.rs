//! Performance profiles: how many workers the executor's rayon pool gets.
//!
//! Chosen through the API ([`ExecutorConfig`]), `--profile` on the CLI, or the environment:
//! `TUTTI_PROFILE=conservative|balanced|performance|maximum|adaptive` and `TUTTI_WORKERS=N`
//! (N overrides the profile's worker count).

use std::str::FromStr;

/// A performance profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// One worker: leaves the machine to others.
    Conservative,
    /// Half the cores.
    Balanced,
    /// One worker per core (the default).
    #[default]
    Performance,
    /// Two workers per core, for I/O-bound stages.
    Maximum,
    /// Two workers per core, with the number of jobs running at once adapted to measured load
    /// (see `engine/jobs/README.md`).
    Adaptive,
}

impl Profile {
    /// Worker count on a machine with `cores` cores.
    pub fn workers(self, cores: usize) -> usize {
        let cores = cores.max(1);
        match self {
            Profile::Conservative => 1,
            Profile::Balanced => (cores / 2).max(1),
            Profile::Performance => cores,
            Profile::Maximum | Profile::Adaptive => cores * 2,
        }
    }
}

impl FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "conservative" => Ok(Self::Conservative),
            "balanced" => Ok(Self::Balanced),
            "performance" => Ok(Self::Performance),
            "maximum" => Ok(Self::Maximum),
            "adaptive" => Ok(Self::Adaptive),
            _ => Err(format!(
                "{s:?} is not a profile; use conservative, balanced, performance, maximum or adaptive"
            )),
        }
    }
}

/// Most workers an executor accepts (each is an OS thread with its own stack).
pub const MAX_WORKERS: usize = 1024;

/// Executor configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExecutorConfig {
    /// Profile.
    pub profile: Profile,
    /// Explicit worker count (overrides the profile's).
    pub workers: Option<usize>,
}

impl ExecutorConfig {
    /// From `TUTTI_PROFILE` and `TUTTI_WORKERS`; invalid values are errors naming the variable.
    pub fn from_env() -> Result<Self, String> {
        let mut c = Self::default();
        if let Ok(p) = std::env::var("TUTTI_PROFILE") {
            c.profile = p.parse().map_err(|e| format!("TUTTI_PROFILE: {e}"))?;
        }
        if let Ok(w) = std::env::var("TUTTI_WORKERS") {
            let n: usize = w
                .trim()
                .parse()
                .ok()
                .filter(|&n| (1..=MAX_WORKERS).contains(&n))
                .ok_or_else(|| {
                    format!("TUTTI_WORKERS: {w:?} is not a number of workers in 1..={MAX_WORKERS}")
                })?;
            c.workers = Some(n);
        }
        Ok(c)
    }

    /// Check the configuration: an explicit worker count must lie in `1..=MAX_WORKERS`.
    pub fn validate(&self) -> Result<(), String> {
        match self.workers {
            Some(n) if !(1..=MAX_WORKERS).contains(&n) => {
                Err(format!("{n} job workers is outside 1..={MAX_WORKERS}"))
            }
            _ => Ok(()),
        }
    }

    /// Workers this configuration asks for on this machine.
    pub fn worker_count(&self) -> usize {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        self.workers
            .unwrap_or_else(|| self.profile.workers(cores))
            .max(1)
    }
}
