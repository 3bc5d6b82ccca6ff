//! `listen ... proxy_protocol` and real_ip over the real binary, configured
//! through the nginx.conf front end (the TOML front end is covered by the
//! last test): PROXY v1/v2 headers, malformed headers closed without a
//! response and without disturbing other connections, `$proxy_protocol_*`,
//! and `$remote_addr`/ip_hash following the PROXY address under real_ip.

mod common;
use common::*;
use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Starts rampart on an nginx.conf (`@PORT@`, `@PORT2@`, `@DIR@` replaced).
fn start_conf(text: &str) -> (Rampart, u16) {
    let dir = TempDir::new("pp");
    let port = rampart_port();
    let port2 = rampart_port();
    let conf = dir.path().join("nginx.conf");
    let text = text
        .replace("@PORT@", &port.to_string())
        .replace("@PORT2@", &port2.to_string())
        .replace("@DIR@", &dir.path().display().to_string());
    std::fs::write(&conf, text).unwrap();
    let r = Rampart::run_file(dir, port, conf);
    (r, port2)
}

const CONF: &str = r#"
worker_processes 2;
daemon off;
error_log logs/error.log info;
pid logs/rampart.pid;
events {}
http {
    access_log logs/access.log;
    client_header_timeout 2s;
    upstream h { ip_hash; server @B1@; server @B2@; }
    server {
        listen 127.0.0.1:@PORT@ proxy_protocol;
        set_real_ip_from 127.0.0.1;
        real_ip_header proxy_protocol;
        location / {
            return 200 "ra=$remote_addr rp=$remote_port pa=$proxy_protocol_addr pp=$proxy_protocol_port sa=$proxy_protocol_server_addr:$proxy_protocol_server_port rr=$realip_remote_addr\n";
        }
        location /h/ { proxy_pass http://h/; }
    }
    server {
        listen 127.0.0.1:@PORT2@;
        set_real_ip_from 127.0.0.1;
        set_real_ip_from 10.0.0.0/8;
        real_ip_header X-Forwarded-For;
        real_ip_recursive on;
        location / { return 200 "ra=$remote_addr pa=$proxy_protocol_addr\n"; }
        location /plain/ {
            real_ip_header X-Real-IP;
            return 200 "ra=$remote_addr\n";
        }
        location /guarded/ {
            real_ip_header X-Real-IP;
            allow 203.0.113.0/24;
            deny all;
            proxy_pass http://h/;
        }
        location /loc/ {
            real_ip_header X-Real-IP;
            proxy_pass http://h/;
            proxy_set_header X-Seen $remote_addr;
        }
    }
}
"#;

fn v2(ver_cmd: u8, fam: u8, body: &[u8]) -> Vec<u8> {
    let mut h = vec![
        0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
    ];
    h.push(ver_cmd);
    h.push(fam);
    h.extend_from_slice(&(body.len() as u16).to_be_bytes());
    h.extend_from_slice(body);
    h
}

fn v4_body(src: [u8; 4], sport: u16) -> Vec<u8> {
    let mut b = src.to_vec();
    b.extend_from_slice(&[10, 0, 0, 5]);
    b.extend_from_slice(&sport.to_be_bytes());
    b.extend_from_slice(&443u16.to_be_bytes());
    b
}

fn req(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n")
}

/// Sends `prefix` + a request; returns the response body.
fn ask(addr: SocketAddr, prefix: &[u8], path: &str) -> String {
    let mut s = connect(addr);
    s.write_all(&[prefix, req(path).as_bytes()].concat()).unwrap();
    let r = read_response(&mut BufReader::new(s), false).expect("response");
    assert_eq!(r.status, 200);
    r.text()
}

fn conf_with_backends(b1: &Backend, b2: &Backend) -> String {
    CONF.replace("@B1@", &b1.addr.to_string())
        .replace("@B2@", &b2.addr.to_string())
}

#[test]
fn v1_v2_headers_and_variables() {
    let (b1, b2) = (Backend::start("b1"), Backend::start("b2"));
    let (r, _) = start_conf(&conf_with_backends(&b1, &b2));
    let a = r.addr();
    assert_eq!(
        ask(a, b"PROXY TCP4 198.51.100.7 10.0.0.5 51234 443\r\n", "/"),
        "ra=198.51.100.7 rp=51234 pa=198.51.100.7 pp=51234 sa=10.0.0.5:443 rr=127.0.0.1\n"
    );
    assert_eq!(
        ask(a, b"PROXY TCP6 2001:db8::1 2001:db8::2 1000 80\r\n", "/"),
        "ra=2001:db8::1 rp=1000 pa=2001:db8::1 pp=1000 sa=2001:db8::2:80 rr=127.0.0.1\n"
    );
    // v2 with TLVs (ALPN, AUTHORITY, NOOP) skipped.
    let mut body = v4_body([203, 0, 113, 9], 4000);
    body.extend_from_slice(&[0x01, 0, 8]);
    body.extend_from_slice(b"http/1.1");
    body.extend_from_slice(&[0x02, 0, 3, b'a', b'.', b'b', 0x04, 0, 0]);
    let t = ask(a, &v2(0x21, 0x11, &body), "/");
    assert!(
        t.starts_with("ra=203.0.113.9 rp=4000 pa=203.0.113.9 pp=4000 sa=10.0.0.5:443"),
        "{t}"
    );
    // v2 IPv6.
    let mut b6 = "2001:db8::7"
        .parse::<std::net::Ipv6Addr>()
        .unwrap()
        .octets()
        .to_vec();
    b6.extend_from_slice(&[0u8; 16]);
    b6.extend_from_slice(&[0, 9, 1, 187]);
    let t = ask(a, &v2(0x21, 0x21, &b6), "/");
    assert!(t.starts_with("ra=2001:db8::7 rp=9 pa=2001:db8::7"), "{t}");
    // LOCAL and UNKNOWN: the socket addresses stay, $proxy_protocol_addr is empty.
    let t = ask(a, &v2(0x20, 0x00, &[]), "/");
    assert!(t.starts_with("ra=127.0.0.1 ") && t.contains(" pa= pp= "), "{t}");
    let t = ask(a, b"PROXY UNKNOWN\r\n", "/");
    assert!(t.starts_with("ra=127.0.0.1 ") && t.contains(" pa= "), "{t}");
    // A header split over several writes, then keep-alive requests keep it.
    let mut s = connect(a);
    for part in [&b"PROX"[..], b"Y TCP4 192.0.2.1 10.0.0.5 7 443", b"\r\n"] {
        s.write_all(part).unwrap();
        std::thread::sleep(Duration::from_millis(30));
    }
    let mut rd = BufReader::new(s.try_clone().unwrap());
    for _ in 0..3 {
        s.write_all(req("/").as_bytes()).unwrap();
        let resp = read_response(&mut rd, false).unwrap();
        assert!(resp.text().starts_with("ra=192.0.2.1 rp=7 "), "{}", resp.text());
    }
    // The access log shows the real address.
    // Two connections, maybe two workers flushing their lines apart: wait for both.
    wait_log(&r, "access.log", "192.0.2.1 - -");
    wait_log(&r, "access.log", "198.51.100.7 - -");
}

#[test]
fn ip_hash_uses_the_proxy_address() {
    let (b1, b2) = (Backend::start("b1"), Backend::start("b2"));
    let (r, _) = start_conf(&conf_with_backends(&b1, &b2));
    let mut seen = std::collections::HashSet::new();
    for net in 1..=12u8 {
        let hdr = |host: u8| format!("PROXY TCP4 10.{net}.0.{host} 10.0.0.5 1000 443\r\n");
        let first = ask(r.addr(), hdr(1).as_bytes(), "/h/id");
        // Same /24 from other hosts and ports: the same backend.
        for host in [2u8, 77, 200] {
            assert_eq!(
                ask(r.addr(), hdr(host).as_bytes(), "/h/id"),
                first,
                "10.{net}.0.{host}"
            );
        }
        seen.insert(first);
    }
    assert_eq!(
        seen.len(),
        2,
        "12 client networks all hashed to one backend: {seen:?}"
    );
}

#[test]
fn malformed_headers_close_without_affecting_others() {
    let (b1, b2) = (Backend::start("b1"), Backend::start("b2"));
    let (r, _) = start_conf(&conf_with_backends(&b1, &b2));
    let a = r.addr();
    let mut tlv_over = v4_body([1, 2, 3, 4], 1);
    tlv_over.extend_from_slice(&[0x01, 0, 9, b'x']);
    let bad: Vec<Vec<u8>> = vec![
        b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
        b"proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n".to_vec(),
        b"PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n".to_vec(),
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n".to_vec(),
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n".to_vec(),
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n".to_vec(),
        b"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n".to_vec(),
        b"PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n".to_vec(),
        b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n".to_vec(),
        b"PROXY TCP6 1.2.3.4 ::1 1 2\r\n".to_vec(),
        b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n".to_vec(),
        b"PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n".to_vec(),
        [b"PROXY TCP4 ".as_slice(), &[b'1'; 120]].concat(),
        v2(0x11, 0x11, &v4_body([1, 2, 3, 4], 1)),
        v2(0x22, 0x11, &v4_body([1, 2, 3, 4], 1)),
        v2(0x21, 0x13, &v4_body([1, 2, 3, 4], 1)),
        v2(0x21, 0x21, &v4_body([1, 2, 3, 4], 1)),
        v2(0x21, 0x11, &tlv_over),
        {
            let mut h = v2(0x21, 0x11, &v4_body([1, 2, 3, 4], 1));
            h[7] = b'R';
            h
        },
        vec![
            0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x21, 0x11, 0x10, 0x00,
        ],
    ];
    assert_eq!(bad.len(), 20);
    // A keep-alive connection that stays good throughout.
    let mut good = connect(a);
    good.write_all(b"PROXY TCP4 192.0.2.50 10.0.0.5 5 443\r\n")
        .unwrap();
    let mut good_rd = BufReader::new(good.try_clone().unwrap());
    for (i, b) in bad.iter().enumerate() {
        let mut s = connect(a);
        s.write_all(b).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        assert!(
            out.is_empty(),
            "header {i} got a response: {:?}",
            String::from_utf8_lossy(&out)
        );
        good.write_all(req("/").as_bytes()).unwrap();
        let resp = read_response(&mut good_rd, false).unwrap();
        assert!(resp.text().starts_with("ra=192.0.2.50 "), "after bad header {i}");
    }
    let log = wait_log(&r, "error.log", "broken header");
    wait_for("20 broken-header lines", Duration::from_secs(5), || {
        (r.read_log("error.log").matches("broken header").count() >= 20).then_some(())
    });
    assert!(
        log.contains("while reading PROXY protocol, client: 127.0.0.1"),
        "{log}"
    );
    // A client that sends half a header and stalls is closed at client_header_timeout.
    let mut s = connect(a);
    s.write_all(b"PROXY TCP4 1.2").unwrap();
    let t = std::time::Instant::now();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    assert!(out.is_empty());
    assert!(t.elapsed() >= Duration::from_millis(1500), "{:?}", t.elapsed());
    assert!(t.elapsed() < Duration::from_secs(8), "{:?}", t.elapsed());
}

#[test]
fn real_ip_from_headers() {
    let (b1, b2) = (Backend::start("b1"), Backend::start("b2"));
    let (r, port2) = start_conf(&conf_with_backends(&b1, &b2));
    let a = SocketAddr::from(([127, 0, 0, 1], port2));
    let get_h = |path: &str, hdrs: &str| {
        let resp = raw(
            a,
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{hdrs}Connection: close\r\n\r\n").as_bytes(),
        );
        resp.text()
    };
    // No PROXY header on this listener: $proxy_protocol_addr is empty.
    assert_eq!(get_h("/", ""), "ra=127.0.0.1 pa=\n");
    assert_eq!(
        get_h("/", "X-Forwarded-For: 192.0.2.1, 198.51.100.2, 10.1.1.1\r\n"),
        "ra=198.51.100.2 pa=\n"
    );
    assert_eq!(
        get_h("/", "X-Forwarded-For: 192.0.2.1\r\nX-Forwarded-For: 10.0.0.9\r\n"),
        "ra=192.0.2.1 pa=\n"
    );
    // The location's real_ip_header runs at pre-access: after `return` (so
    // not for it, as in nginx), before proxying.
    assert_eq!(get_h("/plain/", "X-Real-IP: 203.0.113.5\r\n"), "ra=127.0.0.1\n");
    let echoed = get_h("/loc/headers", "X-Real-IP: 203.0.113.5\r\n");
    assert!(
        echoed.to_ascii_lowercase().contains("x-seen: 203.0.113.5"),
        "{echoed}"
    );
    // allow/deny judge the real address (real_ip runs first in pre-access).
    let status = |hdrs: &str| {
        raw(
            a,
            format!("GET /guarded/id HTTP/1.1\r\nHost: localhost\r\n{hdrs}Connection: close\r\n\r\n")
                .as_bytes(),
        )
        .status
    };
    assert_eq!(status("X-Real-IP: 203.0.113.5\r\n"), 200);
    assert_eq!(status("X-Real-IP: 198.51.100.5\r\n"), 403);
    assert_eq!(status(""), 403, "the TCP peer 127.0.0.1 is denied");
    // Server-level X-Forwarded-For took effect first: once per request.
    assert_eq!(
        get_h(
            "/plain/",
            "X-Real-IP: 203.0.113.5\r\nX-Forwarded-For: 192.0.2.8\r\n"
        ),
        "ra=192.0.2.8\n"
    );
    drop(r);
}

#[test]
fn toml_front_end() {
    let cfg = "worker_processes = 1\nerror_log = \"logs/error.log info\"\n\n[http]\n\
               set_real_ip_from = [\"127.0.0.0/8\"]\nreal_ip_header = \"proxy_protocol\"\n\n\
               [[http.server]]\nlisten = [\"127.0.0.1:@PORT@ proxy_protocol\"]\n\n\
               [[http.server.location]]\nmatch = \"/\"\nreturn = [200, \"$remote_addr $proxy_protocol_port\"]\n";
    let r = Rampart::start(cfg);
    assert_eq!(
        ask(r.addr(), b"PROXY TCP4 192.0.2.44 10.0.0.5 99 443\r\n", "/"),
        "192.0.2.44 99"
    );
    let mut s = TcpStream::connect(r.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(req("/").as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    assert!(
        out.is_empty(),
        "a request without a PROXY header gets no response"
    );
}
