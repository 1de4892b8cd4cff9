//! The SQLite implementation of [`ApprovalStore`]: one file, so a restart
//! loses no request and no answer. The schema is the one earlier versions
//! wrote; existing files open with it.
//!
//! What is on disk, and for how long: a pending request keeps what a
//! person needs to answer it (the masked arguments, the binding with its
//! digests); the moment it ends, its arguments are erased in the same
//! statement that ends it, and `secure_delete` overwrites the erased bytes
//! instead of leaving them in free pages. The file, and SQLite's journal
//! (which takes the database's mode), are private to the gateway's user.
//! A file written by an older version (ended requests with arguments,
//! bindings with raw session ids) is cleaned once when first opened.

use super::{from_millis, millis, unreadable_binding, ApprovalStore, Outcome, StoreError, StoredRequest};
use crate::approval::grant::{CallBinding, Grant, GrantScope};
use crate::approval::ApprovalRequest;
use crate::audit::{make_private, make_private_if_present, KEYED_PREFIX};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::{Duration, SystemTime};

pub struct SqliteStore {
    db: Connection,
}

pub(super) const SCHEMA: &str = "
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

/// `PRAGMA user_version` of a file whose ended requests hold no
/// arguments and whose bindings hold no raw session ids.
const SCRUBBED: i64 = 1;
/// What an ended request's arguments read as.
const NO_ARGUMENTS: &str = "null";

impl SqliteStore {
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let failed = |e: &dyn std::fmt::Display| StoreError(format!("{}: {e}", path.display()));
        // SQLite would create the file with 0644 less the umask: create it first.
        make_private(path).map_err(|e| failed(&e))?;
        for side in ["-journal", "-wal", "-shm"] {
            let mut name = path.as_os_str().to_owned();
            name.push(side);
            make_private_if_present(Path::new(&name)).map_err(|e| failed(&e))?;
        }
        let db = Connection::open(path).map_err(|e| failed(&e))?;
        db.busy_timeout(Duration::from_secs(2))?;
        db.pragma_update(None, "secure_delete", true)?;
        db.execute_batch(SCHEMA)?;
        let mut store = SqliteStore { db };
        store.scrub_earlier_versions()?;
        Ok(store)
    }

    /// Cleans a file written before ended requests lost their arguments
    /// and bindings lost raw session ids, once: erases the arguments of
    /// every ended request, replaces each raw session id with a digest of
    /// it (the unkeyed form the webhook always sent, so they still match
    /// what receivers saw), and rewrites the file so nothing erased stays
    /// in its free pages.
    fn scrub_earlier_versions(&mut self) -> Result<(), StoreError> {
        let version: i64 = self.db.pragma_query_value(None, "user_version", |row| row.get(0))?;
        if version >= SCRUBBED {
            return Ok(());
        }
        let tx = self.db.transaction()?;
        tx.execute("UPDATE requests SET arguments = ?1 WHERE status != 'pending'", params![NO_ARGUMENTS])?;
        for table in ["requests", "grants"] {
            let key = if table == "requests" { "id" } else { "request" };
            let rows: Vec<(String, String)> = tx
                .prepare(&format!("SELECT {key}, binding FROM {table}"))?
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect::<Result<_, _>>()?;
            for (id, binding) in rows {
                if let Some(scrubbed) = without_raw_session(&binding) {
                    tx.execute(&format!("UPDATE {table} SET binding = ?2 WHERE {key} = ?1"), params![id, scrubbed])?;
                }
            }
        }
        tx.pragma_update(None, "user_version", SCRUBBED)?;
        tx.commit()?;
        self.db.execute_batch("VACUUM")?;
        Ok(())
    }
}

/// A stored binding with its raw session id replaced by a digest, if it
/// holds one; `None` when there is nothing to change.
fn without_raw_session(binding: &str) -> Option<String> {
    let mut binding: Value = serde_json::from_str(binding).ok()?;
    let session = binding.get("session")?.as_str()?;
    if session.is_empty() || session.starts_with(KEYED_PREFIX) || session.starts_with("sha256:") {
        return None;
    }
    let digest = format!("sha256:{}", &hex::encode(Sha256::digest(session.as_bytes()))[..16]);
    binding["session"] = json!(digest);
    Some(binding.to_string())
}

/// The compare-and-set on `pending`, on a connection or inside a
/// transaction. The request's arguments go in the same statement: an ended
/// request needs them no more.
fn set_outcome(db: &Connection, id: &str, outcome: &Outcome, now: SystemTime) -> Result<bool, StoreError> {
    let changed = db.execute(
        "UPDATE requests SET status = ?2, decided_at = ?3, approver = ?4, reason = ?5, scope = ?6, any_args = ?7,
                arguments = ?8
         WHERE id = ?1 AND status = 'pending'",
        params![
            id,
            outcome.status,
            millis(now),
            outcome.approver,
            outcome.reason,
            outcome.scope,
            outcome.any_args,
            NO_ARGUMENTS
        ],
    )?;
    Ok(changed == 1)
}

impl ApprovalStore for SqliteStore {
    fn insert_pending(&mut self, request: &ApprovalRequest) -> Result<(), StoreError> {
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

    fn decide(
        &mut self,
        id: &str,
        outcome: &Outcome,
        grant: Option<&Grant>,
        now: SystemTime,
    ) -> Result<bool, StoreError> {
        let tx = self.db.transaction()?;
        let won = set_outcome(&tx, id, outcome, now)?;
        if let (true, Some(grant)) = (won, grant) {
            let binding = serde_json::to_string(&grant.binding).map_err(|e| StoreError(e.to_string()))?;
            tx.execute(
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
        }
        tx.commit()?;
        Ok(won)
    }

    fn live_grants(&mut self, now: SystemTime) -> Result<Vec<Grant>, StoreError> {
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

    fn deny_abandoned(&mut self, reason: &str, now: SystemTime) -> Result<Vec<(String, CallBinding)>, StoreError> {
        let mut statement = self.db.prepare("SELECT id, binding FROM requests WHERE status = 'pending'")?;
        let rows: Vec<(String, String)> =
            statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?.collect::<Result<_, _>>()?;
        drop(statement);
        let mut abandoned = Vec::new();
        for (id, binding) in rows {
            set_outcome(&self.db, &id, &Outcome::by_gateway("denied", reason), now)?;
            abandoned.push((id, serde_json::from_str(&binding).unwrap_or_else(|_| unreadable_binding())));
        }
        Ok(abandoned)
    }

    fn recent(&mut self, limit: usize) -> Result<Vec<StoredRequest>, StoreError> {
        let mut statement = self.db.prepare(
            "SELECT id, status, requested_at, expires_at, binding, arguments, decided_at, approver, reason, scope,
                    any_args
             FROM requests ORDER BY requested_at DESC, rowid DESC LIMIT ?1",
        )?;
        let rows = statement.query_map(params![limit as i64], |row| {
            let binding: String = row.get(4)?;
            let arguments: String = row.get(5)?;
            Ok(StoredRequest {
                id: row.get(0)?,
                status: row.get(1)?,
                requested_at: from_millis(row.get(2)?),
                expires_at: from_millis(row.get(3)?),
                binding: serde_json::from_str(&binding).unwrap_or(Value::Null),
                arguments: serde_json::from_str(&arguments).unwrap_or(Value::Null),
                decided_at: row.get::<_, Option<i64>>(6)?.map(from_millis),
                approver: row.get(7)?,
                reason: row.get(8)?,
                scope: row.get(9)?,
                any_args: row.get(10)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn status(&mut self, id: &str) -> Result<Option<String>, StoreError> {
        Ok(self.db.query_row("SELECT status FROM requests WHERE id = ?1", params![id], |row| row.get(0)).optional()?)
    }
}
