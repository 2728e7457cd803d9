// Types and helpers shared by every pass shader. The renderer prepends this file to each pass's
// source. Keep in sync with engine/render/gpu_data.rs.

struct Instance {
    model: mat4x4<f32>,
    tint: vec4<f32>,
    // World-space bounding sphere over every pose: centre xyz, radius w.
    sphere: vec4<f32>,
    palette_offset: u32,
    skinned_base: u32,
    batch: u32,
    // Largest axis scale of `model` (turns model-space LOD errors into world units).
    scale: f32,
}

// Per-target camera (CameraUniform in gpu_data.rs).
struct Camera {
    view_proj: mat4x4<f32>,
    eye: vec4<f32>,
}

// Sun and ambient light (LightUniform in gpu_data.rs).
struct Light {
    // Direction towards the sun (normalised), w unused.
    to_sun: vec4<f32>,
    sun_color: vec4<f32>,
    ambient: vec4<f32>,
}

struct SkinnedVertex {
    position: vec4<f32>,
    normal: vec4<f32>,
}

struct BatchParams {
    vertex_count: u32,
    first_instance: u32,
    instance_count: u32,
    _pad: u32,
    // Vertices used by each level: level l uses vertices 0 .. level_vertices[l / 4][l % 4].
    level_vertices: array<vec4<u32>, 2>,
}

// A workgroup's number in a dispatch whose workgroups were folded into two dimensions
// (engine/gpu/dispatch.rs, `split_workgroups`): `low` counts up to `extent` (that dimension's
// `num_workgroups`), then `high` goes up by one. Passes skip the numbers past their count.
fn folded_workgroup(low: u32, high: u32, extent: u32) -> u32 {
    return high * extent + low;
}

// Levels of detail per asset (engine/assets/lod.rs builds eight; MAX_LODS in render/cull_lod.rs).
const MAX_LODS: u32 = 8u;
