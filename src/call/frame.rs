//! Frames that look like a policed method without being one: `Tools/Call`,
//! ` tools/call `, `TOOLS/LIST`, or a `tools/call` sent as a notification.
//! A lenient upstream may run them as the real thing, so none is ever
//! relayed: a request is refused and a notification dropped, and each is
//! recorded as a decision like any refused call.

use super::record::CallRecord;
use crate::audit::Outcome;
use crate::errors::{Denial, GatewayError};
use crate::gateway::Gateway;
use crate::protocol::ClientContext;
use serde_json::Value;

/// Methods whose frames the gateway reads, decides or filters: everything
/// a policy or a listing filter depends on.
pub const POLICED_METHODS: [&str; 11] = [
    "tools/call",
    "tools/list",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "resources/list",
    "resources/templates/list",
    "prompts/get",
    "prompts/list",
    "completion/complete",
    "initialize",
];

/// The rule a misspelt policed request is refused under.
pub const SPELLING_RULE: &str = "policed-method-spelling";
/// The rule a policed method sent as a notification is dropped under.
pub const NOTIFICATION_RULE: &str = "policed-method-notification";

/// The policed method `method` reads as once case and surrounding
/// whitespace or control characters are ignored, as a lenient server might
/// read it; `None` when it resembles none.
pub fn resembles(method: &str) -> Option<&'static str> {
    let trimmed = method.trim_matches(|c: char| c.is_whitespace() || c.is_control());
    POLICED_METHODS.iter().copied().find(|policed| policed.eq_ignore_ascii_case(trimmed))
}

/// A frame that must not be relayed, and why.
pub struct Misfit<'a> {
    /// The method as the client spelt it.
    pub method: &'a str,
    /// The policed method it resembles.
    pub policed: &'static str,
    /// Sent as a notification (no id): never answered, never relayed.
    pub notification: bool,
}

impl Misfit<'_> {
    /// A misspelt request or a policed method sent as a notification;
    /// `None` for a frame the relay may route as it is.
    pub fn of<'a>(method: &'a str, notification: bool) -> Option<Misfit<'a>> {
        let policed = resembles(method)?;
        (notification || method != policed).then_some(Misfit { method, policed, notification })
    }

    fn rule(&self) -> &'static str {
        if self.notification {
            NOTIFICATION_RULE
        } else {
            SPELLING_RULE
        }
    }

    fn reason(&self) -> String {
        if self.notification {
            format!(
                "{:?} was sent as a notification; a notification is never relayed as {:?}",
                self.method, self.policed
            )
        } else {
            format!(
                "method {:?} is not {:?}; a lenient server could run it unpoliced, so it is refused",
                self.method, self.policed
            )
        }
    }
}

/// Records the refusal of a misfit frame and returns the error a request
/// gets (a notification gets no answer). If the record cannot be written,
/// the error says so; the frame is refused either way.
pub async fn refuse(
    gateway: &Gateway,
    session: &str,
    context: &ClientContext,
    msg: &Value,
    misfit: &Misfit<'_>,
) -> GatewayError {
    // A call names its tool; other frames are known by their method.
    let name = msg.pointer("/params/name").and_then(Value::as_str).unwrap_or(misfit.method);
    let mut record = CallRecord::begin(gateway.audit_key(), session, context, name, msg.pointer("/params/arguments"));
    let reason = misfit.reason();
    record.refused(misfit.rule(), &reason);
    if let Err(e) = gateway.record(&record.event(Outcome::Blocked, record.elapsed_us(), None)).await {
        return e;
    }
    tracing::info!(session = %record.session(), method = ?misfit.method, rule = misfit.rule(), "refused a frame that resembles a policed method");
    GatewayError::PolicyDenied(Box::new(Denial {
        rule: misfit.rule().to_string(),
        reason,
        server: String::new(),
        tool: record.tool().to_string(),
        argument: None,
        constraint: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_a_lenient_server_might_accept_resembles_the_policed_method() {
        for method in ["Tools/Call", "TOOLS/CALL", " tools/call", "tools/call ", "\ttools/call\n", "tools/call\0"] {
            assert_eq!(resembles(method), Some("tools/call"), "{method:?}");
        }
        assert_eq!(resembles("Resources/Read"), Some("resources/read"));
        for method in ["tools/calls", "tool/call", "tools/ call", "notifications/tools/list_changed", "ping"] {
            assert_eq!(resembles(method), None, "{method:?}");
        }
    }

    #[test]
    fn only_the_exact_request_passes_and_a_notification_never_does() {
        assert!(Misfit::of("tools/call", false).is_none());
        assert!(Misfit::of("ping", true).is_none());
        let spelt = Misfit::of("Tools/Call", false).unwrap();
        assert_eq!((spelt.policed, spelt.rule()), ("tools/call", SPELLING_RULE));
        let note = Misfit::of("tools/call", true).unwrap();
        assert_eq!(note.rule(), NOTIFICATION_RULE);
        assert!(note.reason().contains("never relayed"));
    }
}
