//! The gzip filter (nginx/nginx: src/http/modules/ngx_http_gzip_filter_module.c;
//! `ngx_http_gzip_ok` and `ngx_http_gzip_accept_encoding` in
//! src/http/ngx_http_core_module.c): which responses are compressed and how
//! their headers change. The encoder itself is in `gzip_encoder`: memory is
//! bounded by the deflate state plus one output chunk, whatever the body size.

pub use super::gzip_encoder::Gzip;
use crate::http::response::ResponseHead;
use crate::http1::{RequestHead, Version};
use bytes::Bytes;

/// A location's gzip settings.
#[derive(Debug, Clone)]
pub struct GzipConf {
    pub on: bool,
    pub level: u32,
    pub min_length: u64,
    /// Lowercase MIME types; `*` is any. text/html is always included.
    pub types: Vec<Vec<u8>>,
    /// `gzip_http_version 1.0` (false: 1.1, the default).
    pub http10: bool,
    pub vary: bool,
    /// `gzip_proxied` words (`off` by default).
    pub proxied: Vec<String>,
    pub disable: Vec<regex::bytes::Regex>,
    pub disable_msie6: bool,
}

impl Default for GzipConf {
    fn default() -> GzipConf {
        GzipConf {
            on: false,
            level: 1,
            min_length: 20,
            types: Vec::new(),
            http10: false,
            vary: false,
            proxied: vec!["off".into()],
            disable: Vec::new(),
            disable_msie6: false,
        }
    }
}

impl GzipConf {
    /// The header-filter test before `gzip_ok`: status, Content-Encoding,
    /// length, type. When it passes nginx notes that Vary is due.
    pub fn eligible(&self, status: u16, content_type: &[u8], length: Option<u64>, encoded: bool) -> bool {
        if !self.on || !matches!(status, 200 | 403 | 404) || encoded {
            return false;
        }
        if length.is_some_and(|l| l < self.min_length) {
            return false;
        }
        let base = content_type
            .split(|&b| b == b';')
            .next()
            .unwrap_or_default()
            .trim_ascii();
        base.eq_ignore_ascii_case(b"text/html")
            || self
                .types
                .iter()
                .any(|t| t.as_slice() == b"*" || t.eq_ignore_ascii_case(base))
    }

    /// `ngx_http_gzip_ok` for the request side plus the response's Expires /
    /// Cache-Control / Last-Modified / ETag (for `gzip_proxied`).
    pub fn client_ok(&self, req: &ClientSide<'_>, resp: &RespSide<'_>) -> bool {
        let Some(ae) = req.accept_encoding else {
            return false;
        };
        if ae.len() < 4 || !(ae.starts_with(b"gzip,") || accept_encoding(ae)) {
            return false;
        }
        if self.disable_msie6 && req.user_agent.is_some_and(msie6) {
            return false;
        }
        if !req.http11 && !self.http10 {
            return false;
        }
        if req.via {
            let has = |w: &str| self.proxied.iter().any(|p| p == w);
            let ok = if has("off") {
                false
            } else if has("any") || (req.authorization && has("auth")) {
                true
            } else if let Some(e) = resp.expires {
                has("expired") && crate::http::date::parse_http_time(e).is_some_and(|t| t < resp.now)
            } else if !resp.cache_control.is_empty() {
                let tok = |t: &str| {
                    resp.cache_control.iter().any(|v| {
                        v.split(|&b| b == b',')
                            .any(|x| x.trim_ascii().eq_ignore_ascii_case(t.as_bytes()))
                    })
                };
                (has("no-cache") && tok("no-cache"))
                    || (has("no-store") && tok("no-store"))
                    || (has("private") && tok("private"))
            } else {
                !(has("no_last_modified") && resp.last_modified || has("no_etag") && resp.etag)
            };
            if !ok {
                return false;
            }
        }
        if let Some(ua) = req.user_agent {
            if self.disable.iter().any(|r| r.is_match(ua)) {
                return false;
            }
        }
        true
    }
}

/// The gzip header filter (`ngx_http_gzip_header_filter`), the one decision
/// for every response, whoever made it (static files, proxied responses,
/// `return` text and nginx's own pages): nginx runs it after `expires` and
/// `add_header`, before the range and chunked filters. The response must
/// qualify (status 200/403/404, no Content-Encoding yet, `len` — the body
/// length when known — at least `gzip_min_length`, a type in `gzip_types`);
/// then `gzip_vary` adds Vary whatever the client, and `ngx_http_gzip_ok`
/// judges the client (Accept-Encoding, HTTP version, `gzip_disable`, and
/// `gzip_proxied` when the request came through a proxy, on the response's
/// Expires / Cache-Control / Last-Modified / ETag). When it compresses, the
/// head changes as nginx changes it (`compressed_headers`) and the level is
/// returned; the caller then frames the body without a length. A HEAD
/// response gets the same headers (nginx sets `header_only` only in its
/// last header filter).
pub fn decide(conf: &GzipConf, req: &RequestHead, head: &mut ResponseHead, len: Option<u64>) -> Option<u32> {
    if !conf.on {
        return None;
    }
    let ct = head.content_type.as_deref().unwrap_or_default();
    let encoded = head
        .headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case(b"content-encoding") && !v.is_empty());
    if !conf.eligible(head.status, ct, len, encoded) {
        return None;
    }
    if conf.vary {
        head.vary_accept_encoding = true;
    }
    let client = ClientSide {
        accept_encoding: req.header(b"accept-encoding"),
        user_agent: req.header(b"user-agent"),
        http11: req.version() == Version::Http11,
        via: req.header(b"via").is_some(),
        authorization: req.header(b"authorization").is_some(),
    };
    let header = |name: &'static [u8]| {
        head.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| &v[..])
    };
    let resp = RespSide {
        expires: header(b"expires").next(),
        cache_control: header(b"cache-control").collect(),
        last_modified: head.last_modified.is_some(),
        etag: header(b"etag").next().is_some(),
        now: crate::log::clock::now().unix_secs(),
    };
    if !conf.client_ok(&client, &resp) {
        return None;
    }
    compressed_headers(&mut head.headers);
    Some(conf.level)
}

/// The header changes of a compressed response (`ngx_http_gzip_header_filter`):
/// Content-Encoding added, Accept-Ranges dropped (`ngx_http_clear_accept_ranges`),
/// the ETag weakened (`ngx_http_weak_etag`: `W/` is kept, a value that does
/// not start with `"` is removed). Content-Length is the caller's: it frames
/// the body chunked or close-delimited instead.
pub fn compressed_headers(headers: &mut Vec<(Bytes, Bytes)>) {
    headers.retain_mut(|(n, v)| {
        if n.eq_ignore_ascii_case(b"accept-ranges") {
            return false;
        }
        if n.eq_ignore_ascii_case(b"etag") && !v.starts_with(b"W/") {
            if !v.starts_with(b"\"") {
                return false;
            }
            let mut w = Vec::with_capacity(v.len() + 2);
            w.extend_from_slice(b"W/");
            w.extend_from_slice(v);
            *v = Bytes::from(w);
        }
        true
    });
    headers.push((
        Bytes::from_static(b"Content-Encoding"),
        Bytes::from_static(b"gzip"),
    ));
}

/// What `gzip_ok` reads from the request.
#[derive(Debug, Default, Clone, Copy)]
pub struct ClientSide<'a> {
    pub accept_encoding: Option<&'a [u8]>,
    pub user_agent: Option<&'a [u8]>,
    pub http11: bool,
    pub via: bool,
    pub authorization: bool,
}

/// What `gzip_proxied` reads from the response.
#[derive(Debug, Default, Clone)]
pub struct RespSide<'a> {
    pub expires: Option<&'a [u8]>,
    pub cache_control: Vec<&'a [u8]>,
    pub last_modified: bool,
    pub etag: bool,
    pub now: i64,
}

/// `ngx_http_gzip_accept_encoding`: a `gzip` token at the start or after
/// `,`/space, then end, `,`, spaces, or `;q=` with a non-zero q-value.
pub fn accept_encoding(v: &[u8]) -> bool {
    let lower = v.to_ascii_lowercase();
    let mut from = 0;
    let at = loop {
        let Some(i) = memchr::memmem::find(lower.get(from..).unwrap_or_default(), b"gzip") else {
            return false;
        };
        let p = from + i;
        if p == 0 || matches!(lower.get(p - 1), Some(b',' | b' ')) {
            break p;
        }
        from = p + 4;
    };
    let mut rest = lower.get(at + 4..).unwrap_or_default();
    loop {
        match rest.split_first() {
            None => return true,
            Some((b',', _)) => return true,
            Some((b' ', r)) => rest = r,
            Some((b';', r)) => {
                rest = r;
                break;
            }
            Some(_) => return false,
        }
    }
    loop {
        match rest.split_first() {
            None => return true,
            Some((b'q', r)) => {
                rest = r;
                break;
            }
            Some((b' ', r)) => rest = r,
            Some(_) => return false,
        }
    }
    match rest.split_first() {
        Some((b'=', r)) if !r.is_empty() => quantity(r) > 0,
        _ => false,
    }
}

/// `ngx_http_gzip_quantity`: `0`, `1`, or up to three decimals; in 1/1000.
fn quantity(v: &[u8]) -> u32 {
    let end = v.iter().position(|&b| b == b',' || b == b' ').unwrap_or(v.len());
    let v = v.get(..end).unwrap_or_default();
    let (int, frac) = match v.split_first() {
        Some((c @ (b'0' | b'1'), r)) => (u32::from(c - b'0'), r),
        _ => return 0,
    };
    let mut q = int * 1000;
    if let Some((b'.', digits)) = frac.split_first() {
        if digits.len() > 3 || !digits.iter().all(u8::is_ascii_digit) {
            return 0;
        }
        let mut scale = 100;
        for d in digits {
            q += u32::from(d - b'0') * scale;
            scale /= 10;
        }
    } else if !frac.is_empty() {
        return 0;
    }
    if q > 1000 {
        return 0;
    }
    q
}

/// MSIE 4-6 without SV1 (`ngx_http_parse_header` msie6 flag).
fn msie6(ua: &[u8]) -> bool {
    match memchr::memmem::find(ua, b"MSIE ") {
        Some(i) => {
            let v = ua.get(i + 5).copied().unwrap_or(0);
            matches!(v, b'4'..=b'6') && memchr::memmem::find(ua, b"SV1").is_none()
        }
        None => false,
    }
}

/// `$gzip_ratio` of `zin` bytes compressed to `zout` (> 0): two decimals,
/// the third rounding half up, as ngx_http_gzip_ratio_variable computes it
/// in integers ("2.125" -> "2.13").
pub fn ratio(zin: u64, zout: u64) -> String {
    let zout = zout.max(1);
    let (mut int, mut frac) = (zin / zout, zin.saturating_mul(100) / zout % 100);
    if zin.saturating_mul(1000) / zout % 10 > 4 {
        frac += 1;
        if frac > 99 {
            int += 1;
            frac = 0;
        }
    }
    format!("{int}.{frac:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_ratio_rounds_as_nginx() {
        // (in, out, nginx's text): integer division, the third decimal rounds half up.
        let cases = [
            (100, 40, "2.50"),
            (2125, 1000, "2.13"),
            (2124, 1000, "2.12"),
            (1999, 1000, "2.00"),
            (19995, 10000, "2.00"),
            (1, 3, "0.33"),
            (2, 3, "0.67"),
            (0, 18, "0.00"),
            (102400, 22407, "4.57"),
        ];
        for (zin, zout, want) in cases {
            assert_eq!(ratio(zin, zout), want, "{zin}/{zout}");
        }
    }

    #[test]
    fn accept_encoding_like_nginx() {
        let t: &[(&str, bool)] = &[
            ("gzip", true),
            ("gzip, deflate", true),
            ("deflate, gzip", true),
            ("deflate,gzip", true),
            ("GZIP", true),
            ("gzip;q=0", false),
            ("gzip;q=0.0", false),
            ("gzip;q=0.000", false),
            ("gzip; q=0.5", true),
            ("gzip;q=1", true),
            ("gzip;q=1.0", true),
            ("gzip;q=2", false),
            ("gzip;q=0.0001", false),
            ("gzip;q=", false),
            ("gzip;x=1", false),
            ("x-gzip", false),
            ("*", false),
            ("deflate", false),
            ("gzipx", false),
            ("br, gzip ", true),
            ("identity;q=1, gzip;q=0.5", true),
        ];
        for (v, want) in t {
            assert_eq!(
                v.starts_with("gzip,") || accept_encoding(v.as_bytes()),
                *want,
                "{v}"
            );
        }
    }

    #[test]
    fn eligibility_and_proxied() {
        let c = GzipConf {
            on: true,
            types: vec![b"text/css".to_vec()],
            ..GzipConf::default()
        };
        assert!(c.eligible(200, b"text/html; charset=utf-8", Some(100), false));
        assert!(c.eligible(404, b"text/css", None, false));
        assert!(!c.eligible(206, b"text/html", Some(100), false));
        assert!(!c.eligible(304, b"text/html", Some(100), false));
        assert!(!c.eligible(200, b"text/html", Some(19), false));
        assert!(!c.eligible(200, b"image/png", Some(100), false));
        assert!(!c.eligible(200, b"text/html", Some(100), true));
        let req = ClientSide {
            accept_encoding: Some(b"gzip"),
            http11: true,
            ..ClientSide::default()
        };
        let resp = RespSide::default();
        assert!(c.client_ok(&req, &resp));
        assert!(!c.client_ok(&ClientSide { http11: false, ..req }, &resp));
        assert!(!c.client_ok(&ClientSide { via: true, ..req }, &resp));
        let any = GzipConf {
            proxied: vec!["any".into()],
            ..c.clone()
        };
        assert!(any.client_ok(&ClientSide { via: true, ..req }, &resp));
        let nolm = GzipConf {
            proxied: vec!["no_last_modified".into()],
            ..c.clone()
        };
        let with_lm = RespSide {
            last_modified: true,
            ..RespSide::default()
        };
        assert!(!nolm.client_ok(&ClientSide { via: true, ..req }, &with_lm));
        assert!(nolm.client_ok(&ClientSide { via: true, ..req }, &resp));
        let dis = GzipConf {
            disable: vec![regex::bytes::RegexBuilder::new("curl")
                .case_insensitive(true)
                .build()
                .unwrap()],
            ..c.clone()
        };
        assert!(!dis.client_ok(
            &ClientSide {
                user_agent: Some(b"CURL/8"),
                ..req
            },
            &resp
        ));
        assert!(msie6(b"Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.0)"));
        assert!(!msie6(b"Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1)"));
    }
}
