//! Requests an upstream sends its client (`sampling/createMessage`,
//! `elicitation/create`, `roots/list`): relayed only to a client that
//! declared it can answer them, and an elicitation marked with the server
//! it comes from, so a server cannot pass its form off as the gateway's own
//! approval form. Pure: the relay does the sending.

use serde_json::{json, Value};

/// What becomes of one server-to-client request.
#[derive(Debug, PartialEq)]
pub enum Ask {
    /// Relay it (possibly marked).
    Relay,
    /// Answer the upstream with this error; never relay.
    Refuse(String),
}

/// Checks a request from upstream `server` against the capabilities the
/// client declared (`declared`), and marks an elicitation with its origin.
pub fn check(server: &str, method: &str, msg: &mut Value, declared: &Value) -> Ask {
    let params = msg.get("params").cloned().unwrap_or(Value::Null);
    let needs: &[(&str, &str)] = match method {
        "sampling/createMessage" => {
            let mut needs = vec![("sampling", "")];
            if params.get("tools").is_some() || params.get("toolChoice").is_some() {
                needs.push(("sampling", "tools"));
            }
            if matches!(params.get("includeContext").and_then(Value::as_str), Some("thisServer" | "allServers")) {
                needs.push(("sampling", "context"));
            }
            return decide(server, method, declared, &needs);
        }
        "elicitation/create" => match params.get("mode").and_then(Value::as_str) {
            Some("url") => &[("elicitation", "url")],
            _ => &[("elicitation", "form")],
        },
        "roots/list" => &[("roots", "")],
        _ => return Ask::Relay,
    };
    let ask = decide(server, method, declared, needs);
    if ask == Ask::Relay && method == "elicitation/create" {
        mark_origin(server, msg);
    }
    ask
}

fn decide(server: &str, method: &str, declared: &Value, needs: &[(&str, &str)]) -> Ask {
    for (capability, mode) in needs {
        if !declares(declared, capability, mode) {
            let what =
                if mode.is_empty() { format!("the {capability} capability") } else { format!("{capability}.{mode}") };
            return Ask::Refuse(format!(
                "the client did not declare {what}, so mcp-warden does not relay {method} from server {server:?} to it"
            ));
        }
    }
    Ask::Relay
}

/// Whether the client declared `capability` (and, with `mode`, that sub-capability).
/// `elicitation: {}` is form elicitation, as before modes existed.
fn declares(declared: &Value, capability: &str, mode: &str) -> bool {
    let Some(object) = declared.get(capability).and_then(Value::as_object) else { return false };
    match (capability, mode) {
        (_, "") => true,
        ("elicitation", "form") => object.is_empty() || object.contains_key("form"),
        (_, mode) => object.get(mode).is_some_and(|m| !m.is_null()),
    }
}

/// Says, in the text the person reads and in `_meta`, which server asks.
fn mark_origin(server: &str, msg: &mut Value) {
    let message = msg.pointer("/params/message").and_then(Value::as_str).unwrap_or_default();
    let marked = format!(
        "[Asked by the MCP server \"{server}\", relayed by mcp-warden; not an approval by mcp-warden]\n\n{message}"
    );
    msg["params"]["message"] = json!(marked);
    if !msg["params"].get("_meta").is_some_and(Value::is_object) {
        msg["params"]["_meta"] = json!({});
    }
    msg["params"]["_meta"]["io.github.mcp-warden/relayed-from"] = json!(server);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, params: Value) -> Value {
        json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
    }

    #[test]
    fn a_request_the_client_cannot_answer_is_refused_not_relayed() {
        let nothing = json!({});
        for method in ["sampling/createMessage", "elicitation/create", "roots/list"] {
            let mut msg = request(method, json!({"message": "hi", "messages": []}));
            assert!(matches!(check("s", method, &mut msg, &nothing), Ask::Refuse(_)), "{method}");
        }
        let mut ping = request("ping", json!({}));
        assert_eq!(check("s", "ping", &mut ping, &nothing), Ask::Relay);
    }

    #[test]
    fn each_mode_of_a_capability_must_be_declared_for_itself() {
        let forms_only = json!({"elicitation": {"form": {}}, "sampling": {}});
        let mut url = request("elicitation/create", json!({"mode": "url", "url": "https://x.example", "message": "m"}));
        assert!(matches!(check("s", "elicitation/create", &mut url, &forms_only), Ask::Refuse(_)));
        let mut with_tools = request("sampling/createMessage", json!({"messages": [], "tools": []}));
        assert!(matches!(check("s", "sampling/createMessage", &mut with_tools, &forms_only), Ask::Refuse(_)));
        let legacy = json!({"elicitation": {}});
        let mut form = request("elicitation/create", json!({"message": "m"}));
        assert_eq!(check("s", "elicitation/create", &mut form, &legacy), Ask::Relay);
    }

    #[test]
    fn a_relayed_elicitation_says_which_server_asks() {
        let mut form = request(
            "elicitation/create",
            json!({"message": "mcp-warden is holding a tool call until you approve it."}),
        );
        assert_eq!(check("mail", "elicitation/create", &mut form, &json!({"elicitation": {}})), Ask::Relay);
        let message = form["params"]["message"].as_str().unwrap();
        assert!(message.starts_with("[Asked by the MCP server \"mail\""), "{message}");
        assert!(message.ends_with("mcp-warden is holding a tool call until you approve it."));
        assert_eq!(form["params"]["_meta"]["io.github.mcp-warden/relayed-from"], "mail");
    }
}
