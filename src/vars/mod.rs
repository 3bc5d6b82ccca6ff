//! nginx variables: `$name` / `${name}` references inside configuration strings
//! (`log_format`, `add_header`, `proxy_set_header`, `return`, ...).
//!
//! A string is compiled once, at config load, into a [`Template`]: literal byte
//! runs and [`Var`] references. At request time the template is evaluated
//! against a [`VarSource`] (the request context) that appends each variable's
//! value to an output buffer, so evaluation allocates nothing per variable.

mod hostname;
pub use hostname::hostname;

use std::fmt;

/// One variable an nginx config can name. Fixed names are enum variants so that
/// evaluation is a `match`, not a string lookup on the request path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Var {
    Host,
    RemoteAddr,
    RemotePort,
    RemoteUser,
    ServerName,
    ServerAddr,
    ServerPort,
    ServerProtocol,
    /// `$http2`: "h2", "h2c" or empty.
    Http2,
    Scheme,
    Https,
    Request,
    RequestMethod,
    RequestUri,
    Uri,
    Args,
    IsArgs,
    RequestLength,
    RequestTime,
    RequestId,
    ContentLength,
    ContentType,
    Msec,
    TimeLocal,
    TimeIso8601,
    Status,
    BytesSent,
    BodyBytesSent,
    Connection,
    ConnectionRequests,
    Pipe,
    Pid,
    Hostname,
    /// `$draining` (rampart): "1" once a graceful stop began, else empty.
    Draining,
    NginxVersion,
    ProxyHost,
    ProxyPort,
    ProxyAddXForwardedFor,
    UpstreamAddr,
    UpstreamStatus,
    UpstreamResponseTime,
    UpstreamConnectTime,
    UpstreamHeaderTime,
    UpstreamResponseLength,
    UpstreamBytesReceived,
    UpstreamBytesSent,
    ConnectionsActive,
    ConnectionsReading,
    ConnectionsWriting,
    ConnectionsWaiting,
    /// PROXY protocol header fields (nginx: ngx_http_variables.c, 1.5.12+/1.17.6+).
    ProxyProtocolAddr,
    ProxyProtocolPort,
    ProxyProtocolServerAddr,
    ProxyProtocolServerPort,
    /// The TCP peer before real_ip replaced it (ngx_http_realip_module.c).
    RealipRemoteAddr,
    RealipRemotePort,
    /// TLS facts of the connection (ngx_http_ssl_module.c); empty on plain HTTP.
    SslProtocol,
    SslCipher,
    SslServerName,
    RequestBody,
    RequestBodyFile,
    /// `root`/`alias` as evaluated for the request (ngx_http_variable_document_root).
    DocumentRoot,
    /// The file the static handler would map `$uri` to (root or alias + URI).
    RequestFilename,
    /// `$gzip_ratio`: uncompressed / compressed size of a gzipped response.
    GzipRatio,
    /// `$http_NAME`: a request header; NAME is lowercase with `_` for `-`.
    Http(String),
    /// `$sent_http_NAME`: a response header.
    SentHttp(String),
    /// `$upstream_http_NAME`: a header of the upstream's response.
    UpstreamHttp(String),
    /// `$arg_NAME`: a query argument.
    Arg(String),
    /// `$cookie_NAME`: a cookie from the request.
    Cookie(String),
    /// `$1`..`$9`: a positional regex capture of the last matched regex.
    Capture(u8),
    /// Anything else: a named regex capture or a `set` variable.
    Named(String),
}

impl Var {
    /// Maps a variable name (without `$`) to a [`Var`]. Names that are not
    /// built in become [`Var::Named`]; the config compiler decides whether a
    /// named capture or `set` defines them.
    pub fn from_name(name: &str) -> Var {
        use Var::*;
        if let Some(rest) = name.strip_prefix("http_") {
            return Http(rest.to_ascii_lowercase());
        }
        if let Some(rest) = name.strip_prefix("sent_http_") {
            return SentHttp(rest.to_ascii_lowercase());
        }
        if let Some(rest) = name.strip_prefix("upstream_http_") {
            return UpstreamHttp(rest.to_ascii_lowercase());
        }
        if let Some(rest) = name.strip_prefix("arg_") {
            return Arg(rest.to_string());
        }
        if let Some(rest) = name.strip_prefix("cookie_") {
            return Cookie(rest.to_string());
        }
        if name.len() == 1 && name.as_bytes()[0].is_ascii_digit() {
            return Capture(name.as_bytes()[0] - b'0');
        }
        match name {
            "host" => Host,
            "remote_addr" => RemoteAddr,
            "remote_port" => RemotePort,
            "remote_user" => RemoteUser,
            "server_name" => ServerName,
            "server_addr" => ServerAddr,
            "server_port" => ServerPort,
            "server_protocol" => ServerProtocol,
            "http2" => Http2,
            "scheme" => Scheme,
            "proxy_protocol_addr" => ProxyProtocolAddr,
            "proxy_protocol_port" => ProxyProtocolPort,
            "proxy_protocol_server_addr" => ProxyProtocolServerAddr,
            "proxy_protocol_server_port" => ProxyProtocolServerPort,
            "realip_remote_addr" => RealipRemoteAddr,
            "realip_remote_port" => RealipRemotePort,
            "ssl_protocol" => SslProtocol,
            "ssl_cipher" => SslCipher,
            "ssl_server_name" => SslServerName,
            "https" => Https,
            "request" => Request,
            "request_method" => RequestMethod,
            "request_uri" => RequestUri,
            "uri" | "document_uri" => Uri,
            "args" | "query_string" => Args,
            "is_args" => IsArgs,
            "request_length" => RequestLength,
            "request_time" => RequestTime,
            "request_id" => RequestId,
            "content_length" => ContentLength,
            "content_type" => ContentType,
            "msec" => Msec,
            "time_local" => TimeLocal,
            "time_iso8601" => TimeIso8601,
            "status" => Status,
            "bytes_sent" => BytesSent,
            "body_bytes_sent" => BodyBytesSent,
            "connection" => Connection,
            "connection_requests" => ConnectionRequests,
            "pipe" => Pipe,
            "pid" => Pid,
            "hostname" => Hostname,
            "draining" => Draining,
            "nginx_version" => NginxVersion,
            "proxy_host" => ProxyHost,
            "proxy_port" => ProxyPort,
            "proxy_add_x_forwarded_for" => ProxyAddXForwardedFor,
            "upstream_addr" => UpstreamAddr,
            "upstream_status" => UpstreamStatus,
            "upstream_response_time" => UpstreamResponseTime,
            "upstream_connect_time" => UpstreamConnectTime,
            "upstream_header_time" => UpstreamHeaderTime,
            "upstream_response_length" => UpstreamResponseLength,
            "upstream_bytes_received" => UpstreamBytesReceived,
            "upstream_bytes_sent" => UpstreamBytesSent,
            "connections_active" => ConnectionsActive,
            "connections_reading" => ConnectionsReading,
            "connections_writing" => ConnectionsWriting,
            "connections_waiting" => ConnectionsWaiting,
            "request_body" => RequestBody,
            "request_body_file" => RequestBodyFile,
            "document_root" => DocumentRoot,
            "request_filename" => RequestFilename,
            "gzip_ratio" => GzipRatio,
            other => Named(other.to_string()),
        }
    }
}

/// Variables nginx 1.22 has that rampart does not implement (yet): a config
/// naming one is rejected as "not implemented", not as unknown.
pub fn nginx_only(name: &str) -> bool {
    const NAMES: &[&str] = &[
        "binary_remote_addr",
        "realpath_root",
        "limit_rate",
        "request_completion",
        "upstream_cache_status",
        "upstream_queue_time",
        "proxy_protocol_addr",
        "proxy_protocol_port",
        "proxy_protocol_server_addr",
        "proxy_protocol_server_port",
        "realip_remote_addr",
        "realip_remote_port",
        "tcpinfo_rtt",
        "tcpinfo_rttvar",
        "tcpinfo_snd_cwnd",
        "tcpinfo_rcv_space",
        "date_local",
        "date_gmt",
        "fastcgi_script_name",
        "fastcgi_path_info",
        "uid_got",
        "uid_set",
        "uid_reset",
        "invalid_referer",
        "secure_link",
        "secure_link_expires",
        "limit_conn_status",
        "limit_req_status",
        "msec_local",
        "server_addr_binary",
    ];
    NAMES.contains(&name)
        || [
            "ssl_",
            "upstream_cookie_",
            "sent_trailer_",
            "upstream_trailer_",
            "geoip_",
        ]
        .iter()
        .any(|p| name.starts_with(p))
}

/// Where variable values come from: the request context implements this.
pub trait VarSource {
    /// Appends the raw value of `var` to `out`. Returns `false` when the
    /// variable is "not found" (nginx logs that as `-`), `true` otherwise,
    /// including when the value is empty.
    fn var(&self, var: &Var, out: &mut Vec<u8>) -> bool;
}

/// A piece of a compiled template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Lit(Box<[u8]>),
    Var(Var),
}

/// A configuration string with its variable references resolved at load time.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Template {
    parts: Vec<Part>,
}

/// Why a template failed to compile; shown to the operator with file:line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError(pub String);

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TemplateError {}

fn is_var_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl Template {
    /// Compiles `s` the way nginx's script compiler reads it: `$name` runs over
    /// `[A-Za-z0-9_]`, `${name}` may be followed directly by letters, and a
    /// `$` followed by anything else is an error ("invalid variable name").
    pub fn compile(s: &str) -> Result<Template, TemplateError> {
        let b = s.as_bytes();
        let mut parts = Vec::new();
        let mut lit: Vec<u8> = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] != b'$' {
                lit.push(b[i]);
                i += 1;
                continue;
            }
            i += 1;
            let (name, next) = if b.get(i) == Some(&b'{') {
                let start = i + 1;
                let end = b[start..]
                    .iter()
                    .position(|&c| c == b'}')
                    .map(|p| start + p)
                    .ok_or_else(|| {
                        TemplateError(format!("the closing bracket in \"{s}\" variable is missing"))
                    })?;
                (&s[start..end], end + 1)
            } else {
                let start = i;
                // `$1`..`$9` are single digits, as in nginx.
                let end = if b.get(i).is_some_and(|c| c.is_ascii_digit()) {
                    i + 1
                } else {
                    start + b[start..].iter().take_while(|&&c| is_var_char(c)).count()
                };
                (&s[start..end], end)
            };
            if name.is_empty() || !name.bytes().all(is_var_char) {
                return Err(TemplateError(format!("invalid variable name in \"{s}\"")));
            }
            if !lit.is_empty() {
                parts.push(Part::Lit(std::mem::take(&mut lit).into_boxed_slice()));
            }
            // `${1}` is not a capture in nginx (ngx_http_script_compile reads
            // a digit only right after `$`): it names the unknown variable "1".
            let var = if b.get(i) == Some(&b'{') && name.bytes().all(|c| c.is_ascii_digit()) {
                Var::Named(name.to_string())
            } else {
                Var::from_name(name)
            };
            parts.push(Part::Var(var));
            i = next;
        }
        if !lit.is_empty() {
            parts.push(Part::Lit(lit.into_boxed_slice()));
        }
        Ok(Template { parts })
    }

    /// A template that is just `text`, with no variables.
    pub fn literal(text: &[u8]) -> Template {
        let parts = if text.is_empty() {
            Vec::new()
        } else {
            vec![Part::Lit(text.into())]
        };
        Template { parts }
    }

    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// True when the template has no variables (its value is fixed).
    pub fn is_static(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Lit(_)))
    }

    /// Every variable the template refers to.
    pub fn vars(&self) -> impl Iterator<Item = &Var> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(v) => Some(v),
            Part::Lit(_) => None,
        })
    }

    /// Appends the evaluated template to `out`; not-found variables add nothing.
    pub fn eval(&self, src: &dyn VarSource, out: &mut Vec<u8>) {
        for p in &self.parts {
            match p {
                Part::Lit(l) => out.extend_from_slice(l),
                Part::Var(v) => {
                    src.var(v, out);
                }
            }
        }
    }

    /// Evaluates into a fresh buffer.
    pub fn eval_to_vec(&self, src: &dyn VarSource) -> Vec<u8> {
        let mut out = Vec::new();
        self.eval(src, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Src;
    impl VarSource for Src {
        fn var(&self, var: &Var, out: &mut Vec<u8>) -> bool {
            match var {
                Var::Host => out.extend_from_slice(b"example.org"),
                Var::Http(n) if n == "user_agent" => out.extend_from_slice(b"curl"),
                Var::Capture(1) => out.extend_from_slice(b"one"),
                _ => return false,
            }
            true
        }
    }

    #[test]
    fn compiles_and_evaluates() {
        let cases: &[(&str, &str)] = &[
            ("plain", "plain"),
            ("$host", "example.org"),
            ("${host}name", "example.orgname"),
            ("a $host b", "a example.org b"),
            ("$http_user_agent/$1x", "curl/onex"),
            ("$missing!", "!"),
            ("", ""),
        ];
        for (src, want) in cases {
            let t = Template::compile(src).unwrap();
            assert_eq!(
                String::from_utf8(t.eval_to_vec(&Src)).unwrap(),
                *want,
                "template {src:?}"
            );
        }
    }

    #[test]
    fn rejects_bad_names() {
        for bad in ["$", "a$", "${host", "$-x", "${}"] {
            assert!(Template::compile(bad).is_err(), "{bad:?} must be rejected");
        }
    }

    #[test]
    fn names_map_to_variants() {
        assert_eq!(
            Var::from_name("http_x_forwarded_for"),
            Var::Http("x_forwarded_for".into())
        );
        assert_eq!(Var::from_name("arg_id"), Var::Arg("id".into()));
        assert_eq!(Var::from_name("document_uri"), Var::Uri);
        assert_eq!(Var::from_name("5"), Var::Capture(5));
        assert_eq!(Var::from_name("foo"), Var::Named("foo".into()));
        let braced = Template::compile("${1}").unwrap();
        assert_eq!(braced.vars().next(), Some(&Var::Named("1".into())));
        let bare = Template::compile("$10").unwrap();
        assert_eq!(bare.parts()[0], Part::Var(Var::Capture(1)));
        assert_eq!(bare.parts()[1], Part::Lit(b"0"[..].into()));
    }
}
