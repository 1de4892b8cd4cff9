//! [`ApprovalBroker`]: which calls are held, who may answer them, and the
//! order of things when one ends. It joins three seams: the store (durable,
//! and the compare-and-set that decides which ending wins), the decision
//! bus (how the held call hears it) and the announcers (how people hear of
//! it). The invariants it keeps are listed in `approval`'s module doc.
//!
//! Memory holds what this process serves: the pending requests it holds
//! (listed, checked for caps and channels) and the grants in force (read on
//! every call, so `covering_grant` never waits on the store). Every store
//! call runs on the store thread, together with what follows from its
//! result (`settle_*`), so a caller that stops waiting cannot leave a
//! decision recorded but unannounced.

use super::bus::{DecisionBus, LocalBus};
use super::channels::Announcer;
use super::grant::{CallBinding, Grant};
use super::store::{ApprovalStore, Outcome, SqliteStore, StoreError, StoreThread, StoredRequest};
use super::{mask, Answer, AnswerError, Answered, ApprovalRequest, Ended, HoldError, RESTART_REASON};
use crate::config::ApprovalConfig;
use crate::policy::ApprovalChannel;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::sync::oneshot;

/// The longest reason or approver name an answer may carry.
const MAX_TEXT: usize = 1000;
/// Time-scoped grants kept in memory at most; the oldest go first.
const MAX_GRANTS: usize = 10_000;
/// Who the broker names when the gateway itself ends or denies a request.
const GATEWAY: &str = "mcp-warden";

/// A handle on the broker; clones share it.
#[derive(Clone)]
pub struct ApprovalBroker {
    shared: Arc<Shared>,
}

/// What a broker is set up with, besides its store.
pub struct BrokerSettings {
    pub max_pending: usize,
    pub max_pending_per_session: usize,
    pub max_pending_per_caller: usize,
    /// Channels this gateway can actually offer (the admin listener is configured).
    pub available: Vec<ApprovalChannel>,
    pub announcers: Vec<Arc<dyn Announcer>>,
}

struct Shared {
    store: StoreThread,
    bus: Box<dyn DecisionBus>,
    settings: BrokerSettings,
    state: Mutex<State>,
}

struct State {
    pending: HashMap<String, Pending>,
    grants: Vec<Grant>,
}

struct Pending {
    request: ApprovalRequest,
    /// Recorded in the store and announced: listed, answerable, and its
    /// ending is told. False while the store write is under way.
    visible: bool,
}

/// What a previous run left pending, denied at start-up, for the audit log.
pub type Abandoned = Vec<(String, CallBinding)>;

impl ApprovalBroker {
    /// Opens the SQLite store at `[approval] store`; see [`ApprovalBroker::start`].
    pub fn open(
        config: &ApprovalConfig,
        available: Vec<ApprovalChannel>,
        announcers: Vec<Arc<dyn Announcer>>,
    ) -> Result<(ApprovalBroker, Abandoned), StoreError> {
        let path = config.store.clone();
        let settings = BrokerSettings {
            max_pending: config.max_pending,
            max_pending_per_session: config.max_pending_per_session,
            max_pending_per_caller: config.max_pending_per_caller,
            available,
            announcers,
        };
        ApprovalBroker::start(move || Ok(Box::new(SqliteStore::open(&path)?) as Box<dyn ApprovalStore>), settings)
    }

    /// Starts the store thread, opens the store there with `open`, denies
    /// what a previous run left pending (returned for the audit log) and
    /// loads the grants still in force. Waits for all that: the gateway
    /// starts synchronously and serves nothing before it is done.
    pub fn start(
        open: impl FnOnce() -> Result<Box<dyn ApprovalStore>, StoreError> + Send + 'static,
        settings: BrokerSettings,
    ) -> Result<(ApprovalBroker, Abandoned), StoreError> {
        let (store, (abandoned, grants)) = StoreThread::start(open, |store| {
            let now = SystemTime::now();
            let abandoned = store.deny_abandoned(RESTART_REASON, now)?;
            Ok((abandoned, store.live_grants(now)?))
        })?;
        let shared = Shared {
            store,
            bus: Box::new(LocalBus::default()),
            settings,
            state: Mutex::new(State { pending: HashMap::new(), grants }),
        };
        Ok((ApprovalBroker { shared: Arc::new(shared) }, abandoned))
    }

    /// A grant that already covers this call, if any.
    pub fn covering_grant(&self, call: &CallBinding) -> Option<Grant> {
        let now = SystemTime::now();
        let mut state = self.shared.state();
        state.grants.retain(|g| !g.expired(now));
        state.grants.iter().find(|g| g.covers(call, now)).cloned()
    }

    /// Holds a call: records the request, announces it, and returns it with
    /// the receiver its answer arrives on. Of the rule's `channels` it keeps
    /// those this gateway serves, and elicitation only when the client
    /// `elicits`. Dropped before it returns, the request is withdrawn.
    pub async fn hold(
        &self,
        binding: CallBinding,
        arguments: Option<&Value>,
        channels: &[ApprovalChannel],
        elicits: bool,
        timeout: Duration,
    ) -> Result<(ApprovalRequest, oneshot::Receiver<Answered>), HoldError> {
        let available = &self.shared.settings.available;
        let offered: Vec<ApprovalChannel> = channels
            .iter()
            .copied()
            .filter(|&c| available.contains(&c) && (c != ApprovalChannel::Elicitation || elicits))
            .collect();
        if offered.is_empty() {
            let names: Vec<&str> = channels.iter().map(|c| c.as_str()).collect();
            return Err(HoldError::NoChannel(names.join(", ")));
        }
        let now = SystemTime::now();
        let request = ApprovalRequest {
            id: super::request_id(),
            binding,
            arguments: mask::mask_secrets(arguments.unwrap_or(&json!({}))),
            channels: offered,
            requested_at: now,
            expires_at: now + timeout,
        };
        self.shared.reserve(&request)?;
        let answer = self.shared.bus.listen(&request.id);
        let mut reservation = Reservation { broker: self, id: Some(request.id.clone()) };
        let row = request.clone();
        let recorded = self.shared.store.run(move |store| store.insert_pending(&row)).await.and_then(|r| r);
        reservation.id = None;
        if let Err(e) = recorded {
            self.shared.release(&request.id);
            return Err(HoldError::Store(e));
        }
        self.shared.reveal(&request.id);
        for announcer in self.shared.announcers_for(&request) {
            announcer.announce(&request, self);
        }
        Ok((request, answer))
    }

    /// Pending requests, oldest first.
    pub fn pending(&self) -> Vec<ApprovalRequest> {
        let state = self.shared.state();
        let mut list: Vec<ApprovalRequest> =
            state.pending.values().filter(|p| p.visible).map(|p| p.request.clone()).collect();
        list.sort_by(|a, b| a.requested_at.cmp(&b.requested_at).then_with(|| a.id.cmp(&b.id)));
        list
    }

    /// The pending request `id`, if it is still waiting.
    pub fn pending_request(&self, id: &str) -> Option<ApprovalRequest> {
        self.shared.state().pending.get(id).filter(|p| p.visible).map(|p| p.request.clone())
    }

    pub fn is_pending(&self, id: &str) -> bool {
        self.pending_request(id).is_some()
    }

    /// A person's answer through `channel`. Recorded before the held call
    /// hears it; if it cannot be recorded, the call is denied. Of racing
    /// answers (and endings) the store lets exactly one win; the others get
    /// `NotFound`.
    pub async fn answer(&self, id: &str, answer: Answer, channel: ApprovalChannel) -> Result<(), AnswerError> {
        let (approver, reason) = match &answer {
            Answer::Approved { approver, reason, .. } | Answer::Denied { approver, reason } => (approver, reason),
        };
        if approver.trim().is_empty() || approver.len() > MAX_TEXT || reason.len() > MAX_TEXT {
            return Err(AnswerError::Invalid(format!(
                "approver must be 1 to {MAX_TEXT} characters, reason at most {MAX_TEXT}"
            )));
        }
        let Some(request) = self.pending_request(id) else {
            return Err(AnswerError::NotFound(id.to_string()));
        };
        if !request.channels.contains(&channel) {
            let allowed: Vec<&str> = request.channels.iter().map(|c| c.as_str()).collect();
            return Err(AnswerError::ChannelRefused {
                id: id.to_string(),
                channel: channel.as_str(),
                allowed: allowed.join(", "),
            });
        }
        let now = SystemTime::now();
        let (outcome, grant) = match &answer {
            Answer::Approved { approver, reason, scope, any_args } => {
                let grant = Grant::widen(id, &request.binding, *scope, *any_args, approver, reason, now);
                let outcome = Outcome {
                    status: "approved".into(),
                    approver: approver.clone(),
                    reason: reason.clone(),
                    scope: Some(scope.label()),
                    any_args: *any_args,
                };
                (outcome, grant)
            }
            Answer::Denied { approver, reason } => {
                let outcome = Outcome {
                    status: "denied".into(),
                    approver: approver.clone(),
                    reason: reason.clone(),
                    scope: None,
                    any_args: false,
                };
                (outcome, None)
            }
        };
        let shared = Arc::clone(&self.shared);
        let decided = self
            .shared
            .store
            .run(move |store| {
                let won = store.decide(&request.id, &outcome, grant.as_ref(), now);
                shared.settle_answer(&request, (answer, Some(channel)), grant, &won);
                won
            })
            .await;
        match decided {
            Ok(Ok(true)) => Ok(()),
            Ok(Ok(false)) => Err(AnswerError::NotFound(id.to_string())),
            Ok(Err(e)) => Err(AnswerError::Store(e)),
            Err(e) => {
                // The job never finished (the store thread failed): whatever
                // happened in the store, this call is not released.
                self.shared.deny_unrecorded(id, &e);
                Err(AnswerError::Store(e))
            }
        }
    }

    /// Ends a request nobody answered (`status` is "timeout" or "cancelled").
    /// Returns false when an answer got there first: the caller then reads
    /// it. A store failure still ends the request here (true).
    pub async fn end(&self, id: &str, status: &str, reason: &str) -> bool {
        let outcome = Outcome::by_gateway(status, reason);
        let (shared, key, recorded) = (Arc::clone(&self.shared), id.to_string(), outcome.clone());
        let ended = self
            .shared
            .store
            .run(move |store| {
                let won = store.decide(&key, &recorded, None, SystemTime::now());
                shared.settle_end(&key, &recorded, won)
            })
            .await;
        ended.unwrap_or_else(|e| self.shared.settle_end(id, &outcome, Err(e)))
    }

    /// [`ApprovalBroker::end`] for callers that cannot wait (a `Drop`): runs
    /// on a task of its own, then hands `then` whether this ending won.
    /// Without a runtime to run on (the process is stopping), the request is
    /// forgotten here and left pending in the store, where the next start
    /// denies it.
    pub fn end_later(&self, id: &str, status: &str, reason: &str, then: impl FnOnce(bool) + Send + 'static) {
        let outcome = Outcome::by_gateway(status, reason);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let (broker, id) = (self.clone(), id.to_string());
                runtime.spawn(async move { then(broker.end(&id, &outcome.status, &outcome.reason).await) });
            }
            Err(_) => {
                let unrecorded = StoreError("no async runtime left to record the ending".into());
                then(self.shared.settle_end(id, &outcome, Err(unrecorded)));
            }
        }
    }

    /// The newest requests and how each ended, newest first.
    pub async fn recent(&self, limit: usize) -> Result<Vec<Value>, StoreError> {
        let rows = self.shared.store.run(move |store| store.recent(limit)).await??;
        Ok(rows.iter().map(StoredRequest::view).collect())
    }

    /// The stored status of one request (`pending`, `approved`, ...).
    pub async fn stored_status(&self, id: &str) -> Result<Option<String>, StoreError> {
        let id = id.to_string();
        self.shared.store.run(move |store| store.status(&id)).await?
    }
}

/// Withdraws a request whose `hold` was dropped before it returned: nobody
/// would ever wait on it, end it or count it out of the caps.
struct Reservation<'a> {
    broker: &'a ApprovalBroker,
    /// `None` once `hold` finished, either way.
    id: Option<String>,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            self.broker.end_later(&id, "cancelled", "the call went away before it was held", |_| {});
        }
    }
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts `request` against the caps and keeps it, not yet visible.
    /// Besides the memory bound shared by all, the caps that isolate
    /// clients: its session's, and its caller's when one is authenticated,
    /// so one client reaches its own limit long before the shared bound.
    fn reserve(&self, request: &ApprovalRequest) -> Result<(), HoldError> {
        let settings = &self.settings;
        let binding = &request.binding;
        let mut state = self.state();
        if state.pending.len() >= settings.max_pending {
            return Err(HoldError::TooMany(settings.max_pending));
        }
        let held =
            |same: &dyn Fn(&CallBinding) -> bool| state.pending.values().filter(|p| same(&p.request.binding)).count();
        if held(&|b| b.session == binding.session) >= settings.max_pending_per_session {
            return Err(HoldError::TooManyInSession(settings.max_pending_per_session));
        }
        if binding.caller_authenticated
            && held(&|b| b.caller_authenticated && b.caller == binding.caller) >= settings.max_pending_per_caller
        {
            return Err(HoldError::TooManyForCaller(settings.max_pending_per_caller));
        }
        state.pending.insert(request.id.clone(), Pending { request: request.clone(), visible: false });
        Ok(())
    }

    fn reveal(&self, id: &str) {
        if let Some(pending) = self.state().pending.get_mut(id) {
            pending.visible = true;
        }
    }

    /// Forgets a request that was never recorded.
    fn release(&self, id: &str) {
        self.state().pending.remove(id);
        self.bus.forget(id);
    }

    fn announcers_for<'a>(&'a self, request: &'a ApprovalRequest) -> impl Iterator<Item = &'a Arc<dyn Announcer>> {
        self.settings.announcers.iter().filter(|a| request.channels.contains(&a.channel()))
    }

    /// Tells the announcers of a request that was visible how it ended.
    fn tell_ended(&self, pending: Option<Pending>, ended: impl FnOnce(&ApprovalRequest) -> Ended) {
        let Some(pending) = pending.filter(|p| p.visible) else { return };
        let ended = ended(&pending.request);
        for announcer in self.announcers_for(&pending.request) {
            announcer.ended(&ended);
        }
    }

    /// After the store decided an answer (store thread).
    fn settle_answer(
        &self,
        request: &ApprovalRequest,
        answered: Answered,
        grant: Option<Grant>,
        won: &Result<bool, StoreError>,
    ) {
        match won {
            Ok(true) => {
                let mut state = self.state();
                let pending = state.pending.remove(&request.id);
                if let Some(grant) = grant {
                    if state.grants.len() >= MAX_GRANTS {
                        state.grants.remove(0);
                    }
                    state.grants.push(grant);
                }
                drop(state);
                self.bus.publish(&request.id, answered.clone());
                self.tell_ended(pending, |request| Ended::of(request, &answered));
            }
            // Another answer or ending won, and has settled already.
            Ok(false) => {}
            Err(e) => self.deny_unrecorded(&request.id, e),
        }
    }

    /// Fails closed: an answer nobody can prove later releases nothing.
    fn deny_unrecorded(&self, id: &str, e: &StoreError) {
        let denied: Answered = (
            Answer::Denied { approver: GATEWAY.into(), reason: format!("the answer could not be recorded ({e})") },
            None,
        );
        let pending = self.state().pending.remove(id);
        self.bus.publish(id, denied.clone());
        self.tell_ended(pending, |request| Ended::of(request, &denied));
    }

    /// After the store decided an ending; returns whether it won. A store
    /// failure ends the request all the same: its call is not released.
    /// Losing means an answer settled first (in this process, on this same
    /// thread), so there is nothing left to wake.
    fn settle_end(&self, id: &str, outcome: &Outcome, won: Result<bool, StoreError>) -> bool {
        let pending = self.state().pending.remove(id);
        self.bus.forget(id);
        let ended = won.unwrap_or_else(|e| {
            tracing::error!(request = %id, "could not record the end of an approval request: {e}");
            true
        });
        if ended {
            self.tell_ended(pending, |request| Ended {
                request: request.clone(),
                status: outcome.status.clone(),
                approver: outcome.approver.clone(),
                reason: outcome.reason.clone(),
                scope: None,
                any_args: false,
                channel: None,
            });
        }
        ended
    }
}
