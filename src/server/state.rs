//! The current config snapshot of the process, swapped by reloads with
//! arc-swap so that a request never waits for a reload. (The graceful-stop
//! flags are exchange::lifecycle.)

use crate::runtime::Snapshot;
use arc_swap::ArcSwapOption;
use std::sync::Arc;

static SNAPSHOT: ArcSwapOption<Snapshot> = ArcSwapOption::const_empty();
/// The snapshot requests should use now.
pub fn snapshot() -> Option<Arc<Snapshot>> {
    SNAPSHOT.load_full()
}

pub fn install(s: Arc<Snapshot>) {
    SNAPSHOT.store(Some(s));
}
