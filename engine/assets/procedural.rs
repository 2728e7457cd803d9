//! A procedural humanoid: a 21-joint skeleton, a smoothly skinned body made of ellipsoids whose
//! tessellation follows a [`Detail`] level (about 2k to 59k triangles), and `walk`/`idle` clips.
//!
//! It is Y-up, faces +Z, stands on y = 0 and is about 1.76 units tall. Every joint's rest frame is
//! aligned with the world axes, so clips are written as plain rotations about X, Y and Z.

use super::{
    Asset, Binding, Channel, Clip, Interpolation, Material, MeshAsset, Property, Skeleton,
    SkeletonNode, SkinVertex, Submesh, Transform,
};
use glam::{Mat4, Quat, Vec2, Vec3, Vec4};
use std::f32::consts::{PI, TAU};
use std::str::FromStr;

/// Tessellation level of the procedural humanoid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Detail {
    /// 8 segments around each limb (about 2,100 triangles).
    Low,
    /// 16 segments (about 9,100 triangles).
    #[default]
    Medium,
    /// 28 segments (about 28,700 triangles).
    High,
    /// 40 segments (about 59,300 triangles): the load-test mesh.
    Ultra,
}

impl Detail {
    /// All levels, lowest first.
    pub const ALL: [Detail; 4] = [Detail::Low, Detail::Medium, Detail::High, Detail::Ultra];

    /// Segments around each body part (rings along it are the same number).
    pub fn segments(self) -> u32 {
        match self {
            Detail::Low => 8,
            Detail::Medium => 16,
            Detail::High => 28,
            Detail::Ultra => 40,
        }
    }

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Detail::Low => "low",
            Detail::Medium => "medium",
            Detail::High => "high",
            Detail::Ultra => "ultra",
        }
    }
}

/// A detail level name that is not `low`, `medium`, `high` or `ultra`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DetailError {
    /// No level has this name.
    #[error("detail levels: low, medium, high, ultra")]
    Unknown {
        /// What was given.
        text: String,
    },
}

impl FromStr for Detail {
    type Err = DetailError;
    fn from_str(s: &str) -> Result<Self, DetailError> {
        Detail::ALL
            .into_iter()
            .find(|d| d.name() == s)
            .ok_or_else(|| DetailError::Unknown { text: s.into() })
    }
}

/// Joint names, parents and rest positions (world space, metres).
const JOINTS: [(&str, Option<usize>, [f32; 3]); 21] = [
    ("hips", None, [0.0, 0.95, 0.0]),
    ("spine", Some(0), [0.0, 1.07, 0.0]),
    ("chest", Some(1), [0.0, 1.25, 0.0]),
    ("neck", Some(2), [0.0, 1.45, 0.0]),
    ("head", Some(3), [0.0, 1.54, 0.0]),
    ("clavicle_l", Some(2), [0.04, 1.40, 0.0]),
    ("upper_arm_l", Some(5), [0.20, 1.40, 0.0]),
    ("forearm_l", Some(6), [0.24, 1.12, 0.0]),
    ("hand_l", Some(7), [0.27, 0.86, 0.0]),
    ("clavicle_r", Some(2), [-0.04, 1.40, 0.0]),
    ("upper_arm_r", Some(9), [-0.20, 1.40, 0.0]),
    ("forearm_r", Some(10), [-0.24, 1.12, 0.0]),
    ("hand_r", Some(11), [-0.27, 0.86, 0.0]),
    ("thigh_l", Some(0), [0.10, 0.92, 0.0]),
    ("shin_l", Some(13), [0.10, 0.50, 0.0]),
    ("foot_l", Some(14), [0.10, 0.09, 0.0]),
    ("toe_l", Some(15), [0.10, 0.04, 0.12]),
    ("thigh_r", Some(0), [-0.10, 0.92, 0.0]),
    ("shin_r", Some(17), [-0.10, 0.50, 0.0]),
    ("foot_r", Some(18), [-0.10, 0.09, 0.0]),
    ("toe_r", Some(19), [-0.10, 0.04, 0.12]),
];

const SKIN: usize = 0;
const SHIRT: usize = 1;
const TROUSERS: usize = 2;
const SHOES: usize = 3;

/// A body part: an ellipsoid along a bone.
struct Part {
    joint: usize,
    from: [f32; 3],
    to: [f32; 3],
    /// Radii across the bone (sideways, front-back).
    radii: [f32; 2],
    material: usize,
    /// Joint blended in at the start (s = 0) of the part.
    blend_start: Option<usize>,
    /// Joint blended in at the end (s = 1) of the part.
    blend_end: Option<usize>,
}

fn parts() -> Vec<Part> {
    let p = |i: usize| JOINTS[i].2;
    let mut v = vec![
        Part {
            joint: 0,
            from: [0.0, 0.86, 0.0],
            to: p(1),
            radii: [0.16, 0.11],
            material: TROUSERS,
            blend_start: None,
            blend_end: Some(1),
        },
        Part {
            joint: 1,
            from: p(1),
            to: p(2),
            radii: [0.145, 0.10],
            material: SHIRT,
            blend_start: Some(0),
            blend_end: Some(2),
        },
        Part {
            joint: 2,
            from: p(2),
            to: [0.0, 1.44, 0.0],
            radii: [0.18, 0.11],
            material: SHIRT,
            blend_start: Some(1),
            blend_end: None,
        },
        Part {
            joint: 3,
            from: [0.0, 1.40, 0.0],
            to: p(4),
            radii: [0.05, 0.05],
            material: SKIN,
            blend_start: Some(2),
            blend_end: Some(4),
        },
        Part {
            joint: 4,
            from: [0.0, 1.53, 0.01],
            to: [0.0, 1.76, 0.01],
            radii: [0.095, 0.105],
            material: SKIN,
            blend_start: Some(3),
            blend_end: None,
        },
    ];
    for side in [0usize, 4] {
        let (upper, fore, hand) = (6 + side, 7 + side, 8 + side);
        let wrist = p(hand);
        let hand_end = [wrist[0] * 1.03, wrist[1] - 0.13, wrist[2]];
        v.push(Part {
            joint: upper,
            from: p(upper),
            to: p(fore),
            radii: [0.055, 0.055],
            material: SHIRT,
            blend_start: Some(2),
            blend_end: Some(fore),
        });
        v.push(Part {
            joint: fore,
            from: p(fore),
            to: wrist,
            radii: [0.045, 0.045],
            material: SKIN,
            blend_start: Some(upper),
            blend_end: Some(hand),
        });
        v.push(Part {
            joint: hand,
            from: wrist,
            to: hand_end,
            radii: [0.025, 0.045],
            material: SKIN,
            blend_start: Some(fore),
            blend_end: None,
        });
    }
    for side in [0usize, 4] {
        let (thigh, shin, foot, toe) = (13 + side, 14 + side, 15 + side, 16 + side);
        let t = p(toe);
        let toe_end = [t[0], t[1] - 0.005, t[2] + 0.08];
        v.push(Part {
            joint: thigh,
            from: p(thigh),
            to: p(shin),
            radii: [0.08, 0.085],
            material: TROUSERS,
            blend_start: Some(0),
            blend_end: Some(shin),
        });
        v.push(Part {
            joint: shin,
            from: p(shin),
            to: p(foot),
            radii: [0.06, 0.065],
            material: TROUSERS,
            blend_start: Some(thigh),
            blend_end: Some(foot),
        });
        v.push(Part {
            joint: foot,
            from: p(foot),
            to: t,
            radii: [0.05, 0.045],
            material: SHOES,
            blend_start: Some(shin),
            blend_end: Some(toe),
        });
        v.push(Part {
            joint: toe,
            from: t,
            to: toe_end,
            radii: [0.045, 0.03],
            material: SHOES,
            blend_start: Some(foot),
            blend_end: None,
        });
    }
    v
}

fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// Build the procedural humanoid at a detail level.
pub fn humanoid(detail: Detail) -> Asset {
    Asset::new(
        format!("humanoid:{}", detail.name()),
        body_mesh(detail.segments()),
        skeleton(),
        vec![walk_clip(), idle_clip()],
    )
}

fn skeleton() -> Skeleton {
    let mut nodes = Vec::new();
    let mut bindings = Vec::new();
    for (i, (name, parent, pos)) in JOINTS.iter().enumerate() {
        let world = Vec3::from(*pos);
        let local = match parent {
            Some(p) => world - Vec3::from(JOINTS[*p].2),
            None => world,
        };
        nodes.push(SkeletonNode {
            name: name.to_string(),
            parent: *parent,
            rest: Transform {
                translation: local,
                ..Transform::IDENTITY
            },
        });
        bindings.push(Binding {
            node: i,
            inverse_bind: Mat4::from_translation(-world),
        });
    }
    Skeleton { nodes, bindings }
}

fn body_mesh(segments: u32) -> MeshAsset {
    let materials = vec![
        Material {
            name: "skin".into(),
            base_color: Vec4::new(0.80, 0.58, 0.45, 1.0),
            texture: None,
        },
        Material {
            name: "shirt".into(),
            base_color: Vec4::new(0.90, 0.90, 0.90, 1.0),
            texture: None,
        },
        Material {
            name: "trousers".into(),
            base_color: Vec4::new(0.22, 0.25, 0.36, 1.0),
            texture: None,
        },
        Material {
            name: "shoes".into(),
            base_color: Vec4::new(0.14, 0.11, 0.09, 1.0),
            texture: None,
        },
    ];
    let mut vertices = Vec::new();
    let mut per_material: Vec<Vec<u32>> = vec![Vec::new(); materials.len()];
    let segs = segments.max(3);
    let rings = segments.max(3);
    for part in parts() {
        let start = Vec3::from(part.from);
        let end = Vec3::from(part.to);
        let axis = (end - start).normalize();
        let length = (end - start).length();
        let half = length * 0.5 + part.radii[0].min(part.radii[1]) * 0.35;
        let centre = (start + end) * 0.5;
        // Sideways basis vector: world X projected off the axis (Z for bones along X).
        let side_ref = if axis.x.abs() > 0.9 { Vec3::Z } else { Vec3::X };
        let u = (side_ref - axis * side_ref.dot(axis)).normalize();
        let w = axis.cross(u);
        let base = vertices.len() as u32;
        for i in 0..=rings {
            let theta = PI * i as f32 / rings as f32;
            let (st, ct) = theta.sin_cos();
            for j in 0..=segs {
                let phi = TAU * j as f32 / segs as f32;
                let (sp, cp) = phi.sin_cos();
                let position = centre
                    + axis * (-ct * half)
                    + u * (st * cp * part.radii[0])
                    + w * (st * sp * part.radii[1]);
                let grad = axis * (-ct / half)
                    + u * (st * cp / part.radii[0])
                    + w * (st * sp / part.radii[1]);
                let normal = if i == 0 {
                    -axis
                } else if i == rings {
                    axis
                } else {
                    grad.normalize()
                };
                let s = ((position - start).dot(axis) / length).clamp(0.0, 1.0);
                let mut joints = [part.joint as u32; 4];
                let mut weights = [1.0, 0.0, 0.0, 0.0];
                if let Some(p) = part.blend_start {
                    let wp = 0.5 * (1.0 - smoothstep(0.0, 0.3, s));
                    joints[1] = p as u32;
                    weights[1] = wp;
                    weights[0] -= wp;
                }
                if let Some(c) = part.blend_end {
                    let wc = 0.5 * smoothstep(0.7, 1.0, s);
                    joints[2] = c as u32;
                    weights[2] = wc;
                    weights[0] -= wc;
                }
                vertices.push(SkinVertex {
                    position,
                    normal,
                    uv: Vec2::new(j as f32 / segs as f32, i as f32 / rings as f32),
                    joints,
                    weights,
                });
            }
        }
        let row = segs + 1;
        let out = &mut per_material[part.material];
        for i in 0..rings {
            for j in 0..segs {
                let a = base + i * row + j;
                let b = a + row;
                // Skip the degenerate triangle at each pole.
                if i != 0 {
                    out.extend_from_slice(&[a, a + 1, b]);
                }
                if i != rings - 1 {
                    out.extend_from_slice(&[a + 1, b + 1, b]);
                }
            }
        }
    }
    let mut indices = Vec::new();
    let mut submeshes = Vec::new();
    for (material, list) in per_material.into_iter().enumerate() {
        if list.is_empty() {
            continue;
        }
        submeshes.push(Submesh {
            first_index: indices.len() as u32,
            index_count: list.len() as u32,
            material,
        });
        indices.extend(list);
    }
    MeshAsset {
        vertices,
        indices,
        submeshes,
        materials,
    }
}

/// Key a set of rotation curves and an optional hips translation curve into a clip.
fn keyed_clip(
    name: &str,
    duration: f32,
    rotations: &[(&str, &dyn Fn(f32) -> Quat)],
    hips_height: &dyn Fn(f32) -> f32,
) -> Clip {
    let keys = (duration * 24.0).round() as usize;
    let times: Vec<f32> = (0..=keys)
        .map(|k| duration * k as f32 / keys as f32)
        .collect();
    let phase = |t: f32| TAU * t / duration;
    let index = |n: &str| JOINTS.iter().position(|j| j.0 == n).unwrap_or(0);
    let mut channels: Vec<Channel> = rotations
        .iter()
        .map(|(joint, f)| Channel {
            node: index(joint),
            property: Property::Rotation,
            interpolation: Interpolation::Linear,
            times: times.clone(),
            values: times
                .iter()
                .map(|&t| Vec4::from(f(phase(t)).normalize()))
                .collect(),
        })
        .collect();
    channels.push(Channel {
        node: 0,
        property: Property::Translation,
        interpolation: Interpolation::Linear,
        times: times.clone(),
        values: times
            .iter()
            .map(|&t| Vec4::new(0.0, hips_height(phase(t)), 0.0, 0.0))
            .collect(),
    });
    Clip {
        name: name.into(),
        duration,
        channels,
    }
}

fn walk_clip() -> Clip {
    let knee = |p: f32| 0.1 + 0.6 * (0.5 + 0.5 * p.cos()).powi(2);
    keyed_clip(
        "walk",
        1.0,
        &[
            ("hips", &|p: f32| Quat::from_rotation_y(0.08 * p.sin())),
            ("chest", &|p: f32| Quat::from_rotation_y(-0.14 * p.sin())),
            ("head", &|p: f32| Quat::from_rotation_y(0.06 * p.sin())),
            ("thigh_l", &|p: f32| Quat::from_rotation_x(-0.45 * p.sin())),
            ("thigh_r", &|p: f32| Quat::from_rotation_x(0.45 * p.sin())),
            ("shin_l", &move |p: f32| Quat::from_rotation_x(knee(p))),
            ("shin_r", &move |p: f32| Quat::from_rotation_x(knee(p + PI))),
            ("foot_l", &|p: f32| Quat::from_rotation_x(0.2 * p.sin())),
            ("foot_r", &|p: f32| Quat::from_rotation_x(-0.2 * p.sin())),
            ("upper_arm_l", &|p: f32| {
                Quat::from_rotation_x(0.38 * p.sin())
            }),
            ("upper_arm_r", &|p: f32| {
                Quat::from_rotation_x(-0.38 * p.sin())
            }),
            ("forearm_l", &|p: f32| {
                Quat::from_rotation_x(-0.3 - 0.15 * (0.5 + 0.5 * p.sin()))
            }),
            ("forearm_r", &|p: f32| {
                Quat::from_rotation_x(-0.3 - 0.15 * (0.5 - 0.5 * p.sin()))
            }),
        ],
        &|p: f32| 0.95 + 0.025 * (2.0 * p).cos(),
    )
}

fn idle_clip() -> Clip {
    keyed_clip(
        "idle",
        3.0,
        &[
            ("chest", &|p: f32| Quat::from_rotation_x(0.035 * p.sin())),
            ("head", &|p: f32| {
                Quat::from_rotation_y(0.25 * p.sin())
                    * Quat::from_rotation_x(0.05 * (2.0 * p).sin())
            }),
            ("upper_arm_l", &|p: f32| {
                Quat::from_rotation_z(0.08 + 0.03 * p.sin())
            }),
            ("upper_arm_r", &|p: f32| {
                Quat::from_rotation_z(-0.08 - 0.03 * p.sin())
            }),
            ("forearm_l", &|p: f32| {
                Quat::from_rotation_x(-0.15 - 0.05 * p.sin())
            }),
            ("forearm_r", &|p: f32| {
                Quat::from_rotation_x(-0.15 - 0.05 * p.cos())
            }),
        ],
        &|p: f32| 0.95 + 0.006 * (2.0 * p).sin(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detail_levels_reach_the_load_test_size() {
        let counts: Vec<usize> = Detail::ALL
            .iter()
            .map(|d| humanoid(*d).mesh.triangle_count())
            .collect();
        assert!(counts.windows(2).all(|w| w[0] < w[1]), "{counts:?}");
        assert!(counts[3] >= 50_000, "ultra has {} triangles", counts[3]);
        assert_eq!(humanoid(Detail::Low).skeleton.nodes.len(), 21);
    }

    #[test]
    fn weights_sum_to_one_and_indices_are_in_range() {
        let a = humanoid(Detail::Low);
        for v in &a.mesh.vertices {
            let s: f32 = v.weights.iter().sum();
            assert!((s - 1.0).abs() < 1e-5);
            assert!(
                v.joints
                    .iter()
                    .all(|&j| (j as usize) < a.skeleton.bindings.len())
            );
        }
        let n = a.mesh.vertices.len() as u32;
        assert!(a.mesh.indices.iter().all(|&i| i < n));
    }
}
