//! Deterministic mutation fuzzing of the parsers that read bytes a client or
//! an upstream controls: request heads, upstream response heads, chunked
//! bodies, URIs and Host values, Range / If-Range / If-None-Match / dates,
//! Accept-Encoding. None may panic (README: "no unwrap()/panic on any path a
//! client, an upstream or a config file controls"); what they return is
//! checked by their own table-driven tests. Each seed is mutated a few
//! thousand times with a fixed PRNG, so a failure reproduces exactly; the
//! PROXY protocol decoder has its own such test (proxy_protocol_tests.rs).

use crate::http1::{
    check_partial_head, find_head_end, parse_request_head, parse_response_head, validate_host,
    ChunkedDecoder, HeadLimits,
};

/// xorshift32: small, deterministic, good enough to pick mutations.
struct Rng(u32);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0 as usize % n.max(1)
    }
}

/// Bytes that matter to HTTP parsers, over-represented among insertions.
const SPECIAL: &[u8] = b"\r\n\r\n: \t/%.?#;,=\"'\\\x00\x7f\x80\xc0\xffHTTP/1.1chunked0123456789abcdefx-";

/// One mutation of `seed`: a few random edits (flip, insert, delete, copy a
/// span, truncate).
fn mutate(seed: &[u8], r: &mut Rng) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + r.below(4) {
        let at = r.below(v.len() + 1);
        match r.below(6) {
            0 if !v.is_empty() => {
                let i = r.below(v.len());
                v[i] ^= 1 << r.below(8);
            }
            1 => v.insert(at, SPECIAL[r.below(SPECIAL.len())]),
            2 => v.insert(at, r.below(256) as u8),
            3 if at < v.len() => {
                let end = (at + 1 + r.below(8)).min(v.len());
                v.drain(at..end);
            }
            4 if at < v.len() => {
                let end = (at + 1 + r.below(16)).min(v.len());
                let span = v[at..end].to_vec();
                let to = r.below(v.len() + 1);
                v.splice(to..to, span);
            }
            _ => v.truncate(at),
        }
    }
    v
}

/// Runs `check` on `rounds` mutations of each seed (and on the seeds).
fn fuzz(seeds: &[&[u8]], rounds: usize, salt: u32, mut check: impl FnMut(&[u8])) {
    let mut r = Rng(0x9e37_79b9 ^ salt);
    for seed in seeds {
        check(seed);
        for _ in 0..rounds {
            check(&mutate(seed, &mut r));
        }
    }
}

#[test]
fn request_heads() {
    let seeds: &[&[u8]] = &[
        b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
        b"GET http://a.example:8080/x/../y?q=1#f HTTP/1.1\r\nHost: b\r\nConnection: keep-alive, Upgrade\r\n\r\n",
        b"POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
        b"HEAD /%2e%2e/%00/a%2fb HTTP/1.0\r\nX_Under: 1\r\nHost: [::1]:80\r\nCookie: a=b; c=d\r\n\r\n",
        b"GET /\xc0\xaf HTTP/1.1\r\nHost: h\r\nRange: bytes=0-1,5-\r\n Folded: x\r\n\r\n",
        b"GET / HTTP/1.1\n\nHost: h\n\n",
    ];
    let limits = HeadLimits::default();
    let (mut tried, mut parsed) = (0, 0);
    fuzz(seeds, 3000, 1, |m| {
        let _ = find_head_end(m, 0);
        let _ = check_partial_head(m, &limits);
        tried += 1;
        if let Ok(h) = parse_request_head(bytes::Bytes::copy_from_slice(m), &limits) {
            parsed += 1;
            let _ = (h.header(b"host"), h.version());
        }
    });
    // The mutations stay close enough to HTTP to reach past the request line.
    assert!(parsed * 10 > tried, "{parsed} of {tried} mutated heads parsed");
}

#[test]
fn upstream_response_heads() {
    let seeds: &[&[u8]] = &[
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\n0123456789",
        b"HTTP/1.1 302 Found\r\nLocation: http://a/b\r\nTransfer-Encoding: gzip, chunked\r\nSet-Cookie: a=b; Path=/\r\n\r\n",
        b"HTTP/1.0 404\r\nX-Accel-Buffering: no\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        b"HTTP/1.1 200 OK\nContent-Length: -1\n\n",
    ];
    let (mut tried, mut parsed) = (0, 0);
    fuzz(seeds, 3000, 2, |m| {
        tried += 1;
        parsed += usize::from(matches!(parse_response_head(m, 4096), Ok(Some(_))));
        for max in [16, 4096] {
            if let Ok(Some(h)) = parse_response_head(m, max) {
                let _ = (
                    h.status(),
                    h.content_length(),
                    h.chunked(),
                    h.conn_close(),
                    h.upgrade(),
                );
                let _ = h.body_framing(false);
                let _ = h.headers().count();
            }
        }
    });
    assert!(parsed * 10 > tried, "{parsed} of {tried} mutated heads parsed");
}

#[test]
fn chunked_bodies_in_any_split() {
    let seeds: &[&[u8]] = &[
        b"5\r\nhello\r\n0\r\n\r\n",
        b"1a;ext=1;q=\"x\"\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nTrailer: t\r\n\r\n",
        b"ffffffffffffffff\r\nx\r\n",
        b"0\r\n\r\n",
    ];
    let mut r = Rng(7);
    fuzz(seeds, 3000, 3, |m| {
        let mut dec = ChunkedDecoder::new();
        let mut rest = m;
        while !rest.is_empty() {
            let piece = &rest[..1 + r.below(rest.len())];
            let Ok(step) = dec.decode(piece) else { return };
            if let Some(data) = step.data {
                assert!(data.end <= piece.len(), "data range inside the input");
            }
            if step.done || step.consumed == 0 {
                return;
            }
            rest = &rest[step.consumed.min(rest.len())..];
        }
    });
}

#[test]
fn uris_and_hosts() {
    let seeds: &[&[u8]] = &[
        b"/a/./b/../../c//d%2F%2e%2E/%00?x=%zz",
        b"/%c0%ae%c0%ae/etc/passwd",
        b"/..\\..\\x",
        b"//////a/b/c/../../../../..",
    ];
    fuzz(seeds, 3000, 4, |m| {
        let _ = crate::routing::uri::normalize(m, true);
        let _ = crate::routing::uri::normalize(m, false);
    });
    let hosts: &[&[u8]] = &[
        b"Example.COM.:8080",
        b"[::ffff:1.2.3.4]:443",
        b"a..b",
        b"x_y.local",
    ];
    fuzz(hosts, 3000, 5, |m| {
        let _ = validate_host(m);
        let _ = crate::routing::host::normalize_host(m);
    });
}

#[test]
fn conditionals_ranges_and_accept_encoding() {
    use crate::static_files::cond;
    let ranges: &[&[u8]] = &[
        b"bytes=0-99,200-,-50",
        b"bytes=18446744073709551615-18446744073709551616",
        b"bytes= 1 - 2 , 3-",
    ];
    let etag = Some(&b"\"5f3a-400\""[..]);
    fuzz(ranges, 3000, 6, |m| {
        for (len, max) in [(0, None), (1000, None), (u64::MAX, Some(1)), (1000, Some(0))] {
            let _ = cond::ranges(Some(m), None, etag, Some(0), len, max);
            let _ = cond::ranges(Some(m), Some(m), etag, Some(1_700_000_000), len, max);
        }
    });
    let validators: &[&[u8]] = &[
        b"W/\"5f3a-400\", \"x\", *",
        b"Sun, 06 Nov 1994 08:49:37 GMT",
        b"Sunday, 06-Nov-94 08:49:37 GMT",
        b"Sun Nov  6 08:49:37 1994",
    ];
    fuzz(validators, 3000, 7, |m| {
        let _ = cond::etag_matches(m, etag, true);
        let _ = cond::etag_matches(m, etag, false);
        let _ = crate::http::date::parse_http_time(m);
    });
    let ae: &[&[u8]] = &[
        b"gzip;q=0.5, deflate, br;q=1.0, *;q=0",
        b"GZIP ; Q = 0.001",
        b"x-gzip;q=1.0000",
    ];
    fuzz(ae, 3000, 8, |m| {
        let _ = crate::filters::gzip::accept_encoding(m);
    });
}
