//! Human approval end to end: a real client calls through the gateway to
//! the demo upstream, which records every message it is asked to send, so
//! each test can prove whether a held call reached it, and how often.

mod common;

use common::approval::*;
use common::binary::ServedGateway;
use common::client::{call_text, connect, text_of};
use common::raw::{self, RawSession};
use common::*;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

static POLICY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| mail_policy(""));

#[tokio::test]
async fn call_approved_through_the_api_arrives_exactly_once_and_progress_keeps_the_client_waiting() {
    let s = AdminGateway::start(&POLICY).await;
    let client = connect(&s.gw.url).await;
    let call = send_in_background(&client, message("bob@example.com", "quarterly numbers"));
    let pending = s.wait_pending(1).await;
    let request = &pending[0];
    assert_eq!(request["server"], "demo");
    assert_eq!(request["tool"], "send_message");
    assert_eq!(request["arguments"], message("bob@example.com", "quarterly numbers"));
    assert_eq!(request["client"]["name"], "warden-test-client");
    assert!(request["requested_at"].is_string() && request["expires_at"].is_string(), "{request}");
    assert_eq!(sent(&client).await, "", "nothing reaches the upstream while the call is held");

    tokio::time::sleep(Duration::from_millis(400)).await;
    let id = request["id"].as_str().unwrap();
    let answer =
        s.answer(id, "approve", json!({"scope": "once", "reason": "expected report", "approver": "alice"})).await;
    assert_eq!(answer.status(), 200);
    let result = call.await.unwrap().expect("the approved call succeeds");
    assert_eq!(text_of(&result), "sent to bob@example.com");
    assert_eq!(sent(&client).await, "to=bob@example.com cc= body=quarterly numbers", "arrived exactly once");

    let progress = client.service().progress.lock().unwrap().clone();
    assert!(progress.len() >= 2, "progress while waiting: {progress:?}");
    assert!(progress.iter().all(|p| p.message.as_deref().unwrap_or_default().contains("waiting for approval")));

    let records = s.audit_for("send_message");
    let outcomes: Vec<&str> = records.iter().map(|r| r["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["pending", "approved"]);
    assert!(records.iter().all(|r| r["verdict"] == "approve" && r["approval"]["request"] == id));
    assert_eq!(records[1]["approval"]["approver"], "alice");
    assert_eq!(records[1]["approval"]["reason"], "expected report");
    assert_eq!(records[1]["approval"]["scope"], "once");
    assert_eq!(records[1]["approval"]["channel"], "api");
    assert!(records[0]["approval"].get("channel").is_none(), "a pending call has no answer yet");

    // Single use: the same call again waits for a new answer.
    let again = send_in_background(&client, message("bob@example.com", "quarterly numbers"));
    let second = s.wait_pending(1).await;
    assert_ne!(second[0]["id"], request["id"]);
    s.answer(second[0]["id"].as_str().unwrap(), "deny", json!({"reason": "once is enough"})).await;
    let _ = again.await.unwrap();
    assert_eq!(sent(&client).await, "to=bob@example.com cc= body=quarterly numbers");
    // An answered request cannot be answered again.
    assert_eq!(s.answer(id, "approve", json!({})).await.status(), 404);
}

#[tokio::test]
async fn denied_call_never_arrives_and_the_error_names_approver_and_reason() {
    let s = AdminGateway::start(&POLICY).await;
    let client = connect(&s.gw.url).await;
    let call = send_in_background(&client, message("bob@example.com", "wire the money"));
    let id = s.wait_pending(1).await[0]["id"].as_str().unwrap().to_string();
    let answer = s.answer(&id, "deny", json!({"reason": "not without a ticket", "approver": "carol"})).await;
    assert_eq!(answer.status(), 200);
    let error = rpc_error(call.await.unwrap());
    assert_eq!(error.code.0 as i64, mcp_warden::errors::code::APPROVAL_DENIED);
    assert!(error.message.contains("carol") && error.message.contains("not without a ticket"), "{}", error.message);
    assert_eq!(sent(&client).await, "");
    let records = s.audit_for("send_message");
    assert_eq!(records.last().unwrap()["outcome"], "denied");
    assert_eq!(records.last().unwrap()["approval"]["approver"], "carol");
    assert_eq!(records.last().unwrap()["approval"]["reason"], "not without a ticket");
}

#[tokio::test]
async fn unanswered_call_times_out_and_never_arrives() {
    let policy = POLICY.replace("action = \"approve\"", "action = \"approve\"\napproval_timeout = \"1s\"");
    let s = AdminGateway::start(&policy).await;
    let client = connect(&s.gw.url).await;
    let started = std::time::Instant::now();
    let error = rpc_error(send_in_background(&client, message("bob@example.com", "hi")).await.unwrap());
    assert_eq!(error.code.0 as i64, mcp_warden::errors::code::APPROVAL_TIMEOUT);
    assert!(error.message.contains("timed out after 1s"), "{}", error.message);
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert!(s.pending().await.is_empty());
    assert_eq!(sent(&client).await, "");
    let outcomes: Vec<Value> = s.audit_for("send_message").iter().map(|r| r["outcome"].clone()).collect();
    assert_eq!(outcomes, [json!("pending"), json!("timeout")]);
}

#[tokio::test]
async fn approval_for_some_arguments_does_not_let_other_arguments_through() {
    let s = AdminGateway::start(&POLICY).await;
    let client = connect(&s.gw.url).await;
    let first = send_in_background(&client, message("bob@example.com", "lunch?"));
    let id = s.wait_pending(1).await[0]["id"].as_str().unwrap().to_string();
    s.answer(&id, "approve", json!({"scope": "session", "reason": "fine"})).await;
    first.await.unwrap().expect("approved");

    // Same session, same tool, other arguments: held again, never waved through.
    let other = send_in_background(&client, message("bob@example.com", "and send me the payroll file"));
    let held = s.wait_pending(1).await;
    assert_eq!(held[0]["arguments"]["body"], "and send me the payroll file");
    s.answer(held[0]["id"].as_str().unwrap(), "deny", json!({"reason": "no"})).await;
    assert_eq!(rpc_error(other.await.unwrap()).code.0 as i64, mcp_warden::errors::code::APPROVAL_DENIED);
    assert_eq!(sent(&client).await, "to=bob@example.com cc= body=lunch?");
}

#[tokio::test]
async fn session_approval_covers_identical_calls_in_that_session_only() {
    let s = AdminGateway::start(&POLICY).await;
    let client = connect(&s.gw.url).await;
    let first = send_in_background(&client, message("bob@example.com", "standup notes"));
    let id = s.wait_pending(1).await[0]["id"].as_str().unwrap().to_string();
    s.answer(&id, "approve", json!({"scope": "session", "reason": "daily", "approver": "dana"})).await;
    first.await.unwrap().expect("approved");

    // The identical call in the same session goes through without asking.
    let again = call_text(&client, "demo__send_message", message("bob@example.com", "standup notes")).await;
    assert_eq!(again, "sent to bob@example.com");
    assert!(s.pending().await.is_empty());
    let last = s.audit_for("send_message").pop().unwrap();
    assert_eq!((last["outcome"].as_str(), last["approval"]["approver"].as_str()), (Some("approved"), Some("dana")));
    assert_eq!(last["approval"]["request"], id.as_str());

    // Another session must wait for its own answer.
    let other = connect(&s.gw.url).await;
    let theirs = send_in_background(&other, message("bob@example.com", "standup notes"));
    let held = s.wait_pending(1).await;
    assert_ne!(held[0]["session"], Value::Null);
    s.answer(held[0]["id"].as_str().unwrap(), "deny", json!({"reason": "ask again tomorrow"})).await;
    assert!(theirs.await.unwrap().is_err());
    assert_eq!(sent(&other).await, "");
    assert_eq!(sent(&client).await.lines().count(), 2);
}

#[tokio::test]
async fn call_failing_its_argument_constraints_is_denied_without_asking_anyone() {
    let s = AdminGateway::start(&POLICY).await;
    let client = connect(&s.gw.url).await;
    let error = rpc_error(send_in_background(&client, message("attacker@evil.example", "hi")).await.unwrap());
    assert_eq!(error.code.0 as i64, mcp_warden::errors::code::POLICY_DENIED);
    assert!(s.pending().await.is_empty());
    assert_eq!(sent(&client).await, "");
}

#[tokio::test]
async fn client_that_goes_away_withdraws_its_held_call() {
    let s = AdminGateway::start(&POLICY).await;
    let client = connect(&s.gw.url).await;
    let call = send_in_background(&client, message("bob@example.com", "bye"));
    let id = s.wait_pending(1).await[0]["id"].as_str().unwrap().to_string();
    call.abort();
    let _ = client.cancel().await;
    s.wait_pending(0).await;
    assert_eq!(s.answer(&id, "approve", json!({})).await.status(), 404, "nobody can approve a withdrawn call");
    let last = s.last_audit_for("send_message").await;
    assert_eq!(last["outcome"], "cancelled");
}

#[tokio::test]
async fn admin_api_refuses_requests_without_the_right_token() {
    let s = AdminGateway::start(&POLICY).await;
    let url = format!("{}/approvals", s.admin_api);
    let status = |r: reqwest::Response| r.status().as_u16();
    assert_eq!(status(s.http.get(&url).send().await.unwrap()), 401);
    assert_eq!(status(s.http.get(&url).bearer_auth("wrong").send().await.unwrap()), 401);
    assert_eq!(status(s.http.get(&url).bearer_auth(format!("{TOKEN}x")).send().await.unwrap()), 401);
    assert_eq!(status(s.http.get(&url).header("authorization", TOKEN).send().await.unwrap()), 401);
    let approve = format!("{}/approvals/apr_x/approve", s.admin_api);
    assert_eq!(status(s.http.post(&approve).json(&json!({})).send().await.unwrap()), 401);
    assert_eq!(status(s.http.get(&url).bearer_auth(TOKEN).send().await.unwrap()), 200);
    let decisions = s.http.get(format!("{}/decisions?limit=5", s.admin_api)).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(decisions.status(), 200);
}

#[tokio::test]
async fn without_an_admin_listener_an_approve_rule_fails_closed() {
    let root = tempfile::tempdir().unwrap();
    let gw = start_gateway(&stdio_demo("demo", root.path()), &POLICY).await;
    let client = connect(&gw.url).await;
    let error = rpc_error(send_in_background(&client, message("bob@example.com", "hi")).await.unwrap());
    assert_eq!(error.code.0 as i64, mcp_warden::errors::code::APPROVAL_DENIED);
    assert!(error.message.contains("none of this rule's approval channels"), "{}", error.message);
    assert!(error.message.contains("need [admin]"), "says what to configure: {}", error.message);
    assert_eq!(sent(&client).await, "");
}

fn warden(args: &[&str], config: &Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_mcp-warden"))
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap()
}

#[tokio::test]
async fn call_approved_and_denied_through_the_cli() {
    let s = AdminGateway::start(&POLICY).await;
    let client = connect(&s.gw.url).await;
    let config = s.gw.config_path.clone();
    let call = send_in_background(&client, message("bob@example.com", "from the cli"));
    s.wait_pending(1).await;

    let listed = tokio::task::spawn_blocking({
        let config = config.clone();
        move || warden(&["approvals", "list", "--json"], &config)
    })
    .await
    .unwrap();
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
    let list: Vec<Value> = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(list.len(), 1);
    for key in ["id", "server", "tool", "arguments", "requested_at", "expires_at"] {
        assert!(list[0].get(key).is_some(), "{key} missing from {}", list[0]);
    }
    let id = list[0]["id"].as_str().unwrap().to_string();

    let approved = tokio::task::spawn_blocking({
        let (config, id) = (config.clone(), id.clone());
        move || warden(&["approvals", "approve", &id, "--scope", "once", "--reason", "checked by hand"], &config)
    })
    .await
    .unwrap();
    assert!(approved.status.success(), "{}", String::from_utf8_lossy(&approved.stderr));
    call.await.unwrap().expect("approved through the CLI");
    assert_eq!(sent(&client).await, "to=bob@example.com cc= body=from the cli");
    let last = s.audit_for("send_message").pop().unwrap();
    assert!(last["approval"]["approver"].as_str().unwrap().starts_with("cli:"), "{last}");
    assert_eq!(last["approval"]["reason"], "checked by hand");

    let call = send_in_background(&client, message("bob@example.com", "second"));
    let id = s.wait_pending(1).await[0]["id"].as_str().unwrap().to_string();
    let denied =
        tokio::task::spawn_blocking(move || warden(&["approvals", "deny", &id, "--reason", "one is enough"], &config))
            .await
            .unwrap();
    assert!(denied.status.success(), "{}", String::from_utf8_lossy(&denied.stderr));
    let error = rpc_error(call.await.unwrap());
    assert!(error.message.contains("cli:") && error.message.contains("one is enough"), "{}", error.message);
    assert_eq!(sent(&client).await.lines().count(), 1);
}

#[tokio::test]
async fn explain_shows_the_approve_verdict_and_exits_2() {
    let s = AdminGateway::start(&POLICY).await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mcp-warden"))
        .args([
            "explain",
            "--tool",
            "demo__send_message",
            "--args",
            r#"{"to":"bob@example.com","body":"hi"}"#,
            "--config",
        ])
        .arg(&s.gw.config_path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(stdout.contains("verdict:    approve"), "{stdout}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mcp-warden"))
        .args(["explain", "--tool", "demo__send_message", "--args", r#"{"to":"x@evil.example"}"#, "--config"])
        .arg(&s.gw.config_path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "argument constraints come first");
}

#[tokio::test]
async fn restart_denies_and_audits_what_was_pending_and_never_forwards_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &format!("{}{}", stdio_demo("demo", root.path()), admin_section(0)), &POLICY);
    let http = reqwest::Client::new();

    // Both listeners bind port 0 and the process reports them: no port is
    // chosen before it is bound, so no test running alongside can take it.
    let mut gateway = ServedGateway::start(&config).await;
    let admin = gateway.admin_url.clone().expect("the admin listener is reported");
    let client = connect(&gateway.mcp_url).await;
    let call = send_in_background(&client, message("bob@example.com", "before the crash"));
    let mut id = String::new();
    for _ in 0..200 {
        let pending: Vec<Value> =
            http.get(format!("{admin}/approvals")).bearer_auth(TOKEN).send().await.unwrap().json().await.unwrap();
        if let Some(first) = pending.first() {
            id = first["id"].as_str().unwrap().to_string();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!id.is_empty(), "the call was held");
    gateway.child.kill().await.unwrap();
    call.abort();
    drop(client);

    // The restarted gateway listens on new ports; the store is what carries over.
    let restarted = ServedGateway::start(&config).await;
    let (mcp, admin) =
        (restarted.mcp_url.clone(), restarted.admin_url.clone().expect("the admin listener is reported"));
    let pending: Vec<Value> =
        http.get(format!("{admin}/approvals")).bearer_auth(TOKEN).send().await.unwrap().json().await.unwrap();
    assert!(pending.is_empty(), "{pending:?}");
    let late =
        http.post(format!("{admin}/approvals/{id}/approve")).bearer_auth(TOKEN).json(&json!({})).send().await.unwrap();
    assert_eq!(late.status(), 404, "an abandoned call cannot be approved after a restart");
    let decisions: Vec<Value> =
        http.get(format!("{admin}/decisions")).bearer_auth(TOKEN).send().await.unwrap().json().await.unwrap();
    let record = decisions.iter().find(|d| d["id"] == id.as_str()).expect("the request is on record");
    assert_eq!(record["status"], "denied");

    let audit = audit_records(&dir.path().join("audit.jsonl"));
    let about: Vec<&Value> = audit.iter().filter(|r| r["approval"]["request"] == id.as_str()).collect();
    let outcomes: Vec<&str> = about.iter().map(|r| r["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["pending", "denied"]);
    assert!(about[1]["reason"].as_str().unwrap().contains("restarted"));
    let verify = std::process::Command::new(env!("CARGO_BIN_EXE_mcp-warden"))
        .args(["audit", "verify"])
        .arg(dir.path().join("audit.jsonl"))
        .output()
        .unwrap();
    assert!(verify.status.success());

    let client = connect(&mcp).await;
    assert_eq!(sent(&client).await, "", "the held call never reached the restarted upstream");
}

#[tokio::test]
async fn call_cancelled_by_the_client_is_withdrawn_and_never_forwarded() {
    let s = AdminGateway::start(&POLICY).await;
    let session = RawSession::open(&s.gw.url).await;
    let call = json!({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{
        "name":"demo__send_message","arguments":{"to":"bob@example.com","body":"never mind"}}});
    let held = {
        let request = session.request(raw::SSE_OR_JSON, call.to_string());
        tokio::spawn(async move { request.send().await.unwrap().text().await })
    };
    let id = s.wait_pending(1).await[0]["id"].as_str().unwrap().to_string();
    let cancel = json!({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7}});
    session.post(cancel.to_string()).await;
    s.wait_pending(0).await;
    assert_eq!(s.answer(&id, "approve", json!({})).await.status(), 404);
    assert_eq!(s.last_audit_for("send_message").await["outcome"], "cancelled");
    held.abort();
    let list = json!({"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"demo__list_sent_messages","arguments":{}}});
    let listed = session.post(list.to_string()).await.text().await.unwrap();
    assert!(!listed.contains("never mind"), "{listed}");
}

#[tokio::test]
async fn approval_given_after_the_policy_changed_releases_nothing() {
    let s = AdminGateway::start(&POLICY).await;
    let client = connect(&s.gw.url).await;
    let call = send_in_background(&client, message("bob@example.com", "old rules"));
    let id = s.wait_pending(1).await[0]["id"].as_str().unwrap().to_string();
    let policy_file = s.gw.dir.path().join("policy.toml");
    std::fs::write(&policy_file, format!("{}\n# reviewed again\n", *POLICY)).unwrap();
    s.gw.gateway.reload_policy().unwrap();
    s.answer(&id, "approve", json!({"reason": "ok"})).await;
    let error = rpc_error(call.await.unwrap());
    assert_eq!(error.code.0 as i64, mcp_warden::errors::code::APPROVAL_DENIED);
    assert!(error.message.contains("policy changed"), "{}", error.message);
    assert_eq!(sent(&client).await, "");
}

#[tokio::test]
async fn audit_mode_records_the_approve_verdict_without_holding_the_call() {
    let s = AdminGateway::start(&POLICY.replace("mode = \"enforce\"", "mode = \"audit\"")).await;
    let client = connect(&s.gw.url).await;
    assert_eq!(
        call_text(&client, "demo__send_message", message("bob@example.com", "hi")).await,
        "sent to bob@example.com"
    );
    assert!(s.pending().await.is_empty());
    let record = s.audit_for("send_message").pop().unwrap();
    assert_eq!((record["verdict"].as_str(), record["enforced"].as_bool()), (Some("approve"), Some(false)));
    assert_eq!(record["outcome"], "forwarded");
}

#[tokio::test]
async fn a_time_scoped_grant_covers_its_session_only_since_every_local_client_is_the_same_caller() {
    let s = AdminGateway::start(&POLICY).await;
    let client = connect(&s.gw.url).await;
    let first = send_in_background(&client, message("bob@example.com", "status"));
    let id = s.wait_pending(1).await[0]["id"].as_str().unwrap().to_string();
    let answer = s.answer(&id, "approve", json!({"scope": "15m", "any_args": true, "reason": "sprint week"})).await;
    assert_eq!(answer.status(), 200);
    first.await.unwrap().expect("approved");

    // The same session, other arguments: covered for 15 minutes.
    assert_eq!(
        call_text(&client, "demo__send_message", message("carol@example.com", "other")).await,
        "sent to carol@example.com"
    );
    let record = s.audit_for("send_message").pop().unwrap();
    assert_eq!(record["approval"]["scope"], "grant:15m");
    // The rule's constraints still decide: no grant lets a refused call through.
    let refused = rpc_error(send_in_background(&client, message("eve@evil.example", "x")).await.unwrap());
    assert_eq!(refused.code.0 as i64, mcp_warden::errors::code::POLICY_DENIED);

    // A new session that merely claims the same client is not covered: it
    // could be any local process. Its call is held for a person again.
    let later = connect(&s.gw.url).await;
    let held = send_in_background(&later, message("dave@example.com", "hello"));
    let pending = s.wait_pending(1).await;
    assert_eq!(pending[0]["arguments"]["to"], "dave@example.com");
    held.abort();
}

#[tokio::test]
async fn held_calls_beyond_the_cap_are_denied_at_once() {
    let s = AdminGateway::start_with(&POLICY, "max_pending = 1\n").await;
    let client = connect(&s.gw.url).await;
    let first = send_in_background(&client, message("bob@example.com", "one"));
    let id = s.wait_pending(1).await[0]["id"].as_str().unwrap().to_string();
    let error = rpc_error(send_in_background(&client, message("bob@example.com", "two")).await.unwrap());
    assert_eq!(error.code.0 as i64, mcp_warden::errors::code::APPROVAL_DENIED);
    assert!(error.message.contains("too many pending approvals"), "{}", error.message);
    s.answer(&id, "deny", json!({"reason": "tidy up"})).await;
    assert!(first.await.unwrap().is_err());
    assert_eq!(sent(&client).await, "");
}

#[test]
fn an_approval_store_that_cannot_be_opened_stops_the_gateway() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "[approval]\nstore = \"missing/dir/approvals.sqlite\"\n", &POLICY);
    let config = mcp_warden::config::GatewayConfig::load(&config).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let started = runtime.block_on(async { mcp_warden::gateway::Gateway::start(config).map(|_| ()) });
    let error = started.expect_err("the gateway must not start without its approval store");
    assert!(error.to_string().contains("approval store"), "{error}");
}

#[tokio::test]
async fn sessions_that_fill_their_own_queues_cannot_deny_another_clients_held_call() {
    let s = AdminGateway::start_with(&POLICY, "max_pending_per_session = 1\n").await;
    // The flooding clients stay connected: a client that goes away withdraws its calls.
    let (mut flooders, mut held) = (Vec::new(), Vec::new());
    for n in 0..3 {
        let flooder = connect(&s.gw.url).await;
        held.push(send_in_background(&flooder, message("bob@example.com", &format!("flood {n}"))));
        s.wait_pending(n + 1).await;
        // Each flooding session is refused beyond its own cap...
        let error = rpc_error(send_in_background(&flooder, message("bob@example.com", "more")).await.unwrap());
        assert!(error.message.contains("this session already has 1"), "{}", error.message);
        flooders.push(flooder);
    }
    // ...and another client's call is still held for a person, not denied.
    let bystander = connect(&s.gw.url).await;
    let call = send_in_background(&bystander, message("carol@example.com", "quarterly numbers"));
    let pending = s.wait_pending(4).await;
    let id = pending.iter().find(|p| p["arguments"]["to"] == "carol@example.com").expect("held")["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(s.answer(&id, "approve", json!({})).await.status(), 200);
    assert_eq!(text_of(&call.await.unwrap().unwrap()), "sent to carol@example.com");
}
