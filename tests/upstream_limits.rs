//! What an upstream or a crowd of clients can make a running gateway hold:
//! one SSE event is cut at `relay.max_message_bytes` however it is spread
//! over lines, and upstream sessions (each stdio one a process) stop at
//! `relay.max_upstream_sessions`. Both run a real `mcp-warden serve`, so the
//! memory and the processes counted are the gateway's own.

mod common;

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use common::binary::ServedGateway;
use common::raw::RawSession;
use common::scripted::scripted_upstream;
use common::{stdio_demo, write_config_with, ALLOW_ALL};
use futures::StreamExt;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const MIB: u64 = 1024 * 1024;

/// `mcp-warden serve` on a config with `relay` lines in `[relay]` and
/// `upstreams` after it, under a policy that allows everything.
async fn serve(dir: &Path, relay: &str, upstreams: &str) -> ServedGateway {
    ServedGateway::start(&write_config_with(dir, upstreams, ALLOW_ALL, "", relay)).await
}

/// A `tools/call` of `tool`, answered as JSON.
async fn call_tool(session: &RawSession, tool: &str, arguments: Value) -> Value {
    session
        .json_answer(
            &json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":tool,"arguments":arguments}}),
        )
        .await
}

fn echoed(answer: &Value) -> Option<&str> {
    answer.pointer("/result/content/0/text").and_then(Value::as_str)
}

/// The resident memory of a process, from the kernel's own account.
fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the process is alive");
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmRSS in /proc/<pid>/status");
    kib * 1024
}

/// The live (not yet reaped) child processes of `pid`.
fn live_children(pid: u32) -> usize {
    let mut children = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap().flatten() {
        let listed = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        children.extend(listed.split_whitespace().map(str::to_string));
    }
    children
        .iter()
        .filter(|child| {
            let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
            // The state follows the parenthesised command name.
            let state = stat.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next());
            matches!(state, Some(s) if s != 'Z' && s != 'X')
        })
        .count()
}

/// Waits until `pid` has `want` live children (processes die, and are
/// started, a moment after the session that owns them changes).
async fn settle_children(pid: u32, want: usize) -> usize {
    let mut seen = live_children(pid);
    for _ in 0..100 {
        if seen == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        seen = live_children(pid);
    }
    seen
}

/// A Streamable HTTP MCP server that is polite through the handshake and
/// `tools/list`, then answers `tools/call flood` with one SSE event that
/// never ends: `data:` lines of 1,000 bytes and never the blank line that
/// would end the event, `flood_bytes` in all. Counts what it got to send.
async fn flooding_upstream(flood_bytes: u64, sent: Arc<AtomicU64>) -> String {
    scripted_upstream("flood", move |_| endless_event(flood_bytes, sent.clone())).await
}

fn endless_event(total: u64, sent: Arc<AtomicU64>) -> Response {
    let line = format!("data: {}\n", "x".repeat(993));
    assert_eq!(line.len(), 1000);
    let chunk = Bytes::from(line.repeat(64));
    let chunks = total / chunk.len() as u64;
    let body = futures::stream::iter(0..chunks).map(move |_| {
        sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        Ok::<_, std::io::Error>(chunk.clone())
    });
    ([(header::CONTENT_TYPE, "text/event-stream")], Body::from_stream(body)).into_response()
}

#[tokio::test]
async fn an_endless_sse_event_is_cut_at_the_message_cap_and_the_gateway_stays_small() {
    let flood = 200 * MIB;
    let sent = Arc::new(AtomicU64::new(0));
    let upstream = flooding_upstream(flood, sent.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let gw = serve(
        dir.path(),
        "request_timeout = \"60s\"\nmax_message_bytes = 1048576",
        &format!("[[upstreams]]\nname = \"hostile\"\ntransport = \"http\"\nurl = \"{upstream}\"\n"),
    )
    .await;
    let pid = gw.pid();
    let session = RawSession::open(&gw.mcp_url).await;
    let before = rss_bytes(pid);

    let call = tokio::spawn(async move { call_tool(&session, "hostile__flood", json!({})).await });
    let mut peak = before;
    while !call.is_finished() {
        peak = peak.max(rss_bytes(pid));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let answer = call.await.unwrap();
    peak = peak.max(rss_bytes(pid));
    let sent = sent.load(Ordering::Relaxed);
    eprintln!(
        "gateway RSS {} KiB before, {} KiB at peak; the upstream got {} KiB of its {} MiB out before the gateway hung up",
        before / 1024,
        peak / 1024,
        sent / 1024,
        flood / MIB
    );

    assert_eq!(answer["error"]["code"], -32011, "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains("an SSE event was larger than 1048576 bytes"), "{message}");
    assert!(peak < 64 * MIB, "the gateway grew to {} MiB", peak / MIB);
    assert!(sent < flood / 2, "the gateway read on after the cap: {} MiB sent", sent / MIB);
}

#[tokio::test]
async fn sessions_beyond_max_upstream_sessions_are_refused_until_one_closes() {
    let dir = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let gw = serve(dir.path(), "max_upstream_sessions = 2", &stdio_demo("demo", root.path())).await;
    let pid = gw.pid();
    assert_eq!(settle_children(pid, 1).await, 1, "one warm spare before any client");

    let url = &gw.mcp_url;
    let (a, b, c) = (RawSession::open(url).await, RawSession::open(url).await, RawSession::open(url).await);
    assert_eq!(echoed(&call_tool(&a, "demo__echo", json!({"text": "a"})).await), Some("a"));
    assert_eq!(echoed(&call_tool(&b, "demo__echo", json!({"text": "b"})).await), Some("b"));
    let refused = call_tool(&c, "demo__echo", json!({"text": "c"})).await;
    assert_eq!(refused["error"]["code"], -32011, "{refused}");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("relay.max_upstream_sessions = 2 reached: close idle sessions or raise it"), "{message}");
    // Two sessions' upstreams and the spare: the third client forked nothing.
    assert_eq!(settle_children(pid, 3).await, 3);
    assert_eq!(
        echoed(&call_tool(&a, "demo__echo", json!({"text": "a2"})).await),
        Some("a2"),
        "the first two still work"
    );
    assert_eq!(echoed(&call_tool(&b, "demo__echo", json!({"text": "b2"})).await), Some("b2"));

    assert_eq!(a.delete().await.status(), 200);
    assert_eq!(
        echoed(&call_tool(&c, "demo__echo", json!({"text": "c2"})).await),
        Some("c2"),
        "a closed session's slot"
    );
    assert_eq!(settle_children(pid, 3).await, 3, "a's upstream died with it; c's took its place");
}
