//! One chain per writing process. Two processes on one config (`serve`
//! and the stdio front that Claude Desktop launches) used to append to one
//! file and break its chain within a few calls. Each process now holds an
//! exclusive advisory lock (`flock`) on the file it writes, for its whole
//! life; a process that finds the configured file locked writes a chain
//! file of its own beside it, numbered: `audit.jsonl`, then `audit.2.jsonl`,
//! `audit.3.jsonl`, ... The lowest free number is taken, so a restarted
//! process continues its old chain when its number is free again.
//!
//! Every chain file is a complete chain by itself (`seq` from 1, its own
//! `prev` links) and verifies on its own; `mcp-warden audit verify` given
//! the configured file checks every numbered one found beside it. The lock
//! goes with the process however it ends, so a crash never leaves a file
//! claimed. The lock is advisory: it keeps mcp-warden processes apart, not
//! other programs. An audit log that is a device or a pipe is not locked
//! nor numbered: what reads it sees every writer's records anyway.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use rustix::fs::{flock, FlockOperation};

use super::files::open_private;

/// Chain files tried before giving up: more processes than this on one
/// config is a misconfiguration, not a setup to serve.
pub const MAX_CHAINS: u32 = 64;

/// The file of chain `number` for the configured path: the path itself for
/// 1, else the number before the extension (`audit.jsonl` -> `audit.2.jsonl`).
/// The approval store is numbered the same way, so each process keeps its
/// own pending requests.
pub fn numbered(configured: &Path, number: u32) -> PathBuf {
    if number <= 1 {
        return configured.to_path_buf();
    }
    let stem = configured.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let name = match configured.extension() {
        Some(ext) => format!("{stem}.{number}.{}", ext.to_string_lossy()),
        None => format!("{stem}.{number}"),
    };
    configured.with_file_name(name)
}

/// The number of a file named like chain `n >= 2` of `configured`, if it is one.
fn number_of(configured: &Path, name: &str) -> Option<u32> {
    let stem = configured.file_stem()?.to_str()?;
    let rest = name.strip_prefix(stem)?.strip_prefix('.')?;
    let digits = match configured.extension() {
        Some(ext) => rest.strip_suffix(ext.to_str()?)?.strip_suffix('.')?,
        None => rest,
    };
    if digits.is_empty() || digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|n| *n >= 2)
}

/// Every chain file there is for `configured`: the file itself when it
/// exists, then the numbered ones beside it in number order.
pub fn chain_files(configured: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    if configured.exists() {
        files.push(configured.to_path_buf());
    }
    let dir = match configured.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut numbered_files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(number) = entry.file_name().to_str().and_then(|name| number_of(configured, name)) {
            numbered_files.push((number, entry.path()));
        }
    }
    numbered_files.sort();
    files.extend(numbered_files.into_iter().map(|(_, path)| path));
    Ok(files)
}

/// A chain file this process holds the lock on, until `file` is closed.
pub(super) struct Claimed {
    pub(super) file: File,
    pub(super) path: PathBuf,
    pub(super) number: u32,
}

/// Why no chain file could be claimed.
pub(super) enum ClaimError {
    /// Opening or locking a file failed.
    Io(PathBuf, io::Error),
    /// Every number up to [`MAX_CHAINS`] is held by a running process.
    AllTaken,
}

/// Opens and locks the lowest-numbered chain file of `configured` that no
/// other process holds. A file system without locks fails the claim: two
/// writers could not be kept apart there.
pub(super) fn claim(configured: &Path) -> Result<Claimed, ClaimError> {
    for number in 1..=MAX_CHAINS {
        let path = numbered(configured, number);
        match try_lock(&path) {
            Ok(Some(file)) => return Ok(Claimed { file, path, number }),
            Ok(None) => continue,
            Err(e) => return Err(ClaimError::Io(path, e)),
        }
    }
    Err(ClaimError::AllTaken)
}

/// The file at `path`, opened for appending and locked; `None` if another
/// process (or another sink of this one) holds it. A device or a pipe is
/// not locked: a lock on `/dev/full` or a FIFO would be one for every
/// process on the machine, and a numbered file beside it would be a
/// regular file in `/dev`.
pub(super) fn try_lock(path: &Path) -> io::Result<Option<File>> {
    let file = open_private(path, OpenOptions::new().read(true).append(true).create(true))?;
    if !file.metadata()?.is_file() {
        return Ok(Some(file));
    }
    match flock(&file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(Some(file)),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Ok(None),
        Err(e) => Err(io::Error::other(format!("cannot lock it against a second writer: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_numbers_go_before_the_extension() {
        assert_eq!(numbered(Path::new("/l/audit.jsonl"), 1), Path::new("/l/audit.jsonl"));
        assert_eq!(numbered(Path::new("/l/audit.jsonl"), 2), Path::new("/l/audit.2.jsonl"));
        assert_eq!(numbered(Path::new("/l/approvals.sqlite"), 3), Path::new("/l/approvals.3.sqlite"));
        assert_eq!(numbered(Path::new("/l/audit"), 2), Path::new("/l/audit.2"));
        assert_eq!(numbered(Path::new("/l/a.b.jsonl"), 12), Path::new("/l/a.b.12.jsonl"));
    }

    #[test]
    fn only_files_named_like_chains_of_this_path_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let configured = dir.path().join("audit.jsonl");
        for name in
            ["audit.jsonl", "audit.2.jsonl", "audit.10.jsonl", "audit.3.jsonl", "audit.02.jsonl", "audit.1.jsonl"]
        {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        for name in ["audit.x.jsonl", "audit.2.json", "other.2.jsonl", "audit.key", "audit.jsonl.bak", "audit..jsonl"] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        let found: Vec<String> = chain_files(&configured)
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(found, ["audit.jsonl", "audit.2.jsonl", "audit.3.jsonl", "audit.10.jsonl"]);
    }

    #[test]
    fn a_second_writer_gets_the_next_chain_file_and_the_first_is_free_again_once_closed() {
        let dir = tempfile::tempdir().unwrap();
        let configured = dir.path().join("audit.jsonl");
        let Ok(first) = claim(&configured) else { panic!("the first claim succeeds") };
        assert_eq!((first.number, first.path.as_path()), (1, configured.as_path()));
        let Ok(second) = claim(&configured) else { panic!("the second claim succeeds") };
        assert_eq!((second.number, second.path), (2, dir.path().join("audit.2.jsonl")));
        drop(first);
        let Ok(third) = claim(&configured) else { panic!("the third claim succeeds") };
        assert_eq!(third.number, 1, "the lowest free number is reused");
    }
}
