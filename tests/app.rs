//! `tutti run` for real: the desktop app under a real X server (Xvfb, started here), on both
//! software adapters. Each test runs the binary with `--exit-after-frames` and looks at the
//! screenshots it writes. Without Xvfb the tests skip, unless `TUTTI_REQUIRE_ADAPTERS=1` (CI),
//! where they fail.
#![cfg(feature = "app")]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

fn required() -> bool {
    std::env::var("TUTTI_REQUIRE_ADAPTERS").is_ok_and(|v| v == "1")
}

/// An Xvfb server on a free display, stopped when dropped.
struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    /// Start one (the server picks its display and reports it on `-displayfd`), or `None`
    /// (with a note) where Xvfb is not installed.
    fn start() -> Option<Self> {
        let spawned = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1600x1000x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                assert!(!required(), "Xvfb is needed on CI: {e}");
                eprintln!("skipping: Xvfb not available ({e}); apt-get install xvfb");
                return None;
            }
        };
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut line)
            .expect("Xvfb reports its display");
        let n = line.trim();
        assert!(!n.is_empty(), "Xvfb gave no display number");
        Some(Self {
            child,
            display: format!(":{n}"),
        })
    }

    /// `tutti ARGS` on this display, in `dir`.
    fn tutti(&self, args: &[&str], dir: &Path) -> Output {
        Command::new(env!("CARGO_BIN_EXE_tutti"))
            .args(args)
            .current_dir(dir)
            .env("DISPLAY", &self.display)
            .env_remove("WAYLAND_DISPLAY")
            .env("RUST_LOG", "info,wgpu_hal::gles::egl=off")
            .output()
            .expect("tutti runs")
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn rgb(path: &Path) -> image::RgbImage {
    image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8()
}

/// Pixels whose largest channel difference exceeds `tol`, in the rectangle (x0, y0)-(x1, y1).
fn differing(a: &image::RgbImage, b: &image::RgbImage, tol: u8, rect: [u32; 4]) -> usize {
    let [x0, y0, x1, y1] = rect;
    let mut n = 0;
    for y in y0..y1.min(a.height()) {
        for x in x0..x1.min(a.width()) {
            let (p, q) = (a.get_pixel(x, y), b.get_pixel(x, y));
            if (0..3).any(|i| p[i].abs_diff(q[i]) > tol) {
                n += 1;
            }
        }
    }
    n
}

/// Distinct colours: a blank (one-colour) frame has 1.
fn colours(img: &image::RgbImage) -> usize {
    let mut set: Vec<[u8; 3]> = img.pixels().map(|p| p.0).collect();
    set.sort_unstable();
    set.dedup();
    set.len()
}

/// The default scene under another name (so two windows have two names).
fn renamed_default(dir: &Path, name: &str) -> std::path::PathBuf {
    let text =
        tutti::scene::DEFAULT_SCENE.replace("name: \"default\"", &format!("name: \"{name}\""));
    let path = dir.join(format!("{name}.ron"));
    std::fs::write(&path, text).expect("write scene");
    path
}

#[test]
fn two_scenes_open_two_windows_on_two_adapters_and_write_two_screenshots() {
    let Some(x) = Xvfb::start() else { return };
    let tmp = tempfile::tempdir().expect("tmp");
    let second = renamed_default(tmp.path(), "second");
    let o = x.tutti(
        &[
            "run",
            concat!(env!("CARGO_MANIFEST_DIR"), "/scenes/default.ron"),
            second.to_str().expect("utf-8"),
            "--exit-after-frames",
            "6",
            "--screenshot",
            "shot.png",
        ],
        tmp.path(),
    );
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let mut adapters = Vec::new();
    for scene in ["default", "second"] {
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("{scene}: 6 frames on ")))
            .unwrap_or_else(|| panic!("no summary for {scene}: {}", text(&o)));
        adapters.push(
            line.split(" on ")
                .nth(1)
                .and_then(|r| r.split(';').next())
                .map(str::to_owned),
        );
        let shot = rgb(&tmp.path().join(format!("shot-{scene}.png")));
        assert_eq!(shot.dimensions(), (640, 360));
        assert!(colours(&shot) > 200, "{scene}'s screenshot looks blank");
    }
    // Both software adapters present (CI): one window each.
    if required() {
        assert_ne!(adapters[0], adapters[1], "{}", text(&o));
        assert!(out.contains("[vulkan]") && out.contains("[gl]"), "{out}");
    }
}

#[test]
fn the_overlay_is_drawn_and_fixed_step_frames_equal_offscreen_frames() {
    let Some(x) = Xvfb::start() else { return };
    let tmp = tempfile::tempdir().expect("tmp");
    for backend in ["vulkan", "gl"] {
        let run = |extra: &[&str], shot: &str| {
            let mut args = vec![
                "run",
                "--fixed-step",
                "--exit-after-frames",
                "13",
                "--adapters",
                backend,
                "--screenshot",
                shot,
            ];
            args.extend_from_slice(extra);
            x.tutti(&args, tmp.path())
        };
        let plain = run(&["--no-overlay"], "plain.png");
        if !plain.status.success()
            && !required()
            && String::from_utf8_lossy(&plain.stderr).contains("--adapters")
        {
            eprintln!("skipping {backend}: not available here");
            continue;
        }
        assert!(plain.status.success(), "{}", text(&plain));
        let with = run(&[], "overlay.png");
        assert!(with.status.success(), "{}", text(&with));
        let offscreen = x.tutti(
            &[
                "render",
                "--offscreen",
                "--adapters",
                backend,
                "--frames",
                "12",
                "--out",
                "off",
            ],
            tmp.path(),
        );
        assert!(offscreen.status.success(), "{}", text(&offscreen));

        // Frame 12 in the window (13 frames from frame 0) is the offscreen frame 12.
        let plain = rgb(&tmp.path().join("plain.png"));
        let reference = rgb(&tmp.path().join("off/default/main/000012.png"));
        assert_eq!(plain.dimensions(), reference.dimensions());
        let whole = [0, 0, 640, 360];
        let off = differing(&plain, &reference, 2, whole);
        assert!(
            off <= 640 * 360 / 1000,
            "{backend}: {off} pixels differ from the offscreen frame"
        );

        // The overlay covers the top-left corner and nothing else.
        let overlay = rgb(&tmp.path().join("overlay.png"));
        let corner = differing(&overlay, &plain, 8, [10, 10, 300, 200]);
        assert!(
            corner > 20_000,
            "{backend}: the overlay changed only {corner} pixels"
        );
        let right = differing(&overlay, &plain, 2, [420, 0, 640, 360]);
        assert!(
            right < 50,
            "{backend}: {right} pixels changed right of the overlay"
        );
        let o = rgb(&tmp.path().join("overlay.png"));
        assert!(colours(&o) > colours(&plain), "text and plot add colours");
    }
}

#[test]
fn resizing_to_one_pixel_minimising_and_back_does_not_crash() {
    let Some(x) = Xvfb::start() else { return };
    let tmp = tempfile::tempdir().expect("tmp");
    let o = x.tutti(
        &[
            "run",
            "--adapters",
            "vulkan",
            "--exit-after-frames",
            "14",
            "--resize-at",
            "3:1x1",
            "--resize-at",
            "6:0x0",
            "--resize-at",
            "9:320x200",
            "--resize-at",
            "11:640x360",
            "--screenshot",
            "after.png",
        ],
        tmp.path(),
    );
    assert!(o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    for size in ["1x1", "0x0", "320x200", "640x360"] {
        assert!(
            err.contains(&format!("scripted resize to {size}")),
            "{size}: {}",
            text(&o)
        );
    }
    let shot = rgb(&tmp.path().join("after.png"));
    assert_eq!(shot.dimensions(), (640, 360));
    assert!(colours(&shot) > 200);
}

#[test]
fn without_a_display_run_says_so_in_one_line_and_fails() {
    let tmp = tempfile::tempdir().expect("tmp");
    let o = Command::new(env!("CARGO_BIN_EXE_tutti"))
        .arg("run")
        .current_dir(tmp.path())
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("WAYLAND_SOCKET")
        .output()
        .expect("runs");
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains("no display"), "{err}");
    assert!(lines[0].contains("tutti render --offscreen"), "{err}");
    assert!(!err.contains("panicked"));
}
