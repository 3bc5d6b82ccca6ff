//! A strict PROXY protocol v1/v2 decoder for `listen ... proxy_protocol`.
//!
//! Rules follow haproxy's doc/proxy-protocol.txt (summarised in
//! shared/docs/upstream-check-and-l4.md §6) and nginx's
//! src/core/ngx_proxy_protocol.c: the header is required on every connection
//! of such a listener, is never auto-detected, and anything that deviates
//! from the spec closes the connection ("broken header", no HTTP response).
//!
//! The decoder is incremental: [`decode`] returns `Ok(None)` while the bytes
//! so far are a valid prefix of a header, so a header split over TCP
//! segments is still accepted; the caller bounds the wait with
//! client_header_timeout and the size with [`MAX_HEADER`].

use crate::http::conn::ProxyAddrs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The v2 signature (12 bytes, contains a NUL: never treat it as a C string).
pub const V2_SIG: [u8; 12] = [
    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
];

/// v1: the CRLF must be within the first 107 bytes (proxy-protocol.txt §2.1).
pub const V1_MAX: usize = 107;

/// The largest header accepted in total (nginx's NGX_PROXY_PROTOCOL_MAX_HEADER
/// since 1.13.11 for v2 with TLVs).
pub const MAX_HEADER: usize = 4096;

/// A complete, valid header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Bytes the header occupies at the start of the stream.
    pub len: usize,
    /// `None` for v1 `UNKNOWN`, v2 `LOCAL` and v2 non-IP families: the
    /// socket's own addresses stay in force.
    pub addrs: Option<ProxyAddrs>,
}

/// Why a header was rejected; the text goes into nginx's "broken header" log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    #[error("no PROXY protocol signature")]
    Signature,
    #[error("no CRLF within 107 bytes")]
    V1TooLong,
    #[error("invalid v1 line")]
    V1Syntax,
    #[error("invalid v1 address")]
    V1Addr,
    #[error("invalid v1 port")]
    V1Port,
    #[error("unsupported v2 version")]
    V2Version,
    #[error("unsupported v2 command")]
    V2Command,
    #[error("unsupported v2 address family or transport")]
    V2Family,
    #[error("v2 header too large")]
    V2TooLarge,
    #[error("v2 length shorter than its address block")]
    V2Short,
    #[error("v2 TLV overruns the header")]
    V2Tlv,
    #[error("v2 CRC32C mismatch")]
    V2Crc,
}

/// Decodes a header at the start of `buf`. `Ok(None)`: a valid prefix, read more.
pub fn decode(buf: &[u8]) -> Result<Option<Header>, ProxyError> {
    // Version detection (proxy-protocol.txt §2.2): the v2 signature, else "PROXY".
    let sig_n = buf.len().min(V2_SIG.len());
    if buf.first() == Some(&0x0D) {
        if buf.get(..sig_n) != V2_SIG.get(..sig_n) {
            return Err(ProxyError::Signature);
        }
        return decode_v2(buf);
    }
    let n = buf.len().min(6);
    if buf.get(..n) != b"PROXY ".get(..n) {
        return Err(ProxyError::Signature);
    }
    decode_v1(buf)
}

fn decode_v1(buf: &[u8]) -> Result<Option<Header>, ProxyError> {
    let window = buf.get(..buf.len().min(V1_MAX)).unwrap_or(buf);
    let Some(lf) = memchr::memchr(b'\n', window) else {
        // A CR anywhere but at the end of what we have is a deviation (the
        // last byte may be the CR of the CRLF still arriving).
        if window.split_last().is_some_and(|(_, init)| init.contains(&b'\r')) {
            return Err(ProxyError::V1Syntax);
        }
        return if buf.len() >= V1_MAX {
            Err(ProxyError::V1TooLong)
        } else {
            Ok(None)
        };
    };
    let line = window.get(..lf).ok_or(ProxyError::V1Syntax)?;
    let line = line.strip_suffix(b"\r").ok_or(ProxyError::V1Syntax)?;
    if line.contains(&b'\r') {
        return Err(ProxyError::V1Syntax);
    }
    let len = lf + 1;
    let rest = line.get(6..).ok_or(ProxyError::V1Syntax)?;
    if rest.starts_with(b"UNKNOWN") && (rest.len() == 7 || rest.get(7) == Some(&b' ')) {
        // Everything up to CRLF may be ignored; the socket addresses are used.
        return Ok(Some(Header { len, addrs: None }));
    }
    let text = std::str::from_utf8(rest).map_err(|_| ProxyError::V1Syntax)?;
    let mut f = text.split(' ');
    let (Some(proto), Some(sa), Some(da), Some(sp), Some(dp), None) =
        (f.next(), f.next(), f.next(), f.next(), f.next(), f.next())
    else {
        return Err(ProxyError::V1Syntax);
    };
    let (src, dst): (IpAddr, IpAddr) = match proto {
        "TCP4" => (
            IpAddr::V4(sa.parse::<Ipv4Addr>().map_err(|_| ProxyError::V1Addr)?),
            IpAddr::V4(da.parse::<Ipv4Addr>().map_err(|_| ProxyError::V1Addr)?),
        ),
        "TCP6" => (
            IpAddr::V6(sa.parse::<Ipv6Addr>().map_err(|_| ProxyError::V1Addr)?),
            IpAddr::V6(da.parse::<Ipv6Addr>().map_err(|_| ProxyError::V1Addr)?),
        ),
        _ => return Err(ProxyError::V1Syntax),
    };
    Ok(Some(Header {
        len,
        addrs: Some(ProxyAddrs {
            src: SocketAddr::new(src, v1_port(sp)?),
            dst: SocketAddr::new(dst, v1_port(dp)?),
        }),
    }))
}

/// Decimal 0..=65535 without leading zeros or signs.
fn v1_port(s: &str) -> Result<u16, ProxyError> {
    let ok = !s.is_empty()
        && s.len() <= 5
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    if !ok {
        return Err(ProxyError::V1Port);
    }
    s.parse::<u16>().map_err(|_| ProxyError::V1Port)
}

fn decode_v2(buf: &[u8]) -> Result<Option<Header>, ProxyError> {
    let Some(&ver_cmd) = buf.get(12) else {
        return Ok(None);
    };
    if ver_cmd >> 4 != 2 {
        return Err(ProxyError::V2Version);
    }
    let local = match ver_cmd & 0x0F {
        0 => true,
        1 => false,
        _ => return Err(ProxyError::V2Command),
    };
    let Some(&fam) = buf.get(13) else {
        return Ok(None);
    };
    let addr_len = match fam {
        0x00 => 0,
        0x11 | 0x12 => 12,
        0x21 | 0x22 => 36,
        0x31 | 0x32 => 216,
        _ => return Err(ProxyError::V2Family),
    };
    let (Some(&hi), Some(&lo)) = (buf.get(14), buf.get(15)) else {
        return Ok(None);
    };
    let len = usize::from(u16::from_be_bytes([hi, lo]));
    let total = 16 + len;
    if total > MAX_HEADER {
        return Err(ProxyError::V2TooLarge);
    }
    // LOCAL skips the address block entirely ("always skip by len").
    if !local && len < addr_len {
        return Err(ProxyError::V2Short);
    }
    let Some(header) = buf.get(..total) else {
        return Ok(None);
    };
    let body = header.get(16..).unwrap_or(&[]);
    let tlv_start = if local { len.min(addr_len) } else { addr_len };
    // For LOCAL with an address block shorter than the family's, there are no TLVs to check.
    if !local || len >= addr_len {
        check_tlvs(header, body.get(tlv_start..).unwrap_or(&[]), 16 + tlv_start)?;
    }
    let addrs = if local { None } else { v2_addrs(fam, body) };
    Ok(Some(Header { len: total, addrs }))
}

/// Only TCP over IPv4/IPv6 carries addresses nginx uses; UDP and UNIX
/// families are skipped like LOCAL (ngx_proxy_protocol_v2_read logs them as
/// unsupported and keeps the socket addresses).
fn v2_addrs(fam: u8, b: &[u8]) -> Option<ProxyAddrs> {
    let port = |i: usize| -> Option<u16> { Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?])) };
    match fam {
        0x11 => {
            let s: [u8; 4] = b.get(0..4)?.try_into().ok()?;
            let d: [u8; 4] = b.get(4..8)?.try_into().ok()?;
            Some(ProxyAddrs {
                src: SocketAddr::new(IpAddr::V4(Ipv4Addr::from(s)), port(8)?),
                dst: SocketAddr::new(IpAddr::V4(Ipv4Addr::from(d)), port(10)?),
            })
        }
        0x21 => {
            let s: [u8; 16] = b.get(0..16)?.try_into().ok()?;
            let d: [u8; 16] = b.get(16..32)?.try_into().ok()?;
            Some(ProxyAddrs {
                src: SocketAddr::new(IpAddr::V6(Ipv6Addr::from(s)), port(32)?),
                dst: SocketAddr::new(IpAddr::V6(Ipv6Addr::from(d)), port(34)?),
            })
        }
        _ => None,
    }
}

/// Walks the TLVs (type, 2-byte length, value): every one must end inside the
/// header. A CRC32C TLV (0x03) is verified over the whole header with its
/// value zeroed (proxy-protocol.txt §2.2.5). Other types are skipped.
fn check_tlvs(header: &[u8], mut tlvs: &[u8], mut at: usize) -> Result<(), ProxyError> {
    while !tlvs.is_empty() {
        let (Some(&t), Some(&hi), Some(&lo)) = (tlvs.first(), tlvs.get(1), tlvs.get(2)) else {
            return Err(ProxyError::V2Tlv);
        };
        let vlen = usize::from(u16::from_be_bytes([hi, lo]));
        let value = tlvs.get(3..3 + vlen).ok_or(ProxyError::V2Tlv)?;
        if t == 0x03 {
            let want: [u8; 4] = value.try_into().map_err(|_| ProxyError::V2Tlv)?;
            let mut copy = header.to_vec();
            if let Some(v) = copy.get_mut(at + 3..at + 7) {
                v.fill(0);
            }
            if crc32c(&copy) != u32::from_be_bytes(want) {
                return Err(ProxyError::V2Crc);
            }
        }
        tlvs = tlvs.get(3 + vlen..).unwrap_or(&[]);
        at += 3 + vlen;
    }
    Ok(())
}

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), bitwise: headers are
/// at most 4 KiB and carry the TLV rarely, so a table is not worth it.
pub fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
#[path = "proxy_protocol_tests.rs"]
mod tests;
