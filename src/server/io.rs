//! The client side of a connection: the socket plus the bytes read from it
//! but not consumed yet (pipelined requests, the start of a body).
//!
//! Between requests the buffer is freed, so an idle keep-alive connection
//! holds only the socket (nginx frees its header buffer the same way,
//! `ngx_http_set_keepalive`): the next request's buffer is allocated when its
//! first byte is readable.

use std::future::Future;
use std::io;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};

pub struct ClientIo {
    pub stream: TcpStream,
    /// Read but unconsumed bytes live in `buf[pos..]`.
    pub buf: Vec<u8>,
    pub pos: usize,
    /// Total bytes written to the client on this connection (for `$bytes_sent`).
    pub written: u64,
    /// The next request was already buffered when the last one finished (`$pipe`).
    pub pipelined: bool,
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
    pub fn new(stream: TcpStream) -> ClientIo {
        ClientIo {
            stream,
            buf: Vec::new(),
            pos: 0,
            written: 0,
            pipelined: false,
        }
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
        let sleep = tokio::time::sleep_until(deadline);
        let drain = super::state::drain_signal();
        tokio::pin!(sleep, drain);
        std::future::poll_fn(|cx| {
            use std::task::Poll;
            match self.stream.poll_read_ready(cx) {
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
            match timeout(send_timeout, self.stream.write(data)).await {
                Err(_) => return Err(IoFail::Timeout),
                Ok(Err(e)) => return Err(IoFail::Error(e)),
                Ok(Ok(0)) => return Err(IoFail::Closed),
                Ok(Ok(n)) => {
                    self.written += n as u64;
                    data = &data[n..];
                }
            }
        }
        Ok(())
    }
}
