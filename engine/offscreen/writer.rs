//! Atomic PNG output: encode in memory, write a temporary file beside the target, sync, rename.
//! A crash or a full disk never leaves a partial PNG under the final name.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Errors from writing an output file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// PNG encoding failed.
    #[error("{path}: PNG encoding failed: {message}")]
    Encode {
        /// Destination.
        path: PathBuf,
        /// Encoder message.
        message: String,
    },
    /// A filesystem operation failed.
    #[error("{path}: {op} failed: {source}")]
    Io {
        /// Path involved.
        path: PathBuf,
        /// Operation (create folder, write, rename).
        op: &'static str,
        /// Underlying error.
        source: std::io::Error,
    },
}

/// `DIR/<scene>/<target>/<frame:06>.png`.
pub fn frame_path(out_dir: &Path, scene: &str, target: &str, frame: u32) -> PathBuf {
    out_dir
        .join(scene)
        .join(target)
        .join(format!("{frame:06}.png"))
}

/// PNG compression level: encode speed against file size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// Fastest encode, largest files (the default: encoding is often the bottleneck).
    #[default]
    Fast,
    /// zlib's default level.
    Default,
    /// Smallest files, slowest encode.
    Best,
}

impl std::str::FromStr for Compression {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "fast" => Ok(Self::Fast),
            "default" => Ok(Self::Default),
            "best" => Ok(Self::Best),
            _ => Err(format!(
                "{s:?} is not a PNG compression; use fast, default or best"
            )),
        }
    }
}

/// Encode RGBA8 pixels as PNG with [`Compression::Fast`] (deterministic: same pixels, same bytes).
pub fn encode_png(width: u32, height: u32, rgba: &[u8]) -> Result<Vec<u8>, String> {
    encode_png_with(width, height, rgba, Compression::Fast)
}

/// Encode RGBA8 pixels as PNG at a compression level (deterministic for a given level).
pub fn encode_png_with(
    width: u32,
    height: u32,
    rgba: &[u8],
    compression: Compression,
) -> Result<Vec<u8>, String> {
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    let (c, f) = match compression {
        Compression::Fast => (CompressionType::Fast, FilterType::Adaptive),
        Compression::Default => (CompressionType::Default, FilterType::Adaptive),
        Compression::Best => (CompressionType::Best, FilterType::Adaptive),
    };
    let mut png = Vec::new();
    image::ImageEncoder::write_image(
        PngEncoder::new_with_quality(&mut png, c, f),
        rgba,
        width,
        height,
        image::ExtendedColorType::Rgba8,
    )
    .map_err(|e| e.to_string())?;
    Ok(png)
}

/// Encode and write a PNG atomically. Returns the file size.
pub fn write_png_atomic(
    path: &Path,
    width: u32,
    height: u32,
    rgba: &[u8],
) -> Result<u64, WriteError> {
    let png = encode_png(width, height, rgba).map_err(|message| WriteError::Encode {
        path: path.to_path_buf(),
        message,
    })?;
    write_atomic(path, &png)?;
    Ok(png.len() as u64)
}

/// Write bytes to `path` through a temporary sibling and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|source| WriteError::Io {
        path: dir.to_path_buf(),
        op: "creating the folder",
        source,
    })?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(
        format!(
            ".{file_name}.{}.{:?}.tmp",
            std::process::id(),
            std::thread::current().id()
        )
        .replace(['(', ')'], ""),
    );
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    if let Err(source) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(WriteError::Io {
            path: path.to_path_buf(),
            op: "writing",
            source,
        });
    }
    std::fs::rename(&tmp, path).map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        WriteError::Io {
            path: path.to_path_buf(),
            op: "renaming into place",
            source,
        }
    })
}
