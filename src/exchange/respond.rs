//! The start of every response, whoever made it (nginx's own pages and
//! `return` text in server/pipeline.rs, static files, proxied responses, the 101
//! of an upgrade): nginx's header filters, then the head handed to the
//! protocol's encoder (`ClientIo::begin_response`: HTTP/1 text or one
//! HTTP/2 HEADERS frame), then the accounting of what was sent. The gzip
//! decision between the two is `filters::gzip::decide`, also one for all.
//!
//! Order, as nginx's filter chain: headers filter (`expires`, then
//! `add_header`) → gzip → range/framing (chosen by the caller, which knows
//! the body) → the header filter that writes the head.

use super::request::Request;
use super::Exchange;
use crate::http::response::{ConnHeader, Framing, ResponseHead};

/// nginx's headers filter (ngx_http_headers_filter_module.c): `expires`,
/// then `add_header`. `mtime` is the file's modification time for a static
/// file (`expires modified`); otherwise it is read from Last-Modified.
pub fn header_filters(req: &Request, head: &mut ResponseHead, mtime: Option<i64>) {
    apply_expires(req, head, mtime);
    add_headers(req, head.status, head);
}

/// `add_header`: without `always` only for 200, 201, 204, 206, 301, 302,
/// 303, 304, 307, 308; an empty value adds nothing.
fn add_headers(req: &Request, status: u16, head: &mut ResponseHead) {
    let safe = matches!(status, 200 | 201 | 204 | 206 | 301 | 302 | 303 | 304 | 307 | 308);
    for h in &req.loc.conf.add_header {
        if !h.always && !safe {
            continue;
        }
        let v = h.value.eval_to_vec(req);
        if v.is_empty() {
            continue;
        }
        head.headers.push((h.name.clone(), bytes::Bytes::from(v)));
    }
}

/// `expires` (the headers filter runs it just before `add_header`).
fn apply_expires(req: &Request, head: &mut ResponseHead, mtime: Option<i64>) {
    let e = req.loc.conf.expires;
    if e == crate::filters::expires::Expires::Off {
        return;
    }
    let lm = mtime.or_else(|| {
        head.last_modified
            .as_deref()
            .or_else(|| {
                head.headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(b"last-modified"))
                    .map(|(_, v)| &v[..])
            })
            .and_then(crate::http::date::parse_http_time)
    });
    e.apply(head, crate::log::clock::now().unix_secs(), 0, lm);
}

/// Begins the response with `head` and the body `framing` the caller chose:
/// the head goes to the client's encoder (on HTTP/1 appended to `out`, to
/// go out with the first body bytes), `$status`, the head's size and the
/// `$sent_http_*` record are kept. Returns the `Connection` the head
/// announced (the caller reuses the connection only after `KeepAlive`), or
/// `None` when the client is gone.
pub fn begin(
    ex: &mut Exchange<'_>,
    head: &ResponseHead,
    framing: Framing,
    out: &mut Vec<u8>,
) -> Option<ConnHeader> {
    let conn = if head.status == 101 {
        ConnHeader::Upgrade
    } else {
        ex.conn_header()
    };
    ex.req.status = head.status;
    let tokens = ex.req.loc.conf.server_tokens;
    let n = ex.io.begin_response(head, framing, conn, tokens, out).ok()?;
    ex.req.header_bytes = n;
    record_sent_headers(&mut ex.req, head, framing, conn);
    Some(conn)
}

/// Keeps the response headers for `$sent_http_*`, when a log of the
/// location reads one (most formats, `combined` among them, do not).
pub fn record_sent_headers(req: &mut Request, head: &ResponseHead, framing: Framing, conn: ConnHeader) {
    if !req.loc.conf.log_sent_headers {
        return;
    }
    // Content-Length, Transfer-Encoding and Connection come from these when
    // a `$sent_http_*` asks (Request::sent_by_writer), not from copies.
    // (ResponseHead::write sends no Content-Length for these statuses.)
    let framing = match framing {
        Framing::Length(_) if matches!(head.status, 100..=199 | 204 | 304) => Framing::NoBody,
        f => f,
    };
    req.sent_framing = Some((framing, conn));
    let sent = &mut req.sent_headers;
    let named = |n: &'static [u8], v: &bytes::Bytes| (bytes::Bytes::from_static(n), v.clone());
    if let Some(ct) = &head.content_type {
        sent.push(named(b"content-type", ct));
    }
    if let Some(lm) = &head.last_modified {
        sent.push(named(b"last-modified", lm));
    }
    if let Some(l) = &head.location {
        sent.push(named(b"location", l));
    }
    for (n, v) in &head.headers {
        sent.push((n.clone(), v.clone()));
    }
}

/// nginx makes relative redirects absolute (§5.12): `http://` + the host
/// (without its port) + `:port` of the listening socket unless 80.
/// With no host in the request (HTTP/1.0 without Host) nginx writes the
/// socket's local address, not the server name (nginx/nginx:
/// src/http/ngx_http_header_filter_module.c, `ngx_connection_local_sockaddr`
/// with port 0, so an IPv6 address has no brackets there).
/// `absolute_redirect off` leaves it relative; `server_name_in_redirect on`
/// writes the server's primary name; `port_in_redirect off` drops the port.
pub fn absolute_location(req: &Request, path: Vec<u8>) -> Vec<u8> {
    let conf = &req.loc.conf;
    if !conf.absolute_redirect {
        return path;
    }
    let mut out = Vec::with_capacity(path.len() + 32);
    let https = req.conn.tls.is_some();
    out.extend_from_slice(if https { b"https://" } else { b"http://" });
    match &req.host {
        _ if conf.server_name_in_redirect => out.extend_from_slice(&req.server.name),
        Some(h) => {
            // $host has no port already; IPv6 literals keep their brackets.
            out.extend_from_slice(h);
        }
        None => out.extend_from_slice(req.conn.local.ip().to_string().as_bytes()),
    }
    let port = req.conn.local.port();
    if conf.port_in_redirect && port != if https { 443 } else { 80 } {
        out.push(b':');
        out.extend_from_slice(port.to_string().as_bytes());
    }
    out.extend_from_slice(&path);
    out
}
