//! Reading (or discarding) a client request body, by Content-Length or
//! chunked framing, with nginx's limits: `client_max_body_size` enforced while
//! streaming (413), `client_body_timeout` between two reads (408), and the
//! `100 Continue` interim response sent when the body is first wanted.

use super::io::{ClientIo, IoFail};
use crate::http1::{ChunkedDecoder, RequestHead, Version};
use std::time::Duration;
use tokio::time::Instant;

/// Largest piece handed to the caller at once (bounds memory per request).
pub const BODY_CHUNK: usize = 64 * 1024;

#[derive(Debug)]
pub enum BodyError {
    /// 408: the client stopped sending.
    Timeout,
    /// 413: the body grew past client_max_body_size.
    TooLarge,
    /// 400: broken chunked framing.
    Bad,
    /// The client went away.
    Closed,
    Io(std::io::Error),
}

impl BodyError {
    pub fn status(&self) -> u16 {
        match self {
            BodyError::Timeout => 408,
            BodyError::TooLarge => 413,
            BodyError::Bad => 400,
            BodyError::Closed | BodyError::Io(_) => 499,
        }
    }
}

impl From<IoFail> for BodyError {
    fn from(f: IoFail) -> Self {
        match f {
            IoFail::Timeout => BodyError::Timeout,
            IoFail::Closed => BodyError::Closed,
            IoFail::Error(e) => BodyError::Io(e),
        }
    }
}

enum Kind {
    Length(u64),
    Chunked(ChunkedDecoder),
    /// An HTTP/2 body of unknown length: the bytes as they come, until the
    /// stream ends (the head says `chunked`, as nginx's
    /// `r->headers_in.chunked` does for such a body, so that it is passed on
    /// chunked; the frames themselves carry no chunk framing).
    Stream,
    Done,
}

pub struct ReqBody {
    kind: Kind,
    expect_continue: bool,
    /// Body bytes received so far.
    pub received: u64,
    /// Framing bytes and data read (for `$request_length`).
    pub wire_bytes: u64,
    max: u64,
    timeout: Duration,
}

impl ReqBody {
    /// `framed_by_stream`: the connection delimits the body itself (HTTP/2).
    pub fn new(head: &RequestHead, max: u64, timeout: Duration, framed_by_stream: bool) -> ReqBody {
        let kind = if head.chunked() && framed_by_stream {
            Kind::Stream
        } else if head.chunked() {
            Kind::Chunked(ChunkedDecoder::new())
        } else {
            match head.content_length() {
                Some(n) if n > 0 => Kind::Length(n),
                _ => Kind::Done,
            }
        };
        let expect_continue = head.expect_continue() && head.version() == Version::Http11;
        ReqBody {
            kind,
            expect_continue,
            received: 0,
            wire_bytes: 0,
            max,
            timeout,
        }
    }

    /// Sets the location's limits once the location is known.
    pub fn set_limits(&mut self, max: u64, timeout: Duration) {
        self.max = max;
        self.timeout = timeout;
    }

    /// No body, or all of it has been read.
    pub fn is_done(&self) -> bool {
        matches!(self.kind, Kind::Done)
    }

    /// The length announced by Content-Length, if the body is length-delimited.
    pub fn known_length(&self) -> Option<u64> {
        match self.kind {
            Kind::Length(n) => Some(n + self.received),
            Kind::Done => Some(self.received),
            Kind::Chunked(_) | Kind::Stream => None,
        }
    }

    /// The length is unknown until the body ends (chunked, or an HTTP/2
    /// body without content-length).
    pub fn is_chunked(&self) -> bool {
        matches!(self.kind, Kind::Chunked(_) | Kind::Stream)
    }

    /// Sends `100 Continue` once, when the client asked for it
    /// (`ngx_http_test_expect`). nginx does so as soon as a handler reads or
    /// discards the body, whether or not there is one: reading it
    /// (`ngx_http_read_client_request_body`, so proxy_pass, before it
    /// connects) and the static and gzip_static handlers once they found the
    /// file (`ngx_http_discard_request_body`); not for its own error pages.
    /// Body bytes that already arrived with the head change nothing.
    pub async fn expect_test(&mut self, io: &mut ClientIo) -> Result<(), BodyError> {
        if self.expect_continue {
            self.expect_continue = false;
            io.send_continue(self.timeout).await?;
        }
        Ok(())
    }

    /// Appends the next piece of body (at most BODY_CHUNK bytes) to `out`.
    /// Returns `false` once the body is complete and nothing was added.
    pub async fn next(&mut self, io: &mut ClientIo, out: &mut Vec<u8>) -> Result<bool, BodyError> {
        self.expect_test(io).await?;
        loop {
            match &mut self.kind {
                Kind::Done => return Ok(false),
                Kind::Length(left) => {
                    if io.pending().is_empty() {
                        let want = (*left).min(BODY_CHUNK as u64) as usize;
                        io.read_more(want, Instant::now() + self.timeout).await?;
                        continue;
                    }
                    let avail = io.pending();
                    let n = avail.len().min(*left as usize).min(BODY_CHUNK);
                    out.extend_from_slice(&avail[..n]);
                    io.consume(n);
                    *left -= n as u64;
                    self.received += n as u64;
                    self.wire_bytes += n as u64;
                    if *left == 0 {
                        self.kind = Kind::Done;
                    }
                    return Ok(true);
                }
                Kind::Stream => {
                    if io.pending().is_empty() {
                        match io.read_more(BODY_CHUNK, Instant::now() + self.timeout).await {
                            Err(IoFail::Closed) => {
                                self.kind = Kind::Done;
                                return Ok(false);
                            }
                            r => r?,
                        };
                        continue;
                    }
                    let avail = io.pending();
                    let n = avail.len().min(BODY_CHUNK);
                    self.received += n as u64;
                    if self.max > 0 && self.received > self.max {
                        return Err(BodyError::TooLarge);
                    }
                    out.extend_from_slice(&avail[..n]);
                    io.consume(n);
                    self.wire_bytes += n as u64;
                    return Ok(true);
                }
                Kind::Chunked(_) if io.pending().is_empty() => {
                    io.read_more(BODY_CHUNK, Instant::now() + self.timeout).await?;
                }
                Kind::Chunked(dec) => {
                    let input = io.pending();
                    let step = dec.decode(input).map_err(|_| BodyError::Bad)?;
                    let mut added = false;
                    if let Some(r) = step.data.clone() {
                        let data = input.get(r).ok_or(BodyError::Bad)?;
                        self.received += data.len() as u64;
                        if self.max > 0 && self.received > self.max {
                            return Err(BodyError::TooLarge);
                        }
                        out.extend_from_slice(data);
                        added = !data.is_empty();
                    }
                    self.wire_bytes += step.consumed as u64;
                    io.consume(step.consumed);
                    if step.done {
                        self.kind = Kind::Done;
                        return Ok(added);
                    }
                    if added {
                        return Ok(true);
                    }
                }
            }
        }
    }

    /// Reads and drops the rest of the body so the connection can be reused
    /// (nginx's `ngx_http_discard_request_body`). Gives up after `limit` bytes
    /// or the deadline: the caller then closes the connection.
    pub async fn discard(
        &mut self,
        io: &mut ClientIo,
        limit: u64,
        deadline: Duration,
    ) -> Result<(), BodyError> {
        // Discarding runs after the response went out: a `100 Continue` now
        // would read as the answer to the client's next request.
        self.expect_continue = false;
        let until = Instant::now() + deadline;
        let mut scratch = Vec::new();
        let mut dropped = 0u64;
        while !self.is_done() {
            if Instant::now() >= until || dropped > limit {
                return Err(BodyError::Timeout);
            }
            scratch.clear();
            let max = std::mem::replace(&mut self.max, 0);
            let r = tokio::time::timeout_at(until, self.next(io, &mut scratch)).await;
            self.max = max;
            match r {
                Err(_) => return Err(BodyError::Timeout),
                Ok(r) => {
                    r?;
                }
            }
            dropped += scratch.len() as u64;
        }
        Ok(())
    }
}
