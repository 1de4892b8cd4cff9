//! Property tests for path confinement under `path_within = ["/srv/projects"]`.
//!
//! Paths are generated as logical segment lists, then spelled in the many ways
//! an attacker might (`\` for `/`, percent-encoded once or twice), so the
//! oracle below (a plain stack walk over the logical segments, written
//! independently of `paths.rs`) knows where each really lands.

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
