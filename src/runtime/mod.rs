//! Compiling a [`Config`] into an immutable [`Snapshot`]: the vhost tables,
//! location matchers, upstream pools and log files a request needs, built
//! once per (re)load off the request path and swapped in with arc-swap.

pub mod defaults;
pub mod loc_conf;
mod server;

pub use crate::config::value::listen::ListenOpts;
pub use server::{Handler, LocationRt, ServerRt, VirtualHosts};

use crate::config::ConfigError;
use crate::log::{Escape, Level, LogFormat};
use crate::model::{Config, LogFormatDef, WorkerProcesses};
use crate::upstream::Pool;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Everything a running server needs, immutable once built.
pub struct Snapshot {
    pub generation: u64,
    pub main: MainConf,
    /// One entry per socket to bind.
    pub listeners: Vec<Listener>,
    pub upstreams: HashMap<String, Arc<Pool>>,
    /// The active-check list of this generation (`check` in upstreams).
    pub health: Arc<crate::health::HealthTable>,
}

/// Process-level settings.
#[derive(Debug, Clone)]
pub struct MainConf {
    pub worker_processes: usize,
    pub worker_connections: u64,
    pub worker_rlimit_nofile: Option<u64>,
    pub pid: PathBuf,
    pub error_log: ErrorLogConf,
    pub shutdown_timeout: Option<Duration>,
    /// `drain_grace_time`: serving on after the probes fail (zero = none).
    pub drain_grace: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorLogConf {
    /// `None` = stderr.
    pub path: Option<PathBuf>,
    pub level: Level,
}

/// A socket to bind and the virtual hosts reachable through it. When a
/// wildcard address shares its port with specific addresses, nginx binds only
/// the wildcard and picks the server set by the connection's local address.
pub struct Listener {
    pub opts: ListenOpts,
    /// Server sets of specific addresses served through this wildcard socket.
    pub specific: Vec<(IpAddr, Arc<VirtualHosts>)>,
    pub hosts: Arc<VirtualHosts>,
}

impl Listener {
    /// The server set for a connection that arrived on `local`.
    pub fn hosts_for(&self, local: Option<SocketAddr>) -> &Arc<VirtualHosts> {
        if let Some(l) = local {
            if let Some((_, h)) = self.specific.iter().find(|(ip, _)| *ip == l.ip()) {
                return h;
            }
        }
        &self.hosts
    }
}

impl Snapshot {
    pub fn listener(&self, addr: SocketAddr) -> Option<&Listener> {
        self.listeners.iter().find(|l| l.opts.addr == addr)
    }
}

/// State shared while compiling one config.
pub struct CompileCtx {
    pub file: PathBuf,
    pub prefix: PathBuf,
    pub formats: HashMap<String, Arc<LogFormat>>,
    /// The line of `[http]` (used for errors about inherited defaults).
    http_line: usize,
    /// Log files opened for this config, by path, so that the same file is opened once.
    opened: HashMap<PathBuf, crate::log::LogId>,
    /// Variable names the config defines (`set`, named regex captures):
    /// nginx's variables are global, so one `set $x` anywhere makes `$x` valid everywhere.
    pub defined_vars: std::collections::HashSet<String>,
}

impl crate::config::section::Context for CompileCtx {
    fn file(&self) -> &Path {
        &self.file
    }
    fn prefix(&self) -> &Path {
        &self.prefix
    }
    fn check_vars(&self, line: usize, directive: &str, t: &crate::vars::Template) -> Result<(), ConfigError> {
        CompileCtx::check_vars(self, line, directive, t)
    }
    fn template(&self, line: usize, directive: &str, s: &str) -> Result<crate::vars::Template, ConfigError> {
        let t = crate::vars::Template::compile(s)
            .map_err(|e| self.err(line, e.to_string()).directive(directive))?;
        self.check_vars(line, directive, &t)?;
        Ok(t)
    }
}

impl CompileCtx {
    pub fn new(file: &Path, prefix: &Path) -> CompileCtx {
        CompileCtx {
            file: file.to_path_buf(),
            prefix: prefix.to_path_buf(),
            formats: HashMap::new(),
            http_line: 0,
            opened: HashMap::new(),
            defined_vars: Default::default(),
        }
    }

    /// nginx's `unknown "foo" variable` (ngx_http_variables_init_vars), here
    /// with the line that names it; variables nginx has but rampart does not
    /// implement are a distinct "not implemented yet" error.
    pub fn check_vars(
        &self,
        line: usize,
        directive: &str,
        t: &crate::vars::Template,
    ) -> Result<(), ConfigError> {
        for v in t.vars() {
            let crate::vars::Var::Named(name) = v else {
                continue;
            };
            if self.defined_vars.contains(name.as_str()) {
                continue;
            }
            let msg = if crate::vars::nginx_only(name) {
                format!("the \"${name}\" variable is not implemented yet")
            } else {
                format!("unknown \"{name}\" variable")
            };
            return Err(self.err(line, msg).directive(directive));
        }
        Ok(())
    }

    pub fn err(&self, line: usize, msg: impl Into<String>) -> ConfigError {
        ConfigError::new(&self.file, line, msg)
    }

    /// Resolves a path the way nginx does: relative paths are relative to the prefix.
    pub fn path(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.prefix.join(p)
        }
    }

    fn default_access_log_line(&self) -> usize {
        self.http_line
    }

    /// `access_log PATH [FORMAT]`.
    fn access_log_entry(
        &mut self,
        line: usize,
        s: &str,
    ) -> Result<crate::exchange::loc_conf::AccessLog, ConfigError> {
        let mut w = s.split_whitespace();
        let path = w.next().ok_or_else(|| {
            self.err(line, "invalid number of arguments")
                .directive("access_log")
        })?;
        let format = w.next();
        let params = crate::config::value::access_log::access_log_params(w)
            .map_err(|e| self.err(line, e).directive("access_log"))?;
        let mut log = self.access_log(line, path, format)?;
        crate::log::hub().set_gzip(log.id, params.gzip);
        if let Some(c) = params.cond {
            let t = crate::vars::Template::compile(&c)
                .map_err(|e| self.err(line, e.to_string()).directive("access_log"))?;
            self.check_vars(line, "access_log", &t)?;
            log.cond = Some(t);
        }
        Ok(log)
    }

    fn access_log(
        &mut self,
        line: usize,
        path: &str,
        format: Option<&str>,
    ) -> Result<crate::exchange::loc_conf::AccessLog, ConfigError> {
        let format = match format {
            None | Some("combined") => self
                .formats
                .entry("combined".into())
                .or_insert_with(|| Arc::new(LogFormat::combined()))
                .clone(),
            Some(name) => self.formats.get(name).cloned().ok_or_else(|| {
                self.err(line, format!("unknown log format \"{name}\""))
                    .directive("access_log")
            })?,
        };
        let full = self.path(path);
        let id = match self.opened.get(&full) {
            Some(id) => *id,
            None => {
                let id = crate::log::hub().open(&full).map_err(|e| {
                    self.err(line, format!("open() \"{}\" failed ({e})", full.display()))
                        .directive("access_log")
                })?;
                self.opened.insert(full, id);
                id
            }
        };
        Ok(crate::exchange::loc_conf::AccessLog {
            id,
            format,
            cond: None,
        })
    }
}

/// Parses `error_log "PATH [LEVEL]"`.
pub fn parse_error_log(ctx: &CompileCtx, line: usize, s: &str) -> Result<ErrorLogConf, ConfigError> {
    let mut w = s.split_whitespace();
    let path = w.next().ok_or_else(|| {
        ctx.err(line, "invalid number of arguments")
            .directive("error_log")
    })?;
    let level = match w.next() {
        None => Level::Error,
        Some(l) => l.parse::<Level>().map_err(|_| {
            ctx.err(line, format!("invalid log level \"{l}\""))
                .directive("error_log")
        })?,
    };
    if w.next().is_some() {
        return Err(ctx
            .err(line, "invalid number of arguments")
            .directive("error_log"));
    }
    let path = if path == "stderr" {
        None
    } else {
        Some(ctx.path(path))
    };
    Ok(ErrorLogConf { path, level })
}

/// Compiles `cfg` (read from `file`, with relative paths under `prefix`).
pub fn compile(cfg: &Config, file: &Path, prefix: &Path, generation: u64) -> Result<Snapshot, ConfigError> {
    let mut ctx = CompileCtx::new(file, prefix);
    let main = main_conf(&ctx, cfg)?;
    ctx.defined_vars = defined_vars(cfg);

    ctx.formats
        .insert("combined".into(), Arc::new(LogFormat::combined()));
    for (name, def) in &cfg.http.log_format {
        if name == "combined" {
            return Err(ctx
                .err(0, "duplicate \"log_format\" name \"combined\"")
                .directive("log_format"));
        }
        let (escape, format) = match def {
            LogFormatDef::Plain(f) => (Escape::Default, f.as_str()),
            LogFormatDef::Full { escape, format } => {
                let e = match escape.as_deref() {
                    None | Some("default") => Escape::Default,
                    Some("json") => Escape::Json,
                    Some("none") => Escape::None,
                    Some(other) => {
                        return Err(ctx
                            .err(0, format!("unknown log format escaping \"{other}\""))
                            .directive("log_format"))
                    }
                };
                (e, format.as_str())
            }
        };
        let f = LogFormat::compile(name, escape, format).map_err(|e| {
            ctx.err(0, format!("{e} in log_format \"{name}\""))
                .directive("log_format")
        })?;
        let vars = crate::vars::Template::compile(format).unwrap_or_default();
        for v in vars.vars() {
            // The log module looks every name up as a variable: `$1` is not
            // one there (ngx_http_log_variable_compile), unlike in scripts.
            if let crate::vars::Var::Capture(d) = v {
                return Err(ctx
                    .err(0, format!("unknown \"{d}\" variable"))
                    .directive("log_format"));
            }
            if let crate::vars::Var::Named(n) = v {
                if !ctx.defined_vars.contains(n.as_str()) {
                    let msg = if crate::vars::nginx_only(n) {
                        format!("the \"${n}\" variable is not implemented yet")
                    } else {
                        format!("unknown \"{n}\" variable")
                    };
                    return Err(ctx.err(0, msg).directive("log_format"));
                }
            }
        }
        ctx.formats.insert(name.clone(), Arc::new(f));
    }

    let mut upstreams = HashMap::new();
    let mut health = crate::health::HealthTable {
        generation,
        peers: Vec::new(),
    };
    for (name, up) in &cfg.http.upstream {
        let mut peers = Vec::new();
        for s in &up.server {
            let p = crate::upstream::parse_server(&s.value)
                .map_err(|e| ctx.err(s.line, e).directive("server"))?;
            peers.extend(p);
        }
        if peers.is_empty() {
            return Err(ctx.err(0, format!("no servers are inside upstream \"{name}\"")));
        }
        let mut pool = upstream_pool(&ctx, name, up, peers)?;
        if let Some(check) = &up.check {
            let conf = crate::health::CheckConf::build(
                &check.value,
                up.check_http_send.as_deref(),
                up.check_http_expect_alive.as_deref(),
                up.check_keepalive_requests,
                up.check_http_host.as_deref(),
                up.check_http_expect_body.as_deref(),
            )
            .map_err(|e| ctx.err(check.line, e).directive("check"))?;
            pool.set_health(
                check_peers(&mut health, name, &pool.peers, conf),
                up.check_fail_open == Some(true),
            );
        }
        upstreams.insert(name.clone(), Arc::new(pool));
    }

    let listeners = server::compile_servers(&mut ctx, cfg, &mut upstreams)?;
    Ok(Snapshot {
        generation,
        main,
        listeners,
        upstreams,
        health: Arc::new(health),
    })
}

/// Appends an upstream's checked peers to the process-wide check list: every
/// address of every server line, backups included, `down` ones excluded
/// (`ngx_http_upstream_init_round_robin` in check_1.16.1+.patch).
fn check_peers(
    table: &mut crate::health::HealthTable,
    upstream: &str,
    peers: &[crate::upstream::Peer],
    conf: crate::health::CheckConf,
) -> Vec<Option<Arc<crate::health::PeerHealth>>> {
    let conf = Arc::new(conf);
    peers
        .iter()
        .map(|p| {
            if p.down {
                return None;
            }
            let h = Arc::new(crate::health::PeerHealth::new(
                table.peers.len(),
                upstream,
                p.addr,
                conf.clone(),
            ));
            table.peers.push(h.clone());
            Some(h)
        })
        .collect()
}

/// Every variable name the config defines: `set $x` targets and the named
/// groups of location, server_name and rewrite regexes.
fn defined_vars(cfg: &Config) -> std::collections::HashSet<String> {
    use crate::config::Located;
    use crate::model::{Location, RewriteStep};
    fn regex_names(pattern: &str, out: &mut std::collections::HashSet<String>) {
        if let Ok(re) = crate::routing::PcreRegex::compile(pattern, false) {
            out.extend(re.names().map(str::to_string));
        }
    }
    fn script(steps: &[Located<RewriteStep>], out: &mut std::collections::HashSet<String>) {
        for st in steps {
            if let Some((n, _)) = &st.value.set {
                out.insert(n.trim_start_matches('$').to_string());
            }
            if let Some(p) = st.value.rewrite.as_ref().and_then(|a| a.first()) {
                regex_names(p, out);
            }
        }
    }
    fn locations(locs: &[Location], out: &mut std::collections::HashSet<String>) {
        for l in locs {
            let m = l.match_.value.trim();
            if let Some(p) = m.strip_prefix("~*").or_else(|| m.strip_prefix('~')) {
                regex_names(p.trim(), out);
            }
            script(&l.rewrite, out);
            locations(&l.location, out);
        }
    }
    let mut out = std::collections::HashSet::new();
    for s in &cfg.http.server {
        for n in s.server_name.iter().flatten() {
            if let Some(p) = n.strip_prefix('~') {
                regex_names(p, &mut out);
            }
        }
        script(&s.rewrite, &mut out);
        locations(&s.location, &mut out);
    }
    out
}

/// Builds an `upstream` block's pool: its balancer (`ip_hash`, `hash`,
/// `least_conn`; nginx/nginx: src/http/modules/ngx_http_upstream_*_module.c)
/// and its keep-alive cache (ngx_http_upstream_keepalive_module.c: 60s, 1000
/// requests, 1h by default).
fn upstream_pool(
    ctx: &CompileCtx,
    name: &str,
    up: &crate::model::Upstream,
    peers: Vec<crate::upstream::Peer>,
) -> Result<Pool, ConfigError> {
    use crate::model::BalanceDef;
    use crate::upstream::{Balance, KeepaliveConf};
    let line = up.server.first().map_or(0, |s| s.line);
    let balance = match &up.balance {
        None => Balance::RoundRobin,
        Some(BalanceDef::Method(m)) => match m.as_str() {
            "round_robin" => Balance::RoundRobin,
            "ip_hash" => Balance::IpHash,
            "least_conn" => Balance::LeastConn,
            other => {
                return Err(ctx
                    .err(
                        line,
                        format!("invalid balance method \"{other}\" in upstream \"{name}\""),
                    )
                    .directive("balance"))
            }
        },
        Some(BalanceDef::Hash { hash, consistent }) => Balance::Hash {
            key: crate::vars::Template::compile(hash)
                .map_err(|e| ctx.err(line, e.to_string()).directive("hash"))?,
            consistent: *consistent,
        },
    };
    // ip_hash and hash have no backup servers: their module flags lack
    // NGX_HTTP_UPSTREAM_BACKUP, so ngx_http_upstream_server rejects the word
    // (nginx 1.22.1 -t: 'balancing method does not support parameter "backup"').
    if matches!(balance, Balance::IpHash | Balance::Hash { .. }) {
        if let Some(s) = up
            .server
            .iter()
            .find(|s| s.value.split_whitespace().any(|w| w == "backup"))
        {
            return Err(ctx
                .err(s.line, "balancing method does not support parameter \"backup\"")
                .directive("server"));
        }
    }
    let keepalive = match up.keepalive {
        None => None,
        Some(0) => {
            return Err(ctx
                .err(line, "invalid value \"0\" in \"keepalive\" directive")
                .directive("keepalive"))
        }
        Some(n) => Some(KeepaliveConf {
            max_cached: n as usize,
            timeout: up.keepalive_timeout.map_or(Duration::from_secs(60), |d| d.0),
            requests: up.keepalive_requests.unwrap_or(1000),
            time: up.keepalive_time.map_or(Duration::from_secs(3600), |d| d.0),
        }),
    };
    Ok(Pool::with_balance(name.to_string(), peers, balance, keepalive))
}

fn main_conf(ctx: &CompileCtx, cfg: &Config) -> Result<MainConf, ConfigError> {
    let worker_processes = match cfg.worker_processes {
        None => 1,
        Some(WorkerProcesses::Auto(_)) => std::thread::available_parallelism().map_or(1, |n| n.get()),
        Some(WorkerProcesses::Count(0)) => {
            return Err(ctx.err(0, "invalid value \"0\"").directive("worker_processes"));
        }
        Some(WorkerProcesses::Count(n)) => n as usize,
    };
    let error_log = match &cfg.error_log {
        Some(l) => parse_error_log(ctx, l.line, &l.value)?,
        None => ErrorLogConf {
            path: Some(ctx.path(defaults::ERROR_LOG)),
            level: Level::Error,
        },
    };
    let pid = cfg
        .pid
        .as_ref()
        .map_or_else(|| ctx.path(defaults::PID), |p| ctx.path(&p.value));
    Ok(MainConf {
        worker_processes,
        worker_connections: cfg
            .events
            .worker_connections
            .unwrap_or(defaults::WORKER_CONNECTIONS)
            .max(1),
        worker_rlimit_nofile: cfg.worker_rlimit_nofile,
        pid,
        error_log,
        shutdown_timeout: cfg.worker_shutdown_timeout.map(|d| d.0),
        drain_grace: cfg.drain_grace_time.map_or(Duration::ZERO, |d| d.0),
    })
}

#[cfg(test)]
mod upstream_tests {
    use super::*;

    fn build(upstream: &str, loc_extra: &str) -> Result<Snapshot, ConfigError> {
        let text = format!(
            "error_log = \"stderr\"\n[http]\naccess_log = \"off\"\n{upstream}\n\
             [[http.server]]\nlisten = [\"127.0.0.1:1\"]\n[[http.server.location]]\nmatch = \"/\"\n\
             proxy_pass = \"http://u\"\n{loc_extra}\n"
        );
        let p = Path::new("/tmp/rampart-test.toml");
        let cfg = crate::model::parse_toml(p, &text)?;
        compile(&cfg, p, Path::new("/tmp"), 1)
    }

    #[test]
    fn balance_methods_and_keepalive() {
        let table: &[(&str, bool)] = &[
            ("balance = \"ip_hash\"", true),
            ("balance = \"least_conn\"", true),
            ("balance = \"round_robin\"", true),
            ("balance = { hash = \"$request_uri\", consistent = true }", true),
            ("balance = { hash = \"$remote_addr\" }", true),
            ("balance = \"random\"", false),
            ("balance = { hash = \"$\" }", false),
        ];
        for (line, ok) in table {
            let r = build(
                &format!("[http.upstream.u]\nserver = [\"127.0.0.1:9\"]\n{line}\n"),
                "",
            );
            assert_eq!(r.is_ok(), *ok, "{line}: {:?}", r.err().map(|e| e.to_string()));
        }
        let s = build(
            "[http.upstream.u]\nserver = [\"127.0.0.1:9\"]\nkeepalive = 8\nkeepalive_requests = 5\nkeepalive_timeout = \"3s\"\n",
            "",
        )
        .unwrap();
        let ka = s.upstreams["u"].keepalive.unwrap();
        assert_eq!(
            (ka.max_cached, ka.requests, ka.timeout, ka.time),
            (8, 5, Duration::from_secs(3), Duration::from_secs(3600))
        );
        assert!(build(
            "[http.upstream.u]\nserver = [\"127.0.0.1:9\"]\nkeepalive = 0\n",
            ""
        )
        .is_err());
    }

    #[test]
    fn backup_rejected_with_hash_methods() {
        for m in ["\"ip_hash\"", "{ hash = \"$uri\" }"] {
            let e = build(
                &format!(
                    "[http.upstream.u]\nserver = [\"127.0.0.1:9\", \"127.0.0.1:8 backup\"]\nbalance = {m}\n"
                ),
                "",
            )
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
            assert!(
                e.contains("balancing method does not support parameter \"backup\""),
                "{e}"
            );
        }
        for m in ["\"least_conn\"", "\"round_robin\""] {
            let r = build(
                &format!(
                    "[http.upstream.u]\nserver = [\"127.0.0.1:9\", \"127.0.0.1:8 backup\"]\nbalance = {m}\n"
                ),
                "",
            );
            assert!(r.is_ok(), "{m}");
        }
    }

    #[test]
    fn next_upstream_settings() {
        let up = "[http.upstream.u]\nserver = [\"127.0.0.1:9\"]\n";
        assert!(build(
            up,
            "proxy_next_upstream = [\"error\", \"http_502\", \"non_idempotent\"]"
        )
        .is_ok());
        assert!(build(
            up,
            "proxy_next_upstream = [\"off\"]\nproxy_next_upstream_tries = 2"
        )
        .is_ok());
        assert!(build(up, "proxy_next_upstream_timeout = \"5s\"").is_ok());
        let e = build(up, "proxy_next_upstream = [\"http_501\"]")
            .err()
            .map(|e| e.to_string());
        assert!(e.unwrap_or_default().contains("invalid value \"http_501\""));
    }
}
