//! The ranges every scene value must lie in, checked before anything is built from a scene.
//!
//! A scene file is input: a value out of range is a [`Problem`] naming the field and the range,
//! never a huge allocation, an overflow or a NaN further down. Every problem is reported at once.
//!
//! | Field | Allowed | Why |
//! |---|---|---|
//! | `fps` | [`MIN_FPS`] ..= [`MAX_FPS`] | audio blocks and times are per frame |
//! | `frames` | `start < end`, at most [`MAX_SCENE_FRAMES`] frames | the plan lists every frame |
//! | `targets` | 1 ..= [`MAX_TARGETS`], unique names, sides 1 ..= [`MAX_TARGET_SIDE`] | images in flight |
//! | `avatars[i].count` | 1 ..= [`MAX_GROUP_COUNT`], at most [`MAX_SCENE_AVATARS`] in all | placement, palettes |
//! | `avatars[i].layout` spacing | 0 ..= [`MAX_SPACING`] | positions stay finite |
//! | `avatars[i].scale` | above 0, up to [`MAX_SCALE`] | |
//! | `avatars[i].speed` | -[`MAX_SPEED`] ..= [`MAX_SPEED`] | |
//! | `camera.fov_y` | 1 ..= 179 degrees (exclusive) | |
//! | `camera.near`, `camera.far` | 0 < near < far ≤ [`MAX_MAGNITUDE`] | |
//! | `lod.pixel_error` | above 0, up to [`MAX_PIXEL_ERROR`] | |
//! | `lod.bias` | -3 ..= 3 | |
//! | `lod.force` | 0 ..= [`MAX_FORCED_LEVEL`] | levels of the LOD chain |
//! | `lod.hysteresis` | 0 ..= 0.9 | |
//! | every other number | finite, magnitude at most [`MAX_MAGNITUDE`] | |
//!
//! The device limits (texture size, buffer sizes, avatars per device) are checked where a device
//! is known, not here.

use super::{Layout, Problem, SceneDesc};
use crate::assets::lod::LOD_RATIOS;

/// Lowest accepted frame rate.
pub const MIN_FPS: f32 = 1.0;
/// Highest accepted frame rate.
pub const MAX_FPS: f32 = 1000.0;
/// Most frames in one scene's range: 1,000,000 (11.5 hours at 24 fps). Longer renders are split
/// into scenes or runs; every frame costs plan, manifest and progress entries.
pub const MAX_SCENE_FRAMES: u32 = 1_000_000;
/// Most output targets per scene.
pub const MAX_TARGETS: usize = 16;
/// Largest accepted target side, in pixels (devices may allow less; that is checked at render).
pub const MAX_TARGET_SIDE: u32 = 8192;
/// Largest accepted avatar count per group.
pub const MAX_GROUP_COUNT: u32 = 100_000;
/// Most avatars in one scene, over all groups. Whether they fit a device is checked by the
/// device.
pub const MAX_SCENE_AVATARS: u64 = 1_000_000;
/// Largest distance between neighbouring avatars of a group.
pub const MAX_SPACING: f32 = 1000.0;
/// Largest avatar scale.
pub const MAX_SCALE: f32 = 1000.0;
/// Largest playback speed (either direction).
pub const MAX_SPEED: f32 = 1000.0;
/// Largest `lod.pixel_error`, in pixels.
pub const MAX_PIXEL_ERROR: f32 = 1000.0;
/// Finest-to-coarsest levels of a LOD chain: `lod.force` may name 0 ..= this.
pub const MAX_FORCED_LEVEL: u32 = LOD_RATIOS.len() as u32 - 1;
/// Largest magnitude of any other number (coordinates, angles, times, colours).
pub const MAX_MAGNITUDE: f32 = 1.0e6;

/// Collects problems as `(field, message)`.
pub(super) struct Checker {
    pub(super) problems: Vec<Problem>,
}

impl Checker {
    pub(super) fn bad(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            field: field.into(),
            message: message.into(),
        });
    }

    /// Finite and within ±[`MAX_MAGNITUDE`].
    fn number(&mut self, field: &str, v: f32) {
        if !(v.is_finite() && v.abs() <= MAX_MAGNITUDE) {
            self.bad(
                field,
                format!("{v} is outside -{MAX_MAGNITUDE:e} ..= {MAX_MAGNITUDE:e}"),
            );
        }
    }

    fn vec3(&mut self, field: &str, v: (f32, f32, f32)) {
        if ![v.0, v.1, v.2]
            .iter()
            .all(|x| x.is_finite() && x.abs() <= MAX_MAGNITUDE)
        {
            self.bad(
                field,
                format!(
                    "{v:?} has a component outside -{MAX_MAGNITUDE:e} ..= {MAX_MAGNITUDE:e} (or not a number)"
                ),
            );
        }
    }

    /// Within `lo ..= hi` (NaN is not).
    fn range(&mut self, field: &str, v: f32, lo: f32, hi: f32, unit: &str) {
        if !(lo..=hi).contains(&v) {
            self.bad(field, format!("{v} is outside {lo} ..= {hi}{unit}"));
        }
    }

    /// Above 0, up to `hi`.
    fn positive(&mut self, field: &str, v: f32, hi: f32, unit: &str) {
        if !(v > 0.0 && v <= hi) {
            self.bad(field, format!("{v} must be above 0 and at most {hi}{unit}"));
        }
    }
}

/// Check every value of `desc` that does not need an asset; problems go to `c`.
pub(super) fn check_values(desc: &SceneDesc, c: &mut Checker) {
    c.range("fps", desc.fps, MIN_FPS, MAX_FPS, " frames per second");
    let (start, end) = desc.frames;
    if end <= start {
        c.bad(
            "frames",
            format!(
                "the range ({start}, {end}) is empty; the end is exclusive and must exceed the start"
            ),
        );
    } else if end - start > MAX_SCENE_FRAMES {
        c.bad(
            "frames",
            format!(
                "({start}, {end}) has {} frames; a scene may have at most {MAX_SCENE_FRAMES}, split it into several scenes",
                end - start
            ),
        );
    }

    let cam = &desc.camera;
    c.vec3("camera.eye", cam.eye);
    c.vec3("camera.target", cam.target);
    let v3 = |v: (f32, f32, f32)| glam::Vec3::new(v.0, v.1, v.2);
    if (v3(cam.eye) - v3(cam.target)).length() < 1e-6 {
        c.bad("camera", "eye and target must be distinct");
    }
    if !(cam.fov_y > 1.0 && cam.fov_y < 179.0) {
        c.bad(
            "camera.fov_y",
            format!("{} degrees is outside (1, 179)", cam.fov_y),
        );
    }
    if !(cam.near > 0.0 && cam.far > cam.near && cam.far <= MAX_MAGNITUDE) {
        c.bad(
            "camera.near",
            format!(
                "near {} and far {} must satisfy 0 < near < far <= {MAX_MAGNITUDE:e}",
                cam.near, cam.far
            ),
        );
    }

    let lod = &desc.lod;
    c.positive(
        "lod.pixel_error",
        lod.pixel_error,
        MAX_PIXEL_ERROR,
        " pixels",
    );
    if !(-3..=3).contains(&lod.bias) {
        c.bad("lod.bias", format!("{} is outside -3 ..= 3", lod.bias));
    }
    if let Some(f) = lod.force
        && f > MAX_FORCED_LEVEL
    {
        c.bad(
            "lod.force",
            format!(
                "level {f} is outside 0 ..= {MAX_FORCED_LEVEL} (0 is full detail; shorter chains use their coarsest)"
            ),
        );
    }
    c.range("lod.hysteresis", lod.hysteresis, 0.0, 0.9, "");

    let env = &desc.environment;
    c.vec3("environment.sky", env.sky);
    c.vec3("environment.sun_color", env.sun_color);
    c.number("environment.ambient", env.ambient);
    c.vec3("environment.sun_direction", env.sun_direction);
    if v3(env.sun_direction).length() < 1e-6 {
        c.bad("environment.sun_direction", "must be a non-zero vector");
    }
    if let Some(g) = &env.ground {
        if !(g.size > 0.0 && g.size <= MAX_MAGNITUDE) {
            c.bad(
                "environment.ground.size",
                format!(
                    "{} must be a positive length, at most {MAX_MAGNITUDE:e}",
                    g.size
                ),
            );
        }
        c.vec3("environment.ground.color", g.color);
    }

    check_targets(desc, c);
    check_groups(desc, c);
}

fn check_targets(desc: &SceneDesc, c: &mut Checker) {
    if desc.targets.is_empty() {
        c.bad(
            "targets",
            "no output target; add one, e.g. (name: \"main\", width: 640, height: 360)",
        );
    } else if desc.targets.len() > MAX_TARGETS {
        c.bad(
            "targets",
            format!(
                "{} targets; a scene may have 1 ..= {MAX_TARGETS}",
                desc.targets.len()
            ),
        );
    }
    for (i, t) in desc.targets.iter().enumerate() {
        if !super::valid_name(&t.name) {
            c.bad(
                format!("targets[{i}].name"),
                format!("{:?} is not usable as a folder name", t.name),
            );
        }
        if desc.targets[..i].iter().any(|o| o.name == t.name) {
            c.bad(
                format!("targets[{i}].name"),
                format!("{:?} is used by an earlier target", t.name),
            );
        }
        for (side, v) in [("width", t.width), ("height", t.height)] {
            if v == 0 {
                c.bad(
                    format!("targets[{i}].{side}"),
                    format!("is zero; a target needs 1 ..= {MAX_TARGET_SIDE} pixels"),
                );
            } else if v > MAX_TARGET_SIDE {
                c.bad(
                    format!("targets[{i}].{side}"),
                    format!("{v} exceeds the limit of {MAX_TARGET_SIDE} pixels"),
                );
            }
        }
    }
}

fn check_groups(desc: &SceneDesc, c: &mut Checker) {
    if desc.avatars.is_empty() {
        c.bad(
            "avatars",
            "no avatar group; add one, e.g. (asset: \"RiggedFigure\", count: 4)",
        );
    }
    let total: u64 = desc.avatars.iter().map(|g| u64::from(g.count)).sum();
    if total > MAX_SCENE_AVATARS {
        c.bad(
            "avatars",
            format!(
                "{total} avatars in all; a scene may have at most {MAX_SCENE_AVATARS}, split the crowd into scenes"
            ),
        );
    }
    for (i, g) in desc.avatars.iter().enumerate() {
        let f = |name: &str| format!("avatars[{i}].{name}");
        if g.count == 0 || g.count > MAX_GROUP_COUNT {
            c.bad(
                f("count"),
                format!("{} is outside 1 ..= {MAX_GROUP_COUNT}", g.count),
            );
        }
        let spacing = match g.layout {
            Layout::Grid { spacing, .. } | Layout::Circle { spacing } => spacing,
        };
        if !(0.0..=MAX_SPACING).contains(&spacing) {
            c.bad(
                f("layout"),
                format!("spacing {spacing} is outside 0 ..= {MAX_SPACING}"),
            );
        }
        c.positive(&f("scale"), g.scale, MAX_SCALE, "");
        c.range(&f("speed"), g.speed, -MAX_SPEED, MAX_SPEED, "");
        c.number(&f("yaw"), g.yaw);
        c.number(&f("phase_offset"), g.phase_offset);
        c.number(&f("phase_spread"), g.phase_spread);
        c.vec3(&f("position"), g.position);
        c.vec3(&f("tint"), g.tint);
    }
}
