//! The proxy module's settings (every `proxy_*` directive but `proxy_pass`,
//! which makes a location's handler): their section of the model, with
//! nginx's setters, and their defaults (ngx_http_proxy_module.c,
//! ngx_http_upstream.c). `ProxyConf::compile` (compile.rs) turns the merged
//! section into the handler's conf.

use crate::config::nginx::parser::Directive;
use crate::config::nginx::values;
use crate::config::section::Offer;
use crate::config::units::{Dur, Size};
use crate::config::Located;
use std::time::Duration;

/// `proxy_connect_timeout`, `proxy_read_timeout`, `proxy_send_timeout`.
pub const TIMEOUT: Duration = Duration::from_secs(60);
/// `proxy_buffer_size`: one memory page.
pub const BUFFER_SIZE: u64 = 4096;

crate::section! {
    /// The proxy section of an http, server or location level.
    pub struct ProxySettings {
        proxy_connect_timeout: Dur = msec,
        proxy_read_timeout: Dur = msec,
        proxy_send_timeout: Dur = msec,
        /// "1.0" (nginx 1.22's default, with `Connection: close`) or "1.1".
        proxy_http_version: String = one_of("1.0", "1.1"),
        /// `[[NAME, VALUE], ...]`; an empty VALUE removes the header.
        proxy_set_header: Located<Vec<(String, String)>>,
        /// Extra upstream response headers not to pass to the client.
        proxy_hide_header: Vec<String>,
        /// Headers hidden by default (Date, Server, X-Accel-*) to pass anyway.
        proxy_pass_header: Vec<String>,
        /// Largest upstream response head (502 "upstream sent too big header" above it).
        proxy_buffer_size: Size = size,
        /// Apply `error_page` to upstream responses with an error status.
        proxy_intercept_errors: bool = flag,
        /// When to pass a request to the next upstream server: any of `error`,
        /// `timeout`, `invalid_header`, `http_500`, `http_502`, `http_503`,
        /// `http_504`, `http_403`, `http_404`, `http_429`, `non_idempotent`, or `off`.
        proxy_next_upstream: Vec<String> = args,
        /// Most attempts per request, the first included; 0 = no limit.
        proxy_next_upstream_tries: u64,
        /// No new attempt once this long has passed since the first; 0 = no limit.
        proxy_next_upstream_timeout: Dur = msec,
        /// `[["default"], ["http://a/", "/b/"], ["~^http://x(/.*)$", "$1"]]` or
        /// `[["off"]]`: rewrites of upstream `Location`/`Refresh`; a level with
        /// any entry replaces the parent's list.
        proxy_redirect: Located<Vec<Vec<String>>>,
        /// `[["example.org", "$host"], ["~\\.internal$", "x.org"]]` or `[["off"]]`:
        /// rewrites of `domain=` in upstream `Set-Cookie`.
        proxy_cookie_domain: Located<Vec<Vec<String>>>,
        /// `[["/one/", "/"], ["~^/app(/.*)$", "$1"]]` or `[["off"]]`: rewrites of `path=`.
        proxy_cookie_path: Located<Vec<Vec<String>>>,
        /// Accepted and validated; rampart always streams (see README).
        proxy_buffering: bool = flag,
        /// Accepted and validated; rampart always streams the request body.
        proxy_request_buffering: bool = flag,
        /// `"N SIZE"`, accepted and validated; tunes nothing in rampart.
        proxy_buffers: String,
        /// Accepted and validated; tunes nothing in rampart.
        proxy_busy_buffers_size: Size = size,
        /// Accepted and validated; rampart never writes temp files.
        proxy_max_temp_file_size: Size = size,
        /// Accepted and validated; rampart never writes temp files.
        proxy_temp_file_write_size: Size = size,
        /// SO_KEEPALIVE on upstream sockets.
        proxy_socket_keepalive: bool = flag,
        /// `ADDR` (variables allowed) or `off`: the local address of upstream sockets.
        proxy_bind: String,
        /// The upstream request's method instead of the client's (variables allowed).
        proxy_method: String = string,
        /// Keep waiting for the upstream when the client closes (default false: 499, upstream closed).
        proxy_ignore_client_abort: bool = flag,
        /// Pass the client's request headers upstream (default true).
        proxy_pass_request_headers: bool = flag,
        /// Pass the client's request body upstream (default true); `false` keeps its Content-Length.
        proxy_pass_request_body: bool = flag,
        /// The upstream request body instead of the client's (variables allowed).
        proxy_set_body: String = string,
    }
    custom = custom;
}

/// The directives whose setters are more than a slot.
fn custom(s: &mut ProxySettings, d: &Directive) -> Offer {
    let first = || values::first(d).to_string();
    let r = match d.name.as_str() {
        "proxy_set_header" => {
            let pair = (first(), d.args.get(1).cloned().unwrap_or_default());
            s.proxy_set_header
                .get_or_insert_with(|| Located::new(Vec::new(), d.line))
                .value
                .push(pair);
            Ok(())
        }
        "proxy_hide_header" => {
            s.proxy_hide_header.get_or_insert_with(Vec::new).push(first());
            Ok(())
        }
        "proxy_pass_header" => {
            s.proxy_pass_header.get_or_insert_with(Vec::new).push(first());
            Ok(())
        }
        "proxy_next_upstream_tries" => match values::number(values::first(d)) {
            Some(n) => values::once(&mut s.proxy_next_upstream_tries, n, d),
            None => Err(values::invalid_value(d)),
        },
        "proxy_buffers" => values::bufs(d).and_then(|v| values::once(&mut s.proxy_buffers, v, d)),
        "proxy_redirect" | "proxy_cookie_domain" | "proxy_cookie_path" => rewrite_rules(s, d),
        "proxy_bind" => match d.args.get(1) {
            Some(p) if p == "transparent" => {
                Err(d.err("\"proxy_bind ... transparent\" is not supported by rampart"))
            }
            Some(p) => Err(d.err(format!("invalid parameter \"{p}\""))),
            None => values::once(&mut s.proxy_bind, first(), d),
        },
        _ => return None,
    };
    Some(r)
}

/// `proxy_redirect`, `proxy_cookie_domain`, `proxy_cookie_path`: one list
/// per level; `off` with anything else at the level is a duplicate
/// (ngx_http_proxy_redirect).
fn rewrite_rules(s: &mut ProxySettings, d: &Directive) -> Result<(), crate::config::ConfigError> {
    let slot = match d.name.as_str() {
        "proxy_redirect" => &mut s.proxy_redirect,
        "proxy_cookie_domain" => &mut s.proxy_cookie_domain,
        _ => &mut s.proxy_cookie_path,
    };
    let list = &mut slot.get_or_insert_with(|| Located::new(Vec::new(), d.line)).value;
    let redirect = d.name == "proxy_redirect";
    let off = |e: &[String]| e.len() == 1 && (e[0] == "off" || e[0] == "false" && redirect);
    if list.first().is_some_and(|e| off(e)) || off(&d.args) && !list.is_empty() {
        return Err(values::duplicate(d));
    }
    list.push(d.args.clone());
    Ok(())
}
