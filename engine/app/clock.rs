//! Scene time in the app: the wall clock (scaled, pausable) by default, or the offscreen rule
//! (`time = frame / fps`, one frame per frame drawn) with `--fixed-step`, so a window's frame
//! N equals the offscreen render of frame N.

use std::time::Duration;

/// How scene time advances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeMode {
    /// Real elapsed time, times the time scale.
    Wall,
    /// One scene frame per frame drawn: `time = frame / fps`.
    FixedStep,
}

/// The scene clock of one window (see the module doc).
#[derive(Debug, Clone)]
pub struct SceneClock {
    mode: TimeMode,
    fps: f32,
    /// Frame index (fixed step) of the next frame.
    frame: u32,
    /// Seconds of scene time (wall mode).
    seconds: f64,
    /// Paused: time stands still, frames still draw.
    pub paused: bool,
    /// Speed of wall-clock time (0.0625 ..= 16).
    scale: f64,
}

/// Time scales +/- step through.
pub const SCALES: [f64; 9] = [0.0625, 0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0];

impl SceneClock {
    /// A clock starting at scene frame `start` of a scene at `fps`.
    pub fn new(mode: TimeMode, fps: f32, start: u32) -> Self {
        Self {
            mode,
            fps,
            frame: start,
            seconds: f64::from(start) / f64::from(fps),
            paused: false,
            scale: 1.0,
        }
    }

    /// The mode.
    pub fn mode(&self) -> TimeMode {
        self.mode
    }

    /// The time scale.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// Set the time scale (clamped to 1/16 ..= 16).
    pub fn set_scale(&mut self, scale: f64) {
        self.scale = scale.clamp(SCALES[0], SCALES[SCALES.len() - 1]);
    }

    /// Next (`up`) or previous time scale of [`SCALES`].
    pub fn step_scale(&mut self, up: bool) {
        let i = SCALES
            .iter()
            .position(|&s| s >= self.scale - 1e-9)
            .unwrap_or(SCALES.len() - 1);
        let i = if up {
            (i + 1).min(SCALES.len() - 1)
        } else {
            i.saturating_sub(1)
        };
        self.scale = SCALES[i];
    }

    /// Scene time of the frame about to be drawn, `dt` of wall time after the last one; then
    /// advance. Fixed step: `frame / fps` exactly as offscreen, then the next frame.
    pub fn tick(&mut self, dt: Duration) -> f32 {
        match self.mode {
            TimeMode::FixedStep => {
                // Exactly `World::frame_time`: the offscreen rule, same rounding.
                let time = (f64::from(self.frame) / f64::from(self.fps)) as f32;
                if !self.paused {
                    self.frame = self.frame.saturating_add(1);
                }
                time
            }
            TimeMode::Wall => {
                if !self.paused {
                    // A stall (a window dragged, a breakpoint) is not a jump in the scene.
                    self.seconds += dt.as_secs_f64().min(0.25) * self.scale;
                }
                self.seconds as f32
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_step_follows_the_offscreen_rule() {
        let mut c = SceneClock::new(TimeMode::FixedStep, 24.0, 0);
        let times: Vec<f32> = (0..4).map(|_| c.tick(Duration::from_secs(5))).collect();
        assert_eq!(times, [0.0, 1.0 / 24.0, 2.0 / 24.0, 3.0 / 24.0]);
        c.paused = true;
        assert_eq!(c.tick(Duration::ZERO), 4.0 / 24.0);
        assert_eq!(c.tick(Duration::ZERO), 4.0 / 24.0);
    }

    #[test]
    fn wall_time_scales_pauses_and_ignores_stalls() {
        let mut c = SceneClock::new(TimeMode::Wall, 24.0, 0);
        assert_eq!(c.tick(Duration::from_millis(100)), 0.1);
        c.step_scale(true);
        assert_eq!(c.scale(), 2.0);
        assert!((c.tick(Duration::from_millis(100)) - 0.3).abs() < 1e-6);
        c.paused = true;
        assert!((c.tick(Duration::from_millis(100)) - 0.3).abs() < 1e-6);
        c.paused = false;
        c.set_scale(1.0);
        assert!((c.tick(Duration::from_secs(10)) - 0.55).abs() < 1e-6);
        for _ in 0..20 {
            c.step_scale(false);
        }
        assert_eq!(c.scale(), SCALES[0]);
    }
}
