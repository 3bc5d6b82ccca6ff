//! The byte tunnel after a `101 Switching Protocols` (WebSocket and other
//! upgrades): both directions relayed until both sides have closed, a FIN in
//! one direction forwarded as a half-close while the other keeps flowing.
//! Idle for longer than `proxy_read_timeout` in both directions: closed, as
//! nginx does (nginx-semantics.md §4.6).

use crate::exchange::io::ClientIo;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub async fn run(io: &mut ClientIo, mut up: TcpStream, upstream_early: Vec<u8>, idle: Duration) {
    // Bytes that arrived with the heads belong to the tunnel.
    let client_early = io.pending().to_vec();
    io.consume(client_early.len());
    if !client_early.is_empty() && up.write_all(&client_early).await.is_err() {
        return;
    }
    if !upstream_early.is_empty()
        && (io.stream.write_all(&upstream_early).await.is_err() || io.stream.flush().await.is_err())
    {
        return;
    }
    let (mut cr, mut cw) = io.stream.split();
    let (mut ur, mut uw) = up.split();
    let mut cbuf = vec![0u8; 16 * 1024];
    let mut ubuf = vec![0u8; 16 * 1024];
    let (mut c_open, mut u_open) = (true, true);
    while c_open || u_open {
        tokio::select! {
            r = cr.read(&mut cbuf), if c_open => match r {
                Ok(0) | Err(_) => { c_open = false; let _ = uw.shutdown().await; }
                Ok(n) => if uw.write_all(&cbuf[..n]).await.is_err() { return },
            },
            r = ur.read(&mut ubuf), if u_open => match r {
                Ok(0) | Err(_) => { u_open = false; let _ = cw.shutdown().await; }
                // flush: a TLS client stream may hold records back (a no-op on TCP).
                Ok(n) => if cw.write_all(&ubuf[..n]).await.is_err() || cw.flush().await.is_err() { return },
            },
            _ = tokio::time::sleep(idle) => return,
        }
    }
}
