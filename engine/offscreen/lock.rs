//! Who may write into an output folder, and which temporary files in it are stale.
//!
//! - **One run per manifest.** A run holds an exclusive OS advisory lock ([`std::fs::File::lock`]:
//!   `flock` on Unix, `LockFileEx` on Windows) on `DIR/<manifest name>.lock` (for example
//!   `manifest.shard-3-of-16.jsonl.lock`) for as long as it runs. Shards have different manifests,
//!   so any number of shards share one folder; a second copy of the same shard (or of the same
//!   unsharded run) refuses to start and names the process that holds the folder. The OS drops
//!   the lock when the holder exits or is killed, so a crashed run never blocks the next one. Lock
//!   files are left in place: deleting one while another process opens it would let two runs
//!   hold "the" lock.
//! - **Stale temporaries.** A run removes only temporary files whose writer is provably gone
//!   (see [`super::remove_stale_temporary`]), never those another live
//!   process writes.
//!
//! - **One shard count per folder.** At start a run also looks at the other runs' lock files:
//!   if a live run with another `--shard` count (or an unsharded run next to a sharded one)
//!   holds the folder, it refuses, because the two would render the same frames.
//! - `tutti manifest merge` takes the lock of the manifest it writes and refuses while any run
//!   still holds the folder.
//!
//! On NFS, Linux implements these locks as POSIX byte-range locks through the server (NFSv4, or
//! NFSv3 with `lockd`), so they hold across machines. If a client machine dies, the server
//! frees its locks when the client's lease expires (about 90 s on NFSv4); until then a restarted
//! copy of that shard refuses to start, naming the old holder. POSIX locks belong to a process,
//! not to an open file: on NFS one process cannot hold two of tutti's locks on one file (tutti
//! never tries). A folder mounted with `nolock` or `local_lock=flock|all` has only machine-local
//! locks: there, give each shard its own `--out` and merge the folders with
//! `tutti manifest merge DIR...`.

use super::writer::{is_temporary_name, remove_stale_temporary};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// An exclusive claim on one manifest of an output folder, released on drop (or process exit).
#[derive(Debug)]
pub struct OutputLock {
    _file: std::fs::File,
    path: PathBuf,
}

/// Why a folder could not be claimed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// Another live process holds the lock.
    #[error(
        "{dir} is in use by another tutti run ({holder}, lock file {lock}); wait for it to finish, stop it, or render into another --out"
    )]
    Busy {
        /// Output folder.
        dir: PathBuf,
        /// Lock file.
        lock: PathBuf,
        /// What the holder wrote about itself.
        holder: String,
    },
    /// A live run with a different shard count uses the folder.
    #[error(
        "{dir} is in use by a run with {other} ({holder}); runs sharing a folder must be shards of one --shard K/N split with the same N. Wait for it to finish, or render into another --out"
    )]
    OtherSplit {
        /// Output folder.
        dir: PathBuf,
        /// The other run's split, e.g. `--shard 1/3` or `no --shard`.
        other: String,
        /// What the holder wrote about itself.
        holder: String,
    },
    /// The lock file could not be created or locked.
    #[error(
        "{lock}: cannot lock the output folder: {source}; if it is on a network file system without working locks, render into a local --out, or give each shard its own --out and merge them"
    )]
    Io {
        /// Lock file.
        lock: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

impl OutputLock {
    /// Claim `dir` for the manifest `manifest_name`, or say who holds it.
    pub fn acquire(dir: &Path, manifest_name: &str) -> Result<Self, LockError> {
        let path = dir.join(format!("{manifest_name}.lock"));
        let io = |source| LockError::Io {
            lock: path.clone(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Err(LockError::Busy {
                    dir: dir.to_path_buf(),
                    lock: path,
                    holder: describe_holder(holder.trim()),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let me = format!(
            "pid {} on host {} (run {}), started at unix time {started}\n",
            std::process::id(),
            hostname(),
            super::writer::process_token()
        );
        // Who holds the lock is information for the user, not part of the protocol: a failure
        // to record it does not stop the run.
        let _ = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(me.as_bytes()));
        Ok(Self { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The split a manifest name belongs to: `Some(N)` for `manifest.shard-K-of-N.jsonl`, `None` for
/// the unsharded `manifest.jsonl`; `Err` for other names.
fn split_of(manifest: &str) -> Result<Option<u32>, ()> {
    if manifest == "manifest.jsonl" {
        return Ok(None);
    }
    let n = manifest
        .strip_prefix("manifest.shard-")
        .and_then(|r| r.strip_suffix(".jsonl"))
        .and_then(|r| r.split_once("-of-"))
        .and_then(|(_, n)| n.parse().ok())
        .ok_or(())?;
    Ok(Some(n))
}

/// The lock files in `dir` held by a live process other than through `except`: `(manifest name,
/// holder)`. (The probe takes and at once releases each free lock.)
pub fn held_locks(dir: &Path, except: Option<&str>) -> Vec<(String, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut held = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(manifest) = name.strip_suffix(".lock") else {
            continue;
        };
        if split_of(manifest).is_err() || Some(manifest) == except {
            continue;
        }
        let Ok(mut file) = std::fs::File::open(e.path()) else {
            continue;
        };
        if let Err(std::fs::TryLockError::WouldBlock) = file.try_lock() {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            held.push((manifest.to_string(), describe_holder(holder.trim())));
        }
    }
    held.sort();
    held
}

/// Refuse when a live run with another split than `manifest`'s holds `dir`.
pub fn check_same_split(dir: &Path, manifest: &str) -> Result<(), LockError> {
    let mine = split_of(manifest).ok().flatten();
    for (other, holder) in held_locks(dir, Some(manifest)) {
        let theirs = split_of(&other).ok().flatten();
        if theirs != mine {
            let other = match other
                .strip_prefix("manifest.shard-")
                .and_then(|r| r.strip_suffix(".jsonl"))
            {
                Some(k_of_n) => format!("--shard {}", k_of_n.replace("-of-", "/")),
                None => "no --shard".into(),
            };
            return Err(LockError::OtherSplit {
                dir: dir.to_path_buf(),
                other,
                holder,
            });
        }
    }
    Ok(())
}

fn describe_holder(text: &str) -> String {
    if text.is_empty() {
        return "a process that has not yet said who it is".into();
    }
    let age = text
        .rsplit_once("unix time ")
        .and_then(|(_, t)| t.trim().parse::<u64>().ok())
        .and_then(|t| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .ok()?
                .as_secs();
            Some(now.saturating_sub(t))
        });
    match age {
        Some(s) => format!("{text}, {s} s ago"),
        None => text.to_string(),
    }
}

/// The machine's name, for the lock file (information for the user only). The library reads no
/// environment variables, so only systems that publish the name as a file (Linux) name it.
fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// Remove the stale temporary files (see the module doc) in `dirs`. Returns how many.
pub fn clean_stale_temporaries<'a>(dirs: impl IntoIterator<Item = &'a Path>) -> usize {
    let mut removed = 0;
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in entries.flatten() {
            if is_temporary_name(&e.file_name().to_string_lossy())
                && remove_stale_temporary(&e.path())
            {
                removed += 1;
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_claim_is_refused_and_names_the_holder() {
        let dir = tempfile::tempdir().expect("tmp");
        let first = OutputLock::acquire(dir.path(), "manifest.jsonl").expect("free folder");
        let err = OutputLock::acquire(dir.path(), "manifest.jsonl").expect_err("held");
        let text = err.to_string();
        assert!(text.contains("in use by another tutti run"), "{text}");
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        assert!(text.contains("another --out"), "{text}");
        // Other shards' manifests are independent.
        let shard = OutputLock::acquire(dir.path(), "manifest.shard-1-of-2.jsonl").expect("shard");
        // The unsharded run and a 2-way split must not share the folder; another 2-way shard may.
        let err = check_same_split(dir.path(), "manifest.shard-1-of-2.jsonl").expect_err("split");
        assert!(err.to_string().contains("no --shard"), "{err}");
        drop(first);
        check_same_split(dir.path(), "manifest.shard-0-of-2.jsonl").expect("same split");
        let err = check_same_split(dir.path(), "manifest.shard-0-of-3.jsonl").expect_err("split");
        assert!(err.to_string().contains("--shard 1/2"), "{err}");
        assert_eq!(
            held_locks(dir.path(), None)
                .into_iter()
                .map(|(m, _)| m)
                .collect::<Vec<_>>(),
            vec!["manifest.shard-1-of-2.jsonl".to_string()]
        );
        let again = OutputLock::acquire(dir.path(), "manifest.jsonl").expect("released");
        assert!(again.path().ends_with("manifest.jsonl.lock"));
        drop(shard);
    }
}
