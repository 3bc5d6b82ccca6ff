//! nginx's upstream keep-alive cache (nginx/nginx:
//! src/http/modules/ngx_http_upstream_keepalive_module.c): up to `keepalive`
//! idle connections per worker and upstream, most recently used first; a
//! full cache closes its least recently used connection to make room. A
//! cached connection that the upstream closed, or that sent bytes while idle,
//! is dropped when it is next looked at (nginx closes it from its read
//! handler; we check the readiness tokio already has, which costs no syscall).

use std::collections::VecDeque;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// `keepalive N`, `keepalive_timeout`, `keepalive_requests`, `keepalive_time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepaliveConf {
    pub max_cached: usize,
    pub timeout: Duration,
    pub requests: u64,
    pub time: Duration,
}

/// A connection to a peer with the counters nginx keeps on `ngx_connection_t`.
#[derive(Debug)]
pub struct UpConn {
    pub stream: TcpStream,
    pub peer: usize,
    /// `c->start_time`, for keepalive_time.
    pub born: Instant,
    /// `c->requests`: requests sent on it, this one included.
    pub requests: u64,
}

#[derive(Debug)]
struct Idle {
    conn: UpConn,
    since: Instant,
}

#[derive(Debug, Default)]
pub struct Cache {
    idle: VecDeque<Idle>,
}

/// Whether an idle socket is still usable: tokio reports it readable only if
/// the upstream sent a FIN, an RST or stray bytes, all of which end its use.
fn still_open(s: &TcpStream) -> bool {
    let mut b = [0u8; 1];
    matches!(s.try_read(&mut b), Err(ref e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

impl Cache {
    /// The most recently cached live connection to `peer`
    /// (`ngx_http_upstream_get_keepalive_peer` searches from the head).
    pub fn take(&mut self, peer: usize, conf: &KeepaliveConf) -> Option<UpConn> {
        let now = Instant::now();
        self.expire(now, conf);
        let mut i = 0;
        while i < self.idle.len() {
            if self.idle.get(i).is_some_and(|c| c.conn.peer == peer) {
                let Some(c) = self.idle.remove(i) else { break };
                if still_open(&c.conn.stream) {
                    return Some(c.conn);
                }
                continue;
            }
            i += 1;
        }
        None
    }

    /// Caches a connection whose exchange completed cleanly, evicting the
    /// least recently used one when full (`ngx_http_upstream_free_keepalive_peer`).
    /// Returns false (and drops it) when nginx would close it instead.
    pub fn put(&mut self, conn: UpConn, conf: &KeepaliveConf) -> bool {
        let now = Instant::now();
        if conf.max_cached == 0 || conn.requests >= conf.requests || now.duration_since(conn.born) > conf.time
        {
            return false;
        }
        self.expire(now, conf);
        if self.idle.len() >= conf.max_cached {
            self.idle.pop_back();
        }
        self.idle.push_front(Idle { conn, since: now });
        true
    }

    /// Closes connections idle for longer than keepalive_timeout (oldest at the back).
    fn expire(&mut self, now: Instant, conf: &KeepaliveConf) {
        while self
            .idle
            .back()
            .is_some_and(|c| now.duration_since(c.since) > conf.timeout)
        {
            self.idle.pop_back();
        }
    }

    pub fn len(&self) -> usize {
        self.idle.len()
    }

    pub fn is_empty(&self) -> bool {
        self.idle.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    fn conf(n: usize) -> KeepaliveConf {
        KeepaliveConf {
            max_cached: n,
            timeout: Duration::from_secs(60),
            requests: 1000,
            time: Duration::from_secs(3600),
        }
    }

    async fn pair(l: &TcpListener) -> (TcpStream, TcpStream) {
        let a = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (b, _) = l.accept().await.unwrap();
        (a, b)
    }

    #[tokio::test]
    async fn lru_eviction_and_peer_match() {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut c = Cache::default();
        let mut servers = Vec::new();
        for peer in [0, 1, 0] {
            let (a, b) = pair(&l).await;
            servers.push(b);
            let conn = UpConn {
                stream: a,
                peer,
                born: Instant::now(),
                requests: 1,
            };
            assert!(c.put(conn, &conf(2)));
        }
        assert_eq!(c.len(), 2, "the oldest (peer 0) was evicted");
        assert!(c.take(1, &conf(2)).is_some());
        assert!(c.take(1, &conf(2)).is_none());
        assert!(c.take(0, &conf(2)).is_some());
        assert!(c.is_empty());
    }

    #[tokio::test]
    async fn limits_and_closed_sockets() {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (a, _b) = pair(&l).await;
        let used_up = UpConn {
            stream: a,
            peer: 0,
            born: Instant::now(),
            requests: 1000,
        };
        let mut c = Cache::default();
        assert!(!c.put(used_up, &conf(4)), "keepalive_requests reached");
        let (a, _b) = pair(&l).await;
        let old = UpConn {
            stream: a,
            peer: 0,
            born: Instant::now() - Duration::from_secs(3601),
            requests: 1,
        };
        assert!(!c.put(old, &conf(4)), "keepalive_time reached");

        // The upstream closes an idle connection: noticed on take.
        let (a, mut b) = pair(&l).await;
        assert!(c.put(
            UpConn {
                stream: a,
                peer: 0,
                born: Instant::now(),
                requests: 1
            },
            &conf(4)
        ));
        b.shutdown().await.unwrap();
        drop(b);
        // Let the reactor see the FIN.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(c.take(0, &conf(4)).is_none());
        assert!(c.is_empty());

        // keepalive_timeout: an idle entry past it is closed.
        let (a, _b) = pair(&l).await;
        let mut short = conf(4);
        short.timeout = Duration::from_millis(10);
        assert!(c.put(
            UpConn {
                stream: a,
                peer: 0,
                born: Instant::now(),
                requests: 1
            },
            &short
        ));
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(c.take(0, &short).is_none());
    }
}
