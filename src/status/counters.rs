//! Process-wide connection and request counters with nginx's stub_status
//! semantics (nginx/nginx: src/http/modules/ngx_http_stub_status_module.c,
//! src/event/ngx_event_accept.c). They are globals, not part of a config
//! snapshot, so they survive reloads as nginx's shared-memory counters do.
//!
//! Relaxed atomics: each counter is independent and only ever read for
//! display, so no ordering between them is needed.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

pub struct Counters {
    pub accepts: AtomicU64,
    pub handled: AtomicU64,
    pub requests: AtomicU64,
    pub active: AtomicI64,
    pub reading: AtomicI64,
    pub writing: AtomicI64,
    pub waiting: AtomicI64,
}

pub static COUNTERS: Counters = Counters {
    accepts: AtomicU64::new(0),
    handled: AtomicU64::new(0),
    requests: AtomicU64::new(0),
    active: AtomicI64::new(0),
    reading: AtomicI64::new(0),
    writing: AtomicI64::new(0),
    waiting: AtomicI64::new(0),
};

/// The state a client connection is in, for Reading/Writing/Waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnState {
    /// Idle keep-alive, or accepted and silent.
    Waiting,
    /// Request head being read.
    Reading,
    /// Request being processed and answered.
    Writing,
    /// Not counted (closed, or a tunnel after 101).
    None,
}

fn gauge(s: ConnState) -> Option<&'static AtomicI64> {
    match s {
        ConnState::Waiting => Some(&COUNTERS.waiting),
        ConnState::Reading => Some(&COUNTERS.reading),
        ConnState::Writing => Some(&COUNTERS.writing),
        ConnState::None => None,
    }
}

/// Tracks one client connection's contribution to the gauges; dropping it
/// (however the connection ends) takes the contribution back.
pub struct ConnGauge {
    state: ConnState,
}

impl ConnGauge {
    /// Called once a connection has been accepted and set up (`handled`).
    pub fn accepted() -> ConnGauge {
        COUNTERS.handled.fetch_add(1, Relaxed);
        COUNTERS.active.fetch_add(1, Relaxed);
        COUNTERS.waiting.fetch_add(1, Relaxed);
        ConnGauge {
            state: ConnState::Waiting,
        }
    }

    pub fn set(&mut self, s: ConnState) {
        if s == self.state {
            return;
        }
        if let Some(g) = gauge(self.state) {
            g.fetch_sub(1, Relaxed);
        }
        if let Some(g) = gauge(s) {
            g.fetch_add(1, Relaxed);
        }
        self.state = s;
    }
}

impl Drop for ConnGauge {
    fn drop(&mut self) {
        self.set(ConnState::None);
        COUNTERS.active.fetch_sub(1, Relaxed);
    }
}

pub fn count_accept() {
    COUNTERS.accepts.fetch_add(1, Relaxed);
}

pub fn count_request() {
    COUNTERS.requests.fetch_add(1, Relaxed);
}

/// A consistent-enough snapshot for display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    pub active: u64,
    pub accepts: u64,
    pub handled: u64,
    pub requests: u64,
    pub reading: u64,
    pub writing: u64,
    pub waiting: u64,
}

pub fn snapshot() -> Snapshot {
    let g = |a: &AtomicI64| a.load(Relaxed).max(0) as u64;
    Snapshot {
        active: g(&COUNTERS.active),
        accepts: COUNTERS.accepts.load(Relaxed),
        handled: COUNTERS.handled.load(Relaxed),
        requests: COUNTERS.requests.load(Relaxed),
        reading: g(&COUNTERS.reading),
        writing: g(&COUNTERS.writing),
        waiting: g(&COUNTERS.waiting),
    }
}
