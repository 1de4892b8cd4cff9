//! The relay's side of a held call: waiting for the broker's answer while
//! keeping the client informed (progress), asking the client's user with
//! the elicitation form where the rule allows it, and recording how the
//! wait ended. What an answer means and who may give it is the broker's
//! business (`approval`); this file only waits and relays.

use super::{ClientHello, ClientSession};
use crate::approval::elicit::{self, Reply};
use crate::approval::grant::CallBinding;
use crate::approval::{Answer, AnswerError, ApprovalRequest};
use crate::audit::{ApprovalAudit, AuditEvent, Outcome};
use crate::errors::GatewayError;
use crate::gateway::Gateway;
use crate::jsonrpc;
use crate::policy::ApprovalChannel;
use serde_json::{json, Value};

impl ClientSession {
    /// Holds a call whose verdict is Approve until a grant covers it, a
    /// person answers, the timeout passes or the client goes away. Returns
    /// Ok only when this exact call was approved; every ending is audited.
    pub(super) async fn await_approval(
        &self,
        id: &Value,
        binding: CallBinding,
        arguments: Option<&Value>,
        terms: &crate::policy::ApprovalTerms,
        mut event: AuditEvent,
    ) -> Result<(), GatewayError> {
        let broker = &self.gateway.approvals;
        let (server, tool) = (binding.server.clone(), binding.tool.clone());
        if let Some(grant) = broker.covering_grant(&binding) {
            event.outcome = Some(Outcome::Approved);
            event.approval = Some(ApprovalAudit {
                request: grant.request.clone(),
                approver: Some(grant.approver.clone()),
                reason: Some(grant.reason.clone()),
                scope: Some(format!("grant:{}", grant.scope.label())),
                any_args: Some(grant.any_args),
                channel: None,
            });
            return self.gateway.record(&event).await;
        }
        let timeout = terms.timeout();
        let policy_version = binding.policy_version.clone();
        // A client that cannot show a form is not asked; the rule's other channels remain.
        let elicits = self.client.get().is_some_and(ClientHello::elicits_forms);
        let (request, mut answer) = match broker.hold(binding, arguments, &terms.channels, elicits, timeout) {
            Ok(held) => held,
            Err(e) => {
                // Fail closed: a call that cannot be held is denied, with a record.
                let reason = e.to_string();
                event.outcome = Some(Outcome::Denied);
                event.approval = Some(ApprovalAudit {
                    approver: Some("mcp-warden".into()),
                    reason: Some(reason.clone()),
                    ..ApprovalAudit::default()
                });
                self.gateway.record(&event).await?;
                return Err(GatewayError::ApprovalDenied {
                    request: String::new(),
                    approver: "mcp-warden".into(),
                    reason,
                    server,
                    tool,
                });
            }
        };
        let mut guard = HeldCall { gateway: &self.gateway, request: request.id.clone(), event: Some(event.clone()) };
        event.outcome = Some(Outcome::Pending);
        event.approval = Some(ApprovalAudit { request: request.id.clone(), ..ApprovalAudit::default() });
        self.gateway.record(&event).await?;
        tracing::info!(session = %self.id, request = %request.id, server = %server, tool = %tool, "call held for approval");
        self.gateway.announce_held(&request);

        let mut form = match request.channels.contains(&ApprovalChannel::Elicitation) {
            true => self.send_approval_form(id, &request),
            false => None,
        };
        let progress = self.routes.lock().expect("routes lock").progress_target(id);
        let interval = self.gateway.config.approval.progress_interval;
        let deadline = tokio::time::Instant::now() + timeout;
        let mut ticker = tokio::time::interval(interval);
        let mut ticks: u64 = 0;
        let answer = loop {
            tokio::select! {
                biased;
                answer = &mut answer => break answer.ok(),
                reply = async { (&mut form.as_mut().expect("guarded by the condition").1).await }, if form.is_some() => {
                    form = None;
                    let reply = match reply {
                        Ok(response) => elicit::read_reply(&response, &self.approver_in_client()),
                        Err(_) => Reply::NoAnswer("the client session ended before the form was answered".into()),
                    };
                    self.take_form_reply(&request, reply);
                }
                _ = tokio::time::sleep_until(deadline) => {
                    if broker.end(&request.id, "timeout", "nobody answered in time") {
                        break None;
                    }
                    // An answer won the race; it is already on its way.
                    break (&mut answer).await.ok();
                }
                _ = ticker.tick() => {
                    if self.client_cancelled(id) {
                        self.withdraw_approval_form(form.take(), id);
                        // The armed guard withdraws the request and records it.
                        return Err(GatewayError::InvalidRequest("the client cancelled the call".into()));
                    }
                    if let Some((out, token)) = &progress {
                        ticks += 1;
                        let waited = interval.saturating_mul(ticks as u32 - 1);
                        let note = jsonrpc::notification(
                            "notifications/progress",
                            Some(json!({
                                "progressToken": token,
                                "progress": ticks,
                                "message": format!(
                                    "waiting for approval (request {}, {}s of {}s)",
                                    request.id, waited.as_secs(), timeout.as_secs()
                                ),
                            })),
                        );
                        // Never block on a client that is not reading: the deadline must fire.
                        let _ = out.try_send(note);
                    }
                }
            }
        };
        guard.event = None;
        self.withdraw_approval_form(form.take(), id);
        event.latency_us = 0;
        let (answer, channel) = match answer {
            Some((answer, channel)) => (Some(answer), channel),
            None => (None, None),
        };
        let mut audit = ApprovalAudit { request: request.id.clone(), ..ApprovalAudit::default() };
        let result = match answer {
            Some(Answer::Approved { .. }) if self.client_cancelled(id) => {
                // Approved, but the client no longer wants the call made.
                event.outcome = Some(Outcome::Cancelled);
                audit.approver = Some("mcp-warden".into());
                audit.reason = Some("the client cancelled the call before the approval arrived".into());
                Err(GatewayError::InvalidRequest("the client cancelled the call".into()))
            }
            Some(Answer::Approved { .. }) if self.gateway.policy().version() != policy_version => {
                // Fail closed: the approval answered a decision the policy in force might not make.
                let reason = "the policy changed while the call waited for approval; make the call again".to_string();
                event.outcome = Some(Outcome::Denied);
                audit.approver = Some("mcp-warden".into());
                audit.reason = Some(reason.clone());
                Err(GatewayError::ApprovalDenied {
                    request: request.id.clone(),
                    approver: "mcp-warden".into(),
                    reason,
                    server,
                    tool,
                })
            }
            Some(Answer::Approved { approver, reason, scope, any_args }) => {
                event.outcome = Some(Outcome::Approved);
                audit.approver = Some(approver);
                audit.reason = Some(reason);
                audit.scope = Some(scope.label());
                audit.any_args = Some(any_args);
                audit.channel = channel.map(|c| c.as_str().to_string());
                Ok(())
            }
            Some(Answer::Denied { approver, reason }) => {
                event.outcome = Some(Outcome::Denied);
                audit.approver = Some(approver.clone());
                audit.reason = Some(reason.clone());
                audit.channel = channel.map(|c| c.as_str().to_string());
                Err(GatewayError::ApprovalDenied { request: request.id.clone(), approver, reason, server, tool })
            }
            None => {
                event.outcome = Some(Outcome::Timeout);
                audit.approver = Some("mcp-warden".into());
                audit.reason = Some(format!("nobody answered within {}", humantime::format_duration(timeout)));
                Err(GatewayError::ApprovalTimeout { request: request.id.clone(), server, tool, after: timeout })
            }
        };
        event.approval = Some(audit);
        self.gateway.record(&event).await?;
        result
    }

    /// Asks the person at the client, on the held call's own stream, with
    /// the elicitation form. Returns the form's id and where its reply
    /// arrives; `None` when it could not be sent (then it gave no answer).
    fn send_approval_form(
        &self,
        call: &Value,
        request: &ApprovalRequest,
    ) -> Option<(Value, tokio::sync::oneshot::Receiver<Value>)> {
        let (out, form_id, reply) = {
            let mut routes = self.routes.lock().expect("routes lock");
            let out = routes.stream_of(call);
            let (form_id, reply) = routes.own_request(call);
            (out, form_id, reply)
        };
        let params = elicit::form(request, std::time::SystemTime::now());
        let message = jsonrpc::request(form_id.clone(), "elicitation/create", params);
        // Never wait on a client that is not reading: the deadline must fire.
        if out.is_some_and(|out| out.try_send(message).is_ok()) {
            tracing::info!(session = %self.id, request = %request.id, "asked the client to approve the held call");
            return Some((form_id, reply));
        }
        self.routes.lock().expect("routes lock").own_answer(&form_id);
        self.take_form_reply(request, Reply::NoAnswer("the approval form could not be sent to the client".into()));
        None
    }

    /// Hands the form's reply to the broker. A reply that decides nothing
    /// denies the call only when no other channel could still answer it.
    fn take_form_reply(&self, request: &ApprovalRequest, reply: Reply) {
        let broker = &self.gateway.approvals;
        let why = match reply {
            Reply::Answered(answer) => match broker.answer(&request.id, answer, ApprovalChannel::Elicitation) {
                // Either way an answer is on its way to the held call.
                Ok(()) | Err(AnswerError::NotFound(_)) | Err(AnswerError::Store(_)) => return,
                Err(e) => e.to_string(),
            },
            Reply::NoAnswer(why) => why,
        };
        if request.channels.iter().any(|&c| c != ApprovalChannel::Elicitation) {
            tracing::info!(session = %self.id, request = %request.id, "no answer in the client ({why}); waiting on the other channels");
            return;
        }
        let denial = Answer::Denied { approver: "mcp-warden".into(), reason: why };
        if let Err(e) = broker.answer(&request.id, denial, ApprovalChannel::Elicitation) {
            tracing::debug!(request = %request.id, "the held call had already ended: {e}");
        }
    }

    /// Takes back a form nobody needs an answer to any more.
    fn withdraw_approval_form(&self, form: Option<(Value, tokio::sync::oneshot::Receiver<Value>)>, call: &Value) {
        let Some((form_id, _)) = form else { return };
        let out = {
            let mut routes = self.routes.lock().expect("routes lock");
            routes.own_answer(&form_id);
            routes.stream_of(call)
        };
        let note = jsonrpc::notification(
            "notifications/cancelled",
            Some(json!({ "requestId": form_id, "reason": "the held call was answered elsewhere or ended" })),
        );
        if let Some(out) = out {
            let _ = out.try_send(note);
        }
    }

    /// Who answered in the client, as far as the gateway can tell.
    fn approver_in_client(&self) -> String {
        let name = self.client.get().and_then(|c| c.name.as_deref()).unwrap_or("unnamed");
        format!("client:{name}")
    }

    fn client_cancelled(&self, id: &Value) -> bool {
        self.routes.lock().expect("routes lock").is_cancelled(id)
    }
}

/// A held call that has not ended yet. Dropped while still armed (the
/// client went away and the relay stopped waiting), it withdraws the
/// request and records that, so nobody can approve a call no one awaits.
struct HeldCall<'a> {
    gateway: &'a Gateway,
    request: String,
    event: Option<AuditEvent>,
}

impl Drop for HeldCall<'_> {
    fn drop(&mut self) {
        let Some(mut event) = self.event.take() else { return };
        // Still pending: withdrawn now. Not pending: an answer was sent that
        // nobody will act on. Either way the call is not made, and the record says so.
        let withdrawn = self.gateway.approvals.end(&self.request, "cancelled", "the client went away");
        let reason = if withdrawn {
            "the client cancelled the call or went away while it waited for approval"
        } else {
            "the client cancelled the call or went away before the answer could be acted on"
        };
        event.outcome = Some(Outcome::Cancelled);
        event.approval = Some(ApprovalAudit {
            request: self.request.clone(),
            approver: Some("mcp-warden".into()),
            reason: Some(reason.into()),
            ..ApprovalAudit::default()
        });
        let _ = self.gateway.record_blocking(&event);
    }
}
