//! A batch built in code, with no scene file: a ring of walking procedural humanoids on a ground
//! plane, seen by two cameras' worth of targets, rendered to PNG files across every adapter with
//! the [`tutti::Engine`].
//!
//! ```text
//! cargo run --release --example batch -- target/batch-example
//! ```

use anyhow::{Result, bail};
use std::path::{Path, PathBuf};
use tutti::offscreen::OffscreenOptions;
use tutti::scene::{AvatarGroup, Camera, Environment, Ground, Layout, SceneDesc, TargetDesc};
use tutti::{Engine, EngineOptions};

fn ring(count: u32, radius_spacing: f32, tint: (f32, f32, f32), speed: f32) -> AvatarGroup {
    AvatarGroup {
        asset: "humanoid:medium".into(),
        count,
        layout: Layout::Circle {
            spacing: radius_spacing,
        },
        position: (0.0, 0.0, 0.0),
        yaw: 0.0,
        scale: 1.0,
        clip: Some("walk".into()),
        speed,
        phase_offset: 0.0,
        phase_spread: 1.0,
        tint,
    }
}

fn main() -> Result<()> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "target/batch-example".into()),
    );
    let engine = Engine::new(EngineOptions::default())?;
    for device in engine.devices() {
        println!("device: {}", device.label);
    }

    let desc = SceneDesc {
        name: "ring".into(),
        fps: 24.0,
        frames: (0, 6),
        camera: Camera {
            eye: (0.0, 6.0, 11.0),
            target: (0.0, 0.8, 0.0),
            ..Camera::default()
        },
        targets: vec![
            TargetDesc {
                name: "wide".into(),
                width: 480,
                height: 270,
            },
            TargetDesc {
                name: "small".into(),
                width: 120,
                height: 68,
            },
        ],
        environment: Environment {
            ground: Some(Ground {
                size: 40.0,
                color: (0.42, 0.5, 0.34),
            }),
            ..Environment::default()
        },
        avatars: vec![
            ring(12, 1.6, (0.35, 0.55, 1.0), 1.0),
            ring(5, 1.4, (1.0, 0.5, 0.3), 0.8),
        ],
        lod: Default::default(),
        skinning: Default::default(),
        animation: Default::default(),
    };
    // The same validation as a scene file; problems are listed by field.
    let scene = engine.scene_from_desc(desc, Path::new("<examples/batch.rs>"))?;

    let report = engine.run_batch(
        &[scene],
        &OffscreenOptions {
            out_dir: out.clone(),
            ..Default::default()
        },
    )?;
    println!(
        "{} frames written to {} ({} failed)",
        report.written.len(),
        out.display(),
        report.failures.len()
    );
    if report.written.len() != 12 || !report.failures.is_empty() {
        bail!("expected 12 images (6 frames x 2 targets) and no failures");
    }
    Ok(())
}
