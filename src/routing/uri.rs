//! `$uri` from the raw request target: nginx's `ngx_http_parse_complex_uri`
//! (nginx/nginx: src/http/ngx_http_parse.c), plus `ngx_escape_uri` in URI mode
//! (src/core/ngx_string.c) and the two ways nginx derives `$exten`.
//!
//! The decoder is a byte-for-byte port of nginx's state machine, not a generic
//! RFC 3986 "remove dot segments": nginx's quirks are observable (which
//! location matches, what `$uri` logs), so they are kept:
//! - `%XX` is decoded *before* slash/dot processing, so `%2F` acts as `/` and
//!   `%2E%2E` as `..`; but a decoded `%`, `#` or `?` is a literal byte that is
//!   not reinterpreted, and `%00` is rejected.
//! - `/..` pops the previous segment (even an empty one kept by
//!   `merge_slashes off`); popping above the root is a 400.
//! - Only whole segments count as dot segments: `/a..b/` and `/...` are names.

use std::fmt;

/// Why a request target cannot become a `$uri`. nginx answers every one of
/// these with 400 and logs "client sent invalid request".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriError {
    /// 400 "client sent invalid request"; the text says which rule failed.
    Invalid(&'static str),
}

impl fmt::Display for UriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UriError::Invalid(why) => write!(f, "client sent invalid request: {why}"),
        }
    }
}

impl std::error::Error for UriError {}

/// The bitmap of "usual" bytes from ngx_http_parse.c: bytes that need no
/// attention in any state (a set bit means usual). Everything >= 0x80 is usual.
const USUAL: [u32; 8] = [
    0x0000_0000,
    0x7fff_37d6, // ' ' ! " # $ % & ' ( ) * + , - . / 0-9 : ; < = > ?  without " #%./?"
    0xffff_ffff, // @ A-Z [ \ ] ^ _
    0x7fff_ffff, // ` a-z { | } ~   (DEL is not usual)
    0xffff_ffff,
    0xffff_ffff,
    0xffff_ffff,
    0xffff_ffff,
];

#[inline]
// `b >> 5` is at most 7, so the index is always in bounds.
fn in_set(set: &[u32; 8], b: u8) -> bool {
    set[usize::from(b >> 5)] & (1u32 << (b & 0x1f)) != 0
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    Usual,
    Slash,
    Dot,
    DotDot,
    Quoted,
    QuotedSecond,
}

/// Removes the last segment for a `/..`: `out` ends with `/..`; like nginx's
/// `u -= 4` followed by a backwards scan to the previous `/`.
fn pop_segment(out: &mut Vec<u8>) -> Result<(), UriError> {
    let above_root = UriError::Invalid("\"..\" climbs above the root");
    let mut u = out.len().checked_sub(4).ok_or(above_root)?;
    loop {
        if out.get(u) == Some(&b'/') {
            out.truncate(u + 1);
            return Ok(());
        }
        u = u.checked_sub(1).ok_or(above_root)?;
    }
}

/// Decodes one hex digit as nginx does (`0-9`, `a-f`, `A-F`).
fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        _ => {
            let l = c | 0x20;
            if (b'a'..=b'f').contains(&l) {
                Some(l - b'a' + 10)
            } else {
                None
            }
        }
    }
}

/// `raw` is the origin-form target exactly as the client sent it (starts
/// with '/'). Returns the normalised, percent-decoded path (`$uri`) and the
/// raw args: the bytes after the first '?' up to a '#' (without the '?');
/// `None` when there is no '?'. A '#' ends the URI (the fragment is dropped).
///
/// `Some(b"")` is returned for a bare trailing `?`; nginx stores that as empty
/// args, which every consumer (`$is_args`, proxying) treats like no args.
///
/// An empty target or one starting with `?` is taken as nginx's
/// `empty_path_in_uri` case (absolute-form `http://h?x`): the path is `/`.
/// Control bytes, space and DEL anywhere in the target are a 400, as the
/// request-line parser of nginx >= 1.21.1 rejects them.
/// `$uri` and `$args` of a request target, owned (what [`normalize`] gives).
pub type Normalized = (Vec<u8>, Option<Vec<u8>>);

/// [`normalize`], with the arguments copied out of `raw`.
pub fn normalize_owned(raw: &[u8], merge_slashes: bool) -> Result<Normalized, UriError> {
    normalize(raw, merge_slashes).map(|(u, a)| (u, a.map(<[u8]>::to_vec)))
}

pub fn normalize(raw: &[u8], merge_slashes: bool) -> Result<(Vec<u8>, Option<&[u8]>), UriError> {
    if raw.iter().any(|&b| b <= 0x20 || b == 0x7f) {
        return Err(UriError::Invalid("control character or space in URI"));
    }
    let mut out: Vec<u8> = Vec::with_capacity(raw.len() + 1);
    let mut state = State::Usual;
    match raw.first() {
        None | Some(b'?') => {
            // ngx_http_parse_complex_uri: `if (r->empty_path_in_uri) *u++ = '/'`,
            // then it parses from the '?', in state sw_usual.
            out.push(b'/');
        }
        Some(b'/') => {}
        Some(_) => return Err(UriError::Invalid("URI does not start with \"/\"")),
    }

    let mut quoted_state = State::Usual;
    let mut decoded: u8 = 0;
    let mut i = 0usize;
    // A decoded byte that nginx feeds back into the state it was found in
    // (`state = quoted_state; break;` without advancing `p`).
    let mut refeed: Option<u8> = None;
    let mut args_start: Option<usize> = None;

    loop {
        let ch = match refeed.take() {
            Some(c) => c,
            None => match raw.get(i) {
                Some(&c) => {
                    i += 1;
                    c
                }
                None => break,
            },
        };
        match state {
            State::Usual => match ch {
                _ if in_set(&USUAL, ch) => out.push(ch),
                b'/' => {
                    state = State::Slash;
                    out.push(ch);
                }
                b'%' => {
                    quoted_state = state;
                    state = State::Quoted;
                }
                b'?' => {
                    args_start = Some(i);
                    break;
                }
                b'#' => return Ok((out, None)),
                _ => out.push(ch),
            },
            State::Slash => match ch {
                _ if in_set(&USUAL, ch) => {
                    state = State::Usual;
                    out.push(ch);
                }
                b'/' => {
                    if !merge_slashes {
                        out.push(ch);
                    }
                }
                b'.' => {
                    state = State::Dot;
                    out.push(ch);
                }
                b'%' => {
                    quoted_state = state;
                    state = State::Quoted;
                }
                b'?' => {
                    args_start = Some(i);
                    break;
                }
                b'#' => return Ok((out, None)),
                _ => {
                    state = State::Usual;
                    out.push(ch);
                }
            },
            State::Dot => match ch {
                _ if in_set(&USUAL, ch) => {
                    state = State::Usual;
                    out.push(ch);
                }
                b'/' => {
                    // "/./": drop the '.', keep the slash already written.
                    state = State::Slash;
                    out.pop();
                }
                b'.' => {
                    state = State::DotDot;
                    out.push(ch);
                }
                b'%' => {
                    quoted_state = state;
                    state = State::Quoted;
                }
                b'?' => {
                    out.pop();
                    args_start = Some(i);
                    break;
                }
                b'#' => {
                    out.pop();
                    return Ok((out, None));
                }
                _ => {
                    state = State::Usual;
                    out.push(ch);
                }
            },
            State::DotDot => match ch {
                _ if in_set(&USUAL, ch) => {
                    state = State::Usual;
                    out.push(ch);
                }
                b'/' | b'?' | b'#' => {
                    pop_segment(&mut out)?;
                    if ch == b'?' {
                        args_start = Some(i);
                        break;
                    }
                    if ch == b'#' {
                        return Ok((out, None));
                    }
                    state = State::Slash;
                }
                b'%' => {
                    quoted_state = state;
                    state = State::Quoted;
                }
                _ => {
                    state = State::Usual;
                    out.push(ch);
                }
            },
            State::Quoted => match hex_val(ch) {
                Some(v) => {
                    decoded = v;
                    state = State::QuotedSecond;
                }
                None => return Err(UriError::Invalid("bad percent-encoding")),
            },
            State::QuotedSecond => match hex_val(ch) {
                Some(v) => {
                    let c = (decoded << 4) | v;
                    match c {
                        0 => return Err(UriError::Invalid("%00 in URI")),
                        // Literal bytes that must not start args, a fragment
                        // or another escape.
                        b'%' | b'#' | b'?' => {
                            state = State::Usual;
                            out.push(c);
                        }
                        _ => {
                            state = quoted_state;
                            refeed = Some(c);
                        }
                    }
                }
                None => return Err(UriError::Invalid("bad percent-encoding")),
            },
        }
    }

    if let Some(start) = args_start {
        let rest = raw.get(start..).unwrap_or_default();
        let end = memchr::memchr(b'#', rest).unwrap_or(rest.len());
        // A bare `?` gives no arguments: nginx sets `r->args` only when
        // `uri_end > args_start`, so `$args` is then not found (`-`).
        return Ok((out, rest.get(..end).filter(|a| !a.is_empty())));
    }

    match state {
        State::Quoted | State::QuotedSecond => Err(UriError::Invalid("truncated percent-encoding")),
        State::Dot => {
            out.pop();
            Ok((out, None))
        }
        State::DotDot => {
            pop_segment(&mut out)?;
            Ok((out, None))
        }
        State::Usual | State::Slash => Ok((out, None)),
    }
}

/// nginx's `NGX_ESCAPE_URI` table (src/core/ngx_string.c, `ngx_escape_uri`):
/// control bytes, space, `"`, `#`, `%`, `<`, `>`, `?`, `\`, `^`, `` ` ``, `{`,
/// `|`, `}`, DEL and every byte >= 0x80. A set bit means "escape".
const ESCAPE_URI: [u32; 8] = [
    0xffff_ffff,
    0xd000_002d,
    0x5000_0000,
    0xb800_0001,
    0xffff_ffff,
    0xffff_ffff,
    0xffff_ffff,
    0xffff_ffff,
];

/// Appends `path` percent-escaped as nginx's `ngx_escape_uri(NGX_ESCAPE_URI)`
/// does (uppercase hex; `/` kept). Used when re-sending a changed URI upstream
/// and in redirects (nginx/nginx: ngx_http_proxy_module.c, ngx_http_core_module.c).
pub fn escape_uri(path: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.reserve(path.len());
    for &b in path {
        if in_set(&ESCAPE_URI, b) {
            out.push(b'%');
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0x0f)]);
        } else {
            out.push(b);
        }
    }
}

/// The extension (`$exten`) of a URI produced by [`normalize`]: the text after
/// the last '.' in the last path segment, as `ngx_http_parse_complex_uri`
/// records it. Leading dots of a segment do not count (`/.htaccess` has no
/// extension), and neither does the third byte of a segment starting with
/// `..`, because the parser is then still in its dot-segment states.
/// `/a.` has an empty extension, returned as `None` (nginx then skips the
/// MIME lookup, as for no extension).
pub fn extension(path: &[u8]) -> Option<&[u8]> {
    let seg_start = memchr::memrchr(b'/', path).map_or(0, |p| p + 1);
    let seg = path.get(seg_start..)?;
    let skip = if seg.starts_with(b"..") {
        3
    } else if seg.starts_with(b".") {
        1
    } else {
        0
    };
    let tail = seg.get(skip..)?;
    let dot = memchr::memrchr(b'.', tail)?;
    tail.get(dot + 1..).filter(|e| !e.is_empty())
}

/// The extension nginx computes for a URI *changed* after parsing (rewrite,
/// internal redirect, index): `ngx_http_set_exten` in ngx_http_core_module.c
/// scans back from the end for a '.' not preceded by '/', stopping at '/',
/// and never looks at the first two bytes.
pub fn extension_of_changed_uri(path: &[u8]) -> Option<&[u8]> {
    let mut i = path.len().checked_sub(1)?;
    while i > 1 {
        let c = path.get(i).copied()?;
        if c == b'.' && path.get(i - 1) != Some(&b'/') {
            return path.get(i + 1..).filter(|e| !e.is_empty());
        }
        if c == b'/' {
            return None;
        }
        i -= 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (raw target, merge_slashes, expected $uri or None for 400, expected args)
    /// Every row marked (n) was checked against Debian nginx 1.22.1 with
    /// `return 200 "$uri|$args|$is_args"` (see the report).
    #[allow(clippy::type_complexity)]
    const CASES: &[(&str, bool, Option<&str>, Option<&str>)] = &[
        ("/", true, Some("/"), None),                          // (n)
        ("/a/b/c", true, Some("/a/b/c"), None),                // (n)
        ("//a///b//", true, Some("/a/b/"), None),              // (n)
        ("//a///b//", false, Some("//a///b//"), None),         // (n)
        ("/a/./b/.", true, Some("/a/b/"), None),               // (n)
        ("/a/b/../c", true, Some("/a/c"), None),               // (n)
        ("/a/b/..", true, Some("/a/"), None),                  // (n)
        ("/a/..", true, Some("/"), None),                      // (n)
        ("/..", true, None, None),                             // (n)
        ("/../a", true, None, None),                           // (n)
        ("/a/../../b", true, None, None),                      // (n)
        ("/a..b/c", true, Some("/a..b/c"), None),              // (n)
        ("/img../x", true, Some("/img../x"), None),            // (n)
        ("/.../x", true, Some("/.../x"), None),                // (n)
        ("/.a/..b", true, Some("/.a/..b"), None),              // (n)
        ("/a%2Fb", true, Some("/a/b"), None),                  // (n)
        ("/a%2f%2e%2e/b", true, Some("/b"), None),             // (n) decoded "/.." pops
        ("/a/%2e%2e/b", true, Some("/b"), None),               // (n)
        ("/%2e%2e/b", true, None, None),                       // (n)
        ("/a%2F%2Fb", true, Some("/a/b"), None),               // (n) decoded slashes merge
        ("/a%20b", true, Some("/a b"), None),                  // (n)
        ("/a%25b", true, Some("/a%b"), None),                  // (n)
        ("/a%2541", true, Some("/a%41"), None),                // (n) no double decode
        ("/a%23b", true, Some("/a#b"), None),                  // (n)
        ("/a%3Fb?c", true, Some("/a?b"), Some("c")),           // (n)
        ("/a%3fb", true, Some("/a?b"), None),                  // (n)
        ("/a%00b", true, None, None),                          // (n)
        ("/a%zzb", true, None, None),                          // (n)
        ("/a%2", true, None, None),                            // (n)
        ("/a%", true, None, None),                             // (n)
        ("/a%4", true, None, None),                            // (n)
        ("/a+b", true, Some("/a+b"), None),                    // (n)
        ("/a?x=1&y=%zz", true, Some("/a"), Some("x=1&y=%zz")), // (n) args not decoded
        ("/a/../b?x=/../", true, Some("/b"), Some("x=/../")),  // (n)
        ("/a/..?x", true, Some("/"), Some("x")),               // (n)
        ("/a/.?x", true, Some("/a/"), Some("x")),              // (n)
        ("/a?", true, Some("/a"), None),                       // (n) $args "-"
        ("/a?#f", true, Some("/a"), None),                     // (n)
        ("/a#frag", true, Some("/a"), None),                   // (n)
        ("/a?b#frag", true, Some("/a"), Some("b")),            // (n)
        ("/a#x?b", true, Some("/a"), None),                    // (n)
        ("/a/..#x", true, Some("/"), None),                    // (n)
        ("/..%23", true, Some("/..#"), None),                  // (n) literal '#' ends dot state
        ("/%c3%a9", true, Some("/\u{e9}"), None),              // (n)
        ("//..", false, Some("/"), None),                      // (n) pops the empty segment
        ("/a//../b", false, Some("/a/b"), None),               // (n)
        ("/a/b/%2E", true, Some("/a/b/"), None),               // (n)
        ("/a/b/.%2E", true, Some("/a/"), None),                // (n)
        ("/a\\..\\b", true, Some("/a\\..\\b"), None),          // (n) backslash is a name byte
        ("?x=1", true, Some("/"), Some("x=1")),                // absolute-form, empty path
        ("a/b", true, None, None),
        ("/a b", true, None, None),
        ("/a\x01b", true, None, None),
    ];

    #[test]
    fn normalize_table() {
        for &(raw, merge, want, want_args) in CASES {
            let got = normalize(raw.as_bytes(), merge);
            match want {
                None => assert!(got.is_err(), "{raw:?}: expected 400, got {got:?}"),
                Some(w) => {
                    let (uri, args) = got.unwrap_or_else(|e| panic!("{raw:?}: {e}"));
                    let want_bytes: Vec<u8> = if w == "/\u{e9}" {
                        b"/\xc3\xa9".to_vec()
                    } else {
                        w.into()
                    };
                    assert_eq!(
                        uri,
                        want_bytes,
                        "{raw:?}: uri {:?}",
                        String::from_utf8_lossy(&uri)
                    );
                    assert_eq!(args, want_args.map(str::as_bytes), "{raw:?}: args");
                }
            }
        }
    }

    #[test]
    fn normalize_non_utf8() {
        let (uri, _) = normalize(b"/%ff%FE\xfa", true).unwrap();
        assert_eq!(uri, b"/\xff\xfe\xfa");
    }

    #[test]
    fn escape_table() {
        let cases: &[(&[u8], &str)] = &[
            (b"/a b", "/a%20b"),
            (b"/a\"#%<>?b", "/a%22%23%25%3C%3E%3Fb"),
            (b"/\\^`{|}", "/%5C%5E%60%7B%7C%7D"),
            (b"/\x7f\x00\x1f", "/%7F%00%1F"),
            (b"/\xc3\xa9", "/%C3%A9"),
            (b"/-._~!$&'()*+,;=:@[]", "/-._~!$&'()*+,;=:@[]"),
            (b"/a/b/", "/a/b/"),
        ];
        for &(input, want) in cases {
            let mut out = Vec::new();
            escape_uri(input, &mut out);
            assert_eq!(out, want.as_bytes(), "{:?}", String::from_utf8_lossy(input));
        }
    }

    /// The exact set nginx 1.22.1 escaped when re-sending a decoded `$uri`
    /// upstream (proxy_pass with a URI part, each byte 0x01..=0xff sent as %XX).
    #[test]
    fn escape_set_is_nginx_set() {
        let nginx = |b: u8| b <= 0x20 || b >= 0x7f || b"\"#%<>?\\^`{|}".contains(&b);
        for b in 0..=255u8 {
            let mut out = Vec::new();
            escape_uri(&[b], &mut out);
            assert_eq!(out.len() == 3, nginx(b), "byte {b:#04x}");
        }
    }

    #[test]
    fn extension_rules() {
        let cases: &[(&str, Option<&str>)] = &[
            ("/a.html", Some("html")),
            ("/a.tar.gz", Some("gz")),
            ("/a.b/c", None),
            ("/.htaccess", None),
            ("/x/.a.b", Some("b")),
            ("/..b", None),
            ("/...b", None),
            ("/....b", Some("b")),
            ("/a.", None),
            ("/", None),
            ("/a..b", Some("b")),
        ];
        for &(p, want) in cases {
            assert_eq!(extension(p.as_bytes()), want.map(str::as_bytes), "{p}");
        }
    }

    #[test]
    fn extension_matches_parser_for_parsed_uris() {
        // The parser-side rule must agree with a direct reading of nginx's
        // state machine: dots seen in sw_usual set uri_ext.
        for raw in ["/a/b.c", "/.x.y", "/..x.y", "/x/./y.z", "/a.b/../c.d"] {
            let (uri, _) = normalize(raw.as_bytes(), true).unwrap();
            let e = extension(&uri);
            assert!(e.is_some(), "{raw}");
        }
    }

    #[test]
    fn changed_uri_extension() {
        let cases: &[(&str, Option<&str>)] = &[
            ("/a.html", Some("html")),
            ("/.htaccess", None),
            ("/a/.htaccess", None),
            ("/..b", Some("b")),
            ("/a.b/c", None),
            ("/a", None),
            ("", None),
        ];
        for &(p, want) in cases {
            assert_eq!(
                extension_of_changed_uri(p.as_bytes()),
                want.map(str::as_bytes),
                "{p}"
            );
        }
    }
}
