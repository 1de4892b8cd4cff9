//! The audit record of one call: who made it, what it was, what was decided
//! and how it ended. Every record of a call is built here, by one
//! constructor, from the facts gathered as the call goes through the
//! pipeline and the stage it has reached.
//!
//! A record names the session and the arguments only by their keyed
//! digests ([`AuditKey`]), made once when the call arrives: the session id
//! is the client's bearer credential and the arguments may be secrets, so
//! neither is kept here, and everything built from a record (audit lines,
//! approval bindings, the store, the admin API) inherits that.

use crate::audit::{ApprovalAudit, AuditEvent, AuditKey, InspectionAudit, Outcome, SanitizedAudit};
use crate::policy::{Decision, Verdict};
use crate::protocol::ClientContext;
use serde_json::Value;
use std::time::Instant;

/// What is known about a call so far. Starts with the caller and the name
/// the client used; resolution and the decision fill in the rest.
#[derive(Clone, Debug)]
pub struct CallRecord {
    /// Digest of the session id, never the id.
    session: String,
    caller: String,
    caller_authenticated: bool,
    client_name: Option<String>,
    client_version: Option<String>,
    server: String,
    tool: String,
    verdict: Verdict,
    enforced: bool,
    rule: String,
    reason: String,
    argument: Option<String>,
    constraint: Option<String>,
    args_digest: String,
    /// Set for a resource or prompt access (`access.rs`); `None` for a tool call.
    method: Option<&'static str>,
    /// What the sanitizer removed from the answer, once it came.
    sanitized: Option<SanitizedAudit>,
    /// What the detectors found in the answer.
    inspection: Option<InspectionAudit>,
    started: Instant,
}

impl CallRecord {
    /// A call to `exposed` in session `session`, before anything is
    /// resolved or decided; `key` digests the session id and the arguments.
    pub fn begin(
        key: &AuditKey,
        session: &str,
        context: &ClientContext,
        exposed: &str,
        arguments: Option<&Value>,
    ) -> CallRecord {
        CallRecord {
            session: key.digest_session(session),
            caller: context.caller.to_string(),
            caller_authenticated: context.caller.is_authenticated(),
            client_name: context.client_info.name.clone(),
            client_version: context.client_info.version.clone(),
            server: String::new(),
            tool: exposed.to_string(),
            verdict: Verdict::Deny,
            enforced: true,
            rule: String::new(),
            reason: String::new(),
            argument: None,
            constraint: None,
            args_digest: key.digest_arguments(arguments),
            method: None,
            sanitized: None,
            inspection: None,
            started: Instant::now(),
        }
    }

    /// The same record, of an access by `method` to the resource or prompt
    /// the record names where a tool call's record names the tool.
    pub fn of_method(self, method: &'static str) -> CallRecord {
        CallRecord { method: Some(method), ..self }
    }

    /// The upstream and the tool's own name, once the exposed name resolved.
    pub fn resolved(&mut self, server: &str, tool: &str) {
        self.server = server.to_string();
        self.tool = tool.to_string();
    }

    pub fn decided(&mut self, decision: &Decision, enforced: bool) {
        self.verdict = decision.verdict;
        self.enforced = enforced;
        self.rule = decision.rule_id.clone();
        self.reason = decision.reason.clone();
        self.argument = decision.argument.clone();
        self.constraint = decision.constraint.clone();
    }

    /// A refusal that no policy rule made (a frame the gateway will not
    /// relay): the gateway's own rule and reason.
    pub fn refused(&mut self, rule: &str, reason: &str) {
        self.verdict = Verdict::Deny;
        self.enforced = true;
        self.rule = rule.to_string();
        self.reason = reason.to_string();
        self.argument = None;
        self.constraint = None;
    }

    /// How records name the session: a digest of its id.
    pub fn session(&self) -> &str {
        &self.session
    }

    pub fn caller(&self) -> &str {
        &self.caller
    }

    pub fn caller_authenticated(&self) -> bool {
        self.caller_authenticated
    }

    pub fn client_name(&self) -> Option<&str> {
        self.client_name.as_deref()
    }

    pub fn client_version(&self) -> Option<&str> {
        self.client_version.as_deref()
    }

    pub fn server(&self) -> &str {
        &self.server
    }

    pub fn tool(&self) -> &str {
        &self.tool
    }

    pub fn rule(&self) -> &str {
        &self.rule
    }

    pub fn args_digest(&self) -> &str {
        &self.args_digest
    }

    /// Counts what the sanitizer removed from the answer (nothing: no field).
    pub fn sanitized(&mut self, removed: SanitizedAudit) {
        if removed != SanitizedAudit::default() {
            self.sanitized = Some(removed);
        }
    }

    /// What the inspection stage found in the answer, and did.
    pub fn inspected(&mut self, inspected: &super::inspect::Inspected) {
        if let Some(removed) = inspected.sanitized {
            self.sanitized(removed);
        }
        self.inspection = inspected.audit.clone();
    }

    /// Microseconds since the call arrived.
    pub fn elapsed_us(&self) -> u64 {
        self.started.elapsed().as_micros() as u64
    }

    /// The one constructor of a call's audit records: the call as known, the
    /// outcome of the stage it reached, how long that took, and for held
    /// calls the approval's part.
    pub fn event(&self, outcome: Outcome, latency_us: u64, approval: Option<ApprovalAudit>) -> AuditEvent {
        AuditEvent {
            session: self.session.clone(),
            client_name: self.client_name.clone(),
            client_version: self.client_version.clone(),
            server: self.server.clone(),
            tool: self.tool.clone(),
            verdict: self.verdict,
            enforced: self.enforced,
            rule: self.rule.clone(),
            reason: self.reason.clone(),
            argument: self.argument.clone(),
            constraint: self.constraint.clone(),
            args_digest: self.args_digest.clone(),
            latency_us,
            outcome: Some(outcome),
            caller: Some(self.caller.clone()),
            method: self.method.map(str::to_string),
            approval,
            integrity: None,
            sanitized: self.sanitized,
            inspection: self.inspection.clone(),
        }
    }
}
