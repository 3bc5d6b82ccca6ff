use super::*;

fn parse(raw: &[u8]) -> ResponseHead {
    match parse_response_head(raw, 4096) {
        Ok(Some(h)) => h,
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(raw)),
    }
}

#[test]
fn valid_heads() {
    // (raw, status, status_line, version, content_length, chunked, conn_close, framing for GET)
    type Case = (
        &'static [u8],
        u16,
        &'static [u8],
        Version,
        Option<u64>,
        bool,
        bool,
        BodyFraming,
    );
    let cases: &[Case] = &[
        (
            b"HTTP/1.1 200 Fine\r\nContent-Length: 5\r\n\r\n",
            200,
            b"200 Fine",
            Version::Http11,
            Some(5),
            false,
            false,
            BodyFraming::Length(5),
        ),
        (
            b"HTTP/1.1 200\r\nContent-Length: 2\r\n\r\n",
            200,
            b"200",
            Version::Http11,
            Some(2),
            false,
            false,
            BodyFraming::Length(2),
        ),
        (
            b"HTTP/1.1   404   Not  Here  \r\n\r\n",
            404,
            b"404   Not  Here  ",
            Version::Http11,
            None,
            false,
            false,
            BodyFraming::UntilClose,
        ),
        (
            b"HTTP/1.1 403.1 Forbidden\r\n\r\n",
            403,
            b"403.1 Forbidden",
            Version::Http11,
            None,
            false,
            false,
            BodyFraming::UntilClose,
        ),
        (
            b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n",
            200,
            b"200 OK",
            Version::Http10,
            Some(2),
            false,
            true,
            BodyFraming::Length(2),
        ),
        (
            b"HTTP/1.1 200 OK\r\nConnection: Close\r\n\r\n",
            200,
            b"200 OK",
            Version::Http11,
            None,
            false,
            true,
            BodyFraming::UntilClose,
        ),
        (
            b"HTTP/2.0 200 OK\r\n\r\n",
            200,
            b"200 OK",
            Version::Http11,
            None,
            false,
            false,
            BodyFraming::UntilClose,
        ),
        (
            b"HTTP/1.1 099 X\r\n\r\n",
            99,
            b"099 X",
            Version::Http11,
            None,
            false,
            false,
            BodyFraming::UntilClose,
        ),
        // chunked wins over Content-Length, and "chunked" anywhere in the value counts
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            200,
            b"200 OK",
            Version::Http11,
            Some(3),
            true,
            false,
            BodyFraming::Chunked,
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n",
            200,
            b"200 OK",
            Version::Http11,
            None,
            true,
            false,
            BodyFraming::Chunked,
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
            200,
            b"200 OK",
            Version::Http11,
            None,
            false,
            false,
            BodyFraming::UntilClose,
        ),
        // the last Content-Length wins; invalid or empty means unknown
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\n",
            200,
            b"200 OK",
            Version::Http11,
            Some(5),
            false,
            false,
            BodyFraming::Length(5),
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: abc\r\n\r\n",
            200,
            b"200 OK",
            Version::Http11,
            None,
            false,
            false,
            BodyFraming::UntilClose,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n",
            200,
            b"200 OK",
            Version::Http11,
            None,
            false,
            false,
            BodyFraming::UntilClose,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
            200,
            b"200 OK",
            Version::Http11,
            None,
            false,
            false,
            BodyFraming::UntilClose,
        ),
        // bodiless statuses
        (
            b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
            204,
            b"204 No Content",
            Version::Http11,
            Some(5),
            false,
            false,
            BodyFraming::None,
        ),
        (
            b"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
            304,
            b"304 Not Modified",
            Version::Http11,
            None,
            true,
            false,
            BodyFraming::None,
        ),
        (
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
            101,
            b"101 Switching Protocols",
            Version::Http11,
            None,
            false,
            false,
            BodyFraming::None,
        ),
        // bare LF line ends
        (
            b"HTTP/1.1 201 Made\nX-A: 1\nContent-Length: 2\n\n",
            201,
            b"201 Made",
            Version::Http11,
            Some(2),
            false,
            false,
            BodyFraming::Length(2),
        ),
    ];
    for (raw, status, line, version, cl, chunked, close, framing) in cases {
        let h = parse(raw);
        let what = String::from_utf8_lossy(raw);
        assert_eq!(h.status(), *status, "{what}");
        assert_eq!(h.status_line(), *line, "{what}");
        assert_eq!(h.version(), *version, "{what}");
        assert_eq!(h.content_length(), *cl, "{what}");
        assert_eq!(h.chunked(), *chunked, "{what}");
        assert_eq!(h.conn_close(), *close, "{what}");
        assert_eq!(h.body_framing(false), *framing, "{what}");
        assert_eq!(h.body_framing(true), BodyFraming::None, "{what}");
        assert_eq!(h.head_len(), raw.len(), "{what}");
    }
}

#[test]
fn headers_and_reason() {
    let raw = b"HTTP/1.1 200 Fine Day\r\nHTTP/1.1 200 OK\r\nX@A: 1\r\nX_B:  2 \r\nX-C\r\nX-D:\tt\t\r\nUpgrade: ws\r\n\r\nBODY";
    let h = parse(raw);
    assert_eq!(h.reason(), b"Fine Day");
    let all: Vec<_> = h.headers().collect();
    // The IIS duplicate status line is skipped; names nginx drops from clients are kept.
    assert_eq!(
        all,
        vec![
            (&b"X@A"[..], &b"1"[..]),
            (b"X_B", b"2"),
            (b"X-C", b""),
            (b"X-D", b"\tt\t"),
            (b"Upgrade", b"ws")
        ]
    );
    assert_eq!(h.header(b"x_b"), Some(&b"2"[..]));
    assert_eq!(h.upgrade(), Some(&b"ws"[..]));
    assert_eq!(&raw[h.head_len()..], b"BODY");
}

#[test]
fn invalid_status_line_is_http09() {
    for raw in [
        &b"hello world"[..],
        b"HTTP/1 200 OK\r\n\r\n",
        b"HTTP/1.1 2000 X\r\n\r\n",
        b"HTTP/1.1 200 OK\r\r\n\r\n",
        b"HTTP/0.9 200 OK\r\n\r\n",
        b"http/1.1 200 OK\r\n\r\n",
        b"HTTP/1.1 20x OK\r\n\r\n",
        b"HTTP/1.1 200OK\r\n\r\n",
        b"HTTP/1.1\t200 OK\r\n\r\n",
        b"HTTP/1000.1 200 OK\r\n\r\n",
    ] {
        let h = parse(raw);
        assert!(h.is_http09(), "{:?}", String::from_utf8_lossy(raw));
        assert_eq!((h.status(), h.head_len()), (200, 0));
        assert_eq!(h.body_framing(false), BodyFraming::UntilClose);
        assert!(h.conn_close());
    }
}

#[test]
fn errors_and_incomplete() {
    // With nginx 1.22.1's log message for each (the line up to the byte its
    // parser stops at).
    for (raw, msg) in [
        (
            &b"HTTP/1.1 200 OK\r\nX A: b\r\n\r\n"[..],
            r#"upstream sent invalid header: "X\x20...""#,
        ),
        (
            b"HTTP/1.1 200 OK\r\nX-A: a\0b\r\n\r\n",
            r#"upstream sent invalid header: "X-A: a\x00...""#,
        ),
        (
            b"HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\n\r\n",
            r#"upstream sent invalid header: "\x20...""#,
        ),
        (
            b"HTTP/1.1 200 OK\r\n: b\r\n\r\n",
            r#"upstream sent invalid header: "\x3a...""#,
        ),
        (
            b"HTTP/1.1 200 OK\r\nX-A: b\rc\r\n\r\n",
            "upstream sent invalid header: \"X-A: b\r\\x63...\"",
        ),
        (
            b"HTTP/1.1 200 OK\r\n\r\r\n",
            "upstream sent invalid header: \"\r\\x0d...\"",
        ),
    ] {
        let e = parse_response_head(raw, 4096).map(|h| h.is_some()).unwrap_err();
        assert_eq!(e.reason, error::UP_INVALID_HEADER.reason);
        assert_eq!(e.message(raw), msg, "{:?}", String::from_utf8_lossy(raw));
    }
    for raw in [
        &b""[..],
        b"H",
        b"HTTP/1.",
        b"HTTP/1.1 20",
        b"HTTP/1.1 200",
        b"HTTP/1.1 200 OK\r",
        b"HTTP/1.1 200 OK\r\nX-A: 1\r\n",
    ] {
        assert!(
            matches!(parse_response_head(raw, 4096), Ok(None)),
            "{:?}",
            String::from_utf8_lossy(raw)
        );
    }
    // Too big: the head must end within `max` bytes.
    let mut raw = b"HTTP/1.1 200 OK\r\nX-Big: ".to_vec();
    raw.extend_from_slice(&[b'a'; 5000]);
    raw.extend_from_slice(b"\r\n\r\n");
    assert_eq!(
        parse_response_head(&raw, 4096).map(|h| h.is_some()),
        Err(error::UP_TOO_BIG)
    );
    assert_eq!(
        parse_response_head(&raw[..4096], 4096).map(|h| h.is_some()),
        Err(error::UP_TOO_BIG)
    );
    assert!(matches!(parse_response_head(&raw[..4095], 4096), Ok(None)));
    let exact = b"HTTP/1.1 200 OK\r\n\r\n";
    assert!(parse_response_head(exact, exact.len()).is_ok_and(|h| h.is_some()));
    assert_eq!(
        parse_response_head(exact, exact.len() - 1).map(|h| h.is_some()),
        Err(error::UP_TOO_BIG)
    );
}
