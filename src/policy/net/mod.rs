//! Network destinations: `url_schemes`, `url_hosts` and `deny_private_ips`.
//!
//! `url.rs` reads a URL's destination the one way every common client reads
//! it, and refuses a URL that clients would read differently (userinfo,
//! backslashes, missing or extra slashes, percent-encoded or Unicode
//! compatibility hosts, odd IPv4 spellings, odd ports); `ip.rs` says which
//! addresses are not public; `names.rs` which host names are not.
//!
//! What `deny_private_ips` cannot know: it never resolves names (the engine
//! does no I/O), so a public name whose DNS answer is private (DNS rebinding,
//! a branded wildcard resolver under a domain nobody lists, or a redirect the
//! upstream follows) must be stopped by egress controls where the upstream
//! runs. What it does refuse: non-public IP literals; names that are never
//! public (single labels such as `localhost` or `metadata`, special-use
//! suffixes such as `.internal` and `.local`, cloud metadata names, names
//! documented to resolve to loopback, wildcard DNS services); names that spell
//! a private address the way wildcard resolvers read them (`10-0-0-1.x`,
//! `7f000001.x`, `--1.x`); and open redirectors: a private address in the
//! path, a private address with a port in the query, or a URL to a private
//! destination anywhere after the host. An address in query *text*
//! (`?q=what+is+10.0.0.1`) is not a destination and passes.

mod ip;
mod names;
mod url;

use std::net::Ipv4Addr;

use ::url::Host;

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

/// `url_schemes`: the scheme, lowercase.
pub(super) fn url_scheme(value: &str) -> Result<String, &'static str> {
    url::scheme(value)
}

/// `url_hosts`: the normalised host of an unambiguous URL.
pub(super) fn destination_host(value: &str) -> Result<String, &'static str> {
    url::read_destination(value).map(|d| host_key(&d.host))
}

/// A mail domain, normalised as URL hosts are (for `email_domain`).
pub(super) fn mail_domain(text: &str) -> Result<String, &'static str> {
    url::read_domain(text)
}

/// `deny_private_ips`: `Ok` when the URL names a public destination.
pub(super) fn check_public_url(value: &str) -> Result<(), &'static str> {
    check_public_url_at(value, 0)
}

/// How deep to follow URLs nested in URLs (`?next=http://...`).
const MAX_NESTED_URLS: usize = 3;

const REDIRECTOR: &str = "carries a URL to a private or local destination in its path or query (redirector)";

fn check_public_url_at(value: &str, depth: usize) -> Result<(), &'static str> {
    let destination = url::read_destination(value)?;
    check_public_host(&destination.host)?;
    let rest = destination.rest.as_str();
    let split = rest.find(['?', '#']).unwrap_or(rest.len());
    // Redirectors: a private address in the path (`/r/169.254.169.254/`), or
    // with a port in the query (`?to=10.0.0.1:8080`), scanned fully decoded.
    let path = decode::fully_decoded(&rest[..split]).map_err(|e| e.describe())?;
    if embedded_ipv4s(&path).any(|(ip, _)| ip::private_v4(ip).is_some()) {
        return Err("carries a private or metadata IP address in its path (redirector)");
    }
    let after = decode::fully_decoded(&rest[split..]).map_err(|e| e.describe())?;
    if embedded_ipv4s(&after).any(|(ip, port)| port && ip::private_v4(ip).is_some()) {
        return Err("carries a private IP address and port in its query (redirector)");
    }
    let tail = decode::fully_decoded(rest).map_err(|e| e.describe())?;
    for nested in nested_urls(&tail) {
        check_nested(&nested, depth)?;
    }
    Ok(())
}

/// A URL carried in another: every host a redirector might read in it
/// (each piece around `@` and `\`, as lenient parsers split them) must be
/// public, and so must everything the URL itself carries.
fn check_nested(candidate: &str, depth: usize) -> Result<(), &'static str> {
    let after_slashes = candidate.split_once("//").map_or(candidate, |(_, rest)| rest);
    let head_end = after_slashes.find(['/', '?', '#', '&']).unwrap_or(after_slashes.len());
    for piece in after_slashes[..head_end].split(['@', '\\']) {
        if let Some(host) = lenient_host(piece) {
            check_public_host(&host).map_err(|_| REDIRECTOR)?;
        }
    }
    if depth + 1 >= MAX_NESTED_URLS {
        return Ok(());
    }
    let short = candidate.split('&').next().unwrap_or(candidate);
    for reading in [candidate, short] {
        if url::read_destination(reading).is_ok() {
            return check_public_url_at(reading, depth + 1).map_err(|_| REDIRECTOR);
        }
    }
    Ok(())
}

/// A host as a WHATWG parser reads it (numeric forms included), port cut off.
fn lenient_host(piece: &str) -> Option<Host<String>> {
    let host = match piece.strip_prefix('[') {
        Some(v6) => format!("[{}]", v6.split(']').next()?),
        None => piece.split(':').next()?.to_lowercase(),
    };
    (!host.is_empty()).then(|| Host::parse(&host).ok()).flatten()
}

/// `Ok` when `host` is a public destination as far as can be told without DNS.
fn check_public_host(host: &Host<String>) -> Result<(), &'static str> {
    match host {
        Host::Ipv4(ip) => ip::private_v4(*ip).map_or(Ok(()), Err),
        Host::Ipv6(ip) => ip::private_v6(*ip).map_or(Ok(()), Err),
        Host::Domain(d) => names::private_name(&d.to_ascii_lowercase()).map_or(Ok(()), Err),
    }
}

/// Dotted-quad IPv4 addresses in free text, not preceded by a letter, digit or
/// dot (so `v10.0.0.1` is a version, not an address); each with whether a
/// port (`:` and a digit) follows it.
fn embedded_ipv4s(text: &str) -> impl Iterator<Item = (Ipv4Addr, bool)> + '_ {
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
            let port = bytes.get(end) == Some(&b':') && bytes.get(end + 1).is_some_and(u8::is_ascii_digit);
            found.push((ip, port));
        }
        i = end;
    }
    found.into_iter()
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

/// URLs nested in free text: `scheme://...`, and scheme-relative `//host`
/// right after `=` (a redirector's parameter), each cut at whitespace or a quote.
fn nested_urls(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(pos) = text[from..].find("//") {
        let at = from + pos;
        from = at + 2;
        let before = &text[..at];
        let start = if let Some(scheme_end) = before.strip_suffix(':') {
            let scheme_start = scheme_end
                .char_indices()
                .rev()
                .take_while(|(_, c)| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
                .last()
                .map_or(scheme_end.len(), |(i, _)| i);
            if scheme_start == scheme_end.len() {
                continue;
            }
            scheme_start
        } else if before.ends_with('=') {
            at
        } else {
            continue;
        };
        let end = text[at..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>'))
            .map_or(text.len(), |p| at + p);
        let candidate = &text[start..end];
        found.push(if candidate.starts_with("//") { format!("http:{candidate}") } else { candidate.to_string() });
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_crate_normalises_numeric_ipv4_spellings() {
        // How a lenient (WHATWG) redirector reads a nested URL's host.
        for spelling in ["2130706433", "0x7f.1", "0177.0.0.1", "127.1", "0x7f000001"] {
            assert_eq!(lenient_host(spelling), Some(Host::Ipv4(Ipv4Addr::LOCALHOST)), "{spelling}");
        }
    }

    #[test]
    fn opaque_hosts_get_the_same_numeric_parsing() {
        for spelling in ["gopher://127.1:25/", "gopher://0x7f000001/", "gopher://%6c%6fcalhost/", "foo://LOCALHOST./"] {
            assert!(check_public_url(spelling).is_err(), "{spelling}");
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
            "https://www.google.com/search?q=what+is+10.0.0.1",
            "https://www.google.com/search?q=169.254.169.254+metadata#10.0.0.1",
            "https://example.com/?a=https://example.org&b=2",
        ] {
            assert_eq!(check_public_url(url), Ok(()), "{url}");
        }
    }

    #[test]
    fn redirectors_to_private_destinations_are_refused_in_every_reading() {
        for url in [
            "https://redirect.example.com/?to=10.0.0.1:8080/admin",
            "https://redirect.example.com/?to=//169.254.169.254/latest/",
            "https://redirect.example.com/?to=http://example.com%5C@127.0.0.1/",
            "https://redirect.example.com/?to=http://example.com@127.0.0.1/",
            "https://redirect.example.com/?to=https://example.org/r/10.0.0.1/",
            "https://redirect.example.com/go/http://0x7f.1/",
            "https://redirect.example.com/?a=x&to=http%253A%252F%252Flocalhost%252F",
        ] {
            assert!(check_public_url(url).is_err_and(|e| e.contains("redirector")), "{url}");
        }
    }
}
