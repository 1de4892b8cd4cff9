//! Path confinement: `path_within`, `path_deny`, `resolve_symlinks`, `allow_hidden`.
//! `readings` lists the ways a server may read a path argument; `resolve`
//! walks one on this machine (the engine's only I/O).
//!
//! How a path argument is read (what must stay true):
//! - Every reading in `readings` is checked: the value as written, each
//!   percent-decoding (at most 8 rounds; a stage that is not UTF-8, `%c0%af`,
//!   is refused), and the NFKC, invisible-characters-removed, folded and
//!   trimmed forms Unicode-aware servers read (`．．／` is `../` to them), each
//!   decoded again. A path passes only if every reading passes. `%uXXXX`
//!   escapes and a leading URI scheme (`file:///etc/passwd`) are refused.
//! - NUL and every other control character are refused, raw or encoded.
//! - `\` is a separator; and since some sanitizers delete it instead, the
//!   reading with every `\` deleted must pass too. A leading drive (`C:`), a
//!   UNC or device prefix (`\\server`, `//?/`) is refused: roots are POSIX paths.
//! - Nothing is expanded: `$HOME` is a literal name. A path whose first name
//!   starts with `~` is refused, since servers commonly expand it.
//! - `.` and `..` are resolved lexically; `..` at `/` stays at `/`. Names made
//!   that another layer may read as `..` (`...`, `.. `, `..;`, `..%`) are refused.
//! - An absolute path must lie inside one of the roots. A relative path is
//!   joined to *each* root and must stay inside every one of them (so it is
//!   accepted only if its meaning does not depend on which root the upstream
//!   resolves it against). This is only what the upstream does if it resolves
//!   relative paths against the root: the gateway checks at start that every
//!   stdio upstream a rule applies to runs in one of its roots
//!   ([`RelativePaths`], `config::relative_path_findings`).
//! - A root is an absolute POSIX path, or one starting with `./` or `../`,
//!   which is relative to the policy file's directory (as `schema_file` is).
//! - Hidden entries (a name starting with `.`) *below* a root are refused
//!   unless `allow_hidden = true`: they are where secrets live (`.env`, `.git`,
//!   `.ssh`, `.aws`, `.npmrc`, `.htaccess`).
//! - `path_deny` globs are matched case-insensitively (so `.ENV` on a
//!   case-insensitive file system is still `.env`) against every absolute
//!   form of the path (and its resolved forms with `resolve_symlinks`); `*`
//!   stays within one directory, `**` crosses directories.
//! - With `resolve_symlinks = true`, each reading is also walked on the
//!   gateway's machine (`resolve`: every symlink followed, dangling ones
//!   included), both as written (`..` applied physically, as the kernel does)
//!   and lexically normalised first (as `path.resolve` or `os.path.abspath`
//!   then `open` do), and each result must satisfy the same rules. It is a
//!   best effort: the upstream acts later (time of check to time of use),
//!   and only when it runs on this machine does the answer mean anything.

mod readings;
mod resolve;

use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use readings::Reading;
pub(super) use resolve::resolve_on_this_machine;

/// A compiled `path_within` / `path_deny` pair for one argument.
#[derive(Debug)]
pub(super) struct PathGuard {
    /// Normalised absolute roots, as segment lists; empty when only `path_deny` is set.
    roots: Vec<Vec<String>>,
    deny: Option<GlobSet>,
    deny_patterns: Vec<String>,
    resolve_symlinks: bool,
    allow_hidden: bool,
}

/// What relative values of one argument are joined to under one rule, so
/// the gateway can check that an upstream reads them the same way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelativePaths {
    pub rule: String,
    pub argument: String,
    /// The rule's `path_within` roots, absolute and normalised.
    pub roots: Vec<PathBuf>,
}

/// One reading of the argument that the checks apply to.
struct Candidate {
    /// The normalised path: absolute, or relative with leading `..` kept
    /// when there are no roots to join it to.
    lexical: String,
    /// With `resolve_symlinks`: where this machine resolves it (as written,
    /// and lexically normalised first, when that differs).
    physical: Vec<String>,
}

impl PathGuard {
    /// Compiles a guard. Each root is an absolute POSIX path, or starts with
    /// `./` or `../` and is relative to `policy_dir`.
    pub(super) fn new(
        roots: &[String],
        deny: &[String],
        resolve_symlinks: bool,
        allow_hidden: bool,
        policy_dir: &Path,
    ) -> Result<PathGuard, (usize, String)> {
        let mut compiled_roots = Vec::with_capacity(roots.len());
        for (i, root) in roots.iter().enumerate() {
            let absolute = absolute_root(root, policy_dir).ok_or_else(|| {
                (
                    i,
                    format!(
                        "path_within root {root:?} must be an absolute POSIX path (starting with '/'), \
                         or start with './' or '../' to be relative to the policy file"
                    ),
                )
            })?;
            compiled_roots.push(resolve_lexically(&[], &split(&absolute)));
        }
        let mut set = GlobSetBuilder::new();
        for (i, pattern) in deny.iter().enumerate() {
            let glob = GlobBuilder::new(pattern)
                .literal_separator(true)
                .case_insensitive(true)
                .backslash_escape(true)
                .build()
                .map_err(|e| (roots.len() + i, format!("path_deny: invalid glob {pattern:?}: {}", e.kind())))?;
            set.add(glob);
        }
        let deny_set = if deny.is_empty() {
            None
        } else {
            Some(set.build().map_err(|e| (roots.len(), format!("path_deny: cannot compile globs: {e}")))?)
        };
        Ok(PathGuard {
            roots: compiled_roots,
            deny: deny_set,
            deny_patterns: deny.to_vec(),
            resolve_symlinks,
            allow_hidden,
        })
    }

    pub(super) fn has_roots(&self) -> bool {
        !self.roots.is_empty()
    }

    /// The roots, absolute and normalised.
    pub(super) fn roots(&self) -> Vec<PathBuf> {
        self.roots.iter().map(|r| PathBuf::from(join(r, true))).collect()
    }

    /// `path_within`: `Ok` when every reading of `value` stays inside the roots.
    pub(super) fn check_within(&self, value: &str) -> Result<(), String> {
        self.candidates(value, true).map(|_| ())
    }

    /// `path_deny`: `Ok` when no reading of `value` matches a denied glob.
    pub(super) fn check_deny(&self, value: &str) -> Result<(), String> {
        let Some(deny) = &self.deny else { return Ok(()) };
        // A path `path_within` refuses is still matched against the globs,
        // read as `path_deny` alone reads it, so `explain` reports this
        // constraint's own verdict rather than repeating `path_within`'s.
        let candidates = match self.candidates(value, true) {
            Err(_) if !self.roots.is_empty() => self.candidates(value, false)?,
            result => result?,
        };
        for candidate in candidates {
            for form in std::iter::once(candidate.lexical).chain(candidate.physical) {
                if let Some(&i) = deny.matches(&form).first() {
                    return Err(format!("matches the denied path pattern {:?}", self.deny_patterns[i]));
                }
            }
        }
        Ok(())
    }

    /// Every absolute reading of `value`, or why one of them is refused.
    /// Not `rooted`: read as if there were no roots.
    fn candidates(&self, value: &str, rooted: bool) -> Result<Vec<Candidate>, String> {
        let readings = readings::readings(value)?;
        let mut out = Vec::with_capacity(readings.len());
        for reading in &readings {
            self.add_reading(reading, rooted, &mut out).map_err(|why| format!("{why}{}", reading.context()))?;
        }
        Ok(out)
    }

    /// Adds the candidates of one reading, with `\` read both ways.
    fn add_reading(&self, reading: &Reading<'_>, rooted: bool, out: &mut Vec<Candidate>) -> Result<(), String> {
        let text = &reading.text;
        if !text.contains('\\') {
            return self.add_separated(text, rooted, out);
        }
        self.add_separated(&text.replace('\\', "/"), rooted, out)?;
        // A sanitizer that deletes backslashes turns `.\\./` into `../`.
        self.add_separated(&text.replace('\\', ""), rooted, out)
    }

    /// Adds the candidates of one reading whose separators are all `/`.
    fn add_separated(&self, reading: &str, rooted: bool, out: &mut Vec<Candidate>) -> Result<(), String> {
        let (absolute, segments) = parse(reading)?;
        if self.roots.is_empty() || !rooted {
            // `path_deny` alone: keep leading `..` so `../.env` still reads as `.env`.
            let lexical = if absolute {
                join(&resolve_lexically(&[], &segments), true)
            } else {
                join(&resolve_relative(&segments), false)
            };
            push_new(out, lexical, Vec::new);
        } else if absolute {
            let lexical = resolve_lexically(&[], &segments);
            let root = self.roots.iter().position(|r| lexical.starts_with(r));
            let Some(root) = root else { return Err("is outside the allowed roots".into()) };
            self.check_hidden(&lexical, root)?;
            let physical = self.physical(&[], &segments, &lexical, root)?;
            push_new(out, join(&lexical, true), || physical);
        } else {
            for (root, base) in self.roots.iter().enumerate() {
                let lexical = resolve_lexically(base, &segments);
                if !lexical.starts_with(base) {
                    return Err("is outside the allowed roots".into());
                }
                self.check_hidden(&lexical, root)?;
                let physical = self.physical(base, &segments, &lexical, root)?;
                push_new(out, join(&lexical, true), || physical);
            }
        }
        Ok(())
    }

    fn check_hidden(&self, path: &[String], root: usize) -> Result<(), String> {
        if !self.allow_hidden && path[self.roots[root].len()..].iter().any(|s| s.starts_with('.')) {
            return Err("names a hidden file or directory (allow_hidden = true permits it)".into());
        }
        Ok(())
    }

    /// With `resolve_symlinks`, where this machine takes the path, read as
    /// written (`..` after a symlink climbs from its target) and as normalised
    /// first (`lexical`), each checked against the root as this machine
    /// resolves it.
    fn physical(
        &self,
        base: &[String],
        segments: &[String],
        lexical: &[String],
        root: usize,
    ) -> Result<Vec<String>, String> {
        if !self.resolve_symlinks {
            return Ok(Vec::new());
        }
        let root_text = join(&self.roots[root], true);
        let real_root = resolve_on_this_machine(Path::new(&root_text))
            .ok_or_else(|| "has a root that cannot be resolved on the gateway's machine".to_string())?;
        let real_root = real_root.to_str().ok_or_else(|| "has a root that is not UTF-8".to_string())?;
        let root_segments = split(real_root);
        let as_written = format!("{}/{}", join(base, true).trim_end_matches('/'), segments.join("/"));
        let normalised = join(lexical, true);
        let mut out: Vec<String> = Vec::with_capacity(2);
        for raw in [as_written, normalised] {
            let resolved = resolve_on_this_machine(Path::new(&raw))
                .ok_or_else(|| "cannot be resolved on the gateway's machine".to_string())?;
            let resolved = resolved.to_str().ok_or_else(|| "resolves to a path that is not UTF-8".to_string())?;
            let resolved_segments = split(resolved);
            if !resolved_segments.starts_with(&root_segments) {
                return Err("resolves (through a symbolic link) outside the allowed roots".into());
            }
            if !self.allow_hidden && resolved_segments[root_segments.len()..].iter().any(|s| s.starts_with('.')) {
                return Err("resolves (through a symbolic link) to a hidden file or directory".into());
            }
            let form = join(&resolved_segments, true);
            if !out.contains(&form) {
                out.push(form);
            }
        }
        Ok(out)
    }
}

/// Adds a candidate unless one with the same normalised path is there
/// already (the physical forms of equal paths are equal).
fn push_new(out: &mut Vec<Candidate>, lexical: String, physical: impl FnOnce() -> Vec<String>) {
    if !out.iter().any(|c| c.lexical == lexical) {
        out.push(Candidate { lexical, physical: physical() });
    }
}

/// A root as written, made absolute: `/x` as is, `./x` and `../x` joined to
/// the policy file's directory. `None` for anything else.
fn absolute_root(root: &str, policy_dir: &Path) -> Option<String> {
    if root.contains('\\') || root.chars().any(char::is_control) {
        return None;
    }
    if root.starts_with('/') {
        return Some(root.to_string());
    }
    if !(root.starts_with("./") || root.starts_with("../") || root == "." || root == "..") {
        return None;
    }
    let dir = std::path::absolute(policy_dir).ok()?;
    let joined = dir.join(root);
    let text = joined.to_str()?;
    text.starts_with('/').then(|| text.to_string())
}

/// Splits one reading (separators already `/`) into (absolute?, segments),
/// refusing what cannot be a POSIX path under a POSIX root.
fn parse(text: &str) -> Result<(bool, Vec<String>), String> {
    if text.starts_with("//") {
        return Err("is a UNC or device path".into());
    }
    let first = text.split('/').next().unwrap_or("");
    let bytes = first.as_bytes();
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        return Err("is a Windows drive path".into());
    }
    if first.starts_with('~') {
        // The gateway expands nothing, but servers do (server-filesystem turns
        // `~/x` into `$HOME/x`): such a path is outside every root for them.
        return Err("starts with \"~\", which servers may expand to a home directory".into());
    }
    let segments = split(text);
    if segments.iter().any(|s| reads_as_parent(s)) {
        return Err("has a name that some systems read as \"..\"".into());
    }
    Ok((text.starts_with('/'), segments))
}

/// A name other than `..` that some layer may still turn into `..`: `..`
/// with whitespace around it, only dots and spaces (`...`, `.. `: Windows drops trailing dots and spaces; a
/// sanitizer that strips `../` once turns `....//` into `../`), or `..`
/// followed by a symbol (`..;` is `..` to Tomcat and Spring, `..%` or `..?`
/// to parsers that cut at the symbol).
fn reads_as_parent(segment: &str) -> bool {
    if segment != ".." && segment.trim_matches(readings::is_trimmed) == ".." {
        // ` ..`: `..` to code that trims what it is given (`str.strip()`).
        return true;
    }
    if segment == ".." || !segment.starts_with("..") {
        return false;
    }
    segment.trim_end_matches(['.', ' ']).is_empty()
        || segment[2..].chars().next().is_some_and(|c| !c.is_alphanumeric() && c != '_')
}

fn split(text: &str) -> Vec<String> {
    text.split('/').filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// `base` joined with `segments`, `.` dropped and `..` applied; `..` at the
/// top stays at the top, as the kernel does at `/`.
fn resolve_lexically(base: &[String], segments: &[String]) -> Vec<String> {
    let mut out = base.to_vec();
    for segment in segments {
        match segment.as_str() {
            "." => {}
            ".." => {
                out.pop();
            }
            name => out.push(name.to_string()),
        }
    }
    out
}

/// A relative path normalised without a base: leading `..` are kept.
fn resolve_relative(segments: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for segment in segments {
        match segment.as_str() {
            "." => {}
            ".." if out.last().is_some_and(|s| s != "..") => {
                out.pop();
            }
            name => out.push(name.to_string()),
        }
    }
    out
}

fn join(segments: &[String], absolute: bool) -> String {
    let body = segments.join("/");
    if absolute {
        format!("/{body}")
    } else {
        body
    }
}

#[cfg(test)]
mod tests;
