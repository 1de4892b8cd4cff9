//! Path confinement: `path_within`, `path_deny`, `resolve_symlinks`, `allow_hidden`.
//!
//! How a path argument is read (what must stay true):
//! - It is checked at *every* percent-decoding stage (raw, decoded once, twice,
//!   ... until stable, at most 8 rounds), because the gateway cannot know how
//!   many times the upstream decodes; a stage that is not UTF-8 (`%c0%af`) is refused.
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
//!   resolves it against). This assumes the upstream resolves relative paths
//!   against one of the roots (its working directory or configured base); a
//!   server that resolves them elsewhere must be given absolute paths only
//!   (for example with `pattern = "/.*"`).
//! - Hidden entries (a name starting with `.`) *below* a root are refused
//!   unless `allow_hidden = true`: they are where secrets live (`.env`, `.git`,
//!   `.ssh`, `.aws`, `.npmrc`, `.htaccess`).
//! - `path_deny` globs are matched case-insensitively (so `.ENV` on a
//!   case-insensitive file system is still `.env`) against every absolute
//!   form of the path (and its resolved form with `resolve_symlinks`); `*`
//!   stays within one directory, `**` crosses directories.
//! - With `resolve_symlinks = true`, the path is also resolved on the gateway's
//!   machine (its longest existing prefix, with `..` applied physically, the way
//!   the kernel would) and the result must satisfy the same rules. This is the
//!   engine's only I/O, in [`resolve_on_this_machine`]. It is a best effort: the
//!   upstream acts later (time of check to time of use), and only when it runs
//!   on this machine does the answer mean anything.

use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use super::decode;

/// Longer paths are refused outright (Linux PATH_MAX).
const MAX_PATH_BYTES: usize = 4096;

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

/// One reading of the argument that the checks apply to.
struct Candidate {
    /// The normalised path: absolute, or relative with leading `..` kept
    /// when there are no roots to join it to.
    lexical: String,
    /// With `resolve_symlinks`: where this machine resolves it.
    physical: Option<String>,
}

impl PathGuard {
    /// Compiles a guard. `roots` must be absolute POSIX paths.
    pub(super) fn new(
        roots: &[String],
        deny: &[String],
        resolve_symlinks: bool,
        allow_hidden: bool,
    ) -> Result<PathGuard, (usize, String)> {
        let mut compiled_roots = Vec::with_capacity(roots.len());
        for (i, root) in roots.iter().enumerate() {
            if !root.starts_with('/') || root.contains('\\') || root.chars().any(char::is_control) {
                return Err((
                    i,
                    format!("path_within root {root:?} must be an absolute POSIX path (starting with '/')"),
                ));
            }
            compiled_roots.push(resolve_lexically(&[], &split(root)));
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
        let stages = decode::stages(value).map_err(|e| e.describe().to_string())?;
        let mut out = Vec::with_capacity(stages.len());
        for stage in &stages {
            check_characters(stage)?;
            let separated = stage.replace('\\', "/");
            // A sanitizer that deletes backslashes turns `.\\./` into `../`.
            let stripped = stage.contains('\\').then(|| stage.replace('\\', ""));
            for reading in std::iter::once(separated).chain(stripped) {
                self.add_reading(&reading, rooted, &mut out)?;
            }
        }
        Ok(out)
    }

    /// Adds the candidates of one reading (one stage, with `\` read one way).
    fn add_reading(&self, reading: &str, rooted: bool, out: &mut Vec<Candidate>) -> Result<(), String> {
        let (absolute, segments) = parse(reading)?;
        if self.roots.is_empty() || !rooted {
            // `path_deny` alone: keep leading `..` so `../.env` still reads as `.env`.
            let lexical = if absolute {
                join(&resolve_lexically(&[], &segments), true)
            } else {
                join(&resolve_relative(&segments), false)
            };
            out.push(Candidate { lexical, physical: None });
        } else if absolute {
            let lexical = resolve_lexically(&[], &segments);
            let root = self.roots.iter().position(|r| lexical.starts_with(r));
            let Some(root) = root else { return Err("is outside the allowed roots".into()) };
            self.check_hidden(&lexical, root)?;
            let physical = self.physical(&[], &segments, root)?;
            out.push(Candidate { lexical: join(&lexical, true), physical });
        } else {
            for (root, base) in self.roots.iter().enumerate() {
                let lexical = resolve_lexically(base, &segments);
                if !lexical.starts_with(base) {
                    return Err("is outside the allowed roots".into());
                }
                self.check_hidden(&lexical, root)?;
                let physical = self.physical(base, &segments, root)?;
                out.push(Candidate { lexical: join(&lexical, true), physical });
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

    /// With `resolve_symlinks`, the path as this machine resolves it, checked
    /// against the root as this machine resolves it.
    fn physical(&self, base: &[String], segments: &[String], root: usize) -> Result<Option<String>, String> {
        if !self.resolve_symlinks {
            return Ok(None);
        }
        let raw = format!("{}/{}", join(base, true).trim_end_matches('/'), segments.join("/"));
        let resolved = resolve_on_this_machine(Path::new(&raw))
            .ok_or_else(|| "cannot be resolved on the gateway's machine".to_string())?;
        let root_text = join(&self.roots[root], true);
        let real_root = resolve_on_this_machine(Path::new(&root_text))
            .ok_or_else(|| "has a root that cannot be resolved on the gateway's machine".to_string())?;
        let (Some(resolved), Some(real_root)) = (resolved.to_str(), real_root.to_str()) else {
            return Err("resolves to a path that is not UTF-8".into());
        };
        let resolved_segments = resolve_lexically(&[], &split(resolved));
        let root_segments = resolve_lexically(&[], &split(real_root));
        if !resolved_segments.starts_with(&root_segments) {
            return Err("resolves (through a symbolic link) outside the allowed roots".into());
        }
        if !self.allow_hidden && resolved_segments[root_segments.len()..].iter().any(|s| s.starts_with('.')) {
            return Err("resolves (through a symbolic link) to a hidden file or directory".into());
        }
        Ok(Some(join(&resolved_segments, true)))
    }
}

/// Refuses what no reading of a stage may contain.
fn check_characters(stage: &str) -> Result<(), String> {
    if stage.len() > MAX_PATH_BYTES {
        return Err("is too long".into());
    }
    if stage.chars().any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')) {
        return Err("contains a NUL or control character".into());
    }
    Ok(())
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

/// A name other than `..` that some layer may still turn into `..`: only dots
/// and spaces (`...`, `.. `: Windows drops trailing dots and spaces; a
/// sanitizer that strips `../` once turns `....//` into `../`), or `..`
/// followed by a symbol (`..;` is `..` to Tomcat and Spring, `..%` or `..?`
/// to parsers that cut at the symbol).
fn reads_as_parent(segment: &str) -> bool {
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

/// THE ONLY I/O IN THE POLICY ENGINE, used only with `resolve_symlinks = true`.
///
/// Resolves `path` as this machine would: the longest prefix that exists is
/// canonicalised (symlinks followed, `..` applied physically), and the
/// components that do not exist yet are appended (a file about to be created
/// inside a symlinked directory still resolves to where it would land).
/// `None` when resolution fails for any reason other than "does not exist"
/// (permission denied, symlink loop, ...): the caller refuses.
pub(super) fn resolve_on_this_machine(path: &Path) -> Option<PathBuf> {
    let mut existing = path.to_path_buf();
    let mut missing: Vec<std::ffi::OsString> = Vec::new();
    loop {
        match std::fs::canonicalize(&existing) {
            Ok(mut real) => {
                for name in missing.iter().rev() {
                    if name == ".." {
                        real.pop();
                    } else if name != "." {
                        real.push(name);
                    }
                }
                return Some(real);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let name = existing.file_name().map(|n| n.to_os_string()).or_else(|| {
                    // `..` or `.` as the last component: file_name() is None.
                    existing.components().next_back().map(|c| c.as_os_str().to_os_string())
                })?;
                missing.push(name);
                if !existing.pop() {
                    return None;
                }
            }
            Err(_) => return None,
        }
    }
}
