// Ground pass: one lit square at y = 0 (engine/render/ground.rs), drawn first in each target.
// Prefixed with shaders/shared/types.wgsl.

struct Ground {
    // Linear colour, w unused.
    color: vec4<f32>,
    half_size: f32,
    _pad0: f32,
    _pad1: f32,
    _pad2: f32,
}

@group(0) @binding(0) var<uniform> camera: Camera;
@group(0) @binding(1) var<uniform> light: Light;
@group(0) @binding(2) var<uniform> ground: Ground;

@vertex
fn vs_main(@builtin(vertex_index) vertex_index: u32) -> @builtin(position) vec4<f32> {
    // Two triangles, counter-clockwise seen from above.
    var corners = array<vec2<f32>, 6>(
        vec2<f32>(-1.0, 1.0), vec2<f32>(1.0, 1.0), vec2<f32>(1.0, -1.0),
        vec2<f32>(-1.0, 1.0), vec2<f32>(1.0, -1.0), vec2<f32>(-1.0, -1.0),
    );
    let c = corners[vertex_index] * ground.half_size;
    return camera.view_proj * vec4<f32>(c.x, 0.0, c.y, 1.0);
}

@fragment
fn fs_main() -> @location(0) vec4<f32> {
    let lambert = max(light.to_sun.y, 0.0);
    return vec4<f32>(ground.color.rgb * (light.ambient.rgb + light.sun_color.rgb * lambert), 1.0);
}
