//! The phases of a graceful stop (SIGQUIT, `-s quit`) for a node behind an
//! L4 tier (keepalived/LVS, haproxy): the tier must take the node out
//! *before* it stops accepting, or connections it still sends are refused.
//!
//! 1. [`Server::fail_probes`]: `health_probe` locations answer 503 and the
//!    `listen ... health_probe` sockets close, while every other listener
//!    keeps accepting and serving.
//! 2. The caller waits `drain_grace_time` (the tier needs `fall × interval`
//!    to notice), still serving.
//! 3. [`Server::quit`]: stop accepting, close idle keep-alive connections,
//!    answer busy ones with `Connection: close`, let in-flight requests end.
//! 4. Exit when they are done or `worker_shutdown_timeout` expires.
//!
//! Each phase logs a `notice` line starting with "graceful shutdown:" so an
//! operator can follow a drain in the error log.

use super::worker::WorkerCmd;
use super::{state, Server};
use crate::log::Level;
use std::net::SocketAddr;
use std::time::Duration;

fn notice(msg: std::fmt::Arguments<'_>) {
    crate::log::error_log::log(Level::Notice, None, msg);
}

impl Server {
    /// Phase 1: fail the health probes while still serving. Returns the
    /// grace time to keep serving before [`Server::quit`] (zero: none).
    pub fn fail_probes(&self) -> Duration {
        crate::exchange::lifecycle::fail_probes();
        let probes: Vec<SocketAddr> = self
            .bound
            .iter()
            .filter(|b| b.health_probe)
            .map(|b| b.addr)
            .collect();
        for addr in &probes {
            for w in &self.workers {
                let _ = w.cmd.send(WorkerCmd::Unlisten(*addr));
            }
        }
        let grace = state::snapshot().map_or(Duration::ZERO, |s| s.main.drain_grace);
        let closed = if probes.is_empty() {
            String::new()
        } else {
            let list: Vec<String> = probes.iter().map(ToString::to_string).collect();
            format!(", health_probe listeners {} closed", list.join(" "))
        };
        notice(format_args!(
            "graceful shutdown: health probes fail now{closed}; still serving for drain_grace_time {}ms",
            grace.as_millis()
        ));
        grace
    }

    /// Phases 3 and 4: stop accepting, let in-flight requests finish, close
    /// idle connections, flush the logs; returns when every worker has
    /// exited (at the latest `timeout` after the call).
    pub fn quit(mut self, timeout: Option<Duration>) {
        if let Some(c) = self.checker.take() {
            c.stop();
        }
        notice(format_args!(
            "graceful shutdown: listeners closed, closing idle keep-alive connections, waiting for requests in flight{}",
            timeout.map_or(String::new(), |t| format!(
                " (worker_shutdown_timeout {}ms)",
                t.as_millis()
            ))
        ));
        for w in &self.workers {
            let _ = w.cmd.send(WorkerCmd::Quit(timeout));
        }
        crate::exchange::lifecycle::start_drain();
        let workers = std::mem::take(&mut self.workers);
        for w in workers {
            let _ = w.thread.join();
        }
        notice(format_args!("graceful shutdown: all connections closed, exiting"));
        self.join();
    }
}
