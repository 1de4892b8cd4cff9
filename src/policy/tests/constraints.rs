//! Argument constraints, one table per constraint, named for the threat.

use serde_json::{json, Value};

use super::{load_error, policy};
use crate::policy::{CallContext, Decision, InputSchema, Policy, Verdict};

fn call(p: &Policy, tool: &str, args: Value) -> Decision {
    p.decide(&CallContext::new("srv", tool, Some(&args)))
}

/// A policy with one allow rule `r` on server `srv`, tool `t`, with `body` appended.
fn rule(body: &str) -> Policy {
    policy(&format!("[[rules]]\nid = \"r\"\nserver = \"srv\"\ntools = [\"t\"]\naction = \"allow\"\n{body}\n"))
}

/// Asserts each value of `arg` is allowed (`true`) or refused by `constraint` (`false`).
fn table(p: &Policy, arg: &str, constraint: &str, cases: &[(Value, bool)]) {
    for (value, allowed) in cases {
        let d = call(p, "t", json!({ arg: value }));
        if *allowed {
            assert_eq!(d.verdict, Verdict::Allow, "{value} should pass {constraint}: {}", d.reason);
        } else {
            assert_eq!(d.verdict, Verdict::Deny, "{value} should fail {constraint}");
            assert_eq!(d.constraint.as_deref(), Some(constraint), "{value}: {}", d.reason);
            assert_eq!(d.rule_id, "r");
        }
    }
}

#[test]
fn type_constraint_refuses_type_confusion() {
    let p = rule(r#"args.count = { type = "integer", each = true }"#);
    table(
        &p,
        "count",
        "type",
        &[
            (json!(3), true),
            (json!(3.0), true),
            (json!(3.5), false),
            (json!("3"), false),
            (json!(null), false),
            (json!({"$gt": 0}), false),
            (json!([1, 2]), true), // each = true: a list of integers
            (json!([1, "2"]), false),
        ],
    );
    let p = rule(r#"args.flags = { type = "array", max_items = 2 }"#);
    table(&p, "flags", "type", &[(json!([]), true), (json!("x"), false)]);
}

#[test]
fn enum_refuses_values_outside_the_list() {
    let p = rule(r#"args.tags = { max_items = 3, enum = ["a", "b", 1], each = true }"#);
    table(
        &p,
        "tags",
        "enum",
        &[
            (json!("a"), true),
            (json!(1), true),
            (json!(["a", "b"]), true),
            (json!("c"), false),
            (json!(["a", "c"]), false),
            (json!("A"), false),
        ],
    );
    table(&p, "tags", "max_items", &[(json!(["a", "a", "a", "a"]), false)]);
}

#[test]
fn pattern_must_match_the_whole_value() {
    let p = rule(r#"args.cmd = { pattern = "[a-z ]+" }"#);
    table(
        &p,
        "cmd",
        "pattern",
        &[
            (json!("ls la"), true),
            (json!("ls; id"), false),
            (json!("ls\nid"), false),
            (json!(""), false),
            (json!(7), false),
        ],
    );
}

#[test]
fn a_verbose_pattern_may_end_in_a_comment() {
    let p = rule("args.cmd = { pattern = '(?x) [a-z]+ \\s [0-9]+  # a word, a space, a number' }");
    table(&p, "cmd", "pattern", &[(json!("ls 42"), true), (json!("ls 42; id"), false), (json!("ls"), false)]);
}

#[test]
fn deny_pattern_refuses_any_match() {
    let p = rule(r#"args.cmd = { deny_pattern = "rm\\s+-rf" }"#);
    table(
        &p,
        "cmd",
        "deny_pattern",
        &[(json!("ls -la"), true), (json!("sudo rm  -rf /"), false), (json!(["ok", "rm -rf x"]), false)],
    );
}

#[test]
fn max_length_counts_characters_not_bytes() {
    let p = rule(r#"args."/options/target" = { type = "string", max_length = 3 }"#);
    let ok = call(&p, "t", json!({"options": {"target": "ΩΩΩ"}}));
    assert_eq!(ok.verdict, Verdict::Allow, "{}", ok.reason);
    let long = call(&p, "t", json!({"options": {"target": "abcd"}}));
    assert_eq!(long.constraint.as_deref(), Some("max_length"));
    assert_eq!(long.argument.as_deref(), Some("/options/target"));
    let wrong = call(&p, "t", json!({"options": {"target": 5}}));
    assert_eq!(wrong.constraint.as_deref(), Some("type"));
}

#[test]
fn min_and_max_bound_numbers() {
    let p = rule("args.count = { type = \"integer\", min = 1, max = 100 }");
    table(&p, "count", "min", &[(json!(1), true), (json!(0), false), (json!(-9_223_372_036_854_775_807i64), false)]);
    table(
        &p,
        "count",
        "max",
        &[(json!(100), true), (json!(101), false), (json!(18_446_744_073_709_551_615u64), false)],
    );
    let p = rule("args.ratio = { min = 0.5 }");
    table(&p, "ratio", "min", &[(json!(0.5), true), (json!(0.49), false), (json!("1"), false)]);
}

#[test]
fn absent_arguments_are_not_checked_unless_required() {
    let p = rule(r#"args.path = { path_within = ["/srv/projects"] }"#);
    assert_eq!(call(&p, "t", json!({})).verdict, Verdict::Allow);
    assert_eq!(p.decide(&CallContext::new("srv", "t", None)).verdict, Verdict::Allow);
    let p = rule(r#"args.path = { required = true, path_within = ["/srv/projects"] }"#);
    let d = call(&p, "t", json!({}));
    assert_eq!(d.verdict, Verdict::Deny);
    assert_eq!(d.constraint.as_deref(), Some("required"));
    assert_eq!(d.reason, r#"tool "t" on server "srv" is denied by rule "r": required argument "path" is missing"#);
    assert_eq!(p.decide(&CallContext::new("srv", "t", None)).constraint.as_deref(), Some("required"));
}

#[test]
fn arguments_that_are_not_an_object_are_refused() {
    let p = rule(r#"args.path = { path_within = ["/srv/projects"] }"#);
    let d = call(&p, "t", json!(["/etc/passwd"]));
    assert_eq!(d.verdict, Verdict::Deny);
    assert_eq!(d.constraint.as_deref(), Some("arguments"));
}

#[test]
fn blocks_smuggled_bcc_with_deny_unknown_args() {
    let p = rule(
        r#"deny_unknown_args = true
args.to = { email_domain = ["example.com"] }
args.subject = {}
args."/options/priority" = { enum = ["low", "high"] }"#,
    );
    assert_eq!(
        call(&p, "t", json!({"to": "a@example.com", "subject": "hi", "options": {"priority": "low"}})).verdict,
        Verdict::Allow
    );
    for smuggled in ["bcc", "sidenote", "debug", "To", "to "] {
        let d = call(&p, "t", json!({"to": "a@example.com", smuggled: "x"}));
        assert_eq!(d.verdict, Verdict::Deny, "{smuggled}");
        assert_eq!(d.constraint.as_deref(), Some("deny_unknown_args"));
        assert_eq!(d.argument.as_deref(), Some(smuggled));
    }
    let d = call(&p, "t", json!({"to": "a@example.com", "bcc\n\"forged\"": "x"}));
    assert!(d.reason.contains(r#"argument "bcc\n\"forged\"" is not allowed"#), "{}", d.reason);
}

#[test]
fn blocks_path_traversal_with_encoded_dots() {
    let p = rule(r#"args.path = { path_within = ["/srv/projects"] }"#);
    table(
        &p,
        "path",
        "path_within",
        &[
            (json!("docs/readme.md"), true),
            (json!("/srv/projects/docs/readme.md"), true),
            (json!("../../etc/passwd"), false),
            (json!("%2e%2e/%2e%2e/etc/passwd"), false),
            (json!("%252e%252e%252fetc%252fpasswd"), false),
            (json!("..%c0%af..%c0%afetc/passwd"), false),
            (json!("/srv/projects/../../etc/passwd"), false),
            (json!("/srv/projects-evil/x"), false),
            (json!("/srv/projectsx"), false),
            (json!("/srv"), false),
        ],
    );
}

#[test]
fn blocks_backslash_drive_and_unc_paths() {
    let p = rule(r#"args.path = { path_within = ["/srv/projects"] }"#);
    table(
        &p,
        "path",
        "path_within",
        &[
            (json!("..\\..\\etc\\passwd"), false),
            (json!("docs\\..\\..\\x"), false),
            (json!("docs\\readme.md"), true),
            (json!("C:\\Windows\\win.ini"), false),
            (json!("c:/boot.ini"), false),
            (json!("C:relative"), false),
            (json!("\\\\server\\share\\x"), false),
            (json!("//?/C:/x"), false),
            (json!("%5c%5cserver%5cshare"), false),
        ],
    );
}

#[test]
fn blocks_nul_and_control_characters_in_paths() {
    let p = rule(r#"args.path = { path_within = ["/srv/projects"] }"#);
    table(
        &p,
        "path",
        "path_within",
        &[
            (json!("a.txt\u{0}.png"), false),
            (json!("a.txt%00.png"), false),
            (json!("a%0a.txt"), false),
            (json!("a\r.txt"), false),
            (json!("a%25%30%30"), false),
        ],
    );
}

#[test]
fn blocks_home_directory_tilde_paths_that_servers_expand() {
    let p = rule(r#"args.path = { path_within = ["/srv/projects"] }"#);
    // The gateway expands nothing, but server-filesystem turns `~/x` into
    // `$HOME/x`, so a leading `~` is refused; elsewhere it is a plain name.
    table(
        &p,
        "path",
        "path_within",
        &[
            (json!("~/notes.txt"), false),
            (json!("~root/.ssh/id_rsa"), false),
            (json!("%7E/notes.txt"), false),
            (json!("~/../../x"), false),
            (json!("notes/~draft.txt"), true),
            (json!("$HOME/x"), true),
        ],
    );
}

#[test]
fn relative_paths_must_stay_inside_every_root() {
    let p = rule(r#"args.path = { path_within = ["/srv/projects", "/home/me/work"] }"#);
    table(
        &p,
        "path",
        "path_within",
        &[
            (json!("src/lib.rs"), true),
            (json!("/home/me/work/a"), true),
            (json!("/srv/projects/a"), true),
            // Inside /srv/projects when joined there, outside /home/me/work: refused.
            (json!("../projects/a"), false),
            (json!("/home/me/other"), false),
        ],
    );
}

#[test]
fn blocks_hidden_files_unless_allowed() {
    let p = rule(r#"args.path = { path_within = ["/srv/projects"] }"#);
    table(
        &p,
        "path",
        "path_within",
        &[(json!(".env"), false), (json!("app/.git/config"), false), (json!("/srv/projects/.ssh/id_rsa"), false)],
    );
    let p = rule(
        r#"args.path = { path_within = ["/home/me/.config/app"], allow_hidden = true, path_deny = ["**/.env", "**/.ssh/**"] }"#,
    );
    table(&p, "path", "path_within", &[(json!(".gitignore"), true), (json!("/home/me/.config/app/x"), true)]);
    table(
        &p,
        "path",
        "path_deny",
        &[
            (json!(".env"), false),
            (json!("a/.ENV"), false),
            (json!(".ssh/id_rsa"), false),
            (json!("%2essh/id_rsa"), false),
        ],
    );
    // A hidden root is fine; hidden entries below it are what is refused.
    let p = rule(r#"args.path = { path_within = ["/home/me/.config/app"] }"#);
    table(
        &p,
        "path",
        "path_within",
        &[(json!("/home/me/.config/app/settings.json"), true), (json!("settings.json"), true)],
    );
}

#[test]
fn path_deny_globs_match_the_normalized_path() {
    let p = rule(
        r#"args.path = { path_within = ["/srv/projects"], allow_hidden = true, path_deny = ["**/.ssh/**", "**/.env", "/srv/projects/secrets/**", "**/*.pem"] }"#,
    );
    table(
        &p,
        "path",
        "path_deny",
        &[
            (json!("app/.env"), false),
            (json!("app/x/../.env"), false),
            (json!("secrets/db.txt"), false),
            (json!("/srv/projects/secrets/db.txt"), false),
            (json!("certs/server.PEM"), false),
            (json!("app/.env.example"), true),
            (json!("secretsX/db.txt"), true),
            (json!("app/src/main.rs"), true),
        ],
    );
    // path_deny alone (no roots) still normalizes.
    let p = rule(r#"args.path = { path_deny = ["**/.env"] }"#);
    table(&p, "path", "path_deny", &[(json!("../.env"), false), (json!("/x/%2eenv"), false), (json!("/x/y"), true)]);
}

#[cfg(unix)]
#[test]
fn blocks_symlink_escape_when_resolving_symlinks() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(root.join("docs")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), "s").unwrap();
    std::fs::write(root.join("docs/a.txt"), "a").unwrap();
    std::os::unix::fs::symlink(&outside, root.join("escape")).unwrap();
    std::os::unix::fs::symlink(root.join("docs"), root.join("docs-link")).unwrap();
    let root = root.to_str().unwrap();

    let lexical = rule(&format!("args.path = {{ path_within = [{root:?}] }}"));
    assert_eq!(call(&lexical, "t", json!({"path": "escape/secret.txt"})).verdict, Verdict::Allow);

    let p = rule(&format!("args.path = {{ path_within = [{root:?}], resolve_symlinks = true }}"));
    table(
        &p,
        "path",
        "path_within",
        &[
            (json!("escape/secret.txt"), false),
            (json!("escape/not-yet-created.txt"), false),
            (json!(format!("{root}/escape")), false),
            // Lexically `<root>/outside/secret.txt`; physically `escape/..` is
            // the parent of `outside`, so this reads `<tmp>/outside/secret.txt`.
            (json!("escape/../outside/secret.txt"), false),
            (json!("docs-link/a.txt"), true),
            (json!("docs/new-file.txt"), true),
            (json!("docs/a.txt"), true),
        ],
    );
}

#[test]
fn blocks_command_chaining_with_shell_metachars() {
    let p = rule("args.cmd = { no_shell_metachars = true }");
    table(
        &p,
        "cmd",
        "no_shell_metachars",
        &[
            (json!("ls -la"), true),
            (json!("git log --oneline -n 5"), true),
            (json!("ls; id"), false),
            (json!("ls | sh"), false),
            (json!("ls && id"), false),
            (json!("echo $(id)"), false),
            (json!("echo ${IFS}"), false),
            (json!("echo `id`"), false),
            (json!("cat < /etc/passwd"), false),
            (json!("ls > /tmp/x"), false),
            (json!("ls\nid"), false),
            (json!("ls\rid"), false),
            (json!("ls%0aid"), false),
            (json!("ls%3bid"), false),
            (json!("ls%253bid"), false),
            (json!("ls\u{FF1B}id"), false),
            (json!("ls\u{037E}id"), false),
            (json!("/???/c?t /etc/passwd"), false),
            (json!("{id,}"), false),
            (json!("ls%c0%bbid"), false),
        ],
    );
}

#[test]
fn url_schemes_and_hosts_are_allowlists() {
    let p =
        rule(r#"args.url = { url_schemes = ["https"], url_hosts = ["example.com", "*.example.org", "münchen.de"] }"#);
    table(
        &p,
        "url",
        "url_schemes",
        &[
            (json!("http://example.com/"), false),
            (json!("file:///etc/passwd"), false),
            (json!("javascript:alert(1)"), false),
            (json!("not a url"), false),
        ],
    );
    table(
        &p,
        "url",
        "url_hosts",
        &[
            (json!("https://example.com/x?y=1"), true),
            (json!("https://EXAMPLE.com./x"), true),
            (json!("https://a.b.example.org/"), true),
            (json!("https://xn--mnchen-3ya.de/"), true),
            (json!("https://MÜNCHEN.de/"), true),
            (json!("https://example.org/"), false),
            (json!("https://evilexample.com/"), false),
            (json!("https://example.com.evil.com/"), false),
            (json!("https://example.com@evil.com/"), false),
            (json!("https://evil.com\\@example.com/"), false),
            (json!("https://evil.com#@example.com"), false),
        ],
    );
}

#[test]
fn blocks_ssrf_to_private_and_metadata_addresses() {
    let p = rule("args.url = { deny_private_ips = true }");
    table(
        &p,
        "url",
        "deny_private_ips",
        &[
            (json!("https://example.com/"), true),
            (json!("https://8.8.8.8/"), true),
            (json!("https://[2606:4700::1111]/"), true),
            (json!("http://127.0.0.1/"), false),
            (json!("http://127.1/"), false),
            (json!("http://2130706433/"), false),
            (json!("http://0x7f.1/"), false),
            (json!("http://0177.0.0.1/"), false),
            (json!("http://017700000001/"), false),
            (json!("http://0/"), false),
            (json!("http://0.0.0.0:8080/"), false),
            (json!("http://10.1.2.3/"), false),
            (json!("http://172.16.0.1/"), false),
            (json!("http://172.31.255.255/"), false),
            (json!("http://192.168.1.1/"), false),
            (json!("http://100.64.0.1/"), false),
            (json!("http://100.100.100.200/latest/meta-data"), false),
            (json!("http://169.254.169.254/latest/meta-data/"), false),
            (json!("http://224.0.0.1/"), false),
            (json!("http://255.255.255.255/"), false),
            (json!("http://[::1]/"), false),
            (json!("http://[::]/"), false),
            (json!("http://[::ffff:127.0.0.1]/"), false),
            (json!("http://[::ffff:8.8.8.8]/"), false),
            (json!("http://[::127.0.0.1]/"), false),
            (json!("http://[fd00:ec2::254]/"), false),
            (json!("http://[fc00::1]/"), false),
            (json!("http://[fe80::1%25eth0]/"), false),
            (json!("http://[64:ff9b::a9fe:a9fe]/"), false),
            (json!("http://[2002:a9fe:a9fe::]/"), false),
            (json!("http://[ff02::1]/"), false),
            (json!("http://localhost/"), false),
            (json!("http://LOCALHOST./"), false),
            (json!("http://app.localhost/"), false),
            (json!("http://ip6-localhost/"), false),
            (json!("http://metadata/"), false),
            (json!("http://metadata.google.internal/computeMetadata/v1/"), false),
            (json!("http://instance-data.ec2.internal/"), false),
            (json!("http://printer.local/"), false),
            (json!("http://kubernetes.default.svc/"), false),
            (json!("http://169.254.169.254.nip.io/"), false),
            (json!("http://app-10-0-0-1.sslip.io/"), false),
            (json!("http://localtest.me/"), false),
            (json!("https://redirector.example/?to=http://127.0.0.1/admin"), false),
            (json!("https://redirector.example/r/169.254.169.254/x"), false),
            (json!("https://redirector.example/?u=http%3A%2F%2Flocalhost%2F"), false),
            (json!("file:///etc/passwd"), false),
            (json!("gopher://127.1:6379/_FLUSHALL"), false),
            (json!("http://exa mple.com/"), false),
            (json!("http://example.com\t/"), false),
            (json!("http://%31%32%37.0.0.1/"), false),
        ],
    );
}

#[test]
fn blocks_hidden_recipients_in_email_addresses() {
    let p = rule(r#"args.to = { email_domain = ["example.com", "*.example.org"], each = true }"#);
    table(
        &p,
        "to",
        "email_domain",
        &[
            (json!("alice@example.com"), true),
            (json!(["alice@example.com", "Bob <bob@mail.example.org>"]), true),
            (json!("eve@evil.com"), false),
            (json!("alice@example.com, eve@evil.com"), false),
            (json!("alice@example.com;eve@evil.com"), false),
            (json!("alice@example.com\r\nBcc: eve@evil.com"), false),
            (json!("alice@example.com@evil.com"), false),
            (json!("alice%evil.com@example.com"), false),
            (json!("\"alice@example.com\" <eve@evil.com>"), false),
            (json!("alice@example.com.evil.com"), false),
            (json!("alice@example.org"), false),
            (json!("alice@[127.0.0.1]"), false),
            (json!("<alice@example.com> eve"), false),
            (json!(["alice@example.com", "eve@evil.com"]), false),
            (json!({"address": "alice@example.com"}), false),
        ],
    );
}

#[test]
fn reasons_never_echo_the_argument_value() {
    let p = rule(
        r#"args.path = { path_within = ["/srv/projects"] }
args.token = { max_length = 4 }
args.url = { deny_private_ips = true }
args.to = { email_domain = ["example.com"] }"#,
    );
    let secret = "s3cr3t-ghp_abcdef";
    for args in [
        json!({"path": format!("/etc/{secret}")}),
        json!({"token": secret}),
        json!({"url": format!("http://127.0.0.1/{secret}")}),
        json!({"to": format!("{secret}@evil.com")}),
    ] {
        let d = call(&p, "t", args.clone());
        assert_eq!(d.verdict, Verdict::Deny);
        assert!(!d.reason.contains(secret), "{}", d.reason);
        let e = p.explain(&CallContext::new("srv", "t", Some(&args)));
        assert!(e.checks.iter().all(|c| !c.detail.contains(secret)), "{:?}", e.checks);
    }
    let d = call(&p, "t", json!({"path": "../x"}));
    assert_eq!(
        d.reason,
        r#"tool "t" on server "srv" is denied by rule "r": argument "path" is outside the allowed roots (path_within)"#
    );
    assert_eq!(d.argument.as_deref(), Some("path"));
    assert_eq!(d.constraint.as_deref(), Some("path_within"));
}

#[test]
fn the_most_specific_allow_rule_decides_without_fall_through() {
    let p = policy(
        r#"
[[rules]]
id = "broad"
server = "srv"
tools = ["*"]
action = "allow"

[[rules]]
id = "narrow"
server = "srv"
tools = ["read_file"]
action = "allow"
args.path = { path_within = ["/srv/projects"] }
"#,
    );
    let d = call(&p, "read_file", json!({"path": "/etc/passwd"}));
    assert_eq!((d.verdict, d.rule_id.as_str()), (Verdict::Deny, "narrow"));
    assert_eq!(call(&p, "other", json!({"path": "/etc/passwd"})).rule_id, "broad");
    // Constraints never hide a tool.
    assert!(p.tool_listed("srv", "read_file"));
}

#[test]
fn explain_lists_every_check_and_agrees_with_decide() {
    let p = rule(
        r#"deny_unknown_args = true
args.path = { required = true, path_within = ["/srv/projects"], path_deny = ["**/*.key"] }
args.mode = { enum = ["r", "w"] }
schema = { type = "object", required = ["path"] }"#,
    );
    let args = json!({"path": "../etc/x.key", "mode": "x"});
    let ctx = CallContext::new("srv", "t", Some(&args));
    let d = p.decide(&ctx);
    let e = p.explain(&ctx);
    assert!(d.checks.is_empty());
    assert_eq!(
        (e.verdict, &e.rule_id, &e.argument, &e.constraint, &e.reason),
        (d.verdict, &d.rule_id, &d.argument, &d.constraint, &d.reason)
    );
    let summary: Vec<(String, bool)> = e.checks.iter().map(|c| (c.constraint.clone(), c.passed)).collect();
    let expected = [
        ("deny_unknown_args", true),
        ("enum", false),
        ("required", true),
        ("path_within", false),
        ("path_deny", false),
        ("schema", true),
    ];
    let expected: Vec<(String, bool)> = expected.iter().map(|(c, p)| (c.to_string(), *p)).collect();
    assert_eq!(summary, expected);
    assert_eq!(d.constraint.as_deref(), Some("enum"), "arguments are checked in name order");

    let ok = json!({"path": "a.txt", "mode": "r"});
    let e = p.explain(&CallContext::new("srv", "t", Some(&ok)));
    assert_eq!(e.verdict, Verdict::Allow);
    assert!(e.checks.iter().all(|c| c.passed && c.rule_id == "r"));
}

#[test]
fn rule_schema_refuses_what_it_does_not_describe() {
    let p = rule(
        r#"schema = { type = "object", required = ["path"], additionalProperties = false, properties = { path = { type = "string" }, depth = { type = "integer", maximum = 3 } } }"#,
    );
    assert_eq!(call(&p, "t", json!({"path": "x"})).verdict, Verdict::Allow);
    let d = call(&p, "t", json!({"path": "x", "depth": 9}));
    assert_eq!(d.constraint.as_deref(), Some("schema"));
    assert_eq!(d.argument.as_deref(), Some("/depth"));
    assert!(
        d.reason.ends_with(r#"arguments do not match the rule's schema at "/depth" (schema: maximum)"#),
        "{}",
        d.reason
    );
    assert!(!d.reason.contains('9'));
    let d = call(&p, "t", json!({}));
    assert!(d.reason.ends_with("(schema: required)"), "{}", d.reason);
    assert_eq!(call(&p, "t", json!({"path": "x", "extra": 1})).verdict, Verdict::Deny);
}

#[test]
fn schema_file_is_read_relative_to_the_policy_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("schemas")).unwrap();
    std::fs::write(dir.path().join("schemas/read.json"), r#"{"type": "object", "required": ["path"]}"#).unwrap();
    let file = dir.path().join("policy.toml");
    std::fs::write(&file, "[[rules]]\nid = \"r\"\nserver = \"srv\"\ntools = [\"t\"]\naction = \"allow\"\nschema_file = \"schemas/read.json\"\n").unwrap();
    let p = Policy::load(std::slice::from_ref(&file)).unwrap();
    assert_eq!(call(&p, "t", json!({"path": "x"})).verdict, Verdict::Allow);
    assert_eq!(call(&p, "t", json!({})).constraint.as_deref(), Some("schema"));

    // The schema file is part of the policy version.
    std::fs::write(dir.path().join("schemas/read.json"), r#"{"type": "object"}"#).unwrap();
    let changed = Policy::load(std::slice::from_ref(&file)).unwrap();
    assert_ne!(p.version(), changed.version());

    std::fs::write(dir.path().join("schemas/read.json"), "{\n  \"type\": \"object\",\n  \"required\": [\"path\"\n}")
        .unwrap();
    let err = Policy::load(std::slice::from_ref(&file)).unwrap_err().to_string();
    assert!(err.contains("read.json:4:1:"), "{err}");
}

#[test]
fn upstream_input_schema_is_enforced_by_default() {
    let upstream = InputSchema::compile(
        &json!({"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"], "additionalProperties": false}),
    );
    let p = rule("");
    let check = |p: &Policy, args: Value| {
        p.decide(&CallContext::new("srv", "t", Some(&args)).with_input_schema(Some(&upstream)))
    };
    assert_eq!(check(&p, json!({"path": "x"})).verdict, Verdict::Allow);
    let d = check(&p, json!({"path": "x", "debug": true}));
    assert_eq!((d.verdict, d.constraint.as_deref()), (Verdict::Deny, Some("input_schema")));
    assert!(
        d.reason.ends_with("arguments do not match the server's inputSchema (input_schema: additionalProperties)"),
        "{}",
        d.reason
    );
    let d = check(&p, json!({"path": 5}));
    assert_eq!(d.argument.as_deref(), Some("/path"));

    // Per-rule override, and the [defaults] switch.
    let off = rule("validate_input_schema = false");
    assert_eq!(check(&off, json!({"path": 5})).verdict, Verdict::Allow);
    let off = policy("[defaults]\nvalidate_input_schema = false\ntools = \"allow\"\n");
    assert_eq!(check(&off, json!({"path": 5})).verdict, Verdict::Allow);
    let on = policy("[defaults]\ntools = \"allow\"\n");
    let d = check(&on, json!({"path": 5}));
    assert_eq!((d.verdict, d.rule_id.as_str()), (Verdict::Deny, "defaults.tools"));
    let back_on = policy("[defaults]\nvalidate_input_schema = false\n[[rules]]\nid = \"r\"\nserver = \"srv\"\ntools = [\"t\"]\naction = \"allow\"\nvalidate_input_schema = true\n");
    assert_eq!(check(&back_on, json!({"path": 5})).verdict, Verdict::Deny);
}

#[test]
fn upstream_schema_that_does_not_compile_refuses_the_call() {
    let p = rule("");
    for broken in [
        json!({"type": "strnig"}),
        json!({"$ref": "https://evil.example/schema.json"}),
        json!({"$ref": "file:///etc/passwd"}),
    ] {
        let compiled = InputSchema::compile(&broken);
        assert!(compiled.error().is_some(), "{broken}");
        let d = p.decide(&CallContext::new("srv", "t", Some(&json!({}))).with_input_schema(Some(&compiled)));
        assert_eq!((d.verdict, d.constraint.as_deref()), (Verdict::Deny, Some("input_schema")), "{broken}");
    }
}

#[test]
fn an_upstream_schema_compiled_once_decides_every_call_under_every_reload() {
    // The relay compiles a tool's schema when the tool is listed and keeps it
    // across calls and policy reloads; the policy holds nothing per call.
    let schema = InputSchema::compile(&json!({"type": "object", "properties": {"count": {"type": "integer"}}}));
    assert!(schema.error().is_none());
    let (bad, good) = (json!({"count": "not an integer"}), json!({"count": 3}));
    for p in [rule(""), rule("description = \"reloaded\"")] {
        for _ in 0..3 {
            let d = p.decide(&CallContext::new("srv", "t", Some(&bad)).with_input_schema(Some(&schema)));
            assert_eq!((d.verdict, d.argument.as_deref()), (Verdict::Deny, Some("/count")));
            let d = p.decide(&CallContext::new("srv", "t", Some(&good)).with_input_schema(Some(&schema)));
            assert_eq!(d.verdict, Verdict::Allow, "{}", d.reason);
        }
    }
}

#[test]
fn policy_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Policy>();
}

// ---- load errors: each names file:line:col and fails closed ----

const HEAD: &str = "[[rules]]\nid = \"r\"\nserver = \"srv\"\ntools = [\"t\"]\naction = \"allow\"\n";

#[test]
fn unknown_constraint_key_is_a_load_error() {
    let err = load_error(&[(
        "p.toml",
        &format!("{HEAD}args.path = {{ path_within = [\"/srv\"], path_inside = [\"/x\"] }}\n"),
    )]);
    assert!(err.starts_with("p.toml:6:"), "{err}");
    assert!(err.contains("unknown field `path_inside`") && err.contains("refused, never ignored"), "{err}");
}

#[test]
fn bad_regex_is_a_load_error() {
    let err = load_error(&[("p.toml", &format!("{HEAD}args.cmd = {{ pattern = \"([a-z]\" }}\n"))]);
    assert!(err.starts_with("p.toml:6:24: rule \"r\": args.cmd: invalid regex \"([a-z]\""), "{err}");
    assert!(!err.contains(r"\A"), "the message shows the pattern as written: {err}");
    let err = load_error(&[("p.toml", &format!("{HEAD}\nargs.cmd = {{ deny_pattern = \"a{{99999}}{{99999}}\" }}\n"))]);
    assert!(err.starts_with("p.toml:7:"), "{err}");
}

#[test]
fn bad_schema_is_a_load_error() {
    let err = load_error(&[("p.toml", &format!("{HEAD}schema = {{ type = \"objekt\" }}\n"))]);
    assert!(err.starts_with("p.toml:6:10: rule \"r\": invalid schema"), "{err}");
    let err = load_error(&[("p.toml", &format!("{HEAD}schema = {{ type = \"object\" }}\nschema_file = \"x.json\"\n"))]);
    assert!(err.starts_with("p.toml:7:15:") && err.contains("not both"), "{err}");
    let err = load_error(&[("p.toml", &format!("{HEAD}schema_file = \"does-not-exist.json\"\n"))]);
    assert!(err.starts_with("p.toml:6:15:") && err.contains("cannot read schema_file"), "{err}");
}

#[test]
fn other_bad_constraints_are_load_errors() {
    for (body, line_col, needle) in [
        ("args.path = { path_within = [\"srv/projects\"] }", "6:30", "absolute POSIX path"),
        ("args.path = { path_within = [] }", "6:29", "at least one"),
        ("args.path = { path_deny = [\"a[\"] }", "6:28", "invalid glob"),
        ("args.path = { resolve_symlinks = true }", "6:34", "only applies together with path_within"),
        ("args.url = { url_schemes = [\"https://\"] }", "6:29", "not a URL scheme"),
        ("args.url = { url_hosts = [\"*evil.com\"] }", "6:27", "host name"),
        ("args.to = { email_domain = [\"exa mple.com\"] }", "6:29", "not a valid host name"),
        ("args.n = { min = 5, max = 1 }", "6:18", "greater than max"),
        ("args.n = { max_length = -1 }", "6:25", "invalid value"),
        ("args.n = { type = \"text\" }", "6:19", "unknown variant"),
        ("args.\"/a~2\" = { type = \"string\" }", "6:6", "JSON pointer"),
        ("args.n = { enum = [] }", "6:19", "at least one"),
    ] {
        let err = load_error(&[("p.toml", &format!("{HEAD}{body}\n"))]);
        assert!(err.starts_with(&format!("p.toml:{line_col}:")), "{body}: {err}");
        assert!(err.contains(needle), "{body}: {err}");
    }
}

#[test]
fn constraints_on_a_deny_rule_are_a_load_error() {
    let err = load_error(&[("p.toml", "[[rules]]\nid = \"d\"\nserver = \"srv\"\ntools = [\"t\"]\naction = \"deny\"\nargs.path = { path_within = [\"/x\"] }\n")]);
    assert!(err.starts_with("p.toml:6:") && err.contains("not supported on a deny rule"), "{err}");
    let err = load_error(&[(
        "p.toml",
        "[[rules]]\nid = \"d\"\nserver = \"srv\"\ntools = [\"t\"]\naction = \"deny\"\ndeny_unknown_args = true\n",
    )]);
    assert!(err.starts_with("p.toml:6:"), "{err}");
}

#[test]
fn defaults_validate_input_schema_must_agree_across_files() {
    let err = load_error(&[
        ("a.toml", "[defaults]\nvalidate_input_schema = true\n"),
        ("b.toml", "[defaults]\nvalidate_input_schema = false\n"),
    ]);
    assert!(err.starts_with("b.toml:2:25:") && err.contains("conflicts"), "{err}");
}

#[test]
fn explain_reports_path_deny_on_its_own_terms_when_path_within_refuses() {
    let p = rule(r#"args.path = { path_within = ["/srv/projects"], path_deny = ["**/.env"] }"#);
    let verdicts = |path: &str| {
        let e = p.explain(&CallContext::new("srv", "t", Some(&json!({ "path": path }))));
        let check = |name: &str| e.checks.iter().find(|c| c.constraint == name).cloned().unwrap();
        (check("path_within"), check("path_deny"))
    };
    let (within, deny) = verdicts("/srv/projects/app/.env");
    assert!(!within.passed && within.detail.contains("hidden"), "{within:?}");
    assert!(!deny.passed && deny.detail.contains("\"**/.env\""), "its own reason: {deny:?}");
    let (within, deny) = verdicts("/etc/passwd");
    assert!(!within.passed && within.detail.contains("outside the allowed roots"), "{within:?}");
    assert!(deny.passed, "no denied pattern matches: {deny:?}");
    assert_eq!(call(&p, "t", json!({"path": "/etc/passwd"})).constraint.as_deref(), Some("path_within"));
}
