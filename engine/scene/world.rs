//! World state: the avatars of a loaded scene placed in space, and per-frame animation on rayon.

use super::{Layout, LoadedScene, SceneDesc};
use crate::anim::{PoseScratch, compute_palette};
use crate::assets::Asset;
use crate::env::{EnvironmentFrame, EnvironmentInputs};
use glam::{Mat4, Quat, Vec3, Vec4};
use rayon::prelude::*;
use std::f32::consts::TAU;
use std::sync::Arc;

/// One placed avatar.
#[derive(Debug, Clone)]
pub struct Avatar {
    /// Index into [`World::assets`].
    pub asset: usize,
    /// Clip index into the asset's clips (`None`: rest pose).
    pub clip: Option<usize>,
    /// Model matrix (placement, facing, scale).
    pub model: Mat4,
    /// Tint multiplied with the material colour (alpha 1).
    pub tint: Vec4,
    /// Playback speed.
    pub speed: f32,
    /// Time offset in seconds.
    pub phase: f32,
    /// First palette entry of this avatar in [`SceneFrame::palettes`]. Avatars' palettes
    /// follow avatar order without overlapping and end within [`World::palette_len`]
    /// (`scene::FrameGraph::try_new` rejects a world where they do not).
    pub palette_offset: u32,
}

/// A run of consecutive avatars that share an asset: one instanced draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrawBatch {
    /// Asset index.
    pub asset: usize,
    /// First avatar (instance) index.
    pub first: u32,
    /// Number of avatars.
    pub count: u32,
}

/// What the CPU side computes for one frame: every avatar's joint palette, concatenated, and
/// the environment. [`World::animate`] computes it in one call, the
/// [`FrameGraph`](super::FrameGraph) as jobs.
#[derive(Debug, Clone)]
pub struct SceneFrame {
    /// Scene time in seconds.
    pub time: f32,
    /// Palettes; avatar `a` owns `palettes[a.palette_offset ..][.. bindings]`. Empty when the
    /// scene animates on the GPU and the frame came from the frame graph.
    pub palettes: Vec<Mat4>,
    /// Sun, sky and ambient light.
    pub environment: EnvironmentFrame,
}

/// A scene's avatars placed in the world, ready to animate and draw.
#[derive(Debug, Clone)]
pub struct World {
    /// The scene description.
    pub desc: SceneDesc,
    /// Distinct assets, in first-use order.
    pub assets: Vec<Arc<Asset>>,
    /// Avatars, ordered so that each asset's avatars are contiguous.
    pub avatars: Vec<Avatar>,
    /// Instanced draw batches, one per asset.
    pub batches: Vec<DrawBatch>,
    /// Total palette entries per frame (at least every avatar's `palette_offset` plus its
    /// asset's joint count).
    pub palette_len: usize,
}

impl World {
    /// Place every avatar of a loaded scene.
    pub fn new(scene: &LoadedScene) -> Self {
        let desc = scene.desc.clone();
        let mut assets: Vec<Arc<Asset>> = Vec::new();
        let mut per_asset: Vec<Vec<Avatar>> = Vec::new();
        for (group, super::ResolvedGroup { asset, clip }) in desc.avatars.iter().zip(&scene.groups)
        {
            let idx = match assets.iter().position(|a| Arc::ptr_eq(a, asset)) {
                Some(i) => i,
                None => {
                    assets.push(asset.clone());
                    per_asset.push(Vec::new());
                    assets.len() - 1
                }
            };
            let duration = clip.map(|c| asset.clips[c].duration).unwrap_or(0.0);
            let n = group.count.max(1);
            let origin = Vec3::new(group.position.0, group.position.1, group.position.2);
            for i in 0..n {
                let (offset, facing) = placement(&group.layout, i, n);
                let yaw = facing + group.yaw.to_radians();
                let model = Mat4::from_scale_rotation_translation(
                    Vec3::splat(group.scale),
                    Quat::from_rotation_y(yaw),
                    origin + offset,
                );
                per_asset[idx].push(Avatar {
                    asset: idx,
                    clip: *clip,
                    model,
                    tint: Vec4::new(group.tint.0, group.tint.1, group.tint.2, 1.0),
                    speed: group.speed,
                    phase: group.phase_offset + group.phase_spread * duration * i as f32 / n as f32,
                    palette_offset: 0,
                });
            }
        }
        let mut avatars = Vec::new();
        let mut batches = Vec::new();
        let mut palette_len = 0usize;
        for (asset, list) in per_asset.into_iter().enumerate() {
            batches.push(DrawBatch {
                asset,
                first: avatars.len() as u32,
                count: list.len() as u32,
            });
            for mut a in list {
                a.palette_offset = palette_len as u32;
                palette_len += assets[asset].skeleton.bindings.len();
                avatars.push(a);
            }
        }
        Self {
            desc,
            assets,
            avatars,
            batches,
            palette_len,
        }
    }

    /// True when clips are sampled on the GPU (scene option `animation: Gpu`).
    pub fn animates_on_gpu(&self) -> bool {
        self.desc.animation == super::Animation::Gpu
    }

    /// Scene time of a frame: `frame / fps`. Offscreen rendering never reads the wall clock.
    pub fn frame_time(&self, frame: u32) -> f32 {
        (f64::from(frame) / f64::from(self.desc.fps)) as f32
    }

    /// The scene's environment settings, as [`EnvironmentFrame::compute`] takes them.
    pub fn environment_inputs(&self) -> EnvironmentInputs {
        let e = &self.desc.environment;
        let v = |(x, y, z): (f32, f32, f32)| Vec3::new(x, y, z);
        EnvironmentInputs {
            sun_direction: v(e.sun_direction),
            sun_color: v(e.sun_color),
            ambient: e.ambient,
            sky: v(e.sky),
        }
    }

    /// The frame at scene time `time`: every avatar's clip sampled in parallel on rayon (also
    /// when the scene animates on the GPU: this is the CPU reference), and the environment.
    pub fn animate(&self, time: f32) -> SceneFrame {
        let mut palettes = vec![Mat4::IDENTITY; self.palette_len];
        // Split the palette buffer into one slice per avatar, then fill them in parallel.
        let mut slices: Vec<&mut [Mat4]> = Vec::with_capacity(self.avatars.len());
        let mut rest: &mut [Mat4] = &mut palettes;
        for a in &self.avatars {
            let (head, tail) = rest.split_at_mut(self.assets[a.asset].skeleton.bindings.len());
            slices.push(head);
            rest = tail;
        }
        self.avatars
            .par_iter()
            .zip(slices.into_par_iter())
            .with_min_len(16)
            .for_each_init(PoseScratch::default, |scratch, (a, out)| {
                self.animate_avatar(a, time, scratch, out)
            });
        SceneFrame {
            time,
            palettes,
            environment: EnvironmentFrame::compute(&self.environment_inputs(), time),
        }
    }

    /// Write one avatar's palette at scene time `time` into `out` (its binding count long).
    pub fn animate_avatar(
        &self,
        a: &Avatar,
        time: f32,
        scratch: &mut PoseScratch,
        out: &mut [Mat4],
    ) {
        compute_palette(
            &self.assets[a.asset],
            a.clip,
            time * a.speed + a.phase,
            scratch,
            out,
        );
    }
}

/// Offset and facing (yaw, radians) of avatar `i` of `n` in a layout.
fn placement(layout: &Layout, i: u32, n: u32) -> (Vec3, f32) {
    match *layout {
        Layout::Grid { columns, spacing } => {
            let cols = if columns == 0 {
                (n as f32).sqrt().ceil() as u32
            } else {
                columns
            }
            .max(1);
            let rows = n.div_ceil(cols);
            let (col, row) = (i % cols, i / cols);
            let x = (col as f32 - (cols - 1) as f32 * 0.5) * spacing;
            let z = -(row as f32 - (rows - 1) as f32 * 0.5) * spacing;
            (Vec3::new(x, 0.0, z), 0.0)
        }
        Layout::Circle { spacing } => {
            if n == 1 {
                return (Vec3::ZERO, 0.0);
            }
            let radius = n as f32 * spacing / TAU;
            let theta = TAU * i as f32 / n as f32;
            let offset = Vec3::new(radius * theta.sin(), 0.0, radius * theta.cos());
            (offset, theta + TAU / 4.0)
        }
    }
}
