//! The process around the server: nginx's command line, the pid file, and
//! the signals an operator (or `rampart -s`) sends: HUP reload, USR1 reopen
//! logs, QUIT graceful stop, TERM/INT fast stop.

use crate::http::status::NGINX_VERSION;
use crate::server::Server;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub const USAGE: &str = "Usage: rampart [-?hvVtTq] [-s signal] [-p prefix] [-c filename]

Options:
  -?,-h         : this help
  -v            : show version and exit
  -V            : show version and configure options then exit
  -t            : test configuration and exit
  -T            : test configuration, dump it and exit
  -q            : suppress non-error messages during configuration testing
  -s signal     : send signal to the running process: stop, quit, reopen, reload
  -p prefix     : set prefix path (default: the current directory)
  -c filename   : set configuration file (default: conf/rampart.toml)
  -e filename   : set the start-up error log file (default: stderr)
  -g directives : set global directives out of configuration file

       rampart convert FILE : print FILE (nginx.conf or rampart.toml) as rampart.toml";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Run,
    Test { dump: bool },
    Signal(String),
    Version { verbose: bool },
    Help,
}

#[derive(Debug, Clone)]
pub struct Cli {
    pub command: Command,
    pub prefix: PathBuf,
    pub conf: PathBuf,
    pub quiet: bool,
    /// `-e FILE|stderr`: where start-up errors go before the config's error_log is open.
    pub errlog: Option<PathBuf>,
    /// `-g "directives;"`: main-context directives in nginx syntax.
    pub globals: Option<String>,
}

impl Cli {
    /// Parses nginx-style flags; like nginx, flags may be grouped (`-tq`) and
    /// a flag's value may be attached (`-cfile`) or the next argument.
    pub fn parse(args: impl Iterator<Item = String>) -> Result<Cli, String> {
        let mut command = Command::Run;
        let mut prefix: Option<PathBuf> = None;
        let mut conf: Option<PathBuf> = None;
        let mut quiet = false;
        let mut errlog: Option<PathBuf> = None;
        let mut globals: Option<String> = None;
        let mut args = args.peekable();
        while let Some(a) = args.next() {
            let Some(flags) = a.strip_prefix('-') else {
                return Err(format!("invalid option: \"{a}\""));
            };
            let mut chars = flags.char_indices();
            while let Some((i, c)) = chars.next() {
                let mut value = |name: &str| -> Result<String, String> {
                    let rest = &flags[i + 1..];
                    if !rest.is_empty() {
                        Ok(rest.to_string())
                    } else {
                        args.next().ok_or_else(|| {
                            format!(
                                "option \"-{name}\" requires {}",
                                match name {
                                    "c" => "file name",
                                    "p" => "directory name",
                                    "s" => "signal name",
                                    _ => "an argument",
                                }
                            )
                        })
                    }
                };
                match c {
                    '?' | 'h' => command = Command::Help,
                    'v' => command = Command::Version { verbose: false },
                    'V' => command = Command::Version { verbose: true },
                    't' => {
                        command = Command::Test {
                            dump: matches!(command, Command::Test { dump: true }),
                        }
                    }
                    'T' => command = Command::Test { dump: true },
                    'q' => quiet = true,
                    'c' => {
                        conf = Some(PathBuf::from(value("c")?));
                        break;
                    }
                    'g' => {
                        globals = Some(value("g")?);
                        break;
                    }
                    'e' => {
                        let v = value("e")?;
                        errlog = (v != "stderr").then(|| PathBuf::from(v));
                        break;
                    }
                    'p' => {
                        prefix = Some(PathBuf::from(value("p")?));
                        break;
                    }
                    's' => {
                        let s = value("s")?;
                        if !matches!(s.as_str(), "stop" | "quit" | "reopen" | "reload") {
                            return Err(format!("invalid option: \"-s {s}\""));
                        }
                        command = Command::Signal(s);
                        break;
                    }
                    other => return Err(format!("invalid option: \"{other}\"")),
                }
                let _ = &mut chars;
            }
        }
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        let prefix = match prefix {
            Some(p) if p.is_absolute() => p,
            Some(p) => cwd.join(p),
            None => cwd,
        };
        let conf = conf.unwrap_or_else(|| PathBuf::from("conf/rampart.toml"));
        let conf = if conf.is_absolute() {
            conf
        } else {
            prefix.join(conf)
        };
        let errlog = errlog.map(|e| if e.is_absolute() { e } else { prefix.join(e) });
        Ok(Cli {
            command,
            prefix,
            conf,
            quiet,
            errlog,
            globals,
        })
    }
}

/// nginx modules rampart implements, and nginx's default modules it lacks, in
/// `nginx -V`'s `configure arguments:` shape, so tooling that inspects the
/// module list learns the truth.
const WITH_MODULES: &[&str] = &[
    "http_ssl_module",
    "http_v2_module",
    "http_realip_module",
    "http_gzip_static_module",
    "http_stub_status_module",
];
const WITHOUT_MODULES: &[&str] = &[
    "http_ssi_module",
    "http_userid_module",
    "http_mirror_module",
    "http_autoindex_module",
    "http_geo_module",
    "http_map_module",
    "http_split_clients_module",
    "http_referer_module",
    "http_fastcgi_module",
    "http_uwsgi_module",
    "http_scgi_module",
    "http_grpc_module",
    "http_memcached_module",
    "http_limit_conn_module",
    "http_limit_req_module",
    "http_empty_gif_module",
    "http_browser_module",
    "http_upstream_random_module",
    "http_upstream_zone_module",
];

pub fn version_text(verbose: bool) -> String {
    let mut s = format!(
        "rampart version: rampart/{} (nginx/{NGINX_VERSION} compatible)",
        env!("CARGO_PKG_VERSION")
    );
    if verbose {
        let (isal, without) = if crate::filters::isal::AVAILABLE {
            ("ISA-L igzip (level 1), ", "")
        } else {
            ("", " (built without ISA-L)")
        };
        s.push_str(&format!(
            "\nbuilt with rustc; TLS: rustls (ring); gzip: {isal}libdeflate, zlib-rs{without}"
        ));
        s.push_str("\nconfigure arguments:");
        for m in WITH_MODULES {
            s.push_str(" --with-");
            s.push_str(m);
        }
        for m in WITHOUT_MODULES {
            s.push_str(" --without-");
            s.push_str(m);
        }
    }
    s
}

/// `-t` / `-T`: nginx prints to stderr and exits 0 or 1.
pub fn test_config(cli: &Cli, dump: bool) -> ExitCode {
    let file = cli.conf.display().to_string();
    let cfg = match crate::model::load(&cli.conf) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rampart: [emerg] {e}");
            eprintln!("rampart: configuration file {file} test failed");
            return ExitCode::from(1);
        }
    };
    if let Err(e) = crate::runtime::compile(&cfg, &cli.conf, &cli.prefix, 0) {
        eprintln!("rampart: [emerg] {e}");
        eprintln!("rampart: configuration file {file} test failed");
        return ExitCode::from(1);
    }
    crate::log::hub().flush();
    if !cli.quiet {
        eprintln!("rampart: the configuration file {file} syntax is ok");
        eprintln!("rampart: configuration file {file} test is successful");
    }
    if dump {
        match toml::to_string(&cfg) {
            Ok(t) => println!("# configuration file {file}:\n{t}"),
            Err(e) => {
                eprintln!("rampart: [emerg] cannot print the configuration: {e}");
                return ExitCode::from(1);
            }
        }
    }
    ExitCode::SUCCESS
}

/// `rampart convert FILE`: prints FILE (nginx.conf or rampart.toml) as
/// rampart.toml. Loading the output gives the same model. For an nginx.conf
/// every directive that is not implemented yet is listed, not only the first.
pub fn convert(path: &Path) -> ExitCode {
    let loaded = if crate::model::is_toml(path) {
        crate::model::load(path)
    } else {
        let r = crate::model::nginx::analyze(path);
        for e in r.not_implemented.iter().skip(1) {
            eprintln!("rampart: [emerg] {e}");
        }
        match r.error {
            Some(e) => Err(e),
            None => Ok(r.config),
        }
    };
    let cfg = match loaded {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rampart: [emerg] {e}");
            return ExitCode::from(1);
        }
    };
    match toml::to_string(&cfg) {
        Ok(t) => {
            println!(
                "# converted from {} by rampart {}
{t}",
                path.display(),
                env!("CARGO_PKG_VERSION")
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rampart: [emerg] cannot print the configuration: {e}");
            ExitCode::from(1)
        }
    }
}

fn pid_path(cli: &Cli) -> Result<PathBuf, String> {
    let cfg = crate::model::load(&cli.conf).map_err(|e| e.to_string())?;
    Ok(match &cfg.pid {
        Some(p) if Path::new(&p.value).is_absolute() => PathBuf::from(&p.value),
        Some(p) => cli.prefix.join(&p.value),
        None => cli.prefix.join(crate::runtime::defaults::PID),
    })
}

/// `-s SIGNAL`: signals the process named in the pid file.
pub fn send_signal(cli: &Cli, sig: &str) -> ExitCode {
    let path = match pid_path(cli) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("rampart: [emerg] {e}");
            return ExitCode::from(1);
        }
    };
    let pid: i32 = match std::fs::read_to_string(&path) {
        Ok(s) => match s.trim().parse() {
            Ok(p) if p > 0 => p,
            _ => {
                eprintln!(
                    "rampart: [error] invalid PID number \"{}\" in \"{}\"",
                    s.trim(),
                    path.display()
                );
                return ExitCode::from(1);
            }
        },
        Err(e) => {
            eprintln!(
                "rampart: [error] open() \"{}\" failed ({})",
                path.display(),
                crate::log::OsErr(&e)
            );
            return ExitCode::from(1);
        }
    };
    let signo = match sig {
        "stop" => libc::SIGTERM,
        "quit" => libc::SIGQUIT,
        "reopen" => libc::SIGUSR1,
        _ => libc::SIGHUP,
    };
    // SAFETY: kill has no memory-safety preconditions.
    if unsafe { libc::kill(pid, signo) } != 0 {
        let e = std::io::Error::last_os_error();
        eprintln!(
            "rampart: [alert] kill({pid}, {signo}) failed ({})",
            crate::log::OsErr(&e)
        );
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

fn write_pid(path: &Path) -> std::io::Result<()> {
    let tmp = path.with_extension("pid.tmp");
    std::fs::write(&tmp, format!("{}\n", std::process::id()))?;
    std::fs::rename(&tmp, path)
}

/// Starts the server in the foreground and runs the signal loop until a stop.
pub fn run(cli: &Cli) -> Result<(), String> {
    use tokio::signal::unix::{signal, SignalKind};
    // Reading the model starts no thread, so `daemon on` can still fork here.
    let model = crate::model::load(&cli.conf).map_err(|e| e.to_string())?;
    let mut ready = if model.daemon == Some(true) {
        crate::daemon::detach()?
    } else {
        crate::daemon::Ready::none()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    // Signals are installed before the pid file appears: a reload sent as soon
    // as the pid file exists must not kill the process.
    let mut sigs = rt
        .block_on(async {
            Ok::<_, std::io::Error>((
                signal(SignalKind::hangup())?,
                signal(SignalKind::user_defined1())?,
                signal(SignalKind::quit())?,
                signal(SignalKind::terminate())?,
                signal(SignalKind::interrupt())?,
            ))
        })
        .map_err(|e| format!("signal setup failed: {e}"))?;
    let mut server = match Server::start(&cli.conf, &cli.prefix) {
        Ok(s) => s,
        Err(e) => {
            ready.fail(&e.to_string());
            return Err(e.to_string());
        }
    };
    let pid = crate::server::state::snapshot()
        .map(|s| s.main.pid.clone())
        .ok_or("no configuration")?;
    if let Err(e) = write_pid(&pid) {
        let msg = format!("open() \"{}\" failed ({})", pid.display(), crate::log::OsErr(&e));
        ready.fail(&msg);
        return Err(msg);
    }
    if let Some(user) = &model.user {
        if let Err(e) = crate::daemon::drop_privileges(user) {
            ready.fail(&e);
            let _ = std::fs::remove_file(&pid);
            return Err(e);
        }
    }
    ready.ok();
    crate::log::error_log::log(
        crate::log::Level::Notice,
        None,
        format_args!("rampart/{} started", env!("CARGO_PKG_VERSION")),
    );

    enum Act {
        Reload,
        Reopen,
        Quit,
        Stop,
    }
    loop {
        let (hup, usr1, quit, term, int) = &mut sigs;
        let act = rt.block_on(async {
            tokio::select! {
                _ = hup.recv() => Act::Reload,
                _ = usr1.recv() => Act::Reopen,
                _ = quit.recv() => Act::Quit,
                _ = term.recv() => Act::Stop,
                _ = int.recv() => Act::Stop,
            }
        });
        match act {
            Act::Reload => {
                crate::log::error_log::log(
                    crate::log::Level::Notice,
                    None,
                    format_args!("signal 1 (SIGHUP) received, reconfiguring"),
                );
                match server.reload() {
                    Ok(()) => crate::log::error_log::log(
                        crate::log::Level::Notice,
                        None,
                        format_args!("configuration generation {} loaded", server.generation()),
                    ),
                    Err(e) => crate::log::error_log::log(
                        crate::log::Level::Emerg,
                        None,
                        format_args!("{e}; the running configuration is kept"),
                    ),
                }
            }
            Act::Reopen => {
                crate::log::error_log::log(
                    crate::log::Level::Notice,
                    None,
                    format_args!("signal 10 (SIGUSR1) received, reopening logs"),
                );
                server.reopen_logs();
            }
            Act::Quit => {
                crate::log::error_log::log(
                    crate::log::Level::Notice,
                    None,
                    format_args!("signal 3 (SIGQUIT) received, shutting down gracefully"),
                );
                let grace = server.fail_probes();
                if !grace.is_zero() && !wait_grace(&rt, &server, grace, &mut sigs) {
                    crate::log::error_log::log(
                        crate::log::Level::Notice,
                        None,
                        format_args!("signal received during drain_grace_time, exiting"),
                    );
                    server.stop();
                    let _ = std::fs::remove_file(&pid);
                    crate::log::hub().flush();
                    return Ok(());
                }
                let t = server.shutdown_timeout();
                server.quit(t);
                let _ = std::fs::remove_file(&pid);
                crate::log::hub().flush();
                return Ok(());
            }
            Act::Stop => {
                crate::log::error_log::log(
                    crate::log::Level::Notice,
                    None,
                    format_args!("signal received, exiting"),
                );
                server.stop();
                let _ = std::fs::remove_file(&pid);
                crate::log::hub().flush();
                return Ok(());
            }
        }
    }
}

/// The signals the control loop listens to: HUP, USR1, QUIT, TERM, INT.
type Signals = (
    tokio::signal::unix::Signal,
    tokio::signal::unix::Signal,
    tokio::signal::unix::Signal,
    tokio::signal::unix::Signal,
    tokio::signal::unix::Signal,
);

/// Phase 2 of a graceful stop: keep serving for `grace` while the L4 tier
/// notices the failed probes. A second QUIT ends the grace at once; TERM or
/// INT asks for a fast stop instead (returns false); USR1 still reopens the
/// logs; a reload is refused (the node is leaving).
fn wait_grace(
    rt: &tokio::runtime::Runtime,
    server: &Server,
    grace: std::time::Duration,
    sigs: &mut Signals,
) -> bool {
    enum Ev {
        Over,
        SecondQuit,
        Stop,
        Reopen,
        Reload,
    }
    let (hup, usr1, quit, term, int) = sigs;
    let end = tokio::time::Instant::now() + grace;
    let notice =
        |msg: std::fmt::Arguments<'_>| crate::log::error_log::log(crate::log::Level::Notice, None, msg);
    loop {
        let ev = rt.block_on(async {
            tokio::select! {
                _ = tokio::time::sleep_until(end) => Ev::Over,
                _ = quit.recv() => Ev::SecondQuit,
                _ = term.recv() => Ev::Stop,
                _ = int.recv() => Ev::Stop,
                _ = usr1.recv() => Ev::Reopen,
                _ = hup.recv() => Ev::Reload,
            }
        });
        match ev {
            Ev::Over => {
                notice(format_args!("graceful shutdown: drain_grace_time over"));
                return true;
            }
            Ev::SecondQuit => {
                notice(format_args!(
                    "graceful shutdown: second SIGQUIT, drain_grace_time cut short"
                ));
                return true;
            }
            Ev::Stop => return false,
            Ev::Reopen => server.reopen_logs(),
            Ev::Reload => notice(format_args!(
                "signal 1 (SIGHUP) ignored: shutting down gracefully"
            )),
        }
    }
}

/// Reports a start-up failure where `-e` says (stderr by default), in
/// nginx's `[emerg]` shape; an error-log file gets a timestamped line.
pub fn startup_error(cli: &Cli, msg: &str) {
    let Some(path) = &cli.errlog else {
        eprintln!("rampart: [emerg] {msg}");
        return;
    };
    use std::io::Write;
    let mut line = Vec::new();
    let now = crate::log::clock::now();
    crate::log::error_log::format_line(
        &mut line,
        now.err_log(),
        crate::log::Level::Emerg,
        std::process::id(),
        u64::from(std::process::id()),
        None,
        format_args!("{msg}"),
    );
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(&line));
    if written.is_err() {
        eprintln!("rampart: [emerg] {msg}");
    }
}
