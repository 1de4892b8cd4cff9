//! The call pipeline: one `tools/call` as a typed pass through stages.
//!
//! ```text
//! resolve -> check the definition -> decide -> enforce -> [limit] -> hold -> forward -> [inspect] -> record
//! ```
//!
//! Each stage takes and returns types: a `Resolved` name, a checked
//! `Definition`, the policy's `Decision`, an `Action` under the policy's
//! mode, a held call's `Ending`, the upstream's answer. `[limit]` and
//! `[inspect]` are the places rate limits and result inspection plug in.
//!
//! What must stay true (ARCHITECTURE.md states it for the whole gateway):
//! - only this module decides a call (`Policy::decide`), writes a call's
//!   audit records and forwards a `tools/call`: the relay's upstream link
//!   sends a call only with a `Cleared`, which nothing else can make;
//! - the decision's record is written before the call is forwarded; if it
//!   cannot be written, the call is not forwarded;
//! - a call is recorded again when the upstream answers (`completed` or
//!   `upstream_error`, with the upstream's latency);
//! - a tool the upstream never advertised in this session is refused,
//!   whatever the policy says.

pub mod access;
pub mod flow;
pub mod frame;
mod hold;
pub mod inspect;
mod port;
mod record;
mod result_walk;

pub use hold::{Ending, HeldCall, HoldRequest};
pub use port::{CallPort, Cleared, Definition};
pub use record::CallRecord;

use crate::approval::grant::CallBinding;
use crate::audit::{ApprovalAudit, Outcome};
use crate::errors::{Denial, GatewayError};
use crate::gateway::Gateway;
use crate::integrity::{Admission, Withheld};
use crate::policy::{
    Action, ApprovalChannel, ApprovalTerms, CallContext, Decision, FlowAction, Label, Policy, Verdict,
};
use crate::protocol::ClientContext;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Instant;

/// A call whose name resolved to an upstream and an advertised tool.
pub struct Resolved {
    pub upstream: usize,
    pub server: String,
    pub tool: String,
    pub definition: Arc<Definition>,
}

/// Runs one `tools/call` (`msg`, the client's id `call`) through the
/// pipeline and returns the upstream's answer, or the error the client sees.
pub async fn call_tool<P: CallPort>(
    gateway: &Arc<Gateway>,
    port: &P,
    context: &ClientContext,
    call: &Value,
    mut msg: Value,
) -> Result<Value, GatewayError> {
    let exposed = msg
        .pointer("/params/name")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| GatewayError::InvalidParams("missing string params.name".into()))?;
    let arguments = msg.pointer("/params/arguments").cloned();
    let mut record = CallRecord::begin(gateway.audit_key(), port.session_id(), context, &exposed, arguments.as_ref());

    let resolved = match resolve(port, &exposed, &mut record).await? {
        Ok(resolved) => resolved,
        Err(refusal) => return refuse_unresolved(gateway, &record, refusal).await,
    };
    if let Some(withheld) = check_definition(gateway, port.session_id(), &resolved) {
        return refuse_withheld(gateway, &mut record, &resolved, withheld).await;
    }
    let policy = gateway.policy();
    let labels = flow::labels_of(policy.labels(&resolved.server, &resolved.tool), &resolved.definition.listed);
    let decision = decide(&policy, &resolved, arguments.as_ref(), record.caller());
    let decision = guard_flow(gateway, &policy, port, &record, &labels, decision);
    let enforcement = policy.enforce(&decision);
    record.decided(&decision, enforcement.enforced);
    match enforcement.action {
        Action::Refuse => {
            gateway.record(&record.event(Outcome::Blocked, record.elapsed_us(), None)).await?;
            // The reason names the tool, the rule and any argument, never a value.
            tracing::info!(session = %record.session(), "call refused: {}", decision.reason);
            return Err(denial(decision, &resolved));
        }
        Action::Forward => {
            gateway.record(&record.event(Outcome::Forwarded, record.elapsed_us(), None)).await?;
            if decision.verdict != Verdict::Allow {
                tracing::info!(
                    session = %record.session(),
                    "call forwarded in audit mode, which enforce mode would {}: {}",
                    if decision.verdict == Verdict::Deny { "refuse" } else { "hold for approval" },
                    decision.reason
                );
            }
        }
        Action::Hold => {
            let policy_version = policy.version().to_string();
            drop(policy);
            // The trifecta guard says which earlier calls tainted the session.
            let why = (decision.rule_id == crate::policy::FLOW_RULE_ID).then(|| decision.reason.clone());
            let terms = decision
                .approval
                .clone()
                .unwrap_or_else(|| ApprovalTerms { timeout: None, channels: ApprovalChannel::DEFAULT.to_vec() });
            let held = HoldRequest {
                binding: binding(&record, &policy_version, why),
                arguments: arguments.as_ref(),
                terms: &terms,
            };
            // What a person approved was checked when it was held; the
            // world may have changed while it waited (a symlink swapped in).
            let recheck = || {
                let decision = decide(&gateway.policy(), &resolved, arguments.as_ref(), record.caller());
                (decision.verdict == Verdict::Deny).then(|| denial(decision, &resolved))
            };
            hold(gateway, port, context, call, held, &record, recheck).await?;
        }
    }
    // [limit]: rate and concurrency limits per caller plug in here.
    msg["params"]["name"] = json!(resolved.tool);
    let (answer, hold_result) = forward(gateway, port, &record, &resolved, &labels, call, msg).await;
    if hold_result {
        hold_answer(gateway, port, context, call, &record, arguments.as_ref()).await?;
    }
    answer
}

/// `[inspect] injection = "approve"`: a result carrying injected
/// instructions waits for a person before the model reads it. Denied,
/// timed out or unanswerable, the client gets the refusal, never the result.
async fn hold_answer<P: CallPort>(
    gateway: &Arc<Gateway>,
    port: &P,
    context: &ClientContext,
    call: &Value,
    record: &CallRecord,
    arguments: Option<&Value>,
) -> Result<(), GatewayError> {
    let reason = format!(
        "the result of tool {:?} on server {:?} carries instructions aimed at the model ([inspect] injection = \"approve\")",
        record.tool(),
        record.server()
    );
    let decision = Decision::result_hold(reason.clone());
    let mut record = record.clone();
    record.decided(&decision, true);
    let terms = ApprovalTerms { timeout: None, channels: ApprovalChannel::DEFAULT.to_vec() };
    let policy_version = gateway.policy().version().to_string();
    let held = HoldRequest { binding: binding(&record, &policy_version, Some(reason)), arguments, terms: &terms };
    hold(gateway, port, context, call, held, &record, || None).await
}

/// Stage 3b: the trifecta guard. A `sends_out` call the policy would let
/// through, in a session that saw untrusted content and read private data,
/// gets `[flow] untrusted_then_send` instead: held for a person, or refused.
fn guard_flow<P: CallPort>(
    gateway: &Gateway,
    policy: &Policy,
    port: &P,
    record: &CallRecord,
    labels: &[Label],
    decision: Decision,
) -> Decision {
    let action = policy.flow();
    if action == FlowAction::Off || decision.verdict == Verdict::Deny || !labels.contains(&Label::SendsOut) {
        return decision;
    }
    let session = port.flow().lock().expect("flow lock");
    let flow = if record.caller_authenticated() {
        session.joined(&gateway.caller_flows.of(record.caller()))
    } else {
        session.joined(&flow::FlowState::default())
    };
    drop(session);
    if !flow.tainted() {
        return decision;
    }
    let verdict = if action == FlowAction::Deny { Verdict::Deny } else { Verdict::Approve };
    let mut guarded = Decision::flow_guard(verdict, flow.why());
    // A hold keeps the deciding rule's terms (timeout, channels) when it had any.
    guarded.approval = decision.approval;
    guarded
}

/// Why a name did not resolve to an advertised tool.
enum Unresolved {
    /// No upstream owns the name.
    NoServer,
    /// The upstream exists but did not list the tool in this session.
    NotAdvertised,
}

/// Stages 1 and 2: the exposed name to an upstream and a tool, and that
/// tool to the definition the upstream advertised in this session.
async fn resolve<P: CallPort>(
    port: &P,
    exposed: &str,
    record: &mut CallRecord,
) -> Result<Result<Resolved, Unresolved>, GatewayError> {
    let Some((upstream, tool)) = port.resolve(exposed) else {
        return Ok(Err(Unresolved::NoServer));
    };
    let server = port.server_name(upstream).to_string();
    record.resolved(&server, &tool);
    match port.definition(upstream, &tool).await? {
        Some(definition) => Ok(Ok(Resolved { upstream, server, tool, definition })),
        None => Ok(Err(Unresolved::NotAdvertised)),
    }
}

/// Refuses a call that never reached a decision: nothing was ever shown to
/// anyone to review, so it is refused whatever the policy or its mode.
async fn refuse_unresolved(gateway: &Gateway, record: &CallRecord, why: Unresolved) -> Result<Value, GatewayError> {
    let decision = match why {
        Unresolved::NoServer => Decision::unknown_tool(record.tool()),
        Unresolved::NotAdvertised => Decision::unadvertised(record.server(), record.tool()),
    };
    let mut record = record.clone();
    record.decided(&decision, true);
    gateway.record(&record.event(Outcome::Blocked, record.elapsed_us(), None)).await?;
    tracing::info!(session = %record.session(), "call refused: {}", decision.reason);
    Err(GatewayError::UnknownTool { tool: record.tool().to_string(), reason: decision.reason })
}

/// Stage 2b: the definition the call would act on is the one reviewed
/// (its pin) and not quarantined by the scanner (`Integrity::admit`).
fn check_definition(gateway: &Gateway, session: &str, resolved: &Resolved) -> Option<Withheld> {
    let definition = &resolved.definition;
    let (admission, notice) =
        gateway.integrity.admit(&resolved.server, &resolved.tool, &definition.listed, definition.digest());
    if let Some(notice) = notice {
        gateway.integrity_notice(notice, session);
    }
    match admission {
        Admission::Withheld(withheld) => Some(withheld),
        Admission::Admitted | Admission::Flagged(_) => None,
    }
}

/// Refuses a call to a withheld definition, in every mode: what the model
/// would act on was never reviewed. Names the pin and the server, never the text.
async fn refuse_withheld(
    gateway: &Gateway,
    record: &mut CallRecord,
    resolved: &Resolved,
    withheld: Withheld,
) -> Result<Value, GatewayError> {
    let reason = withheld.reason(&resolved.server, &resolved.tool);
    let decision = Decision::unreviewed(withheld.rule(), reason, withheld.constraint());
    record.decided(&decision, true);
    gateway.record(&record.event(Outcome::Blocked, record.elapsed_us(), None)).await?;
    tracing::info!(session = %record.session(), "call refused: {}", decision.reason);
    Err(denial(decision, resolved))
}

/// Stage 3: the pure policy decision, for this caller, against the
/// advertised schema.
fn decide(policy: &Policy, resolved: &Resolved, arguments: Option<&Value>, caller: &str) -> Decision {
    let context = CallContext::new(&resolved.server, &resolved.tool, arguments)
        .with_input_schema(resolved.definition.input_schema())
        .with_caller(caller);
    policy.decide(&context)
}

fn denial(decision: Decision, resolved: &Resolved) -> GatewayError {
    GatewayError::PolicyDenied(Box::new(Denial {
        rule: decision.rule_id,
        reason: decision.reason,
        server: resolved.server.clone(),
        tool: resolved.tool.clone(),
        argument: decision.argument,
        constraint: decision.constraint,
    }))
}

/// What an approval of this call is bound to.
fn binding(record: &CallRecord, policy_version: &str, why: Option<String>) -> CallBinding {
    CallBinding {
        session: record.session().to_string(),
        caller: record.caller().to_string(),
        caller_authenticated: record.caller_authenticated(),
        client_name: record.client_name().map(str::to_string),
        client_version: record.client_version().map(str::to_string),
        server: record.server().to_string(),
        tool: record.tool().to_string(),
        rule: record.rule().to_string(),
        args_digest: record.args_digest().to_string(),
        policy_version: policy_version.to_string(),
        why,
    }
}

/// Stage 5: holds the call until a grant covers it or a person approves
/// it. Returns Ok only when this exact call may be forwarded; every ending
/// is recorded.
/// `recheck` decides the call again right before an approved one is
/// released, and returns the refusal if its arguments no longer pass.
async fn hold<P: CallPort>(
    gateway: &Arc<Gateway>,
    port: &P,
    context: &ClientContext,
    call: &Value,
    held: HoldRequest<'_>,
    record: &CallRecord,
    recheck: impl FnOnce() -> Option<GatewayError>,
) -> Result<(), GatewayError> {
    let binding = &held.binding;
    let (server, tool) = (record.server().to_string(), record.tool().to_string());
    if let Some(grant) = gateway.approvals.covering_grant(binding) {
        let approval = ApprovalAudit {
            request: grant.request.clone(),
            approver: Some(grant.approver.clone()),
            reason: Some(grant.reason.clone()),
            scope: Some(format!("grant:{}", grant.scope.label())),
            any_args: Some(grant.any_args),
            channel: None,
        };
        return gateway.record(&record.event(Outcome::Approved, record.elapsed_us(), Some(approval))).await;
    }
    let policy_version = binding.policy_version.clone();
    let held = match HeldCall::hold(gateway, port, call, context, held, record).await {
        Ok(held) => held,
        Err(e) => {
            // Fail closed: a call that cannot be held is denied, with a record.
            let reason = e.to_string();
            let approval = ApprovalAudit {
                approver: Some(hold::GATEWAY.into()),
                reason: Some(reason.clone()),
                ..Default::default()
            };
            gateway.record(&record.event(Outcome::Denied, record.elapsed_us(), Some(approval))).await?;
            return Err(GatewayError::ApprovalDenied {
                request: String::new(),
                approver: hold::GATEWAY.into(),
                reason,
                server,
                tool,
            });
        }
    };
    let request = held.request().id.clone();
    let pending = ApprovalAudit { request: request.clone(), ..ApprovalAudit::default() };
    // If this cannot be recorded, dropping `held` withdraws the request.
    gateway.record(&record.event(Outcome::Pending, record.elapsed_us(), Some(pending))).await?;
    tracing::info!(
        session = %record.session(),
        request = %request,
        "call held for approval: tool {tool:?} on server {server:?}, by rule {:?}",
        record.rule()
    );

    let ending = held.wait().await;
    let mut approval = ApprovalAudit { request: request.clone(), ..ApprovalAudit::default() };
    let stale = match ending {
        Ending::Approved { .. } if gateway.policy().version() == policy_version => recheck(),
        _ => None,
    };
    let (outcome, result) = match ending {
        Ending::Approved { .. } if gateway.policy().version() != policy_version => {
            // Fail closed: the approval answered a decision the policy in force might not make.
            let reason = "the policy changed while the call waited for approval; make the call again".to_string();
            approval.approver = Some(hold::GATEWAY.into());
            approval.reason = Some(reason.clone());
            let denied = GatewayError::ApprovalDenied { request, approver: hold::GATEWAY.into(), reason, server, tool };
            (Outcome::Denied, Err(denied))
        }
        Ending::Approved { approver, .. } if stale.is_some() => {
            // Fail closed: approved, but what would now be forwarded is not what was shown.
            let refusal = stale.expect("guarded by the condition");
            let reason = format!(
                "approved by {approver}, but the arguments no longer pass when checked again before forwarding: {refusal}"
            );
            approval.approver = Some(hold::GATEWAY.into());
            approval.reason = Some(reason);
            (Outcome::Denied, Err(refusal))
        }
        Ending::Approved { approver, reason, scope, any_args, channel } => {
            approval.approver = Some(approver);
            approval.reason = Some(reason);
            approval.scope = Some(scope.label());
            approval.any_args = Some(any_args);
            approval.channel = channel.map(|c| c.as_str().to_string());
            (Outcome::Approved, Ok(()))
        }
        Ending::Denied { approver, reason, channel } => {
            approval.approver = Some(approver.clone());
            approval.reason = Some(reason.clone());
            approval.channel = channel.map(|c| c.as_str().to_string());
            (Outcome::Denied, Err(GatewayError::ApprovalDenied { request, approver, reason, server, tool }))
        }
        Ending::TimedOut { after } => {
            approval.approver = Some(hold::GATEWAY.into());
            approval.reason = Some(format!("nobody answered within {}", humantime::format_duration(after)));
            (Outcome::Timeout, Err(GatewayError::ApprovalTimeout { request, server, tool, after }))
        }
        Ending::Cancelled { reason } => {
            approval.approver = Some(hold::GATEWAY.into());
            approval.reason = Some(reason);
            (Outcome::Cancelled, Err(GatewayError::InvalidRequest("the client cancelled the call".into())))
        }
    };
    gateway.record(&record.event(outcome, 0, Some(approval))).await?;
    result
}

/// Stages 6 to 8: sends the cleared call, inspects the answer and records
/// how the upstream answered. Also says whether the answer must wait for a
/// person (`[inspect] injection = "approve"`).
async fn forward<P: CallPort>(
    gateway: &Gateway,
    port: &P,
    record: &CallRecord,
    resolved: &Resolved,
    labels: &[Label],
    call: &Value,
    msg: Value,
) -> (Result<Value, GatewayError>, bool) {
    let sent = Instant::now();
    let answer = port.send_call(Cleared(()), resolved.upstream, call, msg).await;
    let latency_us = sent.elapsed().as_micros() as u64;
    let mut answer = answer;
    // Stage 7: what the model will read, sanitized and put to the detectors.
    let settings = gateway.policy().inspect_settings(&resolved.server, &resolved.tool);
    let inspected = match &mut answer {
        Ok(response) => inspect::inspect_answer(response, settings, gateway.integrity.sanitize()),
        Err(_) => inspect::Inspected::default(),
    };
    let outcome = match &answer {
        Ok(response) if response.get("error").is_none() => Outcome::Completed,
        _ => Outcome::UpstreamError,
    };
    // Only a labelled tool or an injection finding exposes a session to anything.
    if outcome == Outcome::Completed && (!labels.is_empty() || inspected.injection) {
        let name = format!("{}/{}", resolved.server, resolved.tool);
        port.flow().lock().expect("flow lock").completed(&name, labels, inspected.injection);
        if record.caller_authenticated() {
            gateway.caller_flows.completed(record.caller(), &name, labels, inspected.injection);
        }
    }
    // The decision is on record already; this one only says how it ended,
    // and nothing waits on it (a failure to write it is logged by the sink).
    if inspected.sanitized.is_none() && inspected.audit.is_none() {
        gateway.record_detached(record.event(outcome, latency_us, None));
    } else {
        let mut record = record.clone();
        record.inspected(&inspected);
        if let Some(audit) = &inspected.audit {
            tracing::info!(
                session = %record.session(), server = %resolved.server, tool = %resolved.tool,
                action = audit.action, findings = audit.total, "result inspected"
            );
        }
        gateway.record_detached(record.event(outcome, latency_us, None));
    }
    (answer, inspected.hold)
}

#[cfg(test)]
mod tests;
