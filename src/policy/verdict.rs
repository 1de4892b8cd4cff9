//! What a decision says and what enforcing it means: the verdict, the
//! [`Decision`] with its reason, the checks behind it, and the
//! [`Enforcement`] of a decision under the policy's mode. Also the
//! refusals of a name nobody listed or offers, which no mode lets through.
//!
//! Reasons quote names (tools, servers, rules, arguments) escaped as by
//! `{:?}`, never an argument's value: values may be secrets, and reasons go
//! to the client and the audit log.

use super::schema::SchemaFailure;
use super::{ApprovalTerms, Mode};

/// The rule id of a refused call to a tool nobody listed.
const UNKNOWN_TOOL_RULE_ID: &str = "unknown-tool";

/// The outcome of one decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Allow,
    Deny,
    /// Allowed once a person approves this exact call (`action = "approve"`);
    /// the argument constraints have already passed.
    Approve,
}

impl Verdict {
    /// The verdict as the audit log and `explain` spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Deny => "deny",
            Verdict::Approve => "approve",
        }
    }
}

/// The rule id of the trifecta guard's decisions.
pub const FLOW_RULE_ID: &str = "flow.untrusted_then_send";

/// A verdict together with the rule that produced it, for the client and the audit log.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Decision {
    pub verdict: Verdict,
    /// The `id` of the deciding rule, or `"defaults.tools"` (`"defaults.resources"`,
    /// `"defaults.prompts"`) when no rule matched.
    pub rule_id: String,
    /// A human sentence naming the tool, the server, the rule and, for a refused
    /// argument, the argument and the constraint.
    pub reason: String,
    /// The argument that failed, as the policy names it (`"path"`, `"/options/target"`),
    /// or as the client sent it for `deny_unknown_args`, or the JSON pointer a
    /// schema reported. `None` when the call was allowed or refused as a whole.
    pub argument: Option<String>,
    /// The constraint that failed (`"path_within"`, `"input_schema"`, ...).
    pub constraint: Option<String>,
    /// Every constraint evaluated, in order. Filled by `Policy::explain`;
    /// `Policy::decide` leaves it empty (it stops at the first failure).
    pub checks: Vec<Check>,
    /// For [`Verdict::Approve`]: how long the call may wait and who may answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalTerms>,
    /// The call names a tool nobody listed, so no mode lets it through. A
    /// marker rather than the rule id, which a policy may reuse; outside
    /// `policy` only the constructors below set it. Never serialized.
    #[serde(skip)]
    pub(super) unlisted: bool,
}

/// One constraint evaluated for `Policy::explain`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Check {
    pub rule_id: String,
    /// As in [`Decision::argument`]; `None` for checks on the whole arguments object.
    pub argument: Option<String>,
    pub constraint: String,
    pub passed: bool,
    /// What was checked or why it failed, without the argument's value.
    pub detail: String,
}

impl Decision {
    /// A decision about the call as a whole (no argument was at fault).
    pub(super) fn whole(verdict: Verdict, rule_id: &str, reason: String) -> Decision {
        Decision {
            verdict,
            rule_id: rule_id.to_string(),
            reason,
            argument: None,
            constraint: None,
            checks: Vec::new(),
            approval: None,
            unlisted: false,
        }
    }

    /// The refusal of a tool the server never listed (rule "unknown-tool"):
    /// refused in every mode, since nothing was ever shown for review.
    pub fn unadvertised(server: &str, tool: &str) -> Decision {
        let mut reason = String::from("server ");
        push_quoted(&mut reason, server);
        reason.push_str(" does not advertise a tool named ");
        push_quoted(&mut reason, tool);
        Decision { unlisted: true, ..Decision::whole(Verdict::Deny, UNKNOWN_TOOL_RULE_ID, reason) }
    }

    /// The refusal of a tool whose definition is not the one reviewed (a
    /// drifted or missing pin, a quarantined definition): refused in every
    /// mode, since what the model would act on was never approved. `rule`
    /// is `"pins"` or `"inspection.tool_definitions"`, `constraint` says which check.
    pub fn unreviewed(rule: &str, reason: String, constraint: &str) -> Decision {
        Decision {
            unlisted: true,
            constraint: Some(constraint.to_string()),
            ..Decision::whole(Verdict::Deny, rule, reason)
        }
    }

    /// The trifecta guard's verdict on a `sends_out` call in a session that
    /// saw untrusted content and read private data (rule
    /// `flow.untrusted_then_send`): held for a person or refused, with the
    /// earlier calls named in `reason`. Follows the policy's mode like any rule.
    pub fn flow_guard(verdict: Verdict, reason: String) -> Decision {
        Decision { constraint: Some("untrusted_then_send".into()), ..Decision::whole(verdict, FLOW_RULE_ID, reason) }
    }

    /// A result held for a person because it carries injected instructions
    /// (rule `inspect.injection`, `[inspect] injection = "approve"`).
    pub fn result_hold(reason: String) -> Decision {
        Decision {
            constraint: Some("injection".into()),
            ..Decision::whole(Verdict::Approve, "inspect.injection", reason)
        }
    }

    /// The refusal of a name no upstream owns (rule "unknown-tool"): refused in every mode.
    pub fn unknown_tool(exposed: &str) -> Decision {
        let mut reason = String::from("no upstream server has a tool named ");
        push_quoted(&mut reason, exposed);
        Decision { unlisted: true, ..Decision::whole(Verdict::Deny, UNKNOWN_TOOL_RULE_ID, reason) }
    }
}

/// What the gateway does with a decided call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send it upstream.
    Forward,
    /// Answer the client with the refusal.
    Refuse,
    /// Wait for a person's approval first.
    Hold,
}

/// A decision and what enforcing it means under the policy's mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Enforcement {
    pub action: Action,
    /// Whether the verdict is carried out (the audit log's `enforced`); in
    /// audit mode a policy's verdict is only recorded.
    pub enforced: bool,
}

impl Enforcement {
    /// Enforce mode carries out every verdict; audit mode forwards every call
    /// the policy decided, but never one naming a tool nobody listed.
    pub(super) fn under(mode: Mode, decision: &Decision) -> Enforcement {
        if decision.unlisted {
            return Enforcement { action: Action::Refuse, enforced: true };
        }
        match mode {
            Mode::Audit => Enforcement { action: Action::Forward, enforced: false },
            Mode::Enforce => {
                let action = match decision.verdict {
                    Verdict::Allow => Action::Forward,
                    Verdict::Deny => Action::Refuse,
                    Verdict::Approve => Action::Hold,
                };
                Enforcement { action, enforced: true }
            }
        }
    }
}

/// Why an allowed rule's checks refused a call.
pub(super) struct Refusal {
    pub(super) argument: Option<String>,
    pub(super) constraint: &'static str,
    /// Completes `... is denied by rule "r": `; names, never values.
    pub(super) clause: String,
}

impl Refusal {
    pub(super) fn argument(name: &str, constraint: &'static str, clause: String) -> Refusal {
        Refusal { argument: Some(name.to_string()), constraint, clause }
    }

    pub(super) fn whole(constraint: &'static str, clause: String) -> Refusal {
        Refusal { argument: None, constraint, clause }
    }

    /// `what` names the schema ("the rule's schema").
    pub(super) fn schema(constraint: &'static str, what: &str, failure: &SchemaFailure) -> Refusal {
        let at = if failure.pointer.is_empty() { String::new() } else { format!(" at {}", quoted(&failure.pointer)) };
        let clause = format!("arguments do not match {what}{at} ({constraint}: {})", failure.keyword);
        let argument = (!failure.pointer.is_empty()).then(|| failure.pointer.clone());
        Refusal { argument, constraint, clause }
    }
}

/// The checks of one decision: stops at the first failure unless explaining.
pub(super) struct Evaluation {
    explain: bool,
    pub(super) checks: Vec<Check>,
    pub(super) refusal: Option<Refusal>,
}

impl Evaluation {
    pub(super) fn new(explain: bool) -> Evaluation {
        Evaluation { explain, checks: Vec::new(), refusal: None }
    }

    /// No further check can change the outcome, and nobody is listening.
    pub(super) fn stopped(&self) -> bool {
        !self.explain && self.refusal.is_some()
    }

    /// Records a passed check (only built when explaining).
    pub(super) fn pass(
        &mut self,
        rule_id: &str,
        argument: Option<&str>,
        constraint: &'static str,
        detail: impl FnOnce() -> String,
    ) {
        if self.explain {
            self.checks.push(Check {
                rule_id: rule_id.to_string(),
                argument: argument.map(str::to_string),
                constraint: constraint.to_string(),
                passed: true,
                detail: detail(),
            });
        }
    }

    /// Records a failed check; the first failure decides.
    pub(super) fn fail(&mut self, rule_id: &str, refusal: Refusal) {
        if self.explain {
            self.checks.push(Check {
                rule_id: rule_id.to_string(),
                argument: refusal.argument.clone(),
                constraint: refusal.constraint.to_string(),
                passed: false,
                detail: refusal.clause.clone(),
            });
        }
        if self.refusal.is_none() {
            self.refusal = Some(refusal);
        }
    }
}

/// A client-supplied name (argument key, JSON pointer) quoted and escaped for
/// a reason, cut to a bounded length.
pub(super) fn quoted(name: &str) -> String {
    quoted_cut(name, 64)
}

/// A client-supplied name quoted and escaped for a reason, cut after
/// `max_chars` characters (marked with `…`).
pub(super) fn quoted_cut(name: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(name.len().min(max_chars) + 2);
    match name.char_indices().nth(max_chars) {
        Some((cut, _)) => {
            push_quoted(&mut out, &name[..cut]);
            out.push('…');
        }
        None => push_quoted(&mut out, name),
    }
    out
}

/// Builds `text[0] "tool" text[1] "server" text[2] ["rule"]`. Names come from
/// clients and upstreams, so they are quoted and escaped as by `{:?}` to keep
/// audit lines unforgeable; plain ASCII names take a fast path with the same output.
pub(super) fn reason(text: [&str; 3], tool: &str, server: &str, rule: Option<&str>) -> String {
    let mut out = String::with_capacity(96);
    out.push_str(text[0]);
    push_quoted(&mut out, tool);
    out.push_str(text[1]);
    push_quoted(&mut out, server);
    out.push_str(text[2]);
    if let Some(rule) = rule {
        push_quoted(&mut out, rule);
    }
    out
}

fn push_quoted(out: &mut String, name: &str) {
    use std::fmt::Write;
    let plain = name.bytes().all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\');
    if plain {
        out.push('"');
        out.push_str(name);
        out.push('"');
    } else {
        let _ = write!(out, "{name:?}");
    }
}
