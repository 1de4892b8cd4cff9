//! The admin API's client, for `mcp-warden approvals ...`: reads the admin
//! address and token from the gateway's configuration and speaks JSON.

use crate::config::GatewayConfig;
use serde_json::{json, Value};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the configuration has no [admin] section: there is no admin API to talk to")]
    NoAdmin,
    #[error("cannot reach the admin API at {url}: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("the admin API refused: HTTP {status}: {message}")]
    Refused { status: u16, message: String },
}

pub struct AdminClient {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl AdminClient {
    pub fn new(config: &GatewayConfig) -> Result<AdminClient, ClientError> {
        let admin = config.admin.as_ref().ok_or(ClientError::NoAdmin)?;
        let mut addr = admin.listen;
        // A gateway listening on every interface is reached on loopback.
        if addr.ip().is_unspecified() {
            addr.set_ip(if addr.is_ipv4() {
                std::net::Ipv4Addr::LOCALHOST.into()
            } else {
                std::net::Ipv6Addr::LOCALHOST.into()
            });
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| ClientError::Unreachable { url: addr.to_string(), detail: e.to_string() })?;
        Ok(AdminClient { base: format!("http://{addr}/admin/api"), token: admin.token.clone(), http })
    }

    async fn send(&self, request: reqwest::RequestBuilder, url: &str) -> Result<Value, ClientError> {
        let response = request
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| ClientError::Unreachable { url: url.to_string(), detail: e.to_string() })?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            let message = body.get("error").and_then(Value::as_str).unwrap_or("no detail").to_string();
            return Err(ClientError::Refused { status: status.as_u16(), message });
        }
        Ok(body)
    }

    pub async fn pending(&self) -> Result<Value, ClientError> {
        let url = format!("{}/approvals", self.base);
        self.send(self.http.get(&url), &url).await
    }

    pub async fn approve(
        &self,
        id: &str,
        scope: &str,
        any_args: bool,
        reason: &str,
        approver: &str,
    ) -> Result<Value, ClientError> {
        let url = format!("{}/approvals/{}/approve", self.base, encode(id));
        let body =
            json!({"scope": scope, "any_args": any_args, "reason": reason, "approver": approver, "channel": "cli"});
        self.send(self.http.post(&url).json(&body), &url).await
    }

    pub async fn deny(&self, id: &str, reason: &str, approver: &str) -> Result<Value, ClientError> {
        let url = format!("{}/approvals/{}/deny", self.base, encode(id));
        let body = json!({"reason": reason, "approver": approver, "channel": "cli"});
        self.send(self.http.post(&url).json(&body), &url).await
    }
}

/// Request ids are `apr_<hex>`; anything else is percent-encoded so it
/// cannot change the path.
fn encode(id: &str) -> String {
    id.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The approver name the CLI reports: `cli:$USER`.
pub fn cli_approver() -> String {
    let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}

/// A pending request as one line of `approvals list`.
pub fn summary_line(request: &Value) -> String {
    format!(
        "{}  {}/{}  {}  expires {}",
        request["id"].as_str().unwrap_or("?"),
        request["server"].as_str().unwrap_or("?"),
        request["tool"].as_str().unwrap_or("?"),
        request["arguments"],
        request["expires_at"].as_str().unwrap_or("?"),
    )
}
