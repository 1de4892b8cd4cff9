//! What an approval covers: the pure matching between a held call, the
//! approver's answer and later calls. No I/O and no clock of its own (the
//! caller passes `now`), so every rule here is a unit test.
//!
//! What must stay true:
//! - an approval is bound to one call: session, caller, client identity,
//!   server, tool, the deciding rule, the argument digest and the policy version;
//! - `once` covers only the held call itself (it never becomes a grant);
//! - `session` covers later calls in the same session, `for N` covers later
//!   calls of the same caller and client identity until it expires, and
//!   never reaches past the session that earned it unless an authentication
//!   layer proved the caller; both keep the
//!   same tool and rule, and the same arguments unless `any_args` was given
//!   (the rule's argument constraints still decide every call);
//! - a grant made under another policy version covers nothing.

use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime};

use crate::source::{parse_duration, DurationError};

/// The longest an approver may widen a grant to.
pub const MAX_GRANT_DURATION: Duration = Duration::from_secs(24 * 60 * 60);

/// One call, as far as an approval is concerned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallBinding {
    pub session: String,
    /// Who made the call (`protocol::Caller`, as audit records spell it).
    /// Absent in bindings stored before callers existed: those match no caller.
    #[serde(default)]
    pub caller: String,
    /// Whether an authentication layer proved `caller`. Every client of an
    /// unauthenticated listener is the same `local` caller, so a grant to
    /// one of them must not reach the others.
    #[serde(default)]
    pub caller_authenticated: bool,
    pub client_name: Option<String>,
    pub client_version: Option<String>,
    pub server: String,
    pub tool: String,
    /// The rule that asked for approval.
    pub rule: String,
    /// `digest_arguments` of the call's arguments.
    pub args_digest: String,
    /// `Policy::version()` in force when the call was decided.
    pub policy_version: String,
    /// Why the call is held, for the person who answers (which earlier
    /// calls tainted the session, for the trifecta guard). Not matched by grants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

/// How far an approval reaches beyond the call it answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantScope {
    /// This call only.
    Once,
    /// Later identical calls in the same session.
    Session,
    /// Later identical calls by the same client until the duration has passed.
    For(Duration),
}

impl GrantScope {
    /// `once`, `session`, or a duration like `15m`.
    pub fn parse(text: &str) -> Result<GrantScope, String> {
        match text {
            "once" => Ok(GrantScope::Once),
            "session" => Ok(GrantScope::Session),
            other => match parse_duration(other, Duration::ZERO, MAX_GRANT_DURATION) {
                Ok(d) => Ok(GrantScope::For(d)),
                Err(DurationError::TooShort { .. }) => Err("a time scope must be longer than 0".into()),
                Err(DurationError::TooLong { .. }) => Err("a time scope must be at most 24h".into()),
                Err(DurationError::Malformed(_)) => {
                    Err(format!("scope {other:?} is not once, session or a duration like 15m"))
                }
            },
        }
    }

    pub fn label(&self) -> String {
        match self {
            GrantScope::Once => "once".into(),
            GrantScope::Session => "session".into(),
            GrantScope::For(d) => humantime::format_duration(*d).to_string(),
        }
    }
}

/// A widened approval that later calls may ride on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// The approval request it came from.
    pub request: String,
    pub binding: CallBinding,
    pub scope: GrantScope,
    /// Any arguments the rule allows, not only the approved ones.
    pub any_args: bool,
    pub approver: String,
    pub reason: String,
    /// For [`GrantScope::For`]; `None` for session grants.
    pub expires_at: Option<SystemTime>,
}

impl Grant {
    /// The grant an answer creates, or `None` for a single-use approval.
    pub fn widen(
        request: &str,
        binding: &CallBinding,
        scope: GrantScope,
        any_args: bool,
        approver: &str,
        reason: &str,
        now: SystemTime,
    ) -> Option<Grant> {
        let expires_at = match scope {
            GrantScope::Once => return None,
            GrantScope::Session => None,
            GrantScope::For(d) => Some(now + d),
        };
        Some(Grant {
            request: request.to_string(),
            binding: binding.clone(),
            scope,
            any_args,
            approver: approver.to_string(),
            reason: reason.to_string(),
            expires_at,
        })
    }

    /// Whether this grant lets `call` through without asking again.
    pub fn covers(&self, call: &CallBinding, now: SystemTime) -> bool {
        let granted = &self.binding;
        if self.expired(now) {
            return false;
        }
        let same_call = granted.server == call.server
            && granted.tool == call.tool
            && granted.rule == call.rule
            && granted.policy_version == call.policy_version
            && (self.any_args || granted.args_digest == call.args_digest);
        // The caller is what the gateway can vouch for; the client's name is
        // self-declared and only narrows a grant further, never widens it.
        let same_client = granted.caller == call.caller
            && granted.client_name == call.client_name
            && granted.client_version == call.client_version;
        match self.scope {
            GrantScope::Once => false,
            GrantScope::Session => same_call && same_client && granted.session == call.session,
            GrantScope::For(_) => {
                // An unauthenticated caller is anyone who can reach the
                // listener: the session is the only identity there is.
                let same_holder = granted.caller_authenticated || granted.session == call.session;
                same_call && same_client && same_holder
            }
        }
    }

    pub fn expired(&self, now: SystemTime) -> bool {
        match self.scope {
            GrantScope::Once => true,
            GrantScope::Session => false,
            GrantScope::For(_) => self.expires_at.is_none_or(|at| now >= at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(session: &str, digest: &str) -> CallBinding {
        CallBinding {
            session: session.into(),
            caller: "local".into(),
            caller_authenticated: false,
            client_name: Some("claude-code".into()),
            client_version: Some("2.0".into()),
            server: "mail".into(),
            tool: "send_message".into(),
            rule: "mail-needs-approval".into(),
            args_digest: digest.into(),
            policy_version: "v1".into(),
            why: None,
        }
    }

    fn grant(scope: GrantScope, any_args: bool) -> Grant {
        Grant::widen("req-1", &call("s1", "sha256:aaa"), scope, any_args, "alice", "ok", SystemTime::UNIX_EPOCH)
            .expect("a widened scope makes a grant")
    }

    const T0: SystemTime = SystemTime::UNIX_EPOCH;

    #[test]
    fn single_use_approval_leaves_no_grant_behind() {
        assert!(Grant::widen("r", &call("s1", "d"), GrantScope::Once, false, "a", "", T0).is_none());
        assert!(Grant::widen("r", &call("s1", "d"), GrantScope::Once, true, "a", "", T0).is_none());
    }

    #[test]
    fn session_approval_covers_the_identical_call_in_that_session() {
        assert!(grant(GrantScope::Session, false).covers(&call("s1", "sha256:aaa"), T0 + Duration::from_secs(3600)));
    }

    #[test]
    fn approval_for_other_arguments_does_not_cover_this_call() {
        assert!(!grant(GrantScope::Session, false).covers(&call("s1", "sha256:bbb"), T0));
        assert!(!grant(GrantScope::For(Duration::from_secs(900)), false).covers(&call("s1", "sha256:bbb"), T0));
    }

    #[test]
    fn any_args_approval_covers_other_arguments_of_the_same_tool_and_rule() {
        assert!(grant(GrantScope::Session, true).covers(&call("s1", "sha256:bbb"), T0));
        let mut other_rule = call("s1", "sha256:bbb");
        other_rule.rule = "another-rule".into();
        assert!(!grant(GrantScope::Session, true).covers(&other_rule, T0));
    }

    #[test]
    fn session_approval_does_not_cover_another_session() {
        assert!(!grant(GrantScope::Session, false).covers(&call("s2", "sha256:aaa"), T0));
        assert!(!grant(GrantScope::Session, true).covers(&call("s2", "sha256:aaa"), T0));
    }

    #[test]
    fn approval_for_one_tool_does_not_cover_another_tool_or_server() {
        let g = grant(GrantScope::For(Duration::from_secs(900)), true);
        let mut other_tool = call("s1", "sha256:aaa");
        other_tool.tool = "delete_messages".into();
        assert!(!g.covers(&other_tool, T0));
        let mut other_server = call("s1", "sha256:aaa");
        other_server.server = "mail-2".into();
        assert!(!g.covers(&other_server, T0));
    }

    #[test]
    fn approval_under_another_policy_version_does_not_apply() {
        let mut changed = call("s1", "sha256:aaa");
        changed.policy_version = "v2".into();
        assert!(!grant(GrantScope::Session, false).covers(&changed, T0));
        assert!(!grant(GrantScope::For(Duration::from_secs(900)), true).covers(&changed, T0));
    }

    #[test]
    fn another_client_does_not_ride_on_a_time_scoped_approval() {
        let mut other = call("s2", "sha256:aaa");
        other.client_name = Some("some-agent".into());
        assert!(!grant(GrantScope::For(Duration::from_secs(900)), false).covers(&other, T0));
    }

    #[test]
    fn another_caller_does_not_ride_on_an_approval_even_under_the_same_client_name() {
        let mut other = call("s1", "sha256:aaa");
        other.caller = "https://idp.example|mallory".into();
        assert!(!grant(GrantScope::For(Duration::from_secs(900)), true).covers(&other, T0));
        assert!(!grant(GrantScope::Session, true).covers(&other, T0));
        let mut unknown = call("s2", "sha256:aaa");
        unknown.caller = String::new();
        assert!(!grant(GrantScope::For(Duration::from_secs(900)), false).covers(&unknown, T0));
    }

    fn authenticated(session: &str, digest: &str) -> CallBinding {
        CallBinding { caller: "https://idp.example|alice".into(), caller_authenticated: true, ..call(session, digest) }
    }

    #[test]
    fn time_scoped_approval_covers_other_sessions_of_an_authenticated_caller_until_it_expires() {
        let g = Grant::widen(
            "r",
            &authenticated("s1", "sha256:aaa"),
            GrantScope::For(Duration::from_secs(900)),
            false,
            "a",
            "",
            T0,
        )
        .unwrap();
        assert!(g.covers(&authenticated("s2", "sha256:aaa"), T0 + Duration::from_secs(899)));
        assert!(!g.covers(&authenticated("s2", "sha256:aaa"), T0 + Duration::from_secs(900)));
        assert!(g.expired(T0 + Duration::from_secs(900)));
    }

    #[test]
    fn an_unauthenticated_callers_time_scoped_approval_never_leaves_its_session() {
        // Every client of an unauthenticated listener is "local", and claims whatever client name it likes.
        let g = grant(GrantScope::For(Duration::from_secs(900)), true);
        assert!(g.covers(&call("s1", "sha256:bbb"), T0 + Duration::from_secs(60)));
        assert!(
            !g.covers(&call("s2", "sha256:aaa"), T0 + Duration::from_secs(60)),
            "another session, same claimed client"
        );
    }

    #[test]
    fn scopes_parse_and_refuse_nonsense() {
        assert_eq!(GrantScope::parse("once"), Ok(GrantScope::Once));
        assert_eq!(GrantScope::parse("session"), Ok(GrantScope::Session));
        assert_eq!(GrantScope::parse("15m"), Ok(GrantScope::For(Duration::from_secs(900))));
        assert!(GrantScope::parse("forever").is_err());
        assert!(GrantScope::parse("0s").is_err());
        assert!(GrantScope::parse("30d").is_err());
        assert_eq!(GrantScope::For(Duration::from_secs(900)).label(), "15m");
    }
}
