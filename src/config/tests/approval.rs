//! `[admin]` and `[approval]`: the token that guards the admin listener, where
//! held calls are stored, and the webhook channel with its secrets.
use std::path::Path;
use std::time::Duration;

use super::{err, ok, parse_with, MINIMAL};

#[test]
fn admin_listener_needs_a_strong_token_and_binds_loopback_by_default() {
    let c = parse_with(
        &format!("{MINIMAL}[admin]\ntoken = \"env:WARDEN_ADMIN_TOKEN\"\n"),
        &[("WARDEN_ADMIN_TOKEN", "0123456789abcdef0123")],
    )
    .unwrap();
    let admin = c.admin.expect("[admin] configured");
    assert_eq!(admin.listen, "127.0.0.1:8081".parse().unwrap());
    assert_eq!(admin.token, "0123456789abcdef0123");
    assert!(!format!("{admin:?}").contains("0123456789"), "the token never reaches a log");
    assert!(ok(MINIMAL).admin.is_none());
    assert!(err(&format!("{MINIMAL}[admin]\nlisten = \"127.0.0.1:8081\"\n")).contains("needs token"));
    assert!(err(&format!("{MINIMAL}[admin]\ntoken = \"env:UNSET_ADMIN_TOKEN\"\n")).contains("is not set"));
    assert!(err(&format!("{MINIMAL}[admin]\ntoken = \"short\"\n")).contains("at least 16"));
    assert!(err(&format!("{MINIMAL}[admin]\nlisten = \"nowhere\"\ntoken = \"0123456789abcdef\"\n"))
        .contains("not an address"));
}

#[test]
fn approval_store_defaults_next_to_the_audit_file() {
    let c = ok(&format!("{MINIMAL}[audit]\npath = \"logs/audit.jsonl\"\n"));
    assert_eq!(c.approval.store, Path::new("/etc/warden/logs/approvals.sqlite"));
    // The shared cap bounds memory; the per-session and per-caller caps keep clients apart.
    assert_eq!(c.approval.max_pending, 10_000);
    assert_eq!(c.approval.max_pending_per_session, 20);
    assert_eq!(c.approval.max_pending_per_caller, 100);
    assert_eq!(c.approval.progress_interval, Duration::from_secs(5));
    let c = ok(&format!("{MINIMAL}[approval]\nstore = \"state/a.sqlite\"\nmax_pending = 5\n"));
    assert_eq!(c.approval.store, Path::new("/etc/warden/state/a.sqlite"));
    assert_eq!(c.approval.max_pending, 5);
    assert_eq!(c.approval.max_pending_per_session, 5, "never above the gateway-wide cap by default");
    assert!(err(&format!("{MINIMAL}[approval]\nmax_pending = 0\n")).contains("greater than 0"));
}

const WEBHOOK_SECRET: &str = "whsec-0123456789abcdef0123456789abcdef";

/// `[admin]` and a complete `[approval.webhook]`, with `extra` appended to the latter.
fn webhook_text(extra: &str) -> String {
    format!(
        "{MINIMAL}[admin]\ntoken = \"0123456789abcdef\"\n[approval.webhook]\nurl = \"env:HOOK_URL\"\n\
         secret = \"env:HOOK_SECRET\"\ncallback_url = \"https://warden.corp.example:8081/\"\n{extra}"
    )
}

fn webhook_env() -> [(&'static str, &'static str); 3] {
    [
        ("HOOK_URL", "https://hooks.example.com/services/T0/B0/tokenpart"),
        ("HOOK_SECRET", WEBHOOK_SECRET),
        ("TICKET_TOKEN", "Bearer tk-998877"),
    ]
}

fn webhook_err(text: &str) -> String {
    parse_with(text, &webhook_env()).expect_err("config should be refused").to_string()
}

#[test]
fn webhook_loads_with_defaults_and_never_prints_its_secrets() {
    let text = webhook_text("headers = { Authorization = \"env:TICKET_TOKEN\", X-Team = \"sec\" }\n");
    let c = parse_with(&text, &webhook_env()).unwrap();
    let hook = c.approval.webhook.clone().expect("webhook configured");
    assert_eq!(hook.url, "https://hooks.example.com/services/T0/B0/tokenpart");
    assert_eq!(hook.secret, WEBHOOK_SECRET);
    assert_eq!(hook.callback_url, "https://warden.corp.example:8081", "no trailing '/'");
    assert_eq!(hook.timeout, Duration::from_secs(5));
    assert_eq!(hook.attempts, 3);
    assert_eq!(hook.headers["Authorization"], "Bearer tk-998877");
    let debug = format!("{c:?}");
    for secret in [WEBHOOK_SECRET, "tokenpart", "tk-998877"] {
        assert!(!debug.contains(secret), "{secret} in {debug}");
    }
    assert!(debug.contains("https://hooks.example.com") && debug.contains("Authorization"), "{debug}");
    assert!(ok(MINIMAL).approval.webhook.is_none());

    let c = parse_with(&webhook_text("timeout = \"1500ms\"\nattempts = 5\n"), &webhook_env()).unwrap();
    let hook = c.approval.webhook.unwrap();
    assert_eq!((hook.timeout, hook.attempts), (Duration::from_millis(1500), 5));
}

#[test]
fn webhook_without_the_admin_listener_is_refused() {
    let text = format!(
        "{MINIMAL}[approval.webhook]\nurl = \"https://h/x\"\nsecret = \"{WEBHOOK_SECRET}\"\ncallback_url = \"https://w\"\n"
    );
    let e = webhook_err(&text);
    assert!(e.starts_with("/etc/warden/gateway.toml:2:"), "{e}");
    assert!(e.contains("[approval.webhook] needs [admin]"), "{e}");
}

#[test]
fn webhook_required_fields_are_named() {
    let admin = format!("{MINIMAL}[admin]\ntoken = \"0123456789abcdef\"\n[approval.webhook]\n");
    let e = webhook_err(&format!("{admin}secret = \"{WEBHOOK_SECRET}\"\ncallback_url = \"https://w\"\n"));
    assert!(e.starts_with("/etc/warden/gateway.toml:4:") && e.contains("needs url"), "{e}");
    let e = webhook_err(&format!("{admin}url = \"https://h/x\"\ncallback_url = \"https://w\"\n"));
    assert!(e.contains("needs secret"), "{e}");
    let e = webhook_err(&format!("{admin}url = \"https://h/x\"\nsecret = \"{WEBHOOK_SECRET}\"\n"));
    assert!(e.contains("needs callback_url"), "{e}");
    let e = webhook_err(&format!(
        "{admin}url = \"env:UNSET_HOOK\"\nsecret = \"{WEBHOOK_SECRET}\"\ncallback_url = \"https://w\"\n"
    ));
    assert!(e.starts_with("/etc/warden/gateway.toml:5:7:") && e.contains("UNSET_HOOK is not set"), "{e}");
}

#[test]
fn webhook_secret_must_be_long_and_is_never_echoed() {
    let text = webhook_text("").replace("env:HOOK_SECRET", "too-short-but-secret");
    let e = webhook_err(&text);
    assert!(e.starts_with("/etc/warden/gateway.toml:6:10: approval.webhook.secret must be at least 32"), "{e}");
    assert!(!e.contains("too-short"), "{e}");
}

#[test]
fn webhook_urls_must_be_plain_http_and_are_never_echoed() {
    for (url, problem) in [
        ("ftp://hooks.example.com/x", "must start with http:// or https://"),
        ("https://user:hunter2@hooks.example.com/x", "must not embed credentials"),
        ("hooks.example.com/x", "is not a valid URL"),
    ] {
        let e = parse_with(&webhook_text(""), &[("HOOK_URL", url), ("HOOK_SECRET", WEBHOOK_SECRET)])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("/etc/warden/gateway.toml:5:7: approval.webhook.url"), "{e}");
        assert!(e.contains(problem) && !e.contains("hunter2") && !e.contains(url), "{e}");
    }
    for callback in ["https://w.example/?a=1", "https://w.example/#x", "javascript:alert(1)", "/relative"] {
        let e = webhook_err(&webhook_text("").replace("https://warden.corp.example:8081/", callback));
        assert!(e.starts_with("/etc/warden/gateway.toml:7:16: approval.webhook.callback_url"), "{e}");
    }
    // A reverse proxy may serve the admin listener under a path.
    let text = webhook_text("").replace("https://warden.corp.example:8081/", "https://corp.example/warden/");
    let hook = parse_with(&text, &webhook_env()).unwrap().approval.webhook.unwrap();
    assert_eq!(hook.callback_url, "https://corp.example/warden");
}

#[test]
fn webhook_limits_and_headers_are_validated() {
    let e = webhook_err(&webhook_text("attempts = 0\n"));
    assert!(e.starts_with("/etc/warden/gateway.toml:8:12: approval.webhook.attempts must be from 1 to 10"), "{e}");
    assert!(webhook_err(&webhook_text("attempts = 11\n")).contains("from 1 to 10"));
    assert!(webhook_err(&webhook_text("timeout = \"0s\"\n")).contains("greater than 0"));
    let e = webhook_err(&webhook_text("timeout = \"soon\"\n"));
    assert!(e.starts_with("/etc/warden/gateway.toml:8:11:") && e.contains("not a duration"), "{e}");
    for reserved in ["X-Warden-Signature", "content-type", "Host"] {
        let e = webhook_err(&webhook_text(&format!("headers = {{ {reserved} = \"x\" }}\n")));
        assert!(e.contains("is set by the gateway"), "{e}");
    }
    let e = webhook_err(&webhook_text("headers = { \"bad header\" = \"x\" }\n"));
    assert!(e.contains("not a valid HTTP header name"), "{e}");
    let e = parse_with(
        &webhook_text("headers = { Authorization = \"env:T\" }\n"),
        &[("HOOK_URL", "https://h/x"), ("HOOK_SECRET", WEBHOOK_SECRET), ("T", "sec\nret")],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("not allowed in an HTTP header") && !e.contains("sec"), "{e}");
    let e = webhook_err(&webhook_text("retries = 2\n"));
    assert!(e.starts_with("/etc/warden/gateway.toml:8:1: unknown field `retries`"), "{e}");
}
