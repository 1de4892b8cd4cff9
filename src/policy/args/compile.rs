//! Compiling `args.NAME = { ... }` tables: the TOML as written, checked key
//! by key (bad patterns, empty lists, unknown keys and constraints that
//! contradict each other are load errors with their span), into the
//! constraints `super` evaluates on every call.

use std::collections::BTreeMap;
use std::sync::Arc;

use regex::Regex;
use serde::Deserialize;
use serde_json::{Number, Value};
use toml::Spanned;

use super::{compare, ArgumentGuard, Constraint, JsonType};
use crate::policy::net::DomainPattern;
use crate::policy::paths::PathGuard;

/// One `args.NAME = { ... }` table as written. Every key is a constraint
/// name; any other key is a load error (fail closed).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::policy) struct ArgTable {
    #[serde(rename = "type")]
    kind: Option<Spanned<JsonType>>,
    #[serde(rename = "enum")]
    one_of: Option<Spanned<Vec<Value>>>,
    pattern: Option<Spanned<String>>,
    deny_pattern: Option<Spanned<String>>,
    max_length: Option<Spanned<u64>>,
    min: Option<Spanned<Number>>,
    max: Option<Spanned<Number>>,
    max_items: Option<Spanned<u64>>,
    required: Option<Spanned<bool>>,
    each: Option<Spanned<bool>>,
    path_within: Option<Spanned<Vec<Spanned<String>>>>,
    path_deny: Option<Spanned<Vec<Spanned<String>>>>,
    resolve_symlinks: Option<Spanned<bool>>,
    allow_hidden: Option<Spanned<bool>>,
    no_shell_metachars: Option<Spanned<bool>>,
    url_schemes: Option<Spanned<Vec<Spanned<String>>>>,
    url_hosts: Option<Spanned<Vec<Spanned<String>>>>,
    deny_private_ips: Option<Spanned<bool>>,
    email_domain: Option<Spanned<Vec<Spanned<String>>>>,
    mail_header: Option<Spanned<bool>>,
}

/// A load error inside an `args` table: the byte span and the message.
type ArgError = (std::ops::Range<usize>, String);

/// Compiles one `args.NAME` table. `name` is the key as written.
/// `policy_dir` is the policy file's directory, which `./` and `../` roots are relative to.
pub(in crate::policy) fn compile_argument(
    name: &Spanned<String>,
    mut table: ArgTable,
    policy_dir: &std::path::Path,
) -> Result<ArgumentGuard, ArgError> {
    let text = name.get_ref();
    let span = name.span();
    if text.is_empty() {
        return Err((span, "an argument name must not be empty".into()));
    }
    let (pointer, top_level) = match text.strip_prefix('/') {
        Some(rest) => {
            if !valid_pointer(text) {
                return Err((span, format!("{text:?} is not a valid JSON pointer ('~' must be followed by 0 or 1)")));
            }
            let first = rest.split('/').next().unwrap_or("");
            (true, first.replace("~1", "/").replace("~0", "~"))
        }
        None => (false, text.clone()),
    };

    let mut constraints = Vec::new();
    if let Some(kind) = &table.kind {
        constraints.push(Constraint::Type(*kind.get_ref()));
    }
    if let Some(n) = &table.max_items {
        constraints.push(Constraint::MaxItems(size(n)?));
    }
    if let Some(values) = table.one_of.take() {
        if values.get_ref().is_empty() {
            return Err((values.span(), "enum must list at least one value".into()));
        }
        constraints.push(Constraint::Enum(values.into_inner()));
    }
    if let Some(p) = &table.pattern {
        constraints.push(Constraint::Pattern(regex(p, true)?));
    }
    if let Some(p) = &table.deny_pattern {
        constraints.push(Constraint::DenyPattern(regex(p, false)?));
    }
    if let Some(n) = &table.max_length {
        constraints.push(Constraint::MaxLength(size(n)?));
    }
    if let (Some(min), Some(max)) = (&table.min, &table.max) {
        if compare(min.get_ref(), max.get_ref()) == std::cmp::Ordering::Greater {
            return Err((min.span(), format!("min = {} is greater than max = {}", min.get_ref(), max.get_ref())));
        }
    }
    if let Some(min) = table.min.take() {
        constraints.push(Constraint::Min(min.into_inner()));
    }
    if let Some(max) = table.max.take() {
        constraints.push(Constraint::Max(max.into_inner()));
    }
    constraints.extend(compile_paths(&table, policy_dir)?);
    if table.no_shell_metachars.as_ref().is_some_and(|b| *b.get_ref()) {
        constraints.push(Constraint::NoShellMetachars);
    }
    if let Some(schemes) = &table.url_schemes {
        let mut out = Vec::new();
        for scheme in schemes.get_ref() {
            let s = scheme.get_ref();
            let valid = s.starts_with(|c: char| c.is_ascii_alphabetic())
                && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
            if !valid {
                return Err((scheme.span(), format!("{s:?} is not a URL scheme (write \"https\", not \"https://\")")));
            }
            out.push(s.to_ascii_lowercase());
        }
        non_empty(schemes, "url_schemes")?;
        constraints.push(Constraint::UrlSchemes(out));
    }
    if let Some(hosts) = &table.url_hosts {
        non_empty(hosts, "url_hosts")?;
        constraints.push(Constraint::UrlHosts(domains(hosts)?));
    }
    if table.deny_private_ips.as_ref().is_some_and(|b| *b.get_ref()) {
        constraints.push(Constraint::DenyPrivateIps);
    }
    if let Some(list) = &table.email_domain {
        non_empty(list, "email_domain")?;
        constraints.push(Constraint::EmailDomain(domains(list)?));
    }
    if table.mail_header.as_ref().is_some_and(|b| *b.get_ref()) {
        constraints.push(Constraint::MailHeader);
    }

    Ok(ArgumentGuard {
        name: text.clone(),
        top_level,
        pointer,
        required: table.required.as_ref().is_some_and(|b| *b.get_ref()),
        each: table.each.as_ref().is_some_and(|b| *b.get_ref()),
        constraints,
    })
}

fn compile_paths(table: &ArgTable, policy_dir: &std::path::Path) -> Result<Vec<Constraint>, ArgError> {
    let roots: Vec<Spanned<String>> = table.path_within.as_ref().map(|r| r.get_ref().clone()).unwrap_or_default();
    let deny: Vec<Spanned<String>> = table.path_deny.as_ref().map(|d| d.get_ref().clone()).unwrap_or_default();
    if let Some(within) = &table.path_within {
        non_empty(within, "path_within")?;
    }
    for (flag, key) in [(&table.resolve_symlinks, "resolve_symlinks"), (&table.allow_hidden, "allow_hidden")] {
        if let (Some(flag), None) = (flag, &table.path_within) {
            return Err((flag.span(), format!("{key} only applies together with path_within")));
        }
    }
    if table.path_within.is_none() && table.path_deny.is_none() {
        return Ok(Vec::new());
    }
    let root_texts: Vec<String> = roots.iter().map(|r| r.get_ref().clone()).collect();
    let deny_texts: Vec<String> = deny.iter().map(|d| d.get_ref().clone()).collect();
    let guard = PathGuard::new(
        &root_texts,
        &deny_texts,
        table.resolve_symlinks.as_ref().is_some_and(|b| *b.get_ref()),
        table.allow_hidden.as_ref().is_some_and(|b| *b.get_ref()),
        policy_dir,
    )
    .map_err(|(i, message)| {
        let span = if i < roots.len() { roots[i].span() } else { deny[(i - roots.len()).min(deny.len() - 1)].span() };
        (span, message)
    })?;
    let guard = Arc::new(guard);
    let mut out = Vec::new();
    if guard.has_roots() {
        out.push(Constraint::PathWithin(guard.clone()));
    }
    if table.path_deny.is_some() {
        out.push(Constraint::PathDeny(guard));
    }
    Ok(out)
}

fn valid_pointer(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().all(|(i, b)| *b != b'~' || matches!(bytes.get(i + 1), Some(b'0' | b'1')))
}

fn size(n: &Spanned<u64>) -> Result<usize, ArgError> {
    usize::try_from(*n.get_ref()).map_err(|_| (n.span(), "value is too large".to_string()))
}

fn non_empty<T>(list: &Spanned<Vec<T>>, key: &str) -> Result<(), ArgError> {
    if list.get_ref().is_empty() {
        return Err((list.span(), format!("{key} must list at least one entry")));
    }
    Ok(())
}

fn domains(list: &Spanned<Vec<Spanned<String>>>) -> Result<Vec<DomainPattern>, ArgError> {
    list.get_ref().iter().map(|d| DomainPattern::parse(d.get_ref()).map_err(|e| (d.span(), e))).collect()
}

/// Compiles a policy regex; `whole` anchors it to match the entire value.
/// The pattern is first compiled as written, so errors quote what the user wrote.
fn regex(pattern: &Spanned<String>, whole: bool) -> Result<Regex, ArgError> {
    let text = pattern.get_ref();
    let build = |source: &str| regex::RegexBuilder::new(source).size_limit(1 << 20).build();
    let invalid = |e: regex::Error| (pattern.span(), format!("invalid regex {text:?}: {}", first_line(&e.to_string())));
    let plain = build(text).map_err(invalid)?;
    if whole {
        // A pattern that compiles alone but not wrapped ends in a `(?x)`
        // comment, which swallowed the closing `)`: a newline ends the
        // comment, and in verbose mode it is insignificant whitespace.
        build(&format!(r"\A(?:{text})\z")).or_else(|_| build(&format!("\\A(?:{text}\n)\\z"))).map_err(invalid)
    } else {
        Ok(plain)
    }
}

fn first_line(text: &str) -> String {
    // regex errors are multi-line with a caret diagram; keep them on one line.
    text.lines().filter(|l| !l.trim().is_empty()).map(str::trim).collect::<Vec<_>>().join(" ")
}

/// The `args` table of a rule as written.
pub(in crate::policy) type ArgsTable = Spanned<BTreeMap<Spanned<String>, ArgTable>>;
