//! `expires` (nginx/nginx: src/http/modules/ngx_http_headers_filter_module.c,
//! `ngx_http_set_expires` writes; the value and its parser,
//! `ngx_http_headers_expires`, are `crate::config::value::expires`).
//!
//! nginx owns both headers when `expires` is active: it replaces an existing
//! Expires and the first Cache-Control and drops every other Cache-Control.

pub use crate::config::value::expires::Expires;
use crate::http::date::http_time;
use crate::http::response::ResponseHead;
use bytes::Bytes;

impl Expires {
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
