//! Policy files: TOML text in, compiled rules (a `RuleSet`) out; `policy` wires
//! them into the engine's `Policy`.
//!
//! Everything a policy says is checked here, at load: unknown keys (including
//! unknown constraint names), bad globs, bad regexes, bad JSON Schemas,
//! duplicate rule ids. A policy that uses a feature this gateway does not
//! implement fails to load rather than being applied partially (fail closed).
//! Every error names the file, line and column of the offending text.
//!
//! Besides the policy files themselves, the only files read are a rule's
//! `schema_file`, resolved relative to the directory of the policy file that
//! names it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use globset::{GlobBuilder, GlobMatcher};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use toml::Spanned;

use super::args::{compile_argument, ArgsTable, ArgumentPolicy};
use super::rule::{is_literal, CompiledRule, FoldedPatterns, NameMatcher, Patterns, RuleAction, RuleSet};
use super::schema::CompiledSchema;
use super::uri;
use super::{ApprovalChannel, ApprovalTerms, Mode, PolicyError, DEFAULT_APPROVAL_TIMEOUT};
use crate::source::{parse_duration, Source, SourceError};

/// A person needs time to read a call; a day is longer than any client waits.
const MAX_APPROVAL_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

fn parse_approval_timeout(value: &Spanned<String>, name: &str, source: &Source<'_>) -> Result<Duration, SourceError> {
    parse_duration(value.get_ref(), Duration::ZERO, MAX_APPROVAL_TIMEOUT)
        .map_err(|e| source.error(&value.span(), e.reason(name, value.get_ref(), "\"120s\" or \"5m\"")))
}

/// The `approval = [...]` list of a rule: known channel names only.
fn compile_channels(
    list: &Spanned<Vec<Spanned<String>>>,
    id: &str,
    source: &Source<'_>,
) -> Result<Vec<ApprovalChannel>, SourceError> {
    if list.get_ref().is_empty() {
        return Err(source.error(&list.span(), format!("rule {id:?}: approval must name at least one channel")));
    }
    let mut channels = Vec::new();
    for name in list.get_ref() {
        let channel = ApprovalChannel::parse(name.get_ref()).map_err(|reason| {
            source.error(&name.span(), format!("rule {id:?}: approval channel {:?}: {reason}", name.get_ref()))
        })?;
        if !channels.contains(&channel) {
            channels.push(channel);
        }
    }
    Ok(channels)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    mode: Option<Spanned<Mode>>,
    defaults: Option<DefaultsTable>,
    #[serde(default)]
    rules: Vec<RuleTable>,
    inspect: Option<super::inspect::InspectTable>,
    flow: Option<super::inspect::FlowTable>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DefaultsTable {
    tools: Option<Spanned<RuleAction>>,
    /// Resources (and templates) no rule names: deny unless set to "allow".
    resources: Option<Spanned<RuleAction>>,
    /// Prompts no rule names: deny unless set to "allow".
    prompts: Option<Spanned<RuleAction>>,
    /// Check calls against the upstream's advertised `inputSchema` (default true).
    validate_input_schema: Option<Spanned<bool>>,
    /// How long an `action = "approve"` call waits for a person, then is denied.
    approval_timeout: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleTable {
    id: Spanned<String>,
    server: Spanned<String>,
    /// At least one of `tools`, `resources` and `prompts` is required.
    tools: Option<Spanned<Vec<Spanned<String>>>>,
    /// Resource URI globs (`*` matches any run of characters, `/` included).
    resources: Option<Spanned<Vec<Spanned<String>>>>,
    /// Prompt names and globs, as the upstream names them.
    prompts: Option<Spanned<Vec<Spanned<String>>>>,
    action: RuleAction,
    // Free text for people reading the policy; the engine does not use it.
    #[allow(dead_code)]
    description: Option<String>,
    /// Refuse any top-level argument that no `args.*` entry names.
    deny_unknown_args: Option<Spanned<bool>>,
    /// Overrides `[defaults] validate_input_schema` for this rule.
    validate_input_schema: Option<Spanned<bool>>,
    args: Option<ArgsTable>,
    /// An inline JSON Schema for the whole arguments object.
    schema: Option<Spanned<serde_json::Value>>,
    /// A JSON Schema file, relative to this policy file.
    schema_file: Option<Spanned<String>>,
    /// `action = "approve"` only: overrides `[defaults] approval_timeout`.
    approval_timeout: Option<Spanned<String>>,
    /// `action = "approve"` only: the channels that may answer (default: all available).
    approval: Option<Spanned<Vec<Spanned<String>>>>,
    /// Data-flow labels of the tools it names (`private_data`, `untrusted_content`, `sends_out`).
    labels: Option<Spanned<Vec<Spanned<String>>>>,
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
) -> Result<(), SourceError> {
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

/// Reads the policy files, in order, as (origin, text) pairs for [`compile`].
pub(super) fn read(paths: &[PathBuf]) -> Result<Vec<(String, String)>, PolicyError> {
    let mut sources = Vec::with_capacity(paths.len());
    for path in paths {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read { path: path.clone(), source })?;
        sources.push((path.display().to_string(), text));
    }
    Ok(sources)
}

/// Compiles policy texts; each pair is (origin name used in errors, TOML text).
/// Rules concatenate in order. `mode` and each `[defaults]` setting may be
/// set in several files only if every file sets the same value.
pub(super) fn compile(sources: &[(String, String)]) -> Result<RuleSet, SourceError> {
    let mut mode: Option<Setting<Mode>> = None;
    let mut default_tools: Option<Setting<RuleAction>> = None;
    let mut default_resources: Option<Setting<RuleAction>> = None;
    let mut default_prompts: Option<Setting<RuleAction>> = None;
    let mut validate_input_schema: Option<Setting<bool>> = None;
    let mut approval_timeout: Option<Setting<Duration>> = None;
    let mut rules = Vec::new();
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut hasher = Sha256::new();
    let mut inspect = super::inspect::InspectBuilder::default();

    for (origin, text) in sources {
        // Length-prefixed so that moving text between files changes the version.
        hasher.update((text.len() as u64).to_le_bytes());
        hasher.update(text.as_bytes());

        let source = Source::new(origin, text);
        let file: PolicyFile = source.parse()?;
        if let Some(m) = &file.mode {
            merge_setting(&mut mode, m, "mode", &source)?;
        }
        if let Some(tools) = file.defaults.as_ref().and_then(|d| d.tools.as_ref()) {
            if *tools.get_ref() == RuleAction::Approve {
                return Err(source.error(
                    &tools.span(),
                    "defaults.tools = \"approve\" is not supported: name the tools that need approval in a rule \
                         with action = \"approve\"",
                ));
            }
            merge_setting(&mut default_tools, tools, "defaults.tools", &source)?;
        }
        let defaults = file.defaults.as_ref();
        for (value, slot, name) in [
            (defaults.and_then(|d| d.resources.as_ref()), &mut default_resources, "defaults.resources"),
            (defaults.and_then(|d| d.prompts.as_ref()), &mut default_prompts, "defaults.prompts"),
        ] {
            if let Some(value) = value {
                if *value.get_ref() == RuleAction::Approve {
                    return Err(source.error(
                        &value.span(),
                        format!("{name} = \"approve\" is not supported: resources and prompts are allowed or denied"),
                    ));
                }
                merge_setting(slot, value, name, &source)?;
            }
        }
        if let Some(t) = file.defaults.as_ref().and_then(|d| d.approval_timeout.as_ref()) {
            let parsed = Spanned::new(t.span(), parse_approval_timeout(t, "defaults.approval_timeout", &source)?);
            merge_setting(&mut approval_timeout, &parsed, "defaults.approval_timeout", &source)?;
        }
        if let Some(v) = file.defaults.as_ref().and_then(|d| d.validate_input_schema.as_ref()) {
            merge_setting(&mut validate_input_schema, v, "defaults.validate_input_schema", &source)?;
        }
        if let Some(table) = file.inspect {
            inspect.add_inspect(table, &source)?;
        }
        if let Some(table) = file.flow {
            inspect.add_flow(table, &source)?;
        }
        for rule in file.rules {
            rules.push(compile_rule(rule, &source, &mut ids, &mut hasher)?);
        }
    }
    let default_timeout = approval_timeout.map_or(DEFAULT_APPROVAL_TIMEOUT, |s| s.value);
    for rule in &mut rules {
        if let Some(terms) = &mut rule.approval {
            terms.timeout.get_or_insert(default_timeout);
        }
    }

    Ok(RuleSet {
        mode: mode.map_or(Mode::Enforce, |s| s.value),
        default_action: default_tools.map_or(RuleAction::Deny, |s| s.value),
        default_resources: default_resources.map_or(RuleAction::Deny, |s| s.value),
        default_prompts: default_prompts.map_or(RuleAction::Deny, |s| s.value),
        rules,
        version: hex::encode(hasher.finalize()),
        validate_input_schema: validate_input_schema.is_none_or(|s| s.value),
        inspect: inspect.build(),
    })
}

fn valid_rule_id(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn compile_rule(
    mut rule: RuleTable,
    source: &Source<'_>,
    ids: &mut HashMap<String, String>,
    hasher: &mut Sha256,
) -> Result<CompiledRule, SourceError> {
    let id_owned = rule.id.get_ref().clone();
    let id = &id_owned;
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

    if rule.tools.is_none() && rule.resources.is_none() && rule.prompts.is_none() {
        return Err(
            source.error(&rule.id.span(), format!("rule {id:?}: name at least one of tools, resources and prompts"))
        );
    }
    let tools = match &rule.tools {
        Some(list) => compile_patterns(list, id, "tool", source)?,
        None => Patterns::new(Vec::new(), Vec::new()).expect("an empty pattern list compiles"),
    };
    let resources = match &rule.resources {
        Some(list) => compile_folded(list, id, "resource", source)?,
        None => FoldedPatterns::none(),
    };
    let prompts = match &rule.prompts {
        Some(list) => compile_folded(list, id, "prompt", source)?,
        None => FoldedPatterns::none(),
    };
    if rule.action == RuleAction::Approve {
        if let Some(list) = rule.resources.as_ref().or(rule.prompts.as_ref()) {
            return Err(source.error(
                &list.span(),
                format!(
                    "rule {id:?}: action = \"approve\" holds tool calls only; allow or deny resources and prompts \
                     in a rule of their own"
                ),
            ));
        }
    }
    if rule.tools.is_none() {
        let stray = rule.validate_input_schema.as_ref().map(|v| ("validate_input_schema", v.span()));
        let stray = stray.or_else(|| rule.deny_unknown_args.as_ref().map(|v| ("deny_unknown_args", v.span())));
        let stray = stray.or_else(|| rule.args.as_ref().map(|v| ("args", v.span())));
        let stray = stray.or_else(|| rule.schema.as_ref().map(|v| ("schema", v.span())));
        let stray = stray.or_else(|| rule.schema_file.as_ref().map(|v| ("schema_file", v.span())));
        if let Some((key, span)) = stray {
            return Err(source.error(&span, format!("rule {id:?}: {key} applies to tools, and this rule names none")));
        }
    }
    let constrains_arguments =
        rule.args.is_some() || rule.deny_unknown_args.is_some() || rule.schema.is_some() || rule.schema_file.is_some();
    if let (true, Some(list)) = (constrains_arguments, &rule.prompts) {
        // Prompts take arguments too: constraints here would look as if they applied to them.
        return Err(source.error(
            &list.span(),
            format!(
                "rule {id:?}: argument constraints apply to tools only; name the prompts in a rule without args, \
                 schema or deny_unknown_args"
            ),
        ));
    }

    let arguments = compile_arguments(&mut rule, id, source, hasher)?;
    let validate_input_schema = rule.validate_input_schema.as_ref().map(|v| *v.get_ref());
    if rule.action == RuleAction::Deny {
        if let Some(v) = &rule.validate_input_schema {
            return Err(source.error(
                &v.span(),
                format!("rule {id:?}: validate_input_schema has no meaning on a deny rule, which refuses every call"),
            ));
        }
    }
    let approval = if rule.action == RuleAction::Approve {
        let timeout = match &rule.approval_timeout {
            Some(t) => Some(parse_approval_timeout(t, &format!("rule {id:?}: approval_timeout"), source)?),
            None => None,
        };
        let channels = match &rule.approval {
            Some(list) => compile_channels(list, id, source)?,
            None => ApprovalChannel::DEFAULT.to_vec(),
        };
        Some(ApprovalTerms { timeout, channels })
    } else {
        let stray = rule.approval_timeout.as_ref().map(|t| ("approval_timeout", t.span()));
        let stray = stray.or_else(|| rule.approval.as_ref().map(|a| ("approval", a.span())));
        if let Some((key, span)) = stray {
            return Err(source.error(&span, format!("rule {id:?}: {key} is only valid with action = \"approve\"")));
        }
        None
    };
    let labels = match &rule.labels {
        Some(list) if rule.tools.is_none() => {
            return Err(
                source.error(&list.span(), format!("rule {id:?}: labels apply to tools, and this rule names none"))
            )
        }
        Some(list) => Some(super::inspect::compile_labels(list, id, source)?),
        None => None,
    };
    Ok(CompiledRule {
        id: id.clone(),
        action: rule.action,
        server,
        tools,
        resources,
        prompts,
        arguments,
        validate_input_schema,
        approval,
        labels,
    })
}

/// Compiles `args.*`, `deny_unknown_args` and `schema`/`schema_file`.
fn compile_arguments(
    rule: &mut RuleTable,
    id: &str,
    source: &Source<'_>,
    hasher: &mut Sha256,
) -> Result<Option<ArgumentPolicy>, SourceError> {
    let deny_unknown = rule.deny_unknown_args.as_ref().is_some_and(|d| *d.get_ref());
    let has_any = rule.args.is_some() || deny_unknown || rule.schema.is_some() || rule.schema_file.is_some();
    if !has_any {
        return Ok(None);
    }
    if rule.action == RuleAction::Deny {
        // A deny rule refuses the tool whatever its arguments; constraints on it
        // would read as "deny only when ...", which is an allow rule's job.
        let span = rule
            .args
            .as_ref()
            .map(|a| a.span())
            .or_else(|| rule.deny_unknown_args.as_ref().map(|d| d.span()))
            .or_else(|| rule.schema.as_ref().map(|s| s.span()))
            .or_else(|| rule.schema_file.as_ref().map(|s| s.span()))
            .unwrap_or(0..0);
        return Err(source.error(
            &span,
            format!(
                "rule {id:?}: argument constraints are not supported on a deny rule (it refuses the tool whatever \
                 the arguments); put them on the allow rule for the tool, which then refuses calls that fail them"
            ),
        ));
    }

    let mut guards = Vec::new();
    if let Some(args) = rule.args.take() {
        let policy_dir = Path::new(source.origin()).parent().unwrap_or(Path::new(""));
        for (name, table) in args.into_inner() {
            let guard = compile_argument(&name, table, policy_dir).map_err(|(span, message)| {
                source.error(&span, format!("rule {id:?}: args.{}: {message}", name.get_ref()))
            })?;
            guards.push(guard);
        }
    }

    let schema = match (&rule.schema, &rule.schema_file) {
        (Some(_), Some(file)) => {
            return Err(source.error(&file.span(), format!("rule {id:?}: set schema or schema_file, not both")));
        }
        (Some(inline), None) => Some(
            CompiledSchema::compile(inline.get_ref())
                .map_err(|e| source.error(&inline.span(), format!("rule {id:?}: invalid schema: {e}")))?,
        ),
        (None, Some(file)) => Some(load_schema_file(file, id, source, hasher)?),
        (None, None) => None,
    };
    Ok(Some(ArgumentPolicy::new(guards, deny_unknown, schema)))
}

/// Reads and compiles a `schema_file`. JSON syntax errors point into the
/// schema file itself; other errors point at the `schema_file` key. Its text
/// goes into the policy version, since it is part of what decides.
fn load_schema_file(
    file: &Spanned<String>,
    id: &str,
    source: &Source<'_>,
    hasher: &mut Sha256,
) -> Result<CompiledSchema, SourceError> {
    let base = Path::new(source.origin()).parent().unwrap_or(Path::new(""));
    let path = base.join(file.get_ref());
    let text = std::fs::read_to_string(&path).map_err(|e| {
        source.error(&file.span(), format!("rule {id:?}: cannot read schema_file {}: {e}", path.display()))
    })?;
    hasher.update((text.len() as u64).to_le_bytes());
    hasher.update(text.as_bytes());
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| SourceError {
        origin: path.display().to_string(),
        line: e.line(),
        column: e.column(),
        reason: format!("rule {id:?}: schema_file is not valid JSON: {e}"),
    })?;
    CompiledSchema::compile(&value)
        .map_err(|e| source.error(&file.span(), format!("rule {id:?}: invalid schema in {}: {e}", path.display())))
}

/// A rule's `tools`, `resources` or `prompts` list; `what` names one entry.
fn compile_patterns(
    list: &Spanned<Vec<Spanned<String>>>,
    id: &str,
    what: &str,
    source: &Source<'_>,
) -> Result<Patterns, SourceError> {
    let plural = format!("{what}s");
    if list.get_ref().is_empty() {
        return Err(
            source.error(&list.span(), format!("rule {id:?}: {plural} must list at least one {what} name or glob"))
        );
    }
    let mut exact = Vec::new();
    let mut globs = Vec::new();
    for pattern in list.get_ref() {
        let text = pattern.get_ref();
        if text.is_empty() {
            return Err(source
                .error(&pattern.span(), format!("rule {id:?}: empty {what} pattern (use \"*\" for every {what})")));
        }
        if is_literal(text) {
            exact.push(Box::<str>::from(text.as_str()));
        } else {
            globs.push(compile_glob(pattern, id, source)?.glob().clone());
        }
    }
    Patterns::new(exact, globs)
        .map_err(|e| source.error(&list.span(), format!("rule {id:?}: cannot compile {what} globs: {e}")))
}

/// A `resources` or `prompts` list, as written and case-folded. A literal
/// entry must be a name the gateway would hand a server at all: one that
/// is always refused could only mislead a reader of the policy.
fn compile_folded(
    list: &Spanned<Vec<Spanned<String>>>,
    id: &str,
    what: &str,
    source: &Source<'_>,
) -> Result<FoldedPatterns, SourceError> {
    for pattern in list.get_ref() {
        let text = pattern.get_ref();
        if text.is_empty() || !is_literal(text) {
            continue;
        }
        let readable = if what == "resource" { uri::resource_readings(text) } else { uri::prompt_readings(text) };
        if let Err(uri::Unreadable(clause)) = readable {
            return Err(source.error(
                &pattern.span(),
                format!(
                    "rule {id:?}: {what} {text:?} can never be allowed or denied: the gateway refuses it ({clause})"
                ),
            ));
        }
    }
    let as_written = compile_patterns(list, id, what, source)?;
    let lowered = Spanned::new(
        list.span(),
        list.get_ref().iter().map(|p| Spanned::new(p.span(), p.get_ref().to_lowercase())).collect::<Vec<_>>(),
    );
    let folded = compile_patterns(&lowered, id, what, source)?;
    Ok(FoldedPatterns { as_written, folded })
}

fn compile_glob(pattern: &Spanned<String>, id: &str, source: &Source<'_>) -> Result<GlobMatcher, SourceError> {
    GlobBuilder::new(pattern.get_ref())
        .literal_separator(false)
        .backslash_escape(true)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| {
            source.error(&pattern.span(), format!("rule {id:?}: invalid glob {:?}: {}", pattern.get_ref(), e.kind()))
        })
}
