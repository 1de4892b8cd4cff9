//! Every failure a client can see, and the one place that turns it into the
//! JSON-RPC error on the wire. Messages say what happened and which rule,
//! server, tool or argument was involved, never an argument's value.

use serde_json::{json, Value};
use std::time::Duration;

/// JSON-RPC error codes. The -32000..-32099 range is reserved for
/// implementation-defined server errors; the gateway's own live there.
pub mod code {
    pub const PARSE_ERROR: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    pub const INVALID_PARAMS: i64 = -32602;
    pub const INTERNAL_ERROR: i64 = -32603;
    /// The policy refused the call.
    pub const POLICY_DENIED: i64 = -32010;
    /// The upstream could not be reached, exited, or answered nonsense; or
    /// the gateway is at a configured capacity (upstream sessions, requests
    /// in flight) and the request may succeed later.
    pub const UPSTREAM_UNAVAILABLE: i64 = -32011;
    /// The upstream did not answer within the configured limit.
    pub const UPSTREAM_TIMEOUT: i64 = -32012;
    /// The decision could not be recorded, so nothing was forwarded.
    pub const AUDIT_FAILED: i64 = -32013;
    /// A person (or the gateway, failing closed) denied a held call.
    pub const APPROVAL_DENIED: i64 = -32014;
    /// Nobody answered a held call in time.
    pub const APPROVAL_TIMEOUT: i64 = -32015;
}

/// What a client is told about a call the policy refused.
#[derive(Debug, Clone)]
pub struct Denial {
    pub rule: String,
    pub reason: String,
    pub server: String,
    pub tool: String,
    pub argument: Option<String>,
    pub constraint: Option<String>,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum GatewayError {
    #[error("parse error: {0}")]
    Parse(String),
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("method not found: {0}")]
    MethodNotFound(String),
    #[error("invalid params: {0}")]
    InvalidParams(String),
    #[error("blocked by mcp-warden: {}", .0.reason)]
    PolicyDenied(Box<Denial>),
    #[error("unknown tool \"{tool}\": {reason}")]
    UnknownTool { tool: String, reason: String },
    #[error("upstream \"{server}\" is unavailable: {detail}")]
    UpstreamUnavailable { server: String, detail: String },
    #[error("upstream \"{server}\" did not answer within {}", humantime::format_duration(*after))]
    UpstreamTimeout { server: String, after: Duration },
    #[error("the decision could not be audited, so the call was not forwarded: {0}")]
    AuditFailed(String),
    #[error("denied by {approver} (approval request {request}): {reason}")]
    ApprovalDenied { request: String, approver: String, reason: String, server: String, tool: String },
    #[error("approval request {request} for tool \"{tool}\" on server \"{server}\" timed out after {} without an answer", humantime::format_duration(*after))]
    ApprovalTimeout { request: String, server: String, tool: String, after: Duration },
    /// A limit on what one client may hold at once was reached; trying
    /// again later can succeed.
    #[error("mcp-warden is at capacity: {0}")]
    Overloaded(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl GatewayError {
    pub fn code(&self) -> i64 {
        match self {
            GatewayError::Parse(_) => code::PARSE_ERROR,
            GatewayError::InvalidRequest(_) => code::INVALID_REQUEST,
            GatewayError::MethodNotFound(_) => code::METHOD_NOT_FOUND,
            GatewayError::InvalidParams(_) => code::INVALID_PARAMS,
            GatewayError::PolicyDenied(_) => code::POLICY_DENIED,
            GatewayError::UnknownTool { .. } => code::POLICY_DENIED,
            GatewayError::UpstreamUnavailable { .. } => code::UPSTREAM_UNAVAILABLE,
            GatewayError::UpstreamTimeout { .. } => code::UPSTREAM_TIMEOUT,
            GatewayError::AuditFailed(_) => code::AUDIT_FAILED,
            GatewayError::ApprovalDenied { .. } => code::APPROVAL_DENIED,
            GatewayError::ApprovalTimeout { .. } => code::APPROVAL_TIMEOUT,
            GatewayError::Overloaded(_) => code::UPSTREAM_UNAVAILABLE,
            GatewayError::Internal(_) => code::INTERNAL_ERROR,
        }
    }

    /// Structured detail for programs; the message is for people.
    fn data(&self) -> Option<Value> {
        match self {
            GatewayError::PolicyDenied(d) => Some(json!({
                "gateway": "mcp-warden", "rule": d.rule, "reason": d.reason, "server": d.server, "tool": d.tool,
                "argument": d.argument, "constraint": d.constraint,
            })),
            GatewayError::UnknownTool { tool, reason } => Some(json!({
                "gateway": "mcp-warden", "rule": "unknown-tool", "reason": reason, "tool": tool,
            })),
            GatewayError::UpstreamUnavailable { server, .. } | GatewayError::UpstreamTimeout { server, .. } => {
                Some(json!({ "gateway": "mcp-warden", "server": server }))
            }
            GatewayError::ApprovalDenied { request, approver, reason, server, tool } => Some(json!({
                "gateway": "mcp-warden", "approval_request": request, "approver": approver, "reason": reason,
                "server": server, "tool": tool,
            })),
            GatewayError::ApprovalTimeout { request, server, tool, after } => Some(json!({
                "gateway": "mcp-warden", "approval_request": request, "server": server, "tool": tool,
                "timeout_secs": after.as_secs(),
            })),
            _ => None,
        }
    }

    /// The JSON-RPC error response the client sees for this failure.
    pub fn to_response(&self, id: Value) -> Value {
        crate::jsonrpc::error(id, self.code(), &self.to_string(), self.data())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denial_names_rule_and_tool_in_message_and_data() {
        let err = GatewayError::PolicyDenied(Box::new(Denial {
            rule: "no-shell".into(),
            reason: "tool \"run_command\" on server \"demo\" is denied by rule \"no-shell\"".into(),
            server: "demo".into(),
            tool: "run_command".into(),
            argument: None,
            constraint: None,
        }));
        let resp = err.to_response(json!(7));
        assert_eq!(resp["id"], 7);
        assert_eq!(resp["error"]["code"], code::POLICY_DENIED);
        assert!(resp["error"]["message"].as_str().unwrap().contains("no-shell"));
        assert_eq!(resp["error"]["data"]["rule"], "no-shell");
        assert_eq!(resp["error"]["data"]["tool"], "run_command");
    }

    #[test]
    fn timeout_message_names_server_and_limit() {
        let err = GatewayError::UpstreamTimeout { server: "slow".into(), after: Duration::from_secs(2) };
        assert_eq!(err.to_string(), "upstream \"slow\" did not answer within 2s");
    }
}
