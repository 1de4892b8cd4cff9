//! A client that launches the gateway (Claude Desktop runs `mcp-warden
//! stdio`) sends `initialize` at once and never asks again: the answer must
//! already advertise what every upstream offers, including one that takes
//! a while to start, and must not wait long for one that never will.

mod common;

use common::binary::shipped_copy;
use common::binary::warden_command;
use common::peers::{everything_upstream, python_upstream};
use common::raw::{initialize, LATEST};
use common::*;
use serde_json::Value;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Launches `mcp-warden stdio`, sends `initialize` the moment it runs, and
/// returns the answer and how long it took; then closes its stdin so it exits.
async fn launch_and_initialize(config: &Path) -> (Value, Duration) {
    let mut child = warden_command("stdio", config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let launched = Instant::now();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(format!("{}\n", initialize(LATEST)).as_bytes()).await.unwrap();
    stdin.flush().await.unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(60), stdout.next_line())
        .await
        .expect("an answer to initialize within a minute")
        .unwrap()
        .expect("an answer before stdout closed");
    let took = launched.elapsed();
    drop(stdin);
    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
    (serde_json::from_str(&line).unwrap(), took)
}

fn config(dir: &Path, upstreams: &str, relay: &str) -> std::path::PathBuf {
    write_config_with(dir, upstreams, ALLOW_ALL, "", relay)
}

#[tokio::test]
async fn an_initialize_sent_at_launch_advertises_every_upstreams_capabilities_and_instructions() {
    let (dir, root) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // The almanac sleeps a second before it even loads the SDK; Node takes
    // its time to start server-everything.
    let upstreams = format!(
        "{}{}{}",
        stdio_demo("demo", root.path()),
        python_upstream("almanac", "slow_start.py", &["1"]),
        everything_upstream("everything")
    );
    // A startup timeout no machine load reaches: what is tested is that the
    // answer waits for the slow server, not how fast it starts.
    let config = config(dir.path(), &upstreams, "request_timeout = \"60s\"\nstartup_timeout = \"30s\"");
    for launch in 0..20 {
        let (answer, took) = launch_and_initialize(&config).await;
        let result = &answer["result"];
        let capabilities = &result["capabilities"];
        for capability in ["tools", "prompts", "resources", "completions"] {
            assert!(capabilities[capability].is_object(), "launch {launch}: no {capability} after {took:?}: {answer}");
        }
        let instructions = result["instructions"].as_str().unwrap_or_default();
        assert!(instructions.contains("[demo] Demo workspace"), "launch {launch}: {answer}");
        assert!(
            instructions.contains("[almanac] Almanac: ask forecast for tomorrow's weather."),
            "launch {launch}: the slow server's instructions after {took:?}: {answer}"
        );
        assert!(instructions.contains("[everything] "), "launch {launch}: server-everything's instructions: {answer}");
    }
}

#[tokio::test]
async fn the_shipped_config_launched_as_claude_desktop_does_advertises_the_demos_prompts_and_resources() {
    let (_clone, config) = shipped_copy();
    for launch in 0..20 {
        let (answer, took) = launch_and_initialize(&config).await;
        let capabilities = &answer["result"]["capabilities"];
        for capability in ["tools", "prompts", "resources"] {
            assert!(capabilities[capability].is_object(), "launch {launch}: no {capability} after {took:?}: {answer}");
        }
        let instructions = answer["result"]["instructions"].as_str().unwrap_or_default();
        assert!(instructions.contains("[demo] "), "launch {launch}: the demo's instructions: {answer}");
    }
}

#[tokio::test]
async fn initialize_waits_for_a_silent_upstream_no_longer_than_startup_timeout_and_not_at_all_for_a_dead_one() {
    let (dir, root) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let silent = "[[upstreams]]\nname = \"silent\"\ntransport = \"stdio\"\ncommand = \"/bin/sh\"\nargs = [\"-c\", \"exec sleep 30\"]\n";
    let dead =
        "[[upstreams]]\nname = \"dead\"\ntransport = \"stdio\"\ncommand = \"/bin/sh\"\nargs = [\"-c\", \"exit 1\"]\n";
    let demo = stdio_demo("demo", root.path());

    let with_silent =
        config(dir.path(), &format!("{demo}{silent}"), "request_timeout = \"60s\"\nstartup_timeout = \"2s\"");
    let (answer, took) = launch_and_initialize(&with_silent).await;
    assert!(took < Duration::from_secs(20), "answered after {took:?}, not at the 2 s startup timeout");
    assert!(answer["result"]["capabilities"]["prompts"].is_object(), "the demo's capabilities: {answer}");

    let dir = tempfile::tempdir().unwrap();
    let with_dead =
        config(dir.path(), &format!("{demo}{dead}"), "request_timeout = \"60s\"\nstartup_timeout = \"60s\"");
    let (answer, took) = launch_and_initialize(&with_dead).await;
    assert!(took < Duration::from_secs(20), "answered after {took:?}: a dead upstream is not waited for");
    assert!(answer["result"]["capabilities"]["prompts"].is_object(), "the demo's capabilities: {answer}");
}
