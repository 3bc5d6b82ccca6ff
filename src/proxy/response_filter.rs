//! Which upstream response headers reach the client, and how (nginx:
//! `ngx_http_upstream_process_headers`, `ngx_http_proxy_hide_headers`):
//! hop-by-hop and framing headers are dropped (rampart frames the body
//! itself), Date/Server/X-Pad/X-Accel-* are hidden unless `proxy_pass_header`
//! lets them through, `proxy_hide_header` adds more; the reason phrase
//! passes through unchanged. `Location` stays in its place among the other
//! headers (after Connection) unless `proxy_redirect default` rewrites it:
//! the rewritten, relative URI is then made absolute and moves to the fixed
//! slot before Connection, as nginx's header filter does.

use crate::http1::ResponseHead as UpHead;
use crate::server::pipeline::Exchange;
use crate::server::response::ResponseHead;

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

pub fn client_head(ex: &Exchange<'_>, up: &UpHead) -> ResponseHead {
    let conf = &ex.req.loc.conf.proxy;
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
            if let Some(l) = redirect(ex, value) {
                h.location = Some(l.into());
                continue;
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

/// `proxy_redirect default`: a Location that starts with the proxy_pass URL
/// gets the location's own prefix instead, made absolute for this hop.
fn redirect(ex: &Exchange<'_>, value: &[u8]) -> Option<Vec<u8>> {
    let crate::runtime::Handler::Proxy(t) = &ex.req.loc.handler else {
        return None;
    };
    let rest = value.strip_prefix(&t.redirect_from[..])?;
    let mut rel = Vec::with_capacity(t.redirect_to.len() + rest.len());
    rel.extend_from_slice(&t.redirect_to);
    rel.extend_from_slice(rest);
    Some(if rel.starts_with(b"/") {
        crate::server::pipeline::absolute_location(&ex.req, rel)
    } else {
        rel
    })
}
