//! Shared test fixtures: a real gateway on 127.0.0.1 in front of real demo
//! upstreams (child processes built from examples/), and an rmcp client.
#![allow(dead_code)]

pub mod approval;
pub mod binary;
pub mod browser;
pub mod client;
pub mod fronts;
pub mod peers;
pub mod raw;
pub mod scripted;

use mcp_warden::config::GatewayConfig;
use mcp_warden::gateway::Gateway;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_util::sync::CancellationToken;

/// The demo upstream, which `cargo test` builds with the examples.
pub fn demo_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>");
    let demo = profile_dir.join("examples").join("demo_upstream");
    assert!(demo.exists(), "{} is missing: run `cargo build --examples`", demo.display());
    demo
}

pub fn warden_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mcp-warden"))
}

/// A TOML `[[upstreams]]` entry for a stdio demo upstream serving `root`,
/// started there (`cwd`), so a path rule rooted at `root` agrees with it.
pub fn stdio_demo(name: &str, root: &Path) -> String {
    format!(
        "[[upstreams]]\nname = \"{name}\"\ntransport = \"stdio\"\ncommand = {:?}\ncwd = {:?}\nargs = [\"--root\", {:?}, \"--name\", \"{name}\"]\n",
        demo_bin().display().to_string(),
        root.display().to_string(),
        root.display().to_string()
    )
}

pub fn http_upstream(name: &str, url: &str) -> String {
    format!("[[upstreams]]\nname = \"{name}\"\ntransport = \"http\"\nurl = \"{url}\"\n")
}

/// A policy allowing everything of the demo except the listed denials.
pub const DEMO_POLICY: &str = r#"
mode = "enforce"
[defaults]
tools = "deny"
[[rules]]
id = "demo-safe"
server = "*"
tools = ["read_file", "list_directory", "echo", "confirm_action", "slow_count", "enable_extra_tool", "extra_tool", "crash", "sleep", "get_env"]
resources = ["workspace://readme"]
prompts = ["summarize"]
action = "allow"
[[rules]]
id = "no-shell"
server = "*"
tools = ["run_command"]
action = "deny"
"#;

pub struct TestGateway {
    pub url: String,
    pub dir: TempDir,
    pub config_path: PathBuf,
    pub audit: PathBuf,
    pub gateway: Arc<Gateway>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The `[relay]` of a test config unless a test sets its own.
pub const DEFAULT_RELAY: &str = "request_timeout = \"5s\"";

/// Writes a config (with `extra` holding upstreams and sections) and policy
/// into a temp dir.
pub fn write_config(dir: &Path, extra: &str, policy: &str) -> PathBuf {
    write_config_with(dir, extra, policy, "", DEFAULT_RELAY)
}

/// As `write_config`, with `listen` lines added to `[listen]` and `relay`
/// (whole TOML lines) as the `[relay]` section.
pub fn write_config_with(dir: &Path, extra: &str, policy: &str, listen: &str, relay: &str) -> PathBuf {
    std::fs::write(dir.join("policy.toml"), policy).unwrap();
    let config = format!(
        "policies = [\"policy.toml\"]\n[listen]\nhttp = \"127.0.0.1:0\"\nmax_body_bytes = 65536\n{listen}\n[relay]\n{relay}\n[audit]\npath = \"audit.jsonl\"\n{extra}"
    );
    let path = dir.join("gateway.toml");
    std::fs::write(&path, config).unwrap();
    path
}

/// Starts an in-process gateway on 127.0.0.1 with the given upstreams and
/// policy, and waits until every upstream has completed its handshake.
pub async fn start_gateway(upstreams: &str, policy: &str) -> TestGateway {
    start_gateway_with_timeout(upstreams, policy, "5s").await
}

/// As `start_gateway`, with another upstream request timeout.
pub async fn start_gateway_with_timeout(upstreams: &str, policy: &str, timeout: &str) -> TestGateway {
    start_gateway_with_relay(upstreams, policy, &format!("request_timeout = \"{timeout}\"")).await
}

/// As `start_gateway`, with these `[relay]` settings (whole TOML lines)
/// instead of the default `request_timeout = "5s"`.
pub async fn start_gateway_with_relay(upstreams: &str, policy: &str, relay: &str) -> TestGateway {
    let dir = tempfile::tempdir().unwrap();
    let config_path = write_config_with(dir.path(), upstreams, policy, "", relay);
    start_gateway_at(dir, config_path).await
}

/// Starts an in-process gateway on a config already written into `dir`.
pub async fn start_gateway_at(dir: TempDir, config_path: PathBuf) -> TestGateway {
    let config = GatewayConfig::load(&config_path).expect("test config loads");
    let audit = config.audit.path.clone();
    let gateway = Gateway::start(config).expect("gateway starts");
    let missing = gateway.pool.wait_started(Duration::from_secs(30)).await;
    assert!(missing.is_empty(), "upstreams did not start: {missing:?}");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let server = tokio::spawn({
        let gateway = gateway.clone();
        async move {
            let _ = mcp_warden::front::http::serve(gateway, listener, CancellationToken::new()).await;
        }
    });
    TestGateway { url, dir, config_path, audit, gateway, server }
}

/// A demo upstream serving Streamable HTTP on a free loopback port.
pub struct HttpDemo {
    pub url: String,
    child: tokio::process::Child,
}

impl HttpDemo {
    pub async fn start(name: &str, root: &Path) -> HttpDemo {
        let mut child = tokio::process::Command::new(demo_bin())
            .args(["--http", "127.0.0.1:0", "--name", name, "--root"])
            .arg(root)
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("demo upstream starts");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let url = tokio::time::timeout(Duration::from_secs(20), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(url) = line.strip_prefix("listening on ") {
                    return url.to_string();
                }
            }
            panic!("demo upstream exited before listening");
        })
        .await
        .expect("demo upstream listens within 20s");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        HttpDemo { url, child }
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// Every record of the audit file, as JSON, and of the chain files other
/// processes on the same config wrote beside it (the stdio front's child,
/// next to an in-process gateway, writes `audit.2.jsonl`), file after file.
pub fn all_audit_records(path: &Path) -> Vec<serde_json::Value> {
    let files = mcp_warden::audit::chain_files(path).unwrap_or_default();
    files
        .iter()
        .flat_map(|file| {
            let text = std::fs::read_to_string(file).unwrap_or_default();
            text.lines().map(|l| serde_json::from_str(l).expect("audit line is JSON")).collect::<Vec<_>>()
        })
        .collect()
}

/// Whether a record says how the upstream answered a forwarded call,
/// rather than what was decided about it.
pub fn is_call_ending(record: &serde_json::Value) -> bool {
    matches!(record["outcome"].as_str(), Some("completed" | "upstream_error"))
}

/// The audit file's decision records: what was decided about each call
/// and how its approval ended, without the records of how upstreams answered.
pub fn audit_records(path: &Path) -> Vec<serde_json::Value> {
    all_audit_records(path).into_iter().filter(|r| !is_call_ending(r)).collect()
}

/// The audit file's records of how upstreams answered forwarded calls.
pub fn call_endings(path: &Path) -> Vec<serde_json::Value> {
    all_audit_records(path).into_iter().filter(is_call_ending).collect()
}

/// Every record of the audit file once `ready` holds for them. Records
/// nothing waits on (how a call ended, a withdrawal) are written just after
/// the client or the admin API sees the effect, so a test waits for them.
pub async fn wait_for_audit(path: &Path, ready: impl Fn(&[serde_json::Value]) -> bool) -> Vec<serde_json::Value> {
    for _ in 0..500 {
        let records = all_audit_records(path);
        if ready(&records) {
            return records;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the audit file never held what the test waits for: {:#?}", all_audit_records(path));
}

pub fn hostile_bin() -> PathBuf {
    demo_bin().with_file_name("hostile_upstream")
}

/// A `[[upstreams]]` entry for the misbehaving server.
pub fn stdio_hostile(name: &str, log: &Path) -> String {
    format!(
        "[[upstreams]]\nname = \"{name}\"\ntransport = \"stdio\"\ncommand = {:?}\nenv = {{ HOSTILE_LOG = {:?} }}\n",
        hostile_bin().display().to_string(),
        log.display().to_string()
    )
}

pub const ALLOW_ALL: &str = "[defaults]\ntools = \"allow\"\n";
