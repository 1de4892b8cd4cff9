//! Notifications about a request reach that request's stream before its
//! result, in the order the upstream sent them. server-everything's
//! long-running tool sends its last progress notification and its result
//! back to back, which is where a result could overtake the notification
//! and leave it to the GET stream (where the TypeScript SDK reports
//! "progress notification for an unknown token"). Checked on the raw SSE
//! stream, through a stdio and a Streamable HTTP upstream.

mod common;

use common::peers::{everything_upstream, EverythingHttp};
use common::raw::{RawSession, Sse, SseNext};
use common::*;
use futures::StreamExt;
use serde_json::{json, Value};

const CALLS: usize = 50;
const STEPS: u64 = 3;
/// server-everything starts under node; its first answer may take a while.
const RELAY: &str = "request_timeout = \"30s\"";
const TOOL: &str = "everything__trigger-long-running-operation";

fn long_call(id: usize) -> Value {
    json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{
        "name":TOOL,"arguments":{"duration":0.03,"steps":STEPS},"_meta":{"progressToken":format!("call-{id}")}}})
}

/// One call's stream, checked: its progress notifications 1..=STEPS, with
/// its token, then its result, then the end of the stream.
async fn one_call_in_order(session: &RawSession, id: usize) -> Result<(), String> {
    let response = session.post(long_call(id).to_string()).await;
    let (messages, end) = Sse::new(response).rest().await;
    if let SseNext::Broken(e) = end {
        return Err(format!("call {id}: the stream broke: {e}"));
    }
    let expected_progress: Vec<Value> =
        (1..=STEPS).map(|p| json!({"progress":p,"total":STEPS,"progressToken":format!("call-{id}")})).collect();
    let progress: Vec<Value> =
        messages.iter().take_while(|m| m["method"] == "notifications/progress").map(|m| m["params"].clone()).collect();
    let rest = &messages[progress.len()..];
    let result_last = rest.len() == 1 && rest[0]["id"] == id && rest[0]["result"]["content"].is_array();
    if progress != expected_progress || !result_last {
        return Err(format!("call {id}: {}", Value::Array(messages)));
    }
    Ok(())
}

/// Run on two worker threads, as the binary's runtime is: on one thread the
/// task routing the notification happens to run before the call's own.
async fn fifty_calls_keep_their_progress_ahead_of_their_result(upstream: &str) {
    let gw = start_gateway_with_relay(upstream, ALLOW_ALL, RELAY).await;
    let session = RawSession::open(&gw.url).await;
    // Some calls at once, so streams interleave as a busy client's do.
    let failures: Vec<String> = futures::stream::iter(1..=CALLS)
        .map(|id| one_call_in_order(&session, id))
        .buffer_unordered(5)
        .filter_map(|result| async move { result.err() })
        .collect()
        .await;
    assert!(
        failures.is_empty(),
        "{} of {CALLS} calls did not get every progress notification before their result; first: {}",
        failures.len(),
        failures[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_through_a_stdio_upstream_arrives_on_the_calls_stream_before_its_result() {
    fifty_calls_keep_their_progress_ahead_of_their_result(&everything_upstream("everything")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_through_an_http_upstream_arrives_on_the_calls_stream_before_its_result() {
    let server = EverythingHttp::start().await;
    fifty_calls_keep_their_progress_ahead_of_their_result(&http_upstream("everything", &server.url)).await;
}
