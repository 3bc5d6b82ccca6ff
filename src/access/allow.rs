//! `allow` / `deny` (nginx/nginx: src/http/modules/ngx_http_access_module.c).
//!
//! nginx keeps one rule array per address family, and `all` is added to
//! every array, so for a given client the rules of its family are tried in
//! config order and the first match decides; no match allows. A client on an
//! IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is checked against the IPv4
//! rules (`IN6_IS_ADDR_V4MAPPED` in `ngx_http_access_handler`). Walking one
//! ordered list and skipping the other family's rules is the same thing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Allow,
    Deny,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Net {
    All,
    V4 { addr: u32, mask: u32 },
    V6 { addr: u128, mask: u128 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub action: Action,
    net: Net,
}

/// A parsed rule, plus nginx's warning when the CIDR had host bits set
/// ("low address bits of 10.0.0.1/8 are meaningless"; the bits are masked off).
pub type Parsed = (Rule, Option<String>);

/// Parses one `allow`/`deny` line: `action` is the directive name, `value`
/// an address, `ADDR/BITS` or `all`. `unix:` is not supported (no unix listeners).
pub fn parse_rule(action: &str, value: &str) -> Result<Parsed, String> {
    let action = match action {
        "allow" => Action::Allow,
        "deny" => Action::Deny,
        other => return Err(format!("unknown access directive \"{other}\" (allow or deny)")),
    };
    let value = value.trim();
    if value == "all" {
        return Ok((
            Rule {
                action,
                net: Net::All,
            },
            None,
        ));
    }
    let bad = || format!("invalid parameter \"{value}\"");
    let (addr, bits) = match value.split_once('/') {
        Some((a, b)) => {
            if b.is_empty() || !b.bytes().all(|c| c.is_ascii_digit()) {
                return Err(bad());
            }
            (a, Some(b.parse::<u32>().map_err(|_| bad())?))
        }
        None => (value, None),
    };
    let ip: IpAddr = addr.parse().map_err(|_| bad())?;
    let mut warning = None;
    let net = match ip {
        IpAddr::V4(v4) => {
            let bits = bits.unwrap_or(32);
            if bits > 32 {
                return Err(bad());
            }
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            let a = u32::from(v4);
            if a & !mask != 0 {
                warning = Some(format!("low address bits of {value} are meaningless"));
            }
            Net::V4 { addr: a & mask, mask }
        }
        IpAddr::V6(v6) => {
            let bits = bits.unwrap_or(128);
            if bits > 128 {
                return Err(bad());
            }
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            let a = u128::from(v6);
            if a & !mask != 0 {
                warning = Some(format!("low address bits of {value} are meaningless"));
            }
            Net::V6 { addr: a & mask, mask }
        }
    };
    Ok((Rule { action, net }, warning))
}

/// Whether `client` may proceed: the first matching rule decides, no match allows.
pub fn allowed(rules: &[Rule], client: IpAddr) -> bool {
    decide(rules, client) != Some(Action::Deny)
}

/// The action of the first rule matching `client`; None when none does
/// (nginx's access module declines then).
pub fn decide(rules: &[Rule], client: IpAddr) -> Option<Action> {
    let client = match client {
        IpAddr::V6(v6) => match v4_mapped(&v6) {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    };
    for r in rules {
        let hit = match (r.net, client) {
            (Net::All, _) => true,
            (Net::V4 { addr, mask }, IpAddr::V4(c)) => u32::from(c) & mask == addr,
            (Net::V6 { addr, mask }, IpAddr::V6(c)) => u128::from(c) & mask == addr,
            _ => false,
        };
        if hit {
            return Some(r.action);
        }
    }
    None
}

/// `::ffff:a.b.c.d` only (not the deprecated IPv4-compatible `::a.b.c.d`).
fn v4_mapped(v6: &Ipv6Addr) -> Option<Ipv4Addr> {
    match v6.segments() {
        [0, 0, 0, 0, 0, 0xffff, hi, lo] => {
            let [a, b] = hi.to_be_bytes();
            let [c, d] = lo.to_be_bytes();
            Some(Ipv4Addr::new(a, b, c, d))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(list: &[(&str, &str)]) -> Vec<Rule> {
        list.iter().map(|(a, v)| parse_rule(a, v).unwrap().0).collect()
    }

    #[test]
    fn first_match_decides_in_config_order() {
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, bool);
        let table: &[Case] = &[
            (&[], "1.2.3.4", true),
            (&[("deny", "all")], "1.2.3.4", false),
            (&[("deny", "all")], "::1", false),
            (&[("allow", "10.0.0.0/8"), ("deny", "all")], "10.9.8.7", true),
            (&[("allow", "10.0.0.0/8"), ("deny", "all")], "11.0.0.1", false),
            (
                &[("deny", "10.1.0.0/16"), ("allow", "10.0.0.0/8"), ("deny", "all")],
                "10.1.2.3",
                false,
            ),
            (
                &[("deny", "10.1.0.0/16"), ("allow", "10.0.0.0/8"), ("deny", "all")],
                "10.2.2.3",
                true,
            ),
            // Order matters: a later deny never overrides an earlier allow.
            (&[("allow", "all"), ("deny", "127.0.0.1")], "127.0.0.1", true),
            (&[("deny", "127.0.0.1")], "127.0.0.2", true),
            (&[("deny", "127.0.0.1")], "127.0.0.1", false),
            (&[("deny", "127.0.0.1/32")], "127.0.0.1", false),
            (&[("deny", "0.0.0.0/0")], "8.8.8.8", false),
            // Family-specific rules do not match the other family.
            (&[("deny", "0.0.0.0/0")], "::1", true),
            (&[("deny", "::/0")], "1.1.1.1", true),
            (&[("deny", "::1")], "::1", false),
            (
                &[("deny", "2001:db8::/32"), ("deny", "all")],
                "2001:db8:1::5",
                false,
            ),
            (
                &[("allow", "2001:db8::/32"), ("deny", "all")],
                "2001:db8:1::5",
                true,
            ),
            (
                &[("allow", "2001:db8::/32"), ("deny", "all")],
                "2001:db9::5",
                false,
            ),
            // IPv4-mapped clients are checked against IPv4 rules.
            (
                &[("allow", "192.168.0.0/16"), ("deny", "all")],
                "::ffff:192.168.1.1",
                true,
            ),
            (&[("deny", "192.168.1.1")], "::ffff:192.168.1.1", false),
            // Host bits are masked off (nginx warns and accepts).
            (&[("deny", "10.0.0.1/8")], "10.200.0.0", false),
        ];
        for (list, client, want) in table {
            let r = rules(list);
            assert_eq!(allowed(&r, client.parse().unwrap()), *want, "{list:?} {client}");
        }
    }

    #[test]
    fn parse_errors_and_warnings() {
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "10.0.0.0/x",
            "host.example",
            "1.2.3",
            "all2",
        ] {
            assert!(parse_rule("allow", bad).is_err(), "{bad}");
        }
        assert!(parse_rule("permit", "all").is_err());
        assert!(parse_rule("allow", "10.0.0.1/8").unwrap().1.is_some());
        assert!(parse_rule("allow", "10.0.0.0/8").unwrap().1.is_none());
        assert!(parse_rule("allow", "2001:db8::1/32").unwrap().1.is_some());
        assert_eq!(parse_rule("deny", " all ").unwrap().0.action, Action::Deny);
    }
}
