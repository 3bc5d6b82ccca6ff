//! The server object: binds listeners, runs worker threads, and carries out
//! the control operations (reload, reopen, graceful and fast stop).
//!
//! Tests and the binary drive the same object, so what a test shows is what
//! runs in production.

pub mod conn;
mod drain;
pub mod h2;
mod handlers;
pub mod listener;
pub mod pipeline;
pub mod proxy_protocol;
pub mod reject_log;
pub mod state;
pub mod worker;

use crate::config::ConfigError;
use crate::log::{ErrorDest, Level};
use crate::runtime::{self, ErrorLogConf, ListenOpts, Snapshot};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use worker::{WorkerCmd, WorkerHandle};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("bind() to {addr} failed ({})", crate::log::OsErr(err))]
    Bind { addr: SocketAddr, err: std::io::Error },
    #[error("{0}")]
    Io(String),
}

pub struct Server {
    file: PathBuf,
    prefix: PathBuf,
    workers: Vec<WorkerHandle>,
    /// Workers a reload retired (lower `worker_processes`), still draining
    /// their connections; joined at exit, forgotten once finished.
    retired: Vec<WorkerHandle>,
    /// Addresses currently bound, with their options.
    bound: Vec<ListenOpts>,
    generation: u64,
    error_log: ErrorLogConf,
    /// The active health checker of the running config (one thread for the process).
    checker: Option<crate::health::checker::Checker>,
}

fn apply_error_log(conf: &ErrorLogConf) -> Result<(), std::io::Error> {
    let dest = match &conf.path {
        None => ErrorDest::Stderr,
        Some(p) => ErrorDest::File(crate::log::hub().open(p)?),
    };
    crate::log::set_error_log(dest, conf.level);
    Ok(())
}

/// Reads and compiles the config file.
pub fn load_snapshot(file: &Path, prefix: &Path, generation: u64) -> Result<Snapshot, ConfigError> {
    let cfg = crate::model::load(file)?;
    runtime::compile(&cfg, file, prefix, generation)
}

fn set_nofile(n: u64) -> std::io::Result<()> {
    let lim = libc::rlimit {
        rlim_cur: n as libc::rlim_t,
        rlim_max: n as libc::rlim_t,
    };
    // SAFETY: setrlimit reads a valid rlimit struct.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

impl Server {
    /// Loads `file`, binds every listener, opens the logs and starts the
    /// workers. When this returns Ok the server accepts connections.
    pub fn start(file: &Path, prefix: &Path) -> Result<Server, StartError> {
        let snap = load_snapshot(file, prefix, 1)?;
        Self::start_with(snap, file, prefix)
    }

    pub fn start_with(snap: Snapshot, file: &Path, prefix: &Path) -> Result<Server, StartError> {
        let main = snap.main.clone();
        if let Some(n) = main.worker_rlimit_nofile {
            if let Err(e) = set_nofile(n) {
                crate::log::error_log::log(
                    Level::Alert,
                    None,
                    format_args!("setrlimit(RLIMIT_NOFILE, {n}) failed ({})", crate::log::OsErr(&e)),
                );
            }
        }
        apply_error_log(&main.error_log).map_err(|e| {
            StartError::Io(format!(
                "open() \"{}\" failed ({})",
                main.error_log
                    .path
                    .as_deref()
                    .unwrap_or(Path::new("stderr"))
                    .display(),
                crate::log::OsErr(&e)
            ))
        })?;
        let mut sockets = Vec::new();
        for l in &snap.listeners {
            let socks = listener::bind(&l.opts, main.worker_processes).map_err(|err| StartError::Bind {
                addr: l.opts.addr,
                err,
            })?;
            sockets.push((l.opts.addr, socks));
        }
        listener::close_unclaimed();
        let bound: Vec<ListenOpts> = snap.listeners.iter().map(|l| l.opts.clone()).collect();
        let health = snap.health.clone();
        // Success is recorded before the swap: a scrape that sees the new
        // generation also sees that the last load succeeded.
        crate::status::metrics::config_loaded(true);
        state::install(Arc::new(snap));
        crate::status::metrics::config_loaded(true);
        let checker =
            Some(crate::health::checker::Checker::start(health).map_err(|e| StartError::Io(e.to_string()))?);
        let mut workers = Vec::new();
        for id in 0..main.worker_processes {
            workers
                .push(worker::spawn(id, main.worker_connections).map_err(|e| StartError::Io(e.to_string()))?);
        }
        for (addr, socks) in sockets {
            for (w, s) in workers.iter().zip(socks) {
                let _ = w.cmd.send(WorkerCmd::Listen(addr, s));
            }
        }
        Ok(Server {
            file: file.to_path_buf(),
            prefix: prefix.to_path_buf(),
            workers,
            retired: Vec::new(),
            bound,
            generation: 1,
            error_log: main.error_log,
            checker,
        })
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The addresses being served.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.bound.iter().map(|b| b.addr).collect()
    }

    /// SIGHUP: re-read the config; on any error keep the running one and say why.
    pub fn reload(&mut self) -> Result<(), StartError> {
        let r = self.swap_config();
        if r.is_err() {
            crate::status::metrics::config_loaded(false);
        }
        r
    }

    fn swap_config(&mut self) -> Result<(), StartError> {
        let snap = load_snapshot(&self.file, &self.prefix, self.generation + 1)?;
        let (snap_workers, snap_conns) = (snap.main.worker_processes, snap.main.worker_connections);
        // Bind what is new before swapping, so a failure leaves everything as it was.
        let mut new_socks = Vec::new();
        for l in &snap.listeners {
            if !self.bound.iter().any(|b| b.addr == l.opts.addr) {
                let socks = listener::bind(&l.opts, self.workers.len()).map_err(|err| StartError::Bind {
                    addr: l.opts.addr,
                    err,
                })?;
                new_socks.push((l.opts.addr, socks));
            }
        }
        if snap.main.error_log != self.error_log {
            apply_error_log(&snap.main.error_log).map_err(|e| StartError::Io(e.to_string()))?;
            self.error_log = snap.main.error_log.clone();
        }
        let removed: Vec<SocketAddr> = self
            .bound
            .iter()
            .map(|b| b.addr)
            .filter(|a| snap.listener(*a).is_none())
            .collect();
        self.bound = snap.listeners.iter().map(|l| l.opts.clone()).collect();
        self.generation = snap.generation;
        // Health state carries over by (upstream, address): stop the old
        // checks first so the copy is the final state, then check the new list.
        if let Some(c) = self.checker.take() {
            c.stop();
        }
        if let Some(old) = state::snapshot() {
            snap.health.carry_over(&old.health);
        }
        let health = snap.health.clone();
        // Success is recorded before the swap: a scrape that sees the new
        // generation also sees that the last load succeeded.
        crate::status::metrics::config_loaded(true);
        state::install(Arc::new(snap));
        self.checker = match crate::health::checker::Checker::start(health) {
            Ok(c) => Some(c),
            Err(e) => {
                crate::log::error_log::log(
                    Level::Alert,
                    None,
                    format_args!("health checker not started ({})", crate::log::OsErr(&e)),
                );
                None
            }
        };
        for (addr, socks) in new_socks {
            for (w, s) in self.workers.iter().zip(socks) {
                let _ = w.cmd.send(WorkerCmd::Listen(addr, s));
            }
        }
        for addr in removed {
            for w in &self.workers {
                let _ = w.cmd.send(WorkerCmd::Unlisten(addr));
            }
        }
        self.resize_workers(snap_workers, snap_conns);
        crate::log::reload_timezone();
        Ok(())
    }

    /// A reload changed `worker_processes`: start the missing worker threads
    /// on the current sockets, or retire the extra ones, which stop
    /// accepting and drain their connections as in a graceful stop (bounded
    /// by `worker_shutdown_timeout`) while the others serve on. No connection
    /// is dropped: without `reuseport` every worker accepts from the same
    /// shared socket; with it, a retired worker's socket closes, and the
    /// kernel hands connections still queued on it to the other workers'
    /// sockets only with `net.ipv4.tcp_migrate_req = 1` (see README).
    fn resize_workers(&mut self, want: usize, max_conns: u64) {
        self.retired.retain(|w| !w.thread.is_finished());
        let have = self.workers.len();
        if want == have || want == 0 {
            return;
        }
        crate::log::error_log::log(
            Level::Notice,
            None,
            format_args!("worker_processes changed from {have} to {want}"),
        );
        if want < have {
            let timeout = self.shutdown_timeout();
            for w in self.workers.drain(want..) {
                let _ = w.cmd.send(WorkerCmd::Quit(timeout));
                self.retired.push(w);
            }
            return;
        }
        // Duplicates of worker 0's sockets (commands are handled in order,
        // so this reflects the reload's Listen/Unlisten just sent).
        let (tx, rx) = std::sync::mpsc::channel();
        let shared = match self.workers.first() {
            Some(w) if w.cmd.send(WorkerCmd::ShareListeners(tx)).is_ok() => {
                rx.recv_timeout(Duration::from_secs(5)).unwrap_or_default()
            }
            _ => Vec::new(),
        };
        for id in have..want {
            let w = match worker::spawn(id, max_conns) {
                Ok(w) => w,
                Err(e) => {
                    crate::log::error_log::log(
                        Level::Alert,
                        None,
                        format_args!("worker {id} not started ({})", crate::log::OsErr(&e)),
                    );
                    return;
                }
            };
            for (addr, sock) in &shared {
                let reuseport = self.bound.iter().any(|b| b.addr == *addr && b.reuseport);
                let own = if reuseport {
                    let opts = self.bound.iter().find(|b| b.addr == *addr);
                    opts.map(|o| listener::bind(o, 1).map(|mut v| v.pop()))
                } else {
                    Some(sock.try_clone().map(Some))
                };
                match own {
                    Some(Ok(Some(l))) => {
                        let _ = w.cmd.send(WorkerCmd::Listen(*addr, l));
                    }
                    Some(Err(e)) => crate::log::error_log::log(
                        Level::Alert,
                        None,
                        format_args!("worker {id}: listener {addr} failed ({})", crate::log::OsErr(&e)),
                    ),
                    _ => {}
                }
            }
            self.workers.push(w);
        }
    }

    /// SIGUSR1: reopen every log file by path (blocks until done).
    pub fn reopen_logs(&self) {
        let (tx, rx) = std::sync::mpsc::channel();
        let mut asked = 0;
        for w in &self.workers {
            if w.cmd.send(WorkerCmd::FlushLogs(tx.clone())).is_ok() {
                asked += 1;
            }
        }
        for _ in 0..asked {
            if rx.recv_timeout(Duration::from_secs(1)).is_err() {
                break;
            }
        }
        crate::log::hub().reopen_all();
    }

    /// SIGTERM/SIGINT: stop now.
    pub fn stop(mut self) {
        if let Some(c) = self.checker.take() {
            c.stop();
        }
        for w in self.workers.iter().chain(&self.retired) {
            let _ = w.cmd.send(WorkerCmd::Stop);
        }
        self.join();
    }

    fn join(self) {
        for w in self.workers.into_iter().chain(self.retired) {
            let _ = w.thread.join();
        }
        crate::log::flush_thread_buffers();
        crate::log::hub().flush();
    }

    /// The `worker_shutdown_timeout` of the running config.
    pub fn shutdown_timeout(&self) -> Option<Duration> {
        state::snapshot().and_then(|s| s.main.shutdown_timeout)
    }
}
