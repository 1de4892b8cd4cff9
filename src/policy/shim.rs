//! Temporary: the enforcement API until the policy split lands (deleted at merge).

use super::{Decision, Mode, Policy, Verdict};

pub enum Action {
    Forward,
    Refuse,
    Hold,
}

pub struct Enforcement {
    pub action: Action,
    pub enforced: bool,
}

impl Policy {
    pub fn enforce(&self, decision: &Decision) -> Enforcement {
        if decision.rule_id == "unknown-tool" {
            return Enforcement { action: Action::Refuse, enforced: true };
        }
        if self.mode() == Mode::Audit {
            return Enforcement { action: Action::Forward, enforced: false };
        }
        let action = match decision.verdict {
            Verdict::Allow => Action::Forward,
            Verdict::Deny => Action::Refuse,
            Verdict::Approve => Action::Hold,
        };
        Enforcement { action, enforced: true }
    }
}

impl Decision {
    pub fn unadvertised(server: &str, tool: &str) -> Decision {
        Decision {
            verdict: Verdict::Deny,
            rule_id: "unknown-tool".into(),
            reason: format!("server \"{server}\" does not advertise a tool named \"{tool}\""),
            argument: None,
            constraint: None,
            checks: Vec::new(),
            approval: None,
        }
    }

    pub fn unknown_tool(exposed: &str) -> Decision {
        Decision {
            reason: format!("no upstream server has a tool named \"{exposed}\""),
            ..Decision::unadvertised("", "")
        }
    }
}
