//! The in-memory pair of pipes that lets the HTTP/1.1 pipeline serve one
//! HTTP/2 stream unchanged: the pipeline reads the request body from `body`
//! and writes its HTTP/1.1 response into `out`; the stream's adapter feeds
//! the first and translates the second into HEADERS and DATA frames.
//!
//! Two one-way pipes rather than one duplex, so that each side's end of each
//! direction closes on its own: when the client resets the stream, the
//! adapter drops its reading end and the pipeline's next write fails at once
//! (as a write to a closed socket would), whatever the body pump still holds.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};

/// How much of a response may sit between the pipeline and the h2 sender,
/// and of a request body between the h2 receiver and the pipeline.
pub const PIPE_BUFFER: usize = 64 * 1024;

/// The pipeline's side: reads the request body, writes the response.
pub struct StreamPipe {
    body: DuplexStream,
    out: DuplexStream,
}

/// The adapter's side.
pub struct AdapterEnds {
    /// Where the request body goes (HTTP/1.1-framed).
    pub body: DuplexStream,
    /// Where the HTTP/1.1 response comes from.
    pub out: DuplexStream,
}

pub fn pair() -> (StreamPipe, AdapterEnds) {
    let (body_pipeline, body_adapter) = tokio::io::duplex(PIPE_BUFFER);
    let (out_pipeline, out_adapter) = tokio::io::duplex(PIPE_BUFFER);
    (
        StreamPipe {
            body: body_pipeline,
            out: out_pipeline,
        },
        AdapterEnds {
            body: body_adapter,
            out: out_adapter,
        },
    )
}

impl AsyncRead for StreamPipe {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().body).poll_read(cx, buf)
    }
}

impl AsyncWrite for StreamPipe {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().out).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().out).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().out).poll_shutdown(cx)
    }
}
