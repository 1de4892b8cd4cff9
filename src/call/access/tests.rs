//! The access pipeline against a fake session: what reaches the upstream,
//! what is refused, and what the audit log holds, and when.

use super::*;
use crate::config::GatewayConfig;
use crate::protocol::{Caller, ClientInfo};
use serde_json::json;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// A session with one upstream, "internal", that answers every request.
struct FakePort {
    /// Every request that reached the upstream, with the audit records on disk at that moment.
    sent: Mutex<Vec<(Value, Vec<Value>)>>,
    audit: std::path::PathBuf,
}

impl AccessPort for FakePort {
    fn session_id(&self) -> &str {
        "s1"
    }

    fn server_name(&self, _upstream: usize) -> &str {
        "internal"
    }

    async fn forward(&self, _upstream: usize, _request: &Value, msg: Value) -> Result<Value, GatewayError> {
        self.sent.lock().unwrap().push((msg, records(&self.audit)));
        Ok(json!({"jsonrpc": "2.0", "id": 1, "result": {"contents": [{"uri": "internal://handbook", "text": "hi"}]}}))
    }
}

fn records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

async fn records_when(path: &Path, n: usize) -> Vec<Value> {
    for _ in 0..500 {
        let found = records(path);
        if found.len() >= n {
            return found;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("expected {n} audit records, have {:?}", records(path));
}

/// The shape of issue 10's attack: one harmless tool allowed, plus (in
/// `extra`) whatever the test adds.
fn setup(dir: &Path, extra: &str) -> (Arc<Gateway>, FakePort) {
    let policy = format!(
        "{extra}\n[[rules]]\nid = \"echo-only\"\nserver = \"internal\"\ntools = [\"echo\"]\naction = \"allow\"\n"
    );
    std::fs::write(dir.join("policy.toml"), policy).unwrap();
    let text =
        "policies = [\"policy.toml\"]\n[audit]\npath = \"audit.jsonl\"\n[approval]\nstore = \"approvals.sqlite\"\n";
    let config = GatewayConfig::from_str(text, &dir.join("gateway.toml")).unwrap();
    let audit = config.audit.path.clone();
    (Gateway::start(config).unwrap(), FakePort { sent: Mutex::new(Vec::new()), audit })
}

fn context() -> ClientContext {
    ClientContext {
        caller: Caller::Local,
        protocol_version: "2025-11-25".into(),
        capabilities: json!({}),
        client_info: ClientInfo { name: Some("agent".into()), version: Some("1".into()) },
    }
}

async fn read(
    gw: &Gateway,
    port: &FakePort,
    uri: &str,
    upstream: Result<usize, String>,
) -> Result<Value, GatewayError> {
    let msg = json!({"jsonrpc": "2.0", "id": 7, "method": "resources/read", "params": {"uri": uri}});
    let params = json!({"uri": uri});
    let request =
        AccessRequest { method: "resources/read", upstream, access: Access::Resource(uri), arguments: Some(&params) };
    access(gw, port, &context(), &json!(7), request, msg).await
}

#[tokio::test]
async fn allowing_a_tool_does_not_let_its_servers_credentials_be_read() {
    let dir = tempfile::tempdir().unwrap();
    let (gw, port) = setup(dir.path(), "");
    let err = read(&gw, &port, "internal://credentials", Ok(0)).await.unwrap_err();
    let GatewayError::PolicyDenied(denial) = &err else { panic!("a policy denial: {err:?}") };
    assert_eq!((denial.rule.as_str(), denial.tool.as_str()), ("defaults.resources", "internal://credentials"));
    assert_eq!(err.code(), crate::errors::code::POLICY_DENIED);
    assert!(port.sent.lock().unwrap().is_empty(), "the read never reached the upstream");
    let all = records(&port.audit);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["method"], "resources/read");
    assert_eq!(all[0]["tool"], "internal://credentials");
    assert_eq!((all[0]["verdict"].as_str(), all[0]["outcome"].as_str()), (Some("deny"), Some("blocked")));
    assert_eq!(all[0]["server"], "internal");
}

#[tokio::test]
async fn an_allowed_read_is_on_record_before_it_reaches_the_upstream_and_its_ending_after() {
    let dir = tempfile::tempdir().unwrap();
    let rule = "[[rules]]\nid = \"handbook\"\nserver = \"internal\"\nresources = [\"internal://handbook\"]\naction = \"allow\"\n";
    let (gw, port) = setup(dir.path(), rule);
    let answer = read(&gw, &port, "internal://handbook", Ok(0)).await.unwrap();
    assert_eq!(answer["result"]["contents"][0]["text"], "hi");
    let sent = port.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0["params"]["uri"], "internal://handbook", "the upstream hears the URI as sent");
    assert_eq!(sent[0].1.len(), 1, "the decision was written before the read was forwarded");
    assert_eq!(
        (sent[0].1[0]["outcome"].as_str(), sent[0].1[0]["rule"].as_str()),
        (Some("forwarded"), Some("handbook"))
    );
    let all = records_when(&port.audit, 2).await;
    assert_eq!((all[1]["outcome"].as_str(), all[1]["method"].as_str()), (Some("completed"), Some("resources/read")));
    assert!(all[1]["args_digest"].as_str().unwrap().starts_with("hmac-sha256:"));
}

#[tokio::test]
async fn audit_mode_forwards_a_refused_read_and_records_that_it_was_not_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let (gw, port) = setup(dir.path(), "mode = \"audit\"");
    read(&gw, &port, "internal://credentials", Ok(0)).await.unwrap();
    assert_eq!(port.sent.lock().unwrap().len(), 1);
    let decision = &records(&port.audit)[0];
    assert_eq!((decision["verdict"].as_str(), decision["enforced"].as_bool()), (Some("deny"), Some(false)));
    // What no upstream can serve is refused in every mode.
    let err = read(&gw, &port, "internal://nowhere", Err("no upstream lists it".into())).await.unwrap_err();
    assert!(matches!(err, GatewayError::InvalidParams(_)), "{err:?}");
    assert_eq!(port.sent.lock().unwrap().len(), 1);
    let unknown = records_when(&port.audit, 3).await.into_iter().find(|r| r["rule"] == "unknown-resource").unwrap();
    assert_eq!((unknown["outcome"].as_str(), unknown["enforced"].as_bool()), (Some("blocked"), Some(true)));
}

#[tokio::test]
async fn a_read_whose_decision_cannot_be_recorded_is_not_forwarded() {
    if !Path::new("/dev/full").exists() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rule = "[[rules]]\nid = \"handbook\"\nserver = \"internal\"\nresources = [\"*\"]\naction = \"allow\"\n";
    std::fs::write(dir.path().join("policy.toml"), rule).unwrap();
    let text =
        "policies = [\"policy.toml\"]\n[audit]\npath = \"/dev/full\"\n[approval]\nstore = \"approvals.sqlite\"\n";
    let config = GatewayConfig::from_str(text, &dir.path().join("gateway.toml")).unwrap();
    let gw = Gateway::start(config).unwrap();
    let port = FakePort { sent: Mutex::new(Vec::new()), audit: dir.path().join("none.jsonl") };
    let err = read(&gw, &port, "internal://handbook", Ok(0)).await.unwrap_err();
    assert!(matches!(err, GatewayError::AuditFailed(_)), "{err:?}");
    assert!(port.sent.lock().unwrap().is_empty());
}

#[test]
fn a_long_uri_is_cut_in_the_record_on_a_character_boundary() {
    let name = format!("internal://{}", "é".repeat(600));
    let cut = recorded_name(&name);
    assert!(cut.len() <= RECORDED_NAME_BYTES + '…'.len_utf8());
    assert!(cut.ends_with('…'));
    assert_eq!(recorded_name("internal://short"), "internal://short");
}
