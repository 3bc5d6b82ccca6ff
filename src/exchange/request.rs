//! One request's state as it moves through the phases, and the nginx
//! variables it answers (`$uri`, `$status`, `$upstream_addr`, ...).

use super::loc_conf::{LocCore, ServerCore};
use crate::http::conn::ConnInfo;
use crate::http1::{RequestHead, Version};
use crate::log::clock;
use crate::routing::location::Captures;
use crate::status::counters;
use crate::vars::{Var, VarSource};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// One attempt to reach an upstream peer, as `$upstream_*` report it.
/// Raw values: formatted only if a log format asks.
#[derive(Debug, Default, Clone)]
pub struct Attempt {
    /// `None` when no peer was available (the group name is logged instead).
    pub addr: Option<SocketAddr>,
    /// 0 until known.
    pub status: u16,
    pub connect: Option<std::time::Duration>,
    pub header: Option<std::time::Duration>,
    pub response: Option<std::time::Duration>,
    pub length: Option<u64>,
    pub received: Option<u64>,
    pub sent: Option<u64>,
}

/// What the upstream phase records for logging (`$upstream_*`).
#[derive(Debug, Default)]
pub struct UpstreamLog {
    pub attempts: Vec<Attempt>,
    /// The upstream group name, logged as the address when no peer was live.
    pub group: Option<String>,
}

impl UpstreamLog {
    /// Starts the entry for another attempt (nginx joins attempts with ", ").
    pub fn next_attempt(&mut self) {
        self.attempts.push(Attempt::default());
    }

    /// The attempt being made (one is started if none was).
    pub fn current(&mut self) -> &mut Attempt {
        if self.attempts.is_empty() {
            self.attempts.push(Attempt::default());
        }
        let last = self.attempts.len() - 1;
        &mut self.attempts[last]
    }

    pub fn no_live_peer(&mut self, group: &str) {
        self.group = Some(group.to_string());
        self.attempts.push(Attempt {
            status: 502,
            ..Attempt::default()
        });
    }

    /// Writes one `$upstream_*` list; false (not found) when nothing was attempted.
    fn render(&self, out: &mut Vec<u8>, field: impl Fn(&Attempt, &mut Vec<u8>, &Option<String>)) -> bool {
        if self.attempts.is_empty() {
            return false;
        }
        for (i, a) in self.attempts.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(b", ");
            }
            field(a, out, &self.group);
        }
        true
    }
}

fn push_secs(out: &mut Vec<u8>, d: Option<std::time::Duration>) {
    match d {
        Some(d) => {
            let ms = d.as_millis() as u64;
            push_num(out, ms / 1000);
            out.push(b'.');
            let frac = ms % 1000;
            out.extend_from_slice(&[
                b'0' + (frac / 100) as u8,
                b'0' + (frac / 10 % 10) as u8,
                b'0' + (frac % 10) as u8,
            ]);
        }
        None => out.push(b'-'),
    }
}

fn push_opt(out: &mut Vec<u8>, v: Option<u64>) {
    match v {
        Some(v) => push_num(out, v),
        None => out.push(b'-'),
    }
}

/// (`$proxy_host`, `$proxy_port`).
pub type ProxyHost = (Box<[u8]>, Box<[u8]>);

pub struct Request {
    pub head: RequestHead,
    pub conn: ConnInfo,
    pub started: Instant,
    pub start_msec: u64,
    /// `$uri`: normalised, decoded path.
    pub uri: Vec<u8>,
    /// `$args`: None when not found (`-`), Some("") when found empty (after
    /// try_files or `rewrite ... ?`). What adds a `?` uses [`Request::query`].
    pub args: Option<Vec<u8>>,
    /// Set once the URI was changed by an internal redirect (then proxy_pass
    /// without a URI part sends `$uri`, not the raw request target).
    pub uri_changed: bool,
    /// The method in force (error_page redirects turn it into GET).
    pub method_get_override: bool,
    /// `$host`: normalised host, or the server's primary name.
    pub host: Option<Vec<u8>>,
    pub server: Arc<ServerCore>,
    /// The location in force (its core settings; the server hands each
    /// feature its own).
    pub loc: Arc<LocCore>,
    pub captures: Captures,
    /// The subject of `captures` (the URI they index into).
    pub capture_subject: Vec<u8>,
    pub status: u16,
    /// Header bytes of the response sent (for `$body_bytes_sent`).
    pub header_bytes: u64,
    pub bytes_sent: u64,
    pub request_length: u64,
    pub upstream: UpstreamLog,
    /// `$proxy_host` and `$proxy_port` of the proxy_pass in force.
    pub proxy_host: Option<ProxyHost>,
    /// Response headers sent, for `$sent_http_*`.
    pub sent_headers: Vec<(bytes::Bytes, bytes::Bytes)>,
    /// How the response head was written (for the `$sent_http_*` of the
    /// headers the writer adds itself).
    pub sent_framing: Option<(crate::http::response::Framing, crate::http::response::ConnHeader)>,
    /// Internal redirects so far (nginx stops at 10).
    pub redirects: u8,
    /// error_page was already applied (no recursion without recursive_error_pages).
    pub error_page_used: bool,
    /// Variables set by `set` and by named regex captures (server_name,
    /// location, rewrite), by name; nginx keeps them per request.
    pub vars: Vec<(Arc<str>, Vec<u8>)>,
    /// `rewrite ... break` changed the URI in this location: proxy_pass then
    /// passes the whole `$uri`, ignoring its own URI part (nginx's
    /// `r->valid_location = 0`).
    pub uri_rewritten_break: bool,
    /// `$pipe`: the request was already in the buffer when the previous one
    /// finished (nginx's `r->pipeline`, set in ngx_http_set_keepalive).
    pub pipelined: bool,
    /// `$request_body`: the body, when proxying read it into memory.
    pub request_body: Option<bytes::Bytes>,
    /// The gzip filter's bytes in and out (gzip header and trailer
    /// included, as nginx counts) once its stream ended: `$gzip_ratio`.
    pub gzip: Option<(u64, u64)>,
    /// The target failed URI normalisation (answered 400). nginx sets
    /// `$request_uri` only after that parse succeeds, so it logs `-` then.
    pub bad_uri: bool,
}

fn push_num(out: &mut Vec<u8>, n: u64) {
    crate::http::response::push_u64(out, n);
}

impl Request {
    /// The arguments when there are any: nginx tests `r->args.len` before it
    /// writes `?ARGS` (a Location, `$is_args`, the upstream URI, a rewrite),
    /// so empty ones count as none there.
    pub fn query(&self) -> Option<&[u8]> {
        self.args.as_deref().filter(|a| !a.is_empty())
    }

    /// The Location of a 301 that adds the missing slash to a directory's
    /// URI (the static handler's and a location's auto-redirect): the URI
    /// escaped, `/`, then `?ARGS` when there are arguments.
    pub fn slash_location(&self) -> Vec<u8> {
        let mut l = Vec::with_capacity(self.uri.len() + 1);
        crate::routing::uri::escape_uri(&self.uri, &mut l);
        l.push(b'/');
        if let Some(a) = self.query() {
            l.push(b'?');
            l.extend_from_slice(a);
        }
        l
    }

    /// `$sent_http_content_length`, `_transfer_encoding` and `_connection`:
    /// the headers ResponseHead::write adds from the framing, which nginx's
    /// variables report from the response's state. None for other names.
    fn sent_by_writer(&self, name: &str, out: &mut Vec<u8>) -> Option<bool> {
        use crate::http::response::{ConnHeader, Framing};
        let (framing, conn) = self.sent_framing?;
        Some(match name {
            "content_length" => match framing {
                Framing::Length(n) => {
                    push_num(out, n);
                    true
                }
                _ => false,
            },
            "transfer_encoding" => {
                let chunked = framing == Framing::Chunked;
                if chunked {
                    out.extend_from_slice(b"chunked");
                }
                chunked
            }
            "connection" => {
                out.extend_from_slice(match conn {
                    ConnHeader::KeepAlive => b"keep-alive".as_slice(),
                    ConnHeader::Close => b"close",
                    ConnHeader::Upgrade => b"upgrade",
                });
                true
            }
            _ => return None,
        })
    }

    pub fn method(&self) -> &[u8] {
        if self.method_get_override && self.head.method() != b"HEAD" {
            b"GET"
        } else {
            self.head.method()
        }
    }

    pub fn is_head(&self) -> bool {
        self.head.method() == b"HEAD"
    }

    /// `$http_NAME`: the request header whose name, lowercased with `-` as
    /// `_`, equals `name`. nginx 1.22 joins repeated lines only for Cookie
    /// ("; ") and X-Forwarded-For (", "); other names give the first line
    /// (joining all headers came in 1.23).
    fn http_header(&self, name: &str, out: &mut Vec<u8>) -> bool {
        let mut found = false;
        let sep: &[u8] = match name {
            "cookie" => b"; ",
            "x_forwarded_for" => b", ",
            _ => b"",
        };
        for (n, v) in self.head.headers() {
            if header_var_eq(n, name) {
                if found {
                    if sep.is_empty() {
                        break;
                    }
                    out.extend_from_slice(sep);
                }
                out.extend_from_slice(v);
                found = true;
            }
        }
        found
    }

    fn arg(&self, name: &str, out: &mut Vec<u8>) -> bool {
        let Some(args) = &self.args else { return false };
        for pair in args.split(|&b| b == b'&') {
            let (k, v) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &b""[..]),
            };
            if k.eq_ignore_ascii_case(name.as_bytes()) {
                out.extend_from_slice(v);
                return true;
            }
        }
        false
    }

    fn cookie(&self, name: &str, out: &mut Vec<u8>) -> bool {
        for (n, v) in self.head.headers() {
            if !n.eq_ignore_ascii_case(b"cookie") {
                continue;
            }
            for c in v.split(|&b| b == b';') {
                let c = c.trim_ascii_start();
                if let Some(rest) = c.strip_prefix(name.as_bytes()) {
                    if let Some(val) = rest.strip_prefix(b"=") {
                        out.extend_from_slice(val);
                        return true;
                    }
                }
            }
        }
        false
    }

    /// Records a regex match on `subject`: `$1..$9` now refer to it, and its
    /// named captures become variables (ngx_http_regex_exec).
    pub fn set_captures(&mut self, caps: Captures, subject: Vec<u8>) {
        for (name, range) in caps.named_all() {
            let v = subject.get(range).unwrap_or_default().to_vec();
            match self.vars.iter_mut().find(|(n, _)| **n == *name) {
                Some(slot) => slot.1 = v,
                None => self.vars.push((Arc::from(name), v)),
            }
        }
        self.captures = caps;
        self.capture_subject = subject;
    }

    /// `set $name value`.
    pub fn set_var(&mut self, name: &Arc<str>, value: Vec<u8>) {
        match self.vars.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => self.vars.push((name.clone(), value)),
        }
    }

    fn capture(&self, n: usize, out: &mut Vec<u8>) -> bool {
        match self.captures.get(n).and_then(|r| self.capture_subject.get(r)) {
            Some(s) => {
                out.extend_from_slice(s);
                true
            }
            None => false,
        }
    }

    fn remote_user(&self, out: &mut Vec<u8>) -> bool {
        use base64::Engine;
        let Some(auth) = self.head.header(b"authorization") else {
            return false;
        };
        if auth.len() < 6 || !auth[..6].eq_ignore_ascii_case(b"basic ") {
            return false;
        }
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(auth[6..].trim_ascii()) else {
            return false;
        };
        let user = decoded.split(|&b| b == b':').next().unwrap_or(&[]);
        out.extend_from_slice(user);
        true
    }
}

/// `$http_x_forwarded_for` names `X-Forwarded-For`: compare lowercase with `-` as `_`.
pub fn header_var_eq(header: &[u8], var: &str) -> bool {
    header.len() == var.len()
        && header.iter().zip(var.bytes()).all(|(&h, v)| {
            let h = if h == b'-' { b'_' } else { h.to_ascii_lowercase() };
            h == v
        })
}

fn push_addr_ip(out: &mut Vec<u8>, a: &SocketAddr) {
    out.extend_from_slice(a.ip().to_string().as_bytes());
}

impl Request {
    /// A `set` variable that shadows a prefix family (`set $http_x ...`).
    fn shadowing(&self, var: &Var) -> Option<&[u8]> {
        let (prefix, name) = match var {
            Var::Http(n) => ("http_", n),
            Var::SentHttp(n) => ("sent_http_", n),
            Var::UpstreamHttp(n) => ("upstream_http_", n),
            Var::Arg(n) => ("arg_", n),
            Var::Cookie(n) => ("cookie_", n),
            _ => return None,
        };
        self.vars
            .iter()
            .find(|(k, _)| k.strip_prefix(prefix) == Some(name.as_str()))
            .map(|(_, v)| v.as_slice())
    }
}

impl VarSource for Request {
    fn var(&self, var: &Var, out: &mut Vec<u8>) -> bool {
        if !self.vars.is_empty() {
            if let Some(v) = self.shadowing(var) {
                out.extend_from_slice(v);
                return true;
            }
        }
        match var {
            Var::Host => match &self.host {
                Some(h) => out.extend_from_slice(h),
                None => out.extend_from_slice(&self.server.name),
            },
            Var::RemoteAddr => push_addr_ip(out, &self.conn.peer),
            Var::RemotePort => push_num(out, u64::from(self.conn.peer.port())),
            Var::RemoteUser => return self.remote_user(out),
            Var::ServerName => out.extend_from_slice(&self.server.name),
            Var::ServerAddr => push_addr_ip(out, &self.conn.local),
            Var::ServerPort => push_num(out, u64::from(self.conn.local.port())),
            Var::ServerProtocol if self.conn.http2.is_some() => out.extend_from_slice(b"HTTP/2.0"),
            // nginx: an empty (found) value on HTTP/1.x.
            Var::Http2 => out.extend_from_slice(self.conn.http2.unwrap_or("").as_bytes()),
            Var::ServerProtocol => out.extend_from_slice(match self.head.version() {
                Version::Http09 => b"HTTP/0.9",
                Version::Http10 => b"HTTP/1.0",
                Version::Http11 => b"HTTP/1.1",
            }),
            Var::Scheme => out.extend_from_slice(if self.conn.tls.is_some() {
                b"https"
            } else {
                b"http"
            }),
            Var::Https => {
                if self.conn.tls.is_some() {
                    out.extend_from_slice(b"on");
                }
            }
            Var::ProxyProtocolAddr => match &self.conn.proxy {
                Some(p) => push_addr_ip(out, &p.src),
                None => return false,
            },
            Var::ProxyProtocolPort => match &self.conn.proxy {
                Some(p) => push_num(out, u64::from(p.src.port())),
                None => return false,
            },
            Var::ProxyProtocolServerAddr => match &self.conn.proxy {
                Some(p) => push_addr_ip(out, &p.dst),
                None => return false,
            },
            Var::ProxyProtocolServerPort => match &self.conn.proxy {
                Some(p) => push_num(out, u64::from(p.dst.port())),
                None => return false,
            },
            Var::RealipRemoteAddr => push_addr_ip(out, &self.conn.tcp_peer),
            Var::RealipRemotePort => push_num(out, u64::from(self.conn.tcp_peer.port())),
            Var::SslProtocol => match &self.conn.tls {
                Some(t) if !t.protocol.is_empty() => out.extend_from_slice(t.protocol.as_bytes()),
                _ => return false,
            },
            Var::SslCipher => match &self.conn.tls {
                Some(t) if !t.cipher.is_empty() => out.extend_from_slice(t.cipher.as_bytes()),
                _ => return false,
            },
            Var::SslServerName => match self.conn.tls.as_ref().and_then(|t| t.server_name.as_deref()) {
                Some(n) => out.extend_from_slice(n.as_bytes()),
                None => return false,
            },
            // nginx logs an HTTP/2 request as `GET /x HTTP/2.0`.
            Var::Request if self.conn.http2.is_some() => {
                out.extend_from_slice(self.head.method());
                out.push(b' ');
                out.extend_from_slice(self.head.target());
                out.extend_from_slice(b" HTTP/2.0");
            }
            Var::Request => out.extend_from_slice(self.head.request_line()),
            Var::RequestMethod => out.extend_from_slice(self.method()),
            Var::RequestUri if self.bad_uri => return false,
            Var::RequestUri => out.extend_from_slice(self.head.target()),
            Var::Uri => out.extend_from_slice(&self.uri),
            Var::Args => match &self.args {
                Some(a) => out.extend_from_slice(a),
                None => return false,
            },
            // nginx: "?" only when `r->args.len` (a bare `?` has none).
            Var::IsArgs => {
                if self.query().is_some() {
                    out.push(b'?');
                }
            }
            Var::RequestLength => push_num(out, self.request_length),
            Var::RequestTime => push_secs(out, Some(self.started.elapsed())),
            Var::RequestId => out.extend_from_slice(
                format!(
                    "{:016x}{:016x}",
                    self.start_msec,
                    self.conn.number ^ (self.conn.requests << 32)
                )
                .as_bytes(),
            ),
            Var::ContentLength => match self.head.header(b"content-length") {
                Some(v) => out.extend_from_slice(v),
                None => return false,
            },
            Var::ContentType => match self.head.header(b"content-type") {
                Some(v) => out.extend_from_slice(v),
                None => return false,
            },
            Var::Msec => out.extend_from_slice(clock::now().msec().as_bytes()),
            Var::TimeLocal => out.extend_from_slice(clock::now().time_local().as_bytes()),
            Var::TimeIso8601 => out.extend_from_slice(clock::now().time_iso8601().as_bytes()),
            Var::Status => out.extend_from_slice(
                format!("{:03}", crate::http::status::wire_status(self.status)).as_bytes(),
            ),
            Var::BytesSent => push_num(out, self.bytes_sent),
            Var::BodyBytesSent => push_num(out, self.bytes_sent.saturating_sub(self.header_bytes)),
            Var::Connection => push_num(out, self.conn.number),
            Var::ConnectionRequests => push_num(out, self.conn.requests),
            Var::Pipe => out.push(if self.pipelined { b'p' } else { b'.' }),
            Var::Pid => push_num(out, u64::from(std::process::id())),
            Var::Hostname => out.extend_from_slice(crate::vars::hostname().as_bytes()),
            Var::Draining => {
                if crate::exchange::lifecycle::probes_failing() {
                    out.push(b'1');
                }
            }
            Var::NginxVersion => out.extend_from_slice(crate::http::status::NGINX_VERSION.as_bytes()),
            Var::ProxyHost => match &self.proxy_host {
                Some((h, _)) => out.extend_from_slice(h),
                None => return false,
            },
            Var::ProxyPort => match &self.proxy_host {
                Some((_, p)) => out.extend_from_slice(p),
                None => return false,
            },
            Var::ProxyAddXForwardedFor => {
                if self.http_header("x_forwarded_for", out) {
                    out.extend_from_slice(b", ");
                }
                push_addr_ip(out, &self.conn.peer);
            }
            Var::UpstreamAddr => {
                return self.upstream.render(out, |a, out, group| match (a.addr, group) {
                    (Some(addr), _) => out.extend_from_slice(addr.to_string().as_bytes()),
                    (None, Some(g)) => out.extend_from_slice(g.as_bytes()),
                    (None, None) => out.push(b'-'),
                })
            }
            Var::UpstreamStatus => {
                return self.upstream.render(out, |a, out, _| {
                    if a.status == 0 {
                        out.push(b'-')
                    } else {
                        push_num(out, u64::from(a.status))
                    }
                })
            }
            Var::UpstreamResponseTime => {
                return self.upstream.render(out, |a, out, _| push_secs(out, a.response))
            }
            Var::UpstreamConnectTime => {
                return self.upstream.render(out, |a, out, _| push_secs(out, a.connect))
            }
            Var::UpstreamHeaderTime => {
                return self.upstream.render(out, |a, out, _| push_secs(out, a.header))
            }
            Var::UpstreamResponseLength => {
                return self.upstream.render(out, |a, out, _| push_opt(out, a.length))
            }
            Var::UpstreamBytesReceived => {
                return self.upstream.render(out, |a, out, _| push_opt(out, a.received))
            }
            Var::UpstreamBytesSent => return self.upstream.render(out, |a, out, _| push_opt(out, a.sent)),
            Var::ConnectionsActive => push_num(out, counters::snapshot().active),
            Var::ConnectionsReading => push_num(out, counters::snapshot().reading),
            Var::ConnectionsWriting => push_num(out, counters::snapshot().writing),
            Var::ConnectionsWaiting => push_num(out, counters::snapshot().waiting),
            Var::Http(name) => return self.http_header(name, out),
            // nginx 1.22: the first header of the name, except Cache-Control
            // and Link, whose lines it keeps in arrays and joins with ", ".
            Var::SentHttp(name) => {
                if let Some(found) = self.sent_by_writer(name, out) {
                    return found;
                }
                let join = matches!(name.as_str(), "cache_control" | "link");
                let mut found = false;
                for (n, v) in &self.sent_headers {
                    if header_var_eq(n, name) {
                        if found {
                            out.extend_from_slice(b", ");
                        }
                        out.extend_from_slice(v);
                        found = true;
                        if !join {
                            break;
                        }
                    }
                }
                return found;
            }
            Var::UpstreamHttp(_) => return false,
            Var::Arg(name) => return self.arg(name, out),
            Var::Cookie(name) => return self.cookie(name, out),
            Var::Capture(n) => return self.capture(usize::from(*n), out),
            Var::Named(name) => match self.vars.iter().find(|(n, _)| **n == **name) {
                Some((_, v)) => out.extend_from_slice(v),
                None => return false,
            },
            Var::GzipRatio => match self.gzip {
                Some((zin, zout)) if zout > 0 => {
                    out.extend_from_slice(crate::filters::gzip::ratio(zin, zout).as_bytes());
                }
                _ => return false,
            },
            Var::RequestBody => match &self.request_body {
                Some(b) => out.extend_from_slice(b),
                None => return false,
            },
            // rampart never writes request bodies to temp files.
            Var::RequestBodyFile => return false,
            Var::DocumentRoot => out.extend_from_slice(&super::doc_root::document_root(self)),
            Var::RequestFilename => {
                use std::os::unix::ffi::OsStrExt;
                match super::doc_root::map_path(self, &self.uri) {
                    Some(p) => out.extend_from_slice(p.as_os_str().as_bytes()),
                    None => return false,
                }
            }
        }
        true
    }
}
