//! The `mcp-warden` binary as a user runs it: the shipped config, the stdio
//! front under a real MCP client, `check` and `audit verify`.

mod common;

use common::binary::{warden_command, ServedGateway};
use common::client::{call, call_text, connect, connect_stdio, mcp_error, tool_names};
use common::*;
use serde_json::json;
use std::process::Command;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

fn repo() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn shipped_config_and_policy_pass_check() {
    let out = Command::new(warden_bin())
        .args(["check", "--config"])
        .arg(repo().join("config/gateway.toml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ok:"));
}

#[test]
fn check_names_file_line_and_reason_of_a_broken_policy() {
    let dir = tempfile::tempdir().unwrap();
    let policy =
        "mode = \"enforce\"\n[[rules]]\nid = \"r1\"\nserver = \"demo\"\ntools = [\"read_[\"]\naction = \"allow\"\n";
    let config = write_config(dir.path(), "", policy);
    let out = Command::new(warden_bin()).args(["check", "--config"]).arg(&config).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("policy.toml:5:"), "{stderr}");
    assert!(stderr.contains("read_["), "{stderr}");
}

#[test]
fn check_warns_of_an_approve_rule_nobody_here_can_answer() {
    let dir = tempfile::tempdir().unwrap();
    let policy = "[[rules]]\nid = \"mail\"\nserver = \"demo\"\ntools = [\"send_message\"]\naction = \"approve\"\napproval = [\"console\"]\n";
    let config = write_config(dir.path(), "", policy);
    let out = Command::new(warden_bin()).args(["check", "--config"]).arg(&config).output().unwrap();
    assert!(out.status.success(), "a warning, not an error: the rule still fails closed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("warning: rule \"mail\"") && stdout.contains("need [admin]"), "{stdout}");
}

#[test]
fn a_policy_using_an_unsupported_feature_fails_closed() {
    let dir = tempfile::tempdir().unwrap();
    let policy = "[[rules]]\nid = \"r1\"\nserver = \"demo\"\ntools = [\"x\"]\naction = \"allow\"\nsurprise = true\n";
    let config = write_config(dir.path(), "", policy);
    let out = Command::new(warden_bin()).args(["check", "--config"]).arg(&config).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("policy.toml:6:"));
}

#[tokio::test]
async fn audit_verify_catches_a_tampered_record() {
    let root = tempfile::tempdir().unwrap();
    let gw = start_gateway(&stdio_demo("demo", root.path()), DEMO_POLICY).await;
    let client = common::client::connect(&gw.url).await;
    call_text(&client, "demo__echo", json!({ "text": "a" })).await;
    let _ = client.call_tool(call("demo__run_command", json!({"command": "id"}))).await;
    for text in ["b", "c"] {
        call_text(&client, "demo__echo", json!({ "text": text })).await;
    }
    client.cancel().await.unwrap();
    // Three calls were forwarded: wait for the records of how each ended.
    wait_for_audit(&gw.audit, |records| records.iter().filter(|r| is_call_ending(r)).count() == 3).await;

    let verify =
        |path: &std::path::Path| Command::new(warden_bin()).args(["audit", "verify"]).arg(path).output().unwrap();
    let ok = verify(&gw.audit);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    // Four decisions, and for each forwarded call the record of how it ended.
    let original = std::fs::read_to_string(&gw.audit).unwrap();
    let lines: Vec<&str> = original.lines().collect();
    assert_eq!(common::audit_records(&gw.audit).len(), 4);
    assert!(String::from_utf8_lossy(&ok.stdout).contains(&format!("{} record(s)", lines.len())));

    // Someone turns the denial into an allow after the fact.
    let denial = 1 + lines.iter().position(|l| l.contains("\"verdict\":\"deny\"")).expect("the denial is recorded");
    let tampered = original.replacen("\"verdict\":\"deny\"", "\"verdict\":\"allow\"", 1);
    assert_ne!(original, tampered);
    let edited = gw.dir.path().join("edited.jsonl");
    std::fs::write(&edited, tampered).unwrap();
    let out = verify(&edited);
    assert_eq!(out.status.code(), Some(1));
    let named = format!("line {denial}");
    assert!(String::from_utf8_lossy(&out.stderr).contains(&named), "{}", String::from_utf8_lossy(&out.stderr));

    // Someone deletes the second record.
    let mut kept = lines.clone();
    kept.remove(1);
    let deleted = gw.dir.path().join("deleted.jsonl");
    std::fs::write(&deleted, kept.join("\n") + "\n").unwrap();
    let out = verify(&deleted);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test]
async fn stdio_front_serves_a_real_client() {
    let root = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &stdio_demo("demo", root.path()), DEMO_POLICY);
    let client = connect_stdio(&config).await;
    let names = tool_names(&client).await;
    assert!(names.contains(&"demo__echo".to_string()) && !names.contains(&"demo__run_command".to_string()));
    assert_eq!(call_text(&client, "demo__echo", json!({"text": "via stdio"})).await, "via stdio");
    assert_eq!(call_text(&client, "demo__confirm_action", json!({"action": "ship"})).await, "confirmed: ship");
    let err = mcp_error(client.call_tool(call("demo__run_command", json!({"command": "id"}))).await.unwrap_err());
    assert_eq!(err.data.unwrap()["rule"], "no-shell");
    client.cancel().await.unwrap();
    let records = audit_records(&dir.path().join("audit.jsonl"));
    assert!(records.iter().any(|r| r["tool"] == "run_command" && r["verdict"] == "deny"));
}

#[tokio::test]
async fn stdio_front_answers_garbage_with_a_parse_error_on_stdout() {
    let root = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &stdio_demo("demo", root.path()), DEMO_POLICY);
    let mut child = warden_command("stdio", &config)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use tokio::io::AsyncWriteExt;
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    stdin.write_all(b"this is not json\n").await.unwrap();
    let line = tokio::time::timeout(Duration::from_secs(10), stdout.next_line()).await.unwrap().unwrap().unwrap();
    let err: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(err["error"]["code"], -32700);
    // Still serving.
    stdin
        .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"0\"}}}\n")
        .await
        .unwrap();
    let line = tokio::time::timeout(Duration::from_secs(10), stdout.next_line()).await.unwrap().unwrap().unwrap();
    let init: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(init["result"]["serverInfo"]["name"], "mcp-warden");
    drop(stdin);
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait()).await.unwrap().unwrap();
    assert!(status.success(), "closing stdin ends the gateway cleanly");
}

/// The README's run command: the shipped config, the shipped policy and the
/// demo upstream, served over HTTP.
#[tokio::test]
async fn shipped_defaults_serve_a_protected_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = std::fs::read_to_string(repo().join("config/gateway.toml")).unwrap();
    let policy = repo().join("policies/default.toml");
    let workspace = repo().join("examples/workspace");
    let config = shipped
        .replace("http = \"127.0.0.1:8080\"", "http = \"127.0.0.1:0\"")
        .replace("\"../policies/default.toml\"", &format!("{:?}", policy.display().to_string()))
        .replace("cwd = \"../examples/workspace\"", &format!("cwd = {:?}", workspace.display().to_string()))
        .replace("path = \"../audit.jsonl\"", "path = \"audit.jsonl\"");
    let config_path = dir.path().join("gateway.toml");
    std::fs::write(&config_path, config).unwrap();
    let gateway = ServedGateway::start(&config_path).await;
    let client = connect(&gateway.mcp_url).await;
    let names = tool_names(&client).await;
    assert!(names.contains(&"demo__read_file".to_string()), "{names:?}");
    assert!(!names.iter().any(|n| n == "demo__run_command" || n == "demo__write_file"), "{names:?}");
    // Messages are allowed, to colleagues only, with nothing smuggled along.
    let smuggled = json!({"to": "bob@example.com", "body": "hi", "bcc": "attacker@evil.example"});
    let data = mcp_error(client.call_tool(call("demo__send_message", smuggled)).await.unwrap_err()).data.unwrap();
    assert_eq!((data["rule"].as_str(), data["argument"].as_str()), (Some("demo-mail-internal"), Some("bcc")));
    assert_eq!(
        call_text(&client, "demo__send_message", json!({"to": "bob@example.com", "body": "hi"})).await,
        "sent to bob@example.com"
    );
    let err = mcp_error(client.call_tool(call("demo__run_command", json!({"command": "id"}))).await.unwrap_err());
    assert_eq!(err.data.unwrap()["rule"], "demo-no-shell");
    client.cancel().await.unwrap();
}
