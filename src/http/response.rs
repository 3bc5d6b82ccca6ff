//! Response heads as nginx writes them (`ngx_http_header_filter`, nginx/nginx:
//! src/http/ngx_http_header_filter_module.c): always `HTTP/1.1`, then Server,
//! Date, Content-Type, Content-Length, Last-Modified, Location,
//! Transfer-Encoding, Connection, then every other header in insertion order.

use super::status::{reason, wire_status, NGINX_VERSION};
use bytes::Bytes;

/// How the body of a response is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body at all (HEAD, 204, 304, 1xx), or a fixed length.
    Length(u64),
    /// HTTP/1.1 chunked.
    Chunked,
    /// Until the connection closes (HTTP/1.0 clients, unknown length).
    Close,
    /// No body follows and its length is unknown: neither Content-Length nor
    /// Transfer-Encoding (HEAD of a response of unknown length; nginx's chunked
    /// filter skips header-only responses, and the connection stays reusable).
    NoBody,
}

/// What the `Connection` header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnHeader {
    KeepAlive,
    Close,
    Upgrade,
}

#[derive(Debug, Default, Clone)]
pub struct ResponseHead {
    pub status: u16,
    /// The upstream's reason phrase, passed through as nginx does.
    pub reason: Option<Bytes>,
    pub content_type: Option<Bytes>,
    pub location: Option<Bytes>,
    pub last_modified: Option<Bytes>,
    /// gzip_vary's `Vary: Accept-Encoding`. nginx's header filter writes it
    /// from a flag (`r->gzip_vary`): once, however many times gzip and
    /// gzip_static asked, after Connection, and not among the headers that
    /// `$sent_http_vary` sees.
    pub vary_accept_encoding: bool,
    /// Every other header, in order. `Bytes` so that upstream headers are
    /// passed on as slices of the upstream head, without copying.
    pub headers: Vec<(Bytes, Bytes)>,
}

impl ResponseHead {
    pub fn new(status: u16) -> ResponseHead {
        ResponseHead {
            status,
            ..Default::default()
        }
    }

    pub fn push(&mut self, name: &[u8], value: &[u8]) {
        self.headers
            .push((Bytes::copy_from_slice(name), Bytes::copy_from_slice(value)));
    }

    /// Appends the serialised head to `out` (the HTTP/1 encoder: only
    /// `ClientIo::begin_response` calls it). `date` is the `Date:` value;
    /// statuses that never carry a body get no Content-Length.
    pub fn write(
        &self,
        framing: Framing,
        conn: ConnHeader,
        server_tokens: bool,
        date: &[u8],
        out: &mut Vec<u8>,
    ) {
        let status = wire_status(self.status);
        out.extend_from_slice(b"HTTP/1.1 ");
        push_u64(out, u64::from(status));
        out.push(b' ');
        match (&self.reason, reason(status)) {
            (Some(r), _) => out.extend_from_slice(r),
            (None, Some(r)) => out.extend_from_slice(r.as_bytes()),
            (None, None) => {}
        }
        out.extend_from_slice(b"\r\nServer: nginx");
        if server_tokens {
            out.push(b'/');
            out.extend_from_slice(NGINX_VERSION.as_bytes());
        }
        out.extend_from_slice(b"\r\nDate: ");
        out.extend_from_slice(date);
        out.extend_from_slice(b"\r\n");
        if let Some(ct) = &self.content_type {
            header(out, b"Content-Type", ct);
        }
        if let Framing::Length(n) = framing {
            if !matches!(status, 100..=199 | 204 | 304) {
                out.extend_from_slice(b"Content-Length: ");
                push_u64(out, n);
                out.extend_from_slice(b"\r\n");
            }
        }
        if let Some(lm) = &self.last_modified {
            header(out, b"Last-Modified", lm);
        }
        if let Some(l) = &self.location {
            header(out, b"Location", l);
        }
        if framing == Framing::Chunked {
            out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
        }
        out.extend_from_slice(match conn {
            ConnHeader::KeepAlive => b"Connection: keep-alive\r\n".as_slice(),
            ConnHeader::Close => b"Connection: close\r\n",
            ConnHeader::Upgrade => b"Connection: upgrade\r\n",
        });
        if self.vary_accept_encoding {
            out.extend_from_slice(b"Vary: Accept-Encoding\r\n");
        }
        for (n, v) in &self.headers {
            header(out, n, v);
        }
        out.extend_from_slice(b"\r\n");
    }
}

fn header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Appends `n` in decimal without going through `fmt` or allocating.
pub fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut b = [0u8; 20];
    let mut i = b.len();
    loop {
        i -= 1;
        b[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&b[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATE: &[u8] = b"Thu, 01 Jan 1970 00:00:00 GMT";

    #[test]
    fn head_order_matches_nginx() {
        let mut h = ResponseHead::new(302);
        h.content_type = Some(Bytes::from_static(b"text/html"));
        h.location = Some(Bytes::from_static(b"http://x/"));
        h.push(b"X-A", b"1");
        let mut out = Vec::new();
        h.write(Framing::Length(5), ConnHeader::KeepAlive, true, DATE, &mut out);
        let s = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = s.split("\r\n").collect();
        assert_eq!(lines[0], "HTTP/1.1 302 Moved Temporarily");
        assert_eq!(lines[1], "Server: nginx/1.22.1");
        assert!(lines[2].starts_with("Date: "));
        assert_eq!(
            &lines[3..8],
            [
                "Content-Type: text/html",
                "Content-Length: 5",
                "Location: http://x/",
                "Connection: keep-alive",
                "X-A: 1"
            ]
        );
        assert!(s.ends_with("\r\n\r\n"));
    }

    #[test]
    fn statuses_without_body_have_no_length_and_unknown_codes_no_reason() {
        let mut out = Vec::new();
        ResponseHead::new(304).write(Framing::Length(0), ConnHeader::Close, false, DATE, &mut out);
        let s = String::from_utf8(out).unwrap();
        assert!(!s.contains("Content-Length"));
        assert!(s.contains("Server: nginx\r\n"));
        let mut out = Vec::new();
        ResponseHead::new(599).write(Framing::Length(0), ConnHeader::Close, true, DATE, &mut out);
        assert!(String::from_utf8(out).unwrap().starts_with("HTTP/1.1 599 \r\n"));
        // HEAD of a response of unknown length: no framing headers at all (nginx 1.22.1).
        let mut out = Vec::new();
        ResponseHead::new(200).write(Framing::NoBody, ConnHeader::KeepAlive, true, DATE, &mut out);
        let s = String::from_utf8(out).unwrap();
        assert!(
            !s.contains("Content-Length") && !s.contains("Transfer-Encoding"),
            "{s}"
        );
        let mut v = Vec::new();
        push_u64(&mut v, 0);
        push_u64(&mut v, 18446744073709551615);
        assert_eq!(v, b"018446744073709551615");
    }
}
