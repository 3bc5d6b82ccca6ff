//! Upstream pools: the peers of an `upstream` block (or of an implicit
//! upstream from `proxy_pass http://host:port`) and how one is chosen.

pub mod peer;
pub mod rr;

pub use peer::{parse_server, Peer};

use std::sync::Mutex;

/// The peers one request has already tried (nginx's per-request `tried`
/// bitmap): a word of bits, spilling to a list only past 64 peers, so the
/// common case allocates nothing.
#[derive(Debug, Default, Clone)]
pub struct Tried {
    bits: u64,
    more: Vec<usize>,
}

impl Tried {
    pub fn insert(&mut self, i: usize) {
        if i < 64 {
            self.bits |= 1 << i;
        } else if !self.more.contains(&i) {
            self.more.push(i);
        }
    }

    pub fn contains(&self, i: usize) -> bool {
        if i < 64 {
            self.bits & (1 << i) != 0
        } else {
            self.more.contains(&i)
        }
    }
}

/// One pool of peers with its balancer state.
#[derive(Debug)]
pub struct Pool {
    pub name: String,
    pub peers: Vec<Peer>,
    /// Smooth weighted round-robin state. nginx keeps it per worker; a
    /// mutex held for a few nanoseconds per pick is the simple shared
    /// equivalent until the balancer issue moves it per thread.
    rr: Mutex<rr::Wrr>,
}

impl Pool {
    pub fn new(name: String, peers: Vec<Peer>) -> Pool {
        let weights: Vec<u32> = peers.iter().map(|p| p.weight).collect();
        Pool {
            name,
            peers,
            rr: Mutex::new(rr::Wrr::new(&weights)),
        }
    }

    /// Picks a peer not yet tried for this request; `None` when every
    /// usable peer has been tried ("no live upstreams").
    pub fn pick(&self, tried: &Tried) -> Option<usize> {
        let usable = |i: usize| self.peers.get(i).is_some_and(|p| !p.down && !p.backup) && !tried.contains(i);
        let mut rr = self.rr.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = rr.next(usable) {
            return Some(i);
        }
        // Backups only once every primary is unusable (nginx's backup switch).
        let backup = |i: usize| self.peers.get(i).is_some_and(|p| !p.down && p.backup) && !tried.contains(i);
        rr.next(backup)
    }

    /// How many attempts a request may make: one per non-down peer (nginx's `ngx_http_upstream_tries`).
    pub fn tries(&self) -> usize {
        self.peers.iter().filter(|p| !p.down).count().max(1)
    }
}
