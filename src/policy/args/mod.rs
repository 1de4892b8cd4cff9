//! Per-argument constraints: `args.NAME = { ... }` on an allow rule, compiled
//! at load and evaluated against one call's arguments.
//!
//! Semantics (what must stay true):
//! - `args.NAME` addresses a top-level argument; `args."/a/b"` (a key starting
//!   with `/`) is a JSON pointer (RFC 6901) to a nested value.
//! - An absent argument is not checked; `required = true` makes absence a
//!   refusal, and so a value that carries nothing: `null`, `""`, `[]`, `{}`
//!   (an upstream reads each of them as "not given", or joins it to a root).
//!   Otherwise a JSON `null` is present (and fails every string or number constraint).
//! - Every constraint describes the value itself: `type = "string"` refuses a
//!   list of strings, and a string constraint refuses an array. So no
//!   constraint passes because there was nothing to check.
//! - `each = true` lets the argument be one value or a list of them: every
//!   constraint but `max_items` then applies to each element of a list (and to
//!   a single value as it is). A list with no element passes them all, so pair
//!   it with `required` where one element is needed.
//! - String constraints (`pattern`, `path_*`, `url_*`, `email_domain`,
//!   `mail_header`, `no_shell_metachars`, `deny_pattern`, `max_length`) refuse a
//!   value that is not a string; `min`/`max` refuse a value that is not a
//!   number; `max_items` applies to an array only. Fail closed.
//! - `pattern` must match the *whole* value (it is anchored here).
//! - `deny_unknown_args = true`: a top-level argument that no `args.*` entry
//!   names (a pointer names its first segment) is refused. Nested keys under a
//!   pointer's first segment are not policed: use `schema` with
//!   `additionalProperties = false` for that.
//! - Refusals name the argument and the constraint, never the value.

use std::borrow::Cow;
use std::sync::Arc;

use regex::Regex;
use serde::Deserialize;
use serde_json::{Number, Value};

use super::mail;
use super::net::{self, DomainPattern};
use super::paths::PathGuard;
use super::schema::CompiledSchema;
use super::shell;
use super::verdict::{quoted, Evaluation, Refusal};

mod compile;

pub(super) use compile::{compile_argument, ArgsTable};

/// JSON types for `type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum JsonType {
    String,
    Number,
    Integer,
    Boolean,
    Array,
    Object,
    Null,
}

impl JsonType {
    fn name(self) -> &'static str {
        match self {
            JsonType::String => "string",
            JsonType::Number => "number",
            JsonType::Integer => "integer",
            JsonType::Boolean => "boolean",
            JsonType::Array => "array",
            JsonType::Object => "object",
            JsonType::Null => "null",
        }
    }

    fn matches(self, value: &Value) -> bool {
        match self {
            JsonType::String => value.is_string(),
            JsonType::Number => value.is_number(),
            JsonType::Integer => match value {
                Value::Number(n) => n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0),
                _ => false,
            },
            JsonType::Boolean => value.is_boolean(),
            JsonType::Array => value.is_array(),
            JsonType::Object => value.is_object(),
            JsonType::Null => value.is_null(),
        }
    }
}

/// One compiled constraint.
#[derive(Debug)]
enum Constraint {
    Type(JsonType),
    MaxItems(usize),
    Enum(Vec<Value>),
    Pattern(Regex),
    DenyPattern(Regex),
    MaxLength(usize),
    Min(Number),
    Max(Number),
    PathWithin(Arc<PathGuard>),
    PathDeny(Arc<PathGuard>),
    NoShellMetachars,
    UrlSchemes(Vec<String>),
    UrlHosts(Vec<DomainPattern>),
    DenyPrivateIps,
    EmailDomain(Vec<DomainPattern>),
    MailHeader,
}

impl Constraint {
    /// The name users write in the policy and see in refusals.
    fn name(&self) -> &'static str {
        match self {
            Constraint::Type(_) => "type",
            Constraint::MaxItems(_) => "max_items",
            Constraint::Enum(_) => "enum",
            Constraint::Pattern(_) => "pattern",
            Constraint::DenyPattern(_) => "deny_pattern",
            Constraint::MaxLength(_) => "max_length",
            Constraint::Min(_) => "min",
            Constraint::Max(_) => "max",
            Constraint::PathWithin(_) => "path_within",
            Constraint::PathDeny(_) => "path_deny",
            Constraint::NoShellMetachars => "no_shell_metachars",
            Constraint::UrlSchemes(_) => "url_schemes",
            Constraint::UrlHosts(_) => "url_hosts",
            Constraint::DenyPrivateIps => "deny_private_ips",
            Constraint::EmailDomain(_) => "email_domain",
            Constraint::MailHeader => "mail_header",
        }
    }

    /// What a pass means, for `explain`.
    fn pass_detail(&self) -> String {
        match self {
            Constraint::Type(t) => format!("is of type {}", t.name()),
            Constraint::MaxItems(n) => format!("has at most {n} items"),
            Constraint::Enum(_) => "is one of the allowed values".into(),
            Constraint::Pattern(_) => "matches the required pattern".into(),
            Constraint::DenyPattern(_) => "matches no forbidden pattern".into(),
            Constraint::MaxLength(n) => format!("is at most {n} characters long"),
            Constraint::Min(m) => format!("is at least {m}"),
            Constraint::Max(m) => format!("is at most {m}"),
            Constraint::PathWithin(_) => "stays inside the allowed roots".into(),
            Constraint::PathDeny(_) => "matches no denied path pattern".into(),
            Constraint::NoShellMetachars => "contains no shell metacharacters".into(),
            Constraint::UrlSchemes(_) => "uses an allowed scheme".into(),
            Constraint::UrlHosts(_) => "is addressed to an allowed host".into(),
            Constraint::DenyPrivateIps => "targets a public destination (as far as can be told without DNS)".into(),
            Constraint::EmailDomain(_) => "is an address in an allowed domain".into(),
            Constraint::MailHeader => "starts no new mail header line, raw or encoded".into(),
        }
    }

    /// Checks one value (an element, when the argument is an array). The
    /// error completes the sentence `argument "x" ...` and never quotes the value.
    fn check(&self, value: &Value) -> Result<(), Cow<'static, str>> {
        match self {
            Constraint::Type(t) => ok_if(t.matches(value), || format!("is not of type {}", t.name()).into()),
            Constraint::MaxItems(n) => match value {
                Value::Array(items) => ok_if(items.len() <= *n, || format!("has more than {n} items").into()),
                _ => Ok(()),
            },
            Constraint::Enum(allowed) => ok_if(allowed.contains(value), || "is not one of the allowed values".into()),
            Constraint::Min(min) => {
                let n = number(value)?;
                ok_if(compare(n, min) != std::cmp::Ordering::Less, || format!("is less than the minimum {min}").into())
            }
            Constraint::Max(max) => {
                let n = number(value)?;
                ok_if(compare(n, max) != std::cmp::Ordering::Greater, || {
                    format!("is greater than the maximum {max}").into()
                })
            }
            _ => {
                let text = string(value)?;
                self.check_text(text)
            }
        }
    }

    fn check_text(&self, text: &str) -> Result<(), Cow<'static, str>> {
        match self {
            Constraint::Pattern(re) => ok_if(re.is_match(text), || "does not match the required pattern".into()),
            Constraint::DenyPattern(re) => ok_if(!re.is_match(text), || "matches a forbidden pattern".into()),
            Constraint::MaxLength(n) => {
                // Cheap bound first: a string of at most n bytes has at most n chars.
                let fits = text.len() <= *n || text.chars().count() <= *n;
                ok_if(fits, || format!("is longer than {n} characters").into())
            }
            Constraint::PathWithin(guard) => guard.check_within(text).map_err(Cow::Owned),
            Constraint::PathDeny(guard) => guard.check_deny(text).map_err(Cow::Owned),
            Constraint::NoShellMetachars => shell::check(text).map_err(Cow::Borrowed),
            Constraint::UrlSchemes(schemes) => {
                let scheme = net::url_scheme(text)?;
                ok_if(schemes.contains(&scheme), || "does not use an allowed URL scheme".into())
            }
            Constraint::UrlHosts(hosts) => {
                let host = net::destination_host(text)?;
                ok_if(net::any_matches(hosts, &host), || "is not addressed to an allowed host".into())
            }
            Constraint::DenyPrivateIps => net::check_public_url(text).map_err(Cow::Borrowed),
            Constraint::EmailDomain(domains) => mail::check_address(text, domains).map_err(Cow::Borrowed),
            Constraint::MailHeader => mail::check_header(text).map_err(Cow::Borrowed),
            Constraint::Type(_)
            | Constraint::MaxItems(_)
            | Constraint::Enum(_)
            | Constraint::Min(_)
            | Constraint::Max(_) => Ok(()),
        }
    }
}

fn ok_if(ok: bool, why: impl FnOnce() -> Cow<'static, str>) -> Result<(), Cow<'static, str>> {
    if ok {
        Ok(())
    } else {
        Err(why())
    }
}

fn string(value: &Value) -> Result<&str, Cow<'static, str>> {
    value.as_str().ok_or(Cow::Borrowed("is not a string"))
}

fn number(value: &Value) -> Result<&Number, Cow<'static, str>> {
    match value {
        Value::Number(n) => Ok(n),
        _ => Err(Cow::Borrowed("is not a number")),
    }
}

/// Exact for integers, by `f64` otherwise.
fn compare(a: &Number, b: &Number) -> std::cmp::Ordering {
    let int = |n: &Number| n.as_i64().map(i128::from).or_else(|| n.as_u64().map(i128::from));
    match (int(a), int(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => {
            let (x, y) = (a.as_f64().unwrap_or(f64::NAN), b.as_f64().unwrap_or(f64::NAN));
            // NaN cannot come from JSON; treat it as out of range either way.
            x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Less)
        }
    }
}

/// The compiled constraints on one argument.
#[derive(Debug)]
pub(super) struct ArgumentGuard {
    /// As written in the policy: `path` or `/options/target`.
    name: String,
    /// The top-level key this entry names (for `deny_unknown_args`).
    top_level: String,
    /// Set when `name` is a JSON pointer.
    pointer: bool,
    required: bool,
    /// `each = true`: constraints apply to each element of a list.
    each: bool,
    constraints: Vec<Constraint>,
}

impl ArgumentGuard {
    fn find<'v>(&self, args: &'v Value) -> Option<&'v Value> {
        if self.pointer {
            args.pointer(&self.name)
        } else {
            args.get(&self.name)
        }
    }
}

/// Everything an allow rule says about a call's arguments.
#[derive(Debug)]
pub(super) struct ArgumentPolicy {
    guards: Vec<ArgumentGuard>,
    deny_unknown: bool,
    /// Sorted top-level names, for `deny_unknown_args`.
    named: Vec<String>,
    schema: Option<CompiledSchema>,
}

impl ArgumentPolicy {
    /// Each argument with `path_within`, and its roots.
    pub(super) fn path_roots(&self) -> impl Iterator<Item = (&str, Vec<std::path::PathBuf>)> {
        self.guards.iter().flat_map(|g| {
            g.constraints.iter().filter_map(move |c| match c {
                Constraint::PathWithin(guard) => Some((g.name.as_str(), guard.roots())),
                _ => None,
            })
        })
    }

    pub(super) fn new(guards: Vec<ArgumentGuard>, deny_unknown: bool, schema: Option<CompiledSchema>) -> Self {
        let mut named: Vec<String> = guards.iter().map(|g| g.top_level.clone()).collect();
        named.sort_unstable();
        named.dedup();
        ArgumentPolicy { guards, deny_unknown, named, schema }
    }

    /// Evaluates every constraint in a fixed order (deny_unknown_args, then each
    /// argument in name order with its constraints in a fixed order, then the
    /// rule's schema), recording into `eval`, which stops at the first failure
    /// unless it is explaining.
    pub(super) fn evaluate(&self, rule_id: &str, args: &Value, eval: &mut Evaluation) {
        let Some(object) = args.as_object() else {
            eval.fail(rule_id, Refusal::whole("arguments", "arguments are not a JSON object".into()));
            return;
        };
        if self.deny_unknown {
            let unknown = object.keys().find(|k| self.named.binary_search_by(|n| n.as_str().cmp(k)).is_err());
            match unknown {
                Some(key) => {
                    let clause = format!("argument {} is not allowed: the rule names no such argument", quoted(key));
                    eval.fail(rule_id, Refusal::argument(key, "deny_unknown_args", clause));
                }
                None => eval.pass(rule_id, None, "deny_unknown_args", || "every argument is named by the rule".into()),
            }
            if eval.stopped() {
                return;
            }
        }
        for guard in &self.guards {
            self.evaluate_guard(rule_id, guard, args, eval);
            if eval.stopped() {
                return;
            }
        }
        if let Some(schema) = &self.schema {
            match schema.check(args) {
                Ok(()) => eval.pass(rule_id, None, "schema", || "arguments match the rule's schema".into()),
                Err(failure) => eval.fail(rule_id, Refusal::schema("schema", "the rule's schema", &failure)),
            }
        }
    }

    fn evaluate_guard(&self, rule_id: &str, guard: &ArgumentGuard, args: &Value, eval: &mut Evaluation) {
        let name = guard.name.as_str();
        let Some(value) = guard.find(args) else {
            if guard.required {
                let clause = format!("required argument {} is missing", quoted(name));
                eval.fail(rule_id, Refusal::argument(name, "required", clause));
            } else {
                for constraint in &guard.constraints {
                    eval.pass(rule_id, Some(name), constraint.name(), || "argument is absent, so not checked".into());
                }
            }
            return;
        };
        if guard.required {
            match emptiness(value) {
                Some(what) => {
                    let clause = format!("required argument {} is {what}", quoted(name));
                    eval.fail(rule_id, Refusal::argument(name, "required", clause));
                    return;
                }
                None => eval.pass(rule_id, Some(name), "required", || "argument is present and not empty".into()),
            }
        }
        for constraint in &guard.constraints {
            let result = match value {
                Value::Array(items) if guard.each && !matches!(constraint, Constraint::MaxItems(_)) => {
                    items.iter().enumerate().find_map(|(i, item)| constraint.check(item).err().map(|e| (Some(i), e)))
                }
                _ => constraint.check(value).err().map(|e| (None, e)),
            };
            match result {
                None => eval.pass(rule_id, Some(name), constraint.name(), || match value {
                    Value::Array(_) if guard.each => format!("each item {}", constraint.pass_detail()),
                    _ => constraint.pass_detail(),
                }),
                Some((item, why)) => {
                    let item = item.map(|i| format!(" (item {i})")).unwrap_or_default();
                    let clause = format!("argument {}{item} {why} ({})", quoted(name), constraint.name());
                    eval.fail(rule_id, Refusal::argument(name, constraint.name(), clause));
                }
            }
            if eval.stopped() {
                return;
            }
        }
    }
}

/// Why a present value carries nothing for `required`, if it does not.
fn emptiness(value: &Value) -> Option<&'static str> {
    match value {
        Value::Null => Some("null"),
        Value::String(s) if s.is_empty() => Some("an empty string"),
        Value::Array(items) if items.is_empty() => Some("an empty list"),
        Value::Object(map) if map.is_empty() => Some("an empty object"),
        _ => None,
    }
}
