// Avatar raster pass: draws pre-skinned world-space vertices (from skin.wgsl) with instancing,
// Lambert sun + ambient lighting, base colour x texture x tint.
// Prefixed with shaders/shared/types.wgsl. Keep the structs in sync with engine/render/gpu_data.rs.

struct Camera {
    view_proj: mat4x4<f32>,
    eye: vec4<f32>,
}

struct Light {
    // Direction towards the sun (normalised), w unused.
    to_sun: vec4<f32>,
    sun_color: vec4<f32>,
    ambient: vec4<f32>,
}

struct Material {
    base_color: vec4<f32>,
}

@group(0) @binding(0) var<uniform> camera: Camera;
@group(0) @binding(1) var<uniform> light: Light;
@group(0) @binding(2) var<storage, read> skinned: array<SkinnedVertex>;
@group(0) @binding(3) var<storage, read> instances: array<Instance>;
@group(0) @binding(4) var<uniform> batch: BatchParams;

@group(1) @binding(0) var<uniform> material: Material;
@group(1) @binding(1) var base_texture: texture_2d<f32>;
@group(1) @binding(2) var base_sampler: sampler;

struct VertexOut {
    @builtin(position) clip: vec4<f32>,
    @location(0) normal: vec3<f32>,
    @location(1) uv: vec2<f32>,
    @location(2) tint: vec4<f32>,
}

@vertex
fn vs_main(
    @builtin(vertex_index) vertex_index: u32,
    @builtin(instance_index) instance_index: u32,
    @location(0) uv: vec2<f32>,
) -> VertexOut {
    let inst = instances[batch.first_instance + instance_index];
    let sv = skinned[inst.skinned_base + vertex_index];
    var out: VertexOut;
    out.clip = camera.view_proj * sv.position;
    out.normal = sv.normal.xyz;
    out.uv = uv;
    out.tint = inst.tint;
    return out;
}

@fragment
fn fs_main(in: VertexOut) -> @location(0) vec4<f32> {
    let base = material.base_color * textureSample(base_texture, base_sampler, in.uv) * in.tint;
    let n = normalize(in.normal);
    let lambert = max(dot(n, light.to_sun.xyz), 0.0);
    let lit = base.rgb * (light.ambient.rgb + light.sun_color.rgb * lambert);
    return vec4<f32>(lit, 1.0);
}
