//! Errors a client or an upstream can cause, through the real binary: upstream
//! failures (502/504), body limits (413), malformed requests (400/414/494/501/505)
//! and the client header deadline (408, silent close). Every expected response
//! below is the one Debian's nginx 1.22.1 sent for the same request bytes
//! (status line, header order, error-page body), with only the Date value masked.

mod common;
use common::*;

use std::io::{BufReader, Read, Write};
use std::time::{Duration, Instant};

/// nginx's full response for a built-in error page that closes the connection.
fn closing_page(status_line: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status_line}\r\nServer: nginx/1.22.1\r\nDate: DATE\r\nContent-Type: text/html\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// The same page for a request that may stay alive (nginx keeps 502/504 connections open).
fn keepalive_page(status_line: &str, keep: bool) -> String {
    let body = nginx_page(status_line);
    format!(
        "HTTP/1.1 {status_line}\r\nServer: nginx/1.22.1\r\nDate: DATE\r\nContent-Type: text/html\r\n\
         Content-Length: {}\r\nConnection: {}\r\n\r\n{body}",
        body.len(),
        if keep { "keep-alive" } else { "close" }
    )
}

/// One server with a 1 KiB body limit, a 1 s header deadline and proxied locations.
fn start(be: &Backend, raw_up: Option<&RawUpstream>, extra_locations: &str) -> Rampart {
    let mut locs = String::from(
        "[[http.server.location]]\nmatch = \"/\"\nproxy_pass = \"http://app\"\n\n\
         [[http.server.location]]\nmatch = \"/slow/\"\nproxy_pass = \"http://app/\"\nproxy_read_timeout = \"500ms\"\n\n\
         [[http.server.location]]\nmatch = \"/stream/\"\nproxy_pass = \"http://app/\"\nproxy_http_version = \"1.1\"\n\n",
    );
    if let Some(raw_up) = raw_up {
        locs.push_str(&format!(
            "[[http.server.location]]\nmatch = \"/g/\"\nproxy_pass = \"http://{}\"\n\n",
            raw_up.addr
        ));
    }
    locs.push_str(extra_locations);
    Rampart::start(&config(
        &format!(
            "client_max_body_size = \"1k\"\nclient_header_timeout = \"1s\"\n\n\
             [http.upstream.app]\nserver = [\"{}\"]",
            be.addr
        ),
        &locs,
    ))
}

/// A refused connect gives nginx's 502 page and an error-log line naming the upstream.
#[test]
fn refused_upstream_is_502_with_error_log_line() {
    let be = Backend::start("b");
    let dead = free_port();
    let r = start(
        &be,
        None,
        &format!(
            "[[http.server.location]]\nmatch = \"/refused\"\nproxy_pass = \"http://127.0.0.1:{dead}\"\n"
        ),
    );
    let out = raw_all(
        r.addr(),
        b"GET /refused HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(without_date(&out), keepalive_page("502 Bad Gateway", false));
    let log = wait_log(&r, "error.log", "connect() failed");
    let line = log
        .lines()
        .find(|l| l.contains("connect() failed"))
        .expect("line");
    assert!(
        line.contains("[error]")
            && line.contains("(111: Connection refused) while connecting to upstream")
            && line.contains(&format!("upstream: \"http://127.0.0.1:{dead}/refused\""))
            && line.contains("request: \"GET /refused HTTP/1.1\""),
        "{line}"
    );
    // nginx keeps a keep-alive client after a 502 (it is not one of the forced-close codes).
    let mut s = connect(r.addr());
    s.write_all(b"GET /refused HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut rd = BufReader::new(s.try_clone().unwrap());
    let resp = read_response(&mut rd, false).unwrap();
    assert_eq!(
        (resp.status, resp.header("connection")),
        (502, Some("keep-alive"))
    );
}

/// An upstream slower than proxy_read_timeout gives 504 after about that long.
#[test]
fn stalled_upstream_is_504_after_read_timeout() {
    let be = Backend::start("b");
    let r = start(&be, None, "");
    let t = Instant::now();
    let out = raw_all(
        r.addr(),
        b"GET /slow/delay/3000 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    let took = t.elapsed();
    assert_eq!(without_date(&out), keepalive_page("504 Gateway Time-out", false));
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_millis(2500),
        "{took:?}"
    );
    let log = wait_log(&r, "error.log", "upstream timed out");
    assert!(
        log.contains(
            "upstream timed out (110: Connection timed out) while reading response header from upstream"
        ),
        "{log}"
    );
}

/// A status line followed by a malformed header line, or a head cut off by a
/// close, is a 502 ("upstream sent invalid header" / "prematurely closed").
#[test]
fn upstream_garbage_in_the_head_is_502() {
    let be = Backend::start("b");
    let bad_header = RawUpstream::canned(b"HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\nbody");
    let r = start(&be, Some(&bad_header), "");
    let out = raw_all(
        r.addr(),
        b"GET /g/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(without_date(&out), keepalive_page("502 Bad Gateway", false));
    wait_log(&r, "error.log", "upstream sent invalid header");

    let cut = RawUpstream::canned(b"HTTP/1.1 200 OK\r\nContent-Le");
    let r = start(&be, Some(&cut), "");
    let out = raw_all(
        r.addr(),
        b"GET /g/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(without_date(&out), keepalive_page("502 Bad Gateway", false));
    wait_log(
        &r,
        "error.log",
        "upstream prematurely closed connection while reading response header from upstream",
    );
}

/// Bytes that are not HTTP at all are passed through as an HTTP/0.9 response
/// (nginx 1.22.1 logs "upstream sent no valid HTTP/1.0 header" and relays them).
#[test]
fn upstream_non_http_reply_is_relayed_as_http09() {
    let be = Backend::start("b");
    let up = RawUpstream::canned(b"hello garbage\r\nmore\r\n");
    let r = start(&be, Some(&up), "");
    let out = raw_all(
        r.addr(),
        b"GET /g/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(String::from_utf8_lossy(&out), "hello garbage\r\nmore\r\n");
    wait_log(&r, "error.log", "upstream sent no valid HTTP/1.0 header");
}

/// A Content-Length over client_max_body_size is refused from the head alone:
/// the 413 comes back while the body is still unsent, with no 100 Continue.
#[test]
fn content_length_over_limit_is_413_before_the_body() {
    let be = Backend::start("b");
    let r = start(&be, None, "");
    for req in [
        "POST /sink HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2000\r\n\r\n",
        "POST /sink HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: 2000\r\n\r\n",
    ] {
        let mut s = connect(r.addr());
        s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        s.write_all(req.as_bytes()).unwrap();
        let mut rd = BufReader::new(s);
        let resp = read_response(&mut rd, false).expect("413 before any body byte");
        let mut head = format!("{}\r\n", resp.status_line);
        for (n, v) in &resp.headers {
            head.push_str(&format!("{n}: {}\r\n", if n == "Date" { "DATE" } else { v }));
        }
        head.push_str("\r\n");
        head.push_str(&resp.text());
        let page = nginx_page("413 Request Entity Too Large");
        assert_eq!(head, closing_page("413 Request Entity Too Large", &page), "{req}");
    }
    wait_log(
        &r,
        "error.log",
        "client intended to send too large body: 2000 bytes",
    );
}

/// A chunked body that grows past the limit is cut off with 413, whether the
/// body is buffered (HTTP/1.0 upstream) or streamed (HTTP/1.1 upstream).
#[test]
fn chunked_body_growing_past_limit_is_413() {
    let be = Backend::start("b");
    let r = start(&be, None, "");
    for path in ["/sink", "/stream/sink"] {
        let mut req =
            format!("POST {path} HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n")
                .into_bytes();
        req.extend_from_slice(&[b'a'; 1024]);
        req.extend_from_slice(b"\r\n10\r\n");
        req.extend_from_slice(&[b'b'; 16]);
        req.extend_from_slice(b"\r\n0\r\n\r\n");
        let out = raw_all(r.addr(), &req);
        let page = nginx_page("413 Request Entity Too Large");
        assert_eq!(
            without_date(&out),
            closing_page("413 Request Entity Too Large", &page),
            "{path}"
        );
    }
    // Exactly at the limit is fine.
    let mut req = b"POST /sink HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n".to_vec();
    req.extend_from_slice(&[b'a'; 1024]);
    req.extend_from_slice(b"\r\n0\r\n\r\n");
    let resp = raw(r.addr(), &req);
    assert_eq!((resp.status, resp.header("x-body-bytes")), (200, Some("1024")));
}

/// Malformed requests get nginx's exact status line and page, then a close.
#[test]
fn malformed_requests_match_nginx() {
    let be = Backend::start("b");
    let r = start(&be, None, "");
    let bad = ("400 Bad Request", nginx_page("400 Bad Request"));
    let too_long_uri = format!("GET /{} HTTP/1.1\r\nHost: localhost\r\n\r\n", "a".repeat(9000));
    let too_big_header = format!(
        "GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\n\r\n",
        "a".repeat(9000)
    );
    let too_many_headers = format!(
        "GET / HTTP/1.1\r\nHost: localhost\r\n{}\r\n",
        (0..6)
            .map(|i| format!("X-H{i}: {}\r\n", "b".repeat(7000)))
            .collect::<String>()
    );
    let page494 = "<html>\r\n<head><title>400 Request Header Or Cookie Too Large</title></head>\r\n<body>\r\n\
                   <center><h1>400 Bad Request</h1></center>\r\n<center>Request Header Or Cookie Too Large</center>\r\n\
                   <hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n";
    let cases: Vec<(&str, String, (&str, String))> = vec![
        ("request line", "GET / HTTP/1.1 x\r\nHost: a\r\n\r\n".into(), bad.clone()),
        (
            "CL+TE",
            "POST /id HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".into(),
            bad.clone(),
        ),
        ("duplicate Host", "GET /id HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".into(), bad.clone()),
        ("HTTP/1.1 without Host", "GET /id HTTP/1.1\r\n\r\n".into(), bad.clone()),
        (
            "414",
            too_long_uri,
            ("414 Request-URI Too Large", nginx_page("414 Request-URI Too Large")),
        ),
        ("494 one line", too_big_header, ("400 Bad Request", page494.into())),
        ("494 all lines", too_many_headers, ("400 Bad Request", page494.into())),
        (
            "505",
            "GET /id HTTP/2.0\r\nHost: a\r\n\r\n".into(),
            ("505 HTTP Version Not Supported", nginx_page("505 HTTP Version Not Supported")),
        ),
        (
            "501",
            "POST /sink HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n".into(),
            ("501 Not Implemented", nginx_page("501 Not Implemented")),
        ),
    ];
    for (what, req, (status, body)) in cases {
        let out = raw_all(r.addr(), req.as_bytes());
        assert_eq!(without_date(&out), closing_page(status, &body), "{what}");
    }
    // The access log has what nginx 1.22.1 logged for the same requests.
    let expected = [
        "\"GET / HTTP/1.1 x\" 400 157 \"-\" \"-\"",
        "\"POST /id HTTP/1.1\" 400 157 ",
        "\"GET /id HTTP/1.1\" 400 157 ",
        "\"GET / HTTP/1.1\" 400 233 ",
        "\"GET /id HTTP/2.0\" 505 187 ",
        "\"POST /sink HTTP/1.1\" 501 165 ",
        " HTTP/1.1\" 414 177 ",
    ];
    wait_for("every access-log line", Duration::from_secs(5), || {
        let log = r.read_log("access.log");
        (expected.iter().all(|e| log.contains(e)) && log.lines().count() >= 9).then_some(())
    });
    let log = r.read_log("access.log");
    assert_eq!(log.lines().count(), 9, "{log}");
}

/// A client trickling its head (1 byte / 200 ms) is dropped at the 1 s header
/// deadline, unanswered, while other clients are served meanwhile; the access log says 408.
#[test]
fn header_trickle_hits_whole_header_deadline() {
    let be = Backend::start("b");
    let r = start(&be, None, "");
    let addr = r.addr();
    let trickler = std::thread::spawn(move || {
        let mut s = connect(addr);
        s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        let t = Instant::now();
        let mut got = Vec::new();
        for b in b"GET /id HTTP/1.1\r\nHost: localhost\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n" {
            if s.write_all(&[*b]).is_err() {
                break;
            }
            let mut buf = [0u8; 512];
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => break,
            }
            assert!(t.elapsed() < Duration::from_secs(5), "never closed");
        }
        (t.elapsed(), got)
    });
    // Other clients keep being served while the trickler is connected.
    let t = Instant::now();
    let mut served = 0;
    while t.elapsed() < Duration::from_millis(800) {
        let t1 = Instant::now();
        let resp = get(addr, "/id");
        assert_eq!((resp.status, resp.text().as_str()), (200, "b"));
        assert!(t1.elapsed() < Duration::from_millis(500), "{:?}", t1.elapsed());
        served += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(served >= 5, "{served}");
    let (took, got) = trickler.join().unwrap();
    assert!(got.is_empty(), "nothing is sent on a header timeout: {got:?}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(1800),
        "closed after {took:?}"
    );
    let log = wait_log(&r, "access.log", "\" 408 0 ");
    let line = log.lines().find(|l| l.contains("\" 408 0 ")).unwrap();
    assert!(
        line.starts_with("127.0.0.1 - - [") && line.contains("\"GET /"),
        "{line}"
    );
}

/// A connection that never sends a byte is closed at client_header_timeout
/// with no response and no access-log line.
#[test]
fn silent_connection_is_closed_without_a_log_line() {
    let be = Backend::start("b");
    let be_addr = be.addr;
    let r = Rampart::start(
        &config(
            &format!("client_header_timeout = \"1s\"\n[http.upstream.app]\nserver = [\"{be_addr}\"]"),
            "[[http.server.location]]\nmatch = \"/\"\nproxy_pass = \"http://app\"\n",
        )
        .replace("worker_processes = 2", "worker_processes = 1"),
    );
    let mut s = connect(r.addr());
    let t = Instant::now();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let took = t.elapsed();
    assert!(out.is_empty(), "{out:?}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(2000),
        "closed after {took:?}"
    );
    // A later request's line is the only one: the silent connection logged nothing.
    assert_eq!(get(r.addr(), "/id").status, 200);
    wait_log(&r, "access.log", "GET /id");
    std::thread::sleep(Duration::from_millis(300));
    let log = r.read_log("access.log");
    assert_eq!(log.lines().count(), 1, "{log}");
}
