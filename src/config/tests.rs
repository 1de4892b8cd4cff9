//! Config loading, named for the mistake each test stops: the top-level
//! shape, `[listen]`, `[relay]` and `[audit]` here; `tests/upstream.rs` for
//! `[[upstreams]]`; `tests/approval.rs` for `[admin]` and `[approval]`.

mod approval;
mod upstream;

use std::env::VarError;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

pub(super) fn env_with<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Result<String, VarError> + 'a {
    move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()).ok_or(VarError::NotPresent)
}

pub(super) fn parse_with(text: &str, vars: &[(&str, &str)]) -> Result<GatewayConfig, ConfigError> {
    let var = env_with(vars);
    let env = Environment { var: &var, exe_dir: &|| Some(PathBuf::from("/opt/warden/bin")) };
    parse(text, Path::new("/etc/warden/gateway.toml"), &env)
}

pub(super) fn ok(text: &str) -> GatewayConfig {
    parse_with(text, &[]).unwrap_or_else(|e| panic!("config should load: {e}"))
}

pub(super) fn err(text: &str) -> String {
    parse_with(text, &[]).expect_err("config should be refused").to_string()
}

pub(super) const MINIMAL: &str = "policies = [\"../policies/default.toml\"]\n";

#[test]
fn defaults_bind_localhost_only() {
    let c = ok(MINIMAL);
    assert_eq!(c.source, Path::new("/etc/warden/gateway.toml"));
    assert_eq!(c.listen.http, "127.0.0.1:8080".parse().unwrap());
    assert!(c.listen.http.ip().is_loopback());
    assert_eq!(c.listen.path, "/mcp");
    assert!(c.listen.allowed_origins.is_empty());
    assert!(c.listen.allowed_hosts.is_empty());
    assert_eq!(c.listen.max_body_bytes, 4 * 1024 * 1024);
    assert_eq!(c.relay.separator, "__");
    assert_eq!(c.relay.request_timeout, Duration::from_secs(60));
    assert_eq!(c.listen.drain_timeout, Duration::from_secs(10));
    assert_eq!((c.relay.max_upstream_sessions, c.relay.max_inflight_per_session), (256, 100));
    assert_eq!(c.relay.max_message_bytes, 16 * 1024 * 1024);
    assert!(c.upstreams.is_empty());
    assert_eq!(c.audit.path, Path::new("/etc/warden/audit.jsonl"));
}

#[test]
fn relative_paths_resolve_against_config_dir() {
    let c = ok(r#"
policies = ["../policies/default.toml", "/abs/extra.toml"]
[audit]
path = "logs/audit.jsonl"
[[upstreams]]
name = "files"
transport = "stdio"
command = "./bin/server"
cwd = "work"
"#);
    assert_eq!(
        c.policies,
        vec![PathBuf::from("/etc/warden/../policies/default.toml"), PathBuf::from("/abs/extra.toml")]
    );
    assert_eq!(c.audit.path, Path::new("/etc/warden/logs/audit.jsonl"));
    let UpstreamTransport::Stdio { command, cwd, .. } = &c.upstreams[0].transport else {
        panic!("stdio expected");
    };
    assert_eq!(command, Path::new("/etc/warden/./bin/server"));
    assert_eq!(cwd.as_deref(), Some(Path::new("/etc/warden/work")));
}

#[test]
fn config_in_current_dir_keeps_relative_paths() {
    let var = env_with(&[]);
    let env = Environment { var: &var, exe_dir: &|| None };
    let c = parse(MINIMAL, Path::new("gateway.toml"), &env).unwrap();
    assert_eq!(c.policies, vec![PathBuf::from("../policies/default.toml")]);
    assert_eq!(c.audit.path, Path::new("audit.jsonl"));
}

#[test]
fn bad_listen_path_is_refused() {
    for path in ["mcp", "", "/m cp", "/mcp?x=1"] {
        let e = err(&format!("{MINIMAL}[listen]\npath = {path:?}\n"));
        assert!(e.starts_with("/etc/warden/gateway.toml:3:8: listen.path"), "{e}");
    }
    assert_eq!(ok(&format!("{MINIMAL}[listen]\npath = \"/gw/mcp\"\n")).listen.path, "/gw/mcp");
}

#[test]
fn bad_listen_address_is_refused() {
    let e = err(&format!("{MINIMAL}[listen]\nhttp = \"localhost\"\n"));
    assert!(e.starts_with("/etc/warden/gateway.toml:3:8: listen.http \"localhost\" is not an address:port"), "{e}");
    let c = ok(&format!("{MINIMAL}[listen]\nhttp = \"[::1]:9090\"\n"));
    assert_eq!(c.listen.http, "[::1]:9090".parse().unwrap());
}

#[test]
fn origins_and_hosts_must_be_well_formed() {
    let c = ok(&format!("{MINIMAL}[listen]\nallowed_origins = [\"https://app.example.com\", \"vscode-webview://abc\"]\nallowed_hosts = [\"gw.internal:8080\"]\n"));
    assert_eq!(c.listen.allowed_origins.len(), 2);
    assert_eq!(c.listen.allowed_hosts, vec!["gw.internal:8080".to_string()]);
    for origin in ["https://app.example.com/", "app.example.com", "*", "https://a.com/path"] {
        let e = err(&format!("{MINIMAL}[listen]\nallowed_origins = [{origin:?}]\n"));
        assert!(e.contains("allowed origin"), "{e}");
    }
    let e = err(&format!("{MINIMAL}[listen]\nallowed_hosts = [\"http://gw\"]\n"));
    assert!(e.contains("allowed host"), "{e}");
}

#[test]
fn sizes_and_timeouts_are_validated() {
    let c = ok(&format!("{MINIMAL}[listen]\nmax_body_bytes = 1024\n[relay]\nrequest_timeout = \"2m 30s\"\nmax_message_bytes = 2048\nseparator = \"-\"\n"));
    assert_eq!(c.listen.max_body_bytes, 1024);
    assert_eq!(c.relay.request_timeout, Duration::from_secs(150));
    assert_eq!(c.relay.max_message_bytes, 2048);
    assert_eq!(c.relay.separator, "-");
    assert!(err(&format!("{MINIMAL}[listen]\nmax_body_bytes = 0\n")).contains("greater than 0"));
    assert!(err(&format!("{MINIMAL}[listen]\nmax_body_bytes = -1\n")).starts_with("/etc/warden/gateway.toml:3:18:"));
    assert!(err(&format!("{MINIMAL}[relay]\nrequest_timeout = \"soon\"\n")).contains("is not a duration"));
    assert!(err(&format!("{MINIMAL}[relay]\nrequest_timeout = \"0s\"\n")).contains("greater than 0"));
    let c = ok(&format!(
        "{MINIMAL}[listen]\ndrain_timeout = \"3s\"\n[relay]\nmax_upstream_sessions = 4\nmax_inflight_per_session = 2\n"
    ));
    assert_eq!(c.listen.drain_timeout, Duration::from_secs(3));
    assert_eq!((c.relay.max_upstream_sessions, c.relay.max_inflight_per_session), (4, 2));
    assert!(err(&format!("{MINIMAL}[listen]\ndrain_timeout = \"never\"\n")).contains("listen.drain_timeout"));
    assert!(err(&format!("{MINIMAL}[relay]\nmax_upstream_sessions = 0\n")).contains("greater than 0"));
    assert!(err(&format!("{MINIMAL}[relay]\nseparator = \"\"\n")).contains("relay.separator"));
    assert!(err(&format!("{MINIMAL}[relay]\nseparator = \"/\"\n")).contains("relay.separator"));
}

#[test]
fn policies_are_required() {
    assert!(err("[listen]\n").contains("missing field `policies`"));
    assert_eq!(err("policies = []\n"), "/etc/warden/gateway.toml:1:12: policies must name at least one policy file");
}

#[test]
fn unknown_keys_fail_closed_with_line_numbers() {
    let e = err(&format!("{MINIMAL}[listen]\nhttp = \"127.0.0.1:1\"\nbind_all = true\n"));
    assert!(e.starts_with("/etc/warden/gateway.toml:4:1: unknown field `bind_all`"), "{e}");
    let e = err(&format!(
        "{MINIMAL}[[upstreams]]\nname = \"f\"\ntransport = \"stdio\"\ncommand = \"x\"\ninherit_env = true\n"
    ));
    assert!(e.starts_with("/etc/warden/gateway.toml:6:1: unknown field `inherit_env`"), "{e}");
    assert!(err("policies = [\"p\"]\n[approvals]\n").contains("unknown field `approvals`"));
}

#[test]
fn syntax_error_reports_file_line_col() {
    let e = err("policies = [\"p\"]\n[listen\n");
    assert!(e.starts_with("/etc/warden/gateway.toml:2:"), "{e}");
}

#[test]
fn load_names_unreadable_file() {
    let path = std::env::temp_dir().join("warden-config-does-not-exist/gateway.toml");
    let e = GatewayConfig::load(&path).unwrap_err().to_string();
    assert!(e.starts_with(&format!("{}: cannot read config file", path.display())), "{e}");
}

#[test]
fn a_wait_too_long_for_the_clock_is_refused_at_load_not_a_panic_later() {
    for key in ["[relay]\nrequest_timeout", "[listen]\ndrain_timeout", "[approval]\nprogress_interval"] {
        let e = err(&format!("{MINIMAL}{key} = \"400000000000years\"\n"));
        assert!(e.starts_with("/etc/warden/gateway.toml:3:") && e.ends_with("must be at most 24h"), "{e}");
    }
    let c = ok(&format!("{MINIMAL}[relay]\nrequest_timeout = \"24h\"\n"));
    assert_eq!(c.relay.request_timeout, Duration::from_secs(24 * 60 * 60));
}

#[test]
fn the_replay_buffer_is_a_bounded_positive_count_of_events() {
    assert_eq!(ok(MINIMAL).listen.replay_buffer, 100);
    assert_eq!(ok(&format!("{MINIMAL}[listen]\nreplay_buffer = 7\n")).listen.replay_buffer, 7);
    assert!(
        err(&format!("{MINIMAL}[listen]\nreplay_buffer = 0\n")).contains("listen.replay_buffer must be greater than 0")
    );
    let too_many = err(&format!("{MINIMAL}[listen]\nreplay_buffer = 1000000\n"));
    assert!(too_many.contains("at most 10000") && too_many.starts_with("/etc/warden/gateway.toml:3:"), "{too_many}");
}
