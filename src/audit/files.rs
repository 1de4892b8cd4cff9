//! Files only the gateway's user may read: the audit log, the approvals
//! store (and SQLite's side files) and the installation key. The audit log
//! names every client's calls and the store holds the arguments of calls
//! waiting for a person, so neither is anybody else's business; the key
//! turns digests back into a dictionary attack if it leaks.
//!
//! New files are created with mode 0600. An existing regular file that
//! others may read or write (written by an older version, or copied in) is
//! narrowed to 0600 with a warning; if that is not allowed (another owner),
//! the gateway refuses to start rather than keep writing secrets into it.
//! Devices and pipes (`/dev/full` in a test, a FIFO to a collector) are
//! left as they are: their mode is not a copy of what is written.

use std::fs::{File, OpenOptions, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::digest::{AuditKey, KEY_BYTES};
use super::error::AuditError;

/// Owner read and write, nobody else anything.
pub const PRIVATE_MODE: u32 = 0o600;
/// A key file is 64 hex digits and a newline; anything much longer is not one.
const MAX_KEY_FILE_BYTES: u64 = 1024;

/// Opens `path` with `options`, creating it with mode 0600, and makes sure
/// an existing regular file is private too; see the module docs.
pub fn open_private(path: &Path, options: &OpenOptions) -> io::Result<File> {
    let file = options.clone().mode(PRIVATE_MODE).open(path)?;
    narrow(&file, path)?;
    Ok(file)
}

/// Creates `path` (mode 0600) if it does not exist, or narrows it if it
/// does, without changing its contents: for files another library opens
/// (SQLite creates its database with 0644 less the umask).
pub fn make_private(path: &Path) -> io::Result<()> {
    open_private(path, OpenOptions::new().read(true).write(true).create(true)).map(drop)
}

/// Narrows `path` if it exists; nothing if it does not (SQLite's
/// `-journal` and `-wal` files, which it creates with the database's mode).
pub fn make_private_if_present(path: &Path) -> io::Result<()> {
    match OpenOptions::new().read(true).open(path) {
        Ok(file) => narrow(&file, path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Sets 0600 on the open file (by descriptor, so a rename in between
/// cannot redirect it) when group or others have any access.
fn narrow(file: &File, path: &Path) -> io::Result<()> {
    let metadata = file.metadata()?;
    let mode = metadata.permissions().mode() & 0o777;
    if !metadata.is_file() || mode & 0o077 == 0 {
        return Ok(());
    }
    file.set_permissions(Permissions::from_mode(PRIVATE_MODE)).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "other users may read it (mode {mode:o}) and it cannot be made private ({e}); fix its owner or mode"
            ),
        )
    })?;
    tracing::warn!(file = %path.display(), "narrowed mode {mode:o} to 600: the file was readable by other users");
    Ok(())
}

/// Where the installation key lives: beside the audit file, named after it
/// (`audit.jsonl` -> `audit.key`).
pub fn key_path(audit: &Path) -> PathBuf {
    let key = audit.with_extension("key");
    if key == audit {
        // An audit file already named *.key: never share its name.
        let mut name = audit.as_os_str().to_owned();
        name.push(".key");
        return PathBuf::from(name);
    }
    key
}

/// The installation key for the audit log at `audit`: [`open_key`] on
/// [`key_path`]. An audit log that is a device or a pipe (records streamed
/// to a collector) has no directory of its own to keep a key in: such a
/// gateway digests with a key of its own run, so its digests compare only
/// within the run (an approval grant from an earlier run matches nothing
/// and the call is asked about again).
pub fn installation_key(audit: &Path) -> Result<AuditKey, AuditError> {
    let special = std::fs::metadata(audit).is_ok_and(|m| !m.is_file());
    if special {
        tracing::warn!(audit = %audit.display(), "the audit log is not a regular file: argument and session digests use a key kept for this run only");
        return Ok(AuditKey::generate());
    }
    open_key(&key_path(audit))
}

/// Reads the installation key at `path`, creating it (32 random bytes, hex,
/// mode 0600) on first start.
///
/// Two processes starting together must end with one key: the new key is
/// written to a file of its own first and then hard-linked into place,
/// which fails if another process got there first; its key is then read.
/// A key file that does not read as a key stops the gateway: a new key
/// would silently make every later digest incomparable with earlier ones.
pub fn open_key(path: &Path) -> Result<AuditKey, AuditError> {
    let failed = |reason: String| AuditError::Key { path: path.to_path_buf(), reason };
    match read_key(path) {
        Ok(key) => return Ok(key),
        Err(KeyRead::Missing) => {}
        Err(KeyRead::Unreadable(reason)) => return Err(failed(reason)),
    }
    let bytes: [u8; KEY_BYTES] = rand::random();
    let mut staged = path.as_os_str().to_owned();
    staged.push(format!(".new-{}-{}", std::process::id(), hex::encode(rand::random::<[u8; 4]>())));
    let staged = PathBuf::from(staged);
    let written = (|| {
        let mut file = open_private(&staged, OpenOptions::new().write(true).create_new(true))?;
        file.write_all(format!("{}\n", hex::encode(bytes)).as_bytes())?;
        file.sync_all()?;
        std::fs::hard_link(&staged, path)
    })();
    let _ = std::fs::remove_file(&staged);
    match written {
        Ok(()) => {
            if let Some(dir) = path.parent().and_then(|dir| File::open(dir).ok()) {
                // The link must outlive a crash, or the next start makes another key.
                let _ = dir.sync_all();
            }
            tracing::info!(key = %path.display(), "created this installation's audit key (keeps argument and session digests unguessable)");
            Ok(AuditKey::from_bytes(&bytes))
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            read_key(path).map_err(|why| failed(why.reason("written by another process starting at the same time")))
        }
        Err(e) => Err(failed(format!("cannot create it: {e}"))),
    }
}

enum KeyRead {
    Missing,
    Unreadable(String),
}

impl KeyRead {
    fn reason(self, context: &str) -> String {
        match self {
            KeyRead::Missing => format!("it disappeared just after it was {context}"),
            KeyRead::Unreadable(reason) => reason,
        }
    }
}

fn read_key(path: &Path) -> Result<AuditKey, KeyRead> {
    let file = match open_private(path, OpenOptions::new().read(true)) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(KeyRead::Missing),
        Err(e) => return Err(KeyRead::Unreadable(format!("cannot read it: {e}"))),
    };
    let mut text = String::new();
    file.take(MAX_KEY_FILE_BYTES)
        .read_to_string(&mut text)
        .map_err(|e| KeyRead::Unreadable(format!("cannot read it: {e}")))?;
    let mut bytes = [0u8; KEY_BYTES];
    hex::decode_to_slice(text.trim(), &mut bytes).map_err(|_| {
        KeyRead::Unreadable(format!(
            "it is not {} hex digits. Restore it from a backup; or move it aside to start a new key, \
             after which new digests no longer compare with those already recorded",
            KEY_BYTES * 2
        ))
    })?;
    Ok(AuditKey::from_bytes(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_new_file_is_created_readable_by_its_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        open_private(&path, OpenOptions::new().append(true).create(true)).unwrap();
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn a_world_readable_file_left_by_an_older_version_is_narrowed_with_its_contents_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("approvals.sqlite");
        std::fs::write(&path, b"kept").unwrap();
        std::fs::set_permissions(&path, Permissions::from_mode(0o644)).unwrap();
        make_private(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(std::fs::read(&path).unwrap(), b"kept");
        make_private_if_present(&dir.path().join("approvals.sqlite-wal")).expect("an absent side file is fine");
        assert!(!dir.path().join("approvals.sqlite-wal").exists(), "and is not created");
    }

    #[test]
    fn the_key_is_created_once_private_and_read_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let path = key_path(&dir.path().join("audit.jsonl"));
        assert_eq!(path, dir.path().join("audit.key"));
        let first = open_key(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.trim().len(), 64);
        let again = open_key(&path).unwrap();
        let args = json!({"path": "notes.txt"});
        assert_eq!(first.digest_arguments(Some(&args)), again.digest_arguments(Some(&args)));
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(leftovers, ["audit.key"], "no staged key file is left behind");
    }

    #[test]
    fn processes_starting_together_end_with_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = key_path(&dir.path().join("audit.jsonl"));
        let keys: Vec<AuditKey> = std::thread::scope(|scope| {
            let starts: Vec<_> = (0..8).map(|_| scope.spawn(|| open_key(&path).unwrap())).collect();
            starts.into_iter().map(|s| s.join().unwrap()).collect()
        });
        let digests: Vec<String> = keys.iter().map(|k| k.digest_session("s")).collect();
        assert!(digests.windows(2).all(|w| w[0] == w[1]), "{digests:?}");
    }

    #[test]
    fn a_damaged_key_stops_the_start_instead_of_being_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.key");
        std::fs::write(&path, "not a key\n").unwrap();
        let error = open_key(&path).unwrap_err().to_string();
        assert!(error.contains("audit.key") && error.contains("64 hex digits"), "{error}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "not a key\n", "the damaged key is left for the operator");
    }

    #[test]
    fn an_audit_log_that_is_a_device_leaves_no_key_beside_it() {
        let key = installation_key(Path::new("/dev/null")).unwrap();
        assert!(key.digest_session("s").starts_with("hmac-sha256:"));
        assert!(!Path::new("/dev/null.key").exists());
    }

    #[test]
    fn an_audit_file_named_like_a_key_gets_a_key_of_another_name() {
        assert_eq!(key_path(Path::new("/var/log/warden.key")), Path::new("/var/log/warden.key.key"));
        assert_eq!(key_path(Path::new("/var/log/audit")), Path::new("/var/log/audit.key"));
    }
}
