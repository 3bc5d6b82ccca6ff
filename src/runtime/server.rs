//! Compiling `server` and `location` blocks: per-address virtual host tables,
//! location trees and handlers.

use super::loc_conf::{resolve, Resolved};
use super::{defaults, CompileCtx, Listener};
use crate::config::value::listen::{parse_listen, ListenOpts};
use crate::config::ConfigError;
use crate::config::Located;
use crate::exchange::loc_conf::{LocCore, ServerCore};
use crate::http1::HeadLimits;
use crate::model::{Config, ConnSettings, LocSettings, Location, ReturnDef, RewriteStep, Server};
use crate::rewrite::ReturnRt;
use crate::routing::location::{LocationError, LocationSpec, LocationTree, Modifier};
use crate::routing::server_name::NameTable;
use crate::upstream::Pool;
use crate::vars::Template;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The servers reachable through one listening address.
pub struct VirtualHosts {
    pub names: NameTable,
    pub servers: Vec<Arc<ServerRt>>,
    pub default: usize,
    /// Settings that apply before the server is known: the default server's.
    pub conn: ConnConf,
}

impl VirtualHosts {
    pub fn default_server(&self) -> &Arc<ServerRt> {
        // `default` is an index into `servers`, checked when the table is built.
        &self.servers[self.default]
    }
}

/// Connection-level settings (from the default server of the address).
#[derive(Debug, Clone)]
pub struct ConnConf {
    pub limits: HeadLimits,
    pub header_timeout: Duration,
    pub merge_slashes: bool,
    /// The address's `listen ... proxy_protocol` flag (set per address, not per server).
    pub proxy_protocol: bool,
    /// The address's `listen ... ssl` flag.
    pub ssl: bool,
    /// The TLS acceptor of an `ssl` address (SNI picks among its servers' certificates).
    pub tls: Option<crate::tls::TlsListener>,
    /// The address's `listen ... http2` flag (or `http2 on` in one of its servers).
    pub http2: bool,
    /// The HTTP/2 settings of the address's default server.
    pub h2: H2Conf,
}

/// HTTP/2 connection settings (nginx's ngx_http_v2_srv_conf_t).
#[derive(Debug, Clone, Copy)]
pub struct H2Conf {
    /// `http2_max_concurrent_streams` (128).
    pub max_concurrent_streams: u32,
    /// `http2_body_preread_size` (64k): each stream's initial receive window.
    pub body_preread_size: u32,
    /// `http2 on` in this server (nginx 1.25 syntax).
    pub on: bool,
}

pub struct ServerRt {
    /// What a request sees of its server: the primary name and the counters.
    pub core: Arc<ServerCore>,
    pub locations: LocationTree<Arc<LocationRt>>,
    /// Settings of the server level itself, used when no location matches.
    pub server_loc: Arc<LocationRt>,
    /// The server-level rewrite script (before location matching).
    pub rewrite: Vec<crate::rewrite::Op>,
    /// `return` at server level (runs before location matching, after `rewrite`).
    pub return_: Option<ReturnRt>,
}

/// One location of the snapshot: the core part a request carries
/// (`Request::loc`) and the features' own settings, which the phases hand to
/// each feature (nginx's per-module loc conf).
pub struct LocationRt {
    pub core: Arc<LocCore>,
    pub handler: Handler,
    /// The location's rewrite script (rewrite phase, before the access phase).
    pub rewrite: Vec<crate::rewrite::Op>,
    /// proxy_* settings, merged into every location as nginx merges them.
    pub proxy: Arc<ProxyConf>,
    /// index, try_files, types, charset, validators, open_file_cache.
    pub stat: Arc<crate::static_files::StaticConf>,
}

pub enum Handler {
    Proxy(ProxyTarget),
    Return(ReturnRt),
    /// `stub_status`: nginx's connection counters page.
    StubStatus,
    /// `metrics = true`: the Prometheus exposition.
    Metrics,
    /// `health_probe`: 200 while serving, 503 once a graceful stop began.
    HealthProbe,
    /// `check_status [html|csv|json]`: the health-check status page.
    CheckStatus(crate::health::status::Format),
    /// No proxy_pass or return: nginx's static, index and try_files
    /// modules (settings in `LocationRt::stat`).
    Static,
}

use crate::proxy::conf::{DynamicProxy, ProxyConf, ProxyTarget};

fn parse_location_match(ctx: &CompileCtx, line: usize, s: &str) -> Result<(Modifier, String), ConfigError> {
    let s = s.trim();
    let (m, rest) = if let Some(r) = s.strip_prefix("~*") {
        (Modifier::Regex { caseless: true }, r)
    } else if let Some(r) = s.strip_prefix("^~") {
        (Modifier::NoRegex, r)
    } else if let Some(r) = s.strip_prefix('~') {
        (Modifier::Regex { caseless: false }, r)
    } else if let Some(r) = s.strip_prefix('=') {
        (Modifier::Exact, r)
    } else if s.starts_with('@') {
        (Modifier::Named, s)
    } else {
        (Modifier::Prefix, s)
    };
    let pattern = rest.trim();
    if pattern.is_empty() || pattern.contains(char::is_whitespace) && !matches!(m, Modifier::Regex { .. }) {
        return Err(ctx
            .err(line, format!("invalid location \"{s}\""))
            .directive("location"));
    }
    Ok((m, pattern.to_string()))
}

fn compile_return(ctx: &CompileCtx, line: usize, r: &ReturnDef) -> Result<ReturnRt, ConfigError> {
    let t = |s: &str| {
        let t = Template::compile(s).map_err(|e| ctx.err(line, e.to_string()).directive("return"))?;
        ctx.check_vars(line, "return", &t)?;
        Ok::<_, ConfigError>(t)
    };
    let (code, text) = match r {
        ReturnDef::Code(c) => (*c, None),
        ReturnDef::Url(u) => {
            if !(u.starts_with("http://") || u.starts_with("https://") || u.starts_with("$scheme")) {
                return Err(ctx
                    .err(line, format!("invalid return code \"{u}\""))
                    .directive("return"));
            }
            (302, Some(t(u)?))
        }
        ReturnDef::CodeText(c, s) => (*c, Some(t(s)?)),
    };
    if code > 999 {
        return Err(ctx
            .err(line, format!("invalid return code \"{code}\""))
            .directive("return"));
    }
    Ok(ReturnRt { code, text })
}

/// Compiles a level's rewrite script; `line` is the level's, for steps without one.
fn compile_script(
    ctx: &CompileCtx,
    steps: &[Located<RewriteStep>],
    line: usize,
) -> Result<Vec<crate::rewrite::Op>, ConfigError> {
    let mut ops = Vec::with_capacity(steps.len());
    for st in steps {
        let l = if st.line > 0 { st.line } else { line };
        let op = match &st.value.return_ {
            Some(r) => crate::rewrite::Op::Return(compile_return(ctx, l, r)?),
            None => crate::rewrite::compile_step(&st.value).map_err(|(d, e)| ctx.err(l, e).directive(d))?,
        };
        match &op {
            crate::rewrite::Op::Rewrite(r) => ctx.check_vars(l, "rewrite", &r.replacement)?,
            crate::rewrite::Op::Set(_, t) => ctx.check_vars(l, "set", t)?,
            _ => {}
        }
        ops.push(op);
    }
    Ok(ops)
}

/// Splits `http://host[:port][/uri]`.
fn compile_proxy_pass(
    ctx: &CompileCtx,
    line: usize,
    url: &str,
    modifier: &Modifier,
    location_name: &str,
    upstreams: &mut HashMap<String, Arc<Pool>>,
) -> Result<ProxyTarget, ConfigError> {
    let err = |m: String| ctx.err(line, m).directive("proxy_pass");
    if url.contains('$') {
        let t = Template::compile(url).map_err(|e| err(e.to_string()))?;
        ctx.check_vars(line, "proxy_pass", &t)?;
        return Ok(ProxyTarget {
            pool: Arc::new(Pool::new(String::new(), Vec::new())),
            uri: None,
            full_uri: true,
            dynamic: Some(Arc::new(DynamicProxy {
                url: t,
                upstreams: upstreams.clone(),
            })),
            proxy_host: Box::default(),
            proxy_port: Box::default(),
            redirect_from: Box::default(),
            redirect_to: Box::default(),
            peer_stats: Box::default(),
        });
    }
    let rest = if let Some(r) = url.strip_prefix("http://") {
        r
    } else if url.starts_with("https://") {
        return Err(err("https upstreams are not implemented yet".into()));
    } else {
        return Err(err(format!("invalid URL prefix in \"{url}\"")));
    };
    let (authority, uri) = match rest.find('/') {
        Some(i) => (&rest[..i], Some(&rest[i..])),
        None => (rest, None),
    };
    if authority.is_empty() {
        return Err(err(format!("no host in \"{url}\"")));
    }
    if uri.is_some() && matches!(modifier, Modifier::Regex { .. } | Modifier::Named) {
        return Err(err(
            "\"proxy_pass\" cannot have URI part in location given by regular expression, or inside named \
             location, or inside \"if\" statement, or inside \"limit_except\" block"
                .into(),
        ));
    }
    let has_port = authority
        .rsplit_once(':')
        .is_some_and(|(h, p)| !h.ends_with(']') || p.is_empty())
        && !authority.ends_with(']');
    let (pool, proxy_host, port) = if let (false, Some(pool)) = (has_port, upstreams.get(authority)) {
        (pool.clone(), authority.to_string(), "80".to_string())
    } else {
        let key = if has_port {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        let pool = match upstreams.get(&key) {
            Some(p) => p.clone(),
            None => {
                let peers = crate::upstream::parse_server(authority).map_err(err)?;
                let p = Arc::new(Pool::new(key.clone(), peers));
                upstreams.insert(key.clone(), p.clone());
                p
            }
        };
        let port = key.rsplit_once(':').map_or("80", |(_, p)| p).to_string();
        let host = if port == "80" {
            key.trim_end_matches(":80").to_string()
        } else {
            key.clone()
        };
        (pool, host, port)
    };
    // proxy_redirect default: the URL as written (plus "/" without a URI
    // part) becomes the location's name (or "/").
    let (redirect_from, redirect_to) = match uri {
        Some(_) => (url.to_string(), location_name.to_string()),
        None => (format!("{url}/"), "/".to_string()),
    };
    let peer_stats = pool
        .peers
        .iter()
        .map(|p| (p.addr, crate::status::metrics::peer_stats(&pool.name, p.addr)))
        .collect();
    Ok(ProxyTarget {
        peer_stats,
        pool,
        uri: uri.map(|u| u.as_bytes().into()),
        full_uri: false,
        dynamic: None,
        proxy_host: proxy_host.into_bytes().into(),
        proxy_port: port.into_bytes().into(),
        redirect_from: redirect_from.into_bytes().into(),
        redirect_to: redirect_to.into_bytes().into(),
    })
}

/// nginx merges a location before its nested ones, and its merge turns the
/// implicit or explicit `default` of a location with a static proxy_pass
/// into the concrete rule `URL -> prefix`: nested locations that set no
/// `proxy_redirect` inherit that rule, with THIS location's URL, not their own.
/// `None`: the children inherit the settings unchanged.
fn redirect_for_children(settings: &LocSettings, handler: &Handler) -> Option<LocSettings> {
    let Handler::Proxy(t) = handler else {
        return None;
    };
    if t.dynamic.is_some() || t.redirect_from.is_empty() {
        return None;
    }
    let from = String::from_utf8_lossy(&t.redirect_from).into_owned();
    let to = String::from_utf8_lossy(&t.redirect_to).into_owned();
    // A `$` would be read as a variable in the inherited rule: keep nginx's rule out of reach then.
    if from.contains('$') || to.contains('$') {
        return None;
    }
    let concrete = vec![from, to];
    let entries: Vec<Vec<String>> = match &settings.proxy.proxy_redirect {
        None => vec![concrete],
        Some(l) if l.value.iter().any(|e| e.first().is_some_and(|w| w == "default")) => l
            .value
            .iter()
            .map(|e| {
                if e.first().is_some_and(|w| w == "default") {
                    concrete.clone()
                } else {
                    e.clone()
                }
            })
            .collect(),
        Some(_) => return None,
    };
    let line = settings.proxy.proxy_redirect.as_ref().map_or(0, |l| l.line);
    let mut s = settings.clone();
    s.proxy.proxy_redirect = Some(Located::new(entries, line));
    Some(s)
}

/// `proxy_redirect default` at the http or server level: nginx has no
/// proxy_pass there to take it from.
fn no_redirect_default(ctx: &CompileCtx, s: &LocSettings, line: usize) -> Result<(), ConfigError> {
    match &s.proxy.proxy_redirect {
        Some(l) if l.value.iter().any(|e| e.first().is_some_and(|w| w == "default")) => Err(ctx
            .err(
                if l.line > 0 { l.line } else { line },
                "\"proxy_redirect default\" should be placed after the \"proxy_pass\" directive",
            )
            .directive("proxy_redirect")),
        _ => Ok(()),
    }
}

/// `proxy_redirect default` needs this level's `proxy_pass`, one without
/// variables (ngx_http_proxy_redirect reads `plcf->url` and `proxy_lengths`).
fn check_redirect_default(ctx: &CompileCtx, loc: &Location) -> Result<(), ConfigError> {
    let Some(l) = &loc.proxy.proxy_redirect else {
        return Ok(());
    };
    if !l.value.iter().any(|e| e.first().is_some_and(|w| w == "default")) {
        return Ok(());
    }
    let line = if l.line > 0 { l.line } else { loc.match_.line };
    let msg = match &loc.proxy_pass {
        None => "\"proxy_redirect default\" should be placed after the \"proxy_pass\" directive",
        Some(p) if p.value.contains('$') => {
            "\"proxy_redirect default\" cannot be used with \"proxy_pass\" directive with variables"
        }
        Some(_) => return Ok(()),
    };
    Err(ctx.err(line, msg).directive("proxy_redirect"))
}

fn compile_location(
    ctx: &mut CompileCtx,
    loc: &Location,
    parent: &LocSettings,
    upstreams: &mut HashMap<String, Arc<Pool>>,
) -> Result<LocationSpec<Arc<LocationRt>>, ConfigError> {
    let line = loc.match_.line;
    let (modifier, pattern) = parse_location_match(ctx, line, &loc.match_.value)?;
    let mut settings = loc.loc_settings();
    check_redirect_default(ctx, loc)?;
    // root and alias are one slot in nginx: a level that sets either inherits neither.
    let own_path = settings.root.is_some() || settings.alias.is_some();
    settings.inherit(parent);
    if own_path {
        if loc.root.is_some() {
            settings.alias = None;
        } else {
            settings.root = None;
        }
    }
    let conf = resolve(ctx, &settings, line)?;
    let status_handlers = usize::from(loc.stub_status == Some(true))
        + usize::from(loc.metrics == Some(true))
        + usize::from(loc.health_probe == Some(true));
    if status_handlers > 0 && (status_handlers > 1 || loc.proxy_pass.is_some() || loc.return_.is_some()) {
        // nginx: one content handler per location ("... directive is duplicate").
        let d = if loc.stub_status == Some(true) {
            "stub_status"
        } else if loc.metrics == Some(true) {
            "metrics"
        } else {
            "health_probe"
        };
        return Err(ctx
            .err(
                line,
                "one location can have only one of \"proxy_pass\", \"return\", \"stub_status\", \"metrics\", \"health_probe\"",
            )
            .directive(d));
    }
    let handler = match (&loc.proxy_pass, &loc.return_) {
        _ if loc.stub_status == Some(true) => Handler::StubStatus,
        _ if loc.metrics == Some(true) => Handler::Metrics,
        _ if loc.health_probe == Some(true) => Handler::HealthProbe,
        (Some(_), Some(_)) => {
            return Err(ctx
                .err(line, "\"proxy_pass\" and \"return\" in one location")
                .directive("return"))
        }
        (Some(pp), None) => Handler::Proxy(compile_proxy_pass(
            ctx,
            pp.line.max(line),
            &pp.value,
            &modifier,
            &pattern,
            upstreams,
        )?),
        (None, Some(r)) => Handler::Return(compile_return(ctx, if r.line > 0 { r.line } else { line }, r)?),
        (None, None) => Handler::Static,
    };
    // check_status replaces the content handler (the module sets
    // `clcf->handler`); `return` still runs first, in the rewrite phase.
    let handler = match (&loc.check_status, handler) {
        (Some(f), Handler::Static | Handler::Proxy(_)) => {
            let format = crate::health::status::Format::parse(f.value.as_bytes()).ok_or_else(|| {
                ctx.err(f.line.max(line), format!("invalid check format \"{}\"", f.value))
                    .directive("check_status")
            })?;
            Handler::CheckStatus(format)
        }
        (_, h) => h,
    };
    let auto_redirect = matches!(handler, Handler::Proxy(_))
        && matches!(modifier, Modifier::Prefix | Modifier::Exact | Modifier::NoRegex);
    let mut nested = Vec::new();
    let for_children = redirect_for_children(&settings, &handler);
    for child in &loc.location {
        nested.push(compile_location(
            ctx,
            child,
            for_children.as_ref().unwrap_or(&settings),
            upstreams,
        )?);
    }
    let prefix_len = if matches!(modifier, Modifier::Regex { .. } | Modifier::Named) {
        0
    } else {
        pattern.len()
    };
    let Resolved { core, proxy, stat } = conf;
    let rt = LocationRt {
        core: Arc::new(LocCore {
            name: loc.match_.value.trim().to_string(),
            conf: core,
            internal: loc.internal.unwrap_or(false),
            prefix_len,
        }),
        handler,
        rewrite: compile_script(ctx, &loc.rewrite, line)?,
        proxy,
        stat,
    };
    Ok(LocationSpec {
        modifier,
        pattern,
        data: Arc::new(rt),
        auto_redirect,
        nested,
    })
}

/// The line of the `location` an error of [`LocationTree::build`] is about,
/// so that it is reported where nginx reports it: at the offending block
/// (nginx/nginx: src/http/ngx_http_core_module.c `ngx_http_core_location`
/// for regexes, nesting and named locations; src/http/ngx_http.c
/// `ngx_http_join_exact_locations` reports a duplicate at its second copy).
fn location_error_line(ctx: &CompileCtx, locs: &[Location], err: &LocationError) -> Option<usize> {
    // (depth, pattern, line, line of the first nested location), in file order.
    fn walk(ctx: &CompileCtx, locs: &[Location], depth: usize, out: &mut Vec<(usize, String, usize, usize)>) {
        for l in locs {
            if let Ok((_, pattern)) = parse_location_match(ctx, l.match_.line, &l.match_.value) {
                let kid = l.location.first().map_or(0, |k| k.match_.line);
                out.push((depth, pattern, l.match_.line, kid));
            }
            walk(ctx, &l.location, depth + 1, out);
        }
    }
    let mut all = Vec::new();
    walk(ctx, locs, 0, &mut all);
    let line = match err {
        LocationError::BadRegex { pattern, .. } => all.iter().find(|a| a.1 == *pattern)?.2,
        LocationError::Duplicate(name) => all.iter().rev().find(|a| a.1 == *name)?.2,
        LocationError::Outside { child, .. } => all.iter().find(|a| a.0 > 0 && a.1 == *child)?.2,
        LocationError::NestedInExactOrNamed(parent) => all.iter().find(|a| a.1 == *parent)?.3,
        LocationError::NamedNotAtServerLevel(name) => {
            let at = format!("@{name}");
            all.iter().find(|a| a.0 > 0 && a.1 == at)?.2
        }
    };
    (line > 0).then_some(line)
}

fn conn_conf(ctx: &CompileCtx, line: usize, s: &ConnSettings) -> Result<ConnConf, ConfigError> {
    let (n, size) = match &s.large_client_header_buffers {
        None => (
            defaults::LARGE_CLIENT_HEADER_BUFFERS.0,
            defaults::LARGE_CLIENT_HEADER_BUFFERS.1,
        ),
        Some(v) => {
            let mut w = v.split_whitespace();
            let bad = || {
                ctx.err(line, format!("invalid value \"{v}\""))
                    .directive("large_client_header_buffers")
            };
            let n: usize = w
                .next()
                .and_then(|n| n.parse().ok())
                .filter(|&n| n > 0)
                .ok_or_else(bad)?;
            let size = w
                .next()
                .and_then(|s| crate::config::units::parse_size(s).ok())
                .ok_or_else(bad)?
                .0;
            if w.next().is_some() || size == 0 {
                return Err(bad());
            }
            (n, size)
        }
    };
    Ok(ConnConf {
        limits: HeadLimits {
            client_header_buffer_size: s
                .client_header_buffer_size
                .map_or(defaults::CLIENT_HEADER_BUFFER_SIZE, |v| v.0)
                as usize,
            large_buffers: n,
            large_buffer_size: size as usize,
            underscores_in_headers: s.underscores_in_headers.unwrap_or(false),
            ignore_invalid_headers: s.ignore_invalid_headers.unwrap_or(true),
        },
        header_timeout: s
            .client_header_timeout
            .map_or(defaults::CLIENT_HEADER_TIMEOUT, |v| v.0),
        merge_slashes: s.merge_slashes.unwrap_or(true),
        proxy_protocol: false,
        ssl: false,
        tls: None,
        http2: false,
        h2: H2Conf {
            max_concurrent_streams: s
                .http2_max_concurrent_streams
                .map_or(128, |n| u32::try_from(n).unwrap_or(u32::MAX)),
            // The largest window HTTP/2 allows is 2^31-1.
            body_preread_size: s
                .http2_body_preread_size
                .map_or(65536, |v| v.0.min(0x7fff_ffff) as u32),
            on: s.http2.unwrap_or(false),
        },
    })
}

struct CompiledServer {
    rt: Arc<ServerRt>,
    names: Vec<String>,
    conn: ConnConf,
    listens: Vec<(ListenOpts, usize)>,
    /// `ssl_certificate`/`ssl_certificate_key`, loaded.
    cert: Option<crate::tls::ServerCert>,
    /// The `ssl_*` policy, resolved when the server has a certificate (as
    /// nginx checks those directives only then).
    tls_policy: Option<crate::tls::TlsPolicy>,
}

/// Loads a server's certificate. Relative paths are relative to the
/// config file's directory, as nginx's are (ngx_conf_full_name with the
/// conf prefix, ngx_http_ssl_module.c).
fn load_server_cert(
    ctx: &CompileCtx,
    line: usize,
    s: &ConnSettings,
) -> Result<Option<crate::tls::ServerCert>, ConfigError> {
    let (cert, key) = match (&s.ssl_certificate, &s.ssl_certificate_key) {
        (None, _) => return Ok(None),
        (Some(c), Some(k)) => (c, k),
        (Some(c), None) => {
            return Err(ctx
                .err(
                    line,
                    format!("no \"ssl_certificate_key\" is defined for certificate \"{c}\""),
                )
                .directive("ssl_certificate"))
        }
    };
    let dir = ctx.file.parent().unwrap_or(std::path::Path::new("."));
    let full = |p: &str| {
        let p = std::path::Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            dir.join(p)
        }
    };
    crate::tls::load_cert(&full(cert), &full(key))
        .map(Some)
        .map_err(|e| ctx.err(line, e).directive("ssl_certificate"))
}

/// Resolves a server's `ssl_*` directives; the error names the directive
/// at fault, warnings go to the error log.
fn tls_policy(ctx: &CompileCtx, line: usize, s: &ConnSettings) -> Result<crate::tls::TlsPolicy, ConfigError> {
    let spec = crate::tls::PolicySpec {
        protocols: s.ssl_protocols.as_deref(),
        ciphers: s.ssl_ciphers.as_deref(),
        ecdh_curve: s.ssl_ecdh_curve.as_deref(),
        prefer_server_ciphers: s.ssl_prefer_server_ciphers.unwrap_or(false),
        session_cache: s.ssl_session_cache.as_deref(),
        session_timeout: s
            .ssl_session_timeout
            .map_or(crate::tls::DEFAULT_SESSION_TIMEOUT, |d| d.0),
        session_tickets: s.ssl_session_tickets.unwrap_or(true),
    };
    let mut warnings = Vec::new();
    let p = crate::tls::policy(&spec, &mut warnings)
        .map_err(|(directive, e)| ctx.err(line, e).directive(directive))?;
    for w in warnings {
        crate::log::error_log::log(crate::log::Level::Warn, None, format_args!("{w}"));
    }
    Ok(p)
}

fn compile_server(
    ctx: &mut CompileCtx,
    srv: &Server,
    http: &LocSettings,
    http_conn: &ConnSettings,
    upstreams: &mut HashMap<String, Arc<Pool>>,
) -> Result<CompiledServer, ConfigError> {
    let line = srv.listen.first().map_or(0, |l| l.line);
    let mut settings = srv.loc_settings();
    no_redirect_default(ctx, &settings, line)?;
    no_redirect_default(ctx, http, line)?;
    settings.inherit(http);
    let mut conn_s = srv.conn_settings();
    conn_s.inherit(http_conn);
    let conn = conn_conf(ctx, line, &conn_s)?;
    let cert = load_server_cert(ctx, line, &conn_s)?;
    let mut specs = Vec::new();
    for loc in &srv.location {
        specs.push(compile_location(ctx, loc, &settings, upstreams)?);
    }
    let locations = LocationTree::build(specs).map_err(|e| {
        let at = location_error_line(ctx, &srv.location, &e).unwrap_or(line);
        ctx.err(at, e.to_string()).directive("location")
    })?;
    let Resolved { core, proxy, stat } = resolve(ctx, &settings, line)?;
    let server_loc = Arc::new(LocationRt {
        core: Arc::new(LocCore {
            name: String::new(),
            conf: core,
            internal: false,
            prefix_len: 0,
        }),
        handler: Handler::Static,
        rewrite: Vec::new(),
        proxy,
        stat,
    });
    let return_ = srv
        .return_
        .as_ref()
        .map(|r| compile_return(ctx, if r.line > 0 { r.line } else { line }, r))
        .transpose()?;
    let names: Vec<String> = srv.server_name.clone().unwrap_or_else(|| vec![String::new()]);
    let primary = names
        .first()
        .map(|n| n.trim_start_matches('.').to_string())
        .unwrap_or_default();

    let mut listens = Vec::new();
    if srv.listen.is_empty() {
        let o = parse_listen(defaults::default_listen()).map_err(|e| ctx.err(line, e).directive("listen"))?;
        listens.push((o, line));
    }
    for l in &srv.listen {
        let o = parse_listen(&l.value).map_err(|e| ctx.err(l.line, e).directive("listen"))?;
        listens.push((o, l.line));
    }
    Ok(CompiledServer {
        rt: Arc::new(ServerRt {
            core: Arc::new(ServerCore {
                name: primary.clone().into_bytes().into(),
                stats: crate::status::metrics::server_stats(primary.as_bytes()),
            }),
            locations,
            server_loc,
            rewrite: compile_script(ctx, &srv.rewrite, line)?,
            return_,
        }),
        names,
        conn,
        listens,
        tls_policy: match cert {
            Some(_) => Some(tls_policy(ctx, line, &conn_s)?),
            None => None,
        },
        cert,
    })
}

/// Compiles every server and groups them by listening address.
pub fn compile_servers(
    ctx: &mut CompileCtx,
    cfg: &Config,
    upstreams: &mut HashMap<String, Arc<Pool>>,
) -> Result<Vec<Listener>, ConfigError> {
    let http = cfg.http.loc_settings();
    let http_conn = cfg.http.conn_settings();
    let mut servers = Vec::new();
    for srv in &cfg.http.server {
        servers.push(compile_server(ctx, srv, &http, &http_conn, upstreams)?);
    }

    // Group servers by address, in config order; remember the default and the socket options.
    struct Group {
        opts: ListenOpts,
        members: Vec<usize>,
        default: Option<usize>,
    }
    let mut groups: Vec<Group> = Vec::new();
    for (si, s) in servers.iter().enumerate() {
        for (o, line) in &s.listens {
            let g = match groups.iter_mut().position(|g| g.opts.addr == o.addr) {
                Some(i) => &mut groups[i],
                None => {
                    groups.push(Group {
                        opts: o.clone(),
                        members: Vec::new(),
                        default: None,
                    });
                    let last = groups.len() - 1;
                    &mut groups[last]
                }
            };
            g.opts.proxy_protocol |= o.proxy_protocol;
            g.opts.ssl |= o.ssl;
            g.opts.health_probe |= o.health_probe;
            g.opts.http2 |= o.http2 || s.conn.h2.on;
            if o.has_socket_opts {
                let flags_of_g = ListenOpts {
                    proxy_protocol: o.proxy_protocol,
                    ssl: o.ssl,
                    health_probe: o.health_probe,
                    http2: o.http2,
                    ..g.opts.clone()
                };
                if g.opts.has_socket_opts && flags_of_g != *o && g.members.iter().any(|_| true) {
                    return Err(ctx
                        .err(*line, format!("duplicate listen options for {}", o.addr))
                        .directive("listen"));
                }
                g.opts = ListenOpts {
                    default_server: false,
                    proxy_protocol: g.opts.proxy_protocol,
                    ssl: g.opts.ssl,
                    health_probe: g.opts.health_probe,
                    http2: g.opts.http2,
                    ..o.clone()
                };
            }
            if !g.members.contains(&si) {
                g.members.push(si);
            }
            if o.default_server {
                if g.default.is_some() {
                    return Err(ctx
                        .err(*line, format!("a duplicate default server for {}", o.addr))
                        .directive("listen"));
                }
                g.default = Some(si);
            }
        }
    }

    let mut built: Vec<(ListenOpts, Arc<VirtualHosts>)> = Vec::new();
    for g in &groups {
        let names: Vec<Vec<String>> = g.members.iter().map(|&i| servers[i].names.clone()).collect();
        let default = g
            .default
            .and_then(|d| g.members.iter().position(|&m| m == d))
            .unwrap_or(0);
        let (table, warnings) = NameTable::build(&names, default)
            .map_err(|e| ctx.err(0, e.to_string()).directive("server_name"))?;
        for w in warnings {
            crate::log::error_log::log(
                crate::log::Level::Warn,
                None,
                format_args!("{w} on {}", g.opts.addr),
            );
        }
        let tls = if g.opts.ssl {
            let def = &servers[g.members[default]];
            let certs = g.members.iter().map(|&i| servers[i].cert.clone()).collect();
            let build = match &def.tls_policy {
                Some(p) => crate::tls::build(&names, certs, default, p, g.opts.http2),
                None => Err("no \"ssl_certificate\" is defined for the \"listen ... ssl\" directive".into()),
            };
            let line = def
                .listens
                .iter()
                .find(|(o, _)| o.addr == g.opts.addr)
                .map_or(0, |l| l.1);
            Some(build.map_err(|e| {
                ctx.err(line, format!("{e} for {}", g.opts.addr))
                    .directive("listen")
            })?)
        } else {
            None
        };
        let hosts = VirtualHosts {
            names: table,
            servers: g.members.iter().map(|&i| servers[i].rt.clone()).collect(),
            default,
            conn: ConnConf {
                proxy_protocol: g.opts.proxy_protocol,
                ssl: g.opts.ssl,
                tls,
                http2: g.opts.http2,
                ..servers[g.members[default]].conn.clone()
            },
        };
        built.push((g.opts.clone(), Arc::new(hosts)));
    }

    // nginx binds only the wildcard when it shares a port with specific addresses.
    let mut listeners: Vec<Listener> = Vec::new();
    for (opts, hosts) in &built {
        if !opts.addr.ip().is_unspecified()
            && built.iter().any(|(o, _)| {
                o.addr.ip().is_unspecified()
                    && o.addr.port() == opts.addr.port()
                    && o.addr.is_ipv4() == opts.addr.is_ipv4()
            })
        {
            continue;
        }
        let subsumed: Vec<&(ListenOpts, Arc<VirtualHosts>)> = if opts.addr.ip().is_unspecified() {
            built
                .iter()
                .filter(|(o, _)| {
                    !o.addr.ip().is_unspecified()
                        && o.addr.port() == opts.addr.port()
                        && o.addr.is_ipv4() == opts.addr.is_ipv4()
                })
                .collect()
        } else {
            Vec::new()
        };
        let specific = subsumed.iter().map(|(o, h)| (o.addr.ip(), h.clone())).collect();
        // One socket serves them all: closing it for a probe closes the port.
        let health_probe = opts.health_probe || subsumed.iter().any(|(o, _)| o.health_probe);
        listeners.push(Listener {
            opts: ListenOpts {
                health_probe,
                ..opts.clone()
            },
            specific,
            hosts: hosts.clone(),
        });
    }
    Ok(listeners)
}
