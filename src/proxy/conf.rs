//! The proxy module's compiled configuration: what `proxy_pass` and the
//! `proxy_*` directives of a location resolve to (runtime builds these
//! once per location; the handler only reads them).

use crate::upstream::Pool;
use crate::vars::Template;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// What the proxy module needs at request time.
#[derive(Debug, Clone)]
pub struct ProxyConf {
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub send_timeout: Duration,
    pub http11: bool,
    /// `proxy_set_header` entries in config order, then nginx's defaults not overridden.
    pub set_headers: Vec<(Box<[u8]>, Template)>,
    /// Lowercase names of every header in `set_headers` (those client headers are not passed).
    pub skip_client: Vec<Box<[u8]>>,
    /// Lowercase names of upstream response headers not passed to the client.
    pub hide: Vec<Box<[u8]>>,
    pub buffer_size: usize,
    pub intercept_errors: bool,
    /// `proxy_next_upstream` (default `error timeout`).
    pub next_upstream: super::next_upstream::Mask,
    /// `proxy_next_upstream_tries`; 0 = bounded only by the peer count.
    pub next_upstream_tries: usize,
    /// `proxy_next_upstream_timeout`; zero = none.
    pub next_upstream_timeout: Duration,
    /// HTTP/1.1 upstream with a `Connection` header that is not `close`: the
    /// only setup in which nginx 1.22 can reuse an upstream connection. A
    /// `Connection` value with variables counts as not reusable.
    pub keepalive_ok: bool,
    /// `proxy_redirect`.
    pub redirect: super::redirect::Redirects,
    /// `proxy_cookie_domain` / `proxy_cookie_path` rules (empty = none).
    pub cookie_domain: Vec<super::cookie::Rule>,
    pub cookie_path: Vec<super::cookie::Rule>,
    /// `proxy_socket_keepalive`: SO_KEEPALIVE on fresh upstream sockets.
    pub socket_keepalive: bool,
    /// `proxy_bind`: the local address to bind before connecting (`None` = off).
    pub bind: Option<Template>,
    /// `proxy_method`: the upstream method instead of the client's.
    pub method: Option<Template>,
    /// `proxy_pass_request_headers` (default on).
    pub pass_request_headers: bool,
    /// `proxy_ignore_client_abort` (default off).
    pub ignore_client_abort: bool,
    /// `proxy_pass_request_body` (default on).
    pub pass_request_body: bool,
    /// `proxy_set_body`: the upstream request body instead of the client's.
    pub set_body: Option<Template>,
    /// `proxy_buffering` (default on), which the upstream's
    /// `X-Accel-Buffering` overrides. rampart relays every read at once
    /// either way; off also sync-flushes the gzip stream after each read,
    /// as nginx's gzip filter does for the flush buffers it then gets.
    pub buffering: bool,
}

/// One `proxy_pass` as its handler sees it: the location's proxy_*
/// settings and its configured target (the phases hand it over; the
/// request itself carries only the core settings).
#[derive(Clone, Copy)]
pub struct ProxyLoc<'a> {
    pub conf: &'a std::sync::Arc<ProxyConf>,
    pub target: &'a ProxyTarget,
}

pub struct ProxyTarget {
    pub pool: Arc<Pool>,
    /// The URI part of the proxy_pass URL (`/x/` in `http://b/x/`).
    pub uri: Option<Box<[u8]>>,
    /// The URI part is the whole upstream URI (proxy_pass with variables).
    pub full_uri: bool,
    /// proxy_pass with variables: the URL to evaluate per request (then the
    /// other fields are placeholders).
    pub dynamic: Option<Arc<DynamicProxy>>,
    /// `$proxy_host`: host, plus `:port` when not 80.
    pub proxy_host: Box<[u8]>,
    /// `$proxy_port`.
    pub proxy_port: Box<[u8]>,
    /// nginx's `proxy_redirect default`: an upstream `Location` starting with
    /// `redirect_from` gets that prefix replaced by `redirect_to`
    /// (ngx_http_proxy_module.c, `ngx_http_proxy_rewrite_redirect`).
    pub redirect_from: Box<[u8]>,
    pub redirect_to: Box<[u8]>,
    /// Per-peer counters for the metrics endpoint, by peer address.
    pub peer_stats: Box<[(std::net::SocketAddr, Arc<crate::status::metrics::PeerStats>)]>,
}

/// `proxy_pass` with variables: the URL template and the `upstream` blocks
/// its host may name.
pub struct DynamicProxy {
    pub url: Template,
    pub upstreams: HashMap<String, Arc<Pool>>,
}
