//! Deciding resources and prompts: which rule decides a resource URI, a
//! resource template or a prompt name on a server. Pure, like `engine`.
//!
//! Order of evaluation (what must stay true):
//! 1. a name no server should be handed (see `uri`) is refused before any
//!    rule is consulted (rule `resource-uri` or `prompt-name`);
//! 2. the name as sent is decided like a tool name: any matching deny rule
//!    wins, else the most specific allow rule (an exact name beats a glob),
//!    else `[defaults] resources` or `prompts`. A rule that names no
//!    resources (or no prompts) matches none: naming tools says nothing
//!    about resources;
//! 3. an allowed name is decided again under every other reading (`uri`),
//!    each both as written and with case folded; if any reading would not be
//!    allowed, the name is refused naming the rule that reading falls under
//!    (constraint `uri_readings` or `name_readings`). Two readings allowed by
//!    different allow rules agree: both allow.
//!
//! [`Policy::decide_access`] stops at the first refusal; [`Policy::explain_access`]
//! lists every reading and how it was decided, and reaches the same verdict.

use super::engine::Outcome;
use super::rule::{CompiledRule, FoldedPatterns, PatternMatch, RuleAction};
use super::uri::{self, Reading, Unreadable};
use super::verdict::{quoted_cut, Check};
use super::{Decision, Mode, Policy, Verdict};

/// How much of a URI or name a reason quotes.
const QUOTED_CHARS: usize = 256;

/// What a client asks to see of a server other than a tool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access<'a> {
    /// A resource URI (`resources/read`, `resources/subscribe`, a listed resource).
    Resource(&'a str),
    /// A resource template (a `resources/templates/list` entry, or the
    /// `ref/resource` of `completion/complete`): decided as the URI shape it
    /// stands for, each `{expression}` read as `*`.
    ResourceTemplate(&'a str),
    /// A prompt's original name (`prompts/get`, `ref/prompt`, a listed prompt).
    Prompt(&'a str),
}

impl<'a> Access<'a> {
    /// "resource", "resource template" or "prompt", as reasons say it.
    pub fn kind(&self) -> &'static str {
        match self {
            Access::Resource(_) => "resource",
            Access::ResourceTemplate(_) => "resource template",
            Access::Prompt(_) => "prompt",
        }
    }

    /// The URI, template or name.
    pub fn name(&self) -> &'a str {
        match *self {
            Access::Resource(name) | Access::ResourceTemplate(name) | Access::Prompt(name) => name,
        }
    }
}

/// What is being decided: one access on one upstream.
#[derive(Clone, Copy, Debug)]
pub struct AccessContext<'a> {
    /// The upstream's configured `name`.
    pub server: &'a str,
    pub access: Access<'a>,
    /// Who is asking, as audit records spell it; `None` offline (`explain`).
    /// No rule matches on it yet.
    pub caller: Option<&'a str>,
}

impl<'a> AccessContext<'a> {
    pub fn new(server: &'a str, access: Access<'a>) -> Self {
        AccessContext { server, access, caller: None }
    }

    pub fn with_caller(self, caller: &'a str) -> Self {
        AccessContext { caller: Some(caller), ..self }
    }
}

/// The two kinds of rule list an access is decided against.
#[derive(Clone, Copy)]
enum Kind {
    Resources,
    Prompts,
}

impl Kind {
    fn of(access: &Access) -> Kind {
        match access {
            Access::Resource(_) | Access::ResourceTemplate(_) => Kind::Resources,
            Access::Prompt(_) => Kind::Prompts,
        }
    }

    fn patterns(self, rule: &CompiledRule) -> &FoldedPatterns {
        match self {
            Kind::Resources => &rule.resources,
            Kind::Prompts => &rule.prompts,
        }
    }

    fn default_rule_id(self) -> &'static str {
        match self {
            Kind::Resources => "defaults.resources",
            Kind::Prompts => "defaults.prompts",
        }
    }

    /// The rule id of a name refused before any rule, and its constraints.
    fn syntax(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Kind::Resources => ("resource-uri", "uri_syntax", "uri_readings"),
            Kind::Prompts => ("prompt-name", "name_syntax", "name_readings"),
        }
    }
}

impl Policy {
    /// Decides one access to a resource, a resource template or a prompt.
    /// As for tools, the verdict is the same in both modes; what the caller
    /// does with it is [`Policy::enforce`]. Never [`Verdict::Approve`]: no
    /// rule holds a resource or prompt for a person.
    pub fn decide_access(&self, ctx: &AccessContext) -> Decision {
        self.judge_access(ctx, false)
    }

    /// Decides exactly as [`Policy::decide_access`], listing every reading
    /// and the rule it falls under in [`Decision::checks`].
    pub fn explain_access(&self, ctx: &AccessContext) -> Decision {
        self.judge_access(ctx, true)
    }

    /// Should this resource, template or prompt appear in a listing? In
    /// enforce mode exactly when [`Policy::decide_access`] allows it; in
    /// audit mode always.
    pub fn access_listed(&self, server: &str, access: Access) -> bool {
        match self.mode {
            Mode::Audit => true,
            Mode::Enforce => self.decide_access(&AccessContext::new(server, access)).verdict == Verdict::Allow,
        }
    }

    fn judge_access(&self, ctx: &AccessContext, explain: bool) -> Decision {
        let kind = Kind::of(&ctx.access);
        let what = Described { access: &ctx.access, server: ctx.server };
        let (syntax_rule, syntax_constraint, readings_constraint) = kind.syntax();
        let readings = match &ctx.access {
            Access::Resource(uri) => uri::resource_readings(uri),
            Access::ResourceTemplate(template) => {
                uri::template_shape(template).and_then(|shape| uri::resource_readings(&shape))
            }
            Access::Prompt(name) => uri::prompt_readings(name),
        };
        let readings = match readings {
            Ok(readings) => readings,
            Err(Unreadable(clause)) => {
                let mut decision = Decision::whole(
                    Verdict::Deny,
                    syntax_rule,
                    format!("{what} is refused: {clause} ({syntax_constraint})"),
                );
                decision.constraint = Some(syntax_constraint.to_string());
                if explain {
                    decision.checks.push(check(syntax_rule, syntax_constraint, false, clause));
                }
                return decision;
            }
        };
        let mut checks = Vec::new();
        if explain {
            let detail = format!("{} reading(s), none refused outright", readings.len());
            checks.push(check(syntax_rule, syntax_constraint, true, detail));
        }

        let as_sent = self.pick(kind, ctx.server, &readings[0].text, false);
        let (as_sent_rule, as_sent_verdict) = self.named(kind, &as_sent);
        if explain {
            let detail = format!(
                "as sent, {} falls under rule {}",
                quoted_cut(&readings[0].text, 64),
                quoted_cut(as_sent_rule, 64)
            );
            checks.push(check(as_sent_rule, readings_constraint, as_sent_verdict == Verdict::Allow, detail));
        }
        if as_sent_verdict == Verdict::Deny {
            let reason = match as_sent {
                Outcome::Default => format!("no rule allows {what} ({as_sent_rule} = \"deny\")"),
                _ => format!("{what} is denied by rule {}", quoted_cut(as_sent_rule, QUOTED_CHARS)),
            };
            return Decision { checks, ..Decision::whole(Verdict::Deny, as_sent_rule, reason) };
        }

        let mut refusal: Option<Decision> = None;
        for reading in &readings {
            for folded in [false, true] {
                if !folded && reading.how.is_empty() {
                    continue;
                }
                let text = if folded { reading.text.to_lowercase() } else { reading.text.clone() };
                let (rule, verdict) = self.named(kind, &self.pick(kind, ctx.server, &text, folded));
                let how = describe(reading, folded);
                if explain {
                    let detail = format!("{how}, {} falls under rule {}", quoted_cut(&text, 64), quoted_cut(rule, 64));
                    checks.push(check(rule, readings_constraint, verdict == Verdict::Allow, detail));
                }
                if verdict != Verdict::Allow && refusal.is_none() {
                    let reason = format!(
                        "{what} is denied by rule {rule_q}: read {how}, it falls under rule {rule_q}, but as sent \
                         under rule {sent_q}; servers differ in how they read it ({readings_constraint})",
                        rule_q = quoted_cut(rule, QUOTED_CHARS),
                        sent_q = quoted_cut(as_sent_rule, QUOTED_CHARS),
                    );
                    let mut decision = Decision::whole(Verdict::Deny, rule, reason);
                    decision.constraint = Some(readings_constraint.to_string());
                    if !explain {
                        return decision;
                    }
                    refusal = Some(decision);
                }
            }
        }
        if let Some(refusal) = refusal {
            return Decision { checks, ..refusal };
        }
        let reason = match as_sent {
            Outcome::Default => format!("no rule matches {what} ({as_sent_rule} = \"allow\")"),
            _ => format!("{what} is allowed by rule {}", quoted_cut(as_sent_rule, QUOTED_CHARS)),
        };
        Decision { checks, ..Decision::whole(Verdict::Allow, as_sent_rule, reason) }
    }

    /// The deciding rule for one reading: deny rules first, then the most
    /// specific allow rule, as for tools.
    fn pick(&self, kind: Kind, server: &str, text: &str, folded: bool) -> Outcome<'_> {
        if let Some(rule) = self
            .deny
            .iter()
            .find(|rule| rule.server.matches(server) && kind.patterns(rule).matches(text, folded).is_some())
        {
            return Outcome::Denied(rule);
        }
        let mut first_glob = None;
        for rule in self.allow.iter().filter(|rule| rule.server.matches(server)) {
            let patterns = kind.patterns(rule);
            if first_glob.is_some() {
                if patterns.matches_exact(text, folded) {
                    return Outcome::Allowed(rule);
                }
                continue;
            }
            match patterns.matches(text, folded) {
                Some(PatternMatch::Exact) => return Outcome::Allowed(rule),
                Some(PatternMatch::Glob) => first_glob = Some(rule),
                None => {}
            }
        }
        first_glob.map_or(Outcome::Default, Outcome::Allowed)
    }

    /// The rule id and verdict of an outcome.
    fn named<'p>(&'p self, kind: Kind, outcome: &Outcome<'p>) -> (&'p str, Verdict) {
        match outcome {
            Outcome::Denied(rule) => (&rule.id, Verdict::Deny),
            Outcome::Allowed(rule) => (&rule.id, Verdict::Allow),
            Outcome::Default => {
                let default = match kind {
                    Kind::Resources => self.default_resources,
                    Kind::Prompts => self.default_prompts,
                };
                let verdict = if default == RuleAction::Allow { Verdict::Allow } else { Verdict::Deny };
                (kind.default_rule_id(), verdict)
            }
        }
    }
}

/// `resource "uri" on server "s"`, for reasons.
struct Described<'a> {
    access: &'a Access<'a>,
    server: &'a str,
}

impl std::fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} on server {}",
            self.access.kind(),
            quoted_cut(self.access.name(), QUOTED_CHARS),
            quoted_cut(self.server, QUOTED_CHARS)
        )
    }
}

fn describe(reading: &Reading, folded: bool) -> String {
    if folded {
        format!("{}, case folded", reading.describe())
    } else {
        reading.describe().to_string()
    }
}

fn check(rule: &str, constraint: &str, passed: bool, detail: String) -> Check {
    Check { rule_id: rule.to_string(), argument: None, constraint: constraint.to_string(), passed, detail }
}

impl Decision {
    /// The refusal of a resource or prompt no upstream of the session can
    /// serve (rule "unknown-resource" or "unknown-prompt"); `why` says why
    /// it cannot be routed. Nothing could be forwarded, so no mode does.
    pub fn unknown_access(access: &Access, why: &str) -> Decision {
        let rule = match access {
            Access::Prompt(_) => "unknown-prompt",
            Access::Resource(_) | Access::ResourceTemplate(_) => "unknown-resource",
        };
        let reason = format!("{} {} cannot be routed: {why}", access.kind(), quoted_cut(access.name(), 256));
        Decision { unlisted: true, ..Decision::whole(Verdict::Deny, rule, reason) }
    }
}
