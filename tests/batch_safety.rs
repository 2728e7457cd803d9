//! Batch safety through the CLI: shared output folders, the folder lock, exact resume, malformed
//! manifests, hostile numbers, panics in the encoder, a full disk, and a quiet headless start.

mod common;

use common::{stderr, tutti as run, tutti_cmd};
use std::collections::HashSet;
use std::path::Path;
use std::process::Output;
use tutti::offscreen::manifest::{load_counted, verify_entry};

fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stdout),
        stderr(o)
    );
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A failure the CLI reported, not a crash: exit status 1, never a signal or abort (134).
fn clean_failure(o: &Output) {
    assert_eq!(
        o.status.code(),
        Some(1),
        "expected a clean error exit; stdout:\n{}\nstderr:\n{}",
        stdout(o),
        stderr(o)
    );
}

/// A scene that renders fast on a software adapter: `frames` frames of one small target.
fn tiny_scene(dir: &Path, file: &str, name: &str, width: u32, frames: u32) {
    std::fs::write(
        dir.join(file),
        format!(
            r#"Scene(name: "{name}", frames: (0, {frames}), targets: [(name: "main", width: {width}, height: 36)],
                     avatars: [(asset: "RiggedSimple", count: 2, clip: "clip0")])"#
        ),
    )
    .expect("scene");
}

fn render_args<'a>(scene: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "render",
        scene,
        "--offscreen",
        "--out",
        "out",
        "--adapters",
        "0",
    ];
    a.extend_from_slice(extra);
    a
}

/// Every file of the manifest verifies and appears once; returns the number of entries.
fn verify_manifest(out: &Path, name: &str) -> usize {
    let loaded = load_counted(&out.join(name)).expect("manifest");
    assert_eq!(loaded.malformed, 0, "malformed manifest lines");
    for e in &loaded.entries {
        verify_entry(out, e).expect("checksum verifies");
    }
    let keys: HashSet<_> = loaded.entries.iter().map(|e| e.key()).collect();
    assert_eq!(keys.len(), loaded.entries.len(), "duplicate entries");
    loaded.entries.len()
}

fn png_width(path: &Path) -> u32 {
    image::image_dimensions(path).expect("a readable PNG").0
}

#[test]
fn a_live_writers_temporary_file_survives_another_runs_start() {
    let tmp = tempfile::tempdir().expect("tmp");
    tiny_scene(tmp.path(), "s.ron", "s", 64, 2);
    let dir = tmp.path().join("out/s/main");
    std::fs::create_dir_all(&dir).expect("dir");
    // Another process (here: this test) is writing a frame: it holds its temporary file's lock.
    let live = dir.join(".000007.png.999-00000000deadbeef-0.tmp");
    let writer = std::fs::File::create(&live).expect("create");
    writer.lock().expect("lock");
    std::fs::write(&live, b"half a png").expect("write");
    // A dead writer's leftover: unlocked.
    let dead = dir.join(".000008.png.998-00000000feedface-0.tmp");
    std::fs::write(&dead, b"half a png").expect("write");

    ok(&run(&render_args("s.ron", &["--shard", "0/2"]), tmp.path()));
    assert!(live.exists(), "a live writer's temporary file was deleted");
    assert!(!dead.exists(), "a dead writer's temporary file was kept");
    drop(writer);
}

#[test]
fn shards_sharing_one_folder_all_finish_and_merge_verifies_them() {
    let tmp = tempfile::tempdir().expect("tmp");
    tiny_scene(tmp.path(), "s.ron", "s", 96, 12);
    let children: Vec<_> = (0..3)
        .map(|k| {
            let shard = format!("{k}/3");
            tutti_cmd(
                &render_args("s.ron", &["--shard", &shard, "--resume"]),
                tmp.path(),
            )
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn")
        })
        .collect();
    for c in children {
        ok(&c.wait_with_output().expect("wait"));
    }
    let out = tmp.path().join("out");
    let total: usize = (0..3)
        .map(|k| verify_manifest(&out, &format!("manifest.shard-{k}-of-3.jsonl")))
        .sum();
    assert_eq!(total, 12);
    let o = run(&["manifest", "merge", "out"], tmp.path());
    ok(&o);
    assert_eq!(verify_manifest(&out, "manifest.jsonl"), 12);
}

#[test]
fn a_second_copy_of_the_same_run_refuses_and_names_the_holder() {
    let tmp = tempfile::tempdir().expect("tmp");
    tiny_scene(tmp.path(), "s.ron", "s", 64, 2);
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).expect("out");
    // Hold the unsharded run's lock, as a running `tutti render` does.
    let held = tutti::offscreen::OutputLock::acquire(&out, "manifest.jsonl").expect("lock");
    let o = run(&render_args("s.ron", &[]), tmp.path());
    clean_failure(&o);
    let e = stderr(&o);
    assert!(e.contains("in use by another tutti run"), "{e}");
    assert!(e.contains(&format!("pid {}", std::process::id())), "{e}");
    assert!(
        !out.join("manifest.jsonl").exists(),
        "the refused run wrote"
    );
    // A sharded run would render the same frames as the unsharded one: refused too.
    let o = run(&render_args("s.ron", &["--shard", "1/2"]), tmp.path());
    clean_failure(&o);
    assert!(stderr(&o).contains("no --shard"), "{}", stderr(&o));
    drop(held);
    ok(&run(&render_args("s.ron", &[]), tmp.path()));

    // Another shard of the same split is not blocked; shards of another split are.
    let held =
        tutti::offscreen::OutputLock::acquire(&out, "manifest.shard-0-of-2.jsonl").expect("lock");
    ok(&run(&render_args("s.ron", &["--shard", "1/2"]), tmp.path()));
    let o = run(&render_args("s.ron", &["--shard", "0/3"]), tmp.path());
    clean_failure(&o);
    assert!(stderr(&o).contains("--shard 0/2"), "{}", stderr(&o));
    // Merging while a shard still writes is refused too, naming it.
    let o = run(&["manifest", "merge", "out"], tmp.path());
    clean_failure(&o);
    assert!(stderr(&o).contains("still being written"), "{}", stderr(&o));
    drop(held);
}

#[test]
fn scene_names_that_collide_with_run_files_or_each_other_are_refused() {
    let tmp = tempfile::tempdir().expect("tmp");
    tiny_scene(tmp.path(), "a.ron", "Crowd", 64, 1);
    tiny_scene(tmp.path(), "b.ron", "crowd", 64, 1);
    let o = run(
        &["render", "a.ron", "b.ron", "--offscreen", "--out", "out"],
        tmp.path(),
    );
    clean_failure(&o);
    assert!(stderr(&o).contains("ignoring case"), "{}", stderr(&o));
    for reserved in ["plan.json", "manifest.jsonl", "Manifest.shard-0-of-2.jsonl"] {
        tiny_scene(tmp.path(), "r.ron", reserved, 64, 1);
        let o = run(
            &["render", "r.ron", "--offscreen", "--out", "out"],
            tmp.path(),
        );
        clean_failure(&o);
        assert!(
            stderr(&o).contains("collides with tutti's own files"),
            "{reserved}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn resume_renders_again_what_a_changed_scene_makes_stale() {
    let tmp = tempfile::tempdir().expect("tmp");
    tiny_scene(tmp.path(), "s.ron", "s", 64, 3);
    ok(&run(&render_args("s.ron", &[]), tmp.path()));
    let frame = tmp.path().join("out/s/main/000001.png");
    assert_eq!(png_width(&frame), 64);

    // Unchanged: everything is kept.
    let o = run(&render_args("s.ron", &["--resume"]), tmp.path());
    ok(&o);
    assert!(stdout(&o).contains("kept 3 files"), "{}", stdout(&o));

    // A wider target: every file is stale and rendered again.
    tiny_scene(tmp.path(), "s.ron", "s", 80, 3);
    let o = run(&render_args("s.ron", &["--resume"]), tmp.path());
    ok(&o);
    let text = stdout(&o);
    assert!(text.contains("3 stale files"), "{text}");
    assert!(text.contains("kept 0 files"), "{text}");
    assert_eq!(png_width(&frame), 80, "the old image was kept");
    assert_eq!(
        verify_manifest(&tmp.path().join("out"), "manifest.jsonl"),
        3
    );

    // PNG compression changes the bytes too.
    let o = run(
        &render_args("s.ron", &["--resume", "--png-compression", "best"]),
        tmp.path(),
    );
    ok(&o);
    assert!(stdout(&o).contains("3 stale files"), "{}", stdout(&o));
}

#[test]
fn resume_refuses_unreadable_foreign_or_old_plans_and_says_what_to_do() {
    let tmp = tempfile::tempdir().expect("tmp");
    tiny_scene(tmp.path(), "s.ron", "s", 64, 1);
    let plan = tmp.path().join("out/plan.json");
    std::fs::create_dir_all(plan.parent().expect("out")).expect("out");
    for (text, expect) in [
        ("{ torn", "not a tutti run plan"),
        (
            r#"{"scenes": [{"name": "s", "frames": [0, 1], "targets": ["main"]}]}"#,
            "older tutti",
        ),
    ] {
        std::fs::write(&plan, text).expect("plan");
        let o = run(&render_args("s.ron", &["--resume"]), tmp.path());
        clean_failure(&o);
        assert!(stderr(&o).contains(expect), "{text}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("--out") || stderr(&o).contains("without --resume"),
            "{}",
            stderr(&o)
        );
    }
    // A file that is not ours is never overwritten, even without --resume.
    std::fs::write(&plan, "my own notes").expect("plan");
    let o = run(&render_args("s.ron", &[]), tmp.path());
    clean_failure(&o);
    assert_eq!(
        std::fs::read_to_string(&plan).expect("plan"),
        "my own notes"
    );
    // An older tutti's plan is replaced by a fresh run.
    std::fs::write(&plan, r#"{"scenes": []}"#).expect("plan");
    ok(&run(&render_args("s.ron", &[]), tmp.path()));
}

#[test]
fn a_malformed_line_in_the_middle_of_the_manifest_does_not_block_resume() {
    let tmp = tempfile::tempdir().expect("tmp");
    tiny_scene(tmp.path(), "s.ron", "s", 64, 4);
    ok(&run(&render_args("s.ron", &[]), tmp.path()));
    let path = tmp.path().join("out/manifest.jsonl");
    let text = std::fs::read_to_string(&path).expect("manifest");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 4);
    // A disk filled mid-line, space was freed, and a later run appended after it.
    let half = lines[1].len() / 2;
    lines[1].truncate(half);
    std::fs::write(&path, lines.join("\n") + "\n").expect("tear");
    let o = run(&render_args("s.ron", &["--resume"]), tmp.path());
    ok(&o);
    let t = stdout(&o);
    assert!(t.contains("1 malformed manifest lines"), "{t}");
    assert!(t.contains("kept 3 files"), "{t}");
    assert!(t.contains("wrote 1 files"), "{t}");
    assert_eq!(
        verify_manifest(&tmp.path().join("out"), "manifest.jsonl"),
        4
    );
}

#[test]
fn hostile_numbers_are_refused_with_their_range() {
    let tmp = tempfile::tempdir().expect("tmp");
    tiny_scene(tmp.path(), "s.ron", "s", 64, 1);
    let cases: [(&[&str], &str); 4] = [
        (&["--frames", "0..4000000000"], "1000000"),
        (&["--frames-in-flight", "100000"], "1..=16"),
        (&["--workers", "1000000000"], "1..=1024"),
        (&["--frames-in-flight", "0"], "1..=16"),
    ];
    for (extra, expect) in cases {
        let o = run(&render_args("s.ron", extra), tmp.path());
        clean_failure(&o);
        assert!(stderr(&o).contains(expect), "{extra:?}: {}", stderr(&o));
    }
    let o = tutti_cmd(&render_args("s.ron", &[]), tmp.path())
        .env("TUTTI_WORKERS", "1000000000")
        .output()
        .expect("runs");
    clean_failure(&o);
    assert!(stderr(&o).contains("TUTTI_WORKERS"), "{}", stderr(&o));
}

#[test]
fn a_panic_while_encoding_is_a_reported_failure_not_an_abort() {
    let tmp = tempfile::tempdir().expect("tmp");
    tiny_scene(tmp.path(), "s.ron", "s", 64, 3);
    let o = tutti_cmd(&render_args("s.ron", &[]), tmp.path())
        .env("TUTTI_FAULT_ENCODE_PANIC", "1")
        .output()
        .expect("runs");
    clean_failure(&o);
    let e = stderr(&o);
    assert!(
        e.contains("frame 1") && e.contains("encoding panicked"),
        "{e}"
    );
    let out = tmp.path().join("out");
    assert_eq!(verify_manifest(&out, "manifest.jsonl"), 2, "frames 0 and 2");
    // The failed frame is rendered by a resume.
    let o = run(&render_args("s.ron", &["--resume"]), tmp.path());
    ok(&o);
    assert_eq!(verify_manifest(&out, "manifest.jsonl"), 3);
}

#[test]
fn no_xdg_runtime_dir_complaints_on_a_headless_machine() {
    let tmp = tempfile::tempdir().expect("tmp");
    let o = tutti_cmd(&["adapters"], tmp.path())
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .expect("runs");
    ok(&o);
    assert!(
        !stderr(&o).contains("XDG_RUNTIME_DIR"),
        "stray lines: {}",
        stderr(&o)
    );
}

/// Mount a tmpfs of `size` at `dir` (root with CAP_SYS_ADMIN only).
fn mount_tmpfs(dir: &Path, size: &str) -> Result<(), String> {
    let o = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir)
        .output()
        .map_err(|e| format!("cannot run mount: {e}"))?;
    if o.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&o.stderr).trim().to_string())
    }
}

struct Unmount<'a>(&'a Path);
impl Drop for Unmount<'_> {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.0)
            .status();
    }
}

#[test]
fn a_disk_that_fills_mid_run_loses_nothing_after_resume() {
    let tmp = tempfile::tempdir().expect("tmp");
    std::fs::write(
        tmp.path().join("s.ron"),
        r#"Scene(name: "s", frames: (0, 30), targets: [(name: "main", width: 320, height: 180)],
                 avatars: [(asset: "humanoid:low", count: 6, layout: Circle(spacing: 1.2), clip: "walk", phase_spread: 1.0)])"#,
    )
    .expect("scene");
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).expect("out");
    if let Err(why) = mount_tmpfs(&out, "256k") {
        eprintln!(
            "SKIPPED a_disk_that_fills_mid_run_loses_nothing_after_resume: cannot mount a tmpfs ({why}); needs root with CAP_SYS_ADMIN"
        );
        return;
    }
    let _unmount = Unmount(&out);
    let o = run(&render_args("s.ron", &[]), tmp.path());
    clean_failure(&o);
    let e = stderr(&o);
    assert!(e.contains("No space left on device"), "{e}");
    // Nothing partial under a final name: every PNG there decodes.
    let main = out.join("s/main");
    let written: Vec<_> = std::fs::read_dir(&main)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    let finals: Vec<_> = written
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "png"))
        .collect();
    assert!(
        finals.len() < 30,
        "the disk never filled: make the scene bigger"
    );
    for p in &finals {
        image::open(p).expect("a complete PNG");
    }
    // Free space, then resume to completion.
    let grow = std::process::Command::new("mount")
        .args(["-o", "remount,size=64m"])
        .arg(&out)
        .status()
        .expect("remount");
    assert!(grow.success());
    let o = run(&render_args("s.ron", &["--resume"]), tmp.path());
    ok(&o);
    assert_eq!(
        verify_manifest(&out, "manifest.jsonl"),
        30,
        "0 missing, 0 duplicate, 0 corrupt"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&main)
        .expect("dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

/// 2,000 avatars: their joint palettes need more than 64 KiB of storage binding.
fn palette_heavy_scene(frames: u32) -> tutti::scene::LoadedScene {
    tutti::scene::parse_scene(
        &format!(r#"Scene(name: "big", frames: (0, {frames}), targets: [(name: "main", width: 64, height: 36)],
                 avatars: [(asset: "RiggedSimple", count: 2000, layout: Grid(columns: 50, spacing: 1.0), clip: "clip0")])"#),
        Path::new("big.ron"),
        None,
        &tutti::AssetLibrary::new(),
    )
    .expect("scene")
}

#[test]
fn a_scene_too_big_for_one_adapter_is_declined_there_and_rendered_on_another() {
    // A smaller GPU (lavapipe limited to 64 KiB storage bindings) beside llvmpipe.
    let Some(small) =
        common::lavapipe_with_limits(|l| l.max_storage_buffer_binding_size = 64 << 10)
    else {
        return; // common said why
    };
    let Some(large) = common::llvmpipe() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tmp");
    let devices = [small, large];
    let options = tutti::offscreen::OffscreenOptions {
        out_dir: tmp.path().join("out"),
        ..Default::default()
    };
    // Both devices start pulling at once; the small one declines at its first item, long
    // before the large one could have rendered all twelve frames.
    let report = tutti::offscreen::render_offscreen(&devices, &[palette_heavy_scene(12)], &options)
        .expect("run");
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(report.frames(), 12, "every frame rendered");
    let (small, large) = (&report.adapters[0], &report.adapters[1]);
    assert_eq!(small.frames, 0);
    assert!(
        small.retired.is_none(),
        "declining is not failing: {:?}",
        small.retired
    );
    assert_eq!(small.declined.len(), 1);
    assert!(
        small.declined[0].reason.contains("65536"),
        "{:?}",
        small.declined
    );
    assert_eq!(large.frames, 12);
}

#[test]
fn a_scene_no_adapter_can_take_names_the_scene_the_limit_and_the_size() {
    let limit = |l: &mut wgpu::Limits| l.max_storage_buffer_binding_size = 64 << 10;
    let (Some(a), Some(b)) = (
        common::lavapipe_with_limits(limit),
        common::llvmpipe_with_limits(limit),
    ) else {
        return; // common said why
    };
    let tmp = tempfile::tempdir().expect("tmp");
    let small = tutti::offscreen::OffscreenOptions {
        out_dir: tmp.path().join("out"),
        ..Default::default()
    };
    let fits = tutti::scene::parse_scene(
        r#"Scene(name: "fits", frames: (0, 2), targets: [(name: "main", width: 64, height: 36)],
                 avatars: [(asset: "RiggedSimple", count: 2, clip: "clip0")])"#,
        Path::new("fits.ron"),
        None,
        &tutti::AssetLibrary::new(),
    )
    .expect("scene");
    let devices = [a, b];
    let report =
        tutti::offscreen::render_offscreen(&devices, &[palette_heavy_scene(3), fits], &small)
            .expect("run");
    // The scene that fits is rendered; the one that fits nowhere fails once, with the reason.
    assert_eq!(report.frames(), 2, "the scene that fits is rendered");
    assert!(report.adapters.iter().all(|a| a.retired.is_none()));
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    let text = report.failures[0].to_string();
    assert!(text.contains("scene big"), "{text}");
    assert!(text.contains("3 frames not rendered"), "{text}");
    assert!(text.contains("65536"), "{text}");
    assert!(text.contains("bytes"), "{text}");
}
