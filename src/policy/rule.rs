//! A compiled rule: which servers, tools, resources and prompts it matches,
//! what it does with a match, and what it requires of a tool's arguments.
//! Built by `file`, read by `engine` and `access`; nothing here decides. The matchers are `#[inline]`: `engine`
//! calls them for every rule on every decision, from another module (and so
//! possibly another codegen unit).

use globset::{Glob, GlobMatcher, GlobSet, GlobSetBuilder};
use serde::Deserialize;

use super::args::ArgumentPolicy;
use super::{ApprovalTerms, Mode};

/// What a rule (or the default) does with a matching call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum RuleAction {
    Allow,
    Deny,
    /// Allowed once a person approves the call (argument constraints first).
    Approve,
}

/// Everything the policy files said, compiled, before the engine indexes it.
#[derive(Debug)]
pub(super) struct RuleSet {
    pub(super) mode: Mode,
    pub(super) default_action: RuleAction,
    /// `[defaults] resources` and `prompts`; never `Approve`.
    pub(super) default_resources: RuleAction,
    pub(super) default_prompts: RuleAction,
    /// Every rule, in file order.
    pub(super) rules: Vec<CompiledRule>,
    /// Hex SHA-256 over the source texts in load order.
    pub(super) version: String,
    /// `[defaults] validate_input_schema`.
    pub(super) validate_input_schema: bool,
    /// `[inspect]` and `[flow]`.
    pub(super) inspect: super::InspectPolicy,
}

#[derive(Debug)]
pub(super) struct CompiledRule {
    pub(super) id: String,
    pub(super) action: RuleAction,
    pub(super) server: NameMatcher,
    /// Empty when the rule names no tools: it then matches none.
    pub(super) tools: Patterns,
    /// Resource URI globs; empty when the rule names none (it then allows
    /// and denies no resource: naming tools says nothing about resources).
    pub(super) resources: FoldedPatterns,
    /// Prompt names and globs, likewise.
    pub(super) prompts: FoldedPatterns,
    /// `args.*`, `deny_unknown_args`, `schema`; allow rules only.
    pub(super) arguments: Option<ArgumentPolicy>,
    /// The rule's `validate_input_schema`, overriding `[defaults]`.
    pub(super) validate_input_schema: Option<bool>,
    /// `action = "approve"` rules only.
    pub(super) approval: Option<ApprovalTerms>,
    /// `labels = [...]`; `None` when the rule gives none.
    pub(super) labels: Option<Vec<super::Label>>,
}

/// Matches an upstream server name.
#[derive(Debug)]
pub(super) enum NameMatcher {
    Any,
    Exact(Box<str>),
    Glob(GlobMatcher),
}

impl NameMatcher {
    #[inline]
    pub(super) fn matches(&self, name: &str) -> bool {
        match self {
            NameMatcher::Any => true,
            NameMatcher::Exact(exact) => **exact == *name,
            NameMatcher::Glob(glob) => glob.is_match(name),
        }
    }
}

/// Matches a name (a tool, a prompt, a resource URI) against one of a
/// rule's lists.
///
/// The common glob shapes (`*`, `prefix*`, `*suffix`) are matched as plain
/// string operations; with `literal_separator(false)` a `*` matches any
/// sequence, so this is exactly what globset would answer, only faster.
#[derive(Debug)]
pub(super) struct Patterns {
    /// Exact names, sorted for binary search.
    exact: Vec<Box<str>>,
    prefixes: Vec<Box<str>>,
    suffixes: Vec<Box<str>>,
    /// Every other glob.
    globs: Option<GlobSet>,
    /// Some pattern (`*`) matches every tool.
    pub(super) matches_all: bool,
}

/// How a name matched: an exact name is more specific than a glob.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum PatternMatch {
    Exact,
    Glob,
}

/// Whether `text` has no glob syntax.
pub(super) fn is_literal(text: &str) -> bool {
    !text.contains(['*', '?', '[', ']', '{', '}', '\\'])
}

impl Patterns {
    /// `exact` are literal names; `globs` were already validated.
    pub(super) fn new(mut exact: Vec<Box<str>>, globs: Vec<Glob>) -> Result<Self, globset::Error> {
        exact.sort_unstable();
        exact.dedup();
        let mut matcher =
            Patterns { exact, prefixes: Vec::new(), suffixes: Vec::new(), globs: None, matches_all: false };
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

    /// The list was empty (or absent): nothing matches.
    pub(super) fn is_empty(&self) -> bool {
        self.exact.is_empty()
            && !self.matches_all
            && self.prefixes.is_empty()
            && self.suffixes.is_empty()
            && self.globs.is_none()
    }

    #[inline]
    pub(super) fn matches_exact(&self, tool: &str) -> bool {
        self.exact.binary_search_by(|e| (**e).cmp(tool)).is_ok()
    }

    #[inline]
    fn matches_glob(&self, tool: &str) -> bool {
        self.matches_all
            || self.prefixes.iter().any(|p| tool.starts_with(&**p))
            || self.suffixes.iter().any(|s| tool.ends_with(&**s))
            || self.globs.as_ref().is_some_and(|g| g.is_match(tool))
    }

    #[inline]
    pub(super) fn matches(&self, tool: &str) -> Option<PatternMatch> {
        if self.matches_exact(tool) {
            Some(PatternMatch::Exact)
        } else if self.matches_glob(tool) {
            Some(PatternMatch::Glob)
        } else {
            None
        }
    }
}

/// A list matched two ways: as written, and with pattern and name both
/// lowercased, for servers that look names up without regard to case. The
/// access engine refuses a name the two readings decide differently.
#[derive(Debug)]
pub(super) struct FoldedPatterns {
    pub(super) as_written: Patterns,
    pub(super) folded: Patterns,
}

impl FoldedPatterns {
    pub(super) fn none() -> FoldedPatterns {
        let empty = || Patterns::new(Vec::new(), Vec::new()).expect("an empty pattern list compiles");
        FoldedPatterns { as_written: empty(), folded: empty() }
    }

    /// `name` must already be lowercased when `folded` is set.
    #[inline]
    pub(super) fn matches(&self, name: &str, folded: bool) -> Option<PatternMatch> {
        if folded {
            self.folded.matches(name)
        } else {
            self.as_written.matches(name)
        }
    }

    #[inline]
    pub(super) fn matches_exact(&self, name: &str, folded: bool) -> bool {
        if folded {
            self.folded.matches_exact(name)
        } else {
            self.as_written.matches_exact(name)
        }
    }
}
