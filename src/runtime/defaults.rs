//! nginx's defaults for every setting rampart implements, each with the
//! nginx source that sets it (nginx 1.22, the classic behaviour we match).

use std::time::Duration;

/// `client_max_body_size 1m` (src/http/ngx_http_core_module.c, merge_loc_conf).
pub const CLIENT_MAX_BODY_SIZE: u64 = 1 << 20;
/// `client_body_timeout 60s` (ngx_http_core_module.c).
pub const CLIENT_BODY_TIMEOUT: Duration = Duration::from_secs(60);
/// `send_timeout 60s` (ngx_http_core_module.c).
pub const SEND_TIMEOUT: Duration = Duration::from_secs(60);
/// `keepalive_timeout 75s` (ngx_http_core_module.c).
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(75);
/// `keepalive_requests 1000` (ngx_http_core_module.c, since 1.19.10).
pub const KEEPALIVE_REQUESTS: u64 = 1000;
/// `keepalive_time 1h` (ngx_http_core_module.c).
pub const KEEPALIVE_TIME: Duration = Duration::from_secs(3600);
/// `proxy_connect_timeout`, `proxy_read_timeout`, `proxy_send_timeout` 60s
/// (src/http/modules/ngx_http_proxy_module.c, merge_loc_conf).
pub const PROXY_TIMEOUT: Duration = Duration::from_secs(60);
/// `proxy_buffer_size` = one memory page (ngx_http_proxy_module.c: `ngx_pagesize`).
pub const PROXY_BUFFER_SIZE: u64 = 4096;
/// `default_type text/plain` (ngx_http_core_module.c).
pub const DEFAULT_TYPE: &str = "text/plain";
/// `client_header_buffer_size 1k` (src/http/ngx_http_core_module.c, merge_srv_conf).
pub const CLIENT_HEADER_BUFFER_SIZE: u64 = 1024;
/// `large_client_header_buffers 4 8k` (ngx_http_core_module.c).
pub const LARGE_CLIENT_HEADER_BUFFERS: (usize, u64) = (4, 8192);
/// `client_header_timeout 60s` (ngx_http_core_module.c).
pub const CLIENT_HEADER_TIMEOUT: Duration = Duration::from_secs(60);
/// `worker_connections 512` (src/event/ngx_event.c).
pub const WORKER_CONNECTIONS: u64 = 512;
/// `access_log logs/access.log combined` (src/http/modules/ngx_http_log_module.c, NGX_HTTP_LOG_PATH).
pub const ACCESS_LOG: &str = "logs/access.log";
/// `error_log logs/error.log error` (src/core/ngx_log.c, NGX_ERROR_LOG_PATH).
pub const ERROR_LOG: &str = "logs/error.log";
/// `pid logs/nginx.pid` (src/core/nginx.c, NGX_PID_PATH); rampart names its own file.
pub const PID: &str = "logs/rampart.pid";
/// A server without `listen` listens on *:80 as root, *:8000 otherwise (ngx_http_core_server).
pub fn default_listen() -> &'static str {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        "*:80"
    } else {
        "*:8000"
    }
}
