//! The configuration model: what an operator wrote, typed, before it is
//! compiled into a runtime snapshot. Both front ends (rampart.toml via serde,
//! and nginx.conf) produce this model, and `rampart convert` serialises it.
//!
//! Names follow nginx's directives. Every setting is optional at every level
//! where nginx allows it; `None` means "inherit from the enclosing level",
//! which is exactly nginx's merge rule. List-valued directives whose nginx
//! inheritance is all-or-nothing (`proxy_set_header`, `add_header`,
//! `error_page`, `access_log`, `proxy_hide_header`) are `Option<Vec<_>>`: a
//! level that sets any entry replaces the whole inherited list.
//!
//! Defaults live in `runtime::defaults`, each citing where nginx sets it.
//!
//! This layer sits above the features (a feature may own a section of the
//! settings, `config::section!`); the syntax it is read with (the nginx.conf
//! lexer, parser and directive table, units, typed values) is `config`'s.

pub mod load;
pub mod nginx;

pub use load::{is_toml, load, parse_toml, set_globals};

use crate::config::located::Located;
use crate::config::units::{Dur, Size};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `worker_processes N | "auto"`: serving threads (nginx: processes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_processes: Option<WorkerProcesses>,
    /// `worker_rlimit_nofile N`: RLIMIT_NOFILE applied at start-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_rlimit_nofile: Option<u64>,
    /// `pid PATH`: written once every listener is bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<Located<String>>,
    /// `error_log "PATH [LEVEL]"`, `stderr` allowed as PATH.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_log: Option<Located<String>>,
    /// `worker_shutdown_timeout`: the longest a graceful stop (QUIT) waits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_shutdown_timeout: Option<Dur>,
    /// `drain_grace_time` (rampart): how long a graceful stop (QUIT) keeps
    /// accepting and serving after it has failed the health probes, so the
    /// L4 tier notices first. Default 0: stop accepting at once, as nginx does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain_grace_time: Option<Dur>,
    /// `daemon`: detach into the background. Off by default in rampart.toml
    /// (rampart runs in the foreground); the nginx.conf front end defaults
    /// it to on, as nginx does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daemon: Option<bool>,
    /// `master_process`: accepted for compatibility; rampart is always one
    /// process whose worker threads play the role of nginx's workers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_process: Option<bool>,
    /// `user NAME [GROUP]`: the identity to switch to after binding, when started as root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default)]
    pub events: Events,
    #[serde(default)]
    pub http: Http,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum WorkerProcesses {
    Count(u32),
    /// Only "auto" is accepted; checked at compile time.
    Auto(AutoKeyword),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AutoKeyword {
    Auto,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Events {
    /// Connections per worker thread (clients and upstreams together, as nginx).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_connections: Option<u64>,
}

/// `[http.upstream.NAME]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Upstream {
    /// Each entry is nginx's `server` line without the keyword:
    /// `"10.0.0.1:8080 weight=2 max_fails=3 fail_timeout=10s backup"`.
    pub server: Vec<Located<String>>,
    /// The balancing method: `"round_robin"` (default), `"ip_hash"`,
    /// `"least_conn"`, or `{ hash = "$key", consistent = true }` (nginx's
    /// `ip_hash;`, `least_conn;`, `hash KEY [consistent];`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<BalanceDef>,
    /// `keepalive N`: idle upstream connections cached per worker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keepalive: Option<u64>,
    /// `keepalive_timeout` (upstream context): how long a cached connection may stay idle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keepalive_timeout: Option<Dur>,
    /// `keepalive_requests` (upstream context): requests per cached connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keepalive_requests: Option<u64>,
    /// `keepalive_time` (upstream context): the longest life of a cached connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keepalive_time: Option<Dur>,
    /// `check interval=MS rise=N fall=N timeout=MS default_down=BOOL type=tcp|http|ssl_hello
    /// port=N` (nginx_upstream_check_module), as one string; omitted keys take the module's
    /// defaults. Without it the upstream's peers are not actively checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<Located<String>>,
    /// `check_http_send`: the raw check request (`\r\n` escapes honoured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_http_send: Option<String>,
    /// `check_http_expect_alive http_2xx http_3xx ...`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_http_expect_alive: Option<Vec<String>>,
    /// `check_keepalive_requests N`: checks sent on one connection before it is closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_keepalive_requests: Option<u64>,
    /// rampart extension: a `Host` header added to the http check request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_http_host: Option<String>,
    /// rampart extension: an http check is up only if the body contains this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_http_expect_body: Option<String>,
    /// rampart extension (Envoy's panic mode): when every checked peer is down, route over
    /// all of them instead of answering 502. Off by default, as nginx.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_fail_open: Option<bool>,
}

/// `balance` in an upstream block.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum BalanceDef {
    /// `"round_robin"`, `"ip_hash"` or `"least_conn"` (checked at compile time).
    Method(String),
    /// `hash KEY [consistent]`.
    Hash {
        hash: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        consistent: bool,
    },
}

/// `log_format NAME ...`: the format string, or a table with `escape`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum LogFormatDef {
    Plain(String),
    Full {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        escape: Option<String>,
        format: String,
    },
}

/// `access_log`: `"off"`, one `"PATH [FORMAT]"` entry, or a list of them.
/// (Plain strings: serde's untagged enums cannot carry source spans.)
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum AccessLogDef {
    One(String),
    Many(Vec<String>),
}

/// `return`: `404`, `"https://..."` (302), or `[301, "https://..."]` / `[200, "text"]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum ReturnDef {
    Code(u16),
    Url(String),
    CodeText(u16, String),
}

/// `error_page CODES [=STATUS] URI`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorPageDef {
    pub codes: Vec<u16>,
    /// A URI (`/50x.html`), a named location (`@fallback`) or a URL (redirect).
    pub page: String,
    /// `=STATUS`: the status to answer with; `"="` keeps the page's own status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ErrorPageStatus>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum ErrorPageStatus {
    Code(u16),
    /// Must be exactly `"="`.
    FromPage(String),
}

/// One statement of nginx's rewrite module (ngx_http_rewrite_module.c), kept
/// in config order because nginx runs them as one script: exactly one of the
/// keys is set. `{ rewrite = ["REGEX", "REPLACEMENT", "last"] }`,
/// `{ set = ["$var", "value"] }`, `{ return = [301, "/x"] }`, `{ break = true }`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RewriteStep {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewrite: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<(String, String)>,
    #[serde(default, rename = "return", skip_serializing_if = "Option::is_none")]
    pub return_: Option<ReturnDef>,
    #[serde(default, rename = "break", skip_serializing_if = "Option::is_none")]
    pub break_: Option<bool>,
}

/// Declares the settings structs and the three nested levels (http, server,
/// location) from one list of fields, so that adding a directive is one line
/// and the levels cannot drift apart.
macro_rules! config_levels {
    (
        sections { $( $(#[$sm:meta])* $sf:ident : $st:ty, )* }
        location_settings { $( $(#[$lm:meta])* $lf:ident : $lt:ty, )* }
        connection_settings { $( $(#[$cm:meta])* $cf:ident : $ct:ty, )* }
    ) => {
        /// Settings nginx allows in http, server and location blocks.
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct LocSettings {
            $( $(#[$sm])* pub $sf: $st, )*
            $( $(#[$lm])* pub $lf: Option<$lt>, )*
        }

        impl LocSettings {
            /// nginx's merge: every field this level leaves unset comes from `parent`.
            pub fn inherit(&mut self, parent: &LocSettings) {
                $( self.$sf.inherit(&parent.$sf); )*
                $( if self.$lf.is_none() { self.$lf = parent.$lf.clone(); } )*
            }

            /// rampart.toml: `text` (`key = value` cut from the file) checked
            /// by the section `key` belongs to; None when it is no section's.
            pub fn section_check(key: &str, text: &str) -> Option<Result<(), String>> {
                $( if <$st>::KEYS.contains(&key) { return Some(<$st>::check_alone(text)); } )*
                None
            }

            /// nginx.conf: offers `d` to each feature's section; None when
            /// it is none of theirs.
            pub fn section_directive(
                &mut self,
                d: &crate::config::nginx::parser::Directive,
            ) -> crate::config::section::Offer {
                $( if let Some(r) = self.$sf.directive(d) { return Some(r); } )*
                None
            }
        }

        /// Settings that act before the server is known (read from the
        /// default server of the listening address): http and server blocks only.
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct ConnSettings { $( $(#[$cm])* pub $cf: Option<$ct>, )* }

        impl ConnSettings {
            pub fn inherit(&mut self, parent: &ConnSettings) {
                $( if self.$cf.is_none() { self.$cf = parent.$cf.clone(); } )*
            }
        }

        /// The `[http]` table.
        #[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
                pub struct Http {
            /// `log_format NAME`: formats usable by `access_log PATH NAME`.
            #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
            pub log_format: BTreeMap<String, LogFormatDef>,
            /// `upstream NAME { ... }`.
            #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
            pub upstream: BTreeMap<String, Upstream>,
            $( $(#[$lm])* #[serde(default, skip_serializing_if = "Option::is_none")] pub $lf: Option<$lt>, )*
            $( $(#[$sm])* #[serde(flatten)] pub $sf: $st, )*
            $( $(#[$cm])* #[serde(default, skip_serializing_if = "Option::is_none")] pub $cf: Option<$ct>, )*
            /// `server { ... }` blocks, in config order (order decides the default server).
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub server: Vec<Server>,
            /// Keys no field or section takes: an error naming the first
            /// (serde's `deny_unknown_fields` does not work with `flatten`).
            #[serde(flatten, skip_serializing)]
            pub unknown: crate::config::section::Unknown,
        }

        /// A `[[http.server]]` block.
        #[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
                pub struct Server {
            /// nginx `listen` arguments: `"127.0.0.1:8080 default_server backlog=1024 reuseport"`.
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub listen: Vec<Located<String>>,
            /// `server_name`: exact, `*.wild`, `wild.*`, `.domain`, `~regex`, `""`.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub server_name: Option<Vec<String>>,
            $( $(#[$lm])* #[serde(default, skip_serializing_if = "Option::is_none")] pub $lf: Option<$lt>, )*
            $( $(#[$sm])* #[serde(flatten)] pub $sf: $st, )*
            $( $(#[$cm])* #[serde(default, skip_serializing_if = "Option::is_none")] pub $cf: Option<$ct>, )*
            /// The server-level rewrite script (`rewrite`, `set`, `return`,
            /// `break` in order), run before location matching.
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub rewrite: Vec<Located<RewriteStep>>,
            /// Server-level handler (nginx's `return` in server context), run after `rewrite`.
            #[serde(default, rename = "return", skip_serializing_if = "Option::is_none")]
            pub return_: Option<Located<ReturnDef>>,
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub location: Vec<Location>,
            /// Keys no field or section takes: an error naming the first
            /// (serde's `deny_unknown_fields` does not work with `flatten`).
            #[serde(flatten, skip_serializing)]
            pub unknown: crate::config::section::Unknown,
        }

        /// A `[[...location]]` block.
        #[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
                pub struct Location {
            /// nginx's location argument, modifier included: `"/"`, `"= /x"`,
            /// `"^~ /static/"`, `"~ \\.php$"`, `"~* \\.(gif|jpg)$"`, `"@fallback"`.
            #[serde(rename = "match")]
            pub match_: Located<String>,
            /// `proxy_pass URL`: `http://host:port[/uri]` or `http://upstream_name[/uri]`.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub proxy_pass: Option<Located<String>>,
            /// The location's rewrite script, run after the location is chosen.
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub rewrite: Vec<Located<RewriteStep>>,
            #[serde(default, rename = "return", skip_serializing_if = "Option::is_none")]
            pub return_: Option<Located<ReturnDef>>,
            /// `internal`: only reachable by internal redirects.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub internal: Option<bool>,
            /// `stub_status`: this location answers with nginx's status page (a content handler).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub stub_status: Option<bool>,
            /// `health_probe` (rampart): the L4 tier's HTTP health check. Answers
            /// 200 "ok" while serving and 503 "draining" once a graceful stop began.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub health_probe: Option<bool>,
            /// `metrics = true`: this location answers with the Prometheus text exposition.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub metrics: Option<bool>,
            /// `check_status [html|csv|json]`: the health-check status page.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub check_status: Option<Located<String>>,
            $( $(#[$lm])* #[serde(default, skip_serializing_if = "Option::is_none")] pub $lf: Option<$lt>, )*
            $( $(#[$sm])* #[serde(flatten)] pub $sf: $st, )*
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub location: Vec<Location>,
            /// Keys no field or section takes: an error naming the first
            /// (serde's `deny_unknown_fields` does not work with `flatten`).
            #[serde(flatten, skip_serializing)]
            pub unknown: crate::config::section::Unknown,
        }

        impl Http {
            /// rampart.toml: the lines of the sections' `Located` values.
            pub fn fix_section_lines(&mut self, line_of: &dyn Fn(&str) -> Option<usize>) {
                $( self.$sf.fix_lines(line_of); )*
            }
            pub fn loc_settings(&self) -> LocSettings { LocSettings { $( $sf: self.$sf.clone(), )* $( $lf: self.$lf.clone(), )* } }
            pub fn conn_settings(&self) -> ConnSettings { ConnSettings { $( $cf: self.$cf.clone(), )* } }
        }
        impl Server {
            /// rampart.toml: the lines of the sections' `Located` values.
            pub fn fix_section_lines(&mut self, line_of: &dyn Fn(&str) -> Option<usize>) {
                $( self.$sf.fix_lines(line_of); )*
            }
            pub fn loc_settings(&self) -> LocSettings { LocSettings { $( $sf: self.$sf.clone(), )* $( $lf: self.$lf.clone(), )* } }
            pub fn conn_settings(&self) -> ConnSettings { ConnSettings { $( $cf: self.$cf.clone(), )* } }
        }
        impl Location {
            /// rampart.toml: the lines of the sections' `Located` values.
            pub fn fix_section_lines(&mut self, line_of: &dyn Fn(&str) -> Option<usize>) {
                $( self.$sf.fix_lines(line_of); )*
            }
            pub fn loc_settings(&self) -> LocSettings { LocSettings { $( $sf: self.$sf.clone(), )* $( $lf: self.$lf.clone(), )* } }
        }
    };
}

config_levels! {
    sections {
        /// `allow`/`deny`, `auth_basic`, `auth_basic_user_file` (src/access).
        access: crate::access::AccessSettings,
        /// `gzip`, `gzip_*` but gzip_static (src/filters/gzip_conf.rs).
        gzip: crate::filters::GzipSettings,
        /// index, try_files, types, charset, validators, open_file_cache,
        /// gzip_static (src/static_files/conf.rs).
        stat: crate::static_files::StaticSettings,
        /// set_real_ip_from, real_ip_header, real_ip_recursive (src/access/real_ip.rs).
        real_ip: crate::access::real_ip::RealIpSettings,
        /// proxy_* but proxy_pass (src/proxy/settings.rs).
        proxy: crate::proxy::ProxySettings,
    }
    location_settings {
        /// Largest accepted request body; 0 disables the check (413 above it).
        client_max_body_size: Size,
        /// Longest wait between two reads of the request body (408, closed).
        client_body_timeout: Dur,
        /// Longest wait between two writes to the client (connection closed).
        send_timeout: Dur,
        /// Idle time allowed between requests on a keep-alive connection; 0 disables keep-alive.
        keepalive_timeout: Dur,
        /// Requests served on one keep-alive connection before it is closed.
        keepalive_requests: u64,
        /// Longest total lifetime of a keep-alive connection.
        keepalive_time: Dur,
        /// `[[NAME, VALUE], [NAME, VALUE, "always"], ...]`.
        add_header: Located<Vec<Vec<String>>>,
        error_page: Located<Vec<ErrorPageDef>>,
        access_log: Located<AccessLogDef>,
        /// `Server: nginx/VERSION` (true) or `Server: nginx` (false), as nginx.
        server_tokens: bool,
        /// Pad error pages for MSIE and Chrome, as nginx does by default.
        msie_padding: bool,
        default_type: String,
        /// Bytes per second for each response body; 0 = no limit (ngx_http_write_filter_module.c).
        limit_rate: Size,
        /// Bytes sent at full speed before `limit_rate` applies.
        limit_rate_after: Size,
        /// `none` or `msie6`: browsers that get no keep-alive (nginx's default `msie6`).
        keepalive_disable: Vec<String>,
        /// Make `Location` of nginx's own redirects absolute (default on).
        absolute_redirect: bool,
        /// Write the port into absolute redirects (default on).
        port_in_redirect: bool,
        /// Use the server's primary name, not the Host, in absolute redirects (default off).
        server_name_in_redirect: bool,
        /// Accepted for compatibility: rampart keeps a body of up to 64 KiB in memory and
        /// streams a larger one; it never spools bodies to temp files.
        client_body_buffer_size: Size,
        /// Accepted for compatibility (`on | clean | off`): no temp files, so `$request_body_file` is empty.
        client_body_in_file_only: String,
        /// Accepted for compatibility: a body read into memory is always one buffer here.
        client_body_in_single_buffer: bool,
        /// `root PATH`: the file of a request is PATH + `$uri` (relative to the prefix).
        root: String,
        /// `alias PATH` (location only): replaces the location's prefix in `$uri`;
        /// in a regex location the whole path, usually with captures.
        alias: String,
        /// `expires [modified] TIME | epoch | max | off | @TIME`, as written.
        expires: String,
    }
    connection_settings {
        /// First read buffer for a request head.
        client_header_buffer_size: Size,
        /// `"4 8k"`: number and size of the buffers for long request heads.
        large_client_header_buffers: String,
        /// A deadline for the whole request head (408, logged, nothing sent).
        client_header_timeout: Dur,
        merge_slashes: bool,
        ignore_invalid_headers: bool,
        underscores_in_headers: bool,
        /// PEM certificate chain for `listen ... ssl` (relative to the prefix).
        ssl_certificate: String,
        /// PEM private key of `ssl_certificate`.
        ssl_certificate_key: String,
        /// `["TLSv1.2", "TLSv1.3"]` (the default); older names are accepted and ignored.
        ssl_protocols: Vec<String>,
        /// OpenSSL cipher string for TLS 1.2 (default `"HIGH:!aNULL:!MD5"`);
        /// TLS 1.3 suites are always on, as with OpenSSL.
        ssl_ciphers: String,
        /// Server's cipher order instead of the client's (default false).
        ssl_prefer_server_ciphers: bool,
        /// `["none"]` (default), `["off"]`, `["builtin:N"]`, `["shared:NAME:SIZE"]`.
        ssl_session_cache: Vec<String>,
        /// Session lifetime in the cache and ticket key rotation (default 5m).
        ssl_session_timeout: Dur,
        /// Stateless resumption with session tickets (default true).
        ssl_session_tickets: bool,
        /// `"auto"` (default) or curve names joined by `:`.
        ssl_ecdh_curve: String,
        /// nginx 1.25's `http2 on`: HTTP/2 on every address of this server
        /// (the same as `listen ... http2` on each of them).
        http2: bool,
        /// Streams a client may have open at once on an HTTP/2 connection (128).
        http2_max_concurrent_streams: u64,
        /// The initial flow-control window of each HTTP/2 stream: how much
        /// request body a client may send before the handler reads it (64k).
        http2_body_preread_size: Size,
        /// Accepted for compatibility; the h2 codec manages its own read buffer.
        http2_recv_buffer_size: Size,
    }
}
