//! `proxy_pass`: choose a peer, connect, send the request (streaming the
//! body), read the response head, and stream the response back, with nginx's
//! status mapping (502 for errors, 504 for timeouts) and error-log lines.

mod buffers;
mod client_abort;
mod compile;
pub mod conf;
pub mod cookie;
mod dynamic;
mod gzip;
pub mod next_upstream;
pub mod redirect;
mod relay;
pub mod response_filter;
mod settings;
pub mod tunnel;
pub mod upstream_request;
pub mod upstream_socket;

pub use settings::ProxySettings;

use crate::exchange::body::BodyError;
use crate::exchange::io::IoFail;
use crate::exchange::respond;
use crate::exchange::{special, Exchange, Reply};
use crate::http::buf_pool::PooledBuf;
use crate::http::response::Framing;
use crate::http1::parse_response_head;
use crate::log::Level;
use crate::upstream::{Outcome, UpConn};
use conf::{ProxyLoc, ProxyTarget};
use next_upstream as nu;
use relay::BodyRelay;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use upstream_request::BodyFraming;

/// Largest chunked request body collected in memory to give an HTTP/1.0
/// upstream a Content-Length (client_max_body_size bounds it first).
const MAX_COLLECTED_BODY: u64 = 64 << 20;

/// Upstream read size for response bodies.
const READ_CHUNK: usize = 64 * 1024;

/// Largest request body kept in memory so that it can be sent again to the
/// next peer (or again on a fresh connection after a stale keep-alive one).
/// nginx buffers every body (`proxy_request_buffering on`); rampart streams
/// bodies above this size, and those cannot be replayed once sent.
pub const REPLAY_MAX: u64 = 64 * 1024;

/// Why an attempt failed, and what nginx answers for it.
enum Failure {
    /// Connection refused/reset, broken response: 502. (message, stage)
    Error(String, &'static str),
    /// 504, with the stage.
    Timeout(&'static str),
    /// Malformed or oversized response head: 502, with the message.
    /// nginx's message (with the bad line's excerpt for an invalid header).
    InvalidHeader(String),
    /// An upstream status listed in `proxy_next_upstream` while tries remain.
    Status(u16),
    /// The client broke off (413/408/400 for its body, or gone): answer with that.
    Client(BodyError),
}

impl Failure {
    /// The `NGX_HTTP_UPSTREAM_FT_*` type.
    fn ft(&self) -> u32 {
        match self {
            Failure::Error(..) | Failure::Client(_) => nu::ERROR,
            Failure::Timeout(_) => nu::TIMEOUT,
            Failure::InvalidHeader(_) => nu::INVALID_HEADER,
            Failure::Status(s) => nu::status_ft(*s).unwrap_or(nu::ERROR),
        }
    }

    fn stage(&self) -> &'static str {
        match self {
            Failure::Error(_, s) | Failure::Timeout(s) => s,
            _ => "reading response header from upstream",
        }
    }
}

/// What one attempt on one connection left behind.
struct AttemptErr {
    failure: Failure,
    /// The request (or part of it) was written (`u->request_sent`).
    sent: bool,
    /// When the attempt started, for `$upstream_response_time`.
    t0: Instant,
}

/// The content handler of a location with `proxy_pass`: `pl` is the
/// location's proxy settings and configured target.
pub async fn forward(ex: &mut Exchange<'_>, pl: ProxyLoc<'_>) -> Reply {
    // ngx_http_proxy_handler reads the body first: `100 Continue` goes out
    // before anything else, with or without a body (ngx_http_test_expect).
    if let Err(e) = ex.body.expect_test(ex.io).await {
        return client_body_failure(ex, e);
    }
    if let Some(d) = &pl.target.dynamic {
        return match dynamic::target(ex, d, pl.conf.connect_timeout).await {
            Ok(t) => Box::pin(forward_to(ex, pl, &t)).await,
            Err(status) => special(status),
        };
    }
    forward_to(ex, pl, pl.target).await
}

/// `target`: the configured one, or the one a `proxy_pass` with variables
/// resolved to for this request.
async fn forward_to(ex: &mut Exchange<'_>, pl: ProxyLoc<'_>, target: &ProxyTarget) -> Reply {
    let conf = pl.conf.clone();
    ex.req.proxy_host = Some((target.proxy_host.clone(), target.proxy_port.clone()));
    let pool = target.pool.clone();

    // Body framing upstream. An HTTP/1.0 upstream cannot take chunked, so a
    // chunked client body is read into memory first (bounded by
    // client_max_body_size) to send it with a Content-Length, as nginx does.
    // A body of known length up to REPLAY_MAX is read first too, so that it
    // can be replayed to the next peer.
    // Held as `Bytes` so that `$request_body` shares it without a copy.
    let mut buffered: Option<bytes::Bytes> = None;
    let mut framing = if ex.body.is_chunked() {
        if conf.http11 {
            BodyFraming::Chunked
        } else {
            match read_all(ex).await {
                Ok(all) => {
                    let n = all.len() as u64;
                    buffered = Some(all.into());
                    BodyFraming::Length(n)
                }
                Err(e) => return client_body_failure(ex, e),
            }
        }
    } else {
        match ex.body.known_length() {
            // nginx sends `Content-Length` whenever the client sent one, 0 included
            // (`$proxy_internal_body_length` is `content_length_n`, absent only at -1).
            Some(0) if ex.req.head.content_length() == Some(0) => BodyFraming::Length(0),
            Some(0) | None if ex.body.is_done() => BodyFraming::None,
            Some(n) if n <= REPLAY_MAX => match read_all(ex).await {
                Ok(all) => {
                    buffered = Some(all.into());
                    BodyFraming::Length(n)
                }
                Err(e) => return client_body_failure(ex, e),
            },
            Some(n) => BodyFraming::Length(n),
            None => BodyFraming::None,
        }
    };
    // `$request_body`: the body when it was read into memory (nginx: when it
    // fits client_body_buffer_size; rampart: up to REPLAY_MAX, or a chunked
    // body for an HTTP/1.0 upstream).
    // proxy_set_body / proxy_pass_request_body off: nginx still reads the
    // whole client body (and `$request_body`) first, then sends another body or none.
    let replaced = conf.set_body.is_some() || !conf.pass_request_body;
    if replaced && buffered.is_none() && framing != BodyFraming::None {
        match read_all(ex).await {
            Ok(all) => buffered = Some(all.into()),
            Err(e) => return client_body_failure(ex, e),
        }
    }
    ex.req.request_body = buffered.clone();
    if let Some((f, b)) = upstream_request::substitute_body(&ex.req, &conf, framing, buffered.as_ref()) {
        (framing, buffered) = (f, Some(b));
    }
    let mut head = Vec::with_capacity(512);
    upstream_request::build_head(&ex.req, target, &conf, ex.req.loc.prefix_len, framing, &mut head);
    // A bodiless request, or one whose body is in memory, can be sent again.
    let replayable = framing == BodyFraming::None || framing == BodyFraming::Length(0) || buffered.is_some();
    let stale_replayable = replayable && buffered.as_ref().is_none_or(|b| b.len() as u64 <= REPLAY_MAX);
    let reuse = conf.keepalive_ok && pool.keepalive.is_some();
    let non_idem = nu::non_idempotent(ex.req.method());

    let key = match &pool.balance {
        crate::upstream::Balance::Hash { key, .. } => key.eval_to_vec(&ex.req),
        _ => Vec::new(),
    };
    let mut sel = pool.selector(ex.req.conn.peer.ip(), key);
    let mut tries = pool.tries();
    if conf.next_upstream_tries > 0 {
        tries = tries.min(conf.next_upstream_tries);
    }
    let start = Instant::now();
    let timed_out = |t: Duration| !t.is_zero() && start.elapsed() >= t;

    loop {
        let Some(idx) = pool.get(&mut sel) else {
            log_no_live(ex, pl, &pool.name);
            ex.req.upstream.no_live_peer(&pool.name);
            return special(502);
        };
        let Some(addr) = pool.peers.get(idx).map(|p| p.addr) else {
            return special(502);
        };
        // Status retries need another try left, time left, and a request
        // that may be sent again (`ngx_http_upstream_test_next`).
        let status_mask = if tries > 1 && !timed_out(conf.next_upstream_timeout) && replayable {
            let m = conf.next_upstream.0
                & (nu::HTTP_500
                    | nu::HTTP_502
                    | nu::HTTP_503
                    | nu::HTTP_504
                    | nu::HTTP_403
                    | nu::HTTP_404
                    | nu::HTTP_429);
            if non_idem && !conf.next_upstream.allows(nu::NON_IDEMPOTENT) {
                0
            } else {
                m
            }
        } else {
            0
        };

        // One peer: a cached connection first, then (once) a fresh one if
        // the cached one turns out to be stale.
        let mut use_cache = reuse;
        let err = loop {
            ex.req.upstream.next_attempt();
            ex.req.upstream.current().addr = Some(addr);
            let t0 = Instant::now();
            let cached = if use_cache { pool.cached(idx) } else { None };
            let was_cached = cached.is_some();
            let mut conn = match cached {
                Some(c) => c,
                None => match connect(ex, pl, addr, t0).await {
                    Ok(s) => UpConn {
                        stream: s,
                        peer: idx,
                        born: Instant::now(),
                        requests: 0,
                    },
                    Err(f) => {
                        break AttemptErr {
                            failure: f,
                            sent: false,
                            t0,
                        }
                    }
                },
            };
            conn.requests += 1;
            // A body goes out in several writes: don't let Nagle hold the second
            // one back. A bodiless request is one write and skips the syscall,
            // unless the connection may be kept: then later requests on it
            // would wait for the ACK of earlier bytes (nginx sets TCP_NODELAY
            // on kept-alive connections too), so it is set once per connection.
            if !was_cached && ((framing != BodyFraming::None && buffered.is_none()) || reuse) {
                let _ = conn.stream.set_nodelay(true);
            }
            ex.req.upstream.current().connect = Some(t0.elapsed());
            let mut got_bytes = false;
            let r = exchange(
                ex,
                pl,
                conn.stream,
                addr,
                &head,
                framing,
                buffered.as_deref(),
                t0,
                status_mask,
                &mut got_bytes,
            )
            .await;
            match r {
                Ok((reply, back)) => {
                    pool.free(&mut sel, Outcome::Ok);
                    if let (true, Some(stream)) = (reuse, back) {
                        pool.recycle(UpConn {
                            stream,
                            peer: conn.peer,
                            born: conn.born,
                            requests: conn.requests,
                        });
                    }
                    return reply;
                }
                Err(failure) => {
                    // The stale keep-alive race: the upstream closed the idle
                    // connection as we reused it. nginx gives such a failure an
                    // extra try (`u->peer.tries++` for `u->peer.cached`); here it
                    // goes to the same peer on a fresh connection and does not
                    // count against the peer.
                    let stale =
                        was_cached && matches!(failure, Failure::Error(..)) && !got_bytes && stale_replayable;
                    if stale {
                        let (msg, stage) = match &failure {
                            Failure::Error(m, s) => (m.clone(), *s),
                            _ => (String::new(), ""),
                        };
                        log_upstream(ex, pl, Level::Error, &msg, stage, addr);
                        record_failed_attempt(ex, t0, 502);
                        use_cache = false;
                        continue;
                    }
                    break AttemptErr {
                        failure,
                        sent: true,
                        t0,
                    };
                }
            }
        };

        let AttemptErr { failure, sent, t0 } = err;
        if let Failure::Client(e) = &failure {
            pool.free(&mut sel, Outcome::Ok);
            return client_body_failure(ex, clone_body_error(e));
        }
        let ft = failure.ft();
        let status = nu::ft_status(ft);
        // 403/404 are passed on without counting against the peer (NGX_PEER_NEXT).
        let outcome = if ft == nu::HTTP_403 || ft == nu::HTTP_404 {
            Outcome::Next
        } else {
            Outcome::Failed
        };
        match &failure {
            Failure::Error(msg, stage) if !msg.is_empty() => {
                log_upstream(ex, pl, Level::Error, msg, stage, addr)
            }
            Failure::Timeout(stage) => log_upstream(
                ex,
                pl,
                Level::Error,
                "upstream timed out (110: Connection timed out)",
                stage,
                addr,
            ),
            Failure::InvalidHeader(msg) => log_upstream(
                ex,
                pl,
                Level::Error,
                msg,
                "reading response header from upstream",
                addr,
            ),
            _ => {}
        }
        if pool.free(&mut sel, outcome) {
            log_upstream(
                ex,
                pl,
                Level::Warn,
                "upstream server temporarily disabled",
                failure.stage(),
                addr,
            );
        }
        {
            let a = ex.req.upstream.current();
            if a.status == 0 || !matches!(failure, Failure::Status(_)) {
                a.status = status;
            }
            if a.response.is_none() {
                a.response = Some(t0.elapsed());
            }
        }
        // `pc->tries--`; a lone server gets no second try (`pc->tries = 0`).
        tries = if pool.single() { 0 } else { tries.saturating_sub(1) };
        let mask = if sent && non_idem {
            ft | nu::NON_IDEMPOTENT
        } else {
            ft
        };
        if tries == 0
            || !conf.next_upstream.allows(mask)
            || (sent && !replayable)
            || timed_out(conf.next_upstream_timeout)
        {
            return special(status);
        }
    }
}

/// Reads the whole client body into memory.
/// Reads the whole request body into memory: bodies kept for replay (at
/// most REPLAY_MAX) and chunked bodies for an HTTP/1.0 upstream (nginx spools
/// those to a temp file), bounded by client_max_body_size and, when that is
/// 0, by MAX_COLLECTED_BODY.
async fn read_all(ex: &mut Exchange<'_>) -> Result<Vec<u8>, BodyError> {
    let mut all = Vec::with_capacity(ex.body.known_length().unwrap_or(0).min(REPLAY_MAX) as usize);
    while ex.body.next(ex.io, &mut all).await? {
        if all.len() as u64 > MAX_COLLECTED_BODY {
            crate::log::error_log::log(
                Level::Error,
                Some(ex.req.conn.number),
                format_args!(
                    "request body over {MAX_COLLECTED_BODY} bytes to collect in memory; \
                     use proxy_http_version 1.1 to stream it, client: {}",
                    ex.req.conn.peer.ip()
                ),
            );
            return Err(BodyError::TooLarge);
        }
    }
    Ok(all)
}

/// Connects to `addr`, logging failures as nginx does; the attempt's
/// `$upstream_status` and `$upstream_response_time` are recorded.
async fn connect(
    ex: &mut Exchange<'_>,
    pl: ProxyLoc<'_>,
    addr: SocketAddr,
    t0: Instant,
) -> Result<TcpStream, Failure> {
    let conf = pl.conf;
    match tokio::time::timeout(
        conf.connect_timeout,
        upstream_socket::connect(&ex.req, addr, conf),
    )
    .await
    {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => {
            log_upstream(
                ex,
                pl,
                Level::Error,
                &format!("connect() failed ({})", crate::log::OsErr(&e)),
                "connecting to upstream",
                addr,
            );
            record_failed_attempt(ex, t0, 502);
            Err(Failure::Error(String::new(), "connecting to upstream"))
        }
        Err(_) => {
            record_failed_attempt(ex, t0, 504);
            Err(Failure::Timeout("connecting to upstream"))
        }
    }
}

fn log_no_live(ex: &Exchange<'_>, pl: ProxyLoc<'_>, group: &str) {
    let host = ex
        .req
        .head
        .host()
        .map(|h| format!(", host: \"{}\"", String::from_utf8_lossy(h)))
        .unwrap_or_default();
    crate::log::error_log::log(
        Level::Error,
        Some(ex.req.conn.number),
        format_args!(
            "no live upstreams while connecting to upstream, client: {}, server: {}, request: \"{}\", upstream: \"http://{}{}\"{}",
            ex.req.conn.peer.ip(),
            String::from_utf8_lossy(&ex.req.server.name),
            String::from_utf8_lossy(ex.req.head.request_line()),
            group,
            String::from_utf8_lossy(&upstream_uri(ex, pl)),
            host
        ),
    );
}

fn upstream_uri(ex: &Exchange<'_>, pl: ProxyLoc<'_>) -> Vec<u8> {
    let mut uri = Vec::new();
    upstream_request::upstream_uri(&ex.req, pl.target, ex.req.loc.prefix_len, &mut uri);
    uri
}

fn clone_body_error(e: &BodyError) -> BodyError {
    match e {
        BodyError::Timeout => BodyError::Timeout,
        BodyError::TooLarge => BodyError::TooLarge,
        BodyError::Bad => BodyError::Bad,
        BodyError::Closed | BodyError::Io(_) => BodyError::Closed,
    }
}

fn record_failed_attempt(ex: &mut Exchange<'_>, t0: Instant, status: u16) {
    let a = ex.req.upstream.current();
    a.status = status;
    a.response = Some(t0.elapsed());
}

/// What the client did wrong while we streamed its body.
fn client_body_failure(ex: &mut Exchange<'_>, e: BodyError) -> Reply {
    ex.close_after = true;
    match e {
        BodyError::TooLarge => Reply::Special {
            status: 413,
            location: None,
        },
        BodyError::Bad => Reply::Special {
            status: 400,
            location: None,
        },
        BodyError::Timeout => {
            ex.req.status = 408;
            Reply::Close
        }
        BodyError::Closed | BodyError::Io(_) => {
            ex.req.status = 499;
            Reply::Close
        }
    }
}

fn log_upstream(
    ex: &Exchange<'_>,
    pl: ProxyLoc<'_>,
    level: Level,
    what: &str,
    stage: &str,
    addr: SocketAddr,
) {
    if !crate::log::enabled(level) {
        return;
    }
    let mut uri = Vec::new();
    upstream_request::upstream_uri(&ex.req, pl.target, ex.req.loc.prefix_len, &mut uri);
    let host = ex
        .req
        .head
        .host()
        .map(|h| String::from_utf8_lossy(h).into_owned());
    crate::log::error_log::log(
        level,
        Some(ex.req.conn.number),
        format_args!(
            "{what} while {stage}, client: {}, server: {}, request: \"{}\", upstream: \"http://{addr}{}\"{}",
            ex.req.conn.peer.ip(),
            String::from_utf8_lossy(&ex.req.server.name),
            String::from_utf8_lossy(ex.req.head.request_line()),
            String::from_utf8_lossy(&uri),
            host.map(|h| format!(", host: \"{h}\"")).unwrap_or_default()
        ),
    );
}

/// nginx's line for a chunked body it cannot decode (ngx_http_proxy_chunked_filter).
fn log_invalid_chunked(ex: &Exchange<'_>, pl: ProxyLoc<'_>, addr: SocketAddr) {
    log_upstream(
        ex,
        pl,
        Level::Error,
        "upstream sent invalid chunked response",
        "reading upstream",
        addr,
    );
}

async fn write_up(up: &mut TcpStream, data: &[u8], t: Duration) -> Result<(), Failure> {
    match tokio::time::timeout(t, up.write_all(data)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Failure::Error(
            format!("writev() failed ({})", crate::log::OsErr(&e)),
            "sending request to upstream",
        )),
        Err(_) => Err(Failure::Timeout("sending request to upstream")),
    }
}

/// A read shorter than asked found the receive queue empty: tell tokio so
/// without a syscall, as nginx drops `rev->ready` after a short recv. The
/// keep-alive cache's liveness check then costs no `recv` unless the upstream
/// really sent something (a FIN, an RST) while the connection sat idle; tokio's
/// readiness ticks keep an event that arrived meanwhile from being cleared.
fn note_drained(up: &TcpStream) {
    let _ = up.try_io(tokio::io::Interest::READABLE, || {
        Err::<(), _>(std::io::ErrorKind::WouldBlock.into())
    });
}

/// One attempt on a connected socket: send, read the head, relay the body.
/// A status in `status_mask` is not relayed but returned as a failure for
/// `proxy_next_upstream`. On success, the socket comes back when nginx's
/// keep-alive module could cache it (HTTP/1.1 response without
/// `Connection: close`, body read to its end, not an upgrade).
#[allow(clippy::too_many_arguments)]
async fn exchange(
    ex: &mut Exchange<'_>,
    pl: ProxyLoc<'_>,
    mut up: TcpStream,
    addr: SocketAddr,
    head: &[u8],
    framing: BodyFraming,
    buffered: Option<&[u8]>,
    t0: Instant,
    status_mask: u32,
    got_bytes: &mut bool,
) -> Result<(Reply, Option<TcpStream>), Failure> {
    let conf = pl.conf.clone();
    let mut sent: u64 = 0;
    // Send the head with the first piece of body in one write.
    let mut out = PooledBuf::take(head.len() + 4096);
    out.extend_from_slice(head);
    if let Some(b) = buffered {
        out.extend_from_slice(b);
        write_up(&mut up, &out, conf.send_timeout).await?;
        sent += out.len() as u64;
    } else if framing == BodyFraming::None {
        write_up(&mut up, &out, conf.send_timeout).await?;
        sent += out.len() as u64;
    } else {
        let mut chunk = Vec::with_capacity(crate::exchange::body::BODY_CHUNK);
        loop {
            chunk.clear();
            let more = ex.body.next(ex.io, &mut chunk).await.map_err(Failure::Client)?;
            if framing == BodyFraming::Chunked {
                if !chunk.is_empty() {
                    crate::http1::write_chunk_header(chunk.len(), &mut out);
                    out.extend_from_slice(&chunk);
                    out.extend_from_slice(b"\r\n");
                }
                if !more || ex.body.is_done() {
                    out.extend_from_slice(crate::http1::LAST_CHUNK);
                }
            } else {
                out.extend_from_slice(&chunk);
            }
            if !out.is_empty() {
                write_up(&mut up, &out, conf.send_timeout).await?;
                sent += out.len() as u64;
                out.clear();
            }
            if !more || ex.body.is_done() {
                break;
            }
        }
    }
    ex.req.upstream.current().sent = Some(sent);

    // Read the response head (skipping interim 1xx other than 101).
    let mut buf = PooledBuf::take(conf.buffer_size.min(16 * 1024));
    let uhead = loop {
        match parse_response_head(&buf, conf.buffer_size) {
            Ok(Some(h)) => {
                if (100..200).contains(&h.status()) && h.status() != 101 {
                    buf.drain(..h.head_len());
                    continue;
                }
                break h;
            }
            Ok(None) => {}
            Err(e) => return Err(Failure::InvalidHeader(e.message(&buf[..]))),
        }
        let want = conf.buffer_size.saturating_sub(buf.len()).clamp(1, 16 * 1024);
        buf.reserve(want);
        let mut limited = bytes::BufMut::limit(&mut *buf, want);
        let watch_client = !conf.ignore_client_abort;
        let r = tokio::select! {
            r = tokio::time::timeout(conf.read_timeout, up.read_buf(&mut limited)) => r,
            () = client_abort::closed(ex.io), if watch_client => {
                log_upstream(
                    ex, pl,
                    Level::Info,
                    "client prematurely closed connection, so upstream connection is closed too",
                    "reading response header from upstream",
                    addr,
                );
                return Err(Failure::Client(BodyError::Closed));
            }
        };
        match r {
            Err(_) => {
                return Err(Failure::Timeout("reading response header from upstream"));
            }
            Ok(Err(e)) => {
                return Err(Failure::Error(
                    format!("recv() failed ({})", crate::log::OsErr(&e)),
                    "reading response header from upstream",
                ))
            }
            Ok(Ok(0)) => {
                return Err(Failure::Error(
                    "upstream prematurely closed connection".into(),
                    "reading response header from upstream",
                ));
            }
            Ok(Ok(n)) => {
                *got_bytes = true;
                if n < want {
                    note_drained(&up);
                }
            }
        }
    };
    let status = uhead.status();
    ex.req.upstream.current().status = status;
    ex.req.upstream.current().header = Some(t0.elapsed());
    if nu::status_ft(status).is_some_and(|ft| status_mask & ft != 0) {
        ex.req.upstream.current().response = Some(t0.elapsed());
        return Err(Failure::Status(status));
    }
    let head_len = uhead.head_len();
    // nginx's fallback for a reply without a valid status line
    // (`ngx_http_proxy_process_status_line`): log it, set the request's version to
    // HTTP/0.9 and relay every byte until the upstream closes. The header filter
    // then writes no head at all (`ngx_http_header_filter` returns early below
    // HTTP/1.0), so the client gets the upstream's bytes verbatim.
    let http09 = uhead.is_http09();
    if http09 {
        log_upstream(
            ex,
            pl,
            Level::Error,
            "upstream sent no valid HTTP/1.0 header",
            "reading response header from upstream",
            addr,
        );
    }

    // proxy_intercept_errors: an error status with an error_page becomes ours.
    if conf.intercept_errors && status >= 300 && ex.req.loc.conf.error_page(status).is_some() {
        ex.req.upstream.current().response = Some(t0.elapsed());
        return Ok((
            Reply::Special {
                status,
                location: None,
            },
            None,
        ));
    }

    // WebSocket and other upgrades: 101 to a client that asked for it.
    if status == 101 && ex.req.head.upgrade().is_some() {
        let mut h = response_filter::client_head(ex, pl, &uhead);
        h.status = 101;
        // The headers filter runs on a 101 too (only `always` add_headers apply).
        respond::header_filters(&ex.req, &mut h, None);
        let mut out = Vec::new();
        if respond::begin(ex, &h, Framing::Length(0), &mut out).is_none() {
            return Ok((Reply::Sent { reusable: false }, None));
        }
        let rest = buf.get(head_len..).unwrap_or(&[]).to_vec();
        if ex.io.write_all(&out, ex.req.loc.conf.send_timeout).await.is_err() {
            return Ok((Reply::Sent { reusable: false }, None));
        }
        tunnel::run(ex.io, up, rest, conf.read_timeout).await;
        ex.req.upstream.current().response = Some(t0.elapsed());
        return Ok((Reply::Sent { reusable: false }, None));
    }

    let mut h = response_filter::client_head(ex, pl, &uhead);
    if let Some(s) = ex.override_status {
        h.status = s;
    }
    respond::header_filters(&ex.req, &mut h, None);
    ex.req.status = h.status;

    // Framing towards the client.
    let no_body = ex.req.is_head() || matches!(status, 100..=199 | 204 | 304);
    let client_http11 = ex.req.head.version() == crate::http1::Version::Http11;
    let up_len = if uhead.chunked() {
        None
    } else {
        uhead.content_length()
    };
    let gz = if http09 {
        None
    } else {
        crate::filters::gzip::decide(&ex.req.loc.conf.gzip, &ex.req.head, &mut h, up_len)
    };
    // gzip removes the length: chunked to HTTP/1.1, close-delimited to 1.0.
    let len = if gz.is_some() { None } else { up_len };
    let cframing = match (no_body, len) {
        _ if http09 => Framing::Close,
        (true, Some(n)) => Framing::Length(n),
        (true, None) => Framing::NoBody,
        (false, Some(n)) => Framing::Length(n),
        (false, None) if client_http11 => Framing::Chunked,
        (false, None) => Framing::Close,
    };
    if cframing == Framing::Close {
        ex.close_after = true;
    }
    drop(out);
    let mut out = PooledBuf::take(512 + buf.len());
    // An HTTP/0.9 reply is relayed without a head of ours (see above).
    if http09 {
        let conn_header = ex.conn_header();
        respond::record_sent_headers(&mut ex.req, &h, cframing, conn_header);
    } else if respond::begin(ex, &h, cframing, &mut out).is_none() {
        ex.req.upstream.current().response = Some(t0.elapsed());
        return Ok((Reply::Sent { reusable: false }, None));
    }
    let send_t = ex.req.loc.conf.send_timeout;

    let mut received = buf.len() as u64;
    let body_start = buf.get(head_len..).unwrap_or(&[]).to_vec();
    drop(buf);
    let buffering = buffering(conf.buffering, uhead.header(b"x-accel-buffering"));
    let mut relay = BodyRelay::new(
        &uhead,
        no_body,
        ex.io.chunks(cframing),
        gzip::encoder(gz, no_body, uhead.content_length(), buffering),
    );
    if !buffering {
        relay.flush_each_read();
    }
    let mut body_bytes: u64 = 0;
    // The head and the body bytes that came with it go out in one write. A
    // broken chunk among those bytes: nginx logs it and closes without
    // sending anything (checked against nginx 1.22.1), so nothing goes out.
    let Ok(done) = relay.feed(&body_start, &mut out) else {
        log_invalid_chunked(ex, pl, addr);
        ex.req.status = 502;
        ex.req.upstream.current().response = Some(t0.elapsed());
        return Ok((Reply::Close, None));
    };
    body_bytes += relay.take_counted();
    if done {
        ex.io.end_body(cframing, &mut out);
    }
    if ex.io.write_all(&out, send_t).await.is_err() {
        ex.req.upstream.current().response = Some(t0.elapsed());
        return Ok((Reply::Sent { reusable: false }, None));
    }
    let mut complete = done;
    let mut hit_eof = false;
    let mut stop = false;
    // Sized to what is left when the length is known, so small bodies take small buffers.
    let mut rbuf: Vec<u8> = Vec::new();
    while !complete && !stop {
        rbuf.clear();
        if rbuf.capacity() == 0 {
            rbuf.reserve_exact(
                relay
                    .remaining()
                    .map_or(READ_CHUNK, |r| r.clamp(1, READ_CHUNK as u64) as usize),
            );
        }
        let asked = rbuf.capacity();
        let n = match tokio::time::timeout(conf.read_timeout, up.read_buf(&mut rbuf)).await {
            Err(_) => {
                log_upstream(
                    ex,
                    pl,
                    Level::Error,
                    "upstream timed out (110: Connection timed out)",
                    "reading upstream",
                    addr,
                );
                break;
            }
            Ok(Err(e)) => {
                log_upstream(
                    ex,
                    pl,
                    Level::Error,
                    &format!("recv() failed ({})", crate::log::OsErr(&e)),
                    "reading upstream",
                    addr,
                );
                break;
            }
            Ok(Ok(n)) => n,
        };
        if n > 0 && n < asked {
            note_drained(&up);
        }
        received += n as u64;
        if n == 0 {
            hit_eof = true;
            complete = relay.eof();
            if !complete {
                log_upstream(
                    ex,
                    pl,
                    Level::Error,
                    "upstream prematurely closed connection",
                    "reading upstream",
                    addr,
                );
            }
            out.clear();
            relay.finish(&mut out);
            if complete {
                ex.io.end_body(cframing, &mut out);
                if !out.is_empty() {
                    let _ = ex.io.write_all(&out, send_t).await;
                }
            }
            break;
        }
        out.clear();
        let fed = relay.feed(&rbuf[..n], &mut out);
        body_bytes += relay.take_counted();
        match fed {
            Ok(d) => {
                complete = d;
                if d {
                    ex.io.end_body(cframing, &mut out);
                }
            }
            Err(_) => {
                log_invalid_chunked(ex, pl, addr);
                stop = true;
                continue;
            }
        }
        if let Err(f) = ex.io.write_all(&out, send_t).await {
            if matches!(f, IoFail::Timeout) {
                ex.req.status = ex.req.status.max(1);
            }
            complete = false;
            break;
        }
    }
    if relay.excess() {
        log_upstream(
            ex,
            pl,
            Level::Warn,
            "upstream sent more data than specified in \"Content-Length\" header",
            "reading upstream",
            addr,
        );
    }
    ex.req.upstream.current().response = Some(t0.elapsed());
    ex.req.upstream.current().length = Some(body_bytes);
    ex.req.gzip = relay.gzip_totals();
    ex.req.upstream.current().received = Some(received);
    // nginx's keep-alive test: `u->keepalive` is set only for an HTTP/1.1
    // response without `Connection: close` whose body ended by its framing.
    let keep = complete
        && !hit_eof
        && !relay.excess()
        && !http09
        && uhead.version() == crate::http1::Version::Http11
        && !uhead.conn_close()
        && (no_body || uhead.chunked() || uhead.content_length().is_some());
    Ok((
        Reply::Sent {
            reusable: complete && cframing != Framing::Close,
        },
        keep.then_some(up),
    ))
}

/// Whether the response is buffered: `proxy_buffering`, unless the upstream
/// says otherwise with `X-Accel-Buffering: yes|no` (case-insensitive; any
/// other value changes nothing), as ngx_http_upstream_process_buffering.
fn buffering(conf: bool, accel: Option<&[u8]>) -> bool {
    match accel {
        Some(v) if v.eq_ignore_ascii_case(b"no") => false,
        Some(v) if v.eq_ignore_ascii_case(b"yes") => true,
        _ => conf,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn x_accel_buffering_overrides_proxy_buffering() {
        // (proxy_buffering, X-Accel-Buffering, buffered?)
        let cases: [(bool, Option<&[u8]>, bool); 8] = [
            (true, None, true),
            (false, None, false),
            (true, Some(b"no"), false),
            (true, Some(b"NO"), false),
            (false, Some(b"yes"), true),
            (false, Some(b"Yes"), true),
            (false, Some(b"maybe"), false),
            (true, Some(b"no "), true),
        ];
        for (conf, accel, want) in cases {
            assert_eq!(super::buffering(conf, accel), want, "{conf} {accel:?}");
        }
    }
}
