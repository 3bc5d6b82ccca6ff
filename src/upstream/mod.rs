//! Upstream pools: the peers of an `upstream` block (or of an implicit
//! upstream from `proxy_pass http://host:port`), how one is chosen
//! (round-robin, ip_hash, hash, least_conn), passive health, and the
//! keep-alive cache.
//!
//! State placement follows nginx without a `zone`: the balancer weights, the
//! fail counters and the connection counts live per worker (here: per worker
//! thread, in a thread-local table keyed by pool), so picking a peer takes no
//! lock and no atomic. A consequence, as in nginx with several workers, is
//! that each worker discovers a dead peer on its own.

pub mod hash;
pub mod ip_hash;
pub mod keepalive;
pub mod least_conn;
pub mod peer;
pub mod rr;
pub mod state;

pub use keepalive::{KeepaliveConf, UpConn};
pub use peer::{parse_server, Peer};

use state::PeerState;
use std::cell::RefCell;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

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

    pub fn clear(&mut self) {
        self.bits = 0;
        self.more.clear();
    }
}

/// The balancing method of an upstream block.
#[derive(Debug, Clone)]
pub enum Balance {
    RoundRobin,
    IpHash,
    LeastConn,
    Hash {
        key: crate::vars::Template,
        consistent: bool,
    },
}

/// One pool of peers: configuration only; the mutable state is per thread.
#[derive(Debug)]
pub struct Pool {
    pub name: String,
    /// Every peer in config order (primaries and backups mixed, as written).
    pub peers: Vec<Peer>,
    /// Indices into `peers`: nginx's `peers->peer` list and its `peers->next` (backup) list.
    primary: Vec<usize>,
    backup: Vec<usize>,
    pub balance: Balance,
    ring: hash::Ring,
    pub keepalive: Option<KeepaliveConf>,
    id: u64,
    /// Lets a worker thread drop its state for pools a reload discarded.
    alive: Arc<()>,
    /// Active-check state per peer (indexed like `peers`); empty without `check`.
    health: Vec<Option<Arc<crate::health::PeerHealth>>>,
    /// Route over all peers when every one is check-down (`check_fail_open`).
    fail_open: bool,
}

/// A thread's state for one pool.
struct ThreadPool {
    alive: Weak<()>,
    primary: Vec<PeerState>,
    backup: Vec<PeerState>,
    cache: keepalive::Cache,
}

/// Identity hasher for pool ids (already unique integers).
#[derive(Default)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type IdMap<V> = HashMap<u64, V, std::hash::BuildHasherDefault<IdHasher>>;

thread_local! {
    static STATES: RefCell<IdMap<ThreadPool>> = RefCell::new(IdMap::default());
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Per-request balancer state (nginx's `rrp`/`iphp`/`hp`, which live as long
/// as the request and carry over to its retries).
#[derive(Debug, Default)]
pub struct Selector {
    tried: Tried,
    /// Switched to the backup list (nginx sets `rrp->peers = peers->next`).
    on_backup: bool,
    ip: ip_hash::IpHashState,
    hash: hash::HashState,
    /// ip_hash key bytes (`iphp->addr`) and length.
    ip_key: [u8; 16],
    ip_len: usize,
    /// The evaluated `hash` key.
    key: Vec<u8>,
    /// The chosen peer's index in its list (for `free`).
    current: Option<(bool, usize)>,
}

/// The outcome of an attempt, as reported to the balancer (`NGX_PEER_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// Counts toward max_fails.
    Failed,
    /// `NGX_PEER_NEXT` (403/404 retried): neither a success nor a failure.
    Next,
}

impl Pool {
    pub fn new(name: String, peers: Vec<Peer>) -> Pool {
        Pool::with_balance(name, peers, Balance::RoundRobin, None)
    }

    pub fn with_balance(
        name: String,
        peers: Vec<Peer>,
        balance: Balance,
        keepalive: Option<KeepaliveConf>,
    ) -> Pool {
        let primary: Vec<usize> = peers
            .iter()
            .enumerate()
            .filter(|(_, p)| !p.backup)
            .map(|(i, _)| i)
            .collect();
        let backup: Vec<usize> = peers
            .iter()
            .enumerate()
            .filter(|(_, p)| p.backup)
            .map(|(i, _)| i)
            .collect();
        let ring = match balance {
            Balance::Hash { consistent: true, .. } => {
                let prim = || peers.iter().filter(|p| !p.backup);
                let names: Vec<&str> = prim().map(|p| p.server.as_str()).collect();
                let weights: Vec<u32> = prim().map(|p| p.weight).collect();
                hash::Ring::build(&names, &weights)
            }
            _ => hash::Ring::default(),
        };
        Pool {
            name,
            peers,
            primary,
            backup,
            balance,
            ring,
            keepalive,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            alive: Arc::new(()),
            health: Vec::new(),
            fail_open: false,
        }
    }

    /// Attaches the active-check state of each peer (indexed like `peers`).
    pub fn set_health(&mut self, health: Vec<Option<Arc<crate::health::PeerHealth>>>, fail_open: bool) {
        self.health = health;
        self.fail_open = fail_open;
    }

    /// The active-check state of peer `i`, if checked.
    pub fn health(&self, i: usize) -> Option<&Arc<crate::health::PeerHealth>> {
        self.health.get(i).and_then(Option::as_ref)
    }

    /// Every checked peer is check-down (and at least one is checked).
    fn all_check_down(&self) -> bool {
        let mut any = false;
        for h in self.health.iter().flatten() {
            if !h.is_down() {
                return false;
            }
            any = true;
        }
        any
    }

    /// `peers->single`: one primary and no backup. max_fails is then ignored
    /// and a failed attempt is never retried (nginx sets `pc->tries = 0`).
    pub fn single(&self) -> bool {
        self.primary.len() == 1 && self.backup.is_empty()
    }

    /// How many attempts a request may make: non-down primaries plus non-down
    /// backups (nginx's `ngx_http_upstream_tries`), at least one.
    pub fn tries(&self) -> usize {
        self.peers.iter().filter(|p| !p.down).count().max(1)
    }

    fn with_state<R>(&self, f: impl FnOnce(&mut ThreadPool) -> R) -> R {
        STATES.with(|s| {
            let mut map = s.borrow_mut();
            if !map.contains_key(&self.id) {
                map.retain(|_, t| t.alive.strong_count() > 0);
                let mk = |ix: &[usize]| {
                    ix.iter()
                        .filter_map(|&i| {
                            let mut st = PeerState::new(self.peers.get(i)?);
                            st.check = state::CheckRef(self.health(i).cloned());
                            Some(st)
                        })
                        .collect()
                };
                map.insert(
                    self.id,
                    ThreadPool {
                        alive: Arc::downgrade(&self.alive),
                        primary: mk(&self.primary),
                        backup: mk(&self.backup),
                        cache: keepalive::Cache::default(),
                    },
                );
            }
            match map.get_mut(&self.id) {
                Some(t) => f(t),
                // Unreachable: inserted above.
                None => f(&mut ThreadPool {
                    alive: Weak::new(),
                    primary: Vec::new(),
                    backup: Vec::new(),
                    cache: keepalive::Cache::default(),
                }),
            }
        })
    }

    /// A selector for one request. `client` is the address ip_hash keys on;
    /// `key` the evaluated `hash` key (ignored by other methods).
    pub fn selector(&self, client: IpAddr, key: Vec<u8>) -> Selector {
        let mut s = Selector::default();
        match &self.balance {
            Balance::IpHash => {
                let (k, n) = ip_hash::key(client);
                s.ip_key = k;
                s.ip_len = n;
            }
            Balance::Hash { consistent, .. } => {
                if *consistent {
                    s.hash.hash = self.ring.find(hash::crc32(&key)) as u64;
                }
                s.key = key;
            }
            _ => {}
        }
        s
    }

    /// Chooses a peer (an index into `peers`) and counts it as in use;
    /// `None` means "no live upstreams" (nginx's `NGX_BUSY`).
    pub fn get(&self, sel: &mut Selector) -> Option<usize> {
        let got = self.get_inner(sel);
        if got.is_none() && self.fail_open && self.all_check_down() {
            // Fail open (Envoy's panic threshold at 100 %): every checked peer
            // is down, so route as if nothing were checked. Off by default:
            // nginx answers 502 "no live upstreams" here.
            return state::ignoring_checks(|| self.get_inner(sel));
        }
        got
    }

    fn get_inner(&self, sel: &mut Selector) -> Option<usize> {
        let now = state::now_secs();
        let single = self.single();
        self.with_state(|t| {
            if !sel.on_backup {
                if let Some(i) = self.pick_primary(&mut t.primary, sel, single, now) {
                    if let Some(p) = t.primary.get_mut(i) {
                        p.chosen(now);
                    }
                    sel.tried.insert(i);
                    sel.current = Some((false, i));
                    return self.primary.get(i).copied();
                }
                if t.backup.is_empty() {
                    return None;
                }
                sel.on_backup = true;
                sel.tried.clear();
            }
            let i = match self.balance {
                Balance::LeastConn => least_conn::pick(&mut t.backup, &sel.tried, now),
                _ => rr::pick(&mut t.backup, &sel.tried, now),
            }?;
            if let Some(p) = t.backup.get_mut(i) {
                p.chosen(now);
            }
            sel.tried.insert(i);
            sel.current = Some((true, i));
            self.backup.get(i).copied()
        })
    }

    fn pick_primary(
        &self,
        peers: &mut [PeerState],
        sel: &mut Selector,
        single: bool,
        now: u64,
    ) -> Option<usize> {
        if single {
            // Only down and max_conns matter for a lone server.
            // A check-down lone server goes to `failed:` (NGX_BUSY), as the
            // patch does for `peers->single`.
            let p = peers.first()?;
            let full = p.max_conns > 0 && p.conns >= p.max_conns;
            return (!p.down && !p.check.down() && !full).then_some(0);
        }
        let hashed = match &self.balance {
            Balance::RoundRobin => return rr::pick(peers, &sel.tried, now),
            Balance::LeastConn => return least_conn::pick(peers, &sel.tried, now),
            Balance::IpHash => {
                let key = sel.ip_key.get(..sel.ip_len).unwrap_or(&[]);
                ip_hash::pick(peers, &mut sel.ip, key, &sel.tried, now)
            }
            Balance::Hash {
                consistent: false, ..
            } => hash::pick(peers, &mut sel.hash, &sel.key, &sel.tried, now),
            Balance::Hash { consistent: true, .. } => hash::pick_consistent(
                peers,
                &self.ring,
                &mut sel.hash,
                sel.key.is_empty(),
                &sel.tried,
                now,
            ),
        };
        match hashed {
            Ok(i) => Some(i),
            Err(ip_hash::FallBack) => rr::pick(peers, &sel.tried, now),
        }
    }

    /// Reports the end of the attempt on the peer `get` returned
    /// (`ngx_http_upstream_free_round_robin_peer`). Returns true when nginx
    /// logs "upstream server temporarily disabled".
    pub fn free(&self, sel: &mut Selector, outcome: Outcome) -> bool {
        let Some((backup, i)) = sel.current.take() else {
            return false;
        };
        let now = state::now_secs();
        let single = self.single();
        self.with_state(|t| {
            let list = if backup { &mut t.backup } else { &mut t.primary };
            let Some(p) = list.get_mut(i) else { return false };
            if single {
                p.conns = p.conns.saturating_sub(1);
                p.fails = 0;
                return false;
            }
            match outcome {
                Outcome::Failed => p.free(true, now),
                Outcome::Ok => p.free(false, now),
                Outcome::Next => {
                    p.conns = p.conns.saturating_sub(1);
                    false
                }
            }
        })
    }

    /// A cached idle connection to peer `peer`, if any.
    pub fn cached(&self, peer: usize) -> Option<UpConn> {
        let conf = self.keepalive?;
        self.with_state(|t| t.cache.take(peer, &conf))
    }

    /// Offers a connection back to the cache; false when it was closed instead.
    pub fn recycle(&self, conn: UpConn) -> bool {
        let Some(conf) = self.keepalive else { return false };
        self.with_state(|t| t.cache.put(conn, &conf))
    }

    /// Snapshot of this thread's state of peer `i` (tests and status pages).
    pub fn peer_state(&self, i: usize) -> Option<PeerState> {
        let backup = self.peers.get(i)?.backup;
        let list = if backup { &self.backup } else { &self.primary };
        let pos = list.iter().position(|&x| x == i)?;
        self.with_state(|t| (if backup { &t.backup } else { &t.primary }).get(pos).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::units::Dur;

    fn peer(port: u16, weight: u32, backup: bool, down: bool) -> Peer {
        Peer {
            addr: format!("127.0.0.1:{port}").parse().unwrap(),
            name: format!("127.0.0.1:{port}"),
            server: format!("127.0.0.1:{port}"),
            weight,
            max_fails: 1,
            fail_timeout: Dur::secs(10),
            max_conns: 0,
            backup,
            down,
        }
    }

    fn client() -> IpAddr {
        "192.168.1.9".parse().unwrap()
    }

    fn run(pool: &Pool, n: usize) -> Vec<usize> {
        (0..n)
            .map(|_| {
                let mut s = pool.selector(client(), Vec::new());
                let i = pool.get(&mut s).unwrap();
                pool.free(&mut s, Outcome::Ok);
                i
            })
            .collect()
    }

    #[test]
    fn round_robin_through_pool() {
        let pool = Pool::new(
            "u".into(),
            vec![
                peer(1, 5, false, false),
                peer(2, 1, false, false),
                peer(3, 1, false, false),
            ],
        );
        assert_eq!(run(&pool, 7), [0, 0, 1, 0, 2, 0, 0]);
        assert_eq!(pool.tries(), 3);
    }

    #[test]
    fn backup_only_when_primaries_unusable_and_down_never() {
        let pool = Pool::new(
            "u".into(),
            vec![
                peer(1, 1, false, false),
                peer(2, 1, true, false),
                peer(3, 1, false, true),
            ],
        );
        assert_eq!(run(&pool, 3), [0, 0, 0]);
        let mut s = pool.selector(client(), Vec::new());
        assert_eq!(pool.get(&mut s), Some(0));
        assert!(pool.free(&mut s, Outcome::Failed));
        // Same request, retry: the primary is tried, so the backup serves.
        assert_eq!(pool.get(&mut s), Some(1));
        pool.free(&mut s, Outcome::Ok);
        assert_eq!(pool.get(&mut s), None, "down peer 2 is never used");
        // Next requests: peer 0 is suspended (1 of max_fails=1), backup serves.
        assert_eq!(run(&pool, 2), [1, 1]);
        assert_eq!(pool.tries(), 2);
    }

    #[test]
    fn disabled_warning_and_no_live() {
        let pool = Pool::new(
            "u".into(),
            vec![peer(1, 1, false, false), peer(2, 1, false, false)],
        );
        let mut s = pool.selector(client(), Vec::new());
        let a = pool.get(&mut s).unwrap();
        assert!(pool.free(&mut s, Outcome::Failed), "max_fails=1 reached: warning");
        let b = pool.get(&mut s).unwrap();
        assert_ne!(a, b);
        assert!(pool.free(&mut s, Outcome::Failed));
        assert_eq!(pool.get(&mut s), None);
        let mut s = pool.selector(client(), Vec::new());
        assert_eq!(pool.get(&mut s), None, "both suspended: no live upstreams");
        assert_eq!(pool.peer_state(0).unwrap().fails, 1);
    }

    #[test]
    fn single_server_ignores_max_fails() {
        let pool = Pool::new("u".into(), vec![peer(1, 1, false, false)]);
        for _ in 0..5 {
            let mut s = pool.selector(client(), Vec::new());
            assert_eq!(pool.get(&mut s), Some(0));
            assert!(!pool.free(&mut s, Outcome::Failed));
        }
        let down = Pool::new("u".into(), vec![peer(1, 1, false, true)]);
        assert_eq!(down.get(&mut down.selector(client(), Vec::new())), None);
    }

    #[test]
    fn ip_hash_pool_and_fallback() {
        let pool = Pool::with_balance(
            "u".into(),
            vec![
                peer(1, 1, false, false),
                peer(2, 1, false, false),
                peer(3, 1, false, false),
            ],
            Balance::IpHash,
            None,
        );
        // 192.168.1.x hashes to 154: 154 % 3 = 1, every time.
        assert_eq!(run(&pool, 4), [1, 1, 1, 1]);
        let mut s = pool.selector(client(), Vec::new());
        assert_eq!(pool.get(&mut s), Some(1));
        pool.free(&mut s, Outcome::Failed);
        // The retry rehashes from 154: 5654 % 3 = 2.
        assert_eq!(pool.get(&mut s), Some(2));
    }

    #[test]
    fn least_conn_counts_active() {
        let pool = Pool::with_balance(
            "u".into(),
            vec![peer(1, 1, false, false), peer(2, 1, false, false)],
            Balance::LeastConn,
            None,
        );
        let mut a = pool.selector(client(), Vec::new());
        assert_eq!(pool.get(&mut a), Some(0));
        // Peer 0 is busy: the next request goes to 1, and the one after too... until 0 frees.
        let mut b = pool.selector(client(), Vec::new());
        assert_eq!(pool.get(&mut b), Some(1));
        pool.free(&mut a, Outcome::Ok);
        let mut c = pool.selector(client(), Vec::new());
        assert_eq!(pool.get(&mut c), Some(0));
    }

    #[test]
    fn state_is_per_thread() {
        let pool = Arc::new(Pool::new(
            "u".into(),
            vec![peer(1, 1, false, false), peer(2, 1, false, false)],
        ));
        let mut s = pool.selector(client(), Vec::new());
        pool.get(&mut s);
        pool.free(&mut s, Outcome::Failed);
        let p2 = pool.clone();
        let other = std::thread::spawn(move || p2.peer_state(0).unwrap().fails)
            .join()
            .unwrap();
        assert_eq!((pool.peer_state(0).unwrap().fails, other), (1, 0));
    }
}
