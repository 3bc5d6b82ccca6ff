//! Host header (and absolute-URI host) normalisation, classic nginx (<= 1.29.3):
//! `ngx_http_validate_host` (nginx/nginx: src/http/ngx_http_request.c), as
//! ported in `http1::validate_host`, plus lowercasing.
//!
//! The result is `$host` and the server_name lookup key. Quirks kept on purpose:
//! - the byte checks (NUL, '/', controls, "..") cover the whole value, the
//!   ignored ":port" part included, but the port itself is not validated;
//! - backslash is accepted: `ngx_path_separator` is only '/' on Unix;
//! - the "trailing dot" is the last '.' of the whole value, so it is removed
//!   only when it sits right before the end of the name (`a.:80` -> `a`).

use std::borrow::Cow;
use std::fmt;

/// The Host is invalid: nginx answers 400 ("client sent invalid host header").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostError {
    Invalid,
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("client sent invalid host header")
    }
}

impl std::error::Error for HostError {}

/// Validates and normalises a Host header value / absolute-URI host (classic
/// nginx <= 1.29.3): lowercase, strip ":port" (an IPv6 literal keeps its
/// brackets), strip one trailing dot; "..", an empty name, '/', NUL, bytes
/// <= 0x20 and 0x7f are errors. Borrows when no lowercasing is needed.
pub fn normalize_host(raw: &[u8]) -> Result<Cow<'_, [u8]>, HostError> {
    // One port of ngx_http_validate_host serves both the request parser and
    // server selection; this adds only the lowercasing.
    let host = crate::http1::validate_host(raw).ok_or(HostError::Invalid)?;
    if host.iter().any(u8::is_ascii_uppercase) {
        Ok(Cow::Owned(host.to_ascii_lowercase()))
    } else {
        Ok(Cow::Borrowed(host))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (Host value, expected $host or None for 400). Rows marked (n) were
    /// checked against nginx 1.22.1 with `return 200 "$host"`.
    const CASES: &[(&[u8], Option<&[u8]>)] = &[
        (b"example.com", Some(b"example.com")),                 // (n)
        (b"Example.COM", Some(b"example.com")),                 // (n)
        (b"example.com:8080", Some(b"example.com")),            // (n)
        (b"example.com.", Some(b"example.com")),                // (n)
        (b"example.com.:80", Some(b"example.com")),             // (n)
        (b"example.com..", None),                               // (n)
        (b"a..b", None),                                        // (n)
        (b".example.com", Some(b".example.com")),               // (n)
        (b".", None),                                           // (n)
        (b"", None),                                            // (n)
        (b":80", None),                                         // (n)
        (b"[::1]:80", Some(b"[::1]")),                          // (n)
        (b"[::1]", Some(b"[::1]")),                             // (n)
        (b"[FE80::1]", Some(b"[fe80::1]")),                     // (n)
        (b"a/b", None),                                         // (n)
        (b"a\\b", Some(b"a\\b")),                               // (n)
        (b"a:x/y", None),                                       // (n) checked after ':' too
        (b"a:1..2", None),                                      // (n)
        (b"a.:8.0", Some(b"a.")),                               // (n) last dot is in the port
        (b"host:port:junk", Some(b"host")),                     // (n)
        (b"caf\xc3\xa9.example", Some(b"caf\xc3\xa9.example")), // (n)
        (b"a\tb", None),
        (b"a\x7fb", None),
        (b"a\x00b", None),
        (b"x_y.example", Some(b"x_y.example")), // (n)
    ];

    #[test]
    fn host_table() {
        for &(raw, want) in CASES {
            let got = normalize_host(raw).ok();
            assert_eq!(got.as_deref(), want, "{:?}", String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn borrows_when_already_lowercase() {
        assert!(matches!(
            normalize_host(b"a.example:80"),
            Ok(Cow::Borrowed(b"a.example"))
        ));
        assert!(matches!(normalize_host(b"A.example"), Ok(Cow::Owned(_))));
    }
}
