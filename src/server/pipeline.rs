//! The phases one request goes through, in nginx's order. Reading this file
//! top to bottom tells everything a request meets:
//!
//! 1. server selection (`Host`, or the host of an absolute request line)
//! 2. URI normalisation (`$uri`; 400 on escaping the root or `%00`)
//! 3. server-level `return`
//! 4. location matching (with nginx's automatic trailing-slash 301)
//! 5. access checks: `internal`, `client_max_body_size` (413 from Content-Length),
//!    then nginx's access phase: `allow`/`deny` (403), then `auth_basic` (401/403/500);
//!    a location's `return` runs before it (nginx's rewrite phase) and is never guarded
//! 6. the content handler: `proxy_pass`, `return`, `stub_status`, `metrics`, or nothing (404)
//! 7. `error_page` (an internal redirect back to 4, a named location, or a redirect)
//! 8. the response filters (`add_header`) and the write
//! 9. the access log and the metrics counters, then the keep-alive decision

use super::handlers;
use crate::exchange::body::ReqBody;
use crate::exchange::io::ClientIo;
use crate::exchange::loc_conf::ErrorTarget;
use crate::exchange::request::{Request, UpstreamLog};
use crate::exchange::respond::{self, absolute_location};
use crate::exchange::{special, Exchange, Reply};
use crate::filters::special as pages;
use crate::http::conn::ConnInfo;
use crate::http::response::{ConnHeader, Framing, ResponseHead};
use crate::http1::{RequestHead, Version};
use crate::proxy::conf::ProxyLoc;
use crate::rewrite::End;
use crate::rewrite::ReturnRt;
use crate::routing::host::normalize_host;
use crate::routing::location::{Captures, Found};
use crate::routing::uri;
use crate::runtime::{Handler, LocationRt, ServerRt, VirtualHosts};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// nginx stops internal redirects after 10 URI changes (NGX_HTTP_MAX_URI_CHANGES).
const MAX_URI_CHANGES: u8 = 10;

/// Where a request runs now: its virtual server and location as the
/// snapshot holds them, with the features' settings. The request carries
/// their core parts (`Request::server`, `Request::loc`); the two move
/// together, through `set_server` and `set_loc` only.
struct Route {
    server: Arc<ServerRt>,
    loc: Arc<LocationRt>,
}

impl Route {
    fn set_loc(&mut self, ex: &mut Exchange<'_>, loc: &Arc<LocationRt>) {
        ex.req.loc = loc.core.clone();
        self.loc = loc.clone();
    }

    fn set_server(&mut self, ex: &mut Exchange<'_>, server: &Arc<ServerRt>) {
        ex.req.server = server.core.clone();
        self.server = server.clone();
        self.set_loc(ex, &server.server_loc);
    }
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

/// Handles one request whose head has been read; writes the response and the
/// log line. Returns whether the connection stays open.
pub async fn handle(
    io: &mut ClientIo,
    head: RequestHead,
    hosts: &VirtualHosts,
    conn: ConnInfo,
    started: Instant,
    conn_age: Duration,
    normalized: Option<uri::Normalized>,
) -> Next {
    let head_len = head.head_len() as u64;
    let server = hosts.default_server().clone();
    let mut route = Route {
        loc: server.server_loc.clone(),
        server,
    };
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
        server: route.server.core.clone(),
        loc: route.loc.core.clone(),
        captures: Captures::default(),
        capture_subject: Vec::new(),
        status: 0,
        header_bytes: 0,
        bytes_sent: 0,
        request_length: head_len,
        upstream: UpstreamLog::default(),
        proxy_host: None,
        sent_headers: Vec::new(),
        sent_framing: None,
        redirects: 0,
        error_page_used: false,
        vars: Vec::new(),
        uri_rewritten_break: false,
        pipelined: std::mem::take(&mut io.pipelined),
        request_body: None,
        gzip: None,
        bad_uri: false,
    };
    let body = ReqBody::new(
        &req.head,
        0,
        req.loc.conf.client_body_timeout,
        req.conn.http2.is_some(),
    );
    let written_before = io.written;
    let mut ex = Exchange {
        io,
        req,
        body,
        override_status: None,
        close_after: false,
        conn_age,
        www_authenticate: None,
    };

    let reply = select_server_and_run(&mut ex, &mut route, hosts, normalized).await;
    let reusable = finish(&mut ex, &route, reply).await;

    // Whatever the handler did not read of the body must go before the next request.
    let mut keep = reusable && ex.keepalive_allowed();
    if keep && !ex.body.is_done() {
        let limit = ex.req.loc.conf.client_max_body_size.max(1 << 20);
        let t = ex.req.loc.conf.client_body_timeout;
        keep = ex.body.discard(ex.io, limit, t).await.is_ok();
    }
    ex.io.limit = None;
    // nginx's `r->pipeline` for the next request: it is already buffered.
    ex.io.pipelined = keep && !ex.io.pending().is_empty();
    ex.req.bytes_sent = ex.io.written - written_before;
    ex.req.request_length += ex.body.wire_bytes;
    write_access_log(&ex.req);
    crate::status::metrics::record_request(
        &ex.req.server.stats,
        ex.req.status,
        ex.req.bytes_sent,
        ex.req.started.elapsed(),
    );
    if keep {
        Next::KeepAlive(ex.req.loc.conf.keepalive_timeout)
    } else {
        Next::Close {
            linger: !ex.body.is_done(),
        }
    }
}

/// Phases 1–7.
/// `normalized`: `$uri` and `$args` when the connection already computed
/// them (the HTTP/1 head reader checks the URI as nginx does, at the request
/// line), so that a request is normalised once.
async fn select_server_and_run(
    ex: &mut Exchange<'_>,
    rt: &mut Route,
    hosts: &VirtualHosts,
    normalized: Option<uri::Normalized>,
) -> Reply {
    // 1. Server by name. An invalid Host is a 400 in the default server.
    let raw_host = ex.req.head.absolute_host().or_else(|| ex.req.head.host());
    let host = match raw_host.map(normalize_host) {
        Some(Ok(h)) => Some(h.into_owned()),
        Some(Err(_)) => return special(400),
        None => None,
    };
    let (si, caps) = hosts.names.find(host.as_deref());
    if let Some(s) = hosts.servers.get(si) {
        rt.set_server(ex, s);
    }
    // A server_name regex's captures: `$1`.. until another regex matches,
    // named ones as variables (ngx_http_find_virtual_server).
    if !caps.is_empty() {
        ex.req.set_captures(caps, host.clone().unwrap_or_default());
    }
    ex.req.host = host;
    // Post-read phase: real_ip with the server's settings.
    crate::access::real_ip::apply(ex.req.loc.conf.real_ip.as_deref(), &mut ex.req.conn, &ex.req.head);

    // 2. $uri.
    let normalized = match normalized {
        Some(n) => Ok(n),
        None => uri::normalize_owned(ex.req.head.target(), hosts.conn.merge_slashes),
    };
    match normalized {
        Ok((u, args)) => {
            ex.req.uri = u;
            ex.req.args = args;
        }
        Err(_) => {
            ex.req.bad_uri = true;
            return special(400);
        }
    }

    // 3. The server rewrite phase: the server's rewrite script, then its
    // `return`. `last`, `break` and a changed URI all go on to the location
    // search (ngx_http_core_find_config_phase resets `uri_changed`).
    let server = rt.server.clone();
    match crate::rewrite::run(&server.rewrite, &mut ex.req) {
        End::Return(r) => {
            let reply = do_return(ex, rt, r);
            return apply_error_page(ex, rt, reply).await;
        }
        End::Redirect(status, location) => {
            let reply = Reply::Special {
                status,
                location: Some(location),
            };
            return apply_error_page(ex, rt, reply).await;
        }
        End::Done(_) | End::Last | End::Break => {}
    }
    if let Some(r) = &server.return_ {
        let reply = do_return(ex, rt, r);
        return apply_error_page(ex, rt, reply).await;
    }
    run_location(ex, rt).await
}

/// Phases 4–7, re-entered by internal redirects.
async fn run_location(ex: &mut Exchange<'_>, rt: &mut Route) -> Reply {
    loop {
        // 4. Location.
        let server = rt.server.clone();
        match server.locations.find(&ex.req.uri) {
            Found::Location { data, captures } => {
                rt.set_loc(ex, data);
                if !captures.is_empty() {
                    let subject = ex.req.uri.clone();
                    ex.req.set_captures(captures, subject);
                }
            }
            Found::AutoRedirect { data } => {
                rt.set_loc(ex, data);
                return Reply::Special {
                    status: 301,
                    location: Some(ex.req.slash_location()),
                };
            }
            Found::None => rt.set_loc(ex, &server.server_loc),
        }
        let mut reply = run_handler(ex, rt).await;
        if let Reply::Named(name) = &reply {
            match server.locations.named(name) {
                Some(named) => {
                    rt.set_loc(ex, named);
                    reply = Box::pin(run_handler(ex, rt)).await;
                }
                None => reply = special(500),
            }
        }
        if let Reply::Internal(target) = reply {
            if ex.req.redirects >= MAX_URI_CHANGES {
                return special(500);
            }
            ex.req.redirects += 1;
            // try_files' fallback carries its `?` (its arguments replace the
            // request's); index's names have none (the arguments stay).
            let (path, args) = split_args(target);
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
                error_page_uri(ex, target);
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
                rt.set_loc(ex, named);
                return run_handler(ex, rt).await;
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
async fn run_handler(ex: &mut Exchange<'_>, rt: &mut Route) -> Reply {
    let loc = rt.loc.clone();
    let core = &loc.core;
    if core.internal && !ex.req.uri_changed {
        return special(404);
    }
    let max = core.conf.client_max_body_size;
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
    ex.body.set_limits(max, core.conf.client_body_timeout);
    // The location rewrite phase, then post-rewrite: a changed URI searches
    // the locations again, at most 10 times (NGX_HTTP_MAX_URI_CHANGES).
    ex.req.uri_rewritten_break = false;
    match crate::rewrite::run(&loc.rewrite, &mut ex.req) {
        End::Done(false) | End::Break => {}
        End::Done(true) | End::Last => {
            ex.req.redirects += 1;
            if ex.req.redirects > MAX_URI_CHANGES {
                crate::log::error_log::log(
                    crate::log::Level::Error,
                    Some(ex.req.conn.number),
                    format_args!(
                        "rewrite or internal redirection cycle while processing \"{}\", client: {}, server: {}, request: \"{}\"",
                        String::from_utf8_lossy(&ex.req.uri),
                        ex.req.conn.peer.ip(),
                        String::from_utf8_lossy(&ex.req.server.name),
                        String::from_utf8_lossy(ex.req.head.request_line())
                    ),
                );
                return special(500);
            }
            return Box::pin(run_location(ex, rt)).await;
        }
        End::Return(r) => return do_return(ex, rt, r),
        End::Redirect(status, location) => {
            return Reply::Special {
                status,
                location: Some(location),
            }
        }
    }
    if !matches!(loc.handler, Handler::Return(_)) {
        // Pre-access phase, after rewrite's `return`: real_ip with the location's
        // settings, so that allow/deny below judge the real address (as in nginx).
        crate::access::real_ip::apply(core.conf.real_ip.as_deref(), &mut ex.req.conn, &ex.req.head);
        // `return` runs in nginx's rewrite phase, before the access phase, so
        // allow/deny and auth_basic never guard it (checked against nginx 1.22.1).
        if !core.conf.access.is_open() {
            if let Err(status) = handlers::access_phase(ex, &core.conf.access) {
                return special(status);
            }
        }
    }
    set_rate_limit(ex);
    match &loc.handler {
        Handler::Return(r) => do_return(ex, rt, r),
        Handler::Proxy(t) => {
            let first = ex.req.upstream.attempts.len();
            let pl = ProxyLoc {
                conf: &loc.proxy,
                target: t,
            };
            let reply = crate::proxy::forward(ex, pl).await;
            handlers::count_attempts(ex, t, first);
            reply
        }
        Handler::StubStatus => handlers::status_page(ex, false),
        Handler::Metrics => handlers::status_page(ex, true),
        Handler::HealthProbe => handlers::health_probe(),
        Handler::CheckStatus(f) => handlers::check_status(ex, *f),
        Handler::Static => match crate::static_files::handle(ex, &loc.stat).await {
            crate::static_files::Outcome::Reply(r) => r,
            crate::static_files::Outcome::Redirect(uri) => Reply::Internal(uri),
            crate::static_files::Outcome::Named(n) => Reply::Named(n),
        },
    }
}

/// `limit_rate` of the location in force applies to the response about to
/// be written (ngx_http_write_filter_module.c reads `r->limit_rate` then).
fn set_rate_limit(ex: &mut Exchange<'_>) {
    let c = &ex.req.loc.conf;
    ex.io.limit = (c.limit_rate > 0).then_some(crate::exchange::io::RateLimit {
        rate: c.limit_rate,
        after: c.limit_rate_after,
        start: ex.req.started,
        base: ex.io.written,
    });
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

/// A redirect target's path and the arguments after its first `?`
/// (ngx_http_split_args).
fn split_args(mut target: Vec<u8>) -> (Vec<u8>, Option<Vec<u8>>) {
    match target.iter().position(|&b| b == b'?') {
        Some(i) => {
            let args = target.split_off(i + 1);
            target.truncate(i);
            (target, Some(args))
        }
        None => (target, None),
    }
}

/// An error_page URI becomes the request's URI and its arguments replace
/// the request's: none when it has no `?` (ngx_http_send_error_page passes
/// the page's own, empty, arguments to the internal redirect).
fn error_page_uri(ex: &mut Exchange<'_>, target: Vec<u8>) {
    let (path, args) = split_args(target);
    ex.req.uri = path;
    ex.req.args = args;
    ex.req.uri_changed = true;
}

async fn apply_error_page(ex: &mut Exchange<'_>, rt: &mut Route, reply: Reply) -> Reply {
    match error_page_action(ex, &reply) {
        Some(Redirect::Uri(target)) => {
            error_page_uri(ex, target);
            ex.req.method_get_override = true;
            Box::pin(run_location(ex, rt)).await
        }
        Some(Redirect::External(status, location)) => Reply::Special {
            status,
            location: Some(location),
        },
        Some(Redirect::Named(name)) => match rt.server.clone().locations.named(&name) {
            Some(l) => {
                rt.set_loc(ex, l);
                Box::pin(run_handler(ex, rt)).await
            }
            None => special(500),
        },
        None => reply,
    }
}

/// `return CODE [TEXT|URL]` (nginx/nginx: src/http/modules/ngx_http_rewrite_module.c).
fn do_return(ex: &mut Exchange<'_>, rt: &Route, r: &ReturnRt) -> Reply {
    if r.code == 444 {
        return Reply::Close;
    }
    // nginx sets the status before it evaluates the text (ngx_http_send_response),
    // so `$status` in it is the returned code.
    if r.code < 1000 && r.text.is_some() {
        ex.req.status = r.code;
    }
    let text = r.text.as_ref().map(|t| t.eval_to_vec(&ex.req));
    match (r.code, text) {
        (301 | 302 | 303 | 307 | 308, Some(l)) => Reply::Special {
            status: r.code,
            location: Some(l),
        },
        (code, Some(body)) => {
            let mut head = ResponseHead::new(code);
            head.content_type = Some(crate::static_files::content_type(
                &ex.req,
                &rt.loc.stat,
                &ex.req.uri,
            ));
            Reply::Full { head, body }
        }
        (code, None) if code >= 300 => special(code),
        (code, None) => Reply::Full {
            head: ResponseHead::new(code),
            body: Vec::new(),
        },
    }
}

/// Phase 8 for replies not already written. Returns whether the connection may be reused.
async fn finish(ex: &mut Exchange<'_>, rt: &Route, reply: Reply) -> bool {
    let (mut head, body) = match reply {
        Reply::Sent { reusable } => return reusable,
        // Resolved by run_location; reaching here is a named location or error_page chain.
        Reply::Internal(_) | Reply::Named(_) => {
            ex.req.status = 500;
            let mut head = ResponseHead::new(500);
            head.content_type = Some(bytes::Bytes::from_static(b"text/html"));
            let body = pages::error_page_body(500, ex.req.loc.conf.server_tokens, false);
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
            if pages::forces_close(status) {
                ex.close_after = true;
            }
            let conf = &ex.req.loc.conf;
            let padding = conf.msie_padding && pages::wants_padding(ex.req.head.header(b"user-agent"));
            let mut head = ResponseHead::new(status);
            let body = pages::error_page_body(status, conf.server_tokens, padding);
            if body.is_some() {
                // The charset filter skips 301/302 (ngx_http_charset_filter_module.c:
                // "do not set charset for the redirect").
                let st = &rt.loc.stat;
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
                Some(l) if l.starts_with(b"/") && conf.absolute_redirect => {
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
    if ex.io.limit.is_none() {
        set_rate_limit(ex);
    }
    if let Some(w) = &ex.www_authenticate {
        head.headers
            .push((bytes::Bytes::from_static(b"WWW-Authenticate"), w.clone()));
    }
    let status = head.status;
    respond::header_filters(&ex.req, &mut head, None);
    let (body, framing) = gzip_full(ex, &mut head, body);
    let mut out = Vec::with_capacity(256 + body.len());
    let Some(conn) = respond::begin(ex, &head, framing, &mut out) else {
        return false;
    };
    let no_body = ex.req.is_head() || matches!(status, 100..=199 | 204 | 304);
    if !no_body {
        ex.io.frame_body(framing, &body, &mut out);
        ex.io.end_body(framing, &mut out);
    }
    let t = ex.req.loc.conf.send_timeout;
    if ex.io.write_all(&out, t).await.is_err() {
        return false;
    }
    conn == ConnHeader::KeepAlive
}

/// Phase 9: one line per access_log of the final location.
pub fn write_access_log(req: &Request) {
    for log in &req.loc.conf.access_log {
        // `if=`: skipped when the condition is empty or "0" (ngx_http_log_handler).
        if let Some(c) = &log.cond {
            let v = c.eval_to_vec(req);
            if v.is_empty() || v == b"0" {
                continue;
            }
        }
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
    let conf = &server.server_loc.core.conf;
    let written_before = io.written;
    let mut header_bytes = 0;
    let mut sent = None;
    if send {
        let mut head = ResponseHead::new(status);
        let body = pages::error_page_body(status, conf.server_tokens, false).unwrap_or_default();
        // The default server's `charset` applies, as to nginx's other pages (a
        // request rejected while its head is read has that server's config).
        let st = &server.server_loc.stat;
        head.content_type = Some(
            crate::static_files::mime::with_charset(b"text/html", st.charset.as_ref(), &st.charset_types)
                .unwrap_or(bytes::Bytes::from_static(b"text/html")),
        );
        let mut out = Vec::new();
        let framing = Framing::Length(body.len() as u64);
        if let Ok(n) = io.begin_response(&head, framing, ConnHeader::Close, conf.server_tokens, &mut out) {
            header_bytes = n;
            sent = head.content_type.clone().map(|t| (t, body.len() as u64));
            out.extend_from_slice(&body);
            let _ = io.write_all(&out, conf.send_timeout).await;
        }
    }
    let bytes_sent = io.written - written_before;
    crate::status::metrics::record_request(&server.core.stats, status, bytes_sent, started.elapsed());
    let log = super::reject_log::RejectedRequest {
        conn,
        status,
        bytes_sent,
        header_bytes,
        started,
        server: &server.core,
        request_line,
        sent,
    };
    for l in &conf.access_log {
        if let Some(c) = &l.cond {
            let v = c.eval_to_vec(&log);
            if v.is_empty() || v == b"0" {
                continue;
            }
        }
        crate::log::append_with(l.id, |buf| l.format.render(&log, buf));
    }
}

/// The gzip filter for a response held in memory (nginx's own pages,
/// `return` text): compressed whole, then (by the caller) chunked on
/// HTTP/1.1 or close-delimited on 1.0, as nginx sends a body whose length
/// gzip removed.
fn gzip_full(ex: &mut Exchange<'_>, head: &mut ResponseHead, body: Vec<u8>) -> (Vec<u8>, Framing) {
    let conf = &ex.req.loc.conf.gzip;
    let len = Some(body.len() as u64);
    let Some(level) = crate::filters::gzip::decide(conf, &ex.req.head, head, len) else {
        let n = body.len() as u64;
        return (body, Framing::Length(n));
    };
    let http11 = ex.req.head.version() == Version::Http11;
    let mut enc = crate::filters::gzip::Gzip::buffered(level, Some(body.len() as u64));
    let mut z = Vec::with_capacity(body.len() / 2 + 64);
    enc.feed_into(&body, &mut z);
    enc.finish_into(&mut z);
    if ex.req.is_head() {
        return (Vec::new(), Framing::NoBody);
    }
    ex.req.gzip = Some(enc.totals());
    if !http11 {
        ex.close_after = true;
        return (z, Framing::Close);
    }
    (z, Framing::Chunked)
}
