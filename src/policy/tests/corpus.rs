//! The attack corpora in `tests/data/` (public payload lists nobody on this
//! project wrote) and a realistic benign set, with figures printed for the
//! report (`cargo test --lib corpus -- --nocapture`).

use serde_json::json;

use super::policy;
use crate::policy::{CallContext, Decision, Policy, Verdict};

const PATH_TRAVERSAL: &str = include_str!("../../../tests/data/path_traversal.txt");
const COMMAND_INJECTION: &str = include_str!("../../../tests/data/command_injection.txt");
const COMMAND_INJECTION_UNIX: &str = include_str!("../../../tests/data/command_injection_unix.txt");
const SSRF_URLS: &str = include_str!("../../../tests/data/ssrf_urls.txt");
const SSRF_BYPASSES: &str = include_str!("../../../tests/data/ssrf_bypasses.txt");
const CRLF_INJECTION: &str = include_str!("../../../tests/data/crlf_injection.txt");

/// Payload lines: `#` lines are headers; an empty line is not a payload.
fn payloads(corpus: &str) -> Vec<&str> {
    corpus.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).collect()
}

fn guard(arg_table: &str) -> Policy {
    policy(&format!(
        "[[rules]]\nid = \"guarded\"\nserver = \"srv\"\ntools = [\"t\"]\naction = \"allow\"\nargs.v = {arg_table}\n"
    ))
}

fn decide(p: &Policy, value: &str) -> Decision {
    let args = json!({ "v": value });
    let d = p.decide(&CallContext::new("srv", "t", Some(&args)));
    // `explain` must reach the same verdict through the same checks.
    let e = p.explain(&CallContext::new("srv", "t", Some(&args)));
    assert_eq!((d.verdict, &d.constraint, &d.reason), (e.verdict, &e.constraint, &e.reason), "{value:?}");
    d
}

/// Returns the values that were allowed.
fn allowed<'a>(p: &Policy, values: &[&'a str]) -> Vec<&'a str> {
    values.iter().copied().filter(|v| decide(p, v).verdict == Verdict::Allow).collect()
}

fn refused<'a>(p: &Policy, values: &[&'a str]) -> Vec<&'a str> {
    values.iter().copied().filter(|v| decide(p, v).verdict == Verdict::Deny).collect()
}

fn report(what: &str, blocked: usize, total: usize) {
    println!("{what}: {blocked}/{total} refused");
}

#[test]
fn every_path_traversal_payload_is_refused_by_path_within() {
    let p = guard(r#"{ path_within = ["/srv/projects"] }"#);
    let all = payloads(PATH_TRAVERSAL);
    assert_eq!(all.len(), 140);
    let passed = allowed(&p, &all);
    report("path_traversal.txt by path_within", all.len() - passed.len(), all.len());
    assert!(passed.is_empty(), "allowed: {passed:#?}");
}

#[test]
fn path_traversal_payloads_mostly_escape_the_root_even_with_hidden_files_allowed() {
    // With `allow_hidden = true`, what is left is `.htaccess` spelled
    // relative to the root (plain, `./`-prefixed, percent-encoded): it names a
    // file *inside* the root, so only the hidden-file rule refuses it.
    let p = guard(r#"{ path_within = ["/srv/projects"], allow_hidden = true }"#);
    let all = payloads(PATH_TRAVERSAL);
    let passed = allowed(&p, &all);
    report("path_traversal.txt by path_within with allow_hidden", all.len() - passed.len(), all.len());
    for value in &passed {
        let decoded = crate::policy::decode::fully_decoded(value).unwrap();
        assert!(decoded.trim_start_matches("./").trim_start_matches("./") == ".htaccess", "{value}");
    }
    assert_eq!(passed.len(), 6, "{passed:#?}");
}

/// A character a POSIX shell gives meaning to (or a control character).
fn has_shell_syntax(decoded: &str) -> bool {
    decoded.chars().any(|c| c.is_control() || ";|&$`<>(){}[]*?\\'\"".contains(c))
}

#[test]
fn every_command_injection_payload_with_shell_syntax_is_refused_by_no_shell_metachars() {
    let p = guard("{ no_shell_metachars = true }");
    for (name, corpus, expected_total) in
        [("command_injection.txt", COMMAND_INJECTION, 448), ("command_injection_unix.txt", COMMAND_INJECTION_UNIX, 83)]
    {
        let all = payloads(corpus);
        assert_eq!(all.len(), expected_total, "{name}");
        let passed = allowed(&p, &all);
        report(&format!("{name} by no_shell_metachars"), all.len() - passed.len(), all.len());
        // What passes is a bare command with no shell syntax in any decoding
        // (`whoami`, `ls -l /tmp`, `cat /etc/passwd`): not an injection into a
        // command line but a whole command, which only an allowlist can refuse
        // (next test). Everything with shell syntax, however encoded, is refused.
        for value in &passed {
            let decoded = crate::policy::decode::fully_decoded(value).unwrap();
            assert!(!has_shell_syntax(&decoded), "{name}: allowed with shell syntax: {value:?}");
            assert!(value.chars().all(|c| c.is_ascii_alphanumeric() || " ./:_-".contains(c)), "{value:?}");
        }
        println!("  of which bare commands without shell syntax: {}", passed.len());
    }
}

#[test]
fn every_command_injection_payload_is_refused_by_a_command_allowlist() {
    // The shipped shape for a command tool: metacharacters refused, and the
    // command itself confined to an allowlist.
    let p = guard(r#"{ no_shell_metachars = true, pattern = "git (status|log|diff|show)( [-A-Za-z0-9_./=]+)*" }"#);
    for (name, corpus) in
        [("command_injection.txt", COMMAND_INJECTION), ("command_injection_unix.txt", COMMAND_INJECTION_UNIX)]
    {
        let all = payloads(corpus);
        let passed = allowed(&p, &all);
        report(&format!("{name} by no_shell_metachars + pattern allowlist"), all.len() - passed.len(), all.len());
        assert!(passed.is_empty(), "{name}: allowed {passed:#?}");
    }
}

#[test]
fn every_ssrf_url_is_refused_by_deny_private_ips() {
    let p = guard("{ deny_private_ips = true }");
    let all = payloads(SSRF_URLS);
    assert_eq!(all.len(), 20);
    let passed = allowed(&p, &all);
    report("ssrf_urls.txt by deny_private_ips", all.len() - passed.len(), all.len());
    assert!(passed.is_empty(), "allowed: {passed:#?}");
}

#[test]
fn every_ssrf_bypass_is_refused_but_names_only_dns_can_tell() {
    let p = guard("{ deny_private_ips = true }");
    let all = payloads(SSRF_BYPASSES);
    assert_eq!(all.len(), 54);
    let passed = allowed(&p, &all);
    report("ssrf_bypasses.txt by deny_private_ips", all.len() - passed.len(), all.len());
    // Public names whose DNS answer is loopback (the payload list says so):
    // only a resolver can tell, which the gateway is not (README, deny_private_ips).
    assert_eq!(passed, ["http://mail.ebc.apple.com", "http://bugbounty.dod.network"]);
    // An allowlist of hosts refuses them all, those two included.
    let p = guard(r#"{ url_schemes = ["https", "http"], url_hosts = ["example.com", "google.com"] }"#);
    let passed = allowed(&p, &all);
    report("ssrf_bypasses.txt by url_hosts", all.len() - passed.len(), all.len());
    assert!(passed.is_empty(), "allowed: {passed:#?}");
}

#[test]
fn every_crlf_injection_payload_is_refused_by_mail_header() {
    let p = guard("{ mail_header = true }");
    let all = payloads(CRLF_INJECTION);
    assert_eq!(all.len(), 17);
    let passed = allowed(&p, &all);
    report("crlf_injection.txt by mail_header", all.len() - passed.len(), all.len());
    assert!(passed.is_empty(), "allowed: {passed:#?}");
    // The same payloads as a display name in front of an allowed address.
    let p = guard(r#"{ email_domain = ["example.com"] }"#);
    let named: Vec<String> = all.iter().map(|v| format!("\"{v}\" <alice@example.com>")).collect();
    let named: Vec<&str> = named.iter().map(String::as_str).collect();
    let passed = allowed(&p, &named);
    report("crlf_injection.txt as display names by email_domain", named.len() - passed.len(), named.len());
    assert!(passed.is_empty(), "allowed: {passed:#?}");
}

const BENIGN_PATHS: &[&str] = &[
    "README.md",
    "src/main.rs",
    "./notes/todo.txt",
    "docs/../CHANGELOG.md",
    "Zürich/Ω notes.md",
    "reports/2024 Q3/summary (final).pdf",
    "日本語/ファイル.txt",
    "Ελληνικά/αρχείο.md",
    "emoji 🎉/party.txt",
    "name with  double  spaces.txt",
    "data/100% done.csv",
    "file.with.many.dots.tar.gz",
    "foo..bar",
    "src\\windows\\style.rs",
    "/srv/projects",
    "/srv/projects/",
    "/srv/projects/app/src/lib.rs",
    "/srv/projects/Zürich/Ω notes.md",
    "/srv/projects/a/./b/../c.txt",
    "/srv/projects/deeply/nested/dir/structure/file.json",
    "/srv/projects/C:/not-a-drive-here",
    "café/menu – 2024.docx",
];

const BENIGN_COMMANDS: &[&str] = &[
    "ls -la",
    "ls -la /srv/projects/Zürich",
    "git status",
    "git log --oneline -n 20",
    "git diff HEAD~1 --stat",
    "npm test",
    "cargo build --release",
    "python3 -m pytest tests/unit -x",
    "grep -rn TODO src",
    "echo hello world",
    "du -sh /srv/projects",
    "tar -czf backup.tar.gz src",
    "ping -c 4 example.com",
    "make -j4 all",
    "kubectl get pods -n default --output=wide",
    "curl -sS https://example.com/api/v1/items",
    "sed -n 1,20p file.txt",
    "wc -l README.md",
    "echo 100% done",
    "find . -name main.rs -type f",
    "git diff HEAD~1 HEAD",
    "git log --since=2.weeks --author=alice",
    "grep -n TODO -- src/main.rs",
    "cargo test -- --nocapture",
    "npm run build -- --prod",
    "ls -la ./src",
    "echo a=b c:d",
    "git show HEAD^ --stat",
];

const BENIGN_URLS: &[&str] = &[
    "https://example.com/",
    "https://www.rust-lang.org/learn",
    "https://8.8.8.8/",
    "https://1.1.1.1/dns-query?name=example.com&type=A",
    "https://[2606:4700::1111]/",
    "https://[2001:4860:4860::8888]/resolve?name=example.com",
    "https://api.github.com/repos/rust-lang/rust/issues?state=open&per_page=50",
    "https://en.wikipedia.org/wiki/Z%C3%BCrich",
    "https://münchen.de/stadtplan",
    "https://docs.rs/url/2.5.8/url/struct.Url.html#method.parse",
    "http://example.org:8080/path?q=1",
    "https://news.ycombinator.com/item?id=123456",
    "https://www.google.com/search?q=ssrf+prevention&hl=en",
    "https://storage.googleapis.com/bucket/object.json",
    "https://s3.amazonaws.com/bucket/key?versionId=abc",
    "https://example.com/login?next=/dashboard",
    "https://example.com/share?url=https://example.org/article",
    "https://github.com/rust-lang/rust/releases/tag/1.95.0",
    "https://github.com/org/repo/blob/v10.0.0.1/README.md",
    "https://172.32.0.1/",
    "https://100.128.0.1/",
    "https://192.169.1.1/",
    "https://11.0.0.1/status",
    "https://www.google.com/search?q=what+is+10.0.0.1",
    "https://www.bing.com/search?q=192.168.1.1+admin+password",
    "https://medium.com/@user/post-title-123",
    "https://example.com:8443/api/v2/items?page=2",
    "https://xn--mnchen-3ya.de/",
    "https://docs.python.org/3/library/ipaddress.html#ipaddress.ip_address",
    "https://example.com/?next=https://example.org/a&lang=en",
    "https://deadbeef.example.net/",
];

const BENIGN_EMAILS: &[&str] = &[
    "alice@example.com",
    "Bob Smith <bob@example.com>",
    "\"Bob\" <bob@example.com>",
    "carol.jones+newsletter@example.com",
    "dave@mail.example.org",
    "ERIN@EXAMPLE.COM",
    "frank_o'neil@example.com",
    "müller@example.com",
    "team-lead@eu.mail.example.org",
    "Zoë Ångström <zoe@example.com>",
    "\"Smith, Alice\" <alice@example.com>",
    "\"O'Brien; Pat\" <pat@example.com>",
    "=?utf-8?q?Zo=C3=AB?= <zoe@example.com>",
    "<carol@example.com>",
    "John Q. Public <john@mail.example.org>",
];

const BENIGN_SUBJECTS: &[&str] = &[
    "Release notes",
    "Re: Überweisung – Q3",
    "Meeting at 10:00 (room 4)",
    "[JIRA] (PROJ-123) Fix the login bug",
    "Invoice #2024-001: 50% paid",
    "Fwd: =?utf-8?q?R=C3=A9union?=",
    "=?ISO-8859-1?Q?Caf=E9?=",
    "日本語の件名",
    "Weekly report\tdraft",
    "Q&A: what is =?",
];

#[test]
fn realistic_benign_values_all_pass() {
    let sets: [(&str, Policy, &[&str]); 5] = [
        (
            "paths (path_within)",
            guard(r#"{ path_within = ["/srv/projects"], path_deny = ["**/.ssh/**", "**/.env"] }"#),
            BENIGN_PATHS,
        ),
        ("commands (no_shell_metachars)", guard("{ no_shell_metachars = true }"), BENIGN_COMMANDS),
        (
            "URLs (url_schemes + deny_private_ips)",
            guard(r#"{ url_schemes = ["https", "http"], deny_private_ips = true }"#),
            BENIGN_URLS,
        ),
        ("emails (email_domain)", guard(r#"{ email_domain = ["example.com", "*.example.org"] }"#), BENIGN_EMAILS),
        ("subjects (mail_header)", guard("{ mail_header = true }"), BENIGN_SUBJECTS),
    ];
    let mut false_positives = Vec::new();
    let mut total = 0;
    for (what, p, values) in &sets {
        let refused = refused(p, values);
        println!("benign {what}: {}/{} false positives", refused.len(), values.len());
        total += values.len();
        false_positives.extend(refused.into_iter().map(|v| (*what, v)));
    }
    println!("benign overall: {}/{total} false positives", false_positives.len());
    assert_eq!(false_positives.len(), 0, "{false_positives:#?}");
}

#[test]
fn email_lists_of_internal_addresses_pass() {
    let p = guard(r#"{ max_items = 10, email_domain = ["example.com"], each = true }"#);
    let args = json!({"v": ["alice@example.com", "Bob <bob@example.com>"]});
    assert_eq!(p.decide(&CallContext::new("srv", "t", Some(&args))).verdict, Verdict::Allow);
}
