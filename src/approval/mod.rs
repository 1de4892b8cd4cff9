//! The approval broker: holds the calls whose verdict is Approve until a
//! person answers through a channel, or the timeout denies them.
//!
//! - `elicit`: the elicitation form and how its reply reads (pure);
//! - `grant`: what an approval covers (pure, unit-tested);
//! - `mask`: secret-looking argument values hidden from people and disk;
//! - `store`: the SQLite record of requests and grants;
//! - `webhook`: announcing held calls to a receiver with signed approve and
//!   deny links (signing pure, delivery I/O).
//!
//! What must stay true:
//! - a held call is released only by an answer to *its* request id, or by a
//!   grant that `Grant::covers` it; nothing else lets it through;
//! - a request is answered at most once: removing it from `pending` under
//!   the lock is the single point where an answer, a timeout or a
//!   cancellation wins;
//! - every answer is in the store before the waiting call hears it, and a
//!   store failure denies the call;
//! - requests pending when the gateway stopped are denied when it starts.
//!
//! Channels plug in by calling [`ApprovalBroker::pending`] and
//! [`ApprovalBroker::answer`] with their [`ApprovalChannel`]: the admin API,
//! the CLI and the web console (all through that API), the webhook's signed
//! links (`admin::webhook`, announced by `webhook`), and the elicitation
//! form the relay sends the calling client (`elicit`).

pub mod elicit;
pub mod grant;
pub mod mask;
pub mod store;
pub mod webhook;

use crate::config::{ApprovalConfig, GatewayConfig};
use crate::policy::{ApprovalChannel, Policy};
use grant::{CallBinding, Grant, GrantScope};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};
use store::{rfc3339, ApprovalStore, Outcome, StoreError};
use tokio::sync::{mpsc, oneshot};

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
    #[error("too many pending approvals ({0}); try again later")]
    TooMany(usize),
    #[error("this session already has {0} calls waiting for approval; wait for them to be answered")]
    TooManyInSession(usize),
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

struct Waiting {
    request: ApprovalRequest,
    answer: oneshot::Sender<Answered>,
}

struct Inner {
    store: ApprovalStore,
    pending: HashMap<String, Waiting>,
    grants: Vec<Grant>,
}

pub struct ApprovalBroker {
    inner: Mutex<Inner>,
    max_pending: usize,
    max_pending_per_session: usize,
    /// Channels this gateway can actually offer (the admin listener is configured).
    available: Vec<ApprovalChannel>,
    /// Told how each webhook-announced request ended, so the receiver can
    /// close what it opened; never blocks the broker.
    ended: std::sync::OnceLock<mpsc::Sender<Ended>>,
}

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

/// The longest reason or approver name an answer may carry.
const MAX_TEXT: usize = 1000;
/// Time-scoped grants kept in memory at most; the oldest go first.
const MAX_GRANTS: usize = 10_000;

impl ApprovalBroker {
    /// Opens the store, denies what a previous run left pending (returned
    /// for the audit log) and loads the grants still in force.
    pub fn open(
        config: &ApprovalConfig,
        available: Vec<ApprovalChannel>,
    ) -> Result<(ApprovalBroker, Vec<(String, CallBinding)>), StoreError> {
        let store = ApprovalStore::open(&config.store)?;
        let now = SystemTime::now();
        let abandoned = store.deny_abandoned(RESTART_REASON, now)?;
        let grants = store.live_grants(now)?;
        let inner = Mutex::new(Inner { store, pending: HashMap::new(), grants });
        let broker = ApprovalBroker {
            inner,
            max_pending: config.max_pending,
            max_pending_per_session: config.max_pending_per_session,
            available,
            ended: std::sync::OnceLock::new(),
        };
        Ok((broker, abandoned))
    }

    /// Where to report how webhook-announced requests end. Set once.
    pub fn report_endings(&self, to: mpsc::Sender<Ended>) {
        let _ = self.ended.set(to);
    }

    fn report(&self, ended: Ended) {
        let Some(to) = self.ended.get() else { return };
        if !ended.request.channels.contains(&ApprovalChannel::Webhook) {
            return;
        }
        if to.try_send(ended).is_err() {
            tracing::warn!("too many approval endings waiting to be reported to the webhook; one was dropped");
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A grant that already covers this call, if any.
    pub fn covering_grant(&self, call: &CallBinding) -> Option<Grant> {
        let now = SystemTime::now();
        let mut inner = self.lock();
        inner.grants.retain(|g| !g.expired(now));
        inner.grants.iter().find(|g| g.covers(call, now)).cloned()
    }

    /// Holds a call: records the request and returns it with the receiver
    /// its answer arrives on. Of the rule's `channels` it keeps those this
    /// gateway serves, and elicitation only when the client `elicits`.
    pub fn hold(
        &self,
        binding: CallBinding,
        arguments: Option<&Value>,
        channels: &[ApprovalChannel],
        elicits: bool,
        timeout: Duration,
    ) -> Result<(ApprovalRequest, oneshot::Receiver<Answered>), HoldError> {
        let offered: Vec<ApprovalChannel> = channels
            .iter()
            .copied()
            .filter(|&c| self.available.contains(&c) && (c != ApprovalChannel::Elicitation || elicits))
            .collect();
        if offered.is_empty() {
            let names: Vec<&str> = channels.iter().map(|c| c.as_str()).collect();
            return Err(HoldError::NoChannel(names.join(", ")));
        }
        let channels = offered;
        let now = SystemTime::now();
        let request = ApprovalRequest {
            id: request_id(),
            binding,
            arguments: mask::mask_secrets(arguments.unwrap_or(&json!({}))),
            channels,
            requested_at: now,
            expires_at: now + timeout,
        };
        let mut inner = self.lock();
        if inner.pending.len() >= self.max_pending {
            return Err(HoldError::TooMany(self.max_pending));
        }
        let session = &request.binding.session;
        if inner.pending.values().filter(|w| &w.request.binding.session == session).count()
            >= self.max_pending_per_session
        {
            return Err(HoldError::TooManyInSession(self.max_pending_per_session));
        }
        inner.store.insert_pending(&request)?;
        let (tx, rx) = oneshot::channel();
        inner.pending.insert(request.id.clone(), Waiting { request: request.clone(), answer: tx });
        Ok((request, rx))
    }

    /// Pending requests, oldest first.
    pub fn pending(&self) -> Vec<ApprovalRequest> {
        let mut list: Vec<ApprovalRequest> = self.lock().pending.values().map(|w| w.request.clone()).collect();
        list.sort_by(|a, b| a.requested_at.cmp(&b.requested_at).then_with(|| a.id.cmp(&b.id)));
        list
    }

    /// The pending request `id`, if it is still waiting.
    pub fn pending_request(&self, id: &str) -> Option<ApprovalRequest> {
        self.lock().pending.get(id).map(|w| w.request.clone())
    }

    pub fn is_pending(&self, id: &str) -> bool {
        self.lock().pending.contains_key(id)
    }

    /// A person's answer through `channel`. Recorded before the held call
    /// hears it; if it cannot be recorded, the call is denied.
    pub fn answer(&self, id: &str, answer: Answer, channel: ApprovalChannel) -> Result<(), AnswerError> {
        let (approver, reason) = match &answer {
            Answer::Approved { approver, reason, .. } | Answer::Denied { approver, reason } => (approver, reason),
        };
        if approver.trim().is_empty() || approver.len() > MAX_TEXT || reason.len() > MAX_TEXT {
            return Err(AnswerError::Invalid(format!(
                "approver must be 1 to {MAX_TEXT} characters, reason at most {MAX_TEXT}"
            )));
        }
        let now = SystemTime::now();
        let mut inner = self.lock();
        let Some(waiting) = inner.pending.get(id) else {
            return Err(AnswerError::NotFound(id.to_string()));
        };
        if !waiting.request.channels.contains(&channel) {
            let allowed: Vec<&str> = waiting.request.channels.iter().map(|c| c.as_str()).collect();
            return Err(AnswerError::ChannelRefused {
                id: id.to_string(),
                channel: channel.as_str(),
                allowed: allowed.join(", "),
            });
        }
        let waiting = inner.pending.remove(id).expect("checked above");
        let recorded = match &answer {
            Answer::Approved { approver, reason, scope, any_args } => {
                let grant = Grant::widen(id, &waiting.request.binding, *scope, *any_args, approver, reason, now);
                let label = scope.label();
                let outcome =
                    Outcome { status: "approved", approver, reason, scope: Some(&label), any_args: *any_args };
                grant
                    .as_ref()
                    .map_or(Ok(()), |g| inner.store.insert_grant(g))
                    .and_then(|()| inner.store.decide(id, &outcome, now))
                    .map(|_| grant)
            }
            Answer::Denied { approver, reason } => {
                let outcome = Outcome { status: "denied", approver, reason, scope: None, any_args: false };
                inner.store.decide(id, &outcome, now).map(|_| None)
            }
        };
        let result = match recorded {
            Ok(grant) => {
                if let Some(grant) = grant {
                    if inner.grants.len() >= MAX_GRANTS {
                        inner.grants.remove(0);
                    }
                    inner.grants.push(grant);
                }
                Ok((answer, Some(channel)))
            }
            Err(e) => {
                // Fail closed: an answer nobody can prove later releases nothing.
                let denied = Answer::Denied {
                    approver: "mcp-warden".into(),
                    reason: format!("the answer could not be recorded ({e})"),
                };
                Err(((denied, None), e))
            }
        };
        drop(inner);
        let (answered, outcome) = match result {
            Ok(answered) => (answered, Ok(())),
            Err((answered, e)) => (answered, Err(AnswerError::Store(e))),
        };
        self.report(Ended::of(&waiting.request, &answered));
        let _ = waiting.answer.send(answered);
        outcome
    }

    /// Ends a request nobody answered (`status` is "timeout" or "cancelled").
    /// Returns false when an answer got there first: the caller then reads it.
    pub fn end(&self, id: &str, status: &str, reason: &str) -> bool {
        let mut inner = self.lock();
        let Some(waiting) = inner.pending.remove(id) else {
            return false;
        };
        let outcome = Outcome { status, approver: "mcp-warden", reason, scope: None, any_args: false };
        if let Err(e) = inner.store.decide(id, &outcome, SystemTime::now()) {
            tracing::error!(request = %id, "could not record the end of an approval request: {e}");
        }
        drop(inner);
        self.report(Ended {
            request: waiting.request,
            status: status.to_string(),
            approver: "mcp-warden".into(),
            reason: reason.to_string(),
            scope: None,
            any_args: false,
            channel: None,
        });
        true
    }

    /// The newest requests and how each ended, newest first.
    pub fn recent(&self, limit: usize) -> Result<Vec<Value>, StoreError> {
        self.lock().store.recent(limit)
    }
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
            client_name: Some("c".into()),
            client_version: None,
            server: "demo".into(),
            tool: "send_message".into(),
            rule: "r".into(),
            args_digest: digest.into(),
            policy_version: "v1".into(),
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
mod tests {
    use super::*;

    fn config(dir: &std::path::Path, max_pending: usize) -> ApprovalConfig {
        ApprovalConfig {
            store: dir.join("approvals.sqlite"),
            progress_interval: Duration::from_secs(5),
            max_pending,
            max_pending_per_session: max_pending,
            webhook: None,
        }
    }

    fn binding(digest: &str) -> CallBinding {
        fixtures::binding("s1", digest)
    }

    fn approve(scope: GrantScope) -> Answer {
        Answer::Approved { approver: "alice".into(), reason: "fine".into(), scope, any_args: false }
    }

    #[test]
    fn answer_reaches_only_the_request_it_names() {
        let dir = tempfile::tempdir().unwrap();
        let (broker, _) = ApprovalBroker::open(&config(dir.path(), 10), ApprovalChannel::ALL.to_vec()).unwrap();
        let (a, mut rx_a) =
            broker.hold(binding("d1"), None, &ApprovalChannel::ALL, true, Duration::from_secs(60)).unwrap();
        let (_b, mut rx_b) =
            broker.hold(binding("d2"), None, &ApprovalChannel::ALL, true, Duration::from_secs(60)).unwrap();
        broker.answer(&a.id, approve(GrantScope::Once), ApprovalChannel::Api).unwrap();
        assert_eq!(rx_a.try_recv().unwrap(), (approve(GrantScope::Once), Some(ApprovalChannel::Api)));
        assert!(rx_b.try_recv().is_err(), "the other call still waits");
        assert!(matches!(
            broker.answer(&a.id, approve(GrantScope::Once), ApprovalChannel::Api),
            Err(AnswerError::NotFound(_))
        ));
        assert!(broker.covering_grant(&binding("d1")).is_none(), "once leaves no grant");
    }

    #[test]
    fn a_timed_out_request_cannot_be_approved_afterwards() {
        let dir = tempfile::tempdir().unwrap();
        let (broker, _) = ApprovalBroker::open(&config(dir.path(), 10), ApprovalChannel::ALL.to_vec()).unwrap();
        let (a, _rx) = broker.hold(binding("d1"), None, &ApprovalChannel::ALL, true, Duration::from_secs(60)).unwrap();
        assert!(broker.end(&a.id, "timeout", "timed out"));
        assert!(broker.answer(&a.id, approve(GrantScope::Session), ApprovalChannel::Api).is_err());
        assert!(broker.covering_grant(&binding("d1")).is_none());
    }

    #[test]
    fn a_channel_the_rule_does_not_list_cannot_answer() {
        let dir = tempfile::tempdir().unwrap();
        let (broker, _) = ApprovalBroker::open(&config(dir.path(), 10), ApprovalChannel::ALL.to_vec()).unwrap();
        let (a, _rx) =
            broker.hold(binding("d1"), None, &[ApprovalChannel::Cli], true, Duration::from_secs(60)).unwrap();
        let refused = broker.answer(&a.id, approve(GrantScope::Once), ApprovalChannel::Api);
        assert!(matches!(refused, Err(AnswerError::ChannelRefused { .. })), "{refused:?}");
        broker.answer(&a.id, approve(GrantScope::Once), ApprovalChannel::Cli).unwrap();
    }

    #[test]
    fn without_an_available_channel_nothing_is_held() {
        let dir = tempfile::tempdir().unwrap();
        let (broker, _) = ApprovalBroker::open(&config(dir.path(), 10), Vec::new()).unwrap();
        let held = broker.hold(binding("d1"), None, &ApprovalChannel::ALL, true, Duration::from_secs(60));
        assert!(matches!(held, Err(HoldError::NoChannel(_))));
    }

    #[test]
    fn elicitation_is_offered_only_to_a_client_that_can_answer() {
        let dir = tempfile::tempdir().unwrap();
        let (broker, _) = ApprovalBroker::open(&config(dir.path(), 10), ApprovalChannel::ALL.to_vec()).unwrap();
        let rule = [ApprovalChannel::Elicitation, ApprovalChannel::Console];
        let (held, _rx) = broker.hold(binding("d1"), None, &rule, false, Duration::from_secs(60)).unwrap();
        assert_eq!(held.channels, vec![ApprovalChannel::Console], "falls back to the rule's other channels");
        let only = broker.hold(binding("d2"), None, &[ApprovalChannel::Elicitation], false, Duration::from_secs(60));
        let Err(HoldError::NoChannel(names)) = only else { panic!("{only:?}") };
        assert_eq!(names, "elicitation");
    }

    #[test]
    fn approve_rules_nobody_here_can_answer_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.toml");
        let rule = |id: &str, channels: &str| {
            format!("[[rules]]\nid = \"{id}\"\nserver = \"s\"\ntools = [\"{id}\"]\naction = \"approve\"\n{channels}")
        };
        let text = [
            rule("by-default", ""),
            rule("console-only", "approval = [\"console\"]\n"),
            rule("client-or-console", "approval = [\"elicitation\", \"console\"]\n"),
            rule("client-only", "approval = [\"elicitation\"]\n"),
        ]
        .concat();
        std::fs::write(&file, text).unwrap();
        let policy = Policy::load(&[file]).unwrap();
        let without_admin = [ApprovalChannel::Elicitation];
        let warnings = channel_warnings(&policy, &without_admin);
        assert_eq!(warnings.len(), 3, "{warnings:#?}");
        assert!(warnings[0].starts_with("rule \"by-default\"") && warnings[0].contains("will be denied"));
        assert!(warnings[1].starts_with("rule \"console-only\""));
        assert!(
            warnings[2].starts_with("rule \"client-or-console\"") && warnings[2].contains("without the elicitation")
        );
        assert!(channel_warnings(&policy, &ApprovalChannel::ALL).is_empty(), "everything is served");
    }

    #[test]
    fn endings_are_reported_only_for_webhook_announced_requests() {
        let dir = tempfile::tempdir().unwrap();
        let (broker, _) = ApprovalBroker::open(&config(dir.path(), 10), ApprovalChannel::ALL.to_vec()).unwrap();
        let (tx, mut endings) = mpsc::channel(8);
        broker.report_endings(tx);
        let hook = [ApprovalChannel::Webhook, ApprovalChannel::Api];
        let (a, _rx) = broker.hold(binding("d1"), None, &hook, true, Duration::from_secs(60)).unwrap();
        let (b, _rx) =
            broker.hold(binding("d2"), None, &[ApprovalChannel::Api], true, Duration::from_secs(60)).unwrap();
        let (c, _rx) = broker.hold(binding("d3"), None, &hook, true, Duration::from_secs(60)).unwrap();
        broker.answer(&a.id, approve(GrantScope::Session), ApprovalChannel::Api).unwrap();
        broker.answer(&b.id, approve(GrantScope::Once), ApprovalChannel::Api).unwrap();
        assert!(broker.end(&c.id, "timeout", "nobody answered in time"));
        let first = endings.try_recv().unwrap();
        assert_eq!((first.request.id.as_str(), first.status.as_str()), (a.id.as_str(), "approved"));
        assert_eq!((first.scope.as_deref(), first.channel), (Some("session"), Some(ApprovalChannel::Api)));
        let second = endings.try_recv().unwrap();
        assert_eq!(
            (second.request.id.as_str(), second.status.as_str(), second.channel),
            (c.id.as_str(), "timeout", None)
        );
        assert!(endings.try_recv().is_err(), "the api-only request was never announced, so its end is not reported");
    }

    #[test]
    fn pending_approvals_are_capped() {
        let dir = tempfile::tempdir().unwrap();
        let (broker, _) = ApprovalBroker::open(&config(dir.path(), 2), ApprovalChannel::ALL.to_vec()).unwrap();
        let _a = broker.hold(binding("d1"), None, &ApprovalChannel::ALL, true, Duration::from_secs(60)).unwrap();
        let _b = broker.hold(binding("d2"), None, &ApprovalChannel::ALL, true, Duration::from_secs(60)).unwrap();
        let third = broker.hold(binding("d3"), None, &ApprovalChannel::ALL, true, Duration::from_secs(60));
        assert!(matches!(third, Err(HoldError::TooMany(2))));
    }

    #[test]
    fn one_session_cannot_fill_the_queue_for_everyone() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = ApprovalConfig { max_pending_per_session: 2, ..config(dir.path(), 10) };
        let (broker, _) = ApprovalBroker::open(&cfg, ApprovalChannel::ALL.to_vec()).unwrap();
        let _a = broker.hold(binding("d1"), None, &ApprovalChannel::ALL, true, Duration::from_secs(60)).unwrap();
        let _b = broker.hold(binding("d2"), None, &ApprovalChannel::ALL, true, Duration::from_secs(60)).unwrap();
        let third = broker.hold(binding("d3"), None, &ApprovalChannel::ALL, true, Duration::from_secs(60));
        assert!(matches!(third, Err(HoldError::TooManyInSession(2))), "{third:?}");
        let other = CallBinding { session: "s2".into(), ..binding("d3") };
        assert!(broker.hold(other, None, &ApprovalChannel::ALL, true, Duration::from_secs(60)).is_ok());
    }

    #[test]
    fn requests_pending_at_a_restart_are_denied_and_time_grants_survive() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), 10);
        let id = {
            let (broker, _) = ApprovalBroker::open(&cfg, ApprovalChannel::ALL.to_vec()).unwrap();
            let (a, _rx) =
                broker.hold(binding("d1"), None, &ApprovalChannel::ALL, true, Duration::from_secs(60)).unwrap();
            let (b, _rx) =
                broker.hold(binding("d2"), None, &ApprovalChannel::ALL, true, Duration::from_secs(60)).unwrap();
            broker.answer(&b.id, approve(GrantScope::For(Duration::from_secs(600))), ApprovalChannel::Api).unwrap();
            a.id
        };
        let (broker, abandoned) = ApprovalBroker::open(&cfg, ApprovalChannel::ALL.to_vec()).unwrap();
        assert_eq!(abandoned.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(), vec![id.clone()]);
        assert!(broker.pending().is_empty());
        assert_eq!(broker.lock().store.status(&id).unwrap().as_deref(), Some("denied"));
        assert!(broker.covering_grant(&binding("d2")).is_some());
        assert!(broker.covering_grant(&binding("d1")).is_none());
    }

    #[test]
    fn held_arguments_are_masked_before_anyone_sees_them() {
        let dir = tempfile::tempdir().unwrap();
        let (broker, _) = ApprovalBroker::open(&config(dir.path(), 10), ApprovalChannel::ALL.to_vec()).unwrap();
        let args = json!({"to": "bob@example.com", "api_key": "k-123"});
        broker.hold(binding("d1"), Some(&args), &ApprovalChannel::ALL, true, Duration::from_secs(60)).unwrap();
        let listed = broker.pending()[0].view();
        assert_eq!(listed["arguments"], json!({"to": "bob@example.com", "api_key": "***"}));
        let recent = broker.recent(10).unwrap();
        assert_eq!(recent[0]["arguments"]["api_key"], "***");
    }
}
