//! Turns the HTTP/1.1 response the pipeline wrote for one stream into
//! HEADERS and DATA frames, within the stream's flow-control window.
//!
//! The pipeline writes `Connection`, `Keep-Alive` and chunked framing as for
//! an HTTP/1.1 client; HTTP/2 forbids those fields (RFC 9113 §8.2.2), so they
//! are dropped and the body is decoded. Interim 1xx responses (100 Continue)
//! are sent as informational HEADERS. Memory stays bounded: at most one read
//! (16 KiB) is held while waiting for window, and the pipe holds 64 KiB.

use crate::http1::{parse_response_head, BodyFraming, ChunkedDecoder};
use bytes::{Bytes, BytesMut};
use h2::server::SendResponse;
use h2::{Reason, SendStream};
use tokio::io::{AsyncRead, AsyncReadExt};

const READ_CHUNK: usize = 16 * 1024;
/// The pipeline's own heads are far smaller; proxied ones are bounded by
/// proxy_buffer_size before they get here.
const MAX_HEAD: usize = 1 << 20;

/// Why the response could not be relayed.
#[derive(Debug)]
pub enum Fail {
    /// The pipeline closed without (complete) response: 444, broken upstream.
    Truncated,
    /// The client reset the stream or the connection is gone.
    Client,
}

/// Relays the response read from `out` to `respond`.
/// `head_request`: a HEAD response carries no body whatever its length says.
pub async fn relay<R: AsyncRead + Unpin>(
    out: &mut R,
    respond: &mut SendResponse<Bytes>,
    head_request: bool,
) -> Result<(), Fail> {
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let head = loop {
        match parse_response_head(&buf, MAX_HEAD) {
            Ok(Some(h)) if (100..200).contains(&h.status()) && !h.is_http09() => {
                let _ = buf.split_to(h.head_len());
                if h.status() != 101 {
                    let mut r = http::Response::new(());
                    *r.status_mut() = http::StatusCode::from_u16(h.status()).map_err(|_| Fail::Truncated)?;
                    respond.send_informational(r).map_err(|_| Fail::Client)?;
                }
                continue;
            }
            Ok(Some(h)) if !h.is_http09() => break h,
            // The pipeline writes well-formed heads; anything else (an HTTP/0.9
            // upstream body relayed as is) cannot be framed for HTTP/2.
            Ok(Some(_)) | Err(_) => return Err(Fail::Truncated),
            Ok(None) => {}
        }
        if read(out, &mut buf).await? == 0 {
            return Err(Fail::Truncated);
        }
    };
    let _ = buf.split_to(head.head_len());
    let mut resp = http::Response::new(());
    *resp.status_mut() = http::StatusCode::from_u16(head.status()).map_err(|_| Fail::Truncated)?;
    for (name, value) in head.headers() {
        if is_connection_specific(name) {
            continue;
        }
        let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name),
            http::HeaderValue::from_bytes(value),
        ) else {
            continue;
        };
        resp.headers_mut().append(n, v);
    }
    let framing = head.body_framing(head_request);
    if matches!(framing, BodyFraming::None | BodyFraming::Length(0)) {
        respond.send_response(resp, true).map_err(|_| Fail::Client)?;
        return Ok(());
    }
    let mut send = respond.send_response(resp, false).map_err(|_| Fail::Client)?;
    match framing {
        BodyFraming::None => Ok(()),
        BodyFraming::Length(mut left) => {
            while left > 0 {
                if buf.is_empty() && read(out, &mut buf).await? == 0 {
                    return Err(Fail::Truncated);
                }
                let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                left -= n as u64;
                send_data(&mut send, buf.split_to(n).freeze(), left == 0).await?;
            }
            Ok(())
        }
        BodyFraming::UntilClose => loop {
            if buf.is_empty() && read(out, &mut buf).await? == 0 {
                return send_data(&mut send, Bytes::new(), true).await;
            }
            let data = buf.split().freeze();
            send_data(&mut send, data, false).await?;
        },
        BodyFraming::Chunked => {
            let mut dec = ChunkedDecoder::new();
            loop {
                if buf.is_empty() && read(out, &mut buf).await? == 0 {
                    return Err(Fail::Truncated);
                }
                let step = dec.decode(&buf).map_err(|_| Fail::Truncated)?;
                let mut chunk = buf.split_to(step.consumed);
                if let Some(r) = step.data.filter(|r| r.start <= r.end && r.end <= chunk.len()) {
                    let data = chunk.split_to(r.end).split_off(r.start).freeze();
                    send_data(&mut send, data, false).await?;
                }
                if step.done {
                    return send_data(&mut send, Bytes::new(), true).await;
                }
            }
        }
    }
}

async fn read<R: AsyncRead + Unpin>(out: &mut R, buf: &mut BytesMut) -> Result<usize, Fail> {
    buf.reserve(READ_CHUNK);
    out.read_buf(buf).await.map_err(|_| Fail::Truncated)
}

/// Sends `data` as window allows (an empty `data` with `end` just ends the stream).
async fn send_data(send: &mut SendStream<Bytes>, mut data: Bytes, end: bool) -> Result<(), Fail> {
    if data.is_empty() {
        return send.send_data(data, end).map_err(|_| Fail::Client);
    }
    while !data.is_empty() {
        send.reserve_capacity(data.len());
        let cap = match std::future::poll_fn(|cx| send.poll_capacity(cx)).await {
            Some(Ok(n)) => n,
            _ => return Err(Fail::Client),
        };
        if cap == 0 {
            continue;
        }
        let part = data.split_to(cap.min(data.len()));
        send.send_data(part, end && data.is_empty())
            .map_err(|_| Fail::Client)?;
    }
    Ok(())
}

/// Fields HTTP/2 forbids in a response (RFC 9113 §8.2.2).
fn is_connection_specific(name: &[u8]) -> bool {
    [
        &b"connection"[..],
        b"keep-alive",
        b"proxy-connection",
        b"transfer-encoding",
        b"upgrade",
    ]
    .iter()
    .any(|c| name.eq_ignore_ascii_case(c))
}

/// The reset a broken relay ends with.
pub fn reason(f: &Fail) -> Reason {
    match f {
        Fail::Truncated => Reason::INTERNAL_ERROR,
        Fail::Client => Reason::CANCEL,
    }
}

#[cfg(test)]
mod tests {
    //! The relay against a real h2 client over an in-memory connection: the
    //! HTTP/1.1 bytes a pipeline would write, and what the client receives.
    use super::relay;
    use bytes::Bytes;
    use tokio::io::AsyncWriteExt;

    /// Feeds `h1` (written in two parts, to cross read boundaries) to the
    /// relay for one request; returns (status, headers, body) as the client saw them.
    async fn through(h1: &'static [u8], head: bool) -> Result<(u16, http::HeaderMap, Vec<u8>), h2::Error> {
        let (client_io, server_io) = tokio::io::duplex(1 << 16);
        let server = async move {
            let mut conn = h2::server::handshake(server_io).await.expect("server handshake");
            let (_req, mut respond) = conn.accept().await.expect("a stream").expect("ok stream");
            let (mut w, mut r) = tokio::io::duplex(1024);
            let write = async move {
                let (a, b) = h1.split_at(h1.len() / 2);
                let _ = w.write_all(a).await;
                let _ = w.write_all(b).await;
            };
            let (_, res) = tokio::join!(write, relay(&mut r, &mut respond, head));
            if let Err(f) = res {
                respond.send_reset(super::reason(&f));
            }
            // Keep driving the connection until the client is done.
            while conn.accept().await.is_some() {}
        };
        let client = async move {
            let (mut send, conn) = h2::client::handshake(client_io).await?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            let method = if head { "HEAD" } else { "GET" };
            let req = http::Request::builder()
                .method(method)
                .uri("http://x/")
                .body(())
                .expect("request");
            let (resp, _) = send.send_request(req, true)?;
            let resp = resp.await?;
            let (parts, mut body) = resp.into_parts();
            let mut out = Vec::new();
            while let Some(d) = body.data().await {
                let d: Bytes = d?;
                let _ = body.flow_control().release_capacity(d.len());
                out.extend_from_slice(&d);
            }
            Ok((parts.status.as_u16(), parts.headers, out))
        };
        let (_, r) = tokio::join!(server, client);
        r
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }

    #[test]
    fn chunked_body_decoded_and_connection_fields_dropped() {
        let (status, h, body) = rt()
            .block_on(through(
                b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
                false,
            ))
            .expect("response");
        assert_eq!((status, body.as_slice()), (200, &b"hello world"[..]));
        assert_eq!(h.get("x-a").map(|v| v.as_bytes()), Some(&b"1"[..]));
        for f in ["connection", "keep-alive", "transfer-encoding"] {
            assert!(h.get(f).is_none(), "{f}");
        }
    }

    #[test]
    fn interim_100_goes_apart_and_length_body_relayed() {
        let (status, h, body) = rt()
            .block_on(through(
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope",
                false,
            ))
            .expect("response");
        assert_eq!((status, body.as_slice()), (404, &b"nope"[..]));
        assert_eq!(h.get("content-length").map(|v| v.as_bytes()), Some(&b"4"[..]));
    }

    #[test]
    fn close_delimited_body_ends_with_the_pipe_and_head_has_none() {
        let (status, _, body) = rt()
            .block_on(through(b"HTTP/1.1 200 OK\r\n\r\nuntil close", false))
            .expect("response");
        assert_eq!((status, body.as_slice()), (200, &b"until close"[..]));
        let (status, h, body) = rt()
            .block_on(through(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", true))
            .expect("response");
        assert_eq!((status, body.len()), (200, 0));
        assert_eq!(h.get("content-length").map(|v| v.as_bytes()), Some(&b"10"[..]));
    }

    #[test]
    fn truncated_response_resets_the_stream() {
        let r = rt().block_on(through(
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
            false,
        ));
        let e = r.expect_err("a reset, not a complete body");
        assert_eq!(e.reason(), Some(h2::Reason::INTERNAL_ERROR));
        let r = rt().block_on(through(b"", false));
        assert_eq!(
            r.expect_err("no response: reset").reason(),
            Some(h2::Reason::INTERNAL_ERROR)
        );
    }
}
