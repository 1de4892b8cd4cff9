//! The trifecta guard: a session that has read private data and has seen
//! content others wrote (or a result with injected instructions) is one
//! step from being talked into sending the first out through the second.
//! What a session has been exposed to is kept here, per client session,
//! and per caller an authentication layer proved (a caller who opens a
//! fresh session keeps its taint; an unauthenticated `local` caller is
//! everyone on the listener, so for it only the session counts);
//! the policy says what a `sends_out` call then gets (`[flow]
//! untrusted_then_send`): held for a person, refused, or nothing.

use crate::policy::Label;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;

/// Authenticated callers remembered; past it the oldest knowledge is
/// dropped whole (a bound on memory, at the cost of forgetting taint).
const MAX_CALLERS: usize = 10_000;

/// Calls named per kind of exposure; enough to say why, bounded.
const MAX_NAMED: usize = 8;

/// What one client session has been exposed to.
#[derive(Debug, Default)]
pub struct FlowState {
    /// `server/tool` of the calls whose results were untrusted content.
    untrusted: Vec<String>,
    /// `server/tool` of the calls whose results were private data.
    private: Vec<String>,
}

impl FlowState {
    /// Both legs of the trifecta are in place.
    pub fn tainted(&self) -> bool {
        !self.untrusted.is_empty() && !self.private.is_empty()
    }

    /// Which earlier calls tainted the session, for the refusal and the approval request.
    pub fn why(&self) -> String {
        format!(
            "this session received untrusted content (from {}) and read private data (from {}), \
             and this tool sends data out",
            self.untrusted.join(", "),
            self.private.join(", ")
        )
    }

    /// Takes in a completed call: its labels, and whether its result carried injected instructions.
    pub fn completed(&mut self, call: &str, labels: &[Label], injection: bool) {
        if labels.contains(&Label::UntrustedContent) || injection {
            note(&mut self.untrusted, call);
        }
        if labels.contains(&Label::PrivateData) {
            note(&mut self.private, call);
        }
    }
}

impl FlowState {
    /// What two records of exposure say together.
    pub fn joined(&self, other: &FlowState) -> FlowState {
        let mut joined = FlowState { untrusted: self.untrusted.clone(), private: self.private.clone() };
        for call in &other.untrusted {
            note(&mut joined.untrusted, call);
        }
        for call in &other.private {
            note(&mut joined.private, call);
        }
        joined
    }
}

/// Exposure per authenticated caller, across its sessions.
#[derive(Debug, Default)]
pub struct CallerFlows(Mutex<HashMap<String, FlowState>>);

impl CallerFlows {
    /// `caller`'s exposure so far (empty for one never seen).
    pub fn of(&self, caller: &str) -> FlowState {
        let flows = self.0.lock().expect("caller flows lock");
        flows.get(caller).map(|f| f.joined(&FlowState::default())).unwrap_or_default()
    }

    pub fn completed(&self, caller: &str, call: &str, labels: &[Label], injection: bool) {
        let mut flows = self.0.lock().expect("caller flows lock");
        if flows.len() >= MAX_CALLERS && !flows.contains_key(caller) {
            flows.clear();
        }
        flows.entry(caller.to_string()).or_default().completed(call, labels, injection);
    }
}

fn note(list: &mut Vec<String>, call: &str) {
    if list.len() < MAX_NAMED && !list.iter().any(|c| c == call) {
        list.push(call.to_string());
    }
}

/// A tool's labels: what the policy's rules give it, or, when no rule gives
/// any, `untrusted_content` for a tool whose annotations say it reaches an
/// open world (`openWorldHint`, which the specification defaults to true
/// when absent but which servers rarely set false: only an explicit true
/// counts, so that a silent server's local tools do not all taint).
pub fn labels_of(from_policy: Option<Vec<Label>>, definition: &Value) -> Vec<Label> {
    match from_policy {
        Some(labels) => labels,
        None => {
            let open_world = definition.pointer("/annotations/openWorldHint").and_then(Value::as_bool) == Some(true);
            if open_world {
                vec![Label::UntrustedContent]
            } else {
                Vec::new()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_legs_taint_and_the_reason_names_the_calls() {
        let mut flow = FlowState::default();
        flow.completed("web/fetch_page", &[Label::UntrustedContent], false);
        assert!(!flow.tainted(), "untrusted content alone is not the trifecta");
        flow.completed("files/read_file", &[Label::PrivateData], false);
        assert!(flow.tainted());
        assert!(flow.why().contains("from web/fetch_page") && flow.why().contains("from files/read_file"));
    }

    #[test]
    fn a_caller_keeps_its_taint_across_sessions() {
        let callers = CallerFlows::default();
        callers.completed("idp|alice", "web/fetch", &[Label::UntrustedContent], false);
        let mut fresh_session = FlowState::default();
        fresh_session.completed("files/read", &[Label::PrivateData], false);
        assert!(!fresh_session.tainted());
        assert!(fresh_session.joined(&callers.of("idp|alice")).tainted());
        assert!(!fresh_session.joined(&callers.of("idp|bob")).tainted());
    }

    #[test]
    fn an_injection_finding_counts_as_untrusted_content() {
        let mut flow = FlowState::default();
        flow.completed("files/read_file", &[Label::PrivateData], true);
        assert!(flow.tainted());
    }

    #[test]
    fn open_world_tools_are_untrusted_unless_a_rule_says_otherwise() {
        let fetch = json!({"name": "fetch", "annotations": {"openWorldHint": true}});
        assert_eq!(labels_of(None, &fetch), [Label::UntrustedContent]);
        assert_eq!(labels_of(Some(vec![Label::SendsOut]), &fetch), [Label::SendsOut]);
        assert!(labels_of(None, &json!({"name": "add"})).is_empty());
    }
}
