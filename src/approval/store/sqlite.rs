//! The SQLite implementation of [`ApprovalStore`]: one file, so a restart
//! loses no request and no answer. The schema is the one earlier versions
//! wrote; existing files open unchanged.

use super::{from_millis, millis, unreadable_binding, ApprovalStore, Outcome, StoreError, StoredRequest};
use crate::approval::grant::{CallBinding, Grant, GrantScope};
use crate::approval::ApprovalRequest;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, SystemTime};

pub struct SqliteStore {
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

impl SqliteStore {
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let db = Connection::open(path).map_err(|e| StoreError(format!("{}: {e}", path.display())))?;
        db.busy_timeout(Duration::from_secs(2))?;
        db.execute_batch(SCHEMA)?;
        Ok(SqliteStore { db })
    }
}

/// The compare-and-set on `pending`, on a connection or inside a transaction.
fn set_outcome(db: &Connection, id: &str, outcome: &Outcome, now: SystemTime) -> Result<bool, StoreError> {
    let changed = db.execute(
        "UPDATE requests SET status = ?2, decided_at = ?3, approver = ?4, reason = ?5, scope = ?6, any_args = ?7
         WHERE id = ?1 AND status = 'pending'",
        params![id, outcome.status, millis(now), outcome.approver, outcome.reason, outcome.scope, outcome.any_args],
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
