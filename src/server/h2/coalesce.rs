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
            // The flush pushes out what TLS still holds, or registers for
            // writability so that the connection is polled again.
            match me.drain(cx) {
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) => {
                    if let Poll::Ready(Err(e)) = Pin::new(&mut me.inner).poll_flush(cx) {
                        return Poll::Ready(Err(e));
                    }
                }
                Poll::Pending => {}
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

#[cfg(test)]
mod tests {
    use super::Coalesce;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Whether `b` has bytes within a short wait, and which.
    async fn pending(b: &mut tokio::io::DuplexStream) -> Vec<u8> {
        let mut buf = vec![0u8; 1 << 18];
        match tokio::time::timeout(Duration::from_millis(20), b.read(&mut buf)).await {
            Ok(Ok(n)) => buf[..n].to_vec(),
            _ => Vec::new(),
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_flush_is_put_off_once_then_everything_goes_in_one_write() {
        let (a, mut b) = tokio::io::duplex(1 << 20);
        let mut c = Coalesce::new(a);
        c.write_all(b"one ").await.unwrap();
        c.write_all(b"two").await.unwrap();
        c.flush().await.unwrap();
        assert!(pending(&mut b).await.is_empty(), "the first flush waits a turn");
        c.flush().await.unwrap();
        assert_eq!(pending(&mut b).await, b"one two");
        // Nothing pending: a flush is a flush.
        c.flush().await.unwrap();
        assert!(pending(&mut b).await.is_empty());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_full_buffer_and_shutdown_drain_at_once() {
        let (a, mut b) = tokio::io::duplex(1 << 20);
        let mut c = Coalesce::new(a);
        c.write_all(&[1u8; 40 * 1024]).await.unwrap();
        // 80 KiB would pass MAX: the first 40 KiB go out before the second is taken.
        c.write_all(&[2u8; 40 * 1024]).await.unwrap();
        let got = pending(&mut b).await;
        assert_eq!(got.len(), 40 * 1024);
        assert!(got.iter().all(|&x| x == 1));
        c.shutdown().await.unwrap();
        let mut rest = Vec::new();
        b.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest.len(), 40 * 1024);
        assert!(rest.iter().all(|&x| x == 2));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn waiting_to_read_drains_what_is_pending() {
        let (a, mut b) = tokio::io::duplex(1 << 20);
        let mut c = Coalesce::new(a);
        c.write_all(b"ping").await.unwrap();
        // The peer answers only once it has our bytes: a read that would
        // wait must send them first, or both sides wait for ever.
        let peer = async {
            let mut buf = [0u8; 4];
            b.read_exact(&mut buf).await.unwrap();
            b.write_all(b"pong").await.unwrap();
            buf
        };
        let mut got = [0u8; 4];
        let (sent, _) = tokio::join!(peer, async {
            tokio::time::timeout(Duration::from_secs(5), c.read_exact(&mut got))
                .await
                .expect("not deadlocked")
                .unwrap()
        });
        assert_eq!((&sent, &got), (b"ping", b"pong"));
    }
}
