//! The client side of a connection: the socket plus the bytes read from it
//! but not consumed yet (pipelined requests, the start of a body).
//!
//! Between requests the buffer is freed, so an idle keep-alive connection
//! holds only the socket (nginx frees its header buffer the same way,
//! `ngx_http_set_keepalive`): the next request's buffer is allocated when its
//! first byte is readable.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};

use crate::http::response::{ConnHeader, Framing, ResponseHead};

/// The client connection: plain TCP, TLS over it (`listen ... ssl`), or one
/// HTTP/2 stream (exchange::h2_stream), which has no byte stream of its own:
/// it is read and written through `ClientIo`'s request-body and response
/// calls only.
/// An enum rather than a boxed trait object so that the plain path stays a
/// direct call after one predictable branch.
pub enum ClientStream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    H2(Box<super::h2_stream::H2Stream>),
}

impl ClientStream {
    /// The TCP socket (none for an HTTP/2 stream: its connection owns it).
    pub fn tcp(&self) -> Option<&TcpStream> {
        match self {
            ClientStream::Plain(s) => Some(s),
            ClientStream::Tls(t) => Some(t.get_ref().0),
            ClientStream::H2(_) => None,
        }
    }

    /// Reads whatever the socket has without waiting (raw bytes: for TLS
    /// this only drains ciphertext, which is all a lingering close needs).
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self.tcp() {
            Some(t) => t.try_read(buf),
            None => Err(io::ErrorKind::Unsupported.into()),
        }
    }

    /// Both directions at once (the upgrade tunnel).
    pub fn split(&mut self) -> (tokio::io::ReadHalf<&mut Self>, tokio::io::WriteHalf<&mut Self>) {
        tokio::io::split(self)
    }
}

impl AsyncRead for ClientStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            ClientStream::Tls(t) => Pin::new(t.as_mut()).poll_read(cx, buf),
            ClientStream::H2(_) => Poll::Ready(Err(no_bytes())),
        }
    }
}

impl AsyncWrite for ClientStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            ClientStream::Tls(t) => Pin::new(t.as_mut()).poll_write(cx, buf),
            ClientStream::H2(_) => Poll::Ready(Err(no_bytes())),
        }
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            ClientStream::Tls(t) => Pin::new(t.as_mut()).poll_write_vectored(cx, bufs),
            ClientStream::H2(_) => Poll::Ready(Err(no_bytes())),
        }
    }
    fn is_write_vectored(&self) -> bool {
        match self {
            ClientStream::Plain(s) => s.is_write_vectored(),
            ClientStream::Tls(t) => t.is_write_vectored(),
            ClientStream::H2(_) => false,
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_flush(cx),
            ClientStream::Tls(t) => Pin::new(t.as_mut()).poll_flush(cx),
            ClientStream::H2(_) => Poll::Ready(Err(no_bytes())),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            ClientStream::Tls(t) => Pin::new(t.as_mut()).poll_shutdown(cx),
            ClientStream::H2(_) => Poll::Ready(Err(no_bytes())),
        }
    }
}

/// An HTTP/2 stream is not a byte stream (the upgrade tunnel and lingering
/// close are HTTP/1 only).
fn no_bytes() -> io::Error {
    io::ErrorKind::Unsupported.into()
}

pub struct ClientIo {
    pub stream: ClientStream,
    /// Read but unconsumed bytes live in `buf[pos..]`.
    pub buf: Vec<u8>,
    pub pos: usize,
    /// Total bytes written to the client on this connection (for `$bytes_sent`).
    pub written: u64,
    /// The next request was already buffered when the last one finished (`$pipe`).
    pub pipelined: bool,
    /// `limit_rate` of the response being written, if any.
    pub limit: Option<RateLimit>,
    /// The request being answered is HTTP/0.9: its response is the body alone, with no status
    /// line, headers or chunk framing (nginx's header filter skips `http_version < 1.0`).
    pub http09: bool,
}

/// nginx's `limit_rate` / `limit_rate_after` (ngx_http_write_filter_module.c):
/// by `t` seconds after the request started, at most
/// `after + rate * (t + 1)` bytes (headers included) may have been sent.
/// nginx counts whole seconds; this counts milliseconds, so the pace is the
/// same but smoother.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    pub rate: u64,
    pub after: u64,
    pub start: std::time::Instant,
    /// `written` when the response began.
    pub base: u64,
}

impl RateLimit {
    /// How many bytes may go now, given `sent` so far; 0 = wait `Duration`.
    fn allowance(&self, sent: u64, now: std::time::Instant) -> (u64, Duration) {
        let ms = now.saturating_duration_since(self.start).as_millis() as u64 + 1000;
        let allowed = self.after.saturating_add(self.rate.saturating_mul(ms) / 1000);
        if allowed > sent {
            return (allowed - sent, Duration::ZERO);
        }
        // When will `allowed` exceed `sent`?
        let need = sent - self.after.min(sent) + 1;
        let at_ms = need.saturating_mul(1000).div_ceil(self.rate.max(1));
        (0, Duration::from_millis(at_ms.saturating_sub(ms).max(1)))
    }
}

/// Why a read or write did not complete.
#[derive(Debug)]
pub enum IoFail {
    Timeout,
    Closed,
    Error(io::Error),
}

impl From<io::Error> for IoFail {
    fn from(e: io::Error) -> Self {
        IoFail::Error(e)
    }
}

impl ClientIo {
    fn over(stream: ClientStream) -> ClientIo {
        ClientIo {
            stream,
            buf: Vec::new(),
            pos: 0,
            written: 0,
            pipelined: false,
            limit: None,
            http09: false,
        }
    }

    pub fn new(stream: TcpStream) -> ClientIo {
        ClientIo::over(ClientStream::Plain(stream))
    }

    pub fn tls(stream: tokio_rustls::server::TlsStream<TcpStream>) -> ClientIo {
        ClientIo::over(ClientStream::Tls(Box::new(stream)))
    }

    /// One HTTP/2 stream's request body in and response out.
    pub fn h2(stream: super::h2_stream::H2Stream) -> ClientIo {
        ClientIo::over(ClientStream::H2(Box::new(stream)))
    }

    /// Unconsumed bytes.
    pub fn pending(&self) -> &[u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    pub fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.buf.len());
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
    }

    /// Drops the buffer's memory when nothing is pending (idle connections hold no buffer).
    pub fn release_buffer(&mut self) {
        if self.pos >= self.buf.len() {
            self.buf = Vec::new();
            self.pos = 0;
        }
    }

    /// Moves pending bytes to the front so the buffer can grow without copying garbage.
    fn compact(&mut self) {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
    }

    /// Reads more bytes into the buffer (at most `max_chunk` at once), waiting
    /// until `deadline`. Returns the number of bytes read; EOF is `Closed`.
    pub async fn read_more(&mut self, max_chunk: usize, deadline: Instant) -> Result<usize, IoFail> {
        use bytes::BufMut;
        self.compact();
        if let ClientStream::H2(s) = &mut self.stream {
            return s.read(&mut self.buf, deadline).await;
        }
        let max_chunk = max_chunk.max(1);
        self.buf.reserve(max_chunk);
        // read_buf fills spare capacity without zeroing it first.
        let mut limited = (&mut self.buf).limit(max_chunk);
        match tokio::time::timeout_at(deadline, self.stream.read_buf(&mut limited)).await {
            Err(_) => Err(IoFail::Timeout),
            Ok(Err(e)) => Err(IoFail::Error(e)),
            Ok(Ok(0)) => Err(IoFail::Closed),
            Ok(Ok(n)) => Ok(n),
        }
    }

    /// Waits until the socket is readable (or `deadline`, or a graceful stop)
    /// without holding a buffer. Polls readiness directly rather than through
    /// `readable()`, whose future would add ~150 bytes to every idle connection.
    pub async fn wait_readable(&mut self, deadline: Instant) -> Result<(), IoFail> {
        if !self.pending().is_empty() {
            return Ok(());
        }
        if let ClientStream::Tls(_) | ClientStream::H2(_) = self.stream {
            // Socket readiness says nothing about plaintext rustls already
            // holds: read for real, into a small buffer (an idle TLS
            // connection then holds 1 KiB here besides rustls's own buffers;
            // the head reader grows it as nginx's client_header_buffer_size would).
            // Boxed: plain connections (most idle ones) keep no room for it.
            return Box::pin(async {
                let drain = super::lifecycle::drain_signal();
                tokio::select! {
                    r = self.read_more(1024, deadline) => r.map(|_| ()),
                    _ = drain => Err(IoFail::Closed),
                }
            })
            .await;
        }
        let stream = match &self.stream {
            ClientStream::Plain(s) => s,
            ClientStream::Tls(_) | ClientStream::H2(_) => return Err(IoFail::Closed),
        };
        let sleep = tokio::time::sleep_until(deadline);
        let drain = super::lifecycle::drain_signal();
        tokio::pin!(sleep, drain);
        std::future::poll_fn(|cx| {
            use std::task::Poll;
            match stream.poll_read_ready(cx) {
                Poll::Ready(Ok(())) => return Poll::Ready(Ok(())),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(IoFail::Error(e))),
                Poll::Pending => {}
            }
            if drain.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(IoFail::Closed));
            }
            if sleep.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(IoFail::Timeout));
            }
            Poll::Pending
        })
        .await
    }

    /// Writes all of `data`; `send_timeout` bounds each wait for the socket
    /// (nginx's send_timeout is between two successive writes).
    pub async fn write_all(&mut self, mut data: &[u8], send_timeout: Duration) -> Result<(), IoFail> {
        while !data.is_empty() {
            let mut chunk = data;
            if let Some(l) = self.limit {
                let (n, wait) =
                    l.allowance(self.written - l.base.min(self.written), std::time::Instant::now());
                if n == 0 {
                    tokio::time::sleep(wait).await;
                    continue;
                }
                chunk = &data[..data.len().min(usize::try_from(n).unwrap_or(usize::MAX))];
            }
            if let ClientStream::H2(s) = &mut self.stream {
                s.send_data(chunk, send_timeout).await?;
                self.written += chunk.len() as u64;
                data = &data[chunk.len()..];
                continue;
            }
            match timeout(send_timeout, self.stream.write(chunk)).await {
                Err(_) => return Err(IoFail::Timeout),
                Ok(Err(e)) => return Err(IoFail::Error(e)),
                Ok(Ok(0)) => return Err(IoFail::Closed),
                Ok(Ok(n)) => {
                    self.written += n as u64;
                    data = &data[n..];
                }
            }
        }
        if let ClientStream::Tls(t) = &mut self.stream {
            // rustls may keep records queued when the socket was full.
            match timeout(send_timeout, t.flush()).await {
                Err(_) => return Err(IoFail::Timeout),
                Ok(Err(e)) => return Err(IoFail::Error(e)),
                Ok(Ok(())) => {}
            }
        }
        Ok(())
    }

    /// Starts the response: the one place a response head goes to the
    /// client. On HTTP/1 the head is appended to `out` (written with the
    /// first body bytes, one send); on HTTP/2 it goes out as HEADERS now.
    /// Returns the head's size (`$bytes_sent` less the body).
    pub fn begin_response(
        &mut self,
        head: &ResponseHead,
        framing: Framing,
        conn: ConnHeader,
        server_tokens: bool,
        out: &mut Vec<u8>,
    ) -> Result<u64, IoFail> {
        match &mut self.stream {
            ClientStream::H2(s) => {
                let n = s.send_head(head, framing, server_tokens)?;
                self.written += n;
                Ok(n)
            }
            _ if self.http09 => Ok(0),
            _ => {
                let before = out.len();
                let date = crate::log::clock::now();
                head.write(framing, conn, server_tokens, date.http_date().as_bytes(), out);
                Ok((out.len() - before) as u64)
            }
        }
    }

    /// Whether a body of this framing is written in HTTP/1.1 chunks here
    /// (HTTP/2 frames the body itself: its DATA frames carry it as is).
    pub fn chunks(&self, framing: Framing) -> bool {
        framing == Framing::Chunked && !matches!(self.stream, ClientStream::H2(_)) && !self.http09
    }

    /// Appends `data` to `out` as the body framing wants it: one HTTP/1.1
    /// chunk (nothing for no data: that would be the last chunk), or as is.
    pub fn frame_body(&self, framing: Framing, data: &[u8], out: &mut Vec<u8>) {
        if self.chunks(framing) {
            if data.is_empty() {
                return;
            }
            crate::http1::write_chunk_header(data.len(), out);
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
        } else {
            out.extend_from_slice(data);
        }
    }

    /// The body is complete: appends the last chunk to `out` on HTTP/1.1
    /// chunked, and lets an HTTP/2 stream end with END_STREAM.
    pub fn end_body(&mut self, framing: Framing, out: &mut Vec<u8>) {
        if self.chunks(framing) {
            out.extend_from_slice(crate::http1::LAST_CHUNK);
        }
        if let ClientStream::H2(s) = &mut self.stream {
            s.end_body();
        }
    }

    /// `100 Continue`: a status line on HTTP/1.1, informational HEADERS on HTTP/2.
    pub async fn send_continue(&mut self, send_timeout: Duration) -> Result<(), IoFail> {
        match &mut self.stream {
            ClientStream::H2(s) => s.send_continue(),
            _ => {
                self.write_all(b"HTTP/1.1 100 Continue\r\n\r\n", send_timeout)
                    .await
            }
        }
    }

    /// Sends `head`, then `len` bytes of `file` from `off` with sendfile(2) on a plain TCP
    /// connection without `limit_rate`; the bytes sent (fewer when the file
    /// ended early). The caller makes sure the pages are in memory and the
    /// file is local: sendfile reads them on this thread.
    pub async fn sendfile(
        &mut self,
        head: &[u8],
        file: &std::fs::File,
        mut off: u64,
        len: u64,
        send_timeout: Duration,
    ) -> Result<u64, IoFail> {
        use std::os::fd::AsRawFd;
        let ClientStream::Plain(s) = &self.stream else {
            return Err(IoFail::Error(io::ErrorKind::Unsupported.into()));
        };
        // The head goes with MSG_MORE, so the kernel holds it back and sends
        // it in full segments with the file's first pages (what nginx gets
        // from tcp_nopush), instead of a small segment of its own.
        let mut head = head;
        while !head.is_empty() {
            let r = s.try_io(tokio::io::Interest::WRITABLE, || {
                // SAFETY: the pointer and length describe `head`, alive for the call.
                let n = unsafe {
                    libc::send(
                        s.as_raw_fd(),
                        head.as_ptr().cast(),
                        head.len(),
                        libc::MSG_MORE | libc::MSG_NOSIGNAL,
                    )
                };
                usize::try_from(n).map_err(|_| io::Error::last_os_error())
            });
            match r {
                Ok(0) => return Err(IoFail::Closed),
                Ok(n) => {
                    self.written += n as u64;
                    head = &head[n..];
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => writable(s, send_timeout).await?,
                Err(e) => return Err(IoFail::Error(e)),
            }
        }
        let (start, end) = (off, off.saturating_add(len));
        while off < end {
            let want = usize::try_from(end - off).unwrap_or(usize::MAX).min(1 << 30);
            let Ok(mut at) = libc::off_t::try_from(off) else {
                break;
            };
            let r = s.try_io(tokio::io::Interest::WRITABLE, || {
                // SAFETY: both descriptors are open for the call; `at` is a
                // valid off_t the kernel advances.
                let n = unsafe { libc::sendfile(s.as_raw_fd(), file.as_raw_fd(), &mut at, want) };
                usize::try_from(n).map_err(|_| io::Error::last_os_error())
            });
            match r {
                Ok(0) => break,
                Ok(n) => {
                    off += n as u64;
                    self.written += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => writable(s, send_timeout).await?,
                Err(e) => return Err(IoFail::Error(e)),
            }
        }
        Ok(off - start)
    }

    /// Whether sendfile can carry a body on this connection now.
    pub fn can_sendfile(&self) -> bool {
        matches!(self.stream, ClientStream::Plain(_)) && self.limit.is_none()
    }
}

/// Waits until `s` can take more bytes, at most `send_timeout`.
async fn writable(s: &TcpStream, send_timeout: Duration) -> Result<(), IoFail> {
    match timeout(send_timeout, s.writable()).await {
        Err(_) => Err(IoFail::Timeout),
        Ok(Err(e)) => Err(IoFail::Error(e)),
        Ok(Ok(())) => Ok(()),
    }
}

#[cfg(test)]
mod rate_tests {
    use super::RateLimit;
    use std::time::{Duration, Instant};

    #[test]
    fn allowance_follows_nginx_formula() {
        let start = Instant::now();
        let l = RateLimit {
            rate: 1000,
            after: 500,
            start,
            base: 0,
        };
        // At t=0: after + rate * 1s.
        assert_eq!(l.allowance(0, start), (1500, Duration::ZERO));
        assert_eq!(l.allowance(1000, start), (500, Duration::ZERO));
        // Everything allowed so far was sent: wait until one more byte is allowed.
        let (n, wait) = l.allowance(1500, start);
        assert_eq!(n, 0);
        assert_eq!(wait, Duration::from_millis(1));
        let (n, wait) = l.allowance(2500, start);
        assert_eq!(n, 0);
        assert_eq!(wait, Duration::from_millis(1001));
        // Two seconds later: 500 + 3000.
        assert_eq!(
            l.allowance(2500, start + Duration::from_secs(2)),
            (1000, Duration::ZERO)
        );
    }
}
