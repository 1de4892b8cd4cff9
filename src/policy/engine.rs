//! Deciding over a compiled policy. No I/O, no allocation except the
//! strings of the returned [`Decision`].
//!
//! Order of evaluation (what must stay true):
//! 1. any matching deny rule wins; the first in file order is reported;
//! 2. otherwise the most specific matching allow rule: a rule naming the tool
//!    exactly beats a rule matching it by glob; ties go to the first in file order;
//! 3. otherwise `defaults.tools`.

use globset::{Glob, GlobMatcher, GlobSet, GlobSetBuilder};

use super::file::RuleAction;
use super::{CallContext, Decision, Mode, Verdict};

/// The rule id reported when no rule matched.
const DEFAULT_RULE_ID: &str = "defaults.tools";

/// A compiled, immutable policy.
#[derive(Debug)]
pub struct Policy {
    mode: Mode,
    default_action: RuleAction,
    /// Deny rules, in file order.
    deny: Vec<CompiledRule>,
    /// Allow rules, in file order.
    allow: Vec<CompiledRule>,
    version: String,
}

#[derive(Debug)]
pub(super) struct CompiledRule {
    pub(super) id: String,
    pub(super) action: RuleAction,
    pub(super) server: NameMatcher,
    pub(super) tools: ToolMatcher,
}

/// Matches an upstream server name.
#[derive(Debug)]
pub(super) enum NameMatcher {
    Any,
    Exact(Box<str>),
    Glob(GlobMatcher),
}

impl NameMatcher {
    fn matches(&self, name: &str) -> bool {
        match self {
            NameMatcher::Any => true,
            NameMatcher::Exact(exact) => **exact == *name,
            NameMatcher::Glob(glob) => glob.is_match(name),
        }
    }
}

/// Matches a tool name against a rule's `tools` list.
///
/// The common glob shapes (`*`, `prefix*`, `*suffix`) are matched as plain
/// string operations; with `literal_separator(false)` a `*` matches any
/// sequence, so this is exactly what globset would answer, only faster.
#[derive(Debug)]
pub(super) struct ToolMatcher {
    /// Exact names, sorted for binary search.
    exact: Vec<Box<str>>,
    prefixes: Vec<Box<str>>,
    suffixes: Vec<Box<str>>,
    /// Every other glob.
    globs: Option<GlobSet>,
    /// Some pattern (`*`) matches every tool.
    matches_all: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ToolMatch {
    Exact,
    Glob,
}

/// Whether `text` has no glob syntax.
pub(super) fn is_literal(text: &str) -> bool {
    !text.contains(['*', '?', '[', ']', '{', '}', '\\'])
}

impl ToolMatcher {
    /// `exact` are literal names; `globs` were already validated.
    pub(super) fn new(mut exact: Vec<Box<str>>, globs: Vec<Glob>) -> Result<Self, globset::Error> {
        exact.sort_unstable();
        exact.dedup();
        let mut matcher =
            ToolMatcher { exact, prefixes: Vec::new(), suffixes: Vec::new(), globs: None, matches_all: false };
        let mut rest = GlobSetBuilder::new();
        let mut rest_count = 0;
        for glob in globs {
            let text = glob.glob();
            if text.chars().all(|c| c == '*') {
                matcher.matches_all = true;
            } else if let Some(prefix) = text.strip_suffix('*').filter(|p| is_literal(p)) {
                matcher.prefixes.push(prefix.into());
            } else if let Some(suffix) = text.strip_prefix('*').filter(|s| is_literal(s)) {
                matcher.suffixes.push(suffix.into());
            } else {
                rest.add(glob);
                rest_count += 1;
            }
        }
        if rest_count > 0 {
            matcher.globs = Some(rest.build()?);
        }
        Ok(matcher)
    }

    fn matches_exact(&self, tool: &str) -> bool {
        self.exact.binary_search_by(|e| (**e).cmp(tool)).is_ok()
    }

    fn matches_glob(&self, tool: &str) -> bool {
        self.matches_all
            || self.prefixes.iter().any(|p| tool.starts_with(&**p))
            || self.suffixes.iter().any(|s| tool.ends_with(&**s))
            || self.globs.as_ref().is_some_and(|g| g.is_match(tool))
    }

    fn matches(&self, tool: &str) -> Option<ToolMatch> {
        if self.matches_exact(tool) {
            Some(ToolMatch::Exact)
        } else if self.matches_glob(tool) {
            Some(ToolMatch::Glob)
        } else {
            None
        }
    }
}

/// Which rule decided, without building strings.
enum Outcome<'p> {
    Denied(&'p CompiledRule),
    Allowed(&'p CompiledRule),
    Default,
}

impl Policy {
    pub(super) fn new(mode: Mode, default_action: RuleAction, rules: Vec<CompiledRule>, version: String) -> Policy {
        let (deny, allow) = rules.into_iter().partition(|rule| rule.action == RuleAction::Deny);
        Policy { mode, default_action, deny, allow, version }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Hex SHA-256 over the policy source texts in load order.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Number of rules loaded, for logs.
    pub fn rule_count(&self) -> usize {
        self.deny.len() + self.allow.len()
    }

    /// Decides one tool on one server. The verdict is the same in both modes;
    /// in audit mode the caller records it and does not block.
    pub fn decide(&self, ctx: &CallContext) -> Decision {
        let (server, tool) = (ctx.server, ctx.tool);
        let (verdict, rule_id, reason) = match self.evaluate(server, tool) {
            Outcome::Denied(rule) => (
                Verdict::Deny,
                rule.id.as_str(),
                reason(["tool ", " on server ", " is denied by rule "], tool, server, Some(&rule.id)),
            ),
            Outcome::Allowed(rule) => (
                Verdict::Allow,
                rule.id.as_str(),
                reason(["tool ", " on server ", " is allowed by rule "], tool, server, Some(&rule.id)),
            ),
            Outcome::Default => match self.default_action {
                RuleAction::Deny => (
                    Verdict::Deny,
                    DEFAULT_RULE_ID,
                    reason(["no rule allows tool ", " on server ", " (default deny)"], tool, server, None),
                ),
                RuleAction::Allow => (
                    Verdict::Allow,
                    DEFAULT_RULE_ID,
                    reason(["no rule matches tool ", " on server ", " (default allow)"], tool, server, None),
                ),
            },
        };
        Decision { verdict, rule_id: rule_id.to_string(), reason }
    }

    /// Should this tool appear in tools/list? In enforce mode exactly when
    /// [`Policy::decide`] would allow it; in audit mode always.
    pub fn tool_listed(&self, server: &str, tool: &str) -> bool {
        match self.mode {
            Mode::Audit => true,
            Mode::Enforce => match self.evaluate(server, tool) {
                Outcome::Denied(_) => false,
                Outcome::Allowed(_) => true,
                Outcome::Default => self.default_action == RuleAction::Allow,
            },
        }
    }

    /// Could any tool on this server be allowed? A session connects only to
    /// reachable upstreams. Conservative towards "reachable": a server is
    /// unreachable only when no allow rule can match it (and the default is
    /// deny), or a deny rule matching it denies every tool. Audit mode: true.
    pub fn server_reachable(&self, server: &str) -> bool {
        if self.mode == Mode::Audit {
            return true;
        }
        let denies_everything = self.deny.iter().any(|rule| rule.tools.matches_all && rule.server.matches(server));
        if denies_everything {
            return false;
        }
        self.default_action == RuleAction::Allow || self.allow.iter().any(|rule| rule.server.matches(server))
    }

    fn evaluate(&self, server: &str, tool: &str) -> Outcome<'_> {
        if let Some(rule) =
            self.deny.iter().find(|rule| rule.server.matches(server) && rule.tools.matches(tool).is_some())
        {
            return Outcome::Denied(rule);
        }
        let mut first_glob = None;
        for rule in &self.allow {
            if !rule.server.matches(server) {
                continue;
            }
            if first_glob.is_some() {
                // Only an exact name can still beat the glob match already found.
                if rule.tools.matches_exact(tool) {
                    return Outcome::Allowed(rule);
                }
                continue;
            }
            match rule.tools.matches(tool) {
                Some(ToolMatch::Exact) => return Outcome::Allowed(rule),
                Some(ToolMatch::Glob) => first_glob = Some(rule),
                None => {}
            }
        }
        first_glob.map_or(Outcome::Default, Outcome::Allowed)
    }
}

/// Builds `text[0] "tool" text[1] "server" text[2] ["rule"]`. Names come from
/// clients and upstreams, so they are quoted and escaped as by `{:?}` to keep
/// audit lines unforgeable; plain ASCII names take a fast path with the same output.
fn reason(text: [&str; 3], tool: &str, server: &str, rule: Option<&str>) -> String {
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
