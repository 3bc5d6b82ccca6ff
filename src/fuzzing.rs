//! Fuzzing entry points (issue 18): one function per target, each feeding
//! arbitrary bytes to the real parsers through their public API and checking
//! cheap invariants with `assert!`. A panic here is a finding.
//!
//! The cargo-fuzz targets in `fuzz/fuzz_targets/` call these functions and
//! nothing else, and `tests/fuzz_corpus.rs` replays the committed corpora
//! (`fuzz/corpus/TARGET/`) through the same functions on stable Rust, so the
//! fuzzer and the normal test suite run identical code. Not part of the
//! product: nothing in rampart calls this module.

use std::ops::Range;
use std::path::Path;

use bytes::Bytes;

use crate::access::{auth_basic, htpasswd as htp};
use crate::config::nginx::lexer;
use crate::http1::{
    check_partial_head, find_head_end, parse_request_head, parse_response_head, BodyFraming, ChunkedDecoder,
    HeadLimits,
};
use crate::model::nginx as nginx_config;
use crate::routing::{uri, Captures, PcreRegex};
use crate::server::proxy_protocol;

/// A target's body: takes any bytes, panics only on a finding.
pub type Target = fn(&[u8]);

/// Every target by name (the fuzz target and corpus directory names).
pub const TARGETS: &[(&str, Target)] = &[
    ("http1_request", http1_request),
    ("http1_response", http1_response),
    ("nginx_conf", nginx_conf),
    ("uri", uri),
    ("proxy_protocol", proxy_protocol),
    ("htpasswd", htpasswd),
    ("regex", regex),
];

/// Takes the first byte of `data` as a control byte (0 when empty).
fn control(data: &[u8]) -> (u8, &[u8]) {
    match data.split_first() {
        Some((&c, rest)) => (c, rest),
        None => (0, data),
    }
}

/// A split point in `0..=len` chosen by two fuzzer bytes.
fn split_point(hi: u8, lo: u8, len: usize) -> usize {
    usize::from(u16::from_be_bytes([hi, lo])) % (len + 1)
}

/// What decoding a chunked body gave: the body bytes, and how it ended.
#[derive(Debug, PartialEq, Eq)]
struct Chunked {
    data: Vec<u8>,
    /// `Some(Ok(n))`: the body ended after `n` input bytes; `Some(Err(()))`:
    /// a decode error; `None`: more input needed.
    end: Option<Result<usize, ()>>,
}

/// Feeds `input` to a [`ChunkedDecoder`] in two reads split at `split`, the
/// way a connection buffer fills: undecoded bytes stay and the next read is
/// appended. Checks the decoder's own promises on every step.
fn decode_chunked(input: &[u8], split: usize) -> Chunked {
    let split = split.min(input.len());
    let mut dec = ChunkedDecoder::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut used = 0usize;
    let mut data = Vec::new();
    for piece in [&input[..split], &input[split..]] {
        buf.extend_from_slice(piece);
        loop {
            let step = match dec.decode(&buf) {
                Ok(step) => step,
                Err(_) => {
                    return Chunked {
                        data,
                        end: Some(Err(())),
                    }
                }
            };
            assert!(step.consumed <= buf.len(), "consumed past the input");
            if let Some(r) = &step.data {
                assert!(
                    r.start <= r.end && r.end <= step.consumed,
                    "data range {r:?} outside {}",
                    step.consumed
                );
                data.extend_from_slice(&buf[r.clone()]);
            }
            assert_eq!(step.done, dec.is_done());
            buf.drain(..step.consumed);
            used += step.consumed;
            if step.done {
                return Chunked {
                    data,
                    end: Some(Ok(used)),
                };
            }
            // No progress is only allowed with nothing to read.
            assert!(
                step.consumed > 0 || buf.is_empty(),
                "decoder stalled on {} bytes",
                buf.len()
            );
            if buf.is_empty() {
                break;
            }
        }
    }
    assert!(data.len() <= input.len(), "more body bytes than input bytes");
    Chunked { data, end: None }
}

/// Decodes `input` whole and split at `split`; both must agree.
fn check_chunked(input: &[u8], split: usize) {
    let whole = decode_chunked(input, input.len());
    let parts = decode_chunked(input, split);
    assert_eq!(whole, parts, "a split changed the chunked decoding");
    if let Some(Ok(n)) = whole.end {
        assert!(n <= input.len());
        assert!(whole.data.len() < n, "framing takes at least the last chunk");
    }
}

/// The head limits the first control byte picks: nginx's defaults, or small
/// buffers so that the 414/494 paths are reached with short inputs.
fn head_limits(c: u8) -> HeadLimits {
    let mut l = HeadLimits {
        underscores_in_headers: c & 1 != 0,
        ignore_invalid_headers: c & 2 == 0,
        ..HeadLimits::default()
    };
    if c & 4 != 0 {
        l.client_header_buffer_size = 16 + usize::from(c >> 3);
        l.large_buffers = 1 + usize::from(c >> 6);
        l.large_buffer_size = 32 + 4 * usize::from(c >> 3);
    }
    l
}

/// Target `http1_request`: a client request head arriving in two reads (split
/// where the fuzzer says), read as the connection loop does (`find_head_end`
/// from where the last scan stopped, `check_partial_head` while incomplete),
/// then parsed; the bytes after the head go to the chunked decoder.
///
/// Layout: limits byte, two split bytes, one body-split byte, then the stream.
pub fn http1_request(data: &[u8]) {
    let (c, rest) = control(data);
    let limits = head_limits(c);
    let (&[hi, lo, body_split], stream) = rest.split_first_chunk::<3>().unwrap_or((&[0, 0, 0], rest));
    let split = split_point(hi, lo, stream.len());

    let mut pending: Vec<u8> = Vec::new();
    let mut scan_from = 0;
    let mut end = None;
    for piece in [&stream[..split], &stream[split..]] {
        pending.extend_from_slice(piece);
        if let Some(e) = find_head_end(&pending, scan_from) {
            end = Some(e);
            break;
        }
        if check_partial_head(&pending, &limits).is_err() {
            break;
        }
        scan_from = pending.len().saturating_sub(3);
    }
    let Some(end) = end else {
        return;
    };
    assert!(
        end <= pending.len(),
        "head end {end} past the {} bytes read",
        pending.len()
    );
    // Where the head ends cannot depend on how the bytes arrived.
    assert_eq!(
        find_head_end(stream, 0),
        Some(end),
        "a split moved the end of the head"
    );

    if let Ok(head) = parse_request_head(Bytes::copy_from_slice(&pending[..end]), &limits) {
        assert!(head.head_len() <= end, "head_len {} > {end}", head.head_len());
        assert_eq!(head.bytes().len(), end);
        let _ = (
            head.method(),
            head.request_line(),
            head.request_uri(),
            head.protocol(),
        );
        let _ = (
            head.host(),
            head.server_host(),
            head.absolute_host(),
            head.upgrade(),
        );
        let _ = (head.wants_keepalive(), head.expect_continue(), head.version());
        assert!(!head.method().is_empty());
        for (name, value) in head.headers() {
            assert!(!name.is_empty());
            let _ = (head.header(name), value);
        }
        if head.chunked() {
            assert!(head.content_length().is_none(), "chunked and a length");
        }
        // The target is the raw URI normalisation's input on the real path.
        let _ = uri::normalize(head.target(), true);
    }
    let body = &stream[end..];
    check_chunked(body, usize::from(body_split) % (body.len() + 1));
}

/// Target `http1_response`: an upstream response head read as the proxy does
/// (grow the buffer, parse, skip interim 1xx heads), with `proxy_buffer_size`
/// from the first two bytes; a chunked body goes to the decoder.
///
/// Layout: two size bytes, two split bytes, one body-split byte, then the stream.
pub fn http1_response(data: &[u8]) {
    let Some((&[s1, s2, hi, lo, body_split], stream)) = data.split_first_chunk::<5>() else {
        return;
    };
    // 1..=8192, or a large value (nginx's default is one page).
    let max = match u16::from_be_bytes([s1, s2]) {
        0 => 1 << 20,
        n => 1 + usize::from(n) % 8192,
    };
    let split = split_point(hi, lo, stream.len());

    let mut buf: Vec<u8> = Vec::new();
    let mut consumed = 0usize;
    let mut pieces = [&stream[..split], &stream[split..]].into_iter();
    let head = loop {
        match parse_response_head(&buf, max) {
            Ok(Some(h)) => {
                assert!(h.head_len() <= buf.len() && h.head_len() <= max);
                assert_eq!(h.bytes().len(), h.head_len());
                assert!(
                    h.is_http09() == (h.head_len() == 0),
                    "only HTTP/0.9 has an empty head"
                );
                // The same bytes parsed at once give the same head.
                match parse_response_head(&stream[consumed..], max) {
                    Ok(Some(w)) => assert_eq!((w.head_len(), w.status()), (h.head_len(), h.status())),
                    other => panic!("prefix gave a head, whole input gave {other:?}"),
                }
                if (100..200).contains(&h.status()) && h.status() != 101 {
                    assert!(h.head_len() > 0, "an empty interim head would loop");
                    buf.drain(..h.head_len());
                    consumed += h.head_len();
                    continue;
                }
                break h;
            }
            Ok(None) => {
                assert!(buf.len() < max, "incomplete at proxy_buffer_size");
            }
            Err(_) => {
                assert!(
                    parse_response_head(&stream[consumed..], max).is_err(),
                    "prefix failed, whole input did not"
                );
                return;
            }
        }
        match pieces.next() {
            Some(p) => buf.extend_from_slice(p),
            None => return,
        }
    };
    let _ = (
        head.status_line(),
        head.reason(),
        head.version(),
        head.conn_close(),
        head.upgrade(),
    );
    for (name, value) in head.headers() {
        let _ = (head.header(name), value);
    }
    let _ = head.body_framing(true);
    let body = &stream[consumed + head.head_len()..];
    match head.body_framing(false) {
        BodyFraming::Chunked => assert!(head.chunked()),
        BodyFraming::Length(n) => assert_eq!(head.content_length(), Some(n)),
        BodyFraming::None | BodyFraming::UntilClose => {}
    }
    check_chunked(body, usize::from(body_split) % (body.len() + 1));
}

/// Where fuzzed nginx.conf text claims to come from: `include` is never
/// followed (see [`nginx_conf`]), so nothing is read from here.
const FUZZ_CONF: &str = "/nonexistent/rampart-fuzz/nginx.conf";

/// Target `nginx_conf`: the nginx.conf lexer on arbitrary text, then (unless
/// the text has an `include`, which would read files) the parser and the
/// mapping into the model (`analyze_str`, and `globals` as for `-g`); the
/// same text also goes to the rampart.toml loader.
pub fn nginx_conf(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut lx = lexer::Lexer::new(&text);
    let mut includes = false;
    let mut last_line = 1;
    // Every statement consumes input, so this ends; the bound is a backstop.
    for _ in 0..=data.len() + 1 {
        match lx.next_statement() {
            Ok(st) => {
                assert!(st.line >= last_line, "line numbers went back");
                last_line = st.line;
                includes |= st.words.first().is_some_and(|w| w == "include");
                if st.end == lexer::End::Eof {
                    break;
                }
            }
            Err(e) => {
                assert!(e.line >= 1);
                break;
            }
        }
    }
    if !includes {
        let report = nginx_config::analyze_str(Path::new(FUZZ_CONF), &text);
        let _ = format!("{:?}", report.error);
        let _ = nginx_config::globals(&text);
    }
    let _ = crate::model::parse_toml(Path::new("/nonexistent/rampart-fuzz/rampart.toml"), &text);
}

/// Target `uri`: `$uri` normalisation of a raw request target, with
/// merge_slashes from the first byte. A normalised path starts with `/`,
/// has no `//` under merge_slashes, and normalises (escaped) to itself.
pub fn uri(data: &[u8]) {
    let (c, raw) = control(data);
    let merge = c & 1 != 0;
    let Ok((path, args)) = uri::normalize(raw, merge) else {
        return;
    };
    assert!(path.first() == Some(&b'/'), "{path:?} does not start with /");
    if merge {
        assert!(!path.windows(2).any(|w| w == b"//"), "// left in {path:?}");
    }
    if let Some(a) = args {
        let r = raw.as_ptr_range();
        assert!(
            r.start <= a.as_ptr() && a.as_ptr_range().end <= r.end,
            "args not in the input"
        );
    }
    let mut escaped = Vec::new();
    uri::escape_uri(&path, &mut escaped);
    match uri::normalize(&escaped, merge) {
        Ok((again, None)) => assert_eq!(again, path, "escaped {escaped:?} normalises differently"),
        other => panic!("escaped {escaped:?} of {path:?} gave {other:?}"),
    }
    let _ = (uri::extension(&path), uri::extension_of_changed_uri(&path));
}

/// Target `proxy_protocol`: the PROXY v1/v2 decoder on the stream and on a
/// prefix of it (split from the first two bytes): a prefix that decides
/// (header or error) decides the same for the whole stream.
pub fn proxy_protocol(data: &[u8]) {
    let (&[hi, lo], stream) = data.split_first_chunk::<2>().unwrap_or((&[0, 0], data));
    let whole = proxy_protocol::decode(stream);
    if let Ok(Some(h)) = &whole {
        assert!(h.len <= stream.len() && h.len <= proxy_protocol::MAX_HEADER);
        assert!(h.len > 0);
    }
    let k = split_point(hi, lo, stream.len());
    match proxy_protocol::decode(&stream[..k]) {
        Ok(Some(h)) => assert_eq!(whole, Ok(Some(h)), "a prefix's header differs"),
        Ok(None) => {
            if let Ok(Some(h)) = &whole {
                assert!(h.len > k, "the prefix held the whole header but was undecided");
            }
        }
        Err(_) => assert!(whole.is_err(), "a prefix failed, the whole stream did not"),
    }
}

/// SHA-crypt with more rounds than the default 5000 takes up to minutes per
/// check, as with glibc's crypt(3): that is the file owner's choice, not a
/// bug, so the target leaves such hashes out.
fn costly(hash: &[u8]) -> bool {
    let Some(at) = hash.windows(7).position(|w| w == b"rounds=") else {
        return false;
    };
    let digits = hash[at + 7..].iter().take_while(|b| b.is_ascii_digit()).take(12);
    digits.fold(0u64, |n, &b| n * 10 + u64::from(b - b'0')) > 5000
}

/// Target `htpasswd`: the first line is an `Authorization` value (or a raw
/// `user:password`), the rest an htpasswd file; the user is looked up and the
/// password verified against the hash found, and against each line's hash.
pub fn htpasswd(data: &[u8]) {
    let (first, file) = match memchr::memchr(b'\n', data) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &data[..0]),
    };
    let (user, password) = match auth_basic::credentials(first) {
        Some((u, p)) => (u, p),
        None => match memchr::memchr(b':', first) {
            Some(i) => (first[..i].to_vec(), first[i + 1..].to_vec()),
            None => (first.to_vec(), Vec::new()),
        },
    };
    if let Some(hash) = htp::find_user(file, &user) {
        let r = file.as_ptr_range();
        assert!(r.start <= hash.as_ptr() && hash.as_ptr_range().end <= r.end);
        assert!(!hash.contains(&b'\n') && !hash.contains(&b':'));
        if !costly(hash) {
            let _ = htp::verify(&password, hash);
        }
    }
    for line in file.split(|&b| b == b'\n').take(8) {
        let hash = line.splitn(2, |&b| b == b':').nth(1).unwrap_or(line);
        if !costly(hash) {
            let _ = htp::verify(&password, hash);
        }
    }
}

/// Target `regex`: a config regex (PCRE syntax, translated for the `regex`
/// crate) compiled and run on a subject. Layout: flags byte (bit 0 caseless,
/// bit 1 a `~`/`~*` proxy_redirect-style prefix is stripped first), then the
/// pattern up to the first NUL, then the subject. Matching must agree between
/// `is_match` and `exec`, and captures must lie inside the subject.
pub fn regex(data: &[u8]) {
    let (c, rest) = control(data);
    let (pat, subject) = match memchr::memchr(0, rest) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &rest[..0]),
    };
    let pat = String::from_utf8_lossy(pat);
    let mut caseless = c & 1 != 0;
    let mut p: &str = &pat;
    if c & 2 != 0 {
        // proxy_redirect / proxy_cookie_*: `~re` or `~*re`.
        let Some(t) = p.strip_prefix('~') else {
            return;
        };
        (p, caseless) = match t.strip_prefix('*') {
            Some(t) => (t, true),
            None => (t, false),
        };
    }
    let Ok(re) = PcreRegex::compile(p, caseless) else {
        return;
    };
    assert_eq!(re.as_str(), p);
    assert!(re.names().count() <= re.captures_len());
    let matched = re.is_match(subject);
    let mut caps = Captures::default();
    assert_eq!(re.exec(subject, &mut caps), matched, "is_match and exec disagree");
    if matched {
        let inside = |r: &Range<usize>| r.start <= r.end && r.end <= subject.len();
        for n in 0..=re.captures_len() {
            if let Some(r) = caps.get(n) {
                assert!(inside(&r), "${n} = {r:?} outside the subject");
            }
        }
        for (_, r) in caps.named_all() {
            assert!(inside(&r));
        }
    }
}
