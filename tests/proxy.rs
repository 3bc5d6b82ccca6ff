//! proxy_pass through the real binary to real upstreams: bodies of every size
//! both ways (streamed, bounded memory), chunked framing, client keep-alive and
//! pipelining, 100-continue, WebSocket, the request and response headers nginx
//! rewrites, add_header, return and error_page. Expected bytes marked "nginx"
//! are what Debian's nginx 1.22.1 sent for the same request and config.

mod common;
use common::*;

use sha1::{Digest, Sha1};
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const MIB: usize = 1024 * 1024;

fn hex_sha1(data: &[u8]) -> String {
    Sha1::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// The common locations; `extra` adds more (before the catch-all is irrelevant: nginx order).
fn locations(dead_port: u16, extra: &str) -> String {
    format!(
        r#"[[http.server.location]]
match = "/"
proxy_pass = "http://app"

[[http.server.location]]
match = "/p/"
proxy_pass = "http://app/"

[[http.server.location]]
match = "/a"
proxy_pass = "http://app/headers/"

[[http.server.location]]
match = "/h11/"
proxy_pass = "http://app/"
proxy_http_version = "1.1"

[[http.server.location]]
match = "/small/"
proxy_pass = "http://app/"
client_max_body_size = "1k"

[[http.server.location]]
match = "/psh/"
proxy_pass = "http://app/"
proxy_set_header = [
    ["Host", "$host"],
    ["X-Real-IP", "$remote_addr"],
    ["X-Forwarded-For", "$proxy_add_x_forwarded_for"],
    ["User-Agent", ""],
]

[[http.server.location]]
match = "/ws"
proxy_pass = "http://app"
proxy_http_version = "1.1"
proxy_set_header = [["Upgrade", "$http_upgrade"], ["Connection", "upgrade"]]

[[http.server.location]]
match = "= /wsh"
proxy_pass = "http://app/ws"
proxy_http_version = "1.1"
proxy_set_header = [["Upgrade", "$http_upgrade"], ["Connection", "upgrade"]]
add_header = [["X-A", "1"], ["X-B", "2", "always"]]

[[http.server.location]]
match = "/hdr/"
proxy_pass = "http://app/status/"
add_header = [["X-A", "1"], ["X-B", "2", "always"]]

[[http.server.location]]
match = "/ret"
return = [200, "text\n"]

[[http.server.location]]
match = "/url"
return = "http://example.com/z"

[[http.server.location]]
match = "= /r307"
return = [307, "/y"]

[[http.server.location]]
match = "/close"
return = 444

[[http.server.location]]
match = "/ep/"
proxy_pass = "http://127.0.0.1:{dead_port}/"
error_page = [{{ codes = [502], page = "/oops" }}]

[[http.server.location]]
match = "/ep200/"
proxy_pass = "http://127.0.0.1:{dead_port}/"
error_page = [{{ codes = [502], page = "/oops", status = 200 }}]

[[http.server.location]]
match = "= /oops"
internal = true
return = [200, "oops page\n"]

{extra}
"#
    )
}

/// A backend and a rampart proxying to it (bodies up to 20 MiB).
fn start_with(extra: &str) -> (Backend, Rampart) {
    let be = Backend::start("b1");
    let r = Rampart::start(&config(
        &format!(
            "client_max_body_size = \"20m\"\n\n[http.upstream.app]\nserver = [\"{}\"]",
            be.addr
        ),
        &locations(free_port(), extra),
    ));
    (be, r)
}

fn start() -> (Backend, Rampart) {
    start_with("")
}

/// Sends `req` on a new connection and returns the whole exchange until the server closes.
fn exchange_text(r: &Rampart, req: &str) -> String {
    without_date(&raw_all(r.addr(), req.as_bytes()))
}

/// The response head nginx writes for a proxied `text/plain` answer from the backend.
fn proxied_head(len: usize) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: DATE\r\nContent-Type: text/plain\r\n\
         Content-Length: {len}\r\nConnection: close\r\nx-backend: b1\r\n\r\n"
    )
}

/// GET, HEAD and POST with 0 B and 1 KiB bodies arrive whole, with nginx's framing.
#[test]
fn small_bodies_get_head_post() {
    let (_be, r) = start();
    for n in [0usize, 1024] {
        let resp = get(r.addr(), &format!("/size/{n}"));
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("content-length"), Some(n.to_string().as_str()));
        assert_eq!(resp.body, vec![b'x'; n]);

        let out = exchange_text(
            &r,
            &format!("HEAD /size/{n} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"),
        );
        // The backend answers HEAD of an empty body without a length; nginx then sends none either.
        let expected = if n == 0 {
            proxied_head(0).replace("Content-Length: 0\r\n", "")
        } else {
            proxied_head(n)
        };
        assert_eq!(out, expected, "HEAD carries the upstream's length and no body");

        let body = vec![b'q'; n];
        let mut req = format!(
            "POST /sink HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {n}\r\n\r\n"
        )
        .into_bytes();
        req.extend_from_slice(&body);
        let resp = raw(r.addr(), &req);
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("x-body-bytes"), Some(n.to_string().as_str()));
        assert_eq!(resp.header("x-body-sha1"), Some(hex_sha1(&body).as_str()));
    }
    // HEAD of a 10 MiB resource: the length, and nothing after the head.
    let out = exchange_text(
        &r,
        "HEAD /size/10485760 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(out, proxied_head(10 * MIB));
}

/// HEAD of a response of unknown length (chunked upstream) has no length or
/// chunked header and keeps the connection (nginx 1.22.1's bytes).
#[test]
fn head_of_unknown_length_response() {
    let (_be, r) = start();
    let out = raw_all(
        r.addr(),
        b"HEAD /chunked/5 HTTP/1.1\r\nHost: localhost\r\n\r\nGET /id HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(
        without_date(&out),
        "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: DATE\r\nContent-Type: text/plain\r\n\
         Connection: keep-alive\r\nx-backend: b1\r\n\r\n\
         HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: DATE\r\nContent-Type: text/plain\r\n\
         Content-Length: 2\r\nConnection: close\r\nx-backend: b1\r\n\r\nb1"
    );
}

/// A 10 MiB response is streamed: rampart's RSS grows by far less than the body.
#[test]
fn get_10mib_is_streamed_in_bounded_memory() {
    let (_be, r) = start();
    assert_eq!(get(r.addr(), "/size/1024").status, 200);
    let base = rss_kib(r.pid());
    assert!(base > 0);
    let mut s = connect(r.addr());
    s.write_all(b"GET /size/10485760 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut rd = BufReader::new(s);
    let mut line = String::new();
    let mut len = None;
    loop {
        line.clear();
        rd.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.strip_prefix("Content-Length: ") {
            len = v.trim().parse::<usize>().ok();
        }
    }
    assert_eq!(len, Some(10 * MIB));
    let mut buf = vec![0u8; 64 * 1024];
    let (mut got, mut peak, mut paused) = (0usize, 0u64, false);
    loop {
        let n = rd.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        assert!(buf[..n].iter().all(|&b| b == b'x'));
        got += n;
        if got >= MIB && !paused {
            // Give a proxy that slurps the upstream body time to show it.
            paused = true;
            std::thread::sleep(Duration::from_millis(300));
        }
        if got % MIB < n {
            peak = peak.max(rss_kib(r.pid()));
        }
    }
    assert_eq!(got, 10 * MIB);
    peak = peak.max(rss_kib(r.pid()));
    let growth = peak.saturating_sub(base);
    assert!(growth < 4 * 1024, "RSS grew by {growth} KiB (base {base} KiB)");
}

/// A 10 MiB request body is streamed to the upstream intact in bounded memory.
#[test]
fn post_10mib_is_streamed_in_bounded_memory() {
    let (_be, r) = start();
    assert_eq!(get(r.addr(), "/size/1024").status, 200);
    let base = rss_kib(r.pid());
    let s = connect(r.addr());
    let mut w = s.try_clone().unwrap();
    let written = Arc::new(AtomicU64::new(0));
    let wr = written.clone();
    let writer = std::thread::spawn(move || {
        let mut h = Sha1::new();
        w.write_all(
            format!(
                "POST /sink HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
                10 * MIB
            )
            .as_bytes(),
        )
        .unwrap();
        let mut piece = vec![0u8; 64 * 1024];
        for i in 0..160u32 {
            for (j, b) in piece.iter_mut().enumerate() {
                *b = (i as usize * 7 + j) as u8;
            }
            h.update(&piece);
            w.write_all(&piece).unwrap();
            wr.fetch_add(piece.len() as u64, Ordering::SeqCst);
        }
        h.finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    });
    let mut peak = 0;
    wait_for("the upload to finish", Duration::from_secs(20), || {
        peak = peak.max(rss_kib(r.pid()));
        (written.load(Ordering::SeqCst) >= 10 * MIB as u64).then_some(())
    });
    let sha = writer.join().unwrap();
    let resp = read_response(&mut BufReader::new(s), false).unwrap();
    peak = peak.max(rss_kib(r.pid()));
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("x-body-bytes"), Some("10485760"));
    assert_eq!(resp.header("x-body-sha1"), Some(sha.as_str()));
    let growth = peak.saturating_sub(base);
    assert!(growth < 4 * 1024, "RSS grew by {growth} KiB (base {base} KiB)");
}

const CHUNKED_POST: &str = "Host: localhost\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n\
                            3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n";

/// A chunked request body reaches an HTTP/1.0 upstream with a Content-Length
/// (nginx), and an HTTP/1.1 upstream chunked.
#[test]
fn chunked_request_body_reaches_upstream() {
    let (_be, r) = start();
    let resp = raw(
        r.addr(),
        format!("POST /echo HTTP/1.1\r\n{CHUNKED_POST}").as_bytes(),
    );
    assert_eq!(resp.text(), "abcde");
    assert_eq!(
        resp.header("x-echo-headers"),
        Some("host: app; connection: close; content-length: 5"),
        "nginx"
    );
    let resp = raw(
        r.addr(),
        format!("POST /h11/echo HTTP/1.1\r\n{CHUNKED_POST}").as_bytes(),
    );
    assert_eq!(resp.text(), "abcde");
    let hs = resp.header("x-echo-headers").unwrap().to_ascii_lowercase();
    assert!(
        hs.contains("transfer-encoding: chunked") && !hs.contains("content-length"),
        "{hs}"
    );
}

/// With proxy_http_version 1.1 the chunked body is streamed: the first chunk
/// reaches the upstream before the client has sent the rest.
#[test]
fn chunked_request_body_is_streamed_to_http11_upstream() {
    let up = RawUpstream::start(|got| {
        got.ends_with(b"\r\n0\r\n\r\n")
            .then(|| b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec())
    });
    let (_be, r) = start_with(&format!(
        "[[http.server.location]]\nmatch = \"/raw11/\"\nproxy_pass = \"http://{}/\"\nproxy_http_version = \"1.1\"\n",
        up.addr
    ));
    let mut s = connect(r.addr());
    s.write_all(
        b"POST /raw11/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
    )
    .unwrap();
    let first = wait_for("the first chunk upstream", Duration::from_secs(5), || {
        let got = up.received(0);
        memchr_find(&got, b"hello").then_some(got)
    });
    let head = String::from_utf8_lossy(&first).to_ascii_lowercase();
    assert!(head.starts_with("post /x http/1.1\r\n"), "{head}");
    assert!(head.contains("\r\ntransfer-encoding: chunked\r\n"), "{head}");
    s.write_all(b"6\r\n world\r\n0\r\n\r\n").unwrap();
    let resp = read_response(&mut BufReader::new(s), false).unwrap();
    assert_eq!((resp.status, resp.text().as_str()), (200, "ok"));
    let all = up.received(0);
    let body_at = memchr_find_pos(&all, b"\r\n\r\n").unwrap() + 4;
    assert_eq!(
        decode_chunked(&all[body_at..]),
        b"hello world",
        "{:?}",
        String::from_utf8_lossy(&all)
    );
}

fn memchr_find(hay: &[u8], needle: &[u8]) -> bool {
    memchr_find_pos(hay, needle).is_some()
}

fn memchr_find_pos(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Decodes a complete chunked body (test helper; panics on malformed input).
fn decode_chunked(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = memchr_find_pos(b, b"\r\n").expect("size line");
        let size_text = std::str::from_utf8(&b[..eol]).unwrap();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
        b = &b[eol + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[..size]);
        assert_eq!(&b[size..size + 2], b"\r\n");
        b = &b[size + 2..];
    }
}

/// A chunked upstream response reaches an HTTP/1.1 client chunked and an
/// HTTP/1.0 client delimited by the close (nginx).
#[test]
fn chunked_response_to_http11_and_http10_clients() {
    let (_be, r) = start();
    let out = raw_all(
        r.addr(),
        b"GET /chunked/100000 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    let at = memchr_find_pos(&out, b"\r\n\r\n").unwrap() + 4;
    let head = without_date(&out[..at]);
    assert_eq!(
        head,
        "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: DATE\r\nContent-Type: text/plain\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\nx-backend: b1\r\n\r\n"
    );
    assert_eq!(decode_chunked(&out[at..]), vec![b'x'; 100_000]);

    let out = raw_all(r.addr(), b"GET /chunked/100000 HTTP/1.0\r\n\r\n");
    let at = memchr_find_pos(&out, b"\r\n\r\n").unwrap() + 4;
    assert_eq!(
        without_date(&out[..at]),
        "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: DATE\r\nContent-Type: text/plain\r\n\
         Connection: close\r\nx-backend: b1\r\n\r\n"
    );
    assert_eq!(&out[at..], vec![b'x'; 100_000].as_slice());
}

/// HTTP/1.0 clients are closed unless they ask for keep-alive; then they get it.
#[test]
fn http10_keepalive_only_when_asked() {
    let (_be, r) = start();
    let out = exchange_text(&r, "GET /id HTTP/1.0\r\n\r\n");
    assert_eq!(out, format!("{}b1", proxied_head(2)), "nginx, then closed");

    let s = connect(r.addr());
    let mut w = s.try_clone().unwrap();
    let mut rd = BufReader::new(s);
    for _ in 0..2 {
        w.write_all(b"GET /id HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .unwrap();
        let resp = read_response(&mut rd, false).unwrap();
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("connection"), Some("keep-alive"));
        assert_eq!(resp.text(), "b1");
    }
}

/// HTTP/1.1 keep-alive serves several requests on one connection, and
/// pipelined requests are answered in order.
#[test]
fn http11_keepalive_and_pipelining() {
    let (_be, r) = start();
    let s = connect(r.addr());
    let mut w = s.try_clone().unwrap();
    let mut rd = BufReader::new(s);
    for n in [1, 10, 100] {
        w.write_all(format!("GET /size/{n} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
            .unwrap();
        let resp = read_response(&mut rd, false).unwrap();
        assert_eq!(resp.header("connection"), Some("keep-alive"));
        assert_eq!(resp.body.len(), n);
    }
    let mut batch = String::new();
    for code in [201, 202, 203] {
        batch.push_str(&format!("GET /status/{code} HTTP/1.1\r\nHost: localhost\r\n\r\n"));
    }
    batch.push_str("POST /sink HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\r\nabc");
    batch.push_str("GET /id HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    w.write_all(batch.as_bytes()).unwrap();
    for code in [201, 202, 203] {
        let resp = read_response(&mut rd, false).unwrap();
        assert_eq!(resp.status, code);
        assert_eq!(resp.text(), format!("status {code}\n"));
    }
    let resp = read_response(&mut rd, false).unwrap();
    assert_eq!(resp.header("x-body-bytes"), Some("3"));
    let resp = read_response(&mut rd, false).unwrap();
    assert_eq!(
        (resp.text().as_str(), resp.header("connection")),
        ("b1", Some("close"))
    );
    let mut rest = Vec::new();
    rd.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "{rest:?}");
}

/// `Expect: 100-continue` gets `100 Continue` before the body is sent, then the
/// answer; a body over the limit gets 413 without a 100.
#[test]
fn expect_100_continue() {
    let (_be, r) = start();
    let mut s = connect(r.addr());
    s.write_all(
        b"POST /sink HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
    )
    .unwrap();
    let mut interim = [0u8; 25];
    s.read_exact(&mut interim).expect("100 Continue before the body");
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    s.write_all(b"hello").unwrap();
    let resp = read_response(&mut BufReader::new(s), false).unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("x-body-sha1"), Some(hex_sha1(b"hello").as_str()));

    let mut s = connect(r.addr());
    s.write_all(
        b"POST /small/sink HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: 2000\r\n\r\n",
    )
    .unwrap();
    let resp = read_response(&mut BufReader::new(s), false).unwrap();
    assert_eq!(resp.status_line, "HTTP/1.1 413 Request Entity Too Large");
}

/// nginx sends `100 Continue` when it starts reading the body even if the body
/// came with the head, and `Content-Length: 0` gets one too (nginx 1.22.1).
#[test]
fn expect_100_continue_with_preread_or_empty_body() {
    let (_be, r) = start();
    for (len, body) in [(5, "hello"), (0, "")] {
        let out = raw_all(
            r.addr(),
            format!(
                "POST /sink HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: {len}\r\n\
                 Connection: close\r\n\r\n{body}"
            )
            .as_bytes(),
        );
        let mut rd = BufReader::new(out.as_slice());
        assert_eq!(read_response(&mut rd, false).unwrap().status, 100, "{len}");
        let resp = read_response(&mut rd, false).unwrap();
        assert_eq!(resp.header("x-body-bytes"), Some(len.to_string().as_str()));
    }
}

/// A handler that ignores the body (`return`) never sends `100 Continue` after
/// its response: the next request on the connection gets its own answer.
#[test]
fn no_stray_100_continue_after_a_response() {
    let (_be, r) = start();
    let s = connect(r.addr());
    let mut w = s.try_clone().unwrap();
    let mut rd = BufReader::new(s);
    w.write_all(
        b"POST /ret HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
    )
    .unwrap();
    let mut resp = read_response(&mut rd, false).unwrap();
    if resp.status == 100 {
        // nginx answers the Expect before its response; allowed, not required.
        resp = read_response(&mut rd, false).unwrap();
    }
    assert_eq!((resp.status, resp.text().as_str()), (200, "text\n"));
    w.write_all(b"hello").unwrap();
    w.write_all(b"GET /id HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let resp = read_response(&mut rd, false).unwrap();
    assert_eq!((resp.status, resp.text().as_str()), (200, "b1"));
}

/// Sends RFC 6455's example handshake for `path`; the connection and the
/// response head, read byte by byte so that nothing after it is consumed.
fn ws_handshake(r: &Rampart, path: &str) -> (std::net::TcpStream, Vec<u8>) {
    let mut s = connect(r.addr());
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        s.read_exact(&mut b).unwrap();
        head.push(b[0]);
    }
    (s, head)
}

/// A WebSocket upgrade is relayed (101 with the upstream's accept key) and a
/// masked client frame comes back from the echoing upstream.
#[test]
fn websocket_echo_through_the_proxy() {
    let (_be, r) = start();
    let (mut s, head) = ws_handshake(&r, "/ws");
    // nginx 1.22.1 for the same handshake.
    assert_eq!(
        without_date(&head),
        "HTTP/1.1 101 Switching Protocols\r\nServer: nginx/1.22.1\r\nDate: DATE\r\nConnection: upgrade\r\n\
         x-backend: b1\r\nupgrade: websocket\r\nsec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
    );
    // RFC 6455 §5.7: a masked "Hello" text frame.
    let frame = [0x81u8, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
    for _ in 0..2 {
        s.write_all(&frame).unwrap();
        let mut back = [0u8; 11];
        s.read_exact(&mut back).unwrap();
        assert_eq!(back, frame);
    }
}

/// The 101 of an upgrade goes through the headers filter like every other
/// response: `add_header ... always` is added, a plain `add_header` is not
/// (101 is not among its statuses). nginx 1.22.1 sends the same head.
#[test]
fn upgrade_response_gets_add_header_always() {
    let (_be, r) = start();
    let (_s, head) = ws_handshake(&r, "/wsh");
    assert_eq!(
        without_date(&head),
        "HTTP/1.1 101 Switching Protocols\r\nServer: nginx/1.22.1\r\nDate: DATE\r\nConnection: upgrade\r\n\
         x-backend: b1\r\nupgrade: websocket\r\nsec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nX-B: 2\r\n\r\n"
    );
}

/// The upstream request as nginx builds it: HTTP/1.0, `Host: $proxy_host`,
/// `Connection: close`, hop-by-hop headers removed, the raw URI passed as sent.
#[test]
fn upstream_request_headers_by_default() {
    let (_be, r) = start();
    let resp = raw(
        r.addr(),
        b"GET /headers//a/%2e/../b?x=1 HTTP/1.1\r\nHost: Example.COM:8080\r\nConnection: close, TE\r\n\
          Keep-Alive: 300\r\nTE: trailers\r\nUpgrade: foo\r\nX-Forwarded-For: 1.2.3.4\r\nX-Dup: 1\r\nX-Dup: 2\r\n\r\n",
    );
    assert_eq!(
        resp.text(),
        "GET /headers//a/%2e/../b?x=1 HTTP/1.0\nhost: app\nconnection: close\nx-forwarded-for: 1.2.3.4\n\
         x-dup: 1\nx-dup: 2\n",
        "nginx"
    );
    // A client's `Content-Length: 0` is passed on (nginx).
    let resp = raw(
        r.addr(),
        b"POST /headers HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(
        resp.text(),
        "POST /headers HTTP/1.0\nhost: app\nconnection: close\ncontent-length: 0\n",
        "nginx"
    );
    // Expect is answered here and not forwarded.
    let mut s = connect(r.addr());
    s.write_all(
        b"POST /headers HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\
          Connection: close\r\n\r\n",
    )
    .unwrap();
    let mut rd = BufReader::new(s.try_clone().unwrap());
    assert_eq!(read_response(&mut rd, false).unwrap().status, 100);
    s.write_all(b"abc").unwrap();
    let resp = read_response(&mut rd, false).unwrap();
    assert_eq!(
        resp.text(),
        "POST /headers HTTP/1.0\nhost: app\nconnection: close\ncontent-length: 3\n",
        "nginx"
    );
}

/// proxy_set_header with $host, $remote_addr, $proxy_add_x_forwarded_for, and
/// an empty value removing a client header (nginx's bytes).
#[test]
fn proxy_set_header_variables_and_removal() {
    let (_be, r) = start();
    let resp = raw(
        r.addr(),
        b"GET /psh/headers HTTP/1.1\r\nHost: Example.COM:8080\r\nUser-Agent: ua\r\nX-Forwarded-For: 1.2.3.4\r\n\
          X-Forwarded-For: 5.6.7.8\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(
        resp.text(),
        "GET /headers HTTP/1.0\nhost: example.com\nx-real-ip: 127.0.0.1\n\
         x-forwarded-for: 1.2.3.4, 5.6.7.8, 127.0.0.1\nconnection: close\n"
    );
}

/// proxy_pass with a URI part replaces the location prefix by length in the
/// normalised URI and re-escapes it (nginx: `/a` + `/headers/` makes `/ab` `/headers/b`).
#[test]
fn proxy_pass_uri_part_rules() {
    let (_be, r) = start();
    for (path, line) in [
        ("/ab?q=1", "GET /headers/b?q=1 HTTP/1.0"),
        ("/a/c", "GET /headers//c HTTP/1.0"),
        ("/p/headers/%41%20b/x%2Fy", "GET /headers/A%20b/x/y HTTP/1.0"),
        ("/p/headers/%41%20b/../c?z=%41", "GET /headers/c?z=%41 HTTP/1.0"),
    ] {
        let resp = get(r.addr(), path);
        assert_eq!(resp.text().lines().next(), Some(line), "{path}");
    }
}

/// Upstream Date/Server are hidden, the reason phrase passes through, and
/// proxy_hide_header drops more (nginx's bytes for the same upstream reply).
#[test]
fn upstream_response_headers_filtered() {
    let up = RawUpstream::canned(
        b"HTTP/1.1 299 Fine Thanks\r\nContent-Length: 2\r\nServer: up\r\n\
          Date: Mon, 01 Jan 2001 00:00:00 GMT\r\nX-Secret: s\r\nX-Keep: k\r\n\r\nok",
    );
    let (_be, r) = start_with(&format!(
        "[[http.server.location]]\nmatch = \"/g/\"\nproxy_pass = \"http://{}\"\nproxy_hide_header = [\"X-Secret\"]\n",
        up.addr
    ));
    let out = exchange_text(
        &r,
        "GET /g/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(
        out,
        "HTTP/1.1 299 Fine Thanks\r\nServer: nginx/1.22.1\r\nDate: DATE\r\nContent-Length: 2\r\n\
         Connection: close\r\nX-Keep: k\r\n\r\nok"
    );
    assert!(!out.contains("2001"));
}

/// An upstream Location, absolute or relative, passes unchanged in its place
/// among the other headers (nginx 1.22.1 with no proxy_redirect match).
#[test]
fn upstream_location_passes_in_place() {
    let up = RawUpstream::start(|got| {
        let text = String::from_utf8_lossy(got);
        if !text.contains("\r\n\r\n") {
            return None;
        }
        let loc = if text.starts_with("GET /l1 ") {
            "http://other.example/x"
        } else {
            "/rel"
        };
        Some(
            format!(
                "HTTP/1.1 302 Found\r\nX-Before: 1\r\nLocation: {loc}\r\nX-After: 2\r\nContent-Length: 0\r\n\r\n"
            )
            .into_bytes(),
        )
    });
    let (_be, r) = start_with(&format!(
        "[[http.server.location]]\nmatch = \"/g/\"\nproxy_pass = \"http://{}/\"\n",
        up.addr
    ));
    for (path, loc) in [("/g/l1", "http://other.example/x"), ("/g/l2", "/rel")] {
        assert_eq!(
            exchange_text(
                &r,
                &format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            ),
            format!(
                "HTTP/1.1 302 Found\r\nServer: nginx/1.22.1\r\nDate: DATE\r\nContent-Length: 0\r\n\
                 Connection: close\r\nX-Before: 1\r\nLocation: {loc}\r\nX-After: 2\r\n\r\n"
            )
        );
    }
}

/// add_header applies to 200 only, unless `always` (nginx).
#[test]
fn add_header_with_and_without_always() {
    let (_be, r) = start();
    let ok = get(r.addr(), "/hdr/200");
    assert_eq!(
        (ok.status, ok.header("x-a"), ok.header("x-b")),
        (200, Some("1"), Some("2"))
    );
    let nf = get(r.addr(), "/hdr/404");
    assert_eq!(
        (nf.status, nf.header("x-a"), nf.header("x-b")),
        (404, None, Some("2"))
    );
    assert_eq!(nf.text(), "status 404\n", "the upstream's own 404 body");
}

/// `return` with text, with a URL (302 page), and 444 (closed, nothing sent): nginx's bytes.
#[test]
fn return_text_url_and_444() {
    let (_be, r) = start();
    assert_eq!(
        exchange_text(
            &r,
            "GET /ret HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        ),
        "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: DATE\r\nContent-Type: text/plain\r\n\
         Content-Length: 5\r\nConnection: close\r\n\r\ntext\n"
    );
    let page = "<html>\r\n<head><title>302 Found</title></head>\r\n<body>\r\n<center><h1>302 Found</h1></center>\r\n\
                <hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n";
    assert_eq!(
        exchange_text(&r, "GET /url HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"),
        format!(
            "HTTP/1.1 302 Moved Temporarily\r\nServer: nginx/1.22.1\r\nDate: DATE\r\nContent-Type: text/html\r\n\
             Content-Length: {}\r\nConnection: close\r\nLocation: http://example.com/z\r\n\r\n{page}",
            page.len()
        )
    );
    // A relative redirect is made absolute and written before Connection (nginx).
    let page = nginx_page("307 Temporary Redirect");
    assert_eq!(
        exchange_text(&r, "GET /r307 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"),
        format!(
            "HTTP/1.1 307 Temporary Redirect\r\nServer: nginx/1.22.1\r\nDate: DATE\r\nContent-Type: text/html\r\n\
             Content-Length: {}\r\nLocation: http://localhost:{}/y\r\nConnection: close\r\n\r\n{page}",
            page.len(),
            r.port
        )
    );
    assert_eq!(
        exchange_text(&r, "GET /close HTTP/1.1\r\nHost: localhost\r\n\r\n"),
        ""
    );
    // Each worker thread buffers its own lines: wait for both, in any order.
    wait_log(&r, "access.log", "\"GET /close HTTP/1.1\" 444 0 ");
    wait_log(&r, "access.log", "\"GET /url HTTP/1.1\" 302 ");
}

/// error_page on 502 to an internal URI keeps 502 with that page's body; `=200`
/// answers 200; the internal location itself is 404 from outside (nginx).
#[test]
fn error_page_for_502() {
    let (_be, r) = start();
    let page_resp = |status: &str| {
        format!(
            "HTTP/1.1 {status}\r\nServer: nginx/1.22.1\r\nDate: DATE\r\nContent-Type: text/plain\r\n\
             Content-Length: 10\r\nConnection: close\r\n\r\noops page\n"
        )
    };
    assert_eq!(
        exchange_text(
            &r,
            "GET /ep/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        ),
        page_resp("502 Bad Gateway")
    );
    assert_eq!(
        exchange_text(
            &r,
            "GET /ep200/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        ),
        page_resp("200 OK")
    );
    assert_eq!(get(r.addr(), "/oops").status, 404);
}

/// `proxy_redirect default`: a Location pointing at the proxy_pass URL is
/// rewritten to the location's prefix and made absolute (checked against
/// nginx 1.22.1: `http://up/new` → `http://HOST:PORT/new`, `http://up/x/new`
/// under `location /b/ { proxy_pass http://up/x/; }` → `.../b/new`); other
/// Locations pass untouched.
#[test]
fn proxy_redirect_default_rewrites_upstream_location() {
    let up = RawUpstream::start(|req| {
        let path = req.split(|&b| b == b' ').nth(1)?.to_vec();
        let loc: &[u8] = if path.starts_with(b"/a") {
            b"http://up/new"
        } else if path.starts_with(b"/x/") {
            b"http://up/x/new"
        } else {
            b"http://elsewhere/keep"
        };
        let mut r = b"HTTP/1.1 302 Found\r\nLocation: ".to_vec();
        r.extend_from_slice(loc);
        r.extend_from_slice(b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        Some(r)
    });
    let cfg = config(
        &format!("[http.upstream.up]\nserver = [\"{}\"]", up.addr),
        "[[http.server.location]]\nmatch = \"/a\"\nproxy_pass = \"http://up\"\n\n\
         [[http.server.location]]\nmatch = \"/b/\"\nproxy_pass = \"http://up/x/\"\n\n\
         [[http.server.location]]\nmatch = \"/c\"\nproxy_pass = \"http://up\"\n",
    );
    let r = Rampart::start(&cfg);
    let base = format!("http://localhost:{}", r.port);
    assert_eq!(
        get(r.addr(), "/a1").header("location"),
        Some(format!("{base}/new").as_str())
    );
    assert_eq!(
        get(r.addr(), "/b/c").header("location"),
        Some(format!("{base}/b/new").as_str())
    );
    assert_eq!(
        get(r.addr(), "/c").header("location"),
        Some("http://elsewhere/keep")
    );
}
