//! IP network functions: cidrhost, cidrnetmask, cidrsubnet, cidrsubnets,
//! for IPv4 and IPv6 prefixes.

use super::{str_list, Args, Val};
use std::net::{Ipv4Addr, Ipv6Addr};

/// A parsed CIDR prefix: the address (IPv4 in the low 32 bits), its width
/// (32 or 128) and the prefix length.
#[derive(Clone, Copy)]
struct Net {
    addr: u128,
    width: u32,
    len: u32,
}

/// The `n` low bits set.
fn low_bits(n: u32) -> u128 {
    if n >= 128 {
        u128::MAX
    } else {
        (1u128 << n) - 1
    }
}

impl Net {
    fn host_bits(self) -> u32 {
        self.width - self.len
    }

    /// The network address (host bits cleared).
    fn network(self) -> u128 {
        self.addr & !low_bits(self.host_bits())
    }

    /// The last address of the network.
    fn last(self) -> u128 {
        self.network() | low_bits(self.host_bits())
    }

    fn addr_text(self, addr: u128) -> String {
        if self.width == 32 {
            Ipv4Addr::from(addr as u32).to_string()
        } else {
            Ipv6Addr::from(addr).to_string()
        }
    }

    fn text(self) -> String {
        format!("{}/{}", self.addr_text(self.network()), self.len)
    }
}

/// IPv4 octets with leading zeros are decimal, as in Terraform.
fn parse_v4(s: &str) -> Option<u128> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut out: u128 = 0;
    for p in parts {
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        out = (out << 8) | u128::from(p.parse::<u8>().ok()?);
    }
    Some(out)
}

fn parse_prefix(a: &Args, i: usize) -> Result<Net, String> {
    let text = a.str(i)?;
    let bad = || {
        a.arg_err(
            i,
            format!("must be a CIDR prefix like \"10.0.0.0/16\" or \"fd00::/8\", got {text:?}"),
        )
    };
    let (ip, len) = text.split_once('/').ok_or_else(bad)?;
    let (addr, width) = match parse_v4(ip) {
        Some(v4) => (v4, 32),
        None => (u128::from(ip.parse::<Ipv6Addr>().map_err(|_| bad())?), 128),
    };
    let len: u32 = len.parse().map_err(|_| bad())?;
    if len > width {
        return Err(bad());
    }
    Ok(Net { addr, width, len })
}

/// A non-negative whole-number argument.
fn count_arg(a: &Args, i: usize) -> Result<u32, String> {
    let n = a.int(i)?;
    u32::try_from(n).map_err(|_| a.arg_err(i, format!("must not be negative, got {n}")))
}

/// `cidrhost(prefix, hostnum)`: a negative hostnum counts from the end.
pub(super) fn cidrhost(a: &Args) -> Result<Val, String> {
    a.exactly(2)?;
    let net = parse_prefix(a, 0)?;
    let num = a.int(1)?;
    let max = low_bits(net.host_bits());
    let offset = if num < 0 {
        (num.unsigned_abs() as u128 - 1 <= max).then(|| max - (num.unsigned_abs() as u128 - 1))
    } else {
        (num as u128 <= max).then_some(num as u128)
    };
    let offset = offset.ok_or_else(|| {
        a.err(format!(
            "prefix of {} bits cannot accommodate a host numbered {num}",
            net.len
        ))
    })?;
    Ok(Val::String(net.addr_text(net.network() | offset)))
}

/// `cidrnetmask(prefix)`: IPv4 only.
pub(super) fn cidrnetmask(a: &Args) -> Result<Val, String> {
    a.exactly(1)?;
    let net = parse_prefix(a, 0)?;
    if net.width != 32 {
        return Err(a.err("only IPv4 networks have netmasks"));
    }
    let mask = low_bits(32) & !low_bits(net.host_bits());
    Ok(Val::String(net.addr_text(mask)))
}

/// Subnet `num` of `net` with `newbits` more prefix bits.
fn subnet(a: &Args, net: Net, newbits: u32, num: u128) -> Result<Net, String> {
    if net.len + newbits > net.width {
        return Err(a.err(format!(
            "insufficient address space to extend prefix of {} by {newbits}",
            net.len
        )));
    }
    if num > low_bits(newbits) {
        return Err(a.err(format!(
            "prefix extension of {newbits} does not accommodate a subnet numbered {num}"
        )));
    }
    let len = net.len + newbits;
    let shifted = if len == net.width {
        num
    } else {
        num << (net.width - len)
    };
    Ok(Net {
        addr: net.network() | shifted,
        width: net.width,
        len,
    })
}

/// `cidrsubnet(prefix, newbits, netnum)`.
pub(super) fn cidrsubnet(a: &Args) -> Result<Val, String> {
    a.exactly(3)?;
    let net = parse_prefix(a, 0)?;
    let newbits = count_arg(a, 1)?;
    let num = a.int(2)?;
    let num = u128::try_from(num)
        .map_err(|_| a.arg_err(2, format!("must not be negative, got {num}")))?;
    Ok(Val::String(subnet(a, net, newbits, num)?.text()))
}

/// `cidrsubnets(prefix, newbits...)`: consecutive subnets, each aligned to
/// its own size after the previous one.
pub(super) fn cidrsubnets(a: &Args) -> Result<Val, String> {
    a.count(1, usize::MAX)?;
    let net = parse_prefix(a, 0)?;
    let mut out = Vec::new();
    let mut current: Option<Net> = None;
    for i in 1..a.args.len() {
        let newbits = count_arg(a, i)?;
        if newbits < 1 {
            return Err(a.arg_err(i, "must extend the prefix by at least one bit"));
        }
        let next = match current {
            None => subnet(a, net, newbits, 0)?,
            Some(prev) => {
                let len = net.len + newbits;
                if len > net.width {
                    return Err(a.arg_err(
                        i,
                        format!("would extend the prefix to {len} bits, which is too long for the address"),
                    ));
                }
                let host = low_bits(net.width - len);
                let start = (prev.last() & !host) | host;
                let no_room = || {
                    a.err(format!(
                        "not enough remaining address space for a subnet with a prefix of {len} bits after {}",
                        prev.text()
                    ))
                };
                let next = start
                    .checked_add(1)
                    .filter(|n| *n <= low_bits(net.width))
                    .ok_or_else(no_room)?;
                if next > net.last() {
                    return Err(no_room());
                }
                Net {
                    addr: next,
                    width: net.width,
                    len,
                }
            }
        };
        out.push(next.text());
        current = Some(next);
    }
    Ok(str_list(out))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    #[test]
    fn cidrhost_v4_v6_and_negative() {
        assert_eq!(
            t("cidrhost", vec![s("10.12.112.0/20"), n(16.0)]),
            Ok(s("10.12.112.16"))
        );
        assert_eq!(
            t("cidrhost", vec![s("10.12.112.0/20"), n(268.0)]),
            Ok(s("10.12.113.12"))
        );
        assert_eq!(
            t("cidrhost", vec![s("10.0.0.0/24"), n(-1.0)]),
            Ok(s("10.0.0.255"))
        );
        assert_eq!(
            t(
                "cidrhost",
                vec![s("fd00:fd12:3456:7890:00a2::/72"), n(34.0)]
            ),
            Ok(s("fd00:fd12:3456:7890::22"))
        );
        assert!(err("cidrhost", vec![s("10.0.0.0/24"), n(256.0)])
            .contains("cannot accommodate a host numbered 256"));
        assert!(err("cidrhost", vec![s("10.0.0.0"), n(1.0)]).contains("must be a CIDR prefix"));
    }

    #[test]
    fn cidrnetmask_v4_only() {
        assert_eq!(
            t("cidrnetmask", vec![s("172.16.0.0/12")]),
            Ok(s("255.240.0.0"))
        );
        assert_eq!(t("cidrnetmask", vec![s("10.0.0.0/0")]), Ok(s("0.0.0.0")));
        assert!(err("cidrnetmask", vec![s("fd00::/8")]).contains("only IPv4"));
    }

    #[test]
    fn cidrsubnet_examples() {
        assert_eq!(
            t("cidrsubnet", vec![s("172.16.0.0/12"), n(4.0), n(2.0)]),
            Ok(s("172.18.0.0/16"))
        );
        assert_eq!(
            t("cidrsubnet", vec![s("10.1.2.0/24"), n(4.0), n(15.0)]),
            Ok(s("10.1.2.240/28"))
        );
        assert_eq!(
            t(
                "cidrsubnet",
                vec![s("fd00:fd12:3456:7890::/56"), n(16.0), n(162.0)]
            ),
            Ok(s("fd00:fd12:3456:7800:a200::/72"))
        );
        assert_eq!(
            t("cidrsubnet", vec![s("010.1.2.0/24"), n(0.0), n(0.0)]),
            Ok(s("10.1.2.0/24"))
        );
        assert!(err("cidrsubnet", vec![s("10.0.0.0/24"), n(4.0), n(16.0)])
            .contains("does not accommodate a subnet numbered 16"));
        assert!(err("cidrsubnet", vec![s("10.0.0.0/30"), n(4.0), n(0.0)])
            .contains("insufficient address space"));
        assert!(err("cidrsubnet", vec![s("10.0.0.0/8"), n(8.0), n(-1.0)])
            .contains("argument 3 must not be negative"));
    }

    #[test]
    fn cidrsubnets_consecutive() {
        assert_eq!(
            t(
                "cidrsubnets",
                vec![s("10.1.0.0/16"), n(4.0), n(4.0), n(8.0), n(4.0)]
            ),
            Ok(sl(&[
                "10.1.0.0/20",
                "10.1.16.0/20",
                "10.1.32.0/24",
                "10.1.48.0/20"
            ]))
        );
        assert_eq!(
            t(
                "cidrsubnets",
                vec![s("fd00:fd12:3456:7890::/56"), n(16.0), n(16.0)]
            ),
            Ok(sl(&[
                "fd00:fd12:3456:7800::/72",
                "fd00:fd12:3456:7800:100::/72"
            ]))
        );
        assert!(err(
            "cidrsubnets",
            vec![s("10.0.0.0/24"), n(1.0), n(1.0), n(1.0)]
        )
        .contains("not enough remaining address space"));
        assert!(err("cidrsubnets", vec![s("10.0.0.0/24"), n(0.0)]).contains("at least one bit"));
    }
}
