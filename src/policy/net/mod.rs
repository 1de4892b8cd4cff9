//! Network destinations: `url_schemes`, `url_hosts`, `deny_private_ips` and
//! `email_domain`.
//!
//! URLs are parsed with the `url` crate (the WHATWG URL standard, as browsers
//! and most HTTP clients parse them), which already turns `http://2130706433/`,
//! `http://0x7f.1/`, `http://0177.0.0.1/` and `http://127.1/` into 127.0.0.1
//! and applies IDNA to host names. Hosts of other schemes (`gopher:`, `ftp+x:`)
//! are percent-decoded and run through the same host parser here, so they get
//! the same treatment.
//!
//! What `deny_private_ips` cannot see: it never resolves names (the engine does
//! no I/O), so a public name whose DNS answer is private (DNS rebinding, or a
//! redirect the upstream follows) must be stopped by egress controls where the
//! upstream runs. What it does refuse, beyond non-public IP literals: names
//! that are never public (single-label names such as `localhost`, `metadata` or
//! `ip6-localhost`, and special-use suffixes such as `.localhost`, `.internal`,
//! `.local`), names that embed a private IPv4 address (`169.254.169.254.nip.io`,
//! `10-0-0-1.sslip.io`), and URLs whose path or query carry a private address
//! or a URL to one (open redirectors: `?url=http://localhost`).

use std::net::{Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use super::decode;

/// A host name pattern from the policy: exact, or `*.suffix` (subdomains only).
#[derive(Debug, Clone)]
pub(super) enum DomainPattern {
    Exact(String),
    /// Stored with its leading dot: `*.example.org` is `.example.org`.
    Suffix(String),
}

impl DomainPattern {
    /// Parses a policy pattern, normalising it as URL hosts are normalised
    /// (lowercase, IDNA, no trailing dot; IP literals in canonical form).
    pub(super) fn parse(text: &str) -> Result<DomainPattern, String> {
        let (wild, rest) = match text.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        if rest.is_empty() || rest.contains('*') {
            return Err(format!("{text:?} must be a host name, or \"*.\" followed by one"));
        }
        let bracketed;
        let input = if rest.contains(':') && !rest.starts_with('[') {
            bracketed = format!("[{rest}]");
            bracketed.as_str()
        } else {
            rest
        };
        let host = Host::parse(input).map_err(|e| format!("{text:?} is not a valid host name: {e}"))?;
        let normal = host_key(&host);
        if wild {
            if !matches!(host, Host::Domain(_)) {
                return Err(format!("{text:?}: \"*.\" only goes before a domain name, not an IP address"));
            }
            Ok(DomainPattern::Suffix(format!(".{normal}")))
        } else {
            Ok(DomainPattern::Exact(normal))
        }
    }

    fn matches(&self, host: &str) -> bool {
        match self {
            DomainPattern::Exact(exact) => exact == host,
            DomainPattern::Suffix(suffix) => host.len() > suffix.len() && host.ends_with(suffix.as_str()),
        }
    }
}

pub(super) fn any_matches(patterns: &[DomainPattern], host: &str) -> bool {
    patterns.iter().any(|p| p.matches(host))
}

/// The comparable form of a host: lowercase ASCII without trailing dot; IPv6 in brackets.
fn host_key<S: AsRef<str>>(host: &Host<S>) -> String {
    match host {
        Host::Domain(d) => d.as_ref().trim_end_matches('.').to_ascii_lowercase(),
        other => other.to_string(),
    }
}

/// A URL parsed the way the checks need it.
pub(super) struct ParsedUrl {
    url: Url,
    /// The host after normalisation; `None` for URLs without one (`file:`, `mailto:`).
    host: Option<Host<String>>,
}

/// Parses an argument as an absolute URL. Refuses what parsers disagree on:
/// whitespace and control characters (which the WHATWG parser silently
/// strips), and hosts that do not survive host parsing once decoded.
pub(super) fn parse_url(value: &str) -> Result<ParsedUrl, &'static str> {
    if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("contains whitespace or control characters, which URL parsers treat differently");
    }
    let url = Url::parse(value).map_err(|_| "is not a valid absolute URL")?;
    let host = match url.host() {
        None => None,
        Some(Host::Domain(d)) if !is_special(url.scheme()) => {
            // An opaque host: decode it and parse it as a special host would be,
            // so `gopher://127.1/` and `gopher://%6cocalhost/` are seen for what they are.
            let decoded = decode::fully_decoded(d).map_err(|e| e.describe())?;
            Some(Host::parse(&decoded).map_err(|_| "has a host that is not a valid host name")?)
        }
        Some(h) => Some(h.to_owned()),
    };
    Ok(ParsedUrl { url, host })
}

fn is_special(scheme: &str) -> bool {
    matches!(scheme, "http" | "https" | "ws" | "wss" | "ftp" | "file")
}

impl ParsedUrl {
    pub(super) fn scheme(&self) -> &str {
        self.url.scheme()
    }

    /// The normalised host, for `url_hosts`; `None` when the URL has none.
    pub(super) fn host_key(&self) -> Option<String> {
        self.host.as_ref().map(host_key)
    }
}

/// `deny_private_ips`: `Ok` when the URL names a public destination.
pub(super) fn check_public_url(url: &ParsedUrl) -> Result<(), &'static str> {
    check_public_url_at(url, 0)
}

/// How deep to follow URLs nested in URLs (`?next=http://...`).
const MAX_NESTED_URLS: usize = 3;

fn check_public_url_at(url: &ParsedUrl, depth: usize) -> Result<(), &'static str> {
    let Some(host) = &url.host else {
        return Err("has no network host (deny_private_ips allows only network URLs)");
    };
    check_public_host(host)?;
    // Redirectors: a private address, or a URL to one, carried in the path,
    // query or fragment. Scanned once fully percent-decoded.
    let tail = &url.url[url::Position::BeforePath..];
    let tail = decode::fully_decoded(tail).map_err(|e| e.describe())?;
    if embedded_ipv4s(&tail).any(|ip| private_v4(ip).is_some()) {
        return Err("carries a private or metadata IP address in its path or query (redirector)");
    }
    if depth < MAX_NESTED_URLS {
        for nested in nested_urls(&tail) {
            if check_public_url_at(&nested, depth + 1).is_err() {
                return Err("carries a URL to a private or local destination in its path or query (redirector)");
            }
        }
    }
    Ok(())
}

/// `Ok` when `host` is a public destination as far as can be told without DNS.
pub(super) fn check_public_host(host: &Host<String>) -> Result<(), &'static str> {
    match host {
        Host::Ipv4(ip) => private_v4(*ip).map_or(Ok(()), Err),
        Host::Ipv6(ip) => private_v6(*ip).map_or(Ok(()), Err),
        Host::Domain(d) => private_name(&d.trim_end_matches('.').to_ascii_lowercase()).map_or(Ok(()), Err),
    }
}

/// Why an IPv4 address is not a public unicast destination, if it is not.
pub(super) fn private_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    let why = match (a, b, c) {
        (0, _, _) => "targets 0.0.0.0/8 (\"this network\")",
        (10, _, _) => "targets a private address (RFC 1918)",
        (100, 64..=127, _) => "targets a carrier-grade NAT or cloud metadata address (100.64.0.0/10)",
        (127, _, _) => "targets a loopback address",
        (169, 254, _) => "targets a link-local or cloud metadata address (169.254.0.0/16)",
        (172, 16..=31, _) => "targets a private address (RFC 1918)",
        (192, 0, 0) => "targets an IETF protocol address (192.0.0.0/24)",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "targets a documentation address",
        (192, 168, _) => "targets a private address (RFC 1918)",
        (198, 18..=19, _) => "targets a benchmarking address (198.18.0.0/15)",
        (224..=239, _, _) => "targets a multicast address",
        (240..=255, _, _) => "targets a reserved or broadcast address",
        _ => return None,
    };
    Some(why)
}

/// Why an IPv6 address is not a public unicast destination, if it is not.
pub(super) fn private_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let seg = ip.segments();
    if ip.is_unspecified() {
        return Some("targets the unspecified address");
    }
    if ip.is_loopback() {
        return Some("targets a loopback address");
    }
    if seg[..5] == [0; 5] && (seg[5] == 0xffff || seg[5] == 0) {
        // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible) reach IPv4 hosts
        // through stacks that translate them; refuse them all.
        return Some("targets an IPv4-mapped or IPv4-compatible IPv6 address");
    }
    if seg[0] == 0x64 && seg[1] == 0xff9b {
        if seg[2] == 1 {
            return Some("targets a local-use NAT64 address (64:ff9b:1::/48)");
        }
        let v4 = Ipv4Addr::new((seg[6] >> 8) as u8, seg[6] as u8, (seg[7] >> 8) as u8, seg[7] as u8);
        return private_v4(v4).map(|_| "targets a NAT64 address that embeds a private IPv4 address");
    }
    if seg[0] == 0x2002 {
        let v4 = Ipv4Addr::new((seg[1] >> 8) as u8, seg[1] as u8, (seg[2] >> 8) as u8, seg[2] as u8);
        return private_v4(v4).map(|_| "targets a 6to4 address that embeds a private IPv4 address");
    }
    let why = match seg[0] {
        0x2001 if seg[1] == 0 => "targets a Teredo address, which tunnels to IPv4",
        0x2001 if seg[1] == 0xdb8 => "targets a documentation address",
        0x0100 if seg[1..4] == [0, 0, 0] => "targets a discard-only address",
        s if s & 0xfe00 == 0xfc00 => "targets a unique-local or cloud metadata address (fc00::/7)",
        s if s & 0xffc0 == 0xfe80 => "targets a link-local address",
        s if s & 0xffc0 == 0xfec0 => "targets a site-local address",
        s if s & 0xff00 == 0xff00 => "targets a multicast address",
        _ => return None,
    };
    Some(why)
}

/// Suffixes (and names) that never name a public Internet host.
const LOCAL_SUFFIXES: &[&str] = &[
    "localhost",
    "localdomain",
    "local",
    "internal",
    "intranet",
    "lan",
    "home",
    "corp",
    "private",
    "home.arpa",
    "in-addr.arpa",
    "ip6.arpa",
    "test",
    "invalid",
    "example",
    "onion",
    "svc",
];

/// Public names that are well known to resolve to loopback. Not exhaustive:
/// see the module comment on DNS.
const LOOPBACK_NAMES: &[&str] = &["localtest.me", "lvh.me", "vcap.me"];

fn private_name(host: &str) -> Option<&'static str> {
    for suffix in LOCAL_SUFFIXES {
        if host == *suffix || (host.ends_with(suffix) && host[..host.len() - suffix.len()].ends_with('.')) {
            return Some("targets a local or internal host name");
        }
    }
    if host.is_empty() || !host.contains('.') {
        return Some("targets a single-label host name, which resolves inside the local network");
    }
    for name in LOOPBACK_NAMES {
        if host == *name || (host.ends_with(name) && host[..host.len() - name.len()].ends_with('.')) {
            return Some("targets a public name known to resolve to loopback");
        }
    }
    if embedded_in_labels(host).into_iter().any(|ip| private_v4(ip).is_some()) {
        return Some("targets a host name that embeds a private IP address (wildcard DNS such as nip.io)");
    }
    None
}

/// IPv4 addresses spelled inside a host name: four consecutive numeric labels
/// (`10.0.0.1.nip.io`) or a label with four dash-separated numbers (`10-0-0-1.sslip.io`).
fn embedded_in_labels(host: &str) -> Vec<Ipv4Addr> {
    let labels: Vec<&str> = host.split('.').collect();
    let mut found: Vec<Ipv4Addr> = labels.windows(4).filter_map(|w| octets(w.iter().copied())).collect();
    for label in &labels {
        let parts: Vec<&str> = label.split('-').collect();
        found.extend(parts.windows(4).filter_map(|w| octets(w.iter().copied())));
    }
    found
}

fn octets<'a>(parts: impl Iterator<Item = &'a str>) -> Option<Ipv4Addr> {
    let mut out = [0u8; 4];
    let mut n = 0;
    for part in parts {
        if n == 4 || part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        out[n] = part.parse().ok()?;
        n += 1;
    }
    (n == 4).then(|| Ipv4Addr::from(out))
}

/// Dotted-quad IPv4 addresses in free text, not preceded by a letter, digit or
/// dot (so `v10.0.0.1` is a version, not an address).
fn embedded_ipv4s(text: &str) -> impl Iterator<Item = Ipv4Addr> + '_ {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let starts =
            bytes[i].is_ascii_digit() && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'.'));
        if !starts {
            i += 1;
            continue;
        }
        let end = bytes[i..].iter().position(|b| !(b.is_ascii_digit() || *b == b'.')).map_or(bytes.len(), |p| i + p);
        if let Some(ip) = octets(text[i..end].split('.').take(4)) {
            found.push(ip);
        }
        i = end;
    }
    found.into_iter()
}

/// URLs (`scheme://...`) nested in free text, each cut at the first character
/// that cannot continue it.
fn nested_urls(text: &str) -> impl Iterator<Item = ParsedUrl> + '_ {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(pos) = text[from..].find("://") {
        let at = from + pos;
        let start = text[..at]
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            .last()
            .map_or(at, |(i, _)| i);
        let end = text[at..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>'))
            .map_or(text.len(), |p| at + p);
        let candidate = &text[start..end];
        // Try the whole candidate, then the part before a query separator.
        let parsed = parse_url(candidate).ok().or_else(|| {
            let short = candidate.split(['&', ' ']).next().unwrap_or(candidate);
            parse_url(short).ok()
        });
        match parsed {
            Some(url) => found.push(url),
            // A scheme-like prefix that does not parse: look at what would be its host.
            None => {
                let host_text: String = text[at + 3..end]
                    .chars()
                    .take_while(|c| !matches!(c, '/' | '?' | '#' | '&' | ':' | '\\'))
                    .collect();
                if let Ok(url) = parse_url(&format!("http://{host_text}/")) {
                    found.push(url);
                }
            }
        }
        from = at + 3;
    }
    found.into_iter()
}

/// `email_domain`: `value` is one plain address (optionally `Name <addr>`)
/// whose domain matches a pattern. Refused: several recipients (`,` `;`,
/// several `@`), CR/LF and other control characters (header injection),
/// routing tricks in the local part (`%`, `!`), quoted local parts and
/// bracketed domain literals.
pub(super) fn check_email(value: &str, domains: &[DomainPattern]) -> Result<(), &'static str> {
    if value.chars().any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')) {
        return Err("contains control characters (header injection)");
    }
    if value.contains([',', ';']) {
        return Err("lists more than one recipient");
    }
    if value.matches('@').count() != 1 {
        return Err("is not a single email address (exactly one '@' is allowed)");
    }
    let address = match (value.find('<'), value.rfind('>')) {
        (None, None) => value.trim(),
        (Some(open), Some(close)) if close == value.trim_end().len() - 1 && open < close => {
            let name = &value[..open];
            if name.contains(['<', '>', '@']) || value[open + 1..close].contains(['<', '>']) {
                return Err("is not a single plain email address");
            }
            &value[open + 1..close]
        }
        _ => return Err("is not a single plain email address"),
    };
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Err("is not an email address");
    };
    if local.is_empty()
        || local
            .contains(|c: char| c.is_whitespace() || matches!(c, '%' | '!' | '"' | '\\' | '(' | ')' | ':' | '[' | ']'))
    {
        return Err("has a local part with routing or quoting characters");
    }
    if domain.is_empty() || domain.starts_with('[') || domain.contains(|c: char| c.is_whitespace()) {
        return Err("has no plain domain");
    }
    let host = Host::parse(domain).map_err(|_| "has a domain that is not a valid host name")?;
    let key = match &host {
        Host::Domain(d) if !d.ends_with('.') => d.to_ascii_lowercase(),
        _ => return Err("has no plain domain"),
    };
    if any_matches(domains, &key) {
        Ok(())
    } else {
        Err("has an address outside the allowed domains")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(url: &str) -> Result<(), &'static str> {
        check_public_url(&parse_url(url)?)
    }

    #[test]
    fn url_crate_normalises_numeric_ipv4_spellings() {
        for spelling in
            ["http://2130706433/", "http://0x7f.1/", "http://0177.0.0.1/", "http://127.1/", "http://0x7f000001"]
        {
            let url = parse_url(spelling).unwrap();
            assert_eq!(url.host, Some(Host::Ipv4(Ipv4Addr::LOCALHOST)), "{spelling}");
        }
    }

    #[test]
    fn opaque_hosts_get_the_same_numeric_parsing() {
        for spelling in ["gopher://127.1:25/", "gopher://0x7f000001/", "gopher://%6c%6fcalhost/", "foo://LOCALHOST./"] {
            assert!(public(spelling).is_err(), "{spelling}");
        }
    }

    #[test]
    fn public_destinations_pass() {
        for url in [
            "https://example.com/",
            "https://8.8.8.8/dns-query?name=example.com",
            "https://[2606:4700::1111]/",
            "https://docs.rs/url/latest/url/?search=host#section",
            "https://www.google.com/search?q=rust+url+crate&hl=en",
            "https://github.com/rust-lang/rust/releases/v10.0.0.1",
            "https://example.com/?next=https://example.org/page",
        ] {
            assert_eq!(public(url), Ok(()), "{url}");
        }
    }

    #[test]
    fn email_patterns_match_subdomains_only_with_a_wildcard() {
        let d = [DomainPattern::parse("example.com").unwrap(), DomainPattern::parse("*.example.org").unwrap()];
        assert_eq!(check_email("bob@example.com", &d), Ok(()));
        assert_eq!(check_email("Bob Smith <bob@EXAMPLE.com>", &d), Ok(()));
        assert_eq!(check_email("\"Smith, Bob\" <bob@example.com>", &d), Err("lists more than one recipient"));
        assert_eq!(check_email("a@mail.example.org", &d), Ok(()));
        assert!(check_email("a@example.org", &d).is_err());
        assert!(check_email("a@evilexample.com", &d).is_err());
    }
}
