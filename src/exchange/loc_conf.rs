//! The core settings of one location, as every phase reads them: nginx's
//! `ngx_http_core_loc_conf_t` with the headers filter and the log module's
//! per-location parts. A feature's own settings (proxy_*, index, try_files,
//! types, ...) are not here: the runtime snapshot holds them beside these and
//! hands each feature its own (runtime::LocationRt).
//!
//! Compiled once per location by runtime::loc_conf::resolve, so that a
//! request only reads plain fields.

use crate::vars::Template;
use std::sync::Arc;
use std::time::Duration;

/// One `add_header NAME VALUE [always]`.
#[derive(Debug, Clone)]
pub struct AddHeader {
    pub name: bytes::Bytes,
    pub value: Template,
    pub always: bool,
}

/// One code of an `error_page` line.
#[derive(Debug, Clone)]
pub struct ErrorPage {
    pub code: u16,
    pub target: ErrorTarget,
    /// `=CODE` → Some(CODE); `=` → Some(0) (the page's own status); none → None.
    pub status: Option<u16>,
}

#[derive(Debug, Clone)]
pub enum ErrorTarget {
    /// Internal redirect to a URI (method becomes GET).
    Uri(Template),
    /// Jump to a named location.
    Named(String),
    /// External redirect (302 unless =301/303/307/308).
    Redirect(Template),
}

/// One `access_log PATH [FORMAT] [buffer=] [flush=] [if=]`.
#[derive(Clone)]
pub struct AccessLog {
    pub id: crate::log::LogId,
    pub format: Arc<crate::log::LogFormat>,
    /// `if=COND`: the line is written unless COND is empty or "0".
    pub cond: Option<Template>,
}

impl std::fmt::Debug for AccessLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessLog")
    }
}

#[derive(Debug, Clone)]
pub struct LocConf {
    pub client_max_body_size: u64,
    pub client_body_timeout: Duration,
    pub send_timeout: Duration,
    pub keepalive_timeout: Duration,
    pub keepalive_requests: u64,
    pub keepalive_time: Duration,
    pub add_header: Vec<AddHeader>,
    pub error_pages: Vec<ErrorPage>,
    pub access_log: Vec<AccessLog>,
    /// Some access_log's format or `if=` reads a `$sent_http_*`: only then
    /// does a response keep a copy of its headers (exchange::respond).
    pub log_sent_headers: bool,
    pub server_tokens: bool,
    pub msie_padding: bool,
    pub default_type: bytes::Bytes,
    /// real_ip settings; `None` without `set_real_ip_from` (the module is off).
    pub real_ip: Option<Arc<crate::access::real_ip::RealIpConf>>,
    /// `allow`/`deny` and `auth_basic` (the access phase).
    pub access: crate::access::AccessConf,
    /// `limit_rate` in bytes per second (0 = none) and `limit_rate_after`.
    pub limit_rate: u64,
    pub limit_rate_after: u64,
    /// `keepalive_disable msie6` (nginx's default) and `safari`.
    pub keepalive_disable_msie6: bool,
    pub keepalive_disable_safari: bool,
    pub absolute_redirect: bool,
    pub port_in_redirect: bool,
    pub server_name_in_redirect: bool,
    /// `root` or `alias` (nginx's core module: `$document_root`, `$request_filename`).
    pub root: super::doc_root::DocRoot,
    /// `expires` (with `add_header`, nginx's headers filter).
    pub expires: crate::filters::expires::Expires,
    pub gzip: Arc<crate::filters::gzip::GzipConf>,
}

impl LocConf {
    pub fn error_page(&self, code: u16) -> Option<&ErrorPage> {
        self.error_pages.iter().find(|e| e.code == code)
    }
}

/// The location a request runs in, as the phases and the content handlers
/// see it: its name, its core settings and where it matched.
#[derive(Debug)]
pub struct LocCore {
    /// The location as written (`= /x`, `/api/`), for logs.
    pub name: String,
    pub conf: LocConf,
    /// `internal`: reachable by internal redirects only.
    pub internal: bool,
    /// For prefix locations: the length of the prefix that a proxy_pass URI
    /// part or an `alias` replaces.
    pub prefix_len: usize,
}

/// The virtual server a request runs in, as the phases see it.
pub struct ServerCore {
    /// The primary name (`$server_name`), the first `server_name` argument.
    pub name: Box<[u8]>,
    /// Counters for the metrics endpoint, shared by servers of the same name
    /// and kept across reloads.
    pub stats: Arc<crate::status::metrics::ServerStats>,
}
