//! Where a webhook may be sent: the rule against server-side request forgery, as one pure
//! function. A tenant's administrator names the URL, and the server makes the request from
//! inside the operator's network, so a URL must never reach what only the server can reach:
//! itself (loopback), the private network, link-local addresses (where cloud metadata services
//! answer, 169.254.169.254 and fd00:ec2::254), and the addresses that are no host at all. The
//! sender checks every address a name resolves to, and every literal address, before it
//! connects; it follows no redirect. `webhook_allow_private` lifts the rule (tests on loopback).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A class of addresses a webhook is never sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// 127.0.0.0/8, ::1.
    Loopback,
    /// 10/8, 172.16/12, 192.168/16 (RFC 1918), fc00::/7 (RFC 4193).
    Private,
    /// 100.64/10 (RFC 6598): a carrier's network, where 100.100.100.200 is a metadata service.
    Shared,
    /// 169.254/16, fe80::/10.
    LinkLocal,
    /// The cloud metadata services' addresses: 169.254.169.254, fd00:ec2::254.
    Metadata,
    /// 0.0.0.0/8, ::: "this host".
    Unspecified,
    /// Multicast and broadcast.
    Multicast,
    /// 192.0.0/24, 198.18/15, 240/4, documentation ranges and other addresses no receiver has.
    Reserved,
}

impl Refused {
    pub fn as_str(self) -> &'static str {
        match self {
            Refused::Loopback => "a loopback address",
            Refused::Private => "a private address",
            Refused::Shared => "a carrier's shared address",
            Refused::LinkLocal => "a link-local address",
            Refused::Metadata => "a cloud metadata address",
            Refused::Unspecified => "an unspecified address",
            Refused::Multicast => "a multicast or broadcast address",
            Refused::Reserved => "a reserved address",
        }
    }
}

/// Why a webhook may not be sent to `ip`, or None if it may. An IPv6 address that carries an
/// IPv4 one (mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4
/// `2002::/16`) is judged by the IPv4 address it carries.
pub fn refused(ip: IpAddr) -> Option<Refused> {
    match ip {
        IpAddr::V4(v4) => refused_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => refused_v4(v4),
            None => refused_v6(v6),
        },
    }
}

fn refused_v4(ip: Ipv4Addr) -> Option<Refused> {
    let [a, b, c, _] = ip.octets();
    Some(match () {
        _ if ip == Ipv4Addr::new(169, 254, 169, 254) => Refused::Metadata,
        _ if ip.is_loopback() => Refused::Loopback,
        _ if ip.is_private() => Refused::Private,
        _ if a == 100 && (64..128).contains(&b) => Refused::Shared,
        _ if ip.is_link_local() => Refused::LinkLocal,
        _ if a == 0 => Refused::Unspecified,
        _ if ip.is_multicast() || ip.is_broadcast() => Refused::Multicast,
        _ if a >= 240
            || (a == 192 && b == 0 && c == 0)
            || (a == 198 && (b == 18 || b == 19))
            || ip.is_documentation() =>
        {
            Refused::Reserved
        }
        _ => return None,
    })
}

fn refused_v6(ip: Ipv6Addr) -> Option<Refused> {
    let s = ip.segments();
    Some(match () {
        _ if ip == Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254) => Refused::Metadata,
        _ if ip.is_loopback() => Refused::Loopback,
        _ if ip.is_unspecified() => Refused::Unspecified,
        _ if (s[0] & 0xfe00) == 0xfc00 => Refused::Private,
        _ if (s[0] & 0xffc0) == 0xfe80 => Refused::LinkLocal,
        _ if ip.is_multicast() => Refused::Multicast,
        // Documentation (2001:db8::/32), and the site-local addresses of old (fec0::/10).
        _ if (s[0] == 0x2001 && s[1] == 0x0db8) || (s[0] & 0xffc0) == 0xfec0 => Refused::Reserved,
        _ => return None,
    })
}

/// The IPv4 address an IPv6 address carries, where it carries one.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    // ::a.b.c.d (deprecated "compatible"), but not :: and ::1.
    if s[..6].iter().all(|x| *x == 0) && (s[6] != 0 || s[7] > 1) {
        return Some(low(s[6], s[7]));
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6].iter().all(|x| *x == 0) {
        return Some(low(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return Some(low(s[1], s[2]));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judged(text: &str) -> Option<Refused> {
        refused(text.parse().expect("an address"))
    }

    #[test]
    fn loopback_is_refused() {
        for a in ["127.0.0.1", "127.255.0.9", "::1", "::ffff:127.0.0.1"] {
            assert_eq!(judged(a), Some(Refused::Loopback), "{a}");
        }
    }

    #[test]
    fn private_networks_are_refused() {
        for a in [
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.254",
            "192.168.1.1",
            "fc00::1",
            "fd12:3456::1",
            "::ffff:10.1.2.3",
            "64:ff9b::a00:1",
            "2002:c0a8:101::1",
        ] {
            assert_eq!(judged(a), Some(Refused::Private), "{a}");
        }
        assert_eq!(judged("100.64.0.1"), Some(Refused::Shared));
        assert_eq!(judged("100.100.100.200"), Some(Refused::Shared));
    }

    #[test]
    fn link_local_and_metadata_are_refused() {
        for a in ["169.254.0.1", "169.254.10.20", "fe80::1", "febf::1"] {
            assert_eq!(judged(a), Some(Refused::LinkLocal), "{a}");
        }
        for a in ["169.254.169.254", "fd00:ec2::254", "::ffff:169.254.169.254"] {
            assert_eq!(judged(a), Some(Refused::Metadata), "{a}");
        }
    }

    #[test]
    fn addresses_of_no_host_are_refused() {
        for a in ["0.0.0.0", "0.1.2.3", "::"] {
            assert_eq!(judged(a), Some(Refused::Unspecified), "{a}");
        }
        for a in ["224.0.0.1", "239.1.1.1", "255.255.255.255", "ff02::1"] {
            assert_eq!(judged(a), Some(Refused::Multicast), "{a}");
        }
        for a in [
            "240.0.0.1",
            "192.0.0.8",
            "198.18.0.1",
            "192.0.2.1",
            "2001:db8::1",
        ] {
            assert_eq!(judged(a), Some(Refused::Reserved), "{a}");
        }
    }

    #[test]
    fn public_addresses_are_allowed() {
        for a in [
            "93.184.215.14",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
            "64:ff9b::808:808",
        ] {
            assert_eq!(judged(a), None, "{a}");
        }
    }
}
