//! Animation on the CPU: clip sampling (STEP, LINEAR, CUBICSPLINE), node poses, joint palettes,
//! and the CPU skinning twin that tests compare the GPU against.

use crate::assets::{
    Asset, Channel, Clip, Interpolation, MeshAsset, Property, Skeleton, Transform,
};
use glam::{Mat4, Quat, Vec3, Vec4};

mod bounds;
pub use bounds::{BOUNDS_MARGIN, BOUNDS_SAMPLES, animated_bounds, bounds};

/// Wrap a time into a clip's range (clips loop). Zero-length clips always sample at zero.
pub fn loop_time(clip: &Clip, t: f32) -> f32 {
    if clip.duration > 0.0 && t.is_finite() {
        t.rem_euclid(clip.duration)
    } else {
        0.0
    }
}

/// Sample one channel at time `t` (clamped to its key range).
pub fn sample_channel(ch: &Channel, t: f32) -> Vec4 {
    let times = &ch.times;
    let last = times.len() - 1;
    let value = |k: usize| match ch.interpolation {
        Interpolation::CubicSpline => ch.values[k * 3 + 1],
        _ => ch.values[k],
    };
    if t <= times[0] || last == 0 {
        return value(0);
    }
    if t >= times[last] {
        return value(last);
    }
    // Index of the key at or before t.
    let k = times.partition_point(|&x| x <= t) - 1;
    let (t0, t1) = (times[k], times[k + 1]);
    let dt = t1 - t0;
    let u = if dt > 0.0 { (t - t0) / dt } else { 0.0 };
    match ch.interpolation {
        Interpolation::Step => value(k),
        Interpolation::Linear => {
            if ch.property == Property::Rotation {
                let a = Quat::from_vec4(value(k)).normalize();
                let b = Quat::from_vec4(value(k + 1)).normalize();
                Vec4::from(a.slerp(b, u))
            } else {
                value(k).lerp(value(k + 1), u)
            }
        }
        Interpolation::CubicSpline => {
            let p0 = ch.values[k * 3 + 1];
            let m0 = ch.values[k * 3 + 2] * dt; // out-tangent of k
            let p1 = ch.values[(k + 1) * 3 + 1];
            let m1 = ch.values[(k + 1) * 3] * dt; // in-tangent of k+1
            let (u2, u3) = (u * u, u * u * u);
            let v = p0 * (2.0 * u3 - 3.0 * u2 + 1.0)
                + m0 * (u3 - 2.0 * u2 + u)
                + p1 * (-2.0 * u3 + 3.0 * u2)
                + m1 * (u3 - u2);
            if ch.property == Property::Rotation {
                Vec4::from(Quat::from_vec4(v).normalize())
            } else {
                v
            }
        }
    }
}

/// Local transforms of every node at time `t` of `clip` (rest pose where no channel applies).
/// `t` is wrapped with [`loop_time`].
pub fn sample_pose(skeleton: &Skeleton, clip: Option<&Clip>, t: f32, out: &mut Vec<Transform>) {
    out.clear();
    out.extend(skeleton.nodes.iter().map(|n| n.rest));
    let Some(clip) = clip else { return };
    let t = loop_time(clip, t);
    for ch in &clip.channels {
        let v = sample_channel(ch, t);
        let tr = &mut out[ch.node];
        match ch.property {
            Property::Translation => tr.translation = v.truncate(),
            Property::Rotation => tr.rotation = Quat::from_vec4(v).normalize(),
            Property::Scale => tr.scale = v.truncate(),
        }
    }
}

/// Global (model-space) matrices of every node from local transforms. Parents precede children.
pub fn global_matrices(skeleton: &Skeleton, locals: &[Transform], out: &mut Vec<Mat4>) {
    out.clear();
    for (i, node) in skeleton.nodes.iter().enumerate() {
        let local = locals[i].matrix();
        let m = match node.parent {
            Some(p) => out[p] * local,
            None => local,
        };
        out.push(m);
    }
}

/// Reusable per-thread scratch space for palette computation.
#[derive(Default)]
pub struct PoseScratch {
    locals: Vec<Transform>,
    globals: Vec<Mat4>,
}

/// Write the joint palette (`global(node) * inverse_bind` per binding) of `asset` playing
/// `clip` at time `t` into `palette` (one matrix per binding).
pub fn compute_palette(
    asset: &Asset,
    clip: Option<usize>,
    t: f32,
    scratch: &mut PoseScratch,
    palette: &mut [Mat4],
) {
    let skel = &asset.skeleton;
    sample_pose(
        skel,
        clip.and_then(|c| asset.clips.get(c)),
        t,
        &mut scratch.locals,
    );
    global_matrices(skel, &scratch.locals, &mut scratch.globals);
    for (out, b) in palette.iter_mut().zip(&skel.bindings) {
        *out = scratch.globals[b.node] * b.inverse_bind;
    }
}

/// The CPU skinning twin: world-space positions and normals of every vertex of `mesh` under
/// `palette`, then `model`. The GPU skin pass must match this within float tolerance.
pub fn skin_cpu(mesh: &MeshAsset, palette: &[Mat4], model: Mat4) -> Vec<(Vec3, Vec3)> {
    mesh.vertices
        .iter()
        .map(|v| {
            let mut m = Mat4::ZERO;
            for k in 0..4 {
                if v.weights[k] != 0.0 {
                    m += palette[v.joints[k] as usize] * v.weights[k];
                }
            }
            let world = model * m;
            let p = world.transform_point3(v.position);
            let n = world.transform_vector3(v.normal).normalize_or(Vec3::Y);
            (p, n)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assets::{AssetLibrary, AssetRef};

    fn channel(interp: Interpolation, prop: Property, times: &[f32], values: &[Vec4]) -> Channel {
        Channel {
            node: 0,
            property: prop,
            interpolation: interp,
            times: times.to_vec(),
            values: values.to_vec(),
        }
    }

    #[test]
    fn step_linear_and_cubic_interpolate() {
        let v = [Vec4::new(0.0, 0.0, 0.0, 0.0), Vec4::new(2.0, 4.0, 0.0, 0.0)];
        let step = channel(Interpolation::Step, Property::Translation, &[0.0, 1.0], &v);
        assert_eq!(sample_channel(&step, 0.7), v[0]);
        assert_eq!(sample_channel(&step, 1.5), v[1]);
        let lin = channel(
            Interpolation::Linear,
            Property::Translation,
            &[0.0, 1.0],
            &v,
        );
        assert!((sample_channel(&lin, 0.25) - Vec4::new(0.5, 1.0, 0.0, 0.0)).length() < 1e-6);
        // Cubic with zero tangents: smoothstep between the values.
        let z = Vec4::ZERO;
        let cub = channel(
            Interpolation::CubicSpline,
            Property::Translation,
            &[0.0, 1.0],
            &[z, v[0], z, z, v[1], z],
        );
        let s = sample_channel(&cub, 0.25).x;
        let expect = 2.0 * (3.0 * 0.0625 - 2.0 * 0.015625);
        assert!((s - expect).abs() < 1e-6, "{s} vs {expect}");
        // Cubic with tangents equal to the slope reproduces the line.
        let slope = Vec4::new(2.0, 4.0, 0.0, 0.0);
        let cub = channel(
            Interpolation::CubicSpline,
            Property::Translation,
            &[0.0, 1.0],
            &[slope, v[0], slope, slope, v[1], slope],
        );
        assert!((sample_channel(&cub, 0.3) - Vec4::new(0.6, 1.2, 0.0, 0.0)).length() < 1e-5);
    }

    #[test]
    fn rotation_slerps() {
        let a = Vec4::from(Quat::IDENTITY);
        let b = Vec4::from(Quat::from_rotation_y(1.0));
        let ch = channel(
            Interpolation::Linear,
            Property::Rotation,
            &[0.0, 2.0],
            &[a, b],
        );
        let q = Quat::from_vec4(sample_channel(&ch, 1.0));
        assert!(q.angle_between(Quat::from_rotation_y(0.5)) < 1e-5);
    }

    /// Global matrix of a named node at time t.
    fn joint_global(asset: &Asset, name: &str, t: f32) -> Mat4 {
        let mut locals = Vec::new();
        let mut globals = Vec::new();
        sample_pose(&asset.skeleton, asset.clips.first(), t, &mut locals);
        global_matrices(&asset.skeleton, &locals, &mut globals);
        globals[asset.skeleton.node_index(name).expect("node exists")]
    }

    fn assert_close(what: &str, got: Vec3, want: [f32; 3]) {
        assert!(
            (got - Vec3::from(want)).length() < 1e-3,
            "{what}: got {got}, expected {want:?}"
        );
    }

    // Expected values come from an independent evaluation of the glTF files (a short Python
    // script applying the node matrices, TRS and slerp/lerp of the keyframes), not from this code.

    #[test]
    fn rigged_simple_joint_transforms_at_chosen_times() {
        let a = AssetLibrary::new()
            .load(&AssetRef::Builtin("RiggedSimple"))
            .expect("builtin loads");
        assert_eq!(a.clips.len(), 1);
        assert!((a.clips[0].duration - 2.083333).abs() < 1e-4);
        for (t, want) in [
            (0.5, [1.95302, -0.53565, 0.0]),
            (1.4, [1.87475, -0.761, 0.0]),
        ] {
            let p = joint_global(&a, "Bone.001", t).transform_point3(Vec3::new(0.0, 2.0, 0.0));
            assert_close(&format!("Bone.001 tip at t={t}"), p, want);
        }
    }

    #[test]
    fn rigged_figure_joint_transforms_at_chosen_times() {
        let a = AssetLibrary::new()
            .load(&AssetRef::Builtin("RiggedFigure"))
            .expect("builtin loads");
        assert!((a.clips[0].duration - 1.25).abs() < 1e-4);
        let cases = [
            (0.3, "arm_joint_L_3", [0.28879, 0.72593, 0.09028]),
            (0.3, "neck_joint_2", [0.0, 1.1917, 0.0136]),
            (0.3, "leg_joint_L_5", [0.07958, 0.022, 0.0325]),
            (0.8, "arm_joint_L_3", [0.38313, 0.79667, 0.07669]),
            (0.8, "neck_joint_2", [0.0, 1.19269, 0.007]),
            (0.8, "torso_joint_1", [0.0, 0.686, 0.0]),
        ];
        for (t, name, want) in cases {
            assert_close(
                &format!("{name} at t={t}"),
                joint_global(&a, name, t).w_axis.truncate(),
                want,
            );
        }
        // Looping: one clip length later the pose repeats.
        let p = joint_global(&a, "arm_joint_L_3", 0.3 + 1.25)
            .w_axis
            .truncate();
        assert_close(
            "arm_joint_L_3 one loop later",
            p,
            [0.28879, 0.72593, 0.09028],
        );
    }
}
