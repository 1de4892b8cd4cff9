//! Path confinement against the classes adversarial testing found: dangling
//! symlinks, Unicode compatibility forms, legacy escapes and URIs, and roots
//! written relative to the policy file.

use std::path::Path;

use serde_json::json;

use crate::policy::{CallContext, Decision, Policy, Verdict};

fn policy_at(origin: &str, arg_table: &str) -> Policy {
    let text = format!(
        "[[rules]]\nid = \"r\"\nserver = \"srv\"\ntools = [\"t\"]\naction = \"allow\"\nargs.path = {arg_table}\n"
    );
    Policy::from_sources(&[(origin.to_string(), text)]).unwrap_or_else(|e| panic!("policy should load: {e}"))
}

fn guarded(arg_table: &str) -> Policy {
    policy_at("policy.toml", arg_table)
}

fn decide(p: &Policy, path: &str) -> Decision {
    let args = json!({ "path": path });
    p.decide(&CallContext::new("srv", "t", Some(&args)))
}

fn assert_refused(p: &Policy, path: &str, constraint: &str) -> String {
    let d = decide(p, path);
    assert_eq!(d.verdict, Verdict::Deny, "{path:?} should be refused");
    assert_eq!(d.constraint.as_deref(), Some(constraint), "{path:?}: {}", d.reason);
    d.reason
}

fn assert_allowed(p: &Policy, path: &str) {
    let d = decide(p, path);
    assert_eq!(d.verdict, Verdict::Allow, "{path:?} should be allowed: {}", d.reason);
}

/// A canonical root with `docs/`, and a directory beside it.
#[cfg(unix)]
fn sandbox() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().canonicalize().unwrap();
    let (root, outside) = (base.join("root"), base.join("outside"));
    std::fs::create_dir_all(root.join("docs")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    (dir, root, outside)
}

#[cfg(unix)]
#[test]
fn a_write_through_a_dangling_symlink_out_of_the_root_is_refused() {
    use std::os::unix::fs::symlink;
    let (_dir, root, outside) = sandbox();
    symlink(outside.join("planted.txt"), root.join("new.txt")).unwrap();
    symlink(outside.join("not-yet/a/dir"), root.join("later")).unwrap();
    symlink("../outside/relative.txt", root.join("docs-new.txt")).unwrap();
    // Dangling too, but it lands inside: a file about to be created.
    symlink(root.join("docs/draft.txt"), root.join("draft-link.txt")).unwrap();
    let root_text = root.to_str().unwrap();
    let p = guarded(&format!("{{ path_within = [{root_text:?}], resolve_symlinks = true }}"));
    for path in ["new.txt", "later/x.txt", "docs-new.txt", &format!("{root_text}/new.txt"), "docs/../new.txt"] {
        let reason = assert_refused(&p, path, "path_within");
        assert!(reason.contains("symbolic link"), "{path}: {reason}");
    }
    for path in ["draft-link.txt", "docs/new-file.txt", "docs/sub/dir/new.txt"] {
        assert_allowed(&p, path);
    }
    assert!(!outside.join("planted.txt").exists(), "checking wrote nothing");
}

#[cfg(unix)]
#[test]
fn a_path_normalised_before_opening_is_resolved_as_normalised_too() {
    // `missing/../escape/secret.txt`: the kernel stops at `missing`, but code
    // that normalises first (`path.resolve`, `os.path.abspath`) opens
    // `escape/secret.txt`, through the link.
    use std::os::unix::fs::symlink;
    let (_dir, root, outside) = sandbox();
    std::fs::write(outside.join("secret.txt"), "s").unwrap();
    symlink(&outside, root.join("escape")).unwrap();
    let p = guarded(&format!("{{ path_within = [{:?}], resolve_symlinks = true }}", root.to_str().unwrap()));
    assert_refused(&p, "missing/../escape/secret.txt", "path_within");
    assert_allowed(&p, "missing/../docs/readme.md");
}

#[cfg(unix)]
#[test]
fn a_symlink_loop_or_endless_chain_is_refused() {
    use std::os::unix::fs::symlink;
    let (_dir, root, _) = sandbox();
    symlink("b", root.join("a")).unwrap();
    symlink("a", root.join("b")).unwrap();
    for i in 0..45 {
        symlink(format!("chain{}", i + 1), root.join(format!("chain{i}"))).unwrap();
    }
    let p = guarded(&format!("{{ path_within = [{:?}], resolve_symlinks = true }}", root.to_str().unwrap()));
    assert_refused(&p, "a/x", "path_within");
    assert_refused(&p, "chain0", "path_within");
    assert_allowed(&p, "chain5-is-a-plain-name");
}

#[test]
fn fullwidth_and_leader_dots_that_normalise_to_dot_dot_are_refused() {
    let p = guarded(r#"{ path_within = ["/srv/projects"] }"#);
    for path in [
        "．．/．．/etc/passwd",
        "a／..／..／..",
        "‥/‥/etc/passwd",
        "․․/․․/etc/passwd",
        "︰/x/../︰/etc",
        "．．＼．．＼etc",
        "﹒﹒/﹒﹒/etc",
        "/srv/projects/．．/．．/etc/passwd",
        "%EF%BC%8E%EF%BC%8E/%EF%BC%8E%EF%BC%8E/etc",
        "％２ｅ％２ｅ/％２ｅ％２ｅ/etc",
    ] {
        let reason = assert_refused(&p, path, "path_within");
        assert!(reason.contains("when read"), "{path}: names the reading that escapes: {reason}");
    }
}

#[test]
fn invisible_characters_and_marks_around_dots_are_refused() {
    let p = guarded(r#"{ path_within = ["/srv/projects"] }"#);
    for path in [
        "\u{200B}../\u{200B}../etc/passwd",
        ".\u{200D}./.\u{200D}./etc",
        "..\u{FEFF}/..\u{FEFF}/etc",
        ".\u{0301}./.\u{0301}./etc",
        "\u{2060}/etc/passwd",
        "..\u{00A0}/x",
        " ../x",
    ] {
        assert_refused(&p, path, "path_within");
    }
}

#[test]
fn legacy_escapes_and_uris_are_refused() {
    let p = guarded(r#"{ path_within = ["/srv/projects"] }"#);
    for path in [
        "%u002e%u002e/%u002e%u002e/etc/passwd",
        "..%u2215..%u2215etc",
        "%uFF0E%uFF0E/x",
        "file:///etc/passwd",
        "file:/etc/passwd",
        "file://localhost/etc/passwd",
        "FILE:///srv/projects/../../etc/passwd",
        "file:///srv/projects/notes.txt",
        "http://169.254.169.254/latest/meta-data",
        "ｆｉｌｅ:///etc/passwd",
        "file%3A%2F%2F%2Fetc%2Fpasswd",
    ] {
        assert_refused(&p, path, "path_within");
    }
}

#[test]
fn names_whose_compatibility_form_differs_harmlessly_still_pass() {
    // Checking every reading refuses only what some reading refuses:
    // fullwidth letters, superscripts, ligatures, Persian ZWNJ, emoji ZWJ.
    let p = guarded(r#"{ path_within = ["/srv/projects"], path_deny = ["**/.env", "**/id_rsa*"] }"#);
    for path in [
        "ｍｅｍｏ/ノート.txt",
        "Area m².xlsx",
        "ﬁnal report.pdf",
        "نامه‌ها/یادداشت.txt",
        "family 👨‍👩‍👧/photo.jpg",
        "notes‥draft.txt",
        "Notes… draft.txt",
        "/srv/projects/①/②.md",
        "café/menu.txt",
        "cafe\u{0301}/menu.txt",
    ] {
        assert_allowed(&p, path);
    }
}

#[test]
fn hidden_and_denied_names_spelled_in_compatibility_forms_are_refused() {
    let p =
        guarded(r#"{ path_within = ["/srv/projects"], allow_hidden = true, path_deny = ["**/.env", "**/id_rsa*"] }"#);
    assert_refused(&p, "app/．env", "path_deny");
    assert_refused(&p, "keys/ｉｄ_ｒｓａ", "path_deny");
    assert_refused(&p, "keys/id\u{200B}_rsa", "path_deny");
    let p = guarded(r#"{ path_within = ["/srv/projects"] }"#);
    assert_refused(&p, "app/．git/config", "path_within");
    assert_refused(&p, "app/\u{200B}.git/config", "path_within");
}

#[test]
fn a_root_starting_with_dot_slash_is_relative_to_the_policy_file() {
    let p = policy_at("/etc/warden/policies/p.toml", r#"{ path_within = ["../workspace"] }"#);
    assert_allowed(&p, "/etc/warden/workspace/notes.txt");
    assert_refused(&p, "/etc/warden/policies/p.toml", "path_within");
    let p = policy_at("/etc/warden/policies/p.toml", r#"{ path_within = ["./shared"] }"#);
    assert_allowed(&p, "/etc/warden/policies/shared/a.txt");
    let roots: Vec<_> = p.relative_paths("srv").into_iter().flat_map(|r| r.roots).collect();
    assert_eq!(roots, [Path::new("/etc/warden/policies/shared")]);
}

#[test]
fn relative_paths_lists_the_roots_of_the_rules_that_apply_to_a_server() {
    let text = r#"
[[rules]]
id = "files-read"
server = "files"
tools = ["read_*"]
action = "allow"
args.path = { path_within = ["/srv/projects", "/srv/shared"] }
args.mode = { enum = ["text"] }
[[rules]]
id = "any-write"
server = "*"
tools = ["write_file"]
action = "approve"
args.target = { path_within = ["/srv/out"] }
[[rules]]
id = "other"
server = "mail"
tools = ["send"]
action = "allow"
args.path = { path_within = ["/var/mail"] }
"#;
    let p = Policy::from_sources(&[("p.toml".to_string(), text.to_string())]).unwrap();
    let found: Vec<(String, String, Vec<String>)> = p
        .relative_paths("files")
        .into_iter()
        .map(|r| (r.rule, r.argument, r.roots.iter().map(|p| p.display().to_string()).collect()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "files-read".to_string(),
                "path".to_string(),
                vec!["/srv/projects".to_string(), "/srv/shared".to_string()]
            ),
            ("any-write".to_string(), "target".to_string(), vec!["/srv/out".to_string()]),
        ]
    );
}
