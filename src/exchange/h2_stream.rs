//! One HTTP/2 stream as the client end of an exchange (`ClientStream::H2`):
//! the request body is read from the stream's DATA frames, the response head
//! goes out as one HEADERS frame ([`response`], the only place an HTTP/2
//! head is made) and the body as DATA frames within the stream's
//! flow-control window. The pipeline and its handlers see the same
//! `ClientIo` calls as on HTTP/1: no HTTP/1.1 text is written or parsed
//! between them and the frames, and no chunked framing is added (a body of
//! unknown length simply ends with END_STREAM).

use crate::exchange::io::IoFail;
use crate::http::response::{Framing, ResponseHead};
use crate::http::status::{wire_status, NGINX_VERSION};
use crate::log::clock;
use bytes::Bytes;
use h2::server::SendResponse;
use h2::{Reason, RecvStream, SendStream};
use std::io;
use std::time::Duration;
use tokio::time::{timeout, Instant};

/// The stream's two directions and where the response stands.
pub struct H2Stream {
    recv: RecvStream,
    respond: SendResponse<Bytes>,
    /// The body sender, once the head went out without END_STREAM.
    send: Option<SendStream<Bytes>>,
    /// A HEAD request: the response carries no DATA whatever its length says.
    head_request: bool,
    /// Body bytes still owed when the head announced a length.
    left: Option<u64>,
    /// END_STREAM went out (or the head had no body).
    ended: bool,
    /// The producer said a body of unknown length is complete.
    complete: bool,
    /// Bytes this stream may still queue before the peer's window covers
    /// them (h2 buffers them and sends them as window arrives): the first
    /// `SEND_AHEAD` bytes of a response go out without waiting for the
    /// connection task to assign capacity, so HEADERS and a small body leave
    /// in the same write instead of one write each. Bounded per stream, like
    /// the socket buffer an HTTP/1 response fills.
    ahead: usize,
}

/// How much of a response a stream queues before it waits for window
/// (the client's initial window is 64 KiB - 1 unless it says otherwise).
const SEND_AHEAD: usize = 64 * 1024;

impl H2Stream {
    pub fn new(recv: RecvStream, respond: SendResponse<Bytes>, head_request: bool) -> H2Stream {
        H2Stream {
            recv,
            respond,
            send: None,
            head_request,
            left: None,
            ended: false,
            complete: false,
            ahead: SEND_AHEAD,
        }
    }

    /// Appends the next DATA frame's bytes to `buf` and gives the window
    /// back at once: the bytes are now the pipeline's, which reads only as
    /// much as it wants, so a slow reader still slows the client down.
    /// The end of the stream is `Closed`.
    pub async fn read(&mut self, buf: &mut Vec<u8>, deadline: Instant) -> Result<usize, IoFail> {
        loop {
            let data = match tokio::time::timeout_at(deadline, self.recv.data()).await {
                Err(_) => return Err(IoFail::Timeout),
                Ok(None) => return Err(IoFail::Closed),
                Ok(Some(Err(e))) => return Err(IoFail::Error(io::Error::other(e))),
                Ok(Some(Ok(d))) => d,
            };
            let n = data.len();
            // An empty DATA frame (often the one carrying END_STREAM).
            if n == 0 {
                continue;
            }
            buf.extend_from_slice(&data);
            let _ = self.recv.flow_control().release_capacity(n);
            return Ok(n);
        }
    }

    /// `100 Continue` as an informational HEADERS frame.
    pub fn send_continue(&mut self) -> Result<(), IoFail> {
        let mut r = http::Response::new(());
        *r.status_mut() = http::StatusCode::CONTINUE;
        self.respond.send_informational(r).map_err(closed)
    }

    /// Sends the response head; returns the size nginx would count for it
    /// (the field lines as HTTP/1 text: HPACK's output is the codec's).
    pub fn send_head(
        &mut self,
        head: &ResponseHead,
        framing: Framing,
        server_tokens: bool,
    ) -> Result<u64, IoFail> {
        if self.send.is_some() || self.ended {
            return Err(IoFail::Error(io::Error::other("response head sent twice")));
        }
        let (resp, size) = response(head, framing, server_tokens);
        let status = head.status;
        let no_body = self.head_request
            || matches!(framing, Framing::NoBody | Framing::Length(0))
            || matches!(status, 100..=199 | 204 | 304);
        let send = self.respond.send_response(resp, no_body).map_err(closed)?;
        if no_body {
            self.ended = true;
        } else {
            self.left = match framing {
                Framing::Length(n) => Some(n),
                _ => None,
            };
            self.send = Some(send);
        }
        Ok(size)
    }

    /// Marks a body of unknown length complete: the stream then ends with
    /// END_STREAM rather than a reset.
    pub fn end_body(&mut self) {
        self.complete = true;
    }

    /// Sends `data` as DATA frames as the window allows, each wait for
    /// window bounded by `send_timeout`. A body past the announced length is
    /// cut there; after the end of the stream (a HEAD response) bytes are
    /// dropped.
    pub async fn send_data(&mut self, data: &[u8], send_timeout: Duration) -> Result<(), IoFail> {
        if self.ended {
            return Ok(());
        }
        let Some(send) = self.send.as_mut() else {
            // A body without a head (an HTTP/0.9 upstream): HTTP/2 cannot frame it.
            return Err(IoFail::Error(io::Error::other("body without a response head")));
        };
        let mut data = data;
        if let Some(left) = self.left {
            data = &data[..data.len().min(usize::try_from(left).unwrap_or(usize::MAX))];
        }
        while !data.is_empty() {
            let n = if self.ahead > 0 {
                // Queued at once; h2 sends it as the windows allow.
                let n = self.ahead.min(data.len());
                self.ahead -= n;
                n
            } else {
                send.reserve_capacity(data.len());
                let cap = match timeout(send_timeout, std::future::poll_fn(|cx| send.poll_capacity(cx))).await
                {
                    Err(_) => return Err(IoFail::Timeout),
                    Ok(Some(Ok(n))) => n,
                    Ok(Some(Err(e))) => return Err(closed(e)),
                    Ok(None) => return Err(IoFail::Closed),
                };
                if cap == 0 {
                    continue;
                }
                cap.min(data.len())
            };
            let (part, rest) = data.split_at(n);
            data = rest;
            let end = match &mut self.left {
                Some(left) => {
                    *left -= n as u64;
                    *left == 0
                }
                None => false,
            };
            send.send_data(Bytes::copy_from_slice(part), end)
                .map_err(closed)?;
            if end {
                self.ended = true;
                self.send = None;
                return Ok(());
            }
        }
        Ok(())
    }

    /// Ends the stream once the exchange is over: END_STREAM after a
    /// complete body, RST_STREAM INTERNAL_ERROR when there was no head
    /// (`return 444`, a timeout, a broken upstream) or the body fell short
    /// (nginx resets such a stream too).
    pub fn finish(mut self) {
        if self.ended {
            return;
        }
        match self.send.as_mut() {
            None => self.respond.send_reset(Reason::INTERNAL_ERROR),
            // (A body of known length ended the stream with its last byte.)
            Some(send) if self.complete => {
                let _ = send.send_data(Bytes::new(), true);
            }
            Some(send) => send.send_reset(Reason::INTERNAL_ERROR),
        }
    }
}

fn closed(e: h2::Error) -> IoFail {
    if e.is_io() {
        IoFail::Error(e.into_io().unwrap_or_else(|| io::Error::other("h2")))
    } else {
        IoFail::Closed
    }
}

/// The response head as HTTP/2 fields, in nginx's order (`:status`, server,
/// date, content-type, content-length, last-modified, location, vary, then
/// the rest, as ngx_http_v2_header_filter writes them), without the fields
/// HTTP/2 forbids (RFC 9113 §8.2.2). Also returns the head's size as the
/// HTTP/1.1 head would have counted it, for `$bytes_sent`.
pub fn response(head: &ResponseHead, framing: Framing, server_tokens: bool) -> (http::Response<()>, u64) {
    use http::header::{self, HeaderName, HeaderValue};
    let status = wire_status(head.status);
    let mut resp = http::Response::new(());
    *resp.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    // The status line's length ("HTTP/1.1 200 OK\r\n"), then each field's.
    let mut size = 17u64;
    let mut put = |h: &mut http::HeaderMap, name: HeaderName, value: HeaderValue| {
        size += (name.as_str().len() + value.len() + 4) as u64;
        h.append(name, value);
    };
    let server = if server_tokens {
        // Made once: a constant's text, not state.
        static FULL: std::sync::OnceLock<HeaderValue> = std::sync::OnceLock::new();
        FULL.get_or_init(|| {
            HeaderValue::from_str(&format!("nginx/{NGINX_VERSION}"))
                .unwrap_or(HeaderValue::from_static("nginx"))
        })
        .clone()
    } else {
        HeaderValue::from_static("nginx")
    };
    put(h, header::SERVER, server);
    if let Some(d) = date_value() {
        put(h, header::DATE, d);
    }
    if let Some(v) = head.content_type.as_ref().and_then(value) {
        put(h, header::CONTENT_TYPE, v);
    }
    if let Framing::Length(n) = framing {
        if !matches!(status, 100..=199 | 204 | 304) {
            put(h, header::CONTENT_LENGTH, HeaderValue::from(n));
        }
    }
    if let Some(v) = head.last_modified.as_ref().and_then(value) {
        put(h, header::LAST_MODIFIED, v);
    }
    if let Some(v) = head.location.as_ref().and_then(value) {
        put(h, header::LOCATION, v);
    }
    if head.vary_accept_encoding {
        put(h, header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    for (n, v) in &head.headers {
        if is_connection_specific(n) {
            continue;
        }
        if let (Ok(n), Some(v)) = (HeaderName::from_bytes(n), value(v)) {
            put(h, n, v);
        }
    }
    (resp, size)
}

/// The `date` field, made once a second per thread rather than per response.
fn date_value() -> Option<http::HeaderValue> {
    thread_local! {
        static CACHE: std::cell::RefCell<Option<(String, http::HeaderValue)>> =
            const { std::cell::RefCell::new(None) };
    }
    let now = clock::now();
    let date = now.http_date();
    CACHE.with(|c| {
        let mut c = c.try_borrow_mut().ok()?;
        if let Some((d, v)) = c.as_ref() {
            if d == date {
                return Some(v.clone());
            }
        }
        let v = http::HeaderValue::from_str(date).ok()?;
        *c = Some((date.to_string(), v.clone()));
        Some(v)
    })
}

fn value(v: &Bytes) -> Option<http::HeaderValue> {
    http::HeaderValue::from_maybe_shared(v.clone()).ok()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_fields_in_nginx_order_without_connection_fields() {
        let mut h = ResponseHead::new(200);
        h.content_type = Some(Bytes::from_static(b"text/html"));
        h.last_modified = Some(Bytes::from_static(b"Thu, 01 Jan 1970 00:00:01 GMT"));
        h.vary_accept_encoding = true;
        h.push(b"Connection", b"close");
        h.push(b"Keep-Alive", b"timeout=5");
        h.push(b"X-A", b"1");
        h.push(b"Bad", b"a\x01b");
        let (r, size) = response(&h, Framing::Length(5), true);
        let names: Vec<&str> = r.headers().keys().map(|k| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "server",
                "date",
                "content-type",
                "content-length",
                "last-modified",
                "vary",
                "x-a"
            ]
        );
        assert_eq!(r.headers()["server"], "nginx/1.22.1");
        assert_eq!(r.headers()["content-length"], "5");
        assert!(size > 100, "{size}");
        // No length for statuses without a body; unknown codes pass through.
        let (r, _) = response(&ResponseHead::new(304), Framing::Length(9), false);
        assert!(r.headers().get("content-length").is_none());
        assert_eq!(r.headers()["server"], "nginx");
        let (r, _) = response(&ResponseHead::new(599), Framing::Chunked, false);
        assert_eq!(r.status().as_u16(), 599);
    }
}
