//! Worker threads: nginx's worker processes as OS threads, each running its
//! own single-threaded tokio runtime, so a connection never migrates between
//! threads and nothing on the hot path needs cross-thread wake-ups.

use super::conn;
use crate::log::Level;
use crate::status::counters;
use std::cell::Cell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Messages from the control thread to a worker.
pub enum WorkerCmd {
    /// Start accepting on this socket (a worker's own, or a clone of a shared one).
    Listen(SocketAddr, std::net::TcpListener),
    /// Stop accepting on this address (removed by a reload).
    Unlisten(SocketAddr),
    /// Graceful stop: stop accepting, let connections finish, then exit
    /// (at the latest after the timeout, if one is given).
    Quit(Option<Duration>),
    /// Fast stop: exit now.
    Stop,
    /// Hand this thread's buffered log lines to the writer, then answer
    /// (before a reopen, so lines written before the rotation land in the
    /// rotated file).
    FlushLogs(std::sync::mpsc::Sender<()>),
    /// Answer with a duplicate of every socket this worker accepts on, so a
    /// worker added by a reload can accept from the same shared sockets.
    ShareListeners(std::sync::mpsc::Sender<Vec<(SocketAddr, std::net::TcpListener)>>),
}

static CONN_NUMBER: AtomicU64 = AtomicU64::new(0);

/// A running worker thread.
pub struct WorkerHandle {
    pub cmd: mpsc::UnboundedSender<WorkerCmd>,
    pub thread: std::thread::JoinHandle<()>,
}

/// Starts worker `id`; `max_conns` is worker_connections.
pub fn spawn(id: usize, max_conns: u64) -> std::io::Result<WorkerHandle> {
    let (tx, rx) = mpsc::unbounded_channel();
    let thread = std::thread::Builder::new()
        .name(format!("rampart-w{id}"))
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    crate::log::error_log::log(
                        Level::Emerg,
                        None,
                        format_args!("worker {id}: runtime failed: {e}"),
                    );
                    return;
                }
            };
            let local = tokio::task::LocalSet::new();
            local.block_on(&rt, run(rx, max_conns));
            crate::log::flush_thread_buffers();
        })?;
    Ok(WorkerHandle { cmd: tx, thread })
}

async fn run(mut rx: mpsc::UnboundedReceiver<WorkerCmd>, max_conns: u64) {
    let active = Rc::new(Cell::new(0u64));
    let mut accepting: HashMap<SocketAddr, (JoinHandle<()>, Rc<tokio::net::TcpListener>)> = HashMap::new();
    // Access-log lines are buffered per thread; hand them to the writer regularly.
    let flusher = tokio::task::spawn_local(async {
        let mut t = tokio::time::interval(Duration::from_millis(100));
        loop {
            t.tick().await;
            crate::log::flush_thread_buffers();
        }
    });
    let mut quit: Option<Option<Duration>> = None;
    while let Some(cmd) = rx.recv().await {
        match cmd {
            WorkerCmd::Listen(addr, l) => match tokio::net::TcpListener::from_std(l) {
                Ok(l) => {
                    let l = Rc::new(l);
                    let h = tokio::task::spawn_local(accept_loop(l.clone(), addr, active.clone(), max_conns));
                    if let Some((old, _)) = accepting.insert(addr, (h, l)) {
                        old.abort();
                    }
                }
                Err(e) => crate::log::error_log::log(
                    Level::Alert,
                    None,
                    format_args!("listen on {addr} failed: {e}"),
                ),
            },
            WorkerCmd::Unlisten(addr) => {
                if let Some((h, _)) = accepting.remove(&addr) {
                    h.abort();
                }
            }
            WorkerCmd::ShareListeners(reply) => {
                let dups = accepting
                    .iter()
                    .filter_map(|(addr, (_, l))| {
                        socket2::SockRef::from(&**l)
                            .try_clone()
                            .map(|s| (*addr, std::net::TcpListener::from(s)))
                            .map_err(|e| {
                                crate::log::error_log::log(
                                    Level::Alert,
                                    None,
                                    format_args!(
                                        "dup() of the listener on {addr} failed ({})",
                                        crate::log::OsErr(&e)
                                    ),
                                )
                            })
                            .ok()
                    })
                    .collect();
                let _ = reply.send(dups);
            }
            WorkerCmd::Quit(t) => {
                // The same whether the process stops or a reload retires
                // just this worker: its connections drain.
                crate::exchange::lifecycle::start_thread_drain();
                quit = Some(t);
                break;
            }
            WorkerCmd::Stop => break,
            WorkerCmd::FlushLogs(done) => {
                crate::log::flush_thread_buffers();
                let _ = done.send(());
            }
        }
    }
    for (_, (h, _)) in accepting.drain() {
        h.abort();
    }
    if let Some(timeout) = quit {
        // Graceful: wait for this thread's connections to finish.
        let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        while active.get() > 0 {
            if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
                crate::log::error_log::log(
                    Level::Notice,
                    None,
                    format_args!("worker_shutdown_timeout: closing {} connections", active.get()),
                );
                break;
            }
            // A fast stop (SIGTERM) still ends a draining worker at once.
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(20)) => {}
                cmd = rx.recv() => match cmd {
                    Some(WorkerCmd::Stop) | None => break,
                    Some(WorkerCmd::FlushLogs(done)) => {
                        crate::log::flush_thread_buffers();
                        let _ = done.send(());
                    }
                    Some(_) => {}
                },
            }
        }
    }
    flusher.abort();
}

/// Decrements the worker's connection count however the connection ends.
struct Active(Rc<Cell<u64>>);

impl Drop for Active {
    fn drop(&mut self) {
        self.0.set(self.0.get().saturating_sub(1));
    }
}

async fn accept_loop(
    l: Rc<tokio::net::TcpListener>,
    addr: SocketAddr,
    active: Rc<Cell<u64>>,
    max_conns: u64,
) {
    loop {
        match l.accept().await {
            Ok((stream, peer)) => {
                counters::count_accept();
                if active.get() >= max_conns {
                    // nginx: "worker_connections are not enough"; accepted, then closed.
                    crate::log::error_log::log(
                        Level::Alert,
                        None,
                        format_args!("{max_conns} worker_connections are not enough"),
                    );
                    drop(stream);
                    continue;
                }
                let _ = stream.set_nodelay(true);
                active.set(active.get() + 1);
                let guard = Active(active.clone());
                let number = CONN_NUMBER.fetch_add(1, Ordering::Relaxed) + 1;
                tokio::task::spawn_local(async move {
                    let _guard = guard;
                    conn::serve(stream, peer, addr, number).await;
                });
            }
            Err(e) => {
                // EMFILE/ENFILE: back off instead of spinning (nginx disables accept for 500ms).
                crate::log::error_log::log(
                    Level::Alert,
                    None,
                    format_args!("accept() failed ({})", crate::log::OsErr(&e)),
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}
