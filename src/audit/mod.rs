//! The audit log: one JSON line per policy decision (and per later stage of
//! the same call), hash-chained so that edits, insertions, reorderings and
//! deletions can be detected later; plus the verifier that checks a whole file.
//!
//! - `record`: the event the relay supplies, [`Outcome`], and the on-disk
//!   field list and line check;
//! - `digest`: the canonical digest of a call's arguments;
//! - `sink`: the bounded queue, group commit (the first waiting caller writes
//!   for everyone queued), and the thread that writes what nobody waits on;
//! - `verify`: the whole-file check behind `mcp-warden audit verify`.
//!
//! # Line format
//! Each line is a JSON object with keys in this order (see [`RECORD_FIELDS`]):
//! `seq, time, prev, session, client_name, client_version, server, tool,
//! verdict, enforced, rule, reason, argument, constraint, args_digest,
//! latency_us, outcome`; then `caller`, `method` and `approval`, each only
//! when present (`method` names what a record of a resource or prompt
//! decided; `tool` then holds the URI or prompt name).
//!
//! - `seq` counts records from 1 and continues across restarts of the gateway
//!   (the sink reads the last line of the file on open).
//! - `prev` is the lowercase hex SHA-256 of the previous line's exact bytes,
//!   without the trailing newline; the first record of a file has 64 zeros.
//! - `outcome` is snake_case: `forwarded`, `blocked`, `pending`, `approved`,
//!   `denied`, `timeout`, `cancelled`, `completed`, `upstream_error`.
//! - Argument values are never written, only [`digest_arguments`] of them.
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
//! The sink assumes it is the only process appending to its file; two
//! gateways sharing one file would interleave two chains and fail to verify.

mod digest;
mod record;
mod sink;
#[cfg(test)]
mod tests;
mod verify;

pub use digest::digest_arguments;
pub use record::{ApprovalAudit, AuditEvent, Outcome, RECORD_FIELDS};
pub use sink::{AuditError, AuditSink, SinkStats, QUEUE_CAPACITY};
pub use verify::{verify, verify_reader, VerifyError, VerifyReport};
