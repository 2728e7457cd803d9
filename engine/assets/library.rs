//! The asset library: resolves the asset names used in scenes and caches what it loaded, so every
//! scene and every device shares one copy of each asset.

use super::procedural::{self, Detail};
use super::{Asset, AssetError, import_gltf, import_gltf_slice};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Sample characters compiled into the binary: `(name, glTF text)`. Their licenses and
/// attribution are in `assets/LICENSES.md`.
pub const BUILTIN_ASSETS: &[(&str, &str)] = &[
    (
        "RiggedFigure",
        include_str!("../../assets/RiggedFigure.gltf"),
    ),
    (
        "RiggedSimple",
        include_str!("../../assets/RiggedSimple.gltf"),
    ),
    ("SimpleSkin", include_str!("../../assets/SimpleSkin.gltf")),
];

/// What an asset name in a scene refers to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AssetRef {
    /// One of [`BUILTIN_ASSETS`].
    Builtin(&'static str),
    /// The procedural humanoid at a detail level (`humanoid` or `humanoid:<detail>`).
    Humanoid(Detail),
    /// A `.gltf`/`.glb` file (already resolved against the scene's folder).
    File(PathBuf),
}

impl AssetRef {
    /// Parse a scene's asset string. Paths are resolved relative to `base_dir`.
    pub fn parse(name: &str, base_dir: Option<&Path>) -> Result<Self, AssetError> {
        if let Some(&(builtin, _)) = BUILTIN_ASSETS.iter().find(|(n, _)| *n == name) {
            return Ok(Self::Builtin(builtin));
        }
        if name == "humanoid" {
            return Ok(Self::Humanoid(Detail::default()));
        }
        if let Some(level) = name.strip_prefix("humanoid:") {
            return level
                .parse::<Detail>()
                .map(Self::Humanoid)
                .map_err(|e| AssetError::Unknown {
                    name: name.to_string(),
                    known: e.to_string(),
                });
        }
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".gltf") || lower.ends_with(".glb") {
            let path = Path::new(name);
            let full = match base_dir {
                Some(dir) if path.is_relative() => dir.join(path),
                _ => path.to_path_buf(),
            };
            return Ok(Self::File(full));
        }
        Err(AssetError::Unknown {
            name: name.to_string(),
            known: known_names(),
        })
    }
}

fn known_names() -> String {
    let mut names: Vec<String> = BUILTIN_ASSETS.iter().map(|(n, _)| n.to_string()).collect();
    names.push("humanoid".into());
    names.push("humanoid:<low|medium|high|ultra>".into());
    names.join(", ")
}

/// A thread-safe cache of loaded assets.
#[derive(Default)]
pub struct AssetLibrary {
    cache: Mutex<HashMap<AssetRef, Arc<Asset>>>,
    /// Files load only from inside this folder, when set.
    root: Option<PathBuf>,
}

impl AssetLibrary {
    /// An empty library.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty library that loads files only from inside `root` (after resolving `.`, `..` and
    /// symbolic links), for scenes from untrusted sources: a scene's asset path cannot reach
    /// any other file. Built-in and procedural assets load as usual; the files a glTF refers to
    /// must lie beside it, as always.
    pub fn confined(root: impl Into<PathBuf>) -> Self {
        Self {
            cache: Mutex::default(),
            root: Some(root.into()),
        }
    }

    /// The folder files must lie in, if this library is [`confined`](Self::confined).
    pub fn root(&self) -> Option<&Path> {
        self.root.as_deref()
    }

    /// Refuse a file outside the root of a confined library: first by its path alone (so that
    /// nothing outside is touched, not even to see whether it exists), then by its canonical
    /// path (symbolic links).
    fn check_confined(&self, path: &Path) -> Result<(), AssetError> {
        let Some(root) = &self.root else {
            return Ok(());
        };
        let outside = || AssetError::OutsideFolder {
            path: path.to_path_buf(),
            root: root.clone(),
        };
        let absolute = |p: &Path| std::path::absolute(p).map(|p| lexically_normal(&p));
        match (absolute(path), absolute(root)) {
            (Ok(p), Ok(r)) if p.starts_with(&r) => {}
            _ => return Err(outside()),
        }
        let canon_root = root.canonicalize().map_err(|source| AssetError::Io {
            path: root.clone(),
            source,
        })?;
        let canon = path.canonicalize().map_err(|source| AssetError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if !canon.starts_with(canon_root) {
            return Err(outside());
        }
        Ok(())
    }

    /// Load (or return the cached) asset.
    pub fn load(&self, asset: &AssetRef) -> Result<Arc<Asset>, AssetError> {
        if let Some(a) = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(asset)
        {
            return Ok(a.clone());
        }
        let loaded = Arc::new(match asset {
            AssetRef::Builtin(name) => {
                let text = BUILTIN_ASSETS
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, t)| *t)
                    .unwrap_or_default();
                import_gltf_slice(
                    text.as_bytes(),
                    name,
                    Path::new(&format!("<builtin {name}.gltf>")),
                    None,
                )?
            }
            AssetRef::Humanoid(detail) => procedural::humanoid(*detail),
            AssetRef::File(path) => {
                self.check_confined(path)?;
                import_gltf(path)?
            }
        });
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(asset.clone(), loaded.clone());
        Ok(loaded)
    }
}

/// `path` with `.` dropped and `..` applied to the components before it, without touching the
/// file system (a `..` at the start stays, so such a path never looks inside a root).
fn lexically_normal(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out: Vec<Component<'_>> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(c),
            },
            _ => out.push(c),
        }
    }
    out.iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confined_library_refuses_files_outside_its_root() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = tmp.path().join("root");
        std::fs::create_dir_all(&root).expect("mkdir");
        let (_, text) = BUILTIN_ASSETS[2];
        std::fs::write(root.join("inside.gltf"), text).expect("write");
        std::fs::write(tmp.path().join("outside.gltf"), text).expect("write");
        let lib = AssetLibrary::confined(&root);
        lib.load(&AssetRef::parse("inside.gltf", Some(&root)).expect("ref"))
            .expect("a file inside loads");
        lib.load(&AssetRef::Builtin("SimpleSkin"))
            .expect("built-ins load");
        for name in [
            "../outside.gltf",
            "sub/../../outside.gltf",
            "/etc/missing.gltf",
        ] {
            let r = AssetRef::parse(name, Some(&root)).expect("ref");
            let err = lib.load(&r).expect_err(name);
            assert!(
                matches!(err, AssetError::OutsideFolder { .. }),
                "{name}: {err}"
            );
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(tmp.path().join("outside.gltf"), root.join("link.gltf"))
                .expect("symlink");
            let r = AssetRef::parse("link.gltf", Some(&root)).expect("ref");
            let err = lib.load(&r).expect_err("symlink");
            assert!(matches!(err, AssetError::OutsideFolder { .. }), "{err}");
        }
        // An unconfined library loads what it is given.
        AssetLibrary::new()
            .load(&AssetRef::parse("../outside.gltf", Some(&root)).expect("ref"))
            .expect("unconfined");
    }
}
