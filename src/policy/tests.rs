//! Policy tests, named for the threat or mistake each one stops.
//!
//! `tests/access.rs`: resources and prompts, and the readings of their names;
//! `tests/constraints.rs`: each argument constraint, table-driven, and load errors;
//! `tests/corpus.rs`: the attack corpora and a benign set, with figures;
//! `tests/props.rs`: property tests for path confinement;
//! `tests/enforcement.rs`: what a decision means in each mode;
//! `tests/values.rs`: the value classes of issue 10 (URL differentials, mail
//! header injection, shell expansion, vacuous constraints).
//! (How lines and columns are counted is tested with the loader kit, `crate::source`.)

mod access;
mod constraints;
mod corpus;
mod enforcement;
mod props;
mod values;

use super::*;

fn policy(text: &str) -> Policy {
    Policy::from_sources(&[("policy.toml".to_string(), text.to_string())])
        .unwrap_or_else(|e| panic!("policy should load: {e}"))
}

fn load_error(sources: &[(&str, &str)]) -> String {
    let sources: Vec<(String, String)> = sources.iter().map(|(o, t)| (o.to_string(), t.to_string())).collect();
    Policy::from_sources(&sources).expect_err("policy should be refused").to_string()
}

fn decide(p: &Policy, server: &str, tool: &str) -> Decision {
    p.decide(&CallContext::new(server, tool, None))
}

const FILES: &str = r#"
[[rules]]
id = "files-read"
server = "files"
tools = ["read_*", "list_directory"]
action = "allow"
description = "read-only access"

[[rules]]
id = "no-shell"
server = "*"
tools = ["run_command", "exec_*"]
action = "deny"
"#;

#[test]
fn unknown_tool_is_denied_by_default() {
    let p = policy(FILES);
    let d = decide(&p, "files", "delete_everything");
    assert_eq!(d.verdict, Verdict::Deny);
    assert_eq!(d.rule_id, "defaults.tools");
    assert_eq!(d.reason, r#"no rule allows tool "delete_everything" on server "files" (default deny)"#);
}

#[test]
fn empty_policy_denies_everything() {
    let p = Policy::from_sources(&[]).unwrap();
    assert_eq!(p.mode(), Mode::Enforce);
    assert_eq!(decide(&p, "files", "read_file").verdict, Verdict::Deny);
    assert!(!p.server_reachable("files"));
    assert!(!p.tool_listed("files", "read_file"));
}

#[test]
fn allow_rule_allows_exact_and_glob_tools() {
    let p = policy(FILES);
    let d = decide(&p, "files", "read_file");
    assert_eq!(d.verdict, Verdict::Allow);
    assert_eq!(d.rule_id, "files-read");
    assert_eq!(d.reason, r#"tool "read_file" on server "files" is allowed by rule "files-read""#);
    assert_eq!(decide(&p, "files", "list_directory").verdict, Verdict::Allow);
}

#[test]
fn allow_rule_does_not_leak_to_other_servers() {
    let p = policy(FILES);
    assert_eq!(decide(&p, "mail", "read_file").verdict, Verdict::Deny);
    assert!(!p.server_reachable("mail"));
    assert!(p.server_reachable("files"));
}

#[test]
fn tool_names_are_case_sensitive() {
    let p = policy(FILES);
    assert_eq!(decide(&p, "files", "Read_file").verdict, Verdict::Deny);
    assert_eq!(decide(&p, "files", "LIST_DIRECTORY").verdict, Verdict::Deny);
}

#[test]
fn deny_rule_beats_allow_glob() {
    let p = policy(
        r#"
[[rules]]
id = "everything-on-files"
server = "files"
tools = ["*"]
action = "allow"

[[rules]]
id = "no-shell"
server = "*"
tools = ["run_command"]
action = "deny"
"#,
    );
    let d = decide(&p, "files", "run_command");
    assert_eq!(d.verdict, Verdict::Deny);
    assert_eq!(d.rule_id, "no-shell");
    assert_eq!(d.reason, r#"tool "run_command" on server "files" is denied by rule "no-shell""#);
    assert!(!p.tool_listed("files", "run_command"));
    assert!(p.tool_listed("files", "read_file"));
}

#[test]
fn deny_rule_beats_exact_allow() {
    let p = policy(
        r#"
[[rules]]
id = "allow-exec"
server = "files"
tools = ["exec_script"]
action = "allow"
"#,
    );
    assert_eq!(decide(&p, "files", "exec_script").verdict, Verdict::Allow);
    let p = policy(&format!(
        "{FILES}\n[[rules]]\nid = \"allow-exec\"\nserver = \"files\"\ntools = [\"exec_script\"]\naction = \"allow\"\n"
    ));
    let d = decide(&p, "files", "exec_script");
    assert_eq!(d.verdict, Verdict::Deny);
    assert_eq!(d.rule_id, "no-shell");
}

#[test]
fn default_allow_still_honours_deny_rules() {
    let p = policy(&format!("[defaults]\ntools = \"allow\"\n{FILES}"));
    let d = decide(&p, "mail", "send_email");
    assert_eq!(d.verdict, Verdict::Allow);
    assert_eq!(d.rule_id, "defaults.tools");
    assert_eq!(d.reason, r#"no rule matches tool "send_email" on server "mail" (default allow)"#);
    assert_eq!(decide(&p, "mail", "exec_x").verdict, Verdict::Deny);
    assert!(p.server_reachable("mail"));
}

#[test]
fn first_matching_deny_rule_is_reported() {
    let p = policy(
        r#"
[[rules]]
id = "deny-a"
server = "f*"
tools = ["rm*"]
action = "deny"

[[rules]]
id = "deny-b"
server = "files"
tools = ["rm_rf"]
action = "deny"
"#,
    );
    assert_eq!(decide(&p, "files", "rm_rf").rule_id, "deny-a");
}

#[test]
fn exact_tool_name_is_more_specific_than_glob() {
    let p = policy(
        r#"
[[rules]]
id = "broad"
server = "files"
tools = ["*"]
action = "allow"

[[rules]]
id = "narrow"
server = "files"
tools = ["read_file"]
action = "allow"

[[rules]]
id = "narrow-again"
server = "*"
tools = ["read_file"]
action = "allow"
"#,
    );
    assert_eq!(decide(&p, "files", "read_file").rule_id, "narrow");
    assert_eq!(decide(&p, "files", "write_file").rule_id, "broad");
}

#[test]
fn glob_ties_go_to_first_rule_in_file_order() {
    let p = policy(
        r#"
[[rules]]
id = "first"
server = "files"
tools = ["read_*"]
action = "allow"

[[rules]]
id = "second"
server = "files"
tools = ["*_file"]
action = "allow"
"#,
    );
    assert_eq!(decide(&p, "files", "read_file").rule_id, "first");
}

#[test]
fn server_glob_and_glob_classes_match() {
    let p = policy(
        r#"
[[rules]]
id = "mirrors"
server = "mirror-[0-9]"
tools = ["get_{a,b}"]
action = "allow"
"#,
    );
    assert_eq!(decide(&p, "mirror-3", "get_a").verdict, Verdict::Allow);
    assert_eq!(decide(&p, "mirror-x", "get_a").verdict, Verdict::Deny);
    assert_eq!(decide(&p, "mirror-3", "get_c").verdict, Verdict::Deny);
    assert!(p.server_reachable("mirror-3"));
    assert!(!p.server_reachable("mirror-33"));
}

#[test]
fn star_glob_matches_names_with_slashes_and_dots() {
    let p = policy("[[rules]]\nid = \"all\"\nserver = \"s\"\ntools = [\"*\"]\naction = \"allow\"\n");
    assert_eq!(decide(&p, "s", "a/b.c").verdict, Verdict::Allow);
}

#[test]
fn server_denied_for_every_tool_is_unreachable() {
    let p = policy(
        r#"
[defaults]
tools = "allow"

[[rules]]
id = "quarantine"
server = "legacy-*"
tools = ["*"]
action = "deny"
"#,
    );
    assert!(!p.server_reachable("legacy-crm"));
    assert!(p.server_reachable("crm"));
}

#[test]
fn audit_mode_decides_but_lists_and_reaches_everything() {
    let p = policy(&format!("mode = \"audit\"\n{FILES}"));
    assert_eq!(p.mode(), Mode::Audit);
    assert_eq!(decide(&p, "files", "run_command").verdict, Verdict::Deny);
    assert!(p.tool_listed("files", "run_command"));
    assert!(p.server_reachable("mail"));
}

#[test]
fn tool_listed_agrees_with_decide_in_enforce_mode() {
    let p = policy(FILES);
    for (server, tool) in
        [("files", "read_file"), ("files", "run_command"), ("files", "write_file"), ("mail", "list_directory")]
    {
        assert_eq!(p.tool_listed(server, tool), decide(&p, server, tool).verdict == Verdict::Allow, "{server}/{tool}");
    }
}

#[test]
fn control_characters_in_names_are_escaped_in_reasons() {
    let p = policy(FILES);
    let d = decide(&p, "files", "x\"\n[forged] allowed");
    assert!(!d.reason.contains('\n'), "{}", d.reason);
    assert!(d.reason.contains(r#""x\"\n[forged] allowed""#), "{}", d.reason);
}

#[test]
fn decision_serializes_verdict_lowercase() {
    let p = policy(FILES);
    let json = serde_json::to_value(decide(&p, "files", "read_file")).unwrap();
    assert_eq!(json["verdict"], "allow");
    assert_eq!(json["rule_id"], "files-read");
}

#[test]
fn rules_concatenate_across_files() {
    let p = Policy::from_sources(&[
        ("a.toml".into(), FILES.into()),
        (
            "b.toml".into(),
            "[[rules]]\nid = \"mail\"\nserver = \"mail\"\ntools = [\"send_email\"]\naction = \"allow\"\n".into(),
        ),
    ])
    .unwrap();
    assert_eq!(p.rule_count(), 3);
    assert_eq!(decide(&p, "mail", "send_email").verdict, Verdict::Allow);
    assert_eq!(decide(&p, "files", "read_file").verdict, Verdict::Allow);
}

#[test]
fn version_changes_with_any_source_text() {
    let a = policy(FILES).version().to_string();
    assert_eq!(a.len(), 64);
    assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(a, policy(FILES).version());
    assert_ne!(a, policy(&format!("{FILES}\n")).version());
    let split = |x: &str, y: &str| {
        Policy::from_sources(&[("a".into(), x.into()), ("b".into(), y.into())]).unwrap().version().to_string()
    };
    assert_ne!(split("mode = \"enforce\"\n", ""), split("", "mode = \"enforce\"\n"));
}

#[test]
fn agreeing_mode_in_two_files_is_accepted() {
    let p = Policy::from_sources(&[
        ("a.toml".into(), "mode = \"audit\"\n".into()),
        ("b.toml".into(), "mode = \"audit\"\n".into()),
    ])
    .unwrap();
    assert_eq!(p.mode(), Mode::Audit);
}

#[test]
fn conflicting_mode_across_files_is_refused() {
    let err = load_error(&[("a.toml", "mode = \"enforce\"\n"), ("b.toml", "\nmode = \"audit\"\n")]);
    assert_eq!(
        err,
        r#"b.toml:2:8: mode = "audit" conflicts with mode = "enforce" set at a.toml:1:8; set it in one policy file only"#
    );
}

#[test]
fn conflicting_default_across_files_is_refused() {
    let err =
        load_error(&[("a.toml", "[defaults]\ntools = \"deny\"\n"), ("b.toml", "[defaults]\ntools = \"allow\"\n")]);
    assert!(err.starts_with("b.toml:2:9: defaults.tools = \"allow\" conflicts"), "{err}");
    assert!(err.contains("a.toml:2:9"), "{err}");
}

#[test]
fn syntax_error_reports_file_line_col() {
    let err = load_error(&[("policies/default.toml", "mode = \"enforce\"\n[[rules]\nid = \"x\"\n")]);
    assert!(err.starts_with("policies/default.toml:2:"), "{err}");
}

#[test]
fn unknown_key_in_rule_fails_closed() {
    let text = r#"
[[rules]]
id = "fs"
server = "files"
tools = ["read_file"]
action = "allow"
rate_limit = "10/min"
"#;
    let err = load_error(&[("p.toml", text)]);
    assert!(err.starts_with("p.toml:7:1:"), "{err}");
    assert!(err.contains("unknown field `rate_limit`"), "{err}");
    assert!(err.contains("refused"), "{err}");
}

#[test]
fn unknown_top_level_key_fails_closed() {
    let err = load_error(&[("p.toml", "mode = \"enforce\"\nstrict = true\n")]);
    assert!(err.starts_with("p.toml:2:1: unknown field `strict`"), "{err}");
}

#[test]
fn unknown_defaults_key_fails_closed() {
    let err = load_error(&[("p.toml", "[defaults]\ntools = \"deny\"\napproval_channels = [\"api\"]\n")]);
    assert!(err.starts_with("p.toml:3:1: unknown field `approval_channels`"), "{err}");
}

#[test]
fn unsupported_action_fails_closed() {
    let text = "[[rules]]\nid = \"w\"\nserver = \"files\"\ntools = [\"write_file\"]\naction = \"ask\"\n";
    let err = load_error(&[("p.toml", text)]);
    assert!(err.starts_with("p.toml:5:10: unknown variant `ask`"), "{err}");
}

#[test]
fn unknown_mode_fails_closed() {
    let err = load_error(&[("p.toml", "mode = \"permissive\"\n")]);
    assert!(err.starts_with("p.toml:1:8: unknown variant `permissive`"), "{err}");
}

#[test]
fn missing_server_fails_closed() {
    let text = "\n[[rules]]\nid = \"a\"\ntools = [\"x\"]\naction = \"allow\"\n";
    let err = load_error(&[("p.toml", text)]);
    assert!(err.contains("missing field `server`"), "{err}");
    assert!(err.starts_with("p.toml:2:"), "{err}");
}

#[test]
fn missing_action_fails_closed() {
    let text = "[[rules]]\nid = \"a\"\nserver = \"s\"\ntools = [\"x\"]\n";
    let err = load_error(&[("p.toml", text)]);
    assert!(err.contains("missing field `action`"), "{err}");
}

#[test]
fn invalid_glob_reports_rule_and_position() {
    let text = "[[rules]]\nid = \"files-read\"\nserver = \"files\"\ntools = [\"ok\", \"read_[\"]\naction = \"allow\"\n";
    let err = load_error(&[("policies/default.toml", text)]);
    assert!(
        err.starts_with(
            r#"policies/default.toml:4:16: rule "files-read": invalid glob "read_[": unclosed character class"#
        ),
        "{err}"
    );
}

#[test]
fn invalid_server_glob_is_refused() {
    let text = "[[rules]]\nid = \"r\"\nserver = \"fi{les\"\ntools = [\"x\"]\naction = \"allow\"\n";
    let err = load_error(&[("p.toml", text)]);
    assert!(err.starts_with(r#"p.toml:3:10: rule "r": invalid glob "fi{les""#), "{err}");
}

#[test]
fn duplicate_rule_id_across_files_is_refused() {
    let err = load_error(&[("a.toml", FILES), ("b.toml", FILES)]);
    assert_eq!(err, r#"b.toml:3:6: duplicate rule id "files-read": already defined at a.toml:3:6"#);
}

#[test]
fn empty_tools_list_is_refused() {
    let text = "[[rules]]\nid = \"r\"\nserver = \"s\"\ntools = []\naction = \"allow\"\n";
    let err = load_error(&[("p.toml", text)]);
    assert_eq!(err, r#"p.toml:4:9: rule "r": tools must list at least one tool name or glob"#);
}

#[test]
fn empty_tool_pattern_and_empty_server_are_refused() {
    let text = "[[rules]]\nid = \"r\"\nserver = \"s\"\ntools = [\"\"]\naction = \"allow\"\n";
    assert!(load_error(&[("p.toml", text)]).starts_with("p.toml:4:10: rule \"r\": empty tool pattern"));
    let text = "[[rules]]\nid = \"r\"\nserver = \"\"\ntools = [\"x\"]\naction = \"allow\"\n";
    assert!(load_error(&[("p.toml", text)]).starts_with("p.toml:3:10: rule \"r\": server must not be empty"));
}

#[test]
fn bad_rule_id_characters_are_refused() {
    for id in ["has space", "", "dots.are.reserved", "ünïcode"] {
        let text = format!("[[rules]]\nid = {id:?}\nserver = \"s\"\ntools = [\"x\"]\naction = \"allow\"\n");
        let err = load_error(&[("p.toml", &text)]);
        assert!(err.starts_with("p.toml:2:6: rule id"), "{err}");
    }
}

#[test]
fn wrong_value_type_is_refused() {
    let text = "[[rules]]\nid = \"r\"\nserver = \"s\"\ntools = \"read_file\"\naction = \"allow\"\n";
    let err = load_error(&[("p.toml", text)]);
    assert!(err.starts_with("p.toml:4:9: "), "{err}");
}

#[test]
fn load_reads_files_and_names_unreadable_ones() {
    let dir = std::env::temp_dir().join(format!("warden-policy-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("default.toml");
    std::fs::write(&path, FILES).unwrap();
    let p = Policy::load(std::slice::from_ref(&path)).unwrap();
    assert_eq!(p.version(), policy(FILES).version());
    let missing = dir.join("missing.toml");
    let err = Policy::load(&[path, missing.clone()]).unwrap_err().to_string();
    assert!(err.starts_with(&format!("{}: cannot read policy file", missing.display())), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn decide_is_fast_with_200_rules() {
    let mut text = String::from("[defaults]\ntools = \"deny\"\n");
    for i in 0..200 {
        let action = if i % 10 == 0 { "deny" } else { "allow" };
        text.push_str(&format!(
            "[[rules]]\nid = \"r{i}\"\nserver = \"server-{}\"\ntools = [\"tool_{i}\", \"prefix{i}_*\"]\naction = \"{action}\"\n",
            i % 20
        ));
    }
    let p = policy(&text);
    let iterations = 20_000u32;
    let start = std::time::Instant::now();
    for i in 0..iterations {
        let d = decide(&p, "server-7", if i % 2 == 0 { "tool_187" } else { "prefix7_x" });
        std::hint::black_box(d);
    }
    let per_call = start.elapsed() / iterations;
    // Generous bound so debug builds on a loaded machine pass; release is far below 1µs.
    assert!(per_call < std::time::Duration::from_micros(50), "{per_call:?}");
}

#[test]
fn fast_glob_paths_agree_with_globset() {
    let patterns = ["*", "**", "read_*", "*_file", "*a*", "re?d_*", "read_\\*", "{a,b}*"];
    let tools = ["", "read_", "read_file", "x_file", "read", "a", "b/c", "read_*", "reed_x"];
    for pattern in patterns {
        let text = format!("[[rules]]\nid = \"r\"\nserver = \"s\"\ntools = [{pattern:?}]\naction = \"allow\"\n");
        let p = policy(&text);
        let glob = globset::GlobBuilder::new(pattern)
            .literal_separator(false)
            .backslash_escape(true)
            .build()
            .unwrap()
            .compile_matcher();
        for tool in tools {
            assert_eq!(
                decide(&p, "s", tool).verdict == Verdict::Allow,
                glob.is_match(tool),
                "pattern {pattern:?} tool {tool:?}"
            );
        }
    }
}

const NEEDS_APPROVAL: &str = r#"
[defaults]
approval_timeout = "90s"
[[rules]]
id = "mail-approval"
server = "mail"
tools = ["send_*"]
action = "approve"
deny_unknown_args = true
args.to = { email_domain = ["example.com"] }
[[rules]]
id = "wipe-approval"
server = "mail"
tools = ["wipe"]
action = "approve"
approval_timeout = "5s"
approval = ["cli"]
[[rules]]
id = "export-approval"
server = "mail"
tools = ["export"]
action = "approve"
approval = ["console", "api"]
[[rules]]
id = "never-bulk"
server = "mail"
tools = ["send_bulk"]
action = "deny"
"#;

fn call_with(p: &Policy, tool: &str, args: serde_json::Value) -> Decision {
    p.decide(&CallContext::new("mail", tool, Some(&args)))
}

#[test]
fn approve_rule_holds_a_call_whose_arguments_pass() {
    let p = policy(NEEDS_APPROVAL);
    let d = call_with(&p, "send_email", serde_json::json!({"to": "bob@example.com"}));
    assert_eq!((d.verdict, d.rule_id.as_str()), (Verdict::Approve, "mail-approval"));
    let terms = d.approval.expect("an approve verdict carries its terms");
    assert_eq!(terms.timeout(), std::time::Duration::from_secs(90));
    assert_eq!(terms.channels, ApprovalChannel::DEFAULT.to_vec());
    assert!(p.tool_listed("mail", "send_email"), "a tool that can be approved is listed");
}

#[test]
fn approve_rule_denies_outright_a_call_that_fails_its_constraints() {
    let p = policy(NEEDS_APPROVAL);
    let d = call_with(&p, "send_email", serde_json::json!({"to": "eve@evil.example"}));
    assert_eq!((d.verdict, d.constraint.as_deref()), (Verdict::Deny, Some("email_domain")));
    let d = call_with(&p, "send_email", serde_json::json!({"to": "bob@example.com", "bcc": "eve@evil.example"}));
    assert_eq!(d.verdict, Verdict::Deny, "nobody is asked to approve a smuggled argument");
    assert!(d.approval.is_none());
}

#[test]
fn deny_rule_beats_an_approve_rule() {
    let p = policy(NEEDS_APPROVAL);
    assert_eq!(call_with(&p, "send_bulk", serde_json::json!({"to": "bob@example.com"})).verdict, Verdict::Deny);
}

#[test]
fn rule_timeout_and_channels_override_the_defaults() {
    let p = policy(NEEDS_APPROVAL);
    let terms = call_with(&p, "wipe", serde_json::json!({})).approval.unwrap();
    assert_eq!(terms.timeout(), std::time::Duration::from_secs(5));
    assert_eq!(terms.channels, vec![ApprovalChannel::Cli]);
    let terms = call_with(&p, "export", serde_json::json!({})).approval.unwrap();
    assert_eq!(terms.channels, vec![ApprovalChannel::Console, ApprovalChannel::Api]);
}

#[test]
fn approval_settings_that_cannot_work_fail_to_load() {
    let rule = "[[rules]]\nid = \"r\"\nserver = \"s\"\ntools = [\"t\"]\n";
    for (text, expected) in [
        (format!("{rule}action = \"approve\"\napproval = [\"pager\"]\n"), "unknown channel"),
        (format!("{rule}action = \"approve\"\napproval = []\n"), "at least one channel"),
        (format!("{rule}action = \"approve\"\napproval_timeout = \"soon\"\n"), "not a duration"),
        (format!("{rule}action = \"approve\"\napproval_timeout = \"0s\"\n"), "greater than 0"),
        (format!("{rule}action = \"allow\"\napproval_timeout = \"5s\"\n"), "only valid with action = \"approve\""),
        (format!("{rule}action = \"deny\"\napproval = [\"api\"]\n"), "only valid with action = \"approve\""),
        ("[defaults]\ntools = \"approve\"\n".to_string(), "not supported"),
        ("[defaults]\napproval_timeout = \"2d\"\n".to_string(), "at most 24h"),
    ] {
        let error = load_error(&[("policy.toml", &text)]);
        assert!(error.contains(expected), "{text}: {error}");
        assert!(error.starts_with("policy.toml:"), "{error}");
    }
}
