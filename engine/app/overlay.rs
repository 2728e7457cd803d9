//! The egui overlay: live figures and controls for one window. It reads one [`OverlayFrame`]
//! per frame (what the window measured) and edits a [`Controls`] value that the window applies
//! (avatar count, LOD, animation on CPU or GPU, job profile, pause, time scale, target shown).
//!
//! Panels: frame time (a plot of the last 10 s of CPU and GPU frame time), GPU passes (per
//! scope, the overlay's own included), job system, scene (avatars drawn and culled, triangles,
//! LOD histogram per target, the adapter), controls, keys; then one panel per group of
//! [`OverlayFrame::figures`], which is how other systems (environment now, audio later) add
//! their figures without touching the overlay.

use super::profiler::GpuScopes;
use crate::jobs::{MetricsSnapshot, Profile};
use crate::render::{MAX_LODS, TargetStats};
use crate::scene::LodSettings;
use std::collections::VecDeque;

/// Seconds of history in the frame-time plot.
pub const HISTORY_S: f64 = 10.0;

/// The keys, as listed in the overlay's help.
pub const KEYS: &[(&str, &str)] = &[
    ("left drag", "orbit the camera"),
    ("right / middle drag", "pan"),
    ("wheel", "zoom"),
    ("Space", "pause / resume scene time"),
    ("+ / -", "faster / slower scene time"),
    ("F1", "show / hide this overlay"),
    ("F12", "save a screenshot (PNG, overlay included)"),
    ("Esc", "close this window"),
];

/// What the user can change from the overlay; the window applies changes after the frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Controls {
    /// Avatars drawn (0 ..= the scene's).
    pub avatar_count: u32,
    /// LOD settings.
    pub lod: LodSettings,
    /// Animate on the GPU (else the CPU's animation jobs).
    pub gpu_animation: bool,
    /// The job executor's profile (shared by every window).
    pub profile: Profile,
    /// Scene time stands still.
    pub paused: bool,
    /// Scene time speed.
    pub time_scale: f64,
    /// The target shown in the window.
    pub shown_target: usize,
}

/// One frame's figures for the overlay.
pub struct OverlayFrame<'a> {
    /// Scene name.
    pub scene: &'a str,
    /// The window's adapter.
    pub adapter: &'a wgpu::AdapterInfo,
    /// Scene time, s.
    pub time: f32,
    /// True when time comes from the frame index (`--fixed-step`).
    pub fixed_step: bool,
    /// CPU time of the last frame, ms (prepare + record + submit).
    pub cpu_ms: f64,
    /// Frames per second over the last second.
    pub fps: f64,
    /// GPU scopes and their results.
    pub gpu: &'a GpuScopes,
    /// The executor's counters.
    pub jobs: &'a MetricsSnapshot,
    /// Jobs completed per second over the last second.
    pub jobs_per_s: f64,
    /// Target names and sizes.
    pub targets: &'a [(String, u32, u32)],
    /// The newest per-target draw stats read back, if any yet.
    pub stats: Option<&'a [TargetStats]>,
    /// The scene's avatar count.
    pub max_avatars: u32,
    /// Deepest LOD chain of the scene's assets (levels).
    pub lod_levels: u32,
    /// Further panels: (title, rows of (name, value)).
    pub figures: &'a [(&'a str, Vec<(String, String)>)],
}

/// The overlay's own state: history and visibility.
pub struct Overlay {
    /// Shown (F1 toggles).
    pub visible: bool,
    /// (seconds since start, CPU ms, GPU ms)
    history: VecDeque<(f64, f64, Option<f64>)>,
}

impl Overlay {
    /// An overlay, shown or not.
    pub fn new(visible: bool) -> Self {
        Self {
            visible,
            history: VecDeque::new(),
        }
    }

    /// Add one frame's times at `now` seconds; history older than [`HISTORY_S`] is dropped.
    pub fn push_times(&mut self, now: f64, cpu_ms: f64, gpu_ms: Option<f64>) {
        self.history.push_back((now, cpu_ms, gpu_ms));
        while self
            .history
            .front()
            .is_some_and(|(t, ..)| now - t > HISTORY_S)
        {
            self.history.pop_front();
        }
    }

    /// Frames held in the history.
    pub fn history_len(&self) -> usize {
        self.history.len()
    }

    /// Draw the overlay; edits `controls`.
    pub fn ui(&mut self, ctx: &egui::Context, frame: &OverlayFrame<'_>, controls: &mut Controls) {
        if !self.visible {
            return;
        }
        egui::Window::new(format!("tutti · {}", frame.scene))
            .id(egui::Id::unique("tutti-overlay"))
            .default_pos([8.0, 8.0])
            .default_width(330.0)
            .max_height(ctx.content_rect().height() - 24.0)
            .resizable(true)
            .collapsible(true)
            .frame(
                egui::Frame::window(&ctx.global_style())
                    .fill(egui::Color32::from_black_alpha(210))
                    .shadow(egui::epaint::Shadow::NONE),
            )
            .show(ctx, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    self.header(ui, frame, controls);
                    section(ui, "Frame time", true, |ui| self.frame_plot(ui));
                    section(ui, "GPU passes", true, |ui| gpu_panel(ui, frame.gpu));
                    section(ui, "Job system", false, |ui| jobs_panel(ui, frame));
                    section(ui, "Scene", false, |ui| scene_panel(ui, frame));
                    for (title, rows) in frame.figures {
                        ui.collapsing(*title, |ui| rows_grid(ui, title, rows));
                    }
                    ui.collapsing("Controls", |ui| controls_panel(ui, frame, controls));
                    ui.collapsing("Keys", |ui| {
                        rows_grid(
                            ui,
                            "keys",
                            &KEYS
                                .iter()
                                .map(|(k, v)| (k.to_string(), v.to_string()))
                                .collect::<Vec<_>>(),
                        )
                    });
                });
            });
    }

    fn header(&self, ui: &mut egui::Ui, f: &OverlayFrame<'_>, c: &Controls) {
        ui.label(format!(
            "{} · {} · {}",
            f.adapter.name,
            f.adapter.backend.to_str(),
            if f.adapter.driver.is_empty() {
                "driver ?".to_string()
            } else {
                format!("{} {}", f.adapter.driver, f.adapter.driver_info)
            }
        ));
        let gpu = match f.gpu.frame_ms() {
            Some(ms) => format!("{ms:.2} ms"),
            None => "n/a".into(),
        };
        let fps = if f.fps > 0.0 {
            format!("{:.1}", f.fps)
        } else {
            "–".into()
        };
        ui.label(format!(
            "{fps} fps · CPU {:.2} ms · GPU {gpu} · t = {:.2} s{}{}",
            f.cpu_ms,
            f.time,
            if c.paused { " · paused" } else { "" },
            if f.fixed_step {
                " · fixed step".to_string()
            } else {
                format!(" · x{}", c.time_scale)
            },
        ));
        ui.small("F1 hides this overlay · Keys: see below");
    }

    fn frame_plot(&self, ui: &mut egui::Ui) {
        let now = self.history.back().map_or(0.0, |h| h.0);
        let cpu: Vec<[f64; 2]> = self.history.iter().map(|h| [h.0 - now, h.1]).collect();
        let gpu: Vec<[f64; 2]> = self
            .history
            .iter()
            .filter_map(|h| h.2.map(|g| [h.0 - now, g]))
            .collect();
        egui_plot::Plot::new("frame-times")
            .height(110.0)
            .include_x(-HISTORY_S)
            .include_x(0.0)
            .include_y(0.0)
            .allow_drag(false)
            .allow_zoom(false)
            .allow_scroll(false)
            .legend(egui_plot::Legend::default())
            .x_axis_label("s")
            .y_axis_label("ms")
            .show(ui, |p| {
                // Fixed window: the last 10 s, from 0 to just above the largest time shown.
                let top = self
                    .history
                    .iter()
                    .map(|h| h.1.max(h.2.unwrap_or(0.0)))
                    .fold(1.0, f64::max);
                p.set_plot_bounds_x(-HISTORY_S..=0.0);
                p.set_plot_bounds_y(0.0..=top * 1.15);
                p.line(egui_plot::Line::new("CPU", cpu));
                if !gpu.is_empty() {
                    p.line(egui_plot::Line::new("GPU", gpu));
                }
            });
    }
}

/// A collapsible panel, open at start when `open`.
fn section(ui: &mut egui::Ui, title: &str, open: bool, body: impl FnOnce(&mut egui::Ui)) {
    egui::CollapsingHeader::new(title)
        .default_open(open)
        .show(ui, body);
}

fn rows_grid(ui: &mut egui::Ui, id: &str, rows: &[(String, String)]) {
    egui::Grid::new(id)
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            for (k, v) in rows {
                ui.label(k);
                ui.label(v);
                ui.end_row();
            }
        });
}

fn gpu_panel(ui: &mut egui::Ui, gpu: &GpuScopes) {
    if let Some(why) = gpu.unavailable() {
        ui.label(why.to_string());
        return;
    }
    let passes = gpu.passes();
    if passes.is_empty() {
        ui.label("waiting for the first timestamps…");
        return;
    }
    let rows: Vec<(String, String)> = passes
        .iter()
        .map(|(l, ms)| (l.clone(), format!("{ms:.3} ms")))
        .collect();
    rows_grid(ui, "gpu-passes", &rows);
    ui.small("means of the last 30 frames; read back a few frames late, never waited for");
}

fn jobs_panel(ui: &mut egui::Ui, f: &OverlayFrame<'_>) {
    let j = f.jobs;
    let pri = ["background", "normal", "high", "critical"];
    let mut rows = vec![
        ("profile".to_string(), j.profile.to_string()),
        (
            "workers busy".to_string(),
            format!(
                "{} of {} (limit {})",
                j.running, j.workers, j.in_flight_limit
            ),
        ),
        ("jobs/s".to_string(), format!("{:.0}", f.jobs_per_s)),
    ];
    for (i, p) in pri.iter().enumerate() {
        rows.push((
            p.to_string(),
            format!(
                "queued {} · p99 start {}",
                j.queued[i],
                fmt_latency(j.start_latency_p99_s[i])
            ),
        ));
    }
    rows.push(("retries".into(), j.retried.to_string()));
    rows.push((
        "failures".into(),
        format!(
            "{} failed · {} timed out · {} cancelled",
            j.failed, j.timed_out, j.cancelled
        ),
    ));
    rows_grid(ui, "jobs", &rows);
}

fn fmt_latency(s: Option<f64>) -> String {
    match s {
        Some(s) if s < 1e-3 => format!("{:.1} µs", s * 1e6),
        Some(s) => format!("{:.2} ms", s * 1e3),
        None => "–".into(),
    }
}

fn scene_panel(ui: &mut egui::Ui, f: &OverlayFrame<'_>) {
    let Some(stats) = f.stats else {
        ui.label("waiting for the first counts…");
        return;
    };
    for ((name, w, h), s) in f.targets.iter().zip(stats) {
        ui.label(format!(
            "{name} ({w}x{h}): {} drawn · {} culled · {} triangles",
            s.visible(),
            s.culled,
            s.triangles
        ));
        let levels = (f.lod_levels as usize).clamp(1, MAX_LODS);
        let bars: Vec<egui_plot::Bar> = s.lod_histogram[..levels]
            .iter()
            .enumerate()
            .map(|(l, &n)| egui_plot::Bar::new(l as f64, f64::from(n)).width(0.7))
            .collect();
        egui_plot::Plot::new(format!("lod-{name}"))
            .height(60.0)
            .allow_drag(false)
            .allow_zoom(false)
            .allow_scroll(false)
            .show_y(false)
            .include_y(0.0)
            .x_axis_label("LOD level")
            .show(ui, |p| {
                p.bar_chart(egui_plot::BarChart::new("avatars", bars))
            });
    }
}

fn controls_panel(ui: &mut egui::Ui, f: &OverlayFrame<'_>, c: &mut Controls) {
    ui.add(egui::Slider::new(&mut c.avatar_count, 0..=f.max_avatars).text("avatars"));
    ui.add(
        egui::Slider::new(&mut c.lod.pixel_error, 0.05..=16.0)
            .logarithmic(true)
            .text("LOD pixel error"),
    );
    ui.add(egui::Slider::new(&mut c.lod.bias, -3..=3).text("LOD bias"));
    let levels = f.lod_levels.max(1);
    egui::ComboBox::from_label("LOD force")
        .selected_text(match c.lod.force {
            None => "automatic".to_string(),
            Some(l) => format!("level {l}"),
        })
        .show_ui(ui, |ui| {
            ui.selectable_value(&mut c.lod.force, None, "automatic");
            for l in 0..levels {
                ui.selectable_value(&mut c.lod.force, Some(l), format!("level {l}"));
            }
        });
    ui.horizontal(|ui| {
        ui.label("animation on");
        ui.radio_value(&mut c.gpu_animation, false, "CPU (jobs)");
        ui.radio_value(&mut c.gpu_animation, true, "GPU");
    });
    egui::ComboBox::from_label("job profile")
        .selected_text(c.profile.to_string())
        .show_ui(ui, |ui| {
            for p in Profile::ALL {
                ui.selectable_value(&mut c.profile, p, p.to_string());
            }
        });
    ui.checkbox(&mut c.paused, "paused");
    ui.add(
        egui::Slider::new(&mut c.time_scale, 0.0625..=16.0)
            .logarithmic(true)
            .text("time scale"),
    );
    if f.targets.len() > 1 {
        egui::ComboBox::from_label("target shown")
            .selected_text(f.targets[c.shown_target.min(f.targets.len() - 1)].0.clone())
            .show_ui(ui, |ui| {
                for (i, (name, ..)) in f.targets.iter().enumerate() {
                    ui.selectable_value(&mut c.shown_target, i, name);
                }
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_keeps_ten_seconds() {
        let mut o = Overlay::new(true);
        for i in 0..1200 {
            o.push_times(f64::from(i) / 60.0, 1.0, Some(0.5));
        }
        // 10 s at 60 frames/s (the frame exactly 10 s old may round either way).
        assert!(
            (600..=601).contains(&o.history_len()),
            "{}",
            o.history_len()
        );
        o.push_times(100.0, 1.0, None);
        assert_eq!(o.history_len(), 1);
    }
}
