//! Table tests for real_ip, with the cases of nginx's realip tests
//! (nginx-tests: realip.t, realip_hostname.t, realip_remote_addr.t).

use super::*;
use crate::http1::{parse_request_head, HeadLimits};

fn head(headers: &[(&str, &str)]) -> RequestHead {
    let mut s = String::from("GET / HTTP/1.1\r\nHost: x\r\n");
    for (n, v) in headers {
        s.push_str(&format!("{n}: {v}\r\n"));
    }
    s.push_str("\r\n");
    parse_request_head(bytes::Bytes::from(s), &HeadLimits::default()).unwrap()
}

fn conf(from: &[&str], header: &str, recursive: bool) -> RealIpConf {
    let from: Vec<String> = from.iter().map(|s| s.to_string()).collect();
    RealIpConf::compile(&from, Some(header), recursive)
        .unwrap()
        .unwrap()
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn cidr_matching() {
    let cases: &[(&str, &str, bool)] = &[
        ("127.0.0.1", "127.0.0.1", true),
        ("127.0.0.1", "127.0.0.2", false),
        ("10.0.0.0/8", "10.255.1.2", true),
        ("10.0.0.0/8", "11.0.0.1", false),
        ("10.1.2.3/8", "10.9.9.9", true), // low bits ignored
        ("0.0.0.0/0", "203.0.113.9", true),
        ("0.0.0.0/0", "::1", false),
        ("::/0", "::1", true),
        ("2001:db8::/32", "2001:db8:1::5", true),
        ("2001:db8::/32", "2001:db9::5", false),
        ("127.0.0.0/8", "::ffff:127.0.0.5", true),
    ];
    for (net, ip, want) in cases {
        let c = Cidr::parse(net).unwrap();
        assert_eq!(c.contains(ip.parse().unwrap()), *want, "{net} {ip}");
    }
    for bad in ["10.0.0.0/33", "::/129", "1.2.3.4/x", "1.2.3/8"] {
        assert!(Cidr::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn addr_port_parsing() {
    let cases: &[(&str, Option<&str>)] = &[
        ("192.0.2.1", Some("192.0.2.1:0")),
        ("192.0.2.1:8080", Some("192.0.2.1:8080")),
        ("010.0.0.1", Some("10.0.0.1:0")), // ngx_inet_addr allows leading zeros
        ("2001:db8::1", Some("[2001:db8::1]:0")),
        ("[2001:db8::1]:443", Some("[2001:db8::1]:443")),
        ("255.255.255.255", None), // INADDR_NONE
        ("192.0.2.1:0", None),
        ("192.0.2.1:65536", None),
        ("192.0.2.256", None),
        ("unknown", None),
        ("", None),
        ("[::1]", None),
    ];
    for (s, want) in cases {
        assert_eq!(parse_addr_port(s.as_bytes()), want.map(sa), "{s:?}");
    }
}

#[test]
fn x_real_ip_and_custom_header() {
    let c = conf(&["127.0.0.1"], "X-Real-IP", false);
    let trusted = sa("127.0.0.1:5000");
    let h = head(&[("X-Real-IP", "192.0.2.1")]);
    assert_eq!(c.real_addr(trusted, &h, None), Some(sa("192.0.2.1:0")));
    assert_eq!(
        c.real_addr(sa("127.0.0.2:5000"), &h, None),
        None,
        "untrusted peer"
    );
    assert_eq!(c.real_addr(trusted, &head(&[]), None), None, "no header");
    let junk = head(&[("X-Real-IP", "junk")]);
    assert_eq!(
        c.real_addr(trusted, &junk, None),
        None,
        "unparsable keeps the peer"
    );
    let port = head(&[("X-Real-IP", "192.0.2.1:1234")]);
    assert_eq!(c.real_addr(trusted, &port, None), Some(sa("192.0.2.1:1234")));
    let c = conf(&["127.0.0.1"], "X-Client", false);
    let h = head(&[("x-client", "198.51.100.9")]);
    assert_eq!(c.real_addr(trusted, &h, None), Some(sa("198.51.100.9:0")));
}

#[test]
fn x_forwarded_for() {
    let peer = sa("127.0.0.1:5000");
    let from = ["127.0.0.1", "10.0.0.0/8"];
    // (headers, recursive, expected $remote_addr or None for "unchanged")
    let cases: &[(&[&str], bool, Option<&str>)] = &[
        (&["192.0.2.1"], false, Some("192.0.2.1")),
        (&["192.0.2.1, 10.0.0.1"], false, Some("10.0.0.1")),
        (&["192.0.2.1, 10.0.0.1"], true, Some("192.0.2.1")),
        (&["192.0.2.1, 198.51.100.1, 10.0.0.1"], true, Some("198.51.100.1")),
        (&["10.0.0.2, 10.0.0.1"], true, Some("10.0.0.2")), // all trusted: leftmost
        (&["192.0.2.1,10.0.0.1,  "], true, Some("192.0.2.1")),
        (&["junk, 10.0.0.1"], true, Some("10.0.0.1")), // stops at unparsable
        (&["10.0.0.1 junk"], true, None),
        (&["192.0.2.1", "10.0.0.1"], false, Some("10.0.0.1")), // last line only
        (&["192.0.2.1", "10.0.0.1"], true, Some("192.0.2.1")), // across lines
        (
            &["192.0.2.1", "198.51.100.1, 10.0.0.1"],
            true,
            Some("198.51.100.1"),
        ),
        (&[], true, None),
    ];
    for (hdrs, recursive, want) in cases {
        let c = conf(&from, "X-Forwarded-For", *recursive);
        let pairs: Vec<(&str, &str)> = hdrs.iter().map(|v| ("X-Forwarded-For", *v)).collect();
        let got = c.real_addr(peer, &head(&pairs), None).map(|a| a.ip().to_string());
        assert_eq!(got.as_deref(), *want, "{hdrs:?} recursive={recursive}");
    }
    let c = conf(&from, "X-Forwarded-For", true);
    let h = head(&[("X-Forwarded-For", "192.0.2.1")]);
    assert_eq!(c.real_addr(sa("192.0.2.99:1"), &h, None), None, "untrusted peer");
}

#[test]
fn proxy_protocol_source() {
    let c = conf(&["127.0.0.0/8"], "proxy_protocol", false);
    let p = ProxyAddrs {
        src: sa("203.0.113.7:40000"),
        dst: sa("10.0.0.5:443"),
    };
    let h = head(&[("X-Real-IP", "192.0.2.1")]);
    assert_eq!(c.real_addr(sa("127.0.0.1:1"), &h, Some(&p)), Some(p.src));
    assert_eq!(c.real_addr(sa("127.0.0.1:1"), &h, None), None, "no PROXY header");
    assert_eq!(c.real_addr(sa("192.0.2.5:1"), &h, Some(&p)), None, "untrusted LB");
}

#[test]
fn compile_rules() {
    assert_eq!(RealIpConf::compile(&[], Some("X-Real-IP"), false), Ok(None));
    let c = RealIpConf::compile(&["localhost".into()], None, false)
        .unwrap()
        .unwrap();
    assert_eq!(c.source, Source::XRealIp);
    assert!(c.trusted("127.0.0.1".parse().unwrap()));
    assert!(RealIpConf::compile(&["10.0.0.0/40".into()], None, false).is_err());
    let c = RealIpConf::compile(&["unix:".into()], Some("x-forwarded-for"), true)
        .unwrap()
        .unwrap();
    assert_eq!(c.source, Source::XForwardedFor);
    assert!(c.from.is_empty());
}
