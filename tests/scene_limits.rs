//! Scene values outside a sane range are rejected with `file: field: message` naming the range,
//! before anything is built from them; the example scenes stay valid.

use std::path::Path;
use tutti::AssetLibrary;
use tutti::scene::parse_scene;

/// A valid scene with `extra` fields added (later fields of the same name are rejected by RON,
/// so tests only add fields the base leaves out) and `avatars` as the avatar list.
fn scene(extra: &str, avatars: &str) -> String {
    format!(
        r#"(name: "s", targets: [(name: "main", width: 64, height: 64)], {extra}
            avatars: [{avatars}])"#
    )
}

fn problems(text: &str) -> String {
    match parse_scene(text, Path::new("s.ron"), None, &AssetLibrary::new()) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

fn assert_rejects(extra: &str, avatars: &str, needles: &[&str]) {
    let msg = problems(&scene(extra, avatars));
    for n in needles {
        assert!(
            msg.contains(n),
            "{n:?} missing for `{extra}` / `{avatars}`:\n{msg}"
        );
    }
}

const ONE: &str = r#"(asset: "SimpleSkin")"#;

#[test]
fn frame_rate_is_within_1_to_1000() {
    assert_rejects(
        "fps: 0.000001,",
        ONE,
        &["s.ron: fps: 0.000001 is outside 1 ..= 1000 frames per second"],
    );
    assert_rejects("fps: 0.5,", ONE, &["s.ron: fps: 0.5 is outside 1 ..= 1000"]);
    assert_rejects(
        "fps: 1001.0,",
        ONE,
        &["s.ron: fps: 1001 is outside 1 ..= 1000"],
    );
    assert_rejects("fps: NaN,", ONE, &["s.ron: fps: NaN is outside 1 ..= 1000"]);
}

#[test]
fn frame_ranges_are_non_empty_and_bounded() {
    assert_rejects(
        "frames: (0, 4000000000),",
        ONE,
        &["s.ron: frames: (0, 4000000000) has 4000000000 frames; a scene may have at most 1000000"],
    );
    assert_rejects(
        "frames: (7, 3),",
        ONE,
        &["s.ron: frames: the range (7, 3) is empty"],
    );
    parse_scene(
        &scene("frames: (5, 1000005),", ONE),
        Path::new("s.ron"),
        None,
        &AssetLibrary::new(),
    )
    .expect("exactly 1,000,000 frames is allowed");
}

#[test]
fn avatar_counts_are_bounded_per_group_and_per_scene() {
    assert_rejects(
        "",
        r#"(asset: "SimpleSkin", count: 0)"#,
        &["s.ron: avatars[0].count: 0 is outside 1 ..= 100000"],
    );
    let eleven = [r#"(asset: "SimpleSkin", count: 100000)"#; 11].join(", ");
    assert_rejects(
        "",
        &eleven,
        &["s.ron: avatars: 1100000 avatars in all; a scene may have at most 1000000"],
    );
}

#[test]
fn group_numbers_are_finite_and_in_range() {
    for (group, needle) in [
        (
            r#"(asset: "SimpleSkin", layout: Grid(spacing: 1e30))"#,
            "avatars[0].layout: spacing 1000000000000000000000000000000 is outside 0 ..= 1000",
        ),
        (
            r#"(asset: "SimpleSkin", layout: Circle(spacing: inf))"#,
            "avatars[0].layout: spacing inf is outside 0 ..= 1000",
        ),
        (
            r#"(asset: "SimpleSkin", speed: NaN)"#,
            "avatars[0].speed: NaN is outside -1000 ..= 1000",
        ),
        (
            r#"(asset: "SimpleSkin", speed: 5000.0)"#,
            "avatars[0].speed: 5000 is outside -1000 ..= 1000",
        ),
        (
            r#"(asset: "SimpleSkin", phase_offset: inf)"#,
            "avatars[0].phase_offset: inf is outside -1e6 ..= 1e6",
        ),
        (
            r#"(asset: "SimpleSkin", phase_spread: NaN)"#,
            "avatars[0].phase_spread: NaN is outside -1e6 ..= 1e6",
        ),
        (
            r#"(asset: "SimpleSkin", scale: 0.0)"#,
            "avatars[0].scale: 0 must be above 0 and at most 1000",
        ),
        (
            r#"(asset: "SimpleSkin", position: (0.0, 1e30, 0.0))"#,
            "avatars[0].position: (0.0, 1e30, 0.0) has a component outside -1e6 ..= 1e6",
        ),
        (
            r#"(asset: "SimpleSkin", yaw: -inf)"#,
            "avatars[0].yaw: -inf is outside -1e6 ..= 1e6",
        ),
    ] {
        assert_rejects("", group, &[&format!("s.ron: {needle}")]);
    }
}

#[test]
fn camera_values_are_finite_and_consistent() {
    for (camera, needle) in [
        (
            "camera: (eye: (0.0, inf, 5.0)),",
            "camera.eye: (0.0, inf, 5.0) has a component outside",
        ),
        (
            "camera: (target: (NaN, 0.0, 0.0)),",
            "camera.target: (NaN, 0.0, 0.0) has a component outside",
        ),
        (
            "camera: (near: 0.0),",
            "camera.near: near 0 and far 500 must satisfy 0 < near < far",
        ),
        (
            "camera: (near: 10.0, far: 5.0),",
            "camera.near: near 10 and far 5",
        ),
        ("camera: (far: inf),", "camera.near: near 0.05 and far inf"),
        (
            "camera: (fov_y: 0.0),",
            "camera.fov_y: 0 degrees is outside (1, 179)",
        ),
        (
            "camera: (fov_y: 180.0),",
            "camera.fov_y: 180 degrees is outside (1, 179)",
        ),
    ] {
        assert_rejects(camera, ONE, &[&format!("s.ron: {needle}")]);
    }
}

#[test]
fn targets_and_lod_values_are_in_range() {
    let seventeen: Vec<String> = (0..17)
        .map(|i| format!(r#"(name: "t{i}", width: 8, height: 8)"#))
        .collect();
    let text = format!(
        r#"(name: "s", targets: [{}], avatars: [{ONE}])"#,
        seventeen.join(", ")
    );
    let msg = problems(&text);
    assert!(
        msg.contains("s.ron: targets: 17 targets; a scene may have 1 ..= 16"),
        "{msg}"
    );
    let msg = problems(&format!(
        r#"(name: "s", targets: [(name: "a", width: 0, height: 9000)], avatars: [{ONE}])"#
    ));
    for n in [
        "s.ron: targets[0].width: is zero; a target needs 1 ..= 8192 pixels",
        "s.ron: targets[0].height: 9000 exceeds the limit of 8192 pixels",
    ] {
        assert!(msg.contains(n), "{n:?} missing:\n{msg}");
    }
    assert_rejects(
        "lod: (force: 8, pixel_error: 1e9, hysteresis: NaN),",
        ONE,
        &[
            "s.ron: lod.force: level 8 is outside 0 ..= 7",
            "s.ron: lod.pixel_error: 1000000000 must be above 0 and at most 1000 pixels",
            "s.ron: lod.hysteresis: NaN is outside 0 ..= 0.9",
        ],
    );
    assert_rejects(
        "environment: (ambient: inf, ground: Some((size: 1e9))),",
        ONE,
        &[
            "s.ron: environment.ambient: inf is outside",
            "s.ron: environment.ground.size: 1000000000 must be a positive length",
        ],
    );
}

#[test]
fn example_scenes_stay_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes");
    let lib = AssetLibrary::new();
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("scenes/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "ron") {
            tutti::load_scene(&path, &lib).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(n >= 3, "found {n} scenes");
}
