//! `rampart-backend`: a small, fast HTTP/1.1 upstream for rampart's demo config, its integration
//! tests and the wrk benchmarks (`benches/compare.sh`). A library (rampart's integration tests start
//! it in-process with [`Server::start`], one thread and runtime per server, stopped by [`Server::stop`]
//! or on drop, which closes its listener and every connection as a killed process would) and a
//! binary:
//!
//! ```text
//! rampart-backend [--listen ADDR]... [--id NAME] [--threads N]
//! ```
//! Defaults: one listener on 127.0.0.1:9001, 1 runtime thread, and each listener's id is its own bound
//! address (so one process can stand in for several upstream servers). Prints `listening on ADDR` per
//! listener once bound; scripts wait for that line.
//!
//! Every response carries `X-Backend: <id>`. Endpoints (the query string is ignored):
//! - `/size/N` — N bytes of `x` with Content-Length; `/chunked/N` — the same, chunked (N ≤ 100 MiB,
//!   streamed in 64 KiB frames from one static buffer, so no size costs memory)
//! - `/page/N` — the first N bytes (N ≤ 1 MiB) of an HTML page of varied words (`text/html`, with
//!   Content-Length; compresses like real markup, for the proxied-gzip benchmark)
//! - `/echo[/...]` — the request body streamed back frame by frame, plus `X-Request-Method`,
//!   `X-Request-Uri` (the request target), `X-Request-Host` (absent when the request had no Host)
//!   and `X-Echo-Headers` (`name: value; ...`, lowercase names in arrival order per name)
//!   Beware: once nginx has passed the response head to the client it stops sending the rest of
//!   the request body (`ngx_http_upstream_send_request_handler` swaps in the dummy write handler
//!   when `u->header_sent`), so with the default `proxy_request_buffering on` an echo of a body
//!   larger than the loopback socket buffers (~4 MB) stalls until `proxy_read_timeout` (seen with
//!   nginx 1.22.1: 10 MiB stops after ~3.9 MB; also kubernetes/ingress-nginx#4654). 1 MiB echoes
//!   fine. Use `/sink` for large uploads through a proxy.
//! - `/sink[/...]` — reads the whole request body, then answers `N bytes sha1 HEX\n` with
//!   `X-Body-Bytes` and `X-Body-Sha1`
//! - `/headers[/...]` — the request line and the request headers as a `name: value` per line body
//! - `/status/CODE` (200..=599), `/delay/MS`, `/drip/N/MS` (N one-byte chunks MS ms apart, with
//!   Content-Length N, for read-timeout tests), `/id`
//! - `/ws` — a WebSocket handshake (RFC 6455 §4.2.2), then every byte received is echoed verbatim
//! - anything else — 200 `hello from <id>\n`
//!
//! Request bodies of every endpoint but `/echo`, `/sink` and `/ws` are read and discarded before answering:
//! hyper closes a keep-alive connection whose request body was left unread, and the proxy's upstream
//! keep-alive tests must not see closes the backend never meant.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::BodyExt as _;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode, Version};
use hyper_util::rt::TokioIo;
use sha1::{Digest as _, Sha1};
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpSocket};

/// Size of one body frame for `/size` and `/chunked`.
const FRAME: usize = 64 * 1024;
/// Largest body `/size` and `/chunked` serve.
const MAX_SIZE: u64 = 100 * 1024 * 1024;
/// Largest wait `/delay` and `/drip` accept (one hour): bounds a typo, not a test.
const MAX_MS: u64 = 3_600_000;
/// The GUID RFC 6455 §1.3 appends to Sec-WebSocket-Key before hashing. (Checked against the RFC's
/// worked example in the tests: `...C5AB0DC11B57`, a look-alike, yields a wrong accept key.)
const WS_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// Accept backlog: the idle-connection benchmark opens thousands of connections in bursts.
const BACKLOG: u32 = 4096;

static XS: [u8; FRAME] = [b'x'; FRAME];

/// The largest `/page/N`.
const PAGE_MAX: usize = 1024 * 1024;

/// The `/page/` text, made once: paragraphs of random class numbers, words
/// and numbers, like benches/compare.sh's static 100k.html (same shape, not
/// the same bytes), so gzip works as hard as on real markup.
fn page() -> &'static Bytes {
    static PAGE: std::sync::OnceLock<Bytes> = std::sync::OnceLock::new();
    PAGE.get_or_init(|| {
        let mut x = 0x9e37_79b9u32;
        let mut rand = |n: u32| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x % n
        };
        let mut v = b"<html><body>".to_vec();
        while v.len() < PAGE_MAX {
            let p = format!(
                "<p class=\"c{}\">word{} text {}</p>\n",
                rand(50),
                rand(997),
                rand(100_000)
            );
            v.extend_from_slice(p.as_bytes());
        }
        v.truncate(PAGE_MAX);
        Bytes::from(v)
    })
}

/// What a request path asks for.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    Hello,
    Id,
    Size(u64),
    Chunked(u64),
    Page(u64),
    Echo,
    Sink,
    Headers,
    Status(u16),
    Delay(u64),
    Drip(u64, u64),
    Ws,
    Bad(&'static str),
}

/// Parses a decimal path segment; `None` for anything but plain ASCII digits.
fn num(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Maps a path (without query) to its endpoint.
fn route(path: &str) -> Route {
    let sub = |prefix: &str| path.strip_prefix(prefix);
    if path == "/id" {
        Route::Id
    } else if path == "/ws" {
        Route::Ws
    } else if path == "/echo" || path.starts_with("/echo/") {
        Route::Echo
    } else if path == "/sink" || path.starts_with("/sink/") {
        Route::Sink
    } else if path == "/headers" || path.starts_with("/headers/") {
        Route::Headers
    } else if let Some(n) = sub("/size/") {
        match num(n) {
            Some(n) if n <= MAX_SIZE => Route::Size(n),
            _ => Route::Bad("size must be 0..=104857600"),
        }
    } else if let Some(n) = sub("/chunked/") {
        match num(n) {
            Some(n) if n <= MAX_SIZE => Route::Chunked(n),
            _ => Route::Bad("size must be 0..=104857600"),
        }
    } else if let Some(n) = sub("/page/") {
        match num(n) {
            Some(n) if n <= PAGE_MAX as u64 => Route::Page(n),
            _ => Route::Bad("page size must be 0..=1048576"),
        }
    } else if let Some(c) = sub("/status/") {
        match num(c) {
            Some(c @ 200..=599) => Route::Status(c as u16),
            _ => Route::Bad("status must be 200..=599"),
        }
    } else if let Some(ms) = sub("/delay/") {
        match num(ms) {
            Some(ms) if ms <= MAX_MS => Route::Delay(ms),
            _ => Route::Bad("delay must be 0..=3600000 ms"),
        }
    } else if let Some(rest) = sub("/drip/") {
        let mut it = rest.splitn(2, '/');
        match (it.next().and_then(num), it.next().and_then(num)) {
            (Some(n), Some(ms)) if n <= MAX_SIZE && ms <= MAX_MS => Route::Drip(n, ms),
            _ => Route::Bad("drip wants /drip/N/MS"),
        }
    } else {
        Route::Hello
    }
}

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key` (RFC 6455 §4.2.2 item 5.4).
fn ws_accept(key: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(key);
    h.update(WS_GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

/// Whether a comma-separated header (all its field lines) holds `token`, ASCII case-insensitively
/// (RFC 9110 §5.6.1 lists; `Connection: keep-alive, Upgrade` is common).
fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.as_bytes()
            .split(|&b| b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    })
}

/// `name: value; name: value` of all request headers, for `X-Echo-Headers`.
fn joined_headers(headers: &HeaderMap) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in headers {
        if !out.is_empty() {
            out.extend_from_slice(b"; ");
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
    }
    out
}

fn version_str(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

/// The response bodies this server produces, as one type so the service stays monomorphic.
enum RespBody {
    /// One buffer (or none).
    Full(Option<Bytes>),
    /// `remaining` bytes of `x` in 64 KiB frames; `exact` makes hyper send Content-Length, else chunked.
    Repeat { remaining: u64, exact: bool },
    /// One `x` per `interval`, the first at once.
    Drip {
        remaining: u64,
        interval: Duration,
        sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    },
    /// The request body, frame by frame.
    Echo(Incoming),
}

impl Body for RespBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.get_mut() {
            RespBody::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            RespBody::Repeat { remaining, .. } => {
                if *remaining == 0 {
                    return Poll::Ready(None);
                }
                let n = usize::try_from(*remaining).unwrap_or(FRAME).min(FRAME);
                *remaining -= n as u64;
                Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(
                    XS.get(..n).unwrap_or(&[]),
                )))))
            }
            RespBody::Drip {
                remaining,
                interval,
                sleep,
            } => {
                if *remaining == 0 {
                    return Poll::Ready(None);
                }
                if let Some(s) = sleep.as_mut() {
                    if s.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                }
                *remaining -= 1;
                if *remaining > 0 {
                    let deadline = tokio::time::Instant::now() + *interval;
                    match sleep.as_mut() {
                        Some(s) => s.as_mut().reset(deadline),
                        None => *sleep = Some(Box::pin(tokio::time::sleep_until(deadline))),
                    }
                }
                Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"x")))))
            }
            RespBody::Echo(inc) => Pin::new(inc).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            RespBody::Full(b) => b.is_none(),
            // A chunked body of 0 bytes must still be sent as chunked, so it never says "ended".
            RespBody::Repeat { remaining, exact } => *exact && *remaining == 0,
            RespBody::Drip { remaining, .. } => *remaining == 0,
            RespBody::Echo(inc) => inc.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            RespBody::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            RespBody::Repeat {
                remaining,
                exact: true,
            } => SizeHint::with_exact(*remaining),
            RespBody::Repeat { .. } => SizeHint::default(),
            RespBody::Drip { remaining, .. } => SizeHint::with_exact(*remaining),
            RespBody::Echo(inc) => inc.size_hint(),
        }
    }
}

/// One listener's identity: the text and the ready-made `X-Backend` value.
struct Ident {
    text: String,
    header: HeaderValue,
}

fn response(id: &Ident, status: StatusCode, ctype: &'static str, body: RespBody) -> Response<RespBody> {
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert("x-backend", id.header.clone());
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    resp
}

fn text(id: &Ident, status: StatusCode, body: impl Into<Bytes>) -> Response<RespBody> {
    response(id, status, "text/plain", RespBody::Full(Some(body.into())))
}

/// Reads and drops a request body (see the module doc for why).
async fn drain(body: &mut Incoming) {
    while !body.is_end_stream() {
        match body.frame().await {
            Some(Ok(_)) => {}
            _ => break,
        }
    }
}

/// Answers the WebSocket handshake and echoes the upgraded stream (RFC 6455 §4.2).
fn websocket(req: &mut Request<Incoming>, id: &Ident) -> Response<RespBody> {
    let h = req.headers();
    let key = h
        .get(header::SEC_WEBSOCKET_KEY)
        .map(|k| k.as_bytes().trim_ascii().to_vec());
    let key = match key {
        Some(k) if !k.is_empty() => k,
        _ => return text(id, StatusCode::BAD_REQUEST, "websocket: no Sec-WebSocket-Key\n"),
    };
    if req.method() != hyper::Method::GET
        || !has_token(h, header::UPGRADE, "websocket")
        || !has_token(h, header::CONNECTION, "upgrade")
    {
        return text(id, StatusCode::BAD_REQUEST, "websocket: not an upgrade request\n");
    }
    let accept = match HeaderValue::from_str(&ws_accept(&key)) {
        Ok(v) => v,
        Err(_) => return text(id, StatusCode::INTERNAL_SERVER_ERROR, "websocket: bad accept\n"),
    };
    let on_upgrade = hyper::upgrade::on(req);
    tokio::spawn(async move {
        if let Ok(up) = on_upgrade.await {
            let (mut r, mut w) = tokio::io::split(TokioIo::new(up));
            let _ = tokio::io::copy(&mut r, &mut w).await;
            let _ = w.shutdown().await;
        }
    });
    let mut resp = Response::new(RespBody::Full(None));
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let rh = resp.headers_mut();
    rh.insert("x-backend", id.header.clone());
    rh.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    rh.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    rh.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    resp
}

fn echo(req: Request<Incoming>, id: &Ident) -> Response<RespBody> {
    let (parts, body) = req.into_parts();
    let ctype = parts.headers.get(header::CONTENT_TYPE).cloned();
    let mut resp = response(
        id,
        StatusCode::OK,
        "application/octet-stream",
        RespBody::Echo(body),
    );
    let h = resp.headers_mut();
    if let Some(ct) = ctype {
        h.insert(header::CONTENT_TYPE, ct);
    }
    if let Ok(v) = HeaderValue::from_str(parts.method.as_str()) {
        h.insert("x-request-method", v);
    }
    if let Ok(v) = HeaderValue::from_str(&parts.uri.to_string()) {
        h.insert("x-request-uri", v);
    }
    if let Some(host) = parts.headers.get(header::HOST) {
        h.insert("x-request-host", host.clone());
    }
    // Every byte of a request header value is a legal response header value byte, so this only
    // fails if hyper ever let through what HeaderValue forbids.
    if let Ok(v) = HeaderValue::from_bytes(&joined_headers(&parts.headers)) {
        h.insert("x-echo-headers", v);
    }
    resp
}

/// Reads the whole body, hashing as it goes, and reports its length and SHA-1.
async fn sink(body: &mut Incoming, id: &Ident) -> Response<RespBody> {
    let (mut n, mut h) = (0u64, Sha1::new());
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(f) => {
                if let Some(d) = f.data_ref() {
                    n += d.len() as u64;
                    h.update(d);
                }
            }
            Err(e) => return text(id, StatusCode::BAD_REQUEST, format!("body: {e}\n")),
        }
    }
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let mut resp = text(id, StatusCode::OK, format!("{n} bytes sha1 {hex}\n"));
    let rh = resp.headers_mut();
    rh.insert("x-body-bytes", HeaderValue::from(n));
    if let Ok(v) = HeaderValue::from_str(&hex) {
        rh.insert("x-body-sha1", v);
    }
    resp
}

fn headers_dump(req: &Request<Incoming>) -> Vec<u8> {
    let mut out = format!("{} {} {}\n", req.method(), req.uri(), version_str(req.version())).into_bytes();
    for (name, value) in req.headers() {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.push(b'\n');
    }
    out
}

async fn handle(mut req: Request<Incoming>, id: Arc<Ident>) -> Result<Response<RespBody>, Infallible> {
    let id = &*id;
    Ok(match route(req.uri().path()) {
        Route::Echo => echo(req, id),
        Route::Ws => websocket(&mut req, id),
        Route::Sink => sink(req.body_mut(), id).await,
        r => {
            drain(req.body_mut()).await;
            plain(r, &req, id).await
        }
    })
}

/// The endpoints that ignore the request body.
async fn plain(r: Route, req: &Request<Incoming>, id: &Ident) -> Response<RespBody> {
    const TEXT: &str = "text/plain";
    match r {
        // Echo, Sink and Ws never get here (handle() answers them); hello is the catch-all anyway.
        Route::Hello | Route::Echo | Route::Sink | Route::Ws => {
            text(id, StatusCode::OK, format!("hello from {}\n", id.text))
        }
        Route::Id => text(id, StatusCode::OK, id.text.clone()),
        Route::Size(n) => response(
            id,
            StatusCode::OK,
            TEXT,
            RespBody::Repeat {
                remaining: n,
                exact: true,
            },
        ),
        Route::Chunked(n) => response(
            id,
            StatusCode::OK,
            TEXT,
            RespBody::Repeat {
                remaining: n,
                exact: false,
            },
        ),
        Route::Page(n) => {
            let body = page().slice(..usize::try_from(n).unwrap_or(PAGE_MAX).min(PAGE_MAX));
            response(id, StatusCode::OK, "text/html", RespBody::Full(Some(body)))
        }
        Route::Headers => text(id, StatusCode::OK, headers_dump(req)),
        Route::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            // 204 and 304 never carry a body (RFC 9110 §15.3.5, §15.4.5).
            if code == 204 || code == 304 {
                response(id, status, TEXT, RespBody::Full(None))
            } else {
                text(id, status, format!("status {code}\n"))
            }
        }
        Route::Delay(ms) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            text(id, StatusCode::OK, format!("delayed {ms} ms\n"))
        }
        Route::Drip(n, ms) => {
            let body = RespBody::Drip {
                remaining: n,
                interval: Duration::from_millis(ms),
                sleep: None,
            };
            response(id, StatusCode::OK, TEXT, body)
        }
        Route::Bad(why) => text(id, StatusCode::BAD_REQUEST, format!("bad request: {why}\n")),
    }
}

/// Binds with SO_REUSEADDR and a deep backlog (tokio's `bind` uses 1024).
fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let sock = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    sock.set_reuseaddr(true)?;
    sock.bind(addr)?;
    sock.listen(BACKLOG)
}

/// A bound listening socket and the identity its responses carry.
pub struct Listener {
    inner: TcpListener,
    id: Arc<Ident>,
}

impl Listener {
    /// Binds `addr` (SO_REUSEADDR, a deep backlog); the identity is `id`, else the bound address.
    /// Must run inside a tokio runtime.
    pub fn bind(addr: SocketAddr, id: Option<&str>) -> std::io::Result<Listener> {
        let inner = bind(addr)?;
        let local = inner.local_addr()?;
        let text = id.map_or_else(|| local.to_string(), str::to_string);
        let header = HeaderValue::from_str(&text).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "--id is not a header value")
        })?;
        Ok(Listener {
            inner,
            id: Arc::new(Ident { text, header }),
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// Accepts forever, one task per connection.
    pub async fn serve(self) {
        serve(self.inner, self.id).await
    }
}

/// Accepts forever, one task per connection.
async fn serve(listener: TcpListener, id: Arc<Ident>) {
    let mut builder = http1::Builder::new();
    // No header read timeout: an idle keep-alive connection stays open until the proxy closes it,
    // so upstream keep-alive tests see only the proxy's own timeouts.
    builder.keep_alive(true).header_read_timeout(None::<Duration>);
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                eprintln!("backend: accept: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let id = id.clone();
        let builder = builder.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| handle(req, id.clone()));
            let _ = builder
                .serve_connection(TokioIo::new(stream), svc)
                .with_upgrades()
                .await;
        });
    }
}

#[derive(Debug, PartialEq)]
pub struct Args {
    pub listen: Vec<SocketAddr>,
    pub id: Option<String>,
    pub threads: usize,
}

pub const USAGE: &str = "usage: rampart-backend [--listen ADDR]... [--id NAME] [--threads N]";

/// Parses the command line (without the program name).
pub fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Args, String> {
    let mut out = Args {
        listen: Vec::new(),
        id: None,
        threads: 1,
    };
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let mut val = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "--listen" | "-l" => {
                let v = val("--listen")?;
                out.listen
                    .push(v.parse().map_err(|_| format!("--listen {v}: not an IP:PORT"))?);
            }
            "--id" => out.id = Some(val("--id")?),
            "--threads" => {
                let v = val("--threads")?;
                out.threads = match v.parse() {
                    Ok(n) if n >= 1 => n,
                    _ => return Err(format!("--threads {v}: want a number >= 1")),
                };
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if out.listen.is_empty() {
        out.listen.push(SocketAddr::from(([127, 0, 0, 1], 9001)));
    }
    Ok(out)
}

/// Raises the soft open-file limit to the hard one, as nginx's `worker_rlimit_nofile` would.
pub fn raise_nofile() {
    // SAFETY: getrlimit/setrlimit only read/write the struct we pass.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// A backend running in this process on its own thread and single-threaded runtime.
pub struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Binds `addr` (port 0 for any) and serves on it until [`Server::stop`] or drop.
    pub fn start(addr: SocketAddr, id: Option<&str>) -> std::io::Result<Server> {
        let id = id.map(str::to_string);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("backend-{addr}"))
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                rt.block_on(async move {
                    let l = match Listener::bind(addr, id.as_deref()).and_then(|l| Ok((l.local_addr()?, l))) {
                        Ok((bound, l)) => {
                            let _ = ready_tx.send(Ok(bound));
                            l
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    tokio::select! {
                        _ = l.serve() => {}
                        _ = stop_rx => {}
                    }
                });
                // Dropping the runtime drops every connection task: their sockets close here.
                drop(rt);
            })?;
        let addr = ready_rx
            .recv()
            .map_err(|_| std::io::Error::other("backend thread died"))??;
        Ok(Server {
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving: once this returns, the listener and every connection are closed.
    pub fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt as _;
    use tokio::net::TcpStream;

    #[test]
    fn routes() {
        let good: &[(&str, Route)] = &[
            ("/", Route::Hello),
            ("/anything/else", Route::Hello),
            ("/size", Route::Hello),
            ("/id/", Route::Hello),
            ("/echox", Route::Hello),
            ("/id", Route::Id),
            ("/ws", Route::Ws),
            ("/echo", Route::Echo),
            ("/echo/a/b", Route::Echo),
            ("/sink", Route::Sink),
            ("/sink/x", Route::Sink),
            ("/sinkx", Route::Hello),
            ("/headers", Route::Headers),
            ("/headers/x", Route::Headers),
            ("/size/0", Route::Size(0)),
            ("/size/104857600", Route::Size(MAX_SIZE)),
            ("/chunked/7", Route::Chunked(7)),
            ("/page/102400", Route::Page(102_400)),
            ("/page/1048577", Route::Bad("page size must be 0..=1048576")),
            ("/status/200", Route::Status(200)),
            ("/status/599", Route::Status(599)),
            ("/delay/0", Route::Delay(0)),
            ("/drip/3/10", Route::Drip(3, 10)),
        ];
        for (path, want) in good {
            assert_eq!(&route(path), want, "{path}");
        }
        let bad = [
            "/size/104857601",
            "/size/",
            "/size/+5",
            "/size/-1",
            "/size/99999999999999999999999",
            "/chunked/1e3",
            "/status/199",
            "/status/600",
            "/status/abc",
            "/delay/3600001",
            "/drip/3",
            "/drip/3/x",
            "/drip/3/10/",
            "/drip//10",
        ];
        for path in bad {
            assert!(matches!(route(path), Route::Bad(_)), "{path}");
        }
    }

    #[test]
    fn websocket_accept_rfc6455_example() {
        // RFC 6455 §1.3's worked example.
        assert_eq!(
            ws_accept(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn header_tokens() {
        let map = |vals: &[&'static str]| {
            let mut h = HeaderMap::new();
            for v in vals {
                h.append(header::CONNECTION, HeaderValue::from_static(v));
            }
            h
        };
        let cases: &[(&[&'static str], bool)] = &[
            (&["keep-alive, Upgrade"], true),
            (&["keep-alive", " UPGRADE "], true),
            (&["upgraded"], false),
            (&["close"], false),
            (&[], false),
        ];
        for (vals, want) in cases {
            assert_eq!(
                has_token(&map(vals), header::CONNECTION, "upgrade"),
                *want,
                "{vals:?}"
            );
        }
    }

    #[test]
    fn echo_header_join() {
        let mut h = HeaderMap::new();
        assert_eq!(joined_headers(&h), b"");
        h.append(header::HOST, HeaderValue::from_static("a"));
        h.append("x-a", HeaderValue::from_static("1"));
        h.append("x-a", HeaderValue::from_static("2"));
        assert_eq!(joined_headers(&h), b"host: a; x-a: 1; x-a: 2");
    }

    #[test]
    fn args() {
        let p = |v: &str| parse_args(v.split_whitespace().map(str::to_string));
        let d = p("").unwrap();
        assert_eq!(
            (d.listen, d.id, d.threads),
            (vec!["127.0.0.1:9001".parse().unwrap()], None, 1)
        );
        let a = p("--listen 127.0.0.1:1 --listen [::1]:2 --id b1 --threads 3").unwrap();
        assert_eq!((a.listen.len(), a.id.as_deref(), a.threads), (2, Some("b1"), 3));
        for bad in ["--listen", "--listen localhost:1", "--threads 0", "--bogus", "-h"] {
            assert!(p(bad).is_err(), "{bad:?}");
        }
    }

    async fn start() -> SocketAddr {
        let l = Listener::bind("127.0.0.1:0".parse().unwrap(), Some("t1")).unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(l.serve());
        addr
    }

    #[test]
    fn in_process_server_stops_and_closes_its_connections() {
        use std::io::{Read as _, Write as _};
        let mut srv = Server::start("127.0.0.1:0".parse().unwrap(), Some("ip")).unwrap();
        let addr = srv.addr();
        let mut idle = std::net::TcpStream::connect(addr).unwrap();
        idle.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        idle.write_all(b"GET /id HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
        let mut buf = [0u8; 1024];
        let n = idle.read(&mut buf).unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).ends_with("\r\n\r\nip"));
        srv.stop();
        // The kept-alive connection is closed and the port refuses, as after a kill.
        assert_eq!(idle.read(&mut buf).unwrap_or(0), 0);
        assert!(std::net::TcpStream::connect(addr).is_err());
        // The same address can be served again at once.
        let again = Server::start(addr, Some("ip2")).unwrap();
        assert_eq!(again.addr(), addr);
    }

    /// Every wait in these tests is bounded.
    async fn within<T>(f: impl Future<Output = std::io::Result<T>>) -> T {
        tokio::time::timeout(Duration::from_secs(10), f)
            .await
            .unwrap()
            .unwrap()
    }

    /// Sends `raw` and reads until the server closes (so send `Connection: close`).
    async fn exchange(addr: SocketAddr, raw: &[u8]) -> (String, Vec<u8>) {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(raw).await.unwrap();
        let mut buf = Vec::new();
        within(s.read_to_end(&mut buf)).await;
        split(&buf)
    }

    async fn get(addr: SocketAddr, path: &str) -> (String, Vec<u8>) {
        exchange(
            addr,
            format!("GET {path} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
    }

    /// The lowercased head and the rest.
    fn split(buf: &[u8]) -> (String, Vec<u8>) {
        let end = buf
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("no header end")
            + 4;
        (
            String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase(),
            buf[end..].to_vec(),
        )
    }

    /// Reads until `done(buf)`.
    async fn read_until(s: &mut TcpStream, done: impl Fn(&[u8]) -> bool) -> Vec<u8> {
        let (mut buf, mut chunk) = (Vec::new(), [0u8; 4096]);
        while !done(&buf) {
            let n = within(s.read(&mut chunk)).await;
            assert!(n > 0, "closed early after {:?}", String::from_utf8_lossy(&buf));
            buf.extend_from_slice(&chunk[..n]);
        }
        buf
    }

    /// Reads one Content-Length-framed response from a kept-alive connection.
    async fn read_one(s: &mut TcpStream) -> (String, Vec<u8>) {
        let complete = |b: &[u8]| {
            let Some(p) = b.windows(4).position(|w| w == b"\r\n\r\n") else {
                return false;
            };
            let (head, _) = split(b);
            let cl = head.lines().find_map(|l| l.strip_prefix("content-length: "));
            b.len() >= p + 4 + cl.map_or(0, |v| v.trim().parse::<usize>().unwrap())
        };
        split(&read_until(s, complete).await)
    }

    #[tokio::test]
    async fn hello_and_id() {
        let a = start().await;
        let (h, b) = get(a, "/x").await;
        assert!(
            h.starts_with("http/1.1 200") && h.contains("x-backend: t1\r\n"),
            "{h}"
        );
        assert_eq!(b, b"hello from t1\n");
        assert_eq!(get(a, "/id").await.1, b"t1");
    }

    #[tokio::test]
    async fn sized_and_chunked_bodies() {
        let a = start().await;
        let (h, b) = get(a, "/size/200000").await;
        assert!(h.contains("content-length: 200000\r\n"), "{h}");
        assert!(b.len() == 200_000 && b.iter().all(|&c| c == b'x'));
        let (h, b) = get(a, "/chunked/5").await;
        assert!(
            h.contains("transfer-encoding: chunked\r\n") && !h.contains("content-length"),
            "{h}"
        );
        assert_eq!(b, b"5\r\nxxxxx\r\n0\r\n\r\n");
        let (h, b) = get(a, "/chunked/0").await;
        assert!(h.contains("transfer-encoding: chunked\r\n"), "{h}");
        assert_eq!(b, b"0\r\n\r\n");
        let (h, b) = exchange(
            a,
            b"HEAD /size/10 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(h.contains("content-length: 10\r\n") && b.is_empty(), "{h}");
        let (h, _) = get(a, "/size/x").await;
        assert!(h.starts_with("http/1.1 400"), "{h}");
    }

    #[tokio::test]
    async fn echo_streams_body_and_reports_request() {
        let a = start().await;
        let req = b"POST /echo/p?q=1 HTTP/1.1\r\nHost: ex.com\r\nX-A: 1\r\nX-A: 2\r\nContent-Length: 5\r\n\
                    Connection: close\r\n\r\nhello";
        let (h, b) = exchange(a, req).await;
        assert_eq!(b, b"hello");
        for want in [
            "x-request-method: post\r\n",
            "x-request-uri: /echo/p?q=1\r\n",
            "x-request-host: ex.com\r\n",
            "content-length: 5\r\n",
            "x-echo-headers: host: ex.com; x-a: 1; x-a: 2; content-length: 5; connection: close\r\n",
        ] {
            assert!(h.contains(want), "{want} in {h}");
        }
        let req = b"PUT /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
                    3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let (h, b) = exchange(a, req).await;
        assert!(h.contains("transfer-encoding: chunked\r\n"), "{h}");
        assert!(
            b.starts_with(b"3\r\nabc\r\n") && b.ends_with(b"0\r\n\r\n"),
            "{b:?}"
        );
        let (h, _) = exchange(a, b"GET /echo HTTP/1.0\r\n\r\n").await;
        assert!(!h.contains("x-request-host"), "{h}");
    }

    #[tokio::test]
    async fn sink_reads_all_then_reports_length_and_sha1() {
        let a = start().await;
        let (h, b) = exchange(
            a,
            b"PUT /sink HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
        )
        .await;
        // sha1("abc"), FIPS 180-2 appendix A.1.
        assert_eq!(b, b"3 bytes sha1 a9993e364706816aba3e25717850c26c9cd0d89d\n");
        assert!(
            h.contains("x-body-bytes: 3\r\n") && h.contains("x-body-sha1: a9993e36"),
            "{h}"
        );
        let (_, b) = get(a, "/sink").await;
        assert_eq!(b, b"0 bytes sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709\n");
    }

    #[tokio::test]
    async fn headers_dump_and_status_codes() {
        let a = start().await;
        let req = b"GET /headers?a HTTP/1.1\r\nHost: h\r\nX-Y: z\r\nConnection: close\r\n\r\n";
        assert_eq!(
            exchange(a, req).await.1,
            b"GET /headers?a HTTP/1.1\nhost: h\nx-y: z\nconnection: close\n"
        );
        let (h, b) = get(a, "/status/503").await;
        assert!(
            h.starts_with("http/1.1 503") && h.contains("x-backend: t1"),
            "{h}"
        );
        assert_eq!(b, b"status 503\n");
        let (h, b) = get(a, "/status/204").await;
        assert!(h.starts_with("http/1.1 204") && b.is_empty(), "{h}");
    }

    #[tokio::test]
    async fn delay_and_drip_take_their_time() {
        let a = start().await;
        let t = std::time::Instant::now();
        assert_eq!(get(a, "/delay/100").await.1, b"delayed 100 ms\n");
        assert!(t.elapsed() >= Duration::from_millis(100));
        let mut s = TcpStream::connect(a).await.unwrap();
        s.write_all(b"GET /drip/3/150 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let t = std::time::Instant::now();
        // The head and the first byte arrive at once; the last one ~300 ms later.
        let mut buf = read_until(&mut s, |b| {
            b.windows(4).any(|w| w == b"\r\n\r\n") && b.ends_with(b"x")
        })
        .await;
        assert!(
            t.elapsed() < Duration::from_millis(140),
            "first byte late: {:?}",
            t.elapsed()
        );
        within(s.read_to_end(&mut buf)).await;
        assert!(t.elapsed() >= Duration::from_millis(300), "{:?}", t.elapsed());
        let (h, b) = split(&buf);
        assert!(h.contains("content-length: 3\r\n") && b == b"xxx", "{h}");
    }

    #[tokio::test]
    async fn keep_alive_survives_unread_request_bodies() {
        let a = start().await;
        let mut s = TcpStream::connect(a).await.unwrap();
        let body = vec![b'b'; 300_000];
        s.write_all(
            format!(
                "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
        s.write_all(&body).await.unwrap();
        let (h, b) = read_one(&mut s).await;
        assert!(h.starts_with("http/1.1 200") && b == b"hello from t1\n", "{h}");
        s.write_all(b"GET /size/3 HTTP/1.1\r\nHost: h\r\n\r\n")
            .await
            .unwrap();
        assert_eq!(read_one(&mut s).await.1, b"xxx");
    }

    #[tokio::test]
    async fn websocket_handshake_then_raw_echo() {
        let a = start().await;
        let mut s = TcpStream::connect(a).await.unwrap();
        let req = b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\
                    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
        s.write_all(req).await.unwrap();
        let (h, rest) = split(&read_until(&mut s, |b| b.windows(4).any(|w| w == b"\r\n\r\n")).await);
        assert!(
            h.starts_with("http/1.1 101") && h.contains("x-backend: t1\r\n"),
            "{h}"
        );
        assert!(
            h.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo=\r\n"),
            "{h}"
        );
        assert!(rest.is_empty());
        let frame = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"; // RFC 6455 §5.7 masked "Hello"
        s.write_all(frame).await.unwrap();
        let mut got = vec![0u8; frame.len()];
        within(s.read_exact(&mut got)).await;
        assert_eq!(&got, frame);
        let (h, _) = get(a, "/ws").await;
        assert!(h.starts_with("http/1.1 400"), "{h}");
    }
}
