//! Process-wide serving state: the current config snapshot (swapped by
//! reloads with arc-swap, so a request never waits for a reload) and the
//! drain flag set by a graceful stop.

use crate::runtime::Snapshot;
use arc_swap::ArcSwapOption;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

static SNAPSHOT: ArcSwapOption<Snapshot> = ArcSwapOption::const_empty();
static DRAINING: AtomicBool = AtomicBool::new(false);
static DRAIN: Notify = Notify::const_new();

/// The snapshot requests should use now.
pub fn snapshot() -> Option<Arc<Snapshot>> {
    SNAPSHOT.load_full()
}

pub fn install(s: Arc<Snapshot>) {
    SNAPSHOT.store(Some(s));
}

pub fn draining() -> bool {
    DRAINING.load(Ordering::Relaxed)
}

/// Starts a graceful drain: idle connections close, busy ones finish their
/// request and then close.
pub fn start_drain() {
    DRAINING.store(true, Ordering::SeqCst);
    DRAIN.notify_waiters();
}

/// Completes once a drain has started.
pub async fn drain_signal() {
    let n = DRAIN.notified();
    tokio::pin!(n);
    n.as_mut().enable();
    if draining() {
        return;
    }
    n.await;
}
