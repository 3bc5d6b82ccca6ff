//! HTTP dates (RFC 9110 §5.6.7), read and written as nginx does.

use std::time::{Duration, UNIX_EPOCH};

/// `ngx_parse_http_time`: RFC 1123, RFC 850 and asctime dates; None if unparsable.
pub fn parse_http_time(v: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(v).ok()?.trim();
    let t = httpdate::parse_http_date(s).ok()?;
    let d = t.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(d.as_secs()).ok()
}

/// An IMF-fixdate; times before the epoch print as nginx's `ngx_http_time` would not
/// need to (it takes time_t); clamp to the epoch.
pub fn http_time(secs: i64) -> String {
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64))
}
