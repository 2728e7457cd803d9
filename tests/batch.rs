//! Multi-adapter batch rendering through the CLI: manifest, device loss, kill -9 + resume,
//! shards + merge.

mod common;

use common::{tutti as run, tutti_cmd};
use std::collections::HashSet;
use std::path::Path;
use std::process::{Output, Stdio};

fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

fn manifest(path: &Path) -> Vec<tutti::offscreen::ManifestEntry> {
    tutti::offscreen::manifest::load(path).expect("manifest loads")
}

fn verify_all(dir: &Path, entries: &[tutti::offscreen::ManifestEntry]) {
    for e in entries {
        tutti::offscreen::manifest::verify_entry(dir, e).expect("checksum verifies");
    }
    let keys: HashSet<_> = entries.iter().map(|e| e.key()).collect();
    assert_eq!(keys.len(), entries.len(), "duplicate manifest entries");
}

/// The default scene, frames 0..40, on every adapter, into `out`.
const FORTY_FRAMES_ON_ALL: &[&str] = &[
    "render",
    "--offscreen",
    "--out",
    "out",
    "--frames",
    "0..40",
    "--adapters",
    "all",
];

fn both_adapters() -> bool {
    common::software_adapters().len() == 2
}

#[test]
fn two_adapter_batch_writes_every_file_and_both_adapters_take_part() {
    if !both_adapters() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let o = run(
        &[FORTY_FRAMES_ON_ALL, &["--report", "report.json"]].concat(),
        tmp.path(),
    );
    ok(&o);
    let out = tmp.path().join("out");
    let entries = manifest(&out.join("manifest.jsonl"));
    assert_eq!(entries.len(), 80);
    verify_all(&out, &entries);
    let adapters: HashSet<&str> = entries.iter().map(|e| e.adapter.as_str()).collect();
    assert_eq!(
        adapters.len(),
        2,
        "both adapters should render: {adapters:?}"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("report.json")).expect("report"))
            .expect("json");
    assert_eq!(report["totals"]["frames"], 40);
    assert_eq!(report["adapters"].as_array().map(Vec::len), Some(2));
    assert!(report["bottleneck"]["stage"].is_string());
    let svg = std::fs::read_to_string(tmp.path().join("report.svg")).expect("chart");
    assert!(svg.contains("<svg") && svg.contains("frames/s"));
}

#[test]
fn injected_device_loss_still_delivers_every_frame() {
    if !both_adapters() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let o = tutti_cmd(FORTY_FRAMES_ON_ALL, tmp.path())
        .env("TUTTI_FAULT_DEVICE_LOST", "0@3")
        .output()
        .expect("tutti runs");
    ok(&o);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("retired #0") && stdout.contains("TUTTI_FAULT_DEVICE_LOST"),
        "{stdout}"
    );
    let out = tmp.path().join("out");
    let entries = manifest(&out.join("manifest.jsonl"));
    assert_eq!(entries.len(), 80, "every frame delivered");
    verify_all(&out, &entries);
    let by_zero = entries
        .iter()
        .filter(|e| e.adapter.starts_with("#0 "))
        .count();
    assert!(
        by_zero <= 3 * 2,
        "adapter 0 wrote {by_zero} files after failing at 3 frames"
    );
}

#[test]
fn every_adapter_lost_fails_with_a_summary() {
    let tmp = tempfile::tempdir().expect("tmp");
    let o = tutti_cmd(
        &[
            "render",
            "--offscreen",
            "--out",
            "out",
            "--frames",
            "0..10",
            "--adapters",
            "0",
        ],
        tmp.path(),
    )
    .env("TUTTI_FAULT_DEVICE_LOST", "0@2")
    .output()
    .expect("tutti runs");
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("every adapter was retired") && e.contains("8 failure(s)"),
        "{e}"
    );
    // What was written is complete and listed.
    let out = tmp.path().join("out");
    let entries = manifest(&out.join("manifest.jsonl"));
    assert_eq!(entries.len(), 4);
    verify_all(&out, &entries);
}

#[test]
fn kill_dash_nine_then_resume_completes_without_duplicates() {
    let tmp = tempfile::tempdir().expect("tmp");
    std::fs::write(
        tmp.path().join("slow.ron"),
        r#"Scene(name: "slow", frames: (0, 60), targets: [(name: "big", width: 960, height: 540), (name: "small", width: 96, height: 54)],
                 avatars: [(asset: "humanoid:high", count: 12, layout: Circle(spacing: 1.2), clip: "walk", phase_spread: 1.0)])"#,
    )
    .expect("scene");
    let mut child = tutti_cmd(
        &[
            "render",
            "slow.ron",
            "--offscreen",
            "--out",
            "out",
            "--adapters",
            "0",
        ],
        tmp.path(),
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("spawn");
    let manifest_path = tmp.path().join("out/manifest.jsonl");
    // Wait until some files are written, then kill -9.
    let start = std::time::Instant::now();
    loop {
        let lines = std::fs::read_to_string(&manifest_path)
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if lines >= 6 || start.elapsed().as_secs() > 60 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().expect("kill -9");
    let _ = child.wait();
    let partial = manifest(&manifest_path);
    assert!(
        partial.len() < 120,
        "the run finished before it was killed; make the scene slower"
    );
    // Corrupt one written file: resume must re-render it.
    let victim = tmp.path().join("out").join(&partial[0].path);
    std::fs::write(&victim, b"garbage").expect("corrupt");
    let o = run(
        &[
            "render",
            "slow.ron",
            "--offscreen",
            "--out",
            "out",
            "--adapters",
            "all",
            "--resume",
        ],
        tmp.path(),
    );
    ok(&o);
    let out = tmp.path().join("out");
    let entries = manifest(&manifest_path);
    assert_eq!(entries.len(), 120, "all 60 frames x 2 targets");
    verify_all(&out, &entries);
    let leftovers: Vec<_> = std::fs::read_dir(out.join("slow/big"))
        .expect("dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
}

#[test]
fn three_shards_cover_the_run_and_merge_verifies_it() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut all = Vec::new();
    for k in 0..3 {
        let dir = format!("s{k}");
        ok(&run(
            &[
                "render",
                "--offscreen",
                "--out",
                &dir,
                "--frames",
                "0..20",
                "--shard",
                &format!("{k}/3"),
                "--adapters",
                "0",
            ],
            tmp.path(),
        ));
        let entries = manifest(
            &tmp.path()
                .join(&dir)
                .join(format!("manifest.shard-{k}-of-3.jsonl")),
        );
        all.extend(entries.into_iter().map(|e| e.key()));
    }
    let unique: HashSet<_> = all.iter().cloned().collect();
    assert_eq!(all.len(), 40, "20 frames x 2 targets");
    assert_eq!(unique.len(), 40, "no overlap between shards");
    let o = run(
        &[
            "manifest",
            "merge",
            "s0",
            "s1",
            "s2",
            "--out",
            "merged.jsonl",
        ],
        tmp.path(),
    );
    ok(&o);
    let merged = manifest(&tmp.path().join("merged.jsonl"));
    assert_eq!(merged.len(), 40);
    verify_all(tmp.path(), &merged);
    // A missing shard is reported.
    let o = run(
        &["manifest", "merge", "s0", "s2", "--out", "partial.jsonl"],
        tmp.path(),
    );
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("is missing"));
}
