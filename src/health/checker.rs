//! The checker: one task per checked (upstream, address) for the whole
//! process, on one extra thread with its own single-threaded tokio runtime.
//!
//! Scheduling follows the module's observable behaviour (§1.4 of
//! upstream-check-and-l4.md, `ngx_http_upstream_check_add_timers`): a random
//! first delay in [0, max(interval, 1s)), then one check per interval; one
//! timer covers connect + send + receive. Deliberate differences from the
//! module's bugs (§1.5): a tcp check closes its connection every time (bug A),
//! `check_keepalive_requests N` really sends N checks per connection (bug B),
//! and an http check reads the whole response before closing or reusing the
//! connection instead of dropping it after the status line (bug C).

use super::{status_class, CheckType, HealthTable, PeerHealth, Transition};
use crate::log::Level;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// The module's ssl_hello payload (`sslv3_client_hello_pkt`, 116 bytes): a
/// TLS 1.2 ClientHello in a TLS 1.0 record, gmt_unix_time 0, the random
/// `NGX_HTTP_CHECK_SSL_HELLO` + 4 LF, no session id, 13 suites, null
/// compression, supported_groups and signature_algorithms, no SNI.
pub const SSL_CLIENT_HELLO: [u8; 116] = [
    0x16, 0x03, 0x01, 0x00, 0x6f, // record: handshake, TLS 1.0, 111 bytes
    0x01, 0x00, 0x00, 0x6b, // ClientHello, 107 bytes
    0x03, 0x03, // client_version TLS 1.2
    0x00, 0x00, 0x00, 0x00, // gmt_unix_time
    b'N', b'G', b'X', b'_', b'H', b'T', b'T', b'P', b'_', b'C', b'H', b'E', b'C', b'K', b'_', b'S', b'S',
    b'L', b'_', b'H', b'E', b'L', b'L', b'O', b'\n', b'\n', b'\n', b'\n', // random (28 bytes)
    0x00,  // session id length
    0x00, 0x1a, // 13 cipher suites
    0xc0, 0x2b, 0xc0, 0x2f, 0xc0, 0x2c, 0xc0, 0x30, 0xcc, 0xa9, 0xcc, 0xa8, 0xc0, 0x09, 0xc0, 0x13, 0xc0,
    0x0a, 0xc0, 0x14, 0x00, 0x9c, 0x00, 0x9d, 0x00, 0x2f, //
    0x01, 0x00, // compression: null
    0x00, 0x28, // extensions, 40 bytes
    0x00, 0x0a, 0x00, 0x08, 0x00, 0x06, 0x00, 0x17, 0x00, 0x18, 0x00, 0x19, // supported_groups
    0x00, 0x0d, 0x00, 0x18, 0x00, 0x16, // signature_algorithms, 11 pairs
    0x04, 0x01, 0x05, 0x01, 0x06, 0x01, 0x02, 0x01, 0x04, 0x03, 0x05, 0x03, 0x06, 0x03, 0x02, 0x03, 0x08,
    0x04, 0x08, 0x05, 0x08, 0x06,
];

/// Largest response an http check reads (head + body); past it the check
/// judges what it has and closes the connection.
const MAX_RESPONSE: usize = 1 << 20;

/// A running checker thread; dropping it without `stop` leaves it running.
pub struct Checker {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checker {
    /// Starts one check task per peer of `table` (no thread when it is empty).
    pub fn start(table: Arc<HealthTable>) -> std::io::Result<Checker> {
        if table.peers.is_empty() {
            return Ok(Checker {
                stop: None,
                thread: None,
            });
        }
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let thread = std::thread::Builder::new()
            .name("rampart-check".into())
            .spawn(move || {
                rt.block_on(async move {
                    let seed = seed();
                    for p in &table.peers {
                        tokio::spawn(run(p.clone(), seed));
                    }
                    let _ = rx.await;
                });
                // Dropping the runtime cancels every task and closes their connections.
                drop(rt);
            })?;
        Ok(Checker {
            stop: Some(tx),
            thread: Some(thread),
        })
    }

    /// Stops every check and waits for the thread (graceful shutdown tears
    /// the checks down, as the module's `_need_exit`).
    pub fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    t ^ u64::from(std::process::id()).rotate_left(32)
}

/// splitmix64: enough to spread first checks (the module uses `random()`).
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The first delay: `random() % max(interval, 1000)` ms.
pub fn first_delay(seed: u64, index: usize, interval: Duration) -> Duration {
    let span = interval.as_millis().max(1000) as u64;
    Duration::from_millis(mix(seed ^ index as u64) % span)
}

/// A connection kept between http checks, with the checks it has carried.
struct Kept {
    stream: TcpStream,
    used: u64,
}

async fn run(peer: Arc<PeerHealth>, seed: u64) {
    let p = &peer.conf.params;
    tokio::time::sleep(first_delay(seed, peer.index, p.interval)).await;
    let mut kept: Option<Kept> = None;
    loop {
        let start = Instant::now();
        let ok = match tokio::time::timeout(p.timeout, check_once(&peer, &mut kept)).await {
            Ok(ok) => ok,
            Err(_) => {
                kept = None;
                log(format_args!("check time out with peer: {}", peer.check_addr));
                false
            }
        };
        match peer.record(ok) {
            Transition::Up => log(format_args!("enable check peer: {}", peer.addr)),
            Transition::Down => log(format_args!("disable check peer: {}", peer.addr)),
            Transition::None => {}
        }
        let next = (start + p.interval).max(Instant::now());
        tokio::time::sleep_until(next).await;
    }
}

fn log(msg: std::fmt::Arguments<'_>) {
    crate::log::error_log::log(Level::Error, None, msg);
}

async fn check_once(peer: &PeerHealth, kept: &mut Option<Kept>) -> bool {
    match peer.conf.params.kind {
        CheckType::Tcp => tcp_check(peer).await,
        CheckType::SslHello => ssl_hello_check(peer).await,
        CheckType::Http => http_check(peer, kept).await,
    }
}

/// Connect, then a non-blocking one-byte look: data or nothing yet is up,
/// EOF or an error is down (the module's `ngx_http_upstream_check_peek_handler`).
async fn tcp_check(peer: &PeerHealth) -> bool {
    let Ok(s) = TcpStream::connect(peer.check_addr).await else {
        return false;
    };
    let mut b = [0u8; 1];
    match s.try_read(&mut b) {
        Ok(0) => false,
        Ok(_) => true,
        Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
    }
}

async fn ssl_hello_check(peer: &PeerHealth) -> bool {
    let Ok(mut s) = TcpStream::connect(peer.check_addr).await else {
        return false;
    };
    if s.write_all(&peer.conf.send).await.is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    let mut n = 0;
    while n < 6 {
        match s.read(buf.get_mut(n..).unwrap_or_default()).await {
            Ok(0) | Err(_) => return false,
            Ok(k) => n += k,
        }
    }
    let ok = buf.first() == Some(&0x16) && buf.get(5) == Some(&0x02);
    if !ok {
        log(format_args!(
            "check protocol ssl_hello error with peer: {}",
            peer.check_addr
        ));
    }
    ok
}

/// A reused connection the peer has closed (or written to unasked) is not reused.
fn still_open(s: &TcpStream) -> bool {
    let mut b = [0u8; 1];
    matches!(s.try_read(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

async fn http_check(peer: &PeerHealth, kept: &mut Option<Kept>) -> bool {
    let conf = &peer.conf;
    let (mut s, used) = match kept.take() {
        Some(k) if still_open(&k.stream) => (k.stream, k.used),
        _ => match TcpStream::connect(peer.check_addr).await {
            Ok(s) => (s, 0),
            Err(_) => return false,
        },
    };
    if s.write_all(&conf.send).await.is_err() {
        return false;
    }
    let head_only = conf.send.starts_with(b"HEAD ");
    let resp = match read_response(&mut s, head_only).await {
        Ok(r) => r,
        Err(Bad::Protocol) => {
            log(format_args!(
                "check protocol http error with peer: {}",
                peer.check_addr
            ));
            return false;
        }
        Err(Bad::Io) => return false,
    };
    let class_ok = status_class(resp.code) & conf.expect != 0;
    let body_ok = conf
        .expect_body
        .as_ref()
        .is_none_or(|want| memchr::memmem::find(&resp.body, want).is_some());
    let ok = class_ok && body_ok;
    if ok && resp.reusable && used + 1 < conf.keepalive_requests {
        *kept = Some(Kept {
            stream: s,
            used: used + 1,
        });
    }
    ok
}

enum Bad {
    Io,
    Protocol,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Response {
    pub code: u16,
    pub body: Vec<u8>,
    /// Framed (length or chunked), complete, and not `Connection: close`.
    pub reusable: bool,
}

async fn read_response(s: &mut TcpStream, head_only: bool) -> Result<Response, Bad> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let mut eof = false;
    loop {
        match parse_response(&buf, head_only, eof) {
            Parse::Done(r) => return Ok(r),
            Parse::Bad => return Err(Bad::Protocol),
            Parse::More if eof => return Err(Bad::Io),
            Parse::More => {}
        }
        if buf.len() >= MAX_RESPONSE {
            eof = true;
            continue;
        }
        match s.read(&mut chunk).await {
            Ok(0) => eof = true,
            Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            Err(_) => return Err(Bad::Io),
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Parse {
    More,
    Bad,
    Done(Response),
}

/// Judges the bytes read so far. The status line is `HTTP/<d>.<d> <3 digits>`
/// (IIS's `403.1` passes, as in the module); then the head, then the body by
/// its framing. `eof`: nothing more will come (a body without framing ends here).
pub fn parse_response(buf: &[u8], head_only: bool, eof: bool) -> Parse {
    if buf.len() >= 5 && !buf.starts_with(b"HTTP/") || buf.len() < 5 && !b"HTTP/".starts_with(buf) {
        return Parse::Bad;
    }
    let Some(head_end) = memchr::memmem::find(buf, b"\r\n\r\n").map(|i| i + 4) else {
        // An unterminated head is judged by the status line at EOF or at the cap.
        if eof || buf.len() >= MAX_RESPONSE {
            return match status_code(buf) {
                Some(code) => Parse::Done(Response {
                    code,
                    body: Vec::new(),
                    reusable: false,
                }),
                None => Parse::Bad,
            };
        }
        return Parse::More;
    };
    let head = buf.get(..head_end).unwrap_or_default();
    let Some(code) = status_code(head) else {
        return Parse::Bad;
    };
    let http11 = head.starts_with(b"HTTP/1.1");
    let mut length: Option<usize> = None;
    let mut chunked = false;
    let mut keep = http11;
    for line in head.split(|&b| b == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = memchr::memchr(b':', line) else {
            continue;
        };
        let (name, value) = line.split_at(colon);
        let value = String::from_utf8_lossy(value.get(1..).unwrap_or_default())
            .trim()
            .to_ascii_lowercase();
        if name.eq_ignore_ascii_case(b"content-length") {
            length = value.parse().ok();
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            chunked = value.contains("chunked");
        } else if name.eq_ignore_ascii_case(b"connection") {
            keep = if value.contains("close") {
                false
            } else {
                keep || value.contains("keep-alive")
            };
        }
    }
    let rest = buf.get(head_end..).unwrap_or_default();
    let done = |body: &[u8], framed: bool| {
        Parse::Done(Response {
            code,
            body: body.to_vec(),
            reusable: framed && keep,
        })
    };
    if head_only || matches!(code, 100..=199 | 204 | 304) {
        return done(&[], true);
    }
    if chunked {
        return match dechunk(rest) {
            Some(body) => done(&body, true),
            None if eof || buf.len() >= MAX_RESPONSE => done(rest, false),
            None => Parse::More,
        };
    }
    match length {
        Some(n) if rest.len() >= n => done(rest.get(..n).unwrap_or_default(), rest.len() == n),
        Some(_) if eof || buf.len() >= MAX_RESPONSE => done(rest, false),
        Some(_) => Parse::More,
        None if eof || buf.len() >= MAX_RESPONSE => done(rest, false),
        None => Parse::More,
    }
}

/// `HTTP/d.d ddd`: the code, or None.
fn status_code(line: &[u8]) -> Option<u16> {
    let v = line.get(5..12)?;
    let ok = v.first()?.is_ascii_digit() && v.get(1) == Some(&b'.') && v.get(2)?.is_ascii_digit();
    if !ok || v.get(3) != Some(&b' ') {
        return None;
    }
    let d = line.get(9..12)?;
    if !d.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(d).ok()?.parse().ok()
}

/// A complete chunked body, decoded; None while incomplete or malformed.
fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = memchr::memmem::find(b, b"\r\n")?;
        let line = b.get(..eol)?;
        let hex = line.split(|&c| c == b';').next()?;
        let size = usize::from_str_radix(std::str::from_utf8(hex).ok()?.trim(), 16).ok()?;
        b = b.get(eol + 2..)?;
        if size == 0 {
            // Trailers end with an empty line.
            let mut t = b;
            loop {
                let e = memchr::memmem::find(t, b"\r\n")?;
                if e == 0 {
                    return Some(out);
                }
                t = t.get(e + 2..)?;
            }
        }
        out.extend_from_slice(b.get(..size)?);
        b = b.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(code: u16, body: &[u8], reusable: bool) -> Parse {
        Parse::Done(Response {
            code,
            body: body.to_vec(),
            reusable,
        })
    }

    #[test]
    fn client_hello_is_well_formed() {
        assert_eq!(SSL_CLIENT_HELLO.len(), 116);
        assert_eq!(usize::from(SSL_CLIENT_HELLO[4]) + 5, 116, "record length");
        assert_eq!(usize::from(SSL_CLIENT_HELLO[8]) + 9, 116, "handshake length");
        assert_eq!(&SSL_CLIENT_HELLO[15..39], b"NGX_HTTP_CHECK_SSL_HELLO");
    }

    #[test]
    fn responses() {
        let cases: &[(&[u8], bool, bool, Parse)] = &[
            (b"HTT", false, false, Parse::More),
            (b"HTTX/1.1", false, false, Parse::Bad),
            (b"SSH-2.0-x\r\n", false, false, Parse::Bad),
            (b"HTTP/1.1 200 OK\r\n", false, false, Parse::More),
            (b"HTTP/1.1 200 OK\r\n", false, true, done(200, b"", false)),
            (b"HTTP/1.1 2x0 OK\r\n\r\n", false, false, Parse::Bad),
            (
                b"HTTP/1.0 403.1 Forbidden\r\n\r\n",
                false,
                true,
                done(403, b"", false),
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
                false,
                false,
                done(200, b"ok", true),
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nok",
                false,
                false,
                Parse::More,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nok",
                false,
                true,
                done(200, b"ok", false),
            ),
            (
                b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
                false,
                false,
                done(200, b"ok", false),
            ),
            (
                b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
                false,
                false,
                done(200, b"ok", false),
            ),
            (
                b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok",
                false,
                false,
                done(200, b"ok", true),
            ),
            (b"HTTP/1.1 200 OK\r\n\r\nabc", false, false, Parse::More),
            (
                b"HTTP/1.1 200 OK\r\n\r\nabc",
                false,
                true,
                done(200, b"abc", false),
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n",
                true,
                false,
                done(200, b"", true),
            ),
            (
                b"HTTP/1.1 304 Not Modified\r\n\r\n",
                false,
                false,
                done(304, b"", true),
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=1\r\nde\r\n0\r\n\r\n",
                false,
                false,
                done(200, b"abcde", true),
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
                false,
                false,
                Parse::More,
            ),
        ];
        for (i, (buf, head, eof, want)) in cases.iter().enumerate() {
            assert_eq!(
                &parse_response(buf, *head, *eof),
                want,
                "case {i}: {:?}",
                String::from_utf8_lossy(buf)
            );
        }
    }

    #[test]
    fn first_delay_is_within_the_window() {
        for i in 0..1000 {
            assert!(first_delay(42, i, Duration::from_millis(3000)) < Duration::from_millis(3000));
            assert!(first_delay(42, i, Duration::from_millis(200)) < Duration::from_millis(1000));
        }
        let spread: std::collections::HashSet<_> = (0..100)
            .map(|i| first_delay(7, i, Duration::from_secs(1)))
            .collect();
        assert!(spread.len() > 50, "first checks are spread");
    }
}
