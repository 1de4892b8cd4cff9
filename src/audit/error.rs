//! Why the audit log could not be opened or written. Its own file, because
//! the writer, the key and chain files all fail with it, and each of them
//! must be able to name it without reaching into another.

use std::io;
use std::path::PathBuf;

/// Why the sink could not open its file or write a record. Every write error
/// reaches the caller, which fails closed (blocks the call).
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("cannot open audit log {path}: {source}")]
    Open { path: PathBuf, source: io::Error },
    #[error(
        "audit log {path}: {max} mcp-warden processes already write chains of it; \
         stop one, or give this one a config with another [audit] path"
    )]
    AllChainsTaken { path: PathBuf, max: u32 },
    #[error("audit key {path}: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error(
        "audit log {path}: the last line is not a valid audit record ({reason}); \
         refusing to extend a broken chain. Verify the file, then move it aside to start a new one"
    )]
    CorruptTail { path: PathBuf, reason: String },
    #[error("cannot write audit record to {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot encode audit record: {0}")]
    Encode(serde_json::Error),
    #[error(
        "audit log {path} is out of service: an earlier write failed and its partial line \
         could not be removed, or the writer stopped; check the file and restart"
    )]
    OutOfService { path: PathBuf },
}
