//! Durable record of approval requests and grants: one SQLite file, so a
//! restart loses no request and no answer. Synchronous and small: every
//! statement is one short write or read behind the broker's lock.
//!
//! Arguments are stored masked (see `mask`), never in the clear.

use super::grant::{CallBinding, Grant, GrantScope};
use super::ApprovalRequest;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Debug, thiserror::Error)]
#[error("approval store: {0}")]
pub struct StoreError(String);

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError(e.to_string())
    }
}

pub struct ApprovalStore {
    db: Connection,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS requests (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    requested_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    binding TEXT NOT NULL,
    arguments TEXT NOT NULL,
    channels TEXT NOT NULL,
    decided_at INTEGER,
    approver TEXT,
    reason TEXT,
    scope TEXT,
    any_args INTEGER
);
CREATE INDEX IF NOT EXISTS requests_by_time ON requests (requested_at);
CREATE TABLE IF NOT EXISTS grants (
    request TEXT PRIMARY KEY,
    binding TEXT NOT NULL,
    scope TEXT NOT NULL,
    any_args INTEGER NOT NULL,
    approver TEXT NOT NULL,
    reason TEXT NOT NULL,
    expires_at INTEGER
);
";

pub fn millis(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn from_millis(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)
}

pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

/// How a request ended, as stored and listed.
pub struct Outcome<'a> {
    pub status: &'a str,
    pub approver: &'a str,
    pub reason: &'a str,
    pub scope: Option<&'a str>,
    pub any_args: bool,
}

impl ApprovalStore {
    pub fn open(path: &Path) -> Result<ApprovalStore, StoreError> {
        let db = Connection::open(path).map_err(|e| StoreError(format!("{}: {e}", path.display())))?;
        db.busy_timeout(Duration::from_secs(2))?;
        db.execute_batch(SCHEMA)?;
        Ok(ApprovalStore { db })
    }

    pub fn insert_pending(&self, request: &ApprovalRequest) -> Result<(), StoreError> {
        let binding = serde_json::to_string(&request.binding).map_err(|e| StoreError(e.to_string()))?;
        let channels: Vec<&str> = request.channels.iter().map(|c| c.as_str()).collect();
        self.db.execute(
            "INSERT INTO requests (id, status, requested_at, expires_at, binding, arguments, channels)
             VALUES (?1, 'pending', ?2, ?3, ?4, ?5, ?6)",
            params![
                request.id,
                millis(request.requested_at),
                millis(request.expires_at),
                binding,
                request.arguments.to_string(),
                json!(channels).to_string(),
            ],
        )?;
        Ok(())
    }

    /// Records how a pending request ended. Returns false when it was not
    /// pending any more (someone else answered first).
    pub fn decide(&self, id: &str, outcome: &Outcome<'_>, now: SystemTime) -> Result<bool, StoreError> {
        let changed = self.db.execute(
            "UPDATE requests SET status = ?2, decided_at = ?3, approver = ?4, reason = ?5, scope = ?6, any_args = ?7
             WHERE id = ?1 AND status = 'pending'",
            params![id, outcome.status, millis(now), outcome.approver, outcome.reason, outcome.scope, outcome.any_args],
        )?;
        Ok(changed == 1)
    }

    pub fn insert_grant(&self, grant: &Grant) -> Result<(), StoreError> {
        let binding = serde_json::to_string(&grant.binding).map_err(|e| StoreError(e.to_string()))?;
        self.db.execute(
            "INSERT OR REPLACE INTO grants (request, binding, scope, any_args, approver, reason, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                grant.request,
                binding,
                grant.scope.label(),
                grant.any_args,
                grant.approver,
                grant.reason,
                grant.expires_at.map(millis)
            ],
        )?;
        Ok(())
    }

    /// Grants that can still apply after a restart: time-scoped, unexpired.
    /// Session grants die with their sessions, which a restart ends.
    pub fn live_grants(&self, now: SystemTime) -> Result<Vec<Grant>, StoreError> {
        self.db.execute("DELETE FROM grants WHERE expires_at IS NULL OR expires_at <= ?1", params![millis(now)])?;
        let mut statement =
            self.db.prepare("SELECT request, binding, scope, any_args, approver, reason, expires_at FROM grants")?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, bool>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, String>(5)?,
                row.get::<_, Option<i64>>(6)?,
            ))
        })?;
        let mut grants = Vec::new();
        for row in rows {
            let (request, binding, scope, any_args, approver, reason, expires_at) = row?;
            // A row that does not read back exactly is dropped: it grants nothing.
            let (Ok(binding), Ok(scope)) = (serde_json::from_str::<CallBinding>(&binding), GrantScope::parse(&scope))
            else {
                continue;
            };
            grants.push(Grant {
                request,
                binding,
                scope,
                any_args,
                approver,
                reason,
                expires_at: expires_at.map(from_millis),
            });
        }
        Ok(grants)
    }

    /// Marks every request still pending (from a previous run) as denied and
    /// returns their bindings and ids, for the audit log.
    pub fn deny_abandoned(&self, reason: &str, now: SystemTime) -> Result<Vec<(String, CallBinding)>, StoreError> {
        let mut statement = self.db.prepare("SELECT id, binding FROM requests WHERE status = 'pending'")?;
        let rows: Vec<(String, String)> =
            statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?.collect::<Result<_, _>>()?;
        let mut abandoned = Vec::new();
        for (id, binding) in rows {
            let outcome = Outcome { status: "denied", approver: "mcp-warden", reason, scope: None, any_args: false };
            self.decide(&id, &outcome, now)?;
            let binding = serde_json::from_str(&binding).unwrap_or_else(|_| CallBinding {
                session: String::new(),
                caller: String::new(),
                client_name: None,
                client_version: None,
                server: String::new(),
                tool: String::new(),
                rule: String::new(),
                args_digest: String::new(),
                policy_version: String::new(),
            });
            abandoned.push((id, binding));
        }
        Ok(abandoned)
    }

    /// The newest requests and how they ended, newest first.
    pub fn recent(&self, limit: usize) -> Result<Vec<Value>, StoreError> {
        let mut statement = self.db.prepare(
            "SELECT id, status, requested_at, expires_at, binding, arguments, decided_at, approver, reason, scope,
                    any_args
             FROM requests ORDER BY requested_at DESC, rowid DESC LIMIT ?1",
        )?;
        let rows = statement.query_map(params![limit as i64], |row| {
            let binding: String = row.get(4)?;
            let arguments: String = row.get(5)?;
            let binding: Value = serde_json::from_str(&binding).unwrap_or(Value::Null);
            Ok(json!({
                "id": row.get::<_, String>(0)?,
                "status": row.get::<_, String>(1)?,
                "requested_at": rfc3339(from_millis(row.get(2)?)),
                "expires_at": rfc3339(from_millis(row.get(3)?)),
                "server": binding["server"],
                "tool": binding["tool"],
                "rule": binding["rule"],
                "session": binding["session"],
                "client": {"name": binding["client_name"], "version": binding["client_version"]},
                "arguments": serde_json::from_str::<Value>(&arguments).unwrap_or(Value::Null),
                "decided_at": row.get::<_, Option<i64>>(6)?.map(|t| rfc3339(from_millis(t))),
                "approver": row.get::<_, Option<String>>(7)?,
                "reason": row.get::<_, Option<String>>(8)?,
                "scope": row.get::<_, Option<String>>(9)?,
                "any_args": row.get::<_, Option<bool>>(10)?,
            }))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The status of one request, for tests and the CLI.
    pub fn status(&self, id: &str) -> Result<Option<String>, StoreError> {
        Ok(self.db.query_row("SELECT status FROM requests WHERE id = ?1", params![id], |row| row.get(0)).optional()?)
    }
}
