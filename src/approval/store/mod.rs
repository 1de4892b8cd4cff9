//! The broker's durable record of requests and grants, behind one trait so
//! that a store shared by several gateway processes (PostgreSQL, Redis) can
//! replace the SQLite file without the broker changing.
//!
//! - `sqlite`: the one file a single gateway keeps (the default);
//! - `memory`: the same contract in a map, for tests;
//! - `thread`: the dedicated thread every store call runs on, so no store
//!   I/O ever runs on (or blocks) an async worker.
//!
//! What a store keeps is what an open request needs: its arguments masked
//! (see `mask`), never in the clear, and only while it is pending; the
//! call's binding names the session and the arguments by their keyed
//! digests (`audit::AuditKey`), never the session id or the values. An
//! ended request keeps its binding and how it ended, so the decisions list
//! can show it and relate it to the audit log by `args_digest`.

pub mod memory;
pub mod sqlite;
#[cfg(test)]
mod tests;
pub mod thread;

use super::grant::{CallBinding, Grant};
use super::ApprovalRequest;
use serde_json::{json, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use sqlite::SqliteStore;
pub use thread::StoreThread;

#[derive(Debug, thiserror::Error)]
#[error("approval store: {0}")]
pub struct StoreError(pub String);

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError(e.to_string())
    }
}

/// What the broker needs kept across restarts (and, later, across
/// processes). Every method is a short synchronous call: the broker runs
/// them one at a time on its store thread.
///
/// `decide` is the single point where an answer, a timeout or a
/// cancellation wins: it must change a request only while it is still
/// `pending`, atomically, so that of any number of deciders (in one process
/// or many) exactly one sees `true`.
pub trait ApprovalStore: Send {
    /// Records a call just held, as `pending`.
    fn insert_pending(&mut self, request: &ApprovalRequest) -> Result<(), StoreError>;

    /// Compare-and-set on `pending`: records how request `id` ended if, and
    /// only if, it is still pending, erasing its arguments, and then (in
    /// the same transaction) `grant`, so that no answer that lost leaves a
    /// grant behind. Returns whether this decision won.
    fn decide(
        &mut self,
        id: &str,
        outcome: &Outcome,
        grant: Option<&Grant>,
        now: SystemTime,
    ) -> Result<bool, StoreError>;

    /// Grants that can still apply after a restart: time-scoped, unexpired.
    /// Session grants die with their sessions, which a restart ends.
    fn live_grants(&mut self, now: SystemTime) -> Result<Vec<Grant>, StoreError>;

    /// Denies every request still pending from a previous run and returns
    /// their ids and bindings, for the audit log.
    fn deny_abandoned(&mut self, reason: &str, now: SystemTime) -> Result<Vec<(String, CallBinding)>, StoreError>;

    /// The newest requests and how they ended, newest first. Ended
    /// requests come back with `null` arguments: `decide` and
    /// `deny_abandoned` erase them.
    fn recent(&mut self, limit: usize) -> Result<Vec<StoredRequest>, StoreError>;

    /// The status of one request (`pending`, `approved`, ...), if known.
    fn status(&mut self, id: &str) -> Result<Option<String>, StoreError>;
}

/// How a request ended, as stored and listed.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// "approved", "denied", "timeout" or "cancelled".
    pub status: String,
    pub approver: String,
    pub reason: String,
    pub scope: Option<String>,
    pub any_args: bool,
}

impl Outcome {
    /// An ending the gateway decided itself (timeout, withdrawal, restart).
    pub fn by_gateway(status: &str, reason: &str) -> Outcome {
        Outcome {
            status: status.into(),
            approver: "mcp-warden".into(),
            reason: reason.into(),
            scope: None,
            any_args: false,
        }
    }
}

/// One request as a store gives it back for the decisions list. The
/// binding stays loose JSON: a row that no longer reads as a `CallBinding`
/// is still listed.
#[derive(Clone, Debug)]
pub struct StoredRequest {
    pub id: String,
    pub status: String,
    pub requested_at: SystemTime,
    pub expires_at: SystemTime,
    pub binding: Value,
    pub arguments: Value,
    pub decided_at: Option<SystemTime>,
    pub approver: Option<String>,
    pub reason: Option<String>,
    pub scope: Option<String>,
    pub any_args: Option<bool>,
}

impl StoredRequest {
    /// The JSON the admin API's decisions list shows.
    pub fn view(&self) -> Value {
        let binding = &self.binding;
        json!({
            "id": self.id,
            "status": self.status,
            "requested_at": rfc3339(self.requested_at),
            "expires_at": rfc3339(self.expires_at),
            "server": binding["server"],
            "tool": binding["tool"],
            "rule": binding["rule"],
            "session": binding["session"],
            "client": {"name": binding["client_name"], "version": binding["client_version"]},
            "arguments": self.arguments,
            "args_digest": binding["args_digest"],
            "decided_at": self.decided_at.map(rfc3339),
            "approver": self.approver,
            "reason": self.reason,
            "scope": self.scope,
            "any_args": self.any_args,
        })
    }
}

pub fn millis(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

pub fn from_millis(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)
}

pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

/// The binding recorded for a request whose stored binding no longer reads:
/// it still has to be denied and audited, with what is known (its id).
fn unreadable_binding() -> CallBinding {
    CallBinding {
        session: String::new(),
        caller: String::new(),
        caller_authenticated: false,
        client_name: None,
        client_version: None,
        server: String::new(),
        tool: String::new(),
        rule: String::new(),
        args_digest: String::new(),
        policy_version: String::new(),
        why: None,
    }
}
