//! The elicitation approval channel end to end: a real rmcp client calls
//! through the gateway, the gateway asks that client's user with an
//! `elicitation/create` form, and the demo upstream records what it was
//! asked to send, so each test proves whether the held call arrived.

mod common;

use common::approval::*;
use common::client::{connect_as, text_of, TestClient};
use common::*;
use rmcp::model::ElicitationAction;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// `send_message` waits for approval on `channels`; reading back is allowed.
fn policy(channels: &str) -> String {
    mail_policy(&format!("approval = [{channels}]\napproval_timeout = \"20s\"\n"))
}

fn answering(content: Value) -> TestClient {
    TestClient { content: Some(content), ..TestClient::default() }
}

fn without_elicitation() -> TestClient {
    TestClient { elicitation: false, ..TestClient::default() }
}

fn elicited(client: &common::client::Client) -> Vec<String> {
    client.service().elicited.lock().unwrap().clone()
}

#[tokio::test]
async fn approved_in_the_client_the_call_arrives_once_without_any_admin_listener() {
    let root = tempfile::tempdir().unwrap();
    let gw = start_gateway(&stdio_demo("demo", root.path()), &policy("\"elicitation\"")).await;
    assert!(gw.gateway.config.admin.is_none(), "this channel needs nothing but the client");
    let content = json!({"decision": "approve", "reason": "I asked for this"});
    let client = connect_as(&gw.url, answering(content)).await;

    let result = send_in_background(&client, message("bob@example.com", "quarterly numbers")).await.unwrap();
    assert_eq!(text_of(&result.expect("approved in the client")), "sent to bob@example.com");
    assert_eq!(sent(&client).await, "to=bob@example.com cc= body=quarterly numbers", "arrived exactly once");

    let forms = elicited(&client);
    assert_eq!(forms.len(), 1, "{forms:?}");
    for shown in ["Server: demo", "Tool: send_message", "Rule: mail-needs-approval", "\"body\": \"quarterly numbers\""]
    {
        assert!(forms[0].contains(shown), "the form shows what will run; {shown:?} missing from {}", forms[0]);
    }
    let records: Vec<Value> = audit_records(&gw.audit).into_iter().filter(|r| r["tool"] == "send_message").collect();
    let outcomes: Vec<&str> = records.iter().map(|r| r["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["pending", "approved"]);
    let approval = &records[1]["approval"];
    assert_eq!(approval["channel"], "elicitation");
    assert_eq!(approval["approver"], "client:warden-test-client");
    assert_eq!(approval["reason"], "I asked for this");
    assert_eq!(approval["scope"], "once");
}

#[tokio::test]
async fn declined_or_denied_in_the_client_the_call_never_arrives() {
    let s = AdminGateway::start(&policy("\"elicitation\"")).await;
    let decliner =
        connect_as(&s.gw.url, TestClient { answer: ElicitationAction::Decline, ..TestClient::default() }).await;
    let error = rpc_error(send_in_background(&decliner, message("bob@example.com", "a")).await.unwrap());
    assert_eq!(error.code.0 as i64, mcp_warden::errors::code::APPROVAL_DENIED);
    assert!(error.message.contains("declined in the client"), "{}", error.message);

    let denier = connect_as(&s.gw.url, answering(json!({"decision": "deny", "reason": "wrong recipient"}))).await;
    let error = rpc_error(send_in_background(&denier, message("bob@example.com", "b")).await.unwrap());
    assert_eq!(error.code.0 as i64, mcp_warden::errors::code::APPROVAL_DENIED);
    assert!(error.message.contains("client:warden-test-client"), "names who denied: {}", error.message);
    assert!(error.message.contains("wrong recipient"), "{}", error.message);
    assert_eq!(sent(&denier).await, "", "nothing reached the upstream");
    let last = s.audit_for("send_message").pop().unwrap();
    assert_eq!((last["outcome"].as_str(), last["approval"]["channel"].as_str()), (Some("denied"), Some("elicitation")));
}

#[tokio::test]
async fn an_answer_that_decides_nothing_denies_when_no_other_channel_can_answer() {
    let s = AdminGateway::start(&policy("\"elicitation\"")).await;
    // The default test client answers every form with {"confirm": true}.
    let client = connect_as(&s.gw.url, TestClient::default()).await;
    let started = Instant::now();
    let error = rpc_error(send_in_background(&client, message("bob@example.com", "hi")).await.unwrap());
    assert_eq!(error.code.0 as i64, mcp_warden::errors::code::APPROVAL_DENIED);
    assert!(error.message.contains("no decision"), "{}", error.message);
    assert!(started.elapsed() < Duration::from_secs(10), "denied at once, not at the timeout");
    assert_eq!(sent(&client).await, "");
}

#[tokio::test]
async fn a_client_without_elicitation_falls_back_to_the_rules_other_channels() {
    let s = AdminGateway::start(&policy("\"elicitation\", \"api\"")).await;
    let client = connect_as(&s.gw.url, without_elicitation()).await;
    let call = send_in_background(&client, message("bob@example.com", "via the api"));
    let pending = s.wait_pending(1).await;
    assert_eq!(pending[0]["channels"], json!(["api"]), "elicitation is not offered to this client");
    let id = pending[0]["id"].as_str().unwrap();
    assert_eq!(s.answer(id, "approve", json!({"approver": "alice"})).await.status(), 200);
    assert!(call.await.unwrap().is_ok());
    assert_eq!(sent(&client).await, "to=bob@example.com cc= body=via the api");
    assert!(elicited(&client).is_empty());
}

#[tokio::test]
async fn a_rule_that_only_elicits_denies_a_client_that_cannot_show_forms() {
    let s = AdminGateway::start(&policy("\"elicitation\"")).await;
    let client = connect_as(&s.gw.url, without_elicitation()).await;
    let error = rpc_error(send_in_background(&client, message("bob@example.com", "hi")).await.unwrap());
    assert_eq!(error.code.0 as i64, mcp_warden::errors::code::APPROVAL_DENIED);
    assert!(error.message.contains("elicitation capability"), "says why: {}", error.message);
    assert!(s.pending().await.is_empty(), "nothing waits on a channel nobody can answer");
    assert_eq!(sent(&client).await, "");
    assert_eq!(s.audit_for("send_message").pop().unwrap()["outcome"], "denied");
}

#[tokio::test]
async fn answered_elsewhere_the_form_is_withdrawn_from_the_client() {
    let s = AdminGateway::start(&policy("\"elicitation\", \"console\", \"api\"")).await;
    let client = connect_as(&s.gw.url, TestClient { hold_forms: true, ..TestClient::default() }).await;
    let call = send_in_background(&client, message("bob@example.com", "from the console"));
    let pending = s.wait_pending(1).await;
    assert_eq!(pending[0]["channels"], json!(["elicitation", "console", "api"]));
    let id = pending[0]["id"].as_str().unwrap();
    for _ in 0..100 {
        if !elicited(&client).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(elicited(&client).len(), 1, "the form was shown while the call waits");
    assert_eq!(s.answer(id, "approve", json!({"approver": "alice"})).await.status(), 200);
    assert!(call.await.unwrap().is_ok());
    assert_eq!(sent(&client).await, "to=bob@example.com cc= body=from the console");
    for _ in 0..100 {
        if *client.service().withdrawn.lock().unwrap() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(*client.service().withdrawn.lock().unwrap(), 1, "the unanswered form was cancelled");
    let last = s.audit_for("send_message").pop().unwrap();
    assert_eq!(
        (last["approval"]["channel"].as_str(), last["approval"]["approver"].as_str()),
        (Some("api"), Some("alice"))
    );
}

#[tokio::test]
async fn approved_for_the_session_in_the_client_covers_only_identical_calls() {
    let s = AdminGateway::start(&policy("\"elicitation\"")).await;
    let client = connect_as(&s.gw.url, answering(json!({"decision": "approve", "session": true}))).await;
    for _ in 0..2 {
        assert!(send_in_background(&client, message("bob@example.com", "same")).await.unwrap().is_ok());
    }
    assert_eq!(elicited(&client).len(), 1, "the second identical call rode on the session grant");
    assert!(send_in_background(&client, message("bob@example.com", "different")).await.unwrap().is_ok());
    assert_eq!(elicited(&client).len(), 2, "different arguments are asked about again");

    let other = connect_as(&s.gw.url, answering(json!({"decision": "deny"}))).await;
    let refused = send_in_background(&other, message("bob@example.com", "same")).await.unwrap();
    assert_eq!(
        rpc_error(refused).code.0 as i64,
        mcp_warden::errors::code::APPROVAL_DENIED,
        "another session asks anew"
    );
    let scopes: Vec<Value> = s.audit_for("send_message").iter().map(|r| r["approval"]["scope"].clone()).collect();
    assert!(scopes.contains(&json!("grant:session")), "{scopes:?}");
}
