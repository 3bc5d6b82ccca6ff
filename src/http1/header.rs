//! One header line, parsed exactly as nginx 1.22's `ngx_http_parse_header_line`
//! (src/http/ngx_http_parse.c) does for both client requests and upstream responses.
//!
//! nginx 1.22 rules this reproduces (checked against the real binary):
//! - name bytes are letters, digits and `-`; `_` only when underscores are allowed; any other
//!   byte > 0x20 (except `:` and DEL) marks the line "invalid" (the caller drops or keeps it);
//! - a space, control byte, DEL or `:` as the first byte, or a space/control/DEL inside the name
//!   (so also `Name : v` and obs-fold continuation lines) is a hard error;
//! - a line with a valid name and no colon is a header with an empty value;
//! - only SP is skipped around the value: a TAB belongs to the value in 1.22 (later versions trim
//!   it too); NUL anywhere is an error; other control bytes are kept;
//! - the line ends at LF; a CR must be followed only by more CRs before the LF.

/// What one line (without its LF) holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Line {
    /// The empty line that ends the head (`""` or `"\r"`).
    End,
    /// A header. Offsets are relative to the line start. `invalid` = a name byte nginx does not
    /// allow (dropped when `ignore_invalid_headers` is on).
    Header {
        name_end: usize,
        value_start: usize,
        value_end: usize,
        invalid: bool,
    },
    /// An IIS-style duplicate `HTTP/1.1 ...` status line in an upstream response: skipped.
    Ignore,
}

/// The line is malformed (nginx: `NGX_HTTP_PARSE_INVALID_HEADER`); `at` is
/// the offset in the line of the byte nginx's parser stops at (its log
/// line for an upstream shows the line up to it, then `\xHH...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadLine {
    pub at: usize,
}

/// The first byte from `from` on that is not a CR.
fn first_non_cr(line: &[u8], from: usize) -> usize {
    from + line[from..].iter().position(|&b| b != b'\r').unwrap_or(0)
}

/// nginx's `lowcase` table: non-zero for the bytes a valid header name may hold.
const fn name_table() -> [bool; 256] {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric() || b == b'-';
        c += 1;
    }
    t
}
static NAME_OK: [bool; 256] = name_table();

/// True when every byte after the first CR is also a CR (nginx `sw_almost_done` accepts
/// `CR CR ... LF`, anything else after a CR is an error).
fn only_crs(rest: &[u8]) -> bool {
    rest.iter().all(|&b| b == b'\r')
}

/// Parses one line, `line` being its bytes without the terminating LF.
pub(crate) fn parse_line(line: &[u8], allow_underscores: bool, upstream: bool) -> Result<Line, BadLine> {
    let Some(&first) = line.first() else {
        return Ok(Line::End);
    };
    if first == b'\r' {
        // sw_start CR -> sw_header_almost_done, which accepts only LF.
        return if line.len() == 1 {
            Ok(Line::End)
        } else {
            Err(BadLine { at: 1 })
        };
    }
    if first <= 0x20 || first == 0x7f || first == b':' {
        return Err(BadLine { at: 0 });
    }
    let mut invalid = false;
    let mut i = 0;
    while i < line.len() {
        let ch = line[i];
        if NAME_OK[ch as usize] {
            i += 1;
            continue;
        }
        if ch == b'_' {
            invalid |= !allow_underscores;
            i += 1;
            continue;
        }
        if ch == b':' {
            break;
        }
        if ch == b'\r' {
            // A name with no colon: a header with an empty value.
            if !only_crs(&line[i..]) {
                return Err(BadLine {
                    at: first_non_cr(line, i),
                });
            }
            return Ok(Line::Header {
                name_end: i,
                value_start: i,
                value_end: i,
                invalid,
            });
        }
        if upstream && ch == b'/' && i == 4 && &line[..4] == b"HTTP" {
            return Ok(Line::Ignore);
        }
        if ch <= 0x20 || ch == 0x7f {
            return Err(BadLine { at: i });
        }
        invalid = true;
        i += 1;
    }
    if i == line.len() {
        // LF right after the name.
        return Ok(Line::Header {
            name_end: i,
            value_start: i,
            value_end: i,
            invalid,
        });
    }
    let name_end = i;
    let mut start = i + 1;
    while start < line.len() && line[start] == b' ' {
        start += 1;
    }
    let end_of_text = match memchr::memchr(b'\r', &line[start..]) {
        Some(off) => {
            if !only_crs(&line[start + off..]) {
                return Err(BadLine {
                    at: first_non_cr(line, start + off),
                });
            }
            start + off
        }
        None => line.len(),
    };
    let value = &line[start..end_of_text];
    if let Some(nul) = memchr::memchr(0, value) {
        return Err(BadLine { at: start + nul });
    }
    let mut end = end_of_text;
    while end > start && line[end - 1] == b' ' {
        end -= 1;
    }
    Ok(Line::Header {
        name_end,
        value_start: start,
        value_end: end,
        invalid,
    })
}

/// A byte range of the head buffer. u32 keeps a header entry at 16 bytes; heads are far smaller
/// than 4 GiB (the parser refuses larger ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Span {
    start: u32,
    end: u32,
}

impl Span {
    pub(crate) fn new(start: usize, end: usize) -> Self {
        // Callers check that the buffer is shorter than u32::MAX.
        Span {
            start: start as u32,
            end: end as u32,
        }
    }
    pub(crate) fn get(self, buf: &[u8]) -> &[u8] {
        buf.get(self.start as usize..self.end as usize)
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct HeaderEntry {
    pub(crate) name: Span,
    pub(crate) value: Span,
}

/// ASCII case-insensitive substring test (nginx `ngx_strcasestrn`, used for `Connection`).
pub(crate) fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    if needle.is_empty() {
        return true;
    }
    hay.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(line: &[u8]) -> Result<(Vec<u8>, Vec<u8>, bool), BadLine> {
        match parse_line(line, false, false)? {
            Line::Header {
                name_end,
                value_start,
                value_end,
                invalid,
            } => Ok((
                line[..name_end].to_vec(),
                line[value_start..value_end].to_vec(),
                invalid,
            )),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn table() {
        // (line, name, value, invalid name)
        type Case = (&'static [u8], &'static [u8], &'static [u8], bool);
        let ok: &[Case] = &[
            (b"Host: a\r", b"Host", b"a", false),
            (b"Host:a", b"Host", b"a", false),
            (b"X-A:   b c   \r", b"X-A", b"b c", false),
            (b"X-A: \tb\t\r", b"X-A", b"\tb\t", false),
            (b"X-A: b\x01\x7f\xff\r", b"X-A", b"b\x01\x7f\xff", false),
            (b"X-A\r", b"X-A", b"", false),
            (b"X-A", b"X-A", b"", false),
            (b"X-A:\r", b"X-A", b"", false),
            (b"X-A: b\r\r\r", b"X-A", b"b", false),
            (b"X_A: b", b"X_A", b"b", true),
            (b"X@A: b", b"X@A", b"b", true),
            (b"\xc3\xa9: b", b"\xc3\xa9", b"b", true),
            (b"X-A: a: b", b"X-A", b"a: b", false),
        ];
        for (line, name, value, invalid) in ok {
            let got = hdr(line).unwrap_or_else(|_| panic!("{:?}", String::from_utf8_lossy(line)));
            assert_eq!(
                got,
                (name.to_vec(), value.to_vec(), *invalid),
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
        let bad: &[&[u8]] = &[
            b" X-A: b",
            b"\tX-A: b",
            b"X A: b",
            b"X-A : b",
            b": b",
            b"X-A: b\0c",
            b"X-A:\0",
            b"X-A: b \0",
            b"X\0A: b",
            b"X-A: b\rc",
            b"X-A\rb",
            b"\r\r",
            b"\x01A: b",
            b"A\x7f: b",
        ];
        for line in bad {
            assert!(
                parse_line(line, false, false).is_err(),
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
        assert_eq!(parse_line(b"", false, false), Ok(Line::End));
        assert_eq!(parse_line(b"\r", false, false), Ok(Line::End));
        assert_eq!(hdr(b"X_A: b").map(|h| h.2), Ok(true));
        assert!(matches!(
            parse_line(b"X_A: b", true, false),
            Ok(Line::Header { invalid: false, .. })
        ));
        assert_eq!(parse_line(b"HTTP/1.1 200 OK\r", true, true), Ok(Line::Ignore));
        // In a client request the space after "HTTP/1.1" is a space inside a name.
        assert_eq!(
            parse_line(b"HTTP/1.1 200 OK\r", true, false),
            Err(BadLine { at: 8 })
        );
        // Where nginx stops, for its upstream log line.
        for (line, at) in [
            (&b"X-A: b\x00c"[..], 6),
            (b"Bad Header: x", 3),
            (b" c", 0),
            (b"X-A: b\rc", 7),
            (b"\r\r", 1),
        ] {
            assert_eq!(parse_line(line, true, true), Err(BadLine { at }), "{line:?}");
        }
    }

    #[test]
    fn substring() {
        assert!(contains_ignore_case(b"Keep-Alive, Upgrade", b"upgrade"));
        assert!(contains_ignore_case(b"xCLOSEx", b"close"));
        assert!(!contains_ignore_case(b"clos", b"close"));
    }
}
