//! Validators, conditional requests and byte ranges, as nginx 1.22 decides
//! them (nginx/nginx: src/http/modules/ngx_http_not_modified_filter_module.c,
//! src/http/modules/ngx_http_range_filter_module.c, ngx_http_core_module.c
//! `ngx_http_set_etag`).

use crate::http::date::parse_http_time;

/// `if_modified_since off | exact | before` (ngx_http_core_module.c).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImsMode {
    Off,
    Exact,
    Before,
}

/// The strong ETag nginx derives from mtime and size: `"<hex mtime>-<hex size>"`.
pub fn etag(mtime: i64, size: u64) -> String {
    format!("\"{mtime:x}-{size:x}\"")
}

/// What the not-modified filter makes of a 200.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cond {
    Send,
    NotModified,
    PreconditionFailed,
}

/// The request's conditional headers.
#[derive(Debug, Default, Clone, Copy)]
pub struct Conditionals<'a> {
    pub if_unmodified_since: Option<&'a [u8]>,
    pub if_match: Option<&'a [u8]>,
    pub if_modified_since: Option<&'a [u8]>,
    pub if_none_match: Option<&'a [u8]>,
}

/// `ngx_http_not_modified_header_filter` for a 200 with these validators.
/// Note nginx requires *both* IMS and INM to say "not modified" when both
/// are present (RFC 9110 §13.2.2 would ignore IMS).
pub fn evaluate(c: &Conditionals, etag: Option<&[u8]>, last_modified: Option<i64>, ims: ImsMode) -> Cond {
    if let Some(v) = c.if_unmodified_since {
        let ok = match (last_modified, parse_http_time(v)) {
            (Some(lm), Some(t)) => t >= lm,
            _ => false,
        };
        if !ok {
            return Cond::PreconditionFailed;
        }
    }
    if let Some(v) = c.if_match {
        if !etag_matches(v, etag, false) {
            return Cond::PreconditionFailed;
        }
    }
    if c.if_modified_since.is_none() && c.if_none_match.is_none() {
        return Cond::Send;
    }
    if let Some(v) = c.if_modified_since {
        let modified = match ims {
            ImsMode::Off => true,
            _ => match (last_modified, parse_http_time(v)) {
                (Some(lm), Some(t)) if t == lm => false,
                (Some(lm), Some(t)) => ims == ImsMode::Exact || t < lm,
                // An unparsable date is -1 in nginx: never equal, and below any mtime.
                _ => true,
            },
        };
        if modified {
            return Cond::Send;
        }
    }
    if let Some(v) = c.if_none_match {
        if !etag_matches(v, etag, true) {
            return Cond::Send;
        }
    }
    Cond::NotModified
}

/// `ngx_http_test_if_match`: a list of entity tags (or `*`) against ours;
/// `weak` ignores `W/` on both sides.
pub fn etag_matches(header: &[u8], etag: Option<&[u8]>, weak: bool) -> bool {
    // `*` is checked before whether there is an ETag at all (etag off).
    if header == b"*" {
        return true;
    }
    let Some(mut etag) = etag else {
        return false;
    };
    if weak {
        if let Some(e) = etag.strip_prefix(b"W/") {
            etag = e;
        }
    }
    let mut s = header;
    while !s.is_empty() {
        if weak && s.len() > 2 && s.starts_with(b"W/") {
            s = s.get(2..).unwrap_or_default();
        }
        if etag.len() > s.len() {
            return false;
        }
        if s.starts_with(etag) {
            let mut rest = s.get(etag.len()..).unwrap_or_default();
            while let [b' ' | b'\t', r @ ..] = rest {
                rest = r;
            }
            if rest.is_empty() || rest.first() == Some(&b',') {
                return true;
            }
        }
        while let [c, r @ ..] = s {
            if *c == b',' {
                break;
            }
            s = r;
        }
        while let [b' ' | b'\t' | b',', r @ ..] = s {
            s = r;
        }
    }
    false
}

/// The outcome of the range filter. Ranges are `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ranges {
    /// Not ranged: a 200 with `Accept-Ranges: bytes`.
    Full,
    /// 206 with these ranges, in request order (one: single part).
    Parts(Vec<(u64, u64)>),
    /// 416 with `Content-Range: bytes */LEN`.
    NotSatisfiable,
}

/// `ngx_http_range_header_filter` + `ngx_http_range_parse` for a 200 of
/// `len` bytes. `max_ranges` None is unlimited; Some(0) disables ranges.
pub fn ranges(
    range: Option<&[u8]>,
    if_range: Option<&[u8]>,
    etag: Option<&[u8]>,
    last_modified: Option<i64>,
    len: u64,
    max_ranges: Option<u64>,
) -> Ranges {
    if max_ranges == Some(0) {
        return Ranges::Full;
    }
    let Some(r) = range else {
        return Ranges::Full;
    };
    if r.len() < 7 || !r.get(..6).is_some_and(|p| p.eq_ignore_ascii_case(b"bytes=")) {
        return Ranges::Full;
    }
    if let Some(ir) = if_range {
        if ir.len() >= 2 && ir.last() == Some(&b'"') {
            if etag != Some(ir) {
                return Ranges::Full;
            }
        } else {
            match (last_modified, parse_http_time(ir)) {
                (Some(lm), Some(t)) if lm == t => {}
                _ => return Ranges::Full,
            }
        }
    }
    parse(
        r.get(6..).unwrap_or_default(),
        len,
        max_ranges.unwrap_or(i32::MAX as u64),
    )
}

const MAX_OFF: u64 = i64::MAX as u64;

fn parse(spec: &[u8], len: u64, max: u64) -> Ranges {
    let mut p = 0usize;
    let at = |p: usize| spec.get(p).copied().unwrap_or(0);
    let mut out = Vec::new();
    let mut size: u64 = 0;
    let mut budget = max;
    loop {
        let mut start: u64 = 0;
        let mut end: u64 = 0;
        let mut suffix = false;
        while at(p) == b' ' {
            p += 1;
        }
        let mut open = false;
        if at(p) != b'-' {
            if !at(p).is_ascii_digit() {
                return Ranges::NotSatisfiable;
            }
            while at(p).is_ascii_digit() {
                start = match start
                    .checked_mul(10)
                    .and_then(|v| v.checked_add(u64::from(at(p) - b'0')))
                {
                    Some(v) if v <= MAX_OFF => v,
                    _ => return Ranges::NotSatisfiable,
                };
                p += 1;
            }
            while at(p) == b' ' {
                p += 1;
            }
            if at(p) != b'-' {
                return Ranges::NotSatisfiable;
            }
            p += 1;
            while at(p) == b' ' {
                p += 1;
            }
            if at(p) == b',' || at(p) == 0 {
                end = len;
                open = true;
            }
        } else {
            suffix = true;
            p += 1;
        }
        if !open {
            if !at(p).is_ascii_digit() {
                return Ranges::NotSatisfiable;
            }
            while at(p).is_ascii_digit() {
                end = match end
                    .checked_mul(10)
                    .and_then(|v| v.checked_add(u64::from(at(p) - b'0')))
                {
                    Some(v) if v <= MAX_OFF => v,
                    _ => return Ranges::NotSatisfiable,
                };
                p += 1;
            }
            while at(p) == b' ' {
                p += 1;
            }
            if at(p) != b',' && at(p) != 0 {
                return Ranges::NotSatisfiable;
            }
            if suffix {
                start = len.saturating_sub(end);
                end = len.saturating_sub(1);
            }
            end = if end >= len { len } else { end + 1 };
        }
        if start < end {
            out.push((start, end));
            size = match size.checked_add(end - start) {
                Some(s) if s <= MAX_OFF => s,
                _ => return Ranges::NotSatisfiable,
            };
            if budget == 0 {
                return Ranges::Full;
            }
            budget -= 1;
        } else if start == 0 {
            return Ranges::Full;
        }
        let c = at(p);
        p += 1;
        if c != b',' {
            break;
        }
    }
    if out.is_empty() {
        return Ranges::NotSatisfiable;
    }
    if size > len {
        return Ranges::Full;
    }
    Ranges::Parts(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_format() {
        assert_eq!(etag(0x65a1b2c3, 500), "\"65a1b2c3-1f4\"");
        assert_eq!(etag(1, 0), "\"1-0\"");
    }

    #[test]
    fn if_match_lists() {
        let e = Some(&b"\"a-1\""[..]);
        let t: &[(&[u8], bool, bool)] = &[
            (b"\"a-1\"", false, true),
            (b"*", false, true),
            (b"\"x\", \"a-1\"", false, true),
            (b"\"x\",\"a-1\"  ", false, true),
            (b"W/\"a-1\"", false, false),
            (b"W/\"a-1\"", true, true),
            (b"\"a-1\"x", false, false),
            (b"\"a-", false, false),
            (b"", false, false),
            (b"\"b-1\"", true, false),
        ];
        for (h, weak, want) in t {
            assert_eq!(etag_matches(h, e, *weak), *want, "{}", String::from_utf8_lossy(h));
        }
        assert!(etag_matches(b"*", None, true));
        assert!(!etag_matches(b"\"a\"", None, true));
    }

    #[test]
    fn conditionals_as_nginx() {
        let lm = 1_700_000_000;
        let d = "Tue, 14 Nov 2023 22:13:20 GMT";
        let older = "Tue, 14 Nov 2023 22:13:19 GMT";
        let newer = "Tue, 14 Nov 2023 22:13:21 GMT";
        let e = Some(&b"\"e\""[..]);
        let c = |ius: Option<&'static str>,
                 im: Option<&'static str>,
                 ims: Option<&'static str>,
                 inm: Option<&'static str>| {
            Conditionals {
                if_unmodified_since: ius.map(str::as_bytes),
                if_match: im.map(str::as_bytes),
                if_modified_since: ims.map(str::as_bytes),
                if_none_match: inm.map(str::as_bytes),
            }
        };
        use Cond::*;
        use ImsMode::*;
        let t = [
            (c(None, None, None, None), Exact, Send),
            (c(None, None, Some(d), None), Exact, NotModified),
            (c(None, None, Some(newer), None), Exact, Send),
            (c(None, None, Some(newer), None), Before, NotModified),
            (c(None, None, Some(older), None), Before, Send),
            (c(None, None, Some(d), None), Off, Send),
            (c(None, None, Some("garbage"), None), Exact, Send),
            (c(None, None, None, Some("\"e\"")), Exact, NotModified),
            (c(None, None, None, Some("W/\"e\"")), Exact, NotModified),
            (c(None, None, None, Some("*")), Exact, NotModified),
            (c(None, None, None, Some("\"x\"")), Exact, Send),
            (c(None, None, Some(older), Some("\"e\"")), Exact, Send),
            (c(None, None, Some(d), Some("\"x\"")), Exact, Send),
            (c(Some(d), None, None, None), Exact, Send),
            (c(Some(older), None, None, None), Exact, PreconditionFailed),
            (c(Some("bad"), None, None, None), Exact, PreconditionFailed),
            (c(None, Some("\"x\""), None, None), Exact, PreconditionFailed),
            (c(None, Some("W/\"e\""), None, None), Exact, PreconditionFailed),
            (c(None, Some("*"), Some(d), None), Exact, NotModified),
        ];
        for (i, (cc, mode, want)) in t.iter().enumerate() {
            assert_eq!(evaluate(cc, e, Some(lm), *mode), *want, "case {i}");
        }
    }

    #[test]
    fn range_parsing() {
        use Ranges::*;
        let p = |v: &[(u64, u64)]| Parts(v.to_vec());
        let t: &[(&str, u64, Ranges)] = &[
            ("bytes=0-0", 10, p(&[(0, 1)])),
            ("bytes=0-", 10, p(&[(0, 10)])),
            ("bytes=2-4", 10, p(&[(2, 5)])),
            ("bytes=2-400", 10, p(&[(2, 10)])),
            ("bytes=-3", 10, p(&[(7, 10)])),
            ("bytes=-30", 10, p(&[(0, 10)])),
            ("BYTES= 1 - 2 , 4-5", 10, p(&[(1, 3), (4, 6)])),
            ("bytes=5-6,0-1", 10, p(&[(5, 7), (0, 2)])),
            ("bytes=10-", 10, NotSatisfiable),
            ("bytes=10-20,30-", 10, NotSatisfiable),
            ("bytes=10-20,1-2", 10, p(&[(1, 3)])),
            ("bytes=-0", 10, NotSatisfiable),
            ("bytes=x", 10, NotSatisfiable),
            ("bytes=1", 10, NotSatisfiable),
            ("bytes=1-2x", 10, NotSatisfiable),
            ("bytes=99999999999999999999-", 10, NotSatisfiable),
            ("bytes=", 10, Full),
            ("items=0-1", 10, Full),
            ("bytes=0-5,0-5", 10, Full),
            ("bytes=0-", 0, Full),
            ("bytes=5-2", 10, NotSatisfiable),
        ];
        for (h, len, want) in t {
            assert_eq!(
                ranges(Some(h.as_bytes()), None, None, None, *len, None),
                *want,
                "{h}"
            );
        }
        assert_eq!(
            ranges(Some(b"bytes=0-1,3-4"), None, None, None, 10, Some(1)),
            Full
        );
        assert_eq!(ranges(Some(b"bytes=0-1"), None, None, None, 10, Some(0)), Full);
        assert_eq!(
            ranges(Some(b"bytes=0-1"), None, None, None, 10, Some(1)),
            p(&[(0, 2)])
        );
        let e = Some(&b"\"e\""[..]);
        assert_eq!(
            ranges(Some(b"bytes=0-1"), Some(b"\"e\""), e, None, 10, None),
            p(&[(0, 2)])
        );
        assert_eq!(
            ranges(Some(b"bytes=0-1"), Some(b"\"x\""), e, None, 10, None),
            Full
        );
        let d = b"Tue, 14 Nov 2023 22:13:20 GMT";
        assert_eq!(
            ranges(Some(b"bytes=0-1"), Some(d), e, Some(1_700_000_000), 10, None),
            p(&[(0, 2)])
        );
        assert_eq!(
            ranges(Some(b"bytes=0-1"), Some(d), e, Some(1_700_000_001), 10, None),
            Full
        );
    }
}
