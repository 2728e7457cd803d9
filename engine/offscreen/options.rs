//! What an offscreen run is told: [`OffscreenOptions`], the [`Faults`] it injects for tests, and
//! [`OptionError`] for option text that does not parse. The library reads no environment; the
//! `tutti` CLI reads its flags and `TUTTI_FAULT_*` and passes the values in.

use super::plan::Shard;
use super::writer::Compression;
use std::path::PathBuf;

/// Options of an offscreen run.
#[derive(Debug, Clone, Default)]
pub struct OffscreenOptions {
    /// Output root.
    pub out_dir: PathBuf,
    /// Frame range override `(start, end)`, end exclusive; `None` uses each scene's own range.
    pub frames: Option<(u32, u32)>,
    /// Frames in flight per device; `None` adapts (see [`super::scheduler`]).
    pub frames_in_flight: Option<usize>,
    /// PNG compression.
    pub compression: Compression,
    /// Keep outputs that match the manifest; render only what is missing or corrupt.
    pub resume: bool,
    /// Render only this shard of the work items.
    pub shard: Option<Shard>,
    /// Show a progress bar (terminal) or log lines.
    pub progress: bool,
    /// Job executor for the frame graphs and PNG encoding (default: the performance profile,
    /// one worker per core).
    pub executor: Option<crate::jobs::Executor>,
    /// Faults to inject, for tests of the fault handling (the CLI reads them from
    /// `TUTTI_FAULT_*`).
    pub faults: Faults,
    /// Live metrics to feed while the run goes on: frames delivered and failed, stage times,
    /// frames in flight and pending writes per adapter, retired adapters, and the executor's
    /// counters (see [`crate::telemetry`]; `tutti render --metrics-addr` serves them to
    /// Prometheus).
    pub telemetry: Option<std::sync::Arc<crate::telemetry::Telemetry>>,
}

/// Faults an offscreen run injects on purpose, to test that it survives them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    /// `(adapter index, frames)`: that adapter's device is marked lost after it rendered this
    /// many frames (the CLI's `TUTTI_FAULT_DEVICE_LOST=<adapter index>@<frame count>`, parsed by
    /// [`Faults::parse_device_lost`]).
    pub device_lost: Option<(usize, usize)>,
    /// The PNG encode task of this frame panics (the CLI's `TUTTI_FAULT_ENCODE_PANIC=<frame>`,
    /// parsed by [`Faults::parse_encode_panic`]).
    pub encode_panic: Option<u32>,
}

impl Faults {
    /// Parse `<adapter index>@<frame count>`, e.g. `0@3` (blanks around either number ignored).
    pub fn parse_device_lost(text: &str) -> Result<(usize, usize), OptionError> {
        text.split_once('@')
            .and_then(|(a, n)| Some((a.trim().parse().ok()?, n.trim().parse().ok()?)))
            .ok_or_else(|| OptionError::NotADeviceLostFault { text: text.into() })
    }

    /// Parse a frame number (blanks around it ignored).
    pub fn parse_encode_panic(text: &str) -> Result<u32, OptionError> {
        text.trim()
            .parse()
            .map_err(|_| OptionError::NotAFrame { text: text.into() })
    }
}

/// An offscreen option given as text that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OptionError {
    /// Not `K/N` with `0 <= K < N` (`--shard`).
    #[error(
        "{text:?} is not a shard; write K/N with 0 <= K < N, e.g. 0/4 (Slurm: $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT)"
    )]
    NotAShard {
        /// What was given.
        text: String,
    },
    /// Not a PNG compression level (`--png-compression`).
    #[error("{text:?} is not a PNG compression; use fast, default or best")]
    NotACompression {
        /// What was given.
        text: String,
    },
    /// Not `<adapter index>@<frame count>` (device-lost fault).
    #[error("{text:?} is not <adapter index>@<frame count>")]
    NotADeviceLostFault {
        /// What was given.
        text: String,
    },
    /// Not a frame number (encode-panic fault).
    #[error("{text:?} is not a frame number")]
    NotAFrame {
        /// What was given.
        text: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse_and_bad_text_says_what_to_write() {
        assert_eq!(Faults::parse_device_lost(" 1 @ 3"), Ok((1, 3)));
        assert_eq!(Faults::parse_encode_panic(" 7 "), Ok(7));
        assert_eq!(
            Faults::parse_device_lost("1:3").unwrap_err().to_string(),
            "\"1:3\" is not <adapter index>@<frame count>"
        );
        assert_eq!(
            Faults::parse_encode_panic("x").unwrap_err().to_string(),
            "\"x\" is not a frame number"
        );
    }
}
