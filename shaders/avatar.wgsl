// Avatar raster pass: indirect, instanced draws of the avatars that shaders/cull_lod.wgsl found
// visible in this target, at the level it chose. `instance_index` indexes the target's visible
// list (draw.list_base + the draw's first instance), which names the avatar.
// Two vertex entry points share everything else:
//   vs_preskinned reads the world-space vertices of the compute skin pass (shaders/skin.wgsl);
//   vs_skinning applies the avatar's palette to the rest-pose vertex here.
// Lambert sun + ambient lighting, base colour x texture x tint.
// Prefixed with shaders/shared/types.wgsl and shared/skinning.wgsl. Keep the structs in sync
// with engine/render/gpu_data.rs.

struct Material {
    base_color: vec4<f32>,
}

struct DrawParams {
    // Added to instance_index (0 where the draw's first_instance carries the offset).
    list_base: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> camera: Camera;
@group(0) @binding(1) var<uniform> light: Light;
@group(0) @binding(2) var<storage, read> skinned: array<SkinnedVertex>;
@group(0) @binding(3) var<storage, read> instances: array<Instance>;
@group(0) @binding(4) var<uniform> draw: DrawParams;
@group(0) @binding(5) var<storage, read> palettes: array<mat4x4<f32>>;
@group(0) @binding(6) var<storage, read> visible: array<u32>;

@group(1) @binding(0) var<uniform> material: Material;
@group(1) @binding(1) var base_texture: texture_2d<f32>;
@group(1) @binding(2) var base_sampler: sampler;

struct VertexOut {
    @builtin(position) clip: vec4<f32>,
    @location(0) normal: vec3<f32>,
    @location(1) uv: vec2<f32>,
    @location(2) tint: vec4<f32>,
}

fn shade_vertex(sv: SkinnedVertex, uv: vec2<f32>, inst: Instance) -> VertexOut {
    var out: VertexOut;
    out.clip = camera.view_proj * sv.position;
    out.normal = sv.normal.xyz;
    out.uv = uv;
    out.tint = inst.tint;
    return out;
}

@vertex
fn vs_preskinned(
    @builtin(vertex_index) vertex_index: u32,
    @builtin(instance_index) instance_index: u32,
    @location(0) uv: vec2<f32>,
) -> VertexOut {
    let inst = instances[visible[draw.list_base + instance_index]];
    return shade_vertex(skinned[inst.skinned_base + vertex_index], uv, inst);
}

@vertex
fn vs_skinning(
    @builtin(instance_index) instance_index: u32,
    @location(0) uv: vec2<f32>,
    @location(1) position: vec4<f32>,
    @location(2) normal: vec4<f32>,
    @location(3) joints: vec4<u32>,
    @location(4) weights: vec4<f32>,
) -> VertexOut {
    let inst = instances[visible[draw.list_base + instance_index]];
    return shade_vertex(skin_vertex(inst, position.xyz, normal.xyz, joints, weights), uv, inst);
}

@fragment
fn fs_main(in: VertexOut) -> @location(0) vec4<f32> {
    let base = material.base_color * textureSample(base_texture, base_sampler, in.uv) * in.tint;
    let n = normalize(in.normal);
    let lambert = max(dot(n, light.to_sun.xyz), 0.0);
    let lit = base.rgb * (light.ambient.rgb + light.sun_color.rgb * lambert);
    return vec4<f32>(lit, 1.0);
}
