//! Which upstream response headers reach the client, and how (nginx:
//! `ngx_http_upstream_process_headers`, `ngx_http_proxy_hide_headers`):
//! hop-by-hop and framing headers are dropped (rampart frames the body
//! itself), Date/Server/X-Pad/X-Accel-* are hidden unless `proxy_pass_header`
//! lets them through, `proxy_hide_header` adds more; the reason phrase
//! passes through unchanged. `Location` stays in its place among the other
//! headers (after Connection) unless `proxy_redirect` rewrites it to a
//! relative URI: that is made absolute and moves to the fixed slot before
//! Connection, as nginx's header filter does. `Refresh` is rewritten in place
//! (redirect.rs).

use super::conf::ProxyLoc;
use super::redirect::{self, Outcome};
use crate::exchange::Exchange;
use crate::http::response::ResponseHead;
use crate::http1::ResponseHead as UpHead;

/// Headers rampart never copies: it writes its own framing and connection handling.
const HOP_BY_HOP: &[&[u8]] = &[
    b"connection",
    b"keep-alive",
    b"transfer-encoding",
    b"content-length",
    b"proxy-connection",
    b"te",
    b"trailer",
];

pub fn client_head(ex: &Exchange<'_>, pl: ProxyLoc<'_>, up: &UpHead) -> ResponseHead {
    let conf = pl.conf;
    let mut h = ResponseHead::new(up.status());
    h.headers.reserve_exact(up.headers().count());
    let src = up.bytes();
    h.reason = Some(src.slice_ref(up.reason()));
    for (name, value) in up.headers() {
        if HOP_BY_HOP.iter().any(|n| name.eq_ignore_ascii_case(n)) {
            continue;
        }
        if name.eq_ignore_ascii_case(b"upgrade") && up.status() != 101 {
            continue;
        }
        if conf.hide.iter().any(|n| name.eq_ignore_ascii_case(n)) {
            continue;
        }
        if name.eq_ignore_ascii_case(b"location") && h.location.is_none() {
            // ngx_http_upstream_rewrite_location + the header filter: a value
            // rewritten to a relative URI is made absolute and written in the
            // fixed slot; any other value stays in its place.
            if let Outcome::Rewritten(l) = rewrite(ex, pl, value, 0) {
                if l.starts_with(b"/") {
                    h.location = Some(crate::exchange::respond::absolute_location(&ex.req, l).into());
                } else {
                    h.headers.push((src.slice_ref(name), l.into()));
                }
                continue;
            }
        }
        if name.eq_ignore_ascii_case(b"set-cookie") {
            if let Some(v) = super::cookie::rewrite(&conf.cookie_domain, &conf.cookie_path, &ex.req, value) {
                h.headers.push((src.slice_ref(name), v.into()));
                continue;
            }
        }
        if name.eq_ignore_ascii_case(b"refresh") {
            // ngx_http_upstream_rewrite_refresh: the URL after `url=`, in place.
            if let Some(at) = redirect::refresh_url_start(value) {
                if let Outcome::Rewritten(v) = rewrite(ex, pl, value, at) {
                    h.headers.push((src.slice_ref(name), v.into()));
                    continue;
                }
            }
        }
        let value = src.slice_ref(value);
        if name.eq_ignore_ascii_case(b"content-type") && h.content_type.is_none() {
            h.content_type = Some(value);
        } else if name.eq_ignore_ascii_case(b"last-modified") && h.last_modified.is_none() {
            h.last_modified = Some(value);
        } else {
            h.headers.push((src.slice_ref(name), value));
        }
    }
    h
}

/// Applies the location's `proxy_redirect` rules to `value[prefix..]`.
fn rewrite(ex: &Exchange<'_>, pl: ProxyLoc<'_>, value: &[u8], prefix: usize) -> Outcome {
    let t = pl.target;
    let def = redirect::DefaultPair {
        from: &t.redirect_from,
        to: &t.redirect_to,
    };
    redirect::rewrite(&pl.conf.redirect, &def, &ex.req, value, prefix)
}
