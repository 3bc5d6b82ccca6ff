//! `proxy_ignore_client_abort off` (nginx's default): while rampart waits for
//! the upstream's response head, a client that closes its connection ends the
//! upstream request too (499), as nginx's
//! `ngx_http_upstream_check_broken_connection` does with a `recv(MSG_PEEK)`.
//!
//! Only a plain or TLS TCP connection is watched: a peek of 0 bytes (FIN) or
//! an error (RST) is a close; any byte (a pipelined request, a TLS record)
//! means the client is still there, and the watch stops, as peeking again
//! would see the same byte. An HTTP/2 stream is not watched.

use crate::exchange::io::ClientIo;

/// Completes when the client has closed; never completes otherwise.
pub async fn closed(io: &ClientIo) {
    let Some(tcp) = io.stream.tcp() else {
        return std::future::pending().await;
    };
    let mut b = [0u8; 1];
    match tcp.peek(&mut b).await {
        Ok(0) | Err(_) => {}
        Ok(_) => std::future::pending().await,
    }
}
