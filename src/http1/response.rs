//! Upstream response heads, parsed as nginx 1.22's proxy module does
//! (`ngx_http_parse_status_line`, `ngx_http_parse_header_line` with underscores allowed,
//! `ngx_http_proxy_process_status_line` / `_process_header`, `ngx_http_upstream.c` handlers).
//!
//! Checked against nginx 1.22.1 proxying a scripted upstream:
//! - the reason phrase goes to the client as sent: `HTTP/1.1   404   Not  Here  ` gives the
//!   status line `404   Not  Here  `, `HTTP/1.1 200` gives `200`, IIS's `403.1 Forbidden` passes;
//! - a response that does not start with a valid status line (`hello`, `HTTP/1 200`,
//!   `HTTP/1.1 2000 X`, a CR CR LF ending) is *not* an error: nginx logs "upstream sent no valid
//!   HTTP/1.0 header" and relays every byte as an HTTP/0.9 body, with no status line of its own.
//!   [`ResponseHead::is_http09`] marks that case;
//! - header names with any byte nginx would drop from a client (`X@A`, `X_B`) are kept; a name
//!   with a space, a NUL, or a folded line gives 502 ("upstream sent invalid header");
//! - a second `HTTP/1.1 …` line (IIS) is skipped; a line without a colon is an empty header;
//! - `Content-Length`: the last one wins, and an invalid or empty value means "length unknown"
//!   (read until close), not an error;
//! - `Transfer-Encoding` containing `chunked` anywhere (`gzip, chunked`) is chunked, and chunked
//!   wins over Content-Length; any other coding means read until close. Duplicates are accepted;
//! - a head longer than `proxy_buffer_size` gives 502 ("upstream sent too big header").

use bytes::Bytes;

use super::error::{self, UpstreamHeadError};
use super::header::{self, contains_ignore_case, HeaderEntry, Line, Span};
use super::request::{parse_content_length, Version};

/// How the caller reads the body that follows a response head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body: 1xx, 204, 304 and responses to HEAD.
    None,
    /// Chunked coding (wins over Content-Length, RFC 9112 §6.3); decode with `ChunkedDecoder`.
    Chunked,
    /// Exactly this many bytes.
    Length(u64),
    /// Until the upstream closes the connection (no usable length, or HTTP/0.9).
    UntilClose,
}

/// A parsed upstream response head. It owns a copy of the head bytes; headers are ranges into it.
#[derive(Debug, Clone)]
pub struct ResponseHead {
    buf: Bytes,
    version: Version,
    status: u16,
    status_line: Span,
    headers: Vec<HeaderEntry>,
    head_len: usize,
    content_length: Option<u64>,
    chunked: bool,
    conn_close: bool,
    upgrade: Option<u32>,
}

/// Parses an upstream response head from the start of `buf`. `Ok(None)` means more bytes are
/// needed. `max` is `proxy_buffer_size`: a head that does not fit in it is an error.
pub fn parse_response_head(buf: &[u8], max: usize) -> Result<Option<ResponseHead>, UpstreamHeadError> {
    // Spans are u32: a head can never be 4 GiB, whatever proxy_buffer_size says.
    let max = max.min(u32::MAX as usize);
    let window = &buf[..buf.len().min(max)];
    let full = buf.len() >= max;
    let need_more = |full: bool| if full { Err(error::UP_TOO_BIG) } else { Ok(None) };
    let status = match parse_status_line(window) {
        Status::Incomplete => return need_more(full),
        Status::Invalid => return Ok(Some(ResponseHead::http09())),
        Status::Done(s) => s,
    };
    let mut head = ResponseHead {
        buf: Bytes::new(),
        version: if (status.major, status.minor) < (1, 1) {
            Version::Http10
        } else {
            Version::Http11
        },
        status: status.code,
        status_line: Span::new(status.line_start, status.line_end),
        headers: Vec::new(),
        head_len: 0,
        content_length: None,
        chunked: false,
        // ngx_http_proxy_process_status_line: anything below HTTP/1.1 closes.
        conn_close: (status.major, status.minor) < (1, 1),
        upgrade: None,
    };
    let mut pos = status.next;
    loop {
        let Some(off) = memchr::memchr(b'\n', &window[pos..]) else {
            return need_more(full);
        };
        let nl = pos + off;
        match header::parse_line(&window[pos..nl], true, true) {
            Err(b) => {
                return Err(UpstreamHeadError {
                    invalid_at: Some((pos, pos + b.at)),
                    ..error::UP_INVALID_HEADER
                })
            }
            Ok(Line::End) => {
                head.head_len = nl + 1;
                break;
            }
            Ok(Line::Ignore) => {}
            Ok(Line::Header {
                name_end,
                value_start,
                value_end,
                ..
            }) => {
                let name = &window[pos..pos + name_end];
                let value = &window[pos + value_start..pos + value_end];
                // Fewer headers than head bytes, and the head is shorter than u32::MAX.
                let idx = head.headers.len() as u32;
                head.headers.push(HeaderEntry {
                    name: Span::new(pos, pos + name_end),
                    value: Span::new(pos + value_start, pos + value_end),
                });
                if name.eq_ignore_ascii_case(b"content-length") {
                    head.content_length = parse_content_length(value);
                } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                    head.chunked |= contains_ignore_case(value, b"chunked");
                } else if name.eq_ignore_ascii_case(b"connection") {
                    head.conn_close |= contains_ignore_case(value, b"close");
                } else if name.eq_ignore_ascii_case(b"upgrade") {
                    head.upgrade.get_or_insert(idx);
                }
            }
        }
        pos = nl + 1;
    }
    head.buf = Bytes::copy_from_slice(&window[..head.head_len]);
    Ok(Some(head))
}

impl ResponseHead {
    /// nginx's fallback for a response without a valid status line: status 200, no headers,
    /// every byte (from the first) is body, read until close.
    fn http09() -> Self {
        ResponseHead {
            buf: Bytes::new(),
            version: Version::Http09,
            status: 200,
            status_line: Span::default(),
            headers: Vec::new(),
            head_len: 0,
            content_length: None,
            chunked: false,
            conn_close: true,
            upgrade: None,
        }
    }

    /// The head bytes; header names and values are slices of it
    /// (`Bytes::slice_ref` turns them into shared handles without copying).
    pub fn bytes(&self) -> &Bytes {
        &self.buf
    }

    /// True for nginx's HTTP/0.9 fallback: relay the upstream bytes as they are, without a
    /// status line or headers of rampart's own.
    pub fn is_http09(&self) -> bool {
        self.version == Version::Http09
    }

    /// `Http10` for HTTP/1.0, `Http11` for 1.1 and anything later, `Http09` for the fallback.
    pub fn version(&self) -> Version {
        self.version
    }

    pub fn status(&self) -> u16 {
        self.status
    }

    /// Status code and reason as sent (`200 Fine`, `200`), which nginx puts after `HTTP/1.1 `.
    pub fn status_line(&self) -> &[u8] {
        self.status_line.get(&self.buf)
    }

    /// The reason phrase alone (after the code and one separator byte).
    pub fn reason(&self) -> &[u8] {
        self.status_line().get(4..).unwrap_or_default()
    }

    /// Headers in order as (name, value).
    pub fn headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.headers
            .iter()
            .map(|h| (h.name.get(&self.buf), h.value.get(&self.buf)))
    }

    /// The first header with this name (ASCII case-insensitive).
    pub fn header(&self, name: &[u8]) -> Option<&[u8]> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Bytes of the head; the body starts here in the caller's buffer (0 for HTTP/0.9).
    pub fn head_len(&self) -> usize {
        self.head_len
    }

    /// The last Content-Length, if it was valid (nginx treats an invalid one as absent).
    pub fn content_length(&self) -> Option<u64> {
        self.content_length
    }

    pub fn chunked(&self) -> bool {
        self.chunked
    }

    /// The upstream connection cannot be reused: HTTP/1.0 (even with `keep-alive`), HTTP/0.9,
    /// or a `Connection` header containing `close`.
    pub fn conn_close(&self) -> bool {
        self.conn_close
    }

    /// The first `Upgrade` header (for a 101 answer to a client that asked to upgrade).
    pub fn upgrade(&self) -> Option<&[u8]> {
        self.upgrade
            .and_then(|i| self.headers.get(i as usize))
            .map(|h| h.value.get(&self.buf))
    }

    /// How to read the body: none for 1xx, 204, 304 and HEAD; then chunked; then
    /// Content-Length; else until close.
    pub fn body_framing(&self, head_request: bool) -> BodyFraming {
        if self.is_http09() {
            return BodyFraming::UntilClose;
        }
        if head_request || (100..200).contains(&self.status) || self.status == 204 || self.status == 304 {
            return BodyFraming::None;
        }
        if self.chunked {
            return BodyFraming::Chunked;
        }
        match self.content_length {
            Some(n) => BodyFraming::Length(n),
            None => BodyFraming::UntilClose,
        }
    }
}

struct StatusLine {
    major: u16,
    minor: u16,
    code: u16,
    line_start: usize,
    line_end: usize,
    next: usize,
}

enum Status {
    Incomplete,
    Invalid,
    Done(StatusLine),
}

/// `ngx_http_parse_status_line`: `HTTP/` major `.` minor SP+ 3 digits, then SP or `.` and any
/// text, or the line end. Versions up to 999.999 are accepted (`HTTP/2.0 200` passes).
fn parse_status_line(buf: &[u8]) -> Status {
    const PREFIX: &[u8] = b"HTTP/";
    let n = buf.len().min(PREFIX.len());
    if buf[..n] != PREFIX[..n] {
        return Status::Invalid;
    }
    if buf.len() < PREFIX.len() {
        return Status::Incomplete;
    }
    let mut p = PREFIX.len();
    let number = |p: &mut usize, first_min: u8| -> Option<Option<u16>> {
        // Some(None) = incomplete, None = invalid.
        let first = match buf.get(*p) {
            None => return Some(None),
            Some(&c) if (first_min..=b'9').contains(&c) => c,
            Some(_) => return None,
        };
        let mut v = u16::from(first - b'0');
        *p += 1;
        while let Some(&c) = buf.get(*p) {
            if !c.is_ascii_digit() {
                return Some(Some(v));
            }
            if v > 99 {
                return None;
            }
            v = v * 10 + u16::from(c - b'0');
            *p += 1;
        }
        Some(None)
    };
    let major = match number(&mut p, b'1') {
        None => return Status::Invalid,
        Some(None) => return Status::Incomplete,
        Some(Some(v)) => v,
    };
    if buf[p] != b'.' {
        return Status::Invalid;
    }
    p += 1;
    let minor = match number(&mut p, b'0') {
        None => return Status::Invalid,
        Some(None) => return Status::Incomplete,
        Some(Some(v)) => v,
    };
    if buf[p] != b' ' {
        return Status::Invalid;
    }
    while buf.get(p) == Some(&b' ') {
        p += 1;
    }
    let line_start = p;
    let mut code = 0u16;
    for _ in 0..3 {
        match buf.get(p) {
            None => return Status::Incomplete,
            Some(c) if c.is_ascii_digit() => code = code * 10 + u16::from(c - b'0'),
            Some(_) => return Status::Invalid,
        }
        p += 1;
    }
    match buf.get(p) {
        None => return Status::Incomplete,
        Some(b' ' | b'.' | b'\r' | b'\n') => {}
        Some(_) => return Status::Invalid,
    }
    let Some(off) = memchr::memchr(b'\n', &buf[p..]) else {
        // A CR must be followed by LF: one that is not already makes the line invalid.
        return match memchr::memchr(b'\r', &buf[p..]) {
            Some(cr) if p + cr + 1 < buf.len() => Status::Invalid,
            _ => Status::Incomplete,
        };
    };
    let lf = p + off;
    let line_end = match memchr::memchr(b'\r', &buf[p..lf]) {
        // sw_almost_done: the first CR must be immediately followed by LF.
        Some(cr) if p + cr + 1 != lf => return Status::Invalid,
        Some(cr) => p + cr,
        None => lf,
    };
    Status::Done(StatusLine {
        major,
        minor,
        code,
        line_start,
        line_end,
        next: lf + 1,
    })
}

#[cfg(test)]
#[path = "response_tests.rs"]
mod tests;
