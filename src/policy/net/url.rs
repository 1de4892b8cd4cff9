//! Reading where a URL goes, the one way every common client reads it.
//!
//! WHATWG URL (browsers, Node, the `url` crate), Python's `urllib.parse`,
//! `httpx` and `urllib3`, Go's `net/url` and curl agree on a plain
//! `scheme://host[:port]/...` and disagree on nearly everything else: which
//! `@` ends the userinfo, whether `\` is `/`, whether `http:host`, `http:/host`
//! and `http:///host` have a host, how `0x7f.1`, `127.1`, `2130706433` or
//! `1.2.3.010` read, what `%2e` in a host means, whether fullwidth letters and
//! dots (`ｅｘａｍｐｌｅ．com`, `example。com`) and `ß` map, whether a tab
//! or a zone id (`%25eth0`) is stripped. So a destination check accepts only
//! the plain form, and then also requires the `url` crate's WHATWG reading
//! to agree with its own. Anything else is refused, never guessed at.

use std::net::{Ipv4Addr, Ipv6Addr};

use unicode_normalization::UnicodeNormalization;
use url::{Host, Url};

/// Where a URL goes, read unambiguously.
pub(super) struct Destination {
    pub(super) host: Host<String>,
    /// Path, query and fragment as written (undecoded).
    pub(super) rest: String,
}

/// The scheme, lowercase, as every parser reads it. Only the scheme is
/// read here, so a URL whose host is ambiguous may still pass `url_schemes`:
/// the destination checks are the ones that refuse it.
pub(super) fn scheme(value: &str) -> Result<String, &'static str> {
    plain_text(value)?;
    let url = Url::parse(value).map_err(|_| "is not a valid absolute URL")?;
    Ok(url.scheme().to_string())
}

/// Refuses what some parsers strip or stop at and others keep: whitespace,
/// control characters (the WHATWG parser silently drops tab and newline)
/// and invisible formatting characters.
fn plain_text(value: &str) -> Result<(), &'static str> {
    if value.chars().any(|c| c.is_control() || c.is_whitespace() || is_invisible(c)) {
        return Err("contains whitespace, control or invisible characters, which URL parsers treat differently");
    }
    Ok(())
}

/// Unicode format characters (category Cf) that render as nothing.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}'
        | '\u{E0001}' | '\u{E0020}'..='\u{E007F}')
}

/// Reads `value` as `scheme://host[:port][/path][?query][#fragment]` and
/// returns its destination, or says why parsers could read it differently.
pub(super) fn read_destination(value: &str) -> Result<Destination, &'static str> {
    plain_text(value)?;
    if value.contains('\\') {
        return Err("contains a backslash, which some URL parsers read as '/' and others as part of the host");
    }
    let (scheme, after) = value.split_once(':').ok_or("is not a valid absolute URL")?;
    if !valid_scheme(scheme) {
        return Err("is not a valid absolute URL");
    }
    let Some(hier) = after.strip_prefix("//") else {
        return Err("does not name a host right after \"scheme://\" (parsers disagree about such URLs)");
    };
    if hier.starts_with('/') {
        return Err("has more than two slashes after the scheme, so parsers disagree about its host");
    }
    // Up to the first '/', not the first '?' or '#': `https://good#@evil/`
    // has evil as its host for parsers that look for '@' first.
    let head = &hier[..hier.find('/').unwrap_or(hier.len())];
    if head.contains('@') {
        return Err("carries userinfo ('@' before the path), which parsers split differently");
    }
    let end = hier.find(['/', '?', '#']).unwrap_or(hier.len());
    let (authority, rest) = hier.split_at(end);
    if authority.contains('%') {
        return Err("has percent-encoding in its host or port, which parsers decode differently");
    }
    let (host_text, port_text) = split_port(authority)?;
    let port = read_port(port_text)?;
    let host = read_host(host_text)?;
    agree_with_whatwg(value, host_text, &host, port)?;
    Ok(Destination { host, rest: rest.to_string() })
}

fn valid_scheme(scheme: &str) -> bool {
    scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Splits `host[:port]` (`[v6][:port]`); at most one port.
fn split_port(authority: &str) -> Result<(&str, Option<&str>), &'static str> {
    let (host, after) = if authority.starts_with('[') {
        let close = authority.find(']').ok_or("has an unclosed '[' in its host")?;
        authority.split_at(close + 1)
    } else {
        let colon = authority.find(':').unwrap_or(authority.len());
        authority.split_at(colon)
    };
    match after.strip_prefix(':') {
        None if after.is_empty() => Ok((host, None)),
        None => Err("has text after its bracketed IPv6 address"),
        Some(port) => Ok((host, Some(port))),
    }
}

/// A port is 1 to 65535 in plain decimal: `:`, `:0443`, `:1:2` and
/// `:65536` are read differently (or not at all) by different parsers.
fn read_port(text: Option<&str>) -> Result<Option<u16>, &'static str> {
    let Some(text) = text else {
        return Ok(None);
    };
    let plain =
        !text.is_empty() && text.len() <= 5 && text.bytes().all(|b| b.is_ascii_digit()) && !text.starts_with('0');
    match text.parse::<u16>() {
        Ok(port) if plain => Ok(Some(port)),
        _ => Err("has an empty, zero-padded, out-of-range or repeated port, which parsers read differently"),
    }
}

fn read_host(text: &str) -> Result<Host<String>, &'static str> {
    if text.is_empty() {
        return Err("has an empty host");
    }
    if let Some(inner) = text.strip_prefix('[') {
        let inner = inner.strip_suffix(']').ok_or("has an unclosed '[' in its host")?;
        // Only the address: a zone id (`%25eth0`) was refused with the '%'.
        let ip: Ipv6Addr = inner.parse().map_err(|_| "has a bracketed host that is not a plain IPv6 address")?;
        return Ok(Host::Ipv6(ip));
    }
    let lower = host_chars(text)?;
    let body = lower.strip_suffix('.').unwrap_or(&lower);
    let labels: Vec<&str> = body.split('.').collect();
    if labels.iter().any(|l| l.is_empty()) {
        return Err("has an empty label in its host name");
    }
    let last = labels[labels.len() - 1];
    if ends_in_number(last) {
        // WHATWG reads such a host as an IPv4 address in any of its spellings;
        // Go and others resolve it as a name; glibc's inet_aton reads octal.
        return match canonical_v4(&labels) {
            Some(ip) if body.len() == lower.len() => Ok(Host::Ipv4(ip)),
            _ => Err("spells an IPv4 address in a form parsers read differently (write four decimal numbers)"),
        };
    }
    match Host::parse(&lower) {
        Ok(host @ Host::Domain(_)) => Ok(host),
        _ => Err("has a host that is not a valid host name"),
    }
}

/// A domain name outside a URL (a mail domain), held to the same rules as a
/// URL's host name; lowercase and IDNA-mapped. IP addresses, numeric last
/// labels and a trailing dot are refused.
pub(super) fn read_domain(text: &str) -> Result<String, &'static str> {
    const NOT_PLAIN: &str = "has no plain domain";
    let lower = host_chars(text)?;
    let labels: Vec<&str> = lower.split('.').collect();
    if labels.iter().any(|l| l.is_empty()) || ends_in_number(labels[labels.len() - 1]) {
        return Err(NOT_PLAIN);
    }
    match Host::parse(&lower) {
        Ok(Host::Domain(domain)) => Ok(domain),
        _ => Err(NOT_PLAIN),
    }
}

/// Checks each character of a host name and returns it lowercase. Letters
/// and digits of any script are allowed, but only in the form every IDNA
/// variant (2003, 2008, UTS 46) maps to the same label: no compatibility
/// characters (fullwidth letters, `。`, `．`, ligatures), which NFKC would
/// change, and no deviation characters (`ß`, `ς`), which IDNA 2003 maps and
/// later versions keep.
fn host_chars(text: &str) -> Result<String, &'static str> {
    let mut lower = String::with_capacity(text.len());
    for c in text.chars() {
        let ok = c.is_ascii_alphanumeric()
            || matches!(c, '-' | '_' | '.')
            || (!c.is_ascii() && c.is_alphanumeric() && c.to_lowercase().count() == 1 && !matches!(c, 'ß' | 'ς'));
        if !ok {
            return Err("has a character in its host that parsers map differently or refuse");
        }
        lower.extend(c.to_lowercase());
    }
    if !lower.is_ascii() && lower.nfkc().ne(lower.chars()) {
        return Err("has Unicode compatibility characters in its host (fullwidth letters or dots), which parsers map differently");
    }
    Ok(lower)
}

/// WHATWG's "ends in a number": decimal digits, or `0x` and hex digits.
fn ends_in_number(label: &str) -> bool {
    let hex = label.strip_prefix("0x").or_else(|| label.strip_prefix("0X"));
    label.bytes().all(|b| b.is_ascii_digit()) || hex.is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Four decimal numbers 0-255 without leading zeros: the one IPv4 spelling
/// every parser reads alike.
fn canonical_v4(labels: &[&str]) -> Option<Ipv4Addr> {
    if labels.len() != 4 {
        return None;
    }
    let mut octets = [0u8; 4];
    for (slot, label) in octets.iter_mut().zip(labels) {
        let plain =
            label.len() <= 3 && label.bytes().all(|b| b.is_ascii_digit()) && (*label == "0" || !label.starts_with('0'));
        if !plain {
            return None;
        }
        *slot = label.parse().ok()?;
    }
    Some(Ipv4Addr::from(octets))
}

/// The `url` crate (WHATWG) must read the same host and port. For schemes it
/// does not know (`gopher:`), it keeps the host as written, so compare that.
fn agree_with_whatwg(value: &str, host_text: &str, host: &Host<String>, port: Option<u16>) -> Result<(), &'static str> {
    const DIFFER: &str = "is read differently by URL parsers";
    let url = Url::parse(value).map_err(|_| "is not a valid absolute URL")?;
    let same_host = match url.host() {
        Some(theirs) if is_special(url.scheme()) => theirs.to_owned() == *host,
        Some(_) => url.host_str().is_some_and(|h| h.eq_ignore_ascii_case(host_text)),
        None => false,
    };
    let same_port = match port {
        Some(p) => url.port_or_known_default() == Some(p),
        None => url.port().is_none(),
    };
    if same_host && same_port {
        Ok(())
    } else {
        Err(DIFFER)
    }
}

fn is_special(scheme: &str) -> bool {
    matches!(scheme, "http" | "https" | "ws" | "wss" | "ftp" | "file")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(url: &str) -> Result<String, &'static str> {
        read_destination(url).map(|d| d.host.to_string())
    }

    #[test]
    fn plain_urls_are_read_as_every_client_reads_them() {
        for (url, expected) in [
            ("https://example.com/", "example.com"),
            ("https://EXAMPLE.com:8443/x?y#z", "example.com"),
            ("https://example.com?q=1", "example.com"),
            ("https://8.8.8.8/", "8.8.8.8"),
            ("https://[2606:4700::1111]:443/", "[2606:4700::1111]"),
            ("https://münchen.de/", "xn--mnchen-3ya.de"),
            ("https://MÜNCHEN.de/", "xn--mnchen-3ya.de"),
            ("gopher://Example.com:70/", "example.com"),
            ("https://example.com./", "example.com."),
        ] {
            assert_eq!(host(url).as_deref(), Ok(expected), "{url}");
        }
    }

    #[test]
    fn every_form_parsers_disagree_on_is_refused() {
        for url in [
            "https://example.com\\@2130706433:8443/",
            "https://docs.rs\\@evil.example/",
            "http:/evil.example/",
            "http:evil.example/",
            "https:///evil.example/",
            "https:////evil.example/",
            "https://good.example#@evil.example/",
            "https://good.example?@evil.example/",
            "https://user:pass@example.com/",
            "https://a@b@evil.example/",
            "https://exa%6dple.com/",
            "https://evil.example%23.good.example/",
            "https://example.com:/",
            "https://example.com:0443/",
            "https://example.com:65536/",
            "https://example.com:80:443/",
            "https://ｅｖｉｌ.example/",
            "https://evil．example/",
            "https://evil。example/",
            "https://faß.de/",
            "https://ex\u{00AD}ample.com/",
            "https://127.1/",
            "https://0x7f.0.0.1/",
            "https://2130706433/",
            "https://1.2.3.010/",
            "https://127.0.0.1./",
            "https://[::1%25eth0]/",
            "https://[::1]x/",
            "https://ex]ample.com/",
            "https://.example.com/",
            "https://example..com/",
            "https://ex ample.com/",
            "https://example.com\t/",
        ] {
            assert!(host(url).is_err(), "{url} read as {:?}", host(url));
        }
    }
}
