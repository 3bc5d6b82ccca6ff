//! Opening the upstream socket: `proxy_bind` (the local address, bound
//! before connect; nginx: `ngx_http_upstream_set_local`,
//! src/event/ngx_event_connect.c) and `proxy_socket_keepalive` (SO_KEEPALIVE
//! with the system's keepalive timers, as nginx sets it).

use super::conf::ProxyConf;
use crate::exchange::request::Request;
use std::io;
use std::net::{IpAddr, SocketAddr};
use tokio::net::{TcpSocket, TcpStream};

/// Connects to `addr` with the location's socket options.
pub async fn connect(req: &Request, addr: SocketAddr, conf: &ProxyConf) -> io::Result<TcpStream> {
    let local = match &conf.bind {
        None => None,
        Some(t) => {
            let v = t.eval_to_vec(req);
            // An empty value (variables that evaluate to nothing) binds nothing, as nginx.
            if v.is_empty() {
                None
            } else {
                let s = String::from_utf8_lossy(&v);
                Some(parse_local(&s).ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("invalid local address \"{s}\""),
                    )
                })?)
            }
        }
    };
    if local.is_none() && !conf.socket_keepalive {
        return TcpStream::connect(addr).await;
    }
    let sock = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if conf.socket_keepalive {
        sock.set_keepalive(true)?;
    }
    if let Some(l) = local {
        sock.bind(l)?;
    }
    sock.connect(addr).await
}

/// `ADDR` or `ADDR:PORT` (IPv6 in brackets when a port follows), as
/// `ngx_parse_addr_port` reads proxy_bind's value; port 0 when absent.
pub fn parse_local(s: &str) -> Option<SocketAddr> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Some(a);
    }
    let ip = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')).unwrap_or(s);
    ip.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bind_addresses() {
        let t: &[(&str, Option<&str>)] = &[
            ("127.0.0.2", Some("127.0.0.2:0")),
            ("127.0.0.2:4000", Some("127.0.0.2:4000")),
            ("::1", Some("[::1]:0")),
            ("[::1]", Some("[::1]:0")),
            ("[::1]:81", Some("[::1]:81")),
            ("localhost", None),
            ("", None),
            ("1.2.3", None),
        ];
        for (s, want) in t {
            assert_eq!(parse_local(s), want.map(|w| w.parse().unwrap()), "{s}");
        }
    }
}
