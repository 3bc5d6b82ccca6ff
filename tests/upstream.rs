//! Upstream pools through the real binary: passive health while a peer is
//! killed and restarted under load, backup/down, "no live upstreams",
//! proxy_next_upstream (http_502, tries, non_idempotent), the non-replay of a
//! sent POST, and upstream keep-alive including the stale-connection race.

mod common;
use common::*;

use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a scripted upstream does with the `n`th request (0-based) of a connection.
#[derive(Clone)]
enum Act {
    /// Answer and keep the connection open.
    Reply(Vec<u8>),
    /// Answer and close.
    ReplyClose(Vec<u8>),
    /// Close without answering (FIN).
    Close,
    /// Reset the connection (RST, SO_LINGER 0).
    Reset,
}

type Script = dyn Fn(usize, &[u8]) -> Act + Send + Sync;

/// A scripted HTTP/1.1 upstream: parses each request (head plus a
/// Content-Length body), records it, and acts as `script(request_no_on_conn, request)` says.
struct Scripted {
    addr: SocketAddr,
    conns: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<Vec<u8>>>>,
    stop: Arc<AtomicBool>,
}

impl Scripted {
    fn start(script: impl Fn(usize, &[u8]) -> Act + Send + Sync + 'static) -> Scripted {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let conns = Arc::new(AtomicUsize::new(0));
        let requests: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let script: Arc<Script> = Arc::new(script);
        let (c, r, st) = (conns.clone(), requests.clone(), stop.clone());
        std::thread::spawn(move || {
            for s in l.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut s) = s else { continue };
                c.fetch_add(1, Ordering::SeqCst);
                let (r, script) = (r.clone(), script.clone());
                std::thread::spawn(move || {
                    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                    let mut buf = Vec::new();
                    let mut n = 0;
                    loop {
                        let Some(req) = read_request(&mut s, &mut buf) else {
                            return;
                        };
                        r.lock().unwrap().push(req.clone());
                        match script(n, &req) {
                            Act::Reply(b) => {
                                if s.write_all(&b).is_err() {
                                    return;
                                }
                            }
                            Act::ReplyClose(b) => {
                                let _ = s.write_all(&b);
                                return;
                            }
                            Act::Close => return,
                            Act::Reset => {
                                let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
                                return;
                            }
                        }
                        n += 1;
                    }
                });
            }
        });
        Scripted {
            addr,
            conns,
            requests,
            stop,
        }
    }

    fn requests(&self) -> Vec<Vec<u8>> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

/// One request (head + Content-Length body) from `s`, with leftovers kept in `buf`.
fn read_request(s: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    let mut tmp = [0u8; 8192];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                let req: Vec<u8> = buf.drain(..end + 4 + len).collect();
                return Some(req);
            }
        }
        match s.read(&mut tmp) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
        }
    }
}

fn ok(body: &str) -> Vec<u8> {
    format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
}

fn status(code: u16, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {code} X\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A port nothing listens on.
fn dead_port() -> u16 {
    free_port()
}

/// One worker so that the per-worker balancer state is deterministic.
fn conf(upstreams: &str, locations: &str) -> String {
    format!(
        "worker_processes = 1\nerror_log = \"logs/error.log info\"\n\n[http]\n\
         access_log = \"logs/access.log up\"\n\n[http.log_format]\n\
         up = '$request $status $upstream_addr $upstream_status'\n\n{upstreams}\n\
         [[http.server]]\nlisten = [\"127.0.0.1:@PORT@\"]\nserver_name = [\"localhost\"]\n\n{locations}\n"
    )
}

fn loc(path: &str, up: &str, extra: &str) -> String {
    format!("[[http.server.location]]\nmatch = \"{path}\"\nproxy_pass = \"http://{up}\"\n{extra}\n")
}

fn request(addr: SocketAddr, raw: &str) -> Resp {
    let mut s = connect(addr);
    s.write_all(raw.as_bytes()).unwrap();
    read_response(&mut BufReader::new(s), false).expect("response")
}

fn post(addr: SocketAddr, path: &str, body: &str) -> Resp {
    request(
        addr,
        &format!(
            "POST {path} HTTP/1.0\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
}

#[test]
fn kill_9_under_load_then_recovery() {
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let mut backends: Vec<Backend> = ports
        .iter()
        .zip(["A", "B", "C"])
        .map(|(p, id)| Backend::start_on(&format!("127.0.0.1:{p}"), id))
        .collect();
    let servers: Vec<String> = ports
        .iter()
        .map(|p| format!("\"127.0.0.1:{p} max_fails=1 fail_timeout=1s\""))
        .collect();
    let r = Rampart::start(&conf(
        &format!("[http.upstream.app]\nserver = [{}]\n", servers.join(", ")),
        &loc("/", "app", ""),
    ));
    let addr = r.addr();
    let stop = Arc::new(AtomicBool::new(false));
    // (time since start, backend id or status) per response.
    let seen: Arc<Mutex<Vec<(Duration, String)>>> = Arc::default();
    let t0 = Instant::now();
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (stop, seen) = (stop.clone(), seen.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let resp = get(addr, "/id");
                    let what = if resp.status == 200 {
                        resp.header("X-Backend").unwrap_or("?").to_string()
                    } else {
                        format!("status {}", resp.status)
                    };
                    seen.lock().unwrap().push((t0.elapsed(), what));
                    std::thread::sleep(Duration::from_millis(2));
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    // SIGKILL, as `kill -9`.
    backends[2].kill();
    let killed_at = t0.elapsed();
    std::thread::sleep(Duration::from_millis(3000));
    backends[2] = Backend::start_on(&format!("127.0.0.1:{}", ports[2]), "C");
    let restarted_at = t0.elapsed();
    std::thread::sleep(Duration::from_millis(3000));
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.join().unwrap();
    }
    let seen = seen.lock().unwrap().clone();
    let bad: Vec<_> = seen.iter().filter(|(_, w)| w.starts_with("status")).collect();
    assert!(bad.is_empty(), "non-2xx responses: {bad:?}");
    assert!(seen.len() > 300, "load too light: {}", seen.len());
    let c_in = |from: Duration, to: Duration| {
        seen.iter()
            .filter(|(t, w)| *t >= from && *t < to && w == "C")
            .count()
    };
    assert!(c_in(Duration::ZERO, killed_at) > 10, "C served before the kill");
    // While dead (allowing 100 ms for requests in flight), C serves nothing.
    assert_eq!(c_in(killed_at + Duration::from_millis(100), restarted_at), 0);
    // fail_timeout=1s: after the restart the next probe succeeds and C is back.
    assert!(
        c_in(restarted_at + Duration::from_millis(2100), t0.elapsed()) > 10,
        "C did not get traffic again"
    );
    let log = r.read_log("error.log");
    let disabled = log.matches("upstream server temporarily disabled").count();
    let refused = log.matches("connect() failed (111: Connection refused)").count();
    assert!(disabled >= 1, "no warning:\n{log}");
    // One probe per fail_timeout window: about 3 windows while dead, not one per request.
    assert!(
        refused <= 8,
        "{refused} connect failures: the peer was not suspended\n{log}"
    );
    assert!(log.contains("[warn]") && log.contains("upstream server temporarily disabled while"));
}

#[test]
fn backup_and_down() {
    let a = Scripted::start(|_, _| Act::ReplyClose(ok("a")));
    let b = Scripted::start(|_, _| Act::ReplyClose(ok("b")));
    let c = Scripted::start(|_, _| Act::ReplyClose(ok("c")));
    let dead = dead_port();
    let r = Rampart::start(&conf(
        &format!(
            "[http.upstream.u]\nserver = [\"{} down\", \"{}\", \"{} backup\"]\n\
             [http.upstream.v]\nserver = [\"127.0.0.1:{dead}\", \"{} backup\"]\n",
            a.addr, b.addr, c.addr, c.addr
        ),
        &(loc("/u", "u", "") + &loc("/v", "v", "")),
    ));
    for _ in 0..6 {
        assert_eq!(get(r.addr(), "/u").text(), "b");
    }
    assert_eq!(a.conns.load(Ordering::SeqCst), 0, "down is never used");
    assert_eq!(
        c.conns.load(Ordering::SeqCst),
        0,
        "backup unused while a primary lives"
    );
    // The only primary refuses: the backup answers.
    for _ in 0..3 {
        assert_eq!(get(r.addr(), "/v").text(), "c");
    }
    let log = wait_log(&r, "access.log", "GET /v HTTP/1.1 200 127.0.0.1:");
    assert!(
        log.contains(&format!(
            "GET /v HTTP/1.1 200 127.0.0.1:{dead}, {} 502, 200",
            c.addr
        )),
        "{log}"
    );
    // Then the primary is suspended: straight to the backup.
    assert!(
        log.contains(&format!("GET /v HTTP/1.1 200 {} 200", c.addr)),
        "{log}"
    );
}

#[test]
fn no_live_upstreams() {
    let (d1, d2) = (dead_port(), dead_port());
    let r = Rampart::start(&conf(
        &format!("[http.upstream.dead]\nserver = [\"127.0.0.1:{d1} fail_timeout=30s\", \"127.0.0.1:{d2} fail_timeout=30s\"]\n"),
        &loc("/", "dead", ""),
    ));
    // Both refuse: 502 after trying both.
    assert_eq!(get(r.addr(), "/x").status, 502);
    // Both suspended now: 502 without trying, and nginx's log line.
    let resp = get(r.addr(), "/y");
    assert_eq!(resp.status, 502);
    assert_eq!(resp.text(), nginx_page("502 Bad Gateway"));
    let log = wait_log(&r, "error.log", "no live upstreams");
    assert!(
        log.contains(
            ": *2 no live upstreams while connecting to upstream, client: 127.0.0.1, server: localhost, \
             request: \"GET /y HTTP/1.1\", upstream: \"http://dead/y\", host: \"localhost\"\n"
        ),
        "{log}"
    );
    assert_eq!(
        log.matches("upstream server temporarily disabled").count(),
        2,
        "{log}"
    );
    let access = wait_log(&r, "access.log", "GET /y");
    assert!(access.contains("GET /y HTTP/1.1 502 dead 502"), "{access}");
}

#[test]
fn next_upstream_http_502_tries_and_non_idempotent() {
    let bad = || Scripted::start(|_, _| Act::ReplyClose(status(502, "bad")));
    let good = || Scripted::start(|_, _| Act::ReplyClose(ok("good")));
    let (b1, g1, b2, g2, b3, g3, b4, b5) = (bad(), good(), bad(), good(), bad(), good(), bad(), bad());
    let (d1, d2, d3) = (dead_port(), dead_port(), dead_port());
    let ups = format!(
        "[http.upstream.listed]\nserver = [\"{}\", \"{}\"]\n\
         [http.upstream.unlisted]\nserver = [\"{}\", \"{}\"]\n\
         [http.upstream.post]\nserver = [\"{}\", \"{}\"]\n\
         [http.upstream.allbad]\nserver = [\"{}\", \"{}\"]\n\
         [http.upstream.three]\nserver = [\"127.0.0.1:{d1}\", \"127.0.0.1:{d2}\", \"127.0.0.1:{d3}\"]\n",
        b1.addr, g1.addr, b2.addr, g2.addr, b3.addr, g3.addr, b4.addr, b5.addr
    );
    let nu = "proxy_next_upstream = [\"error\", \"timeout\", \"http_502\"]";
    let locs = [
        loc("/listed", "listed", nu),
        loc("/unlisted", "unlisted", ""),
        loc("/post", "post", nu),
        loc(
            "/nonidem",
            "post",
            "proxy_next_upstream = [\"error\", \"timeout\", \"http_502\", \"non_idempotent\"]",
        ),
        loc("/allbad", "allbad", nu),
        loc("/three", "three", "proxy_next_upstream_tries = 2"),
    ]
    .concat();
    let r = Rampart::start(&conf(&ups, &locs));
    // http_502 listed: the 502 goes to the next peer.
    let resp = get(r.addr(), "/listed");
    assert_eq!((resp.status, resp.text().as_str()), (200, "good"));
    // Not listed (default error timeout): the upstream's 502 is passed as is.
    let resp = get(r.addr(), "/unlisted");
    assert_eq!((resp.status, resp.text().as_str()), (502, "bad"));
    assert_eq!(g2.conns.load(Ordering::SeqCst), 0);
    // POST once sent is not passed on without non_idempotent...
    let resp = post(r.addr(), "/post", "x=1");
    assert_eq!((resp.status, resp.text().as_str()), (502, "bad"));
    assert_eq!(g3.conns.load(Ordering::SeqCst), 0);
    // ... and is with it (the round-robin is on b3 again: 2 picks later).
    let resp = post(r.addr(), "/nonidem", "x=2");
    assert_eq!(resp.status, 200);
    let resp = post(r.addr(), "/nonidem", "x=3");
    assert_eq!((resp.status, resp.text().as_str()), (200, "good"));
    assert!(b3.requests().iter().any(|q| q.ends_with(b"x=3")));
    assert!(g3.requests().iter().any(|q| q.ends_with(b"x=3")));
    // Every peer answers 502: the last answer is passed as is, not nginx's page.
    let resp = get(r.addr(), "/allbad");
    assert_eq!((resp.status, resp.text().as_str()), (502, "bad"));
    assert_eq!(b4.requests().len() + b5.requests().len(), 2);
    // proxy_next_upstream_tries 2 over three refusing peers: two attempts.
    assert_eq!(get(r.addr(), "/three").status, 502);
    let log = wait_log(&r, "access.log", "GET /three");
    assert!(
        log.contains(&format!(
            "GET /three HTTP/1.1 502 127.0.0.1:{d1}, 127.0.0.1:{d2} 502, 502\n"
        )),
        "{log}"
    );
    assert!(log.contains("GET /listed HTTP/1.1 200 "), "{log}");
    assert!(
        log.contains(&format!(
            "GET /listed HTTP/1.1 200 {}, {} 502, 200",
            b1.addr, g1.addr
        )),
        "{log}"
    );
}

#[test]
fn sent_post_is_not_replayed_after_reset() {
    let reset = Scripted::start(|_, _| Act::Reset);
    let good = Scripted::start(|_, _| Act::ReplyClose(ok("good")));
    let r = Rampart::start(&conf(
        &format!(
            "[http.upstream.u]\nserver = [\"{}\", \"{}\"]\n",
            reset.addr, good.addr
        ),
        &(loc("/", "u", "")),
    ));
    let resp = post(r.addr(), "/p", "once");
    assert_eq!(resp.status, 502);
    assert_eq!(resp.text(), nginx_page("502 Bad Gateway"));
    wait_for(
        "the reset peer to record the POST",
        Duration::from_secs(5),
        || (!reset.requests().is_empty()).then_some(()),
    );
    assert_eq!(reset.requests().len(), 1, "the upstream saw the POST once");
    assert!(reset.requests()[0].ends_with(b"once"));
    assert!(
        good.requests().is_empty(),
        "a sent POST is not passed to the next peer"
    );
    let log = wait_log(&r, "error.log", "while reading response header from upstream");
    assert!(
        log.contains("recv() failed (104: Connection reset by peer)") || log.contains("prematurely"),
        "{log}"
    );
}

/// Settings that let nginx reuse upstream connections.
const KEEPALIVE: &str = "proxy_http_version = \"1.1\"\nproxy_set_header = [[\"Connection\", \"\"]]";

#[test]
fn keepalive_reuses_only_when_configured() {
    let up = Scripted::start(|_, _| Act::Reply(ok("k")));
    let r = Rampart::start(&conf(
        &format!("[http.upstream.u]\nserver = [\"{}\"]\nkeepalive = 4\n", up.addr),
        &(loc("/ka/", "u", KEEPALIVE)
            + &loc("/close/", "u", "proxy_http_version = \"1.1\"")
            + &loc("/h10/", "u", "")),
    ));
    for _ in 0..20 {
        assert_eq!(get(r.addr(), "/ka/x").text(), "k");
    }
    assert_eq!(
        up.conns.load(Ordering::SeqCst),
        1,
        "20 requests over one cached connection"
    );
    assert!(up.requests().iter().all(|q| !String::from_utf8_lossy(q)
        .to_ascii_lowercase()
        .contains("connection:")));
    // The default `Connection: close` (and HTTP/1.0) means no reuse, as nginx 1.22.
    for _ in 0..5 {
        assert_eq!(get(r.addr(), "/close/x").text(), "k");
        assert_eq!(get(r.addr(), "/h10/x").text(), "k");
    }
    assert_eq!(up.conns.load(Ordering::SeqCst), 11);
}

#[test]
fn keepalive_requests_limit() {
    let up = Scripted::start(|_, _| Act::Reply(ok("k")));
    let r = Rampart::start(&conf(
        &format!(
            "[http.upstream.u]\nserver = [\"{}\"]\nkeepalive = 4\nkeepalive_requests = 3\n",
            up.addr
        ),
        &loc("/", "u", KEEPALIVE),
    ));
    for _ in 0..9 {
        assert_eq!(get(r.addr(), "/").text(), "k");
    }
    assert_eq!(up.conns.load(Ordering::SeqCst), 3, "3 requests per connection");
}

#[test]
fn stale_keepalive_connection_is_retried() {
    // Every connection: the first request is answered and the connection kept;
    // the second (the reuse) is read and the connection closed unanswered.
    let stale = Arc::new(AtomicUsize::new(0));
    let st = stale.clone();
    let up = Scripted::start(move |n, _| {
        if n == 0 {
            Act::Reply(ok("fresh"))
        } else {
            st.fetch_add(1, Ordering::SeqCst);
            Act::Close
        }
    });
    // A second upstream that resets instead of closing.
    let stale_rst = Arc::new(AtomicUsize::new(0));
    let st2 = stale_rst.clone();
    let up2 = Scripted::start(move |n, _| {
        if n == 0 {
            Act::Reply(ok("fresh"))
        } else {
            st2.fetch_add(1, Ordering::SeqCst);
            Act::Reset
        }
    });
    let r = Rampart::start(&conf(
        &format!(
            "[http.upstream.u]\nserver = [\"{}\"]\nkeepalive = 8\n[http.upstream.u2]\nserver = [\"{}\"]\nkeepalive = 8\n",
            up.addr, up2.addr
        ),
        &(loc("/a/", "u", KEEPALIVE) + &loc("/b/", "u2", KEEPALIVE)),
    ));
    for i in 0..30 {
        for prefix in ["/a/", "/b/"] {
            let g = get(r.addr(), &format!("{prefix}g{i}"));
            assert_eq!((g.status, g.text().as_str()), (200, "fresh"), "GET {prefix} #{i}");
            let p = post(r.addr(), &format!("{prefix}p{i}"), &format!("body-{i}"));
            assert_eq!(
                (p.status, p.text().as_str()),
                (200, "fresh"),
                "POST {prefix} #{i}"
            );
        }
    }
    assert!(stale.load(Ordering::SeqCst) >= 50, "reuse was not exercised");
    assert!(stale_rst.load(Ordering::SeqCst) >= 50, "reuse was not exercised");
    // Every POST body reached a fresh connection that answered it.
    let reqs = up.requests();
    for i in 0..30 {
        let body = format!("body-{i}");
        assert!(reqs.iter().filter(|q| q.ends_with(body.as_bytes())).count() >= 1);
    }
}
