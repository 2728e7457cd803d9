// examples/compute.rs: one integration step of damped springs pulling points to the origin
// (semi-implicit Euler). Keep in sync with `step_cpu` in compute.rs.

struct Params {
    count: u32,
    dt: f32,
    stiffness: f32,
    damping: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> positions: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> velocities: array<vec4<f32>>;

@compute @workgroup_size(64)
fn step(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.x;
    if i >= params.count {
        return;
    }
    let p = positions[i].xyz;
    let v = velocities[i].xyz;
    let a = p * -params.stiffness - v * params.damping;
    let v2 = v + a * params.dt;
    positions[i] = vec4<f32>(p + v2 * params.dt, 1.0);
    velocities[i] = vec4<f32>(v2, 0.0);
}
