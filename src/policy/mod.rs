//! The policy engine: which tools a client may see and call on which upstream,
//! and which argument values such a call may carry.
//!
//! Each file has one job:
//! - `file`: policy TOML in, compiled [`Policy`] out (the only place that reads files);
//! - `engine`: picks the deciding rule and turns its outcome into a [`Decision`];
//! - `args`: per-argument constraints (`args.NAME = { ... }`) and their evaluation;
//! - `paths`: path confinement (`path_within`, `path_deny`), including the one
//!   small I/O function of the engine (symlink resolution, opt-in);
//! - `net`: network destinations (`url_*`, `deny_private_ips`, `email_domain`);
//! - `shell`: `no_shell_metachars`;
//! - `decode`: percent-decoding to a fixed point, shared by the checks above;
//! - `schema`: JSON Schema, both the rule's own and the upstream's advertised
//!   `inputSchema` (with the engine's one piece of internal mutability, a cache).
//!
//! A compiled policy is immutable apart from that cache, so the relay can share
//! it behind an `Arc` and swap it on reload.

mod args;
mod decode;
mod engine;
pub(crate) mod file;
mod net;
mod paths;
mod schema;
mod shell;
mod shim;
#[cfg(test)]
mod tests;

use std::path::PathBuf;

pub use engine::Policy;
pub use file::DEFAULT_APPROVAL_TIMEOUT;
pub use shim::{Action, Enforcement};

/// Whether decisions are enforced or only recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Denied calls are blocked and denied tools are hidden.
    Enforce,
    /// Every decision is made and recorded, nothing is blocked or hidden.
    Audit,
}

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

/// Where a person can answer a held call. A channel the gateway cannot
/// offer for a call (no `[admin]`, no webhook, a client without elicitation)
/// is dropped from it; a call left with none is denied, never left waiting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ApprovalChannel {
    /// The admin HTTP API (`/admin/api/approvals`).
    Api,
    /// `mcp-warden approvals ...`, which speaks to the admin API.
    Cli,
    /// The web console at `/admin` on the admin listener (through the same API).
    Console,
    /// A POST to `[approval.webhook] url` carrying HMAC-signed approve and
    /// deny callback URLs, for chat tools and ticket systems.
    Webhook,
    /// An `elicitation/create` form sent to the MCP client that made the
    /// call: the person at that client answers. Only offered to clients
    /// that declared the capability, and only where a rule names it.
    Elicitation,
}

impl ApprovalChannel {
    /// Channels a rule without `approval = [...]` accepts: those run by the
    /// gateway's operators. Elicitation lets the calling application's own
    /// user approve, so a rule has to ask for it by name.
    pub const DEFAULT: [ApprovalChannel; 4] =
        [ApprovalChannel::Api, ApprovalChannel::Cli, ApprovalChannel::Console, ApprovalChannel::Webhook];
    /// Every channel this build implements.
    pub const ALL: [ApprovalChannel; 5] = [
        ApprovalChannel::Api,
        ApprovalChannel::Cli,
        ApprovalChannel::Console,
        ApprovalChannel::Webhook,
        ApprovalChannel::Elicitation,
    ];

    pub fn parse(name: &str) -> Result<ApprovalChannel, String> {
        ApprovalChannel::ALL.into_iter().find(|c| c.as_str() == name).ok_or_else(|| {
            "unknown channel; known channels are \"api\", \"cli\", \"console\", \"webhook\" and \"elicitation\"".into()
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalChannel::Api => "api",
            ApprovalChannel::Cli => "cli",
            ApprovalChannel::Console => "console",
            ApprovalChannel::Webhook => "webhook",
            ApprovalChannel::Elicitation => "elicitation",
        }
    }

    /// Whether a person holding the admin token answers through this channel.
    pub fn is_admin(self) -> bool {
        matches!(self, ApprovalChannel::Api | ApprovalChannel::Cli | ApprovalChannel::Console)
    }
}

/// How an `action = "approve"` rule holds a call.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ApprovalTerms {
    /// How long the call waits before it is denied; always set once loaded.
    #[serde(serialize_with = "serialize_timeout")]
    pub timeout: Option<std::time::Duration>,
    /// Channels that may answer, in the rule's order.
    pub channels: Vec<ApprovalChannel>,
}

impl ApprovalTerms {
    pub fn timeout(&self) -> std::time::Duration {
        self.timeout.unwrap_or(file::DEFAULT_APPROVAL_TIMEOUT)
    }
}

fn serialize_timeout<S: serde::Serializer>(t: &Option<std::time::Duration>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&humantime::format_duration(t.unwrap_or(file::DEFAULT_APPROVAL_TIMEOUT)).to_string())
}

/// A verdict together with the rule that produced it, for the client and the audit log.
///
/// Nothing here echoes an argument *value*: values may be secrets, and the
/// reason goes to the client and to the audit log.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Decision {
    pub verdict: Verdict,
    /// The `id` of the deciding rule, or `"defaults.tools"` when no rule matched.
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
    /// Every constraint evaluated, in order. Filled by [`Policy::explain`];
    /// [`Policy::decide`] leaves it empty (it stops at the first failure).
    pub checks: Vec<Check>,
    /// For [`Verdict::Approve`]: how long the call may wait and who may answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalTerms>,
}

/// One constraint evaluated for [`Policy::explain`].
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

/// What is being decided: one tool on one upstream, with its arguments.
#[derive(Clone, Copy, Debug)]
pub struct CallContext<'a> {
    /// The upstream's configured `name` (not its alias).
    pub server: &'a str,
    /// The tool's original name, as the upstream lists it (not namespaced).
    pub tool: &'a str,
    /// The call's arguments; `None` when the client sent none (treated as `{}`).
    pub arguments: Option<&'a serde_json::Value>,
    /// The `inputSchema` the upstream advertised for this tool, if known.
    /// Checked when `validate_input_schema` is on (the default).
    pub input_schema: Option<&'a serde_json::Value>,
}

impl<'a> CallContext<'a> {
    /// A call without a known upstream `inputSchema`.
    pub fn new(server: &'a str, tool: &'a str, arguments: Option<&'a serde_json::Value>) -> Self {
        CallContext { server, tool, arguments, input_schema: None }
    }

    /// The same call, checked against the upstream's advertised `inputSchema`.
    pub fn with_input_schema(self, input_schema: Option<&'a serde_json::Value>) -> Self {
        CallContext { input_schema, ..self }
    }
}

/// Why a policy could not be loaded. Display is `FILE:LINE:COL: reason`.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("{}: cannot read policy file: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{origin}:{line}:{column}: {reason}")]
    Invalid { origin: String, line: usize, column: usize, reason: String },
}
