//! The pipeline's stages against a fake session: what reaches the upstream,
//! what is refused, and what the audit log holds, and when.

use super::*;
use crate::config::GatewayConfig;
use crate::protocol::{Caller, ClientInfo};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use tokio::sync::{mpsc, oneshot};

/// A session with one upstream, "demo", that advertised the given tools.
struct FakePort {
    advertised: HashMap<String, Arc<Definition>>,
    /// What the upstream answers a call with.
    answer: Value,
    /// Every call that reached the upstream, with the audit records on disk at that moment.
    sent: Mutex<Vec<(Value, Vec<Value>)>>,
    audit: std::path::PathBuf,
    /// Replies to the gateway's own requests (the approval form), if any.
    form_reply: Mutex<Option<Value>>,
    /// Runs while the form is out: the world changing while a call is held.
    while_held: Mutex<Option<Box<dyn FnOnce() + Send>>>,
    flow: Mutex<super::flow::FlowState>,
}

impl FakePort {
    fn new(audit: &Path, tools: &[&str]) -> FakePort {
        let advertised = tools
            .iter()
            .map(|name| {
                let listed = json!({"name": name, "inputSchema": {"type": "object"}});
                (name.to_string(), Arc::new(Definition::new(listed)))
            })
            .collect();
        FakePort {
            advertised,
            answer: json!({"jsonrpc": "2.0", "id": 1, "result": {"content": []}}),
            sent: Mutex::new(Vec::new()),
            audit: audit.to_path_buf(),
            form_reply: Mutex::new(None),
            while_held: Mutex::new(None),
            flow: Mutex::default(),
        }
    }

    fn sent(&self) -> Vec<(Value, Vec<Value>)> {
        self.sent.lock().unwrap().clone()
    }
}

fn records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// The audit records once there are `n` of them: how a call ended is
/// written after the client has its answer, so it may still be on its way.
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

impl CallPort for FakePort {
    fn session_id(&self) -> &str {
        "s1"
    }

    fn resolve(&self, exposed: &str) -> Option<(usize, String)> {
        exposed.strip_prefix("demo__").map(|tool| (0, tool.to_string()))
    }

    fn server_name(&self, _upstream: usize) -> &str {
        "demo"
    }

    async fn definition(&self, _upstream: usize, tool: &str) -> Result<Option<Arc<Definition>>, GatewayError> {
        Ok(self.advertised.get(tool).cloned())
    }

    async fn send_call(&self, _: Cleared, _upstream: usize, _call: &Value, msg: Value) -> Result<Value, GatewayError> {
        self.sent.lock().unwrap().push((msg, records(&self.audit)));
        Ok(self.answer.clone())
    }

    fn progress_target(&self, _call: &Value) -> Option<(mpsc::Sender<Value>, Value)> {
        None
    }

    fn ask_client(&self, _call: &Value, _method: &str, _params: Value) -> Option<(Value, oneshot::Receiver<Value>)> {
        let reply = self.form_reply.lock().unwrap().take()?;
        if let Some(change) = self.while_held.lock().unwrap().take() {
            change();
        }
        let (tx, rx) = oneshot::channel();
        let _ = tx.send(reply);
        Some((json!("warden-1"), rx))
    }

    fn withdraw(&self, _call: &Value, _request: &Value, _reason: &str) {}

    fn cancelled(&self, _call: &Value) -> bool {
        false
    }

    fn flow(&self) -> &Mutex<super::flow::FlowState> {
        &self.flow
    }
}

/// A gateway without upstreams, with `policy` in force; its audit file.
fn gateway(dir: &Path, policy: &str, audit: &str) -> (Arc<Gateway>, std::path::PathBuf) {
    std::fs::write(dir.join("policy.toml"), policy).unwrap();
    let text =
        format!("policies = [\"policy.toml\"]\n[audit]\npath = {audit:?}\n[approval]\nstore = \"approvals.sqlite\"\n");
    let config = GatewayConfig::from_str(&text, &dir.join("gateway.toml")).unwrap();
    let audit = config.audit.path.clone();
    (Gateway::start(config).unwrap(), audit)
}

fn context(capabilities: Value) -> ClientContext {
    ClientContext {
        caller: Caller::Local,
        protocol_version: "2025-11-25".into(),
        capabilities,
        client_info: ClientInfo { name: Some("agent".into()), version: Some("1".into()) },
    }
}

fn tools_call(name: &str, arguments: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": name, "arguments": arguments}})
}

const ALLOW_ECHO: &str = "[[rules]]\nid = \"echo-ok\"\nserver = \"demo\"\ntools = [\"echo\"]\naction = \"allow\"\n";

async fn run(gw: &Arc<Gateway>, port: &FakePort, ctx: &ClientContext, msg: Value) -> Result<Value, GatewayError> {
    call_tool(gw, port, ctx, &json!(7), msg).await
}

#[tokio::test]
async fn an_allowed_call_is_on_record_before_it_reaches_the_upstream_and_its_ending_after() {
    let dir = tempfile::tempdir().unwrap();
    let (gw, audit) = gateway(dir.path(), ALLOW_ECHO, "audit.jsonl");
    let port = FakePort::new(&audit, &["echo"]);
    let answer = run(&gw, &port, &context(json!({})), tools_call("demo__echo", json!({"text": "hi"}))).await.unwrap();
    assert_eq!(answer["result"], json!({"content": []}));
    let sent = port.sent();
    assert_eq!(sent.len(), 1);
    let (msg, on_disk) = &sent[0];
    assert_eq!(msg["params"]["name"], "echo", "the upstream hears its own name for the tool");
    assert_eq!(msg["params"]["arguments"], json!({"text": "hi"}));
    assert_eq!(on_disk.len(), 1, "the decision was written before the call was forwarded");
    assert_eq!((on_disk[0]["outcome"].as_str(), on_disk[0]["rule"].as_str()), (Some("forwarded"), Some("echo-ok")));
    assert_eq!(on_disk[0]["server"], "demo");
    let all = records_when(&audit, 2).await;
    assert_eq!(all.len(), 2);
    assert_eq!(all[1]["outcome"], "completed");
}

#[tokio::test]
async fn a_tool_the_upstream_never_advertised_is_refused_whatever_the_policy_says() {
    let dir = tempfile::tempdir().unwrap();
    let (gw, audit) = gateway(dir.path(), "[defaults]\ntools = \"allow\"\n", "audit.jsonl");
    let port = FakePort::new(&audit, &["echo"]);
    let err = run(&gw, &port, &context(json!({})), tools_call("demo__write_file", json!({}))).await.unwrap_err();
    assert!(matches!(&err, GatewayError::UnknownTool { .. }), "{err:?}");
    assert!(err.to_string().contains("does not advertise a tool named \"write_file\""), "{err}");
    let err = run(&gw, &port, &context(json!({})), tools_call("nobody__echo", json!({}))).await.unwrap_err();
    assert!(err.to_string().contains("no upstream server has a tool named \"nobody__echo\""), "{err}");
    assert!(port.sent().is_empty());
    let all = records(&audit);
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|r| r["rule"] == "unknown-tool" && r["outcome"] == "blocked" && r["enforced"] == true));
    assert_eq!((all[0]["server"].as_str(), all[0]["tool"].as_str()), (Some("demo"), Some("write_file")));
}

#[tokio::test]
async fn audit_mode_forwards_a_denied_call_and_records_that_it_was_not_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let (gw, audit) = gateway(dir.path(), &format!("mode = \"audit\"\n{ALLOW_ECHO}"), "audit.jsonl");
    let port = FakePort::new(&audit, &["echo", "run_command"]);
    run(&gw, &port, &context(json!({})), tools_call("demo__run_command", json!({}))).await.unwrap();
    assert_eq!(port.sent().len(), 1);
    let decision = &records(&audit)[0];
    assert_eq!((decision["verdict"].as_str(), decision["enforced"].as_bool()), (Some("deny"), Some(false)));
    assert_eq!(decision["outcome"], "forwarded");
    // Even in audit mode, a tool nobody saw advertised is refused.
    let err = run(&gw, &port, &context(json!({})), tools_call("demo__secret", json!({}))).await.unwrap_err();
    assert!(matches!(err, GatewayError::UnknownTool { .. }));
    assert_eq!(port.sent().len(), 1);
}

#[tokio::test]
async fn a_denied_call_never_reaches_the_upstream_and_names_the_rule_and_argument() {
    let dir = tempfile::tempdir().unwrap();
    let policy = format!("{ALLOW_ECHO}deny_unknown_args = true\nargs.text = {{ max_length = 3 }}\n");
    let (gw, audit) = gateway(dir.path(), &policy, "audit.jsonl");
    let port = FakePort::new(&audit, &["echo"]);
    let err = run(&gw, &port, &context(json!({})), tools_call("demo__echo", json!({"text": "too long"}))).await;
    let GatewayError::PolicyDenied(denial) = err.unwrap_err() else { panic!("a policy denial") };
    assert_eq!((denial.rule.as_str(), denial.argument.as_deref()), ("echo-ok", Some("text")));
    assert_eq!(denial.constraint.as_deref(), Some("max_length"));
    assert!(port.sent().is_empty());
    let all = records(&audit);
    assert_eq!(all.len(), 1, "a refused call has no ending to record");
    assert_eq!((all[0]["outcome"].as_str(), all[0]["constraint"].as_str()), (Some("blocked"), Some("max_length")));
}

#[tokio::test]
async fn a_call_whose_decision_cannot_be_recorded_is_not_forwarded() {
    let dir = tempfile::tempdir().unwrap();
    if !Path::new("/dev/full").exists() {
        return;
    }
    let (gw, audit) = gateway(dir.path(), ALLOW_ECHO, "/dev/full");
    let port = FakePort::new(&audit, &["echo"]);
    let err = run(&gw, &port, &context(json!({})), tools_call("demo__echo", json!({}))).await.unwrap_err();
    assert!(matches!(err, GatewayError::AuditFailed(_)), "{err:?}");
    assert!(port.sent().is_empty());
}

#[tokio::test]
async fn an_upstream_error_is_recorded_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let (gw, audit) = gateway(dir.path(), ALLOW_ECHO, "audit.jsonl");
    let mut port = FakePort::new(&audit, &["echo"]);
    port.answer = json!({"jsonrpc": "2.0", "id": 1, "error": {"code": -32603, "message": "boom"}});
    let answer = run(&gw, &port, &context(json!({})), tools_call("demo__echo", json!({}))).await.unwrap();
    assert_eq!(answer["error"]["message"], "boom", "the upstream's error reaches the client as it was");
    let all = records_when(&audit, 2).await;
    assert_eq!(all.iter().map(|r| r["outcome"].as_str().unwrap()).collect::<Vec<_>>(), ["forwarded", "upstream_error"]);
}

const APPROVE_IN_CLIENT: &str = "[[rules]]\nid = \"echo-held\"\nserver = \"demo\"\ntools = [\"echo\"]\naction = \"approve\"\napproval = [\"elicitation\"]\n";

#[tokio::test]
async fn a_held_call_is_forwarded_once_the_person_at_the_client_approves_it() {
    let dir = tempfile::tempdir().unwrap();
    let (gw, audit) = gateway(dir.path(), APPROVE_IN_CLIENT, "audit.jsonl");
    let port = FakePort::new(&audit, &["echo"]);
    let approve = json!({"jsonrpc": "2.0", "id": "warden-1", "result": {"action": "accept", "content": {"decision": "approve", "reason": "fine"}}});
    *port.form_reply.lock().unwrap() = Some(approve);
    run(&gw, &port, &context(json!({"elicitation": {}})), tools_call("demo__echo", json!({}))).await.unwrap();
    let sent = port.sent();
    assert_eq!(sent.len(), 1);
    let outcomes: Vec<&str> = sent[0].1.iter().map(|r| r["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["pending", "approved"], "held, then approved, both on record before the call went out");
    assert_eq!(sent[0].1[1]["approval"]["approver"], "client:agent");
    assert_eq!(sent[0].1[1]["approval"]["channel"], "elicitation");
}

#[tokio::test]
async fn a_held_call_nobody_can_answer_is_denied_at_once_with_a_record() {
    let dir = tempfile::tempdir().unwrap();
    let (gw, audit) = gateway(dir.path(), APPROVE_IN_CLIENT, "audit.jsonl");
    let port = FakePort::new(&audit, &["echo"]);
    // This client cannot show forms, and the rule names no other channel.
    let err = run(&gw, &port, &context(json!({})), tools_call("demo__echo", json!({}))).await.unwrap_err();
    assert!(matches!(&err, GatewayError::ApprovalDenied { approver, .. } if approver == "mcp-warden"), "{err:?}");
    assert!(port.sent().is_empty());
    let all = records(&audit);
    assert_eq!((all[0]["verdict"].as_str(), all[0]["outcome"].as_str()), (Some("approve"), Some("denied")));
}

#[test]
fn a_call_record_names_the_caller_and_never_the_arguments() {
    let ctx = context(json!({}));
    let key = crate::audit::AuditKey::generate();
    let mut record = CallRecord::begin(&key, "s1", &ctx, "demo__echo", Some(&json!({"text": "secret-value"})));
    record.resolved("demo", "echo");
    let event = record.event(Outcome::Forwarded, 3, None);
    let line = serde_json::to_string(&event).unwrap();
    assert!(!line.contains("secret-value"));
    assert_eq!((event.server.as_str(), event.tool.as_str()), ("demo", "echo"));
    assert_eq!(record.caller(), "local");
}

#[tokio::test]
async fn an_approved_call_whose_arguments_stop_passing_while_it_waited_is_not_forwarded() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(root.join("notes.txt"), "fine").unwrap();
    std::fs::write(outside.join("secret.txt"), "secret").unwrap();
    let policy = format!(
        "[[rules]]\nid = \"read-held\"\nserver = \"demo\"\ntools = [\"read_file\"]\naction = \"approve\"\n\
         approval = [\"elicitation\"]\nargs.path = {{ path_within = [{:?}], resolve_symlinks = true }}\n",
        root.display().to_string()
    );
    let (gw, audit) = gateway(dir.path(), &policy, "audit.jsonl");
    let port = FakePort::new(&audit, &["read_file"]);
    let approve =
        json!({"jsonrpc": "2.0", "id": "warden-1", "result": {"action": "accept", "content": {"decision": "approve"}}});
    *port.form_reply.lock().unwrap() = Some(approve);
    // While the person looks at the form, the file becomes a symlink out of the root.
    let (file, target) = (root.join("notes.txt"), outside.join("secret.txt"));
    *port.while_held.lock().unwrap() = Some(Box::new(move || {
        std::fs::remove_file(&file).unwrap();
        std::os::unix::fs::symlink(&target, &file).unwrap();
    }));
    let path = root.join("notes.txt").display().to_string();
    let err =
        run(&gw, &port, &context(json!({"elicitation": {}})), tools_call("demo__read_file", json!({"path": path})))
            .await
            .unwrap_err();
    let GatewayError::PolicyDenied(denial) = &err else { panic!("a policy refusal, got {err:?}") };
    assert_eq!((denial.rule.as_str(), denial.constraint.as_deref()), ("read-held", Some("path_within")));
    assert!(port.sent().is_empty(), "the approved call was not forwarded");
    let all = records(&audit);
    let last = all.last().unwrap();
    assert_eq!(last["outcome"], "denied");
    let reason = last["approval"]["reason"].as_str().unwrap();
    assert!(reason.contains("checked again before forwarding"), "{reason}");
}
