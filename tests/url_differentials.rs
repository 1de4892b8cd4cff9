//! URL parser differentials, tested against the real parsers the gateway
//! stands in front of: Python's `urllib.parse` and `httpx` (tests/peers/
//! url_readings.py), the WHATWG parser in Node (url_readings.mjs), and curl
//! (through a proxy on 127.0.0.1 that records where curl would connect and
//! answers 403, so nothing leaves this machine).
//!
//! Tens of thousands of URLs are built from pieces that are known to split
//! parsers (schemes with odd slashes, userinfo, backslashes, fragments and
//! queries before an `@`, encoded and Unicode hosts, numeric hosts, odd
//! ports). The property: whatever the gateway lets through is read by every
//! one of those clients as the same host and port, the one the policy allowed.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::peers::{peer_file, peer_script, python};
use mcp_warden::policy::{CallContext, Policy, Verdict};
use serde_json::{json, Value};

const SCHEMES: &[&str] = &[
    "https://",
    "HTTPS://",
    "http://",
    "hTTp://",
    "https:/",
    "https:",
    "https:///",
    "https:\\\\",
    "https:\\/",
    " https://",
];
const BEFORE_HOST: &[&str] = &[
    "",
    "user@",
    "user:pass@",
    "@",
    "evil.example.net@",
    "allowed.example.com@",
    "evil.example.net\\@",
    "allowed.example.com%40",
    "evil.example.net#@",
    "evil.example.net?@",
    "evil.example.net%2f@",
    "evil.example.net%23@",
];
const HOSTS: &[&str] = &[
    "allowed.example.com",
    "ALLOWED.Example.COM",
    "allowed.example.com.",
    "allowed.example.com:8443",
    "allowed.example.com:443",
    "allowed。example",
    "allowed．example",
    "ａllowed.example",
    "allowed.exam%70le",
    "allowed.example.com%00",
    "allowed.ex\u{AD}ample",
    "allowed.exa\tmple",
    "allowed.example.com\\",
    "allowed.example.com:0443",
    "allowed.example.com:",
    "allowed.example.com:80:443",
    "allowed.example.com:65536",
    "[allowed.example.com]",
    "allowed.example.com%2f.evil.example.net",
    "allowed.example.com%23.evil.example.net",
    "allowed.example.com.evil.example.net",
    "evil.example.net",
    "münchen.example.com",
    "faß.example.com",
    "127.0.0.1",
    "2130706433",
    "0x7f.1",
    "127.1",
    "1.2.3.010",
    "[::1]",
    "[::ffff:127.0.0.1]",
    "[::1%25lo]",
    "8.8.8.8",
];
const AFTER_HOST: &[&str] = &[
    "",
    "/",
    "/path?q=1#f",
    "?q",
    "#f",
    "@evil.example.net/",
    "\\@evil.example.net/",
    "#@evil.example.net",
    "?@evil.example.net",
    ":443@evil.example.net/",
    "%2f@evil.example.net",
    "\\.evil.example.net/",
    ".evil.example.net/",
    "/@evil.example.net",
    " /",
    "\t/",
    "%09/",
];

fn urls() -> Vec<String> {
    let mut out = Vec::new();
    for scheme in SCHEMES {
        for before in BEFORE_HOST {
            for host in HOSTS {
                for after in AFTER_HOST {
                    out.push(format!("{scheme}{before}{host}{after}"));
                }
            }
        }
    }
    out
}

fn policy(args: &str) -> Policy {
    let text = format!(
        "[[rules]]\nid = \"fetch\"\nserver = \"s\"\ntools = [\"fetch\"]\naction = \"allow\"\nargs.url = {args}\n"
    );
    Policy::from_sources(&[("policy.toml".into(), text)]).expect("test policy loads")
}

fn accepted<'u>(policy: &Policy, urls: &'u [String]) -> Vec<&'u String> {
    urls.iter()
        .filter(|url| {
            let args = json!({ "url": url });
            policy.decide(&CallContext::new("s", "fetch", Some(&args))).verdict == Verdict::Allow
        })
        .collect()
}

/// A host as a client would look it up: lowercase, no brackets, no trailing
/// dot, IDNA-encoded (Python hands `münchen.example.com` to its IDNA codec).
fn normal(host: &str) -> String {
    let host = host.trim_start_matches('[').trim_end_matches(']').trim_end_matches('.').to_lowercase();
    if host.is_ascii() {
        host
    } else {
        url::Host::parse(&host).map(|h| h.to_string()).unwrap_or(host)
    }
}

fn reading(value: &Value) -> Option<(String, u64)> {
    let pair = value.as_array()?;
    Some((normal(pair.first()?.as_str()?), pair.get(1)?.as_u64()?))
}

/// Each URL's reading by Python's `urllib` and `httpx`, and by WHATWG (Node).
fn library_readings(urls: &[&String]) -> Vec<BTreeMap<&'static str, Option<(String, u64)>>> {
    let input = serde_json::to_vec(urls).unwrap();
    let run = |program: std::path::PathBuf, script: &str| -> Value {
        let mut child = Command::new(program)
            .arg(peer_script(script))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("parser peer starts");
        child.stdin.take().unwrap().write_all(&input).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{script} failed");
        serde_json::from_slice(&out.stdout).expect("parser peer answers JSON")
    };
    let python = run(python(), "url_readings.py");
    let node = run(peer_file("node22/bin/node", "Node 22"), "url_readings.mjs");
    (0..urls.len())
        .map(|i| {
            BTreeMap::from([
                ("urllib", reading(&python[i]["urllib"])),
                ("httpx", reading(&python[i]["httpx"])),
                ("whatwg", reading(&node[i])),
            ])
        })
        .collect()
}

/// Where curl would connect for `url`: it is sent through a proxy on
/// 127.0.0.1 that records the request line (`CONNECT host:port` for https,
/// `GET http://host:port/...` for http) and refuses it.
fn curl_reading(url: &str) -> Option<(String, u64)> {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        if let Ok((stream, _)) = listener.accept() {
            let mut line = String::new();
            let _ = BufReader::new(&stream).read_line(&mut line);
            let _ = (&stream).write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            let _ = tx.send(line);
        }
    });
    let _ = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "--max-time", "5", "--noproxy", "", "-x", &proxy, "--", url])
        .stdin(Stdio::null())
        .env_clear()
        .env("LC_ALL", "C.UTF-8")
        .status()
        .expect("curl runs");
    let line = rx.recv_timeout(Duration::from_secs(1)).ok()?;
    let target = line.split(' ').nth(1)?;
    let authority = match target.strip_prefix("http://") {
        Some(rest) => rest.split('/').next()?,
        None => target,
    };
    let (host, port) = authority.rsplit_once(':').map_or((authority, "80"), |(h, p)| (h, p));
    Some((normal(host), port.parse().ok()?))
}

fn curl_available() -> bool {
    Command::new("curl").arg("--version").stdout(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// Checks every accepted URL's readings with `expect`. curl is on every
/// machine this project runs on (CI installs it); without it the Python and
/// WHATWG readings are still checked.
fn check_readings(accepted: &[&String], expect: impl Fn(&str, &BTreeMap<&'static str, Option<(String, u64)>>)) {
    let readings = library_readings(accepted);
    let curl = curl_available();
    for (url, mut by) in accepted.iter().zip(readings) {
        if curl {
            by.insert("curl", curl_reading(url));
        }
        expect(url, &by);
    }
}

#[test]
fn a_url_allowed_to_one_host_is_read_as_that_host_by_every_client() {
    let all = urls();
    let p = policy(r#"{ url_schemes = ["http", "https"], url_hosts = ["allowed.example.com"] }"#);
    let through = accepted(&p, &all);
    println!("url_hosts: {} of {} generated URLs accepted", through.len(), all.len());
    // The plain spellings must pass, or this test would prove nothing.
    for plain in [
        "https://allowed.example.com/path?q=1#f",
        "HTTPS://ALLOWED.Example.COM/",
        "https://allowed.example.com:8443?q",
        "http://allowed.example.com.?q",
    ] {
        assert!(through.iter().any(|u| u.as_str() == plain), "{plain} was refused");
    }
    check_readings(&through, |url, by| {
        let ports: Vec<u64> = by.values().filter_map(|r| r.as_ref().map(|(_, p)| *p)).collect();
        for (parser, reading) in by {
            let (host, _) = reading.as_ref().unwrap_or_else(|| panic!("{parser} cannot read {url:?}"));
            assert_eq!(host, "allowed.example.com", "{parser} reads {url:?} as another host");
        }
        assert!(ports.windows(2).all(|w| w[0] == w[1]), "clients disagree on the port of {url:?}: {by:?}");
    });
}

#[test]
fn a_url_that_passes_deny_private_ips_is_read_alike_by_every_client() {
    let all = urls();
    let p = policy(r#"{ url_schemes = ["http", "https"], deny_private_ips = true }"#);
    let through = accepted(&p, &all);
    println!("deny_private_ips: {} of {} generated URLs accepted", through.len(), all.len());
    for plain in ["https://8.8.8.8/", "https://münchen.example.com/path?q=1#f", "http://evil.example.net#f"] {
        assert!(through.iter().any(|u| u.as_str() == plain), "{plain} was refused");
    }
    check_readings(&through, |url, by| {
        // A client that cannot read the URL connects nowhere; every client
        // that can must read the same host and port.
        let readings: Vec<&(String, u64)> = by.values().flatten().collect();
        assert!(readings.len() >= 3, "most clients cannot read {url:?}: {by:?}");
        assert!(readings.windows(2).all(|w| w[0] == w[1]), "clients read {url:?} differently: {by:?}");
        if let Ok(ip) = readings[0].0.parse::<std::net::IpAddr>() {
            let local = match ip {
                std::net::IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
                std::net::IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some(),
            };
            assert!(!local, "{url:?} reaches {ip}");
        }
    });
}
