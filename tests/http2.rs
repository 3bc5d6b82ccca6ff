//! HTTP/2 to clients, over the real binary with curl, h2load and nghttp as
//! clients: the same request suite through HTTP/1.1 and HTTP/2 over TLS
//! (ALPN) and h2c with prior knowledge on a cleartext `listen ... http2`
//! address must give equal statuses, headers and bodies; multiplexing; the
//! access log; limits per stream; and the TOML front end's `http2` flags.
//! Frame-level protocol checks are in tests/h2_conformance.rs.

mod common;
#[path = "common/h2frames.rs"]
mod h2frames;
use common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// curl, h2load or nghttp can be run; SKIPPED (a failure under CI=true) otherwise.
fn tool(name: &str) -> bool {
    let package = if name == "curl" { "curl" } else { "nghttp2-client" };
    require_tool(name, package)
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tls").join(name)
}

struct Site {
    r: Rampart,
    _be: Backend,
    /// TLS with `ssl http2`.
    tls: u16,
    /// Cleartext `http2` (h2c by preface, HTTP/1.x otherwise).
    h2c: u16,
}

fn start(extra: &str) -> Site {
    let be = Backend::start("h2");
    let dir = TempDir::new("http2");
    let html = dir.path().join("html");
    std::fs::create_dir_all(&html).unwrap();
    std::fs::write(html.join("index.html"), "hello from rampart\n").unwrap();
    std::fs::write(html.join("404.html"), "custom not found\n").unwrap();
    let text: String = (0..400)
        .map(|i| format!("line {i} of a compressible text\n"))
        .collect();
    std::fs::write(html.join("big.txt"), text).unwrap();
    let tls = rampart_port();
    let h2c = rampart_port();
    let conf = format!(
        r#"
worker_processes 2;
daemon off;
pid logs/rampart.pid;
error_log logs/error.log info;
events {{}}
http {{
    log_format h2 '"$request" $status $server_protocol "$http2" $body_bytes_sent';
    access_log logs/access.log h2;
    gzip on;
    gzip_types text/plain;
    gzip_min_length 100;
    client_max_body_size 2m;
    large_client_header_buffers 4 4k;
    {extra}
    server {{
        listen 127.0.0.1:{tls} ssl http2;
        listen 127.0.0.1:{h2c} http2;
        server_name a.test;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        root {root};
        error_page 404 /404.html;
        location /be/ {{ proxy_set_header Host $http_host; proxy_pass http://{be}/; }}
        location = /r {{ return 301 /elsewhere; }}
        location = /status {{ stub_status; }}
        location = /small {{ client_max_body_size 10; proxy_pass http://{be}/echo; }}
    }}
}}
"#,
        cert = fixture("a.crt").display(),
        key = fixture("a.key").display(),
        root = html.display(),
        be = be.addr,
    );
    let path = dir.path().join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    let r = Rampart::run_file(dir, h2c, path);
    Site { r, _be: be, tls, h2c }
}

/// One curl exchange, as compared between protocols.
#[derive(Debug, PartialEq, Eq)]
struct Got {
    status: u16,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

/// Runs curl; returns the exchange and `%{http_version}`.
fn curl(mode: &str, url: &str, extra: &[&str], tmp: &Path) -> (Got, String) {
    let hdr = tmp.join("h");
    let body = tmp.join("b");
    let out = Command::new("curl")
        .args(["-sS", "-k", "--max-time", "10", mode])
        .args(["--resolve", &format!("a.test:{}:127.0.0.1", url_port(url))])
        .arg("-D")
        .arg(&hdr)
        .arg("-o")
        .arg(&body)
        .args(["-w", "%{http_version}"])
        .args(extra)
        .arg(url)
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "curl {mode} {url} {extra:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let version = String::from_utf8_lossy(&out.stdout).into_owned();
    let raw = std::fs::read_to_string(&hdr).unwrap_or_default();
    // The last head (after any 100 Continue).
    let head = raw.trim_end().rsplit("\r\n\r\n").next().unwrap_or("");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut headers = BTreeMap::new();
    for l in lines {
        if let Some((n, v)) = l.split_once(':') {
            let n = n.trim().to_ascii_lowercase();
            // Per connection or per moment, not per response.
            if [
                "date",
                "connection",
                "keep-alive",
                "transfer-encoding",
                "x-echo-headers",
            ]
            .contains(&n.as_str())
            {
                continue;
            }
            headers.insert(n, v.trim().to_string());
        }
    }
    // With -I curl writes the head to -o too: a HEAD response has no body.
    let body = if extra.contains(&"-I") {
        Vec::new()
    } else {
        std::fs::read(&body).unwrap_or_default()
    };
    (
        Got {
            status,
            headers,
            body,
        },
        version,
    )
}

fn url_port(url: &str) -> u16 {
    url.rsplit(':')
        .next()
        .and_then(|p| p.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or(0)
}

/// (name, path, curl arguments, expected status)
fn suite(tmp: &Path) -> Vec<(&'static str, &'static str, Vec<String>, u16)> {
    let mk = |name: &str, n: usize| {
        let p = tmp.join(name);
        let data: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
        std::fs::write(&p, data).unwrap();
        format!("@{}", p.display())
    };
    let (b0, b1k, b1m) = (mk("0", 0), mk("1k", 1024), mk("1m", 1 << 20));
    let post = |f: &String| vec!["--data-binary".to_string(), f.clone()];
    vec![
        ("get 0 B", "/be/size/0", vec![], 200),
        ("get 1 KiB", "/be/size/1024", vec![], 200),
        ("get 1 MiB", "/be/size/1048576", vec![], 200),
        ("get chunked", "/be/chunked/5000", vec![], 200),
        ("head", "/be/size/1024", vec!["-I".to_string()], 200),
        ("post 0 B", "/be/echo", post(&b0), 200),
        ("post 1 KiB", "/be/echo", post(&b1k), 200),
        ("post 1 MiB", "/be/echo", post(&b1m), 200),
        ("static file", "/index.html", vec![], 200),
        ("404 error page", "/missing", vec![], 404),
        (
            "gzip",
            "/big.txt",
            vec!["-H".to_string(), "Accept-Encoding: gzip".to_string()],
            200,
        ),
        ("return 301", "/r", vec![], 301),
    ]
}

#[test]
fn same_responses_over_http1_and_http2() {
    if !tool("curl") {
        return;
    }
    let s = start("");
    let tmp = TempDir::new("h2curl");
    let tls = format!("https://a.test:{}", s.tls);
    let clear = format!("http://a.test:{}", s.h2c);
    for (name, path, args, status) in suite(tmp.path()) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (h1, v1) = curl("--http1.1", &format!("{tls}{path}"), &args, tmp.path());
        let (h2, v2) = curl("--http2", &format!("{tls}{path}"), &args, tmp.path());
        let (h2c, v2c) = curl(
            "--http2-prior-knowledge",
            &format!("{clear}{path}"),
            &args,
            tmp.path(),
        );
        let (c1, vc1) = curl("--http1.1", &format!("{clear}{path}"), &args, tmp.path());
        assert_eq!(
            (v1.as_str(), v2.as_str(), v2c.as_str(), vc1.as_str()),
            ("1.1", "2", "2", "1.1"),
            "{name}"
        );
        assert_eq!(h1.status, status, "{name}: {h1:?}");
        assert_eq!(h1, h2, "{name}: HTTP/1.1 vs HTTP/2 over TLS");
        // Cleartext differs from TLS only where the scheme shows (Location).
        assert_eq!(h2c, c1, "{name}: h2c vs HTTP/1.1 on the cleartext http2 address");
        assert_eq!(h2c.body, h2.body, "{name}: h2c vs h2 body");
    }
    // Spot checks that the comparison compared something meaningful.
    let (g, _) = curl(
        "--http2",
        &format!("{tls}/big.txt"),
        &["-H", "Accept-Encoding: gzip"],
        tmp.path(),
    );
    assert_eq!(
        g.headers.get("content-encoding").map(String::as_str),
        Some("gzip")
    );
    let (r, _) = curl("--http2", &format!("{tls}/r"), &[], tmp.path());
    assert_eq!(
        r.headers.get("location").map(String::as_str),
        Some(&*format!("{tls}/elsewhere"))
    );
    let (e, _) = curl("--http2", &format!("{tls}/missing"), &[], tmp.path());
    assert_eq!(e.body, b"custom not found\n");
    let (p, _) = curl(
        "--http2",
        &format!("{tls}/be/echo"),
        &["--data-binary", "hello"],
        tmp.path(),
    );
    assert_eq!(p.body, b"hello");
    assert_eq!(
        p.headers.get("x-request-host").map(String::as_str),
        Some(&*format!("a.test:{}", s.tls))
    );
    drop(s.r);
}

#[test]
fn access_log_shows_http2() {
    if !tool("curl") {
        return;
    }
    let s = start("");
    let tmp = TempDir::new("h2log");
    curl(
        "--http2",
        &format!("https://a.test:{}/index.html?x=1", s.tls),
        &[],
        tmp.path(),
    );
    curl(
        "--http2-prior-knowledge",
        &format!("http://a.test:{}/index.html", s.h2c),
        &[],
        tmp.path(),
    );
    curl(
        "--http1.1",
        &format!("http://a.test:{}/index.html", s.h2c),
        &[],
        tmp.path(),
    );
    // Several connections, maybe several workers flushing apart: wait for each line.
    wait_log(&s.r, "access.log", "HTTP/2.0 \"h2\"");
    wait_log(&s.r, "access.log", "HTTP/2.0 \"h2c\"");
    let log = wait_log(&s.r, "access.log", "HTTP/1.1 \"\"");
    assert!(
        log.contains("\"GET /index.html?x=1 HTTP/2.0\" 200 HTTP/2.0 \"h2\" 19"),
        "{log}"
    );
    assert!(
        log.contains("\"GET /index.html HTTP/2.0\" 200 HTTP/2.0 \"h2c\" 19"),
        "{log}"
    );
    assert!(
        log.contains("\"GET /index.html HTTP/1.1\" 200 HTTP/1.1 \"\" 19"),
        "{log}"
    );
}

#[test]
fn multiplexed_streams_all_succeed() {
    if !(tool("h2load") & tool("nghttp")) {
        return;
    }
    let s = start("");
    for url in [
        format!("https://127.0.0.1:{}/be/size/2000", s.tls),
        format!("http://127.0.0.1:{}/index.html", s.h2c),
    ] {
        let out = Command::new("h2load")
            .args(["-n", "1000", "-c", "4", "-m", "10", &url])
            .output()
            .expect("h2load");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("1000 succeeded, 0 failed"), "{url}: {text}");
        assert!(text.contains("status codes: 1000 2xx"), "{url}: {text}");
    }
    // nghttp: 20 concurrent streams on one connection, each answered in full.
    let out = Command::new("nghttp")
        .args([
            "-n",
            "-s",
            "-m",
            "20",
            &format!("http://127.0.0.1:{}/be/size/30000", s.h2c),
        ])
        .output()
        .expect("nghttp");
    let text = String::from_utf8_lossy(&out.stdout);
    let ok = text
        .lines()
        .filter(|l| l.contains(" 200 ") && l.contains("30000"))
        .count();
    assert_eq!(ok, 20, "{text}");
    // stub_status: one connection, many requests (as nginx counts HTTP/2).
    let counts = |s: &Site| -> (u64, u64) {
        let body = get(s.r.addr(), "/status").text();
        let nums: Vec<u64> = body
            .lines()
            .nth(2)
            .unwrap_or("")
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        (
            nums.first().copied().unwrap_or(0),
            nums.get(2).copied().unwrap_or(0),
        )
    };
    let (accepts0, requests0) = counts(&s);
    let out = Command::new("h2load")
        .args([
            "-n",
            "500",
            "-c",
            "2",
            "-m",
            "10",
            &format!("http://127.0.0.1:{}/index.html", s.h2c),
        ])
        .output()
        .expect("h2load");
    assert!(String::from_utf8_lossy(&out.stdout).contains("500 succeeded"));
    let (accepts1, requests1) = counts(&s);
    // +1 for the /status request itself.
    assert_eq!(requests1 - requests0, 501, "requests");
    assert_eq!(accepts1 - accepts0, 3, "two h2 connections and the /status one");
}

#[test]
fn graceful_stop_sends_goaway_and_finishes_open_streams() {
    use h2frames::*;
    let s = start("");
    let addr = s.r.addr();
    let mut h = H2::connect(addr);
    let mut req = request("/be/echo");
    req[0].1 = "POST".into();
    h.headers(1, &req, false);
    h.send(DATA, 0, 1, b"before ");
    // A PING round trip: the server has taken the stream and its first DATA.
    h.alive().expect("PING");
    s.r.signal(libc::SIGQUIT);
    let goaway = h.next_of(GOAWAY, |_| true).expect("GOAWAY on SIGQUIT");
    assert_eq!(goaway.error_code(), Some(NO_ERROR));
    // The open stream still completes.
    h.send(DATA, END_STREAM, 1, b"after");
    let mut body = Vec::new();
    let mut status = None;
    loop {
        match h.event() {
            Event::Frame(f) if f.ty == HEADERS && f.stream == 1 => status = f.payload.first().copied(),
            Event::Frame(f) if f.ty == DATA && f.stream == 1 => {
                body.extend_from_slice(&f.payload);
                if f.flags & END_STREAM != 0 {
                    break;
                }
            }
            Event::Frame(f) if f.ty == PING && f.flags & ACK == 0 => h.send(PING, ACK, 0, &f.payload),
            Event::Frame(_) => {}
            e => panic!("stream not finished: {e:?}"),
        }
    }
    assert_eq!((status, body.as_slice()), (Some(0x88), &b"before after"[..]));
    // Then the connection ends and the process exits.
    let mut s = s;
    assert_eq!(s.r.wait_exit(std::time::Duration::from_secs(10)), Some(0));
}

#[test]
fn limits_apply_per_stream_and_keep_the_connection() {
    if !tool("curl") {
        return;
    }
    let s = start("");
    let tmp = TempDir::new("h2lim");
    let url = format!("https://a.test:{}", s.tls);
    // client_max_body_size: 413 for the stream, then the next request on
    // the same connection is served. Raw frames, with the body sent in the
    // same write as the head: when a client is still uploading after the
    // 413, the server ends the stream with RST_STREAM NO_ERROR (RFC 9113
    // §8.1, as nginx does), and whether curl then reports the 413 or an
    // error depends on timing.
    {
        use h2frames::*;
        let mut h = H2::connect(std::net::SocketAddr::from(([127, 0, 0, 1], s.h2c)));
        let mut req = request("/small");
        req[0].1 = "POST".into();
        req.push(("content-length", "100".into()));
        let mut bytes = frame(HEADERS, END_HEADERS, 1, &hpack(&req));
        bytes.extend_from_slice(&frame(DATA, END_STREAM, 1, &[b'x'; 100]));
        h.send_bytes(&bytes);
        let (_, body) = h.response(1).expect("the 413");
        let body = String::from_utf8_lossy(&body);
        assert!(body.contains("413 Request Entity Too Large"), "{body}");
        h.get(3, "/index.html");
        let (status, body) = h.response(3).expect("the next stream");
        assert_eq!((status, body.as_slice()), (0x88, &b"hello from rampart\n"[..]));
    }
    // A header longer than large_client_header_buffers' 4k: 400 on that
    // stream (nginx: "Request Header Or Cookie Too Large"), nothing else hurt.
    let long = format!("X-Long: {}", "y".repeat(6000));
    let (g, v) = curl(
        "--http2",
        &format!("{url}/index.html"),
        &["-H", &long],
        tmp.path(),
    );
    assert_eq!((g.status, v.as_str()), (400, "2"), "{g:?}");
    let (g, _) = curl("--http2", &format!("{url}/index.html"), &[], tmp.path());
    assert_eq!(g.status, 200);
}

#[test]
fn toml_front_end_and_alpn_without_http2() {
    if !tool("curl") {
        return;
    }
    // TOML: the `http2` listen flag on a cleartext address; a TLS address
    // without it offers only http/1.1 by ALPN.
    let tls = rampart_port();
    let cert = fixture("a.crt");
    let key = fixture("a.key");
    let r = Rampart::start(&format!(
        "worker_processes = 1\nerror_log = \"logs/error.log info\"\n\n[http]\naccess_log = \"off\"\n\n\
         [[http.server]]\nlisten = [\"127.0.0.1:@PORT@ http2\", \"127.0.0.1:{tls} ssl\"]\nserver_name = [\"a.test\"]\n\
         ssl_certificate = \"{}\"\nssl_certificate_key = \"{}\"\nhttp2_max_concurrent_streams = 8\n\n\
         [[http.server.location]]\nmatch = \"/\"\nreturn = [200, \"ok\"]\n",
        cert.display(),
        key.display()
    ));
    let tmp = TempDir::new("h2toml");
    let (g, v) = curl(
        "--http2-prior-knowledge",
        &format!("http://a.test:{}/", r.port),
        &[],
        tmp.path(),
    );
    assert_eq!((g.status, v.as_str(), g.body.as_slice()), (200, "2", &b"ok"[..]));
    let (g, v) = curl("--http2", &format!("https://a.test:{tls}/"), &[], tmp.path());
    assert_eq!(
        (g.status, v.as_str()),
        (200, "1.1"),
        "no h2 by ALPN without the flag"
    );
    // `http2 on;` (nginx 1.25 syntax) turns it on for the server's addresses.
    let dir = TempDir::new("h2on");
    let port = rampart_port();
    let conf = dir.path().join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "daemon off; events {{}} http {{ access_log off; server {{ listen 127.0.0.1:{port}; http2 on; \
             location / {{ return 200 \"on\"; }} }} }}"
        ),
    )
    .unwrap();
    let r2 = Rampart::run_file(dir, port, conf);
    let (g, v) = curl(
        "--http2-prior-knowledge",
        &format!("http://a.test:{port}/"),
        &[],
        tmp.path(),
    );
    assert_eq!((g.status, v.as_str(), g.body.as_slice()), (200, "2", &b"on"[..]));
    drop((r, r2));
}

#[test]
fn idle_connection_closed_after_keepalive_timeout() {
    use h2frames::*;
    let s = start("keepalive_timeout 1s;");
    let mut h = H2::connect(s.r.addr());
    h.get(1, "/index.html");
    let (first, body) = h.response(1).expect("response");
    assert_eq!((first, body.as_slice()), (0x88, &b"hello from rampart\n"[..]));
    let t = std::time::Instant::now();
    h.wait = std::time::Duration::from_secs(5);
    let goaway = h.next_of(GOAWAY, |_| true).expect("GOAWAY when idle");
    assert_eq!(goaway.error_code(), Some(NO_ERROR));
    let waited = t.elapsed();
    assert!(waited >= std::time::Duration::from_millis(800), "{waited:?}");
    assert!(waited < std::time::Duration::from_secs(4), "{waited:?}");
    // Then the server closes (at the latest a few seconds later).
    h.wait = std::time::Duration::from_secs(8);
    loop {
        match h.event() {
            Event::Closed => break,
            Event::Frame(f) if f.ty == PING && f.flags & ACK == 0 => h.send(PING, ACK, 0, &f.payload),
            Event::Frame(_) => {}
            Event::Timeout => panic!("connection not closed"),
        }
    }
}

#[test]
fn proxy_protocol_before_h2() {
    use h2frames::*;
    let dir = TempDir::new("h2pp");
    let (clear, tls) = (rampart_port(), rampart_port());
    let conf = dir.path().join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            r#"daemon off; pid logs/rampart.pid; events {{}}
http {{
    access_log off;
    set_real_ip_from 127.0.0.1;
    real_ip_header proxy_protocol;
    server {{
        listen 127.0.0.1:{clear} http2 proxy_protocol;
        listen 127.0.0.1:{tls} ssl http2 proxy_protocol;
        server_name a.test;
        ssl_certificate {};
        ssl_certificate_key {};
        location / {{ return 200 "$remote_addr $proxy_protocol_addr $http2"; }}
    }}
}}"#,
            fixture("a.crt").display(),
            fixture("a.key").display()
        ),
    )
    .unwrap();
    let r = Rampart::run_file(dir, clear, conf);
    // h2c: the PROXY v1 header, then the preface.
    let mut h = H2::connect_after(r.addr(), b"PROXY TCP4 192.0.2.7 127.0.0.1 5555 80\r\n");
    h.get(1, "/");
    let (first, body) = h.response(1).expect("response");
    assert_eq!(
        (first, String::from_utf8_lossy(&body).as_ref()),
        (0x88, "192.0.2.7 192.0.2.7 h2c")
    );
    // h2 over TLS after a PROXY header (curl --haproxy-protocol sends v1).
    if tool("curl") {
        let tmp = TempDir::new("h2ppc");
        let (g, v) = curl(
            "--http2",
            &format!("https://a.test:{tls}/"),
            &["--haproxy-protocol"],
            tmp.path(),
        );
        assert_eq!((g.status, v.as_str()), (200, "2"));
        assert_eq!(String::from_utf8_lossy(&g.body), "127.0.0.1 127.0.0.1 h2");
    }
}

#[test]
fn client_body_timeout_ends_only_the_stream() {
    use h2frames::*;
    let s = start("client_body_timeout 1s;");
    let mut h = H2::connect(s.r.addr());
    let mut req = request("/be/echo");
    req[0].1 = "POST".into();
    h.headers(1, &req, false);
    h.send(DATA, 0, 1, b"part");
    // No more body: after client_body_timeout the stream ends (nginx logs
    // 408 and sends nothing), the connection stays.
    let t = std::time::Instant::now();
    h.wait = std::time::Duration::from_secs(5);
    let rst = h
        .next_of(RST_STREAM, |f| f.stream == 1)
        .expect("RST_STREAM after the body timeout");
    assert!(
        t.elapsed() >= std::time::Duration::from_millis(800),
        "{:?}",
        t.elapsed()
    );
    assert!(rst.error_code().is_some());
    h.alive().expect("connection still usable");
    h.get(3, "/index.html");
    let (first, _) = h.response(3).expect("next stream");
    assert_eq!(first, 0x88);
    let log = wait_log(&s.r, "access.log", "\"POST /be/echo HTTP/2.0\"");
    assert!(log.contains("\"POST /be/echo HTTP/2.0\" 408"), "{log}");
}

#[test]
fn reload_applies_to_the_next_stream_of_an_open_connection() {
    use h2frames::*;
    let dir = TempDir::new("h2reload");
    let port = rampart_port();
    let conf = dir.path().join("nginx.conf");
    let text = |word: &str| {
        format!(
            "daemon off; pid logs/rampart.pid; events {{}} http {{ access_log off; server {{ \
             listen 127.0.0.1:{port} http2; location / {{ return 200 \"{word}\"; }} }} }}"
        )
    };
    std::fs::write(&conf, text("one")).unwrap();
    let r = Rampart::run_file(dir, port, conf.clone());
    let mut h = H2::connect(r.addr());
    h.get(1, "/");
    assert_eq!(h.response(1).expect("first").1, b"one");
    std::fs::write(&conf, text("two")).unwrap();
    r.signal(libc::SIGHUP);
    // The same connection; each new stream reads the config in force.
    let mut stream = 3;
    wait_for(
        "the reloaded config on the open h2 connection",
        std::time::Duration::from_secs(10),
        || {
            h.get(stream, "/");
            let body = h.response(stream).expect("response").1;
            stream += 2;
            (body == b"two").then_some(())
        },
    );
}
