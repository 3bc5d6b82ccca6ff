//! Per-worker peer state, as nginx keeps it without a `zone`: the smooth
//! round-robin weights, the passive-health counters (`fails`, `accessed`,
//! `checked`) and the active connection count (`conns`), all in
//! `ngx_http_upstream_rr_peer_t` (nginx/nginx:
//! src/http/ngx_http_upstream_round_robin.h). Each worker thread owns one copy
//! per pool, so nothing here is shared or locked.

use super::Peer;
use crate::health::PeerHealth;
use std::cell::Cell;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

thread_local! {
    /// Set while a fail-open upstream routes over every peer because all are
    /// check-down (Envoy's panic mode); see `Pool::get`.
    static IGNORE_CHECKS: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with active-check state ignored by `usable` on this thread.
pub fn ignoring_checks<R>(f: impl FnOnce() -> R) -> R {
    IGNORE_CHECKS.with(|c| c.set(true));
    let r = f();
    IGNORE_CHECKS.with(|c| c.set(false));
    r
}

/// The active-check state of a peer, if its upstream has `check` (the
/// patch's `check_index`; NGX_ERROR = not checked = never check-down).
#[derive(Debug, Clone, Default)]
pub struct CheckRef(pub Option<Arc<PeerHealth>>);

impl CheckRef {
    /// `ngx_http_upstream_check_peer_down`.
    pub fn down(&self) -> bool {
        self.0.as_ref().is_some_and(|h| h.is_down()) && !IGNORE_CHECKS.with(Cell::get)
    }
}

impl PartialEq for CheckRef {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        }
    }
}

impl Eq for CheckRef {}

/// nginx's `ngx_time()`: whole seconds. fail_timeout is compared in seconds
/// (`now - peer->checked <= peer->fail_timeout`), so a peer disabled with
/// `fail_timeout=1s` stays out for one to two seconds, exactly as in nginx.
pub fn now_secs() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    // Offset by one so that a `checked` of 0 means "never" without special cases.
    START.get_or_init(Instant::now).elapsed().as_secs() + 1
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerState {
    pub weight: i64,
    pub effective_weight: i64,
    pub current_weight: i64,
    pub fails: u32,
    pub accessed: u64,
    pub checked: u64,
    pub conns: u32,
    pub max_fails: u32,
    /// Seconds (nginx stores fail_timeout in seconds).
    pub fail_timeout: u64,
    pub max_conns: u32,
    pub down: bool,
    /// Active health: checked before the passive state, as the patch does.
    pub check: CheckRef,
}

impl PeerState {
    pub fn new(p: &Peer) -> PeerState {
        let w = i64::from(p.weight.max(1));
        PeerState {
            weight: w,
            effective_weight: w,
            current_weight: 0,
            fails: 0,
            accessed: 0,
            checked: 0,
            conns: 0,
            max_fails: p.max_fails,
            fail_timeout: p.fail_timeout.0.as_secs(),
            max_conns: p.max_conns,
            down: p.down,
            check: CheckRef::default(),
        }
    }

    /// A plain peer with `weight` (tests and balancer goldens).
    pub fn weighted(weight: u32) -> PeerState {
        let w = i64::from(weight.max(1));
        PeerState {
            weight: w,
            effective_weight: w,
            current_weight: 0,
            fails: 0,
            accessed: 0,
            checked: 0,
            conns: 0,
            max_fails: 1,
            fail_timeout: 10,
            max_conns: 0,
            down: false,
            check: CheckRef::default(),
        }
    }

    /// The skip rules every balancer shares (`ngx_http_upstream_get_peer`):
    /// down, failed within its window, or at max_conns.
    /// The active check's verdict comes first (`check_1.16.1+.patch` puts
    /// `ngx_http_upstream_check_peer_down` before the max_fails test), so a
    /// peer is eligible only if neither active nor passive health says down.
    pub fn usable(&self, now: u64) -> bool {
        !(self.down || self.check.down() || self.suspended(now) || self.full())
    }

    /// `max_conns` reached.
    pub fn full(&self) -> bool {
        self.max_conns > 0 && self.conns >= self.max_conns
    }

    /// `max_fails` reached and `fail_timeout` not yet over since `checked`.
    pub fn suspended(&self, now: u64) -> bool {
        self.max_fails > 0
            && self.fails >= self.max_fails
            && now.saturating_sub(self.checked) <= self.fail_timeout
    }

    /// Bookkeeping for a chosen peer: one probe per window
    /// (`if (now - best->checked > best->fail_timeout) best->checked = now`).
    pub fn chosen(&mut self, now: u64) {
        if now.saturating_sub(self.checked) > self.fail_timeout {
            self.checked = now;
        }
        self.conns += 1;
    }

    /// `ngx_http_upstream_free_round_robin_peer`: a failed attempt counts
    /// toward max_fails and lowers the effective weight; a success clears the
    /// fails only when made after the window re-opened (`accessed < checked`).
    /// Returns true when nginx logs "upstream server temporarily disabled".
    pub fn free(&mut self, failed: bool, now: u64) -> bool {
        self.conns = self.conns.saturating_sub(1);
        if failed {
            self.fails = self.fails.saturating_add(1);
            self.accessed = now;
            self.checked = now;
            let mut disabled = false;
            if self.max_fails > 0 {
                self.effective_weight -= self.weight / i64::from(self.max_fails);
                disabled = self.fails >= self.max_fails;
            }
            if self.effective_weight < 0 {
                self.effective_weight = 0;
            }
            disabled
        } else {
            if self.accessed < self.checked {
                self.fails = 0;
            }
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_window_and_probe() {
        let mut p = PeerState::weighted(4);
        p.max_fails = 2;
        p.fail_timeout = 10;
        let t = 100;
        p.chosen(t);
        assert_eq!(p.checked, t, "first choice opens a window");
        assert!(!p.free(true, t), "1 of 2 fails: not disabled");
        assert_eq!(p.effective_weight, 2, "weight / max_fails taken off");
        assert!(p.usable(t));
        p.chosen(t);
        // A success inside the same window does not clear the fails (accessed == checked).
        p.free(false, t);
        assert_eq!(p.fails, 1);
        p.chosen(t);
        assert!(p.free(true, t + 1), "2 of 2: temporarily disabled");
        assert_eq!(p.effective_weight, 0);
        assert!(!p.usable(t + 1));
        assert!(!p.usable(t + 11), "now - checked <= fail_timeout still suspends");
        assert!(p.usable(t + 12));
        // The probe: choosing it moves `checked`, so the next request is held off again.
        p.chosen(t + 12);
        assert!(!p.usable(t + 12));
        assert!(
            !p.free(false, t + 12) && p.fails == 0,
            "a successful probe resets fails"
        );
        assert!(p.usable(t + 12));
    }

    #[test]
    fn failed_probe_starts_another_window() {
        let mut p = PeerState::weighted(1);
        p.chosen(5);
        assert!(p.free(true, 5));
        p.chosen(16);
        assert!(p.free(true, 16));
        assert!(!p.usable(26) && p.usable(27));
    }

    #[test]
    fn max_fails_zero_and_max_conns() {
        let mut p = PeerState::weighted(1);
        p.max_fails = 0;
        for _ in 0..5 {
            p.chosen(1);
            assert!(!p.free(true, 1));
        }
        assert!(p.usable(1));
        p.max_conns = 1;
        p.chosen(1);
        assert!(!p.usable(1));
        p.free(false, 1);
        assert!(p.usable(1));
        p.down = true;
        assert!(!p.usable(1));
    }
}
