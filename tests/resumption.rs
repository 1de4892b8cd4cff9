//! A client whose stream drops mid-call takes it up again with GET and
//! `Last-Event-ID` (MCP Streamable HTTP, "Resumability and Redelivery"):
//! it gets what it missed of that stream, then the result, once. Hanging up
//! is not a cancellation: the upstream call runs on meanwhile.

mod common;

use common::peers::{everything_upstream, node22, peer_file, peer_script};
use common::raw::{RawSession, Sse, SseNext};
use common::*;
use serde_json::{json, Value};
use std::time::Duration;

const RELAY: &str = "request_timeout = \"30s\"";
const TOOL: &str = "everything__trigger-long-running-operation";
const STEPS: u64 = 4;

fn long_call(id: u64, duration: f64) -> Value {
    json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{
        "name":TOOL,"arguments":{"duration":duration,"steps":STEPS},"_meta":{"progressToken":"tok"}}})
}

async fn gateway() -> TestGateway {
    start_gateway_with_relay(&everything_upstream("everything"), ALLOW_ALL, RELAY).await
}

/// The session's GET with `Last-Event-ID`.
async fn resume(session: &RawSession, last_event_id: &str) -> reqwest::Response {
    session
        .http
        .get(&session.url)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &session.id)
        .header("last-event-id", last_event_id)
        .send()
        .await
        .unwrap()
}

fn progress_of(messages: &[Value]) -> Vec<u64> {
    messages
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .map(|m| m["params"]["progress"].as_u64().unwrap())
        .collect()
}

fn results_of(messages: &[Value], id: u64) -> usize {
    messages.iter().filter(|m| m.get("method").is_none() && m["id"] == id && m["result"].is_object()).count()
}

#[tokio::test]
async fn a_call_whose_stream_drops_gets_the_rest_and_its_result_once_on_resumption() {
    let gw = gateway().await;
    let session = RawSession::open(&gw.url).await;
    let mut stream = Sse::new(session.post(long_call(7, 2.0).to_string()).await);
    let first = stream.message().await;
    assert_eq!(first["params"]["progress"], 1, "{first}");
    let cursor = stream.last_event_id.clone().expect("events carry ids");
    drop(stream);
    // The call goes on without a listener; the rest waits in the buffer.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let resumed = resume(&session, &cursor).await;
    assert_eq!(resumed.status(), 200);
    let (rest, end) = Sse::new(resumed).rest().await;
    assert!(matches!(end, SseNext::End), "the resumed stream ends after the result");
    assert_eq!(progress_of(&rest), [2, 3, 4], "{rest:?}");
    assert_eq!(results_of(&rest, 7), 1, "{rest:?}");
    assert_eq!(rest.last().unwrap()["id"], 7, "the result comes last");
}

#[tokio::test]
async fn a_stream_resumed_while_the_call_still_runs_carries_on_to_the_result() {
    let gw = gateway().await;
    let session = RawSession::open(&gw.url).await;
    let mut stream = Sse::new(session.post(long_call(8, 2.0).to_string()).await);
    stream.message().await;
    let cursor = stream.last_event_id.clone().unwrap();
    drop(stream);
    let (rest, _) = Sse::new(resume(&session, &cursor).await).rest().await;
    assert_eq!(progress_of(&rest), [2, 3, 4], "{rest:?}");
    assert_eq!(results_of(&rest, 8), 1, "{rest:?}");
}

#[tokio::test]
async fn a_stream_dropped_before_its_first_message_resumes_from_its_priming_id() {
    let gw = gateway().await;
    let session = RawSession::open(&gw.url).await;
    let mut response = session.post(long_call(9, 0.4).to_string()).await;
    // The first event names the stream and carries no message.
    let mut first = String::new();
    while !first.contains("\n\n") {
        first.push_str(&String::from_utf8_lossy(&response.chunk().await.unwrap().expect("a priming event")));
    }
    let id = first.lines().find_map(|l| l.strip_prefix("id:")).expect("the priming event has an id").trim().to_string();
    assert!(id.ends_with("-0"), "{first:?}");
    drop(response);
    let (rest, _) = Sse::new(resume(&session, &id).await).rest().await;
    assert_eq!(progress_of(&rest), [1, 2, 3, 4], "{rest:?}");
    assert_eq!(results_of(&rest, 9), 1, "{rest:?}");
}

#[tokio::test]
async fn a_call_whose_progress_comes_before_its_answer_is_streamed_in_order() {
    let gw = gateway().await;
    let session = RawSession::open(&gw.url).await;
    // Progress every 5 ms: the first arrives well before the answer.
    let response = session.post(long_call(11, 0.02).to_string()).await;
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let (messages, end) = Sse::new(response).rest().await;
    assert!(matches!(end, SseNext::End), "the stream ends after the result");
    assert_eq!(progress_of(&messages), [1, 2, 3, 4], "{messages:?}");
    assert_eq!(results_of(&messages, 11), 1, "{messages:?}");
    assert_eq!(messages.last().unwrap()["id"], 11, "the result comes last");
}

#[tokio::test]
async fn resuming_after_the_last_event_gets_nothing_again() {
    let gw = gateway().await;
    let session = RawSession::open(&gw.url).await;
    let mut stream = Sse::new(session.post(long_call(10, 0.1).to_string()).await);
    let mut seen = Vec::new();
    while let SseNext::Message(msg) = stream.next().await {
        seen.push(msg);
    }
    assert_eq!(results_of(&seen, 10), 1);
    let cursor = stream.last_event_id.clone().unwrap();
    let (again, end) = Sse::new(resume(&session, &cursor).await).rest().await;
    assert!(again.is_empty() && matches!(end, SseNext::End), "{again:?}");
}

#[tokio::test]
async fn the_get_stream_replays_what_a_dropped_one_may_have_missed() {
    let gw = gateway().await;
    let session = RawSession::open(&gw.url).await;
    let mut get = session.get_stream().await;
    // server-everything then logs every 5 s on its own: messages that
    // belong to no request, so they ride the GET stream.
    let call = json!({"jsonrpc":"2.0","id":11,"method":"tools/call","params":{
        "name":"everything__toggle-simulated-logging","arguments":{}}});
    let answer = session.json_answer(&call).await;
    assert!(answer["result"].is_object(), "{answer}");
    let logged = get.message().await;
    assert_eq!(logged["method"], "notifications/message", "{logged}");
    let id = get.last_event_id.clone().expect("GET events carry ids");
    assert_eq!(id, "0-1", "the GET stream is stream 0");
    drop(get);
    // A client that never saw it says so with the id before it.
    let mut replayed = Sse::new(resume(&session, "0-0").await);
    assert_eq!(replayed.message().await, logged, "what came after the cursor comes again");
    assert_eq!(replayed.last_event_id.as_deref(), Some("0-1"), "under the same id");
}

#[tokio::test]
async fn last_event_ids_the_session_never_gave_are_refused() {
    let gw = gateway().await;
    let session = RawSession::open(&gw.url).await;
    for (id, status) in [("not-an-id", 400), ("99-1", 400), ("1;2", 400)] {
        assert_eq!(resume(&session, id).await.status(), status, "{id}");
    }
}

#[tokio::test]
async fn the_typescript_sdk_resumes_a_dropped_call_with_its_resumption_token_and_gets_the_result_once() {
    let gw = gateway().await;
    let sdk = peer_file("npm/node_modules/@modelcontextprotocol/sdk", "the MCP TypeScript SDK");
    let out = tokio::process::Command::new(node22())
        .arg(peer_script("resume_call.mjs"))
        .args([gw.url.as_str(), TOOL, "2", &STEPS.to_string()])
        .env("MCP_SDK", sdk)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), out).await.expect("the SDK client finishes").unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let seen: Value = serde_json::from_slice(&out.stdout).expect("the script prints JSON");
    assert!(seen["resumedFrom"].is_string(), "the SDK was given a resumption token: {seen}");
    assert_eq!(seen["firstResults"], 0, "{seen}");
    assert_eq!(seen["resumedResults"], 1, "the result arrives once: {seen}");
    assert!(seen["text"].as_str().unwrap().contains("Long running operation completed"), "{seen}");
    let first: Vec<u64> = serde_json::from_value(seen["firstProgress"].clone()).unwrap();
    let resumed: Vec<u64> = serde_json::from_value(seen["resumedProgress"].clone()).unwrap();
    let all: Vec<u64> = first.iter().chain(&resumed).copied().collect();
    assert_eq!(all, (1..=STEPS).collect::<Vec<_>>(), "every progress once, in order: {seen}");
}
