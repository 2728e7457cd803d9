//! Atomic PNG output: encode in memory, write a temporary file beside the target, sync, rename.
//! A crash or a full disk never leaves a partial PNG under the final name.
//!
//! Temporary files are named `.<final name>.<process token>-<sequence>.tmp`. The token is random
//! per process (see [`process_token`]), so names never collide between processes, even where
//! every container runs tutti as PID 1. While a temporary file exists its writer holds an
//! exclusive advisory lock on it ([`std::fs::File::lock`]), and it writes nothing before taking
//! the lock: [`remove_stale_temporary`] uses that to tell a dead writer's leftovers from a live
//! writer's file.

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
    type Err = super::OptionError;
    fn from_str(s: &str) -> Result<Self, super::OptionError> {
        match s {
            "fast" => Ok(Self::Fast),
            "default" => Ok(Self::Default),
            "best" => Ok(Self::Best),
            _ => Err(super::OptionError::NotACompression { text: s.into() }),
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

/// A token unique to this process: its PID and 64 random bits (from the standard library's
/// OS-seeded hasher keys), e.g. `4242-9f1c03a7d2e4b6c8`.
pub fn process_token() -> &'static str {
    static TOKEN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TOKEN.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            h.write_u128(t.as_nanos());
        }
        format!("{}-{:016x}", std::process::id(), h.finish())
    })
}

/// How old an *empty* unlocked temporary file must be before another run removes it. A writer
/// creates the file and locks it a moment later; only in between can it be empty and unlocked.
pub const STALE_EMPTY_TEMPORARY: std::time::Duration = std::time::Duration::from_secs(300);

/// Is `name` one of tutti's temporary file names, `.<file>.<pid>-<16 hex digits>-<n>.tmp`?
/// (Other files, including other tools' `.tmp` files, are never touched.)
pub fn is_temporary_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix('.').and_then(|n| n.strip_suffix(".tmp")) else {
        return false;
    };
    let Some((file, tag)) = rest.rsplit_once('.') else {
        return false;
    };
    let mut parts = tag.split('-');
    let (Some(pid), Some(random), Some(seq), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    !file.is_empty()
        && digits(pid)
        && digits(seq)
        && random.len() == 16
        && random.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Remove the temporary file at `path` if its writer is provably gone: its lock can be taken
/// (a live writer holds it from before its first byte until after the rename) and it is not an
/// empty file younger than [`STALE_EMPTY_TEMPORARY`] (a writer between creating and locking it).
/// Returns whether the file was removed.
pub fn remove_stale_temporary(path: &Path) -> bool {
    let Ok(file) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
    else {
        return false;
    };
    if file.try_lock().is_err() {
        return false; // a live writer holds it
    }
    let Ok(meta) = file.metadata() else {
        return false;
    };
    if meta.len() == 0 {
        let age = meta
            .modified()
            .ok()
            .and_then(|m| m.elapsed().ok())
            .unwrap_or_default();
        if age < STALE_EMPTY_TEMPORARY {
            return false;
        }
    }
    // Still holding the lock: no writer can be using the name now, and names are never reused.
    let removed = std::fs::remove_file(path).is_ok();
    drop(file);
    removed
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
    // The lock is held from before the first byte until after the rename (see the module doc).
    let (tmp, file) = match create_locked_temporary(dir, &file_name) {
        Ok(created) => created,
        Err((tmp, source)) => {
            if let Some(tmp) = tmp {
                let _ = std::fs::remove_file(&tmp);
            }
            return Err(WriteError::Io {
                path: path.to_path_buf(),
                op: "writing",
                source,
            });
        }
    };
    let written = (|| {
        let mut f = &file;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    if let Err(source) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(WriteError::Io {
            path: path.to_path_buf(),
            op: "writing",
            source,
        });
    }
    let renamed = std::fs::rename(&tmp, path).map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        WriteError::Io {
            path: path.to_path_buf(),
            op: "renaming into place",
            source,
        }
    });
    drop(file);
    renamed
}

/// Create and lock a fresh temporary file for `file_name` in `dir`. If another run removed the
/// file between its creation and the lock (possible only when this process stalled for
/// [`STALE_EMPTY_TEMPORARY`] in between, e.g. suspended), a new name is tried.
type Created = (PathBuf, std::fs::File);
fn create_locked_temporary(
    dir: &Path,
    file_name: &str,
) -> Result<Created, (Option<PathBuf>, std::io::Error)> {
    static SEQUENCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    for _ in 0..3 {
        let seq = SEQUENCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = dir.join(format!(".{file_name}.{}-{seq}.tmp", process_token()));
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| (None, e))?;
        f.lock().map_err(|e| (Some(tmp.clone()), e))?;
        if still_named(&f, &tmp) {
            return Ok((tmp, f));
        }
    }
    Err((
        None,
        std::io::Error::other(
            "another process keeps removing this process's temporary files; is a foreign cleaner running on the output folder?",
        ),
    ))
}

/// Is the open file `f` still the file at `path`?
fn still_named(f: &std::fs::File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (f.metadata(), std::fs::metadata(path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = f;
        path.exists()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_files_of_live_writers_are_never_removed() {
        let dir = tempfile::tempdir().expect("tmp");
        // A live writer: holds the lock on its (non-empty) temporary file.
        let live = dir.path().join(".000001.png.7-00000000000000aa-1.tmp");
        let f = std::fs::File::create(&live).expect("create");
        f.lock().expect("lock");
        std::fs::write(&live, b"partial").expect("write");
        assert!(!remove_stale_temporary(&live), "a locked file is live");
        assert!(live.exists());
        // The writer dies: its lock goes with it.
        drop(f);
        assert!(
            remove_stale_temporary(&live),
            "an unlocked, written file is stale"
        );
        assert!(!live.exists());
        // Created but not yet locked (or a writer that died in that instant): kept while young.
        let young = dir.path().join(".000002.png.7-00000000000000aa-2.tmp");
        std::fs::File::create(&young).expect("create");
        assert!(!remove_stale_temporary(&young));
        let f = std::fs::File::options()
            .write(true)
            .open(&young)
            .expect("open");
        f.set_modified(std::time::SystemTime::now() - 2 * STALE_EMPTY_TEMPORARY)
            .expect("age it");
        drop(f);
        assert!(remove_stale_temporary(&young), "an old empty file is stale");
    }

    #[test]
    fn only_tuttis_own_temporary_names_are_recognised() {
        for ok in [
            ".000001.png.42-0123456789abcdef-0.tmp",
            ".manifest.jsonl.1-fedcba9876543210-77.tmp",
        ] {
            assert!(is_temporary_name(ok), "{ok}");
        }
        for other in [
            ".000001.png.tmp",
            ".swap.tmp",
            ".x.42-0123456789abcdef.tmp",
            ".x.42-0123456789abcdeg-1.tmp",
            ".x.42-0123456789abcde-1.tmp",
            "000001.png.42-0123456789abcdef-0.tmp",
            "..42-0123456789abcdef-0.tmp",
            ".000001.png.1234.ThreadId3.tmp",
        ] {
            assert!(!is_temporary_name(other), "{other}");
        }
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("f.png");
        let (tmp, _f) = create_locked_temporary(dir.path(), "f.png").expect("create");
        let name = tmp
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        assert!(is_temporary_name(&name), "{name}");
        assert!(!path.exists());
    }

    #[test]
    fn temporary_names_are_unique_per_process_and_call() {
        let token = process_token();
        assert_eq!(token, process_token());
        let (pid, random) = token.split_once('-').expect("pid-random");
        assert_eq!(pid, std::process::id().to_string());
        assert_eq!(random.len(), 16);
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("a.png");
        write_atomic(&path, b"one").expect("write");
        write_atomic(&path, b"two").expect("write");
        assert_eq!(std::fs::read(&path).expect("read"), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("dir")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from("a.png")],
            "no temporaries left"
        );
    }
}
