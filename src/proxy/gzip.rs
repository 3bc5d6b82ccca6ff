//! The gzip filter's encoder for a proxied body. Whether the response is
//! compressed is the one gzip decision (`filters::gzip::decide`, the same
//! for every response); this picks how: a buffered body known or still
//! likely to fit in one piece is held and compressed whole when it ends
//! (see `Gzip::buffered`), an unbuffered one (`proxy_buffering off`,
//! `X-Accel-Buffering: no`) streams and is flushed after each upstream read.

use crate::filters::gzip::Gzip;

/// The encoder for `level` (None: the body passes unchanged), unless there
/// is no body to compress. `up_len` is the upstream Content-Length.
pub(super) fn encoder(
    level: Option<u32>,
    no_body: bool,
    up_len: Option<u64>,
    buffering: bool,
) -> Option<Gzip> {
    match level {
        Some(level) if !no_body && buffering => Some(Gzip::buffered(level, up_len)),
        Some(level) if !no_body => Some(Gzip::new(level)),
        _ => None,
    }
}
