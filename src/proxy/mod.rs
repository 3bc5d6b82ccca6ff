//! `proxy_pass`: choose a peer, connect, send the request (streaming the
//! body), read the response head, and stream the response back, with nginx's
//! status mapping (502 for errors, 504 for timeouts) and error-log lines.

pub mod response_filter;
pub mod tunnel;
pub mod upstream_request;

use crate::http1::{parse_response_head, ChunkedDecoder, ResponseHead as UpHead};
use crate::log::Level;
use crate::runtime::ProxyTarget;
use crate::server::body::BodyError;
use crate::server::io::IoFail;
use crate::server::pipeline::{Exchange, Reply};
use crate::server::response::{ConnHeader, Framing};
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

/// Why an attempt failed, and what nginx answers for it.
enum Failure {
    /// Connection refused/reset, broken response: 502. (message, stage)
    Error(String, &'static str),
    /// 504, with the stage.
    Timeout(&'static str),
    /// Malformed or oversized response head: 502, with the message.
    InvalidHeader(&'static str),
    /// The client broke off (413/408/400 for its body, or gone): answer with that.
    Client(BodyError),
}

pub async fn forward(ex: &mut Exchange<'_>, target: &ProxyTarget) -> Reply {
    let conf = ex.req.loc.conf.proxy.clone();
    ex.req.proxy_host = Some((target.proxy_host.clone(), target.proxy_port.clone()));
    let pool = target.pool.clone();

    // Body framing upstream. An HTTP/1.0 upstream cannot take chunked, so a
    // chunked client body is read into memory first (bounded by
    // client_max_body_size) to send it with a Content-Length, as nginx does.
    let mut buffered: Option<Vec<u8>> = None;
    let framing = if ex.body.is_chunked() {
        if conf.http11 {
            BodyFraming::Chunked
        } else {
            // Collected in memory (nginx spools to a temp file): bounded by
            // client_max_body_size, and by MAX_COLLECTED_BODY when that is 0.
            let mut all = Vec::new();
            loop {
                match ex.body.next(ex.io, &mut all).await {
                    Ok(true) if all.len() as u64 > MAX_COLLECTED_BODY => {
                        crate::log::error_log::log(
                            Level::Error,
                            Some(ex.req.conn.number),
                            format_args!(
                                "chunked request body over {MAX_COLLECTED_BODY} bytes for an HTTP/1.0 upstream; \
                                 use proxy_http_version 1.1 to stream it, client: {}",
                                ex.req.conn.peer.ip()
                            ),
                        );
                        return client_body_failure(ex, BodyError::TooLarge);
                    }
                    Ok(true) => continue,
                    Ok(false) => break,
                    Err(e) => return client_body_failure(ex, e),
                }
            }
            let n = all.len() as u64;
            buffered = Some(all);
            BodyFraming::Length(n)
        }
    } else {
        match ex.body.known_length() {
            // nginx sends `Content-Length` whenever the client sent one, 0 included
            // (`$proxy_internal_body_length` is `content_length_n`, absent only at -1).
            Some(0) if ex.req.head.content_length() == Some(0) => BodyFraming::Length(0),
            Some(0) | None if ex.body.is_done() => BodyFraming::None,
            Some(n) => BodyFraming::Length(n),
            None => BodyFraming::None,
        }
    };
    let mut head = Vec::with_capacity(512);
    upstream_request::build_head(&ex.req, target, &conf, ex.req.loc.prefix_len, framing, &mut head);

    let mut tried = crate::upstream::Tried::default();
    let tries = pool.tries();
    let mut last_failure: Option<Failure> = None;
    for _ in 0..tries {
        let Some(idx) = pool.pick(&tried) else { break };
        tried.insert(idx);
        let Some(peer) = pool.peers.get(idx) else { break };
        let addr = peer.addr;
        ex.req.upstream.next_attempt();
        ex.req.upstream.current().addr = Some(addr);
        let t0 = Instant::now();
        let stream = match tokio::time::timeout(conf.connect_timeout, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                log_upstream(
                    ex,
                    Level::Error,
                    &format!("connect() failed ({})", crate::log::OsErr(&e)),
                    "connecting to upstream",
                    addr,
                );
                record_failed_attempt(ex, t0, 502);
                last_failure = Some(Failure::Error(String::new(), "connecting to upstream"));
                continue;
            }
            Err(_) => {
                log_upstream(
                    ex,
                    Level::Error,
                    "upstream timed out (110: Connection timed out)",
                    "connecting to upstream",
                    addr,
                );
                record_failed_attempt(ex, t0, 504);
                last_failure = Some(Failure::Timeout("connecting to upstream"));
                continue;
            }
        };
        // A body goes out in several writes: don't let Nagle hold the second
        // one back. A bodiless request is one write and skips the syscall.
        if framing != BodyFraming::None && buffered.is_none() {
            let _ = stream.set_nodelay(true);
        }
        ex.req.upstream.current().connect = Some(t0.elapsed());
        // The request is sent from here on: no retry (issue-4 rules arrive with the balancers).
        return match exchange(ex, stream, addr, &head, framing, buffered.as_deref(), t0).await {
            Ok(reply) => reply,
            Err(f) => {
                let (status, level, what) = match &f {
                    Failure::Error(msg, stage) => (502, Level::Error, (msg.clone(), *stage)),
                    Failure::Timeout(stage) => (
                        504,
                        Level::Error,
                        ("upstream timed out (110: Connection timed out)".into(), *stage),
                    ),
                    Failure::InvalidHeader(msg) => (
                        502,
                        Level::Error,
                        (msg.to_string(), "reading response header from upstream"),
                    ),
                    Failure::Client(e) => return client_body_failure(ex, clone_body_error(e)),
                };
                log_upstream(ex, level, &what.0, what.1, addr);
                if ex.req.upstream.current().status == 0 {
                    ex.req.upstream.current().status = status;
                }
                if ex.req.upstream.current().response.is_none() {
                    ex.req.upstream.current().response = Some(t0.elapsed());
                }
                Reply::Special {
                    status,
                    location: None,
                }
            }
        };
    }
    match last_failure {
        Some(Failure::Timeout(_)) => Reply::Special {
            status: 504,
            location: None,
        },
        Some(_) => Reply::Special {
            status: 502,
            location: None,
        },
        None => {
            crate::log::error_log::log(
                Level::Error,
                Some(ex.req.conn.number),
                format_args!(
                    "no live upstreams while connecting to upstream, client: {}, server: {}, request: \"{}\", upstream: \"http://{}\"",
                    ex.req.conn.peer.ip(),
                    String::from_utf8_lossy(&ex.req.server.name),
                    String::from_utf8_lossy(ex.req.head.request_line()),
                    pool.name
                ),
            );
            ex.req.upstream.no_live_peer(&pool.name);
            Reply::Special {
                status: 502,
                location: None,
            }
        }
    }
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

fn log_upstream(ex: &Exchange<'_>, level: Level, what: &str, stage: &str, addr: SocketAddr) {
    if !crate::log::enabled(level) {
        return;
    }
    let mut uri = Vec::new();
    upstream_request::upstream_uri(
        &ex.req,
        match &ex.req.loc.handler {
            crate::runtime::Handler::Proxy(t) => t,
            _ => return,
        },
        ex.req.loc.prefix_len,
        &mut uri,
    );
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

/// One attempt on a connected socket: send, read the head, relay the body.
async fn exchange(
    ex: &mut Exchange<'_>,
    mut up: TcpStream,
    addr: SocketAddr,
    head: &[u8],
    framing: BodyFraming,
    buffered: Option<&[u8]>,
    t0: Instant,
) -> Result<Reply, Failure> {
    let conf = ex.req.loc.conf.proxy.clone();
    let mut sent: u64 = 0;
    // Send the head with the first piece of body in one write.
    let mut out = Vec::with_capacity(head.len() + 4096);
    out.extend_from_slice(head);
    if let Some(b) = buffered {
        out.extend_from_slice(b);
        write_up(&mut up, &out, conf.send_timeout).await?;
        sent += out.len() as u64;
    } else if framing == BodyFraming::None {
        write_up(&mut up, &out, conf.send_timeout).await?;
        sent += out.len() as u64;
    } else {
        let mut chunk = Vec::with_capacity(crate::server::body::BODY_CHUNK);
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
    let mut buf: Vec<u8> = Vec::with_capacity(conf.buffer_size.min(16 * 1024));
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
            Err(e) => {
                return Err(Failure::InvalidHeader(if e.to_string().contains("too big") {
                    "upstream sent too big header"
                } else {
                    "upstream sent invalid header"
                }))
            }
        }
        let want = conf.buffer_size.saturating_sub(buf.len()).clamp(1, 16 * 1024);
        buf.reserve(want);
        let mut limited = bytes::BufMut::limit(&mut buf, want);
        let r = tokio::time::timeout(conf.read_timeout, up.read_buf(&mut limited)).await;
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
            Ok(Ok(_)) => {}
        }
    };
    let status = uhead.status();
    ex.req.upstream.current().status = status;
    ex.req.upstream.current().header = Some(t0.elapsed());
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
            Level::Error,
            "upstream sent no valid HTTP/1.0 header",
            "reading response header from upstream",
            addr,
        );
    }

    // proxy_intercept_errors: an error status with an error_page becomes ours.
    if conf.intercept_errors && status >= 300 && ex.req.loc.conf.error_page(status).is_some() {
        ex.req.upstream.current().response = Some(t0.elapsed());
        return Ok(Reply::Special {
            status,
            location: None,
        });
    }

    // WebSocket and other upgrades: 101 to a client that asked for it.
    if status == 101 && ex.req.head.upgrade().is_some() {
        let mut h = response_filter::client_head(ex, &uhead);
        h.status = 101;
        let mut out = Vec::new();
        h.write(
            Framing::Length(0),
            ConnHeader::Upgrade,
            ex.req.loc.conf.server_tokens,
            &mut out,
        );
        ex.req.header_bytes = out.len() as u64;
        ex.req.status = 101;
        let rest = buf.get(head_len..).unwrap_or(&[]).to_vec();
        if ex.io.write_all(&out, ex.req.loc.conf.send_timeout).await.is_err() {
            return Ok(Reply::Sent { reusable: false });
        }
        tunnel::run(ex.io, up, rest, conf.read_timeout).await;
        ex.req.upstream.current().response = Some(t0.elapsed());
        return Ok(Reply::Sent { reusable: false });
    }

    let mut h = response_filter::client_head(ex, &uhead);
    if let Some(s) = ex.override_status {
        h.status = s;
    }
    crate::server::pipeline::add_headers(&ex.req, h.status, &mut h);
    ex.req.status = h.status;

    // Framing towards the client.
    let no_body = ex.req.is_head() || matches!(status, 100..=199 | 204 | 304);
    let client_http11 = ex.req.head.version() == crate::http1::Version::Http11;
    let up_len = if uhead.chunked() {
        None
    } else {
        uhead.content_length()
    };
    let cframing = match (no_body, up_len) {
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
    let conn_header = ex.conn_header();
    let mut out = Vec::with_capacity(512 + buf.len());
    if !http09 {
        h.write(cframing, conn_header, ex.req.loc.conf.server_tokens, &mut out);
    }
    ex.req.header_bytes = out.len() as u64;
    crate::server::pipeline::record_sent_headers(&mut ex.req, &h);
    let send_t = ex.req.loc.conf.send_timeout;

    let mut received = buf.len() as u64;
    let body_start = buf.get(head_len..).unwrap_or(&[]).to_vec();
    drop(buf);
    let mut relay = BodyRelay::new(&uhead, no_body, cframing);
    let mut body_bytes: u64 = 0;
    // The head and the body bytes that came with it go out in one write.
    let done = relay
        .feed(&body_start, &mut out)
        .map_err(|_| Failure::InvalidHeader("reading upstream"))?;
    body_bytes += relay.take_counted();
    if ex.io.write_all(&out, send_t).await.is_err() {
        ex.req.upstream.current().response = Some(t0.elapsed());
        return Ok(Reply::Sent { reusable: false });
    }
    let mut complete = done;
    // Sized to what is left when the length is known, so small bodies take small buffers.
    let mut rbuf: Vec<u8> = Vec::new();
    while !complete {
        rbuf.clear();
        if rbuf.capacity() == 0 {
            rbuf.reserve_exact(
                relay
                    .remaining()
                    .map_or(READ_CHUNK, |r| r.clamp(1, READ_CHUNK as u64) as usize),
            );
        }
        let n = match tokio::time::timeout(conf.read_timeout, up.read_buf(&mut rbuf)).await {
            Err(_) => {
                log_upstream(
                    ex,
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
                    Level::Error,
                    &format!("recv() failed ({})", crate::log::OsErr(&e)),
                    "reading upstream",
                    addr,
                );
                break;
            }
            Ok(Ok(n)) => n,
        };
        received += n as u64;
        if n == 0 {
            complete = relay.eof();
            if !complete {
                log_upstream(
                    ex,
                    Level::Error,
                    "upstream prematurely closed connection",
                    "reading upstream",
                    addr,
                );
            }
            out.clear();
            relay.finish(&mut out);
            if !out.is_empty() && complete {
                let _ = ex.io.write_all(&out, send_t).await;
            }
            break;
        }
        out.clear();
        let fed = relay.feed(&rbuf[..n], &mut out);
        body_bytes += relay.take_counted();
        match fed {
            Ok(d) => complete = d,
            Err(_) => {
                log_upstream(
                    ex,
                    Level::Error,
                    "upstream sent invalid chunked response",
                    "reading upstream",
                    addr,
                );
                break;
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
    ex.req.upstream.current().response = Some(t0.elapsed());
    ex.req.upstream.current().length = Some(body_bytes);
    ex.req.upstream.current().received = Some(received);
    Ok(Reply::Sent {
        reusable: complete && cframing != Framing::Close,
    })
}

/// Turns upstream body bytes into client body bytes: passes length-delimited
/// bodies through, decodes chunked, and re-chunks for HTTP/1.1 clients when
/// the length is unknown.
struct BodyRelay {
    mode: RelayMode,
    client: Framing,
    counted: u64,
}

enum RelayMode {
    None,
    Length(u64),
    Chunked(ChunkedDecoder),
    UntilClose,
}

impl BodyRelay {
    fn new(h: &UpHead, no_body: bool, client: Framing) -> BodyRelay {
        let mode = if no_body {
            RelayMode::None
        } else if h.chunked() {
            RelayMode::Chunked(ChunkedDecoder::new())
        } else if let Some(n) = h.content_length() {
            RelayMode::Length(n)
        } else {
            RelayMode::UntilClose
        };
        BodyRelay {
            mode,
            client,
            counted: 0,
        }
    }

    /// Body bytes still expected, when the upstream gave a length.
    fn remaining(&self) -> Option<u64> {
        match self.mode {
            RelayMode::Length(n) => Some(n),
            _ => None,
        }
    }

    fn take_counted(&mut self) -> u64 {
        std::mem::take(&mut self.counted)
    }

    fn emit(&mut self, data: &[u8], out: &mut Vec<u8>) {
        if data.is_empty() {
            return;
        }
        self.counted += data.len() as u64;
        if self.client == Framing::Chunked {
            crate::http1::write_chunk_header(data.len(), out);
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
        } else {
            out.extend_from_slice(data);
        }
    }

    /// Returns true when the body is complete.
    fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<bool, ()> {
        loop {
            match &mut self.mode {
                RelayMode::None => return Ok(true),
                RelayMode::Length(left) => {
                    let n = (*left).min(input.len() as u64) as usize;
                    *left -= n as u64;
                    let done = *left == 0;
                    self.emit(&input[..n], out);
                    return Ok(done);
                }
                RelayMode::UntilClose => {
                    self.emit(input, out);
                    return Ok(false);
                }
                RelayMode::Chunked(dec) => {
                    if input.is_empty() {
                        return Ok(dec.is_done());
                    }
                    let step = dec.decode(input).map_err(|_| ())?;
                    let data = step.data.clone().and_then(|r| input.get(r)).unwrap_or(&[]);
                    let data = data.to_vec();
                    self.emit(&data, out);
                    input = input.get(step.consumed..).unwrap_or(&[]);
                    if step.done {
                        if self.client == Framing::Chunked {
                            out.extend_from_slice(crate::http1::LAST_CHUNK);
                        }
                        return Ok(true);
                    }
                    if step.consumed == 0 && step.data.is_none() {
                        return Ok(false);
                    }
                }
            }
        }
    }

    /// The upstream closed: is that a proper end of the body?
    fn eof(&self) -> bool {
        matches!(self.mode, RelayMode::UntilClose | RelayMode::None)
    }

    /// Bytes to send after a proper end by close (the last chunk).
    fn finish(&self, out: &mut Vec<u8>) {
        if matches!(self.mode, RelayMode::UntilClose) && self.client == Framing::Chunked {
            out.extend_from_slice(crate::http1::LAST_CHUNK);
        }
    }
}
