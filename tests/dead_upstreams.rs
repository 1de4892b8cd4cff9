//! An upstream that cannot start must not slow the others down: listings on
//! the aggregated endpoint leave it out at once, calls to it fail at once
//! with the reason it gave on stderr, and its retries are logged once per
//! change of health, not once per attempt. Against the real binary, with a
//! request timeout long enough that waiting it out would show.

mod common;

use common::binary::ServedGateway;
use common::raw::{self, RawSession};
use common::*;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

/// Far below the 60 s request timeout these gateways run with.
const AT_ONCE: Duration = Duration::from_secs(5);
const MISSING_KEY: &str = "fatal: missing API key";

/// An upstream that dies at once, saying why on stderr, as a server
/// started without its credentials does.
fn dead_upstream(name: &str, why: &str) -> String {
    let script = format!("echo '{why}' >&2; exit 1");
    format!(
        "[[upstreams]]\nname = \"{name}\"\ntransport = \"stdio\"\ncommand = \"/bin/sh\"\nargs = [\"-c\", {script:?}]\n"
    )
}

/// Logging at info, and at debug what the upstreams' retries say, so a
/// test can count the attempts that the info level keeps quiet about.
async fn serve(dir: &Path, upstreams: &str) -> ServedGateway {
    let config = write_config_with(dir, upstreams, ALLOW_ALL, "", "request_timeout = \"60s\"");
    ServedGateway::start_with_env(&config, &[("RUST_LOG", "info,mcp_warden::upstream=debug,upstream_stderr=debug")])
        .await
}

fn tool_names(answer: &Value) -> Vec<String> {
    let tools = answer["result"]["tools"].as_array().unwrap_or_else(|| panic!("a tool list: {answer}"));
    tools.iter().map(|t| t["name"].as_str().unwrap().to_string()).collect()
}

fn request(id: u64, method: &str, params: Value) -> Value {
    json!({"jsonrpc":"2.0","id":id,"method":method,"params":params})
}

fn count(log: &[String], needle: &str) -> usize {
    log.iter().filter(|l| l.contains(needle)).count()
}

#[tokio::test]
async fn a_dead_upstream_is_left_out_of_listings_at_once_and_calls_to_it_quote_its_stderr() {
    let (dir, root) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let upstreams = format!("{}{}", stdio_demo("demo", root.path()), dead_upstream("dead", MISSING_KEY));
    let gw = serve(dir.path(), &upstreams).await;
    let started = Instant::now();

    for client in 0..3 {
        let session = RawSession::open(&gw.mcp_url).await;
        let asked = Instant::now();
        let list = session.json_answer(&request(1, "tools/list", json!({}))).await;
        let took = asked.elapsed();
        let names = tool_names(&list);
        assert!(took < AT_ONCE, "client {client}: tools/list took {took:?}, waiting on the dead upstream");
        assert!(names.iter().any(|n| n == "demo__echo"), "client {client}: the healthy server's tools: {names:?}");
        assert!(!names.iter().any(|n| n.starts_with("dead__")), "{names:?}");

        let asked = Instant::now();
        let call = session.json_answer(&request(2, "tools/call", json!({"name": "dead__anything"}))).await;
        let took = asked.elapsed();
        assert!(took < AT_ONCE, "client {client}: the call failed after {took:?}, not at once");
        assert_eq!(call["error"]["code"], -32011, "{call}");
        let message = call["error"]["message"].as_str().unwrap();
        assert!(message.contains(&format!("its last stderr line: \"{MISSING_KEY}\"")), "{message}");
        assert!(message.contains("exited with status 1"), "{message}");
    }

    // Its own words reach the gateway's log under its name.
    gw.log.wait_for(&format!("[dead] {MISSING_KEY}")).await;
    // Let the sessions' connections and the warm spare retry a while.
    tokio::time::sleep(Duration::from_secs(3).saturating_sub(started.elapsed())).await;
    let log = gw.log.lines();
    let retries = count(&log, "upstream \"dead\" is still down");
    assert!(retries >= 3, "the spare and each session retried; {retries} retries logged at debug: {log:#?}");
    assert_eq!(
        count(&log, "upstream \"dead\" is down"),
        1,
        "one line when it went down, not one per attempt: {log:#?}"
    );
    let shown: Vec<&String> = log.iter().filter(|l| l.contains("INFO") && l.contains(MISSING_KEY)).collect();
    assert_eq!(shown.len(), 1, "its stderr line shown once at info, however often it is repeated: {shown:#?}");
    assert!(shown[0].contains(&format!("[dead] {MISSING_KEY}")), "{shown:#?}");
    assert_eq!(count(&log, "connection was lost"), 0, "it never started, so no connection was lost: {log:#?}");
    assert_eq!(count(&log, "upstream \"demo\" is down"), 0, "{log:#?}");
    assert_eq!(count(&log, "upstream \"demo\" is ready"), 1, "{log:#?}");
}

#[tokio::test]
async fn the_endpoint_of_a_dead_upstream_refuses_initialize_at_once_with_the_reason() {
    let (dir, root) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let upstreams = format!("{}{}", stdio_demo("demo", root.path()), dead_upstream("dead", MISSING_KEY));
    let gw = serve(dir.path(), &upstreams).await;
    gw.log.wait_for("upstream \"dead\" is down").await;
    let http = reqwest::Client::new();

    let asked = Instant::now();
    let answer =
        raw::post(&http, &format!("{}/dead", gw.mcp_url), None, raw::initialize(raw::LATEST).to_string()).await;
    let answer = raw::messages(answer).await.pop().expect("an answer to initialize");
    assert!(asked.elapsed() < AT_ONCE, "refused after {:?}", asked.elapsed());
    assert_eq!(answer["error"]["code"], -32011, "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains(MISSING_KEY), "{message}");

    let demo = RawSession::open(&format!("{}/demo", gw.mcp_url)).await;
    assert!(demo.init_answer["result"]["capabilities"]["tools"].is_object(), "{}", demo.init_answer);
}

#[tokio::test]
async fn an_upstream_that_recovers_is_logged_once_and_announced_to_a_session_that_began_without_it() {
    let (dir, root) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let key = dir.path().join("api-key");
    // Starts only once its key exists, as a server whose credentials were
    // fixed while the gateway ran.
    let script = format!(
        "test -f {key:?} || {{ echo 'fatal: no key yet' >&2; exit 1; }}; exec {:?} --root {:?} --name flaky",
        demo_bin().display().to_string(),
        root.path().display().to_string(),
        key = key.display().to_string(),
    );
    let flaky = format!(
        "[[upstreams]]\nname = \"flaky\"\ntransport = \"stdio\"\ncommand = \"/bin/sh\"\nargs = [\"-c\", {script:?}]\n"
    );
    let upstreams = format!("{}{flaky}", stdio_demo("demo", root.path()));
    let gw = serve(dir.path(), &upstreams).await;
    gw.log.wait_for("upstream \"flaky\" is down").await;

    let session = RawSession::open(&gw.mcp_url).await;
    let mut stream = session.get_stream().await;
    let names = tool_names(&session.json_answer(&request(1, "tools/list", json!({}))).await);
    assert!(!names.iter().any(|n| n.starts_with("flaky__")), "{names:?}");

    std::fs::write(&key, "sk-test").unwrap();
    let recovered = gw.log.wait_for("upstream \"flaky\" is ready again after").await;
    assert!(recovered.contains("failed attempt"), "{recovered}");
    let announced = stream.message().await;
    assert_eq!(announced["method"], "notifications/tools/list_changed", "{announced}");
    let names = tool_names(&session.json_answer(&request(2, "tools/list", json!({}))).await);
    assert!(names.iter().any(|n| n == "flaky__echo"), "its tools are listed once it is up: {names:?}");

    let log = gw.log.lines();
    assert_eq!(count(&log, "upstream \"flaky\" is down"), 1, "{log:#?}");
    assert_eq!(count(&log, "upstream \"flaky\" is ready again"), 1, "{log:#?}");
}
