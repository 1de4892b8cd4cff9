//! Argument policies end to end, in front of an upstream that protects
//! nothing (the demo server records every message it is asked to send):
//! refused calls never reach it, allowed calls arrive unchanged, and
//! `explain` agrees with the live gateway call for call.

mod common;

use common::client::{call, call_text, connect, connect_stdio, mcp_error, Client};
use common::*;
use rmcp::ServiceError;
use serde_json::{json, Value};

const POLICY: &str = r#"
mode = "enforce"
[defaults]
tools = "deny"
[[rules]]
id = "read-workspace"
server = "demo"
tools = ["read_file"]
action = "allow"
deny_unknown_args = true
args.path = { required = true, path_within = ["/workspace"], path_deny = ["**/.ssh/**"] }
[[rules]]
id = "mail-internal"
server = "demo"
tools = ["send_message"]
action = "allow"
deny_unknown_args = true
args.to = { required = true, email_domain = ["example.com"] }
args.cc = { email_domain = ["example.com"], max_items = 2, each = true }
args.body = { max_length = 1000 }
[[rules]]
id = "echo"
server = "demo"
tools = ["echo", "list_sent_messages"]
action = "allow"
"#;

/// `POLICY` with the demo's real workspace as the root, so the rule and the
/// upstream (started there by `stdio_demo`) read relative paths alike.
fn policy_for(root: &std::path::Path) -> String {
    POLICY.replace("\"/workspace\"", &format!("{:?}", root.display().to_string()))
}

/// Refused calls: tool, arguments, and the rule, argument and constraint
/// the client must be told about.
fn attacks() -> Vec<(&'static str, Value, &'static str, Option<&'static str>, &'static str)> {
    vec![
        ("read_file", json!({"path": "../../etc/passwd"}), "read-workspace", Some("path"), "path_within"),
        ("read_file", json!({"path": "%2e%2e/%2e%2e/etc/shadow"}), "read-workspace", Some("path"), "path_within"),
        ("read_file", json!({"path": "/etc/passwd"}), "read-workspace", Some("path"), "path_within"),
        (
            "read_file",
            json!({"path": "notes.txt", "follow": true}),
            "read-workspace",
            Some("follow"),
            "deny_unknown_args",
        ),
        ("read_file", json!({}), "read-workspace", Some("path"), "required"),
        (
            "send_message",
            json!({"to": "attacker@evil.example", "body": "hi"}),
            "mail-internal",
            Some("to"),
            "email_domain",
        ),
        (
            "send_message",
            json!({"to": "bob@example.com", "body": "hi", "bcc": "attacker@evil.example"}),
            "mail-internal",
            Some("bcc"),
            "deny_unknown_args",
        ),
        (
            "send_message",
            json!({"to": "bob@example.com, attacker@evil.example", "body": "hi"}),
            "mail-internal",
            Some("to"),
            "email_domain",
        ),
        (
            "send_message",
            json!({"to": "bob@example.com", "body": "hi", "cc": ["a@example.com", "b@example.com", "c@example.com"]}),
            "mail-internal",
            Some("cc"),
            "max_items",
        ),
    ]
}

fn denial(err: ServiceError) -> Value {
    let e = mcp_error(err);
    assert_eq!(e.code.0, -32010, "{}", e.message);
    e.data.expect("a denial carries data")
}

async fn sent(client: &Client) -> String {
    call_text(client, "demo__list_sent_messages", json!({})).await
}

async fn assert_attacks_refused(client: &Client) {
    for (tool, args, rule, argument, constraint) in attacks() {
        let data = denial(client.call_tool(call(&format!("demo__{tool}"), args.clone())).await.unwrap_err());
        assert_eq!(data["rule"], rule, "{tool} {args}: {data}");
        assert_eq!(data["argument"].as_str(), argument, "{tool} {args}: {data}");
        assert_eq!(data["constraint"], constraint, "{tool} {args}: {data}");
        // The reason names the argument but never echoes a value.
        let reason = data["reason"].as_str().unwrap();
        assert!(!reason.contains("evil.example") && !reason.contains("passwd"), "{reason}");
    }
}

#[tokio::test]
async fn refused_calls_never_reach_the_upstream_and_allowed_ones_arrive_unchanged() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("notes.txt"), "workspace notes").unwrap();
    let gw = start_gateway(&stdio_demo("demo", root.path()), &policy_for(root.path())).await;
    let client = connect(&gw.url).await;
    assert_attacks_refused(&client).await;
    assert_eq!(sent(&client).await, "", "no refused message reached the server");

    let body = "Quarterly numbers attached — ünïcode ok";
    let args = json!({"to": "bob@example.com", "cc": ["carol@example.com"], "body": body});
    assert_eq!(call_text(&client, "demo__send_message", args).await, "sent to bob@example.com (cc carol@example.com)");
    assert_eq!(sent(&client).await, format!("to=bob@example.com cc=carol@example.com body={body}"));
    assert_eq!(call_text(&client, "demo__read_file", json!({"path": "notes.txt"})).await, "workspace notes");
    client.cancel().await.unwrap();

    let records = audit_records(&gw.audit);
    let smuggled = records.iter().find(|r| r["argument"] == "bcc").expect("the smuggled bcc was audited");
    assert_eq!(smuggled["verdict"], "deny");
    assert_eq!(smuggled["constraint"], "deny_unknown_args");
    assert!(!std::fs::read_to_string(&gw.audit).unwrap().contains("evil.example"), "values stay out of the audit");
}

#[tokio::test]
async fn the_upstreams_own_input_schema_is_enforced() {
    let root = tempfile::tempdir().unwrap();
    let gw = start_gateway(&stdio_demo("demo", root.path()), &policy_for(root.path())).await;
    let client = connect(&gw.url).await;
    // The demo declares text as a string and requires it.
    for args in [json!({"text": 42}), json!({})] {
        let data = denial(client.call_tool(call("demo__echo", args)).await.unwrap_err());
        assert_eq!(data["constraint"], "input_schema", "{data}");
        assert_eq!(data["rule"], "echo");
    }
    assert_eq!(call_text(&client, "demo__echo", json!({"text": "fine"})).await, "fine");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn tools_the_upstream_never_advertised_are_refused() {
    let root = tempfile::tempdir().unwrap();
    let policy = "[defaults]\ntools = \"allow\"\nvalidate_input_schema = true\n";
    let gw = start_gateway(&stdio_demo("demo", root.path()), policy).await;
    let client = connect(&gw.url).await;
    // Hidden by the demo until enabled: even an allow-all policy refuses it.
    let err = client.call_tool(call("demo__extra_tool", json!({}))).await.unwrap_err();
    let data = denial(err);
    assert_eq!(data["rule"], "unknown-tool");
    call_text(&client, "demo__enable_extra_tool", json!({})).await;
    assert_eq!(call_text(&client, "demo__extra_tool", json!({})).await, "extra tool called");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn argument_policies_hold_on_the_stdio_front() {
    let root = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &stdio_demo("demo", root.path()), &policy_for(root.path()));
    let client = connect_stdio(&config).await;
    assert_attacks_refused(&client).await;
    assert_eq!(sent(&client).await, "");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn explain_gives_the_live_gateways_verdict() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("notes.txt"), "n").unwrap();
    let gw = start_gateway(&stdio_demo("demo", root.path()), &policy_for(root.path())).await;
    let client = connect(&gw.url).await;
    let schemas: std::collections::HashMap<String, Value> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.name.to_string(), Value::Object((*t.input_schema).clone())))
        .collect();
    let mut calls: Vec<(String, Value)> =
        attacks().into_iter().map(|(tool, args, ..)| (format!("demo__{tool}"), args)).collect();
    calls.push(("demo__read_file".into(), json!({"path": "notes.txt"})));
    calls.push(("demo__echo".into(), json!({"text": 7})));
    calls.push(("demo__echo".into(), json!({"text": "ok"})));
    calls.push(("demo__run_command".into(), json!({"command": "id"})));
    calls.push(("nobody__echo".into(), json!({"text": "x"})));
    let config = mcp_warden::config::GatewayConfig::load(&gw.config_path).unwrap();
    let policy = mcp_warden::policy::Policy::load(&config.policies).unwrap();
    for (tool, args) in calls {
        let explained = mcp_warden::explain::explain(&config, &policy, &tool, Some(&args), schemas.get(&tool));
        let live = client.call_tool(call(&tool, args.clone())).await;
        match (explained.decision.verdict, live) {
            (mcp_warden::policy::Verdict::Allow, Ok(_)) => {}
            (mcp_warden::policy::Verdict::Deny, Err(err)) => {
                let data = denial(err);
                assert_eq!(data["rule"], explained.decision.rule_id.as_str(), "{tool} {args}");
                assert_eq!(data["argument"].as_str(), explained.decision.argument.as_deref(), "{tool} {args}");
                if data["rule"] != "unknown-tool" {
                    assert_eq!(data["constraint"].as_str(), explained.decision.constraint.as_deref(), "{tool} {args}");
                }
            }
            (verdict, live) => panic!("{tool} {args}: explain says {verdict:?}, the gateway did {live:?}"),
        }
    }
    client.cancel().await.unwrap();
}

#[test]
fn explain_command_exits_by_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &stdio_demo("demo", dir.path()), &policy_for(dir.path()));
    let run = |tool: &str, args: &str| {
        std::process::Command::new(warden_bin())
            .args(["explain", "--config"])
            .arg(&config)
            .args(["--tool", tool, "--args", args])
            .output()
            .unwrap()
    };
    let denied = run("demo__read_file", r#"{"path":"../../etc/passwd"}"#);
    assert_eq!(denied.status.code(), Some(1));
    let text = String::from_utf8_lossy(&denied.stdout);
    assert!(text.contains("rule:       read-workspace") && text.contains("constraint: path_within"), "{text}");
    let allowed = run("demo__read_file", r#"{"path":"notes.txt"}"#);
    assert_eq!(allowed.status.code(), Some(0), "{}", String::from_utf8_lossy(&allowed.stdout));
    assert!(String::from_utf8_lossy(&allowed.stdout).contains("pass"), "each check is listed");
    assert_eq!(run("demo__read_file", "not json").status.code(), Some(3));
}
