//! The broker's tests: against the SQLite store where what is on disk
//! matters (restarts), against fakes where the store must fail, stall or
//! say which thread it runs on.

use super::channels::Announcer;
use super::store::memory::MemoryStore;
use super::store::thread::THREAD_NAME;
use super::store::{ApprovalStore, Outcome, SqliteStore, StoreError, StoredRequest};
use super::*;
use crate::config::ApprovalConfig;
use grant::Grant;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

fn config(dir: &std::path::Path, max_pending: usize) -> ApprovalConfig {
    ApprovalConfig {
        store: dir.join("approvals.sqlite"),
        progress_interval: Duration::from_secs(5),
        max_pending,
        max_pending_per_session: max_pending,
        max_pending_per_caller: max_pending,
        webhook: None,
    }
}

fn open(config: &ApprovalConfig, available: Vec<ApprovalChannel>) -> (ApprovalBroker, broker::Abandoned) {
    ApprovalBroker::open(config, available, Vec::new()).unwrap()
}

fn binding(digest: &str) -> CallBinding {
    fixtures::binding("s1", digest)
}

fn approve(scope: GrantScope) -> Answer {
    Answer::Approved { approver: "alice".into(), reason: "fine".into(), scope, any_args: false }
}

const MINUTE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn answer_reaches_only_the_request_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, _) = open(&config(dir.path(), 10), ApprovalChannel::ALL.to_vec());
    let (a, mut rx_a) = broker.hold(binding("d1"), None, &ApprovalChannel::ALL, true, MINUTE).await.unwrap();
    let (_b, mut rx_b) = broker.hold(binding("d2"), None, &ApprovalChannel::ALL, true, MINUTE).await.unwrap();
    broker.answer(&a.id, approve(GrantScope::Once), ApprovalChannel::Api).await.unwrap();
    assert_eq!(rx_a.try_recv().unwrap(), (approve(GrantScope::Once), Some(ApprovalChannel::Api)));
    assert!(rx_b.try_recv().is_err(), "the other call still waits");
    assert!(matches!(
        broker.answer(&a.id, approve(GrantScope::Once), ApprovalChannel::Api).await,
        Err(AnswerError::NotFound(_))
    ));
    assert!(broker.covering_grant(&binding("d1")).is_none(), "once leaves no grant");
}

#[tokio::test]
async fn a_timed_out_request_cannot_be_approved_afterwards() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, _) = open(&config(dir.path(), 10), ApprovalChannel::ALL.to_vec());
    let (a, _rx) = broker.hold(binding("d1"), None, &ApprovalChannel::ALL, true, MINUTE).await.unwrap();
    assert!(broker.end(&a.id, "timeout", "timed out").await);
    assert!(broker.answer(&a.id, approve(GrantScope::Session), ApprovalChannel::Api).await.is_err());
    assert!(broker.covering_grant(&binding("d1")).is_none());
}

#[tokio::test]
async fn a_channel_the_rule_does_not_list_cannot_answer() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, _) = open(&config(dir.path(), 10), ApprovalChannel::ALL.to_vec());
    let (a, _rx) = broker.hold(binding("d1"), None, &[ApprovalChannel::Cli], true, MINUTE).await.unwrap();
    let refused = broker.answer(&a.id, approve(GrantScope::Once), ApprovalChannel::Api).await;
    assert!(matches!(refused, Err(AnswerError::ChannelRefused { .. })), "{refused:?}");
    broker.answer(&a.id, approve(GrantScope::Once), ApprovalChannel::Cli).await.unwrap();
}

#[tokio::test]
async fn without_an_available_channel_nothing_is_held() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, _) = open(&config(dir.path(), 10), Vec::new());
    let held = broker.hold(binding("d1"), None, &ApprovalChannel::ALL, true, MINUTE).await;
    assert!(matches!(held, Err(HoldError::NoChannel(_))));
}

#[tokio::test]
async fn elicitation_is_offered_only_to_a_client_that_can_answer() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, _) = open(&config(dir.path(), 10), ApprovalChannel::ALL.to_vec());
    let rule = [ApprovalChannel::Elicitation, ApprovalChannel::Console];
    let (held, _rx) = broker.hold(binding("d1"), None, &rule, false, MINUTE).await.unwrap();
    assert_eq!(held.channels, vec![ApprovalChannel::Console], "falls back to the rule's other channels");
    let only = broker.hold(binding("d2"), None, &[ApprovalChannel::Elicitation], false, MINUTE).await;
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
    assert!(warnings[2].starts_with("rule \"client-or-console\"") && warnings[2].contains("without the elicitation"));
    assert!(channel_warnings(&policy, &ApprovalChannel::ALL).is_empty(), "everything is served");
}

#[tokio::test]
async fn endings_are_reported_only_for_webhook_announced_requests() {
    let dir = tempfile::tempdir().unwrap();
    let webhook = Listener::new(ApprovalChannel::Webhook);
    let announcers: Vec<Arc<dyn Announcer>> = vec![webhook.clone()];
    let (broker, _) = ApprovalBroker::open(&config(dir.path(), 10), ApprovalChannel::ALL.to_vec(), announcers).unwrap();
    let hook = [ApprovalChannel::Webhook, ApprovalChannel::Api];
    let (a, _rx) = broker.hold(binding("d1"), None, &hook, true, MINUTE).await.unwrap();
    let (b, _rx) = broker.hold(binding("d2"), None, &[ApprovalChannel::Api], true, MINUTE).await.unwrap();
    let (c, _rx) = broker.hold(binding("d3"), None, &hook, true, MINUTE).await.unwrap();
    broker.answer(&a.id, approve(GrantScope::Session), ApprovalChannel::Api).await.unwrap();
    broker.answer(&b.id, approve(GrantScope::Once), ApprovalChannel::Api).await.unwrap();
    assert!(broker.end(&c.id, "timeout", "nobody answered in time").await);
    let endings = webhook.endings();
    let first = &endings[0];
    assert_eq!((first.request.id.as_str(), first.status.as_str()), (a.id.as_str(), "approved"));
    assert_eq!((first.scope.as_deref(), first.channel), (Some("session"), Some(ApprovalChannel::Api)));
    let second = &endings[1];
    assert_eq!((second.request.id.as_str(), second.status.as_str(), second.channel), (c.id.as_str(), "timeout", None));
    assert_eq!(endings.len(), 2, "the api-only request was never announced, so its end is not reported");
}

#[tokio::test]
async fn pending_approvals_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, _) = open(&config(dir.path(), 2), ApprovalChannel::ALL.to_vec());
    let _a = broker.hold(binding("d1"), None, &ApprovalChannel::ALL, true, MINUTE).await.unwrap();
    let _b = broker.hold(binding("d2"), None, &ApprovalChannel::ALL, true, MINUTE).await.unwrap();
    let third = broker.hold(binding("d3"), None, &ApprovalChannel::ALL, true, MINUTE).await;
    assert!(matches!(third, Err(HoldError::TooMany(2))));
}

#[tokio::test]
async fn one_session_cannot_fill_the_queue_for_everyone() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = ApprovalConfig { max_pending_per_session: 2, ..config(dir.path(), 10) };
    let (broker, _) = open(&cfg, ApprovalChannel::ALL.to_vec());
    let _a = broker.hold(binding("d1"), None, &ApprovalChannel::ALL, true, MINUTE).await.unwrap();
    let _b = broker.hold(binding("d2"), None, &ApprovalChannel::ALL, true, MINUTE).await.unwrap();
    let third = broker.hold(binding("d3"), None, &ApprovalChannel::ALL, true, MINUTE).await;
    assert!(matches!(third, Err(HoldError::TooManyInSession(2))), "{third:?}");
    let other = CallBinding { session: "s2".into(), ..binding("d3") };
    assert!(broker.hold(other, None, &ApprovalChannel::ALL, true, MINUTE).await.is_ok());
}

#[tokio::test]
async fn requests_pending_at_a_restart_are_denied_and_time_grants_survive() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 10);
    let id = {
        let (broker, _) = open(&cfg, ApprovalChannel::ALL.to_vec());
        let (a, _rx) = broker.hold(binding("d1"), None, &ApprovalChannel::ALL, true, MINUTE).await.unwrap();
        let (b, _rx) = broker.hold(binding("d2"), None, &ApprovalChannel::ALL, true, MINUTE).await.unwrap();
        let ten_minutes = approve(GrantScope::For(Duration::from_secs(600)));
        broker.answer(&b.id, ten_minutes, ApprovalChannel::Api).await.unwrap();
        a.id
    };
    let (broker, abandoned) = open(&cfg, ApprovalChannel::ALL.to_vec());
    assert_eq!(abandoned.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(), vec![id.clone()]);
    assert!(broker.pending().is_empty());
    assert_eq!(broker.stored_status(&id).await.unwrap().as_deref(), Some("denied"));
    assert!(broker.covering_grant(&binding("d2")).is_some());
    assert!(broker.covering_grant(&binding("d1")).is_none());
}

#[tokio::test]
async fn held_arguments_are_masked_before_anyone_sees_them() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, _) = open(&config(dir.path(), 10), ApprovalChannel::ALL.to_vec());
    let args = json!({"to": "bob@example.com", "api_key": "k-123"});
    broker.hold(binding("d1"), Some(&args), &ApprovalChannel::ALL, true, MINUTE).await.unwrap();
    let listed = broker.pending()[0].view();
    assert_eq!(listed["arguments"], json!({"to": "bob@example.com", "api_key": "***"}));
    let recent = broker.recent(10).await.unwrap();
    assert_eq!(recent[0]["arguments"]["api_key"], "***");
}

// ---- the seams: announcers, a failing store, the store's compare-and-set and thread ----

/// An announcer that remembers what it was told.
struct Listener {
    channel: ApprovalChannel,
    announced: Mutex<Vec<String>>,
    ended: Mutex<Vec<Ended>>,
}

impl Listener {
    fn new(channel: ApprovalChannel) -> Arc<Listener> {
        Arc::new(Listener { channel, announced: Mutex::default(), ended: Mutex::default() })
    }

    fn announced(&self) -> Vec<String> {
        self.announced.lock().unwrap().clone()
    }

    fn endings(&self) -> Vec<Ended> {
        self.ended.lock().unwrap().clone()
    }

    fn ended_ids(&self) -> Vec<(String, String)> {
        self.endings().into_iter().map(|e| (e.request.id, e.status)).collect()
    }
}

impl Announcer for Listener {
    fn channel(&self) -> ApprovalChannel {
        self.channel
    }

    fn announce(&self, request: &ApprovalRequest, _broker: &ApprovalBroker) {
        self.announced.lock().unwrap().push(request.id.clone());
    }

    fn ended(&self, ended: &Ended) {
        self.ended.lock().unwrap().push(ended.clone());
    }
}

/// Holds store writes while closed, so a test can line racers up.
#[derive(Default)]
struct Gate {
    closed: Mutex<bool>,
    changed: Condvar,
}

impl Gate {
    fn set(&self, closed: bool) {
        *self.closed.lock().unwrap() = closed;
        self.changed.notify_all();
    }

    fn pass(&self) {
        let closed = self.closed.lock().unwrap();
        drop(self.changed.wait_while(closed, |closed| *closed).unwrap());
    }
}

/// A store in memory that notes the thread of every call, and can be made
/// to fail decisions or stall writes.
#[derive(Clone, Default)]
struct Fake {
    threads: Arc<Mutex<Vec<String>>>,
    fail_decisions: Arc<AtomicBool>,
    writes: Arc<Gate>,
}

struct FakeStore {
    fake: Fake,
    inner: MemoryStore,
}

impl Fake {
    fn store(&self) -> FakeStore {
        FakeStore { fake: self.clone(), inner: MemoryStore::new() }
    }

    fn broker(&self, announcers: Vec<Arc<dyn Announcer>>) -> ApprovalBroker {
        let store = self.store();
        let settings = BrokerSettings {
            max_pending: 10,
            max_pending_per_session: 10,
            max_pending_per_caller: 10,
            available: ApprovalChannel::ALL.to_vec(),
            announcers,
        };
        ApprovalBroker::start(move || Ok(Box::new(store) as Box<dyn ApprovalStore>), settings).unwrap().0
    }

    /// The threads the store ran on so far (and forgets them).
    fn seen(&self) -> Vec<String> {
        std::mem::take(&mut *self.threads.lock().unwrap())
    }
}

impl FakeStore {
    fn note(&self) {
        let name = std::thread::current().name().unwrap_or("(unnamed)").to_string();
        self.fake.threads.lock().unwrap().push(name);
    }
}

impl ApprovalStore for FakeStore {
    fn insert_pending(&mut self, request: &ApprovalRequest) -> Result<(), StoreError> {
        self.note();
        self.fake.writes.pass();
        self.inner.insert_pending(request)
    }

    fn decide(
        &mut self,
        id: &str,
        outcome: &Outcome,
        grant: Option<&Grant>,
        now: std::time::SystemTime,
    ) -> Result<bool, StoreError> {
        self.note();
        self.fake.writes.pass();
        if self.fake.fail_decisions.load(Ordering::SeqCst) {
            return Err(StoreError("disk full".into()));
        }
        self.inner.decide(id, outcome, grant, now)
    }

    fn live_grants(&mut self, now: std::time::SystemTime) -> Result<Vec<Grant>, StoreError> {
        self.note();
        self.inner.live_grants(now)
    }

    fn deny_abandoned(
        &mut self,
        reason: &str,
        now: std::time::SystemTime,
    ) -> Result<Vec<(String, CallBinding)>, StoreError> {
        self.note();
        self.inner.deny_abandoned(reason, now)
    }

    fn recent(&mut self, limit: usize) -> Result<Vec<StoredRequest>, StoreError> {
        self.note();
        self.inner.recent(limit)
    }

    fn status(&mut self, id: &str) -> Result<Option<String>, StoreError> {
        self.note();
        self.inner.status(id)
    }
}

/// Lets queued work reach the store thread, then waits until `done` holds.
async fn until(mut done: impl FnMut() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the store thread never got there");
}

#[tokio::test]
async fn every_ending_reaches_every_announcer_that_announced_the_request() {
    let (webhook, chat) = (Listener::new(ApprovalChannel::Webhook), Listener::new(ApprovalChannel::Console));
    let broker = Fake::default().broker(vec![webhook.clone(), chat.clone()]);
    let both = [ApprovalChannel::Webhook, ApprovalChannel::Console];
    let (a, _rx) = broker.hold(binding("d1"), None, &both, true, MINUTE).await.unwrap();
    let (b, _rx) = broker.hold(binding("d2"), None, &[ApprovalChannel::Console], true, MINUTE).await.unwrap();
    assert_eq!(webhook.announced(), vec![a.id.clone()]);
    assert_eq!(chat.announced(), vec![a.id.clone(), b.id.clone()]);
    // Answered through one channel, told to both; ended by the gateway, told to its one.
    broker.answer(&a.id, approve(GrantScope::Once), ApprovalChannel::Console).await.unwrap();
    assert!(broker.end(&b.id, "timeout", "nobody answered in time").await);
    assert_eq!(webhook.ended_ids(), vec![(a.id.clone(), "approved".into())]);
    assert_eq!(chat.ended_ids(), vec![(a.id.clone(), "approved".into()), (b.id.clone(), "timeout".into())]);
    assert_eq!(webhook.endings()[0].channel, Some(ApprovalChannel::Console), "names the channel that answered");
}

#[tokio::test]
async fn an_approval_the_store_cannot_record_denies_the_call() {
    let fake = Fake::default();
    let watcher = Listener::new(ApprovalChannel::Api);
    let broker = fake.broker(vec![watcher.clone()]);
    let (a, mut heard) = broker.hold(binding("d1"), None, &ApprovalChannel::ALL, true, MINUTE).await.unwrap();
    fake.fail_decisions.store(true, Ordering::SeqCst);
    let answered = broker.answer(&a.id, approve(GrantScope::Session), ApprovalChannel::Api).await;
    assert!(matches!(answered, Err(AnswerError::Store(_))), "{answered:?}");
    let (answer, channel) = heard.try_recv().expect("the held call hears at once");
    let Answer::Denied { approver, reason } = answer else { panic!("released: {answer:?}") };
    assert_eq!((approver.as_str(), channel), ("mcp-warden", None));
    assert!(reason.contains("could not be recorded") && reason.contains("disk full"), "{reason}");
    assert!(broker.covering_grant(&binding("d1")).is_none(), "an unrecorded approval grants nothing");
    assert!(broker.pending().is_empty());
    assert_eq!(watcher.ended_ids(), vec![(a.id.clone(), "denied".into())]);
}

#[tokio::test]
async fn of_two_racing_answers_the_store_lets_exactly_one_win() {
    let fake = Fake::default();
    let broker = fake.broker(Vec::new());
    let (a, mut heard) = broker.hold(binding("d1"), None, &ApprovalChannel::ALL, true, MINUTE).await.unwrap();
    // Both answers pass the broker's checks while the store is held shut,
    // so only the store's compare-and-set can tell them apart.
    fake.writes.set(true);
    let deny = Answer::Denied { approver: "bob".into(), reason: "no".into() };
    let (first, second, ()) = tokio::join!(
        broker.answer(&a.id, approve(GrantScope::Session), ApprovalChannel::Api),
        broker.answer(&a.id, deny, ApprovalChannel::Cli),
        async { fake.writes.set(false) },
    );
    assert!(first.is_ok(), "{first:?}");
    assert!(matches!(second, Err(AnswerError::NotFound(_))), "{second:?}");
    assert_eq!(heard.try_recv().unwrap(), (approve(GrantScope::Session), Some(ApprovalChannel::Api)));
    assert_eq!(broker.stored_status(&a.id).await.unwrap().as_deref(), Some("approved"));
}

#[tokio::test]
async fn an_answer_racing_the_timeout_either_wins_whole_or_loses_whole() {
    let fake = Fake::default();
    let broker = fake.broker(Vec::new());
    // The answer is queued first: it wins, and the timeout learns it lost.
    let (a, mut heard) = broker.hold(binding("d1"), None, &ApprovalChannel::ALL, true, MINUTE).await.unwrap();
    fake.writes.set(true);
    let (answered, timed_out, ()) = tokio::join!(
        broker.answer(&a.id, approve(GrantScope::Once), ApprovalChannel::Api),
        broker.end(&a.id, "timeout", "nobody answered in time"),
        async { fake.writes.set(false) },
    );
    assert!(answered.is_ok() && !timed_out, "{answered:?} {timed_out}");
    assert_eq!(heard.try_recv().unwrap(), (approve(GrantScope::Once), Some(ApprovalChannel::Api)));
    // The timeout is queued first: it wins, and the answer finds nothing.
    let (b, mut heard) = broker.hold(binding("d2"), None, &ApprovalChannel::ALL, true, MINUTE).await.unwrap();
    fake.writes.set(true);
    let (timed_out, answered, ()) = tokio::join!(
        broker.end(&b.id, "timeout", "nobody answered in time"),
        broker.answer(&b.id, approve(GrantScope::Session), ApprovalChannel::Api),
        async { fake.writes.set(false) },
    );
    assert!(timed_out && matches!(answered, Err(AnswerError::NotFound(_))), "{timed_out} {answered:?}");
    assert!(heard.try_recv().is_err(), "no answer reaches a call that timed out");
    assert!(broker.covering_grant(&binding("d2")).is_none());
    assert_eq!(broker.stored_status(&b.id).await.unwrap().as_deref(), Some("timeout"));
}

#[tokio::test]
async fn an_answer_whose_sender_hung_up_still_reaches_the_held_call() {
    let fake = Fake::default();
    let broker = fake.broker(Vec::new());
    let (a, mut heard) = broker.hold(binding("d1"), None, &ApprovalChannel::ALL, true, MINUTE).await.unwrap();
    fake.writes.set(true);
    // The HTTP request carrying the answer is dropped while the store writes.
    let answering = broker.answer(&a.id, approve(GrantScope::Once), ApprovalChannel::Api);
    assert!(tokio::time::timeout(Duration::from_millis(20), answering).await.is_err());
    fake.writes.set(false);
    let answer = tokio::time::timeout(Duration::from_secs(5), &mut heard).await.expect("woken").unwrap();
    assert_eq!(answer, (approve(GrantScope::Once), Some(ApprovalChannel::Api)));
}

#[tokio::test]
async fn a_hold_abandoned_while_the_store_writes_is_withdrawn_not_left_pending() {
    let fake = Fake::default();
    let broker = fake.broker(Vec::new());
    fake.writes.set(true);
    let holding = broker.hold(binding("d1"), None, &ApprovalChannel::ALL, true, MINUTE);
    assert!(tokio::time::timeout(Duration::from_millis(20), holding).await.is_err());
    fake.writes.set(false);
    let recent = || async { broker.recent(1).await.unwrap() };
    let mut stored = Vec::new();
    for _ in 0..500 {
        stored = recent().await;
        if stored.first().is_some_and(|r| r["status"] == "cancelled") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(stored[0]["status"], "cancelled", "{stored:?}");
    // It no longer counts against the caps either: ten more fit.
    for i in 0..10 {
        broker.hold(binding(&format!("e{i}")), None, &ApprovalChannel::ALL, true, MINUTE).await.unwrap();
    }
}

#[tokio::test]
async fn store_work_never_runs_on_an_async_worker() {
    let fake = Fake::default();
    let watcher = Listener::new(ApprovalChannel::Api);
    let broker = fake.broker(vec![watcher.clone()]);
    let start_up = fake.seen();
    assert_eq!(start_up.len(), 2, "denies what was left pending, loads grants: {start_up:?}");
    let (a, _rx) = broker.hold(binding("d1"), None, &ApprovalChannel::ALL, true, MINUTE).await.unwrap();
    let (b, _rx) = broker.hold(binding("d2"), None, &ApprovalChannel::ALL, true, MINUTE).await.unwrap();
    broker.answer(&a.id, approve(GrantScope::Once), ApprovalChannel::Api).await.unwrap();
    assert!(broker.end(&b.id, "cancelled", "the client went away").await);
    broker.recent(10).await.unwrap();
    let (c, _rx) = broker.hold(binding("d3"), None, &ApprovalChannel::ALL, true, MINUTE).await.unwrap();
    broker.end_later(&c.id, "cancelled", "the client went away", |_| {});
    until(|| watcher.endings().len() == 3).await;
    let calls = [start_up, fake.seen()].concat();
    assert_eq!(calls.len(), 2 + 7, "{calls:?}");
    assert!(calls.iter().all(|name| name == THREAD_NAME), "store calls ran on {calls:?}");
    assert_ne!(std::thread::current().name(), Some(THREAD_NAME));
}

#[test]
fn a_sqlite_answer_that_lost_leaves_no_grant_behind() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(&dir.path().join("approvals.sqlite")).unwrap();
    let now = std::time::SystemTime::now();
    let request = fixtures::request("apr_1", ApprovalChannel::Api, json!({}), now, MINUTE);
    store.insert_pending(&request).unwrap();
    let approved = |who: &str| Outcome {
        status: "approved".into(),
        approver: who.into(),
        reason: "ok".into(),
        scope: Some("1h".into()),
        any_args: false,
    };
    let grant = |who: &str| {
        let scope = GrantScope::For(Duration::from_secs(3600));
        Grant::widen("apr_1", &request.binding, scope, false, who, "ok", now).unwrap()
    };
    assert!(store.decide("apr_1", &approved("alice"), Some(&grant("alice")), now).unwrap());
    assert!(!store.decide("apr_1", &approved("mallory"), Some(&grant("mallory")), now).unwrap());
    let end = Outcome::by_gateway("timeout", "late");
    assert!(!store.decide("apr_1", &end, None, now).unwrap(), "the timeout lost too");
    let grants = store.live_grants(now).unwrap();
    assert_eq!(grants.iter().map(|g| g.approver.as_str()).collect::<Vec<_>>(), vec!["alice"]);
    let recent = store.recent(1).unwrap();
    assert_eq!((recent[0].status.as_str(), recent[0].approver.as_deref()), ("approved", Some("alice")));
    assert!(!store.decide("apr_unknown", &end, None, now).unwrap(), "never held, never decided");
}

#[tokio::test]
async fn an_authenticated_caller_is_capped_across_its_sessions_and_local_sessions_each_on_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = ApprovalConfig { max_pending_per_session: 5, max_pending_per_caller: 2, ..config(dir.path(), 100) };
    let (broker, _) = open(&cfg, ApprovalChannel::ALL.to_vec());
    let alice = |session: &str, digest: &str| CallBinding {
        session: session.into(),
        caller: "https://idp.example|alice".into(),
        caller_authenticated: true,
        ..binding(digest)
    };
    let _a = broker.hold(alice("s1", "d1"), None, &ApprovalChannel::ALL, true, MINUTE).await.unwrap();
    let _b = broker.hold(alice("s2", "d2"), None, &ApprovalChannel::ALL, true, MINUTE).await.unwrap();
    let third = broker.hold(alice("s3", "d3"), None, &ApprovalChannel::ALL, true, MINUTE).await;
    assert!(
        matches!(third, Err(HoldError::TooManyForCaller(2))),
        "a new session does not reset a caller's cap: {third:?}"
    );
    // Unauthenticated sessions are all "local": each is capped on its own, never by the others.
    let mut held = Vec::new();
    for session in ["l1", "l2", "l3"] {
        for n in 0..3 {
            let local = CallBinding { session: session.into(), ..binding(&format!("{session}-{n}")) };
            held.push(broker.hold(local, None, &ApprovalChannel::ALL, true, MINUTE).await.expect("held"));
        }
    }
}
