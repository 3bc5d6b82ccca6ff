//! One client connection: wait for a request, read its head within nginx's
//! header limits, hand it to the pipeline, repeat while keep-alive holds.

use super::io::{ClientIo, IoFail};
use super::pipeline::{self, Next};
use super::proxy_protocol::{self, ProxyAddrs};
use super::request::ConnInfo;
use super::state;
use crate::http1::{check_partial_head, find_head_end, parse_request_head};
use crate::log::Level;
use crate::runtime::VirtualHosts;
use crate::status::counters::{self, ConnGauge, ConnState};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Per-connection state kept between requests: just the socket and a few
/// words, so that an idle keep-alive connection costs little memory.
struct Conn {
    io: ClientIo,
    gauge: ConnGauge,
    accepted: Instant,
    peer: SocketAddr,
    listen_addr: SocketAddr,
    /// The local address, when the listener cannot tell it (wildcard binds).
    local: Option<SocketAddr>,
    number: u64,
    requests: u64,
    /// The PROXY protocol header's addresses (`None` without one, or LOCAL/UNKNOWN).
    proxy: Option<ProxyAddrs>,
    /// `None` before the first request, then the keepalive_timeout in force.
    idle_timeout: Option<Duration>,
}

/// Serves `stream`, accepted on the listener bound to `listen_addr`.
pub async fn serve(stream: TcpStream, peer: SocketAddr, listen_addr: SocketAddr, number: u64) {
    let mut c = Conn {
        io: ClientIo::new(stream),
        gauge: ConnGauge::accepted(),
        accepted: Instant::now(),
        peer,
        listen_addr,
        local: None,
        number,
        requests: 0,
        proxy: None,
        idle_timeout: None,
    };
    if let Some(hosts) = c.hosts() {
        if hosts.conn.proxy_protocol && !c.read_proxy_header(hosts.conn.header_timeout).await {
            return;
        }
    }
    loop {
        let Some(hosts) = c.hosts() else { return };
        let Some(deadline) = c.wait_for_request(&hosts).await else {
            return;
        };
        // A reload may have happened while the connection sat idle: the
        // request that just arrived is served by the config in force now
        // (DESIGN.md: one snapshot per request).
        let Some(hosts) = c.hosts() else { return };
        // Everything after the first byte lives in a boxed future that is
        // freed when the request is done: idle connections keep only `Conn`.
        if !Box::pin(c.process(hosts, deadline)).await {
            return;
        }
    }
}

impl Conn {
    /// The virtual hosts of this connection's address in the current config.
    fn hosts(&mut self) -> Option<Arc<VirtualHosts>> {
        let snap = state::snapshot()?;
        let listener = snap.listener(self.listen_addr)?;
        if self.local.is_none() {
            self.local = if listener.specific.is_empty() && !self.listen_addr.ip().is_unspecified() {
                Some(self.listen_addr)
            } else {
                self.io.stream.local_addr().ok()
            };
        }
        Some(listener.hosts_for(self.local).clone())
    }

    /// Reads the PROXY protocol header that must open every connection of a
    /// `proxy_protocol` listener, within client_header_timeout from accept
    /// (nginx: ngx_http_wait_request_handler). A bad header gets no response:
    /// it is logged as "broken header" at `error` and the connection closed.
    /// Bytes after the header stay buffered for the first request.
    async fn read_proxy_header(&mut self, header_timeout: Duration) -> bool {
        let deadline = self.accepted + header_timeout;
        loop {
            match proxy_protocol::decode(self.io.pending()) {
                Ok(Some(h)) => {
                    self.io.consume(h.len);
                    self.proxy = h.addrs;
                    return true;
                }
                Ok(None) => {}
                Err(e) => {
                    crate::log::error_log::log(
                        Level::Error,
                        Some(self.number),
                        format_args!(
                            "broken header: \"{}\" ({e}) while reading PROXY protocol, client: {}, server: {}",
                            String::from_utf8_lossy(self.io.pending()).escape_debug(),
                            self.peer.ip(),
                            self.listen_addr
                        ),
                    );
                    return false;
                }
            }
            let room = proxy_protocol::MAX_HEADER.saturating_sub(self.io.pending().len());
            match self.io.read_more(room.max(1), deadline).await {
                Ok(_) => {}
                Err(IoFail::Timeout) => {
                    log_client_error(self.number, self.peer, "client timed out");
                    return false;
                }
                Err(_) => return false,
            }
        }
    }

    /// Waits for the first byte of the next request: client_header_timeout on
    /// a new connection (the same timer then bounds the whole head, as
    /// nginx's does), keepalive_timeout between requests. Returns the deadline
    /// for reading the head, or None when the connection should close.
    async fn wait_for_request(&mut self, hosts: &VirtualHosts) -> Option<Instant> {
        self.gauge.set(ConnState::Waiting);
        let header_timeout = hosts.conn.header_timeout;
        let wait_deadline = match self.idle_timeout {
            None => self.accepted + header_timeout,
            Some(t) => Instant::now() + t,
        };
        if self.io.pending().is_empty() {
            self.io.release_buffer();
            self.io.wait_readable(wait_deadline).await.ok()?;
        }
        Some(match self.idle_timeout {
            None => wait_deadline,
            Some(_) => Instant::now() + header_timeout,
        })
    }

    /// Reads one request head and hands it to the pipeline. Returns whether
    /// the connection stays open for another request.
    async fn process(&mut self, hosts: Arc<VirtualHosts>, head_deadline: Instant) -> bool {
        let started = std::time::Instant::now();
        let limits = &hosts.conn.limits;
        let io = &mut self.io;
        let mut scan_from = 0;
        let mut counted = false;
        let end = loop {
            if let Some(end) = find_head_end(io.pending(), scan_from) {
                break Ok(end);
            }
            if let Err(e) = check_partial_head(io.pending(), limits) {
                break Err((e.status, e.reason));
            }
            scan_from = io.pending().len().saturating_sub(3);
            let chunk = if io.pending().is_empty() {
                limits.client_header_buffer_size
            } else {
                limits.large_buffer_size
            };
            match io.read_more(chunk.max(1), head_deadline).await {
                Ok(_) => {
                    if !counted {
                        counted = true;
                        self.requests += 1;
                        counters::count_request();
                        self.gauge.set(ConnState::Reading);
                    }
                }
                Err(IoFail::Timeout) if counted || !io.pending().is_empty() => {
                    break Err((408, "client timed out"))
                }
                Err(_) if counted && !io.pending().is_empty() => {
                    break Err((400, "client prematurely closed connection"))
                }
                Err(_) => return false,
            }
        };
        if !counted {
            // Pipelined bytes were already buffered.
            self.requests += 1;
            counters::count_request();
        }
        let conn = ConnInfo {
            number: self.number,
            peer: self.peer,
            tcp_peer: self.peer,
            proxy: self.proxy,
            local: self.local.unwrap_or(self.listen_addr),
            requests: self.requests,
        };
        self.gauge.set(ConnState::Writing);
        let end = match end {
            Ok(end) => end,
            Err((status, reason)) => {
                let line = first_line(io.pending()).to_vec();
                log_client_error(self.number, self.peer, reason);
                // nginx sends nothing on a header timeout or a client that went away (408 is logged).
                let send = status != 408 && !(status == 400 && reason.starts_with("client prematurely"));
                pipeline::reject(io, &hosts, status, send, conn, &line, started).await;
                return false;
            }
        };
        // The head is parsed from its own copy; the connection buffer keeps
        // it until parsing succeeded, so an error can still log the request line.
        let head = match parse_request_head(bytes::Bytes::copy_from_slice(&io.pending()[..end]), limits) {
            Ok(h) => {
                io.consume(end);
                h
            }
            Err(e) => {
                log_client_error(self.number, self.peer, e.reason);
                let line = first_line(io.pending()).to_vec();
                pipeline::reject(io, &hosts, e.status, true, conn, &line, started).await;
                return false;
            }
        };
        match pipeline::handle(io, head, &hosts, conn, started, self.accepted.elapsed()).await {
            Next::KeepAlive(t) => {
                self.idle_timeout = Some(t);
                true
            }
            Next::Close { linger } => {
                lingering_close(io, linger).await;
                false
            }
        }
    }
}

fn first_line(buf: &[u8]) -> &[u8] {
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    let rest = &buf[start..];
    let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
    let line = &rest[..end];
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Client-caused problems log at `info`, as nginx does: invisible by default.
fn log_client_error(number: u64, peer: SocketAddr, reason: &str) {
    if crate::log::enabled(Level::Info) {
        crate::log::error_log::log(
            Level::Info,
            Some(number),
            format_args!(
                "{reason} while reading client request headers, client: {}",
                peer.ip()
            ),
        );
    }
}

/// Half-closes and drains what the client already sent, so that a response
/// followed by close is not destroyed by a RST for unread bytes (nginx's
/// lingering close). Bytes still in flight get `lingering_time`-style grace
/// only when the request body was left unread, which the pipeline reports.
async fn lingering_close(io: &mut ClientIo, linger: bool) {
    use tokio::io::AsyncWriteExt;
    let _ = io.stream.shutdown().await;
    let mut scratch = vec![0u8; 1024];
    if !linger {
        while let Ok(n) = io.stream.try_read(&mut scratch) {
            if n == 0 {
                break;
            }
        }
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(
            deadline,
            tokio::io::AsyncReadExt::read(&mut io.stream, &mut scratch),
        )
        .await
        {
            Ok(Ok(n)) if n > 0 => continue,
            _ => return,
        }
    }
}
