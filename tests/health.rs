//! Active health checks through the real binary and the library: the
//! check_status page byte for byte against fixtures written from the module's
//! format strings (tests/check_status/), a peer stopped under traffic going
//! down after exactly `fall` checks and back after exactly `rise`,
//! default_down, both config front ends, and (ignored by default) the
//! 1 000-peer cost measurement.

mod common;
use common::*;

use rampart::health::status::{render, Filter, Format};
use rampart::health::{CheckConf, HealthTable, PeerHealth};
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// A minimal JSON syntax check (no JSON crate in the dependency set).
// ---------------------------------------------------------------------------

fn json_ok(s: &str) -> bool {
    fn ws(b: &[u8], i: &mut usize) {
        while *i < b.len() && b" \t\r\n".contains(&b[*i]) {
            *i += 1;
        }
    }
    fn value(b: &[u8], i: &mut usize) -> bool {
        ws(b, i);
        match b.get(*i) {
            Some(b'{') => {
                *i += 1;
                ws(b, i);
                if b.get(*i) == Some(&b'}') {
                    *i += 1;
                    return true;
                }
                loop {
                    ws(b, i);
                    if !string(b, i) {
                        return false;
                    }
                    ws(b, i);
                    if b.get(*i) != Some(&b':') {
                        return false;
                    }
                    *i += 1;
                    if !value(b, i) {
                        return false;
                    }
                    ws(b, i);
                    match b.get(*i) {
                        Some(b',') => *i += 1,
                        Some(b'}') => {
                            *i += 1;
                            return true;
                        }
                        _ => return false,
                    }
                }
            }
            Some(b'[') => {
                *i += 1;
                ws(b, i);
                if b.get(*i) == Some(&b']') {
                    *i += 1;
                    return true;
                }
                loop {
                    if !value(b, i) {
                        return false;
                    }
                    ws(b, i);
                    match b.get(*i) {
                        Some(b',') => *i += 1,
                        Some(b']') => {
                            *i += 1;
                            return true;
                        }
                        _ => return false,
                    }
                }
            }
            Some(b'"') => string(b, i),
            Some(c) if c.is_ascii_digit() || *c == b'-' => {
                *i += 1;
                while b
                    .get(*i)
                    .is_some_and(|c| c.is_ascii_digit() || b".eE+-".contains(c))
                {
                    *i += 1;
                }
                true
            }
            _ => ["true", "false", "null"].iter().any(|w| {
                let ok = b[*i..].starts_with(w.as_bytes());
                if ok {
                    *i += w.len();
                }
                ok
            }),
        }
    }
    fn string(b: &[u8], i: &mut usize) -> bool {
        if b.get(*i) != Some(&b'"') {
            return false;
        }
        *i += 1;
        while let Some(&c) = b.get(*i) {
            *i += 1;
            match c {
                b'"' => return true,
                b'\\' => *i += 1,
                _ => {}
            }
        }
        false
    }
    let b = s.as_bytes();
    let mut i = 0;
    let ok = value(b, &mut i);
    ws(b, &mut i);
    ok && i == b.len()
}

#[test]
fn the_json_check_can_fail() {
    assert!(json_ok("{\"a\": [1, \"x\", {\"b\": true}]}"));
    assert!(!json_ok("{\"a\": [1, 2,]}"), "a trailing comma is invalid");
    assert!(!json_ok("{\"a\": 1"));
}

// ---------------------------------------------------------------------------
// check_status: fixtures byte for byte.
// ---------------------------------------------------------------------------

/// 3 upstreams / 7 peers, 3 of them down, `api` checked on `port=8081`,
/// generation 3 — the table the fixtures describe.
fn fixture_table() -> HealthTable {
    let conf = |c: &str| Arc::new(CheckConf::build(c, None, None, None, None, None).unwrap());
    let (http, tcp, ssl) = (
        conf("type=http"),
        conf("type=tcp port=8081"),
        conf("type=ssl_hello"),
    );
    type Row<'a> = (&'a str, &'a str, &'a Arc<CheckConf>, bool, u64, u64);
    let rows: [Row<'_>; 7] = [
        ("app", "10.1.0.11:8080", &http, false, 17, 0),
        ("app", "10.1.0.12:8080", &http, true, 0, 6),
        ("app", "10.1.0.13:8080", &http, false, 3, 0),
        ("api", "10.1.0.21:9000", &tcp, false, 58, 0),
        ("api", "10.1.0.22:9000", &tcp, true, 0, 5),
        ("web", "10.1.0.31:443", &ssl, false, 2, 0),
        ("web", "10.1.0.32:443", &ssl, true, 0, 12),
    ];
    let peers = rows
        .iter()
        .enumerate()
        .map(|(i, (u, a, c, down, rise, fall))| {
            let p = PeerHealth::new(i, u, a.parse().unwrap(), (*c).clone());
            p.set(*down, *rise, *fall);
            Arc::new(p)
        })
        .collect();
    HealthTable { generation: 3, peers }
}

#[test]
fn check_status_matches_the_fixtures_byte_for_byte() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/check_status");
    let t = fixture_table();
    for (fname, filter) in [("all", Filter::All), ("up", Filter::Up), ("down", Filter::Down)] {
        for (ext, format) in [
            ("html", Format::Html),
            ("csv", Format::Csv),
            ("json", Format::Json),
        ] {
            let want = std::fs::read_to_string(dir.join(format!("{fname}.{ext}"))).unwrap();
            let got = render(&t, format, filter);
            assert_eq!(got, want, "{fname}.{ext}");
            if format == Format::Json {
                assert!(json_ok(&got), "{fname}.json parses");
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Through the binary.
// ---------------------------------------------------------------------------

fn conf_with(upstreams: &str, extra_loc: &str) -> String {
    format!(
        "worker_processes = 2\nerror_log = \"logs/error.log info\"\n\n[http]\n\
         access_log = \"logs/access.log u\"\n\
         [http.log_format]\nu = '$request_uri $status $upstream_addr'\n\n{upstreams}\n\n\
         [[http.server]]\nlisten = [\"127.0.0.1:@PORT@\"]\n\n\
         [[http.server.location]]\nmatch = \"/\"\nproxy_pass = \"http://u\"\n\n\
         [[http.server.location]]\nmatch = \"/status\"\ncheck_status = \"csv\"\n{extra_loc}\n"
    )
}

/// The rows of `/status` (csv): (name, status, rise, fall).
fn rows(addr: SocketAddr) -> Vec<(String, String, u64, u64)> {
    let r = get(addr, "/status");
    assert_eq!(r.status, 200);
    r.text()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[2].to_string(),
                f[3].to_string(),
                f[4].parse().unwrap(),
                f[5].parse().unwrap(),
            )
        })
        .collect()
}

fn row(addr: SocketAddr, peer: SocketAddr) -> (String, u64, u64) {
    let name = peer.to_string();
    rows(addr)
        .into_iter()
        .find(|r| r.0 == name)
        .map(|r| (r.1, r.2, r.3))
        .unwrap()
}

#[test]
fn check_status_page_over_http() {
    let b = Backend::start("a");
    let up = format!(
        "[http.upstream.u]\nserver = [\"{}\", \"127.0.0.1:1\", \"127.0.0.1:2 down\"]\n\
         check = \"interval=200 rise=1 fall=1 timeout=500 type=http\"\n\
         [http.upstream.v]\nserver = [\"{}\"]\ncheck = \"interval=200 type=tcp port=3\"\n",
        b.addr, b.addr
    );
    let r = Rampart::start(&conf_with(&up, ""));
    wait_for("the live peer up", Duration::from_secs(5), || {
        (row(r.addr(), b.addr).0 == "up").then_some(())
    });
    let csv = get(r.addr(), "/status").text();
    // 127.0.0.1:2 is `down` in config: not checked. The tcp upstream v checks port 3 (closed).
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(csv.contains(",u,127.0.0.1:1,down,0,"), "{csv}");
    assert!(csv.contains(&format!("2,v,{},down,0,", b.addr)), "{csv}");
    assert!(
        csv.lines()
            .all(|l| l.ends_with(",http,0") || l.ends_with(",tcp,3")),
        "{csv}"
    );

    let resp = get(r.addr(), "/status?status=down&format=json");
    assert_eq!(resp.header("Content-Type"), Some("application/json"));
    let body = resp.text();
    assert!(json_ok(&body), "{body}");
    assert!(
        body.contains("\"total\": 2,") && body.contains("\"generation\": 1,"),
        "{body}"
    );

    let resp = get(r.addr(), "/status?format=html&status=up");
    assert_eq!(resp.header("Content-Type"), Some("text/html"));
    assert!(resp
        .text()
        .contains("<h2>Check upstream server number: 1, generation: 1</h2>"));
    assert_eq!(
        get(r.addr(), "/status?format=htm").header("Content-Type"),
        Some("text/plain")
    );

    let head = raw(
        r.addr(),
        b"HEAD /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!((head.status, head.body.len()), (200, 0));
    assert_eq!(head.header("Content-Type"), Some("text/plain"));
    let post = raw(
        r.addr(),
        b"POST /status HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(post.status, 405);

    // No checked upstream at all: 500, and the module's log line.
    let plain = format!("[http.upstream.u]\nserver = [\"{}\"]\n", b.addr);
    let r2 = Rampart::start(&conf_with(&plain, ""));
    assert_eq!(get(r2.addr(), "/status").status, 500);
    wait_log(&r2, "error.log", "can not find any check server");
}

#[test]
fn a_stopped_peer_is_down_after_fall_checks_and_up_after_rise() {
    const I: u64 = 300;
    let a = Backend::start("a");
    let mut b = Backend::start("b");
    let b_addr = b.addr;
    let up = format!(
        // max_fails=0: passive health stays out of it (it would hold the
        // peer out for fail_timeout after the failures seen during the kill).
        "[http.upstream.u]\nserver = [\"{} max_fails=0\", \"{} max_fails=0\"]\n\
         check = \"interval={I} rise=2 fall=3 timeout=200 type=http\"\n",
        a.addr, b.addr
    );
    let r = Rampart::start(&conf_with(&up, ""));
    let addr = r.addr();
    wait_for("both peers up", Duration::from_secs(5), || {
        rows(addr).iter().all(|x| x.1 == "up").then_some(())
    });
    // Traffic from another thread while the peer dies.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let st = stop.clone();
    let traffic = std::thread::spawn(move || {
        let mut n = 0;
        while !st.load(std::sync::atomic::Ordering::SeqCst) {
            let resp = get(addr, &format!("/during-{n}"));
            assert_eq!(resp.status, 200, "passive retries cover the dying peer");
            n += 1;
        }
        n
    });
    std::thread::sleep(Duration::from_millis(200));
    let killed = Instant::now();
    b.kill();
    let (down_after, fall) = wait_for("the peer down", Duration::from_secs(5), || {
        let (st, _, fall) = row(addr, b_addr);
        (st == "down").then(|| (killed.elapsed(), fall))
    });
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(traffic.join().unwrap() > 0);
    assert_eq!(fall, 3, "down after exactly fall=3 failed checks");
    let ms = down_after.as_millis() as u64;
    assert!(
        ms.abs_diff(3 * I) <= I,
        "down {ms} ms after the kill, fall*interval = {}",
        3 * I
    );
    wait_log(&r, "error.log", &format!("disable check peer: {b_addr}"));

    // No request reaches the dead peer any more.
    for n in 0..40 {
        let resp = get(addr, &format!("/after-{n}"));
        assert_eq!((resp.status, resp.header("X-Backend")), (200, Some("a")));
    }
    // Each worker thread flushes its own buffered lines: wait for all 40.
    let log = wait_for("40 /after- lines", Duration::from_secs(5), || {
        let log = r.read_log("access.log");
        (log.lines().filter(|l| l.starts_with("/after-")).count() == 40).then_some(log)
    });
    let after: Vec<&str> = log.lines().filter(|l| l.starts_with("/after-")).collect();
    assert!(
        after.iter().all(|l| !l.contains(&b_addr.to_string())),
        "{after:?}"
    );

    // Restarted: up after exactly rise=2 successes.
    let restarted = Instant::now();
    let b2 = Backend::start_on(&b_addr.to_string(), "b");
    let (up_after, rise) = wait_for("the peer up again", Duration::from_secs(5), || {
        let (st, rise, _) = row(addr, b_addr);
        (st == "up").then(|| (restarted.elapsed(), rise))
    });
    assert_eq!(rise, 2, "up after exactly rise=2 successes");
    assert!(
        up_after.as_millis() as u64 <= 3 * I,
        "up {up_after:?} after the restart"
    );
    wait_log(&r, "error.log", &format!("enable check peer: {b_addr}"));
    let seen: Vec<String> = (0..20)
        .map(|n| {
            get(addr, &format!("/back-{n}"))
                .header("X-Backend")
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert!(
        seen.iter().any(|s| s == "b"),
        "traffic reaches the peer again: {seen:?}"
    );
    drop(b2);
}

/// A raw upstream that answers 200 to everything and keeps what it got.
fn recording_upstream() -> RawUpstream {
    RawUpstream::canned(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
}

fn requests_seen(u: &RawUpstream) -> Vec<String> {
    let all = u.received.lock().unwrap().clone();
    all.iter()
        .map(|r| {
            String::from_utf8_lossy(r)
                .lines()
                .next()
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

#[test]
fn default_down_true_holds_traffic_until_rise_successes() {
    let u = recording_upstream();
    let up = format!(
        "[http.upstream.u]\nserver = [\"{}\"]\ncheck = \"interval=300 rise=2 fall=2 timeout=500 type=http\"\n",
        u.addr
    );
    let r = Rampart::start(&conf_with(&up, ""));
    let first = get(r.addr(), "/client-0");
    assert_eq!(first.status, 502, "no traffic before rise successes");
    wait_log(&r, "error.log", "no live upstreams");
    let mut n = 1;
    wait_for("traffic after rise", Duration::from_secs(5), || {
        n += 1;
        (get(r.addr(), &format!("/client-{n}")).status == 200).then_some(())
    });
    let seen = requests_seen(&u);
    let first_client = seen.iter().position(|l| l.contains("/client-")).unwrap();
    let checks_before = seen[..first_client]
        .iter()
        .filter(|l| l.as_str() == "GET / HTTP/1.0")
        .count();
    assert!(checks_before >= 2, "rise=2 checks first: {seen:?}");
    assert!(!seen.iter().any(|l| l.contains("/client-0 ")), "{seen:?}");
}

#[test]
fn default_down_false_takes_traffic_from_the_first_request() {
    let u = recording_upstream();
    let up = format!(
        "[http.upstream.u]\nserver = [\"{}\"]\n\
         check = \"interval=30000 rise=2 fall=2 timeout=500 type=http default_down=false\"\n",
        u.addr
    );
    let r = Rampart::start(&conf_with(&up, ""));
    assert_eq!(get(r.addr(), "/client-0").status, 200);
    assert!(requests_seen(&u).iter().any(|l| l.contains("/client-0 ")));
}

#[test]
fn fail_open_routes_when_every_peer_is_down() {
    let u = recording_upstream();
    // The check port is closed, so the check says down; the peer itself serves.
    let up = format!(
        "[http.upstream.u]\nserver = [\"{}\"]\ncheck = \"interval=200 type=tcp port=1\"\ncheck_fail_open = true\n",
        u.addr
    );
    let r = Rampart::start(&conf_with(&up, ""));
    assert_eq!(get(r.addr(), "/client").status, 200);
    let closed = format!(
        "[http.upstream.u]\nserver = [\"{}\"]\ncheck = \"interval=200 type=tcp port=1\"\n",
        u.addr
    );
    let r2 = Rampart::start(&conf_with(&closed, ""));
    assert_eq!(get(r2.addr(), "/client").status, 502, "off by default");
}

#[test]
fn http_check_sends_the_configured_request_and_reuses_its_connection() {
    // HTTP/1.1 keep-alive checks with a Host header and a body match.
    let u = RawUpstream::start(|got| {
        got.ends_with(b"\r\n\r\n")
            .then(|| b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nhealthy".to_vec())
    });
    let up = format!(
        "[http.upstream.u]\nserver = [\"{}\"]\n\
         check = \"interval=100 rise=1 fall=1 timeout=500 type=http\"\n\
         check_http_send = \"GET /health HTTP/1.1\\r\\nConnection: keep-alive\\r\\n\\r\\n\"\n\
         check_http_host = \"app.example\"\ncheck_http_expect_body = \"healthy\"\n\
         check_keepalive_requests = 3\n",
        u.addr
    );
    let r = Rampart::start(&conf_with(&up, ""));
    wait_for("up", Duration::from_secs(5), || {
        (row(r.addr(), u.addr).0 == "up").then_some(())
    });
    let got = u.received(0);
    assert!(
        got.starts_with(b"GET /health HTTP/1.1\r\nHost: app.example\r\nConnection: keep-alive\r\n\r\n"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    drop(r);
}

// ---------------------------------------------------------------------------
// Both front ends.
// ---------------------------------------------------------------------------

#[test]
fn nginx_conf_and_toml_give_the_same_model() {
    let nginx = "events {}\nhttp {\n  upstream u {\n    server 127.0.0.1:9;\n    \
        check interval=3000 rise=2 fall=5 timeout=1000 type=http port=8081 default_down=false;\n    \
        check_http_send \"HEAD / HTTP/1.1\\r\\nConnection: keep-alive\\r\\n\\r\\n\";\n    \
        check_http_expect_alive http_2xx http_3xx;\n    check_keepalive_requests 10;\n    \
        check_http_host app.example;\n    check_http_expect_body ok;\n    check_fail_open on;\n  }\n  \
        server {\n    listen 127.0.0.1:8080;\n    location /nstatus {\n      check_status json;\n    }\n    \
        location /s2 {\n      check_status;\n    }\n  }\n}\n";
    let r = rampart::model::nginx::analyze_str(Path::new("/t/nginx.conf"), nginx);
    assert!(r.error.is_none(), "{:?}", r.error);
    let toml = "[http.upstream.u]\nserver = [\"127.0.0.1:9\"]\n\
        check = \"interval=3000 rise=2 fall=5 timeout=1000 type=http port=8081 default_down=false\"\n\
        check_http_send = \"HEAD / HTTP/1.1\\r\\nConnection: keep-alive\\r\\n\\r\\n\"\n\
        check_http_expect_alive = [\"http_2xx\", \"http_3xx\"]\ncheck_keepalive_requests = 10\n\
        check_http_host = \"app.example\"\ncheck_http_expect_body = \"ok\"\ncheck_fail_open = true\n\
        [[http.server]]\nlisten = [\"127.0.0.1:8080\"]\n\
        [[http.server.location]]\nmatch = \"/nstatus\"\ncheck_status = \"json\"\n\
        [[http.server.location]]\nmatch = \"/s2\"\ncheck_status = \"html\"\n";
    let t = rampart::model::parse_toml(Path::new("/t/r.toml"), toml).unwrap();
    let (a, b) = (&r.config.http.upstream["u"], &t.http.upstream["u"]);
    assert_eq!(
        a.check.as_ref().map(|c| &c.value),
        b.check.as_ref().map(|c| &c.value)
    );
    assert_eq!(a.check_http_send, b.check_http_send);
    assert_eq!(
        a.check_http_send.as_deref(),
        Some("HEAD / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n")
    );
    assert_eq!(
        (
            &a.check_http_expect_alive,
            a.check_keepalive_requests,
            &a.check_http_host
        ),
        (
            &b.check_http_expect_alive,
            b.check_keepalive_requests,
            &b.check_http_host
        )
    );
    assert_eq!(
        (&a.check_http_expect_body, a.check_fail_open),
        (&b.check_http_expect_body, b.check_fail_open)
    );
    let locs = |c: &rampart::model::Config| -> Vec<Option<String>> {
        c.http.server[0]
            .location
            .iter()
            .map(|l| l.check_status.as_ref().map(|s| s.value.clone()))
            .collect()
    };
    assert_eq!(locs(&r.config), locs(&t));
    assert_eq!(locs(&t), [Some("json".to_string()), Some("html".to_string())]);

    // Errors, worded as the module words them.
    let bad = [
        ("check interval=0;", "invalid parameter \"interval=0\""),
        ("check type=udp;", "invalid parameter \"type=udp\""),
        (
            "check default_down=maybe;",
            "invalid value \"default_down=maybe\", it must be \"true\" or \"false\"",
        ),
        ("check_http_expect_alive http_6xx;", "invalid value \"http_6xx\""),
        ("check_keepalive_requests 0;", "invalid value"),
    ];
    for (line, want) in bad {
        let text =
            format!("events {{}}\nhttp {{\n  upstream u {{\n    server 127.0.0.1:9;\n    {line}\n  }}\n}}\n");
        let r = rampart::model::nginx::analyze_str(Path::new("/t/nginx.conf"), &text);
        let e = r.error.map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains(want) && e.ends_with("/t/nginx.conf:5"), "{line}: {e}");
    }
    let r = rampart::model::nginx::analyze_str(
        Path::new("/t/nginx.conf"),
        "events {}\nhttp {\n  server {\n    location / {\n      check_status xml;\n    }\n  }\n}\n",
    );
    let e = r.error.map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("invalid check format \"xml\""), "{e}");
}

// ---------------------------------------------------------------------------
// 1 000 peers: the checker's CPU and every peer's period.
// ---------------------------------------------------------------------------

/// CPU seconds (user + system) of the thread named `name` in this process.
fn thread_cpu(name: &str) -> Option<f64> {
    let tick = 100.0; // USER_HZ on Linux
    for t in std::fs::read_dir("/proc/self/task").ok()? {
        let dir = t.ok()?.path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if comm.trim() != name {
            continue;
        }
        let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
        let rest = stat.rsplit_once(')')?.1;
        let f: Vec<&str> = rest.split_whitespace().collect();
        let (u, s): (f64, f64) = (f[11].parse().ok()?, f[12].parse().ok()?);
        return Some((u + s) / tick);
    }
    None
}

#[test]
#[ignore = "measurement: cargo test --test health thousand -- --ignored --nocapture"]
fn thousand_peers_checked_every_second() {
    const N: usize = 1000;
    const SECS: u64 = 20;
    // 1 000 local listeners on one runtime thread, each recording accept times.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let times: Arc<Vec<std::sync::Mutex<Vec<Instant>>>> =
        Arc::new((0..N).map(|_| std::sync::Mutex::new(Vec::new())).collect());
    let mut addrs = Vec::new();
    let listeners: Vec<std::net::TcpListener> = (0..N)
        .map(|_| {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.set_nonblocking(true).unwrap();
            addrs.push(l.local_addr().unwrap());
            l
        })
        .collect();
    let tm = times.clone();
    let server = std::thread::spawn(move || {
        rt.block_on(async move {
            for (i, l) in listeners.into_iter().enumerate() {
                let l = tokio::net::TcpListener::from_std(l).unwrap();
                let tm = tm.clone();
                tokio::spawn(async move {
                    while let Ok((mut s, _)) = l.accept().await {
                        tm[i].lock().unwrap().push(Instant::now());
                        // Hold the connection until the checker closes it: closing
                        // first would make its peek see EOF, which is "down".
                        tokio::spawn(async move {
                            use tokio::io::AsyncReadExt;
                            let mut b = [0u8; 1];
                            let _ = s.read(&mut b).await;
                        });
                    }
                });
            }
            tokio::time::sleep(Duration::from_secs(SECS + 5)).await;
        });
    });
    let conf = Arc::new(
        CheckConf::build(
            "interval=1000 rise=2 fall=5 timeout=1000 type=tcp",
            None,
            None,
            None,
            None,
            None,
        )
        .unwrap(),
    );
    let table = Arc::new(HealthTable {
        generation: 1,
        peers: addrs
            .iter()
            .enumerate()
            .map(|(i, a)| Arc::new(PeerHealth::new(i, "u", *a, conf.clone())))
            .collect(),
    });
    let checker = rampart::health::checker::Checker::start(table.clone()).unwrap();
    // Skip the jittered start (first checks within 1 s), then measure.
    std::thread::sleep(Duration::from_secs(2));
    let cpu0 = thread_cpu("rampart-check").unwrap();
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(SECS));
    let cpu = thread_cpu("rampart-check").unwrap() - cpu0;
    let wall = t0.elapsed().as_secs_f64();
    checker.stop();
    let share = cpu / wall * 100.0;
    let mut periods: Vec<u128> = Vec::new();
    for t in times.iter() {
        let v = t.lock().unwrap();
        periods.extend(v.windows(2).map(|w| (w[1] - w[0]).as_millis()));
    }
    periods.sort_unstable();
    let (min, max) = (periods[0], periods[periods.len() - 1]);
    let p50 = periods[periods.len() / 2];
    let p99 = periods[periods.len() * 99 / 100];
    println!(
        "1000 peers, interval=1000 tcp: checker CPU {cpu:.2} s over {wall:.1} s = {share:.2} % of one core; \
         {} periods, min {min} ms, p50 {p50} ms, p99 {p99} ms, max {max} ms; all up: {}",
        periods.len(),
        table.peers.iter().all(|p| !p.is_down())
    );
    let _ = std::io::stdout().flush();
    assert!(table.peers.iter().all(|p| !p.is_down()));
    assert!(share < 5.0, "checker CPU {share:.2} % of one core");
    // The checker starts checks `interval` apart (sleep_until(start + interval));
    // seen from the accepting side each period also carries the connect and
    // accept-loop scheduling noise of both ends (a few ms either way).
    assert!(min >= 980 && max <= 1500, "periods {min}..{max} ms");
    let _ = server.join();
}

/// `GET /` from source address `src` (any 127/8 address is local on Linux):
/// the `X-Backend` that answered.
fn backend_for(addr: SocketAddr, src: std::net::Ipv4Addr) -> String {
    use std::io::BufReader;
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.bind(&SocketAddr::from((src, 0)).into()).unwrap();
    sock.connect_timeout(&addr.into(), Duration::from_secs(5))
        .unwrap();
    let mut s: std::net::TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let r = read_response(&mut BufReader::new(s), false).unwrap();
    assert_eq!(r.status, 200);
    r.header("X-Backend").unwrap_or("").to_string()
}

#[test]
fn ip_hash_clients_of_a_dead_peer_move_and_come_back() {
    let a = Backend::start("a");
    let mut b = Backend::start("b");
    let c = Backend::start("c");
    let b_addr = b.addr;
    let up = format!(
        "[http.upstream.u]\nbalance = \"ip_hash\"\n\
         server = [\"{} max_fails=0\", \"{} max_fails=0\", \"{} max_fails=0\"]\n\
         check = \"interval=150 rise=1 fall=1 timeout=300 type=http\"\n",
        a.addr, b.addr, c.addr
    );
    let r = Rampart::start(&conf_with(&up, ""));
    let addr = r.addr();
    wait_for("all up", Duration::from_secs(5), || {
        rows(addr).iter().all(|x| x.1 == "up").then_some(())
    });
    // Clients in 60 different /24s (ip_hash keys on the first three octets).
    let clients: Vec<std::net::Ipv4Addr> = (1..=60).map(|i| std::net::Ipv4Addr::new(127, 0, i, 1)).collect();
    let map = || -> Vec<String> { clients.iter().map(|&src| backend_for(addr, src)).collect() };
    let before = map();
    assert!(
        ["a", "b", "c"].iter().all(|id| before.iter().any(|x| x == id)),
        "{before:?}"
    );
    b.kill();
    wait_for("b down", Duration::from_secs(5), || {
        (row(addr, b_addr).0 == "down").then_some(())
    });
    let during = map();
    assert_eq!(during, map(), "the move is deterministic");
    for (i, (x, y)) in before.iter().zip(&during).enumerate() {
        if x == "b" {
            assert_ne!(y, "b", "client {i} moved off the dead peer");
        } else {
            assert_eq!(x, y, "client {i} of a live peer stays");
        }
    }
    let _b2 = Backend::start_on(&b_addr.to_string(), "b");
    wait_for("b up", Duration::from_secs(5), || {
        (row(addr, b_addr).0 == "up").then_some(())
    });
    assert_eq!(map(), before, "clients move back when the peer recovers");
}

#[test]
fn health_state_survives_a_reload() {
    let a = Backend::start("a");
    let up = format!(
        "[http.upstream.u]\nserver = [\"{}\", \"127.0.0.1:1\"]\n\
         check = \"interval=1000 rise=2 fall=1 timeout=300 type=http\"\n",
        a.addr
    );
    let r = Rampart::start(&conf_with(&up, ""));
    let addr = r.addr();
    // rise=2 at interval=1000: a fresh peer needs over 1 s of checks to be up, so
    // "up" right after the reload can only be the carried-over state.
    wait_for("a up", Duration::from_secs(5), || {
        (row(addr, a.addr).0 == "up").then_some(())
    });
    // Reload with one more peer: a keeps its state, the new one starts down (default_down).
    let c = Backend::start("c");
    let text = std::fs::read_to_string(&r.conf)
        .unwrap()
        .replace("\"127.0.0.1:1\"]", &format!("\"127.0.0.1:1\", \"{}\"]", c.addr));
    std::fs::write(&r.conf, text).unwrap();
    r.signal(libc::SIGHUP);
    let reloaded = Instant::now();
    wait_for("generation 2", Duration::from_secs(5), || {
        get(addr, "/status?format=json")
            .text()
            .contains("\"generation\": 2,")
            .then_some(())
    });
    assert_eq!(row(addr, a.addr).0, "up", "carried over, no flap to default_down");
    assert!(
        reloaded.elapsed() < Duration::from_millis(900),
        "read before two new checks"
    );
    assert_eq!(row(addr, c.addr).0, "down", "a new peer starts per default_down");
    assert_eq!(get(addr, "/x").header("X-Backend"), Some("a"));
}

#[test]
fn check_keepalive_requests_reuses_each_connection_n_times() {
    use std::io::Read;
    use std::sync::atomic::{AtomicUsize, Ordering};
    // A keep-alive HTTP/1.1 upstream counting connections and requests.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let up_addr = l.local_addr().unwrap();
    let (conns, reqs) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (c2, r2) = (conns.clone(), reqs.clone());
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            c2.fetch_add(1, Ordering::SeqCst);
            let r2 = r2.clone();
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                loop {
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..end + 4);
                        r2.fetch_add(1, Ordering::SeqCst);
                        if s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                            .is_err()
                        {
                            return;
                        }
                    }
                    match s.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });
    let up = format!(
        "[http.upstream.u]\nserver = [\"{up_addr}\"]\n\
         check = \"interval=100 rise=1 fall=1 timeout=500 type=http\"\n\
         check_http_send = \"GET / HTTP/1.1\\r\\nHost: h\\r\\n\\r\\n\"\ncheck_keepalive_requests = 3\n"
    );
    let r = Rampart::start(&conf_with(&up, ""));
    wait_for("9 checks", Duration::from_secs(5), || {
        (reqs.load(Ordering::SeqCst) >= 9).then_some(())
    });
    let (c, n) = (conns.load(Ordering::SeqCst), reqs.load(Ordering::SeqCst));
    assert!(
        c * 3 >= n && c * 3 <= n + 3,
        "{n} checks over {c} connections: 3 per connection"
    );
    assert_eq!(row(r.addr(), up_addr).0, "up");
}
