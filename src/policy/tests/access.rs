//! Resources and prompts: default deny, URI globs, and the readings a server
//! might give a URI or a name, which must all be allowed before any is.

use super::{load_error, policy};
use crate::policy::{Access, AccessContext, Action, Decision, Policy, Verdict};

/// The shape of the attack in issue 10: a policy that allows one harmless
/// tool, and a server that also holds secrets as resources and prompts.
const ONE_TOOL: &str = r#"
[[rules]]
id = "echo-only"
server = "internal"
tools = ["echo"]
action = "allow"
"#;

/// Every resource of the server but the credentials; one prompt.
const DOCS: &str = r#"
[[rules]]
id = "internal-docs"
server = "internal"
resources = ["internal://*", "file:///srv/docs/*"]
prompts = ["summarize", "review_*"]
action = "allow"

[[rules]]
id = "no-credentials"
server = "internal"
resources = ["internal://credentials", "internal://secrets/*", "file:///srv/docs/private.key"]
prompts = ["leak_*"]
action = "deny"
"#;

fn resource(p: &Policy, uri: &str) -> Decision {
    decided(p, Access::Resource(uri))
}

fn prompt(p: &Policy, name: &str) -> Decision {
    decided(p, Access::Prompt(name))
}

/// Decides on server "internal" with both `decide_access` and
/// `explain_access`, which must agree.
fn decided(p: &Policy, access: Access) -> Decision {
    let ctx = AccessContext::new("internal", access);
    let d = p.decide_access(&ctx);
    let e = p.explain_access(&ctx);
    assert_eq!(
        (d.verdict, &d.rule_id, &d.constraint, &d.reason),
        (e.verdict, &e.rule_id, &e.constraint, &e.reason),
        "explain disagrees with decide for {access:?}"
    );
    if e.verdict == Verdict::Deny && e.constraint.is_some() {
        assert!(e.checks.iter().any(|c| !c.passed), "explain shows the failed check for {access:?}: {:?}", e.checks);
    }
    d
}

fn assert_refused(p: &Policy, uri: &str, rule: &str, constraint: Option<&str>) {
    let d = resource(p, uri);
    assert_eq!(
        (d.verdict, d.rule_id.as_str(), d.constraint.as_deref()),
        (Verdict::Deny, rule, constraint),
        "{uri:?}: {}",
        d.reason
    );
    assert!(!p.access_listed("internal", Access::Resource(uri)), "{uri:?} is not listed");
}

#[test]
fn allowing_one_tool_allows_no_resource_and_no_prompt_of_its_server() {
    let p = policy(ONE_TOOL);
    let d = resource(&p, "internal://credentials");
    assert_eq!((d.verdict, d.rule_id.as_str()), (Verdict::Deny, "defaults.resources"));
    assert_eq!(
        d.reason,
        r#"no rule allows resource "internal://credentials" on server "internal" (defaults.resources = "deny")"#
    );
    let d = prompt(&p, "summarize");
    assert_eq!((d.verdict, d.rule_id.as_str()), (Verdict::Deny, "defaults.prompts"));
    assert!(!p.access_listed("internal", Access::Resource("internal://credentials")));
    assert!(!p.access_listed("internal", Access::Prompt("summarize")));
    assert!(!p.access_listed("internal", Access::ResourceTemplate("internal://{name}")));
}

#[test]
fn a_deny_rule_on_a_resource_wins_over_an_allow_glob() {
    let p = policy(DOCS);
    assert_refused(&p, "internal://credentials", "no-credentials", None);
    assert_refused(&p, "internal://secrets/db", "no-credentials", None);
    let d = resource(&p, "internal://handbook");
    assert_eq!((d.verdict, d.rule_id.as_str()), (Verdict::Allow, "internal-docs"), "{}", d.reason);
    assert_eq!(d.reason, r#"resource "internal://handbook" on server "internal" is allowed by rule "internal-docs""#);
    assert!(p.access_listed("internal", Access::Resource("internal://handbook")));
}

#[test]
fn resource_rules_do_not_leak_to_other_servers_or_to_prompts() {
    let p = policy(DOCS);
    let d = p.decide_access(&AccessContext::new("mail", Access::Resource("internal://handbook")));
    assert_eq!((d.verdict, d.rule_id.as_str()), (Verdict::Deny, "defaults.resources"));
    // A prompt named like an allowed resource glob is still a prompt.
    assert_eq!(prompt(&p, "internal://handbook").verdict, Verdict::Deny);
    assert_eq!(prompt(&p, "summarize").verdict, Verdict::Allow);
    assert_eq!(prompt(&p, "review_code").verdict, Verdict::Allow);
    assert_eq!(prompt(&p, "leak_everything").rule_id, "no-credentials");
}

#[test]
fn the_credentials_cannot_be_reached_by_another_spelling_of_their_uri() {
    let p = policy(DOCS);
    // Each is allowed by `internal://*` as sent, and is the credentials to
    // a server that decodes, lowercases, drops a fragment, query or
    // trailing slash, or collapses slashes.
    for uri in [
        "internal://CREDENTIALS",
        "internal://%63redentials",
        "internal://%2563redentials",
        "internal://credentials#top",
        "internal://credentials?raw=1",
        "internal://credentials/",
        "file:///srv/docs//private.key",
        "internal://secrets%2Fdb",
        "internal://ｃｒｅｄｅｎｔｉａｌｓ",
    ] {
        let d = resource(&p, uri);
        assert_eq!(d.verdict, Verdict::Deny, "{uri:?}: {}", d.reason);
        assert_eq!(d.rule_id, "no-credentials", "{uri:?}: {}", d.reason);
        assert_eq!(d.constraint.as_deref(), Some("uri_readings"), "{uri:?}: {}", d.reason);
        assert!(!p.access_listed("internal", Access::Resource(uri)));
    }
    // Matched as written, an upper-case scheme falls to the default: denied either way.
    let d = resource(&p, "Internal://credentials");
    assert_eq!((d.verdict, d.rule_id.as_str()), (Verdict::Deny, "defaults.resources"));
    let d = resource(&p, "internal://%63redentials");
    assert!(d.reason.contains("read percent-decoded, it falls under rule \"no-credentials\""), "{}", d.reason);
}

#[test]
fn uris_that_servers_resolve_differently_are_refused_before_any_rule() {
    let p = policy(DOCS);
    for uri in [
        "file:///srv/docs/../../etc/passwd",
        "file:///srv/docs/%2e%2e/%2e%2e/etc/passwd",
        "file:///srv/docs/%252e%252e/etc/passwd",
        "file:///srv/docs/..;/etc/passwd",
        "file:///srv/docs/．．/．．/etc/passwd",
        "file:///srv/docs/a／..／..／etc",
        "file:///srv/docs/\u{200b}../etc",
        "file:///srv/docs/%u002e%u002e/etc",
        "file:///srv/docs/..%c0%afetc",
        "file:///srv/docs\\..\\etc\\passwd",
        "file:///srv/docs/%5c..%5cetc",
        "file:///srv/docs/a b",
        " file:///srv/docs/a",
        "file:///srv/docs/a\tb",
        "file:///srv/docs/a%0a",
        "file:///srv/docs/\u{202e}txt.exe",
        "internal://user@credentials",
        "internal://user:pw@credentials",
        "docs/readme",
        "/srv/docs/readme",
        "",
    ] {
        assert_refused(&p, uri, "resource-uri", Some("uri_syntax"));
    }
    let long = format!("internal://{}", "a".repeat(8200));
    assert_refused(&p, &long, "resource-uri", Some("uri_syntax"));
}

#[test]
fn ordinary_uris_of_allowed_resources_pass_every_reading() {
    let p = policy(DOCS);
    for uri in [
        "internal://handbook",
        "internal://handbook/chapter-1",
        "internal://search?q=credentials+policy",
        "file:///srv/docs/My%20Notes.txt",
        "file:///srv/docs/r%C3%A9sum%C3%A9.md",
        "file:///srv/docs/résumé.md",
        "file:///srv/docs/a.b/c..d/.profile-notes",
        "file:///srv/docs/sub/",
        "internal://handbook#section-2",
    ] {
        let d = resource(&p, uri);
        assert_eq!(d.verdict, Verdict::Allow, "{uri:?}: {}", d.reason);
        assert!(p.access_listed("internal", Access::Resource(uri)));
    }
}

#[test]
fn prompt_names_are_read_as_servers_look_them_up() {
    let p = policy(DOCS);
    // Allowed by review_* as sent, denied by leak_* to a server that
    // ignores case or normalises compatibility forms.
    let p2 = policy(&format!(
        "{DOCS}\n[[rules]]\nid = \"all-prompts\"\nserver = \"internal\"\nprompts = [\"*\"]\naction = \"allow\"\n"
    ));
    for name in ["LEAK_keys", "ｌｅａｋ_keys"] {
        let d = prompt(&p2, name);
        assert_eq!((d.verdict, d.rule_id.as_str()), (Verdict::Deny, "no-credentials"), "{name:?}: {}", d.reason);
        assert_eq!(d.constraint.as_deref(), Some("name_readings"));
    }
    for name in [" summarize", "summarize ", "summa\u{200d}rize", "summarize\n", "summa\trize", ""] {
        let d = prompt(&p, name);
        assert_eq!((d.verdict, d.rule_id.as_str()), (Verdict::Deny, "prompt-name"), "{name:?}: {}", d.reason);
        assert_eq!(d.constraint.as_deref(), Some("name_syntax"));
    }
    assert_eq!(prompt(&p2, "weekly report").verdict, Verdict::Allow);
}

#[test]
fn a_template_is_listed_only_when_an_allow_rule_covers_every_uri_it_can_produce() {
    let p = policy(
        r#"
[[rules]]
id = "texts"
server = "internal"
resources = ["demo://resource/dynamic/text/*", "demo://resource/dynamic/blob/1"]
action = "allow"

[[rules]]
id = "no-secret-text"
server = "internal"
resources = ["demo://resource/dynamic/text/secret"]
action = "deny"
"#,
    );
    let listed = |t: &str| p.access_listed("internal", Access::ResourceTemplate(t));
    assert!(listed("demo://resource/dynamic/text/{id}"));
    assert!(listed("demo://resource/dynamic/text/{id}{?format}"));
    // One allowed URI does not make the whole template allowed.
    assert!(!listed("demo://resource/dynamic/blob/{id}"));
    assert!(!listed("demo://resource/{kind}/text/1"));
    assert!(!listed("demo://resource/dynamic/text/{id"));
    // Listed or not, each URI it produces is decided on its own.
    assert_eq!(resource(&p, "demo://resource/dynamic/text/secret").rule_id, "no-secret-text");
    assert_eq!(resource(&p, "demo://resource/dynamic/blob/1").verdict, Verdict::Allow);
}

#[test]
fn defaults_can_allow_resources_and_prompts_but_deny_rules_still_win() {
    let p = policy(&format!("[defaults]\nresources = \"allow\"\nprompts = \"allow\"\n{DOCS}"));
    let d = resource(&p, "weather://today");
    assert_eq!((d.verdict, d.rule_id.as_str()), (Verdict::Allow, "defaults.resources"));
    assert_eq!(prompt(&p, "anything").rule_id, "defaults.prompts");
    assert_refused(&p, "internal://credentials", "no-credentials", None);
    assert_refused(&p, "weather://../credentials", "resource-uri", Some("uri_syntax"));
}

#[test]
fn audit_mode_lists_everything_and_forwards_refused_reads_with_their_verdict() {
    let p = policy(&format!("mode = \"audit\"\n{DOCS}"));
    assert!(p.access_listed("internal", Access::Resource("internal://credentials")));
    let d = resource(&p, "internal://credentials");
    assert_eq!(d.verdict, Verdict::Deny);
    let enforcement = p.enforce(&d);
    assert_eq!((enforcement.action, enforcement.enforced), (Action::Forward, false));
    // Nobody offers it: nothing could be forwarded, so no mode does.
    let unknown = Decision::unknown_access(&Access::Resource("internal://nowhere"), "no upstream lists it");
    assert_eq!(p.enforce(&unknown).action, Action::Refuse);
}

#[test]
fn a_server_with_only_resource_or_prompt_rules_is_reachable() {
    let p = policy("[[rules]]\nid = \"r\"\nserver = \"docs\"\nresources = [\"docs://*\"]\naction = \"allow\"\n");
    assert!(p.server_reachable("docs"));
    assert!(!p.server_reachable("other"));
    let p = policy("[[rules]]\nid = \"p\"\nserver = \"docs\"\nprompts = [\"*\"]\naction = \"allow\"\n");
    assert!(p.server_reachable("docs"));
    // Denying every tool no longer makes a server unreachable when its
    // resources are allowed; denying everything of every kind does.
    let p = policy(&format!(
        "{}\n[[rules]]\nid = \"no-tools\"\nserver = \"docs\"\ntools = [\"*\"]\naction = \"deny\"\n",
        "[[rules]]\nid = \"r\"\nserver = \"docs\"\nresources = [\"docs://*\"]\naction = \"allow\"\n"
    ));
    assert!(p.server_reachable("docs"));
    let p = policy("[[rules]]\nid = \"none\"\nserver = \"docs\"\ntools = [\"*\"]\nresources = [\"*\"]\nprompts = [\"*\"]\naction = \"deny\"\n[defaults]\n");
    assert!(!p.server_reachable("docs"));
}

#[test]
fn policies_that_would_mislead_about_resources_and_prompts_do_not_load() {
    let cases = [
        ("[[rules]]\nid = \"x\"\nserver = \"s\"\naction = \"allow\"\n", "name at least one of tools, resources and prompts"),
        (
            "[[rules]]\nid = \"x\"\nserver = \"s\"\nresources = [\"a://b\"]\naction = \"approve\"\n",
            "holds tool calls only",
        ),
        (
            "[[rules]]\nid = \"x\"\nserver = \"s\"\ntools = [\"t\"]\nprompts = [\"p\"]\naction = \"allow\"\nargs.topic = { max_length = 5 }\n",
            "argument constraints apply to tools only",
        ),
        (
            "[[rules]]\nid = \"x\"\nserver = \"s\"\nresources = [\"a://b\"]\naction = \"allow\"\ndeny_unknown_args = true\n",
            "deny_unknown_args applies to tools, and this rule names none",
        ),
        ("[defaults]\nresources = \"approve\"\n", "defaults.resources = \"approve\" is not supported"),
        ("[defaults]\nprompts = \"maybe\"\n", "unknown variant"),
        ("[[rules]]\nid = \"x\"\nserver = \"s\"\nresources = []\naction = \"allow\"\n", "resources must list at least one"),
        (
            "[[rules]]\nid = \"x\"\nserver = \"s\"\nresources = [\"file:///srv/../etc\"]\naction = \"deny\"\n",
            "can never be allowed or denied",
        ),
        ("[[rules]]\nid = \"x\"\nserver = \"s\"\nresources = [\"a://[b\"]\naction = \"allow\"\n", "invalid glob"),
    ];
    for (text, expected) in cases {
        let error = load_error(&[("p.toml", text)]);
        assert!(error.contains(expected), "{text}\n=> {error}");
        assert!(error.starts_with("p.toml:"), "{error}");
    }
    let error = load_error(&[
        ("a.toml", "[defaults]\nresources = \"allow\"\n"),
        ("b.toml", "[defaults]\nresources = \"deny\"\n"),
    ]);
    assert!(error.contains("conflicts with defaults.resources"), "{error}");
}

#[test]
fn explain_lists_each_reading_and_the_rule_it_falls_under() {
    let p = policy(DOCS);
    let e = p.explain_access(&AccessContext::new("internal", Access::Resource("internal://%63redentials")));
    assert_eq!(e.verdict, Verdict::Deny);
    let failed: Vec<_> = e.checks.iter().filter(|c| !c.passed).collect();
    assert!(
        failed.iter().any(|c| c.rule_id == "no-credentials" && c.detail.starts_with("percent-decoded")),
        "{:#?}",
        e.checks
    );
    assert!(e.checks.iter().any(|c| c.passed && c.constraint == "uri_syntax"));
}
