//! Write coalescing under the h2 codec, so that the responses of many
//! streams leave in one write, as nginx's do.
//!
//! The h2 crate writes a DATA frame's payload straight from its buffer
//! (chained after the frame head) and must flush before it can encode the
//! next frame; without this layer every response costs at least one send
//! (and, over TLS, its own records) however many streams are ready. Here
//! writes are copied into one buffer and h2's flush is deferred by one turn
//! of the event loop: the first `poll_flush` after new bytes only wakes the
//! connection task again (behind the stream tasks already woken, which queue
//! their frames meanwhile); the next one writes everything. So a flush is
//! late by at most one scheduler pass, and the buffer is written out at once
//! whenever it reaches `MAX`, on shutdown, and before a read would wait.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Beyond this many pending bytes a write first drains the buffer.
const MAX: usize = 64 * 1024;

pub struct Coalesce<T> {
    inner: T,
    buf: Vec<u8>,
    /// Bytes of `buf` already written.
    pos: usize,
    /// A flush was asked for and put off once.
    deferred: bool,
}

impl<T: AsyncWrite + Unpin> Coalesce<T> {
    pub fn new(inner: T) -> Coalesce<T> {
        Coalesce {
            inner,
            buf: Vec::new(),
            pos: 0,
            deferred: false,
        }
    }

    /// Writes out everything pending.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.pos < self.buf.len() {
            let n = std::task::ready!(Pin::new(&mut self.inner).poll_write(cx, &self.buf[self.pos..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.pos += n;
        }
        self.buf.clear();
        self.pos = 0;
        self.deferred = false;
        // An idle connection keeps no buffer.
        if self.buf.capacity() > MAX {
            self.buf = Vec::new();
        }
        Poll::Ready(Ok(()))
    }

    /// Makes room for `n` more bytes (draining when the buffer would pass MAX).
    fn room(&mut self, cx: &mut Context<'_>, n: usize) -> Poll<io::Result<()>> {
        if self.buf.len() - self.pos + n > MAX && self.pos < self.buf.len() {
            std::task::ready!(self.drain(cx))?;
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for Coalesce<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        let r = Pin::new(&mut me.inner).poll_read(cx, buf);
        if r.is_pending() && me.pos < me.buf.len() {
            // About to wait for the peer: nothing of ours may wait with us.
            if let Poll::Ready(Err(e)) = me.drain(cx) {
                return Poll::Ready(Err(e));
            }
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Coalesce<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        std::task::ready!(me.room(cx, data.len()))?;
        me.buf.extend_from_slice(data);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        let n: usize = bufs.iter().map(|b| b.len()).sum();
        std::task::ready!(me.room(cx, n))?;
        for b in bufs {
            me.buf.extend_from_slice(b);
        }
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        if me.pos < me.buf.len() {
            if !me.deferred {
                me.deferred = true;
                cx.waker().wake_by_ref();
                return Poll::Ready(Ok(()));
            }
            std::task::ready!(me.drain(cx))?;
        }
        me.deferred = false;
        Pin::new(&mut me.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        std::task::ready!(me.drain(cx))?;
        Pin::new(&mut me.inner).poll_shutdown(cx)
    }
}
