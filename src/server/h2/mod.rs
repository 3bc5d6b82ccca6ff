//! HTTP/2 to clients: over TLS when ALPN picked `h2`, and in cleartext with
//! prior knowledge on a `listen ... http2` address.
//!
//! The `h2` crate does the framing, HPACK, flow control and the protocol
//! checks (malformed frames and headers, stream states, concurrency). Each
//! stream is then served by the pipeline HTTP/1.1 uses: its request head is
//! checked by the HTTP/1 head reader ([`head`]), and the handlers read the
//! body and write the response through the same `ClientIo` calls, which on
//! an HTTP/2 stream ([`stream`]) become DATA reads, one HEADERS frame and
//! DATA frames. Routing, limits, error pages, gzip, proxying, static files
//! and the access log therefore behave the same on both protocols; the
//! request only knows it is HTTP/2 for `$server_protocol`, `$request` and
//! `$http2` (ConnInfo::http2).
//!
//! As in nginx since 1.19.7, the connection's idle time is bounded by
//! keepalive_timeout, the preface and first frames by client_header_timeout,
//! the number of streams per connection by keepalive_requests; a graceful
//! stop (SIGQUIT, or this address removed by a reload) sends GOAWAY and lets
//! open streams finish.

pub mod coalesce;
pub mod head;
pub mod rewind;

use super::pipeline;
use crate::exchange::io::{ClientIo, ClientStream};
use crate::http::conn::ConnInfo;
use crate::log::Level;
use crate::runtime::VirtualHosts;
use crate::status::counters::{self, ConnGauge, ConnState};
use bytes::Bytes;
use h2::server::SendResponse;
use h2::RecvStream;
use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use tokio::time::Instant;

/// The client connection preface (RFC 9113 §3.4).
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Whether `buf` (the first bytes of a connection) is, so far, the h2
/// preface: `Some(true)` once all of it is there, `None` while undecided.
pub fn preface_state(buf: &[u8]) -> Option<bool> {
    let n = buf.len().min(PREFACE.len());
    if buf[..n] != PREFACE[..n] {
        Some(false)
    } else if n == PREFACE.len() {
        Some(true)
    } else {
        None
    }
}

/// How long a connection told to go away (GOAWAY) may take to finish its
/// last round trip once no stream is open.
const LINGER: std::time::Duration = std::time::Duration::from_secs(5);

/// What an HTTP/2 connection knows of itself.
pub struct H2Conn {
    /// Filled in per stream (`requests`, `peer` after real_ip).
    pub info: ConnInfo,
    pub listen_addr: SocketAddr,
    pub accepted: Instant,
    pub gauge: ConnGauge,
}

/// Serves an HTTP/2 connection until it ends. `io` may hold bytes already
/// read (the preface itself, on a cleartext address).
pub async fn serve(io: ClientIo, mut c: H2Conn, hosts: Arc<VirtualHosts>) {
    let ClientIo { stream, buf, pos, .. } = io;
    let pre = buf.get(pos..).map(<[u8]>::to_vec).unwrap_or_default();
    let io = coalesce::Coalesce::new(rewind::Rewind::new(pre, stream));
    let conf = hosts.conn.h2;
    let loc = &hosts.default_server().server_loc.core.conf;
    let keepalive_timeout = loc.keepalive_timeout;
    let keepalive_requests = loc.keepalive_requests;
    // nginx: large_client_header_buffers bounds a header field and the
    // whole list (ngx_http_v2_state_header_block since 1.19.7).
    let limits = &hosts.conn.limits;
    let max_list = limits
        .large_buffers
        .saturating_mul(limits.large_buffer_size)
        .min(u32::MAX as usize) as u32;
    let mut builder = h2::server::Builder::new();
    builder
        .max_concurrent_streams(conf.max_concurrent_streams)
        .initial_window_size(conf.body_preread_size.max(1))
        .initial_connection_window_size(1 << 20)
        .max_header_list_size(max_list.max(1))
        .max_send_buffer_size(64 * 1024);
    let deadline = c.accepted + hosts.conn.header_timeout;
    let mut conn = match tokio::time::timeout_at(deadline, builder.handshake::<_, Bytes>(io)).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => {
            log_info(&c.info, &format!("client sent invalid HTTP/2 preface ({e})"));
            return;
        }
        Err(_) => {
            log_info(&c.info, "client timed out while reading the HTTP/2 preface");
            return;
        }
    };
    drop(hosts);
    let open = Rc::new(Cell::new(0usize));
    let done = Rc::new(tokio::sync::Notify::new());
    let mut closing = false;
    let mut idle_since = Instant::now();
    // After GOAWAY the h2 crate waits for a PING round trip and for open
    // streams; an idle client that never answers is cut off after this.
    let mut close_by: Option<Instant> = None;
    loop {
        let idle = open.get() == 0 && !closing;
        let idle_deadline = idle_since + keepalive_timeout;
        let hard_stop = close_by.filter(|_| open.get() == 0);
        tokio::select! {
            r = conn.accept() => match r {
                Some(Ok((req, respond))) => {
                    c.info.requests += 1;
                    counters::count_request();
                    c.gauge.set(ConnState::Writing);
                    open.set(open.get() + 1);
                    let guard = Open { open: open.clone(), done: done.clone() };
                    let info = c.info.clone();
                    let listen_addr = c.listen_addr;
                    let age = c.accepted.elapsed();
                    // The stream's future (the whole pipeline's state) is
                    // made on the heap once, at its first poll; the task
                    // moves only this small block, not kilobytes per stream.
                    tokio::task::spawn_local(async move {
                        let _guard = guard;
                        Box::pin(serve_stream(req, respond, info, listen_addr, age)).await;
                    });
                    if c.info.requests >= keepalive_requests && !closing {
                        closing = true;
                        close_by = Some(Instant::now() + LINGER);
                        conn.graceful_shutdown();
                    }
                }
                Some(Err(e)) => {
                    if !e.is_io() {
                        log_info(&c.info, &format!("client sent invalid HTTP/2 data ({e})"));
                    }
                    break;
                }
                None => break,
            },
            _ = done.notified() => {
                if open.get() == 0 {
                    c.gauge.set(ConnState::Waiting);
                    idle_since = Instant::now();
                }
            }
            _ = tokio::time::sleep_until(idle_deadline), if idle => {
                closing = true;
                close_by = Some(Instant::now() + LINGER);
                conn.graceful_shutdown();
            }
            _ = tokio::time::sleep_until(hard_stop.unwrap_or(idle_deadline)), if hard_stop.is_some() => break,
            _ = crate::exchange::lifecycle::drain_signal(), if !closing => {
                closing = true;
                close_by = Some(Instant::now() + LINGER);
                conn.graceful_shutdown();
            }
        }
    }
}

/// Counts a stream as open until its task ends.
struct Open {
    open: Rc<Cell<usize>>,
    done: Rc<tokio::sync::Notify>,
}

impl Drop for Open {
    fn drop(&mut self) {
        self.open.set(self.open.get().saturating_sub(1));
        self.done.notify_one();
    }
}

/// Serves one stream through the pipeline: its request head is checked by
/// the HTTP/1 head reader (the same limits and validation on both
/// protocols), its body and response go through `ClientIo` over the stream
/// itself (stream.rs).
async fn serve_stream(
    req: http::Request<RecvStream>,
    mut respond: SendResponse<Bytes>,
    mut info: ConnInfo,
    listen_addr: SocketAddr,
    age: std::time::Duration,
) {
    let started = std::time::Instant::now();
    // The config in force now serves this stream (one snapshot per request).
    let Some(hosts) = super::conn::hosts_of(listen_addr, info.local) else {
        respond.send_reset(h2::Reason::REFUSED_STREAM);
        return;
    };
    let (parts, body) = req.into_parts();
    // RFC 9113 §8.3.1: every request but CONNECT has a non-empty :path. The
    // h2 crate checks emptiness, not absence; `http::Uri` shows an absent
    // path only when there is no :authority either (with one it reads "/").
    if parts.method != http::Method::CONNECT && parts.uri.path().is_empty() {
        respond.send_reset(h2::Reason::PROTOCOL_ERROR);
        return;
    }
    let has_body = !body.is_end_stream();
    let head_bytes = head::h1_head(&parts, has_body);
    let head_request = parts.method == http::Method::HEAD;
    let mut io = ClientIo::h2(crate::exchange::h2_stream::H2Stream::new(
        body,
        respond,
        head_request,
    ));
    info.realip_done = false;
    match crate::http1::parse_request_head(Bytes::from(head_bytes), &hosts.conn.limits) {
        Ok(head) => {
            pipeline::handle(&mut io, head, &hosts, info, started, age, None).await;
        }
        Err(e) => {
            log_info(&info, e.reason);
            let line = request_line(&parts);
            pipeline::reject(&mut io, &hosts, e.status, true, info, &line, started).await;
        }
    }
    if let crate::exchange::io::ClientStream::H2(s) = io.stream {
        s.finish();
    }
}

/// `$request` of a stream whose head was refused.
fn request_line(parts: &http::request::Parts) -> Vec<u8> {
    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    format!("{} {} HTTP/2.0", parts.method, target).into_bytes()
}

fn log_info(info: &ConnInfo, reason: &str) {
    if crate::log::enabled(Level::Info) {
        crate::log::error_log::log(
            Level::Info,
            Some(info.number),
            format_args!(
                "{reason} while processing HTTP/2 connection, client: {}",
                info.peer.ip()
            ),
        );
    }
}

/// Whether the TLS handshake picked h2 by ALPN.
pub fn is_h2_stream(stream: &ClientStream) -> bool {
    match stream {
        ClientStream::Tls(t) => t.get_ref().1.alpn_protocol() == Some(b"h2"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn preface_detection() {
        use super::{preface_state, PREFACE};
        assert_eq!(preface_state(b""), None);
        assert_eq!(preface_state(b"PRI * HT"), None);
        assert_eq!(preface_state(PREFACE), Some(true));
        assert_eq!(preface_state(b"GET / HTTP/1.1\r\n"), Some(false));
        assert_eq!(preface_state(b"PRI * HTTP/1.1\r\n"), Some(false));
    }
}
