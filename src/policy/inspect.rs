//! What the policy says about what servers send back: `[inspect]` (the
//! action per detector, with `[[inspect.overrides]]` per server and tool),
//! `[flow]` (the guard on untrusted data flowing out) and the data-flow
//! `labels` of rules. Compiled at load like the rules; looked up per call.
//!
//! ```toml
//! [inspect]
//! secrets = "redact"      # redact | block | flag | off
//! pii = "off"             # redact | block | flag | off
//! injection = "flag"      # block | flag | approve | off
//! [[inspect.overrides]]   # later overrides win, key by key
//! server = "db"
//! tools = ["query"]
//! secrets = "block"
//! [flow]
//! untrusted_then_send = "approve"   # approve | deny | off
//! ```

use globset::{GlobBuilder, GlobMatcher};
use serde::Deserialize;
use toml::Spanned;

use crate::source::{Source, SourceError};

/// What is done with a finding in a result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InspectAction {
    /// Only the match is replaced with `[REDACTED:<kind>]`.
    Redact,
    /// The whole result becomes an error result naming the detector.
    Block,
    /// Recorded only.
    Flag,
    /// The result is held for a person.
    Approve,
    Off,
}

impl InspectAction {
    pub fn as_str(self) -> &'static str {
        match self {
            InspectAction::Redact => "redact",
            InspectAction::Block => "block",
            InspectAction::Flag => "flag",
            InspectAction::Approve => "approve",
            InspectAction::Off => "off",
        }
    }
}

/// The actions for one server's tool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InspectSettings {
    pub secrets: InspectAction,
    pub pii: InspectAction,
    pub injection: InspectAction,
}

impl Default for InspectSettings {
    fn default() -> Self {
        InspectSettings { secrets: InspectAction::Redact, pii: InspectAction::Off, injection: InspectAction::Flag }
    }
}

/// `[flow] untrusted_then_send`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FlowAction {
    #[default]
    Approve,
    Deny,
    Off,
}

/// A data-flow label a rule gives the tools it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Label {
    /// Its results are private (a mailbox, a private repository, files).
    PrivateData,
    /// Its results are written by others (web pages, issues, e-mail).
    UntrustedContent,
    /// It sends data somewhere others can read it (mail, HTTP, posts).
    SendsOut,
}

impl Label {
    pub fn as_str(self) -> &'static str {
        match self {
            Label::PrivateData => "private_data",
            Label::UntrustedContent => "untrusted_content",
            Label::SendsOut => "sends_out",
        }
    }
}

#[derive(Debug)]
struct Override {
    server: Option<GlobMatcher>,
    tools: Vec<GlobMatcher>,
    secrets: Option<InspectAction>,
    pii: Option<InspectAction>,
    injection: Option<InspectAction>,
}

/// `[inspect]` and `[flow]`, compiled.
#[derive(Debug, Default)]
pub struct InspectPolicy {
    base: InspectSettings,
    overrides: Vec<Override>,
    pub flow: FlowAction,
}

impl InspectPolicy {
    /// The actions for `tool` of `server`: the base, then every matching
    /// override in file order, key by key.
    pub fn settings(&self, server: &str, tool: &str) -> InspectSettings {
        let mut settings = self.base;
        for o in &self.overrides {
            let server_matches = o.server.as_ref().is_none_or(|g| g.is_match(server));
            let tool_matches = o.tools.is_empty() || o.tools.iter().any(|g| g.is_match(tool));
            if server_matches && tool_matches {
                settings.secrets = o.secrets.unwrap_or(settings.secrets);
                settings.pii = o.pii.unwrap_or(settings.pii);
                settings.injection = o.injection.unwrap_or(settings.injection);
            }
        }
        settings
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct InspectTable {
    secrets: Option<Spanned<String>>,
    pii: Option<Spanned<String>>,
    injection: Option<Spanned<String>>,
    #[serde(default)]
    overrides: Vec<OverrideTable>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OverrideTable {
    server: Option<Spanned<String>>,
    tools: Option<Spanned<Vec<Spanned<String>>>>,
    secrets: Option<Spanned<String>>,
    pii: Option<Spanned<String>>,
    injection: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FlowTable {
    untrusted_then_send: Option<Spanned<String>>,
}

const DATA_ACTIONS: &[(&str, InspectAction)] = &[
    ("redact", InspectAction::Redact),
    ("block", InspectAction::Block),
    ("flag", InspectAction::Flag),
    ("off", InspectAction::Off),
];
const INJECTION_ACTIONS: &[(&str, InspectAction)] = &[
    ("block", InspectAction::Block),
    ("flag", InspectAction::Flag),
    ("approve", InspectAction::Approve),
    ("off", InspectAction::Off),
];

fn action(
    value: &Spanned<String>,
    key: &str,
    allowed: &[(&str, InspectAction)],
    source: &Source<'_>,
) -> Result<InspectAction, SourceError> {
    allowed.iter().find(|(name, _)| *name == value.get_ref()).map(|(_, a)| *a).ok_or_else(|| {
        let names: Vec<String> = allowed.iter().map(|(n, _)| format!("{n:?}")).collect();
        source.error(&value.span(), format!("{key} must be one of {}, not {:?}", names.join(", "), value.get_ref()))
    })
}

fn glob(pattern: &Spanned<String>, what: &str, source: &Source<'_>) -> Result<GlobMatcher, SourceError> {
    GlobBuilder::new(pattern.get_ref())
        .literal_separator(false)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| source.error(&pattern.span(), format!("{what}: bad glob {:?}: {}", pattern.get_ref(), e.kind())))
}

/// Where each base setting was first made, so two files cannot disagree.
#[derive(Default)]
pub(super) struct InspectBuilder {
    policy: InspectPolicy,
    set: Vec<(&'static str, String)>,
}

impl InspectBuilder {
    fn once(
        &mut self,
        key: &'static str,
        span: &std::ops::Range<usize>,
        source: &Source<'_>,
    ) -> Result<(), SourceError> {
        if let Some((_, at)) = self.set.iter().find(|(k, _)| *k == key) {
            return Err(source.error(span, format!("{key} is already set at {at}; set it in one policy file only")));
        }
        self.set.push((key, source.location(span)));
        Ok(())
    }

    pub(super) fn add_inspect(&mut self, table: InspectTable, source: &Source<'_>) -> Result<(), SourceError> {
        for (value, key, allowed) in [
            (&table.secrets, "inspect.secrets", DATA_ACTIONS),
            (&table.pii, "inspect.pii", DATA_ACTIONS),
            (&table.injection, "inspect.injection", INJECTION_ACTIONS),
        ] {
            let Some(value) = value else { continue };
            let parsed = action(value, key, allowed, source)?;
            self.once(key, &value.span(), source)?;
            let base = &mut self.policy.base;
            match key {
                "inspect.secrets" => base.secrets = parsed,
                "inspect.pii" => base.pii = parsed,
                _ => base.injection = parsed,
            }
        }
        for o in table.overrides {
            let server = o.server.as_ref().map(|s| glob(s, "inspect.overrides server", source)).transpose()?;
            let tools = match &o.tools {
                Some(list) => list
                    .get_ref()
                    .iter()
                    .map(|t| glob(t, "inspect.overrides tools", source))
                    .collect::<Result<_, _>>()?,
                None => Vec::new(),
            };
            let get = |v: &Option<Spanned<String>>, key, allowed| v.as_ref().map(|v| action(v, key, allowed, source));
            self.policy.overrides.push(Override {
                server,
                tools,
                secrets: get(&o.secrets, "inspect.overrides secrets", DATA_ACTIONS).transpose()?,
                pii: get(&o.pii, "inspect.overrides pii", DATA_ACTIONS).transpose()?,
                injection: get(&o.injection, "inspect.overrides injection", INJECTION_ACTIONS).transpose()?,
            });
        }
        Ok(())
    }

    pub(super) fn add_flow(&mut self, table: FlowTable, source: &Source<'_>) -> Result<(), SourceError> {
        if let Some(value) = &table.untrusted_then_send {
            self.once("flow.untrusted_then_send", &value.span(), source)?;
            self.policy.flow = match value.get_ref().as_str() {
                "approve" => FlowAction::Approve,
                "deny" => FlowAction::Deny,
                "off" => FlowAction::Off,
                other => {
                    return Err(source.error(
                        &value.span(),
                        format!("flow.untrusted_then_send must be \"approve\", \"deny\" or \"off\", not {other:?}"),
                    ))
                }
            };
        }
        Ok(())
    }

    pub(super) fn build(self) -> InspectPolicy {
        self.policy
    }
}

/// A rule's `labels = [...]`.
pub(super) fn compile_labels(
    list: &Spanned<Vec<Spanned<String>>>,
    id: &str,
    source: &Source<'_>,
) -> Result<Vec<Label>, SourceError> {
    let mut labels = Vec::new();
    for name in list.get_ref() {
        let label = match name.get_ref().as_str() {
            "private_data" => Label::PrivateData,
            "untrusted_content" => Label::UntrustedContent,
            "sends_out" => Label::SendsOut,
            other => {
                return Err(source.error(
                    &name.span(),
                    format!(
                    "rule {id:?}: label {other:?} is not one of \"private_data\", \"untrusted_content\", \"sends_out\""
                ),
                ))
            }
        };
        if !labels.contains(&label) {
            labels.push(label);
        }
    }
    Ok(labels)
}
