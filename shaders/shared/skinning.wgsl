// Linear blend skinning, shared by the compute skin pass and the vertex-skinning raster path.
// Prefixed (after shared/types.wgsl) to every pass that declares a `palettes` storage array.

// Skin one rest-pose vertex with an avatar's palette, then place it in the world. The compute
// skin pass and the vertex-skinning raster path both call this, so they agree bit for bit.
fn skin_vertex(
    inst: Instance,
    position: vec3<f32>,
    normal: vec3<f32>,
    joints: vec4<u32>,
    weights: vec4<f32>,
) -> SkinnedVertex {
    var m = palettes[inst.palette_offset + joints.x] * weights.x;
    m += palettes[inst.palette_offset + joints.y] * weights.y;
    m += palettes[inst.palette_offset + joints.z] * weights.z;
    m += palettes[inst.palette_offset + joints.w] * weights.w;
    let world = inst.model * m;
    let p = world * vec4<f32>(position, 1.0);
    let n = (world * vec4<f32>(normal, 0.0)).xyz;
    let len = length(n);
    var unit_n = vec3<f32>(0.0, 1.0, 0.0);
    if len > 0.0 {
        unit_n = n / len;
    }
    return SkinnedVertex(vec4<f32>(p.xyz, 1.0), vec4<f32>(unit_n, 0.0));
}
