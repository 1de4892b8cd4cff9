//! Property tests for path confinement under `path_within = ["/srv/projects"]`.
//!
//! Paths are generated as logical segment lists, then spelled in the many ways
//! an attacker might (`\` for `/`, percent-encoded once or twice, or in the
//! Unicode compatibility forms a normalising server reads as `.`, `..` and
//! `/`), so the oracle below (a plain stack walk over the logical segments,
//! written independently of `paths.rs`) knows where each really lands.
//! Symlinks, dangling ones included, are tested against the kernel itself
//! (`symlinks`).

use proptest::prelude::*;
use serde_json::json;

use super::policy;
use crate::policy::{CallContext, Policy, Verdict};

const ROOT: [&str; 2] = ["srv", "projects"];

fn confined() -> Policy {
    policy("[[rules]]\nid = \"fs\"\nserver = \"srv\"\ntools = [\"t\"]\naction = \"allow\"\nargs.path = { path_within = [\"/srv/projects\"] }\n")
}

fn allowed(p: &Policy, path: &str) -> bool {
    let args = json!({ "path": path });
    p.decide(&CallContext::new("srv", "t", Some(&args))).verdict == Verdict::Allow
}

/// Where the logical path lands, walking from `/` or from the root.
fn lands_inside(absolute: bool, segments: &[String]) -> bool {
    let mut at: Vec<&str> = if absolute { Vec::new() } else { ROOT.to_vec() };
    for s in segments {
        match s.as_str() {
            "." => {}
            ".." => {
                at.pop();
            }
            name => at.push(name),
        }
    }
    at.len() >= ROOT.len() && at[..ROOT.len()] == ROOT
}

/// Names that are neither hidden nor special, including spaces and non-ASCII.
fn safe_name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_\\- äöüßΩ日本]{1,8}".prop_filter("not special", |s| !s.starts_with('.') && s != "~")
}

/// Segments drawn so that `..`, the root's own names and `.` are common.
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => safe_name(),
        3 => Just("..".to_string()),
        1 => Just(".".to_string()),
        1 => Just("srv".to_string()),
        1 => Just("projects".to_string()),
        1 => Just("etc".to_string()),
    ]
}

/// One way of writing a separator.
fn separator() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("/"), Just("\\"), Just("%2f"), Just("%5c"), Just("%252f"), Just("%2F"), Just("//")]
}

/// One way of writing a dot segment (applied to `.` and `..` only).
fn spell_dots(segment: &str, style: u8) -> String {
    match (segment, style % 4) {
        ("..", 1) => "%2e%2e".into(),
        ("..", 2) => "%252e%252e".into(),
        ("..", 3) => ".%2E".into(),
        (".", 1) => "%2e".into(),
        (other, _) => other.to_string(),
    }
}

fn spelled_path() -> impl Strategy<Value = (bool, Vec<String>, String)> {
    (any::<bool>(), prop::collection::vec((segment(), separator(), any::<u8>()), 0..10)).prop_map(
        |(absolute, parts)| {
            let segments: Vec<String> = parts.iter().map(|(s, _, _)| s.clone()).collect();
            let mut text = String::new();
            if absolute {
                text.push('/');
            }
            for (i, (s, sep, style)) in parts.iter().enumerate() {
                if i > 0 {
                    text.push_str(sep);
                }
                text.push_str(&spell_dots(s, *style));
            }
            (absolute, segments, text)
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// However it is spelled, a path that lands outside the root is refused.
    #[test]
    fn no_path_landing_outside_the_root_is_accepted((absolute, segments, text) in spelled_path()) {
        let p = confined();
        if !lands_inside(absolute, &segments) {
            prop_assert!(!allowed(&p, &text), "accepted {text:?} which lands outside");
        }
    }

    /// A plainly spelled path built from safe names that lands inside is accepted.
    #[test]
    fn no_plain_path_inside_the_root_is_refused(
        absolute in any::<bool>(),
        segments in prop::collection::vec(prop_oneof![4 => safe_name(), 1 => Just("..".to_string()), 1 => Just(".".to_string())], 0..10),
    ) {
        let p = confined();
        let mut text = if absolute { "/srv/projects/".to_string() } else { String::new() };
        text.push_str(&segments.join("/"));
        let mut full = if absolute { vec!["srv".to_string(), "projects".to_string()] } else { Vec::new() };
        full.extend(segments.iter().cloned());
        if lands_inside(absolute, &full) {
            prop_assert!(allowed(&p, &text), "refused {text:?} which lands inside");
        }
    }
}

fn every_constraint() -> Policy {
    policy(
        r#"[[rules]]
id = "all"
server = "srv"
tools = ["t"]
action = "allow"
args.v = { max_length = 500, pattern = "(?s).*", deny_pattern = "zzz", path_within = ["/srv/projects"], path_deny = ["**/.env"], no_shell_metachars = true, url_schemes = ["https", "http", "gopher"], url_hosts = ["*.example.org"], deny_private_ips = true, email_domain = ["example.com"] }
"#,
    )
}

proptest! {
    /// No input makes a constraint panic (every check runs: explain does not stop early).
    #[test]
    fn no_value_makes_a_check_panic(
        value in prop_oneof![
            any::<String>(),
            "[%0-9a-fA-F@<>:/\\\\\\[\\].;, \"'xX~-]{0,40}",
            "(https?|gopher)://[%0-9a-fx.:@\\[\\]/\\\\?#=&-]{0,40}",
        ],
    ) {
        let p = every_constraint();
        let args = json!({ "v": value });
        let d = p.explain(&CallContext::new("srv", "t", Some(&args)));
        prop_assert!(d.checks.len() >= 10);
    }
}

/// The compatibility spellings Unicode-aware servers turn into `.`, `..`
/// and `/` (NFKC, or deleting invisible characters).
fn spell_compat_dots(segment: &str, style: u8) -> String {
    match (segment, style % 6) {
        ("..", 1) => "．．".into(),
        ("..", 2) => "\u{2025}".into(),
        ("..", 3) => "\u{2024}\u{2024}".into(),
        ("..", 4) => "\u{200B}..".into(),
        ("..", 5) => ".\u{FE0F}.".into(),
        (".", 1) => "．".into(),
        (".", 2) => "\u{2024}".into(),
        (other, _) => other.to_string(),
    }
}

fn compat_separator() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("/"), Just("／"), Just("＼"), Just("\\"), Just("/\u{200B}/")]
}

/// A logical path spelled with compatibility forms of dots and separators.
fn compat_spelled_path() -> impl Strategy<Value = (bool, Vec<String>, String)> {
    (any::<bool>(), prop::collection::vec((segment(), compat_separator(), any::<u8>()), 0..8)).prop_map(
        |(absolute, parts)| {
            let segments: Vec<String> = parts.iter().map(|(s, _, _)| s.clone()).collect();
            let mut text = if absolute { "／".to_string() } else { String::new() };
            for (i, (s, sep, style)) in parts.iter().enumerate() {
                if i > 0 {
                    text.push_str(sep);
                }
                text.push_str(&spell_compat_dots(s, *style));
            }
            (absolute, segments, text)
        },
    )
}

/// ASCII letters and digits in their fullwidth forms, which NFKC maps back.
fn fullwidth(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' => char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap_or(c),
            other => other,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// A path that lands outside the root as a server normalising Unicode
    /// reads it is refused, however its dots and separators are spelled.
    #[test]
    fn no_compatibility_spelling_of_a_way_out_is_accepted((absolute, segments, text) in compat_spelled_path()) {
        let p = confined();
        if !lands_inside(absolute, &segments) {
            prop_assert!(!allowed(&p, &text), "accepted {text:?} which lands outside once normalised");
        }
    }

    /// Names written in fullwidth letters are still names: a path of them
    /// that lands inside is accepted (the NFKC check is not a blanket refusal).
    #[test]
    fn no_fullwidth_path_inside_the_root_is_refused(
        segments in prop::collection::vec(prop_oneof![4 => safe_name(), 1 => Just("..".to_string()), 1 => Just(".".to_string())], 0..8),
    ) {
        let p = confined();
        let text = segments.iter().map(|s| fullwidth(s)).collect::<Vec<_>>().join("/");
        let mut full = ROOT.map(str::to_string).to_vec();
        full.extend(segments.iter().cloned());
        if lands_inside(true, &full) {
            prop_assert!(allowed(&p, &text), "refused {text:?} which lands inside");
        }
    }
}

#[cfg(unix)]
mod symlinks {
    //! With `resolve_symlinks`, against the kernel as the oracle: a path the
    //! policy allows, written by a naive server (plain `open(O_CREAT)`, as
    //! given or normalised first), never creates or changes a file outside
    //! the root, whatever symlinks (dangling ones included) are on the way.

    use super::*;
    use std::os::unix::fs::symlink;
    use std::path::{Component, Path, PathBuf};

    /// Where a link points: outside or inside, absolute or relative,
    /// existing or not, or to another link.
    const TARGETS: [&str; 10] = [
        "../outside/planted.txt",
        "OUTSIDE/planted.txt",
        "../outside",
        "OUTSIDE",
        "dir",
        "dir/later.txt",
        "ROOT/dir/later.txt",
        "l1",
        "../root/l2",
        "..",
    ];
    const NAMES: [&str; 8] = ["l0", "l1", "l2", "dir", "..", ".", "new.txt", "later.txt"];

    fn links() -> impl Strategy<Value = Vec<(u8, bool, u8)>> {
        // (which link, in the root or in dir/, which target)
        prop::collection::vec((0u8..3, any::<bool>(), 0u8..TARGETS.len() as u8), 0..4)
    }

    fn path() -> impl Strategy<Value = Vec<&'static str>> {
        prop::collection::vec(prop::sample::select(NAMES.to_vec()), 1..5)
    }

    fn lexically_normal(path: &Path) -> PathBuf {
        let mut out = PathBuf::new();
        for c in path.components() {
            match c {
                Component::ParentDir => {
                    out.pop();
                }
                Component::CurDir => {}
                other => out.push(other),
            }
        }
        out
    }

    /// Every regular file below `dir` holding `token`, links not followed.
    fn holding(dir: &Path, token: &str, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                holding(&entry.path(), token, found);
            } else if kind.is_file() && std::fs::read_to_string(entry.path()).is_ok_and(|t| t == token) {
                found.push(entry.path());
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

        #[test]
        fn no_allowed_path_writes_outside_the_root_through_any_symlink(spec in links(), names in path()) {
            let dir = tempfile::tempdir().unwrap();
            let base = dir.path().canonicalize().unwrap();
            let (root, outside) = (base.join("root"), base.join("outside"));
            std::fs::create_dir_all(root.join("dir")).unwrap();
            std::fs::create_dir_all(&outside).unwrap();
            for (n, in_dir, target) in spec {
                let at = if in_dir { root.join("dir") } else { root.clone() }.join(format!("l{n}"));
                let target = TARGETS[target as usize]
                    .replace("OUTSIDE", outside.to_str().unwrap())
                    .replace("ROOT", root.to_str().unwrap());
                let _ = symlink(target, at); // a name already taken keeps its first link
            }
            let p = policy(&format!(
                "[[rules]]\nid = \"fs\"\nserver = \"srv\"\ntools = [\"t\"]\naction = \"allow\"\n\
                 args.path = {{ path_within = [{:?}], resolve_symlinks = true }}\n",
                root.display().to_string()
            ));
            // Not a blanket refusal: plain names, and a dangling link that stays inside, pass.
            symlink("dir/inside-later.txt", root.join("inlink")).unwrap();
            prop_assert!(allowed(&p, "dir/new.txt") && allowed(&p, "inlink"));

            let text = names.join("/");
            if allowed(&p, &text) {
                for (i, target) in [root.join(&text), lexically_normal(&root.join(&text))].into_iter().enumerate() {
                    let token = format!("written-{i}");
                    if std::fs::write(&target, &token).is_ok() {
                        let mut found = Vec::new();
                        holding(&base, &token, &mut found);
                        prop_assert!(
                            found.iter().all(|f| f.starts_with(&root)),
                            "allowed {text:?}, and a write to {} landed at {found:?}", target.display()
                        );
                    }
                }
            }
        }
    }
}
