// GPU animation sampling (engine/render/animate.rs; the CPU reference is engine/anim): one thread
// per avatar samples its clip's channels (STEP, LINEAR with slerp for rotations, CUBICSPLINE),
// builds every node's model-space matrix parent before child (into a storage scratch area, not
// private arrays, which compile slowly on software rasterisers), and writes the avatar's joint
// palette. The CPU then uploads nothing per avatar per frame.
// Prefixed with shaders/shared/types.wgsl. Keep the structs in sync with engine/render/gpu_data.rs.

struct AnimParams {
    time: f32,
    avatar_count: u32,
    _pad0: u32,
    _pad1: u32,
}

struct AnimAvatar {
    node_offset: u32,
    node_count: u32,
    binding_offset: u32,
    binding_count: u32,
    // Global clip index, or -1 for the rest pose.
    clip: i32,
    speed: f32,
    phase: f32,
    palette_offset: u32,
    // First of this avatar's node matrices in `globals`.
    global_offset: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

struct AnimNode {
    translation: vec4<f32>,
    rotation: vec4<f32>,
    scale: vec4<f32>,
    // Parent index within the asset, or -1.
    parent: i32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

struct AnimBinding {
    inverse_bind: mat4x4<f32>,
    node: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

struct AnimClip {
    duration: f32,
    first_channel: u32,
    channel_count: u32,
    // First entry of this clip in `node_channels` (one per node of the asset).
    node_table: u32,
}

struct AnimChannel {
    node: u32,
    // 0 translation, 1 rotation, 2 scale.
    property: u32,
    // 0 step, 1 linear, 2 cubic spline.
    interpolation: u32,
    key_count: u32,
    first_time: u32,
    first_value: u32,
    _pad0: u32,
    _pad1: u32,
}


@group(0) @binding(0) var<uniform> params: AnimParams;
@group(0) @binding(1) var<storage, read> avatars: array<AnimAvatar>;
@group(0) @binding(2) var<storage, read> nodes: array<AnimNode>;
@group(0) @binding(3) var<storage, read> bindings: array<AnimBinding>;
@group(0) @binding(4) var<storage, read> clips: array<AnimClip>;
@group(0) @binding(5) var<storage, read> channels: array<AnimChannel>;
@group(0) @binding(6) var<storage, read> times: array<f32>;
@group(0) @binding(7) var<storage, read> values: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read_write> palettes: array<mat4x4<f32>>;
// Per clip and node: the channel animating its translation, rotation and scale (-1: none).
@group(0) @binding(9) var<storage, read> node_channels: array<vec4<i32>>;
// Model-space matrices of every avatar's nodes.
@group(0) @binding(10) var<storage, read_write> globals: array<mat4x4<f32>>;

fn key_value(ch: AnimChannel, k: u32) -> vec4<f32> {
    if ch.interpolation == 2u {
        return values[ch.first_value + k * 3u + 1u];
    }
    return values[ch.first_value + k];
}

fn quat_slerp(a: vec4<f32>, b_in: vec4<f32>, s: f32) -> vec4<f32> {
    var b = b_in;
    var d = dot(a, b);
    if d < 0.0 {
        b = -b;
        d = -d;
    }
    if d > 1.0 - 1.1920929e-7 {
        return normalize(a + (b - a) * s);
    }
    let theta = acos(d);
    return (a * sin(theta * (1.0 - s)) + b * sin(theta * s)) / sin(theta);
}

// Sample one channel at time t (clamped to its key range), as anim::sample_channel.
fn sample_channel(ch: AnimChannel, t: f32) -> vec4<f32> {
    let last = ch.key_count - 1u;
    if t <= times[ch.first_time] || last == 0u {
        return key_value(ch, 0u);
    }
    if t >= times[ch.first_time + last] {
        return key_value(ch, last);
    }
    // Last key at or before t: binary search.
    var lo = 0u;
    var hi = last;
    while hi - lo > 1u {
        let mid = (lo + hi) / 2u;
        if times[ch.first_time + mid] <= t {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let k = lo;
    let t0 = times[ch.first_time + k];
    let dt = times[ch.first_time + k + 1u] - t0;
    var u = 0.0;
    if dt > 0.0 {
        u = (t - t0) / dt;
    }
    if ch.interpolation == 0u {
        return key_value(ch, k);
    }
    if ch.interpolation == 1u {
        if ch.property == 1u {
            return quat_slerp(normalize(key_value(ch, k)), normalize(key_value(ch, k + 1u)), u);
        }
        return mix(key_value(ch, k), key_value(ch, k + 1u), u);
    }
    let base = ch.first_value;
    let p0 = values[base + k * 3u + 1u];
    let m0 = values[base + k * 3u + 2u] * dt;
    let p1 = values[base + (k + 1u) * 3u + 1u];
    let m1 = values[base + (k + 1u) * 3u] * dt;
    let u2 = u * u;
    let u3 = u2 * u;
    let v = p0 * (2.0 * u3 - 3.0 * u2 + 1.0) + m0 * (u3 - 2.0 * u2 + u) + p1 * (-2.0 * u3 + 3.0 * u2)
        + m1 * (u3 - u2);
    if ch.property == 1u {
        return normalize(v);
    }
    return v;
}

fn trs_matrix(t: vec3<f32>, q: vec4<f32>, s: vec3<f32>) -> mat4x4<f32> {
    let x2 = q.x + q.x;
    let y2 = q.y + q.y;
    let z2 = q.z + q.z;
    let xx = q.x * x2;
    let xy = q.x * y2;
    let xz = q.x * z2;
    let yy = q.y * y2;
    let yz = q.y * z2;
    let zz = q.z * z2;
    let wx = q.w * x2;
    let wy = q.w * y2;
    let wz = q.w * z2;
    return mat4x4<f32>(
        vec4<f32>(1.0 - (yy + zz), xy + wz, xz - wy, 0.0) * s.x,
        vec4<f32>(xy - wz, 1.0 - (xx + zz), yz + wx, 0.0) * s.y,
        vec4<f32>(xz + wy, yz - wx, 1.0 - (xx + yy), 0.0) * s.z,
        vec4<f32>(t, 1.0),
    );
}

@compute @workgroup_size(64)
fn animate(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    // One thread per avatar; the workgroups may be folded into x and y.
    let a = folded_workgroup(wid.x, wid.y, groups.x) * 64u + lid;
    if a >= params.avatar_count {
        return;
    }
    let av = avatars[a];
    var clip = AnimClip(0.0, 0u, 0u, 0u);
    var t = 0.0;
    if av.clip >= 0 {
        clip = clips[u32(av.clip)];
        t = params.time * av.speed + av.phase;
        if clip.duration > 0.0 {
            t = t - floor(t / clip.duration) * clip.duration;
            // Guard against rounding up to the duration itself.
            if t >= clip.duration {
                t = 0.0;
            }
        } else {
            t = 0.0;
        }
    }
    for (var n = 0u; n < av.node_count; n++) {
        let rest = nodes[av.node_offset + n];
        var translation = rest.translation.xyz;
        var rotation = rest.rotation;
        var scale = rest.scale.xyz;
        if av.clip >= 0 {
            let ch = node_channels[clip.node_table + n];
            if ch.x >= 0 {
                translation = sample_channel(channels[u32(ch.x)], t).xyz;
            }
            if ch.y >= 0 {
                rotation = normalize(sample_channel(channels[u32(ch.y)], t));
            }
            if ch.z >= 0 {
                scale = sample_channel(channels[u32(ch.z)], t).xyz;
            }
        }
        let local = trs_matrix(translation, rotation, scale);
        var global = local;
        if rest.parent >= 0 {
            global = globals[av.global_offset + u32(rest.parent)] * local;
        }
        globals[av.global_offset + n] = global;
    }
    for (var b = 0u; b < av.binding_count; b++) {
        let binding = bindings[av.binding_offset + b];
        palettes[av.palette_offset + b] = globals[av.global_offset + binding.node] * binding.inverse_bind;
    }
}
