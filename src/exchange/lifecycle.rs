//! The two flags of a graceful stop: "probes failing" (phase 1, while still
//! serving, so the L4 tier takes the node out) and "draining" (phase 3,
//! idle connections close and keep-alive ends). Set by the server's drain
//! (server/drain.rs), read by every request's keep-alive decision and idle
//! wait.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use tokio::sync::Notify;

static PROBES_FAILING: AtomicBool = AtomicBool::new(false);
static DRAINING: AtomicBool = AtomicBool::new(false);
/// The `THREAD_DRAIN` of every thread that has waited for a drain: a
/// process-wide drain wakes each. (One shared `Notify` instead would put
/// every idle wait of every worker behind one mutex, and cost each idle
/// connection a second waiter.)
static THREAD_DRAINS: Mutex<Vec<&'static Notify>> = Mutex::new(Vec::new());

/// Whether a graceful stop has begun: `health_probe` locations answer 503
/// and `$draining` is "1", while every other location still serves.
pub fn probes_failing() -> bool {
    PROBES_FAILING.load(Ordering::Relaxed)
}

/// Phase 1 of a graceful stop: fail the health probes (the listeners
/// flagged `health_probe` are closed by the caller).
pub fn fail_probes() {
    PROBES_FAILING.store(true, Ordering::SeqCst);
}

thread_local! {
    /// This worker thread alone is draining: a reload lowered
    /// `worker_processes` and retired it (the others go on serving).
    static THREAD_DRAINING: Cell<bool> = const { Cell::new(false) };
    /// Wakes this thread's idle connections when the process drains or this
    /// thread is retired. Leaked so that a `Notified` can outlive the
    /// thread-local borrow: one small allocation per worker thread.
    static THREAD_DRAIN: &'static Notify = {
        let n: &'static Notify = Box::leak(Box::new(Notify::new()));
        THREAD_DRAINS.lock().unwrap_or_else(PoisonError::into_inner).push(n);
        n
    };
}

/// Whether the drain proper has begun (after the grace time) for the whole
/// process or for this worker thread: no new keep-alive, idle connections close.
pub fn draining() -> bool {
    DRAINING.load(Ordering::Relaxed) || THREAD_DRAINING.with(Cell::get)
}

/// Drains this worker thread only (a retired worker): its idle connections
/// close, busy ones finish their request and then close.
pub fn start_thread_drain() {
    THREAD_DRAINING.with(|d| d.set(true));
    THREAD_DRAIN.with(|n| n.notify_waiters());
}

/// Starts a graceful drain: idle connections close, busy ones finish their
/// request and then close.
pub fn start_drain() {
    PROBES_FAILING.store(true, Ordering::SeqCst);
    DRAINING.store(true, Ordering::SeqCst);
    for n in THREAD_DRAINS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
    {
        n.notify_waiters();
    }
}

/// Completes once a drain has started (for the process or this thread).
pub async fn drain_signal() {
    let local = THREAD_DRAIN.with(|n| *n).notified();
    tokio::pin!(local);
    // Registered before the check: a drain that starts in between wakes it.
    local.as_mut().enable();
    if draining() {
        return;
    }
    local.await;
}
