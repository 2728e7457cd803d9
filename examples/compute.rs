//! The job system driving a GPU compute pass, with no rendering: a job graph whose CPU jobs
//! build the initial state in parallel chunks, whose GPU job uploads it, runs `STEPS` compute
//! dispatches of `examples/compute.wgsl` (damped springs) and reads the result back, while a CPU
//! job integrates the same system as the twin; a last job compares the two.
//!
//! ```text
//! cargo run --release --example compute
//! ```

use anyhow::{Context, Result, bail};
use glam::Vec3;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tutti::gpu::{Discovery, GpuContext, read_buffer};
use tutti::jobs::{Executor, GraphBuilder, Priority};

const POINTS: usize = 1 << 16;
const CHUNK: usize = 4096;
const STEPS: u32 = 120;
const DT: f32 = 1.0 / 120.0;
const STIFFNESS: f32 = 4.0;
const DAMPING: f32 = 0.3;

/// `compute.wgsl`'s `Params`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    count: u32,
    dt: f32,
    stiffness: f32,
    damping: f32,
}

/// The CPU twin of one step of `compute.wgsl`.
fn step_cpu(p: &mut Vec3, v: &mut Vec3) {
    let a = *p * -STIFFNESS - *v * DAMPING;
    *v += a * DT;
    *p += *v * DT;
}

/// A deterministic starting point for point `i`.
fn start(i: usize) -> Vec3 {
    let t = i as f32 * 0.618_034;
    Vec3::new(t.sin() * 3.0, (t * 1.7).cos() * 2.0, (t * 0.37).sin())
}

#[derive(Default)]
struct State {
    start: Vec<Vec3>,
    gpu: Vec<Vec3>,
    cpu: Vec<Vec3>,
    gpu_ms: f64,
}

fn run_gpu(ctx: &GpuContext, start: &[Vec3]) -> Result<Vec<Vec3>, String> {
    use wgpu::util::DeviceExt;
    let device = &ctx.device;
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("compute_example::shader"),
        source: wgpu::ShaderSource::Wgsl(include_str!("compute.wgsl").into()),
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some("compute_example::step"),
        layout: None,
        module: &module,
        entry_point: Some("step"),
        compilation_options: Default::default(),
        cache: None,
    });
    let params = Params {
        count: start.len() as u32,
        dt: DT,
        stiffness: STIFFNESS,
        damping: DAMPING,
    };
    let init = |label, contents: &[u8], usage| {
        device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents,
            usage,
        })
    };
    let positions: Vec<[f32; 4]> = start.iter().map(|p| p.extend(1.0).to_array()).collect();
    let storage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC;
    let uniform = init(
        "compute_example::params",
        bytemuck::bytes_of(&params),
        wgpu::BufferUsages::UNIFORM,
    );
    let pos = init(
        "compute_example::positions",
        bytemuck::cast_slice(&positions),
        storage,
    );
    let vel = init(
        "compute_example::velocities",
        &vec![0u8; positions.len() * 16],
        storage,
    );
    let group = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("compute_example::group"),
        layout: &pipeline.get_bind_group_layout(0),
        entries: &[
            wgpu::BindGroupEntry {
                binding: 0,
                resource: uniform.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: 1,
                resource: pos.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: 2,
                resource: vel.as_entire_binding(),
            },
        ],
    });
    let staging = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("compute_example::staging"),
        size: pos.size(),
        usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
        mapped_at_creation: false,
    });
    let mut encoder = device.create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &group, &[]);
        // One dispatch per step: each dispatch sees the previous one's writes.
        for _ in 0..STEPS {
            pass.dispatch_workgroups(start.len().div_ceil(64) as u32, 1, 1);
        }
    }
    encoder.copy_buffer_to_buffer(&pos, 0, &staging, 0, pos.size());
    ctx.queue.submit([encoder.finish()]);
    let bytes = read_buffer(ctx, &staging).map_err(|e| e.to_string())?;
    let out: Vec<[f32; 4]> = bytemuck::pod_collect_to_vec(&bytes);
    Ok(out.iter().map(|p| Vec3::new(p[0], p[1], p[2])).collect())
}

fn main() -> Result<()> {
    let ctx = Arc::new(
        Discovery::run()
            .open_first(&Default::default())
            .context("no usable adapter; see the README for software adapters")?,
    );
    println!("GPU: {}", ctx.label);
    let exec = Executor::new(Default::default())?;
    let state = Arc::new(Mutex::new(State {
        start: vec![Vec3::ZERO; POINTS],
        ..Default::default()
    }));

    let mut g = GraphBuilder::new();
    // CPU: the initial state, in parallel chunks.
    let chunks: Vec<_> = (0..POINTS.div_ceil(CHUNK))
        .map(|c| {
            let s = state.clone();
            g.add(format!("init[{c}]"), Priority::High, move |_| {
                let values: Vec<Vec3> = (c * CHUNK..((c + 1) * CHUNK).min(POINTS))
                    .map(start)
                    .collect();
                let mut s = s.lock().map_err(|_| "state poisoned")?;
                s.start[c * CHUNK..c * CHUNK + values.len()].copy_from_slice(&values);
                Ok(())
            })
        })
        .collect();
    // GPU: upload, STEPS dispatches, read back.
    let (s, gpu_ctx) = (state.clone(), ctx.clone());
    let gpu = g.add("gpu_integrate", Priority::High, move |_| {
        let start = s.lock().map_err(|_| "state poisoned")?.start.clone();
        let t = Instant::now();
        let out = run_gpu(&gpu_ctx, &start)?;
        let mut s = s.lock().map_err(|_| "state poisoned")?;
        s.gpu_ms = t.elapsed().as_secs_f64() * 1e3;
        s.gpu = out;
        Ok(())
    });
    // CPU twin, alongside the GPU job.
    let s = state.clone();
    let cpu = g.add("cpu_twin", Priority::Normal, move |_| {
        let start = s.lock().map_err(|_| "state poisoned")?.start.clone();
        let out: Vec<Vec3> = start
            .into_iter()
            .map(|mut p| {
                let mut v = Vec3::ZERO;
                for _ in 0..STEPS {
                    step_cpu(&mut p, &mut v);
                }
                p
            })
            .collect();
        s.lock().map_err(|_| "state poisoned")?.cpu = out;
        Ok(())
    });
    for &c in &chunks {
        g.depends(gpu, c).depends(cpu, c);
    }
    let s = state.clone();
    let compare = g.add("compare", Priority::Normal, move |_| {
        let s = s.lock().map_err(|_| "state poisoned")?;
        let worst = s
            .gpu
            .iter()
            .zip(&s.cpu)
            .map(|(a, b)| a.distance(*b))
            .fold(0.0f32, f32::max);
        if s.gpu.len() != POINTS || worst > 1e-3 {
            return Err(format!(
                "GPU and CPU differ by up to {worst} over {} points",
                s.gpu.len()
            )
            .into());
        }
        println!("GPU matches the CPU twin within {worst:.2e} over {POINTS} points");
        Ok(())
    });
    g.depends(compare, gpu).depends(compare, cpu);

    let report = exec.run(&g.build()?);
    let s = state
        .lock()
        .map_err(|_| anyhow::anyhow!("state poisoned"))?;
    for job in report.jobs.iter().filter(|j| !j.name.starts_with("init")) {
        println!("job {:<14} {:?}", job.name, job.status);
    }
    if !report.ok() {
        bail!("a job failed; see above");
    }
    println!(
        "{} jobs on {} workers in {:.1} ms; GPU: {STEPS} steps of {POINTS} points in {:.1} ms \
         ({:.1} M point-steps/s)",
        report.jobs.len(),
        report.workers,
        report.wall.as_secs_f64() * 1e3,
        s.gpu_ms,
        f64::from(STEPS) * POINTS as f64 / (s.gpu_ms * 1e3)
    );
    Ok(())
}
