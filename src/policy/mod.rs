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
#[cfg(test)]
mod tests;

use std::path::PathBuf;

pub use engine::Policy;

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
