//! GPU copies of an asset's mesh: rest vertices (a storage buffer for the skin pass and a vertex
//! buffer for vertex skinning), UVs, the indices of every LOD level in one buffer, and one bind
//! group per material.

use super::avatar::{AvatarDraws, AvatarPass};
use super::common::MAX_LODS;
use super::gpu_data::{MaterialUniform, RestVertex};
use super::skin::{SkinMeshBindings, SkinPass};
use crate::assets::Asset;
use crate::gpu::GpuContext;
use wgpu::util::DeviceExt;

/// An asset's geometry on one device.
pub struct GpuMesh {
    /// Vertices per avatar.
    pub vertex_count: u32,
    /// Group 1 of the skin pass.
    pub rest_group: wgpu::BindGroup,
    /// TEXCOORD_0 per vertex (vertex buffer slot 0 of the raster pass).
    pub uvs: wgpu::Buffer,
    /// Triangle indices of every level, level after level.
    pub indices: wgpu::Buffer,
    /// Material bind group of each submesh.
    pub materials: Vec<wgpu::BindGroup>,
    /// Rest vertices ([`RestVertex`]): storage for the skin pass, vertex buffer for vertex skinning.
    pub rest: wgpu::Buffer,
}

/// The sizes of an asset's GPU copy, known before anything is created (checked against the
/// device's limits in `limits.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct MeshSizes {
    /// Vertices per avatar.
    pub vertices: u64,
    /// Bytes of the rest vertices (a storage binding of the skin pass and a vertex buffer).
    pub rest_bytes: u64,
    /// Bytes of the UV vertex buffer.
    pub uv_bytes: u64,
    /// Indices of every level.
    pub indices: u64,
    /// Bytes of the index buffer.
    pub index_bytes: u64,
    /// Per submesh: its material's name and texture size, if it has a texture.
    pub textures: Vec<(String, u32, u32)>,
}

impl MeshSizes {
    /// The sizes [`GpuMesh::new`] will allocate for `asset`.
    pub fn of(asset: &Asset) -> Self {
        let vertices = asset.mesh.vertices.len() as u64;
        let indices: u64 = asset.lods().iter().map(|l| l.indices.len() as u64).sum();
        let textures = asset
            .mesh
            .submeshes
            .iter()
            .filter_map(|sm| asset.mesh.materials.get(sm.material))
            .filter_map(|m| {
                let t = m.texture.as_deref()?;
                Some((m.name.clone(), t.width, t.height))
            })
            .collect();
        Self {
            vertices,
            rest_bytes: vertices * size_of::<RestVertex>() as u64,
            uv_bytes: vertices * size_of::<[f32; 2]>() as u64,
            indices,
            index_bytes: indices * size_of::<u32>() as u64,
            textures,
        }
    }
}

impl GpuMesh {
    /// Upload an asset. Check its sizes against the device's limits first (as
    /// `SceneRenderer::new` does): wgpu reports a buffer or texture too large for the device as
    /// a validation error, which makes the whole device unusable.
    pub fn new(ctx: &GpuContext, skin: &SkinPass, avatar: &AvatarPass, asset: &Asset) -> Self {
        let device = &ctx.device;
        let name = &asset.name;
        let rest: Vec<RestVertex> = asset
            .mesh
            .vertices
            .iter()
            .map(|v| RestVertex {
                position: v.position.extend(1.0).to_array(),
                normal: v.normal.extend(0.0).to_array(),
                joints: v.joints,
                weights: v.weights,
            })
            .collect();
        let rest_buf = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(&format!("mesh::rest[{name}]")),
            contents: bytemuck::cast_slice(&rest),
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::VERTEX,
        });
        let rest_group = skin.mesh_group(
            device,
            name,
            &SkinMeshBindings {
                rest: rest_buf.as_entire_binding(),
            },
        );
        let uv: Vec<[f32; 2]> = asset
            .mesh
            .vertices
            .iter()
            .map(|v| v.uv.to_array())
            .collect();
        let uvs = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(&format!("mesh::uv[{name}]")),
            contents: bytemuck::cast_slice(&uv),
            usage: wgpu::BufferUsages::VERTEX,
        });
        // Every level's indices, level after level (the draws' ranges: `tables::MeshLayout`).
        let all_indices: Vec<u32> = asset
            .lods()
            .iter()
            .flat_map(|level| level.indices.iter().copied())
            .collect();
        debug_assert_eq!(
            [rest.len(), uv.len(), all_indices.len()].map(|n| n as u64),
            {
                let s = MeshSizes::of(asset);
                [s.vertices, s.vertices, s.indices]
            },
            "the limits check sized {name} differently"
        );
        let indices = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(&format!("mesh::indices[{name}]")),
            contents: bytemuck::cast_slice(&all_indices),
            usage: wgpu::BufferUsages::INDEX,
        });
        let materials = asset
            .mesh
            .submeshes
            .iter()
            .map(|sm| {
                let material = asset
                    .mesh
                    .materials
                    .get(sm.material)
                    .cloned()
                    .unwrap_or_default();
                let uniform = MaterialUniform {
                    base_color: material.base_color.to_array(),
                };
                avatar.material_group(
                    ctx,
                    &format!("{name}/{}", material.name),
                    &uniform,
                    material.texture.as_deref(),
                )
            })
            .collect();
        Self {
            vertex_count: rest.len() as u32,
            rest_group,
            uvs,
            indices,
            materials,
            rest: rest_buf,
        }
    }

    /// This mesh's draws for the avatar pass.
    pub fn draws(&self, first_draw: u32, level_params: [u32; MAX_LODS]) -> AvatarDraws<'_> {
        AvatarDraws {
            uvs: &self.uvs,
            rest: &self.rest,
            indices: &self.indices,
            materials: &self.materials,
            first_draw,
            level_params,
        }
    }
}
