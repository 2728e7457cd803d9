//! `#[repr(C)]` data shared with the shaders. Keep in sync with `shaders/*.wgsl`; the size
//! asserts below catch drift on the Rust side, and `layout_tests` compares every member's
//! offset and size, and every struct's size, with the layout naga computes for its WGSL twin.

use bytemuck::{Pod, Zeroable};

/// A rest-pose vertex for the skin pass (keep in sync with `RestVertex` in skin.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct RestVertex {
    /// Position (w unused).
    pub position: [f32; 4],
    /// Normal (w unused).
    pub normal: [f32; 4],
    /// Palette-relative joint indices.
    pub joints: [u32; 4],
    /// Weights.
    pub weights: [f32; 4],
}

/// Per-avatar data (keep in sync with `Instance` in shaders/shared/types.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct GpuInstance {
    /// Model matrix, column-major.
    pub model: [[f32; 4]; 4],
    /// Tint (linear RGB, alpha 1).
    pub tint: [f32; 4],
    /// World-space bounding sphere over every pose: centre, radius.
    pub sphere: [f32; 4],
    /// First palette matrix of this avatar.
    pub palette_offset: u32,
    /// First skinned vertex of this avatar (compute skinning only).
    pub skinned_base: u32,
    /// Draw batch (asset) of this avatar.
    pub batch: u32,
    /// Largest axis scale of `model`.
    pub scale: f32,
}

/// A skinned world-space vertex (keep in sync with `SkinnedVertex`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq)]
pub struct SkinnedVertex {
    /// Position (w = 1).
    pub position: [f32; 4],
    /// Unit normal (w = 0).
    pub normal: [f32; 4],
}

/// One draw batch chunk (keep in sync with `BatchParams`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct BatchParams {
    /// Vertices per avatar of this batch's asset.
    pub vertex_count: u32,
    /// First instance of the batch.
    pub first_instance: u32,
    /// Instances in the batch.
    pub instance_count: u32,
    /// Padding.
    pub _pad: u32,
    /// Vertices used by each level (a prefix of the vertex list; the first `MAX_LODS` used).
    pub level_vertices: [u32; 8],
}

/// Per-target camera (keep in sync with `Camera` in avatar.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct CameraUniform {
    /// Projection x view.
    pub view_proj: [[f32; 4]; 4],
    /// Eye position.
    pub eye: [f32; 4],
}

/// Sun and ambient light (keep in sync with `Light` in avatar.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct LightUniform {
    /// Unit vector towards the sun.
    pub to_sun: [f32; 4],
    /// Sun colour.
    pub sun_color: [f32; 4],
    /// Ambient colour.
    pub ambient: [f32; 4],
}

/// Material constants (keep in sync with `Material` in avatar.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct MaterialUniform {
    /// Linear base colour factor.
    pub base_color: [f32; 4],
}

/// Per-target culling and LOD parameters (keep in sync with `CullParams` in cull_lod.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct CullParams {
    /// Frustum planes, normals pointing inwards, normalised.
    pub planes: [[f32; 4]; 6],
    /// Eye position.
    pub eye: [f32; 4],
    /// `height / (2 tan(fov_y / 2))`.
    pub pixels_per_unit: f32,
    /// Allowed screen-space error, pixels.
    pub pixel_error: f32,
    /// Relative hysteresis band.
    pub hysteresis: f32,
    /// Near plane distance.
    pub near: f32,
    /// Levels added after selection.
    pub bias: i32,
    /// Forced level or -1.
    pub force: i32,
    /// Avatars in the scene.
    pub avatar_count: u32,
    /// Indirect draws per target.
    pub draw_count: u32,
}

/// LOD table of one draw batch (keep in sync with `BatchLod` in cull_lod.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct BatchLod {
    /// Model-space error per level (the first `MAX_LODS` used).
    pub errors: [f32; 8],
    /// Levels in the asset's chain.
    pub level_count: u32,
    /// First avatar of the batch.
    pub first_avatar: u32,
    /// Avatars in the batch.
    pub avatar_count: u32,
    /// Padding.
    pub _pad: u32,
}

/// One indexed indirect draw (the layout wgpu and the APIs read; keep in sync with
/// `DrawIndexedIndirect` in cull_lod.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq, Eq)]
pub struct DrawIndexedIndirect {
    /// Indices per instance.
    pub index_count: u32,
    /// Instances (written each frame by the finalize pass).
    pub instance_count: u32,
    /// First index.
    pub first_index: u32,
    /// Added to each index.
    pub base_vertex: i32,
    /// First instance (the draw's offset in the visible list where supported).
    pub first_instance: u32,
}

/// Per-draw constants of the avatar pass (keep in sync with `DrawParams` in avatar.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct DrawParams {
    /// Offset added to `instance_index` to index the visible list.
    pub list_base: u32,
    /// Padding.
    pub _pad: [u32; 3],
}

/// Ground plane constants (keep in sync with `Ground` in ground.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct GroundUniform {
    /// Linear colour.
    pub color: [f32; 4],
    /// Half the side length.
    pub half_size: f32,
    /// Padding.
    pub _pad: [f32; 3],
}

/// Per-frame constants of the animation pass (keep in sync with `AnimParams` in animate.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct AnimParams {
    /// Scene time, seconds.
    pub time: f32,
    /// Avatars to animate.
    pub avatar_count: u32,
    /// Padding.
    pub _pad: [u32; 2],
}

/// One avatar for the animation pass (keep in sync with `AnimAvatar` in animate.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct AnimAvatar {
    /// First node of its asset.
    pub node_offset: u32,
    /// Nodes of its asset.
    pub node_count: u32,
    /// First binding of its asset.
    pub binding_offset: u32,
    /// Bindings of its asset.
    pub binding_count: u32,
    /// Global clip index, -1 for the rest pose.
    pub clip: i32,
    /// Playback speed.
    pub speed: f32,
    /// Time offset, seconds.
    pub phase: f32,
    /// First palette matrix.
    pub palette_offset: u32,
    /// First of its node matrices in the scratch buffer.
    pub global_offset: u32,
    /// Padding.
    pub _pad: [u32; 3],
}

/// A node's rest transform and parent (keep in sync with `AnimNode` in animate.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct AnimNode {
    /// Rest translation (w unused).
    pub translation: [f32; 4],
    /// Rest rotation quaternion (x, y, z, w).
    pub rotation: [f32; 4],
    /// Rest scale (w unused).
    pub scale: [f32; 4],
    /// Parent within the asset, -1 for a root.
    pub parent: i32,
    /// Padding.
    pub _pad: [u32; 3],
}

/// A skin binding (keep in sync with `AnimBinding` in animate.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct AnimBinding {
    /// Inverse bind matrix, column-major.
    pub inverse_bind: [[f32; 4]; 4],
    /// Node within the asset.
    pub node: u32,
    /// Padding.
    pub _pad: [u32; 3],
}

/// A clip (keep in sync with `AnimClip` in animate.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct AnimClip {
    /// Duration, seconds.
    pub duration: f32,
    /// First channel.
    pub first_channel: u32,
    /// Channels.
    pub channel_count: u32,
    /// First entry of this clip in the per-node channel table.
    pub node_table: u32,
}

/// A clip channel (keep in sync with `AnimChannel` in animate.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct AnimChannel {
    /// Node within the asset.
    pub node: u32,
    /// 0 translation, 1 rotation, 2 scale.
    pub property: u32,
    /// 0 step, 1 linear, 2 cubic spline.
    pub interpolation: u32,
    /// Keys.
    pub key_count: u32,
    /// First key time.
    pub first_time: u32,
    /// First key value.
    pub first_value: u32,
    /// Padding.
    pub _pad: [u32; 2],
}

const _: () = assert!(size_of::<AnimParams>() == 16);
const _: () = assert!(size_of::<AnimAvatar>() == 48);
const _: () = assert!(size_of::<AnimNode>() == 64);
const _: () = assert!(size_of::<AnimBinding>() == 80);
const _: () = assert!(size_of::<AnimClip>() == 16);
const _: () = assert!(size_of::<AnimChannel>() == 32);
const _: () = assert!(size_of::<CullParams>() == 144);
const _: () = assert!(size_of::<BatchLod>() == 48);
const _: () = assert!(size_of::<DrawIndexedIndirect>() == 20);
const _: () = assert!(size_of::<DrawParams>() == 16);
const _: () = assert!(size_of::<GroundUniform>() == 32);
const _: () = assert!(size_of::<RestVertex>() == 64);
const _: () = assert!(size_of::<GpuInstance>() == 112);
const _: () = assert!(size_of::<SkinnedVertex>() == 32);
const _: () = assert!(size_of::<BatchParams>() == 48);
const _: () = assert!(size_of::<CameraUniform>() == 80);
const _: () = assert!(size_of::<LightUniform>() == 48);
const _: () = assert!(size_of::<MaterialUniform>() == 16);

#[cfg(test)]
mod layout_tests {
    //! Every struct above against its WGSL twin, member by member, as naga lays it out.
    //!
    //! The WGSL sources are built the way the renderer builds them (`shaders/shared/types.wgsl`,
    //! then `shaders/shared/skinning.wgsl` for the passes that bind the palettes, then the pass
    //! file), and a twin must have the same layout in every pass that declares it. Members match
    //! by name; WGSL pads `_pad0`, `_pad1`, ... are the elements of a Rust `_pad` array, and
    //! `twins` names each Rust struct's twin. A Rust field without a WGSL member, a member
    //! without a field, or any offset or size that differs fails the test.

    use super::*;
    use std::collections::BTreeMap;
    use std::mem::{offset_of, size_of, size_of_val};

    /// A Rust struct's layout: (field, offset, size) in declaration order, and its size.
    struct RustLayout {
        name: &'static str,
        fields: Vec<(&'static str, usize, usize)>,
        size: usize,
    }

    /// The layout of a `Pod` struct. Every field must be listed: the struct pattern has no
    /// `..`, so a field added to the struct and not here does not compile.
    macro_rules! rust_layout {
        ($t:ident { $($field:ident),* $(,)? }) => {{
            let value = <$t as Zeroable>::zeroed();
            let $t { $($field: _),* } = value;
            RustLayout {
                name: stringify!($t),
                fields: vec![$((stringify!($field), offset_of!($t, $field), size_of_val(&value.$field))),*],
                size: size_of::<$t>(),
            }
        }};
    }

    /// Each Rust struct with its WGSL twin's name.
    fn twins() -> Vec<(RustLayout, &'static str)> {
        vec![
            (
                rust_layout!(RestVertex {
                    position,
                    normal,
                    joints,
                    weights
                }),
                "RestVertex",
            ),
            (
                rust_layout!(GpuInstance {
                    model,
                    tint,
                    sphere,
                    palette_offset,
                    skinned_base,
                    batch,
                    scale
                }),
                "Instance",
            ),
            (
                rust_layout!(SkinnedVertex { position, normal }),
                "SkinnedVertex",
            ),
            (
                rust_layout!(BatchParams {
                    vertex_count,
                    first_instance,
                    instance_count,
                    _pad,
                    level_vertices
                }),
                "BatchParams",
            ),
            (rust_layout!(CameraUniform { view_proj, eye }), "Camera"),
            (
                rust_layout!(LightUniform {
                    to_sun,
                    sun_color,
                    ambient
                }),
                "Light",
            ),
            (rust_layout!(MaterialUniform { base_color }), "Material"),
            (
                rust_layout!(CullParams {
                    planes,
                    eye,
                    pixels_per_unit,
                    pixel_error,
                    hysteresis,
                    near,
                    bias,
                    force,
                    avatar_count,
                    draw_count
                }),
                "CullParams",
            ),
            (
                rust_layout!(BatchLod {
                    errors,
                    level_count,
                    first_avatar,
                    avatar_count,
                    _pad
                }),
                "BatchLod",
            ),
            (
                rust_layout!(DrawIndexedIndirect {
                    index_count,
                    instance_count,
                    first_index,
                    base_vertex,
                    first_instance
                }),
                "DrawIndexedIndirect",
            ),
            (rust_layout!(DrawParams { list_base, _pad }), "DrawParams"),
            (
                rust_layout!(GroundUniform {
                    color,
                    half_size,
                    _pad
                }),
                "Ground",
            ),
            (
                rust_layout!(AnimParams {
                    time,
                    avatar_count,
                    _pad
                }),
                "AnimParams",
            ),
            (
                rust_layout!(AnimAvatar {
                    node_offset,
                    node_count,
                    binding_offset,
                    binding_count,
                    clip,
                    speed,
                    phase,
                    palette_offset,
                    global_offset,
                    _pad
                }),
                "AnimAvatar",
            ),
            (
                rust_layout!(AnimNode {
                    translation,
                    rotation,
                    scale,
                    parent,
                    _pad
                }),
                "AnimNode",
            ),
            (
                rust_layout!(AnimBinding {
                    inverse_bind,
                    node,
                    _pad
                }),
                "AnimBinding",
            ),
            (
                rust_layout!(AnimClip {
                    duration,
                    first_channel,
                    channel_count,
                    node_table
                }),
                "AnimClip",
            ),
            (
                rust_layout!(AnimChannel {
                    node,
                    property,
                    interpolation,
                    key_count,
                    first_time,
                    first_value,
                    _pad
                }),
                "AnimChannel",
            ),
        ]
    }

    /// A WGSL struct as naga lays it out: (member, offset, size) in order, and its span.
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct WgslLayout {
        members: Vec<(String, u32, u32)>,
        span: u32,
    }

    /// Every named struct of every pass shader, with the pass files that declare it.
    fn wgsl_structs() -> BTreeMap<String, Vec<(String, WgslLayout)>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
        let read = |p: &str| {
            std::fs::read_to_string(dir.join(p)).unwrap_or_else(|e| panic!("shaders/{p}: {e}"))
        };
        let shared = read("shared/types.wgsl");
        let skinning = read("shared/skinning.wgsl");
        let mut passes: Vec<String> = std::fs::read_dir(&dir)
            .expect("shaders/ exists")
            .map(|e| {
                e.expect("readable entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .filter(|n| n.ends_with(".wgsl"))
            .collect();
        passes.sort();
        let mut out: BTreeMap<String, Vec<(String, WgslLayout)>> = BTreeMap::new();
        for pass in passes {
            let text = read(&pass);
            // As the renderer builds it (and `every_shader_validates_with_naga` checks it).
            let snippet = if text.contains("var<storage, read> palettes") {
                skinning.as_str()
            } else {
                ""
            };
            let source = format!("{shared}\n{snippet}\n{text}");
            let module = naga::front::wgsl::parse_str(&source)
                .unwrap_or_else(|e| panic!("{pass}: {}", e.emit_to_string(&source)));
            for (_, ty) in module.types.iter() {
                let (Some(name), naga::TypeInner::Struct { members, span }) = (&ty.name, &ty.inner)
                else {
                    continue;
                };
                let members = members
                    .iter()
                    .map(|m| {
                        let size = module.types[m.ty].inner.size(module.to_ctx());
                        (m.name.clone().unwrap_or_default(), m.offset, size)
                    })
                    .collect();
                out.entry(name.clone()).or_default().push((
                    pass.clone(),
                    WgslLayout {
                        members,
                        span: *span,
                    },
                ));
            }
        }
        out
    }

    /// Every difference between a Rust struct and its WGSL twin.
    fn compare(rust: &RustLayout, wgsl_name: &str, pass: &str, wgsl: &WgslLayout) -> Vec<String> {
        let mut problems = Vec::new();
        let what = format!("{} vs {wgsl_name} in {pass}", rust.name);
        if wgsl.span as usize != rust.size {
            problems.push(format!(
                "{what}: WGSL size {} != Rust size {}",
                wgsl.span, rust.size
            ));
        }
        // Bytes of each Rust field some WGSL member accounts for.
        let mut covered: BTreeMap<&str, usize> = BTreeMap::new();
        for (member, offset, size) in &wgsl.members {
            let (offset, size) = (*offset as usize, *size as usize);
            // `_padN` is element N of a Rust `_pad` array (or the whole of a scalar `_pad`).
            let (field, within) = match member.strip_prefix("_pad").map(str::parse::<usize>) {
                Some(Ok(n)) => ("_pad", n * size),
                _ => (member.as_str(), 0),
            };
            let Some(&(name, rust_offset, rust_size)) =
                rust.fields.iter().find(|(f, _, _)| *f == field)
            else {
                problems.push(format!("{what}: member {member} has no Rust field {field}"));
                continue;
            };
            if rust_offset + within != offset {
                problems.push(format!(
                    "{what}: {member} is at offset {offset} in WGSL, {} in Rust ({name})",
                    rust_offset + within
                ));
            }
            if within + size > rust_size || (within == 0 && member == field && size != rust_size) {
                problems.push(format!(
                    "{what}: {member} is {size} bytes in WGSL, field {name} is {rust_size} bytes in Rust"
                ));
            }
            *covered.entry(name).or_default() += size;
        }
        for &(name, _, size) in &rust.fields {
            let got = covered.get(name).copied().unwrap_or(0);
            if got != size {
                problems.push(format!(
                    "{what}: Rust field {name} ({size} bytes) has {got} bytes of WGSL members"
                ));
            }
        }
        problems
    }

    #[test]
    fn every_gpu_struct_has_the_layout_of_its_wgsl_twin() {
        let wgsl = wgsl_structs();
        let mut problems = Vec::new();
        let twins = twins();
        // Every struct of this file has a twin entry.
        let declared: Vec<&str> = include_str!("gpu_data.rs")
            .lines()
            .filter_map(|l| l.strip_prefix("pub struct "))
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        let mut covered: Vec<&str> = twins.iter().map(|(r, _)| r.name).collect();
        let mut declared_sorted = declared.clone();
        covered.sort_unstable();
        declared_sorted.sort_unstable();
        assert_eq!(
            covered, declared_sorted,
            "every struct in gpu_data.rs needs an entry in twins()"
        );
        for (rust, name) in &twins {
            let Some(found) = wgsl.get(*name) else {
                problems.push(format!("{}: no WGSL struct {name} in shaders/", rust.name));
                continue;
            };
            for (pass, layout) in found {
                problems.extend(compare(rust, name, pass, layout));
            }
        }
        assert!(problems.is_empty(), "\n{}", problems.join("\n"));
    }

    #[test]
    fn a_reordered_or_missing_member_is_reported() {
        let rust = rust_layout!(DrawParams { list_base, _pad });
        let good = WgslLayout {
            members: vec![
                ("list_base".into(), 0, 4),
                ("_pad0".into(), 4, 4),
                ("_pad1".into(), 8, 4),
                ("_pad2".into(), 12, 4),
            ],
            span: 16,
        };
        assert_eq!(
            compare(&rust, "DrawParams", "t", &good),
            Vec::<String>::new()
        );
        let mut swapped = good.clone();
        swapped.members[0] = ("list_base".into(), 4, 4);
        swapped.members[1] = ("_pad0".into(), 0, 4);
        assert_eq!(compare(&rust, "DrawParams", "t", &swapped).len(), 2);
        let mut short = good.clone();
        short.members.pop();
        assert_eq!(
            compare(&rust, "DrawParams", "t", &short),
            [
                "DrawParams vs DrawParams in t: Rust field _pad (12 bytes) has 8 bytes of WGSL members"
            ]
        );
    }
}
