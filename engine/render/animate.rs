//! The animation pass (`shaders/animate.wgsl`): samples every avatar's clip on the GPU and writes
//! the joint palettes, so the CPU uploads nothing per avatar per frame (scene option
//! `animation: Gpu`). [`crate::anim`] is its CPU reference; the tests compare the two.
//!
//! The skeletons, clips and keyframes of a scene's assets are packed once into storage buffers
//! ([`AnimData`]); each frame only the scene time is written.
//!
//! One thread per avatar; more than `max_compute_workgroups_per_dimension` workgroups are
//! folded into x and y ([`crate::gpu::split_workgroups`]).

use super::common::{ANIMATE_SHADER, bind_group, pipeline_layout};
use super::gpu_data::{AnimAvatar, AnimBinding, AnimChannel, AnimClip, AnimNode, AnimParams};
use crate::assets::{Interpolation, Property};
use crate::gpu::GpuContext;
use crate::scene::World;
use wgpu::util::DeviceExt;

/// Workgroup width of `animate.wgsl`.
pub const WORKGROUP: u32 = 64;
/// The pass's name in limit errors.
pub(super) const PIPELINE: &str = "animation";

bind_group! {
    /// The pass's group, one per scene.
    pub struct AnimateBindings {
        /// [`AnimParams`]: the frame's scene time.
        params: uniform(false, wgpu::ShaderStages::COMPUTE),
        /// Per avatar: asset, clip, phase, speed ([`AnimAvatar`]).
        avatars: storage(true, wgpu::ShaderStages::COMPUTE),
        /// Skeleton nodes ([`AnimNode`]).
        nodes: storage(true, wgpu::ShaderStages::COMPUTE),
        /// Joint bindings ([`AnimBinding`]).
        bindings: storage(true, wgpu::ShaderStages::COMPUTE),
        /// Clips ([`AnimClip`]).
        clips: storage(true, wgpu::ShaderStages::COMPUTE),
        /// Channels ([`AnimChannel`]).
        channels: storage(true, wgpu::ShaderStages::COMPUTE),
        /// Keyframe times.
        times: storage(true, wgpu::ShaderStages::COMPUTE),
        /// Keyframe values.
        values: storage(true, wgpu::ShaderStages::COMPUTE),
        /// Output palettes.
        palettes: storage(false, wgpu::ShaderStages::COMPUTE),
        /// Per node, its channel table.
        node_channels: storage(true, wgpu::ShaderStages::COMPUTE),
        /// Node matrix scratch.
        globals: storage(false, wgpu::ShaderStages::COMPUTE),
    }
}

/// Bytes of a storage buffer holding `bytes` (empty arrays still need a binding: at least 64).
pub(super) fn storage_bytes(bytes: usize) -> u64 {
    bytes.max(64) as u64
}

/// Pipeline and layout of the pass, built once per device.
pub struct AnimatePass {
    pipeline: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
}

impl AnimatePass {
    /// Build the pipeline on a device.
    pub fn new(ctx: &GpuContext) -> Self {
        let device = &ctx.device;
        let layout = AnimateBindings::create_layout(device, "animate::layout");
        let pipeline_layout = pipeline_layout(ctx, "animate", &[&layout]);
        let module = ANIMATE_SHADER.module(device);
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("animate::pipeline"),
            layout: Some(&pipeline_layout),
            module: &module,
            entry_point: Some("animate"),
            compilation_options: Default::default(),
            cache: None,
        });
        Self { pipeline, layout }
    }

    /// Record the palettes of every avatar.
    pub fn record(&self, encoder: &mut wgpu::CommandEncoder, scene: &AnimGpu) {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("animate::pass"),
            timestamp_writes: None,
        });
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &scene.group, &[]);
        pass.dispatch_workgroups(scene.dispatch[0], scene.dispatch[1], 1);
    }
}

/// A world's skeletons, clips and keyframes packed for the pass.
#[derive(Debug, Clone, Default)]
pub struct AnimData {
    /// Per avatar: its asset's ranges, clip, speed, phase and palette.
    pub avatars: Vec<AnimAvatar>,
    /// Rest transforms and parents of every asset's nodes.
    pub nodes: Vec<AnimNode>,
    /// Inverse bind matrices and nodes of every asset's bindings.
    pub bindings: Vec<AnimBinding>,
    /// Every asset's clips.
    pub clips: Vec<AnimClip>,
    /// Every clip's channels.
    pub channels: Vec<AnimChannel>,
    /// Key times.
    pub times: Vec<f32>,
    /// Key values (cubic splines: in-tangent, value, out-tangent per key).
    pub values: Vec<[f32; 4]>,
    /// Per clip and node of its asset: the channels of translation, rotation, scale (-1: none).
    pub node_channels: Vec<[i32; 4]>,
    /// Node matrices of all avatars (the scratch buffer's length).
    pub global_count: usize,
}

impl AnimData {
    /// Pack a world.
    pub fn new(world: &World) -> Self {
        let mut d = Self::default();
        // Per asset: node, binding and clip offsets.
        let mut offsets = Vec::new();
        for asset in &world.assets {
            offsets.push((d.nodes.len(), d.bindings.len(), d.clips.len()));
            for n in &asset.skeleton.nodes {
                d.nodes.push(AnimNode {
                    translation: n.rest.translation.extend(0.0).to_array(),
                    rotation: n.rest.rotation.to_array(),
                    scale: n.rest.scale.extend(0.0).to_array(),
                    parent: n.parent.map_or(-1, |p| p as i32),
                    _pad: [0; 3],
                });
            }
            for b in &asset.skeleton.bindings {
                d.bindings.push(AnimBinding {
                    inverse_bind: b.inverse_bind.to_cols_array_2d(),
                    node: b.node as u32,
                    _pad: [0; 3],
                });
            }
            for clip in &asset.clips {
                let table = d.node_channels.len();
                d.clips.push(AnimClip {
                    duration: clip.duration,
                    first_channel: d.channels.len() as u32,
                    channel_count: clip.channels.len() as u32,
                    node_table: table as u32,
                });
                d.node_channels
                    .extend(std::iter::repeat_n([-1; 4], asset.skeleton.nodes.len()));
                for (c, ch) in clip.channels.iter().enumerate() {
                    // As on the CPU, a later channel for the same property wins.
                    if let Some(entry) = d.node_channels.get_mut(table + ch.node) {
                        let slot = match ch.property {
                            Property::Translation => 0,
                            Property::Rotation => 1,
                            Property::Scale => 2,
                        };
                        entry[slot] = (d.channels.len() + c) as i32;
                    }
                }
                for ch in &clip.channels {
                    d.channels.push(AnimChannel {
                        node: ch.node as u32,
                        property: match ch.property {
                            Property::Translation => 0,
                            Property::Rotation => 1,
                            Property::Scale => 2,
                        },
                        interpolation: match ch.interpolation {
                            Interpolation::Step => 0,
                            Interpolation::Linear => 1,
                            Interpolation::CubicSpline => 2,
                        },
                        key_count: ch.times.len() as u32,
                        first_time: d.times.len() as u32,
                        first_value: d.values.len() as u32,
                        _pad: [0; 2],
                    });
                    d.times.extend_from_slice(&ch.times);
                    d.values.extend(ch.values.iter().map(|v| v.to_array()));
                }
            }
        }
        for a in &world.avatars {
            let asset = &world.assets[a.asset];
            let (node, binding, clip) = offsets[a.asset];
            d.avatars.push(AnimAvatar {
                node_offset: node as u32,
                node_count: asset.skeleton.nodes.len() as u32,
                binding_offset: binding as u32,
                binding_count: asset.skeleton.bindings.len() as u32,
                clip: a.clip.map_or(-1, |c| (clip + c) as i32),
                speed: a.speed,
                phase: a.phase,
                palette_offset: a.palette_offset,
                global_offset: d.global_count as u32,
                _pad: [0; 3],
            });
            d.global_count += asset.skeleton.nodes.len();
        }
        d
    }

    /// The packed tables as the storage buffers of bindings 1 to 7 and 9, with their labels.
    pub fn buffers(&self) -> [(&'static str, &[u8]); 8] {
        [
            ("animate::avatars", bytemuck::cast_slice(&self.avatars)),
            ("animate::nodes", bytemuck::cast_slice(&self.nodes)),
            ("animate::bindings", bytemuck::cast_slice(&self.bindings)),
            ("animate::clips", bytemuck::cast_slice(&self.clips)),
            ("animate::channels", bytemuck::cast_slice(&self.channels)),
            ("animate::times", bytemuck::cast_slice(&self.times)),
            ("animate::values", bytemuck::cast_slice(&self.values)),
            (
                "animate::node_channels",
                bytemuck::cast_slice(&self.node_channels),
            ),
        ]
    }

    /// Bytes of the node matrix scratch buffer (binding 10).
    pub fn globals_bytes(&self) -> u64 {
        storage_bytes(self.global_count * 64)
    }
}

/// A world's animation data on one device, bound to its palette buffer.
pub struct AnimGpu {
    params: wgpu::Buffer,
    group: wgpu::BindGroup,
    avatars: u32,
    dispatch: [u32; 2],
}

impl AnimGpu {
    /// Upload a world's animation data (packed as [`AnimData::new`] does); the pass writes
    /// into `palettes` with `dispatch` workgroups `[x, y]`, which must cover one thread per
    /// avatar (see `limits.rs`).
    pub fn new(
        ctx: &GpuContext,
        pass: &AnimatePass,
        data: &AnimData,
        palettes: &wgpu::Buffer,
        dispatch: [u32; 2],
    ) -> Self {
        let device = &ctx.device;
        let storage = |label: &str, bytes: &[u8]| {
            let mut contents = bytes.to_vec();
            contents.resize(storage_bytes(contents.len()) as usize, 0);
            device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: &contents,
                usage: wgpu::BufferUsages::STORAGE,
            })
        };
        let params = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("animate::params"),
            size: size_of::<AnimParams>() as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let [
            avatars,
            nodes,
            bindings,
            clips,
            channels,
            times,
            values,
            node_channels,
        ] = data.buffers().map(|(label, bytes)| storage(label, bytes));
        let globals = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("animate::globals"),
            size: data.globals_bytes(),
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        });
        let group = AnimateBindings {
            params: params.as_entire_binding(),
            avatars: avatars.as_entire_binding(),
            nodes: nodes.as_entire_binding(),
            bindings: bindings.as_entire_binding(),
            clips: clips.as_entire_binding(),
            channels: channels.as_entire_binding(),
            times: times.as_entire_binding(),
            values: values.as_entire_binding(),
            palettes: palettes.as_entire_binding(),
            node_channels: node_channels.as_entire_binding(),
            globals: globals.as_entire_binding(),
        }
        .create(device, &pass.layout, "animate::group");
        Self {
            params,
            group,
            avatars: data.avatars.len() as u32,
            dispatch,
        }
    }

    /// Write the frame's scene time (before recording the pass).
    pub fn set_time(&self, ctx: &GpuContext, time: f32) {
        ctx.queue.write_buffer(
            &self.params,
            0,
            bytemuck::bytes_of(&AnimParams {
                time,
                avatar_count: self.avatars,
                _pad: [0; 2],
            }),
        );
    }
}
