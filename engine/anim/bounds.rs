//! Animated bounds: a sphere around every pose an asset's clips can take, sampled with the
//! same clip evaluation and skinning as everything else on the CPU. The cull + LOD pass tests
//! these spheres; [`bounds`] computes an asset's once and keeps it in the asset.

use super::{PoseScratch, compute_palette, skin_cpu};
use crate::assets::Asset;
use crate::assets::lod::Bounds;
use glam::Vec3;
use rayon::prelude::*;

/// The animated bounds of `asset` ([`animated_bounds`]), computed on first use and cached in
/// the asset.
pub fn bounds(asset: &Asset) -> Bounds {
    *asset.bounds_cache().get_or_init(|| animated_bounds(asset))
}

/// Poses sampled per clip by [`animated_bounds`].
pub const BOUNDS_SAMPLES: usize = 32;
/// Relative margin [`animated_bounds`] adds for poses between samples.
pub const BOUNDS_MARGIN: f32 = 0.05;

/// A sphere holding every skinned vertex of `asset` in its rest pose and in every clip, sampled
/// [`BOUNDS_SAMPLES`] times per clip, grown by [`BOUNDS_MARGIN`] for the poses between samples.
/// Centred on the rest pose's bounding box.
pub fn animated_bounds(asset: &Asset) -> Bounds {
    let bindings = asset.skeleton.bindings.len();
    let skinned = |clip: Option<usize>, t: f32| {
        let mut palette = vec![glam::Mat4::IDENTITY; bindings];
        compute_palette(asset, clip, t, &mut PoseScratch::default(), &mut palette);
        skin_cpu(&asset.mesh, &palette, glam::Mat4::IDENTITY)
    };
    let rest = skinned(None, 0.0);
    let (lo, hi) = rest.iter().fold(
        (Vec3::splat(f32::MAX), Vec3::splat(f32::MIN)),
        |(lo, hi), (p, _)| (lo.min(*p), hi.max(*p)),
    );
    if rest.is_empty() {
        return Bounds {
            center: Vec3::ZERO,
            radius: 0.0,
        };
    }
    let center = (lo + hi) * 0.5;
    let mut poses: Vec<(Option<usize>, f32)> = vec![(None, 0.0)];
    for (c, clip) in asset.clips.iter().enumerate() {
        for k in 0..BOUNDS_SAMPLES {
            poses.push((Some(c), clip.duration * k as f32 / BOUNDS_SAMPLES as f32));
        }
    }
    let radius = poses
        .par_iter()
        .map(|&(clip, t)| {
            skinned(clip, t)
                .iter()
                .map(|(p, _)| p.distance(center))
                .fold(0.0f32, f32::max)
        })
        .reduce(|| 0.0, f32::max);
    Bounds {
        center,
        radius: radius * (1.0 + BOUNDS_MARGIN),
    }
}
