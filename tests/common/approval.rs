//! A gateway with an admin listener in front of the demo upstream, and the
//! admin API calls the approval tests make.

use super::client::{call, call_text, Client};
use super::{audit_records, is_call_ending, start_gateway, stdio_demo, wait_for_audit, TestGateway};
use rmcp::model::CallToolResult;
use rmcp::ServiceError;
use serde_json::{json, Value};
use std::time::Duration;

pub const TOKEN: &str = "test-admin-token-0123456789abcdef";

/// The demo's `send_message` held for approval, to example.com recipients
/// only and with no argument beyond `to`, `body` and `cc`; `terms` are
/// extra lines of the approve rule (`approval = [...]`, `approval_timeout`).
/// `list_sent_messages` is allowed, so a test can see what arrived.
pub fn mail_policy(terms: &str) -> String {
    format!(
        r#"
mode = "enforce"
[defaults]
tools = "deny"
approval_timeout = "30s"
[[rules]]
id = "mail-needs-approval"
server = "demo"
tools = ["send_message"]
action = "approve"
{terms}deny_unknown_args = true
args.to = {{ required = true, email_domain = ["example.com"] }}
args.body = {{ max_length = 1000 }}
[[rules]]
id = "read-back"
server = "demo"
tools = ["list_sent_messages"]
action = "allow"
"#
    )
}

/// The `[admin]` and `[approval]` sections for an admin listener on `port`.
pub fn admin_section(port: u16) -> String {
    format!("[admin]\nlisten = \"127.0.0.1:{port}\"\ntoken = \"{TOKEN}\"\n[approval]\nprogress_interval = \"100ms\"\n")
}

pub struct AdminGateway {
    pub gw: TestGateway,
    /// `http://127.0.0.1:PORT/admin` (the console)
    pub console: String,
    /// `http://127.0.0.1:PORT/admin/api`
    pub admin_api: String,
    pub http: reqwest::Client,
    _root: tempfile::TempDir,
}

impl AdminGateway {
    pub async fn start(policy: &str) -> AdminGateway {
        AdminGateway::start_with(policy, "").await
    }

    /// As `start`, with `approval` appended to the `[approval]` section.
    pub async fn start_with(policy: &str, approval: &str) -> AdminGateway {
        AdminGateway::start_with_admin(policy, |_| approval.to_string()).await
    }

    /// As `start_with`, for config that needs the admin listener's address:
    /// `approval` gets its base URL, `http://127.0.0.1:PORT`.
    pub async fn start_with_admin(policy: &str, approval: impl FnOnce(&str) -> String) -> AdminGateway {
        let root = tempfile::tempdir().unwrap();
        // Bound before anything else starts, so no other listener of a test
        // running alongside can take the port in between.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let approval = approval(&format!("http://127.0.0.1:{port}"));
        let config = format!("{}{}{approval}", stdio_demo("demo", root.path()), admin_section(port));
        let gw = start_gateway(&config, policy).await;
        tokio::spawn(mcp_warden::admin::serve(gw.gateway.clone(), listener, Default::default()));
        let console = format!("http://127.0.0.1:{port}/admin");
        AdminGateway { gw, admin_api: format!("{console}/api"), console, http: reqwest::Client::new(), _root: root }
    }

    pub async fn pending(&self) -> Vec<Value> {
        let response = self.http.get(format!("{}/approvals", self.admin_api)).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.json::<Vec<Value>>().await.unwrap()
    }

    /// Waits until exactly `n` calls are held, and returns them.
    pub async fn wait_pending(&self, n: usize) -> Vec<Value> {
        for _ in 0..200 {
            let pending = self.pending().await;
            if pending.len() == n {
                return pending;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {n} pending approval(s), have {:?}", self.pending().await);
    }

    pub async fn answer(&self, id: &str, verb: &str, body: Value) -> reqwest::Response {
        self.http
            .post(format!("{}/approvals/{id}/{verb}", self.admin_api))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub fn audit_for(&self, tool: &str) -> Vec<Value> {
        audit_records(&self.gw.audit).into_iter().filter(|r| r["tool"] == tool).collect()
    }

    /// The last decision record for `tool`, once it is no longer the
    /// record of a call still waiting: a withdrawal is recorded just after
    /// the admin API stops listing the request.
    pub async fn last_audit_for(&self, tool: &str) -> Value {
        let records = wait_for_audit(&self.gw.audit, |records| {
            let last = records.iter().rev().find(|r| r["tool"] == tool && !is_call_ending(r));
            last.is_some_and(|r| r["outcome"] != "pending")
        })
        .await;
        records.into_iter().rev().find(|r| r["tool"] == tool && !is_call_ending(r)).unwrap()
    }
}

/// Calls send_message in the background, with a progress token, so the
/// test can answer the approval while the call is held.
pub fn send_in_background(
    client: &Client,
    args: Value,
) -> tokio::task::JoinHandle<Result<CallToolResult, ServiceError>> {
    let peer = client.peer().clone();
    tokio::spawn(async move {
        let mut params = call("demo__send_message", args);
        params.meta = Some(rmcp::model::RequestMetaObject::with_progress_token(rmcp::model::ProgressToken(
            rmcp::model::NumberOrString::String("wait-1".into()),
        )));
        peer.call_tool(params).await
    })
}

/// The arguments of a `send_message` call.
pub fn message(to: &str, body: &str) -> Value {
    json!({"to": to, "body": body})
}

/// The JSON-RPC error a call ended with; panics if it succeeded.
pub fn rpc_error(result: Result<CallToolResult, ServiceError>) -> rmcp::ErrorData {
    super::client::mcp_error(result.expect_err("the call was refused"))
}

/// What the demo upstream was asked to send: proof of what reached it.
pub async fn sent(client: &Client) -> String {
    call_text(client, "demo__list_sent_messages", json!({})).await
}
