//! Who is calling, and what their client said it can do: the one value the
//! fronts build for every request and everything behind them reads.

use serde_json::Value;
use std::fmt;

/// Who a request comes from, as far as the gateway can prove it. Policy
/// context, audit records and approval grants carry it; a self-declared
/// `clientInfo.name` never stands in for it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Caller {
    /// A client that reached a front without authenticating: the stdio
    /// front's parent process, or an HTTP client on a listener with no
    /// authentication layer (loopback by default). Every such client is the
    /// same caller, so nothing may be granted to "local" that would not be
    /// granted to any local process.
    Local,
    /// A principal an authentication layer vouched for: who issued the
    /// credential and whom it names.
    Principal { issuer: String, subject: String },
}

impl Caller {
    /// Whether an authentication layer proved this identity.
    pub fn is_authenticated(&self) -> bool {
        matches!(self, Caller::Principal { .. })
    }
}

/// The caller as audit records and approval bindings spell it: `local`, or
/// `<issuer>|<subject>` (the separator cannot be mistaken for either part
/// because it is escaped in both).
impl fmt::Display for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Caller::Local => f.write_str("local"),
            Caller::Principal { issuer, subject } => {
                write!(f, "{}|{}", issuer.replace('|', "%7C"), subject.replace('|', "%7C"))
            }
        }
    }
}

/// What the client said about itself (`clientInfo`): informative only.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientInfo {
    pub name: Option<String>,
    pub version: Option<String>,
}

/// One request's view of its client, whatever the protocol era.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientContext {
    pub caller: Caller,
    /// The revision negotiated with (or declared by) the client.
    pub protocol_version: String,
    /// The client's declared capabilities object, as sent.
    pub capabilities: Value,
    pub client_info: ClientInfo,
}

impl ClientContext {
    /// Whether the client declared a capability (`elicitation`, `roots`, `sampling`, ...).
    pub fn declares(&self, capability: &str) -> bool {
        self.capabilities.get(capability).is_some_and(|c| !c.is_null())
    }

    /// Whether the client declared form elicitation: `elicitation: {}` (as
    /// before modes existed) or `elicitation: {"form": {...}}`.
    pub fn elicits_forms(&self) -> bool {
        match self.capabilities.get("elicitation").and_then(Value::as_object) {
            Some(modes) => modes.is_empty() || modes.contains_key("form"),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn context(capabilities: Value) -> ClientContext {
        ClientContext {
            caller: Caller::Local,
            protocol_version: "2025-11-25".into(),
            capabilities,
            client_info: ClientInfo::default(),
        }
    }

    #[test]
    fn form_elicitation_is_declared_by_an_empty_object_or_the_form_mode() {
        assert!(context(json!({"elicitation": {}})).elicits_forms());
        assert!(context(json!({"elicitation": {"form": {}}})).elicits_forms());
        assert!(!context(json!({"elicitation": {"url": {}}})).elicits_forms());
        assert!(!context(json!({})).elicits_forms());
        assert!(context(json!({"roots": {"listChanged": true}})).declares("roots"));
        assert!(!context(json!({"roots": null})).declares("roots"));
    }

    #[test]
    fn callers_spell_apart_even_with_separators_in_their_names() {
        let a = Caller::Principal { issuer: "a|b".into(), subject: "c".into() };
        let b = Caller::Principal { issuer: "a".into(), subject: "b|c".into() };
        assert_ne!(a.to_string(), b.to_string());
        assert_eq!(Caller::Local.to_string(), "local");
        assert!(!Caller::Local.is_authenticated());
    }
}
