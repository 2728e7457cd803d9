//! Scene RON text → `tutti::scene::parse_scene` (validated, assets resolved through a library
//! confined to a folder of known files; see `../harness.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness.rs"]
mod harness;

fuzz_target!(|data: &[u8]| {
    let _ = harness::scene_load(data, harness::shared_folder(), harness::shared_library());
});
