//! Host names that are never public destinations, as far as can be told
//! without asking DNS: local and special-use names, cloud metadata names,
//! public names documented to resolve to loopback, wildcard DNS services
//! (whose names resolve to whatever address they spell), and any name that
//! spells a private address the way those services read it.
//!
//! Sources:
//! - nip.io (exentriquesolutions/nip.io README): `10.0.0.1.nip.io`,
//!   `app-10-0-0-1.nip.io`, mixed `app-116.203.255.68.nip.io`, and eight hex
//!   digits after a dot or dash, `app-c0a80101.nip.io` (192.168.1.1).
//! - sslip.io (its home page): dots or dashes, `www-192-168-0-1.sslip.io`,
//!   and IPv6 with dashes for colons, `--1.sslip.io` (::1),
//!   `2a01-4f8-c17-b8f--2.sslip.io`. Anyone can brand such a resolver under
//!   their own domain, hence the generic reading below.
//! - xip.io (the original, now gone; its names still appear in payload lists),
//!   traefik.me (`10.0.0.1.traefik.me`, `10-0-0-1.traefik.me`), local.gd
//!   (every name resolves to 127.0.0.1).
//! - DNS rebinding services: 1u.ms (`make-1.2.3.4-rebind-169.254-169.254-rr.1u.ms`)
//!   and rbndr.us (`7f000001.c0a80001.rbndr.us`), from their documentation.
//! - Loopback names: localtest.me, lvh.me, vcap.me, localhost.direct, and
//!   PortSwigger's spoofed.burpcollaborator.net.
//! - Metadata names: `metadata.google.internal` and `metadata.goog` (Google
//!   Cloud), `metadata.tencentyun.com` (Tencent Cloud), `api.metadata.cloud.ibm.com`
//!   (IBM Cloud VPC), `metadata.platformequinix.com` and `metadata.packet.net`
//!   (Equinix Metal), `kubernetes.default` (the in-cluster API server).

use std::net::{Ipv4Addr, Ipv6Addr};

use super::ip::{private_v4, private_v6};

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

/// Cloud metadata and cluster-internal names that are public-looking.
const METADATA_NAMES: &[&str] = &[
    "metadata.goog",
    "metadata.tencentyun.com",
    "api.metadata.cloud.ibm.com",
    "metadata.platformequinix.com",
    "metadata.packet.net",
    "kubernetes.default",
];

/// Public names documented to resolve to loopback, with every subdomain.
const LOOPBACK_NAMES: &[&str] =
    &["localtest.me", "lvh.me", "vcap.me", "localhost.direct", "local.gd", "spoofed.burpcollaborator.net"];

/// Services whose names resolve to the address they spell (or rebind to it).
const WILDCARD_DNS: &[&str] = &["nip.io", "sslip.io", "xip.io", "traefik.me", "1u.ms", "rbndr.us"];

/// Why a (lowercase, IDNA-mapped) host name is not a public destination.
pub(super) fn private_name(host: &str) -> Option<&'static str> {
    let host = host.strip_suffix('.').unwrap_or(host);
    if LOCAL_SUFFIXES.iter().any(|s| is_or_under(host, s)) {
        return Some("targets a local or internal host name");
    }
    if host.is_empty() || !host.contains('.') {
        return Some("targets a single-label host name, which resolves inside the local network");
    }
    if METADATA_NAMES.iter().any(|s| is_or_under(host, s)) {
        return Some("targets a cloud metadata or cluster-internal host name");
    }
    if LOOPBACK_NAMES.iter().any(|s| is_or_under(host, s)) {
        return Some("targets a public name known to resolve to loopback");
    }
    if WILDCARD_DNS.iter().any(|s| is_or_under(host, s)) {
        return Some("targets a wildcard DNS service, whose names resolve to any address they spell");
    }
    if embedded_v4(host).any(|ip| private_v4(ip).is_some()) || embedded_v6(host).any(reaches_private_v6) {
        return Some("targets a host name that spells a private IP address (wildcard DNS such as nip.io)");
    }
    None
}

fn is_or_under(host: &str, name: &str) -> bool {
    host == name || host.strip_suffix(name).is_some_and(|rest| rest.ends_with('.'))
}

/// IPv4 addresses a wildcard resolver could read in a name: four decimal
/// numbers in a row, separated by dots or dashes in any mix
/// (`10.0.0.1`, `10-0-0-1`, `app-116.203.255.68`), or eight hex digits
/// standing alone between dots and dashes (`c0a80101`).
fn embedded_v4(host: &str) -> impl Iterator<Item = Ipv4Addr> + '_ {
    let tokens: Vec<&str> = host.split(['.', '-']).collect();
    let quads: Vec<Ipv4Addr> = tokens.windows(4).filter_map(decimal_quad).collect();
    let hex = tokens.iter().filter_map(|t| hex_v4(t)).collect::<Vec<_>>();
    quads.into_iter().chain(hex)
}

fn decimal_quad(parts: &[&str]) -> Option<Ipv4Addr> {
    let mut out = [0u8; 4];
    for (slot, part) in out.iter_mut().zip(parts) {
        if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *slot = part.parse().ok()?;
    }
    Some(Ipv4Addr::from(out))
}

fn hex_v4(token: &str) -> Option<Ipv4Addr> {
    if token.len() != 8 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(token, 16).ok().map(Ipv4Addr::from)
}

/// Whether a resolver's answer of `ip` would reach a non-public host. Within
/// ::/8 only the forms that stacks translate to IPv4 count: a label such as
/// `ab--cd` spells an address nobody routes, not a way in.
fn reaches_private_v6(ip: Ipv6Addr) -> bool {
    let seg = ip.segments();
    if ip.is_loopback() || ip.is_unspecified() {
        return true;
    }
    if seg[0] >= 0x0100 {
        return private_v6(ip).is_some();
    }
    let mapped = seg[..5] == [0; 5] && matches!(seg[5], 0 | 0xffff);
    let translated = seg[..4] == [0; 4] && seg[4] == 0xffff && seg[5] == 0;
    let [a, b] = seg[6].to_be_bytes();
    let [c, d] = seg[7].to_be_bytes();
    (mapped || translated) && private_v4(Ipv4Addr::new(a, b, c, d)).is_some()
}

/// IPv6 addresses spelled sslip.io-style in one label: dashes for colons
/// (`--1`, `fe80--1`, `fd00-ec2--254`).
fn embedded_v6(host: &str) -> impl Iterator<Item = Ipv6Addr> + '_ {
    host.split('.').filter_map(|label| {
        let dashes = label.matches('-').count();
        if dashes < 2 || !label.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
            return None;
        }
        label.replace('-', ":").parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_wildcard_dns_form_of_a_private_address_is_refused_under_any_domain() {
        // The same spellings under a domain nobody lists: a branded resolver.
        for name in [
            "10.0.0.1.wild.example.net",
            "app-10-0-0-1.wild.example.net",
            "app-10.0.0-1.wild.example.net",
            "customer3-app-7f000101.wild.example.net",
            "7f000001.c0a80001.wild.example.net",
            "--1.wild.example.net",
            "fe80--1.wild.example.net",
            "fd00-ec2--254.wild.example.net",
            "--ffff-7f00-1.wild.example.net",
            "make-1.2.3.4-rebind-169.254-169.254-rr.wild.example.net",
        ] {
            assert!(private_name(name).is_some(), "{name}");
        }
    }

    #[test]
    fn wildcard_services_are_refused_whatever_they_spell() {
        for name in ["8.8.8.8.nip.io", "dns.google.sslip.io", "x.xip.io", "a.traefik.me", "rbndr.us", "app.local.gd"] {
            assert!(private_name(name).is_some(), "{name}");
        }
    }

    #[test]
    fn public_names_with_numbers_pass() {
        for name in [
            "example.com",
            "deadbeef.example.com",
            "release-1-2-3.example.com",
            "ab--cd.example.com",
            "xn--mnchen-3ya.de",
            "8-8-8-8.example.net",
            "2001-db8.example.net",
        ] {
            assert_eq!(private_name(name), None, "{name}");
        }
    }
}
