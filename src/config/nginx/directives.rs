//! The directive table: every nginx directive this front end knows, with
//! nginx's contexts and argument counts (from each module's `ngx_command_t`
//! array, nginx/nginx: src/core/nginx.c, src/event/ngx_event.c,
//! src/http/ngx_http_core_module.c, src/http/ngx_http_upstream.c,
//! src/http/modules/*.c), and what rampart does with it.
//!
//! Lookup follows `ngx_conf_handler`: the first entry with the name whose
//! contexts include the current one wins; a name known only in other contexts
//! is `"x" directive is not allowed here`; an unknown name is an error, never
//! ignored.

/// Where a directive may appear (nginx's `NGX_*_CONF` bits).
pub type Ctx = u8;
pub const MAIN: Ctx = 1;
pub const EVENTS: Ctx = 1 << 1;
pub const HTTP: Ctx = 1 << 2;
pub const SRV: Ctx = 1 << 3;
pub const LOC: Ctx = 1 << 4;
pub const UPS: Ctx = 1 << 5;
/// http, server and location (most `ngx_http_core_module` settings).
const HSL: Ctx = HTTP | SRV | LOC;

/// Argument counts (`NGX_CONF_TAKE1`, `NGX_CONF_1MORE`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Args {
    Exactly(usize),
    Range(usize, usize),
    AtLeast(usize),
    /// Not checked (directives rejected or ignored without reading them).
    Any,
}

impl Args {
    pub fn accepts(self, n: usize) -> bool {
        match self {
            Args::Exactly(k) => n == k,
            Args::Range(lo, hi) => (lo..=hi).contains(&n),
            Args::AtLeast(k) => n >= k,
            Args::Any => true,
        }
    }
}

/// What rampart does with a directive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Mapped into the model (simple directive).
    Mapped,
    /// Mapped, and takes a `{ }` block.
    Block,
    /// A tuning knob with no meaning in rampart: accepted with a warning.
    Ignored,
    /// An nginx directive a later issue implements: a distinct error.
    NotImplemented,
    /// An nginx directive rampart will not implement (`fastcgi_pass`).
    Unsupported,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    pub name: &'static str,
    pub ctx: Ctx,
    pub args: Args,
    pub kind: Kind,
}

const fn m(name: &'static str, ctx: Ctx, args: Args) -> Spec {
    Spec {
        name,
        ctx,
        args,
        kind: Kind::Mapped,
    }
}
const fn block(name: &'static str, ctx: Ctx, args: Args) -> Spec {
    Spec {
        name,
        ctx,
        args,
        kind: Kind::Block,
    }
}
const fn ign(name: &'static str, ctx: Ctx) -> Spec {
    Spec {
        name,
        ctx,
        args: Args::Any,
        kind: Kind::Ignored,
    }
}
const fn later(name: &'static str, ctx: Ctx) -> Spec {
    Spec {
        name,
        ctx,
        args: Args::Any,
        kind: Kind::NotImplemented,
    }
}

use Args::{AtLeast, Exactly, Range};

/// Directives mapped into the model.
const MAPPED: &[Spec] = &[
    // main (src/core/nginx.c, src/core/ngx_log.c)
    m("worker_processes", MAIN, Exactly(1)),
    m("worker_rlimit_nofile", MAIN, Exactly(1)),
    m("worker_shutdown_timeout", MAIN, Exactly(1)),
    m("drain_grace_time", MAIN, Exactly(1)),
    m("pid", MAIN, Exactly(1)),
    m("daemon", MAIN, Exactly(1)),
    m("master_process", MAIN, Exactly(1)),
    m("user", MAIN, Range(1, 2)),
    m("error_log", MAIN, AtLeast(1)),
    block("events", MAIN, Exactly(0)),
    block("http", MAIN, Exactly(0)),
    // events (src/event/ngx_event.c)
    m("worker_connections", EVENTS, Exactly(1)),
    // http structure (ngx_http_core_module.c, ngx_http_upstream.c)
    block("server", HTTP, Exactly(0)),
    block("upstream", HTTP, Exactly(1)),
    m("server", UPS, AtLeast(1)),
    block("location", SRV | LOC, Range(1, 2)),
    m("listen", SRV, AtLeast(1)),
    m("server_name", SRV, AtLeast(1)),
    m("internal", LOC, Exactly(0)),
    m("proxy_pass", LOC, Exactly(1)),
    m("return", SRV | LOC, Range(1, 2)),
    // logging (ngx_http_log_module.c)
    m("log_format", HTTP, AtLeast(2)),
    m("access_log", HSL, AtLeast(1)),
    // settings of every level (model::LocSettings)
    m("client_max_body_size", HSL, Exactly(1)),
    m("client_body_timeout", HSL, Exactly(1)),
    m("send_timeout", HSL, Exactly(1)),
    m("keepalive_timeout", HSL, Range(1, 2)),
    m("keepalive_requests", HSL, Exactly(1)),
    m("keepalive_time", HSL, Exactly(1)),
    m("proxy_connect_timeout", HSL, Exactly(1)),
    m("proxy_read_timeout", HSL, Exactly(1)),
    m("proxy_send_timeout", HSL, Exactly(1)),
    m("proxy_http_version", HSL, Exactly(1)),
    m("proxy_set_header", HSL, Exactly(2)),
    m("proxy_hide_header", HSL, Exactly(1)),
    m("proxy_pass_header", HSL, Exactly(1)),
    m("proxy_buffer_size", HSL, Exactly(1)),
    m("proxy_intercept_errors", HSL, Exactly(1)),
    m("proxy_next_upstream", HSL, AtLeast(1)),
    m("proxy_next_upstream_tries", HSL, Exactly(1)),
    m("proxy_next_upstream_timeout", HSL, Exactly(1)),
    m("proxy_redirect", HSL, Range(1, 2)),
    m("proxy_cookie_domain", HSL, Range(1, 2)),
    m("proxy_cookie_path", HSL, Range(1, 2)),
    m("proxy_buffering", HSL, Exactly(1)),
    m("proxy_request_buffering", HSL, Exactly(1)),
    m("proxy_buffers", HSL, Exactly(2)),
    m("proxy_busy_buffers_size", HSL, Exactly(1)),
    m("proxy_max_temp_file_size", HSL, Exactly(1)),
    m("proxy_temp_file_write_size", HSL, Exactly(1)),
    m("proxy_socket_keepalive", HSL, Exactly(1)),
    m("proxy_bind", HSL, Range(1, 2)),
    m("proxy_method", HSL, Exactly(1)),
    m("proxy_pass_request_headers", HSL, Exactly(1)),
    m("proxy_pass_request_body", HSL, Exactly(1)),
    m("proxy_ignore_client_abort", HSL, Exactly(1)),
    m("proxy_set_body", HSL, Exactly(1)),
    m("ip_hash", UPS, Exactly(0)),
    m("least_conn", UPS, Exactly(0)),
    m("hash", UPS, Range(1, 2)),
    m("keepalive", UPS, Exactly(1)),
    m("keepalive_timeout", UPS, Exactly(1)),
    m("keepalive_requests", UPS, Exactly(1)),
    m("keepalive_time", UPS, Exactly(1)),
    // nginx_upstream_check_module (yaoweibin, ngx_http_upstream_check_module.c), and
    // rampart's extensions of it (check_http_host, check_http_expect_body, check_fail_open)
    m("check", UPS, AtLeast(1)),
    m("check_http_send", UPS, Exactly(1)),
    m("check_http_expect_alive", UPS, AtLeast(1)),
    m("check_keepalive_requests", UPS, Exactly(1)),
    m("check_http_host", UPS, Exactly(1)),
    m("check_http_expect_body", UPS, Exactly(1)),
    m("check_fail_open", UPS, Exactly(1)),
    m("check_status", LOC, Range(0, 1)),
    m("add_header", HSL, Range(2, 3)),
    m("error_page", HSL, AtLeast(2)),
    m("server_tokens", HSL, Exactly(1)),
    m("msie_padding", HSL, Exactly(1)),
    m("default_type", HSL, Exactly(1)),
    m("limit_rate", HSL, Exactly(1)),
    m("limit_rate_after", HSL, Exactly(1)),
    m("keepalive_disable", HSL, AtLeast(1)),
    m("absolute_redirect", HSL, Exactly(1)),
    m("port_in_redirect", HSL, Exactly(1)),
    m("server_name_in_redirect", HSL, Exactly(1)),
    m("client_body_buffer_size", HSL, Exactly(1)),
    m("client_body_in_file_only", HSL, Exactly(1)),
    m("client_body_in_single_buffer", HSL, Exactly(1)),
    // the rewrite module (ngx_http_rewrite_module.c); `if` stays later
    m("rewrite", SRV | LOC, Range(2, 3)),
    m("set", SRV | LOC, Exactly(2)),
    m("break", SRV | LOC, Exactly(0)),
    // static files (ngx_http_core_module.c, ngx_http_index_module.c,
    // ngx_http_try_files_module.c, ngx_http_charset_filter_module.c,
    // ngx_http_headers_filter_module.c, ngx_http_range_filter_module.c)
    m("root", HSL, Exactly(1)),
    m("alias", LOC, Exactly(1)),
    m("index", HSL, AtLeast(1)),
    m("try_files", SRV | LOC, AtLeast(2)),
    block("types", HSL, Exactly(0)),
    m("charset", HSL, Exactly(1)),
    m("charset_types", HSL, AtLeast(1)),
    m("etag", HSL, Exactly(1)),
    m("if_modified_since", HSL, Exactly(1)),
    m("max_ranges", HSL, Exactly(1)),
    m("log_not_found", HSL, Exactly(1)),
    m("disable_symlinks", HSL, Range(1, 2)),
    m("expires", HSL, Range(1, 2)),
    m("open_file_cache", HSL, Range(1, 2)),
    m("open_file_cache_valid", HSL, Exactly(1)),
    m("open_file_cache_min_uses", HSL, Exactly(1)),
    m("open_file_cache_errors", HSL, Exactly(1)),
    // gzip (ngx_http_gzip_filter_module.c, ngx_http_core_module.c, ngx_http_gzip_static_module.c)
    m("gzip", HSL, Exactly(1)),
    m("gzip_comp_level", HSL, Exactly(1)),
    m("gzip_min_length", HSL, Exactly(1)),
    m("gzip_types", HSL, AtLeast(1)),
    m("gzip_http_version", HSL, Exactly(1)),
    m("gzip_vary", HSL, Exactly(1)),
    m("gzip_proxied", HSL, AtLeast(1)),
    m("gzip_disable", HSL, AtLeast(1)),
    m("gzip_buffers", HSL, Exactly(2)),
    m("gzip_static", HSL, Exactly(1)),
    // settings of http and server only (model::ConnSettings)
    m("client_header_buffer_size", HTTP | SRV, Exactly(1)),
    m("large_client_header_buffers", HTTP | SRV, Exactly(2)),
    m("client_header_timeout", HTTP | SRV, Exactly(1)),
    m("merge_slashes", HTTP | SRV, Exactly(1)),
    m("ignore_invalid_headers", HTTP | SRV, Exactly(1)),
    m("underscores_in_headers", HTTP | SRV, Exactly(1)),
];

/// Tuning knobs accepted with a warning: they change how nginx uses the OS or
/// sizes its internal tables, never what a client, upstream or operator sees
/// from rampart. README lists them.
const IGNORED: &[Spec] = &[
    ign("worker_cpu_affinity", MAIN),
    ign("use", EVENTS),
    ign("multi_accept", EVENTS),
    ign("accept_mutex", EVENTS),
    ign("accept_mutex_delay", EVENTS),
    // the module's shared-memory zone size: rampart keeps check state in process memory
    ign("check_shm_size", HTTP),
    ign("sendfile", HSL),
    ign("tcp_nopush", HSL),
    ign("tcp_nodelay", HSL),
    ign("server_names_hash_bucket_size", HTTP),
    ign("server_names_hash_max_size", HTTP),
    ign("types_hash_bucket_size", HSL),
    ign("types_hash_max_size", HSL),
    ign("variables_hash_bucket_size", HTTP),
    ign("variables_hash_max_size", HTTP),
    ign("proxy_headers_hash_bucket_size", HSL),
    ign("proxy_headers_hash_max_size", HSL),
    ign("open_log_file_cache", HSL),
    ign("client_body_temp_path", HSL),
    ign("proxy_temp_path", HSL),
    ign("fastcgi_temp_path", HSL),
    ign("uwsgi_temp_path", HSL),
    ign("scgi_temp_path", HSL),
];

/// `fastcgi_*` settings: warned and ignored (rampart has no FastCGI, and
/// without `fastcgi_pass` nginx never uses them); `fastcgi_pass` is an error.
const FASTCGI: &[&str] = &[
    "fastcgi_index",
    "fastcgi_split_path_info",
    "fastcgi_store",
    "fastcgi_store_access",
    "fastcgi_buffering",
    "fastcgi_request_buffering",
    "fastcgi_ignore_client_abort",
    "fastcgi_bind",
    "fastcgi_socket_keepalive",
    "fastcgi_connect_timeout",
    "fastcgi_send_timeout",
    "fastcgi_send_lowat",
    "fastcgi_buffer_size",
    "fastcgi_pass_request_headers",
    "fastcgi_pass_request_body",
    "fastcgi_intercept_errors",
    "fastcgi_read_timeout",
    "fastcgi_buffers",
    "fastcgi_busy_buffers_size",
    "fastcgi_force_ranges",
    "fastcgi_limit_rate",
    "fastcgi_cache",
    "fastcgi_cache_key",
    "fastcgi_cache_path",
    "fastcgi_cache_bypass",
    "fastcgi_no_cache",
    "fastcgi_cache_valid",
    "fastcgi_cache_min_uses",
    "fastcgi_cache_max_range_offset",
    "fastcgi_cache_use_stale",
    "fastcgi_cache_methods",
    "fastcgi_cache_lock",
    "fastcgi_cache_lock_timeout",
    "fastcgi_cache_lock_age",
    "fastcgi_cache_revalidate",
    "fastcgi_cache_background_update",
    "fastcgi_max_temp_file_size",
    "fastcgi_temp_file_write_size",
    "fastcgi_next_upstream",
    "fastcgi_next_upstream_tries",
    "fastcgi_next_upstream_timeout",
    "fastcgi_param",
    "fastcgi_pass_header",
    "fastcgi_hide_header",
    "fastcgi_ignore_headers",
    "fastcgi_catch_stderr",
    "fastcgi_keep_conn",
];

/// nginx directives that later issues implement. Each is rejected with
/// `"X" directive is not implemented yet`, a message distinct from nginx's
/// own errors so that tests can pin the exact list.
const LATER: &[Spec] = &[
    // main and events
    later("env", MAIN),
    later("load_module", MAIN),
    later("include_module", MAIN),
    later("worker_priority", MAIN),
    later("worker_rlimit_core", MAIN),
    later("working_directory", MAIN),
    later("timer_resolution", MAIN),
    later("thread_pool", MAIN),
    later("pcre_jit", MAIN),
    later("lock_file", MAIN),
    later("ssl_engine", MAIN),
    later("stream", MAIN),
    later("mail", MAIN),
    later("debug_connection", EVENTS),
    later("worker_aio_requests", EVENTS),
    // error_log below main
    later("error_log", HSL),
    // upstream balancers, keep-alive and checks
    later("random", UPS),
    later("zone", UPS),
    later("sticky", UPS),
    later("check_fastcgi_param", UPS),
    // static files, types, charset, gzip, caches
    later("autoindex", HSL),
    later("autoindex_exact_size", HSL),
    later("autoindex_format", HSL),
    later("autoindex_localtime", HSL),
    later("source_charset", HSL),
    later("override_charset", HSL),
    later("gunzip", HSL),
    m("stub_status", LOC, Range(0, 1)),
    m("health_probe", LOC, Exactly(0)),
    // access control and rewriting
    m("auth_basic", HSL, Exactly(1)),
    m("auth_basic_user_file", HSL, Exactly(1)),
    m("allow", HSL, Exactly(1)),
    m("deny", HSL, Exactly(1)),
    m("satisfy", HSL, Exactly(1)),
    later("limit_except", LOC),
    later("if", SRV | LOC),
    later("rewrite_log", HSL),
    later("uninitialized_variable_warn", HSL),
    later("map", HTTP),
    later("geo", HTTP),
    later("split_clients", HTTP),
    later("limit_req", HSL),
    later("limit_req_zone", HTTP),
    later("limit_req_status", HSL),
    later("limit_conn", HSL),
    later("limit_conn_zone", HTTP),
    later("limit_conn_status", HSL),
    m("set_real_ip_from", HSL, Exactly(1)),
    m("real_ip_header", HSL, Exactly(1)),
    m("real_ip_recursive", HSL, Exactly(1)),
    // proxying beyond the core
    later("proxy_ignore_headers", HSL),
    later("proxy_cache", HSL),
    later("proxy_cache_path", HTTP),
    later("proxy_cache_key", HSL),
    later("proxy_cache_valid", HSL),
    later("proxy_cache_bypass", HSL),
    later("proxy_no_cache", HSL),
    later("proxy_cache_use_stale", HSL),
    later("proxy_cache_lock", HSL),
    later("proxy_cache_min_uses", HSL),
    later("proxy_cache_methods", HSL),
    later("proxy_store", HSL),
    later("proxy_ssl_verify", HSL),
    later("proxy_ssl_server_name", HSL),
    later("proxy_ssl_certificate", HSL),
    later("proxy_ssl_certificate_key", HSL),
    later("proxy_ssl_trusted_certificate", HSL),
    later("proxy_ssl_protocols", HSL),
    later("proxy_ssl_ciphers", HSL),
    later("proxy_ssl_name", HSL),
    later("proxy_ssl_session_reuse", HSL),
    later("resolver", HSL),
    later("resolver_timeout", HSL),
    // TLS, HTTP/2 and PROXY protocol
    later("ssl", HTTP | SRV),
    m("ssl_certificate", HTTP | SRV, Exactly(1)),
    m("ssl_certificate_key", HTTP | SRV, Exactly(1)),
    m("ssl_protocols", HTTP | SRV, AtLeast(1)),
    // OpenSSL cipher strings are evaluated over the suites rustls has
    // (src/tls/ciphers.rs); sessions in src/tls/session.rs.
    m("ssl_ciphers", HTTP | SRV, Exactly(1)),
    m("ssl_prefer_server_ciphers", HTTP | SRV, Exactly(1)),
    m("ssl_session_cache", HTTP | SRV, AtLeast(1)),
    m("ssl_session_timeout", HTTP | SRV, Exactly(1)),
    m("ssl_session_tickets", HTTP | SRV, Exactly(1)),
    m("ssl_ecdh_curve", HTTP | SRV, Exactly(1)),
    // rustls has no finite-field DHE suites: accepted with a warning.
    ign("ssl_dhparam", HTTP | SRV),
    later("ssl_stapling", HTTP | SRV),
    later("ssl_stapling_verify", HTTP | SRV),
    later("ssl_trusted_certificate", HTTP | SRV),
    later("ssl_client_certificate", HTTP | SRV),
    later("ssl_verify_client", HTTP | SRV),
    later("ssl_verify_depth", HTTP | SRV),
    later("ssl_buffer_size", HTTP | SRV),
    m("http2", HTTP | SRV, Exactly(1)),
    m("http2_max_concurrent_streams", HTTP | SRV, Exactly(1)),
    m("http2_body_preread_size", HTTP | SRV, Exactly(1)),
    m("http2_recv_buffer_size", HTTP, Exactly(1)),
    // The h2 codec sizes its own DATA frames; server push is not supported
    // (nginx 1.25.1 removed it too). Obsolete since nginx 1.19.7, which
    // ignores them with a warning: keepalive_timeout, client_header_timeout,
    // large_client_header_buffers and keepalive_requests apply instead.
    ign("http2_chunk_size", HSL),
    ign("http2_push", HSL),
    ign("http2_push_preload", HSL),
    ign("http2_idle_timeout", HTTP | SRV),
    ign("http2_recv_timeout", HTTP | SRV),
    ign("http2_max_field_size", HTTP | SRV),
    ign("http2_max_header_size", HTTP | SRV),
    ign("http2_max_requests", HTTP | SRV),
    later("proxy_protocol_timeout", HTTP | SRV),
    // other core settings
    later("recursive_error_pages", HSL),
    later("log_subrequest", HSL),
    later("lingering_close", HSL),
    later("lingering_time", HSL),
    later("lingering_timeout", HSL),
    later("reset_timedout_connection", HSL),
    later("chunked_transfer_encoding", HSL),
    later("sendfile_max_chunk", HSL),
    later("postpone_output", HSL),
    later("output_buffers", HSL),
    later("directio", HSL),
    later("aio", HSL),
    later("request_pool_size", HTTP | SRV),
    later("connection_pool_size", HTTP | SRV),
    later("sub_filter", HSL),
    later("sub_filter_once", HSL),
    later("sub_filter_types", HSL),
    later("add_trailer", HSL),
    later("ssi", HSL),
    later("userid", HSL),
    later("mirror", HSL),
    later("empty_gif", LOC),
    later("uwsgi_pass", LOC),
    later("scgi_pass", LOC),
    later("grpc_pass", LOC),
    later("memcached_pass", LOC),
];

/// How a name resolves in a context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    Found(Spec),
    NotAllowedHere,
    Unknown,
}

/// Finds `name` for context `ctx`, as `ngx_conf_handler` does.
pub fn lookup(name: &str, ctx: Ctx) -> Lookup {
    if name == "fastcgi_pass" {
        return if ctx & LOC != 0 {
            Lookup::Found(Spec {
                name: "fastcgi_pass",
                ctx: LOC,
                args: Args::Any,
                kind: Kind::Unsupported,
            })
        } else {
            Lookup::NotAllowedHere
        };
    }
    if let Some(&n) = FASTCGI.iter().find(|&&n| n == name) {
        let allowed = if n == "fastcgi_cache_path" { HTTP } else { HSL };
        return if ctx & allowed != 0 {
            Lookup::Found(ign(n, allowed))
        } else {
            Lookup::NotAllowedHere
        };
    }
    let mut known = false;
    for s in MAPPED.iter().chain(IGNORED).chain(LATER) {
        if s.name == name {
            if s.ctx & ctx != 0 {
                return Lookup::Found(*s);
            }
            known = true;
        }
    }
    if known {
        Lookup::NotAllowedHere
    } else {
        Lookup::Unknown
    }
}

/// The names of the ignored directives (for README and tests).
pub fn ignored_names() -> impl Iterator<Item = &'static str> {
    IGNORED.iter().map(|s| s.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contexts_and_kinds() {
        let found = |n: &str, c: Ctx| match lookup(n, c) {
            Lookup::Found(s) => Some(s.kind),
            _ => None,
        };
        let cases: &[(&str, Ctx, Lookup)] = &[
            ("foo", HTTP, Lookup::Unknown),
            ("listen", HTTP, Lookup::NotAllowedHere),
            ("listen", UPS, Lookup::NotAllowedHere),
            ("proxy_pass", SRV, Lookup::NotAllowedHere),
            ("worker_connections", MAIN, Lookup::NotAllowedHere),
            ("client_header_buffer_size", LOC, Lookup::NotAllowedHere),
            ("log_format", SRV, Lookup::NotAllowedHere),
            ("fastcgi_pass", HTTP, Lookup::NotAllowedHere),
            ("fastcgi_cache_path", SRV, Lookup::NotAllowedHere),
            ("use", HTTP, Lookup::NotAllowedHere),
        ];
        for (n, c, want) in cases {
            assert_eq!(lookup(n, *c), *want, "{n}");
        }
        // The same name means different things by context.
        assert_eq!(found("server", HTTP), Some(Kind::Block));
        assert_eq!(found("server", UPS), Some(Kind::Mapped));
        assert_eq!(found("keepalive_timeout", SRV), Some(Kind::Mapped));
        assert_eq!(found("keepalive_timeout", UPS), Some(Kind::Mapped));
        assert_eq!(found("error_log", MAIN), Some(Kind::Mapped));
        assert_eq!(found("error_log", LOC), Some(Kind::NotImplemented));
        assert_eq!(found("fastcgi_pass", LOC), Some(Kind::Unsupported));
        assert_eq!(found("fastcgi_read_timeout", LOC), Some(Kind::Ignored));
        assert_eq!(found("sendfile", LOC), Some(Kind::Ignored));
        assert_eq!(found("gzip", HTTP), Some(Kind::Mapped));
    }

    #[test]
    fn argument_counts() {
        let cases: &[(Args, usize, bool)] = &[
            (Exactly(0), 0, true),
            (Exactly(0), 1, false),
            (Exactly(1), 2, false),
            (Range(1, 2), 0, false),
            (Range(1, 2), 2, true),
            (Range(1, 2), 3, false),
            (AtLeast(2), 1, false),
            (AtLeast(2), 9, true),
            (Args::Any, 0, true),
        ];
        for (a, n, want) in cases {
            assert_eq!(a.accepts(*n), *want, "{a:?} {n}");
        }
    }

    #[test]
    fn no_name_is_both_mapped_and_ignored_in_one_context() {
        for s in MAPPED.iter().chain(IGNORED) {
            for t in IGNORED.iter().chain(LATER) {
                if s.name == t.name && !std::ptr::eq(s, t) {
                    assert_eq!(s.ctx & t.ctx, 0, "{} is listed twice for one context", s.name);
                }
            }
        }
    }
}
