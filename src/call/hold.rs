//! A call held for a person: from the moment the broker takes it until an
//! answer, a timeout or the client's departure ends it. While it waits the
//! client hears progress (when it sent a token), and the person at the
//! client is asked through the elicitation form where the rule allows it.
//! What an answer means and who may give it is the broker's business
//! (`approval`); a held call only waits, relays and reports how it ended.

use super::port::CallPort;
use super::record::CallRecord;
use crate::approval::elicit::{self, Reply};
use crate::approval::grant::{CallBinding, GrantScope};
use crate::approval::{Answer, AnswerError, Answered, ApprovalRequest, HoldError};
use crate::audit::{ApprovalAudit, Outcome};
use crate::gateway::Gateway;
use crate::jsonrpc;
use crate::policy::{ApprovalChannel, ApprovalTerms};
use crate::protocol::ClientContext;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// Who the gateway names when it ends a call itself.
pub const GATEWAY: &str = "mcp-warden";

/// How a held call ended.
#[derive(Debug)]
pub enum Ending {
    Approved {
        approver: String,
        reason: String,
        scope: GrantScope,
        any_args: bool,
        channel: Option<ApprovalChannel>,
    },
    /// A person, or the gateway failing closed (`approver` = "mcp-warden").
    Denied {
        approver: String,
        reason: String,
        channel: Option<ApprovalChannel>,
    },
    TimedOut {
        after: Duration,
    },
    /// The client cancelled the call, or it was approved after the client
    /// gave up on it.
    Cancelled {
        reason: String,
    },
}

/// What the broker is asked to hold: the call as an approval binds it, its
/// arguments (shown masked to the people asked) and the rule's terms.
pub struct HoldRequest<'a> {
    pub binding: CallBinding,
    pub arguments: Option<&'a Value>,
    pub terms: &'a ApprovalTerms,
}

/// A held call that has not ended yet.
pub struct HeldCall<'a, P: CallPort> {
    /// Owned, so that a call dropped mid-wait can still end its request and
    /// record that on a task of its own.
    gateway: Arc<Gateway>,
    port: &'a P,
    /// The client's id of the call.
    call: Value,
    request: ApprovalRequest,
    answer: oneshot::Receiver<Answered>,
    /// The elicitation form's id and where its reply arrives, while it is out.
    form: Option<(Value, oneshot::Receiver<Value>)>,
    /// Who answers in the client, as far as the gateway can tell.
    approver_in_client: String,
    timeout: Duration,
    /// Set until the wait ends. Dropped while set (the client went away and
    /// the relay stopped waiting), the call withdraws its request and
    /// records that, so nobody can approve a call no one awaits.
    armed: Option<CallRecord>,
}

impl<'a, P: CallPort> HeldCall<'a, P> {
    /// Hands the call to the broker. Of the rule's channels the broker keeps
    /// those this gateway serves, and elicitation only for a client that can
    /// show forms; a call it cannot hold is refused (and denied by the caller).
    pub async fn hold(
        gateway: &Arc<Gateway>,
        port: &'a P,
        call: &Value,
        context: &ClientContext,
        held: HoldRequest<'_>,
        record: &CallRecord,
    ) -> Result<HeldCall<'a, P>, HoldError> {
        let HoldRequest { binding, arguments, terms } = held;
        let timeout = terms.timeout();
        let elicits = context.elicits_forms();
        let (request, answer) = gateway.approvals.hold(binding, arguments, &terms.channels, elicits, timeout).await?;
        let name = context.client_info.name.as_deref().unwrap_or("unnamed");
        Ok(HeldCall {
            gateway: Arc::clone(gateway),
            port,
            call: call.clone(),
            request,
            answer,
            form: None,
            approver_in_client: format!("client:{name}"),
            timeout,
            armed: Some(record.clone()),
        })
    }

    pub fn request(&self) -> &ApprovalRequest {
        &self.request
    }

    /// Waits for the ending: an answer through any channel, the timeout, or
    /// the client cancelling. Asks the client first where the rule allows it.
    pub async fn wait(mut self) -> Ending {
        if self.request.channels.contains(&ApprovalChannel::Elicitation) {
            self.send_form().await;
        }
        let gateway = Arc::clone(&self.gateway);
        let broker = &gateway.approvals;
        let progress = self.port.progress_target(&self.call);
        let interval = self.gateway.config.approval.progress_interval;
        let deadline = tokio::time::Instant::now() + self.timeout;
        let mut ticker = tokio::time::interval(interval);
        let mut ticks: u64 = 0;
        let answer = loop {
            tokio::select! {
                biased;
                answer = &mut self.answer => break answer.ok(),
                reply = async { (&mut self.form.as_mut().expect("guarded by the condition").1).await }, if self.form.is_some() => {
                    self.form = None;
                    let reply = match reply {
                        Ok(response) => elicit::read_reply(&response, &self.approver_in_client),
                        Err(_) => Reply::NoAnswer("the client session ended before the form was answered".into()),
                    };
                    self.take_form_reply(reply).await;
                }
                _ = tokio::time::sleep_until(deadline) => {
                    if broker.end(&self.request.id, "timeout", "nobody answered in time").await {
                        break None;
                    }
                    // An answer won the race; it is already on its way.
                    break (&mut self.answer).await.ok();
                }
                _ = ticker.tick() => {
                    if self.port.cancelled(&self.call) {
                        self.withdraw_form();
                        // Still armed while the store writes: dropped meanwhile,
                        // the call is recorded all the same.
                        let withdrawn = broker.end(&self.request.id, "cancelled", WITHDRAWN).await;
                        self.armed = None;
                        return Ending::Cancelled { reason: withdrawal_reason(withdrawn) };
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
                                    self.request.id, waited.as_secs(), self.timeout.as_secs()
                                ),
                            })),
                        );
                        // Never block on a client that is not reading: the deadline must fire.
                        let _ = out.try_send(note);
                    }
                }
            }
        };
        self.armed = None;
        self.withdraw_form();
        match answer {
            Some((Answer::Approved { .. }, _)) if self.port.cancelled(&self.call) => {
                Ending::Cancelled { reason: "the client cancelled the call before the approval arrived".into() }
            }
            Some((Answer::Approved { approver, reason, scope, any_args }, channel)) => {
                Ending::Approved { approver, reason, scope, any_args, channel }
            }
            Some((Answer::Denied { approver, reason }, channel)) => Ending::Denied { approver, reason, channel },
            None => Ending::TimedOut { after: self.timeout },
        }
    }

    /// Asks the person at the client, on the held call's own stream.
    async fn send_form(&mut self) {
        let params = elicit::form(&self.request, std::time::SystemTime::now());
        match self.port.ask_client(&self.call, "elicitation/create", params) {
            Some(form) => {
                tracing::info!(request = %self.request.id, "asked the client to approve the held call");
                self.form = Some(form);
            }
            None => {
                let why = "the approval form could not be sent to the client";
                self.take_form_reply(Reply::NoAnswer(why.into())).await
            }
        }
    }

    /// Hands the form's reply to the broker. A reply that decides nothing
    /// denies the call only when no other channel could still answer it.
    async fn take_form_reply(&self, reply: Reply) {
        let broker = &self.gateway.approvals;
        let why = match reply {
            Reply::Answered(answer) => {
                match broker.answer(&self.request.id, answer, ApprovalChannel::Elicitation).await {
                    // Either way an answer is on its way to the held call.
                    Ok(()) | Err(AnswerError::NotFound(_)) | Err(AnswerError::Store(_)) => return,
                    Err(e) => e.to_string(),
                }
            }
            Reply::NoAnswer(why) => why,
        };
        if self.request.channels.iter().any(|&c| c != ApprovalChannel::Elicitation) {
            tracing::info!(request = %self.request.id, "no answer in the client ({why}); waiting on the other channels");
            return;
        }
        let denial = Answer::Denied { approver: GATEWAY.into(), reason: why };
        if let Err(e) = broker.answer(&self.request.id, denial, ApprovalChannel::Elicitation).await {
            tracing::debug!(request = %self.request.id, "the held call had already ended: {e}");
        }
    }

    /// Takes back a form nobody needs an answer to any more.
    fn withdraw_form(&mut self) {
        if let Some((form, _)) = self.form.take() {
            self.port.withdraw(&self.call, &form, "the held call was answered elsewhere or ended");
        }
    }
}

/// The ending a held call records when its client leaves.
const WITHDRAWN: &str = "the client went away";

/// Why a withdrawn call was not made: still pending, it was withdrawn; not
/// pending, an answer arrived that nobody will act on. Either way the call
/// is not made.
fn withdrawal_reason(withdrawn: bool) -> String {
    let reason = if withdrawn {
        "the client cancelled the call or went away while it waited for approval"
    } else {
        "the client cancelled the call or went away before the answer could be acted on"
    };
    reason.to_string()
}

impl<P: CallPort> Drop for HeldCall<'_, P> {
    /// The relay stopped waiting (the client went away). A `Drop` cannot
    /// wait on the store, so the request is ended, and that recorded, on a
    /// task of its own (`end_later`); until then it stays pending, and
    /// answering it releases nothing, because nobody waits on the answer.
    fn drop(&mut self) {
        let Some(record) = self.armed.take() else { return };
        self.withdraw_form();
        let (gateway, request) = (Arc::clone(&self.gateway), self.request.id.clone());
        self.gateway.approvals.end_later(&self.request.id, "cancelled", WITHDRAWN, move |withdrawn| {
            let approval = ApprovalAudit {
                request,
                approver: Some(GATEWAY.into()),
                reason: Some(withdrawal_reason(withdrawn)),
                ..ApprovalAudit::default()
            };
            gateway.record_detached(record.event(Outcome::Cancelled, 0, Some(approval)));
        });
    }
}
