//! The fuzz targets' seed corpus (`fuzz/corpus/<target>/`) and every crash they found
//! (`tests/fuzz_regressions/<target>/`), fed through the very functions the targets call
//! (`fuzz/harness.rs`), so a plain `cargo test` replays them without nightly or cargo-fuzz.
//!
//! Each input must end in an answer (accepted, or an error) and never in a panic or abort; the
//! seeds that are valid must also be accepted, or the fuzzers would start from nothing. As under
//! libFuzzer, a panic counts even where tutti catches it (the importer turns a panic in the glTF
//! reader into an error as a last resort): a panic hook counts them.

#[path = "../fuzz/harness.rs"]
mod harness;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use tutti::AssetLibrary;

/// Panics anywhere in the process (worker threads included) since the hook was installed.
static PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        default(info);
    }));
}

/// Every file of `fuzz/corpus/<target>` and `tests/fuzz_regressions/<target>`.
fn inputs(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in [
        root.join("fuzz/corpus").join(target),
        root.join("tests/fuzz_regressions").join(target),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries {
            let path = e.expect("readable entry").path();
            if path.is_file() && path.file_name().is_some_and(|n| n != "README.md") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Run `run` on every input of `target`; report every input that panicked, and check that the
/// inputs named in `must_accept` were accepted.
fn replay(target: &str, must_accept: &[&str], run: impl Fn(&[u8]) -> bool) {
    let files = inputs(target);
    assert!(files.len() >= must_accept.len(), "{target}: corpus missing");
    let mut failures = Vec::new();
    let mut accepted = Vec::new();
    for path in &files {
        let data = std::fs::read(path).expect("read input");
        let before = PANICS.load(Ordering::SeqCst);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&data)));
        let panicked = PANICS.load(Ordering::SeqCst) != before;
        match outcome {
            Ok(_) | Err(_) if panicked => failures.push(path.display().to_string()),
            Ok(true) => {
                let name = path.file_name().expect("name").to_string_lossy();
                accepted.push(name.into_owned());
            }
            Ok(false) => {}
            Err(_) => failures.push(path.display().to_string()),
        }
    }
    assert!(
        failures.is_empty(),
        "{target}: inputs that panic (a crash under the fuzzer):\n{}",
        failures.join("\n")
    );
    for name in must_accept {
        assert!(
            accepted.iter().any(|a| a == name),
            "{target}: seed {name} is not accepted"
        );
    }
    eprintln!(
        "{target}: {} inputs replayed, {} accepted",
        files.len(),
        accepted.len()
    );
}

/// One test for both targets, run one after the other: the panic count is process-wide.
#[test]
fn fuzz_corpus_and_regressions_replay_without_panics() {
    count_panics();
    let tmp = tempfile::tempdir().expect("tmp");
    harness::populate(tmp.path()).expect("asset folder");
    replay(
        "gltf_import",
        &[
            "RiggedFigure.gltf",
            "RiggedSimple.gltf",
            "SimpleSkin.gltf",
            "avatar-low.glb",
            "external-buffer.gltf",
            "skinned-animated.gltf",
            "sparse-triangle.gltf",
            "texture-uri.gltf",
        ],
        |data| harness::gltf_import(data, tmp.path()),
    );
    let library = AssetLibrary::confined(tmp.path());
    replay(
        "scene_load",
        &[
            "crowd.ron",
            "default.ron",
            "humanoids.ron",
            "file-assets.ron",
            "minimal.ron",
        ],
        |data| harness::scene_load(data, tmp.path(), &library),
    );
}
