//! Which IP addresses are not public unicast destinations: private,
//! loopback, link-local, reserved and special-use ranges, and the cloud and
//! host-platform services that sit at fixed addresses.
//!
//! Sources for the platform addresses (each is also a refusal reason):
//! - 169.254.169.254 (and the rest of 169.254.0.0/16): the instance metadata
//!   service of AWS, GCP, Azure, Oracle, OpenStack, DigitalOcean, Hetzner;
//!   169.254.170.2 is the AWS ECS task credentials endpoint.
//! - 168.63.129.16: Azure's WireServer / host platform address, a *public*
//!   address that every Azure VM reaches ("What is IP address 168.63.129.16",
//!   Microsoft Learn), so it is listed on its own.
//! - 100.100.100.200: Alibaba Cloud ECS metadata (inside 100.64.0.0/10).
//! - 192.0.0.192: Oracle Cloud (OCI) legacy metadata (inside 192.0.0.0/24).
//! - fd00:ec2::254 (AWS IMDS over IPv6) and fd20:ce::254 (GCP metadata over
//!   IPv6): inside fc00::/7.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Host-platform services at public addresses (see the module comment).
const PLATFORM_V4: &[(Ipv4Addr, &str)] =
    &[(Ipv4Addr::new(168, 63, 129, 16), "targets Azure's host platform address (WireServer, 168.63.129.16)")];

/// Why an IPv4 address is not a public unicast destination, if it is not.
pub(super) fn private_v4(ip: Ipv4Addr) -> Option<&'static str> {
    if let Some((_, why)) = PLATFORM_V4.iter().find(|(a, _)| *a == ip) {
        return Some(why);
    }
    let [a, b, c, _] = ip.octets();
    let why = match (a, b, c) {
        (0, _, _) => "targets 0.0.0.0/8 (\"this network\")",
        (10, _, _) => "targets a private address (RFC 1918)",
        (100, 64..=127, _) => "targets a carrier-grade NAT or cloud metadata address (100.64.0.0/10)",
        (127, _, _) => "targets a loopback address",
        (169, 254, _) => "targets a link-local or cloud metadata address (169.254.0.0/16)",
        (172, 16..=31, _) => "targets a private address (RFC 1918)",
        (192, 0, 0) => "targets an IETF protocol or Oracle Cloud metadata address (192.0.0.0/24)",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "targets a documentation address",
        (192, 88, 99) => "targets the deprecated 6to4 relay anycast range (192.88.99.0/24)",
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
    if seg[0] == 0x64 && seg[1] == 0xff9b {
        if seg[2] == 1 {
            return Some("targets a local-use NAT64 address (64:ff9b:1::/48)");
        }
        return private_v4(embedded_v4(seg[6], seg[7]))
            .map(|_| "targets a NAT64 address that embeds a private IPv4 address");
    }
    if seg[0] < 0x0100 {
        // Apart from NAT64 (above), ::/8 holds no public unicast address, only forms that reach IPv4
        // hosts through stacks that translate them: ::ffff:a.b.c.d (mapped),
        // ::a.b.c.d (compatible), ::ffff:0:a.b.c.d (translated).
        return Some("targets a reserved IPv6 address (::/8, which holds the IPv4-mapped and -compatible forms)");
    }
    if seg[0] == 0x2002 {
        return private_v4(embedded_v4(seg[1], seg[2]))
            .map(|_| "targets a 6to4 address that embeds a private IPv4 address");
    }
    let why = match seg[0] {
        0x2001 if seg[1] == 0 => "targets a Teredo address, which tunnels to IPv4",
        0x2001 if seg[1] == 0xdb8 => "targets a documentation address",
        0x2001 if (0x10..0x30).contains(&seg[1]) => "targets an ORCHID address (2001:10::/28, 2001:20::/28)",
        0x3fff if seg[1] < 0x1000 => "targets a documentation address (3fff::/20)",
        0x0100 if seg[1..4] == [0, 0, 0] => "targets a discard-only address",
        s if s & 0xfe00 == 0xfc00 => "targets a unique-local or cloud metadata address (fc00::/7)",
        s if s & 0xffc0 == 0xfe80 => "targets a link-local address",
        s if s & 0xffc0 == 0xfec0 => "targets a site-local address",
        s if s & 0xff00 == 0xff00 => "targets a multicast address",
        _ => return None,
    };
    Some(why)
}

fn embedded_v4(high: u16, low: u16) -> Ipv4Addr {
    let [a, b] = high.to_be_bytes();
    let [c, d] = low.to_be_bytes();
    Ipv4Addr::new(a, b, c, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn azure_host_platform_address_is_refused_though_it_is_public() {
        assert!(private_v4(Ipv4Addr::new(168, 63, 129, 16)).is_some());
        assert_eq!(private_v4(Ipv4Addr::new(168, 63, 129, 17)), None);
    }

    #[test]
    fn every_ipv6_form_of_an_ipv4_address_is_refused() {
        for text in ["::ffff:8.8.8.8", "::8.8.8.8", "::ffff:0:8.8.8.8", "::1:2", "64:ff9b::a9fe:a9fe", "2002:a00:1::"] {
            let ip: Ipv6Addr = text.parse().unwrap();
            assert!(private_v6(ip).is_some(), "{text}");
        }
        assert_eq!(private_v6("64:ff9b::808:808".parse().unwrap()), None);
        assert_eq!(private_v6("2606:4700::1111".parse().unwrap()), None);
    }
}
