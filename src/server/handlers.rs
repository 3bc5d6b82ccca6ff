//! The small content handlers and the access phase that pipeline.rs
//! dispatches to: stub_status, the Prometheus page, health_probe, check_status,
//! allow/deny + auth_basic, and the per-peer counting after proxy_pass.

use crate::access::AccessConf;
use crate::exchange::{special, Exchange, Reply};
use crate::http::response::ResponseHead;

/// nginx's access phase (ngx_http_core_access_phase): allow/deny, then
/// auth_basic, combined as the location's `satisfy` says
/// (`AccessConf::check`). Returns the refusing status.
pub(super) fn access_phase(ex: &mut Exchange<'_>, access: &AccessConf) -> Result<(), u16> {
    let auth = ex.req.head.header(b"authorization");
    let Err(r) = access.check(ex.req.conn.peer.ip(), auth) else {
        return Ok(());
    };
    if crate::log::enabled(r.level) {
        crate::log::error_log::log(
            r.level,
            Some(ex.req.conn.number),
            format_args!(
                "{}, client: {}, server: {}, request: \"{}\"",
                r.message,
                ex.req.conn.peer.ip(),
                String::from_utf8_lossy(&ex.req.server.name),
                String::from_utf8_lossy(ex.req.head.request_line())
            ),
        );
    }
    if r.challenge.is_some() {
        ex.www_authenticate = r.challenge;
    }
    Err(r.status)
}

/// Upstream attempts made by one `proxy_pass`, counted per peer once they are
/// complete (they are what `$upstream_addr` and `$upstream_status` report).
pub(super) fn count_attempts(ex: &Exchange<'_>, t: &crate::proxy::conf::ProxyTarget, first: usize) {
    for a in ex.req.upstream.attempts.get(first..).unwrap_or(&[]) {
        let Some(addr) = a.addr else { continue };
        if let Some((_, p)) = t.peer_stats.iter().find(|(pa, _)| *pa == addr) {
            crate::status::metrics::record_attempt(p, a.header.is_none());
        }
    }
}

/// `stub_status` (nginx's page) or the Prometheus exposition: GET and HEAD only.
pub(super) fn status_page(ex: &mut Exchange<'_>, metrics: bool) -> Reply {
    use crate::status::{counters, metrics as m, stub_status};
    // error_page's internal redirect turns every method but HEAD into GET.
    let method = match ex.req.head.method() {
        m if ex.req.method_get_override && m != b"HEAD" => &b"GET"[..],
        m => m,
    };
    if !stub_status::method_allowed(method) {
        return special(405);
    }
    let mut head = ResponseHead::new(200);
    let body = if metrics {
        head.content_type = Some(bytes::Bytes::from_static(m::CONTENT_TYPE));
        m::render(super::state::snapshot().map_or(0, |s| s.generation))
    } else {
        head.content_type = Some(bytes::Bytes::from_static(stub_status::CONTENT_TYPE));
        let mut b = Vec::with_capacity(160);
        stub_status::render(&counters::snapshot(), &mut b);
        b
    };
    Reply::Full { head, body }
}

/// `health_probe`: the L4 tier's HTTP check (keepalived HTTP_GET, haproxy
/// `option httpchk`). Any method is answered, since haproxy's default check
/// is `OPTIONS / HTTP/1.0`: 200 while serving, 503 from the first moment of
/// a graceful stop, while every other location keeps serving for
/// `drain_grace_time`.
pub(super) fn health_probe() -> Reply {
    let (status, body) = if crate::exchange::lifecycle::probes_failing() {
        (503, &b"draining\n"[..])
    } else {
        (200, &b"ok\n"[..])
    };
    let mut head = ResponseHead::new(status);
    head.content_type = Some(bytes::Bytes::from_static(b"text/plain"));
    Reply::Full {
        head,
        body: body.to_vec(),
    }
}

/// `ngx_http_upstream_check_status_handler`: GET and HEAD only (405
/// otherwise), 500 when no upstream is checked, else the page in the
/// location's format or `?format=`, filtered by `?status=`.
pub(super) fn check_status(ex: &mut Exchange<'_>, default: crate::health::status::Format) -> Reply {
    use crate::health::status;
    if !matches!(ex.req.method(), b"GET" | b"HEAD") {
        return special(405);
    }
    let table = match crate::server::state::snapshot() {
        Some(s) if !s.health.peers.is_empty() => s.health.clone(),
        _ => {
            crate::log::error_log::log(
                crate::log::Level::Error,
                Some(ex.req.conn.number),
                format_args!(
                    "http upstream check module can not find any check server, make sure you've added the check servers"
                ),
            );
            return special(500);
        }
    };
    let (format, filter) = status::query(ex.req.args.as_deref().unwrap_or_default(), default);
    let mut head = ResponseHead::new(200);
    head.content_type = Some(bytes::Bytes::from_static(format.content_type().as_bytes()));
    Reply::Full {
        head,
        body: status::render(&table, format, filter).into_bytes(),
    }
}
