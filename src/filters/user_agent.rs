//! The browser quirks nginx derives from `User-Agent` for `keepalive_disable`
//! (nginx/nginx: src/http/ngx_http_request.c `ngx_http_user_agent`).

/// What nginx reads from a User-Agent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Browser {
    /// MSIE 4/5, or MSIE 6 without "SV1" (and not Opera).
    pub msie6: bool,
    /// Safari on Mac OS X (not MSIE, Opera, Gecko or Chrome).
    pub safari: bool,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

/// `ngx_http_user_agent`'s classification, byte for byte.
pub fn classify(ua: &[u8]) -> Browser {
    let mut msie = false;
    let mut msie6 = false;
    if let Some(i) = find(ua, b"MSIE ") {
        // nginx: `msie + 7 < user_agent + len`
        if i + 7 < ua.len() {
            msie = true;
            if ua.get(i + 6) == Some(&b'.') {
                match ua.get(i + 5) {
                    Some(b'4' | b'5') => msie6 = true,
                    Some(b'6') => msie6 = find(ua.get(i + 8..).unwrap_or_default(), b"SV1").is_none(),
                    _ => {}
                }
            }
        }
    }
    let opera = find(ua, b"Opera").is_some();
    if opera {
        msie = false;
        msie6 = false;
    }
    let mut safari = false;
    if !msie && !opera && find(ua, b"Gecko/").is_none() && find(ua, b"Chrome/").is_none() {
        safari = find(ua, b"Safari/").is_some() && find(ua, b"Mac OS X").is_some();
    }
    Browser { msie6, safari }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nginx_classification() {
        let cases: &[(&str, bool, bool)] = &[
            ("Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)", true, false),
            ("Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1)", false, false),
            ("Mozilla/4.0 (compatible; MSIE 5.5; Windows 98)", true, false),
            ("Mozilla/4.0 (compatible; MSIE 4.01; Windows 95)", true, false),
            ("Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.0)", false, false),
            ("Mozilla/4.0 (compatible; MSIE 6.0; Opera 9)", false, false),
            // nginx needs 8 bytes from "MSIE " on (`msie + 7 < end`)
            ("MSIE 6.0", true, false),
            ("MSIE 6.", false, false),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Version/16.1 Safari/605.1.15",
                false,
                true,
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 Chrome/119.0 Safari/537.36",
                false,
                false,
            ),
            ("Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Safari/537.36", false, false),
            ("Mozilla/5.0 (Macintosh; Mac OS X) Gecko/20100101 Firefox/120.0 Safari/1", false, false),
            ("curl/8.0", false, false),
            ("", false, false),
        ];
        for (ua, msie6, safari) in cases {
            assert_eq!(
                classify(ua.as_bytes()),
                Browser {
                    msie6: *msie6,
                    safari: *safari
                },
                "{ua}"
            );
        }
    }
}
