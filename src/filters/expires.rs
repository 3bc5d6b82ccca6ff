//! `expires` (nginx/nginx: src/http/modules/ngx_http_headers_filter_module.c,
//! `ngx_http_headers_expires` parses, `ngx_http_set_expires` writes).
//!
//! nginx owns both headers when `expires` is active: it replaces an existing
//! Expires and the first Cache-Control and drops every other Cache-Control.

use crate::server::response::ResponseHead;
use bytes::Bytes;
use std::time::{Duration, UNIX_EPOCH};

/// A parsed `expires` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expires {
    Off,
    /// `expires epoch`.
    Epoch,
    /// `expires max`.
    Max,
    /// `expires [modified] [-]TIME` (seconds, may be negative).
    Access(i64),
    Modified(i64),
    /// `expires @15h30m`: seconds after local midnight.
    Daily(i64),
}

impl Expires {
    /// The directive's arguments joined by a space.
    pub fn parse(s: &str) -> Result<Expires, String> {
        let mut words = s.split_whitespace();
        let first = words.next().unwrap_or("");
        let (modified, value) = if first == "modified" {
            (true, words.next().unwrap_or(""))
        } else {
            (false, first)
        };
        if words.next().is_some() {
            return Err(format!("invalid value \"{s}\""));
        }
        if !modified {
            match value {
                "epoch" => return Ok(Expires::Epoch),
                "max" => return Ok(Expires::Max),
                "off" => return Ok(Expires::Off),
                _ => {}
            }
        }
        let invalid = || format!("invalid value \"{value}\"");
        if let Some(daily) = value.strip_prefix('@') {
            if modified {
                return Err("daily time cannot be used with \"modified\" parameter".into());
            }
            let t = parse_time(daily).ok_or_else(invalid)?;
            if t >= 24 * 3600 {
                return Err("daily time value must be less than 24 hours".into());
            }
            return Ok(Expires::Daily(t));
        }
        let (neg, v) = match value.as_bytes().first() {
            Some(b'+') => (false, value.get(1..).unwrap_or("")),
            Some(b'-') => (true, value.get(1..).unwrap_or("")),
            _ => (false, value),
        };
        let t = parse_time(v).ok_or_else(invalid)?;
        let t = if neg { -t } else { t };
        Ok(if modified {
            Expires::Modified(t)
        } else {
            Expires::Access(t)
        })
    }

    /// Sets Expires and Cache-Control on `head` as nginx does, for the
    /// statuses nginx's headers filter serves (200, 201, 204, 206, 301, 302,
    /// 303, 304, 307, 308). `now` and `last_modified` are unix seconds;
    /// `gmtoff` is the local offset for `@` times.
    pub fn apply(self, head: &mut ResponseHead, now: i64, gmtoff: i64, last_modified: Option<i64>) {
        if self == Expires::Off
            || !matches!(
                head.status,
                200 | 201 | 204 | 206 | 301 | 302 | 303 | 304 | 307 | 308
            )
        {
            return;
        }
        let (expires, cc): (String, String) = match self {
            Expires::Off => return,
            Expires::Epoch => ("Thu, 01 Jan 1970 00:00:01 GMT".into(), "no-cache".into()),
            Expires::Max => ("Thu, 31 Dec 2037 23:55:55 GMT".into(), "max-age=315360000".into()),
            Expires::Access(0) | Expires::Modified(0) => (http_time(now), "max-age=0".into()),
            Expires::Daily(t) => {
                // ngx_next_time: today's local time t, or tomorrow's if it has passed.
                let local = now + gmtoff;
                let mut at = local - local.rem_euclid(86400) + t - gmtoff;
                if at <= now {
                    at += 86400;
                }
                (http_time(at), format!("max-age={}", at - now))
            }
            Expires::Access(t) | Expires::Modified(t) => {
                let (at, max_age) = match (self, last_modified) {
                    (Expires::Modified(_), Some(lm)) => (lm + t, lm + t - now),
                    _ => (now + t, t),
                };
                let cc = if t < 0 || max_age < 0 {
                    "no-cache".to_string()
                } else {
                    format!("max-age={max_age}")
                };
                (http_time(at), cc)
            }
        };
        head.headers.retain(|(n, _)| {
            !n.eq_ignore_ascii_case(b"expires") && !n.eq_ignore_ascii_case(b"cache-control")
        });
        head.headers
            .push((Bytes::from_static(b"Expires"), Bytes::from(expires)));
        head.headers
            .push((Bytes::from_static(b"Cache-Control"), Bytes::from(cc)));
    }
}

/// An IMF-fixdate; times before the epoch print as nginx's `ngx_http_time` would not
/// need to (it takes time_t); clamp to the epoch.
pub fn http_time(secs: i64) -> String {
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64))
}

/// `ngx_parse_time(.., 1)`: `1y2M3w4d5h6m7s`, a bare number is seconds; each
/// unit at most once and in descending order.
pub fn parse_time(s: &str) -> Option<i64> {
    if s.is_empty() {
        return None;
    }
    let mut total: i64 = 0;
    let mut n: i64 = 0;
    let mut have_digits = false;
    let mut last_rank = 8;
    for c in s.bytes() {
        if c.is_ascii_digit() {
            n = n.checked_mul(10)?.checked_add(i64::from(c - b'0'))?;
            have_digits = true;
            continue;
        }
        let (rank, mul) = match c {
            b'y' => (7, 365 * 86400),
            b'M' => (6, 30 * 86400),
            b'w' => (5, 7 * 86400),
            b'd' => (4, 86400),
            b'h' => (3, 3600),
            b'm' => (2, 60),
            b's' => (1, 1),
            _ => return None,
        };
        if !have_digits || rank >= last_rank {
            return None;
        }
        last_rank = rank;
        total = total.checked_add(n.checked_mul(mul)?)?;
        n = 0;
        have_digits = false;
    }
    if have_digits {
        total = total.checked_add(n)?;
    }
    (total <= i64::from(i32::MAX)).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(h: &ResponseHead, n: &str) -> Option<String> {
        h.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n.as_bytes()))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }

    #[test]
    fn parses_nginx_forms() {
        let t: &[(&str, Result<Expires, ()>)] = &[
            ("off", Ok(Expires::Off)),
            ("epoch", Ok(Expires::Epoch)),
            ("max", Ok(Expires::Max)),
            ("30d", Ok(Expires::Access(30 * 86400))),
            ("1h30m", Ok(Expires::Access(5400))),
            ("-1", Ok(Expires::Access(-1))),
            ("+60", Ok(Expires::Access(60))),
            ("0", Ok(Expires::Access(0))),
            ("modified 1h", Ok(Expires::Modified(3600))),
            ("@15h30m", Ok(Expires::Daily(15 * 3600 + 1800))),
            ("@24h", Err(())),
            ("modified @1h", Err(())),
            ("1x", Err(())),
            ("m1", Err(())),
            ("1m1h", Err(())),
            ("", Err(())),
            ("1h 2h", Err(())),
        ];
        for (s, want) in t {
            assert_eq!(Expires::parse(s).map_err(|_| ()), *want, "{s}");
        }
    }

    #[test]
    fn sets_headers_like_nginx() {
        let now = 1_700_000_000;
        type Case = (Expires, u16, Option<i64>, Option<(&'static str, &'static str)>);
        let cases: &[Case] = &[
            (
                Expires::Access(3600),
                200,
                None,
                Some(("Tue, 14 Nov 2023 23:13:20 GMT", "max-age=3600")),
            ),
            (
                Expires::Access(0),
                200,
                None,
                Some(("Tue, 14 Nov 2023 22:13:20 GMT", "max-age=0")),
            ),
            (
                Expires::Access(-1),
                200,
                None,
                Some(("Tue, 14 Nov 2023 22:13:19 GMT", "no-cache")),
            ),
            (
                Expires::Epoch,
                304,
                None,
                Some(("Thu, 01 Jan 1970 00:00:01 GMT", "no-cache")),
            ),
            (
                Expires::Max,
                206,
                None,
                Some(("Thu, 31 Dec 2037 23:55:55 GMT", "max-age=315360000")),
            ),
            (
                Expires::Modified(3600),
                200,
                Some(now - 7200),
                Some(("Tue, 14 Nov 2023 21:13:20 GMT", "no-cache")),
            ),
            (
                Expires::Modified(3600),
                200,
                Some(now - 60),
                Some(("Tue, 14 Nov 2023 23:12:20 GMT", "max-age=3540")),
            ),
            (
                Expires::Modified(60),
                200,
                None,
                Some(("Tue, 14 Nov 2023 22:14:20 GMT", "max-age=60")),
            ),
            (
                Expires::Daily(0),
                200,
                None,
                Some(("Wed, 15 Nov 2023 00:00:00 GMT", "max-age=6400")),
            ),
            (Expires::Access(3600), 404, None, None),
            (Expires::Access(3600), 500, None, None),
            (Expires::Off, 200, None, None),
        ];
        for (e, status, lm, want) in cases {
            let mut h = ResponseHead::new(*status);
            h.push(b"Cache-Control", b"private");
            h.push(b"cache-control", b"no-store");
            e.apply(&mut h, now, 0, *lm);
            match want {
                Some((ex, cc)) => {
                    assert_eq!(hdr(&h, "expires").as_deref(), Some(*ex), "{e:?}");
                    assert_eq!(hdr(&h, "cache-control").as_deref(), Some(*cc), "{e:?}");
                    let n = h
                        .headers
                        .iter()
                        .filter(|(k, _)| k.eq_ignore_ascii_case(b"cache-control"))
                        .count();
                    assert_eq!(n, 1);
                }
                None => assert_eq!(hdr(&h, "cache-control").as_deref(), Some("private")),
            }
        }
    }
}
