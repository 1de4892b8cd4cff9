//! Deciding over a compiled policy. No I/O (except `resolve_symlinks`, see
//! `paths`), and little allocation beyond the strings of the returned [`Decision`].
//!
//! Order of evaluation (what must stay true):
//! 1. any matching deny rule wins; the first in file order is reported
//!    (deny rules carry no argument constraints: the tool is refused whatever
//!    its arguments);
//! 2. otherwise the most specific matching allow rule: a rule naming the tool
//!    exactly beats a rule matching it by glob; ties go to the first in file
//!    order. That one rule decides: its argument constraints must all pass,
//!    else the call is denied naming that rule, the argument and the
//!    constraint (there is no fall-through to a less specific rule);
//! 3. otherwise `defaults.tools`;
//! 4. an allowed call must also match the upstream's advertised `inputSchema`
//!    when one is given and `validate_input_schema` is on (per rule, else
//!    `[defaults]`, else on).
//!
//! [`Policy::decide`] stops at the first failing check; [`Policy::explain`]
//! runs the same checks in the same order, records each, and so reaches the
//! same verdict.

use globset::{Glob, GlobMatcher, GlobSet, GlobSetBuilder};
use serde_json::Value;

use super::args::ArgumentPolicy;
use super::file::RuleAction;
use super::schema::{InputSchemaCache, SchemaFailure};
use super::{ApprovalTerms, CallContext, Check, Decision, Mode, Verdict};

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
    /// `[defaults] validate_input_schema`.
    validate_input_schema: bool,
    input_schemas: InputSchemaCache,
}

#[derive(Debug)]
pub(super) struct CompiledRule {
    pub(super) id: String,
    pub(super) action: RuleAction,
    pub(super) server: NameMatcher,
    pub(super) tools: ToolMatcher,
    /// `args.*`, `deny_unknown_args`, `schema`; allow rules only.
    pub(super) arguments: Option<ArgumentPolicy>,
    /// The rule's `validate_input_schema`, overriding `[defaults]`.
    pub(super) validate_input_schema: Option<bool>,
    /// `action = "approve"` rules only.
    pub(super) approval: Option<ApprovalTerms>,
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
    pub(super) fn new(
        mode: Mode,
        default_action: RuleAction,
        rules: Vec<CompiledRule>,
        version: String,
        validate_input_schema: bool,
    ) -> Policy {
        // Approve rules rank with allow rules: the most specific one decides,
        // and its argument constraints apply before anyone is asked.
        let (deny, allow) = rules.into_iter().partition(|rule| rule.action == RuleAction::Deny);
        Policy {
            mode,
            default_action,
            deny,
            allow,
            version,
            validate_input_schema,
            input_schemas: InputSchemaCache::default(),
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Hex SHA-256 over the policy source texts in load order.
    pub fn version(&self) -> &str {
        &self.version
    }

    #[cfg(test)]
    pub(super) fn input_schema_cache_len(&self) -> usize {
        self.input_schemas.len()
    }

    /// Number of rules loaded, for logs.
    pub fn rule_count(&self) -> usize {
        self.deny.len() + self.allow.len()
    }

    /// The `action = "approve"` rules and their terms, in file order.
    pub fn approval_rules(&self) -> impl Iterator<Item = (&str, &ApprovalTerms)> {
        self.allow.iter().filter_map(|r| Some((r.id.as_str(), r.approval.as_ref()?)))
    }

    /// Decides one call. The verdict is the same in both modes; in audit mode
    /// the caller records it and does not block. Stops at the first failing
    /// check, so [`Decision::checks`] is empty; see [`Policy::explain`].
    pub fn decide(&self, ctx: &CallContext) -> Decision {
        self.judge(ctx, false)
    }

    /// Decides one call exactly as [`Policy::decide`] does (same checks, same
    /// order, same verdict, rule, argument and constraint), but evaluates every
    /// constraint of the deciding rule and lists each in [`Decision::checks`].
    /// For `mcp-warden explain` and policy reviews; pure like `decide`.
    pub fn explain(&self, ctx: &CallContext) -> Decision {
        self.judge(ctx, true)
    }

    fn judge(&self, ctx: &CallContext, explain: bool) -> Decision {
        let (server, tool) = (ctx.server, ctx.tool);
        let mut approval = None;
        let (rule_id, validate_schema, arguments) = match self.evaluate(server, tool) {
            Outcome::Denied(rule) => {
                return Decision::whole(
                    Verdict::Deny,
                    &rule.id,
                    reason(["tool ", " on server ", " is denied by rule "], tool, server, Some(&rule.id)),
                );
            }
            Outcome::Allowed(rule) => {
                approval = rule.approval.clone();
                (
                    rule.id.as_str(),
                    rule.validate_input_schema.unwrap_or(self.validate_input_schema),
                    rule.arguments.as_ref(),
                )
            }
            Outcome::Default => match self.default_action {
                RuleAction::Deny => {
                    return Decision::whole(
                        Verdict::Deny,
                        DEFAULT_RULE_ID,
                        reason(["no rule allows tool ", " on server ", " (default deny)"], tool, server, None),
                    );
                }
                RuleAction::Allow | RuleAction::Approve => (DEFAULT_RULE_ID, self.validate_input_schema, None),
            },
        };

        let empty = Value::Object(serde_json::Map::new());
        let args = ctx.arguments.unwrap_or(&empty);
        let mut eval = Evaluation::new(explain);
        if let Some(arguments) = arguments {
            arguments.evaluate(rule_id, args, &mut eval);
        }
        if let (true, Some(schema), false) = (validate_schema, ctx.input_schema, eval.stopped()) {
            self.check_input_schema(rule_id, schema, args, &mut eval);
        }

        let allowed_reason = || {
            if rule_id == DEFAULT_RULE_ID {
                reason(["no rule matches tool ", " on server ", " (default allow)"], tool, server, None)
            } else {
                reason(["tool ", " on server ", " is allowed by rule "], tool, server, Some(rule_id))
            }
        };
        match eval.refusal {
            None => match approval {
                // The arguments passed; a person still has to say yes.
                Some(terms) => Decision {
                    checks: eval.checks,
                    approval: Some(terms),
                    ..Decision::whole(
                        Verdict::Approve,
                        rule_id,
                        reason(["tool ", " on server ", " needs approval under rule "], tool, server, Some(rule_id)),
                    )
                },
                None => Decision { checks: eval.checks, ..Decision::whole(Verdict::Allow, rule_id, allowed_reason()) },
            },
            Some(refusal) => {
                let mut text = reason(["tool ", " on server ", " is denied by rule "], tool, server, Some(rule_id));
                text.push_str(": ");
                text.push_str(&refusal.clause);
                Decision {
                    verdict: Verdict::Deny,
                    rule_id: rule_id.to_string(),
                    reason: text,
                    argument: refusal.argument,
                    constraint: Some(refusal.constraint.to_string()),
                    checks: eval.checks,
                    approval: None,
                }
            }
        }
    }

    fn check_input_schema(&self, rule_id: &str, schema: &Value, args: &Value, eval: &mut Evaluation) {
        const WHAT: &str = "the server's inputSchema";
        match &*self.input_schemas.get(schema) {
            Err(_) => eval.fail(
                rule_id,
                Refusal::whole(
                    "input_schema",
                    "the server's inputSchema for this tool does not compile, so the call cannot be checked (input_schema)"
                        .into(),
                ),
            ),
            Ok(compiled) => match compiled.check(args) {
                Ok(()) => eval.pass(rule_id, None, "input_schema", || "arguments match the server's inputSchema".into()),
                Err(failure) => eval.fail(rule_id, Refusal::schema("input_schema", WHAT, &failure)),
            },
        }
    }

    /// Should this tool appear in tools/list? In enforce mode exactly when
    /// [`Policy::decide`] would allow it for some arguments (argument
    /// constraints never hide a tool); in audit mode always.
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

impl Decision {
    /// A decision about the call as a whole (no argument was at fault).
    fn whole(verdict: Verdict, rule_id: &str, reason: String) -> Decision {
        Decision {
            verdict,
            rule_id: rule_id.to_string(),
            reason,
            argument: None,
            constraint: None,
            checks: Vec::new(),
            approval: None,
        }
    }
}

/// Why an allowed rule's checks refused a call.
pub(super) struct Refusal {
    argument: Option<String>,
    constraint: &'static str,
    /// Completes `... is denied by rule "r": `; names, never values.
    clause: String,
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
    checks: Vec<Check>,
    refusal: Option<Refusal>,
}

impl Evaluation {
    fn new(explain: bool) -> Evaluation {
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
    const MAX_CHARS: usize = 64;
    let mut out = String::with_capacity(name.len().min(MAX_CHARS) + 2);
    match name.char_indices().nth(MAX_CHARS) {
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
