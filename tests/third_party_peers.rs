//! Real third-party MCP peers through the gateway: the official Python SDK
//! (over Streamable HTTP and through `mcp-warden stdio`), the MCP Inspector
//! CLI, and `@modelcontextprotocol/server-filesystem` as a stdio upstream.
//!
//! The peers live in `.peers/` and are installed, without root, by
//! `scripts/install-test-peers.sh`. A missing peer fails the test with that
//! instruction; nothing is skipped silently. Every peer runs in its own process
//! group, which is killed when the run ends (also on timeout or panic), and
//! every wait has a timeout. Network traffic stays on 127.0.0.1.

mod common;

use common::client::{call, call_text, connect, mcp_error, tool_names};
use common::peers::{filesystem_upstream, peer_file, peer_script, python, INSTALL_HINT};
use common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

/// How long one peer process may run before it is killed and the test fails.
const PEER_TIMEOUT: Duration = Duration::from_secs(90);

fn node22() -> PathBuf {
    peer_file("node22/bin/node", "Node.js 22")
}

fn npm_package_file(package: &str, file: &str) -> PathBuf {
    peer_file(&format!("npm/node_modules/{package}/{file}"), package)
}

/// The Inspector's published bin (`npx @modelcontextprotocol/inspector --cli ...`).
fn inspector_entry() -> PathBuf {
    npm_package_file("@modelcontextprotocol/inspector", "clients/launcher/build/index.js")
}

fn python_client_script() -> PathBuf {
    peer_script("python_client.py")
}

fn python_features_script() -> PathBuf {
    peer_script("python_features.py")
}

/// Kills a peer's whole process group (the peer and anything it started)
/// when dropped, so nothing outlives the test, whatever way it ends.
struct GroupKiller(i32);

impl Drop for GroupKiller {
    fn drop(&mut self) {
        // SAFETY: kill(2) with a negative pid signals the process group the
        // peer leads; it was created for this peer by `process_group(0)`.
        unsafe {
            libc::kill(-self.0, libc::SIGKILL);
        }
    }
}

/// Runs a peer to completion with a timeout, in a process group of its own,
/// and returns its output. Panics (after killing the group) on timeout.
async fn run_peer(mut command: tokio::process::Command, what: &str) -> Output {
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0).kill_on_drop(true);
    let child = command.spawn().unwrap_or_else(|e| panic!("{what} does not start ({e}): {INSTALL_HINT}"));
    let _group = GroupKiller(child.id().expect("a running child has a pid") as i32);
    match tokio::time::timeout(PEER_TIMEOUT, child.wait_with_output()).await {
        Ok(output) => output.unwrap_or_else(|e| panic!("waiting for {what}: {e}")),
        Err(_) => panic!("{what} did not finish within {PEER_TIMEOUT:?}"),
    }
}

fn describe(output: &Output) -> String {
    format!(
        "exit: {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The last line of stdout that is a JSON object.
fn json_stdout(output: &Output) -> Value {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str::<Value>(line.trim()).ok().filter(Value::is_object))
        .unwrap_or_else(|| panic!("no JSON object on stdout\n{}", describe(output)))
}

// ---------------------------------------------------------------- Python SDK

/// Runs tests/peers/python_client.py against `target` (a URL, or a command
/// that speaks MCP on stdio) and returns its JSON report.
async fn run_python_client(extra: &[&str], target: &[&str]) -> (Value, Output) {
    let mut command = tokio::process::Command::new(python());
    command.arg(python_client_script()).args(extra).arg("--").args(target);
    let output = run_peer(command, "the Python SDK client").await;
    let report = json_stdout(&output);
    (report, output)
}

/// What the Python client must have seen in front of the demo upstream with
/// `DEMO_POLICY`: filtered tools, a relayed echo, a refusal naming the rule.
fn assert_python_report(report: &Value, output: &Output) {
    let context = describe(output);
    assert!(output.status.success(), "the Python client reported failures: {report:#}\n{context}");
    assert_eq!(report["failures"], json!([]), "{context}");
    assert_eq!(report["server_info"]["name"], "mcp-warden", "{report:#}");
    let version = report["protocol_version"].as_str().unwrap_or_default();
    assert!(version.starts_with("2025-"), "negotiated {version:?}: {report:#}");
    let tools: Vec<&str> = report["tools"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(tools.contains(&"demo__echo") && tools.contains(&"demo__read_file"), "{tools:?}");
    assert!(!tools.contains(&"demo__run_command") && !tools.contains(&"demo__write_file"), "{tools:?}");
    assert!(tools.iter().all(|t| t.starts_with("demo__")), "{tools:?}");
    assert_eq!(report["call"], json!({"tool": "demo__echo", "text": "hello from python", "is_error": false}));
    let denied = &report["denied"];
    assert_eq!(denied["raised"], true, "{report:#}");
    assert_eq!(denied["code"], -32010, "{report:#}");
    assert!(denied["message"].as_str().unwrap().contains("no-shell"), "{report:#}");
    assert_eq!(denied["data"]["rule"], "no-shell", "{report:#}");
    assert_eq!(denied["data"]["tool"], "run_command", "{report:#}");
}

fn assert_python_calls_audited(audit: &Path) {
    let records = audit_records(audit);
    let echo = records.iter().find(|r| r["tool"] == "echo").unwrap_or_else(|| panic!("no echo record: {records:?}"));
    assert_eq!(echo["verdict"], "allow");
    assert_eq!(echo["rule"], "demo-safe");
    let shell = records.iter().find(|r| r["tool"] == "run_command").expect("the refused call was audited");
    assert_eq!(shell["verdict"], "deny");
    assert_eq!(shell["rule"], "no-shell");
    assert!(mcp_warden::audit::verify(audit).is_ok());
}

#[tokio::test]
async fn python_sdk_over_http() {
    let root = tempfile::tempdir().unwrap();
    let gw = start_gateway(&stdio_demo("demo", root.path()), DEMO_POLICY).await;
    let (report, output) = run_python_client(&["--mode", "legacy"], &[&gw.url]).await;
    assert_python_report(&report, &output);
    assert_python_calls_audited(&gw.audit);
}

/// `mode="auto"` probes `server/discover` first and falls back to the
/// initialize handshake when the gateway does not speak 2026-07-28.
#[tokio::test]
async fn python_sdk_auto_mode_over_http() {
    let root = tempfile::tempdir().unwrap();
    let gw = start_gateway(&stdio_demo("demo", root.path()), DEMO_POLICY).await;
    let (report, output) = run_python_client(&["--mode", "auto"], &[&gw.url]).await;
    assert_python_report(&report, &output);
}

#[tokio::test]
async fn python_sdk_through_the_stdio_front() {
    let root = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &stdio_demo("demo", root.path()), DEMO_POLICY);
    let warden = warden_bin();
    let target = [warden.to_str().unwrap(), "stdio", "--config", config.to_str().unwrap()];
    let (report, output) = run_python_client(&["--mode", "legacy"], &target).await;
    assert_python_report(&report, &output);
    assert_python_calls_audited(&dir.path().join("audit.jsonl"));
}

/// Runs tests/peers/python_features.py (ping, progress, elicitation,
/// list_changed, roots) and returns its JSON report.
async fn run_python_features(extra: &[&str], target: &[&str]) -> (Value, Output) {
    let mut command = tokio::process::Command::new(python());
    command.arg(python_features_script()).args(extra).arg("--").args(target);
    let output = run_peer(command, "the Python SDK feature client").await;
    let report = json_stdout(&output);
    (report, output)
}

/// What the feature client must have seen in front of the demo upstream.
fn assert_features_report(report: &Value, output: &Output) {
    let context = format!("{report:#}\n{}", describe(output));
    assert!(report.get("exception").is_none(), "{context}");
    assert_eq!(report["ping"], "pong", "{context}");

    let progress = &report["progress"];
    assert_eq!(progress["text"], "counted 3", "{context}");
    let steps: Vec<f64> =
        progress["progress"].as_array().unwrap().iter().filter_map(|p| p["progress"].as_f64()).collect();
    assert_eq!(steps, [1.0, 2.0, 3.0], "progress notifications are relayed in order: {context}");
    assert_eq!(progress["progress"][2]["message"], "step 3 of 3", "{context}");

    let elicitation = &report["elicitation"];
    assert_eq!(elicitation["text"], "confirmed: deploy v2", "{context}");
    // The form arrives as the server wrote it, marked with the server it comes from.
    let marked = "[Asked by the MCP server \"demo\", relayed by mcp-warden; not an approval by mcp-warden]\n\nConfirm: deploy v2?";
    assert_eq!(elicitation["elicited"], json!([marked]), "{context}");

    let changed = &report["list_changed"];
    let listed = |key: &str| changed[key].as_array().unwrap().iter().any(|t| t == "demo__extra_tool");
    assert!(changed.get("error").is_none(), "{context}");
    assert!(!listed("before") && listed("after"), "{context}");
    assert_eq!(changed["called"], "extra tool called", "{context}");
}

#[tokio::test]
async fn python_sdk_relayed_features_over_http() {
    let root = tempfile::tempdir().unwrap();
    let gw = start_gateway(&stdio_demo("demo", root.path()), DEMO_POLICY).await;
    let (report, output) = run_python_features(&["demo", "--mode", "legacy"], &[&gw.url]).await;
    assert_features_report(&report, &output);
}

#[tokio::test]
async fn python_sdk_relayed_features_through_the_stdio_front() {
    let root = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &stdio_demo("demo", root.path()), DEMO_POLICY);
    let warden = warden_bin();
    let target = [warden.to_str().unwrap(), "stdio", "--config", config.to_str().unwrap()];
    let (report, output) = run_python_features(&["demo", "--mode", "legacy"], &target).await;
    assert_features_report(&report, &output);
}

/// Holds demo__send_message until the person at the client approves it in
/// an elicitation form; lets the client read back what was sent.
fn elicited_approval_policy() -> String {
    common::approval::mail_policy("approval = [\"elicitation\"]\n")
}

/// What the approval client must have seen: one form per held call, the
/// approved call sent once, the denied one refused and never sent.
fn assert_elicited_approval(report: &Value, output: &Output) {
    let context = format!("{report:#}\n{}", describe(output));
    assert!(report.get("exception").is_none(), "{context}");
    assert_eq!(report["approved"]["text"], "sent to bob@example.com", "{context}");
    let denied = report["denied"]["error"].as_str().unwrap_or_else(|| panic!("the second call is refused: {context}"));
    assert!(denied.contains("python said deny"), "{context}");
    assert_eq!(report["sent"], "to=bob@example.com cc= body=ship it", "only the approved call arrived: {context}");
    let forms = report["forms"].as_array().unwrap();
    assert_eq!(forms.len(), 2, "{context}");
    assert!(forms[0]["message"].as_str().unwrap().contains("Tool: send_message"), "{context}");
    assert_eq!(forms[0]["fields"], json!(["decision", "reason", "session"]), "{context}");
}

#[tokio::test]
async fn python_sdk_answers_the_gateways_approval_form_over_http() {
    let root = tempfile::tempdir().unwrap();
    let gw = start_gateway(&stdio_demo("demo", root.path()), &elicited_approval_policy()).await;
    let (report, output) = run_python_features(&["approval", "--mode", "legacy"], &[&gw.url]).await;
    assert_elicited_approval(&report, &output);
    let outcomes: Vec<Value> = audit_records(&gw.audit)
        .into_iter()
        .filter(|r| r["tool"] == "send_message")
        .map(|r| json!([r["outcome"], r["approval"]["channel"]]))
        .collect();
    assert_eq!(
        outcomes,
        [
            json!(["pending", null]),
            json!(["approved", "elicitation"]),
            json!(["pending", null]),
            json!(["denied", "elicitation"])
        ]
    );
}

#[tokio::test]
async fn python_sdk_answers_the_gateways_approval_form_through_the_stdio_front() {
    let root = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &stdio_demo("demo", root.path()), &elicited_approval_policy());
    let warden = warden_bin();
    let target = [warden.to_str().unwrap(), "stdio", "--config", config.to_str().unwrap()];
    let (report, output) = run_python_features(&["approval", "--mode", "legacy"], &target).await;
    assert_elicited_approval(&report, &output);
}

// ------------------------------------------------------------ MCP Inspector

async fn run_inspector(url: &str, args: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap(); // the Inspector keeps its catalog and secrets under $HOME
    let node = node22();
    let mut command = tokio::process::Command::new(&node);
    command
        .arg(inspector_entry())
        .args(["--cli", "--format", "json", "--connect-timeout", "20000", url])
        .args(args)
        .env("HOME", home.path())
        .env("PATH", format!("{}:{}", node.parent().unwrap().display(), std::env::var("PATH").unwrap_or_default()))
        .env("NO_COLOR", "1");
    run_peer(command, "the MCP Inspector CLI").await
}

#[tokio::test]
async fn inspector_cli_over_http() {
    let root = tempfile::tempdir().unwrap();
    let gw = start_gateway(&stdio_demo("demo", root.path()), DEMO_POLICY).await;

    let listed = run_inspector(&gw.url, &["--method", "tools/list"]).await;
    assert!(listed.status.success(), "{}", describe(&listed));
    let listed_json = json_stdout(&listed);
    let mut names: Vec<&str> = listed_json["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no result.tools\n{}", describe(&listed)))
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    names.sort();
    assert!(names.contains(&"demo__echo") && names.contains(&"demo__read_file"), "{names:?}");
    assert!(!names.contains(&"demo__run_command") && !names.contains(&"demo__write_file"), "{names:?}");
    let echo = listed_json["result"]["tools"].as_array().unwrap().iter().find(|t| t["name"] == "demo__echo").unwrap();
    assert_eq!(echo["inputSchema"]["required"], json!(["text"]), "the schema is relayed intact: {echo}");

    let called =
        run_inspector(&gw.url, &["--method", "tools/call", "--tool-name", "demo__echo", "--tool-arg", "text=hi"]).await;
    assert!(called.status.success(), "{}", describe(&called));
    let result = &json_stdout(&called)["result"];
    assert_eq!(result["content"], json!([{"type": "text", "text": "hi"}]), "{}", describe(&called));
    assert_eq!(result["isError"], false);

    // The Inspector looks a tool up in tools/list before calling it, so a
    // tool the policy hides cannot even be attempted: it exits with code 5
    // (tool error) and `tool_not_found`.
    let hidden = run_inspector(
        &gw.url,
        &["--method", "tools/call", "--tool-name", "demo__run_command", "--tool-arg", "command=id"],
    )
    .await;
    assert_eq!(hidden.status.code(), Some(5), "{}", describe(&hidden));
    assert!(String::from_utf8_lossy(&hidden.stderr).contains("tool_not_found"), "{}", describe(&hidden));

    let records = audit_records(&gw.audit);
    assert!(records.iter().any(|r| r["tool"] == "echo" && r["verdict"] == "allow"), "{records:?}");
    assert!(
        !records.iter().any(|r| r["tool"] == "run_command"),
        "the hidden tool never reached the policy: {records:?}"
    );
}

/// The Inspector launching the gateway's stdio front as its server command.
async fn run_inspector_stdio(config: &Path, args: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let node = node22();
    let mut command = tokio::process::Command::new(&node);
    command
        .arg(inspector_entry())
        .args(["--cli", "--format", "json", "--connect-timeout", "20000"])
        .args(args)
        .arg("--")
        .arg(warden_bin())
        .args(["stdio", "--config"])
        .arg(config)
        .env("HOME", home.path())
        .env("PATH", format!("{}:{}", node.parent().unwrap().display(), std::env::var("PATH").unwrap_or_default()))
        .env("NO_COLOR", "1");
    run_peer(command, "the MCP Inspector CLI").await
}

#[tokio::test]
async fn inspector_cli_through_the_stdio_front() {
    let root = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &stdio_demo("demo", root.path()), DEMO_POLICY);

    let listed = run_inspector_stdio(&config, &["--method", "tools/list"]).await;
    assert!(listed.status.success(), "{}", describe(&listed));
    let listed_json = json_stdout(&listed);
    let names: Vec<&str> = listed_json["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no result.tools\n{}", describe(&listed)))
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(names.contains(&"demo__echo") && !names.contains(&"demo__run_command"), "{names:?}");

    let called =
        run_inspector_stdio(&config, &["--method", "tools/call", "--tool-name", "demo__echo", "--tool-arg", "text=hi"])
            .await;
    assert!(called.status.success(), "{}", describe(&called));
    assert_eq!(json_stdout(&called)["result"]["content"], json!([{"type": "text", "text": "hi"}]));
    let records = audit_records(&dir.path().join("audit.jsonl"));
    assert!(records.iter().any(|r| r["tool"] == "echo" && r["verdict"] == "allow"), "{records:?}");
}

// --------------------------------------------------- server-filesystem upstream

const FILES_POLICY: &str = r#"
mode = "enforce"
[defaults]
tools = "deny"
[[rules]]
id = "files-read"
server = "files"
tools = ["read_text_file", "read_file", "list_directory", "list_allowed_directories", "get_file_info"]
action = "allow"
[[rules]]
id = "files-no-writes"
server = "files"
tools = ["write_file", "edit_file", "create_directory", "move_file"]
action = "deny"
"#;

#[tokio::test]
async fn filesystem_server_behind_the_gateway() {
    let workspace = tempfile::tempdir().unwrap();
    // server-filesystem compares real paths; /tmp may be a symlink elsewhere.
    let root = workspace.path().canonicalize().unwrap();
    std::fs::write(root.join("notes.txt"), "hello from server-filesystem").unwrap();
    let gw = start_gateway(&filesystem_upstream(&root), FILES_POLICY).await;
    let client = connect(&gw.url).await;

    let names = tool_names(&client).await;
    for allowed in ["files__read_text_file", "files__list_directory", "files__list_allowed_directories"] {
        assert!(names.contains(&allowed.to_string()), "{allowed} missing from {names:?}");
    }
    for hidden in ["files__write_file", "files__edit_file", "files__move_file", "files__create_directory"] {
        assert!(!names.contains(&hidden.to_string()), "denied {hidden} is listed: {names:?}");
    }
    // Allowed by no rule: hidden by the default.
    assert!(!names.contains(&"files__search_files".to_string()), "{names:?}");
    assert!(names.iter().all(|n| n.starts_with("files__")), "{names:?}");

    let file = root.join("notes.txt");
    let text = call_text(&client, "files__read_text_file", json!({"path": file})).await;
    assert_eq!(text, "hello from server-filesystem");
    let listing = call_text(&client, "files__list_directory", json!({"path": root})).await;
    assert!(listing.contains("notes.txt"), "{listing}");
    let allowed_dirs = call_text(&client, "files__list_allowed_directories", json!({})).await;
    assert!(allowed_dirs.contains(root.to_str().unwrap()), "{allowed_dirs}");

    let target = root.join("written.txt");
    let err = mcp_error(
        client.call_tool(call("files__write_file", json!({"path": target, "content": "nope"}))).await.unwrap_err(),
    );
    assert_eq!(err.code.0, -32010, "{}", err.message);
    assert!(err.message.contains("files-no-writes"), "{}", err.message);
    let data = err.data.expect("the refusal carries data");
    assert_eq!(data["rule"], "files-no-writes");
    assert_eq!(data["server"], "files");
    assert_eq!(data["tool"], "write_file");
    assert!(!target.exists(), "the refused write reached the filesystem");

    let err = mcp_error(
        client.call_tool(call("files__search_files", json!({"path": root, "pattern": "*"}))).await.unwrap_err(),
    );
    assert_eq!(err.code.0, -32010);
    assert_eq!(err.data.unwrap()["rule"], "defaults.tools");
    client.cancel().await.unwrap();

    let records = audit_records(&gw.audit);
    let read = records.iter().find(|r| r["tool"] == "read_text_file").expect("the read was audited");
    assert_eq!(read["verdict"], "allow");
    assert_eq!(read["rule"], "files-read");
    let write = records.iter().find(|r| r["tool"] == "write_file").expect("the write was audited");
    assert_eq!(write["verdict"], "deny");
    assert_eq!(write["rule"], "files-no-writes");
}

/// server-filesystem pinned with `mcp-warden pin` and unchanged since: in
/// enforce mode every tool the policy allows is listed and callable, and
/// the scanner finds its real definitions clean.
#[tokio::test]
async fn filesystem_server_pinned_and_unchanged_is_listed_and_callable() {
    let workspace = tempfile::tempdir().unwrap();
    let root = workspace.path().canonicalize().unwrap();
    std::fs::write(root.join("notes.txt"), "pinned and unchanged").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let upstream = format!("{}[pins]\nmode = \"enforce\"\n", filesystem_upstream(&root));
    let config = write_config(dir.path(), &upstream, FILES_POLICY);
    let warden = |args: &[&str]| {
        std::process::Command::new(warden_bin()).args(args).arg("--config").arg(&config).output().unwrap()
    };
    let pinned = warden(&["pin"]);
    assert!(pinned.status.success(), "{}", String::from_utf8_lossy(&pinned.stderr));
    let lock = std::fs::read_to_string(dir.path().join("pins/files.lock.toml")).unwrap();
    assert!(lock.contains("name = \"read_text_file\""), "{lock}");
    let scanned = warden(&["scan", "--json"]);
    let report: Value = serde_json::from_slice(&scanned.stdout).unwrap();
    assert_eq!(scanned.status.code(), Some(0), "server-filesystem's real definitions are clean: {report:#}");
    assert!(report["tools"].as_array().unwrap().len() >= 10, "{report}");

    let gw = start_gateway_at(dir, config.clone()).await;
    let client = connect(&gw.url).await;
    let names = tool_names(&client).await;
    for allowed in
        ["files__read_text_file", "files__list_directory", "files__list_allowed_directories", "files__get_file_info"]
    {
        assert!(names.contains(&allowed.to_string()), "{allowed} missing from {names:?}");
    }
    let text = call_text(&client, "files__read_text_file", json!({"path": root.join("notes.txt")})).await;
    assert_eq!(text, "pinned and unchanged");
    client.cancel().await.unwrap();
    let records = audit_records(&gw.audit);
    assert!(records.iter().all(|r| r["integrity"].is_null()), "nothing drifted or was flagged: {records:#?}");
}

/// server-filesystem asks a client that declares roots for them and then
/// serves exactly those directories instead of its command-line ones. The
/// gateway relays that roots/list to the client (one upstream session per
/// client session), so what the client offers decides what the server can
/// reach: the policy's path rules, not the upstream's arguments, have to be
/// the confinement.
/// With `roots` pinned in the upstream's config, the gateway answers the
/// server's roots/list itself: the directories the client offers never
/// reach server-filesystem, which keeps to the one the operator chose.
#[tokio::test]
async fn pinned_roots_keep_server_filesystem_to_the_operators_directory() {
    let (configured, pinned, offered) =
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let configured = configured.path().canonicalize().unwrap();
    let pinned = pinned.path().canonicalize().unwrap();
    let offered_path = offered.path().canonicalize().unwrap();
    let upstream = format!("{}roots = [{:?}]\n", filesystem_upstream(&configured), pinned.display().to_string());
    let gw = start_gateway(&upstream, FILES_POLICY).await;
    let args =
        ["roots", "--mode", "legacy", "--root", offered_path.to_str().unwrap(), "--expect", pinned.to_str().unwrap()];
    let (report, output) = run_python_features(&args, &[&gw.url]).await;
    let context = format!("{report:#}\n{}", describe(&output));
    assert_eq!(report["roots"]["asked"], 0, "roots/list never reached the client: {context}");
    let text = report["roots"]["text"].as_str().unwrap_or_default();
    assert!(text.contains(pinned.to_str().unwrap()), "the pinned root is the server's directory: {context}");
    assert!(!text.contains(offered_path.to_str().unwrap()), "{context}");
    assert!(!text.contains(configured.to_str().unwrap()), "{context}");
}

#[tokio::test]
async fn python_sdk_roots_reach_server_filesystem() {
    let (configured, offered) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let configured = configured.path().canonicalize().unwrap();
    let offered_path = offered.path().canonicalize().unwrap();
    let gw = start_gateway(&filesystem_upstream(&configured), FILES_POLICY).await;
    let (report, output) =
        run_python_features(&["roots", "--mode", "legacy", "--root", offered_path.to_str().unwrap()], &[&gw.url]).await;
    let context = format!("{report:#}\n{}", describe(&output));
    assert!(report.get("exception").is_none(), "{context}");
    assert_eq!(report["roots"]["asked"], 1, "roots/list reached the client once: {context}");
    let text = report["roots"]["text"].as_str().unwrap_or_default();
    assert!(text.contains(offered_path.to_str().unwrap()), "{context}");
    assert!(!text.contains(configured.to_str().unwrap()), "{context}");
}
