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
                .map_err(|message| AssetError::Unknown {
                    name: name.to_string(),
                    known: message,
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
}

impl AssetLibrary {
    /// An empty library.
    pub fn new() -> Self {
        Self::default()
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
            AssetRef::File(path) => import_gltf(path)?,
        });
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(asset.clone(), loaded.clone());
        Ok(loaded)
    }
}
