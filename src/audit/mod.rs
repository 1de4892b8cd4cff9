//! The audit log: one JSON line per policy decision (and per later stage of
//! the same call), hash-chained so that edits, insertions, reorderings and
//! deletions can be detected later; plus the verifier that checks a whole file.
//!
//! - `record`: the event the relay supplies, [`Outcome`], the bound on each
//!   field, and the on-disk field list and line check;
//! - `digest`: [`AuditKey`], the keyed digests of a call's arguments and of
//!   a session id;
//! - `files`: private file modes, and the installation key file;
//! - `chains`: one chain file per writing process, locked for its life;
//! - `sink`: the bounded queue, group commit (the first waiting caller writes
//!   for everyone queued), and the thread that writes what nobody waits on;
//! - `verify`: the whole-file check behind `mcp-warden audit verify`.
//!
//! # Line format
//! Each line is a JSON object with keys in this order (see [`RECORD_FIELDS`]):
//! `seq, time, prev, session, client_name, client_version, server, tool,
//! verdict, enforced, rule, reason, argument, constraint, args_digest,
//! latency_us, outcome`; then `caller`, `method`, `approval` and `cut`,
//! each only when present (`method` names what a record of a resource or
//! prompt decided; `tool` then holds the URI or prompt name).
//!
//! - `seq` counts records from 1 and continues across restarts of the gateway
//!   (the sink reads the last line of the file on open).
//! - `prev` is the lowercase hex SHA-256 of the previous line's exact bytes,
//!   without the trailing newline; the first record of a file has 64 zeros.
//! - `outcome` is snake_case: `forwarded`, `blocked`, `pending`, `approved`,
//!   `denied`, `timeout`, `cancelled`, `completed`, `upstream_error`.
//! - Argument values are never written, only [`AuditKey::digest_arguments`]
//!   of them; `session` is [`AuditKey::digest_session`] of the session id,
//!   never the id (a bearer credential).
//! - Client- and upstream-supplied text is bounded per field
//!   ([`MAX_NAME_BYTES`], [`MAX_TEXT_BYTES`]), so one record stays a few
//!   KiB at most; a cut value ends with `...[cut: N bytes]`, and `cut`
//!   lists the fields that were cut (`"tool"`, `"approval.reason"`).
//!
//! # What the chain does and does not prove
//! Changing any byte of a line breaks the `prev` of the line after it;
//! deleting or reordering lines breaks `seq`. What the file alone cannot show
//! is a cut tail: dropping the last N lines, or editing the very last line,
//! leaves a shorter but self-consistent chain, because nothing after it
//! anchors it. The gateway therefore also logs the record count
//! ([`AuditSink::last_seq`]) through its ordinary log, outside this file.
//!
//! The chain orders records as they were queued, and `time` is when their
//! batch was written: records written together share a timestamp.
//!
//! # One writer per file
//! Each process locks the file it writes for its whole life; a second
//! process on the same config writes a numbered chain file of its own
//! beside it (`audit.2.jsonl`), see `chains`. Every file is created
//! readable by its owner only, see `files`.
//!
//! # The key
//! Digests are HMACs under a per-installation key (`audit.key` beside the
//! configured file, created at first start, mode 0600), so that a
//! dictionary of likely arguments recovers nothing from the log. The chain
//! does not use it: verifying needs only the file. Losing the key breaks
//! nothing recorded; digests made after a new key is created just no
//! longer compare with earlier ones (nor with another installation's).

mod chains;
mod digest;
mod error;
mod files;
mod record;
mod sink;
#[cfg(test)]
mod tests;
mod verify;

pub use chains::{chain_files, numbered, MAX_CHAINS};
pub use digest::{AuditKey, KEYED_PREFIX};
pub use error::AuditError;
pub use files::{installation_key, key_path, make_private, make_private_if_present, open_key, PRIVATE_MODE};
pub use record::{
    ApprovalAudit, AuditEvent, InspectionAudit, InspectionFinding, IntegrityAudit, Outcome, SanitizedAudit,
    MAX_NAME_BYTES, MAX_TEXT_BYTES, RECORD_FIELDS,
};
pub use sink::{AuditSink, SinkStats, QUEUE_CAPACITY};
pub use verify::{verify, verify_reader, VerifyError, VerifyReport};
