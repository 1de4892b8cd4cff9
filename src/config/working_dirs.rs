//! Whether each upstream reads relative paths the way the policy does.
//!
//! A rule's `path_within` joins a relative path to its root; a server joins
//! it to its working directory (or to a base of its own). When the two
//! differ, a path the gateway checked as `ROOT/etc/passwd` is opened as
//! `/etc/passwd` by a server started in `/`. What must stay true:
//! - a stdio upstream that a rule with `path_within` applies to has a `cwd`,
//!   and it is one of that rule's roots (compared as this machine resolves
//!   them). Otherwise it is an error: `check` fails, the gateway does not
//!   start and a reload is refused, so relative paths never mean two things;
//! - an HTTP upstream's working directory cannot be known here: a warning
//!   says what the rule assumes;
//! - where both agree, `check` says so.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::{GatewayConfig, UpstreamConfig, UpstreamTransport};
use crate::policy::{Policy, RelativePaths};

/// How much a finding matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// The upstream and the policy read relative paths differently.
    Error,
    /// The gateway cannot tell whether they agree.
    Warning,
    /// They agree; `check` says so.
    Agreed,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathFinding {
    pub severity: Severity,
    pub message: String,
}

/// For every upstream and every rule with `path_within` that applies to it:
/// whether the upstream reads relative paths against the rule's root.
pub fn relative_path_findings(config: &GatewayConfig, policy: &Policy) -> Vec<PathFinding> {
    let mut out = Vec::new();
    for upstream in &config.upstreams {
        for rule in policy.relative_paths(&upstream.name) {
            out.push(finding(upstream, &rule));
        }
    }
    out
}

/// The errors among `findings`, as one message; `None` when there are none.
pub fn relative_path_errors(findings: &[PathFinding]) -> Option<String> {
    let errors: Vec<&str> =
        findings.iter().filter(|f| f.severity == Severity::Error).map(|f| f.message.as_str()).collect();
    (!errors.is_empty()).then(|| errors.join("; "))
}

fn finding(upstream: &UpstreamConfig, rule: &RelativePaths) -> PathFinding {
    let name = &upstream.name;
    let joined = format!("rule {:?} joins relative values of {:?} to {}", rule.rule, rule.argument, list(&rule.roots));
    let (severity, message) = match &upstream.transport {
        UpstreamTransport::Http { .. } => (
            Severity::Warning,
            format!(
                "upstream {name:?} is reached over HTTP, so what it reads relative paths against cannot be \
                 checked here; {joined}: make sure the server does too, or refuse relative paths in the rule \
                 (pattern = \"/.*\")"
            ),
        ),
        UpstreamTransport::Stdio { cwd: None, .. } => (
            Severity::Error,
            format!(
                "upstream {name:?} has no cwd, so it would read relative paths against whatever directory the \
                 gateway is started in, while {joined}: set cwd = {:?} on the upstream",
                rule.roots[0].display().to_string()
            ),
        ),
        UpstreamTransport::Stdio { cwd: Some(cwd), .. } => match working_dir(cwd) {
            Err(why) => (Severity::Error, format!("upstream {name:?}: cwd {} {why}", cwd.display())),
            Ok(dir) if rule.roots.iter().any(|root| same_directory(&dir, root)) => (
                Severity::Agreed,
                format!(
                    "upstream {name:?} runs in {dir}, and {joined}: a relative path such as \"notes.txt\" \
                     means {dir}/notes.txt to both",
                    dir = dir.display()
                ),
            ),
            Ok(dir) => (
                Severity::Error,
                format!(
                    "upstream {name:?} runs in {}, but {joined}: set its cwd to the root, so that a relative \
                     path means the same file to both",
                    dir.display()
                ),
            ),
        },
    };
    PathFinding { severity, message }
}

/// The upstream's working directory as this machine resolves it.
fn working_dir(cwd: &Path) -> Result<PathBuf, String> {
    let absolute = std::path::absolute(cwd).map_err(|e| format!("cannot be made absolute: {e}"))?;
    match std::fs::canonicalize(&absolute) {
        Ok(dir) if dir.is_dir() => Ok(dir),
        Ok(_) => Err("is not a directory".into()),
        Err(e) => Err(format!("cannot be used: {e}")),
    }
}

/// A root that does not exist (yet) is compared as written.
fn same_directory(dir: &Path, root: &Path) -> bool {
    std::fs::canonicalize(root).map_or_else(|_| dir == root, |real| real == dir)
}

fn list(roots: &[PathBuf]) -> String {
    let mut out = String::new();
    for (i, root) in roots.iter().enumerate() {
        let sep = if i == 0 {
            ""
        } else if i + 1 == roots.len() {
            " or "
        } else {
            ", "
        };
        let _ = write!(out, "{sep}{}", root.display());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(upstreams: &str, dir: &Path) -> GatewayConfig {
        let text = format!("policies = [\"p.toml\"]\n{upstreams}");
        GatewayConfig::from_str(&text, &dir.join("gateway.toml")).unwrap()
    }

    fn policy(root: &str) -> Policy {
        let text = format!(
            "[[rules]]\nid = \"fs\"\nserver = \"files\"\ntools = [\"read_file\"]\naction = \"allow\"\n\
             args.path = {{ path_within = [{root:?}] }}\n"
        );
        Policy::from_sources(&[("p.toml".into(), text)]).unwrap()
    }

    fn stdio(cwd: Option<&Path>) -> String {
        let cwd = cwd.map_or_else(String::new, |c| format!("cwd = {:?}\n", c.display().to_string()));
        format!("[[upstreams]]\nname = \"files\"\ntransport = \"stdio\"\ncommand = \"server\"\n{cwd}")
    }

    #[test]
    fn an_upstream_without_cwd_under_a_path_rule_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let findings = relative_path_findings(&config(&stdio(None), dir.path()), &policy("/srv/projects"));
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].severity, Severity::Error);
        assert!(findings[0].message.contains("set cwd = \"/srv/projects\""), "{}", findings[0].message);
        assert!(relative_path_errors(&findings).is_some());
    }

    #[test]
    fn an_upstream_running_outside_the_root_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir(&root).unwrap();
        let findings =
            relative_path_findings(&config(&stdio(Some(dir.path())), dir.path()), &policy(root.to_str().unwrap()));
        assert_eq!(findings[0].severity, Severity::Error, "{}", findings[0].message);
        // Not even below the root: hidden-name and deny checks are made against the root.
        let below = root.join("sub");
        std::fs::create_dir(&below).unwrap();
        let findings =
            relative_path_findings(&config(&stdio(Some(&below)), dir.path()), &policy(root.to_str().unwrap()));
        assert_eq!(findings[0].severity, Severity::Error, "{}", findings[0].message);
    }

    #[test]
    fn an_upstream_running_in_the_root_agrees_even_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir(&root).unwrap();
        let findings =
            relative_path_findings(&config(&stdio(Some(&root)), dir.path()), &policy(root.to_str().unwrap()));
        assert_eq!(findings[0].severity, Severity::Agreed, "{}", findings[0].message);
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&root, dir.path().join("link")).unwrap();
            let link = dir.path().join("link");
            let findings =
                relative_path_findings(&config(&stdio(Some(&link)), dir.path()), &policy(root.to_str().unwrap()));
            assert_eq!(findings[0].severity, Severity::Agreed, "{}", findings[0].message);
        }
        assert!(relative_path_errors(&findings).is_none());
    }

    #[test]
    fn a_missing_cwd_is_an_error_and_an_http_upstream_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let findings = relative_path_findings(&config(&stdio(Some(&missing)), dir.path()), &policy("/srv/projects"));
        assert_eq!(findings[0].severity, Severity::Error);
        let http = "[[upstreams]]\nname = \"files\"\ntransport = \"http\"\nurl = \"http://127.0.0.1:9/mcp\"\n";
        let findings = relative_path_findings(&config(http, dir.path()), &policy("/srv/projects"));
        assert_eq!(findings[0].severity, Severity::Warning);
    }

    #[test]
    fn upstreams_no_path_rule_applies_to_are_not_mentioned() {
        let dir = tempfile::tempdir().unwrap();
        let other = "[[upstreams]]\nname = \"mail\"\ntransport = \"stdio\"\ncommand = \"server\"\n";
        assert!(relative_path_findings(&config(other, dir.path()), &policy("/srv/projects")).is_empty());
    }
}
