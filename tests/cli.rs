//! The `tutti` binary end to end: offscreen rendering on every adapter, bad input, avatar export.

mod common;

use common::{stderr, tutti, tutti_cmd};
use std::path::Path;
use std::process::Output;

fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("readable") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(
                    p.strip_prefix(dir)
                        .expect("prefix")
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    out.sort();
    out
}

#[test]
fn default_scene_renders_on_all_adapters_into_the_documented_layout() {
    let tmp = tempfile::tempdir().expect("tmp");
    let o = tutti(
        &[
            "render",
            "--offscreen",
            "--out",
            "out",
            "--frames",
            "3..7",
            "--adapters",
            "all",
        ],
        tmp.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let files = files_under(&tmp.path().join("out"));
    let mut expect: Vec<String> = ["main", "thumb"]
        .iter()
        .flat_map(|t| (3..7).map(move |f| format!("default/{t}/{f:06}.png")))
        .collect();
    expect.extend([
        "manifest.jsonl".to_string(),
        "manifest.jsonl.lock".to_string(),
        "plan.json".to_string(),
    ]);
    expect.sort();
    assert_eq!(files, expect, "exactly the frame files, no temporaries");
    for f in files.iter().filter(|f| f.ends_with(".png")) {
        let img = image::open(tmp.path().join("out").join(f))
            .expect("valid png")
            .to_rgba8();
        let want = if f.contains("main") {
            (640, 360)
        } else {
            (160, 90)
        };
        assert_eq!(img.dimensions(), want, "{f}");
        assert!(
            common::covered_fraction(img.as_raw()) > 0.03,
            "{f} is blank"
        );
    }
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("wrote 8 files (4 frames)"), "{text}");
}

#[test]
fn rerendering_gives_identical_files() {
    let tmp = tempfile::tempdir().expect("tmp");
    for out in ["a", "b"] {
        let o = tutti(
            &[
                "render",
                "--offscreen",
                "--out",
                out,
                "--frames",
                "10..12",
                "--adapters",
                "0",
            ],
            tmp.path(),
        );
        assert!(o.status.success(), "{}", stderr(&o));
    }
    for f in files_under(&tmp.path().join("a"))
        .into_iter()
        .filter(|f| f.ends_with(".png"))
    {
        let a = std::fs::read(tmp.path().join("a").join(&f)).expect("a");
        let b = std::fs::read(tmp.path().join("b").join(&f)).expect("b");
        assert!(a == b, "{f} differs between runs");
    }
}

fn render_scene(scene_text: &str) -> (Output, tempfile::TempDir) {
    let tmp = tempfile::tempdir().expect("tmp");
    std::fs::write(tmp.path().join("bad.ron"), scene_text).expect("write");
    let o = tutti(
        &["render", "bad.ron", "--offscreen", "--out", "out"],
        tmp.path(),
    );
    (o, tmp)
}

const GOOD_TARGETS: &str = r#"targets: [(name: "m", width: 32, height: 32)]"#;

#[test]
fn ron_syntax_error_names_file_line_and_column() {
    let (o, _t) = render_scene("Scene(\n  name: \"x\",\n  fps: 24.0\n  targets: [],\n)\n");
    let e = stderr(&o);
    assert!(!o.status.success());
    assert!(e.contains("bad.ron:4:3"), "{e}");
}

#[test]
fn unknown_field_names_its_position() {
    let (o, _t) = render_scene(&format!(
        "Scene(name: \"x\", {GOOD_TARGETS},\n  avatars: [(asset: \"RiggedFigure\", colour: (1, 0, 0))])"
    ));
    let e = stderr(&o);
    assert!(!o.status.success());
    assert!(e.contains("bad.ron:2:") && e.contains("colour"), "{e}");
}

#[test]
fn semantic_errors_name_file_and_field_and_are_all_reported() {
    let (o, _t) = render_scene(
        r#"Scene(name: "x", frames: (4, 2),
            targets: [(name: "zero", width: 0, height: 10)],
            avatars: [(asset: "missing/Nobody.gltf"), (asset: "RiggedFigure", clip: "moonwalk"), (asset: "Ghost")])"#,
    );
    let e = stderr(&o);
    assert!(!o.status.success());
    for needle in [
        "bad.ron: frames: the range (4, 2) is empty",
        "bad.ron: targets[0].width: is zero",
        "bad.ron: avatars[0].asset:",
        "Nobody.gltf: cannot read the file",
        "bad.ron: avatars[1].clip: asset \"RiggedFigure\" has no clip \"moonwalk\"",
        "bad.ron: avatars[2].asset: unknown asset \"Ghost\"",
    ] {
        assert!(e.contains(needle), "missing {needle:?} in:\n{e}");
    }
    let _ = GOOD_TARGETS;
}

#[test]
fn missing_scene_file_is_reported() {
    let tmp = tempfile::tempdir().expect("tmp");
    let o = tutti(&["render", "nope.ron", "--offscreen"], tmp.path());
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("nope.ron: cannot read the scene file"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn unwritable_output_directory_is_a_clear_error() {
    let tmp = tempfile::tempdir().expect("tmp");
    std::fs::write(tmp.path().join("file"), b"x").expect("write");
    let o = tutti(
        &[
            "render",
            "--offscreen",
            "--out",
            "file/sub",
            "--frames",
            "0",
        ],
        tmp.path(),
    );
    let e = stderr(&o);
    assert!(!o.status.success());
    assert!(
        e.contains("output directory file/sub: cannot create it"),
        "{e}"
    );
    assert!(!tmp.path().join("file/sub").exists());
}

#[test]
fn bad_cli_values_are_explained() {
    let tmp = tempfile::tempdir().expect("tmp");
    let o = tutti(&["render", "--offscreen", "--frames", "9..3"], tmp.path());
    assert!(
        !o.status.success() && stderr(&o).contains("is empty"),
        "{}",
        stderr(&o)
    );
    let o = tutti(
        &["render", "--offscreen", "--adapters", "fastest"],
        tmp.path(),
    );
    assert!(
        !o.status.success() && stderr(&o).contains("not `default`, `all`"),
        "{}",
        stderr(&o)
    );
    let o = tutti(
        &["render", "--offscreen", "--adapters", "99", "--frames", "0"],
        tmp.path(),
    );
    assert!(
        !o.status.success() && stderr(&o).contains("there is no adapter 99"),
        "{}",
        stderr(&o)
    );
    let o = tutti(&["render"], tmp.path());
    assert!(
        !o.status.success() && stderr(&o).contains("--offscreen"),
        "{}",
        stderr(&o)
    );
    let o = tutti(&["bench", "--families", "jobs,render"], tmp.path());
    assert!(
        !o.status.success() && stderr(&o).contains("use jobs, offscreen, lod or gpu"),
        "{}",
        stderr(&o)
    );
    let o = tutti(&["bench", "--quick", "--smoke"], tmp.path());
    assert!(
        !o.status.success() && stderr(&o).contains("cannot be used with"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn adapters_json_lists_both_software_adapters() {
    let tmp = tempfile::tempdir().expect("tmp");
    let o = tutti(&["adapters", "--json"], tmp.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let list = list.as_array().expect("array");
    for a in list {
        for key in [
            "index",
            "name",
            "backend",
            "device_type",
            "driver",
            "max_texture_dimension_2d",
            "status",
        ] {
            assert!(a.get(key).is_some(), "{key} missing in {a}");
        }
    }
    let ok_backends: Vec<&str> = list
        .iter()
        .filter(|a| a["status"] == "ok")
        .filter_map(|a| a["backend"].as_str())
        .collect();
    if std::env::var("TUTTI_REQUIRE_ADAPTERS").is_ok_and(|v| v == "1") {
        assert!(
            ok_backends.contains(&"vulkan") && ok_backends.contains(&"gl"),
            "{ok_backends:?}"
        );
    }
}

#[test]
fn avatar_export_writes_a_loadable_glb() {
    let tmp = tempfile::tempdir().expect("tmp");
    let o = tutti(
        &["avatar", "--out", "hero.glb", "--detail", "ultra"],
        tmp.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let asset = tutti::assets::import_gltf(&tmp.path().join("hero.glb")).expect("loads back");
    assert!(asset.mesh.triangle_count() >= 50_000);
    assert!(asset.skeleton.nodes.len() >= 20);
    // A scene can use the exported file by path.
    std::fs::write(
        tmp.path().join("s.ron"),
        r#"Scene(name: "s", frames: (0, 1), targets: [(name: "m", width: 64, height: 64)],
                 avatars: [(asset: "hero.glb", clip: "walk")])"#,
    )
    .expect("write");
    let o = tutti(
        &[
            "render",
            "s.ron",
            "--offscreen",
            "--out",
            "out",
            "--adapters",
            "0",
        ],
        tmp.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(tmp.path().join("out/s/m/000000.png").exists());
    let o = tutti(
        &["avatar", "--out", "x.glb", "--detail", "extreme"],
        tmp.path(),
    );
    assert!(
        !o.status.success() && stderr(&o).contains("low, medium, high, ultra"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn no_adapter_at_all_explains_how_to_get_a_software_one() {
    let tmp = tempfile::tempdir().expect("tmp");
    // Linux has no Metal: with only that backend enabled wgpu finds nothing.
    let o = tutti_cmd(&["render", "--offscreen", "--frames", "0"], tmp.path())
        .env("WGPU_BACKEND", "metal")
        .output()
        .expect("tutti runs");
    let e = stderr(&o);
    assert!(!o.status.success());
    assert!(
        e.contains("no GPU adapter found") && e.contains("mesa-vulkan-drivers"),
        "{e}"
    );
}

#[test]
fn textured_asset_is_drawn_with_its_texture() {
    use std::sync::Arc;
    use tutti::assets::procedural::{Detail, humanoid};
    let tmp = tempfile::tempdir().expect("tmp");
    let mut asset = humanoid(Detail::Low);
    for m in &mut asset.mesh.materials {
        m.base_color = glam::Vec4::ONE;
        m.texture = Some(Arc::new(tutti::assets::Texture {
            width: 1,
            height: 1,
            rgba: vec![255, 0, 0, 255],
        }));
    }
    std::fs::write(
        tmp.path().join("red.glb"),
        tutti::assets::export_glb(&asset).expect("export"),
    )
    .expect("write");
    std::fs::write(
        tmp.path().join("s.ron"),
        r#"Scene(name: "s", frames: (0, 1), camera: (eye: (0.0, 1.0, 3.0), target: (0.0, 0.9, 0.0)),
                 targets: [(name: "m", width: 64, height: 64)],
                 environment: (sky: (0.0, 0.0, 0.0), ambient: 1.0, sun_color: (0.0, 0.0, 0.0)),
                 avatars: [(asset: "red.glb")])"#,
    )
    .expect("write");
    let o = tutti(
        &[
            "render",
            "s.ron",
            "--offscreen",
            "--out",
            "out",
            "--adapters",
            "all",
        ],
        tmp.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let img = image::open(tmp.path().join("out/s/m/000000.png"))
        .expect("png")
        .to_rgba8();
    let red = img
        .pixels()
        .filter(|p| p[0] > 200 && p[1] < 30 && p[2] < 30)
        .count();
    let other = img
        .pixels()
        .filter(|p| p[0] > 30 && !(p[0] > 200 && p[1] < 30 && p[2] < 30))
        .count();
    assert!(red > 200, "only {red} red pixels");
    assert!(other < red / 10, "{other} non-red lit pixels");
}

#[test]
fn job_profiles_are_chosen_by_flag_or_environment_and_bad_values_explained() {
    let tmp = tempfile::tempdir().expect("tmp");
    let o = tutti(&["--profile", "turbo", "render", "--offscreen"], tmp.path());
    assert!(
        !o.status.success()
            && stderr(&o).contains("conservative, balanced, performance, maximum or adaptive"),
        "{}",
        stderr(&o)
    );
    let o = tutti_cmd(
        &["render", "--offscreen", "--frames", "0", "--adapters", "0"],
        tmp.path(),
    )
    .env("TUTTI_WORKERS", "zero")
    .output()
    .expect("tutti runs");
    assert!(
        !o.status.success() && stderr(&o).contains("TUTTI_WORKERS"),
        "{}",
        stderr(&o)
    );
    for profile in ["conservative", "adaptive", "maximum"] {
        let o = tutti_cmd(
            &[
                "render",
                "--offscreen",
                "--frames",
                "0..2",
                "--adapters",
                "0",
                "--out",
                profile,
            ],
            tmp.path(),
        )
        .env("TUTTI_PROFILE", profile)
        .output()
        .expect("tutti runs");
        assert!(o.status.success(), "{profile}: {}", stderr(&o));
    }
}

/// `tutti bench --smoke --json`: every family runs (at tiny sizes, in seconds) and reports rows
/// with finite, positive values, baselines and ratios; the gpu family covers every figure.
#[test]
fn bench_with_no_family_reports_rows_from_every_family() {
    let tmp = tempfile::tempdir().expect("tmp");
    let o = tutti(&["bench", "--smoke", "--json"], tmp.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json on stdout");
    let rows = json["rows"].as_array().expect("rows");
    let family_rows = |family: &str| -> Vec<&serde_json::Value> {
        rows.iter().filter(|r| r["family"] == family).collect()
    };
    for family in ["jobs", "offscreen", "lod", "gpu"] {
        assert!(
            !family_rows(family).is_empty(),
            "no {family} rows in {json}"
        );
        assert!(
            json["families"][family].is_object() || json["families"][family].is_array(),
            "no {family} detail in {json}"
        );
    }
    for r in rows {
        let num = |key: &str| r[key].as_f64().unwrap_or(f64::NAN);
        let (value, baseline, ratio) = (num("value"), num("baseline_value"), num("ratio"));
        for x in [value, baseline, ratio] {
            assert!(
                x.is_finite() && x > 0.0,
                "{x} is not finite and positive in {r}"
            );
        }
        assert!((ratio - value / baseline).abs() <= 1e-9 * ratio, "{r}");
        for key in ["figure", "unit", "baseline"] {
            assert!(
                r[key].as_str().is_some_and(|s| !s.is_empty()),
                "{key} in {r}"
            );
        }
        assert!(r["better"] == "higher" || r["better"] == "lower", "{r}");
    }
    let gpu: Vec<String> = family_rows("gpu")
        .iter()
        .map(|r| format!("{} [{}]", r["figure"].as_str().unwrap_or(""), r["unit"]))
        .collect();
    for size in ["64x64", "128x128", "256x256"] {
        for mode in ["no readback", "with readback"] {
            assert!(
                gpu.iter()
                    .any(|f| f.starts_with(size) && f.contains(mode) && f.contains("views/s")),
                "no {size} {mode} views row in {gpu:?}"
            );
        }
    }
    for unit in ["dispatches/s", "M vertices/s", "ms"] {
        assert!(
            gpu.iter().any(|f| f.contains(&format!("[\"{unit}\"]"))),
            "no {unit} row in {gpu:?}"
        );
    }
}
