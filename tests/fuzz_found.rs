//! One test per crash the fuzz targets found: the input (kept in `tests/fuzz_regressions/`)
//! now gets a clean error, without any panic on the way (a panic the importer catches as a last
//! resort still counts; the fuzzers abort on it).

#[path = "../fuzz/harness.rs"]
mod harness;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use tutti::assets::{AssetError, import_gltf_slice};

static PANICS: AtomicUsize = AtomicUsize::new(0);
/// The panic count is process-wide: one test at a time looks at it.
static SERIAL: Mutex<()> = Mutex::new(());

/// Run `f`, failing if anything panicked meanwhile (even if caught).
fn without_panics<T>(f: impl FnOnce() -> T) -> T {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            default(info);
        }));
    });
    let before = PANICS.load(Ordering::SeqCst);
    let out = f();
    assert_eq!(
        PANICS.load(Ordering::SeqCst),
        before,
        "the input made tutti panic"
    );
    out
}

fn regression(target: &str, name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_regressions")
        .join(target)
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The fuzz targets' asset folder (URIs in the inputs resolve there), made once.
fn asset_folder() -> &'static Path {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DIR.get_or_init(|| {
        let tmp = tempfile::tempdir().expect("tmp");
        harness::populate(tmp.path()).expect("asset folder");
        let path = tmp.path().to_path_buf();
        (tmp, path)
    })
    .1
}

/// Import a `gltf_import` regression input as the fuzz target does (URIs confined to the
/// asset folder); it must fail without a panic.
fn import_error(name: &str) -> AssetError {
    let bytes = regression("gltf_import", name);
    let dir = asset_folder();
    without_panics(|| import_gltf_slice(&bytes, "r", &dir.join("r.gltf"), Some(dir)))
        .expect_err("a malformed file")
}

/// gltf-json's validation indexed the accessor list with a primitive's POSITION index without
/// checking it: a panic (caught by the importer as "malformed in a way the glTF reader could
/// not handle", but an abort under the fuzzer).
#[test]
fn position_accessor_out_of_range() {
    let err = import_error("position-accessor-out-of-range.gltf");
    let msg = err.to_string();
    assert!(matches!(err, AssetError::Parse { .. }), "{msg}");
    assert!(
        msg.contains("r.gltf")
            && msg.contains("meshes[0].primitives[0].attributes.POSITION names accessor 5"),
        "{msg}"
    );
}

/// gltf-json never validates animation channel targets, and the `gltf` crate unwraps the
/// target node when asked for it: a node index past the end panicked.
#[test]
fn animation_target_node_out_of_range() {
    let err = import_error("animation-target-node-out-of-range.gltf");
    let msg = err.to_string();
    assert!(matches!(err, AssetError::Parse { .. }), "{msg}");
    assert!(
        msg.contains("animations[0].channels[2].target.node: Index out of bounds"),
        "{msg}"
    );
}

/// The same gap for the target path: an unknown path ("scael") is kept as `Invalid` and the
/// `gltf` crate unwrapped it (made by hand from the fuzzer's input).
#[test]
fn animation_target_path_invalid() {
    let err = import_error("animation-target-path-invalid.gltf");
    let msg = err.to_string();
    assert!(matches!(err, AssetError::Parse { .. }), "{msg}");
    assert!(
        msg.contains("animations[0].channels[2].target.path: Invalid value"),
        "{msg}"
    );
}

/// The `gltf` crate's readers assume each accessor's element type: a `debug_assert` on the
/// element size (a panic in debug builds, misread data in release builds) and `unreachable!`
/// on an unexpected component type (a panic in every build). The fuzzer's input has an
/// animation input of VEC3; the other two were made by hand for the same gap.
#[test]
fn accessors_of_the_wrong_type() {
    for (name, needle) in [
        (
            "animation-input-of-the-wrong-type.gltf",
            "animation 0 channel 2 input (accessor 6) holds Vec3 of F32; it must hold Scalar of one of [F32]",
        ),
        (
            "indices-of-float-type.gltf",
            "mesh 0 primitive 0: indices (accessor 1) holds Scalar of F32; it must hold Scalar of one of [U8, U16, U32]",
        ),
        (
            "position-of-scalar-type.gltf",
            "mesh 0 primitive 0: POSITION (accessor 0) holds Scalar of F32; it must hold Vec3 of one of [F32]",
        ),
    ] {
        let msg = import_error(name).to_string();
        assert!(msg.contains(needle), "{name}: {msg}");
    }
}

/// A node matrix that collapses an axis (scale 0) decomposed into a NaN rotation; the asset
/// loaded, but exported `null`s (serde_json's NaN) that did not import again. Its rotation
/// is now the identity, and it round-trips. Non-finite transforms and colours (made by hand:
/// JSON numbers beyond f32 become infinities) are errors.
#[test]
fn non_finite_node_transforms_and_colours() {
    let bytes = regression("gltf_import", "node-matrix-with-zero-scale.gltf");
    assert!(
        without_panics(|| harness::gltf_import(&bytes, asset_folder())),
        "a node matrix with a zero scale loads, exports and loads again"
    );
    let msg = import_error("node-translation-overflows-f32.gltf").to_string();
    assert!(msg.contains("node 1: its transform is not finite"), "{msg}");
    let msg = import_error("material-colour-overflows-f32.gltf").to_string();
    assert!(
        msg.contains("material 0: baseColorFactor") && msg.contains("is not finite"),
        "{msg}"
    );
}

/// A sparse accessor with a count of 0 underflowed the `gltf` crate's reader (a panic in
/// debug builds, a read that silently fails in release builds).
#[test]
fn sparse_count_zero() {
    let msg = import_error("sparse-count-zero.gltf").to_string();
    assert!(
        msg.contains("sparse accessor 0 replaces no elements"),
        "{msg}"
    );
}

/// The `gltf` crate unwraps an image's `uri` when it has no `bufferView` (the fuzzer's input,
/// found under AddressSanitizer, though a plain panic), and its `mimeType` when it has one (made
/// by hand); gltf-json's validation requires neither.
#[test]
fn images_without_a_source_or_mime_type() {
    for (name, needle) in [
        (
            "image-without-uri-or-view.gltf",
            "images[0] has neither a uri nor a bufferView",
        ),
        (
            "image-view-without-mime-type.gltf",
            "images[0] lies in a bufferView but has no mimeType",
        ),
    ] {
        let msg = import_error(name).to_string();
        assert!(msg.contains(needle), "{name}: {msg}");
    }
}
