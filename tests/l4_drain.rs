//! Graceful drain behind an L4 tier (issue 8): on SIGQUIT (or `-s quit`)
//! the node first fails its health probes (`listen ... health_probe` closes,
//! `health_probe` locations answer 503) while it keeps serving for
//! `drain_grace_time`, then stops accepting, closes idle keep-alive
//! connections, lets in-flight requests finish and exits.
//!
//! The first tests drive the real binary directly; the last two put Debian's
//! haproxy (`mode tcp`, `send-proxy-v2`, health checks every 200 ms) in
//! front of two rampart nodes and drain one of them under load.

mod common;
use common::*;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Whether a new connection to `addr` is refused (the listener is closed).
fn refused(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_err()
}

/// One keep-alive client connection.
struct Ka {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Ka {
    fn open(addr: SocketAddr) -> Ka {
        let w = connect(addr);
        let r = BufReader::new(w.try_clone().expect("clone"));
        Ka { w, r }
    }
    fn get(&mut self, path: &str) -> Resp {
        self.w
            .write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
            .expect("send");
        read_response(&mut self.r, false).expect("a response")
    }
    /// Whether the server closed the connection (EOF or reset, nothing sent).
    fn closed_by_server(&mut self) -> bool {
        let mut rest = Vec::new();
        let _ = self.r.read_to_end(&mut rest);
        rest.is_empty()
    }
}

fn says_close(r: &Resp) -> bool {
    r.header("connection")
        .is_some_and(|v| v.eq_ignore_ascii_case("close"))
}

/// A TOML config: the main listener on @PORT@ plus a `health_probe` listener
/// on `probe_port`, a probe location, a fast location and a proxied slow one.
fn drain_config(backend: SocketAddr, probe_port: u16, main_extra: &str) -> String {
    let c = config(
        &format!("[http.upstream.up]\nserver = [\"{backend}\"]"),
        "[[http.server.location]]\nmatch = \"= /healthz\"\nhealth_probe = true\n\n\
         [[http.server.location]]\nmatch = \"= /x\"\nreturn = [200, \"x\"]\n\n\
         [[http.server.location]]\nmatch = \"= /d\"\nreturn = [200, \"d=$draining\"]\n\n\
         [[http.server.location]]\nmatch = \"/slow/\"\nproxy_pass = \"http://up/\"\n",
    )
    .replace(
        "listen = [\"127.0.0.1:@PORT@\"]",
        &format!("listen = [\"127.0.0.1:@PORT@\", \"127.0.0.1:{probe_port} health_probe\"]"),
    );
    format!("{main_extra}{c}")
}

const GRACE: Duration = Duration::from_millis(2000);

/// The whole sequence on one node: the probe listener closes and the probe
/// location answers 503 right after QUIT, while new connections, open
/// keep-alive connections and other locations are still served for the
/// grace time; then new connections are refused, the idle keep-alive
/// connection is closed, the request in flight across the end of the grace
/// completes with `Connection: close`, and the process exits 0 soon after,
/// having logged each phase at `notice`.
#[test]
fn quit_fails_the_probes_first_serves_through_the_grace_then_drains() {
    let be = Backend::start("slow");
    let probe_port = rampart_port();
    let mut r = Rampart::start(&drain_config(
        be.addr,
        probe_port,
        &format!("drain_grace_time = \"{}ms\"\n", GRACE.as_millis()),
    ));
    let (addr, probe) = (r.addr(), local(probe_port));
    let ok = get(addr, "/healthz");
    assert_eq!((ok.status, ok.text().as_str()), (200, "ok\n"));
    assert_eq!(get(probe, "/healthz").status, 200, "the probe listener serves");
    assert_eq!(get(probe, "/x").text(), "x");
    assert_eq!(get(addr, "/d").text(), "d=", "$draining is empty while serving");
    let mut idle = Ka::open(addr);
    assert_eq!(idle.get("/x").status, 200);
    // A keep-alive request still running when the grace ends (with room
    // for a busy machine between its start and the QUIT).
    let slow_ms = GRACE.as_millis() + 3000;
    let slow_start = Instant::now();
    let before = connections_to(be.addr.port());
    let slow = std::thread::spawn(move || {
        let mut k = Ka::open(addr);
        let resp = k.get(&format!("/slow/delay/{slow_ms}"));
        (resp, k.closed_by_server())
    });
    wait_for(
        "the slow request to reach the upstream",
        Duration::from_secs(5),
        || (connections_to(be.addr.port()) > before).then_some(()),
    );

    let quit_at = Instant::now();
    assert!(
        quit_at - slow_start < Duration::from_millis(2500),
        "the slow request took {:?} to start: too slow a machine for this test",
        quit_at - slow_start
    );
    r.signal(libc::SIGQUIT);
    wait_for("the probe listener to close", Duration::from_secs(1), || {
        refused(probe).then_some(())
    });
    let probe_closed = quit_at.elapsed();
    let h = get(addr, "/healthz");
    assert_eq!(
        (h.status, h.text().as_str()),
        (503, "draining\n"),
        "the probe location fails"
    );
    assert_eq!(get(addr, "/d").text(), "d=1", "$draining once the probes fail");

    // During the grace: new connections and keep-alive go on as usual.
    let mut ka = Ka::open(addr);
    let mut served = 0;
    while quit_at.elapsed() + Duration::from_millis(500) < GRACE {
        assert_eq!(get(addr, "/x").status, 200, "a new connection during the grace");
        let resp = ka.get("/x");
        assert!(
            resp.status == 200 && !says_close(&resp),
            "keep-alive goes on during the grace: {resp:?}"
        );
        served += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(served >= 3, "served {served} times during the grace");
    let resp = idle.get("/x");
    assert!(
        resp.status == 200 && !says_close(&resp),
        "an idle keep-alive connection is still served in the grace: {resp:?}"
    );
    assert!(quit_at.elapsed() < GRACE, "the checks above ran inside the grace");

    // After the grace: no new connections, idle ones are closed.
    let refused_at = wait_for(
        "the main listener to close",
        GRACE + Duration::from_secs(3),
        || refused(addr).then(|| quit_at.elapsed()),
    );
    assert!(
        refused_at + Duration::from_millis(50) >= GRACE,
        "accepting until the grace ends (refused after {refused_at:?})"
    );
    assert!(
        idle.closed_by_server(),
        "the idle keep-alive connection is closed"
    );
    assert!(
        ka.closed_by_server(),
        "the other idle keep-alive connection is closed"
    );
    let (resp, then_closed) = slow.join().expect("slow client");
    assert_eq!(
        (resp.status, resp.text()),
        (200, format!("delayed {slow_ms} ms\n")),
        "the request in flight completes"
    );
    assert!(says_close(&resp), "with Connection: close: {resp:?}");
    assert!(then_closed, "and the connection is closed after it");
    assert_eq!(
        r.wait_exit(Duration::from_secs(5)),
        Some(0),
        "exit code after QUIT"
    );
    let total = quit_at.elapsed();
    assert!(
        slow_start.elapsed() < Duration::from_millis(slow_ms as u64 + 1500),
        "exited soon after the slow request: {total:?} after QUIT"
    );
    assert!(probe_closed < GRACE / 2, "probe closed after {probe_closed:?}");
    assert!(!r.pid_file().exists(), "the pid file is removed");
    let log = r.read_log("error.log");
    for needle in [
        &format!("graceful shutdown: health probes fail now, health_probe listeners {probe} closed; still serving for drain_grace_time 2000ms"),
        "graceful shutdown: drain_grace_time over",
        "graceful shutdown: listeners closed, closing idle keep-alive connections",
        "graceful shutdown: all connections closed, exiting",
    ] {
        assert!(
            log.lines().any(|l| l.contains("[notice]") && l.contains(needle)),
            "error log has a notice line with {needle:?}:\n{log}"
        );
    }
}

/// `-s quit` takes the same path; `worker_shutdown_timeout` counts from the
/// end of the grace and cuts a request that would run longer (logged).
#[test]
fn worker_shutdown_timeout_bounds_the_drain_after_the_grace() {
    let be = Backend::start("slow");
    let mut r = Rampart::start(&drain_config(
        be.addr,
        rampart_port(),
        "drain_grace_time = \"300ms\"\nworker_shutdown_timeout = \"700ms\"\n",
    ));
    let addr = r.addr();
    let before = connections_to(be.addr.port());
    let slow = std::thread::spawn(move || {
        raw_all(
            addr,
            b"GET /slow/delay/20000 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        )
    });
    wait_for(
        "the slow request to reach the upstream",
        Duration::from_secs(3),
        || (connections_to(be.addr.port()) > before).then_some(()),
    );
    let quit_at = Instant::now();
    let out = rampart_cmd(&[
        "-p".as_ref(),
        r.dir.path().as_os_str(),
        "-c".as_ref(),
        r.conf.as_os_str(),
        "-s".as_ref(),
        "quit".as_ref(),
    ]);
    assert_eq!(out.code, Some(0), "-s quit: {}", out.stderr);
    assert_eq!(r.wait_exit(Duration::from_secs(5)), Some(0));
    let took = quit_at.elapsed();
    assert!(
        took >= Duration::from_millis(950) && took < Duration::from_millis(2500),
        "grace 300ms + worker_shutdown_timeout 700ms, took {took:?}"
    );
    let got = slow.join().expect("slow client");
    assert!(
        !String::from_utf8_lossy(&got).contains("delayed"),
        "the request was cut by the timeout"
    );
    let log = r.read_log("error.log");
    assert!(
        log.contains("worker_shutdown_timeout: closing 1 connections"),
        "{log}"
    );
    assert!(!r.pid_file().exists(), "the pid file is removed");
}

/// With nothing in flight the process exits right when the grace ends: not
/// before (still serving), not much after.
#[test]
fn an_idle_node_exits_when_the_grace_ends() {
    let be = Backend::start("x");
    let probe_port = rampart_port();
    let mut r = Rampart::start(&drain_config(
        be.addr,
        probe_port,
        "drain_grace_time = \"800ms\"\n",
    ));
    let quit_at = Instant::now();
    r.signal(libc::SIGQUIT);
    wait_for("the probe listener to close", Duration::from_secs(2), || {
        refused(local(probe_port)).then_some(())
    });
    assert_eq!(get(r.addr(), "/x").status, 200, "serving in the grace");
    assert_eq!(r.wait_exit(Duration::from_secs(5)), Some(0));
    let took = quit_at.elapsed();
    assert!(
        took >= Duration::from_millis(800) && took < Duration::from_millis(800 + 700),
        "exit {took:?} after QUIT with drain_grace_time 800ms"
    );
    assert!(!r.pid_file().exists(), "the pid file is removed");
}

/// TERM during the grace is a fast stop; a second QUIT ends the grace early.
#[test]
fn term_or_a_second_quit_end_the_grace_early() {
    let be = Backend::start("x");
    for (second, logged) in [
        (libc::SIGTERM, "signal received during drain_grace_time, exiting"),
        (libc::SIGQUIT, "second SIGQUIT, drain_grace_time cut short"),
    ] {
        let probe_port = rampart_port();
        let mut r = Rampart::start(&drain_config(be.addr, probe_port, "drain_grace_time = \"30s\"\n"));
        let addr = r.addr();
        r.signal(libc::SIGQUIT);
        wait_for("the probe listener to close", Duration::from_secs(2), || {
            refused(local(probe_port)).then_some(())
        });
        assert_eq!(get(addr, "/x").status, 200, "serving in the grace");
        let t = Instant::now();
        r.signal(second);
        assert_eq!(r.wait_exit(Duration::from_secs(5)), Some(0));
        assert!(t.elapsed() < Duration::from_secs(2), "took {:?}", t.elapsed());
        assert!(!r.pid_file().exists(), "the pid file is removed");
        let log = r.read_log("error.log");
        assert!(log.contains(logged), "{log}");
    }
}

// ---------------------------------------------------------------------------
// The L4 tier for real: haproxy in front of two nodes.
// ---------------------------------------------------------------------------

const HAPROXY: &str = "/usr/sbin/haproxy";
/// The drained node's grace: haproxy needs fall 2 × inter 200 ms (+ a check
/// timeout) to mark it down; the rest is margin for a busy machine.
const NODE_GRACE: Duration = Duration::from_secs(2);
const SLOW_MS: u64 = 400;

/// How haproxy checks the nodes.
#[derive(Clone, Copy, PartialEq)]
enum Check {
    /// TCP connect to the node's `listen ... health_probe` port (keepalived TCP_CHECK).
    TcpProbePort,
    /// `option httpchk` on the node's main (PROXY protocol) port, location `= /healthz`.
    HttpProbeLocation,
}

/// One rampart node, configured with nginx.conf.
struct Node {
    r: Rampart,
    port: u16,
    probe_port: u16,
}

fn start_node(name: &str, backend: SocketAddr, check: Check) -> Node {
    let dir = TempDir::new(&format!("l4-{name}"));
    let port = rampart_port();
    let probe_port = rampart_port();
    let probe_listen = match check {
        Check::TcpProbePort => format!("listen 127.0.0.1:{probe_port} health_probe;"),
        Check::HttpProbeLocation => String::new(),
    };
    let text = format!(
        r#"
worker_processes 2;
daemon off;
error_log logs/error.log notice;
pid logs/rampart.pid;
drain_grace_time {grace}ms;
events {{}}
http {{
    log_format drain '$http_x_req $status $remote_addr';
    access_log logs/access.log drain;
    upstream be {{ server {backend}; }}
    server {{
        listen 127.0.0.1:{port} proxy_protocol;
        {probe_listen}
        set_real_ip_from 127.0.0.1;
        real_ip_header proxy_protocol;
        location = /healthz {{ health_probe; }}
        location /w/ {{
            proxy_pass http://be/;
            add_header X-Node {name};
        }}
    }}
}}
"#,
        grace = NODE_GRACE.as_millis()
    );
    let conf = dir.path().join("nginx.conf");
    std::fs::write(&conf, text).expect("write nginx.conf");
    Node {
        r: Rampart::run_file(dir, port, conf),
        port,
        probe_port,
    }
}

/// haproxy in the foreground (`-db`), killed by PID on drop.
struct Haproxy {
    child: std::process::Child,
    dir: TempDir,
    port: u16,
}

impl Haproxy {
    fn start(a: &Node, b: &Node, check: Check) -> Haproxy {
        let dir = TempDir::new("haproxy");
        let port = free_port();
        let (backend_opts, check_a, check_b) = match check {
            Check::TcpProbePort => (
                String::new(),
                format!("check port {} inter 200ms fall 2 rise 2", a.probe_port),
                format!("check port {} inter 200ms fall 2 rise 2", b.probe_port),
            ),
            Check::HttpProbeLocation => (
                "option httpchk GET /healthz\n    http-check expect status 200".to_string(),
                "check check-send-proxy inter 200ms fall 2 rise 2".to_string(),
                "check check-send-proxy inter 200ms fall 2 rise 2".to_string(),
            ),
        };
        let text = format!(
            "global\n    stats socket {sock} mode 600 level admin\n    maxconn 4000\n    nbthread 1\n\
             defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 30s\n    timeout server 30s\n\
             \x20   timeout check 1s\n    retries 0\n\
             frontend fe\n    bind 127.0.0.1:{port}\n    default_backend nodes\n\
             backend nodes\n    balance roundrobin\n    {backend_opts}\n\
             \x20   server a 127.0.0.1:{pa} send-proxy-v2 {check_a}\n\
             \x20   server b 127.0.0.1:{pb} send-proxy-v2 {check_b}\n",
            sock = dir.path().join("stats.sock").display(),
            pa = a.port,
            pb = b.port,
        );
        let conf = dir.path().join("haproxy.cfg");
        std::fs::write(&conf, text).expect("write haproxy.cfg");
        let log = std::fs::File::create(dir.path().join("haproxy.log")).expect("log file");
        let child = std::process::Command::new(HAPROXY)
            .arg("-db")
            .arg("-f")
            .arg(&conf)
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start haproxy");
        let mut h = Haproxy { child, dir, port };
        wait_for("haproxy to report both nodes UP", Duration::from_secs(10), || {
            if let Ok(Some(st)) = h.child.try_wait() {
                panic!("haproxy exited ({st}): {}", h.log());
            }
            (h.status("a").starts_with("UP") && h.status("b").starts_with("UP")).then_some(())
        });
        h
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("haproxy.log")).unwrap_or_default()
    }

    /// The `status` column of `show stat` for server `name` of backend `nodes`.
    fn status(&self, name: &str) -> String {
        let Ok(mut s) = std::os::unix::net::UnixStream::connect(self.dir.path().join("stats.sock")) else {
            return String::new();
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        if s.write_all(b"show stat\n").is_err() {
            return String::new();
        }
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        let mut lines = out.lines();
        let Some(header) = lines.next().and_then(|h| h.strip_prefix("# ")) else {
            return String::new();
        };
        let Some(col) = header.split(',').position(|c| c == "status") else {
            return String::new();
        };
        lines
            .map(|l| l.split(',').collect::<Vec<_>>())
            .find(|f| f.first() == Some(&"nodes") && f.get(1) == Some(&name))
            .and_then(|f| f.get(col).map(|s| s.to_string()))
            .unwrap_or_default()
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The kinds of client thread.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    /// Keep-alive, /delay/400 back to back: always busy, so the drain answers
    /// it with `Connection: close`.
    SlowKeepAlive,
    /// Keep-alive, short requests with pauses: usually idle when the drain
    /// closes idle connections.
    FastKeepAlive,
    /// A new connection for every request (`Connection: close`).
    NewConnection,
}

/// One completed request.
struct Done {
    id: u64,
    kind: Kind,
    node: String,
    start: Instant,
    fresh: bool,
    server_closed: bool,
}

#[derive(Default)]
struct Tally {
    done: Vec<Done>,
    failures: Vec<String>,
    idle_retries: usize,
}

/// Why an exchange failed.
enum Fail {
    /// Not one byte of a response arrived (write failed, EOF or reset first).
    NothingReceived(String),
    /// The response started and then broke.
    Broken(String),
}

fn exchange(conn: &mut (TcpStream, BufReader<TcpStream>), req: &[u8]) -> Result<Resp, Fail> {
    conn.0
        .write_all(req)
        .map_err(|e| Fail::NothingReceived(format!("write: {e}")))?;
    match conn.1.fill_buf() {
        Ok([]) => return Err(Fail::NothingReceived("EOF".into())),
        Err(e) => return Err(Fail::NothingReceived(format!("read: {e}"))),
        Ok(_) => {}
    }
    read_response(&mut conn.1, false).map_err(|e| Fail::Broken(e.to_string()))
}

/// A client thread through haproxy until `stop`.
///
/// Retry rule (what browsers do, RFC 9112 §9.3.1): a request sent on a
/// *reused* keep-alive connection that got not one byte back (EOF or reset)
/// was racing the server's close of an idle connection; it is sent again on
/// a new connection. Anything else is a failure: a connect error, no
/// response on a new connection, a broken response, a status other than 200.
/// The test then proves the retries were safe: every request id appears
/// exactly once in the two nodes' access logs, so no retried request had
/// been received (in flight) by a node.
fn client(fe: SocketAddr, kind: Kind, ids: Arc<AtomicU64>, stop: Arc<AtomicBool>, tally: Arc<Mutex<Tally>>) {
    let mut conn: Option<(TcpStream, BufReader<TcpStream>)> = None;
    let (path, close, pause) = match kind {
        Kind::SlowKeepAlive => (format!("/w/delay/{SLOW_MS}"), "", 0),
        Kind::FastKeepAlive => ("/w/delay/1".to_string(), "", 15),
        Kind::NewConnection => ("/w/delay/1".to_string(), "Connection: close\r\n", 15),
    };
    while !stop.load(Ordering::Relaxed) {
        let id = ids.fetch_add(1, Ordering::Relaxed);
        let req = format!("GET {path} HTTP/1.1\r\nHost: l4\r\nX-Req: {id}\r\n{close}\r\n");
        loop {
            let fresh = conn.is_none();
            if fresh {
                match TcpStream::connect_timeout(&fe, Duration::from_secs(5)) {
                    Ok(s) => {
                        let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                        let _ = s.set_write_timeout(Some(Duration::from_secs(10)));
                        let Ok(r) = s.try_clone() else { break };
                        conn = Some((s, BufReader::new(r)));
                    }
                    Err(e) => {
                        tally
                            .lock()
                            .expect("tally")
                            .failures
                            .push(format!("{kind:?} #{id}: connect: {e}"));
                        break;
                    }
                }
            }
            let Some(c) = conn.as_mut() else { break };
            let start = Instant::now();
            match exchange(c, req.as_bytes()) {
                Ok(resp) => {
                    let server_closed = says_close(&resp);
                    let mut t = tally.lock().expect("tally");
                    if resp.status != 200 {
                        t.failures.push(format!("{kind:?} #{id}: status {}", resp.status));
                    }
                    t.done.push(Done {
                        id,
                        kind,
                        node: resp.header("x-node").unwrap_or("?").to_string(),
                        start,
                        fresh,
                        server_closed,
                    });
                    if server_closed {
                        conn = None;
                    }
                    break;
                }
                Err(Fail::NothingReceived(_)) if !fresh => {
                    tally.lock().expect("tally").idle_retries += 1;
                    conn = None;
                }
                Err(Fail::NothingReceived(e) | Fail::Broken(e)) => {
                    tally
                        .lock()
                        .expect("tally")
                        .failures
                        .push(format!("{kind:?} #{id} (fresh {fresh}): {e}"));
                    conn = None;
                    break;
                }
            }
        }
        if pause > 0 {
            std::thread::sleep(Duration::from_millis(pause));
        }
    }
}

/// Request ids and statuses from a node's access log (`$http_x_req $status ...`).
fn logged_ids(node: &Node) -> Vec<(u64, u16)> {
    node.r
        .read_log("access.log")
        .lines()
        .filter_map(|l| {
            let mut f = l.split(' ');
            let id = f.next()?.parse().ok()?;
            let status = f.next()?.parse().ok()?;
            Some((id, status))
        })
        .collect()
}

fn drain_one_node_behind_haproxy(check: Check) {
    if !require_tool(HAPROXY, "haproxy") {
        return;
    }
    let be = Backend::start("work");
    let mut a = start_node("a", be.addr, check);
    let mut b = start_node("b", be.addr, check);
    let hap = Haproxy::start(&a, &b, check);
    let fe = local(hap.port);

    let ids = Arc::new(AtomicU64::new(1));
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let spawn = |kind: Kind| {
        let (ids, stop, tally) = (ids.clone(), stop.clone(), tally.clone());
        std::thread::spawn(move || client(fe, kind, ids, stop, tally))
    };
    let mut threads = Vec::new();
    // Slow keep-alive clients first, one at a time, so haproxy's round robin
    // pins them alternately on a and b.
    for n in 1..=4 {
        threads.push(spawn(Kind::SlowKeepAlive));
        wait_for("a slow client's first response", Duration::from_secs(5), || {
            let t = tally.lock().expect("tally");
            (t.done.iter().filter(|d| d.kind == Kind::SlowKeepAlive).count() >= n).then_some(())
        });
    }
    let slow_on_a = tally
        .lock()
        .expect("tally")
        .done
        .iter()
        .filter(|d| d.kind == Kind::SlowKeepAlive && d.node == "a")
        .count();
    assert!(
        slow_on_a >= 1,
        "round robin put a slow keep-alive client on node a"
    );
    for _ in 0..3 {
        threads.push(spawn(Kind::FastKeepAlive));
        threads.push(spawn(Kind::NewConnection));
    }
    let load_start = Instant::now();
    wait_for("load on both nodes", Duration::from_secs(10), || {
        let t = tally.lock().expect("tally");
        let on = |n: &str| t.done.iter().filter(|d| d.node == n).count();
        (load_start.elapsed() >= Duration::from_millis(1500) && on("a") > 20 && on("b") > 20).then_some(())
    });

    let quit_at = Instant::now();
    a.r.signal(libc::SIGQUIT);
    let down_after = wait_for(
        "haproxy to mark node a DOWN",
        NODE_GRACE + Duration::from_secs(3),
        || hap.status("a").starts_with("DOWN").then(|| quit_at.elapsed()),
    );
    assert_eq!(hap.status("b"), "UP", "node b stays up");
    let code = a.r.wait_exit(NODE_GRACE + Duration::from_secs(5));
    let exit_after = quit_at.elapsed();
    // Keep the load going a while on node b alone.
    wait_for("load after node a left", Duration::from_secs(10), || {
        (quit_at.elapsed() >= exit_after + Duration::from_millis(1000)).then_some(())
    });
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("client thread");
    }
    b.r.signal(libc::SIGTERM);
    assert_eq!(b.r.wait_exit(Duration::from_secs(5)), Some(0));

    let t = tally.lock().expect("tally");
    let on_a = |d: &&Done| d.node == "a";
    let a_after_quit = t.done.iter().filter(on_a).filter(|d| d.start > quit_at).count();
    let a_closed_busy = t
        .done
        .iter()
        .filter(on_a)
        .filter(|d| d.kind == Kind::SlowKeepAlive && d.server_closed)
        .count();
    let fresh_on_a_after_down = t
        .done
        .iter()
        .filter(on_a)
        .filter(|d| d.fresh && d.start > quit_at + down_after + Duration::from_millis(100))
        .count();
    eprintln!(
        "{} requests ({} on a, {} of them after QUIT), {} idle-close retries, node a DOWN after {down_after:?}, exited after {exit_after:?}",
        t.done.len(),
        t.done.iter().filter(on_a).count(),
        a_after_quit,
        t.idle_retries
    );
    assert!(
        t.failures.is_empty(),
        "{} failed requests, e.g. {:?}",
        t.failures.len(),
        &t.failures[..t.failures.len().min(5)]
    );
    assert_eq!(code, Some(0), "node a's exit code");
    assert!(
        down_after < NODE_GRACE,
        "haproxy marked a DOWN ({down_after:?}) while it was still serving (grace {NODE_GRACE:?})"
    );
    assert!(a_after_quit > 0, "node a served requests during its grace");
    assert!(
        a_closed_busy > 0,
        "a busy keep-alive request on node a completed with Connection: close"
    );
    assert_eq!(
        fresh_on_a_after_down, 0,
        "no new connection reached node a once haproxy had marked it DOWN"
    );
    assert!(
        exit_after < NODE_GRACE + Duration::from_millis(SLOW_MS) + Duration::from_millis(1500),
        "node a exited within its grace + a request + margin: {exit_after:?}"
    );
    assert!(!a.r.pid_file().exists(), "node a removed its pid file");
    let log_a = a.r.read_log("error.log");
    assert!(
        log_a.contains("graceful shutdown: all connections closed, exiting"),
        "{log_a}"
    );

    // Exactly once: every completed request was received by one node once.
    let mut seen: HashMap<u64, (usize, u16)> = HashMap::new();
    for (id, status) in logged_ids(&a).into_iter().chain(logged_ids(&b)) {
        let e = seen.entry(id).or_insert((0, status));
        e.0 += 1;
    }
    let dup: Vec<_> = seen.iter().filter(|(_, (n, _))| *n > 1).take(5).collect();
    assert!(dup.is_empty(), "requests received twice: {dup:?}");
    for d in &t.done {
        assert_eq!(
            seen.get(&d.id).map(|e| e.1),
            Some(200),
            "request #{} is in the access logs with 200",
            d.id
        );
    }
    assert_eq!(
        seen.len(),
        t.done.len(),
        "the logs hold no request the client did not get"
    );
    drop(hap);
}

/// haproxy `check port N` (a TCP connect, keepalived TCP_CHECK's twin) on the
/// nodes' `listen ... health_probe` ports.
#[test]
fn haproxy_tcp_check_on_the_probe_port_drains_a_node_without_a_failed_request() {
    drain_one_node_behind_haproxy(Check::TcpProbePort);
}

/// haproxy `option httpchk GET /healthz` through the PROXY-protocol port on
/// the nodes' `health_probe` location.
#[test]
fn haproxy_http_check_on_the_probe_location_drains_a_node_without_a_failed_request() {
    drain_one_node_behind_haproxy(Check::HttpProbeLocation);
}
