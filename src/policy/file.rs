//! Policy files: TOML text in, compiled [`Policy`] out.
//!
//! Everything a policy says is checked here, at load: unknown keys, bad globs,
//! duplicate rule ids. A policy that uses a feature this gateway does not
//! implement fails to load rather than being applied partially (fail closed).
//! Every error names the file, line and column of the offending text.

use std::collections::HashMap;
use std::ops::Range;
use std::path::PathBuf;

use globset::{GlobBuilder, GlobMatcher};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use toml::Spanned;

use super::engine::{is_literal, CompiledRule, NameMatcher, ToolMatcher};
use super::{Mode, Policy, PolicyError};

/// What a rule (or the default) does with a matching call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum RuleAction {
    Allow,
    Deny,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    mode: Option<Spanned<Mode>>,
    defaults: Option<DefaultsTable>,
    #[serde(default)]
    rules: Vec<RuleTable>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DefaultsTable {
    tools: Option<Spanned<RuleAction>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleTable {
    id: Spanned<String>,
    server: Spanned<String>,
    tools: Spanned<Vec<Spanned<String>>>,
    action: RuleAction,
    // Free text for people reading the policy; the engine does not use it.
    #[allow(dead_code)]
    description: Option<String>,
}

/// 1-based line and column (in characters) of a byte offset in `text`.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Rewords a TOML/serde error so an unsupported key reads as a refusal, not a typo.
pub(crate) fn toml_reason(err: &toml::de::Error) -> String {
    let message = err.message().trim_end();
    if message.starts_with("unknown field") || message.starts_with("unknown variant") {
        format!("{message} (unsupported settings are refused, never ignored)")
    } else {
        message.to_string()
    }
}

/// One policy source being compiled, for positioned errors.
struct Source<'a> {
    origin: &'a str,
    text: &'a str,
}

impl Source<'_> {
    fn location(&self, span: &Range<usize>) -> String {
        let (line, column) = line_col(self.text, span.start);
        format!("{}:{line}:{column}", self.origin)
    }

    fn error(&self, span: &Range<usize>, reason: impl Into<String>) -> PolicyError {
        let (line, column) = line_col(self.text, span.start);
        PolicyError::Invalid { origin: self.origin.to_string(), line, column, reason: reason.into() }
    }
}

/// A setting that may appear in several files only if they all agree.
struct Setting<T> {
    value: T,
    location: String,
}

fn merge_setting<T: Copy + PartialEq + std::fmt::Debug>(
    slot: &mut Option<Setting<T>>,
    new: &Spanned<T>,
    name: &str,
    source: &Source<'_>,
) -> Result<(), PolicyError> {
    let value = *new.get_ref();
    match slot {
        Some(existing) if existing.value != value => Err(source.error(
            &new.span(),
            format!(
                "{name} = {} conflicts with {name} = {} set at {}; set it in one policy file only",
                lower(&value),
                lower(&existing.value),
                existing.location
            ),
        )),
        Some(_) => Ok(()),
        None => {
            *slot = Some(Setting { value, location: source.location(&new.span()) });
            Ok(())
        }
    }
}

fn lower<T: std::fmt::Debug>(value: &T) -> String {
    format!("\"{}\"", format!("{value:?}").to_lowercase())
}

impl Policy {
    /// Reads and compiles the policy files, in order.
    pub fn load(paths: &[PathBuf]) -> Result<Policy, PolicyError> {
        let mut sources = Vec::with_capacity(paths.len());
        for path in paths {
            let text =
                std::fs::read_to_string(path).map_err(|source| PolicyError::Read { path: path.clone(), source })?;
            sources.push((path.display().to_string(), text));
        }
        Policy::from_sources(&sources)
    }

    /// Compiles policy texts; each pair is (origin name used in errors, TOML text).
    /// Rules concatenate in order. `mode` and `defaults.tools` may be set in
    /// several files only if every file sets the same value.
    pub fn from_sources(sources: &[(String, String)]) -> Result<Policy, PolicyError> {
        let mut mode: Option<Setting<Mode>> = None;
        let mut default_tools: Option<Setting<RuleAction>> = None;
        let mut rules = Vec::new();
        let mut ids: HashMap<String, String> = HashMap::new();
        let mut hasher = Sha256::new();

        for (origin, text) in sources {
            // Length-prefixed so that moving text between files changes the version.
            hasher.update((text.len() as u64).to_le_bytes());
            hasher.update(text.as_bytes());

            let source = Source { origin, text };
            let file: PolicyFile =
                toml::from_str(text).map_err(|e| source.error(&e.span().unwrap_or(0..0), toml_reason(&e)))?;
            if let Some(m) = &file.mode {
                merge_setting(&mut mode, m, "mode", &source)?;
            }
            if let Some(tools) = file.defaults.as_ref().and_then(|d| d.tools.as_ref()) {
                merge_setting(&mut default_tools, tools, "defaults.tools", &source)?;
            }
            for rule in file.rules {
                rules.push(compile_rule(rule, &source, &mut ids)?);
            }
        }

        Ok(Policy::new(
            mode.map_or(Mode::Enforce, |s| s.value),
            default_tools.map_or(RuleAction::Deny, |s| s.value),
            rules,
            hex::encode(hasher.finalize()),
        ))
    }
}

fn valid_rule_id(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn compile_rule(
    rule: RuleTable,
    source: &Source<'_>,
    ids: &mut HashMap<String, String>,
) -> Result<CompiledRule, PolicyError> {
    let id = rule.id.get_ref();
    if !valid_rule_id(id) {
        return Err(source.error(
            &rule.id.span(),
            format!("rule id {id:?} must be 1-128 characters from A-Z, a-z, 0-9, '_' and '-'"),
        ));
    }
    if let Some(first) = ids.get(id) {
        return Err(source.error(&rule.id.span(), format!("duplicate rule id {id:?}: already defined at {first}")));
    }
    ids.insert(id.clone(), source.location(&rule.id.span()));

    let server_pattern = rule.server.get_ref();
    if server_pattern.is_empty() {
        return Err(source.error(
            &rule.server.span(),
            format!("rule {id:?}: server must not be empty (use \"*\" for every server)"),
        ));
    }
    let server = if server_pattern == "*" {
        NameMatcher::Any
    } else if !is_literal(server_pattern) {
        NameMatcher::Glob(compile_glob(&rule.server, id, source)?)
    } else {
        NameMatcher::Exact(server_pattern.as_str().into())
    };

    if rule.tools.get_ref().is_empty() {
        return Err(
            source.error(&rule.tools.span(), format!("rule {id:?}: tools must list at least one tool name or glob"))
        );
    }
    let mut exact = Vec::new();
    let mut globs = Vec::new();
    for pattern in rule.tools.get_ref() {
        let text = pattern.get_ref();
        if text.is_empty() {
            return Err(
                source.error(&pattern.span(), format!("rule {id:?}: empty tool pattern (use \"*\" for every tool)"))
            );
        }
        if is_literal(text) {
            exact.push(Box::<str>::from(text.as_str()));
        } else {
            globs.push(compile_glob(pattern, id, source)?.glob().clone());
        }
    }
    let tools = ToolMatcher::new(exact, globs)
        .map_err(|e| source.error(&rule.tools.span(), format!("rule {id:?}: cannot compile tool globs: {e}")))?;

    Ok(CompiledRule { id: id.clone(), action: rule.action, server, tools })
}

fn compile_glob(pattern: &Spanned<String>, id: &str, source: &Source<'_>) -> Result<GlobMatcher, PolicyError> {
    GlobBuilder::new(pattern.get_ref())
        .literal_separator(false)
        .backslash_escape(true)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| {
            source.error(&pattern.span(), format!("rule {id:?}: invalid glob {:?}: {}", pattern.get_ref(), e.kind()))
        })
}
