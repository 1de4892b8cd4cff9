//! The elicitation channel's form: what the gateway asks the person at the
//! MCP client that made a held call, and how their answer reads. Pure; the
//! relay sends the request and brings back the reply.
//!
//! The form shows exactly what will run (server, tool, rule, the masked
//! arguments) and asks for a decision. Only an explicit "approve" approves:
//! a dismissed form, a malformed reply or an error is no answer at all,
//! and the call waits on the rule's other channels or is denied.

use super::grant::GrantScope;
use super::{Answer, ApprovalRequest};
use serde_json::{json, Value};
use std::time::SystemTime;

/// Arguments longer than this (pretty-printed) are not put in the form; the
/// person is sent to the console instead of being shown a truncated call.
const MAX_SHOWN_ARGUMENTS: usize = 16 * 1024;
/// As in the broker: the longest reason an answer may carry.
const MAX_REASON: usize = 1000;

/// The params of the `elicitation/create` request for a held call.
pub fn form(request: &ApprovalRequest, now: SystemTime) -> Value {
    let shown = serde_json::to_string_pretty(&request.arguments).unwrap_or_default();
    let arguments = if shown.len() <= MAX_SHOWN_ARGUMENTS {
        shown
    } else {
        format!("({} bytes, too long to show here; read them in the approvals console)", shown.len())
    };
    let left = request.expires_at.duration_since(now).unwrap_or_default().as_secs();
    let message = format!(
        "mcp-warden is holding a tool call until you approve it.\n\n\
         Server: {}\nTool: {}\nRule: {}\nArguments (secret-looking values hidden):\n{arguments}\n\n\
         Approval request {} expires in {left}s; without an answer the call is denied.",
        request.binding.server, request.binding.tool, request.binding.rule, request.id,
    );
    json!({
        "message": message,
        "requestedSchema": {
            "type": "object",
            "properties": {
                "decision": {
                    "type": "string",
                    "title": "Decision",
                    "description": "approve: the call is made exactly as shown; deny: it is refused",
                    "enum": ["approve", "deny"],
                },
                "session": {
                    "type": "boolean",
                    "title": "Also approve identical calls for the rest of this session",
                    "default": false,
                },
                "reason": {
                    "type": "string",
                    "title": "Reason",
                    "maxLength": MAX_REASON,
                },
            },
            "required": ["decision"],
        },
    })
}

/// How the client's reply to the form reads.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    /// The person decided.
    Answered(Answer),
    /// No decision (dismissed, refused by the client, malformed): says why.
    NoAnswer(String),
}

/// Reads the client's JSON-RPC response to the form. `approver` names the
/// person as far as the gateway can tell: the client application.
pub fn read_reply(response: &Value, approver: &str) -> Reply {
    if let Some(error) = response.get("error") {
        let message = error.get("message").and_then(Value::as_str).unwrap_or("no message");
        return Reply::NoAnswer(format!("the client could not show the approval form ({})", clip(message)));
    }
    let result = response.get("result").unwrap_or(&Value::Null);
    let content = result.get("content").unwrap_or(&Value::Null);
    let reason = content.get("reason").and_then(Value::as_str).map(str::trim).filter(|r| !r.is_empty());
    if reason.is_some_and(|r| r.len() > MAX_REASON) {
        return Reply::NoAnswer(format!("the reason given in the client is longer than {MAX_REASON} bytes"));
    }
    let approver = approver.to_string();
    match (result.get("action").and_then(Value::as_str), content.get("decision").and_then(Value::as_str)) {
        (Some("accept"), Some("approve")) => {
            let scope = match content.get("session") {
                None | Some(Value::Bool(false)) => GrantScope::Once,
                Some(Value::Bool(true)) => GrantScope::Session,
                Some(_) => {
                    return Reply::NoAnswer("the client's answer has a \"session\" that is not a boolean".into())
                }
            };
            let reason = reason.unwrap_or("approved in the client").to_string();
            Reply::Answered(Answer::Approved { approver, reason, scope, any_args: false })
        }
        (Some("accept"), Some("deny")) => {
            let reason = reason.unwrap_or("denied in the client").to_string();
            Reply::Answered(Answer::Denied { approver, reason })
        }
        (Some("decline"), _) => Reply::Answered(Answer::Denied { approver, reason: "declined in the client".into() }),
        (Some("cancel"), _) => Reply::NoAnswer("the approval form was dismissed in the client".into()),
        (Some("accept"), _) => Reply::NoAnswer("the client's answer has no decision \"approve\" or \"deny\"".into()),
        _ => Reply::NoAnswer("the client's answer is not an elicitation result".into()),
    }
}

fn clip(text: &str) -> &str {
    match text.char_indices().nth(200) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approval::fixtures;
    use crate::policy::ApprovalChannel;
    use std::time::Duration;

    fn request(arguments: Value) -> ApprovalRequest {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mut request =
            fixtures::request("apr_1", ApprovalChannel::Elicitation, arguments, now, Duration::from_secs(120));
        request.binding.rule = "mail-needs-approval".into();
        request
    }

    fn reply(result: Value) -> Reply {
        read_reply(&json!({"jsonrpc": "2.0", "id": "warden-1", "result": result}), "client:app")
    }

    #[test]
    fn the_form_shows_exactly_what_will_run() {
        let r = request(json!({"to": "bob@example.com", "api_key": "***"}));
        let form = form(&r, r.requested_at + Duration::from_secs(20));
        let message = form["message"].as_str().unwrap();
        for shown in ["Server: demo", "Tool: send_message", "Rule: mail-needs-approval", "\"to\": \"bob@example.com\""]
        {
            assert!(message.contains(shown), "{shown} missing from {message}");
        }
        assert!(message.contains("apr_1 expires in 100s"), "{message}");
        assert_eq!(form["requestedSchema"]["required"], json!(["decision"]));
    }

    #[test]
    fn arguments_too_long_to_show_are_not_shown_cut() {
        let r = request(json!({"body": "x".repeat(MAX_SHOWN_ARGUMENTS)}));
        let message = form(&r, r.requested_at)["message"].as_str().unwrap().to_string();
        assert!(message.contains("too long to show here"));
        assert!(!message.contains("xxxx"));
    }

    #[test]
    fn only_an_explicit_approve_approves() {
        let approved = reply(json!({"action": "accept", "content": {"decision": "approve", "reason": "ok"}}));
        let expected = Answer::Approved {
            approver: "client:app".into(),
            reason: "ok".into(),
            scope: GrantScope::Once,
            any_args: false,
        };
        assert_eq!(approved, Reply::Answered(expected));
        let session = reply(json!({"action": "accept", "content": {"decision": "approve", "session": true}}));
        assert!(matches!(session, Reply::Answered(Answer::Approved { scope: GrantScope::Session, .. })));
        for no_answer in [
            json!({"action": "accept", "content": {"confirm": true}}),
            json!({"action": "accept", "content": {"decision": "yes"}}),
            json!({"action": "accept"}),
            json!({"action": "accept", "content": {"decision": "approve", "session": "yes"}}),
            json!({"action": "cancel"}),
            json!({"action": "maybe"}),
            json!({}),
        ] {
            assert!(matches!(reply(no_answer.clone()), Reply::NoAnswer(_)), "{no_answer}");
        }
        let error = read_reply(&json!({"id": 1, "error": {"code": -32601, "message": "no"}}), "c");
        assert!(matches!(error, Reply::NoAnswer(why) if why.contains("could not show")));
    }

    #[test]
    fn decline_and_deny_deny() {
        assert!(matches!(reply(json!({"action": "decline"})), Reply::Answered(Answer::Denied { .. })));
        let denied = reply(json!({"action": "accept", "content": {"decision": "deny", "reason": "not today"}}));
        assert_eq!(
            denied,
            Reply::Answered(Answer::Denied { approver: "client:app".into(), reason: "not today".into() })
        );
    }
}
