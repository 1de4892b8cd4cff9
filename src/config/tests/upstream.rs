//! `[[upstreams]]`: names and prefixes, transports, commands, `env:` values,
//! headers and URLs that must never leak a secret, pinned roots.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{err, ok, parse_with, MINIMAL};
use crate::config::{PinnedRoot, UpstreamTransport};

#[test]
fn pinned_roots_become_file_uris_relative_to_the_config() {
    let files = "[[upstreams]]\nname = \"files\"\ntransport = \"stdio\"\ncommand = \"npx\"\n";
    let c = ok(&format!("{MINIMAL}{files}roots = [\"/srv/shared docs\", \"data\"]\n"));
    let roots = c.upstreams[0].roots.clone().expect("roots pinned");
    assert_eq!(roots[0], PinnedRoot { uri: "file:///srv/shared%20docs".into(), name: "shared docs".into() });
    assert_eq!(roots[1], PinnedRoot { uri: "file:///etc/warden/data".into(), name: "data".into() });
    assert_eq!(ok(&format!("{MINIMAL}{files}roots = []\n")).upstreams[0].roots, Some(Vec::new()));
    assert_eq!(ok(&format!("{MINIMAL}{files}")).upstreams[0].roots, None, "without roots the client's are relayed");
    assert!(err(&format!("{MINIMAL}{files}roots = [\"\"]\n")).contains("must not be empty"));
}

#[test]
fn bare_command_is_left_for_path_lookup() {
    let c = ok(&format!("{MINIMAL}[[upstreams]]\nname = \"files\"\ntransport = \"stdio\"\ncommand = \"npx\"\nargs = [\"-y\", \"pkg\"]\n"));
    let u = &c.upstreams[0];
    assert_eq!(u.prefix(), "files");
    assert_eq!(
        u.transport,
        UpstreamTransport::Stdio {
            command: PathBuf::from("npx"),
            args: vec!["-y".into(), "pkg".into()],
            cwd: None,
            env: BTreeMap::new(),
        }
    );
}

#[test]
fn exe_dir_placeholder_expands_to_executable_directory() {
    let c = ok(&format!("{MINIMAL}[[upstreams]]\nname = \"demo\"\ntransport = \"stdio\"\ncommand = \"${{exe_dir}}/examples/demo_upstream\"\n"));
    let UpstreamTransport::Stdio { command, .. } = &c.upstreams[0].transport else {
        panic!("stdio expected");
    };
    assert_eq!(command, Path::new("/opt/warden/bin/examples/demo_upstream"));
}

#[test]
fn placeholder_other_than_leading_exe_dir_is_refused() {
    let e =
        err(&format!("{MINIMAL}[[upstreams]]\nname = \"demo\"\ntransport = \"stdio\"\ncommand = \"/x/${{HOME}}/y\"\n"));
    assert!(e.starts_with("/etc/warden/gateway.toml:5:11: command"), "{e}");
    assert!(e.contains("only a leading ${exe_dir}"), "{e}");
}

#[test]
fn env_values_resolve_from_gateway_environment() {
    let text = format!("{MINIMAL}[[upstreams]]\nname = \"files\"\ntransport = \"stdio\"\ncommand = \"npx\"\nenv = {{ NODE_ENV = \"production\", TOKEN = \"env:FILES_TOKEN\" }}\n");
    let c = parse_with(&text, &[("FILES_TOKEN", "s3cret")]).unwrap();
    let UpstreamTransport::Stdio { env, .. } = &c.upstreams[0].transport else {
        panic!("stdio expected");
    };
    assert_eq!(env["NODE_ENV"], "production");
    assert_eq!(env["TOKEN"], "s3cret");
}

#[test]
fn missing_env_var_is_a_load_error_naming_it() {
    let text = format!("{MINIMAL}[[upstreams]]\nname = \"remote\"\ntransport = \"http\"\nurl = \"https://mcp.example.com/mcp\"\nheaders = {{ Authorization = \"env:REMOTE_TOKEN\" }}\n");
    let e = parse_with(&text, &[]).unwrap_err().to_string();
    assert_eq!(
        e,
        r#"/etc/warden/gateway.toml:6:29: upstream "remote": header "Authorization": environment variable REMOTE_TOKEN is not set"#
    );
}

#[test]
fn malformed_env_reference_is_refused() {
    let text = format!(
        "{MINIMAL}[[upstreams]]\nname = \"f\"\ntransport = \"stdio\"\ncommand = \"x\"\nenv = {{ A = \"env:\" }}\n"
    );
    assert!(err(&text).contains("is not an environment variable name"));
}

#[test]
fn secrets_never_appear_in_debug_output() {
    let text = format!("{MINIMAL}[[upstreams]]\nname = \"remote\"\ntransport = \"http\"\nurl = \"https://mcp.example.com/mcp\"\nheaders = {{ Authorization = \"env:REMOTE_TOKEN\" }}\n[[upstreams]]\nname = \"files\"\ntransport = \"stdio\"\ncommand = \"npx\"\nenv = {{ API_KEY = \"env:API_KEY\" }}\n");
    let c = parse_with(&text, &[("REMOTE_TOKEN", "Bearer hunter2"), ("API_KEY", "sk-live-42")]).unwrap();
    let debug = format!("{c:?}");
    assert!(!debug.contains("hunter2") && !debug.contains("sk-live-42"), "{debug}");
    assert!(debug.contains("Authorization") && debug.contains("***"), "{debug}");
    let UpstreamTransport::Http { headers, .. } = &c.upstreams[0].transport else {
        panic!("http expected");
    };
    assert_eq!(headers["Authorization"], "Bearer hunter2");
}

#[test]
fn header_value_error_does_not_echo_the_secret() {
    let text = format!("{MINIMAL}[[upstreams]]\nname = \"remote\"\ntransport = \"http\"\nurl = \"https://h/mcp\"\nheaders = {{ Authorization = \"env:T\" }}\n");
    let e = parse_with(&text, &[("T", "sec\nret")]).unwrap_err().to_string();
    assert!(!e.contains("sec"), "{e}");
    assert!(e.contains("not allowed in an HTTP header"), "{e}");
}

#[test]
fn duplicate_upstream_name_is_refused() {
    let up = "[[upstreams]]\nname = \"files\"\ntransport = \"stdio\"\ncommand = \"x\"\n";
    let e = err(&format!("{MINIMAL}{up}{up}"));
    assert_eq!(
        e,
        r#"/etc/warden/gateway.toml:7:8: duplicate upstream name "files": already defined at /etc/warden/gateway.toml:3:8"#
    );
}

#[test]
fn alias_colliding_with_another_prefix_is_refused() {
    let text = format!("{MINIMAL}[[upstreams]]\nname = \"files\"\ntransport = \"stdio\"\ncommand = \"x\"\n[[upstreams]]\nname = \"other\"\nalias = \"files\"\ntransport = \"stdio\"\ncommand = \"x\"\n");
    let e = err(&text);
    assert!(
        e.starts_with("/etc/warden/gateway.toml:8:9: upstream \"other\": tool prefix \"files\" is already used"),
        "{e}"
    );
}

#[test]
fn alias_is_the_prefix() {
    let c = ok(&format!(
        "{MINIMAL}[[upstreams]]\nname = \"filesystem\"\nalias = \"fs\"\ntransport = \"stdio\"\ncommand = \"x\"\n"
    ));
    assert_eq!(c.upstreams[0].prefix(), "fs");
    assert_eq!(c.upstreams[0].name, "filesystem");
}

#[test]
fn name_containing_separator_is_refused() {
    let e = err(&format!("{MINIMAL}[[upstreams]]\nname = \"my__files\"\ntransport = \"stdio\"\ncommand = \"x\"\n"));
    assert!(
        e.starts_with("/etc/warden/gateway.toml:3:8: upstream name \"my__files\" clashes with the separator \"__\""),
        "{e}"
    );
}

#[test]
fn name_ending_in_half_a_separator_is_refused() {
    // "files_" + "__" + "read" = "files___read", which splits as "files" + "_read".
    let e = err(&format!("{MINIMAL}[[upstreams]]\nname = \"files_\"\ntransport = \"stdio\"\ncommand = \"x\"\n"));
    assert!(e.contains("clashes with the separator"), "{e}");
    // With a different separator the same name is fine.
    ok(&format!("{MINIMAL}[relay]\nseparator = \".\"\n[[upstreams]]\nname = \"files_\"\ntransport = \"stdio\"\ncommand = \"x\"\n"));
}

#[test]
fn alias_containing_separator_is_refused() {
    let e = err(&format!(
        "{MINIMAL}[[upstreams]]\nname = \"files\"\nalias = \"f__s\"\ntransport = \"stdio\"\ncommand = \"x\"\n"
    ));
    assert!(e.starts_with("/etc/warden/gateway.toml:4:9: upstream alias"), "{e}");
}

#[test]
fn name_with_bad_characters_is_refused() {
    for name in ["", "has space", "a/b", "ünï"] {
        let e = err(&format!("{MINIMAL}[[upstreams]]\nname = {name:?}\ntransport = \"stdio\"\ncommand = \"x\"\n"));
        assert!(e.starts_with("/etc/warden/gateway.toml:3:8: upstream name"), "{e}");
    }
}

#[test]
fn non_http_url_scheme_is_refused() {
    for url in ["ftp://host/mcp", "file:///etc/passwd", "127.0.0.1:9000/mcp"] {
        let e = err(&format!("{MINIMAL}[[upstreams]]\nname = \"r\"\ntransport = \"http\"\nurl = {url:?}\n"));
        assert!(e.starts_with("/etc/warden/gateway.toml:5:7: upstream \"r\": url"), "{e}");
    }
    let c = ok(&format!(
        "{MINIMAL}[[upstreams]]\nname = \"r\"\ntransport = \"http\"\nurl = \"http://127.0.0.1:9000/mcp\"\n"
    ));
    assert_eq!(
        c.upstreams[0].transport,
        UpstreamTransport::Http { url: "http://127.0.0.1:9000/mcp".into(), headers: BTreeMap::new() }
    );
}

#[test]
fn credentials_in_url_are_refused() {
    let e = err(&format!(
        "{MINIMAL}[[upstreams]]\nname = \"r\"\ntransport = \"http\"\nurl = \"https://user:pw@host/mcp\"\n"
    ));
    assert!(e.contains("must not embed credentials"), "{e}");
    assert!(!e.contains("pw@"), "{e}");
}

#[test]
fn fields_of_the_other_transport_are_refused() {
    let e = err(&format!(
        "{MINIMAL}[[upstreams]]\nname = \"r\"\ntransport = \"http\"\nurl = \"http://h/mcp\"\ncommand = \"x\"\n"
    ));
    assert_eq!(e, r#"/etc/warden/gateway.toml:6:11: upstream "r": `command` is only valid for transport = "stdio""#);
    let e = err(&format!(
        "{MINIMAL}[[upstreams]]\nname = \"f\"\ntransport = \"stdio\"\ncommand = \"x\"\nurl = \"http://h/mcp\"\n"
    ));
    assert!(e.contains("`url` is only valid for transport = \"http\""), "{e}");
}

#[test]
fn transport_without_its_required_field_is_refused() {
    let e = err(&format!("{MINIMAL}[[upstreams]]\nname = \"r\"\ntransport = \"http\"\n"));
    assert!(e.starts_with("/etc/warden/gateway.toml:4:13: upstream \"r\": transport = \"http\" needs `url`"), "{e}");
    let e = err(&format!("{MINIMAL}[[upstreams]]\nname = \"f\"\ntransport = \"stdio\"\n"));
    assert!(e.contains("needs `command`"), "{e}");
}

#[test]
fn unknown_transport_is_refused() {
    let e = err(&format!("{MINIMAL}[[upstreams]]\nname = \"r\"\ntransport = \"sse\"\nurl = \"http://h\"\n"));
    assert!(e.starts_with("/etc/warden/gateway.toml:4:13: unknown variant `sse`"), "{e}");
}

#[test]
fn an_upstream_header_cannot_replace_the_session_or_the_framing() {
    let upstream = "[[upstreams]]\nname = \"r\"\ntransport = \"http\"\nurl = \"https://h/mcp\"\n";
    for reserved in ["Mcp-Session-Id", "mcp-protocol-version", "Content-Type", "Host", "Accept"] {
        let e = err(&format!("{MINIMAL}{upstream}headers = {{ {reserved} = \"x\" }}\n"));
        assert!(e.starts_with("/etc/warden/gateway.toml:6:11: upstream \"r\":"), "{e}");
        assert!(e.contains("is set by the gateway and cannot be configured"), "{e}");
    }
    let e = err(&format!("{MINIMAL}{upstream}headers = {{ \"bad header\" = \"x\" }}\n"));
    assert!(e.contains("upstream \"r\": \"bad header\" is not a valid HTTP header name"), "{e}");
}

#[test]
fn an_upstream_url_is_never_echoed_in_errors() {
    for (url, problem) in [
        ("ftp://host/mcp?token=s3cret", "must start with http:// or https://"),
        ("host/mcp?token=s3cret", "is not a valid URL"),
    ] {
        let e = err(&format!("{MINIMAL}[[upstreams]]\nname = \"r\"\ntransport = \"http\"\nurl = {url:?}\n"));
        assert!(e.starts_with(&format!("/etc/warden/gateway.toml:5:7: upstream \"r\": url {problem}")), "{e}");
        assert!(!e.contains("s3cret"), "{e}");
    }
}
