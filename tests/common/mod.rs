//! Shared helpers for GPU integration tests: one adapter list per test binary, a fresh device per
//! test, and golden-image comparison.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use tutti::gpu::{Discovery, GpuContext};

/// The adapter list, discovered once per test binary.
pub fn discovery() -> &'static Discovery {
    static D: OnceLock<Discovery> = OnceLock::new();
    D.get_or_init(Discovery::run)
}

/// True when missing software adapters must fail the test (CI sets `TUTTI_REQUIRE_ADAPTERS=1`).
fn required() -> bool {
    std::env::var("TUTTI_REQUIRE_ADAPTERS").is_ok_and(|v| v == "1")
}

fn find(backend: &str) -> Option<usize> {
    discovery()
        .adapters
        .iter()
        .find(|a| a.backend == backend && a.device_type == "Cpu" && a.is_ok())
        .map(|a| a.index)
}

fn open_or_skip(backend: &str, what: &str) -> Option<GpuContext> {
    match find(backend) {
        Some(i) => Some(
            discovery().adapters[i]
                .open()
                .unwrap_or_else(|e| panic!("{what}: {e}")),
        ),
        None if required() => panic!(
            "{what} ({backend}, software) is required (TUTTI_REQUIRE_ADAPTERS=1) but absent; adapters: {:?}",
            discovery()
                .adapters
                .iter()
                .map(|a| a.label())
                .collect::<Vec<_>>()
        ),
        None => {
            eprintln!("SKIPPED: {what} is not installed on this machine");
            None
        }
    }
}

/// Mesa 22.3's lavapipe sometimes crashes (SIGSEGV in its queue thread) when two of its
/// devices execute work at the same time in one process, as parallel tests do (seen in
/// tests/lod.rs about one run in five; never with the tests run one at a time). A test that
/// opens a lavapipe device therefore holds this process-wide lock until its thread ends (it is
/// re-entrant within the test). The engine itself opens one device per adapter.
fn serialize_lavapipe() {
    use std::cell::RefCell;
    use std::sync::{Mutex, MutexGuard};
    static LOCK: Mutex<()> = Mutex::new(());
    thread_local! {
        static HELD: RefCell<Option<MutexGuard<'static, ()>>> = const { RefCell::new(None) };
    }
    HELD.with(|held| {
        if held.borrow().is_none() {
            let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
            *held.borrow_mut() = Some(guard);
        }
    });
}

/// A fresh device on lavapipe (Mesa's Vulkan software rasteriser).
pub fn lavapipe() -> Option<GpuContext> {
    serialize_lavapipe();
    open_or_skip("vulkan", "lavapipe")
}

/// A fresh device on llvmpipe (Mesa's OpenGL software rasteriser).
pub fn llvmpipe() -> Option<GpuContext> {
    open_or_skip("gl", "llvmpipe")
}

/// A fresh device on lavapipe that enforces the adapter's limits as changed by `edit` (each
/// at most the adapter's): wgpu rejects anything beyond them.
pub fn lavapipe_with_limits(edit: impl FnOnce(&mut wgpu::Limits)) -> Option<GpuContext> {
    let Some(index) = find("vulkan") else {
        // Reports the absence: a panic under TUTTI_REQUIRE_ADAPTERS=1, else SKIPPED.
        return lavapipe();
    };
    serialize_lavapipe();
    open_with_limits(index, edit, "lavapipe")
}

/// A fresh device on llvmpipe with lowered limits (see [`lavapipe_with_limits`]).
pub fn llvmpipe_with_limits(edit: impl FnOnce(&mut wgpu::Limits)) -> Option<GpuContext> {
    let Some(index) = find("gl") else {
        return llvmpipe();
    };
    open_with_limits(index, edit, "llvmpipe")
}

fn open_with_limits(
    index: usize,
    edit: impl FnOnce(&mut wgpu::Limits),
    what: &str,
) -> Option<GpuContext> {
    let entry = &discovery().adapters[index];
    let mut limits = entry.limits();
    edit(&mut limits);
    Some(
        entry
            .open_with_limits(limits)
            .unwrap_or_else(|e| panic!("{what} with lowered limits: {e}")),
    )
}

/// Both software adapters, lavapipe first.
pub fn software_adapters() -> Vec<GpuContext> {
    [lavapipe(), llvmpipe()].into_iter().flatten().collect()
}

/// Path under `tests/`.
pub fn tests_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(rel)
}

/// Image difference statistics.
#[derive(Debug)]
pub struct Diff {
    /// Mean absolute channel difference (0..255).
    pub mean: f64,
    /// Fraction of pixels whose largest channel difference exceeds 16.
    pub bad_fraction: f64,
    /// Largest channel difference.
    pub max: u8,
}

/// Compare two RGBA8 images of the same size.
pub fn diff(a: &[u8], b: &[u8]) -> Diff {
    assert_eq!(a.len(), b.len(), "image sizes differ");
    let mut sum = 0u64;
    let mut bad = 0usize;
    let mut max = 0u8;
    for (pa, pb) in a.chunks_exact(4).zip(b.chunks_exact(4)) {
        let mut m = 0u8;
        for k in 0..3 {
            let d = pa[k].abs_diff(pb[k]);
            sum += u64::from(d);
            m = m.max(d);
        }
        max = max.max(m);
        if m > 16 {
            bad += 1;
        }
    }
    let pixels = a.len() / 4;
    Diff {
        mean: sum as f64 / (pixels * 3) as f64,
        bad_fraction: bad as f64 / pixels as f64,
        max,
    }
}

/// Tolerance of golden-image tests: mean channel difference at most 1.0 (of 255) and at most
/// 0.5 % of pixels off by more than 16 levels. This absorbs rasteriser differences along
/// silhouette edges between Mesa versions while catching any change in pose, colour or framing.
pub fn assert_matches_golden(name: &str, width: u32, height: u32, rgba: &[u8]) {
    let path = tests_path(&format!("golden/{name}.png"));
    if std::env::var("TUTTI_BLESS").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().expect("golden dir")).expect("create golden dir");
        let png = tutti::offscreen::encode_png(width, height, rgba).expect("encode");
        std::fs::write(&path, png).expect("write golden");
        eprintln!("blessed {}", path.display());
        return;
    }
    let golden = image::open(&path)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run with TUTTI_BLESS=1 to create it",
                path.display()
            )
        })
        .to_rgba8();
    assert_eq!(
        (golden.width(), golden.height()),
        (width, height),
        "{name}: size differs from golden"
    );
    let d = diff(golden.as_raw(), rgba);
    if d.mean > 1.0 || d.bad_fraction > 0.005 {
        let actual = std::env::temp_dir().join(format!("tutti-actual-{name}.png"));
        let _ = std::fs::write(
            &actual,
            tutti::offscreen::encode_png(width, height, rgba).unwrap_or_default(),
        );
        panic!(
            "{name}: differs from {}: {d:?}; actual image saved to {}",
            path.display(),
            actual.display()
        );
    }
}

/// Fraction of pixels that differ from the top-left pixel (the sky) by more than 8 levels.
pub fn covered_fraction(rgba: &[u8]) -> f64 {
    let sky = &rgba[..4];
    let covered = rgba
        .chunks_exact(4)
        .filter(|p| (0..3).any(|k| p[k].abs_diff(sky[k]) > 8))
        .count();
    covered as f64 / (rgba.len() / 4) as f64
}

/// The `tutti` binary with arguments, run in `cwd`, logging only warnings.
pub fn tutti_cmd(args: &[&str], cwd: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tutti"));
    c.args(args).current_dir(cwd).env("RUST_LOG", "warn");
    c
}

/// Run the `tutti` binary and collect its output.
pub fn tutti(args: &[&str], cwd: &Path) -> Output {
    tutti_cmd(args, cwd).output().expect("tutti runs")
}

/// A process's stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
