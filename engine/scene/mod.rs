//! Scenes: the RON file format ([`SceneDesc`]), loading with errors that point at the file, line,
//! column or field, and the [`World`] state built from a loaded scene.

mod format;
pub mod frame_graph;
mod validate;
mod world;

pub use format::{
    Animation, AvatarGroup, Camera, Environment, Ground, Layout, LodSettings, SceneDesc, Skinning,
    TargetDesc,
};
pub use frame_graph::{FrameError, FrameGraph, FrameGraphError};
pub use validate::{
    MAX_FORCED_LEVEL, MAX_FPS, MAX_GROUP_COUNT, MAX_MAGNITUDE, MAX_PIXEL_ERROR, MAX_SCALE,
    MAX_SCENE_AVATARS, MAX_SCENE_FRAMES, MAX_SPACING, MAX_SPEED, MAX_TARGET_SIDE, MAX_TARGETS,
    MIN_FPS,
};
pub use world::{Avatar, DrawBatch, SceneFrame, World};

use crate::assets::{Asset, AssetLibrary, AssetRef};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The built-in default scene (`scenes/default.ron`, compiled in).
pub const DEFAULT_SCENE: &str = include_str!("../../scenes/default.ron");

/// One semantic problem in a scene, located by its field path (`avatars[1].clip`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Field path inside the scene.
    pub field: String,
    /// What is wrong and what to do.
    pub message: String,
}

/// Errors from loading a scene.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SceneError {
    /// The scene file could not be read.
    #[error("{path}: cannot read the scene file: {source}")]
    Io {
        /// Scene file.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// RON syntax (or unknown/missing field) error at a position.
    #[error("{path}:{line}:{column}: {message}")]
    Syntax {
        /// Scene file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// Parser message.
        message: String,
    },
    /// The file parsed but its content is wrong; every problem found is listed.
    #[error("{}", ProblemList { path, problems })]
    Invalid {
        /// Scene file.
        path: PathBuf,
        /// All problems found.
        problems: Vec<Problem>,
    },
}

struct ProblemList<'a> {
    path: &'a Path,
    problems: &'a [Problem],
}

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}: {}: {}", self.path.display(), p.field, p.message)?;
        }
        Ok(())
    }
}

/// A validated scene with its assets resolved.
#[derive(Debug, Clone)]
pub struct LoadedScene {
    /// The scene as written (defaults filled in).
    pub desc: SceneDesc,
    /// Where it came from (`<builtin default>` for the compiled-in scene).
    pub source: PathBuf,
    /// Per avatar group: its asset and clip.
    pub groups: Vec<ResolvedGroup>,
}

/// An avatar group's asset and clip, resolved when the scene was loaded.
#[derive(Debug, Clone)]
pub struct ResolvedGroup {
    /// The asset.
    pub asset: Arc<Asset>,
    /// Index of the clip in `asset.clips` (`None`: rest pose).
    pub clip: Option<usize>,
}

impl LoadedScene {
    /// Build the [`World`] for this scene.
    pub fn world(&self) -> World {
        World::new(self)
    }
}

/// Load and validate a scene file.
pub fn load_scene(path: &Path, library: &AssetLibrary) -> Result<LoadedScene, SceneError> {
    let text = std::fs::read_to_string(path).map_err(|source| SceneError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_scene(&text, path, path.parent(), library)
}

/// Load the built-in default scene.
pub fn default_scene(library: &AssetLibrary) -> Result<LoadedScene, SceneError> {
    parse_scene(DEFAULT_SCENE, Path::new("<builtin default>"), None, library)
}

/// Parse and validate scene text. `source` names it in errors; relative asset paths resolve in
/// `base_dir`.
pub fn parse_scene(
    text: &str,
    source: &Path,
    base_dir: Option<&Path>,
    library: &AssetLibrary,
) -> Result<LoadedScene, SceneError> {
    let desc: SceneDesc = ron::Options::default()
        .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
        .from_str(text)
        .map_err(|e| SceneError::Syntax {
            path: source.to_path_buf(),
            line: e.span.start.line,
            column: e.span.start.col,
            message: e.code.to_string(),
        })?;
    LoadedScene::from_desc(desc, source, base_dir, library)
}

impl LoadedScene {
    /// Validate a scene built in code (or parsed) and resolve its assets: the same checks as a
    /// scene file, every problem listed by field path. `source` names the scene in errors;
    /// relative asset paths resolve in `base_dir`.
    pub fn from_desc(
        desc: SceneDesc,
        source: &Path,
        base_dir: Option<&Path>,
        library: &AssetLibrary,
    ) -> Result<LoadedScene, SceneError> {
        let mut checker = validate::Checker {
            problems: Vec::new(),
        };
        if !valid_name(&desc.name) {
            checker.bad(
                "name",
                format!(
                    "{:?} is not usable as a folder name; use letters, digits, '-', '_' or '.'",
                    desc.name
                ),
            );
        }
        validate::check_values(&desc, &mut checker);
        let mut groups = Vec::new();
        for (i, g) in desc.avatars.iter().enumerate() {
            let f = |name: &str| format!("avatars[{i}].{name}");
            let asset = match AssetRef::parse(&g.asset, base_dir).and_then(|r| library.load(&r)) {
                Ok(a) => a,
                Err(e) => {
                    checker.bad(f("asset"), e.to_string());
                    continue;
                }
            };
            let clip = match &g.clip {
                None => (!asset.clips.is_empty()).then_some(0),
                Some(name) => match asset.clip_index(name) {
                    Some(c) => Some(c),
                    None => {
                        checker.bad(
                            f("clip"),
                            format!(
                                "asset {:?} has no clip {name:?}; its clips are {}",
                                g.asset,
                                asset.clip_names()
                            ),
                        );
                        continue;
                    }
                },
            };
            groups.push(ResolvedGroup { asset, clip });
        }
        if checker.problems.is_empty() {
            Ok(LoadedScene {
                desc,
                source: source.to_path_buf(),
                groups,
            })
        } else {
            Err(SceneError::Invalid {
                path: source.to_path_buf(),
                problems: checker.problems,
            })
        }
    }
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.len() <= 128
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<LoadedScene, SceneError> {
        parse_scene(text, Path::new("test.ron"), None, &AssetLibrary::new())
    }

    #[test]
    fn default_scene_loads() {
        let s = default_scene(&AssetLibrary::new()).expect("default scene is valid");
        assert!(s.desc.targets.len() >= 2);
        assert!(s.desc.avatars.iter().any(|g| g.asset == "RiggedFigure"));
    }

    #[test]
    fn syntax_error_has_line_and_column() {
        let err = parse("Scene(\n  name: \"x\",\n  fps: 24.0\n  targets: [],\n)").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("test.ron:4:"), "{msg}");
    }

    #[test]
    fn all_semantic_problems_are_reported() {
        let err = parse(
            r#"(name: "x", frames: (5, 5),
               targets: [(name: "a", width: 0, height: 10), (name: "b", width: 9000, height: 10)],
               avatars: [(asset: "Nope"), (asset: "RiggedFigure", clip: "dance")])"#,
        )
        .unwrap_err();
        let msg = err.to_string();
        for needle in [
            "test.ron: frames:",
            "targets[0].width: is zero",
            "targets[1].width: 9000 exceeds",
            "avatars[0].asset: unknown asset \"Nope\"",
            "avatars[1].clip: asset \"RiggedFigure\" has no clip \"dance\"",
        ] {
            assert!(msg.contains(needle), "missing {needle:?} in:\n{msg}");
        }
    }

    #[test]
    fn lod_skinning_and_ground_options_are_checked() {
        let ok = parse(
            r#"(name: "x", targets: [(name: "a", width: 8, height: 8)],
               environment: (ground: (size: 20.0)),
               lod: (force: 2, bias: -1), skinning: Vertex,
               avatars: [(asset: "SimpleSkin")])"#,
        )
        .expect("valid");
        assert_eq!(ok.desc.lod.force, Some(2));
        assert_eq!(ok.desc.lod.bias, -1);
        assert_eq!(ok.desc.lod.pixel_error, 0.5);
        assert_eq!(ok.desc.skinning, Skinning::Vertex);
        assert_eq!(
            ok.desc.environment.ground.as_ref().map(|g| g.size),
            Some(20.0)
        );
        let err = parse(
            r#"(name: "x", targets: [(name: "a", width: 8, height: 8)],
               environment: (ground: (size: -1.0)),
               lod: (pixel_error: 0.0, bias: 7, hysteresis: 2.0),
               avatars: [(asset: "SimpleSkin")])"#,
        )
        .unwrap_err()
        .to_string();
        for needle in [
            "lod.pixel_error: 0 must be above 0 and at most 1000 pixels",
            "lod.bias: 7 is outside -3 ..= 3",
            "lod.hysteresis: 2 is outside 0 ..= 0.9",
            "environment.ground.size: -1 must be a positive length",
        ] {
            assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
        }
        let err = parse(
            r#"(name: "x", targets: [(name: "a", width: 8, height: 8)], skinning: Gpu,
               avatars: [(asset: "SimpleSkin")])"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("test.ron:1:") && err.contains("Gpu"), "{err}");
    }
}
