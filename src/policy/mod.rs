//! The policy engine: which tools a client may see and call on which upstream,
//! which argument values such a call may carry, which resources and prompts
//! it may list, read and get, and what enforcing a decision means under the
//! policy's mode.
//!
//! Each file has one job:
//! - `file`: policy TOML in, compiled rules out (the only place that reads files);
//! - `rule`: the compiled rule (what it matches, what it does, what it requires);
//! - `engine`: picks the deciding rule and turns its outcome into a [`Decision`],
//!   and maps a decision to an [`Enforcement`] under the mode;
//! - `access`: the same for resources, resource templates and prompts
//!   ([`Access`]), under every reading of the name;
//! - `uri`: the readings of a resource URI or prompt name a server might
//!   use, and the names no server should be handed;
//! - `verdict`: the outcome types ([`Verdict`], [`Decision`], [`Check`],
//!   [`Enforcement`]) and how reasons are worded;
//! - `args`: per-argument constraints (`args.NAME = { ... }`) and their evaluation;
//! - `paths`: path confinement (`path_within`, `path_deny`), including the one
//!   small I/O function of the engine (symlink resolution, opt-in);
//! - `net`: network destinations (`url_*`, `deny_private_ips`);
//! - `mail`: values bound for mail headers (`mail_header`, `email_domain`);
//! - `shell`: `no_shell_metachars`;
//! - `decode`: percent-decoding to a fixed point, shared by the checks above;
//! - `schema`: JSON Schema, both the rule's own and the upstream's advertised
//!   `inputSchema` ([`InputSchema`], compiled by the caller once per listing).
//!
//! Imports run one way: `file` → {`rule`, `args`, `uri`}; `engine` → {`rule`,
//! `args`, `verdict`, `schema`}; `access` → {`engine`, `rule`, `uri`,
//! `verdict`}; `args` → {`verdict`, the value checks}. This
//! file wires `file` to `engine`. Nothing here reaches above `policy` except
//! the shared loader kit, `crate::source`.
//!
//! A compiled policy is immutable, so the relay can share it behind an `Arc`
//! and swap it on reload.

mod access;
mod args;
mod decode;
mod engine;
mod file;
mod inspect;
mod mail;
mod net;
mod paths;
mod rule;
mod schema;
mod shell;
#[cfg(test)]
mod tests;
mod uri;
mod verdict;

use std::path::PathBuf;
use std::time::Duration;

use crate::source::SourceError;

pub use access::{Access, AccessContext};
pub use engine::Policy;
pub use inspect::{FlowAction, InspectAction, InspectPolicy, InspectSettings, Label};
pub use paths::RelativePaths;
pub use schema::InputSchema;
pub use verdict::{Action, Check, Decision, Enforcement, Verdict, FLOW_RULE_ID};

/// How long a held call waits for a person when no `approval_timeout` is set.
pub const DEFAULT_APPROVAL_TIMEOUT: Duration = Duration::from_secs(120);

/// Whether decisions are enforced or only recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Denied calls are blocked and denied tools are hidden.
    Enforce,
    /// Every decision is made and recorded, nothing is blocked or hidden.
    Audit,
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
    pub timeout: Option<Duration>,
    /// Channels that may answer, in the rule's order.
    pub channels: Vec<ApprovalChannel>,
}

impl ApprovalTerms {
    pub fn timeout(&self) -> Duration {
        self.timeout.unwrap_or(DEFAULT_APPROVAL_TIMEOUT)
    }
}

fn serialize_timeout<S: serde::Serializer>(t: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&humantime::format_duration(t.unwrap_or(DEFAULT_APPROVAL_TIMEOUT)).to_string())
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
    /// The `inputSchema` the upstream advertised for this tool, compiled, if
    /// known. Checked when `validate_input_schema` is on (the default).
    pub input_schema: Option<&'a InputSchema>,
    /// Who is calling (`protocol::Caller` as audit records spell it:
    /// `local`, or an authenticated principal); `None` offline (`explain`).
    /// No rule matches on it yet; per-identity rules will.
    pub caller: Option<&'a str>,
}

impl<'a> CallContext<'a> {
    /// A call without a known upstream `inputSchema` or caller.
    pub fn new(server: &'a str, tool: &'a str, arguments: Option<&'a serde_json::Value>) -> Self {
        CallContext { server, tool, arguments, input_schema: None, caller: None }
    }

    /// The same call, checked against the upstream's advertised `inputSchema`.
    pub fn with_input_schema(self, input_schema: Option<&'a InputSchema>) -> Self {
        CallContext { input_schema, ..self }
    }

    /// The same call, made by `caller`.
    pub fn with_caller(self, caller: &'a str) -> Self {
        CallContext { caller: Some(caller), ..self }
    }
}

/// Why a policy could not be loaded. Display is `FILE:LINE:COL: reason`.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("{}: cannot read policy file: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Invalid(#[from] SourceError),
}

impl Policy {
    /// Reads and compiles the policy files, in order.
    pub fn load(paths: &[PathBuf]) -> Result<Policy, PolicyError> {
        Policy::from_sources(&file::read(paths)?)
    }

    /// Compiles policy texts; each pair is (origin name used in errors, TOML text).
    /// Rules concatenate in order. `mode` and each `[defaults]` setting may be
    /// set in several files only if every file sets the same value.
    pub fn from_sources(sources: &[(String, String)]) -> Result<Policy, PolicyError> {
        Ok(Policy::new(file::compile(sources)?))
    }
}
