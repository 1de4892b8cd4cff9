//! [`ApprovalStore`] in a map: the same contract as SQLite without the
//! file, for tests (and for the fakes that fail or watch the store). Nothing
//! in it survives the process.

use super::{ApprovalStore, Outcome, StoreError, StoredRequest};
use crate::approval::grant::{CallBinding, Grant};
use crate::approval::ApprovalRequest;
use std::time::SystemTime;

#[derive(Default)]
pub struct MemoryStore {
    /// In insertion order, which `recent` breaks ties with.
    requests: Vec<Row>,
    grants: Vec<Grant>,
}

struct Row {
    request: ApprovalRequest,
    outcome: Option<(Outcome, SystemTime)>,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }
}

impl ApprovalStore for MemoryStore {
    fn insert_pending(&mut self, request: &ApprovalRequest) -> Result<(), StoreError> {
        if self.requests.iter().any(|row| row.request.id == request.id) {
            return Err(StoreError(format!("request {} is already recorded", request.id)));
        }
        self.requests.push(Row { request: request.clone(), outcome: None });
        Ok(())
    }

    fn decide(
        &mut self,
        id: &str,
        outcome: &Outcome,
        grant: Option<&Grant>,
        now: SystemTime,
    ) -> Result<bool, StoreError> {
        let Some(row) = self.requests.iter_mut().find(|row| row.request.id == id && row.outcome.is_none()) else {
            return Ok(false);
        };
        row.outcome = Some((outcome.clone(), now));
        // As on disk: an ended request keeps no arguments.
        row.request.arguments = serde_json::Value::Null;
        if let Some(grant) = grant {
            self.grants.retain(|g| g.request != grant.request);
            self.grants.push(grant.clone());
        }
        Ok(true)
    }

    fn live_grants(&mut self, now: SystemTime) -> Result<Vec<Grant>, StoreError> {
        self.grants.retain(|g| g.expires_at.is_some_and(|at| at > now));
        Ok(self.grants.clone())
    }

    fn deny_abandoned(&mut self, reason: &str, now: SystemTime) -> Result<Vec<(String, CallBinding)>, StoreError> {
        let mut abandoned = Vec::new();
        for row in self.requests.iter_mut().filter(|row| row.outcome.is_none()) {
            row.outcome = Some((Outcome::by_gateway("denied", reason), now));
            row.request.arguments = serde_json::Value::Null;
            abandoned.push((row.request.id.clone(), row.request.binding.clone()));
        }
        Ok(abandoned)
    }

    fn recent(&mut self, limit: usize) -> Result<Vec<StoredRequest>, StoreError> {
        let mut rows: Vec<(usize, &Row)> = self.requests.iter().enumerate().collect();
        rows.sort_by(|(i, a), (j, b)| b.request.requested_at.cmp(&a.request.requested_at).then(j.cmp(i)));
        Ok(rows
            .into_iter()
            .take(limit)
            .map(|(_, row)| {
                let outcome = row.outcome.as_ref();
                StoredRequest {
                    id: row.request.id.clone(),
                    status: outcome.map_or("pending".into(), |(o, _)| o.status.clone()),
                    requested_at: row.request.requested_at,
                    expires_at: row.request.expires_at,
                    binding: serde_json::to_value(&row.request.binding).unwrap_or_default(),
                    arguments: row.request.arguments.clone(),
                    decided_at: outcome.map(|(_, at)| *at),
                    approver: outcome.map(|(o, _)| o.approver.clone()),
                    reason: outcome.map(|(o, _)| o.reason.clone()),
                    scope: outcome.and_then(|(o, _)| o.scope.clone()),
                    any_args: outcome.map(|(o, _)| o.any_args),
                }
            })
            .collect())
    }

    fn status(&mut self, id: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .requests
            .iter()
            .find(|row| row.request.id == id)
            .map(|row| row.outcome.as_ref().map_or("pending".into(), |(o, _)| o.status.clone())))
    }
}
