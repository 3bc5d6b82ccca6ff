//! One client connection: wait for a request, read its head within nginx's
//! header limits, hand it to the pipeline, repeat while keep-alive holds.

use super::io::{ClientIo, IoFail};
use super::pipeline::{self, Next};
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

/// Serves `stream`, accepted on the listener bound to `listen_addr`.
pub async fn serve(stream: TcpStream, peer: SocketAddr, listen_addr: SocketAddr, number: u64) {
    let mut gauge = ConnGauge::accepted();
    let accepted = Instant::now();
    let mut io = ClientIo::new(stream);
    let mut local: Option<SocketAddr> = None;
    let mut requests = 0u64;
    let mut idle_timeout: Option<Duration> = None;

    loop {
        if local.is_none() {
            local = io.stream.local_addr().ok();
        }
        let Some(hosts) = current_hosts(listen_addr, local) else {
            return;
        };
        let conn_conf = &hosts.conn;

        // Wait for the first byte: client_header_timeout on a new connection
        // (the same timer then bounds the whole head, as nginx's does),
        // keepalive_timeout between requests.
        gauge.set(ConnState::Waiting);
        let wait_deadline = match idle_timeout {
            None => accepted + conn_conf.header_timeout,
            Some(t) => Instant::now() + t,
        };
        if io.pending().is_empty() {
            io.release_buffer();
            let woke = tokio::select! {
                r = io.wait_readable(wait_deadline) => r.is_ok(),
                _ = state::drain_signal() => false,
            };
            if !woke {
                return;
            }
        }
        // A reload may have happened while the connection sat idle: the request
        // that just arrived is served by the config in force now, not by the one
        // the connection was waiting under (DESIGN.md: one snapshot per request).
        let Some(hosts) = current_hosts(listen_addr, local) else {
            return;
        };
        let conn_conf = &hosts.conn;
        let started = std::time::Instant::now();
        let head_deadline = match idle_timeout {
            None => wait_deadline,
            Some(_) => Instant::now() + conn_conf.header_timeout,
        };

        // Read the head.
        let limits = &conn_conf.limits;
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
                        requests += 1;
                        counters::count_request();
                        gauge.set(ConnState::Reading);
                    }
                }
                Err(IoFail::Timeout) if counted || !io.pending().is_empty() => {
                    break Err((408, "client timed out"))
                }
                Err(_) if counted && !io.pending().is_empty() => {
                    break Err((400, "client prematurely closed connection"))
                }
                Err(_) => return,
            }
        };
        if !counted {
            // Pipelined bytes were already buffered.
            requests += 1;
            counters::count_request();
        }
        let conn = ConnInfo {
            number,
            peer,
            local: local.unwrap_or(listen_addr),
            requests,
        };
        gauge.set(ConnState::Writing);
        let end = match end {
            Ok(end) => end,
            Err((status, reason)) => {
                let line = first_line(io.pending()).to_vec();
                log_client_error(number, peer, reason);
                // nginx sends nothing on a header timeout or a client that went away (408 is logged).
                let send = status != 408 && !(status == 400 && reason.starts_with("client prematurely"));
                pipeline::reject(&mut io, &hosts, status, send, conn, &line, started).await;
                return;
            }
        };
        let head_bytes = bytes::Bytes::copy_from_slice(&io.pending()[..end]);
        io.consume(end);
        let head = match parse_request_head(head_bytes.clone(), limits) {
            Ok(h) => h,
            Err(e) => {
                log_client_error(number, peer, e.reason);
                let line = first_line(&head_bytes).to_vec();
                pipeline::reject(&mut io, &hosts, e.status, true, conn, &line, started).await;
                return;
            }
        };

        // The request's own future is boxed: an idle connection then holds no
        // request-sized state between requests.
        let next = Box::pin(pipeline::handle(
            &mut io,
            head,
            &hosts,
            conn,
            started,
            accepted.elapsed(),
        ))
        .await;
        match next {
            Next::KeepAlive(t) => idle_timeout = Some(t),
            Next::Close { linger } => {
                lingering_close(&mut io, linger).await;
                return;
            }
        }
    }
}

/// The server set of the current snapshot for a connection accepted on
/// `listen_addr` with local address `local`; `None` once a reload removed the
/// listener (the connection is then closed).
fn current_hosts(listen_addr: SocketAddr, local: Option<SocketAddr>) -> Option<Arc<VirtualHosts>> {
    let snap = state::snapshot()?;
    let listener = snap.listener(listen_addr)?;
    Some(listener.hosts_for(local).clone())
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
    let mut scratch = [0u8; 1024];
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
