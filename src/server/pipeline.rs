//! The phases one request goes through, in nginx's order. Reading this file
//! top to bottom tells everything a request meets:
//!
//! 1. server selection (`Host`, or the host of an absolute request line)
//! 2. URI normalisation (`$uri`; 400 on escaping the root or `%00`)
//! 3. server-level `return`
//! 4. location matching (with nginx's automatic trailing-slash 301)
//! 5. access checks: `internal`, `client_max_body_size` (413 from Content-Length)
//! 6. the content handler: `proxy_pass`, `return`, or nothing (404)
//! 7. `error_page` (an internal redirect back to 4, a named location, or a redirect)
//! 8. the response filters (`add_header`) and the write
//! 9. the access log, then the keep-alive decision

use super::body::ReqBody;
use super::io::ClientIo;
use super::request::{ConnInfo, Request, UpstreamLog};
use super::response::{ConnHeader, Framing, ResponseHead};
use crate::filters::special;
use crate::http1::{RequestHead, Version};
use crate::routing::host::normalize_host;
use crate::routing::location::{Captures, Found};
use crate::routing::uri;
use crate::runtime::loc_conf::ErrorTarget;
use crate::runtime::{Handler, LocationRt, ReturnRt, VirtualHosts};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// nginx stops internal redirects after 10 URI changes (NGX_HTTP_MAX_URI_CHANGES).
const MAX_URI_CHANGES: u8 = 10;

/// What a phase produced.
pub enum Reply {
    /// A status nginx generates itself (its built-in page; error_page applies).
    /// `location` is as configured: a relative one is made absolute when sent.
    Special { status: u16, location: Option<Vec<u8>> },
    /// A complete response held in memory.
    Full { head: ResponseHead, body: Vec<u8> },
    /// The handler streamed the response itself. `reusable` is false when the
    /// connection cannot carry another request (close-delimited body, broken
    /// upstream, unread request body).
    Sent { reusable: bool },
    /// Close without answering (`return 444`, client gone, 408).
    Close,
    /// An internal redirect asked for by a handler (index, try_files).
    Internal(Vec<u8>),
    /// A jump to a named location (try_files `@name`).
    Named(String),
}

/// What the connection does after the request.
pub enum Next {
    KeepAlive(Duration),
    /// `linger`: the client may still be sending (unread body), so wait for it
    /// before closing, or it would get a RST instead of our response.
    Close {
        linger: bool,
    },
}

/// Per-request state that the handlers share.
pub struct Exchange<'a> {
    pub io: &'a mut ClientIo,
    pub req: Request,
    pub body: ReqBody,
    /// The status error_page imposes on whatever the redirected request produces.
    pub override_status: Option<u16>,
    /// Set when the response went out with `Connection: close` semantics.
    pub close_after: bool,
    /// How long the connection has been open (for keepalive_time).
    pub conn_age: Duration,
}

impl Exchange<'_> {
    pub fn loc(&self) -> &Arc<LocationRt> {
        &self.req.loc
    }

    /// The client wants keep-alive and nginx's rules allow it (§11.6).
    pub fn keepalive_allowed(&self) -> bool {
        let h = &self.req.head;
        let wants = match h.version() {
            Version::Http11 => !h.conn_close(),
            Version::Http10 => h.conn_keep_alive() && !h.conn_close(),
            Version::Http09 => false,
        };
        let c = &self.req.loc.conf;
        wants
            && !self.close_after
            && !c.keepalive_timeout.is_zero()
            && self.req.conn.requests < c.keepalive_requests
            && self.conn_age < c.keepalive_time
            && !super::state::draining()
    }

    pub fn conn_header(&self) -> ConnHeader {
        if self.keepalive_allowed() {
            ConnHeader::KeepAlive
        } else {
            ConnHeader::Close
        }
    }
}

/// Handles one request whose head has been read; writes the response and the
/// log line. Returns whether the connection stays open.
pub async fn handle(
    io: &mut ClientIo,
    head: RequestHead,
    hosts: &VirtualHosts,
    conn: ConnInfo,
    started: Instant,
    conn_age: Duration,
) -> Next {
    let head_len = head.head_len() as u64;
    let server = hosts.default_server().clone();
    let loc = server.server_loc.clone();
    let req = Request {
        head,
        conn,
        started,
        start_msec: crate::log::clock::now().unix_millis(),
        uri: Vec::new(),
        args: None,
        uri_changed: false,
        method_get_override: false,
        host: None,
        server,
        loc,
        captures: Captures::default(),
        capture_subject: Vec::new(),
        status: 0,
        header_bytes: 0,
        bytes_sent: 0,
        request_length: head_len,
        upstream: UpstreamLog::default(),
        proxy_host: None,
        sent_headers: Vec::new(),
        redirects: 0,
        error_page_used: false,
    };
    let body = ReqBody::new(&req.head, 0, req.loc.conf.client_body_timeout);
    let written_before = io.written;
    let mut ex = Exchange {
        io,
        req,
        body,
        override_status: None,
        close_after: false,
        conn_age,
    };

    let reply = select_server_and_run(&mut ex, hosts).await;
    let reusable = finish(&mut ex, reply).await;

    // Whatever the handler did not read of the body must go before the next request.
    let mut keep = reusable && ex.keepalive_allowed();
    if keep && !ex.body.is_done() {
        let limit = ex.req.loc.conf.client_max_body_size.max(1 << 20);
        let t = ex.req.loc.conf.client_body_timeout;
        keep = ex.body.discard(ex.io, limit, t).await.is_ok();
    }
    ex.req.bytes_sent = ex.io.written - written_before;
    ex.req.request_length += ex.body.wire_bytes;
    write_access_log(&ex.req);
    if keep {
        Next::KeepAlive(ex.req.loc.conf.keepalive_timeout)
    } else {
        Next::Close {
            linger: !ex.body.is_done(),
        }
    }
}

/// Phases 1–7.
async fn select_server_and_run(ex: &mut Exchange<'_>, hosts: &VirtualHosts) -> Reply {
    // 1. Server by name. An invalid Host is a 400 in the default server.
    let raw_host = ex
        .req
        .head
        .absolute_host()
        .or_else(|| ex.req.head.host())
        .map(<[u8]>::to_vec);
    let host = match raw_host {
        Some(h) => match normalize_host(&h) {
            Ok(h) => Some(h.into_owned()),
            Err(_) => return special(400),
        },
        None => None,
    };
    let (si, _caps) = hosts.names.find(host.as_deref());
    if let Some(s) = hosts.servers.get(si) {
        ex.req.server = s.clone();
        ex.req.loc = s.server_loc.clone();
    }
    ex.req.host = host;

    // 2. $uri.
    match uri::normalize(ex.req.head.target(), hosts.conn.merge_slashes) {
        Ok((u, args)) => {
            ex.req.uri = u;
            ex.req.args = args.map(<[u8]>::to_vec);
        }
        Err(_) => return special(400),
    }

    // 3. Server-level return.
    if let Some(r) = ex.req.server.return_.clone() {
        let reply = do_return(ex, &r);
        return apply_error_page(ex, reply).await;
    }
    run_location(ex).await
}

fn special(status: u16) -> Reply {
    Reply::Special {
        status,
        location: None,
    }
}

/// Phases 4–7, re-entered by internal redirects.
async fn run_location(ex: &mut Exchange<'_>) -> Reply {
    loop {
        // 4. Location.
        let server = ex.req.server.clone();
        match server.locations.find(&ex.req.uri) {
            Found::Location { data, captures } => {
                ex.req.loc = data.clone();
                ex.req.capture_subject = if captures.is_empty() {
                    Vec::new()
                } else {
                    ex.req.uri.clone()
                };
                ex.req.captures = captures;
            }
            Found::AutoRedirect { data } => {
                ex.req.loc = data.clone();
                let mut l = Vec::with_capacity(ex.req.uri.len() + 1);
                uri::escape_uri(&ex.req.uri, &mut l);
                l.push(b'/');
                if let Some(a) = &ex.req.args {
                    l.push(b'?');
                    l.extend_from_slice(a);
                }
                return Reply::Special {
                    status: 301,
                    location: Some(l),
                };
            }
            Found::None => ex.req.loc = server.server_loc.clone(),
        }
        let mut reply = run_handler(ex).await;
        if let Reply::Named(name) = &reply {
            match server.locations.named(name) {
                Some(named) => {
                    ex.req.loc = named.clone();
                    reply = Box::pin(run_handler(ex)).await;
                }
                None => reply = special(500),
            }
        }
        if let Reply::Internal(target) = reply {
            if ex.req.redirects >= MAX_URI_CHANGES {
                return special(500);
            }
            ex.req.redirects += 1;
            let (path, args) = match target.iter().position(|&b| b == b'?') {
                Some(i) => (target[..i].to_vec(), Some(target[i + 1..].to_vec())),
                None => (target, None),
            };
            ex.req.uri = path;
            if args.is_some() {
                ex.req.args = args;
            }
            ex.req.uri_changed = true;
            continue;
        }
        match error_page_action(ex, &reply) {
            Some(Redirect::Uri(target)) => {
                // Internal redirect: re-run location matching with the new URI.
                let (path, args) = match target.iter().position(|&b| b == b'?') {
                    Some(i) => (target[..i].to_vec(), Some(target[i + 1..].to_vec())),
                    None => (target, None),
                };
                ex.req.uri = path;
                if args.is_some() {
                    ex.req.args = args;
                }
                ex.req.uri_changed = true;
                ex.req.method_get_override = true;
                continue;
            }
            Some(Redirect::Named(name)) => {
                let Some(named) = server.locations.named(&name) else {
                    crate::log::error_log::log(
                        crate::log::Level::Error,
                        Some(ex.req.conn.number),
                        format_args!("could not find named location \"@{name}\""),
                    );
                    return special(500);
                };
                ex.req.loc = named.clone();
                let reply = run_handler(ex).await;
                return reply;
            }
            Some(Redirect::External(status, location)) => {
                return Reply::Special {
                    status,
                    location: Some(location),
                };
            }
            None => return reply,
        }
    }
}

/// Phases 5–6 in the current location.
async fn run_handler(ex: &mut Exchange<'_>) -> Reply {
    let loc = ex.req.loc.clone();
    if loc.internal && !ex.req.uri_changed {
        return special(404);
    }
    let max = loc.conf.client_max_body_size;
    if max > 0 && ex.req.head.content_length().is_some_and(|n| n > max) {
        crate::log::error_log::log(
            crate::log::Level::Error,
            Some(ex.req.conn.number),
            format_args!(
                "client intended to send too large body: {} bytes, client: {}, server: {}, request: \"{}\"",
                ex.req.head.content_length().unwrap_or(0),
                ex.req.conn.peer.ip(),
                String::from_utf8_lossy(&ex.req.server.name),
                String::from_utf8_lossy(ex.req.head.request_line())
            ),
        );
        ex.close_after = true;
        return special(413);
    }
    ex.body.set_limits(max, loc.conf.client_body_timeout);
    match &loc.handler {
        Handler::Return(r) => do_return(ex, r),
        Handler::Proxy(t) => crate::proxy::forward(ex, t).await,
        Handler::Static => {
            let conf = loc.conf.stat.clone();
            match crate::static_files::handle(ex, &conf).await {
                crate::static_files::Outcome::Reply(r) => r,
                crate::static_files::Outcome::Redirect(uri) => Reply::Internal(uri),
                crate::static_files::Outcome::Named(n) => Reply::Named(n),
            }
        }
    }
}

enum Redirect {
    Uri(Vec<u8>),
    Named(String),
    External(u16, Vec<u8>),
}

/// Phase 7: does an `error_page` apply to this reply?
fn error_page_action(ex: &mut Exchange<'_>, reply: &Reply) -> Option<Redirect> {
    let Reply::Special { status, .. } = reply else {
        return None;
    };
    if ex.req.error_page_used || ex.req.redirects >= MAX_URI_CHANGES {
        return None;
    }
    let ep = ex.req.loc.conf.error_page(*status)?.clone();
    ex.req.error_page_used = true;
    ex.req.redirects += 1;
    match &ep.target {
        ErrorTarget::Uri(t) => {
            ex.override_status = match ep.status {
                None => Some(*status),
                Some(0) => None,
                Some(c) => Some(c),
            };
            Some(Redirect::Uri(t.eval_to_vec(&ex.req)))
        }
        ErrorTarget::Named(n) => {
            ex.override_status = match ep.status {
                None => Some(*status),
                Some(0) => None,
                Some(c) => Some(c),
            };
            Some(Redirect::Named(n.clone()))
        }
        ErrorTarget::Redirect(t) => {
            let code = ep
                .status
                .filter(|c| matches!(c, 301 | 303 | 307 | 308))
                .unwrap_or(302);
            Some(Redirect::External(code, t.eval_to_vec(&ex.req)))
        }
    }
}

async fn apply_error_page(ex: &mut Exchange<'_>, reply: Reply) -> Reply {
    match error_page_action(ex, &reply) {
        Some(Redirect::Uri(target)) => {
            ex.req.uri = target;
            ex.req.uri_changed = true;
            ex.req.method_get_override = true;
            Box::pin(run_location(ex)).await
        }
        Some(Redirect::External(status, location)) => Reply::Special {
            status,
            location: Some(location),
        },
        Some(Redirect::Named(name)) => match ex.req.server.locations.named(&name) {
            Some(l) => {
                ex.req.loc = l.clone();
                Box::pin(run_handler(ex)).await
            }
            None => special(500),
        },
        None => reply,
    }
}

/// `return CODE [TEXT|URL]` (nginx/nginx: src/http/modules/ngx_http_rewrite_module.c).
fn do_return(ex: &mut Exchange<'_>, r: &ReturnRt) -> Reply {
    if r.code == 444 {
        return Reply::Close;
    }
    let text = r.text.as_ref().map(|t| t.eval_to_vec(&ex.req));
    match (r.code, text) {
        (301 | 302 | 303 | 307 | 308, Some(l)) => Reply::Special {
            status: r.code,
            location: Some(l),
        },
        (code, Some(body)) => {
            let mut head = ResponseHead::new(code);
            head.content_type = Some(ex.req.loc.conf.default_type.clone());
            Reply::Full { head, body }
        }
        (code, None) if code >= 300 => special(code),
        (code, None) => Reply::Full {
            head: ResponseHead::new(code),
            body: Vec::new(),
        },
    }
}

/// nginx makes relative redirects absolute (§5.12): `http://` + the host
/// (without its port) + `:port` of the listening socket unless 80.
/// With no host in the request (HTTP/1.0 without Host) nginx writes the
/// socket's local address, not the server name (nginx/nginx:
/// src/http/ngx_http_header_filter_module.c, `ngx_connection_local_sockaddr`
/// with port 0, so an IPv6 address has no brackets there).
pub fn absolute_location(req: &Request, path: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(path.len() + 32);
    out.extend_from_slice(b"http://");
    match &req.host {
        Some(h) => {
            // $host has no port already; IPv6 literals keep their brackets.
            out.extend_from_slice(h);
        }
        None => out.extend_from_slice(req.conn.local.ip().to_string().as_bytes()),
    }
    let port = req.conn.local.port();
    if port != 80 {
        out.push(b':');
        out.extend_from_slice(port.to_string().as_bytes());
    }
    out.extend_from_slice(&path);
    out
}

/// `add_header` (nginx/nginx: src/http/modules/ngx_http_headers_filter_module.c):
/// without `always` only for 200, 201, 204, 206, 301, 302, 303, 304, 307, 308.
pub fn add_headers(req: &Request, status: u16, head: &mut ResponseHead) {
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

/// `expires` (the headers filter runs it just before `add_header`), on
/// proxied responses and nginx's own replies; the static handler calls
/// it itself with the file's mtime.
pub fn apply_expires(req: &Request, head: &mut ResponseHead) {
    let e = req.loc.conf.stat.expires;
    if e == crate::filters::expires::Expires::Off {
        return;
    }
    let lm = head
        .last_modified
        .as_deref()
        .or_else(|| {
            head.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(b"last-modified"))
                .map(|(_, v)| &v[..])
        })
        .and_then(crate::static_files::cond::parse_http_time);
    e.apply(head, crate::log::clock::now().unix_secs(), 0, lm);
}

/// Phase 8 for replies not already written. Returns whether the connection may be reused.
async fn finish(ex: &mut Exchange<'_>, reply: Reply) -> bool {
    let (mut head, body) = match reply {
        Reply::Sent { reusable } => return reusable,
        // Resolved by run_location; reaching here is a named location or error_page chain.
        Reply::Internal(_) | Reply::Named(_) => {
            ex.req.status = 500;
            let mut head = ResponseHead::new(500);
            head.content_type = Some(bytes::Bytes::from_static(b"text/html"));
            let body = special::error_page_body(500, ex.req.loc.conf.server_tokens, false);
            (head, body.unwrap_or_default())
        }
        Reply::Close => {
            if ex.req.status == 0 {
                ex.req.status = 444;
            }
            return false;
        }
        Reply::Full { head, body } => (head, body),
        Reply::Special { status, location } => {
            let status = ex.override_status.unwrap_or(status);
            if special::forces_close(status) {
                ex.close_after = true;
            }
            let conf = &ex.req.loc.conf;
            let padding = conf.msie_padding && special::wants_padding(ex.req.head.header(b"user-agent"));
            let mut head = ResponseHead::new(status);
            let body = special::error_page_body(status, conf.server_tokens, padding);
            if body.is_some() {
                // The charset filter skips 301/302 (ngx_http_charset_filter_module.c:
                // "do not set charset for the redirect").
                let st = &ex.req.loc.conf.stat;
                let cs = st.charset.as_ref().filter(|_| !matches!(status, 301 | 302));
                head.content_type = Some(
                    crate::static_files::mime::with_charset(b"text/html", cs, &st.charset_types)
                        .unwrap_or(bytes::Bytes::from_static(b"text/html")),
                );
            }
            // nginx's header filter writes Location in its fixed slot (before
            // Connection) only when it makes a relative one absolute there; an
            // absolute URL from `return` or `error_page` stays in the header list,
            // after Connection (ngx_http_header_filter_module.c: `location->hash = 0`).
            match location {
                Some(l) if l.starts_with(b"/") => {
                    head.location = Some(bytes::Bytes::from(absolute_location(&ex.req, l)))
                }
                Some(l) => head
                    .headers
                    .push((bytes::Bytes::from_static(b"Location"), bytes::Bytes::from(l))),
                None => {}
            }
            (head, body.unwrap_or_default())
        }
    };
    if let Some(s) = ex.override_status {
        head.status = s;
    }
    let status = head.status;
    apply_expires(&ex.req, &mut head);
    add_headers(&ex.req, status, &mut head);
    ex.req.status = status;
    let (body, framing) = gzip_full(ex, &mut head, body);
    let conn = ex.conn_header();
    let mut out = Vec::with_capacity(256 + body.len());
    head.write(framing, conn, ex.req.loc.conf.server_tokens, &mut out);
    ex.req.header_bytes = out.len() as u64;
    record_sent_headers(&mut ex.req, &head);
    let no_body = ex.req.is_head() || matches!(status, 100..=199 | 204 | 304);
    if !no_body {
        out.extend_from_slice(&body);
    }
    let t = ex.req.loc.conf.send_timeout;
    if ex.io.write_all(&out, t).await.is_err() {
        return false;
    }
    conn == ConnHeader::KeepAlive
}

/// Keeps the response headers for `$sent_http_*` (only when a log format might ask).
pub fn record_sent_headers(req: &mut Request, head: &ResponseHead) {
    if req.loc.conf.access_log.is_empty() {
        return;
    }
    if let Some(ct) = &head.content_type {
        req.sent_headers
            .push((bytes::Bytes::from_static(b"content-type"), ct.clone()));
    }
    if let Some(l) = &head.location {
        req.sent_headers
            .push((bytes::Bytes::from_static(b"location"), l.clone()));
    }
    for (n, v) in &head.headers {
        req.sent_headers.push((n.clone(), v.clone()));
    }
}

/// Phase 9: one line per access_log of the final location.
pub fn write_access_log(req: &Request) {
    for log in &req.loc.conf.access_log {
        crate::log::append_with(log.id, |buf| log.format.render(req, buf));
    }
}

/// The request head could not be read or parsed: answer as nginx does (or
/// not at all), log it, and close.
pub async fn reject(
    io: &mut ClientIo,
    hosts: &VirtualHosts,
    status: u16,
    send: bool,
    conn: ConnInfo,
    request_line: &[u8],
    started: Instant,
) {
    let server = hosts.default_server().clone();
    let conf = &server.server_loc.conf;
    let written_before = io.written;
    let mut header_bytes = 0;
    if send {
        let mut head = ResponseHead::new(status);
        let body = special::error_page_body(status, conf.server_tokens, false).unwrap_or_default();
        head.content_type = Some(bytes::Bytes::from_static(b"text/html"));
        let mut out = Vec::new();
        head.write(
            Framing::Length(body.len() as u64),
            ConnHeader::Close,
            conf.server_tokens,
            &mut out,
        );
        header_bytes = out.len() as u64;
        out.extend_from_slice(&body);
        let _ = io.write_all(&out, conf.send_timeout).await;
    }
    let bytes_sent = io.written - written_before;
    let log = super::reject_log::RejectedRequest {
        conn,
        status,
        bytes_sent,
        header_bytes,
        started,
        server: &server,
        request_line,
    };
    for l in &conf.access_log {
        crate::log::append_with(l.id, |buf| l.format.render(&log, buf));
    }
}

/// The gzip filter for a response held in memory (nginx's own pages,
/// `return` text): compressed whole, then chunked on HTTP/1.1 or
/// close-delimited on 1.0, as nginx sends a body whose length gzip removed.
fn gzip_full(ex: &mut Exchange<'_>, head: &mut ResponseHead, body: Vec<u8>) -> (Vec<u8>, Framing) {
    let gz = ex.req.loc.conf.gzip.clone();
    let ct = head.content_type.clone().unwrap_or_default();
    let encoded = head
        .headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case(b"content-encoding") && !v.is_empty());
    if !gz.eligible(head.status, &ct, Some(body.len() as u64), encoded) {
        let n = body.len() as u64;
        return (body, Framing::Length(n));
    }
    if gz.vary {
        head.headers.insert(
            0,
            (
                bytes::Bytes::from_static(b"Vary"),
                bytes::Bytes::from_static(b"Accept-Encoding"),
            ),
        );
    }
    let rh = &ex.req.head;
    let http11 = rh.version() == Version::Http11;
    let client = crate::filters::gzip::ClientSide {
        accept_encoding: rh.header(b"accept-encoding"),
        user_agent: rh.header(b"user-agent"),
        http11,
        via: rh.header(b"via").is_some(),
        authorization: rh.header(b"authorization").is_some(),
    };
    let resp = crate::filters::gzip::RespSide {
        expires: None,
        cache_control: Vec::new(),
        last_modified: head.last_modified.is_some(),
        etag: false,
        now: crate::log::clock::now().unix_secs(),
    };
    if !gz.client_ok(&client, &resp) {
        let n = body.len() as u64;
        return (body, Framing::Length(n));
    }
    head.headers.push((
        bytes::Bytes::from_static(b"Content-Encoding"),
        bytes::Bytes::from_static(b"gzip"),
    ));
    let mut enc = crate::filters::gzip::Gzip::new(gz.level);
    let mut z = enc.feed(&body);
    z.extend(enc.finish());
    if ex.req.is_head() {
        return (Vec::new(), Framing::NoBody);
    }
    if !http11 {
        ex.close_after = true;
        return (z, Framing::Close);
    }
    let mut out = format!("{:x}\r\n", z.len()).into_bytes();
    out.extend_from_slice(&z);
    out.extend_from_slice(b"\r\n0\r\n\r\n");
    (out, Framing::Chunked)
}
