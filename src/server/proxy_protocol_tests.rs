//! Table tests for the PROXY protocol decoder, including the spec's edge cases.

use super::*;

fn v2(ver_cmd: u8, fam: u8, body: &[u8]) -> Vec<u8> {
    let mut h = V2_SIG.to_vec();
    h.push(ver_cmd);
    h.push(fam);
    h.extend_from_slice(&(body.len() as u16).to_be_bytes());
    h.extend_from_slice(body);
    h
}

fn v4_block() -> Vec<u8> {
    let mut b = vec![198, 51, 100, 7, 10, 0, 0, 5];
    b.extend_from_slice(&51234u16.to_be_bytes());
    b.extend_from_slice(&443u16.to_be_bytes());
    b
}

fn v6_block() -> Vec<u8> {
    let mut b = "2001:db8::1".parse::<Ipv6Addr>().unwrap().octets().to_vec();
    b.extend_from_slice(&"2001:db8::2".parse::<Ipv6Addr>().unwrap().octets());
    b.extend_from_slice(&1000u16.to_be_bytes());
    b.extend_from_slice(&80u16.to_be_bytes());
    b
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

type V1Case<'a> = (&'a [u8], usize, Option<(&'a str, &'a str)>);

#[test]
fn v1_valid() {
    let cases: &[V1Case] = &[
        (
            b"PROXY TCP4 198.51.100.7 10.0.0.5 51234 443\r\nGET /",
            44,
            Some(("198.51.100.7:51234", "10.0.0.5:443")),
        ),
        (
            b"PROXY TCP6 2001:db8::1 ::1 0 65535\r\n",
            36,
            Some(("[2001:db8::1]:0", "[::1]:65535")),
        ),
        (b"PROXY UNKNOWN\r\n", 15, None),
        (b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\nxx", 35, None),
    ];
    for (input, len, addrs) in cases {
        let h = decode(input)
            .unwrap()
            .unwrap_or_else(|| panic!("{input:?} incomplete"));
        assert_eq!(h.len, *len, "{input:?}");
        assert_eq!(
            h.addrs,
            addrs.map(|(s, d)| ProxyAddrs {
                src: sa(s),
                dst: sa(d)
            }),
            "{input:?}"
        );
    }
}

#[test]
fn v1_longest_unknown_is_107_bytes() {
    let mut line = b"PROXY UNKNOWN ".to_vec();
    line.resize(105, b'f');
    line.extend_from_slice(b"\r\n");
    assert_eq!(line.len(), 107);
    assert_eq!(decode(&line).unwrap().unwrap().len, 107);
    let mut long = b"PROXY UNKNOWN ".to_vec();
    long.resize(106, b'f');
    long.extend_from_slice(b"\r\n");
    assert_eq!(decode(&long), Err(ProxyError::V1TooLong));
}

#[test]
fn incomplete_prefixes_wait() {
    let full_v1 = b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n".to_vec();
    let full_v2 = v2(0x21, 0x11, &v4_block());
    for full in [&full_v1, &full_v2] {
        for n in 0..full.len() {
            assert_eq!(decode(&full[..n]), Ok(None), "prefix {n} of {full:?}");
        }
        assert!(decode(full).unwrap().is_some());
    }
}

#[test]
fn v2_valid() {
    // PROXY TCP4
    let h = decode(&v2(0x21, 0x11, &v4_block())).unwrap().unwrap();
    assert_eq!(h.len, 28);
    assert_eq!(
        h.addrs,
        Some(ProxyAddrs {
            src: sa("198.51.100.7:51234"),
            dst: sa("10.0.0.5:443")
        })
    );
    // PROXY TCP6
    let h = decode(&v2(0x21, 0x21, &v6_block())).unwrap().unwrap();
    assert_eq!(h.len, 52);
    assert_eq!(h.addrs.unwrap().src, sa("[2001:db8::1]:1000"));
    // LOCAL with an address block and TLVs: skipped by len, no addresses.
    let mut body = v4_block();
    body.extend_from_slice(&[0x04, 0, 2, 0, 0]);
    let h = decode(&v2(0x20, 0x11, &body)).unwrap().unwrap();
    assert_eq!((h.len, h.addrs), (16 + body.len(), None));
    // LOCAL, UNSPEC, empty.
    assert_eq!(decode(&v2(0x20, 0x00, &[])).unwrap().unwrap().len, 16);
    // TLVs skipped: ALPN, AUTHORITY, NOOP, SSL with sub-TLVs, custom.
    let mut body = v4_block();
    body.extend_from_slice(&[0x01, 0, 2, b'h', b'2']);
    body.extend_from_slice(&[0x02, 0, 3, b'a', b'.', b'b']);
    body.extend_from_slice(&[0x04, 0, 0]);
    body.extend_from_slice(&[0x20, 0, 5, 1, 0, 0, 0, 0]);
    body.extend_from_slice(&[0xE0, 0, 1, 9]);
    let bytes = v2(0x21, 0x11, &body);
    let mut with_data = bytes.clone();
    with_data.extend_from_slice(b"GET / HTTP/1.1\r\n");
    let h = decode(&with_data).unwrap().unwrap();
    assert_eq!(h.len, bytes.len());
    assert_eq!(h.addrs.unwrap().src, sa("198.51.100.7:51234"));
    // UDP and UNIX families: accepted, socket addresses kept.
    assert_eq!(decode(&v2(0x21, 0x12, &v4_block())).unwrap().unwrap().addrs, None);
    assert_eq!(decode(&v2(0x21, 0x31, &[0u8; 216])).unwrap().unwrap().addrs, None);
}

#[test]
fn v2_crc32c() {
    // The CRC-32C check value of "123456789" (RFC 3720 B.4).
    assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    let mut body = v4_block();
    body.extend_from_slice(&[0x03, 0, 4, 0, 0, 0, 0]);
    let mut h = v2(0x21, 0x11, &body);
    let crc = crc32c(&h);
    let at = h.len() - 4;
    h[at..].copy_from_slice(&crc.to_be_bytes());
    assert!(decode(&h).unwrap().is_some());
    h[at] ^= 1;
    assert_eq!(decode(&h), Err(ProxyError::V2Crc));
}

/// The 20 malformed headers of issue 8, each with the reason it is refused.
#[test]
fn twenty_malformed_headers() {
    let mut too_big = V2_SIG.to_vec();
    too_big.extend_from_slice(&[0x21, 0x11, 0x10, 0x00]);
    let mut tlv_over = v4_block();
    tlv_over.extend_from_slice(&[0x01, 0, 9, b'x']);
    let mut tlv_cut = v4_block();
    tlv_cut.extend_from_slice(&[0x01, 0]);
    let mut bad_sig = v2(0x21, 0x11, &v4_block());
    bad_sig[7] = b'R';
    let cases: Vec<(Vec<u8>, ProxyError)> = vec![
        (b"GET / HTTP/1.1\r\n\r\n".to_vec(), ProxyError::Signature),
        (
            b"proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n".to_vec(),
            ProxyError::Signature,
        ),
        (
            b"PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n".to_vec(),
            ProxyError::V1Syntax,
        ),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n".to_vec(), ProxyError::V1Syntax),
        (
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX\r\n".to_vec(),
            ProxyError::V1Syntax,
        ),
        // Found by fuzz/ (proxy_protocol): a CR before the last byte is
        // wrong whatever the last byte is, LF or not yet.
        (b"PROXY \r\0\r".to_vec(), ProxyError::V1Syntax),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n".to_vec(), ProxyError::V1Syntax),
        (
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n".to_vec(),
            ProxyError::V1Syntax,
        ),
        (
            b"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n".to_vec(),
            ProxyError::V1Syntax,
        ),
        (
            b"PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n".to_vec(),
            ProxyError::V1Addr,
        ),
        (b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n".to_vec(), ProxyError::V1Addr),
        (b"PROXY TCP6 1.2.3.4 ::1 1 2\r\n".to_vec(), ProxyError::V1Addr),
        (
            b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n".to_vec(),
            ProxyError::V1Port,
        ),
        (
            b"PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n".to_vec(),
            ProxyError::V1Port,
        ),
        (
            [b"PROXY TCP4 ".as_slice(), &[b'1'; 100]].concat(),
            ProxyError::V1TooLong,
        ),
        (bad_sig, ProxyError::Signature),
        (v2(0x11, 0x11, &v4_block()), ProxyError::V2Version),
        (v2(0x22, 0x11, &v4_block()), ProxyError::V2Command),
        (v2(0x21, 0x13, &v4_block()), ProxyError::V2Family),
        (v2(0x21, 0x21, &v4_block()), ProxyError::V2Short),
        (v2(0x21, 0x11, &tlv_over), ProxyError::V2Tlv),
        (v2(0x21, 0x11, &tlv_cut), ProxyError::V2Tlv),
        (too_big, ProxyError::V2TooLarge),
    ];
    assert!(cases.len() >= 20);
    for (input, want) in &cases {
        assert_eq!(decode(input), Err(*want), "{:?}", String::from_utf8_lossy(input));
    }
}

/// Every prefix and every single-byte corruption of valid headers must
/// decode without panicking (a small deterministic fuzz).
#[test]
fn corruptions_never_panic() {
    let mut seeds = vec![
        b"PROXY TCP6 2001:db8::1 ::1 0 65535\r\n".to_vec(),
        v2(0x21, 0x21, &v6_block()),
    ];
    let mut body = v4_block();
    body.extend_from_slice(&[0x03, 0, 4, 1, 2, 3, 4, 0x20, 0, 1, 0]);
    seeds.push(v2(0x21, 0x11, &body));
    for seed in &seeds {
        for i in 0..seed.len() {
            for x in [0u8, 1, 0x0D, 0x0A, 0x20, 0x7F, 0xFF] {
                let mut m = seed.clone();
                m[i] = x;
                let _ = decode(&m);
                let _ = decode(&m[..i]);
            }
        }
    }
}
