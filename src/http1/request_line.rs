//! The request line, parsed exactly as nginx 1.22's `ngx_http_parse_request_line`
//! (src/http/ngx_http_parse.c), plus classic `ngx_http_validate_host` (src/http/ngx_http_request.c).
//!
//! The state machine is nginx's, byte for byte, so that the same inputs fail with the same
//! status. Facts checked against nginx 1.22.1 over TCP: any scheme is accepted in absolute form
//! (`ftp://h/x`, `a1://h/x`), `http://h?x` has the request URI `?x`, leading CR/LF bytes are
//! skipped, `HTTP/1.2` is served as HTTP/1.1, `HTTP/2.0` and `HTTP/10.0` give 505, `HTTP/0.9` and
//! `HTTP/1` give 400, and a line with no version is HTTP/0.9 (GET only).

use super::error::{self, HeadError};

/// Where the pieces of a parsed request line are, as offsets into the head buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RequestLine {
    /// `$request`: from the method to the end of the line, without CR/LF.
    pub start: usize,
    pub end: usize,
    pub method_end: usize,
    /// `$request_uri` as nginx keeps it. For `GET http://h HTTP/1.1` it is the `/` of `://`.
    pub uri_start: usize,
    pub uri_end: usize,
    /// Absolute form whose path is empty and has a query (`http://h?x`): the URI starts at `?`.
    pub empty_path: bool,
    /// `host[:port]` of an absolute-form target.
    pub authority: Option<(usize, usize)>,
    /// `HTTP/1.1` as sent (`$server_protocol`); `None` for HTTP/0.9.
    pub protocol: Option<(usize, usize)>,
    pub major: u8,
    pub minor: u16,
    /// Offset just past the LF.
    pub next: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Parsed {
    /// More bytes are needed; nothing seen so far is invalid.
    Incomplete,
    Done(RequestLine),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum St {
    Start,
    Method,
    SpacesBeforeUri,
    Schema,
    SchemaSlash,
    SchemaSlashSlash,
    HostStart,
    HostIpLiteral,
    Port,
    Uri,
    Http09,
    H,
    Ht,
    Htt,
    Http,
    FirstMajor,
    Major,
    FirstMinor,
    Minor,
    SpacesAfterDigit,
    AlmostDone,
}

/// Runs nginx's request-line state machine over `buf` from its start.
pub(crate) fn parse(buf: &[u8]) -> Result<Parsed, HeadError> {
    let mut st = St::Start;
    let mut rl = RequestLine {
        start: 0,
        end: 0,
        method_end: 0,
        uri_start: 0,
        uri_end: 0,
        empty_path: false,
        authority: None,
        protocol: None,
        major: 0,
        minor: 0,
        next: 0,
    };
    let mut schema_end = 0;
    let mut host_start = 0;
    let mut proto_start = None;
    let mut end = None;
    let mut p = 0;
    while p < buf.len() {
        let ch = buf[p];
        match st {
            St::Start => {
                rl.start = p;
                if ch == b'\r' || ch == b'\n' {
                    p += 1;
                    continue;
                }
                if !is_method_byte(ch) {
                    return Err(error::INVALID_METHOD);
                }
                st = St::Method;
            }
            St::Method => {
                if ch == b' ' {
                    rl.method_end = p;
                    st = St::SpacesBeforeUri;
                } else if !is_method_byte(ch) {
                    return Err(error::INVALID_METHOD);
                }
            }
            St::SpacesBeforeUri => {
                if ch == b'/' {
                    rl.uri_start = p;
                    st = St::Uri;
                } else if ch.is_ascii_alphabetic() {
                    st = St::Schema;
                } else if ch != b' ' {
                    return Err(error::INVALID_REQUEST);
                }
            }
            St::Schema => {
                if ch == b':' {
                    schema_end = p;
                    st = St::SchemaSlash;
                } else if !(ch.is_ascii_alphanumeric() || matches!(ch, b'+' | b'-' | b'.')) {
                    return Err(error::INVALID_REQUEST);
                }
            }
            St::SchemaSlash | St::SchemaSlashSlash => {
                if ch != b'/' {
                    return Err(error::INVALID_REQUEST);
                }
                st = if st == St::SchemaSlash {
                    St::SchemaSlashSlash
                } else {
                    St::HostStart
                };
            }
            St::HostStart => {
                host_start = p;
                if ch == b'[' {
                    st = St::HostIpLiteral;
                } else {
                    // sw_host: letters, digits, '.', '-'; anything else ends the host (sw_host_end).
                    let mut q = p;
                    while q < buf.len() && (buf[q].is_ascii_alphanumeric() || matches!(buf[q], b'.' | b'-')) {
                        q += 1;
                    }
                    let Some(&c) = buf.get(q) else {
                        return Ok(Parsed::Incomplete);
                    };
                    st = host_end(c, q, host_start, schema_end, &mut rl)?;
                    p = q + 1;
                    continue;
                }
            }
            St::HostIpLiteral => {
                if ch == b']' {
                    let q = p + 1;
                    let Some(&c) = buf.get(q) else {
                        return Ok(Parsed::Incomplete);
                    };
                    st = host_end(c, q, host_start, schema_end, &mut rl)?;
                    p = q + 1;
                    continue;
                }
                let ok = ch.is_ascii_alphanumeric()
                    || matches!(ch, b':' | b'-' | b'.' | b'_' | b'~')
                    || matches!(
                        ch,
                        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
                    );
                if !ok {
                    return Err(error::INVALID_REQUEST);
                }
            }
            St::Port => {
                if !ch.is_ascii_digit() {
                    st = after_authority(ch, p, host_start, schema_end, &mut rl)?;
                }
            }
            St::Uri => {
                // sw_after_slash_in_uri / sw_check_uri / sw_uri differ only in the flags nginx
                // sets for later normalisation; for validity they agree: SP ends the URI, CR/LF
                // end an HTTP/0.9 line, other control bytes and DEL are errors.
                let rest = &buf[p..];
                let n = rest
                    .iter()
                    .position(|&b| b <= 0x20 || b == 0x7f)
                    .unwrap_or(rest.len());
                p += n;
                let Some(&c) = buf.get(p) else {
                    return Ok(Parsed::Incomplete);
                };
                rl.uri_end = p;
                match c {
                    b' ' => st = St::Http09,
                    b'\r' => st = St::AlmostDone,
                    b'\n' => {
                        end = Some(p);
                        break;
                    }
                    _ => return Err(error::INVALID_REQUEST),
                }
            }
            St::Http09 => match ch {
                b' ' => {}
                b'\r' => st = St::AlmostDone,
                b'\n' => {
                    end = Some(p);
                    break;
                }
                b'H' => {
                    proto_start = Some(p);
                    st = St::H;
                }
                _ => return Err(error::INVALID_REQUEST),
            },
            St::H | St::Ht | St::Htt | St::Http => {
                let (want, next) = match st {
                    St::H => (b'T', St::Ht),
                    St::Ht => (b'T', St::Htt),
                    St::Htt => (b'P', St::Http),
                    _ => (b'/', St::FirstMajor),
                };
                if ch != want {
                    return Err(error::INVALID_REQUEST);
                }
                st = next;
            }
            St::FirstMajor => {
                if !(b'1'..=b'9').contains(&ch) {
                    return Err(error::INVALID_REQUEST);
                }
                rl.major = ch - b'0';
                if rl.major > 1 {
                    return Err(error::INVALID_VERSION);
                }
                st = St::Major;
            }
            St::Major => {
                if ch == b'.' {
                    st = St::FirstMinor;
                } else if ch.is_ascii_digit() {
                    // The major version is already 1, so any second digit makes it > 1.
                    return Err(error::INVALID_VERSION);
                } else {
                    return Err(error::INVALID_REQUEST);
                }
            }
            St::FirstMinor => {
                if !ch.is_ascii_digit() {
                    return Err(error::INVALID_REQUEST);
                }
                rl.minor = u16::from(ch - b'0');
                st = St::Minor;
            }
            St::Minor => match ch {
                b'\r' => st = St::AlmostDone,
                b'\n' => {
                    end = Some(p);
                    break;
                }
                b' ' => st = St::SpacesAfterDigit,
                b'0'..=b'9' => {
                    if rl.minor > 99 {
                        return Err(error::INVALID_REQUEST);
                    }
                    rl.minor = rl.minor * 10 + u16::from(ch - b'0');
                }
                _ => return Err(error::INVALID_REQUEST),
            },
            St::SpacesAfterDigit => match ch {
                b' ' => {}
                b'\r' => st = St::AlmostDone,
                b'\n' => {
                    end = Some(p);
                    break;
                }
                _ => return Err(error::INVALID_REQUEST),
            },
            St::AlmostDone => {
                if ch != b'\n' {
                    return Err(error::INVALID_REQUEST);
                }
                // request_end = p - 1: the CR.
                end = Some(p - 1);
                break;
            }
        }
        p += 1;
    }
    let Some(end) = end else {
        return Ok(Parsed::Incomplete);
    };
    rl.end = end;
    rl.next = p + 1;
    match proto_start {
        Some(s) => rl.protocol = Some((s, end)),
        None => {
            // HTTP/0.9: nginx allows only GET (NGX_HTTP_PARSE_INVALID_09_METHOD).
            if &buf[rl.start..rl.method_end] != b"GET" {
                return Err(error::INVALID_09_METHOD);
            }
            rl.minor = 9;
        }
    }
    Ok(Parsed::Done(rl))
}

fn is_method_byte(ch: u8) -> bool {
    ch.is_ascii_uppercase() || ch == b'_' || ch == b'-'
}

/// nginx `sw_host_end`: the byte `c` at `q` follows the host.
fn host_end(
    c: u8,
    q: usize,
    host_start: usize,
    schema_end: usize,
    rl: &mut RequestLine,
) -> Result<St, HeadError> {
    if c == b':' {
        return Ok(St::Port);
    }
    after_authority(c, q, host_start, schema_end, rl)
}

/// The byte that ends `host[:port]`: `/` starts the path, `?` the query of an empty path, SP
/// ends an URI-less target (nginx then uses the `/` of `://` as the URI).
fn after_authority(
    c: u8,
    q: usize,
    host_start: usize,
    schema_end: usize,
    rl: &mut RequestLine,
) -> Result<St, HeadError> {
    rl.authority = Some((host_start, q));
    match c {
        b'/' => {
            rl.uri_start = q;
            Ok(St::Uri)
        }
        b'?' => {
            rl.uri_start = q;
            rl.empty_path = true;
            Ok(St::Uri)
        }
        b' ' => {
            rl.uri_start = schema_end + 1;
            rl.uri_end = schema_end + 2;
            Ok(St::Http09)
        }
        _ => Err(error::INVALID_REQUEST),
    }
}

/// Classic (nginx <= 1.29.3) `ngx_http_validate_host`: returns the server name (port and one
/// trailing dot removed, case unchanged) or `None` when nginx answers 400.
///
/// Rejects NUL, `/`, control bytes <= 0x20 and DEL anywhere (even after the port colon), `..`
/// anywhere, and an empty name. `\` and 8-bit bytes are accepted on Unix (checked on 1.22.1).
pub fn validate_host(host: &[u8]) -> Option<&[u8]> {
    #[derive(PartialEq)]
    enum S {
        Usual,
        Literal,
        Rest,
    }
    let mut state = S::Usual;
    let mut dot_pos: Option<usize> = None;
    let mut host_len = host.len();
    for (i, &ch) in host.iter().enumerate() {
        match ch {
            b'.' => {
                if i > 0 && dot_pos == Some(i - 1) {
                    return None;
                }
                dot_pos = Some(i);
            }
            b':' => {
                if state == S::Usual {
                    host_len = i;
                    state = S::Rest;
                }
            }
            b'[' => {
                if i == 0 {
                    state = S::Literal;
                }
            }
            b']' => {
                if state == S::Literal {
                    host_len = i + 1;
                    state = S::Rest;
                }
            }
            b'/' => return None,
            _ => {
                if ch <= 0x20 || ch == 0x7f {
                    return None;
                }
            }
        }
    }
    if host_len > 0 && dot_pos == Some(host_len - 1) {
        host_len -= 1;
    }
    if host_len == 0 {
        return None;
    }
    host.get(..host_len)
}
