//! `listen` arguments, parsed as nginx reads them (nginx/nginx:
//! src/http/ngx_http_core_module.c `ngx_http_core_listen`, src/core/ngx_inet.c).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

/// Linux default backlog in nginx (`NGX_LISTEN_BACKLOG`, src/os/unix/ngx_linux_config.h).
pub const DEFAULT_BACKLOG: i32 = 511;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenOpts {
    pub addr: SocketAddr,
    pub default_server: bool,
    pub backlog: i32,
    /// nginx's `reuseport`. rampart always binds one socket per worker thread
    /// with SO_REUSEPORT (see server::listener); the flag is accepted for
    /// compatibility and recorded so `-T` shows it.
    pub reuseport: bool,
    pub ipv6only: bool,
    pub rcvbuf: Option<usize>,
    pub sndbuf: Option<usize>,
    /// Whether the socket options were given explicitly (nginx allows that once per address).
    pub has_socket_opts: bool,
    /// `proxy_protocol`: every connection starts with a PROXY v1/v2 header.
    /// Like nginx (ngx_http_add_addresses), it applies to the whole
    /// address:port if any `listen` of it says so.
    pub proxy_protocol: bool,
    /// `ssl`: TLS on this address:port (same OR rule as `proxy_protocol`).
    pub ssl: bool,
    /// `health_probe` (rampart): the L4 tier's health-check port. A graceful
    /// stop closes this socket first, while the others keep serving for
    /// `drain_grace_time`, so keepalived's TCP_CHECK or haproxy's `check`
    /// takes the node out before it stops accepting (same OR rule as `ssl`).
    pub health_probe: bool,
    /// `http2`: HTTP/2 on this address:port (same OR rule): offered by ALPN
    /// on an `ssl` address, detected by its preface on a cleartext one.
    pub http2: bool,
}

/// Parses `ADDR[:PORT] [default_server] [ssl] [http2] [proxy_protocol] [backlog=N] [reuseport] [ipv6only=on|off] [rcvbuf=SIZE] [sndbuf=SIZE]
/// [health_probe]`.
/// A bare port means `*:PORT`; a bare address means port 80; `*` is the IPv4 wildcard.
pub fn parse_listen(s: &str) -> Result<ListenOpts, String> {
    let mut words = s.split_whitespace();
    let addr_s = words.next().ok_or("no address in \"listen\"")?;
    let addr = parse_addr(addr_s)?;
    let mut o = ListenOpts {
        addr,
        default_server: false,
        backlog: DEFAULT_BACKLOG,
        reuseport: false,
        ipv6only: true,
        rcvbuf: None,
        sndbuf: None,
        has_socket_opts: false,
        proxy_protocol: false,
        ssl: false,
        health_probe: false,
        http2: false,
    };
    for w in words {
        let (k, v) = w.split_once('=').unwrap_or((w, ""));
        match (k, v) {
            ("default_server" | "default", "") => o.default_server = true,
            ("reuseport", "") => {
                o.reuseport = true;
                o.has_socket_opts = true;
            }
            ("backlog", v) => {
                o.backlog = v.parse().map_err(|_| format!("invalid backlog \"{v}\""))?;
                o.has_socket_opts = true;
            }
            ("ipv6only", "on") => o.ipv6only = true,
            ("ipv6only", "off") => o.ipv6only = false,
            ("rcvbuf", v) => {
                o.rcvbuf = Some(crate::config::units::parse_size(v)?.0 as usize);
                o.has_socket_opts = true;
            }
            ("sndbuf", v) => {
                o.sndbuf = Some(crate::config::units::parse_size(v)?.0 as usize);
                o.has_socket_opts = true;
            }
            ("bind" | "deferred" | "fastopen" | "so_keepalive", _) => {}
            ("proxy_protocol", "") => o.proxy_protocol = true,
            ("ssl", "") => o.ssl = true,
            ("health_probe", "") => o.health_probe = true,
            ("http2", "") => o.http2 = true,
            ("quic", _) => {
                return Err(format!(
                    "the \"{k}\" parameter of \"listen\" is not implemented yet"
                ))
            }
            _ => return Err(format!("invalid parameter \"{w}\"")),
        }
    }
    Ok(o)
}

fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    let bad = || format!("invalid host in \"{s}\" of the \"listen\" directive");
    if s.bytes().all(|b| b.is_ascii_digit()) {
        let port = parse_port(s)?;
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port));
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (ip, after) = rest.split_once(']').ok_or_else(bad)?;
        let ip: Ipv6Addr = ip.parse().map_err(|_| bad())?;
        let port = match after.strip_prefix(':') {
            Some(p) => parse_port(p)?,
            None if after.is_empty() => 80,
            None => return Err(bad()),
        };
        return Ok(SocketAddr::new(IpAddr::V6(ip), port));
    }
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, parse_port(p)?),
        None => (s, 80),
    };
    if host == "*" {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port));
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    // A host name: nginx resolves it at start-up and uses the first address.
    (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.find(|a| a.is_ipv4()))
        .ok_or_else(|| format!("host not found in \"{s}\" of the \"listen\" directive"))
}

fn parse_port(p: &str) -> Result<u16, String> {
    match p.parse::<u32>() {
        Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
        _ => Err(format!("invalid port in \"{p}\" of the \"listen\" directive")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_forms() {
        let ok: &[(&str, &str, bool)] = &[
            ("8080", "0.0.0.0:8080", false),
            ("127.0.0.1:8080 default_server", "127.0.0.1:8080", true),
            ("127.0.0.1", "127.0.0.1:80", false),
            ("*:81", "0.0.0.0:81", false),
            ("[::1]:8080", "[::1]:8080", false),
            ("[::]:8080 default_server ipv6only=on", "[::]:8080", true),
            ("localhost:8081", "127.0.0.1:8081", false),
        ];
        for (s, addr, def) in ok {
            let o = parse_listen(s).unwrap();
            assert_eq!(o.addr.to_string(), *addr, "{s}");
            assert_eq!(o.default_server, *def, "{s}");
        }
        assert_eq!(parse_listen("80 backlog=1024 reuseport").unwrap().backlog, 1024);
        let o = parse_listen("127.0.0.1:8443 ssl proxy_protocol").unwrap();
        assert!(o.ssl && o.proxy_protocol && !o.has_socket_opts);
        assert!(!parse_listen("80").unwrap().proxy_protocol);
        let o = parse_listen("127.0.0.1:8081 health_probe").unwrap();
        assert!(o.health_probe && !o.proxy_protocol && !o.has_socket_opts);
        assert!(!parse_listen("80").unwrap().health_probe);
        let o = parse_listen("127.0.0.1:8443 ssl http2").unwrap();
        assert!(o.ssl && o.http2 && !o.proxy_protocol);
        assert!(parse_listen("8080 http2 proxy_protocol").unwrap().http2);
        assert!(!parse_listen("80").unwrap().http2);
        for bad in [
            "",
            "0",
            "70000",
            "1.2.3.4:x",
            "80 foo",
            "[::1",
            "80 backlog=x",
            "80 http2=on",
            "80 quic",
            "80 proxy_protocol=on",
            "80 health_probe=on",
        ] {
            assert!(parse_listen(bad).is_err(), "{bad:?} must fail");
        }
    }
}
