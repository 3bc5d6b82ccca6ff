//! Client request heads: finding their end, enforcing nginx's header buffer limits while they
//! arrive, and parsing them without copying (nginx 1.22's `ngx_http_parse_request_line`,
//! `ngx_http_parse_header_line` and `ngx_http_process_request_header`).
//!
//! The order of checks is nginx's, so the same request gets the same first error: the request
//! line (and the host of an absolute-form target), then each header line in order (syntax,
//! duplicates, Host validity), then Host presence for HTTP/1.1, Content-Length syntax,
//! Transfer-Encoding, and last CONNECT/TRACE.

use bytes::Bytes;

use super::error::{self, HeadError};
use super::header::{self, contains_ignore_case, HeaderEntry, Line, Span};
use super::limits;
use super::request_line::{self, validate_host, Parsed, RequestLine};

/// nginx's header-size and header-name settings (`client_header_buffer_size`,
/// `large_client_header_buffers`, `underscores_in_headers`, `ignore_invalid_headers`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadLimits {
    pub client_header_buffer_size: usize,
    pub large_buffers: usize,
    pub large_buffer_size: usize,
    pub underscores_in_headers: bool,
    pub ignore_invalid_headers: bool,
}

impl Default for HeadLimits {
    /// nginx's defaults: `client_header_buffer_size 1k; large_client_header_buffers 4 8k;`
    /// `underscores_in_headers off; ignore_invalid_headers on;`.
    fn default() -> Self {
        HeadLimits {
            client_header_buffer_size: 1024,
            large_buffers: 4,
            large_buffer_size: 8192,
            underscores_in_headers: false,
            ignore_invalid_headers: true,
        }
    }
}

/// The protocol version of a request. nginx serves `HTTP/1.2` … `HTTP/1.99` as HTTP/1.1
/// (`r->http_version > NGX_HTTP_VERSION_10`), so they map to `Http11`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    Http09,
    Http10,
    Http11,
}

/// Offset just past the end of the request head, scanning from `from` so that repeated calls on
/// a growing buffer stay linear (the request line itself is rescanned, which is bounded by
/// `large_buffer_size`).
///
/// The head ends at the first empty line (`\n` or `\r\n`) after the request line; LF-only line
/// ends are accepted as nginx does. A line that starts with CR but is not `\r\n` also ends it,
/// since nginx rejects it as soon as it arrives. Leading empty lines are skipped. A request line that does not
/// hold exactly three words (method, target, version) ends the head by itself: it is HTTP/0.9,
/// which has no headers, or invalid, which [`parse_request_head`] then reports.
pub fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    let start = buf.iter().position(|&b| b != b'\r' && b != b'\n')?;
    let rl_end = start + memchr::memchr(b'\n', &buf[start..])?;
    let line = &buf[start..rl_end];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.split(|&b| b == b' ').filter(|w| !w.is_empty()).count() != 3 {
        return Some(rl_end + 1);
    }
    let scan_from = from.max(rl_end + 1);
    let tail = buf.get(scan_from..)?;
    let mut line_start = match memchr::memrchr(b'\n', &buf[rl_end..scan_from]) {
        Some(off) => rl_end + off + 1,
        None => rl_end + 1,
    };
    for off in memchr::memchr_iter(b'\n', tail) {
        let j = scan_from + off;
        // A header line starting with CR is either the empty line (`\r\n`) or one nginx rejects
        // at once (`sw_header_almost_done`): either way the head ends here.
        if j == line_start || buf[line_start] == b'\r' {
            return Some(j + 1);
        }
        line_start = j + 1;
    }
    None
}

/// Checks the bytes of a head so far as nginx checks them while they arrive; see [`HeadScan`].
/// This one-shot form rescans from the start and accepts every URI; a connection keeps a
/// [`HeadScan`] instead.
pub fn check_partial_head(buf: &[u8], limits: &HeadLimits) -> Result<(), HeadError> {
    HeadScan::default().check(buf, limits, &mut |_: &[u8]| true)
}

/// Validates a request head while it arrives, failing as soon as what has arrived can no longer
/// succeed, with the status nginx would answer then (nginx parses each read as it comes:
/// `ngx_http_parse_request_line`, then `ngx_http_parse_header_line` and each header's handler
/// as soon as its line is complete):
/// - the request line is checked byte by byte (`get / HTTP/1.1` is a 400 before any header);
///   once complete, its URI (through `valid_uri`, nginx's `ngx_http_parse_complex_uri`) and the
///   host of an absolute-form target;
/// - each header line is checked byte by byte too (a space starting a line, a NUL, a CR not
///   followed by LF: a 400 as soon as the byte is in), and each complete line for duplicates
///   and an invalid Host;
/// - the buffer model gives 414 for a request line longer than `large_buffer_size`, 494 for a
///   header line longer than that or for a head that does not pack into `large_buffers` buffers
///   (see `limits.rs`), unless a malformed byte came before the point where the buffer filled.
///
/// The checks that need the whole head (Host presence, Content-Length, Transfer-Encoding,
/// CONNECT/TRACE) are [`parse_request_head`]'s. The scan keeps its place between calls on the
/// same growing buffer, so that a head trickled byte by byte is not rescanned line by line.
#[derive(Debug, Default, Clone)]
pub struct HeadScan {
    /// Where the next header line starts; 0 while the request line is incomplete.
    next: usize,
    /// The head is over (its empty line was seen, or it is an HTTP/0.9 request line).
    done: bool,
    seen: Seen,
}

impl HeadScan {
    /// Checks `buf`, the bytes of the head so far (the same buffer, grown, on each call).
    pub fn check(
        &mut self,
        buf: &[u8],
        limits: &HeadLimits,
        valid_uri: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Result<(), HeadError> {
        let Some(start) = buf.iter().position(|&b| b != b'\r' && b != b'\n') else {
            return Ok(());
        };
        match limits::check(buf, start, limits) {
            Ok(()) => self.syntax(buf, limits, valid_uri),
            Err((too_long, at)) => {
                self.syntax(buf.get(..at).unwrap_or(buf), limits, valid_uri)?;
                Err(too_long)
            }
        }
    }

    /// The byte-level and per-line checks over `buf`, from where the last call stopped.
    fn syntax(
        &mut self,
        buf: &[u8],
        limits: &HeadLimits,
        valid_uri: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Result<(), HeadError> {
        if self.done {
            return Ok(());
        }
        if self.next == 0 {
            let line = match request_line::parse(buf)? {
                Parsed::Incomplete => return Ok(()),
                Parsed::Done(line) => line,
            };
            check_request_line(buf, &line, valid_uri)?;
            if line.protocol.is_none() {
                // HTTP/0.9 has no headers.
                self.done = true;
                return Ok(());
            }
            self.next = line.next;
        }
        loop {
            let rest = buf.get(self.next..).unwrap_or_default();
            let Some(nl) = memchr::memchr(b'\n', rest) else {
                // The line so far: parse_line fails on a prefix only for a byte that no
                // continuation can make valid.
                return match header::parse_line(rest, limits.underscores_in_headers, false) {
                    Err(_) => Err(error::INVALID_HEADER),
                    Ok(_) => Ok(()),
                };
            };
            let text = &rest[..nl];
            match header::parse_line(text, limits.underscores_in_headers, false) {
                Err(_) => return Err(error::INVALID_HEADER),
                Ok(Line::End) => {
                    self.done = true;
                    return Ok(());
                }
                Ok(Line::Ignore) => {}
                Ok(Line::Header {
                    name_end,
                    value_start,
                    value_end,
                    invalid,
                }) => {
                    if !(invalid && limits.ignore_invalid_headers) {
                        let name = &text[..name_end];
                        let value = text.get(value_start..value_end).unwrap_or_default();
                        self.seen.check(classify(name), value)?;
                    }
                }
            }
            self.next += nl + 1;
        }
    }
}

/// The checks nginx makes once the request line is complete (`ngx_http_process_request_line`),
/// in its order: the URI (`ngx_http_process_request_uri`), then the host of an absolute-form
/// target. An error after an HTTP/0.9 line is answered HTTP/0.9-style.
fn check_request_line(
    buf: &[u8],
    line: &RequestLine,
    valid_uri: &mut dyn FnMut(&[u8]) -> bool,
) -> Result<(), HeadError> {
    let http09 = line.protocol.is_none();
    let path = buf.get(line.uri_start..line.uri_end).unwrap_or_default();
    let uri_ok = if line.empty_path {
        let mut t = Vec::with_capacity(path.len() + 1);
        t.push(b'/');
        t.extend_from_slice(path);
        valid_uri(&t)
    } else {
        valid_uri(path)
    };
    if !uri_ok {
        return Err(error::INVALID_REQUEST.in_09(http09));
    }
    if let Some((s, e)) = line.authority {
        if validate_host(buf.get(s..e).unwrap_or_default()).is_none() {
            return Err(error::INVALID_HOST_IN_LINE.in_09(http09));
        }
    }
    Ok(())
}

/// What the header lines so far held, for nginx's per-line handlers
/// (`ngx_http_process_host`, `ngx_http_process_unique_header_line`).
#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    host: bool,
    content_length: bool,
    transfer_encoding: bool,
    expect: bool,
    unique: u16,
}

impl Seen {
    /// The checks nginx makes as soon as one header line is complete.
    fn check(&mut self, known: Known, value: &[u8]) -> Result<(), HeadError> {
        let dup = match known {
            Known::Host => {
                if std::mem::replace(&mut self.host, true) {
                    return Err(error::DUPLICATE_HOST);
                }
                if validate_host(value).is_none() {
                    return Err(error::INVALID_HOST);
                }
                false
            }
            Known::ContentLength => std::mem::replace(&mut self.content_length, true),
            Known::TransferEncoding => std::mem::replace(&mut self.transfer_encoding, true),
            Known::Expect => std::mem::replace(&mut self.expect, true),
            Known::Unique(bit) => {
                let dup = self.unique & bit != 0;
                self.unique |= bit;
                dup
            }
            Known::Connection | Known::Upgrade | Known::Other => false,
        };
        if dup {
            return Err(error::DUPLICATE_HEADER);
        }
        Ok(())
    }
}

/// nginx's `r->headers_in.connection_type`: decided by the last `Connection` line that holds
/// `close` or `keep-alive` (`ngx_http_process_connection`, a case-insensitive substring test).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConnType {
    None,
    Close,
    KeepAlive,
}

/// A parsed request head. It keeps the head's bytes and ranges into them; nothing is copied per
/// header. Headers that nginx drops (`ignore_invalid_headers`) are not listed.
#[derive(Debug, Clone)]
pub struct RequestHead {
    buf: Bytes,
    line: RequestLine,
    /// `/` + query for an absolute-form target with an empty path and a query (`http://h?x`),
    /// the only target that is not a slice of the head.
    slash_target: Option<Box<[u8]>>,
    version: Version,
    headers: Vec<HeaderEntry>,
    host: Option<u32>,
    upgrade: Option<u32>,
    expect: Option<u32>,
    content_length: Option<u64>,
    chunked: bool,
    conn_type: ConnType,
    conn_upgrade: bool,
    head_len: usize,
}

/// Request headers nginx 1.22 treats specially. Which ones reject duplicates was checked on the
/// binary: `Proxy-Authorization`, `Range`, `Upgrade`, `Connection` and `TE` may repeat.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Known {
    Host,
    Connection,
    ContentLength,
    TransferEncoding,
    Upgrade,
    Expect,
    /// `ngx_http_process_unique_header_line`: a second one is a 400.
    Unique(u16),
    Other,
}

fn classify(name: &[u8]) -> Known {
    const UNIQUE: [&[u8]; 7] = [
        b"if-modified-since",
        b"if-unmodified-since",
        b"if-match",
        b"if-none-match",
        b"if-range",
        b"content-range",
        b"authorization",
    ];
    let is = |n: &[u8]| name.eq_ignore_ascii_case(n);
    match name.len() {
        4 if is(b"host") => return Known::Host,
        6 if is(b"expect") => return Known::Expect,
        7 if is(b"upgrade") => return Known::Upgrade,
        10 if is(b"connection") => return Known::Connection,
        14 if is(b"content-length") => return Known::ContentLength,
        17 if is(b"transfer-encoding") => return Known::TransferEncoding,
        _ => {}
    }
    for (i, u) in UNIQUE.iter().enumerate() {
        if name.len() == u.len() && is(u) {
            return Known::Unique(1 << i);
        }
    }
    Known::Other
}

/// nginx `ngx_atoof`: all digits, at least one, no sign, at most 2^63 - 1.
pub(crate) fn parse_content_length(v: &[u8]) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &b in v {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
        if n > i64::MAX as u64 {
            return None;
        }
    }
    Some(n)
}

/// Parses a complete head (`buf` = the head bytes as delimited by [`find_head_end`]; it may start
/// with empty lines, which nginx skips), accepting every URI. See [`parse_request_head_with`].
pub fn parse_request_head(buf: Bytes, limits: &HeadLimits) -> Result<RequestHead, HeadError> {
    parse_request_head_with(buf, limits, &mut |_: &[u8]| true)
}

/// Parses a complete head. The buffer limits are enforced here too, since a head that arrived
/// in one read never went through [`HeadScan`], with the same rule for which error comes first.
/// `valid_uri` gets the target in origin form (as [`RequestHead::target`] gives it) and says
/// whether nginx's URI parser accepts it: a URI it rejects is a 400 right after the request line,
/// ahead of any header error.
pub fn parse_request_head_with(
    buf: Bytes,
    limits: &HeadLimits,
    valid_uri: &mut dyn FnMut(&[u8]) -> bool,
) -> Result<RequestHead, HeadError> {
    if buf.len() >= u32::MAX as usize {
        return Err(error::TOO_LONG_HEADER);
    }
    let start = buf.iter().position(|&b| b != b'\r' && b != b'\n').unwrap_or(0);
    if let Err((too_long, at)) = limits::check(&buf, start, limits) {
        HeadScan::default().syntax(buf.get(..at).unwrap_or(&buf), limits, valid_uri)?;
        return Err(too_long);
    }
    let line = match request_line::parse(&buf)? {
        Parsed::Done(line) => line,
        Parsed::Incomplete => return Err(error::INVALID_REQUEST),
    };
    check_request_line(&buf, &line, valid_uri)?;
    let version = match (line.major, line.minor) {
        (0, _) => Version::Http09,
        (_, 0) => Version::Http10,
        _ => Version::Http11,
    };
    let slash_target = if line.empty_path {
        let query = buf.get(line.uri_start..line.uri_end).unwrap_or_default();
        let mut t = Vec::with_capacity(query.len() + 1);
        t.push(b'/');
        t.extend_from_slice(query);
        Some(t.into_boxed_slice())
    } else {
        None
    };
    let mut head = RequestHead {
        line,
        slash_target,
        version,
        headers: Vec::new(),
        host: None,
        upgrade: None,
        expect: None,
        content_length: None,
        chunked: false,
        conn_type: ConnType::None,
        conn_upgrade: false,
        head_len: line.next,
        buf: Bytes::new(),
    };
    if version == Version::Http09 {
        // HTTP/0.9 has no headers: nginx processes the request right after the request line.
        head.buf = buf;
        return Ok(head);
    }
    let framing = parse_headers(&buf, line.next, limits, &mut head)?;
    head.buf = buf;
    finish(head, framing)
}

/// Walks the header lines, applying nginx's per-line checks.
fn parse_headers(
    buf: &[u8],
    mut pos: usize,
    limits: &HeadLimits,
    head: &mut RequestHead,
) -> Result<Framing, HeadError> {
    head.headers
        .reserve(memchr::memchr_iter(b'\n', buf.get(pos..).unwrap_or_default()).count());
    let mut seen = Seen::default();
    let mut cl: Option<Span> = None;
    let mut te: Option<Span> = None;
    loop {
        let Some(off) = memchr::memchr(b'\n', buf.get(pos..).unwrap_or_default()) else {
            // The caller passed bytes that do not end with the empty line.
            return Err(error::INVALID_REQUEST);
        };
        let nl = pos + off;
        let text = &buf[pos..nl];
        match header::parse_line(text, limits.underscores_in_headers, false) {
            Err(_) => return Err(error::INVALID_HEADER),
            Ok(Line::End) => {
                head.head_len = nl + 1;
                break;
            }
            Ok(Line::Ignore) => {}
            Ok(Line::Header {
                name_end,
                value_start,
                value_end,
                invalid,
            }) => {
                if invalid && limits.ignore_invalid_headers {
                    pos = nl + 1;
                    continue;
                }
                let name = Span::new(pos, pos + name_end);
                let value = Span::new(pos + value_start, pos + value_end);
                // Fewer headers than head bytes, and the head is shorter than u32::MAX.
                let idx = head.headers.len() as u32;
                head.headers.push(HeaderEntry { name, value });
                let value_bytes = value.get(buf);
                let known = classify(name.get(buf));
                seen.check(known, value_bytes)?;
                match known {
                    Known::Host => head.host = Some(idx),
                    Known::Connection => {
                        if contains_ignore_case(value_bytes, b"close") {
                            head.conn_type = ConnType::Close;
                        } else if contains_ignore_case(value_bytes, b"keep-alive") {
                            head.conn_type = ConnType::KeepAlive;
                        }
                        head.conn_upgrade |= contains_ignore_case(value_bytes, b"upgrade");
                    }
                    Known::ContentLength => cl = Some(value),
                    Known::TransferEncoding => te = Some(value),
                    Known::Expect => head.expect = Some(idx),
                    Known::Upgrade => {
                        head.upgrade.get_or_insert(idx);
                    }
                    Known::Unique(_) | Known::Other => {}
                }
            }
        }
        pos = nl + 1;
    }
    Ok(Framing { cl, te })
}

/// The raw framing headers, validated after all lines as nginx does.
struct Framing {
    cl: Option<Span>,
    te: Option<Span>,
}

/// `ngx_http_process_request_header`: the checks that need the whole head, in nginx's order.
fn finish(mut head: RequestHead, framing: Framing) -> Result<RequestHead, HeadError> {
    if head.host.is_none() && head.version == Version::Http11 {
        return Err(error::NO_HOST);
    }
    if let Some(cl) = framing.cl {
        head.content_length =
            Some(parse_content_length(cl.get(&head.buf)).ok_or(error::INVALID_CONTENT_LENGTH)?);
    }
    if let Some(te) = framing.te {
        if head.version < Version::Http11 {
            return Err(error::TE_IN_HTTP10);
        }
        if !te.get(&head.buf).eq_ignore_ascii_case(b"chunked") {
            return Err(error::UNKNOWN_TE);
        }
        if framing.cl.is_some() {
            return Err(error::CL_AND_TE);
        }
        head.chunked = true;
    }
    match head.method() {
        b"CONNECT" => return Err(error::CONNECT_METHOD),
        b"TRACE" => return Err(error::TRACE_METHOD),
        _ => {}
    }
    Ok(head)
}

impl RequestHead {
    fn span(&self, s: usize, e: usize) -> &[u8] {
        self.buf.get(s..e).unwrap_or_default()
    }

    /// The method as sent (`$request_method`).
    pub fn method(&self) -> &[u8] {
        self.span(self.line.start, self.line.method_end)
    }

    /// The request line without its CR LF (`$request`), trailing spaces included as nginx keeps them.
    pub fn request_line(&self) -> &[u8] {
        self.span(self.line.start, self.line.end)
    }

    /// The request target in origin form, path and query as sent: for `GET http://h:p/x?y` it is
    /// `/x?y`, for `http://h` it is `/`, for `http://h?y` it is `/?y`.
    pub fn target(&self) -> &[u8] {
        match &self.slash_target {
            Some(t) => t,
            None => self.span(self.line.uri_start, self.line.uri_end),
        }
    }

    /// nginx's `$request_uri` (`r->unparsed_uri`): like [`target`](Self::target) except that an
    /// absolute-form target with an empty path and a query stays `?y`, as nginx logs it.
    pub fn request_uri(&self) -> &[u8] {
        self.span(self.line.uri_start, self.line.uri_end)
    }

    /// `host[:port]` of an absolute-form target; it picks the server ahead of the Host header.
    pub fn absolute_host(&self) -> Option<&[u8]> {
        self.line.authority.map(|(s, e)| self.span(s, e))
    }

    pub fn version(&self) -> Version {
        self.version
    }

    /// The protocol as sent (`$server_protocol`, e.g. `HTTP/1.1`); empty for HTTP/0.9.
    pub fn protocol(&self) -> &[u8] {
        self.line
            .protocol
            .map(|(s, e)| self.span(s, e))
            .unwrap_or_default()
    }

    /// Headers in order as (name, value); dropped invalid headers are not included.
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

    /// Every header with this name, in order.
    pub fn header_all<'a>(&'a self, name: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.headers()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    fn header_at(&self, idx: Option<u32>) -> Option<&[u8]> {
        idx.and_then(|i| self.headers.get(i as usize))
            .map(|h| h.value.get(&self.buf))
    }

    /// The raw Host header value (`$http_host`), already checked by [`validate_host`].
    pub fn host(&self) -> Option<&[u8]> {
        self.header_at(self.host)
    }

    /// The name used for server selection before lowercasing: the absolute-form host, else the
    /// Host header, without port and trailing dot (nginx `ngx_http_validate_host`).
    pub fn server_host(&self) -> Option<&[u8]> {
        self.absolute_host()
            .or_else(|| self.host())
            .and_then(validate_host)
    }

    pub fn content_length(&self) -> Option<u64> {
        self.content_length
    }

    /// `Transfer-Encoding: chunked` (the only value nginx accepts).
    pub fn chunked(&self) -> bool {
        self.chunked
    }

    /// The last `Connection` header naming `close` or `keep-alive` named `close`.
    pub fn conn_close(&self) -> bool {
        self.conn_type == ConnType::Close
    }

    /// The last `Connection` header naming `close` or `keep-alive` named `keep-alive`.
    pub fn conn_keep_alive(&self) -> bool {
        self.conn_type == ConnType::KeepAlive
    }

    /// Some `Connection` header contains `upgrade` (case-insensitive substring).
    pub fn conn_upgrade(&self) -> bool {
        self.conn_upgrade
    }

    /// Whether the client allows keep-alive (`ngx_http_handler`): HTTP/1.1 unless
    /// `Connection: close`, HTTP/1.0 only with `Connection: keep-alive`. The server's own reasons
    /// to close (keepalive_timeout 0, errors, …) come on top.
    pub fn wants_keepalive(&self) -> bool {
        match self.conn_type {
            ConnType::Close => false,
            ConnType::KeepAlive => true,
            ConnType::None => self.version == Version::Http11,
        }
    }

    /// The first `Upgrade` header.
    pub fn upgrade(&self) -> Option<&[u8]> {
        self.header_at(self.upgrade)
    }

    /// `Expect: 100-continue` (whole value, case-insensitive) on HTTP/1.1, as
    /// `ngx_http_test_expect` requires before sending `100 Continue`.
    pub fn expect_continue(&self) -> bool {
        self.version == Version::Http11
            && self
                .header_at(self.expect)
                .is_some_and(|v| v.eq_ignore_ascii_case(b"100-continue"))
    }

    /// Length of the head in bytes (leading empty lines included); the body starts here.
    pub fn head_len(&self) -> usize {
        self.head_len
    }

    /// The head bytes the ranges point into.
    pub fn bytes(&self) -> &Bytes {
        &self.buf
    }
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
