//! Performance profiles: how many workers the executor's rayon pool gets.
//!
//! Chosen through the API ([`ExecutorConfig`]). The library reads no environment: the `tutti`
//! CLI takes `--profile`/`--workers` and the variables `TUTTI_PROFILE` and `TUTTI_WORKERS`, and
//! parses their text with [`Profile::from_str`] and [`parse_workers`].

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
    /// Every profile, from fewest workers to most.
    pub const ALL: [Profile; 5] = [
        Profile::Conservative,
        Profile::Balanced,
        Profile::Performance,
        Profile::Maximum,
        Profile::Adaptive,
    ];

    /// The profile's name, as `--profile` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Conservative => "conservative",
            Profile::Balanced => "balanced",
            Profile::Performance => "performance",
            Profile::Maximum => "maximum",
            Profile::Adaptive => "adaptive",
        }
    }

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

/// Why an executor could not be configured or started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExecutorError {
    /// A profile name that is not one of the five.
    #[error(
        "{text:?} is not a profile; use conservative, balanced, performance, maximum or adaptive"
    )]
    UnknownProfile {
        /// What was given.
        text: String,
    },
    /// A worker count that is not a number in `1..=MAX_WORKERS`.
    #[error("{text:?} is not a number of workers in 1..={MAX_WORKERS}")]
    NotAWorkerCount {
        /// What was given.
        text: String,
    },
    /// An explicit worker count outside `1..=MAX_WORKERS`.
    #[error("{workers} job workers is outside 1..={MAX_WORKERS}")]
    WorkersOutOfRange {
        /// The count asked for.
        workers: usize,
    },
    /// The thread pool could not be started (the OS refused a thread).
    #[error("cannot start {workers} job workers: {reason}; ask for fewer workers")]
    PoolStart {
        /// Workers asked for.
        workers: usize,
        /// rayon's message.
        reason: String,
    },
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Profile {
    type Err = ExecutorError;
    fn from_str(s: &str) -> Result<Self, ExecutorError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "conservative" => Ok(Self::Conservative),
            "balanced" => Ok(Self::Balanced),
            "performance" => Ok(Self::Performance),
            "maximum" => Ok(Self::Maximum),
            "adaptive" => Ok(Self::Adaptive),
            _ => Err(ExecutorError::UnknownProfile { text: s.into() }),
        }
    }
}

/// Most workers an executor accepts (each is an OS thread with its own stack).
pub const MAX_WORKERS: usize = 1024;

/// Parse a worker count (`TUTTI_WORKERS`, say): a number in `1..=MAX_WORKERS`, surrounding
/// blanks ignored.
pub fn parse_workers(text: &str) -> Result<usize, ExecutorError> {
    text.trim()
        .parse()
        .ok()
        .filter(|n| (1..=MAX_WORKERS).contains(n))
        .ok_or_else(|| ExecutorError::NotAWorkerCount { text: text.into() })
}

/// Executor configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExecutorConfig {
    /// Profile.
    pub profile: Profile,
    /// Explicit worker count (overrides the profile's).
    pub workers: Option<usize>,
}

impl ExecutorConfig {
    /// Check the configuration: an explicit worker count must lie in `1..=MAX_WORKERS`.
    pub fn validate(&self) -> Result<(), ExecutorError> {
        match self.workers {
            Some(workers) if !(1..=MAX_WORKERS).contains(&workers) => {
                Err(ExecutorError::WorkersOutOfRange { workers })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_and_worker_counts_parse_with_messages_that_say_what_to_write() {
        assert_eq!(" Adaptive ".parse::<Profile>(), Ok(Profile::Adaptive));
        for p in [
            Profile::Conservative,
            Profile::Balanced,
            Profile::Performance,
            Profile::Maximum,
            Profile::Adaptive,
        ] {
            assert_eq!(p.name().parse::<Profile>(), Ok(p));
            assert_eq!(serde_json::to_value(p).ok(), Some(p.name().into()));
        }
        let e = "turbo".parse::<Profile>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "\"turbo\" is not a profile; use conservative, balanced, performance, maximum or adaptive"
        );
        assert_eq!(parse_workers(" 3 "), Ok(3));
        for bad in ["0", "zero", "1025", "-1", ""] {
            let e = parse_workers(bad).unwrap_err();
            assert!(e.to_string().contains("1..=1024"), "{e}");
        }
        let c = ExecutorConfig {
            workers: Some(0),
            ..Default::default()
        };
        assert_eq!(
            c.validate().unwrap_err().to_string(),
            "0 job workers is outside 1..=1024"
        );
    }
}
