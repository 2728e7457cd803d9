//! The run manifest (`manifest.jsonl`, one JSON object per written file), the run plan
//! (`plan.json`), verification, resume and shard merging.
//!
//! A line is appended only after its file was renamed into place, in one `write` call. A crash
//! or a full disk can still leave a torn line (anywhere, if the disk filled and later runs
//! appended after it): [`load`] skips and counts every line that does not parse, and `--resume`
//! renders those files again. A line never names a missing or partial file.
//!
//! **Durability.** [`ManifestWriter`] holds appended lines in memory and writes them at most
//! [`SYNC_INTERVAL`] apart and when the run ends ([`ManifestWriter::sync`]): it first fsyncs the
//! folders the listed files were renamed into (so their names are on disk), then writes the
//! lines, then fsyncs the manifest and its folder. A line is therefore never on disk before its
//! file, and a crash or power loss costs at most the last [`SYNC_INTERVAL`] of lines (their
//! files are rendered again by `--resume`).

use super::plan::Plan;
use serde::{Deserialize, Serialize};
use sha2::Digest;
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

/// One written file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// Scene name.
    pub scene: String,
    /// Target name.
    pub target: String,
    /// Frame index.
    pub frame: u32,
    /// Path relative to the manifest's folder, `/`-separated.
    pub path: String,
    /// Adapter that rendered it.
    pub adapter: String,
    /// File size.
    pub bytes: u64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// GPU time of the frame (all targets), ms.
    pub render_ms: f64,
    /// Readback (map, copy out, unpad) time of the frame, ms.
    pub readback_ms: f64,
    /// PNG encode time of this file, ms.
    pub encode_ms: f64,
    /// Write + rename time of this file, ms.
    pub write_ms: f64,
    /// What the cull + LOD pass drew into this target (absent in manifests written before
    /// LOD selection existed: all zero).
    #[serde(default, flatten)]
    pub stats: crate::render::TargetStats,
    /// Content hash of the scene that made the file (see `plan.json`); empty in manifests
    /// written before scene hashes existed, which `--resume` therefore renders again.
    #[serde(default)]
    pub scene_hash: String,
}

impl ManifestEntry {
    /// The (scene, target, frame) key.
    pub fn key(&self) -> (String, String, u32) {
        (self.scene.clone(), self.target.clone(), self.frame)
    }
}

/// Errors of manifest handling.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// Merging or verification found problems (every one is listed).
    #[error("manifest verification failed:\n  {}", .0.join("\n  "))]
    Verify(Vec<String>),
    /// A listed file has another size than the manifest records.
    #[error("{path}: {actual} bytes, manifest says {expected}; render it again with --resume")]
    SizeMismatch {
        /// The file.
        path: PathBuf,
        /// Its size.
        actual: u64,
        /// The size the manifest records.
        expected: u64,
    },
    /// A listed file's SHA-256 differs from the manifest's.
    #[error(
        "{path}: checksum {actual} does not match the manifest's {expected}; render it again with --resume"
    )]
    ChecksumMismatch {
        /// The file.
        path: PathBuf,
        /// Its checksum, hex.
        actual: String,
        /// The checksum the manifest records, hex.
        expected: String,
    },
}

/// SHA-256 of bytes as lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&sha2::Sha256::digest(bytes))
}

/// Bytes as lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Manifest file name for a run: `manifest.jsonl`, or `manifest.shard-K-of-N.jsonl`.
pub fn manifest_name(shard: Option<super::Shard>) -> String {
    match shard {
        Some(s) => format!("manifest.shard-{}-of-{}.jsonl", s.index, s.count),
        None => "manifest.jsonl".into(),
    }
}

/// A manifest as read: its entries and how many lines were malformed.
#[derive(Debug, Clone, Default)]
pub struct LoadedManifest {
    /// Entries of every line that parsed, in file order.
    pub entries: Vec<ManifestEntry>,
    /// Lines that did not parse (torn by a crash or a full disk), skipped.
    pub malformed: usize,
}

/// Load a manifest. Malformed lines anywhere in the file (torn by a crash or a full disk) are
/// skipped; use [`load_counted`] to learn how many.
pub fn load(path: &Path) -> Result<Vec<ManifestEntry>, ManifestError> {
    Ok(load_counted(path)?.entries)
}

/// Load a manifest, skipping and counting malformed lines.
pub fn load_counted(path: &Path) -> Result<LoadedManifest, ManifestError> {
    let bytes = std::fs::read(path).map_err(|source| ManifestError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut out = LoadedManifest::default();
    // Split raw bytes: a torn write may have cut a UTF-8 sequence, or left NULs (a file system
    // that extended the file before the disk filled).
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(|b| b.is_ascii_whitespace() || *b == 0) {
            continue;
        }
        match serde_json::from_slice::<ManifestEntry>(line) {
            Ok(e) => out.entries.push(e),
            Err(e) => {
                out.malformed += 1;
                tracing::warn!(
                    "{}:{}: skipping a malformed line ({e}); its file will be rendered again on --resume",
                    path.display(),
                    i + 1
                );
            }
        }
    }
    Ok(out)
}

/// Check that an entry's file exists under `dir` with the recorded size and checksum.
pub fn verify_entry(dir: &Path, e: &ManifestEntry) -> Result<(), ManifestError> {
    let path = dir.join(&e.path);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(source) => return Err(ManifestError::Io { path, source }),
    };
    if bytes.len() as u64 != e.bytes {
        return Err(ManifestError::SizeMismatch {
            path,
            actual: bytes.len() as u64,
            expected: e.bytes,
        });
    }
    let sum = sha256_hex(&bytes);
    if sum != e.sha256 {
        return Err(ManifestError::ChecksumMismatch {
            path,
            actual: sum,
            expected: e.sha256.clone(),
        });
    }
    Ok(())
}

/// Longest time a line appended to the manifest waits before it is written and synced (the
/// caller drives it with [`ManifestWriter::sync_due`]).
pub const SYNC_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// Appends entries to a manifest: lines wait in memory until the folders of their files are
/// synced, then go out in one `write` and are synced (see the module doc).
pub struct ManifestWriter {
    file: std::fs::File,
    path: PathBuf,
    /// Folders that received files since the last sync.
    dirty_dirs: HashSet<PathBuf>,
    /// Lines not yet written.
    pending: String,
    last_sync: std::time::Instant,
}

/// The folder holding `path` (`.` for a bare file name).
fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// fsync a folder, so the names renamed into it are on disk (a no-op where folders cannot be
/// opened, as on Windows).
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

impl ManifestWriter {
    /// Open for appending, first replacing the file's content with `keep` (atomically).
    pub fn create(path: &Path, keep: &[ManifestEntry]) -> Result<Self, ManifestError> {
        let io = |source| ManifestError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut text = String::new();
        for e in keep {
            text.push_str(&serde_json::to_string(e).map_err(|e| io(std::io::Error::other(e)))?);
            text.push('\n');
        }
        super::write_atomic(path, text.as_bytes())
            .map_err(|e| io(std::io::Error::other(e.to_string())))?;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(io)?;
        let mut writer = Self {
            file,
            path: path.to_path_buf(),
            dirty_dirs: HashSet::new(),
            pending: String::new(),
            last_sync: std::time::Instant::now(),
        };
        writer.sync()?;
        Ok(writer)
    }

    /// Append one entry (call only after its file is in place). The line is written by the next
    /// [`Self::sync`]; call [`Self::sync_due`] regularly.
    pub fn append(&mut self, e: &ManifestEntry) -> Result<(), ManifestError> {
        let line = serde_json::to_string(e).map_err(|err| ManifestError::Io {
            path: self.path.clone(),
            source: std::io::Error::other(err),
        })?;
        self.pending.push_str(&line);
        self.pending.push('\n');
        let file = folder_of(&self.path).join(&e.path);
        self.dirty_dirs.insert(folder_of(&file).to_path_buf());
        self.sync_due()
    }

    /// How long until the next sync is due (zero when it is overdue).
    pub fn until_due(&self) -> std::time::Duration {
        SYNC_INTERVAL.saturating_sub(self.last_sync.elapsed())
    }

    /// Sync if the last sync is [`SYNC_INTERVAL`] old.
    pub fn sync_due(&mut self) -> Result<(), ManifestError> {
        if self.until_due().is_zero() {
            self.sync()?;
        }
        Ok(())
    }

    /// Make every appended line durable: fsync the folders their files were renamed into, write
    /// the lines, then fsync the manifest and its folder. Call at the end of a run.
    pub fn sync(&mut self) -> Result<(), ManifestError> {
        let fail = |path: &Path, source| ManifestError::Io {
            path: path.to_path_buf(),
            source,
        };
        self.last_sync = std::time::Instant::now();
        for dir in self.dirty_dirs.drain() {
            sync_dir(&dir).map_err(|e| fail(&dir, e))?;
        }
        if !self.pending.is_empty() {
            // Never written twice: after a failed write (a full disk) the lines are dropped, and
            // whatever part reached the file is complete lines plus at most one torn one, which
            // `load` skips. Their files are rendered again by `--resume`.
            let written = self.file.write_all(self.pending.as_bytes());
            self.pending.clear();
            written.map_err(|e| fail(&self.path, e))?;
        }
        self.file.sync_data().map_err(|e| fail(&self.path, e))?;
        let folder = folder_of(&self.path);
        sync_dir(folder).map_err(|e| fail(folder, e))
    }
}

/// What `tutti manifest merge` found.
#[derive(Debug)]
pub struct MergeSummary {
    /// Entries in the merged manifest.
    pub entries: usize,
    /// Shard manifests read.
    pub manifests: usize,
    /// Where the merged manifest was written.
    pub out: PathBuf,
}

/// Merge the manifests found in `dirs` (every `manifest*.jsonl`), verify every file's checksum,
/// that no (scene, target, frame) appears twice, and that together they cover the run plan
/// (`plan.json`, identical in every folder). Writes the merged manifest to `out` (paths made
/// relative to its folder where possible).
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<MergeSummary, ManifestError> {
    let mut problems = Vec::new();
    // Nothing may still be writing into the folders, and nobody else may write `out`.
    let out_name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let _lock = super::OutputLock::acquire(folder_of(out), &out_name)
        .map_err(|e| ManifestError::Verify(vec![e.to_string()]))?;
    for dir in dirs {
        for (manifest, holder) in super::lock::held_locks(dir, Some(&out_name)) {
            problems.push(format!(
                "{}: {manifest} is still being written ({holder}); merge after every run has finished",
                dir.display()
            ));
        }
    }
    if !problems.is_empty() {
        return Err(ManifestError::Verify(problems));
    }
    let mut plan: Option<Plan> = None;
    let mut entries: Vec<(PathBuf, ManifestEntry)> = Vec::new();
    let mut manifests = 0;
    for dir in dirs {
        match Plan::load(&dir.join("plan.json")) {
            Ok(p) => {
                match &plan {
                    Some(existing) if existing != &p => {
                        problems.push(format!("{}: plan.json differs from the first folder's; these are different runs", dir.display()));
                    }
                    Some(_) => {}
                    None => plan = Some(p),
                }
            }
            Err(e) => problems.push(e.to_string()),
        }
        let read = std::fs::read_dir(dir).map_err(|source| ManifestError::Io {
            path: dir.clone(),
            source,
        })?;
        let mut files: Vec<PathBuf> = read
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                let name = p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                name.starts_with("manifest") && name.ends_with(".jsonl") && p.as_path() != out
            })
            .collect();
        files.sort();
        for f in files {
            manifests += 1;
            let loaded = load_counted(&f)?;
            if loaded.malformed > 0 {
                problems.push(format!(
                    "{}: {} malformed line(s); run that shard again with --resume to render their files again",
                    f.display(),
                    loaded.malformed
                ));
            }
            for e in loaded.entries {
                entries.push((dir.clone(), e));
            }
        }
    }
    // Verify files in parallel.
    use rayon::prelude::*;
    problems.extend(
        entries
            .par_iter()
            .filter_map(|(dir, e)| verify_entry(dir, e).err().map(|e| e.to_string()))
            .collect::<Vec<_>>(),
    );
    let mut seen: HashMap<(String, String, u32), &Path> = HashMap::new();
    for (dir, e) in &entries {
        if let Some(first) = seen.insert(e.key(), dir) {
            problems.push(format!(
                "{} {} frame {} appears twice (in {} and {})",
                e.scene,
                e.target,
                e.frame,
                first.display(),
                dir.display()
            ));
        }
    }
    if let Some(plan) = &plan {
        let hashes: HashMap<&str, &str> = plan
            .scenes
            .iter()
            .map(|s| (s.name.as_str(), s.hash.as_str()))
            .collect();
        let mut stale = 0usize;
        for (dir, e) in &entries {
            if hashes.get(e.scene.as_str()) != Some(&e.scene_hash.as_str()) {
                if stale < 10 {
                    problems.push(format!(
                        "{}: {} was rendered from a different version of scene {} than plan.json describes; render it again with --resume",
                        dir.display(),
                        e.path,
                        e.scene
                    ));
                }
                stale += 1;
            }
        }
        if stale > 10 {
            problems.push(format!("... {} more stale files", stale - 10));
        }
        let have: HashSet<(String, String, u32)> = entries.iter().map(|(_, e)| e.key()).collect();
        let mut missing = 0usize;
        for key in plan.all_files() {
            if !have.contains(&key) {
                if missing < 10 {
                    problems.push(format!("{} {} frame {} is missing", key.0, key.1, key.2));
                }
                missing += 1;
            }
        }
        if missing > 10 {
            problems.push(format!("... {} more missing files", missing - 10));
        }
    }
    if !problems.is_empty() {
        return Err(ManifestError::Verify(problems));
    }
    let out_dir = out.parent().unwrap_or(Path::new("."));
    let merged: Vec<ManifestEntry> = entries
        .into_iter()
        .map(|(dir, mut e)| {
            let abs = dir.join(&e.path);
            e.path = relative_to(&abs, out_dir);
            e
        })
        .collect();
    ManifestWriter::create(out, &merged)?;
    Ok(MergeSummary {
        entries: merged.len(),
        manifests,
        out: out.to_path_buf(),
    })
}

/// `path` relative to `base` when it lies below it, else absolute (`/`-separated).
fn relative_to(path: &Path, base: &Path) -> String {
    let canon = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let (p, b) = (canon(path), canon(base));
    let rel = p.strip_prefix(&b).map(Path::to_path_buf).unwrap_or(p);
    rel.to_string_lossy().replace('\\', "/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(frame: u32) -> ManifestEntry {
        ManifestEntry {
            scene: "s".into(),
            target: "t".into(),
            frame,
            path: format!("s/t/{frame:06}.png"),
            adapter: "a".into(),
            bytes: 1,
            sha256: String::new(),
            render_ms: 0.0,
            readback_ms: 0.0,
            encode_ms: 0.0,
            write_ms: 0.0,
            stats: Default::default(),
            scene_hash: "h".into(),
        }
    }

    #[test]
    fn lines_reach_the_file_only_once_their_folders_are_synced_and_at_most_an_interval_late() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::create_dir_all(dir.path().join("s/t")).expect("folders");
        let path = dir.path().join("manifest.jsonl");
        let mut w = ManifestWriter::create(&path, &[entry(0)]).expect("create");
        assert_eq!(
            load(&path).expect("load").len(),
            1,
            "kept entries are written at once"
        );
        assert!(w.until_due() <= SYNC_INTERVAL);
        w.append(&entry(1)).expect("append");
        assert_eq!(load(&path).expect("load").len(), 1, "not yet synced");
        w.sync().expect("sync");
        assert_eq!(load(&path).expect("load"), vec![entry(0), entry(1)]);
        assert!(
            w.until_due() > SYNC_INTERVAL / 2,
            "the sync restarted the interval"
        );
        // An overdue writer syncs on the next append.
        w.last_sync -= SYNC_INTERVAL;
        assert!(w.until_due().is_zero());
        w.append(&entry(2)).expect("append");
        assert_eq!(load(&path).expect("load").len(), 3);
    }

    #[test]
    fn malformed_lines_anywhere_are_skipped_and_counted() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("manifest.jsonl");
        let good = |f| serde_json::to_string(&entry(f)).expect("json");
        let mut bytes = format!(
            "{}\n{{\"scene\": \"s\", \"tar\n\0\0\0\n{}\n",
            good(0),
            good(1)
        )
        .into_bytes();
        bytes.extend_from_slice(b"\xff\xfe\n");
        bytes.extend_from_slice(&good(2).as_bytes()[..20]);
        std::fs::write(&path, bytes).expect("write");
        let loaded = load_counted(&path).expect("load");
        assert_eq!(loaded.entries, vec![entry(0), entry(1)]);
        assert_eq!(
            loaded.malformed, 3,
            "the torn line, the bad bytes and the torn end"
        );
    }
}
