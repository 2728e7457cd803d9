//! glTF/GLB bytes → `tutti::assets::import_gltf_slice`, with external URIs confined to a folder
//! of known files (see `../harness.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness.rs"]
mod harness;

fuzz_target!(|data: &[u8]| {
    let _ = harness::gltf_import(data, harness::shared_folder());
});
