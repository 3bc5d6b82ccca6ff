//! The operator's signals against the real binary under load
//! (nginx-semantics.md §10.4): USR1 reopens the logs (the logrotate
//! contract: mv, then USR1), QUIT drains, HUP reloads, TERM stops.

mod common;
use common::*;
use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Sends `n` requests for `path` over keep-alive connections (a new one only
/// when the server closes the old one) and returns how many got a 200.
fn keepalive_load(addr: SocketAddr, path: &str, n: usize, done: &AtomicUsize) -> usize {
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let mut ok = 0;
    let mut conn: Option<(TcpStream, BufReader<TcpStream>)> = None;
    for _ in 0..n {
        let (w, r) = conn.get_or_insert_with(|| {
            let s = connect(addr);
            let r = BufReader::new(s.try_clone().expect("clone"));
            (s, r)
        });
        w.write_all(req.as_bytes()).expect("send");
        let resp = read_response(r, false).expect("response");
        if resp.status == 200 {
            ok += 1;
        }
        done.fetch_add(1, Ordering::Relaxed);
        if resp
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
        {
            conn = None;
        }
    }
    ok
}

/// Lines of access.log plus access.log.1.
fn logged(r: &Rampart) -> usize {
    count_lines(&r.log_path("access.log")) + count_lines(&r.log_path("access.log.1"))
}

/// After `mv access.log access.log.1` and SIGUSR1 in the middle of 3000
/// keep-alive requests, the two files hold exactly one line per request and
/// the reopened access.log is in use.
#[test]
fn usr1_reopens_logs_under_load_without_losing_a_line() {
    let r = Rampart::start(&config(
        "",
        "[[http.server.location]]\nmatch = \"= /x\"\nreturn = [200, \"x\"]\n",
    ));
    const THREADS: usize = 4;
    const PER_THREAD: usize = 750;
    let done = Arc::new(AtomicUsize::new(0));
    let addr = r.addr();
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let done = done.clone();
            std::thread::spawn(move || keepalive_load(addr, "/x", PER_THREAD, &done))
        })
        .collect();
    wait_for("half of the requests", Duration::from_secs(30), || {
        (done.load(Ordering::Relaxed) >= THREADS * PER_THREAD / 2).then_some(())
    });
    std::fs::rename(r.log_path("access.log"), r.log_path("access.log.1")).expect("mv access.log");
    r.signal(libc::SIGUSR1);
    let ok: usize = workers.into_iter().map(|w| w.join().expect("client")).sum();
    assert_eq!(ok, THREADS * PER_THREAD, "every request answered 200");
    // Lines are flushed by a ~100 ms timer: wait for all of them (bounded).
    let start = Instant::now();
    while logged(&r) < ok && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let (old, new) = (
        count_lines(&r.log_path("access.log.1")),
        count_lines(&r.log_path("access.log")),
    );
    assert_eq!(
        old + new,
        ok,
        "lines: {old} in access.log.1 + {new} in access.log"
    );
    assert!(
        old > 0,
        "the renamed file kept the lines written before the rotation"
    );
    assert!(
        new > 0,
        "the reopened access.log receives the lines after SIGUSR1"
    );
}

/// SIGQUIT with slow proxied requests in flight: they all complete with 200,
/// idle keep-alive connections are closed, new connections are refused, the
/// process exits 0 within the drain time, removes its pid file and has
/// flushed one access-log line per request.
#[test]
fn quit_drains_in_flight_requests_then_exits() {
    let be = Backend::start("slow");
    let r = Rampart::start(&config(
        &format!("[http.upstream.up]\nserver = [\"{}\"]", be.addr),
        "[[http.server.location]]\nmatch = \"= /fast\"\nreturn = [200, \"fast\"]\n\n\
         [[http.server.location]]\nmatch = \"/slow/\"\nproxy_pass = \"http://up/\"\n",
    ));
    let mut r = r;
    let addr = r.addr();

    // An idle keep-alive connection: QUIT must close it.
    let mut idle = connect(addr);
    idle.write_all(b"GET /fast HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .expect("send");
    let mut idle_r = BufReader::new(idle.try_clone().expect("clone"));
    assert_eq!(read_response(&mut idle_r, false).expect("fast").text(), "fast");

    const SLOW: usize = 4;
    let before = connections_to(be.addr.port());
    let slow: Vec<_> = (0..SLOW)
        .map(|_| {
            std::thread::spawn(move || {
                raw(
                    addr,
                    b"GET /slow/delay/1500 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                )
            })
        })
        .collect();
    // In flight = rampart holds its upstream connections for all of them.
    wait_for(
        "the slow requests to reach the upstream",
        Duration::from_secs(5),
        || (connections_to(be.addr.port()) >= before + SLOW).then_some(()),
    );
    let quit_at = Instant::now();
    r.signal(libc::SIGQUIT);

    wait_for("the listener to close", Duration::from_secs(3), || {
        TcpStream::connect_timeout(&addr, Duration::from_millis(200))
            .is_err()
            .then_some(())
    });
    let mut rest = Vec::new();
    let n = idle_r.read_to_end(&mut rest);
    assert!(
        matches!(n, Ok(0)) || n.is_err(),
        "the idle keep-alive connection is closed without a response: {n:?} {rest:?}"
    );
    for t in slow {
        let resp = t.join().expect("slow client");
        assert_eq!(resp.status, 200, "an in-flight request completes");
        assert_eq!(resp.text(), "delayed 1500 ms\n");
    }
    assert_eq!(
        r.wait_exit(Duration::from_secs(10)),
        Some(0),
        "exit code after QUIT"
    );
    assert!(
        quit_at.elapsed() < Duration::from_secs(10),
        "within the drain time"
    );
    assert!(!r.pid_file().exists(), "the pid file is removed");
    assert_eq!(
        count_lines(&r.log_path("access.log")),
        1 + SLOW,
        "every request is logged before exit:\n{}",
        r.read_log("access.log")
    );
}

fn routes(text: &str) -> String {
    format!("[[http.server.location]]\nmatch = \"= /r\"\nreturn = [200, \"{text}\"]\n")
}

/// Sends one keep-alive request on an open connection.
fn again(w: &mut TcpStream, r: &mut BufReader<TcpStream>) -> Resp {
    w.write_all(b"GET /r HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .expect("send on the kept-alive connection");
    read_response(r, false).expect("a response on the kept-alive connection")
}

/// SIGHUP swaps in a changed route and a new listener without dropping an
/// open keep-alive connection; a broken config is refused with file:line in
/// the error log while the running one keeps serving.
#[test]
fn hup_reloads_routes_and_listeners_and_keeps_the_old_config_on_error() {
    let mut r = Rampart::start(&config("", &routes("old")));
    let addr = r.addr();
    let mut ka = connect(addr);
    let mut ka_r = BufReader::new(ka.try_clone().expect("clone"));
    assert_eq!(again(&mut ka, &mut ka_r).text(), "old");

    let port2 = free_port();
    let good = config("", &routes("new"))
        .replace("@PORT@", &r.port.to_string())
        .replace(
            &format!("listen = [\"127.0.0.1:{}\"]", r.port),
            &format!("listen = [\"127.0.0.1:{}\", \"127.0.0.1:{port2}\"]", r.port),
        );
    assert!(
        good.contains(&port2.to_string()),
        "the new config has the second listener"
    );
    std::fs::write(&r.conf, &good).expect("write config");
    r.signal(libc::SIGHUP);
    wait_for("the reloaded route", Duration::from_secs(5), || {
        (get(addr, "/r").text() == "new").then_some(())
    });
    let resp = again(&mut ka, &mut ka_r);
    assert_eq!(
        (resp.status, resp.text().as_str()),
        (200, "new"),
        "the open keep-alive connection survives the reload and sees the new config"
    );
    let addr2 = SocketAddr::from(([127, 0, 0, 1], port2));
    let resp = wait_for("the listener added by reload", Duration::from_secs(5), || {
        TcpStream::connect_timeout(&addr2, Duration::from_millis(200))
            .ok()
            .map(|_| get(addr2, "/r"))
    });
    assert_eq!(resp.text(), "new");

    // A broken config: an invalid size on a known line.
    let bad = good.replace("[http]\n", "[http]\nclient_max_body_size = \"8x\"\n");
    let bad_line = bad
        .lines()
        .position(|l| l.starts_with("client_max_body_size"))
        .expect("marker")
        + 1;
    std::fs::write(&r.conf, &bad).expect("write config");
    r.signal(libc::SIGHUP);
    let where_ = format!("{}:{bad_line}", r.conf.display());
    let line = wait_for(
        "the reload error in the error log",
        Duration::from_secs(5),
        || {
            r.read_log("error.log")
                .lines()
                .find(|l| l.contains("[emerg]") && l.contains(&where_))
                .map(str::to_string)
        },
    );
    assert!(line.contains("client_max_body_size"), "names the key: {line}");
    assert_eq!(get(addr, "/r").text(), "new", "the running config keeps serving");
    assert_eq!(get(addr2, "/r").text(), "new");
    assert_eq!(again(&mut ka, &mut ka_r).text(), "new");
    assert!(r.child.try_wait().expect("wait").is_none(), "still running");
}

/// SIGTERM stops at once even with a slow request in flight, exit code 0,
/// pid file removed.
#[test]
fn term_exits_promptly() {
    let be = Backend::start("slow");
    let mut r = Rampart::start(&config(
        &format!("[http.upstream.up]\nserver = [\"{}\"]", be.addr),
        "[[http.server.location]]\nmatch = \"/slow/\"\nproxy_pass = \"http://up/\"\n",
    ));
    let addr = r.addr();
    let before = connections_to(be.addr.port());
    let mut s = connect(addr);
    s.write_all(b"GET /slow/delay/20000 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .expect("send");
    wait_for(
        "the slow request to reach the upstream",
        Duration::from_secs(5),
        || (connections_to(be.addr.port()) > before).then_some(()),
    );
    let t = Instant::now();
    r.signal(libc::SIGTERM);
    assert_eq!(r.wait_exit(Duration::from_secs(3)), Some(0));
    assert!(t.elapsed() < Duration::from_secs(2), "took {:?}", t.elapsed());
    assert!(!r.pid_file().exists(), "the pid file is removed");
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    assert!(
        !String::from_utf8_lossy(&buf).contains("delayed"),
        "the slow request was not waited for"
    );
}

/// Worker threads of a running rampart (named `rampart-wN`).
fn worker_threads(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|t| {
                    std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.starts_with("rampart-w"))
                })
                .count()
        })
        .unwrap_or(0)
}

/// A reload that changes `worker_processes` starts or retires worker threads
/// without failing a request: under a keep-alive and new-connection load,
/// 2 → 4 → 1 workers; slow requests in flight on retired workers
/// complete, idle connections of retired workers are closed and the
/// clients reconnect to the remaining worker.
#[test]
fn hup_changes_worker_processes_without_dropping_requests() {
    let be = Backend::start("w");
    let upstream = format!("[http.upstream.up]\nserver = [\"{}\"]", be.addr);
    let locs = "[[http.server.location]]\nmatch = \"/\"\nproxy_pass = \"http://up\"\n";
    let r = Rampart::start(&config(&upstream, locs));
    let addr = r.addr();
    assert_eq!(worker_threads(r.pid()), 2);
    let with = |n: usize| {
        config(&upstream, locs)
            .replace("worker_processes = 2", &format!("worker_processes = {n}"))
            .replace("@PORT@", &r.port.to_string())
    };

    // Load: two keep-alive clients and one opening a connection per request.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let failures = Arc::new(AtomicUsize::new(0));
    let sent = Arc::new(AtomicUsize::new(0));
    let mut load = Vec::new();
    for fresh in [false, false, true] {
        let (stop, failures, sent) = (stop.clone(), failures.clone(), sent.clone());
        load.push(std::thread::spawn(move || {
            let mut conn: Option<(TcpStream, BufReader<TcpStream>)> = None;
            while !stop.load(Ordering::Relaxed) {
                let reused = conn.is_some();
                let (w, rd) = conn.get_or_insert_with(|| {
                    let s = connect(addr);
                    let rd = BufReader::new(s.try_clone().expect("clone"));
                    (s, rd)
                });
                let hdr = if fresh { "Connection: close\r\n" } else { "" };
                let req = format!("GET /size/100 HTTP/1.1\r\nHost: localhost\r\n{hdr}\r\n");
                let got = w
                    .write_all(req.as_bytes())
                    .ok()
                    .and_then(|_| read_response(rd, false).ok());
                match got {
                    Some(resp) if resp.status == 200 => {
                        sent.fetch_add(1, Ordering::Relaxed);
                        let close = resp
                            .header("connection")
                            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
                        if close || fresh {
                            conn = None;
                        }
                    }
                    // A reused idle connection closed by the server before it
                    // read the request: resend on a new one, as browsers do.
                    None if reused => conn = None,
                    _ => {
                        failures.fetch_add(1, Ordering::Relaxed);
                        conn = None;
                    }
                }
            }
        }));
    }
    let wait_sent = |n: usize| {
        let target = sent.load(Ordering::Relaxed) + n;
        wait_for("requests served", Duration::from_secs(20), || {
            (sent.load(Ordering::Relaxed) >= target).then_some(())
        });
    };
    wait_sent(200);

    std::fs::write(&r.conf, with(4)).expect("write config");
    r.signal(libc::SIGHUP);
    wait_log(&r, "error.log", "worker_processes changed from 2 to 4");
    wait_for("4 worker threads", Duration::from_secs(5), || {
        (worker_threads(r.pid()) == 4).then_some(())
    });
    wait_sent(300);

    // Slow requests in flight while the reload retires three workers (six
    // connections: with four workers, some are on retired ones).
    let slow: Vec<_> = (0..6)
        .map(|_| std::thread::spawn(move || get(addr, "/delay/1500")))
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(&r.conf, with(1)).expect("write config");
    r.signal(libc::SIGHUP);
    wait_log(&r, "error.log", "worker_processes changed from 4 to 1");
    wait_sent(300);
    for t in slow {
        let resp = t.join().expect("slow request");
        assert_eq!(resp.status, 200, "requests in flight on retired workers complete");
    }
    wait_for("1 worker thread", Duration::from_secs(10), || {
        (worker_threads(r.pid()) == 1).then_some(())
    });
    wait_sent(200);
    stop.store(true, Ordering::Relaxed);
    for t in load {
        t.join().expect("load thread");
    }
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "failed requests during the resizes"
    );
}
