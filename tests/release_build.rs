//! No C or C++ assert can fire in a release build: meshoptimizer's asserts abort the process
//! (SIGABRT, exit 134) past every `catch_unwind`, and they are compiled in unless NDEBUG is
//! defined, which its build script does only when cargo's `DEBUG` is false. Cargo.toml turns
//! debug info off for the meshopt package in the release profile for that reason.
//!
//! The check reads the release binary that `cargo build --release` left in this target folder
//! (`.ci/run` builds it before running the tests): a binary with a live C assert imports glibc's
//! `__assert_fail`. Without a release binary the test says so and passes as skipped.

use std::path::PathBuf;

/// `<target>/release/tutti`, beside the `<target>/debug` folder this test runs from.
fn release_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    // <target>/debug/deps/release_build-<hash>
    let target = exe.parent()?.parent()?.parent()?;
    let bin = target
        .join("release")
        .join(format!("tutti{}", std::env::consts::EXE_SUFFIX));
    bin.is_file().then_some(bin)
}

#[test]
fn release_binary_has_no_c_asserts() {
    let Some(bin) = release_binary() else {
        eprintln!(
            "SKIPPED: no release binary in this target folder; run `cargo build --release` first"
        );
        return;
    };
    if !cfg!(target_os = "linux") {
        eprintln!("SKIPPED: the check reads glibc's __assert_fail import (Linux only)");
        return;
    }
    let bytes = std::fs::read(&bin).expect("read the release binary");
    let needle = b"__assert_fail";
    let found = bytes.windows(needle.len()).any(|w| w == needle);
    assert!(
        !found,
        "{} imports __assert_fail: a C/C++ assert is compiled into the release build and can \
         abort the process; give the package that brings it `debug = false` in \
         [profile.release.package.<name>] (see Cargo.toml) and rebuild",
        bin.display()
    );
}
