//! `proxy_next_upstream`: which failures pass a request to the next server
//! (nginx/nginx: src/http/ngx_http_upstream.c `ngx_http_upstream_next`,
//! `ngx_http_upstream_test_next`; the masks are `NGX_HTTP_UPSTREAM_FT_*`).

/// A set of `NGX_HTTP_UPSTREAM_FT_*` bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mask(pub u32);

pub const ERROR: u32 = 0x2;
pub const TIMEOUT: u32 = 0x4;
pub const INVALID_HEADER: u32 = 0x8;
pub const HTTP_500: u32 = 0x10;
pub const HTTP_502: u32 = 0x20;
pub const HTTP_503: u32 = 0x40;
pub const HTTP_504: u32 = 0x80;
pub const HTTP_403: u32 = 0x100;
pub const HTTP_404: u32 = 0x200;
pub const HTTP_429: u32 = 0x400;
pub const NON_IDEMPOTENT: u32 = 0x4000;
pub const OFF: u32 = 0x2000_0000;

/// nginx's default: `error timeout`.
pub const DEFAULT: Mask = Mask(ERROR | TIMEOUT);

impl Mask {
    /// Parses the option words; `off` alone clears everything, as nginx's
    /// merge does (`NGX_CONF_BITMASK_SET | NGX_HTTP_UPSTREAM_FT_OFF`).
    pub fn parse(words: &[String]) -> Result<Mask, String> {
        let mut m = 0u32;
        for w in words {
            m |= match w.as_str() {
                "error" => ERROR,
                "timeout" => TIMEOUT,
                "invalid_header" => INVALID_HEADER,
                "http_500" => HTTP_500,
                "http_502" => HTTP_502,
                "http_503" => HTTP_503,
                "http_504" => HTTP_504,
                "http_403" => HTTP_403,
                "http_404" => HTTP_404,
                "http_429" => HTTP_429,
                "non_idempotent" => NON_IDEMPOTENT,
                "off" => OFF,
                other => return Err(format!("invalid value \"{other}\"")),
            };
        }
        if m & OFF != 0 {
            return Ok(Mask(0));
        }
        Ok(Mask(m))
    }

    /// All of `ft`'s bits are listed (`(next_upstream & ft_type) == ft_type`).
    pub fn allows(self, ft: u32) -> bool {
        self.0 & ft == ft
    }
}

/// The failure type of an upstream status that `proxy_next_upstream` can
/// name (`ngx_http_upstream_next_errors`), if any.
pub fn status_ft(status: u16) -> Option<u32> {
    Some(match status {
        500 => HTTP_500,
        502 => HTTP_502,
        503 => HTTP_503,
        504 => HTTP_504,
        403 => HTTP_403,
        404 => HTTP_404,
        429 => HTTP_429,
        _ => return None,
    })
}

/// The status nginx finalizes with when it gives up after `ft`.
pub fn ft_status(ft: u32) -> u16 {
    match ft {
        TIMEOUT | HTTP_504 => 504,
        HTTP_500 => 500,
        HTTP_503 => 503,
        HTTP_403 => 403,
        HTTP_404 => 404,
        HTTP_429 => 429,
        _ => 502,
    }
}

/// POST, LOCK and PATCH are never passed on once sent unless `non_idempotent` is listed.
pub fn non_idempotent(method: &[u8]) -> bool {
    matches!(method, b"POST" | b"LOCK" | b"PATCH")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(w: &[&str]) -> Result<Mask, String> {
        Mask::parse(&w.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn parse_and_allow() {
        assert_eq!(m(&["error", "timeout"]).unwrap(), DEFAULT);
        assert_eq!(m(&["off"]).unwrap(), Mask(0));
        assert_eq!(m(&["error", "off"]).unwrap(), Mask(0));
        assert!(m(&["http_501"]).is_err());
        let x = m(&["error", "http_502", "non_idempotent"]).unwrap();
        assert!(x.allows(ERROR) && x.allows(HTTP_502));
        assert!(x.allows(ERROR | NON_IDEMPOTENT));
        assert!(!x.allows(TIMEOUT));
        assert!(
            !DEFAULT.allows(ERROR | NON_IDEMPOTENT),
            "POST once sent: not retried by default"
        );
        assert!(!DEFAULT.allows(HTTP_502));
    }

    #[test]
    fn statuses() {
        let table = [
            (500, Some(HTTP_500)),
            (502, Some(HTTP_502)),
            (503, Some(HTTP_503)),
            (504, Some(HTTP_504)),
            (403, Some(HTTP_403)),
            (404, Some(HTTP_404)),
            (429, Some(HTTP_429)),
            (501, None),
            (200, None),
        ];
        for (s, ft) in table {
            assert_eq!(status_ft(s), ft, "{s}");
        }
        assert_eq!(ft_status(TIMEOUT), 504);
        assert_eq!(ft_status(ERROR), 502);
        assert_eq!(ft_status(INVALID_HEADER), 502);
        assert_eq!(ft_status(HTTP_503), 503);
        assert!(non_idempotent(b"POST") && non_idempotent(b"PATCH") && non_idempotent(b"LOCK"));
        assert!(!non_idempotent(b"PUT") && !non_idempotent(b"DELETE") && !non_idempotent(b"GET"));
    }
}
