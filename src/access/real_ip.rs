//! real_ip: the client address from a trusted header or PROXY header
//! (nginx/nginx: src/http/modules/ngx_http_realip_module.c and
//! `ngx_http_get_forwarded_addr` in src/http/ngx_http_core_module.c;
//! nginx-semantics.md §12.6).
//!
//! The real address replaces `$remote_addr`/`$remote_port` for the rest of
//! the request, so the ip_hash key, `$proxy_add_x_forwarded_for` and the logs
//! follow it; `$realip_remote_addr` keeps the TCP peer.

use crate::config::nginx::parser::Directive;
use crate::config::nginx::values;
use crate::config::section::Offer;
use crate::config::ConfigError;
use crate::http::conn::ProxyAddrs;
use crate::http1::RequestHead;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

crate::section! {
    /// The real_ip section of an http, server or location level.
    pub struct RealIpSettings {
        /// Trusted addresses (`ADDR`, `ADDR/BITS`, a host name, `unix:`) whose
        /// real_ip header is believed; without any, real_ip does nothing.
        set_real_ip_from: Vec<String>,
        /// `"X-Real-IP"` (default), `"X-Forwarded-For"`, `"proxy_protocol"` or any header name.
        real_ip_header: String = string,
        /// Walk X-Forwarded-For past trusted addresses (nginx `real_ip_recursive on`).
        real_ip_recursive: bool = flag,
    }
    custom = set_from;
}

/// Each `set_real_ip_from` line adds a network.
fn set_from(s: &mut RealIpSettings, d: &Directive) -> Offer {
    (d.name == "set_real_ip_from").then(|| {
        let v = values::first(d).to_string();
        s.set_real_ip_from.get_or_insert_with(Vec::new).push(v);
        Ok(())
    })
}

impl RealIpSettings {
    /// The module's conf for these merged settings; None without
    /// `set_real_ip_from` (the module is off). `file` and `line` (where the
    /// level starts) name errors.
    pub fn compile(&self, file: &std::path::Path, line: usize) -> Result<Option<RealIpConf>, ConfigError> {
        RealIpConf::compile(
            self.set_real_ip_from.as_deref().unwrap_or(&[]),
            self.real_ip_header.as_deref(),
            self.real_ip_recursive.unwrap_or(false),
        )
        .map_err(|e| ConfigError::new(file, line, e).directive("set_real_ip_from"))
    }
}

/// One `set_real_ip_from` network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    bits: u8,
}

impl Cidr {
    /// `ADDR[/BITS]`; low bits set under the mask are cleared, as ngx_ptocidr
    /// does (it warns "low address bits of ... are meaningless").
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let bad = || format!("invalid parameter \"{s}\"");
        let (a, bits) = match s.split_once('/') {
            Some((a, b)) => (a, Some(b.parse::<u8>().map_err(|_| bad())?)),
            None => (s, None),
        };
        let ip: IpAddr = a.parse().map_err(|_| bad())?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let bits = bits.unwrap_or(max);
        if bits > max {
            return Err(bad());
        }
        Ok(Cidr {
            net: mask(ip, bits),
            bits,
        })
    }

    /// ngx_cidr_match; an IPv4-mapped IPv6 peer matches IPv4 networks.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        ip.is_ipv4() == self.net.is_ipv4() && mask(ip, self.bits) == self.net
    }
}

fn mask(ip: IpAddr, bits: u8) -> IpAddr {
    match ip {
        IpAddr::V4(a) => {
            let m = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & m))
        }
        IpAddr::V6(a) => {
            let m = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(a) & m))
        }
    }
}

/// `real_ip_header`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The default.
    XRealIp,
    XForwardedFor,
    ProxyProtocol,
    /// Any other header, lowercase; parsed like X-Real-IP.
    Header(String),
}

/// The compiled realip settings of one level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealIpConf {
    pub from: Vec<Cidr>,
    pub source: Source,
    pub recursive: bool,
}

impl RealIpConf {
    /// Compiles the directives; `None` when no `set_real_ip_from` is set
    /// (the module does nothing then). Host names resolve at load, like nginx.
    pub fn compile(
        from: &[String],
        header: Option<&str>,
        recursive: bool,
    ) -> Result<Option<RealIpConf>, String> {
        if from.is_empty() {
            return Ok(None);
        }
        let mut nets = Vec::new();
        for f in from {
            if f.starts_with("unix:") {
                // Trusts unix-socket peers; rampart listens on TCP only.
                continue;
            }
            match Cidr::parse(f) {
                Ok(c) => nets.push(c),
                Err(e) if f.contains('/') => return Err(e),
                Err(_) => {
                    let addrs = (f.as_str(), 0)
                        .to_socket_addrs()
                        .map_err(|_| format!("host not found in set_real_ip_from \"{f}\""))?;
                    for a in addrs {
                        nets.push(Cidr::parse(&a.ip().to_string())?);
                    }
                }
            }
        }
        let source = match header.unwrap_or("X-Real-IP") {
            h if h.eq_ignore_ascii_case("X-Real-IP") => Source::XRealIp,
            h if h.eq_ignore_ascii_case("X-Forwarded-For") => Source::XForwardedFor,
            "proxy_protocol" => Source::ProxyProtocol,
            h => Source::Header(h.to_ascii_lowercase()),
        };
        Ok(Some(RealIpConf {
            from: nets,
            source,
            recursive,
        }))
    }

    fn trusted(&self, ip: IpAddr) -> bool {
        self.from.iter().any(|c| c.contains(ip))
    }

    /// The real client address for a request from `peer` (the TCP peer), or
    /// `None` to keep it (ngx_http_realip_handler returning NGX_DECLINED).
    pub fn real_addr(
        &self,
        peer: SocketAddr,
        head: &RequestHead,
        proxy: Option<&ProxyAddrs>,
    ) -> Option<SocketAddr> {
        match &self.source {
            Source::ProxyProtocol => {
                let p = proxy?;
                // The PROXY address with its port, if the peer is trusted.
                self.trusted(peer.ip()).then_some(p.src)
            }
            Source::XRealIp => self.forwarded(peer, head.header(b"x-real-ip")?),
            Source::Header(name) => self.forwarded(peer, head.header(name.as_bytes())?),
            Source::XForwardedFor => {
                let values: Vec<&[u8]> = head.header_all(b"x-forwarded-for").collect();
                self.forwarded_list(peer, &values)
            }
        }
    }

    /// One header value (X-Real-IP or a custom header): nginx runs the same
    /// right-to-left walk on it as on one X-Forwarded-For line.
    fn forwarded(&self, peer: SocketAddr, value: &[u8]) -> Option<SocketAddr> {
        let mut addr = peer;
        match self.walk(&mut addr, value) {
            Walk::Declined => None,
            _ => Some(addr),
        }
    }

    /// All X-Forwarded-For lines, last to first (ngx_http_get_forwarded_addr).
    fn forwarded_list(&self, peer: SocketAddr, values: &[&[u8]]) -> Option<SocketAddr> {
        let mut addr = peer;
        let mut rc = Walk::Declined;
        let mut found = false;
        for v in values.iter().rev() {
            rc = self.walk(&mut addr, v);
            if !self.recursive {
                break;
            }
            if rc == Walk::Declined && found {
                rc = Walk::Done;
                break;
            }
            if rc != Walk::Ok {
                break;
            }
            found = true;
        }
        match rc {
            Walk::Declined => None,
            _ => Some(addr),
        }
    }

    /// ngx_http_get_forwarded_addr_internal: if `addr` is trusted, take the
    /// rightmost element of `xff`; with recursion, go on leftwards while the
    /// address just taken is trusted.
    fn walk(&self, addr: &mut SocketAddr, mut xff: &[u8]) -> Walk {
        let mut taken = false;
        loop {
            if !self.trusted(addr.ip()) {
                return if taken { Walk::Done } else { Walk::Declined };
            }
            // Like nginx's pointer loops, neither scan looks at the first byte.
            let sep = |b: &u8| *b == b' ' || *b == b',';
            let tail = xff.get(1..).unwrap_or(&[]);
            let end = tail
                .iter()
                .rposition(|b| !sep(b))
                .map_or(xff.len().min(1), |i| i + 2);
            let trimmed = xff.get(..end).unwrap_or(&[]);
            let inner = trimmed.get(1..).unwrap_or(&[]);
            let start = inner.iter().rposition(sep).map_or(0, |i| i + 2);
            let Some(a) = trimmed.get(start..).and_then(parse_addr_port) else {
                return if taken { Walk::Done } else { Walk::Declined };
            };
            *addr = a;
            taken = true;
            if !self.recursive || start == 0 {
                return Walk::Ok;
            }
            xff = trimmed.get(..start - 1).unwrap_or(&[]);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Walk {
    /// Nothing taken.
    Declined,
    /// Taken, and the walk reached the start of the value.
    Ok,
    /// Taken, stopped at an untrusted or unparsable element.
    Done,
}

/// ngx_parse_addr_port: `ADDR`, `IPV4:PORT` or `[IPV6]:PORT` (port 1-65535);
/// without a port the port is 0.
pub fn parse_addr_port(s: &[u8]) -> Option<SocketAddr> {
    if let Some(ip) = parse_addr(s) {
        return Some(SocketAddr::new(ip, 0));
    }
    let (host, port) = if let Some(rest) = s.strip_prefix(b"[") {
        let close = rest.iter().position(|&b| b == b']')?;
        let after = rest.get(close + 1..)?;
        (rest.get(..close)?, after.strip_prefix(b":")?)
    } else {
        let colon = s.iter().position(|&b| b == b':')?;
        (s.get(..colon)?, s.get(colon + 1..)?)
    };
    if port.is_empty() || !port.iter().all(u8::is_ascii_digit) || port.len() > 5 {
        return None;
    }
    let port: u32 = std::str::from_utf8(port).ok()?.parse().ok()?;
    if !(1..=65535).contains(&port) {
        return None;
    }
    Some(SocketAddr::new(parse_addr(host)?, port as u16))
}

/// ngx_parse_addr: ngx_inet_addr's lenient dotted quad (empty or
/// zero-padded octets allowed; 255.255.255.255 is INADDR_NONE and fails),
/// else an IPv6 literal.
fn parse_addr(s: &[u8]) -> Option<IpAddr> {
    if let Some(v4) = inet_addr(s) {
        return Some(IpAddr::V4(v4));
    }
    std::str::from_utf8(s)
        .ok()?
        .parse::<Ipv6Addr>()
        .ok()
        .map(IpAddr::V6)
}

fn inet_addr(s: &[u8]) -> Option<Ipv4Addr> {
    let (mut addr, mut octet, mut dots) = (0u32, 0u32, 0);
    for &c in s {
        match c {
            b'0'..=b'9' => {
                octet = octet * 10 + u32::from(c - b'0');
                if octet > 255 {
                    return None;
                }
            }
            b'.' => {
                addr = (addr << 8) + octet;
                octet = 0;
                dots += 1;
            }
            _ => return None,
        }
    }
    if dots != 3 {
        return None;
    }
    let addr = (addr << 8) + octet;
    (addr != u32::MAX).then(|| Ipv4Addr::from(addr))
}

/// Runs real_ip for one phase: at post-read with the server's settings,
/// then at pre-access with the location's, taking effect at most once per
/// request (ngx_http_realip_handler keeps its ctx across internal redirects).
pub fn apply(conf: Option<&RealIpConf>, conn: &mut crate::http::conn::ConnInfo, head: &RequestHead) {
    if conn.realip_done {
        return;
    }
    if let Some(addr) = conf.and_then(|c| c.real_addr(conn.tcp_peer, head, conn.proxy.as_ref())) {
        conn.peer = addr;
        conn.realip_done = true;
    }
}

#[cfg(test)]
#[path = "real_ip_tests.rs"]
mod tests;
