//! JSON-RPC 2.0 framing: what kind of message a raw frame is, and how to
//! build the few messages the gateway writes itself.
//!
//! Frames stay `serde_json::Value` end to end so that fields the gateway does
//! not know (future protocol revisions, vendor extensions) survive a relay
//! untouched. Only this module looks at the envelope.

use serde_json::{json, Map, Value};

/// The envelope of one JSON-RPC message, borrowed from the frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind<'a> {
    Request {
        id: &'a Value,
        method: &'a str,
    },
    Notification {
        method: &'a str,
    },
    /// A result or an error answering `id`.
    Response {
        id: &'a Value,
    },
}

/// Why a frame is not a JSON-RPC 2.0 message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("not a JSON object")]
    NotAnObject,
    #[error("\"jsonrpc\" must be \"2.0\"")]
    BadVersion,
    #[error("\"method\" must be a string")]
    BadMethod,
    #[error("\"id\" must be a string or an integer")]
    BadId,
    #[error("a response must carry exactly one of \"result\" and \"error\"")]
    BadResponse,
}

/// Classifies one message. Batches (JSON arrays) are split by the caller.
pub fn classify(frame: &Value) -> Result<Kind<'_>, FrameError> {
    let obj = frame.as_object().ok_or(FrameError::NotAnObject)?;
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(FrameError::BadVersion);
    }
    let id = obj.get("id");
    if let Some(id) = id {
        // MCP forbids null ids on requests; a null id only appears on error
        // responses to unparsable requests.
        let valid = id.is_string() || id.is_i64() || id.is_u64() || (id.is_null() && obj.contains_key("error"));
        if !valid {
            return Err(FrameError::BadId);
        }
    }
    match (obj.get("method"), id) {
        (Some(Value::String(method)), Some(id)) => Ok(Kind::Request { id, method }),
        (Some(Value::String(method)), None) => Ok(Kind::Notification { method }),
        (Some(_), _) => Err(FrameError::BadMethod),
        (None, Some(id)) => {
            if obj.contains_key("result") == obj.contains_key("error") {
                return Err(FrameError::BadResponse);
            }
            Ok(Kind::Response { id })
        }
        (None, None) => Err(FrameError::BadResponse),
    }
}

pub fn method(frame: &Value) -> Option<&str> {
    frame.get("method").and_then(Value::as_str)
}

pub fn params(frame: &Value) -> Option<&Map<String, Value>> {
    frame.get("params").and_then(Value::as_object)
}

pub fn request(id: Value, method: &str, params: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params })
}

pub fn notification(method: &str, params: Option<Value>) -> Value {
    match params {
        Some(p) => json!({ "jsonrpc": "2.0", "method": method, "params": p }),
        None => json!({ "jsonrpc": "2.0", "method": method }),
    }
}

pub fn result(id: Value, result: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "result": result })
}

pub fn error(id: Value, code: i64, message: &str, data: Option<Value>) -> Value {
    let mut err = json!({ "code": code, "message": message });
    if let Some(data) = data {
        err["data"] = data;
    }
    json!({ "jsonrpc": "2.0", "id": id, "error": err })
}

/// A stable map key for a request id: `1` and `"1"` are different ids.
pub fn id_key(id: &Value) -> String {
    id.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_the_three_shapes() {
        let req = json!({"jsonrpc":"2.0","id":1,"method":"tools/list"});
        assert_eq!(classify(&req), Ok(Kind::Request { id: &json!(1), method: "tools/list" }));
        let note = json!({"jsonrpc":"2.0","method":"notifications/initialized"});
        assert_eq!(classify(&note), Ok(Kind::Notification { method: "notifications/initialized" }));
        let resp = json!({"jsonrpc":"2.0","id":"a","result":{}});
        assert_eq!(classify(&resp), Ok(Kind::Response { id: &json!("a") }));
    }

    #[test]
    fn rejects_frames_that_are_not_jsonrpc() {
        assert_eq!(classify(&json!([1])), Err(FrameError::NotAnObject));
        assert_eq!(classify(&json!({"id":1,"method":"x"})), Err(FrameError::BadVersion));
        assert_eq!(classify(&json!({"jsonrpc":"2.0","id":1,"method":5})), Err(FrameError::BadMethod));
        assert_eq!(classify(&json!({"jsonrpc":"2.0","id":1.5,"method":"x"})), Err(FrameError::BadId));
        assert_eq!(classify(&json!({"jsonrpc":"2.0","id":null,"method":"x"})), Err(FrameError::BadId));
        assert_eq!(classify(&json!({"jsonrpc":"2.0","id":1,"result":{},"error":{}})), Err(FrameError::BadResponse));
        assert_eq!(classify(&json!({"jsonrpc":"2.0"})), Err(FrameError::BadResponse));
    }

    #[test]
    fn null_id_is_allowed_only_on_error_responses() {
        let resp = json!({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"x"}});
        assert!(matches!(classify(&resp), Ok(Kind::Response { .. })));
    }
}
