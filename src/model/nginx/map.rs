//! The directive tree → the model (`model::Config`), with nginx's
//! context and argument checks (`ngx_conf_handler`, nginx/nginx:
//! src/core/ngx_conf_file.c) and each directive's own value checks, worded as
//! the directive's handler in nginx 1.22.1 words them.
//!
//! Settings allowed at several levels are collected into the model's
//! `LocSettings` / `ConnSettings` of the level and moved into the level's
//! struct when its block ends. A repeated list directive appends
//! (`proxy_set_header A x; proxy_set_header B y;`), and since the model keeps
//! one list per level, nginx's all-or-nothing inheritance of those lists
//! follows. A repeated single-valued directive is `"x" directive is duplicate`.

use crate::config::nginx::directives::{lookup, Args, Ctx, Kind, Lookup, EVENTS, HTTP, LOC, MAIN, SRV, UPS};
use crate::config::nginx::parser::Directive;
use crate::config::nginx::values::{self, once};
use crate::config::{ConfigError, Located};
use crate::model::{
    AccessLogDef, AutoKeyword, BalanceDef, Config, ConnSettings, ErrorPageDef, ErrorPageStatus, Events, Http,
    LocSettings, Location, RewriteStep, Server, Upstream, WorkerProcesses,
};

/// What mapping found besides the model.
#[derive(Debug, Default)]
pub struct Mapper {
    /// `"X" directive is not implemented yet`, in file order.
    pub not_implemented: Vec<ConfigError>,
    /// Accepted-and-ignored directives, as the warning to log.
    pub ignored: Vec<ConfigError>,
    /// False when the tree stops at a syntax error: checks that need a whole
    /// block (`no servers are inside upstream`) are skipped then.
    pub complete: bool,
}

/// Moves every field of a settings struct into a level's struct. The
/// destructuring has no `..`, so a field added to the model without a line
/// here is a compile error, not a silently dropped setting.
macro_rules! put_loc {
    ($src:expr => $dst:expr) => {{
        let LocSettings {
            access,
            gzip,
            stat,
            real_ip,
            proxy,
            client_max_body_size,
            client_body_timeout,
            send_timeout,
            keepalive_timeout,
            keepalive_requests,
            keepalive_time,
            add_header,
            error_page,
            access_log,
            server_tokens,
            msie_padding,
            default_type,
            limit_rate,
            limit_rate_after,
            keepalive_disable,
            absolute_redirect,
            port_in_redirect,
            server_name_in_redirect,
            client_body_buffer_size,
            client_body_in_file_only,
            client_body_in_single_buffer,
            root,
            alias,
            expires,
        } = $src;
        let d = $dst;
        d.access = access;
        d.gzip = gzip;
        d.stat = stat;
        d.real_ip = real_ip;
        d.proxy = proxy;
        d.client_max_body_size = client_max_body_size;
        d.client_body_timeout = client_body_timeout;
        d.send_timeout = send_timeout;
        d.keepalive_timeout = keepalive_timeout;
        d.keepalive_requests = keepalive_requests;
        d.keepalive_time = keepalive_time;
        d.add_header = add_header;
        d.error_page = error_page;
        d.access_log = access_log;
        d.server_tokens = server_tokens;
        d.msie_padding = msie_padding;
        d.default_type = default_type;
        d.limit_rate = limit_rate;
        d.limit_rate_after = limit_rate_after;
        d.keepalive_disable = keepalive_disable;
        d.absolute_redirect = absolute_redirect;
        d.port_in_redirect = port_in_redirect;
        d.server_name_in_redirect = server_name_in_redirect;
        d.client_body_buffer_size = client_body_buffer_size;
        d.client_body_in_file_only = client_body_in_file_only;
        d.client_body_in_single_buffer = client_body_in_single_buffer;
        d.root = root;
        d.alias = alias;
        d.expires = expires;
    }};
}

macro_rules! put_conn {
    ($src:expr => $dst:expr) => {{
        let ConnSettings {
            client_header_buffer_size,
            large_client_header_buffers,
            client_header_timeout,
            merge_slashes,
            ignore_invalid_headers,
            underscores_in_headers,
            ssl_certificate,
            ssl_certificate_key,
            ssl_protocols,
            ssl_ciphers,
            ssl_prefer_server_ciphers,
            ssl_session_cache,
            ssl_session_timeout,
            ssl_session_tickets,
            ssl_ecdh_curve,
            http2,
            http2_max_concurrent_streams,
            http2_body_preread_size,
            http2_recv_buffer_size,
        } = $src;
        let d = $dst;
        d.client_header_buffer_size = client_header_buffer_size;
        d.large_client_header_buffers = large_client_header_buffers;
        d.client_header_timeout = client_header_timeout;
        d.merge_slashes = merge_slashes;
        d.ignore_invalid_headers = ignore_invalid_headers;
        d.underscores_in_headers = underscores_in_headers;
        d.ssl_certificate = ssl_certificate;
        d.ssl_certificate_key = ssl_certificate_key;
        d.ssl_protocols = ssl_protocols;
        d.ssl_ciphers = ssl_ciphers;
        d.ssl_prefer_server_ciphers = ssl_prefer_server_ciphers;
        d.ssl_session_cache = ssl_session_cache;
        d.ssl_session_timeout = ssl_session_timeout;
        d.ssl_session_tickets = ssl_session_tickets;
        d.ssl_ecdh_curve = ssl_ecdh_curve;
        d.http2 = http2;
        d.http2_max_concurrent_streams = http2_max_concurrent_streams;
        d.http2_body_preread_size = http2_body_preread_size;
        d.http2_recv_buffer_size = http2_recv_buffer_size;
    }};
}

type R<T = ()> = Result<T, ConfigError>;

impl Mapper {
    /// Maps the main file's tree into `cfg`. Returns the first error that is
    /// not a "not implemented yet" (those are collected and mapping goes on).
    pub fn main(&mut self, tree: &[Directive], cfg: &mut Config) -> R {
        let mut events_seen = false;
        let mut http_seen = false;
        for d in tree {
            if !self.check(d, MAIN)? {
                continue;
            }
            match d.name.as_str() {
                "worker_processes" => {
                    let v = match arg(d, 0) {
                        "auto" => WorkerProcesses::Auto(AutoKeyword::Auto),
                        s => WorkerProcesses::Count(
                            values::number(s)
                                .and_then(|n| u32::try_from(n).ok())
                                .ok_or_else(|| values::invalid_value(d))?,
                        ),
                    };
                    once(&mut cfg.worker_processes, v, d)?;
                }
                "worker_rlimit_nofile" => {
                    let n = values::number(arg(d, 0)).ok_or_else(|| values::invalid_number(d))?;
                    once(&mut cfg.worker_rlimit_nofile, n, d)?;
                }
                "worker_shutdown_timeout" => once(&mut cfg.worker_shutdown_timeout, values::msec(d)?, d)?,
                "drain_grace_time" => once(&mut cfg.drain_grace_time, values::msec(d)?, d)?,
                "pid" => once(&mut cfg.pid, Located::new(arg(d, 0).to_string(), d.line), d)?,
                "daemon" => once(&mut cfg.daemon, values::flag(d)?, d)?,
                "master_process" => once(&mut cfg.master_process, values::flag(d)?, d)?,
                "user" => once(&mut cfg.user, d.args.join(" "), d)?,
                "error_log" => {
                    values::plain_path(d, "error_log", arg(d, 0))?;
                    if cfg.error_log.is_some() {
                        return Err(
                            d.err("several \"error_log\" directives at one level are not implemented yet")
                        );
                    }
                    cfg.error_log = Some(Located::new(d.args.join(" "), d.line));
                }
                "events" => {
                    if std::mem::replace(&mut events_seen, true) {
                        return Err(values::duplicate(d));
                    }
                    self.events(block(d), &mut cfg.events)?;
                }
                "http" => {
                    if std::mem::replace(&mut http_seen, true) {
                        return Err(values::duplicate(d));
                    }
                    self.http(block(d), &mut cfg.http)?;
                }
                _ => return Err(unmapped(d)),
            }
        }
        Ok(())
    }

    /// Resolves `d` in `ctx` and checks its form. Ok(true): map it; Ok(false):
    /// it was ignored or recorded as not implemented.
    fn check(&mut self, d: &Directive, ctx: Ctx) -> R<bool> {
        let spec = match lookup(&d.name, ctx) {
            Lookup::Unknown => return Err(d.err(format!("unknown directive \"{}\"", d.name))),
            Lookup::NotAllowedHere => {
                return Err(d.err(format!("\"{}\" directive is not allowed here", d.name)))
            }
            Lookup::Found(s) => s,
        };
        // Directory listings are not built, but `autoindex off` asks for
        // nginx's default (a directory without an index is 403): accepted.
        if d.name == "autoindex" && d.args.len() == 1 && d.args.first().is_some_and(|a| a == "off") {
            return Ok(false);
        }
        match spec.kind {
            Kind::NotImplemented => {
                self.not_implemented
                    .push(d.err(format!("\"{}\" directive is not implemented yet", d.name)));
                return Ok(false);
            }
            Kind::Unsupported => {
                return Err(d.err(format!(
                    "\"{}\" directive is not supported (rampart has no FastCGI)",
                    d.name
                )))
            }
            _ => {}
        }
        if spec.kind == Kind::Block && d.block.is_none() {
            return Err(d.err(format!("directive \"{}\" has no opening \"{{\"", d.name)));
        }
        if spec.kind != Kind::Block && d.block.is_some() {
            return Err(d.err(format!("directive \"{}\" is not terminated by \";\"", d.name)));
        }
        if spec.args != Args::Any && !spec.args.accepts(d.args.len()) {
            return Err(d.err(format!("invalid number of arguments in \"{}\" directive", d.name)));
        }
        if spec.kind == Kind::Ignored {
            self.ignored.push(d.err(format!(
                "\"{}\" directive is ignored: it has no meaning in rampart",
                d.name
            )));
            return Ok(false);
        }
        Ok(true)
    }

    fn events(&mut self, tree: &[Directive], ev: &mut Events) -> R {
        for d in tree {
            if !self.check(d, EVENTS)? {
                continue;
            }
            match d.name.as_str() {
                "worker_connections" => {
                    // ngx_event_connections: its own wording, not the num slot's.
                    let n = values::number(arg(d, 0))
                        .ok_or_else(|| d.err(format!("invalid number \"{}\"", arg(d, 0))))?;
                    once(&mut ev.worker_connections, n, d)?;
                }
                _ => return Err(unmapped(d)),
            }
        }
        Ok(())
    }

    fn http(&mut self, tree: &[Directive], h: &mut Http) -> R {
        let mut loc = LocSettings::default();
        let mut conn = ConnSettings::default();
        for d in tree {
            if !self.check(d, HTTP)? {
                continue;
            }
            match d.name.as_str() {
                "server" => {
                    let mut s = Server::default();
                    self.server(block(d), &mut s)?;
                    h.server.push(s);
                }
                "upstream" => {
                    let name = arg(d, 0).to_string();
                    if h.upstream.contains_key(&name) {
                        return Err(d.err(format!("duplicate upstream \"{name}\"")));
                    }
                    let u = self.upstream(d)?;
                    h.upstream.insert(name, u);
                }
                "log_format" => {
                    let (name, def) = super::defs::log_format(d)?;
                    if name == "combined" || h.log_format.contains_key(&name) {
                        return Err(d.err(format!("duplicate \"log_format\" name \"{name}\"")));
                    }
                    h.log_format.insert(name, def);
                }
                _ => {
                    redirect_default_placement(d, false)?;
                    if !loc_setting(d, &mut loc)? && !conn_setting(d, &mut conn)? {
                        return Err(unmapped(d));
                    }
                }
            }
        }
        put_loc!(loc => &mut *h);
        put_conn!(conn => &mut *h);
        Ok(())
    }

    fn upstream(&mut self, d: &Directive) -> R<Upstream> {
        let mut u = Upstream::default();
        for s in block(d) {
            if !self.check(s, UPS)? {
                continue;
            }
            match s.name.as_str() {
                "server" => u.server.push(Located::new(s.args.join(" "), s.line)),
                "ip_hash" | "least_conn" => once(&mut u.balance, BalanceDef::Method(s.name.clone()), s)?,
                "hash" => {
                    let consistent = match s.args.get(1).map(String::as_str) {
                        None => false,
                        Some("consistent") => true,
                        Some(other) => return Err(s.err(format!("invalid parameter \"{other}\""))),
                    };
                    let v = BalanceDef::Hash {
                        hash: arg(s, 0).to_string(),
                        consistent,
                    };
                    once(&mut u.balance, v, s)?
                }
                "keepalive" => {
                    let n = values::number(arg(s, 0))
                        .filter(|&n| n > 0)
                        .ok_or_else(|| values::invalid_value(s))?;
                    once(&mut u.keepalive, n, s)?
                }
                "keepalive_timeout" => once(&mut u.keepalive_timeout, values::msec(s)?, s)?,
                "keepalive_time" => once(&mut u.keepalive_time, values::msec(s)?, s)?,
                "keepalive_requests" => {
                    let n = values::number(arg(s, 0)).ok_or_else(|| values::invalid_value(s))?;
                    once(&mut u.keepalive_requests, n, s)?
                }
                "check" => {
                    let v = s.args.join(" ");
                    // Checked here too, so the error names the right file of an include.
                    crate::config::value::health_check::CheckParams::parse(&v).map_err(|e| s.err(e))?;
                    once(&mut u.check, Located::new(v, s.line), s)?
                }
                "check_http_send" => once(&mut u.check_http_send, arg(s, 0).to_string(), s)?,
                "check_http_expect_alive" => {
                    crate::config::value::health_check::expect_mask(&s.args).map_err(|e| s.err(e))?;
                    once(&mut u.check_http_expect_alive, s.args.clone(), s)?
                }
                "check_keepalive_requests" => {
                    let n = values::number(arg(s, 0))
                        .filter(|&n| n > 0)
                        .ok_or_else(|| values::invalid_value(s))?;
                    once(&mut u.check_keepalive_requests, n, s)?
                }
                "check_http_host" => once(&mut u.check_http_host, arg(s, 0).to_string(), s)?,
                "check_http_expect_body" => once(&mut u.check_http_expect_body, arg(s, 0).to_string(), s)?,
                "check_fail_open" => once(&mut u.check_fail_open, values::flag(s)?, s)?,
                _ => return Err(unmapped(s)),
            }
        }
        if u.server.is_empty() && self.complete {
            return Err(ConfigError::new(
                &d.file,
                d.end_line,
                "no servers are inside upstream",
            ));
        }
        Ok(u)
    }

    fn server(&mut self, tree: &[Directive], s: &mut Server) -> R {
        let mut script = Vec::new();
        let mut loc = LocSettings::default();
        let mut conn = ConnSettings::default();
        for d in tree {
            if !self.check(d, SRV)? {
                continue;
            }
            match d.name.as_str() {
                "listen" => {
                    let v = d.args.join(" ");
                    // The runtime parses it again; checking here names the right file.
                    crate::config::value::listen::parse_listen(&v).map_err(|e| d.err(e))?;
                    s.listen.push(Located::new(v, d.line));
                }
                "server_name" => s
                    .server_name
                    .get_or_insert_with(Vec::new)
                    .extend(d.args.iter().cloned()),
                "return" => {
                    let r = super::defs::return_def(d)?;
                    script.push(Located::new(
                        RewriteStep {
                            return_: Some(r.clone()),
                            ..RewriteStep::default()
                        },
                        d.line,
                    ));
                    // Only the first `return` of a level can ever run, as in nginx.
                    s.return_.get_or_insert(Located::new(r, d.line));
                }
                "rewrite" | "set" | "break" => script.push(rewrite_step(d)?),
                "location" => {
                    let l = self.location(d)?;
                    s.location.push(l);
                }
                _ => {
                    redirect_default_placement(d, false)?;
                    if !loc_setting(d, &mut loc)? && !conn_setting(d, &mut conn)? {
                        return Err(unmapped(d));
                    }
                }
            }
        }
        if let Some(script) = into_script(script) {
            s.rewrite = script;
            s.return_ = None;
        }
        put_loc!(loc => &mut *s);
        put_conn!(conn => &mut *s);
        Ok(())
    }

    fn location(&mut self, d: &Directive) -> R<Location> {
        let m = match d.args.as_slice() {
            [one] => one.clone(),
            [modifier, pattern] => {
                if !matches!(modifier.as_str(), "=" | "~" | "~*" | "^~") {
                    return Err(d.err(format!("invalid location modifier \"{modifier}\"")));
                }
                format!("{modifier} {pattern}")
            }
            _ => return Err(d.err("invalid number of arguments in \"location\" directive")),
        };
        let mut l = Location {
            match_: Located::new(m, d.line),
            ..Location::default()
        };
        let mut loc = LocSettings::default();
        let mut script = Vec::new();
        for c in block(d) {
            if !self.check(c, LOC)? {
                continue;
            }
            match c.name.as_str() {
                "location" => {
                    let inner = self.location(c)?;
                    l.location.push(inner);
                }
                "proxy_pass" => once(&mut l.proxy_pass, Located::new(arg(c, 0).to_string(), c.line), c)?,
                "return" => {
                    let r = super::defs::return_def(c)?;
                    script.push(Located::new(
                        RewriteStep {
                            return_: Some(r.clone()),
                            ..RewriteStep::default()
                        },
                        c.line,
                    ));
                    l.return_.get_or_insert(Located::new(r, c.line));
                }
                "rewrite" | "set" | "break" => script.push(rewrite_step(c)?),
                "internal" => l.internal = Some(true),
                // `stub_status;` (1.7.5+) or the old `stub_status on;`: nginx
                // ignores the argument (ngx_http_set_stub_status), so do we.
                "stub_status" => l.stub_status = Some(true),
                "health_probe" => once(&mut l.health_probe, true, c)?,
                "check_status" => {
                    let f = c.args.first().map_or("html", String::as_str);
                    if !matches!(f, "html" | "csv" | "json") {
                        return Err(c.err(format!("invalid check format \"{f}\"")));
                    }
                    once(&mut l.check_status, Located::new(f.to_string(), c.line), c)?
                }
                _ => {
                    redirect_default_placement(c, l.proxy_pass.is_some())?;
                    if !loc_setting(c, &mut loc)? {
                        return Err(unmapped(c));
                    }
                }
            }
        }
        if let Some(script) = into_script(script) {
            l.rewrite = script;
            l.return_ = None;
        }
        put_loc!(loc => &mut l);
        Ok(l)
    }
}

/// A level's rewrite-module statements become its `rewrite` script when any
/// of them is not a `return` (order then matters); a level with only
/// `return` keeps the plain `return` key, as before.
fn into_script(script: Vec<Located<RewriteStep>>) -> Option<Vec<Located<RewriteStep>>> {
    script.iter().any(|st| st.return_.is_none()).then_some(script)
}

/// `rewrite REGEX REPLACEMENT [FLAG]`, `set $VAR VALUE`, `break`
/// (ngx_http_rewrite_module.c: its checks and wording).
fn rewrite_step(d: &Directive) -> R<Located<RewriteStep>> {
    let mut st = RewriteStep::default();
    match d.name.as_str() {
        "rewrite" => {
            if let Some(f) = d.args.get(2) {
                if !matches!(f.as_str(), "last" | "break" | "redirect" | "permanent") {
                    return Err(d.err(format!("invalid parameter \"{f}\"")));
                }
            }
            st.rewrite = Some(d.args.clone());
        }
        "set" => {
            let name = arg(d, 0);
            if name.len() < 2 || !name.starts_with('$') {
                return Err(d.err(format!("invalid variable name \"{name}\"")));
            }
            st.set = Some((name.to_string(), arg(d, 1).to_string()));
        }
        _ => st.break_ = Some(true),
    }
    Ok(Located::new(st, d.line))
}

/// `proxy_redirect default` needs the `proxy_pass` above it in the same
/// block (nginx reads `plcf->url` while parsing the directive).
fn redirect_default_placement(d: &Directive, after_proxy_pass: bool) -> R<()> {
    if d.name == "proxy_redirect" && arg(d, 0) == "default" && !after_proxy_pass {
        return Err(d.err(
            "\"proxy_redirect default\" should be placed after the \"proxy_pass\" directive".to_string(),
        ));
    }
    Ok(())
}

/// The settings of every level. Ok(false): not one of them.
fn loc_setting(d: &Directive, s: &mut LocSettings) -> R<bool> {
    // The features' own sections first (config::section!).
    if let Some(r) = s.section_directive(d) {
        return r.map(|()| true);
    }
    match d.name.as_str() {
        "client_max_body_size" => once(&mut s.client_max_body_size, values::size(d)?, d)?,
        "client_body_timeout" => once(&mut s.client_body_timeout, values::msec(d)?, d)?,
        "send_timeout" => once(&mut s.send_timeout, values::msec(d)?, d)?,
        "keepalive_timeout" => {
            if let Some(h) = d.args.get(1) {
                return Err(d.err(format!(
                    "the header timeout \"{h}\" of \"keepalive_timeout\" is not implemented yet"
                )));
            }
            once(&mut s.keepalive_timeout, values::msec(d)?, d)?
        }
        "keepalive_requests" => {
            let n = values::number(arg(d, 0)).ok_or_else(|| values::invalid_number(d))?;
            once(&mut s.keepalive_requests, n, d)?
        }
        "keepalive_time" => once(&mut s.keepalive_time, values::msec(d)?, d)?,
        "add_header" => {
            if let Some(p) = d.args.get(2).filter(|p| p.as_str() != "always") {
                return Err(d.err(format!("invalid parameter \"{p}\"")));
            }
            s.add_header
                .get_or_insert_with(|| Located::new(Vec::new(), d.line))
                .value
                .push(d.args.clone())
        }
        "error_page" => s
            .error_page
            .get_or_insert_with(|| Located::new(Vec::new(), d.line))
            .value
            .push(error_page(d)?),
        "access_log" => {
            let entry = values::access_log(d)?;
            let line = s.access_log.as_ref().map_or(d.line, |l| l.line);
            let value = match s.access_log.take().map(|l| l.value) {
                None => AccessLogDef::One(entry),
                Some(AccessLogDef::One(first)) => AccessLogDef::Many(vec![first, entry]),
                Some(AccessLogDef::Many(mut v)) => {
                    v.push(entry);
                    AccessLogDef::Many(v)
                }
            };
            s.access_log = Some(Located::new(value, line))
        }
        "server_tokens" => {
            // An enum slot in nginx (on | off | build): its wording, not the flag's.
            let v = match arg(d, 0) {
                "on" => true,
                "off" => false,
                other => return Err(d.err(format!("invalid value \"{other}\""))),
            };
            once(&mut s.server_tokens, v, d)?
        }
        "msie_padding" => once(&mut s.msie_padding, values::flag(d)?, d)?,
        "default_type" => once(&mut s.default_type, arg(d, 0).to_string(), d)?,
        "limit_rate" => once(&mut s.limit_rate, values::size(d)?, d)?,
        "limit_rate_after" => once(&mut s.limit_rate_after, values::size(d)?, d)?,
        "keepalive_disable" => {
            // ngx_conf_set_bitmask_slot over none | msie6 | safari.
            for a in &d.args {
                if !matches!(a.as_str(), "none" | "msie6" | "safari") {
                    return Err(d.err(format!("invalid value \"{a}\"")));
                }
            }
            once(&mut s.keepalive_disable, d.args.clone(), d)?
        }
        "absolute_redirect" => once(&mut s.absolute_redirect, values::flag(d)?, d)?,
        "port_in_redirect" => once(&mut s.port_in_redirect, values::flag(d)?, d)?,
        "server_name_in_redirect" => once(&mut s.server_name_in_redirect, values::flag(d)?, d)?,
        "client_body_buffer_size" => once(&mut s.client_body_buffer_size, values::size(d)?, d)?,
        "client_body_in_file_only" => {
            let v = arg(d, 0);
            if !matches!(v, "on" | "clean" | "off") {
                return Err(d.err(format!("invalid value \"{v}\"")));
            }
            once(&mut s.client_body_in_file_only, v.to_string(), d)?
        }
        "client_body_in_single_buffer" => once(&mut s.client_body_in_single_buffer, values::flag(d)?, d)?,
        "root" | "alias" => {
            // One slot in nginx (ngx_http_core_root): a second of either is an error.
            if s.root.is_some() || s.alias.is_some() {
                let (prev, this) = if s.alias.is_some() {
                    ("alias", d.name.as_str())
                } else {
                    ("root", d.name.as_str())
                };
                if prev == this {
                    return Err(values::duplicate(d));
                }
                return Err(d.err(format!(
                    "\"{this}\" directive is duplicate, \"{prev}\" directive was specified earlier"
                )));
            }
            let v = arg(d, 0).to_string();
            if d.name == "root" {
                s.root = Some(v)
            } else {
                s.alias = Some(v)
            }
        }
        "expires" => {
            let v = d.args.join(" ");
            crate::config::value::expires::Expires::parse(&v).map_err(|e| d.err(e))?;
            once(&mut s.expires, v, d)?
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// The settings of http and server only. Ok(false): not one of them.
fn conn_setting(d: &Directive, s: &mut ConnSettings) -> R<bool> {
    match d.name.as_str() {
        "client_header_buffer_size" => once(&mut s.client_header_buffer_size, values::size(d)?, d)?,
        "large_client_header_buffers" => once(&mut s.large_client_header_buffers, values::bufs(d)?, d)?,
        "client_header_timeout" => once(&mut s.client_header_timeout, values::msec(d)?, d)?,
        "merge_slashes" => once(&mut s.merge_slashes, values::flag(d)?, d)?,
        "ignore_invalid_headers" => once(&mut s.ignore_invalid_headers, values::flag(d)?, d)?,
        "underscores_in_headers" => once(&mut s.underscores_in_headers, values::flag(d)?, d)?,
        "ssl_certificate" => once(&mut s.ssl_certificate, arg(d, 0).to_string(), d)?,
        "ssl_certificate_key" => once(&mut s.ssl_certificate_key, arg(d, 0).to_string(), d)?,
        "ssl_protocols" => once(&mut s.ssl_protocols, d.args.clone(), d)?,
        "ssl_ciphers" => once(&mut s.ssl_ciphers, arg(d, 0).to_string(), d)?,
        "ssl_prefer_server_ciphers" => once(&mut s.ssl_prefer_server_ciphers, values::flag(d)?, d)?,
        "ssl_session_cache" => {
            crate::config::value::ssl_session_cache::parse_cache(&d.args).map_err(|e| d.err(e))?;
            once(&mut s.ssl_session_cache, d.args.clone(), d)?
        }
        "ssl_session_timeout" => once(&mut s.ssl_session_timeout, values::msec(d)?, d)?,
        "ssl_session_tickets" => once(&mut s.ssl_session_tickets, values::flag(d)?, d)?,
        "ssl_ecdh_curve" => once(&mut s.ssl_ecdh_curve, arg(d, 0).to_string(), d)?,
        "http2" => once(&mut s.http2, values::flag(d)?, d)?,
        "http2_max_concurrent_streams" => {
            let n = values::number(arg(d, 0)).ok_or_else(|| values::invalid_number(d))?;
            once(&mut s.http2_max_concurrent_streams, n, d)?
        }
        "http2_body_preread_size" => once(&mut s.http2_body_preread_size, values::size(d)?, d)?,
        "http2_recv_buffer_size" => once(&mut s.http2_recv_buffer_size, values::size(d)?, d)?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// `error_page CODE ... [=[STATUS]] URI` (ngx_http_core_error_page).
pub fn error_page(d: &Directive) -> R<ErrorPageDef> {
    let n = d.args.len();
    let page = d.args.last().cloned().unwrap_or_default();
    let (codes_end, status) = match d.args.get(n.saturating_sub(2)).and_then(|a| a.strip_prefix('=')) {
        Some("") if n >= 2 => (n - 2, Some(ErrorPageStatus::FromPage("=".into()))),
        Some(code) if n >= 2 => {
            let c = values::number(code)
                .and_then(|c| u16::try_from(c).ok())
                .ok_or_else(|| d.err(format!("invalid value \"={code}\"")))?;
            (n - 2, Some(ErrorPageStatus::Code(c)))
        }
        _ => (n.saturating_sub(1), None),
    };
    let mut codes = Vec::new();
    for a in d.args.get(..codes_end).unwrap_or_default() {
        let c = values::number(a).ok_or_else(|| d.err(format!("invalid value \"{a}\"")))?;
        if !(300..=599).contains(&c) {
            return Err(d.err(format!("value \"{a}\" must be between 300 and 599")));
        }
        codes.push(c as u16);
    }
    Ok(ErrorPageDef { codes, page, status })
}

/// A block directive's children (check() has made sure there is a block).
fn block(d: &Directive) -> &[Directive] {
    d.block.as_deref().unwrap_or_default()
}

/// The `i`th argument (check() has made sure it exists).
fn arg(d: &Directive, i: usize) -> &str {
    d.args.get(i).map(String::as_str).unwrap_or_default()
}

/// A directive the table maps but this level's code does not: a bug here,
/// reported rather than ignored.
fn unmapped(d: &Directive) -> ConfigError {
    d.err(format!("\"{}\" directive is not allowed here", d.name))
}
