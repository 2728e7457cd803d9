// Per-target culling and LOD selection (engine/render/cull_lod.rs; CPU twin in the same file).
// `cull`: one thread per avatar. Frustum-test its bounding sphere, pick its level from the
// projected error of each level at this target's resolution, with hysteresis against the
// level it had last frame, then append it to the visible list of (its batch, that level) and
// record the finest level any target needs for the skin pass.
// `finalize`: one thread per indirect draw, copying the per-(batch, level) counts into the
// draws' instance counts.
// Prefixed with shaders/shared/types.wgsl. Keep the structs in sync with engine/render/gpu_data.rs.

struct CullParams {
    // Frustum planes (xyz normal pointing inwards, w offset), normalised.
    planes: array<vec4<f32>, 6>,
    eye: vec4<f32>,
    // Pixels covered by one world unit at distance one: height / (2 tan(fov_y / 2)).
    pixels_per_unit: f32,
    pixel_error: f32,
    hysteresis: f32,
    near: f32,
    bias: i32,
    // Forced level, or -1.
    force: i32,
    avatar_count: u32,
    draw_count: u32,
}

struct BatchLod {
    // Model-space error of each level (the first MAX_LODS used).
    errors: array<f32, 8>,
    level_count: u32,
    first_avatar: u32,
    avatar_count: u32,
    _pad: u32,
}

struct DrawIndexedIndirect {
    index_count: u32,
    instance_count: u32,
    first_index: u32,
    base_vertex: i32,
    first_instance: u32,
}

@group(0) @binding(0) var<uniform> params: CullParams;
@group(0) @binding(1) var<storage, read> instances: array<Instance>;
@group(0) @binding(2) var<storage, read> batches: array<BatchLod>;
// Level + 1 of each avatar last frame in this target (0: none yet).
@group(0) @binding(3) var<storage, read_write> state: array<u32>;
// Avatars per (batch, level): index batch * MAX_LODS + level.
@group(0) @binding(4) var<storage, read_write> counts: array<atomic<u32>>;
// Visible avatars; (batch, level) owns [MAX_LODS * first_avatar + level * avatar_count, + avatar_count).
@group(0) @binding(5) var<storage, read_write> visible: array<u32>;
@group(0) @binding(6) var<storage, read_write> draws: array<DrawIndexedIndirect>;
// The counts slot of each draw.
@group(0) @binding(7) var<storage, read> draw_slots: array<u32>;
// Per avatar: MAX_LODS - finest level any target draws it at (0: none), for the skin pass.
@group(0) @binding(8) var<storage, read_write> needed: array<atomic<u32>>;

// Spheres within this relative margin of a plane count as inside: the GPU keeps every avatar
// the CPU twin keeps, whatever the rounding.
const CULL_MARGIN: f32 = 1e-3;

// Coarsest level whose projected error is within `tolerance` pixels.
fn coarsest_within(batch: u32, px_per_model_unit: f32, tolerance: f32) -> u32 {
    var level = 0u;
    for (var l = 1u; l < batches[batch].level_count; l++) {
        if batches[batch].errors[l] * px_per_model_unit <= tolerance {
            level = l;
        }
    }
    return level;
}

@compute @workgroup_size(64)
fn cull(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    // One thread per avatar; the workgroups may be folded into x and y.
    let a = folded_workgroup(wid.x, wid.y, groups.x) * 64u + lid;
    if a >= params.avatar_count {
        return;
    }
    let inst = instances[a];
    let b = batches[inst.batch];
    let center = inst.sphere.xyz;
    let radius = inst.sphere.w;
    let slack = radius * (1.0 + CULL_MARGIN) + 1e-4;
    for (var p = 0u; p < 6u; p++) {
        let plane = params.planes[p];
        if dot(plane.xyz, center) + plane.w < -slack {
            return;
        }
    }
    var level: u32;
    if params.force >= 0 {
        level = min(u32(params.force), b.level_count - 1u);
    } else {
        let distance = max(length(center - params.eye.xyz) - radius, params.near);
        let px_per_model_unit = params.pixels_per_unit * inst.scale / distance;
        let tolerance = params.pixel_error;
        let prev = state[a];
        if prev == 0u {
            level = coarsest_within(inst.batch, px_per_model_unit, tolerance);
        } else {
            // Keep last frame's level while it lies inside the band.
            let finest = coarsest_within(inst.batch, px_per_model_unit, tolerance * (1.0 - params.hysteresis));
            let coarsest = coarsest_within(inst.batch, px_per_model_unit, tolerance * (1.0 + params.hysteresis));
            level = clamp(prev - 1u, finest, coarsest);
        }
        state[a] = level + 1u;
        level = u32(clamp(i32(level) + params.bias, 0, i32(b.level_count) - 1));
    }
    atomicMax(&needed[a], MAX_LODS - level);
    let slot = inst.batch * MAX_LODS + level;
    let index = atomicAdd(&counts[slot], 1u);
    visible[MAX_LODS * b.first_avatar + level * b.avatar_count + index] = a;
}

@compute @workgroup_size(64)
fn finalize(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    // One thread per draw; the workgroups may be folded into x and y.
    let d = folded_workgroup(wid.x, wid.y, groups.x) * 64u + lid;
    if d >= params.draw_count {
        return;
    }
    draws[d].instance_count = atomicLoad(&counts[draw_slots[d]]);
}
