//! Approvals: the calls whose verdict is Approve wait here until a person
//! answers through a channel, or the timeout denies them.
//!
//! - `broker`: [`ApprovalBroker`], which holds calls, takes answers and ends
//!   what times out or is withdrawn;
//! - `store`: the durable record of requests and grants behind a trait
//!   (SQLite today), run on a thread of its own;
//! - `bus`: how a held call hears its request was decided (a oneshot per
//!   request today), behind a trait a shared setup can implement;
//! - `channels`: the channels that reach out to people ([`channels::Announcer`]):
//!   the webhook, with signed approve and deny links;
//! - `elicit`: the elicitation form and how its reply reads (pure);
//! - `grant`: what an approval covers (pure, unit-tested);
//! - `mask`: secret-looking argument values hidden from people and disk.
//!
//! What must stay true:
//! - a held call is released only by an answer to *its* request id, or by a
//!   grant that `Grant::covers` it; nothing else lets it through;
//! - a request is answered at most once: the store's compare-and-set on
//!   `pending` ([`store::ApprovalStore::decide`]) is the single point where
//!   an answer, a timeout or a cancellation wins;
//! - every answer is in the store before the waiting call hears it, and a
//!   store failure denies the call;
//! - requests pending when the gateway stopped are denied when it starts;
//! - no store I/O runs on an async worker.
//!
//! Channels answer by calling [`ApprovalBroker::pending`] and
//! [`ApprovalBroker::answer`] with their [`ApprovalChannel`]: the admin API,
//! the CLI and the web console (all through that API), the webhook's signed
//! links (`admin::webhook`), and the elicitation form the relay sends the
//! calling client (`elicit`).

pub mod broker;
pub mod bus;
pub mod channels;
pub mod elicit;
pub mod grant;
pub mod mask;
pub mod store;

/// The webhook channel keeps its historical path.
pub use channels::webhook;

pub use broker::{ApprovalBroker, BrokerSettings};

use crate::config::GatewayConfig;
use crate::policy::{ApprovalChannel, Policy};
use grant::{CallBinding, GrantScope};
use serde_json::{json, Value};
use std::time::SystemTime;
use store::{rfc3339, StoreError};

/// A call waiting for a person, as people and the store see it.
#[derive(Clone, Debug)]
pub struct ApprovalRequest {
    pub id: String,
    pub binding: CallBinding,
    /// The call's arguments with secret-looking values masked.
    pub arguments: Value,
    pub channels: Vec<ApprovalChannel>,
    pub requested_at: SystemTime,
    pub expires_at: SystemTime,
}

impl ApprovalRequest {
    /// The JSON the admin API and the CLI show.
    pub fn view(&self) -> Value {
        let channels: Vec<&str> = self.channels.iter().map(|c| c.as_str()).collect();
        json!({
            "id": self.id,
            "server": self.binding.server,
            "tool": self.binding.tool,
            "rule": self.binding.rule,
            "why": self.binding.why,
            "arguments": self.arguments,
            "session": self.binding.session,
            "client": {"name": self.binding.client_name, "version": self.binding.client_version},
            "channels": channels,
            "requested_at": rfc3339(self.requested_at),
            "expires_at": rfc3339(self.expires_at),
        })
    }
}

/// A person's answer to one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    Approved { approver: String, reason: String, scope: GrantScope, any_args: bool },
    Denied { approver: String, reason: String },
}

/// Why a call could not be held (it is denied instead).
#[derive(Debug, thiserror::Error)]
pub enum HoldError {
    #[error(
        "none of this rule's approval channels ({0}) is available for this call: api, cli and console need [admin], \
         webhook needs [approval.webhook], elicitation needs a client that declared the elicitation capability"
    )]
    NoChannel(String),
    #[error(
        "too many pending approvals: the gateway already holds {0} calls for approval \
         (approval.max_pending, a memory bound shared by all clients); try again later"
    )]
    TooMany(usize),
    #[error("this session already has {0} calls waiting for approval; wait for them to be answered")]
    TooManyInSession(usize),
    #[error("this caller already has {0} calls waiting for approval; wait for them to be answered")]
    TooManyForCaller(usize),
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// Why an answer was refused.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    #[error("no pending approval request {0:?} (answered, timed out, cancelled or never made)")]
    NotFound(String),
    #[error("request {id:?} does not accept answers from the {channel} channel (its rule allows: {allowed})")]
    ChannelRefused { id: String, channel: &'static str, allowed: String },
    #[error("{0}")]
    Invalid(String),
    #[error("{0}; the held call was denied")]
    Store(#[from] StoreError),
}

/// What a held call hears: the answer, and the channel it came through
/// (`None` when the gateway itself denied the call).
pub type Answered = (Answer, Option<ApprovalChannel>);

/// How a request ended, for a channel that announced it and wants to close
/// what it opened (the webhook's chat message or ticket).
#[derive(Clone, Debug)]
pub struct Ended {
    pub request: ApprovalRequest,
    /// "approved", "denied", "timeout" or "cancelled".
    pub status: String,
    pub approver: String,
    pub reason: String,
    /// The approval's scope label (`once`, `session`, `15m`), when approved.
    pub scope: Option<String>,
    pub any_args: bool,
    /// The channel that answered; `None` when the gateway ended it.
    pub channel: Option<ApprovalChannel>,
}

impl Ended {
    fn of(request: &ApprovalRequest, (answer, channel): &Answered) -> Ended {
        let (status, approver, reason, scope, any_args) = match answer {
            Answer::Approved { approver, reason, scope, any_args } => {
                ("approved", approver, reason, Some(scope.label()), *any_args)
            }
            Answer::Denied { approver, reason } => ("denied", approver, reason, None, false),
        };
        Ended {
            request: request.clone(),
            status: status.into(),
            approver: approver.clone(),
            reason: reason.clone(),
            scope,
            any_args,
            channel: *channel,
        }
    }
}

/// The channels a gateway with this configuration can serve. Elicitation is
/// among them; whether a given client can answer is decided per call.
pub fn served_channels(config: &GatewayConfig) -> Vec<ApprovalChannel> {
    ApprovalChannel::ALL
        .into_iter()
        .filter(|c| match c {
            c if c.is_admin() => config.admin.is_some(),
            ApprovalChannel::Webhook => config.approval.webhook.is_some(),
            _ => true,
        })
        .collect()
}

/// What an operator should hear about approve rules this configuration
/// cannot serve well: every call they hold would be denied, or would be
/// for clients without elicitation. Pure; `check` prints it, `serve` logs it.
pub fn channel_warnings(policy: &Policy, served: &[ApprovalChannel]) -> Vec<String> {
    let mut warnings = Vec::new();
    for (rule, terms) in policy.approval_rules() {
        let names: Vec<&str> = terms.channels.iter().map(|c| c.as_str()).collect();
        let usable: Vec<ApprovalChannel> = terms.channels.iter().copied().filter(|c| served.contains(c)).collect();
        if usable.is_empty() {
            warnings.push(format!(
                "rule {rule:?} holds calls for approval, but none of its channels ({}) is configured here \
                 (api, cli and console need [admin], webhook needs [approval.webhook]): every call it holds will be denied",
                names.join(", ")
            ));
        } else if usable == [ApprovalChannel::Elicitation] && terms.channels.len() > 1 {
            warnings.push(format!(
                "rule {rule:?}: of its channels ({}) only elicitation is configured here, so calls from clients \
                 without the elicitation capability will be denied",
                names.join(", ")
            ));
        }
    }
    warnings
}

/// Why a request left pending by a previous run was denied.
pub const RESTART_REASON: &str = "gateway restarted while the call was waiting for approval";

fn request_id() -> String {
    let bytes: [u8; 12] = rand::random();
    format!("apr_{}", hex::encode(bytes))
}

/// Calls and held requests for the unit tests of the approval channels.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::{ApprovalRequest, CallBinding};
    use crate::policy::ApprovalChannel;
    use serde_json::Value;
    use std::time::{Duration, SystemTime};

    /// `send_message` on `demo` under rule "r", from client "c".
    pub fn binding(session: &str, digest: &str) -> CallBinding {
        CallBinding {
            session: session.into(),
            caller: "local".into(),
            caller_authenticated: false,
            client_name: Some("c".into()),
            client_version: None,
            server: "demo".into(),
            tool: "send_message".into(),
            rule: "r".into(),
            args_digest: digest.into(),
            policy_version: "v1".into(),
            why: None,
        }
    }

    /// Request `id`, held at `at` for `ttl`, answerable through `channel`.
    pub fn request(
        id: &str,
        channel: ApprovalChannel,
        arguments: Value,
        at: SystemTime,
        ttl: Duration,
    ) -> ApprovalRequest {
        ApprovalRequest {
            id: id.into(),
            binding: binding("s1", "d"),
            arguments,
            channels: vec![channel],
            requested_at: at,
            expires_at: at + ttl,
        }
    }
}

#[cfg(test)]
mod tests;
