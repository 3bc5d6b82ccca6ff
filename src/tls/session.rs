//! TLS session resumption: `ssl_session_cache`, `ssl_session_timeout`,
//! `ssl_session_tickets`, mapped onto rustls's session storage and ticketer.
//!
//! Where rampart does better than nginx, on purpose: a reload keeps both the
//! named (`shared:NAME:SIZE`) caches and the ticket keys, so clients resume
//! across the many reloads a day operators do; nginx keeps shared caches but
//! draws new ticket keys at every reload unless `ssl_session_ticket_key` is set.

pub use crate::config::value::ssl_session_cache::{parse_cache, CachePlan};
use rustls::server::{NoServerSessionStorage, ProducesTickets, StoresServerSessions};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// The storage for a plan. Named caches live for the process, so a reload
/// that keeps the name (and size) keeps the sessions.
pub fn storage(plan: &CachePlan, timeout: Duration) -> Arc<dyn StoresServerSessions> {
    match plan {
        CachePlan::None => Arc::new(NoServerSessionStorage {}),
        CachePlan::Memory { sessions, name: None } => Arc::new(TimedCache::new(*sessions, timeout)),
        CachePlan::Memory {
            sessions,
            name: Some(name),
        } => {
            static ZONES: OnceLock<Mutex<Zones>> = OnceLock::new();
            let zones = ZONES.get_or_init(Default::default);
            let mut z = zones.lock().unwrap_or_else(|p| p.into_inner());
            z.entry((name.clone(), *sessions, timeout))
                .or_insert_with(|| Arc::new(TimedCache::new(*sessions, timeout)))
                .clone()
        }
    }
}

/// Named caches by (name, sessions, timeout): a reload that changes the size
/// or the timeout gets a new, empty cache.
type Zones = HashMap<(String, usize, Duration), Arc<TimedCache>>;

/// rustls's in-memory cache with nginx's `ssl_session_timeout` on top: each
/// stored session carries its birth time and is refused once older.
#[derive(Debug)]
struct TimedCache {
    inner: Arc<rustls::server::ServerSessionMemoryCache>,
    timeout: Duration,
}

impl TimedCache {
    fn new(sessions: usize, timeout: Duration) -> TimedCache {
        TimedCache {
            inner: rustls::server::ServerSessionMemoryCache::new(sessions),
            timeout,
        }
    }

    /// Milliseconds since the epoch.
    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    fn unwrap_fresh(&self, v: Vec<u8>) -> Option<Vec<u8>> {
        let born = u64::from_be_bytes(v.get(..8)?.try_into().ok()?);
        let limit = u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX);
        (Self::now() < born.saturating_add(limit)).then(|| v[8..].to_vec())
    }
}

impl StoresServerSessions for TimedCache {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        let mut v = Vec::with_capacity(8 + value.len());
        v.extend_from_slice(&Self::now().to_be_bytes());
        v.extend_from_slice(&value);
        self.inner.put(key, v)
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.inner.get(key).and_then(|v| self.unwrap_fresh(v))
    }

    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.inner.take(key).and_then(|v| self.unwrap_fresh(v))
    }

    fn can_cache(&self) -> bool {
        true
    }
}

/// The ticketer for `ssl_session_timeout`: keys rotate every half timeout
/// and rustls's TicketRotator keeps the previous key, so a ticket is accepted
/// for between half the timeout and the timeout, and clients are told the
/// timeout as the ticket lifetime (nginx's hint too). One per timeout value
/// for the whole process, so reloads keep tickets valid. `None` when rustls
/// cannot draw random keys.
pub fn ticketer(timeout: Duration) -> Option<Arc<dyn ProducesTickets>> {
    static TICKETERS: OnceLock<Mutex<HashMap<u32, Arc<dyn ProducesTickets>>>> = OnceLock::new();
    let secs = u32::try_from(timeout.as_secs().max(2)).unwrap_or(u32::MAX);
    let map = TICKETERS.get_or_init(Default::default);
    let mut m = map.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(t) = m.get(&secs) {
        return Some(t.clone());
    }
    let t: Arc<dyn ProducesTickets> = Arc::new(rustls::TicketRotator::new(secs / 2, fresh_keys).ok()?);
    m.insert(secs, t.clone());
    Some(t)
}

/// A new set of random ticket keys (rustls's ring AEAD ticketer).
fn fresh_keys() -> Result<Box<dyn ProducesTickets>, rustls::crypto::GetRandomFailed> {
    rustls::crypto::ring::Ticketer::new()
        .map(|t| Box::new(Shared(t)) as Box<dyn ProducesTickets>)
        .map_err(|_| rustls::crypto::GetRandomFailed)
}

/// `Arc<dyn ProducesTickets>` as a `Box<dyn ProducesTickets>`.
#[derive(Debug)]
struct Shared(Arc<dyn ProducesTickets>);

impl ProducesTickets for Shared {
    fn enabled(&self) -> bool {
        self.0.enabled()
    }
    fn lifetime(&self) -> u32 {
        self.0.lifetime()
    }
    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        self.0.encrypt(plain)
    }
    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        self.0.decrypt(cipher)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timed_cache_expires() {
        let c = TimedCache::new(10, Duration::from_secs(300));
        assert!(c.put(b"k".to_vec(), b"v".to_vec()));
        assert_eq!(c.get(b"k"), Some(b"v".to_vec()));
        // An entry born long ago is refused.
        let mut old = 0u64.to_be_bytes().to_vec();
        old.extend_from_slice(b"v");
        c.inner.put(b"o".to_vec(), old);
        assert_eq!(c.get(b"o"), None);
        assert_eq!(c.take(b"k"), Some(b"v".to_vec()));
        assert_eq!(c.get(b"k"), None);
    }

    #[test]
    fn ticketer_is_kept_per_timeout() {
        let a = ticketer(Duration::from_secs(300)).unwrap();
        let b = ticketer(Duration::from_secs(300)).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.lifetime(), 300);
        let t = a.encrypt(b"state").unwrap();
        assert_eq!(b.decrypt(&t), Some(b"state".to_vec()));
    }
}
