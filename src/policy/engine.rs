//! Deciding over a compiled policy, and what a decision means under its mode
//! ([`Policy::enforce`]). No I/O (except `resolve_symlinks`, see `paths`), no
//! mutable state, and little allocation beyond the strings of the returned
//! [`Decision`].
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

use serde_json::Value;

use super::rule::{CompiledRule, PatternMatch, Patterns, RuleAction, RuleSet};
use super::schema::InputSchema;
use super::verdict::{reason, Enforcement, Evaluation, Refusal};
use super::{ApprovalTerms, CallContext, Decision, Mode, Verdict};

/// The rule id reported when no rule matched.
const DEFAULT_RULE_ID: &str = "defaults.tools";

/// A compiled, immutable policy: no interior mutability at all, so a
/// decision depends on nothing but the policy and the call.
#[derive(Debug)]
pub struct Policy {
    pub(super) mode: Mode,
    default_action: RuleAction,
    /// `[defaults] resources` and `prompts`, for `access`.
    pub(super) default_resources: RuleAction,
    pub(super) default_prompts: RuleAction,
    /// Deny rules, in file order.
    pub(super) deny: Vec<CompiledRule>,
    /// Allow rules, in file order.
    pub(super) allow: Vec<CompiledRule>,
    version: String,
    /// `[defaults] validate_input_schema`.
    validate_input_schema: bool,
    inspect: super::InspectPolicy,
}

/// Which rule decided, without building strings.
pub(super) enum Outcome<'p> {
    Denied(&'p CompiledRule),
    Allowed(&'p CompiledRule),
    Default,
}

/// One of a rule's name lists: its tools, resources or prompts.
type PatternsOf = fn(&CompiledRule) -> &Patterns;

impl Policy {
    pub(super) fn new(set: RuleSet) -> Policy {
        // Approve rules rank with allow rules: the most specific one decides,
        // and its argument constraints apply before anyone is asked.
        let (deny, allow) = set.rules.into_iter().partition(|rule| rule.action == RuleAction::Deny);
        Policy {
            mode: set.mode,
            default_action: set.default_action,
            default_resources: set.default_resources,
            default_prompts: set.default_prompts,
            deny,
            allow,
            version: set.version,
            validate_input_schema: set.validate_input_schema,
            inspect: set.inspect,
        }
    }

    /// What is done with findings in `tool`'s results (`[inspect]`).
    pub fn inspect_settings(&self, server: &str, tool: &str) -> super::InspectSettings {
        self.inspect.settings(server, tool)
    }

    /// `[flow] untrusted_then_send`.
    pub fn flow(&self) -> super::FlowAction {
        self.inspect.flow
    }

    /// The data-flow labels rules give `tool` of `server`: the union of the
    /// labels of every rule naming it, or `None` when no such rule gives any
    /// (the tool's annotations then count).
    pub fn labels(&self, server: &str, tool: &str) -> Option<Vec<super::Label>> {
        let mut found: Option<Vec<super::Label>> = None;
        for rule in self.deny.iter().chain(&self.allow) {
            let Some(labels) = &rule.labels else { continue };
            if rule.server.matches(server) && rule.tools.matches(tool).is_some() {
                let all = found.get_or_insert_with(Vec::new);
                for label in labels {
                    if !all.contains(label) {
                        all.push(*label);
                    }
                }
            }
        }
        found
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

    /// The `action = "approve"` rules and their terms, in file order.
    pub fn approval_rules(&self) -> impl Iterator<Item = (&str, &ApprovalTerms)> {
        self.allow.iter().filter_map(|r| Some((r.id.as_str(), r.approval.as_ref()?)))
    }

    /// The `path_within` arguments of every allow or approve rule that
    /// applies to `server`, and the roots their relative values are joined
    /// to; for checking that the upstream reads relative paths the same way.
    pub fn relative_paths(&self, server: &str) -> Vec<super::RelativePaths> {
        let rules = self.allow.iter().filter(|r| r.server.matches(server));
        rules
            .flat_map(|r| {
                r.arguments.iter().flat_map(|a| a.path_roots()).map(|(argument, roots)| super::RelativePaths {
                    rule: r.id.clone(),
                    argument: argument.to_string(),
                    roots,
                })
            })
            .collect()
    }

    /// Decides one call. The verdict is the same in both modes; what the
    /// caller does with it is [`Policy::enforce`]. Stops at the first failing
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
            Policy::check_input_schema(rule_id, schema, args, &mut eval);
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
                    argument: refusal.argument,
                    constraint: Some(refusal.constraint.to_string()),
                    checks: eval.checks,
                    ..Decision::whole(Verdict::Deny, rule_id, text)
                }
            }
        }
    }

    fn check_input_schema(rule_id: &str, schema: &InputSchema, args: &Value, eval: &mut Evaluation) {
        const WHAT: &str = "the server's inputSchema";
        match schema.compiled() {
            None => eval.fail(
                rule_id,
                Refusal::whole(
                    "input_schema",
                    "the server's inputSchema for this tool does not compile, so the call cannot be checked (input_schema)"
                        .into(),
                ),
            ),
            Some(compiled) => match compiled.check(args) {
                Ok(()) => eval.pass(rule_id, None, "input_schema", || "arguments match the server's inputSchema".into()),
                Err(failure) => eval.fail(rule_id, Refusal::schema("input_schema", WHAT, &failure)),
            },
        }
    }

    /// What the gateway does with `decision` under this policy's mode: enforce
    /// mode carries out the verdict; audit mode forwards and only records it,
    /// except a call naming a tool nobody listed ([`Decision::unadvertised`],
    /// [`Decision::unknown_tool`]), which is refused in every mode.
    pub fn enforce(&self, decision: &Decision) -> Enforcement {
        Enforcement::under(self.mode, decision)
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

    /// Could any tool, resource or prompt on this server be allowed? A
    /// session connects only to reachable upstreams. Conservative towards
    /// "reachable": a kind is out of reach only when a deny rule matching the
    /// server denies all of it, or no allow rule names that kind for the
    /// server and its default is deny. Audit mode: true.
    pub fn server_reachable(&self, server: &str) -> bool {
        if self.mode == Mode::Audit {
            return true;
        }
        let kinds: [(PatternsOf, RuleAction); 3] = [
            (|rule| &rule.tools, self.default_action),
            (|rule| &rule.resources.as_written, self.default_resources),
            (|rule| &rule.prompts.as_written, self.default_prompts),
        ];
        kinds.into_iter().any(|(patterns, default)| {
            let denied_whole = self.deny.iter().any(|rule| patterns(rule).matches_all && rule.server.matches(server));
            !denied_whole
                && (default == RuleAction::Allow
                    || self.allow.iter().any(|rule| !patterns(rule).is_empty() && rule.server.matches(server)))
        })
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
                Some(PatternMatch::Exact) => return Outcome::Allowed(rule),
                Some(PatternMatch::Glob) => first_glob = Some(rule),
                None => {}
            }
        }
        first_glob.map_or(Outcome::Default, Outcome::Allowed)
    }
}
