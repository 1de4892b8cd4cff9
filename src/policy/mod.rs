//! The policy engine: which tools a client may see and call on which upstream.
//!
//! `file` turns policy TOML into a compiled [`Policy`] (the only place that
//! reads files); `engine` decides over that compiled form and does no I/O.
//! A compiled policy is immutable, so the relay can share it behind an `Arc`
//! and swap it on reload.

mod engine;
pub(crate) mod file;
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
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Decision {
    pub verdict: Verdict,
    /// The `id` of the deciding rule, or `"defaults.tools"` when no rule matched.
    pub rule_id: String,
    /// A human sentence naming the tool, the server and the rule.
    pub reason: String,
}

/// What is being decided: one tool on one upstream.
#[derive(Clone, Copy, Debug)]
pub struct CallContext<'a> {
    /// The upstream's configured `name` (not its alias).
    pub server: &'a str,
    /// The tool's original name, as the upstream lists it (not namespaced).
    pub tool: &'a str,
    /// The call's arguments; `None` for tools/list.
    pub arguments: Option<&'a serde_json::Value>,
}

/// Why a policy could not be loaded. Display is `FILE:LINE:COL: reason`.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("{}: cannot read policy file: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{origin}:{line}:{column}: {reason}")]
    Invalid { origin: String, line: usize, column: usize, reason: String },
}
