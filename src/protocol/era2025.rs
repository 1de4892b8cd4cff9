//! The 2025 revisions (2025-03-26, 2025-06-18, 2025-11-25): a session's
//! context comes from its `initialize` request, once.

use super::context::{Caller, ClientContext, ClientInfo};
use serde_json::{json, Map, Value};

/// The context of a session that `initialize` opens, from the request's
/// params. The version is the one the gateway will speak, negotiated here.
pub fn context_from_initialize(params: Option<&Map<String, Value>>, caller: Caller) -> Result<ClientContext, String> {
    let params = params.ok_or("initialize needs params")?;
    let requested = params.get("protocolVersion").and_then(Value::as_str).unwrap_or_default();
    let info = params.get("clientInfo");
    let text = |key: &str| info.and_then(|i| i.get(key)).and_then(Value::as_str).map(str::to_string);
    Ok(ClientContext {
        caller,
        protocol_version: super::negotiate(requested).to_string(),
        capabilities: params.get("capabilities").cloned().unwrap_or_else(|| json!({})),
        client_info: ClientInfo { name: text("name"), version: text("version") },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initialize_params_become_the_sessions_context() {
        let params = json!({
            "protocolVersion": "2025-06-18",
            "capabilities": {"elicitation": {}},
            "clientInfo": {"name": "claude-code", "version": "2.0"},
        });
        let ctx = context_from_initialize(params.as_object(), Caller::Local).unwrap();
        assert_eq!(ctx.protocol_version, "2025-06-18");
        assert!(ctx.elicits_forms());
        assert_eq!(ctx.client_info.name.as_deref(), Some("claude-code"));
        assert_eq!(ctx.caller, Caller::Local);
    }

    #[test]
    fn an_unknown_version_is_answered_with_the_latest_and_missing_params_are_refused() {
        let params = json!({"protocolVersion": "1999-01-01"});
        let ctx = context_from_initialize(params.as_object(), Caller::Local).unwrap();
        assert_eq!(ctx.protocol_version, super::super::LATEST_PROTOCOL_VERSION);
        assert_eq!(ctx.capabilities, json!({}));
        assert!(context_from_initialize(None, Caller::Local).is_err());
    }
}
