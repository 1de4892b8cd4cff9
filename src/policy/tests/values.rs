//! The value classes of issue 10, one table per threat: URLs that parsers
//! read differently, names that resolve where they should not, mail header
//! injection through encoded words, shell expansions at the start of a word,
//! and constraints that pass because there was nothing to check.

use serde_json::{json, Value};

use super::{load_error, policy};
use crate::policy::{CallContext, Decision, Policy, Verdict};

fn rule(body: &str) -> Policy {
    policy(&format!("[[rules]]\nid = \"r\"\nserver = \"srv\"\ntools = [\"t\"]\naction = \"allow\"\n{body}\n"))
}

fn call(p: &Policy, args: Value) -> Decision {
    p.decide(&CallContext::new("srv", "t", Some(&args)))
}

/// Each value of `arg` passes (`true`) or is refused by `constraint` (`false`).
fn table(p: &Policy, arg: &str, constraint: &str, cases: &[(Value, bool)]) {
    for (value, allowed) in cases {
        let d = call(p, json!({ arg: value }));
        if *allowed {
            assert_eq!(d.verdict, Verdict::Allow, "{value} should pass: {}", d.reason);
        } else {
            assert_eq!(d.verdict, Verdict::Deny, "{value} should be refused by {constraint}");
            assert_eq!(d.constraint.as_deref(), Some(constraint), "{value}: {}", d.reason);
        }
    }
}

#[test]
fn a_list_is_not_the_value_a_constraint_describes_unless_each_is_set() {
    let p = rule(r#"args.path = { type = "string", path_within = ["/srv/projects"] }"#);
    table(
        &p,
        "path",
        "type",
        &[(json!("/srv/projects/a"), true), (json!([]), false), (json!(["/srv/projects/a"]), false)],
    );
    let p = rule(r#"args.path = { path_within = ["/srv/projects"] }"#);
    table(&p, "path", "path_within", &[(json!([]), false), (json!(["/srv/projects/a"]), false)]);
    let p = rule(r#"args.mode = { enum = ["a", "b"] }"#);
    table(&p, "mode", "enum", &[(json!("a"), true), (json!(["a"]), false), (json!([]), false)]);
    let p = rule(r#"args.to = { email_domain = ["example.com"] }"#);
    table(&p, "to", "email_domain", &[(json!(["alice@example.com"]), false)]);
    // With each = true, one value or a list of them, each checked.
    let p = rule(r#"args.to = { each = true, type = "string", email_domain = ["example.com"], max_items = 2 }"#);
    table(
        &p,
        "to",
        "email_domain",
        &[
            (json!("alice@example.com"), true),
            (json!(["alice@example.com", "bob@example.com"]), true),
            (json!(["alice@example.com", "eve@evil.example"]), false),
        ],
    );
    table(&p, "to", "type", &[(json!([["alice@example.com"]]), false)]);
    table(&p, "to", "max_items", &[(json!(["a@example.com", "b@example.com", "c@example.com"]), false)]);
}

#[test]
fn required_is_not_satisfied_by_a_value_that_carries_nothing() {
    let p = rule(r#"args.path = { required = true, each = true, type = "string", path_within = ["/srv/projects"] }"#);
    for (value, what) in [
        (json!([]), "an empty list"),
        (json!(""), "an empty string"),
        (json!(null), "null"),
        (json!({}), "an empty object"),
    ] {
        let d = call(&p, json!({ "path": value }));
        assert_eq!(d.constraint.as_deref(), Some("required"), "{value}");
        assert!(d.reason.ends_with(&format!("required argument \"path\" is {what}")), "{}", d.reason);
    }
    assert_eq!(call(&p, json!({"path": ["/srv/projects/a"]})).verdict, Verdict::Allow);
    let e = p.explain(&CallContext::new("srv", "t", Some(&json!({"path": ["/srv/projects/a"]}))));
    assert!(e.checks.iter().any(|c| c.constraint == "path_within" && c.detail.starts_with("each item")), "{e:?}");
}

#[test]
fn each_and_mail_header_are_flags() {
    for body in ["args.a = { each = \"yes\" }", "args.a = { mail_header = 1 }"] {
        let err = load_error(&[(
            "p.toml",
            &format!("[[rules]]\nid = \"r\"\nserver = \"s\"\ntools = [\"t\"]\naction = \"allow\"\n{body}\n"),
        )]);
        assert!(err.starts_with("p.toml:6:") && err.contains("invalid type"), "{body}: {err}");
    }
}

#[test]
fn a_url_that_parsers_read_as_another_host_is_refused() {
    let p = rule(r#"args.url = { url_schemes = ["https"], url_hosts = ["docs.rs"] }"#);
    table(
        &p,
        "url",
        "url_hosts",
        &[
            (json!("https://docs.rs/regex/"), true),
            (json!("https://DOCS.RS:443/?q=1#x"), true),
            (json!("https://docs.rs\\@evil.example/"), false),
            (json!("https://docs.rs%5C@evil.example/"), false),
            (json!("https://docs.rs:443\\@evil.example/"), false),
            (json!("https://docs.rs#@evil.example/"), false),
            (json!("https://docs.rs?@evil.example/"), false),
            (json!("https://evil.example@docs.rs/"), false),
            (json!("https:/docs.rs/"), false),
            (json!("https:docs.rs/"), false),
            (json!("https:///docs.rs/"), false),
            (json!("https://docs。rs/"), false),
            (json!("https://docs．rs/"), false),
            (json!("https://ｄｏｃｓ.rs/"), false),
            (json!("https://do%63s.rs/"), false),
            (json!("https://docs.rs:/"), false),
            (json!("https://docs.rs:0443/"), false),
        ],
    );
    // What WHATWG strips (tab, newline) and what renders as nothing is refused
    // before any host is read, by the first URL constraint.
    table(
        &p,
        "url",
        "url_schemes",
        &[
            (json!("https://do\u{200B}cs.rs/"), false),
            (json!("https://docs.rs\t@evil.example/"), false),
            (json!("https://docs.\nrs/"), false),
            (json!(" https://docs.rs/"), false),
        ],
    );
}

#[test]
fn names_that_resolve_to_private_or_platform_addresses_are_refused() {
    let p = rule("args.url = { deny_private_ips = true }");
    table(
        &p,
        "url",
        "deny_private_ips",
        &[
            (json!("https://7f000001.nip.io/"), false),
            (json!("https://app-7f000001.example.net/"), false),
            (json!("https://127-0-0-1.sslip.io/"), false),
            (json!("https://--1.sslip.io/"), false),
            (json!("https://fe80--1.wild.example.net/"), false),
            (json!("https://0x7f.0.0.1.nip.io/"), false),
            (json!("https://127.0.0.1.xip.io/"), false),
            (json!("https://10.0.0.1.traefik.me/"), false),
            (json!("https://anything.localtest.me/"), false),
            (json!("https://make-1.2.3.4-rebind-169.254-169.254-rr.1u.ms/"), false),
            (json!("https://168.63.129.16/machine?comp=goalstate"), false),
            (json!("https://192.0.0.192/latest/"), false),
            (json!("https://[fd00:ec2::254]/latest/"), false),
            (json!("https://metadata.goog/computeMetadata/v1/"), false),
            (json!("https://metadata.tencentyun.com/latest/meta-data/"), false),
            (json!("https://api.metadata.cloud.ibm.com/metadata/v1/instance"), false),
            (json!("https://kubernetes.default/api"), false),
            (json!("https://168.63.129.17/"), true),
            (json!("https://release-1-2-3.example.net/"), true),
        ],
    );
}

#[test]
fn an_address_in_query_text_is_not_a_destination_but_a_redirect_target_is() {
    let p = rule("args.url = { deny_private_ips = true }");
    table(
        &p,
        "url",
        "deny_private_ips",
        &[
            (json!("https://www.google.com/search?q=what+is+10.0.0.1"), true),
            (json!("https://www.google.com/search?q=10.0.0.1%2F8+range"), true),
            (json!("https://redirect.example.net/?to=10.0.0.1:8080/"), false),
            (json!("https://redirect.example.net/?to=//10.0.0.1/"), false),
            (json!("https://redirect.example.net/?to=https://example.net\\@10.0.0.1/"), false),
            (json!("https://redirect.example.net/10.0.0.1/"), false),
        ],
    );
}

#[test]
fn a_line_break_in_an_encoded_word_never_reaches_a_mail_header() {
    let p = rule("args.subject = { mail_header = true }");
    table(
        &p,
        "subject",
        "mail_header",
        &[
            (json!("Quarterly report"), true),
            (json!("=?utf-8?q?Gr=C3=BC=C3=9Fe?="), true),
            (json!("=?utf-8?q?hi=0D=0ABcc=3A_attacker=40evil.example?="), false),
            (json!("=?UTF-8?B?aGkNCkJjYzogYXR0YWNrZXJAZXZpbC5leGFtcGxl?="), false),
            (json!("=?utf-8?Q?a?= =?utf-8?q?=0ABcc:_x@evil.example?="), false),
            (json!("=?utf-8*en?q?=0A?="), false),
            (json!("=?utf-8?q?=E2=80=A9?="), false),
            (json!("=?utf-8?b?woU=?="), false),
            (json!("=?utf-16?b?AAoAQg==?="), false),
            (json!("hi\u{2028}Bcc: x"), false),
            (json!("hi\u{85}Bcc: x"), false),
            (json!(7), false),
        ],
    );
}

#[test]
fn an_address_mail_software_reads_differently_is_refused_and_a_quoted_name_is_not() {
    let p = rule(r#"args.to = { required = true, each = true, email_domain = ["example.com"] }"#);
    table(
        &p,
        "to",
        "email_domain",
        &[
            (json!("\"Smith, Alice\" <alice@example.com>"), true),
            (json!(["\"Smith, Alice\" <alice@example.com>", "bob@example.com"]), true),
            (json!("bob＠evil.example@example.com"), false),
            (json!("bob@evil.example＠example.com"), false),
            (json!("alice@ｅxample.com"), false),
            (json!("\"eve@evil.example\" <alice@example.com>"), false),
            (json!("=?utf-8?q?eve=40evil.example=2C?= <alice@example.com>"), false),
            (json!("=?utf-8?q?x=0ABcc:_eve@evil.example?= <alice@example.com>"), false),
            (json!("alice@example.com (eve@evil.example)"), false),
            (json!("Smith, Alice <alice@example.com>"), false),
        ],
    );
    table(&p, "to", "required", &[(json!([]), false), (json!(""), false)]);
}

#[test]
fn shell_expansions_at_the_start_of_a_word_are_refused() {
    let p = rule("args.cmd = { no_shell_metachars = true }");
    table(
        &p,
        "cmd",
        "no_shell_metachars",
        &[
            (json!("git diff HEAD~1 --stat"), true),
            (json!("git show HEAD^"), true),
            (json!("echo 100% done"), true),
            (json!("kubectl get pods --output=wide"), true),
            (json!("cat ~/.secret"), false),
            (json!("cat ~root/.ssh/id_rsa"), false),
            (json!("cp a --target-directory=~/x"), false),
            (json!("ls a:~/x"), false),
            (json!("PWN=1 env"), false),
            (json!("PATH+=:/tmp/x ls"), false),
            (json!("touch PWNED # the rest is a comment"), false),
            (json!("ls #"), false),
            (json!("echo !!"), false),
            (json!("echo hi!"), false),
            (json!("fg %1"), false),
            (json!("^ls^rm"), false),
            (json!("echo =ls"), false),
            (json!("cat ～/.secret"), false),
            (json!("cat ﹟"), false),
            (json!("cat%20~/.secret"), false),
            (json!("cat %7e/.secret"), false),
        ],
    );
}
