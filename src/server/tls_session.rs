//! TLS session resumption: `ssl_session_cache`, `ssl_session_timeout`,
//! `ssl_session_tickets`, mapped onto rustls's session storage and ticketer.
//!
//! Where rampart does better than nginx, on purpose: a reload keeps both the
//! named (`shared:NAME:SIZE`) caches and the ticket keys, so clients resume
//! across the many reloads a day operators do; nginx keeps shared caches but
//! draws new ticket keys at every reload unless `ssl_session_ticket_key` is set.

use rustls::server::{NoServerSessionStorage, ProducesTickets, StoresServerSessions};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// nginx: "one megabyte of the cache contains about 4000 sessions".
const SESSIONS_PER_MIB: u64 = 4000;
/// `builtin` without a size: OpenSSL's default (SSL_SESSION_CACHE_MAX_SIZE_DEFAULT).
const BUILTIN_DEFAULT: usize = 20 * 1024;

/// The parsed `ssl_session_cache` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CachePlan {
    /// `off` and `none` (the default): no server-side session state.
    /// (`none` tells OpenSSL clients the session may be reused but stores
    /// nothing, so it resumes no more than `off` does.)
    None,
    /// `builtin[:N]` and/or `shared:NAME:SIZE`: one in-memory cache of this
    /// many sessions; `name` when a shared zone names it.
    Memory { sessions: usize, name: Option<String> },
}

/// Parses `ssl_session_cache` arguments (ngx_http_ssl_session_cache).
pub fn parse_cache(args: &[String]) -> Result<CachePlan, String> {
    let invalid = |a: &str| format!("invalid session cache \"{a}\"");
    let mut sessions = 0usize;
    let mut name = None;
    let mut off = false;
    for a in args {
        match a.as_str() {
            "off" | "none" => off = true,
            "builtin" => sessions += BUILTIN_DEFAULT,
            _ if a.starts_with("builtin:") => {
                let n: usize = a["builtin:".len()..]
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| invalid(a))?;
                sessions += n;
            }
            _ if a.starts_with("shared:") => {
                let rest = &a["shared:".len()..];
                let (zone, size) = rest.rsplit_once(':').ok_or_else(|| invalid(a))?;
                if zone.is_empty() {
                    return Err(invalid(a));
                }
                let bytes = crate::config::units::parse_size(size).map_err(|_| invalid(a))?.0;
                // nginx: a zone must hold at least 8 pages.
                if bytes < 8 * 4096 {
                    return Err(format!("session cache \"{a}\" is too small"));
                }
                let n = (bytes * SESSIONS_PER_MIB / (1 << 20)).max(1);
                sessions += usize::try_from(n).unwrap_or(usize::MAX);
                name = Some(zone.to_string());
            }
            _ => return Err(invalid(a)),
        }
    }
    if off && (sessions > 0 || args.len() > 1) {
        return Err(format!("invalid session cache \"{}\"", args.join(" ")));
    }
    Ok(if sessions == 0 {
        CachePlan::None
    } else {
        CachePlan::Memory { sessions, name }
    })
}

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

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn session_cache_values_as_nginx() {
        assert_eq!(parse_cache(&s(&["none"])), Ok(CachePlan::None));
        assert_eq!(parse_cache(&s(&["off"])), Ok(CachePlan::None));
        assert_eq!(
            parse_cache(&s(&["builtin"])),
            Ok(CachePlan::Memory {
                sessions: 20480,
                name: None
            })
        );
        assert_eq!(
            parse_cache(&s(&["builtin:1000", "shared:SSL:1m"])),
            Ok(CachePlan::Memory {
                sessions: 5000,
                name: Some("SSL".into())
            })
        );
        assert_eq!(
            parse_cache(&s(&["shared:SSL:10m"])),
            Ok(CachePlan::Memory {
                sessions: 40000,
                name: Some("SSL".into())
            })
        );
        for bad in [
            &["shared:SSL"][..],
            &["shared::1m"],
            &["shared:SSL:1k"],
            &["builtin:0"],
            &["builtin:x"],
            &["nonsense"],
            &["off", "builtin"],
        ] {
            assert!(parse_cache(&s(bad)).is_err(), "{bad:?}");
        }
    }

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
