// Types shared by every pass shader. The renderer prepends this file to each pass's source.
// Keep in sync with engine/render/gpu_data.rs.

struct Instance {
    model: mat4x4<f32>,
    tint: vec4<f32>,
    palette_offset: u32,
    skinned_base: u32,
    _pad0: u32,
    _pad1: u32,
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
}
