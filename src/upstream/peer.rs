//! Upstream servers: nginx's `server ADDR [weight=N] [max_fails=N]
//! [fail_timeout=T] [backup] [down] [max_conns=N]` (nginx/nginx:
//! src/http/ngx_http_upstream.c `ngx_http_upstream_server`).

use crate::config::units::{parse_duration, Dur};
use std::net::{SocketAddr, ToSocketAddrs};

#[derive(Debug, Clone, PartialEq)]
pub struct Peer {
    pub addr: SocketAddr,
    /// The address as configured ("app1:8080"), used in logs and status pages.
    pub name: String,
    /// The `server` word exactly as written ("app1", "10.0.0.1:80"): nginx's
    /// `peer->server`, which keys the consistent-hash ring.
    pub server: String,
    pub weight: u32,
    pub max_fails: u32,
    pub fail_timeout: Dur,
    pub max_conns: u32,
    pub backup: bool,
    pub down: bool,
}

/// Parses one `server` line (without the keyword) into one peer per resolved
/// address, all sharing the parameters, as nginx does for a host name.
pub fn parse_server(s: &str) -> Result<Vec<Peer>, String> {
    let mut words = s.split_whitespace();
    let addr = words.next().ok_or("no address in \"server\"")?;
    let (mut weight, mut max_fails, mut fail_timeout, mut max_conns) = (1u32, 1u32, Dur::secs(10), 0u32);
    let (mut backup, mut down) = (false, false);
    for w in words {
        let num = |v: &str| v.parse::<u32>().map_err(|_| format!("invalid parameter \"{w}\""));
        match w.split_once('=') {
            Some(("weight", v)) => {
                weight = num(v)?;
                if weight == 0 {
                    return Err(format!("invalid parameter \"{w}\""));
                }
            }
            Some(("max_fails", v)) => max_fails = num(v)?,
            Some(("max_conns", v)) => max_conns = num(v)?,
            Some(("fail_timeout", v)) => fail_timeout = parse_duration(v)?,
            None if w == "backup" => backup = true,
            None if w == "down" => down = true,
            _ => return Err(format!("invalid parameter \"{w}\"")),
        }
    }
    let addrs = resolve(addr)?;
    Ok(addrs
        .into_iter()
        .map(|a| Peer {
            addr: a,
            name: if addr.contains(':') {
                addr.to_string()
            } else {
                a.to_string()
            },
            server: addr.to_string(),
            weight,
            max_fails,
            fail_timeout,
            max_conns,
            backup,
            down,
        })
        .collect())
}

/// Resolves `host[:port]` (port 80 by default), keeping the resolver's order.
pub fn resolve(addr: &str) -> Result<Vec<SocketAddr>, String> {
    if let Ok(a) = addr.parse::<SocketAddr>() {
        return Ok(vec![a]);
    }
    let with_port = if addr
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
        && !addr.ends_with(']')
    {
        addr.to_string()
    } else {
        format!("{addr}:80")
    };
    let v: Vec<SocketAddr> = with_port
        .to_socket_addrs()
        .map_err(|_| format!("host not found in upstream \"{addr}\""))?
        .collect();
    if v.is_empty() {
        return Err(format!("host not found in upstream \"{addr}\""));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_lines() {
        let p = parse_server("127.0.0.1:9001 weight=3 max_fails=2 fail_timeout=30s backup").unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!((p[0].weight, p[0].max_fails, p[0].backup), (3, 2, true));
        assert_eq!(p[0].fail_timeout, Dur::secs(30));
        assert_eq!(parse_server("127.0.0.1").unwrap()[0].addr.port(), 80);
        assert!(parse_server("127.0.0.1:1 down").unwrap()[0].down);
        for bad in [
            "",
            "127.0.0.1:1 weight=0",
            "127.0.0.1:1 foo",
            "127.0.0.1:1 max_fails=x",
        ] {
            assert!(parse_server(bad).is_err(), "{bad:?}");
        }
    }
}
