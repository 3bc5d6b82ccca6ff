//! gzip of proxied responses. A differential test against Debian's nginx
//! 1.22.1: the same nginx.conf (read by both) in front of the same test
//! upstream; for every request of the matrix (types, lengths around
//! gzip_min_length, statuses 200/403/404/500/206, an upstream
//! Content-Encoding, Expires / Cache-Control / ETag / Last-Modified against
//! the gzip_proxied variants with Via, HEAD, HTTP/1.0, q=0, gzip_disable,
//! Content-Length / chunked / close-delimited upstream bodies) the status,
//! Content-Type, Content-Length, Content-Encoding, Vary, ETag,
//! Last-Modified, Accept-Ranges, the presence of Transfer-Encoding and the
//! decompressed body must be identical. Then rampart alone: upstream
//! keep-alive survives compressed bodies, the body streams (the client gets
//! compressed bytes before the upstream has sent its last one), a client
//! that leaves mid-body does not hurt the next request, limit_rate still
//! paces the compressed body, and a body within 128 KiB is compressed in
//! one piece. With `proxy_buffering off` or `X-Accel-Buffering: no`, each
//! upstream read leaves sync-flushed (checked against nginx too). The nginx part is skipped (SKIPPED on stderr; a failure under CI=true)
//! when nginx is not installed.

mod common;

use common::{connect, free_port, rampart_port, read_response, serve_nginx_conf, Server, TempDir};
use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CONF: &str = r#"user root;
daemon off;
master_process off;
pid PFX/nginx.pid;
error_log PFX/logs/error.log;
events { worker_connections 64; }
http {
    log_format gz '$request_method $request_uri $status $upstream_status $upstream_response_length $uri $args $is_args $sent_http_content_encoding $sent_http_vary $sent_http_transfer_encoding $gzip_ratio';
    access_log PFX/logs/gz.log gz;
    client_body_temp_path PFX/tmp1; proxy_temp_path PFX/tmp2; fastcgi_temp_path PFX/tmp3; uwsgi_temp_path PFX/tmp4; scgi_temp_path PFX/tmp5;
    gzip on;
    gzip_min_length 100;
    gzip_types text/css application/json;
    upstream ka { server UP; keepalive 4; }
    server {
        listen 127.0.0.1:PORT;
        location / { proxy_pass http://UP; }
        location /v/ { gzip_vary on; proxy_pass http://UP; }
        location /h10/ { gzip_http_version 1.0; gzip_vary on; proxy_pass http://UP; }
        location /any/ { gzip_proxied any; proxy_pass http://UP; }
        location /exp/ { gzip_proxied expired no-cache private; proxy_pass http://UP; }
        location /auth/ { gzip_proxied auth; proxy_pass http://UP; }
        location /nolm/ { gzip_proxied no_last_modified no_etag; proxy_pass http://UP; }
        location /dis/ { gzip_disable "curl" msie6; gzip_vary on; proxy_pass http://UP; }
        location /l9/ { gzip_comp_level 9; proxy_pass http://UP; }
        location /off/ { gzip off; proxy_pass http://UP; }
        location /ex/ { expires 1h; gzip_proxied expired; gzip_vary on; proxy_pass http://UP; }
        location /ah/ { add_header Cache-Control no-cache; gzip_proxied no-cache; proxy_pass http://UP; }
        location /ka/ { proxy_http_version 1.1; proxy_set_header Connection ""; proxy_pass http://ka; }
        location /lr/ { limit_rate 40k; proxy_pass http://UP; }
        location /all/ { gzip_types *; proxy_pass http://UP; }
        location /nb/ { proxy_buffering off; proxy_pass http://UP; }
        location /nb9/ { proxy_buffering off; gzip_comp_level 9; proxy_pass http://UP; }
    }
}
"#;

/// Markup-like text that compresses about as well as real HTML.
fn html(n: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(n + 64);
    let mut i = 0u64;
    while v.len() < n {
        v.extend_from_slice(
            format!(
                "<p class=\"c{}\">word{} text {}</p>\n",
                i % 50,
                i * 7 % 997,
                i * 2654435761 % 100000
            )
            .as_bytes(),
        );
        i += 1;
    }
    v.truncate(n);
    v
}

enum Frame {
    Length,
    Chunked,
    Close,
}

/// The upstream's answer for the last path segment of the request.
fn route(seg: &str) -> (u16, Vec<(&'static str, String)>, Vec<u8>, Frame) {
    let page = html(20_000);
    let ct = |t: &str| ("Content-Type", t.to_string());
    let h = |n: &'static str, v: &str| (n, v.to_string());
    let html_ct = ct("text/html; charset=utf-8");
    let validators = vec![
        html_ct.clone(),
        h("ETag", "\"5f-abc\""),
        h("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT"),
        h("Accept-Ranges", "bytes"),
    ];
    match seg {
        "html" => (200, validators, page, Frame::Length),
        "chunked" => (200, validators, html(30_000), Frame::Chunked),
        "close" => (200, vec![html_ct], html(25_000), Frame::Close),
        "small" => (200, vec![html_ct], html(50), Frame::Length),
        "small-chunked" => (200, vec![html_ct], html(50), Frame::Chunked),
        "css" => (200, vec![ct("text/css")], page, Frame::Length),
        "json" => (
            200,
            vec![ct("application/json; charset=utf-8")],
            page,
            Frame::Chunked,
        ),
        "png" => (200, vec![ct("image/png")], page, Frame::Length),
        "js" => (200, vec![ct("application/javascript")], page, Frame::Length),
        "none" => (200, vec![], page, Frame::Length),
        "404" => (404, validators, html(5_000), Frame::Length),
        "403" => (403, vec![html_ct], html(5_000), Frame::Chunked),
        "500" => (500, vec![html_ct], html(5_000), Frame::Length),
        "206" => (
            206,
            vec![html_ct, h("Content-Range", "bytes 0-4999/20000")],
            html(5_000),
            Frame::Length,
        ),
        "encoded" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
            e.write_all(&page).unwrap();
            (
                200,
                vec![html_ct, h("Content-Encoding", "gzip")],
                e.finish().unwrap(),
                Frame::Length,
            )
        }
        "expired" => (
            200,
            vec![html_ct, h("Expires", "Thu, 01 Jan 1970 00:00:01 GMT")],
            page,
            Frame::Length,
        ),
        "future" => (
            200,
            vec![html_ct, h("Expires", "Thu, 01 Jan 2037 00:00:00 GMT")],
            page,
            Frame::Length,
        ),
        "badexpires" => (200, vec![html_ct, h("Expires", "0")], page, Frame::Length),
        "nocache" => (
            200,
            vec![html_ct, h("Cache-Control", "public, no-cache")],
            page,
            Frame::Length,
        ),
        "private" => (
            200,
            vec![html_ct, h("Cache-Control", "private, max-age=0")],
            page,
            Frame::Length,
        ),
        "maxage" => (
            200,
            vec![html_ct, h("Cache-Control", "max-age=60")],
            page,
            Frame::Length,
        ),
        "plain" => (200, vec![html_ct], page, Frame::Length),
        "lm" => (
            200,
            vec![html_ct, h("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT")],
            page,
            Frame::Length,
        ),
        "weak" => (200, vec![html_ct, h("ETag", "W/\"w1\"")], page, Frame::Length),
        "accel-no" => (
            200,
            vec![html_ct, h("X-Accel-Buffering", "no")],
            html(30_000),
            Frame::Chunked,
        ),
        "badetag" => (200, vec![html_ct, h("ETag", "unquoted")], page, Frame::Length),
        "vary" => (200, vec![html_ct, h("Vary", "Cookie")], page, Frame::Length),
        "empty" => (200, vec![html_ct], Vec::new(), Frame::Chunked),
        "random" => {
            // Poorly compressible: the compressed body stays large (limit_rate).
            let mut x = 0x2545f491u32;
            let v = (0..200_000)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    b"0123456789abcdef"[(x & 15) as usize]
                })
                .collect();
            (200, vec![html_ct], v, Frame::Length)
        }
        _ => (200, vec![html_ct], html(300_000), Frame::Chunked),
    }
}

/// The test upstream: HTTP/1.1 with keep-alive (except close-delimited
/// bodies), HEAD answered with the GET headers. Chunked `/stall/` bodies
/// send ~1 MiB, `/trickle/` ones their first 7000-byte chunk, then wait
/// (bounded) for `release` before the rest.
struct Upstream {
    addr: SocketAddr,
    conns: Arc<AtomicUsize>,
    release: Arc<AtomicBool>,
}

impl Upstream {
    fn start() -> Upstream {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let conns = Arc::new(AtomicUsize::new(0));
        let release = Arc::new(AtomicBool::new(false));
        let (c, rel) = (conns.clone(), release.clone());
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(s) = s else { continue };
                c.fetch_add(1, Ordering::SeqCst);
                let rel = rel.clone();
                std::thread::spawn(move || serve(s, &rel));
            }
        });
        Upstream { addr, conns, release }
    }
}

fn serve(mut s: TcpStream, release: &AtomicBool) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
    let mut buf = Vec::new();
    loop {
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut b = [0u8; 4096];
            match s.read(&mut b) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&b[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        buf.drain(..end);
        let mut words = head.split(' ');
        let method = words.next().unwrap_or("").to_string();
        let path = words.next().unwrap_or("/").to_string();
        let seg = path.rsplit('/').next().unwrap_or("").to_string();
        let (status, headers, body, frame) = route(&seg);
        let mut out = format!("HTTP/1.1 {status} X\r\n");
        for (n, v) in &headers {
            out.push_str(&format!("{n}: {v}\r\n"));
        }
        match frame {
            Frame::Length => out.push_str(&format!("Content-Length: {}\r\n", body.len())),
            Frame::Chunked => out.push_str("Transfer-Encoding: chunked\r\n"),
            Frame::Close => out.push_str("Connection: close\r\n"),
        }
        out.push_str("\r\n");
        let mut out = out.into_bytes();
        let stall_after = if path.contains("/stall/") {
            Some(150)
        } else if path.contains("/trickle/") {
            Some(0)
        } else {
            None
        };
        if method != "HEAD" {
            match frame {
                Frame::Chunked => {
                    for (i, c) in body.chunks(7000).enumerate() {
                        out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
                        out.extend_from_slice(c);
                        out.extend_from_slice(b"\r\n");
                        if stall_after == Some(i) {
                            if s.write_all(&out).is_err() {
                                return;
                            }
                            out.clear();
                            let t = Instant::now();
                            while !release.load(Ordering::SeqCst) && t.elapsed() < Duration::from_secs(10) {
                                std::thread::sleep(Duration::from_millis(5));
                            }
                        }
                    }
                    out.extend_from_slice(b"0\r\n\r\n");
                }
                _ => out.extend_from_slice(&body),
            }
        }
        if s.write_all(&out).is_err() {
            return;
        }
        if matches!(frame, Frame::Close) {
            return;
        }
    }
}

fn start(nginx: bool, dir: &Path, port: u16, up: SocketAddr) -> Server {
    let conf = CONF
        .replace("PFX", &dir.display().to_string())
        .replace("PORT", &port.to_string())
        .replace("UP", &up.to_string());
    serve_nginx_conf(nginx, dir, port, &conf)
}

fn ask(port: u16, method: &str, target: &str, version: &str, headers: &[&str]) -> common::Resp {
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut s = connect(addr);
    let mut req = format!("{method} {target} HTTP/{version}\r\nHost: localhost\r\nConnection: close\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    read_response(&mut BufReader::new(s), method == "HEAD").unwrap()
}

fn gunzip(r: &common::Resp) -> Vec<u8> {
    if r.header("content-encoding") != Some("gzip") || r.body.is_empty() {
        return r.body.clone();
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&r.body[..])
        .read_to_end(&mut out)
        .expect("a valid gzip body");
    out
}

/// Every value of header `name`, joined.
fn all(r: &common::Resp, name: &str) -> Option<String> {
    let v: Vec<&str> = r
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect();
    (!v.is_empty()).then(|| v.join(", "))
}

const GZ: &str = "Accept-Encoding: gzip";
const VIA: &str = "Via: 1.1 cache";

/// (method, target, HTTP version, headers)
const MATRIX: &[(&str, &str, &str, &[&str])] = &[
    ("GET", "/html", "1.1", &[GZ]),
    ("GET", "/html", "1.1", &[]),
    ("GET", "/chunked", "1.1", &[GZ]),
    ("GET", "/close", "1.1", &[GZ]),
    ("GET", "/small", "1.1", &[GZ]),
    ("GET", "/small-chunked", "1.1", &[GZ]),
    ("GET", "/css", "1.1", &[GZ]),
    ("GET", "/json", "1.1", &[GZ]),
    ("GET", "/png", "1.1", &[GZ]),
    ("GET", "/js", "1.1", &[GZ]),
    ("GET", "/none", "1.1", &[GZ]),
    ("GET", "/404", "1.1", &[GZ]),
    ("GET", "/403", "1.1", &[GZ]),
    ("GET", "/500", "1.1", &[GZ]),
    ("GET", "/206", "1.1", &[GZ]),
    ("GET", "/encoded", "1.1", &[GZ]),
    ("GET", "/empty", "1.1", &[GZ]),
    ("GET", "/weak", "1.1", &[GZ]),
    ("GET", "/badetag", "1.1", &[GZ]),
    ("GET", "/vary", "1.1", &[GZ]),
    ("GET", "/v/vary", "1.1", &[GZ]),
    ("GET", "/v/html", "1.1", &[]),
    ("GET", "/v/png", "1.1", &[GZ]),
    ("GET", "/v/small", "1.1", &[GZ]),
    ("HEAD", "/html", "1.1", &[GZ]),
    ("HEAD", "/chunked", "1.1", &[GZ]),
    ("HEAD", "/v/html", "1.1", &[GZ]),
    ("HEAD", "/small", "1.1", &[GZ]),
    ("GET", "/html", "1.0", &[GZ]),
    ("GET", "/h10/html", "1.0", &[GZ]),
    ("GET", "/h10/chunked", "1.0", &[GZ]),
    ("HEAD", "/h10/html", "1.0", &[GZ]),
    ("GET", "/html", "1.1", &["Accept-Encoding: gzip;q=0"]),
    ("GET", "/html", "1.1", &["Accept-Encoding: deflate, gzip;q=0.5"]),
    ("GET", "/html", "1.1", &["Accept-Encoding: x-gzip"]),
    ("GET", "/html", "1.1", &[GZ, VIA]),
    ("GET", "/any/html", "1.1", &[GZ, VIA]),
    ("GET", "/exp/expired", "1.1", &[GZ, VIA]),
    ("GET", "/exp/future", "1.1", &[GZ, VIA]),
    ("GET", "/exp/badexpires", "1.1", &[GZ, VIA]),
    ("GET", "/exp/nocache", "1.1", &[GZ, VIA]),
    ("GET", "/exp/private", "1.1", &[GZ, VIA]),
    ("GET", "/exp/maxage", "1.1", &[GZ, VIA]),
    ("GET", "/exp/plain", "1.1", &[GZ, VIA]),
    ("GET", "/exp/expired", "1.1", &[GZ]),
    ("GET", "/auth/html", "1.1", &[GZ, VIA]),
    (
        "GET",
        "/auth/html",
        "1.1",
        &[GZ, VIA, "Authorization: Basic eDp5"],
    ),
    ("GET", "/nolm/html", "1.1", &[GZ, VIA]),
    ("GET", "/nolm/lm", "1.1", &[GZ, VIA]),
    ("GET", "/nolm/weak", "1.1", &[GZ, VIA]),
    ("GET", "/nolm/plain", "1.1", &[GZ, VIA]),
    ("GET", "/dis/html", "1.1", &[GZ, "User-Agent: curl/8.0"]),
    (
        "GET",
        "/dis/html",
        "1.1",
        &[
            GZ,
            "User-Agent: Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.0)",
        ],
    ),
    ("GET", "/dis/html", "1.1", &[GZ, "User-Agent: Mozilla/5.0"]),
    ("GET", "/l9/chunked", "1.1", &[GZ]),
    ("GET", "/off/html", "1.1", &[GZ]),
    ("GET", "/ex/html", "1.1", &[GZ, VIA]),
    ("GET", "/ex/html", "1.1", &[GZ]),
    ("GET", "/ah/html", "1.1", &[GZ, VIA]),
    ("GET", "/all/png", "1.1", &[GZ]),
    ("GET", "/all/big", "1.1", &[GZ]),
];

const COMPARED: &[&str] = &[
    "content-type",
    "content-length",
    "content-encoding",
    "vary",
    "etag",
    "last-modified",
    "accept-ranges",
    "content-range",
    "cache-control",
];

#[test]
fn proxied_gzip_matches_nginx() {
    if !common::require_nginx() {
        return;
    }
    let up = Upstream::start();
    let d = TempDir::new("gzip-proxy-nginx");
    let (np, rp) = (free_port(), rampart_port());
    let _n = start(true, &d.path().join("n"), np, up.addr);
    let _r = start(false, &d.path().join("r"), rp, up.addr);
    let mut failures = Vec::new();
    let mut compressed = 0;
    // rampart's (decoded, sent) body sizes, for its $gzip_ratio.
    let mut sizes = Vec::new();
    for (m, t, v, hs) in MATRIX {
        let a = ask(np, m, t, v, hs);
        let b = ask(rp, m, t, v, hs);
        sizes.push((gunzip(&b).len() as u64, b.body.len() as u64));
        let mut diffs = Vec::new();
        if a.status != b.status {
            diffs.push(format!("status {} vs {}", a.status, b.status));
        }
        for h in COMPARED {
            let (va, vb) = (all(&a, h), all(&b, h));
            if va != vb {
                diffs.push(format!("{h}: {va:?} vs {vb:?}"));
            }
        }
        let (ta, tb) = (
            a.header("transfer-encoding").is_some(),
            b.header("transfer-encoding").is_some(),
        );
        if ta != tb {
            diffs.push(format!("transfer-encoding present: {ta} vs {tb}"));
        }
        let (ba, bb) = (gunzip(&a), gunzip(&b));
        if ba != bb {
            diffs.push(format!(
                "body differs ({} vs {} bytes decoded)",
                ba.len(),
                bb.len()
            ));
        }
        if b.header("content-encoding") == Some("gzip") && !b.body.is_empty() {
            compressed += 1;
        }
        if !diffs.is_empty() {
            failures.push(format!("{m} {t} HTTP/{v} {hs:?}: {}", diffs.join("; ")));
        }
    }
    assert!(
        failures.is_empty(),
        "differences from nginx:\n{}",
        failures.join("\n")
    );
    assert!(
        compressed >= 15,
        "only {compressed} compressed responses in the matrix"
    );
    // The log lines: every field but the last the same, and $gzip_ratio where
    // and as nginx logs it (see check_gzip_ratios).
    let log = |side: &str| common::log_lines(&d.path().join(side).join("logs/gz.log"), MATRIX.len());
    let (ln, lr) = (log("n"), log("r"));
    for (n, r) in ln.iter().zip(&lr) {
        assert_eq!(n.rsplit_once(' ').map(|p| p.0), r.rsplit_once(' ').map(|p| p.0));
    }
    let ratios = common::check_gzip_ratios(&ln, &lr, &sizes);
    assert!(ratios >= 15, "only {ratios} responses logged a $gzip_ratio");
}

fn rampart(up: SocketAddr) -> (TempDir, Server, u16) {
    let d = TempDir::new("gzip-proxy");
    let port = rampart_port();
    let p = start(false, d.path(), port, up);
    (d, p, port)
}

#[test]
fn upstream_keepalive_survives_compressed_bodies() {
    let up = Upstream::start();
    let (_d, _p, port) = rampart(up.addr);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    // One client connection, several compressed responses of each upstream framing.
    let mut s = connect(addr);
    let mut r = BufReader::new(s.try_clone().unwrap());
    for path in ["/ka/html", "/ka/chunked", "/ka/html", "/ka/chunked", "/ka/404"] {
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n{GZ}\r\n\r\n").as_bytes())
            .unwrap();
        let resp = read_response(&mut r, false).unwrap();
        assert_eq!(resp.header("content-encoding"), Some("gzip"), "{path}");
        assert_eq!(resp.header("transfer-encoding"), Some("chunked"), "{path}");
        let want = if path.ends_with("chunked") {
            html(30_000)
        } else if path.ends_with("404") {
            html(5_000)
        } else {
            html(20_000)
        };
        assert_eq!(gunzip(&resp), want, "{path}");
    }
    assert_eq!(
        up.conns.load(Ordering::SeqCst),
        1,
        "one upstream connection for all"
    );
}

/// A body that ends within 128 KiB is compressed in one piece (the bytes of
/// `gzip_whole`, whatever the upstream framing); a longer one streams (nginx's
/// gzip header opens it). Both at the default level 1 and at level 9.
#[test]
fn small_bodies_are_compressed_in_one_piece() {
    use rampart::filters::gzip_encoder::{gzip_whole, HEADER};
    let up = Upstream::start();
    let (_d, _p, port) = rampart(up.addr);
    for (path, level, body) in [
        ("/html", 1, html(20_000)),
        ("/chunked", 1, html(30_000)),
        ("/close", 1, html(25_000)),
        ("/l9/chunked", 9, html(30_000)),
    ] {
        let r = ask(port, "GET", path, "1.1", &[GZ]);
        assert_eq!(r.header("content-encoding"), Some("gzip"), "{path}");
        let mut whole = Vec::new();
        assert!(gzip_whole(level, &body, &mut whole));
        assert_eq!(r.body, whole, "{path}: one gzip_whole call");
    }
    // `big` is any other name: 300 KB, chunked.
    let r = ask(port, "GET", "/all/big", "1.1", &[GZ]);
    assert_eq!(&r.body[..10], &HEADER, "a 300 KB body streams");
    assert_eq!(gunzip(&r), html(300_000));
}

/// Reads from `s` (bounded) until the gzip body of a chunked response
/// decompresses to at least `want` bytes; returns them all.
fn read_gunzipped_prefix(s: &mut TcpStream, want: usize) -> Vec<u8> {
    let t = Instant::now();
    let mut raw = Vec::new();
    let mut b = [0u8; 65536];
    loop {
        let plain = chunked_gzip_prefix(&raw);
        if plain.len() >= want {
            return plain;
        }
        assert!(
            t.elapsed() < Duration::from_secs(8),
            "only {} of {want} bytes decompressible before the upstream's end",
            plain.len()
        );
        match s.read(&mut b) {
            Ok(0) | Err(_) => panic!("closed early"),
            Ok(n) => raw.extend_from_slice(&b[..n]),
        }
    }
}

/// What the chunks received so far of a gzip response decompress to.
fn chunked_gzip_prefix(raw: &[u8]) -> Vec<u8> {
    let Some(head) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Vec::new();
    };
    let mut rest = &raw[head + 4..];
    let mut gz = Vec::new();
    while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
        let n = usize::from_str_radix(std::str::from_utf8(&rest[..eol]).unwrap().trim(), 16).unwrap();
        if rest.len() < eol + 2 + n {
            break;
        }
        gz.extend_from_slice(&rest[eol + 2..eol + 2 + n]);
        rest = &rest[(eol + 2 + n + 2).min(rest.len())..];
    }
    if gz.len() <= 10 {
        return Vec::new();
    }
    let mut z = flate2::Decompress::new(false);
    let mut out = Vec::with_capacity(1 << 20);
    let _ = z.decompress_vec(&gz[10..], &mut out, flate2::FlushDecompress::Sync);
    out
}

/// `proxy_buffering off`, or `X-Accel-Buffering: no` from the upstream:
/// each upstream read leaves compressed and sync-flushed, so the client can
/// decompress the first chunk while the upstream still holds the rest (as
/// nginx does: its gzip filter flushes on the flush buffers it then gets).
/// Checked against nginx too when it is installed.
#[test]
fn unbuffered_responses_flush_each_read() {
    let mut servers = vec![("rampart", false)];
    if common::require_nginx() {
        servers.push(("nginx", true));
    }
    for (bin, nginx) in servers {
        // Level 1 (igzip when built in) and 9 (zlib-rs).
        for target in ["/nb/trickle/chunked", "/nb9/trickle/chunked", "/trickle/accel-no"] {
            let up = Upstream::start();
            let d = TempDir::new("gzip-proxy-flush");
            let port = if nginx { free_port() } else { rampart_port() };
            let _p = start(nginx, d.path(), port, up.addr);
            let mut s = connect(format!("127.0.0.1:{port}").parse().unwrap());
            s.write_all(
                format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{GZ}\r\n\r\n").as_bytes(),
            )
            .unwrap();
            let first = read_gunzipped_prefix(&mut s, 7000);
            assert_eq!(first, html(30_000)[..7000], "{bin} {target}");
            assert!(!up.release.load(Ordering::SeqCst));
            up.release.store(true, Ordering::SeqCst);
            let mut rest = Vec::new();
            let _ = s.read_to_end(&mut rest);
        }
    }
}

#[test]
fn compressed_body_streams_before_the_upstream_finishes() {
    let up = Upstream::start();
    let (_d, _p, port) = rampart(up.addr);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut s = connect(addr);
    s.write_all(
        format!("GET /all/stall/big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{GZ}\r\n\r\n").as_bytes(),
    )
    .unwrap();
    // The upstream holds back the end of its body until `release`; rampart
    // must have passed on compressed data for what it already got.
    let mut got = Vec::new();
    let mut b = [0u8; 65536];
    let t = Instant::now();
    while got.len() < 20_000 {
        assert!(
            t.elapsed() < Duration::from_secs(8),
            "no compressed data before the upstream's end"
        );
        match s.read(&mut b) {
            Ok(0) | Err(_) => panic!("closed early"),
            Ok(n) => got.extend_from_slice(&b[..n]),
        }
    }
    assert!(!up.release.load(Ordering::SeqCst));
    up.release.store(true, Ordering::SeqCst);
    let resp_rest = {
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
        rest
    };
    got.extend_from_slice(&resp_rest);
    let resp = read_response(&mut BufReader::new(&got[..]), false).unwrap();
    assert_eq!(gunzip(&resp), html(300_000));
}

#[test]
fn client_leaving_mid_body_and_limit_rate() {
    let up = Upstream::start();
    let (_d, _p, port) = rampart(up.addr);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    for _ in 0..3 {
        let mut s = connect(addr);
        s.write_all(format!("GET /all/big HTTP/1.1\r\nHost: x\r\n{GZ}\r\n\r\n").as_bytes())
            .unwrap();
        let mut b = [0u8; 100];
        let _ = s.read(&mut b);
        drop(s);
    }
    let r = ask(port, "GET", "/all/big", "1.1", &[GZ]);
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(gunzip(&r), html(300_000));
    // limit_rate 40k paces the compressed body: ~110 KB of it takes > 1.5 s.
    let t = Instant::now();
    let r = ask(port, "GET", "/lr/random", "1.1", &[GZ]);
    let el = t.elapsed();
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert!(r.body.len() > 80_000, "{}", r.body.len());
    let min = Duration::from_millis((r.body.len() as u64 * 1000 / (40 * 1024)).saturating_sub(1000));
    assert!(
        el >= min,
        "{} compressed bytes in {el:?} at limit_rate 40k",
        r.body.len()
    );
}
