//! Stopping the real binary: SIGINT and SIGTERM drain the gateway within
//! `[listen] drain_timeout` even while a client holds a GET stream open,
//! calls in flight get their answer or a clear error, a second signal exits
//! at once, and nothing keeps listening or running afterwards.

mod common;

use common::binary::{send_signal, ServedGateway};
use common::raw::{RawSession, RawStdio, Sse, SseNext, JSON_ONLY};
use common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What the exit may take beyond the drain deadline: the cut-off errors'
/// grace, the runtime's shutdown and the process exit, on a busy machine.
const EXIT_MARGIN: Duration = Duration::from_millis(1500);
const ADMIN_TOKEN: &str = "shutdown-test-admin-token-0123456789";

/// A config for the demo upstream with the given drain deadline; `extra`
/// is appended (an `[admin]` section, say).
fn config(dir: &Path, root: &Path, drain: &str, extra: &str) -> PathBuf {
    let upstreams = format!("{}{extra}", stdio_demo("demo", root));
    let drain = format!("drain_timeout = \"{drain}\"");
    write_config_with(dir, &upstreams, DEMO_POLICY, &drain, DEFAULT_RELAY)
}

/// `mcp-warden serve` on `config`, with the admin token its `env:` names.
async fn serve(config: &Path) -> ServedGateway {
    ServedGateway::start_with_env(config, &[("SHUTDOWN_TEST_ADMIN_TOKEN", ADMIN_TOKEN)]).await
}

/// Starts a `slow_count` call that reports progress; its SSE answer.
async fn slow_count(session: &RawSession, id: u64, steps: u32, delay_ms: u64) -> Sse {
    let call = json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{
        "name":"demo__slow_count","arguments":{"steps":steps,"delay_ms":delay_ms},
        "_meta":{"progressToken":format!("p{id}")}}});
    let response = session.post(call.to_string()).await;
    assert_eq!(response.status(), 200);
    Sse::new(response)
}

fn is_progress(msg: &Value) -> bool {
    msg["method"] == "notifications/progress"
}

/// Whether any process still running names `path` on its command line
/// (the demo upstream gets its root directory as an argument).
fn process_mentioning(path: &Path) -> Option<String> {
    let needle = path.to_string_lossy().into_owned();
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
        let pid = entry.file_name().to_string_lossy().into_owned();
        pid.parse::<u32>().ok()?;
        let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        cmdline.contains(&needle).then(|| format!("{pid}: {cmdline}"))
    })
}

async fn assert_no_process_mentions(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while let Some(process) = process_mentioning(path) {
        assert!(Instant::now() < deadline, "an upstream outlived the gateway: {process}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A signal while a GET stream is open and a call is in flight: the call
/// is answered, the GET stream ends, and the process exits 0 well before
/// the 5 s deadline (so it waited for the call, not for the stream).
async fn drains_with_a_get_stream_open(signal: &str) {
    let (dir, root) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut gateway = serve(&config(dir.path(), root.path(), "5s", "")).await;
    let session = RawSession::open(&gateway.mcp_url).await;
    let get = session.get_stream().await;
    let get_ended = tokio::spawn(async move { get.rest().await.1 });
    let mut call = slow_count(&session, 1, 4, 250).await;
    assert!(is_progress(&call.message().await), "the call is in flight at the upstream");

    let signalled = Instant::now();
    gateway.send_signal(signal);
    let (status, elapsed) = gateway.exit_within(signalled, Duration::from_secs(5) + EXIT_MARGIN).await;
    assert!(status.success(), "{signal} is a clean shutdown: {status}");
    assert!(elapsed < Duration::from_secs(5), "the exit waited for the deadline: {elapsed:?}");

    let (messages, end) = call.rest().await;
    let answer = messages.iter().find(|m| m["id"] == 1).expect("the call in flight was answered");
    assert_eq!(answer["result"]["content"][0]["text"], "counted 4", "{answer}");
    assert!(matches!(end, SseNext::End), "the answer's stream ended cleanly");
    let get_end = tokio::time::timeout(Duration::from_secs(2), get_ended).await.expect("the GET stream ended").unwrap();
    assert!(matches!(get_end, SseNext::End), "the GET stream was ended by the server, not cut");
    gateway.log.wait_for("shutting down: 1 request(s) in flight, waiting up to 5s").await;
    gateway.log.wait_for("drained in").await;
    assert_no_process_mentions(root.path()).await;
}

#[tokio::test]
async fn sigint_stops_serve_while_a_client_holds_a_get_stream_and_answers_the_call_in_flight() {
    drains_with_a_get_stream_open("INT").await;
}

#[tokio::test]
async fn sigterm_stops_serve_while_a_client_holds_a_get_stream_and_answers_the_call_in_flight() {
    drains_with_a_get_stream_open("TERM").await;
}

#[tokio::test]
async fn a_call_longer_than_the_drain_deadline_gets_an_error_and_holds_the_exit_no_longer() {
    let (dir, root) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut gateway = serve(&config(dir.path(), root.path(), "2s", "")).await;
    let session = RawSession::open(&gateway.mcp_url).await;
    let _get = session.get_stream().await;
    let mut call = slow_count(&session, 7, 50, 200).await;
    assert!(is_progress(&call.message().await), "the call is in flight at the upstream");
    // A client that accepts only JSON waits on the answer itself.
    let json_only = tokio::spawn({
        let call = json!({"jsonrpc":"2.0","id":8,"method":"tools/call","params":{
            "name":"demo__slow_count","arguments":{"steps":50,"delay_ms":200}}});
        let request = session.request(JSON_ONLY, call.to_string());
        async move {
            let answer = request.send().await.unwrap();
            (answer.status(), answer.json::<Value>().await.unwrap())
        }
    });
    // Its decision is audited before it is forwarded: then it is in flight.
    let audit = dir.path().join("audit.jsonl");
    let audited = tokio::time::timeout(Duration::from_secs(30), async {
        while audit_records(&audit).iter().filter(|r| r["tool"] == "slow_count").count() < 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    audited.await.expect("the JSON-only call is audited and forwarded");

    let signalled = Instant::now();
    gateway.send_signal("INT");
    gateway.log.wait_for("shutting down: 2 request(s) in flight").await;
    let address = gateway.mcp_url.trim_start_matches("http://").split('/').next().unwrap().to_string();
    assert!(tokio::net::TcpStream::connect(&address).await.is_err(), "no new connection is accepted while draining");

    let (status, elapsed) = gateway.exit_within(signalled, Duration::from_secs(2) + EXIT_MARGIN).await;
    assert!(status.success(), "{status}");
    assert!(elapsed >= Duration::from_secs(2), "the call in flight had until the deadline: {elapsed:?}");
    let (messages, _) = call.rest().await;
    let error = messages.iter().find(|m| m["id"] == 7).expect("the cut-off call is told why");
    assert!(error["error"]["message"].as_str().unwrap().contains("shut down"), "{error}");
    assert!(messages.iter().all(|m| m.get("result").is_none()), "no answer after the deadline: {messages:?}");
    let (status, error) = json_only.await.unwrap();
    assert_eq!(status, 503, "{error}");
    assert_eq!(error["id"], 8);
    assert!(error["error"]["message"].as_str().unwrap().contains("shut down"), "{error}");
    gateway.log.wait_for("drain deadline passed: 2 request(s)").await;
    assert_no_process_mentions(root.path()).await;
}

#[tokio::test]
async fn a_second_sigint_during_the_drain_exits_at_once() {
    let (dir, root) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut gateway = serve(&config(dir.path(), root.path(), "60s", "")).await;
    let session = RawSession::open(&gateway.mcp_url).await;
    let mut call = slow_count(&session, 3, 50, 200).await;
    assert!(is_progress(&call.message().await), "the call is in flight at the upstream");

    gateway.send_signal("INT");
    gateway.log.wait_for("shutting down: 1 request(s) in flight, waiting up to 1m").await;
    let second = Instant::now();
    gateway.send_signal("INT");
    let (status, elapsed) = gateway.exit_within(second, EXIT_MARGIN).await;
    assert!(status.success(), "{status}");
    assert!(elapsed < EXIT_MARGIN, "{elapsed:?}");
    gateway.log.wait_for("SIGINT during the drain: exiting now").await;
    assert_no_process_mentions(root.path()).await;
}

#[tokio::test]
async fn the_admin_listener_stops_accepting_as_the_drain_starts_and_is_closed_after_the_exit() {
    let (dir, root) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let admin = "[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"env:SHUTDOWN_TEST_ADMIN_TOKEN\"\n";
    let mut gateway = serve(&config(dir.path(), root.path(), "2s", admin)).await;
    let api = gateway.admin_url.clone().expect("the gateway reported its admin listener");
    let pending = reqwest::Client::new().get(format!("{api}/approvals")).bearer_auth(ADMIN_TOKEN).send().await.unwrap();
    assert_eq!(pending.status(), 200, "the admin API answers before the signal");
    let session = RawSession::open(&gateway.mcp_url).await;
    let mut call = slow_count(&session, 1, 50, 200).await;
    assert!(is_progress(&call.message().await), "a call keeps the gateway draining");

    let signalled = Instant::now();
    gateway.send_signal("TERM");
    gateway.log.wait_for("shutting down: 1 request(s) in flight").await;
    let address = api.trim_start_matches("http://").split('/').next().unwrap().to_string();
    assert!(tokio::net::TcpStream::connect(&address).await.is_err(), "the admin listener closed with the drain");
    let (status, _) = gateway.exit_within(signalled, Duration::from_secs(2) + EXIT_MARGIN).await;
    assert!(status.success(), "{status}");
    assert!(tokio::net::TcpStream::connect(&address).await.is_err(), "and stays closed after the exit");
}

/// What the shutdown tests do with a raw stdio session.
trait ShutdownSteps {
    async fn slow_count(&mut self, id: u64, steps: u32, delay_ms: u64);
    async fn rest(&mut self) -> Vec<Value>;
}

impl ShutdownSteps for RawStdio {
    async fn slow_count(&mut self, id: u64, steps: u32, delay_ms: u64) {
        self.send(json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{
            "name":"demo__slow_count","arguments":{"steps":steps,"delay_ms":delay_ms},
            "_meta":{"progressToken":format!("p{id}")}}}))
            .await;
        assert!(is_progress(&self.read().await.expect("progress")), "the call is in flight at the upstream");
    }

    /// Everything written to stdout until it closed.
    async fn rest(&mut self) -> Vec<Value> {
        let mut messages = Vec::new();
        while let Some(msg) = self.read().await {
            messages.push(msg);
        }
        messages
    }
}

#[tokio::test]
async fn stdio_on_sigterm_answers_the_call_in_flight_and_exits_0_with_stdin_still_open() {
    let (dir, root) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut stdio = RawStdio::start(&config(dir.path(), root.path(), "5s", "")).await;
    stdio.slow_count(1, 4, 250).await;

    let signalled = Instant::now();
    send_signal(stdio.child.id().expect("the gateway is running"), "TERM");
    let messages = stdio.rest().await;
    let answer = messages.iter().find(|m| m["id"] == 1).expect("the call in flight was answered on stdout");
    assert_eq!(answer["result"]["content"][0]["text"], "counted 4", "{answer}");
    let status = tokio::time::timeout(Duration::from_secs(5) + EXIT_MARGIN, stdio.child.wait()).await;
    assert!(status.expect("the gateway exits while its stdin is open").unwrap().success());
    assert!(signalled.elapsed() < Duration::from_secs(5), "{:?}", signalled.elapsed());
    stdio.log.wait_for("shutting down: 1 request(s) in flight").await;
    assert_no_process_mentions(root.path()).await;
}

#[tokio::test]
async fn stdio_on_sigint_ends_a_call_longer_than_the_deadline_with_an_error() {
    let (dir, root) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut stdio = RawStdio::start(&config(dir.path(), root.path(), "1s", "")).await;
    stdio.slow_count(9, 50, 200).await;

    let signalled = Instant::now();
    send_signal(stdio.child.id().expect("the gateway is running"), "INT");
    let messages = stdio.rest().await;
    let error = messages.iter().find(|m| m["id"] == 9).expect("the cut-off call is told why on stdout");
    assert!(error["error"]["message"].as_str().unwrap().contains("shut down"), "{error}");
    let status = tokio::time::timeout(Duration::from_secs(1) + EXIT_MARGIN, stdio.child.wait()).await;
    assert!(status.expect("the gateway exits by the deadline").unwrap().success());
    let elapsed = signalled.elapsed();
    assert!(elapsed >= Duration::from_secs(1) && elapsed < Duration::from_secs(1) + EXIT_MARGIN, "{elapsed:?}");
    stdio.log.wait_for("drain deadline passed: 1 request(s)").await;
}
