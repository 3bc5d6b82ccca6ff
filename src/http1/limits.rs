//! nginx's client header buffer model (`ngx_http_alloc_large_header_buffer`,
//! src/http/ngx_http_request.c), replayed over the bytes of a head.
//!
//! nginx reads the head into one `client_header_buffer_size` buffer. When it fills in the middle
//! of a line, the unfinished line (only that line) moves to a fresh `large_client_header_buffers`
//! buffer, and later lines are appended there; each move takes a new large buffer. A request
//! line that cannot be placed gives 414, a header line 494:
//! - a line (with its CR LF) longer than one large buffer;
//! - more than `large_buffers` moves. The final empty line counts: it too has to fit.
//!
//! Checked against nginx 1.22.1 with `client_header_buffer_size 100; large_client_header_buffers
//! 2 600;` (request/header lines of 599/600/601 bytes, and heads that pack the two large buffers
//! exactly or overflow them by one byte). Leading empty lines occupy the first buffer only.

use super::error::{self, HeadError};
use super::request::HeadLimits;

/// Replays the buffer model over `buf` (a complete head, or the bytes of one so far).
/// `rl_start` is where the request line begins (after skipped empty lines).
///
/// The error comes with the offset at which nginx decides it: the end of the buffer that filled
/// up. nginx has parsed every byte before that offset by then (and no byte after it, which it has
/// not read), so a malformed byte before it wins over the size error, one after it loses
/// (`GET /<9000 bytes, a control byte at 8500>` is a 414, not a 400).
pub(crate) fn check(buf: &[u8], rl_start: usize, limits: &HeadLimits) -> Result<(), (HeadError, usize)> {
    let large = limits.large_buffer_size;
    let mut buf_start = 0usize;
    let mut cap = limits.client_header_buffer_size;
    let mut used = 0usize;
    let mut line_start = rl_start;
    let mut request_line = true;
    loop {
        let (line_end, complete) = match memchr::memchr(b'\n', &buf[line_start..]) {
            Some(off) => (line_start + off + 1, true),
            None => (buf.len(), false),
        };
        let too_long = if request_line {
            error::TOO_LONG_URI
        } else {
            error::TOO_LONG_HEADER
        };
        // nginx moves a line when the buffer is full and the line is unfinished: for a complete
        // line, when it does not fit; for an incomplete one, once it reaches the buffer's end.
        let overflows = if complete {
            line_end - buf_start > cap
        } else {
            line_end - buf_start >= cap
        };
        if overflows {
            // The part already in the full buffer must be shorter than a large buffer.
            let full_at = buf_start + cap;
            if full_at.saturating_sub(line_start) >= large {
                return Err((too_long, full_at));
            }
            used += 1;
            if used > limits.large_buffers {
                return Err((too_long, full_at));
            }
            buf_start = line_start;
            cap = large;
            let len = line_end - line_start;
            if (complete && len > large) || (!complete && len >= large) {
                return Err((too_long, line_start + large));
            }
        }
        if !complete || line_end >= buf.len() {
            return Ok(());
        }
        // The line just placed was the empty one: the head is over.
        let body = &buf[line_start..line_end];
        if !request_line && (body == b"\n" || body == b"\r\n") {
            return Ok(());
        }
        request_line = false;
        line_start = line_end;
    }
}
