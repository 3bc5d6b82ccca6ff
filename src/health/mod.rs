//! Active health checks, as nginx_upstream_check_module (yaoweibin,
//! ngx_http_upstream_check_module.c @ e538034) does them, without its bugs:
//! the `check` parameters, the per-peer state machine, the state table the
//! balancers read, and its carry-over across a config reload.
//!
//! One entry per (upstream, peer address) for the whole process; the checker
//! (`checker.rs`) is the only writer of an entry, every worker thread reads its
//! `down` flag with one relaxed atomic load per candidate peer.

pub mod checker;
pub mod status;

#[cfg(test)]
mod balance_tests;

pub use crate::config::value::health_check::{
    expect_mask, CheckParams, CheckType, HTTP_2XX, HTTP_3XX, HTTP_4XX, HTTP_5XX,
};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// The class bit of a status code; 0 (no class) outside 200..600.
pub fn status_class(code: u16) -> u8 {
    match code {
        200..=299 => HTTP_2XX,
        300..=399 => HTTP_3XX,
        400..=499 => HTTP_4XX,
        500..=599 => HTTP_5XX,
        _ => 0,
    }
}

/// Everything an upstream's checks are configured with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckConf {
    pub params: CheckParams,
    /// The payload (`check_http_send`, or the type's default), with the
    /// optional `Host` header already inserted.
    pub send: Vec<u8>,
    pub expect: u8,
    pub keepalive_requests: u64,
    pub expect_body: Option<Vec<u8>>,
}

/// The http type's default request (`ngx_check_types[]`).
pub const DEFAULT_HTTP_SEND: &[u8] = b"GET / HTTP/1.0\r\n\r\n";

impl CheckConf {
    /// Builds the conf of one upstream from its directives.
    pub fn build(
        check: &str,
        send: Option<&str>,
        expect_alive: Option<&[String]>,
        keepalive_requests: Option<u64>,
        host: Option<&str>,
        expect_body: Option<&str>,
    ) -> Result<CheckConf, String> {
        let params = CheckParams::parse(check)?;
        let mut payload = match (send, params.kind) {
            (Some(s), _) => s.as_bytes().to_vec(),
            (None, CheckType::Http) => DEFAULT_HTTP_SEND.to_vec(),
            (None, CheckType::SslHello) => checker::SSL_CLIENT_HELLO.to_vec(),
            (None, CheckType::Tcp) => Vec::new(),
        };
        if let Some(h) = host {
            payload = with_host(&payload, h);
        }
        let expect = match expect_alive {
            Some(w) => expect_mask(w)?,
            None => HTTP_2XX | HTTP_3XX,
        };
        if keepalive_requests == Some(0) {
            return Err("invalid value \"0\" in \"check_keepalive_requests\" directive".into());
        }
        Ok(CheckConf {
            params,
            send: payload,
            expect,
            keepalive_requests: keepalive_requests.unwrap_or(1),
            expect_body: expect_body.map(|b| b.as_bytes().to_vec()),
        })
    }
}

/// Inserts `Host: h` after the request line unless the request already has a
/// Host header (an HTTP/1.1 check without one fails on most servers:
/// sysulq fork #4, tengine #1269).
fn with_host(req: &[u8], h: &str) -> Vec<u8> {
    let has_host = req
        .split(|&b| b == b'\n')
        .skip(1)
        .any(|l| l.len() >= 5 && l.get(..5).is_some_and(|p| p.eq_ignore_ascii_case(b"host:")));
    let Some(eol) = memchr::memchr(b'\n', req) else {
        return req.to_vec();
    };
    if has_host {
        return req.to_vec();
    }
    let (line, rest) = req.split_at(eol + 1);
    let mut out = line.to_vec();
    out.extend_from_slice(format!("Host: {h}\r\n").as_bytes());
    out.extend_from_slice(rest);
    out
}

/// What a check result changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    None,
    Up,
    Down,
}

/// One checked (upstream, address): the module's `ngx_http_upstream_check_peer_shm_t`.
#[derive(Debug)]
pub struct PeerHealth {
    /// Position in the process-wide check list (the status page's "Index").
    pub index: usize,
    pub upstream: String,
    /// The server's address (the status page's "Name").
    pub addr: SocketAddr,
    /// Where checks connect: `addr` with `port=` applied.
    pub check_addr: SocketAddr,
    pub conf: Arc<CheckConf>,
    down: AtomicBool,
    rise: AtomicU64,
    fall: AtomicU64,
}

impl PeerHealth {
    pub fn new(index: usize, upstream: &str, addr: SocketAddr, conf: Arc<CheckConf>) -> PeerHealth {
        let mut check_addr = addr;
        if conf.params.port != 0 {
            check_addr.set_port(conf.params.port);
        }
        PeerHealth {
            index,
            upstream: upstream.to_string(),
            addr,
            check_addr,
            down: AtomicBool::new(conf.params.default_down),
            conf,
            rise: AtomicU64::new(0),
            fall: AtomicU64::new(0),
        }
    }

    /// The balancers' test (`ngx_http_upstream_check_peer_down`).
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    pub fn rise_count(&self) -> u64 {
        self.rise.load(Ordering::Relaxed)
    }

    pub fn fall_count(&self) -> u64 {
        self.fall.load(Ordering::Relaxed)
    }

    /// `ngx_http_upstream_check_status_update`: consecutive-run counters (not
    /// capped), down after `fall` failures in a row, up after `rise` successes.
    /// Only the peer's one checker calls this, so plain load/store suffices.
    pub fn record(&self, ok: bool) -> Transition {
        let p = &self.conf.params;
        if ok {
            let r = self.rise.load(Ordering::Relaxed).saturating_add(1);
            self.rise.store(r, Ordering::Relaxed);
            self.fall.store(0, Ordering::Relaxed);
            if self.is_down() && r >= p.rise {
                self.down.store(false, Ordering::Relaxed);
                return Transition::Up;
            }
        } else {
            let f = self.fall.load(Ordering::Relaxed).saturating_add(1);
            self.rise.store(0, Ordering::Relaxed);
            self.fall.store(f, Ordering::Relaxed);
            if !self.is_down() && f >= p.fall {
                self.down.store(true, Ordering::Relaxed);
                return Transition::Down;
            }
        }
        Transition::None
    }

    /// Sets the state outright (carry-over, tests).
    pub fn set(&self, down: bool, rise: u64, fall: u64) {
        self.down.store(down, Ordering::Relaxed);
        self.rise.store(rise, Ordering::Relaxed);
        self.fall.store(fall, Ordering::Relaxed);
    }
}

/// The process-wide check list of one config generation.
#[derive(Debug, Default)]
pub struct HealthTable {
    pub generation: u64,
    pub peers: Vec<Arc<PeerHealth>>,
}

impl HealthTable {
    /// Copies down flag and counters from `old` for every peer whose upstream
    /// name and address are both unchanged; the others keep `default_down`.
    /// Unlike the module (`_init_shm_zone`, which matches on the sockaddr
    /// alone), the upstream name is part of the key, so the same ip:port in
    /// two upstreams keeps two states (alibaba/tengine PR #977). Returns how
    /// many peers were carried over.
    pub fn carry_over(&self, old: &HealthTable) -> usize {
        let by_key: HashMap<(&str, SocketAddr), &PeerHealth> = old
            .peers
            .iter()
            .map(|p| ((p.upstream.as_str(), p.addr), p.as_ref()))
            .collect();
        let mut n = 0;
        for p in &self.peers {
            if let Some(o) = by_key.get(&(p.upstream.as_str(), p.addr)) {
                p.set(o.is_down(), o.rise_count(), o.fall_count());
                n += 1;
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(check: &str) -> Arc<CheckConf> {
        Arc::new(CheckConf::build(check, None, None, None, None, None).unwrap())
    }

    #[test]
    fn status_classes() {
        let cases = [
            (199, 0),
            (200, HTTP_2XX),
            (302, HTTP_3XX),
            (404, HTTP_4XX),
            (599, HTTP_5XX),
            (600, 0),
        ];
        for (code, class) in cases {
            assert_eq!(status_class(code), class, "{code}");
        }
    }

    #[test]
    fn payloads() {
        let c = conf("type=http");
        assert_eq!(c.send, DEFAULT_HTTP_SEND);
        assert_eq!(c.expect, HTTP_2XX | HTTP_3XX);
        assert_eq!(c.keepalive_requests, 1);
        assert!(conf("type=tcp").send.is_empty());
        let c = CheckConf::build("type=http", None, None, None, Some("a.example"), None).unwrap();
        assert_eq!(c.send, b"GET / HTTP/1.0\r\nHost: a.example\r\n\r\n");
        let c = CheckConf::build(
            "type=http",
            Some("GET /h HTTP/1.1\r\nhost: x\r\n\r\n"),
            None,
            None,
            Some("y"),
            None,
        )
        .unwrap();
        assert_eq!(
            c.send, b"GET /h HTTP/1.1\r\nhost: x\r\n\r\n",
            "an existing Host is kept"
        );
        assert!(CheckConf::build("", None, None, Some(0), None, None).is_err());
    }

    #[test]
    fn state_machine() {
        let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let p = PeerHealth::new(0, "u", addr, conf("rise=2 fall=3"));
        assert!(p.is_down(), "default_down=true");
        assert_eq!(p.record(true), Transition::None);
        assert!(p.is_down());
        assert_eq!(p.record(true), Transition::Up, "rise reached");
        assert_eq!(p.record(true), Transition::None);
        assert_eq!(
            (p.rise_count(), p.fall_count()),
            (3, 0),
            "counters are not capped"
        );
        assert_eq!(p.record(false), Transition::None);
        assert_eq!(p.record(false), Transition::None);
        assert_eq!(p.record(true), Transition::None, "a success resets the fall run");
        assert_eq!((p.rise_count(), p.fall_count()), (1, 0));
        for _ in 0..2 {
            assert_eq!(p.record(false), Transition::None);
        }
        assert_eq!(p.record(false), Transition::Down, "fall=3 reached");
        assert_eq!(p.record(false), Transition::None);
        assert_eq!((p.rise_count(), p.fall_count()), (0, 4));
        let up = PeerHealth::new(1, "u", addr, conf("default_down=false"));
        assert!(!up.is_down());
        let ported = PeerHealth::new(1, "u", addr, conf("port=9"));
        assert_eq!((ported.addr.port(), ported.check_addr.port()), (1, 9));
    }

    #[test]
    fn carry_over_by_upstream_and_address() {
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:2".parse().unwrap();
        let c = conf("");
        let mk = |list: &[(&str, SocketAddr)]| HealthTable {
            generation: 1,
            peers: list
                .iter()
                .enumerate()
                .map(|(i, (u, a))| Arc::new(PeerHealth::new(i, u, *a, c.clone())))
                .collect(),
        };
        let old = mk(&[("u", a), ("v", a), ("u", b)]);
        old.peers[0].set(false, 7, 0);
        old.peers[1].set(true, 0, 9);
        old.peers[2].set(false, 3, 1);
        // New order, u:a kept, v:a kept, u:b moved to w (a new peer), x:a new.
        let new = mk(&[("v", a), ("w", b), ("u", a), ("x", a)]);
        assert_eq!(new.carry_over(&old), 2);
        let st = |p: &PeerHealth| (p.is_down(), p.rise_count(), p.fall_count());
        assert_eq!(st(&new.peers[0]), (true, 0, 9), "v:a, not u:a's state");
        assert_eq!(st(&new.peers[1]), (true, 0, 0), "new peer: default_down");
        assert_eq!(st(&new.peers[2]), (false, 7, 0));
        assert_eq!(st(&new.peers[3]), (true, 0, 0));
    }
}
