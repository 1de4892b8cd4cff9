//! Sessions abandoned without DELETE (the Inspector CLI and `mcp-remote`
//! never send one): after `[listen] session_idle_timeout` they are closed
//! and their upstream processes killed, while a session still in use is
//! kept. Children are counted in /proc, by the workspace each was started
//! for.

mod common;

use common::raw::{messages, RawSession};
use common::*;
use mcp_warden::config::GatewayConfig;
use mcp_warden::gateway::Gateway;
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Far beyond the 1 s timeout and its quarter-second sweep: an upstream
/// child still alive after this was not released.
const RELEASE_WAIT: Duration = Duration::from_secs(20);

/// A gateway with a 1 s idle timeout in front of one stdio demo upstream
/// serving `root`; its MCP URL.
async fn gateway(dir: &Path, root: &Path) -> (String, std::sync::Arc<Gateway>) {
    let (url, gateway) = gateway_with(dir, root, "session_idle_timeout = \"1s\"", DEFAULT_RELAY).await;
    assert_eq!(gateway.config.listen.session_idle_timeout, Duration::from_secs(1));
    (url, gateway)
}

/// As `gateway`, with these `[listen]` and `[relay]` lines.
async fn gateway_with(dir: &Path, root: &Path, listen: &str, relay: &str) -> (String, std::sync::Arc<Gateway>) {
    let config = write_config_with(dir, &stdio_demo("demo", root), DEMO_POLICY, listen, relay);
    let config = GatewayConfig::load(&config).expect("test config loads");
    let gateway = Gateway::start(config).expect("gateway starts");
    assert!(gateway.pool.wait_started(Duration::from_secs(30)).await.is_empty(), "the demo upstream starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(mcp_warden::front::http::serve(gateway.clone(), listener, CancellationToken::new()));
    (url, gateway)
}

/// Live (not zombie) processes whose command line names `root`: the demo
/// upstreams started for this test's workspace.
fn upstream_children(root: &Path) -> usize {
    let needle = root.display().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else { panic!("/proc is needed to count child processes") };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().chars().all(|c| c.is_ascii_digit()))
        .filter(|e| {
            let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next());
            String::from_utf8_lossy(&cmdline).contains(&needle) && !matches!(state, Some("Z" | "X") | None)
        })
        .count()
}

/// Waits until at most `count` children are left; how many there were last.
async fn wait_for_children_at_most(root: &Path, count: usize, within: Duration) -> usize {
    let deadline = Instant::now() + within;
    loop {
        let now = upstream_children(root);
        if now <= count || Instant::now() >= deadline {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Opens a session and makes it start its own demo process (`tools/list`).
async fn session_with_an_upstream(url: &str) -> RawSession {
    let session = RawSession::open(url).await;
    let listed = messages(session.post(json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}).to_string()).await).await;
    assert!(listed[0]["result"]["tools"].is_array(), "tools/list is answered: {listed:?}");
    session
}

#[tokio::test]
async fn sessions_abandoned_without_delete_release_their_upstream_processes_after_the_idle_timeout() {
    let (dir, root) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (url, _gateway) = gateway(dir.path(), root.path()).await;
    let abandoned = [
        session_with_an_upstream(&url).await,
        session_with_an_upstream(&url).await,
        session_with_an_upstream(&url).await,
    ];
    // Each session has a process of its own; the pool may keep one warm spare.
    let started = upstream_children(root.path());
    assert!(started >= 3, "three sessions, three demo processes at least; found {started}");

    let left = wait_for_children_at_most(root.path(), 1, RELEASE_WAIT).await;
    assert!(left <= 1, "{left} demo processes still run {RELEASE_WAIT:?} after three sessions went idle for 1 s");
    for session in &abandoned {
        let late = session.post(json!({"jsonrpc":"2.0","id":2,"method":"ping"}).to_string()).await;
        assert_eq!(late.status(), 404, "a session closed as idle is gone: its client must initialize again");
    }
}

#[tokio::test]
async fn a_session_in_use_outlives_the_idle_timeout_with_its_upstream() {
    let (dir, root) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (url, _gateway) = gateway(dir.path(), root.path()).await;
    let pinging = session_with_an_upstream(&url).await;
    let streaming = session_with_an_upstream(&url).await;
    // Waiting on the GET stream for what the servers send is using the session.
    let _stream = streaming.get_stream().await;
    let until = Instant::now() + Duration::from_secs(3);
    let mut id = 10;
    while Instant::now() < until {
        let answer = pinging.post(json!({"jsonrpc":"2.0","id":id,"method":"ping"}).to_string()).await;
        assert_eq!(answer.status(), 200, "a session used every 300 ms is never idle for 1 s");
        id += 1;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    for session in [&pinging, &streaming] {
        let listed =
            messages(session.post(json!({"jsonrpc":"2.0","id":99,"method":"tools/list"}).to_string()).await).await;
        assert!(listed[0]["result"]["tools"].is_array(), "the session and its upstream still answer: {listed:?}");
    }
    assert!(upstream_children(root.path()) >= 2, "both sessions keep their demo process");
}

#[tokio::test]
async fn idle_sessions_beyond_the_cap_on_idle_upstream_processes_close_oldest_first_before_their_timeout() {
    let (dir, root) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let relay = format!("{DEFAULT_RELAY}\nmax_idle_upstream_sessions = 1");
    let (url, gateway) = gateway_with(dir.path(), root.path(), "session_idle_timeout = \"10m\"", &relay).await;
    assert_eq!(gateway.config.relay.max_idle_upstream_sessions, 1);
    let oldest = session_with_an_upstream(&url).await;
    let middle = session_with_an_upstream(&url).await;
    let newest = session_with_an_upstream(&url).await;

    // One idle session keeps its process; the pool may keep one warm spare.
    let left = wait_for_children_at_most(root.path(), 2, RELEASE_WAIT).await;
    assert!(left <= 2, "{left} demo processes run for three idle sessions under a cap of 1");
    for (session, name) in [(&oldest, "oldest"), (&middle, "middle")] {
        let late = session.post(json!({"jsonrpc":"2.0","id":2,"method":"ping"}).to_string()).await;
        assert_eq!(late.status(), 404, "the {name} idle session was closed to keep within the cap");
    }
    let listed = messages(newest.post(json!({"jsonrpc":"2.0","id":3,"method":"tools/list"}).to_string()).await).await;
    assert!(listed[0]["result"]["tools"].is_array(), "the most recently used session is kept: {listed:?}");
}
