// Compute skinning, once per frame, into world space. Every target of the frame then draws from
// `skinned`, so multi-resolution output never repeats this work. It runs after every target's
// cull + LOD pass, which leave in `needed` the finest level any target draws each avatar at:
// only that level's vertices (a prefix of the vertex list) are skinned, and avatars no target
// sees are skipped. Used when every avatar's full-detail vertices fit in one buffer
// (`Skinning::Compute`); otherwise the raster pass skins (avatar.wgsl, vs_skinning).
// Prefixed with shaders/shared/types.wgsl and shared/skinning.wgsl. Keep the structs in sync
// with engine/render/gpu_data.rs.

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
// Per avatar: MAX_LODS - finest level drawn in any target, 0 when no target draws it.
@group(0) @binding(4) var<storage, read> needed: array<u32>;
@group(1) @binding(0) var<storage, read> rest: array<RestVertex>;

// One thread per vertex (x, folded into x and z when the mesh needs more workgroups than one
// dimension allows) and avatar of the chunk (y).
@compute @workgroup_size(64)
fn skin(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let v = folded_workgroup(wid.x, wid.z, groups.x) * 64u + lid;
    let i = wid.y;
    if v >= batch.vertex_count || i >= batch.instance_count {
        return;
    }
    let need = needed[batch.first_instance + i];
    if need == 0u {
        return;
    }
    let level = MAX_LODS - need;
    if v >= batch.level_vertices[level / 4u][level % 4u] {
        return;
    }
    let inst = instances[batch.first_instance + i];
    let rv = rest[v];
    skinned[inst.skinned_base + v] = skin_vertex(inst, rv.position.xyz, rv.normal.xyz, rv.joints, rv.weights);
}
