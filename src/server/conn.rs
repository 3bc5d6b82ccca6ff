//! One client connection: wait for a request, read its head within nginx's
//! header limits, hand it to the pipeline, repeat while keep-alive holds.

use super::pipeline::{self, Next};
use super::proxy_protocol::{self, ProxyError};
use super::state;
use crate::exchange::io::{ClientIo, IoFail};
use crate::http::conn::ConnInfo;
use crate::http::conn::ProxyAddrs;
use crate::http::conn::TlsInfo;
use crate::http1::{find_head_end, parse_request_head_with, HeadError, HeadScan, Version};
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
    /// Boxed: idle keep-alive connections keep `Conn`, and most have no header.
    proxy: Option<Box<ProxyAddrs>>,
    /// The TLS handshake's facts, on an `ssl` address.
    tls: Option<Arc<TlsInfo>>,
    /// `None` before the first request, then the keepalive_timeout in force.
    idle_timeout: Option<Duration>,
}

/// Serves `stream`, accepted on the listener bound to `listen_addr`.
///
/// The task of an idle keep-alive connection is this future, so its size
/// is the idle cost per connection: everything that is not the idle wait
/// (PROXY header, TLS handshake, preface sniffing, HTTP/2, each request)
/// runs in a boxed future freed when it is done, instead of reserving room
/// in every connection's task (the HTTP/2 state alone had grown idle
/// HTTP/1.1 connections by ~1.5 KiB each).
pub async fn serve(stream: TcpStream, peer: SocketAddr, listen_addr: SocketAddr, number: u64) {
    let Some((mut c, http2, hosts)) = Box::pin(start(stream, peer, listen_addr, number)).await else {
        return;
    };
    if let Some(kind) = http2 {
        let mut info = c.conn_info();
        info.http2 = Some(kind);
        info.requests = 0;
        let h2c = super::h2::H2Conn {
            info,
            listen_addr: c.listen_addr,
            accepted: c.accepted,
            gauge: c.gauge,
        };
        return Box::pin(super::h2::serve(c.io, h2c, hosts)).await;
    }
    drop(hosts);
    loop {
        // Only the timeout is kept across the idle wait: an idle connection
        // must not keep a reloaded-away config (its VirtualHosts) alive.
        let Some(header_timeout) = c.hosts().map(|h| h.conn.header_timeout) else {
            return;
        };
        let Some(deadline) = c.wait_for_request(header_timeout).await else {
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

/// Everything before the first request: the PROXY header, the TLS
/// handshake and, on a cleartext `http2` address, the preface sniff. None
/// when the connection ended there (logged where nginx logs it).
async fn start(
    mut stream: TcpStream,
    peer: SocketAddr,
    listen_addr: SocketAddr,
    number: u64,
) -> Option<(Conn, Option<&'static str>, Arc<VirtualHosts>)> {
    let accepted = Instant::now();
    let mut local = None;
    let hosts = lookup(listen_addr, &mut local, Some(&stream))?;
    let gauge = ConnGauge::accepted();
    let mut proxy = None;
    let mut tls_info = None;
    let io = match &hosts.conn.tls {
        None => ClientIo::new(stream),
        Some(tls) => {
            // The PROXY header precedes the TLS handshake; the handshake and
            // the header share client_header_timeout (ngx_http_ssl_handshake).
            let deadline = accepted + hosts.conn.header_timeout;
            if hosts.conn.proxy_protocol {
                match peek_proxy_header(&mut stream, deadline, number, peer, listen_addr).await {
                    Some(p) => proxy = p.map(Box::new),
                    None => return None,
                }
            }
            match tokio::time::timeout_at(deadline, tls.acceptor.accept(stream)).await {
                Ok(Ok(s)) => {
                    tls_info = Some(Arc::new(crate::tls::info(s.get_ref().1)));
                    ClientIo::tls(s)
                }
                Ok(Err(e)) => {
                    log_client_error(number, peer, &format!("SSL handshake failed ({e})"));
                    return None;
                }
                Err(_) => {
                    log_client_error(number, peer, "client timed out while SSL handshaking");
                    return None;
                }
            }
        }
    };
    let mut c = Conn {
        io,
        gauge,
        accepted,
        peer,
        listen_addr,
        local,
        number,
        requests: 0,
        proxy,
        tls: tls_info,
        idle_timeout: None,
    };
    if hosts.conn.proxy_protocol
        && hosts.conn.tls.is_none()
        && !c.read_proxy_header(hosts.conn.header_timeout).await
    {
        return None;
    }
    let http2 = if super::h2::is_h2_stream(&c.io.stream) {
        Some("h2")
    } else if hosts.conn.http2 && hosts.conn.tls.is_none() {
        match c
            .sniff_preface(
                hosts.conn.header_timeout,
                hosts.conn.limits.client_header_buffer_size,
            )
            .await
        {
            Some(true) => Some("h2c"),
            Some(false) => None,
            None => return None,
        }
    } else {
        None
    };
    Some((c, http2, hosts))
}

/// The virtual hosts of a connection's address in the current config;
/// fills in `local` (the socket's own address) the first time.
fn lookup(
    listen_addr: SocketAddr,
    local: &mut Option<SocketAddr>,
    tcp: Option<&TcpStream>,
) -> Option<Arc<VirtualHosts>> {
    let snap = state::snapshot()?;
    let listener = snap.listener(listen_addr)?;
    if local.is_none() {
        *local = if listener.specific.is_empty() && !listen_addr.ip().is_unspecified() {
            Some(listen_addr)
        } else {
            tcp.and_then(|t| t.local_addr().ok())
        };
    }
    Some(listener.hosts_for(*local).clone())
}

/// The virtual hosts serving `local` (already known) on the listener of
/// `listen_addr` in the current config: each HTTP/2 stream looks them up anew.
pub fn hosts_of(listen_addr: SocketAddr, local: SocketAddr) -> Option<Arc<VirtualHosts>> {
    lookup(listen_addr, &mut Some(local), None)
}

/// nginx's "broken header" line (src/core/ngx_proxy_protocol.c), at `error`.
fn log_broken_header(number: u64, peer: SocketAddr, listen_addr: SocketAddr, e: ProxyError, bytes: &[u8]) {
    crate::log::error_log::log(
        Level::Error,
        Some(number),
        format_args!(
            "broken header: \"{}\" ({e}) while reading PROXY protocol, client: {}, server: {}",
            String::from_utf8_lossy(bytes).escape_debug(),
            peer.ip(),
            listen_addr
        ),
    );
}

/// Reads the PROXY header in front of a TLS handshake without reading past
/// it (the handshake must see the ClientHello from its first byte): peek,
/// then consume exactly the header. Returns None when the connection closes.
async fn peek_proxy_header(
    tcp: &mut TcpStream,
    deadline: Instant,
    number: u64,
    peer: SocketAddr,
    listen_addr: SocketAddr,
) -> Option<Option<ProxyAddrs>> {
    let mut buf = vec![0u8; proxy_protocol::MAX_HEADER];
    let mut seen = 0;
    loop {
        let n = match tokio::time::timeout_at(deadline, tcp.peek(&mut buf)).await {
            Err(_) => {
                log_client_error(number, peer, "client timed out");
                return None;
            }
            Ok(Err(_)) | Ok(Ok(0)) => return None,
            Ok(Ok(n)) => n,
        };
        let got = buf.get(..n).unwrap_or(&[]);
        match proxy_protocol::decode(got) {
            Ok(Some(h)) => {
                let mut skip = vec![0u8; h.len];
                let read =
                    tokio::time::timeout_at(deadline, tokio::io::AsyncReadExt::read_exact(tcp, &mut skip));
                return match read.await {
                    Ok(Ok(_)) => Some(h.addrs),
                    _ => None,
                };
            }
            Ok(None) if n == buf.len() => return None,
            Ok(None) => {
                if n == seen {
                    // peek returns at once while old bytes are queued: wait a little for more.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                seen = n;
            }
            Err(e) => {
                log_broken_header(number, peer, listen_addr, e, got);
                return None;
            }
        }
    }
}

impl Conn {
    /// The virtual hosts of this connection's address in the current config.
    fn hosts(&mut self) -> Option<Arc<VirtualHosts>> {
        lookup(self.listen_addr, &mut self.local, self.io.stream.tcp())
    }

    /// The facts a request needs about this connection.
    fn conn_info(&self) -> ConnInfo {
        ConnInfo {
            number: self.number,
            peer: self.peer,
            tcp_peer: self.peer,
            proxy: self.proxy.as_deref().copied(),
            realip_done: false,
            tls: self.tls.clone(),
            local: self.local.unwrap_or(self.listen_addr),
            requests: self.requests,
            http2: None,
        }
    }

    /// On a cleartext `http2` address: reads until the first bytes either are
    /// the HTTP/2 preface or cannot be (then the connection is HTTP/1.x, as
    /// nginx 1.25 decides it). The bytes stay buffered for whichever reader
    /// follows. None: the client went away or timed out first.
    async fn sniff_preface(&mut self, header_timeout: Duration, first_read: usize) -> Option<bool> {
        let deadline = self.accepted + header_timeout;
        loop {
            if let Some(h2) = super::h2::preface_state(self.io.pending()) {
                return Some(h2);
            }
            if self.io.pending().is_empty() {
                // As the HTTP/1 reader waits: no buffer, and a graceful stop
                // closes a connection that has sent nothing yet.
                self.io.wait_readable(deadline).await.ok()?;
            }
            // Whatever else arrives stays buffered for the HTTP/1 reader or h2.
            match self
                .io
                .read_more(first_read.max(super::h2::PREFACE.len()), deadline)
                .await
            {
                Ok(_) => {}
                Err(IoFail::Timeout) => {
                    log_client_error(self.number, self.peer, "client timed out");
                    return None;
                }
                Err(_) => return None,
            }
        }
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
                    self.proxy = h.addrs.map(Box::new);
                    return true;
                }
                Ok(None) => {}
                Err(e) => {
                    log_broken_header(self.number, self.peer, self.listen_addr, e, self.io.pending());
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
    async fn wait_for_request(&mut self, header_timeout: Duration) -> Option<Instant> {
        self.gauge.set(ConnState::Waiting);
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
        // nginx parses the URI as soon as the request line is in
        // (ngx_http_process_request_uri): a URI it cannot normalise is a 400
        // ahead of any header check.
        // The normalised `$uri` is kept for the pipeline: one normalisation per request.
        let merge_slashes = hosts.conn.merge_slashes;
        let mut normalized = None;
        let mut valid_uri = |t: &[u8]| {
            normalized = crate::routing::uri::normalize_owned(t, merge_slashes).ok();
            normalized.is_some()
        };
        let io = &mut self.io;
        let mut scan = HeadScan::default();
        let mut scan_from = 0;
        let mut counted = false;
        let end = loop {
            if let Some(end) = find_head_end(io.pending(), scan_from) {
                break Ok(end);
            }
            // Each line is checked as it arrives: a malformed one is answered
            // at once, not at client_header_timeout.
            if let Err(e) = scan.check(io.pending(), limits, &mut valid_uri) {
                break Err(e);
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
                    break Err(HeadError {
                        status: 408,
                        reason: "client timed out",
                        http09: false,
                    })
                }
                Err(_) if counted && !io.pending().is_empty() => {
                    break Err(HeadError {
                        status: 400,
                        reason: "client prematurely closed connection",
                        http09: false,
                    })
                }
                Err(_) => return false,
            }
        };
        if !counted {
            // Pipelined bytes were already buffered.
            self.requests += 1;
            counters::count_request();
        }
        let conn = self.conn_info();
        let io = &mut self.io;
        self.gauge.set(ConnState::Writing);
        let end = match end {
            Ok(end) => end,
            Err(e) => {
                let line = first_line(io.pending()).to_vec();
                log_client_error(self.number, self.peer, e.reason);
                // nginx sends nothing on a header timeout or a client that went away (408 is logged).
                let send =
                    e.status != 408 && !(e.status == 400 && e.reason.starts_with("client prematurely"));
                io.http09 = e.http09;
                pipeline::reject(io, &hosts, e.status, send, conn, &line, started).await;
                // The rest of what the client sends (a long header, the next
                // pipelined request) must not turn the close into a reset
                // that loses the answer: nginx lingers (ngx_http_finalize_connection).
                if send {
                    lingering_close(io, true).await;
                }
                return false;
            }
        };
        // The head is parsed from its own copy; the connection buffer keeps
        // it until parsing succeeded, so an error can still log the request line.
        let copy = bytes::Bytes::copy_from_slice(&io.pending()[..end]);
        let head = match parse_request_head_with(copy, limits, &mut valid_uri) {
            Ok(h) => {
                io.consume(end);
                h
            }
            Err(e) => {
                log_client_error(self.number, self.peer, e.reason);
                let line = first_line(io.pending()).to_vec();
                io.http09 = e.http09;
                pipeline::reject(io, &hosts, e.status, true, conn, &line, started).await;
                lingering_close(io, true).await;
                return false;
            }
        };
        // An HTTP/0.9 request is answered with the body alone.
        io.http09 = head.version() == Version::Http09;
        let age = self.accepted.elapsed();
        match pipeline::handle(io, head, &hosts, conn, started, age, normalized).await {
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

#[cfg(test)]
mod tests {
    /// The future of `serve` is what every idle keep-alive connection
    /// keeps (its task); setup, HTTP/2 and requests are boxed. This bound
    /// catches a future that grows by inlining them again (the HTTP/2
    /// state once made it several KiB: idle-10k went 1.9 -> 4.5 KB per
    /// connection). It is 776 bytes: `Conn` (296) and the idle wait (a
    /// timer, 112, and the drain waiter, 88). The bench
    /// (`benches/compare.sh --scenarios idle`) measures the whole
    /// per-connection cost.
    #[test]
    fn idle_connection_task_stays_small() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = l.local_addr().expect("addr");
            let _client = tokio::net::TcpStream::connect(addr).await.expect("connect");
            let (s, peer) = l.accept().await.expect("accept");
            let fut = super::serve(s, peer, addr, 1);
            let size = std::mem::size_of_val(&fut);
            assert!(size <= 800, "serve's future is {size} bytes");
        });
    }
}
