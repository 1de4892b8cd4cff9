//! The approvals web console (`/admin`) in a real browser: a real client's
//! call is held, headless Chromium (Debian's, driven by playwright-core from
//! `scripts/install-test-peers.sh`) logs in with the admin token, reads the
//! call and approves or denies it, and the call arrives once or fails.
//!
//! Needs `chromium` (`apt-get install chromium`) and
//! `scripts/install-test-peers.sh`; without them these tests fail, they never
//! skip.

mod common;

use common::approval::*;
use common::browser::run_browser_script;
use common::client::{connect, text_of};
use rmcp::ServiceError;
use serde_json::{json, Value};
use std::time::Duration;

/// A secret-looking argument value: the console must show it masked.
const SECRET: &str = "sk-live-4f9a8b7c6d5e4f3a2b1c";

static POLICY: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| mail_policy("approval = [\"console\"]\napproval_timeout = \"60s\"\n"));

/// Runs tests/browser/console.mjs and fails the test with its output unless it exits 0.
async fn drive_console(s: &AdminGateway, action: &str, env: &[(&str, &str)]) {
    run_browser_script("console.mjs", &[&s.console, TOKEN, action], env).await;
}

fn held_args() -> Value {
    json!({"to": "bob@example.com", "body": SECRET})
}

fn browser_env<'a>(reason: &'a str, screenshot: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut env = vec![("EXPECT_TEXT", "bob@example.com"), ("FORBID_TEXT", SECRET), ("REASON", reason)];
    if !screenshot.is_empty() {
        env.push(("SCREENSHOT", screenshot));
    }
    env
}

#[tokio::test]
async fn call_approved_in_the_browser_console_arrives_exactly_once() {
    let s = AdminGateway::start(&POLICY).await;
    let client = connect(&s.gw.url).await;
    let held = send_in_background(&client, held_args());
    let id = s.wait_pending(1).await[0]["id"].as_str().unwrap().to_string();
    assert_eq!(sent(&client).await, "", "nothing arrives while the call is held");

    let screenshot = std::env::var("CONSOLE_SCREENSHOT").unwrap_or_default();
    drive_console(&s, "approve", &browser_env("release notes look fine", &screenshot)).await;

    let result = tokio::time::timeout(Duration::from_secs(20), held).await.unwrap().unwrap();
    assert_eq!(text_of(&result.expect("the approved call succeeds")), "sent to bob@example.com");
    assert_eq!(sent(&client).await, format!("to=bob@example.com cc= body={SECRET}"), "arrived exactly once");
    let last = s.audit_for("send_message").pop().unwrap();
    assert_eq!(last["outcome"], "approved");
    assert_eq!(last["approval"]["request"], id.as_str());
    assert_eq!(last["approval"]["approver"], "console:erin");
    assert_eq!(last["approval"]["channel"], "console");
    assert_eq!(last["approval"]["reason"], "release notes look fine");
    assert_eq!(last["approval"]["scope"], "once");
}

#[tokio::test]
async fn call_denied_in_the_browser_console_never_arrives_and_names_the_reason() {
    let s = AdminGateway::start(&POLICY).await;
    let client = connect(&s.gw.url).await;
    let held = send_in_background(&client, held_args());
    s.wait_pending(1).await;

    drive_console(&s, "deny", &browser_env("no secrets by mail", "")).await;

    let result = tokio::time::timeout(Duration::from_secs(20), held).await.unwrap().unwrap();
    let error = match result {
        Err(ServiceError::McpError(e)) => e,
        other => panic!("expected a JSON-RPC error, got {other:?}"),
    };
    assert_eq!(error.code.0 as i64, mcp_warden::errors::code::APPROVAL_DENIED);
    assert!(error.message.contains("no secrets by mail"), "{}", error.message);
    assert!(error.message.contains("console:erin"), "{}", error.message);
    assert_eq!(sent(&client).await, "");
    let last = s.audit_for("send_message").pop().unwrap();
    assert_eq!(last["outcome"], "denied");
    assert_eq!(last["approval"]["approver"], "console:erin");
    assert_eq!(last["approval"]["channel"], "console");
    assert_eq!(last["approval"]["reason"], "no secrets by mail");
}

#[tokio::test]
async fn console_without_the_token_shows_no_data() {
    let s = AdminGateway::start(&POLICY).await;
    let client = connect(&s.gw.url).await;
    let held = send_in_background(&client, held_args());
    let id = s.wait_pending(1).await[0]["id"].as_str().unwrap().to_string();

    // The shell is served without the token, holds no data and locks itself down.
    let page = s.http.get(&s.console).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{csp}");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    let html = page.text().await.unwrap();
    assert!(!html.contains(&id) && !html.contains("bob@example.com") && !html.contains("<script>"), "{html}");
    let script = s.http.get(format!("{}/console.js", s.console)).send().await.unwrap();
    assert_eq!(script.status(), 200);
    assert!(script.headers()["content-type"].to_str().unwrap().starts_with("text/javascript"));

    // Every data path refuses a request without the token.
    for path in ["/api/approvals", "/api/decisions", "/api/nothing-here"] {
        let response = s.http.get(format!("{}{path}", s.console)).send().await.unwrap();
        assert_eq!(response.status(), 401, "{path}");
    }
    let approve = s.http.post(format!("{}/api/approvals/{id}/approve", s.console)).json(&json!({})).send().await;
    assert_eq!(approve.unwrap().status(), 401);

    // In the browser: no data before logging in, and a wrong token stays out.
    drive_console(&s, "anonymous", &[("FORBID_TEXT", "bob@example.com")]).await;
    assert_eq!(s.wait_pending(1).await[0]["id"], id.as_str(), "still held");
    held.abort();
    let _ = client.cancel().await;
}

#[tokio::test]
async fn a_rule_limited_to_the_console_refuses_answers_from_the_api() {
    // The channel check is the broker's; the console says it is the console.
    let s = AdminGateway::start(&POLICY).await;
    let client = connect(&s.gw.url).await;
    let held = send_in_background(&client, held_args());
    let id = s.wait_pending(1).await[0]["id"].as_str().unwrap().to_string();
    let answer = |body: Value| {
        s.http.post(format!("{}/api/approvals/{id}/deny", s.console)).bearer_auth(TOKEN).json(&body).send()
    };
    assert_eq!(answer(json!({"reason": "via api"})).await.unwrap().status(), 403);
    let no_reason = answer(json!({"channel": "console"})).await.unwrap();
    assert_eq!(no_reason.status(), 400, "a console denial needs a reason");
    let ok = answer(json!({"channel": "console", "reason": "nope"})).await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.json::<Value>().await.unwrap()["approver"], "console");
    assert!(held.await.unwrap().is_err());
    assert_eq!(sent(&client).await, "");
}
