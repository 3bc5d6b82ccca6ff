//! An HTTP/2 request as the HTTP/1.1 head the pipeline parses, so that every
//! check of the HTTP/1 reader (header limits, Host validation, invalid
//! headers) applies to both protocols alike.
//!
//! As nginx does (ngx_http_v2_construct_request_line,
//! ngx_http_v2_construct_cookie_header): `:authority` becomes Host unless a
//! `host` header was sent (the header wins), the `cookie` fields are joined
//! with "; ", and the h2 codec has already refused connection-specific
//! fields. A body whose length the client did not announce is passed on
//! chunked.

/// The HTTP/1.1 request head. A body of unknown length is marked
/// `transfer-encoding: chunked` (nginx's `r->headers_in.chunked`); its bytes
/// come from the DATA frames as they are (body.rs `Kind::Stream`).
pub fn h1_head(parts: &http::request::Parts, has_body: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.push(b' ');
    match parts.uri.path_and_query() {
        Some(pq) if !pq.as_str().is_empty() => out.extend_from_slice(pq.as_str().as_bytes()),
        // CONNECT has only an authority.
        _ => match parts.uri.authority() {
            Some(a) => out.extend_from_slice(a.as_str().as_bytes()),
            None => out.push(b'/'),
        },
    }
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let h = &parts.headers;
    if !h.contains_key(http::header::HOST) {
        if let Some(a) = parts.uri.authority() {
            line(&mut out, b"host", a.as_str().as_bytes());
        }
    }
    let mut cookie: Option<Vec<u8>> = None;
    let mut length = false;
    for (name, value) in h {
        if name == http::header::COOKIE {
            let c = cookie.get_or_insert_with(Vec::new);
            if !c.is_empty() {
                c.extend_from_slice(b"; ");
            }
            c.extend_from_slice(value.as_bytes());
            continue;
        }
        // `te: trailers` is the only TE h2 allows; it means nothing to HTTP/1.1 handlers.
        if name == http::header::TE {
            continue;
        }
        if name == http::header::CONTENT_LENGTH {
            length = true;
        }
        line(&mut out, name.as_str().as_bytes(), value.as_bytes());
    }
    if let Some(c) = cookie {
        line(&mut out, b"cookie", &c);
    }
    let chunked = has_body && !length;
    if chunked {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

fn line(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::h1_head;

    fn parts(b: http::request::Builder) -> http::request::Parts {
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn authority_becomes_host_unless_host_sent() {
        let p = parts(http::Request::get("https://example.com:8443/a?b=1"));
        let h = h1_head(&p, false);
        assert_eq!(
            String::from_utf8(h).unwrap(),
            "GET /a?b=1 HTTP/1.1\r\nhost: example.com:8443\r\n\r\n"
        );
        let p = parts(http::Request::get("https://example.com/").header("host", "other"));
        let h = h1_head(&p, false);
        assert_eq!(
            String::from_utf8(h).unwrap(),
            "GET / HTTP/1.1\r\nhost: other\r\n\r\n"
        );
    }

    #[test]
    fn cookies_joined_and_body_framing() {
        let p = parts(
            http::Request::post("https://x/p")
                .header("cookie", "a=1")
                .header("cookie", "b=2")
                .header("te", "trailers"),
        );
        let h = h1_head(&p, true);
        assert_eq!(
            String::from_utf8(h).unwrap(),
            "POST /p HTTP/1.1\r\nhost: x\r\ncookie: a=1; b=2\r\ntransfer-encoding: chunked\r\n\r\n"
        );
        let p = parts(http::Request::post("https://x/p").header("content-length", "3"));
        let h = h1_head(&p, true);
        assert!(!String::from_utf8(h.clone()).unwrap().contains("chunked"));
        assert!(String::from_utf8(h).unwrap().contains("content-length: 3\r\n"));
    }
}
