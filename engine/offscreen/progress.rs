//! Progress display: an indicatif bar with each adapter's share on a terminal, plain log lines
//! (every two seconds) otherwise.

use crate::gpu::GpuContext;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    log: bool,
    total: usize,
    done: usize,
    per_device: Vec<usize>,
    labels: Vec<String>,
    start: Instant,
    last_log: Instant,
}

impl Progress {
    pub fn new(total: usize, enabled: bool, devices: &[GpuContext]) -> Self {
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(total as u64);
            if let Ok(style) = ProgressStyle::with_template("{bar:32.cyan/blue} {pos}/{len} frames {per_sec:.1} [{elapsed_precise} < {eta}] {msg}") {
                bar.set_style(style);
            }
            bar
        });
        let labels = devices
            .iter()
            .map(|d| format!("#{} {}", d.index, d.info().backend.to_str()))
            .collect();
        Self {
            log: enabled && bar.is_none(),
            bar,
            total,
            done: 0,
            per_device: vec![0; devices.len()],
            labels,
            start: Instant::now(),
            last_log: Instant::now(),
        }
    }

    fn shares(&self) -> String {
        let total = self.done.max(1) as f64;
        self.labels
            .iter()
            .zip(&self.per_device)
            .map(|(l, n)| format!("{l} {:.0}%", 100.0 * *n as f64 / total))
            .collect::<Vec<_>>()
            .join(" · ")
    }

    pub fn frame_done(&mut self, device: usize) {
        self.done += 1;
        self.per_device[device] += 1;
        if let Some(bar) = &self.bar {
            bar.inc(1);
            bar.set_message(self.shares());
        } else if self.log
            && (self.last_log.elapsed() >= Duration::from_secs(2) || self.done == self.total)
        {
            self.last_log = Instant::now();
            let fps = self.done as f64 / self.start.elapsed().as_secs_f64().max(1e-9);
            tracing::info!(
                "{}/{} frames, {fps:.1} frames/s, {}",
                self.done,
                self.total,
                self.shares()
            );
        }
    }

    pub fn message(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => tracing::warn!("{text}"),
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
