//! The broker's tests: against the SQLite store where what is on disk
//! matters (restarts), against fakes where the store must fail, stall or
//! say which thread it runs on.

use super::channels::Announcer;
use super::store::{ApprovalStore, Outcome, SqliteStore};
use super::*;
use crate::config::ApprovalConfig;
use grant::Grant;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn config(dir: &std::path::Path, max_pending: usize) -> ApprovalConfig {
    ApprovalConfig {
        store: dir.join("approvals.sqlite"),
        progress_interval: Duration::from_secs(5),
        max_pending,
        max_pending_per_session: max_pending,
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

    fn endings(&self) -> Vec<Ended> {
        self.ended.lock().unwrap().clone()
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
