//! Upstreams that misbehave, and clients that do: each failure ends in a
//! precise error for the affected request only, and the gateway carries on.

mod common;

use common::client::{call, call_text, connect, mcp_error};
use common::raw::{self, RawSession, JSON_ONLY, LATEST, SSE_OR_JSON};
use common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

async fn hostile_gateway() -> (TestGateway, std::path::PathBuf) {
    let logdir = tempfile::tempdir().unwrap().keep();
    let log = logdir.join("notifications.log");
    (start_gateway(&stdio_hostile("bad", &log), ALLOW_ALL).await, log)
}

#[tokio::test]
async fn fields_no_sdk_knows_survive_in_both_directions() {
    let (gw, _) = hostile_gateway().await;
    let session = RawSession::open(&gw.url).await;
    let list = session.json_answer(&json!({"jsonrpc":"2.0","id":1,"method":"tools/list"})).await;
    let echo = list["result"]["tools"].as_array().unwrap().iter().find(|t| t["name"] == "bad__echo").unwrap().clone();
    assert_eq!(echo["execution"], json!({"taskSupport": "optional"}));
    assert_eq!(echo["x-vendor"]["risk"], "high");
    let call =
        json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"bad__echo","arguments":{"text":"t"}}});
    let answer = session.json_answer(&call).await;
    assert_eq!(answer["result"]["x-extra"], json!({"kept": true}));
}

#[tokio::test]
async fn invalid_json_from_the_upstream_fails_the_call_at_once() {
    let (gw, _) = hostile_gateway().await;
    let client = connect(&gw.url).await;
    let started = Instant::now();
    let err = mcp_error(client.call_tool(call("bad__garbage", json!({}))).await.unwrap_err());
    assert_eq!(err.code.0, -32011);
    assert!(err.message.contains("invalid JSON"), "{}", err.message);
    assert!(started.elapsed() < Duration::from_secs(3), "failed at once, not at the 5s timeout");
    assert_eq!(call_text(&client, "bad__echo", json!({"text": "fine"})).await, "fine");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn a_50_mb_line_is_discarded_with_an_error() {
    let (gw, _) = hostile_gateway().await;
    let client = connect(&gw.url).await;
    let err = mcp_error(client.call_tool(call("bad__huge", json!({"mb": 50}))).await.unwrap_err());
    assert_eq!(err.code.0, -32011);
    assert!(err.message.contains("larger than"), "{}", err.message);
    assert_eq!(call_text(&client, "bad__echo", json!({"text": "after"})).await, "after");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn an_upstream_that_closes_stdout_is_restarted() {
    let (gw, _) = hostile_gateway().await;
    let client = connect(&gw.url).await;
    let err = mcp_error(client.call_tool(call("bad__close_stdout", json!({}))).await.unwrap_err());
    assert_eq!(err.code.0, -32011);
    assert!(err.message.contains("stdout"), "{}", err.message);
    assert_eq!(call_text(&client, "bad__echo", json!({"text": "restarted"})).await, "restarted");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn a_hanging_upstream_gets_a_timeout_and_a_cancellation() {
    let (gw, log) = hostile_gateway().await;
    let client = connect(&gw.url).await;
    let started = Instant::now();
    let err = mcp_error(client.call_tool(call("bad__hang", json!({}))).await.unwrap_err());
    assert_eq!(err.code.0, -32012);
    assert!(started.elapsed() < Duration::from_secs(8));
    // The cancellation is written to the child after the client has its
    // error; give the child a moment to log it.
    let seen = wait_for_log(&log, "notifications/cancelled").await;
    assert!(seen.contains("notifications/cancelled"), "the upstream was told to stop: {seen:?}");
    client.cancel().await.unwrap();
}

/// The hostile upstream's notification log once it contains `needle` (or
/// after ten seconds: a loaded CI machine compiling beside the test is slow).
async fn wait_for_log(log: &std::path::Path, needle: &str) -> String {
    let mut seen = String::new();
    for _ in 0..333 {
        seen = std::fs::read_to_string(log).unwrap_or_default();
        if seen.contains(needle) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    seen
}

/// A dropped stream is not a cancellation (the client may resume it with
/// `Last-Event-ID`); the end of the session is, since nobody can take the
/// answer after it.
#[tokio::test]
async fn a_dropped_stream_leaves_the_call_running_and_ending_the_session_cancels_it() {
    let (gw, log) = hostile_gateway().await;
    let session = RawSession::open(&gw.url).await;
    let call = json!({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"bad__hang","arguments":{}}});
    let pending = session.request(SSE_OR_JSON, call.to_string()).send();
    // The response headers arrive at once (SSE); dropping it hangs up.
    let resp = tokio::time::timeout(Duration::from_secs(3), pending).await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(resp);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let seen = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!seen.contains("notifications/cancelled"), "hanging up cancelled the call: {seen:?}");
    assert_eq!(session.delete().await.status(), 200);
    let seen = wait_for_log(&log, "notifications/cancelled").await;
    assert!(seen.contains("notifications/cancelled"), "{seen:?}");
    assert!(seen.contains("the client session ended"), "{seen:?}");
}

#[tokio::test]
async fn a_crash_affects_only_the_session_that_owns_the_upstream() {
    let (gw, _) = hostile_gateway().await;
    let (a, b) = (connect(&gw.url).await, connect(&gw.url).await);
    assert_eq!(call_text(&b, "bad__echo", json!({"text": "b1"})).await, "b1");
    let err = mcp_error(a.call_tool(call("bad__crash", json!({}))).await.unwrap_err());
    assert_eq!(err.code.0, -32011);
    // Session b has its own upstream process and never noticed.
    assert_eq!(call_text(&b, "bad__echo", json!({"text": "b2"})).await, "b2");
    a.cancel().await.unwrap();
    b.cancel().await.unwrap();
}

#[tokio::test]
async fn an_oversized_batch_gets_one_precise_error() {
    let (gw, _) = hostile_gateway().await;
    let session = RawSession::open(&gw.url).await;
    let batch: Vec<Value> = (0..10_000).map(|i| json!({"jsonrpc":"2.0","id":i,"method":"ping"})).collect();
    let resp = session.request(JSON_ONLY, Value::Array(batch).to_string()).send().await.unwrap();
    // 10,000 pings are ~400 KB: over this test's 64 KiB body cap. Either way
    // the client hears why, and the session goes on.
    assert!(resp.status() == 413 || resp.status() == 400, "{}", resp.status());
    let small: Vec<Value> = (0..1001).map(|i| json!({"jsonrpc":"2.0","id":i,"method":"ping"})).collect();
    let body = Value::Array(small).to_string();
    assert!(body.len() < 65536);
    let answer = session.json_answer(&serde_json::from_str(&body).unwrap()).await;
    assert_eq!(answer["error"]["code"], -32600);
    assert!(answer["error"]["message"].as_str().unwrap().contains("1 to 1000"), "{answer}");
    let ping = session.json_answer(&json!({"jsonrpc":"2.0","id":1,"method":"ping"})).await;
    assert_eq!(ping["result"], json!({}));
}

#[tokio::test]
async fn a_thousand_concurrent_sessions_all_get_answers() {
    let root = tempfile::tempdir().unwrap();
    let demo = HttpDemo::start("remote", root.path()).await;
    // Each session gets its own upstream session: 1,000 handshakes at once on
    // a debug build, so the limit here is generous, and so is the cap on
    // upstream sessions; what matters is that every session is answered.
    let relay = "request_timeout = \"60s\"\nmax_upstream_sessions = 1000";
    let gw = start_gateway_with_relay(&http_upstream("remote", &demo.url), DEMO_POLICY, relay).await;
    let client = reqwest::Client::new();
    let started = Instant::now();
    let runs = (0..1000).map(|i| {
        let (client, url) = (client.clone(), gw.url.clone());
        async move {
            // Not a RawSession each: its asserts would stop the test at the
            // first failure, where this one counts how many of the 1000 failed.
            let init = raw::initialize(LATEST).to_string();
            let resp = raw::request(&client, &url, None, JSON_ONLY, init).send().await.map_err(|e| e.to_string())?;
            let session = resp.headers()["mcp-session-id"].to_str().unwrap().to_string();
            let call = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"remote__echo","arguments":{"text":format!("s{i}")}}});
            let answer = raw::request(&client, &url, Some(&session), JSON_ONLY, call.to_string());
            let answer: Value = answer.send().await.unwrap().json().await.unwrap();
            match answer["result"]["content"][0]["text"].as_str() {
                Some(text) if text == format!("s{i}") => Ok(()),
                _ => Err(answer.to_string()),
            }
        }
    });
    let results = futures::future::join_all(runs).await;
    let failures: Vec<_> = results.into_iter().filter_map(Result::err).collect();
    assert!(failures.is_empty(), "{} of 1000 failed, first: {:?}", failures.len(), failures.first());
    eprintln!("1000 sessions answered in {:?}", started.elapsed());
    demo.stop().await;
}
