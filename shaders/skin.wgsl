// Compute skinning: every (vertex, avatar) pair of a draw batch is skinned once per frame into
// world space. Every target of the frame then draws from `skinned`, so multi-resolution output
// never repeats this work.
// Prefixed with shaders/shared/types.wgsl. Keep the structs in sync with engine/render/gpu_data.rs.

struct RestVertex {
    position: vec4<f32>,
    normal: vec4<f32>,
    joints: vec4<u32>,
    weights: vec4<f32>,
}

@group(0) @binding(0) var<storage, read> palettes: array<mat4x4<f32>>;
@group(0) @binding(1) var<storage, read> instances: array<Instance>;
@group(0) @binding(2) var<storage, read_write> skinned: array<SkinnedVertex>;
@group(0) @binding(3) var<uniform> batch: BatchParams;
@group(1) @binding(0) var<storage, read> rest: array<RestVertex>;

@compute @workgroup_size(64)
fn skin(@builtin(global_invocation_id) gid: vec3<u32>) {
    let v = gid.x;
    let i = gid.y;
    if v >= batch.vertex_count || i >= batch.instance_count {
        return;
    }
    let inst = instances[batch.first_instance + i];
    let rv = rest[v];
    var m = palettes[inst.palette_offset + rv.joints.x] * rv.weights.x;
    m += palettes[inst.palette_offset + rv.joints.y] * rv.weights.y;
    m += palettes[inst.palette_offset + rv.joints.z] * rv.weights.z;
    m += palettes[inst.palette_offset + rv.joints.w] * rv.weights.w;
    let world = inst.model * m;
    let p = world * vec4<f32>(rv.position.xyz, 1.0);
    let n = (world * vec4<f32>(rv.normal.xyz, 0.0)).xyz;
    let len = length(n);
    var unit_n = vec3<f32>(0.0, 1.0, 0.0);
    if len > 0.0 {
        unit_n = n / len;
    }
    skinned[inst.skinned_base + v] = SkinnedVertex(vec4<f32>(p.xyz, 1.0), vec4<f32>(unit_n, 0.0));
}
