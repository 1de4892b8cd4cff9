//! The access pipeline: one `resources/read`, `resources/subscribe`,
//! `prompts/get` or `completion/complete`, decided, recorded and forwarded
//! the way a tool call is, without holds (no rule holds an access for a
//! person).
//!
//! ```text
//! route (the relay) -> decide -> enforce -> record -> forward -> record how it ended
//! ```
//!
//! What must stay true: only this module and the call pipeline decide
//! (`Policy::decide_access`, `Policy::decide`) and start audit records; the
//! decision is on record before the request is forwarded, and if it cannot
//! be written nothing is forwarded; a refused access never reaches the
//! upstream; a frame whose method is one of these spelled another way is
//! refused and recorded, never relayed.

use super::CallRecord;
use crate::audit::Outcome;
use crate::errors::{Denial, GatewayError};
use crate::gateway::Gateway;
use crate::policy::{Access, AccessContext, Action, Decision};
use crate::protocol::ClientContext;
use serde_json::Value;
use std::future::Future;
use std::time::Instant;

/// How much of a URI or name an audit record keeps; the digest of the
/// request's parameters identifies the rest.
const RECORDED_NAME_BYTES: usize = 1024;

/// One access, routed by the relay.
pub struct AccessRequest<'a> {
    /// The method as the protocol spells it.
    pub method: &'static str,
    /// The upstream that serves it, or why none can.
    pub upstream: Result<usize, String>,
    /// What is decided, under the upstream's own names.
    pub access: Access<'a>,
    /// The part of the request the record keeps a digest of (never the values).
    pub arguments: Option<&'a Value>,
}

/// What the access pipeline needs from the session a request arrived on.
pub trait AccessPort: Sync {
    /// The session's id, as audit records name it.
    fn session_id(&self) -> &str;

    /// The upstream's configured name.
    fn server_name(&self, upstream: usize) -> &str;

    /// Relays the request to the upstream and returns its answer (with the
    /// gateway-side id; the relay restores the client's).
    fn forward(
        &self,
        upstream: usize,
        request: &Value,
        msg: Value,
    ) -> impl Future<Output = Result<Value, GatewayError>> + Send;
}

/// Decides one access (`msg`, the client's id `request`), records the
/// decision, and forwards it only if it may go; records how it ended.
pub async fn access<P: AccessPort>(
    gateway: &Gateway,
    port: &P,
    context: &ClientContext,
    request: &Value,
    access: AccessRequest<'_>,
    msg: Value,
) -> Result<Value, GatewayError> {
    let name = recorded_name(access.access.name());
    let mut record = CallRecord::begin(gateway.audit_key(), port.session_id(), context, &name, access.arguments)
        .of_method(access.method);
    let upstream = match access.upstream {
        Ok(upstream) => upstream,
        Err(why) => {
            let decision = Decision::unknown_access(&access.access, &why);
            record.decided(&decision, true);
            gateway.record(&record.event(Outcome::Blocked, record.elapsed_us(), None)).await?;
            return Err(GatewayError::InvalidParams(decision.reason));
        }
    };
    let server = port.server_name(upstream).to_string();
    record.resolved(&server, &name);
    let (decision, enforcement) = {
        let policy = gateway.policy();
        let context = AccessContext::new(&server, access.access).with_caller(record.caller());
        let decision = policy.decide_access(&context);
        let enforcement = policy.enforce(&decision);
        (decision, enforcement)
    };
    record.decided(&decision, enforcement.enforced);
    match enforcement.action {
        Action::Forward => gateway.record(&record.event(Outcome::Forwarded, record.elapsed_us(), None)).await?,
        // No rule holds an access for a person; were one ever to, refusing is the safe reading.
        Action::Refuse | Action::Hold => {
            gateway.record(&record.event(Outcome::Blocked, record.elapsed_us(), None)).await?;
            return Err(GatewayError::PolicyDenied(Box::new(Denial {
                rule: decision.rule_id,
                reason: decision.reason,
                server,
                tool: name,
                argument: None,
                constraint: decision.constraint,
            })));
        }
    }
    let sent = Instant::now();
    let mut answer = port.forward(upstream, request, msg).await;
    let latency_us = sent.elapsed().as_micros() as u64;
    // Resource contents and prompt messages are read by the model too.
    if let Ok(response) = &mut answer {
        let settings = gateway.policy().inspect_settings(&server, &name);
        let inspected = super::inspect::inspect_answer(response, settings, gateway.integrity.sanitize());
        record.inspected(&inspected);
    }
    let outcome = match &answer {
        Ok(response) if response.get("error").is_none() => Outcome::Completed,
        _ => Outcome::UpstreamError,
    };
    // The decision is on record; nothing waits on how it ended.
    gateway.record_detached(record.event(outcome, latency_us, None));
    answer
}

/// A URI or name cut to what a record keeps, on a character boundary.
fn recorded_name(name: &str) -> String {
    if name.len() <= RECORDED_NAME_BYTES {
        return name.to_string();
    }
    let mut cut = RECORDED_NAME_BYTES;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &name[..cut])
}

#[cfg(test)]
mod tests;
