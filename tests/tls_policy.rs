//! The `ssl_*` policy directives over real TLS: `ssl_ciphers` and
//! `ssl_prefer_server_ciphers` pick the same suite as nginx (OpenSSL) on the
//! same config, the cipher-string evaluation matches `openssl ciphers`, and
//! session resumption follows `ssl_session_tickets`, `ssl_session_cache` and
//! `ssl_session_timeout` — including across a reload, where rampart keeps
//! the ticket keys (nginx would draw new ones).

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tls").join(name)
}

/// `curl` or `openssl` can be run; SKIPPED (a failure under CI=true) otherwise.
fn have(cmd: &str) -> bool {
    require_tool(cmd, cmd)
}

/// The suite a TLS 1.2 client offering `ciphers` (in that order) gets from
/// 127.0.0.1:port, as the server's `$ssl_cipher` reports it; None when the
/// handshake fails.
fn negotiated(port: u16, ciphers: &str) -> Option<String> {
    let out = Command::new("curl")
        .args([
            "-sS",
            "-k",
            "--max-time",
            "5",
            "--tlsv1.2",
            "--tls-max",
            "1.2",
            "--ciphers",
        ])
        .arg(ciphers)
        .arg(format!("https://127.0.0.1:{port}/"))
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Two servers on two ports with the same ssl_ciphers, the first preferring
/// its own order.
fn cipher_http(p1: u16, p2: u16, cert: &Path, key: &Path) -> String {
    let (c, k) = (cert.display(), key.display());
    format!(
        r#"http {{
    access_log off;
    ssl_ciphers "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256:!AES256";
    ssl_certificate {c};
    ssl_certificate_key {k};
    server {{
        listen 127.0.0.1:{p1} ssl;
        ssl_prefer_server_ciphers on;
        location / {{ return 200 "$ssl_cipher"; }}
    }}
    server {{
        listen 127.0.0.1:{p2} ssl;
        location / {{ return 200 "$ssl_cipher"; }}
    }}
}}
"#
    )
}

#[test]
fn cipher_choice_matches_nginx() {
    // `&`, not `&&`: name every missing tool.
    if !(have("curl") & require_nginx()) {
        return;
    }
    let (cert, key) = (fixture("a.crt"), fixture("a.key"));
    let (r1, r2) = (rampart_port(), rampart_port());
    let dir = TempDir::new("tls-policy");
    let conf = dir.path().join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "worker_processes 1;\ndaemon off;\npid logs/rampart.pid;\nevents {{}}\n{}",
            cipher_http(r1, r2, &cert, &key)
        ),
    )
    .unwrap();
    let _r = Rampart::run_file(dir, r1, conf);
    let (n1, n2) = (free_port(), free_port());
    let _n = Nginx::start(&format!(
        "{}{}",
        Nginx::preamble(Path::new("@DIR@")),
        cipher_http(n1, n2, &cert, &key)
    ));

    let cases = [
        // Not in ssl_ciphers: the handshake fails.
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        // Both allowed: server order on the first port, client order on the second.
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256",
    ];
    let mut seen = Vec::new();
    for offer in cases {
        for ((rp, np), what) in [((r1, n1), "prefer on"), ((r2, n2), "prefer off")] {
            let ours = negotiated(rp, offer);
            let theirs = negotiated(np, offer);
            assert_eq!(ours, theirs, "client offers {offer} ({what})");
            seen.push(ours);
        }
    }
    // The table above is not vacuous: it saw a failure and both orders.
    assert!(seen.contains(&None));
    assert!(seen.contains(&Some("ECDHE-ECDSA-CHACHA20-POLY1305".into())));
    assert!(seen.contains(&Some("ECDHE-ECDSA-AES128-GCM-SHA256".into())));
}

/// rampart's evaluation of cipher strings against the openssl binary's, via
/// what a server configured with each string accepts: for every string, each
/// of the six ECDSA/RSA suites is offered alone (ECDSA ones, as the test
/// certificate is ECDSA) and must succeed exactly when `openssl ciphers`
/// lists it.
#[test]
fn cipher_strings_accepted_as_openssl_lists_them() {
    if !(have("curl") & have("openssl")) {
        return;
    }
    let ecdsa = [
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-ECDSA-AES128-GCM-SHA256",
    ];
    let specs = [
        "HIGH:!aNULL:!MD5",
        "ECDHE+AESGCM",
        "HIGH:!AES256",
        "HIGH:-AES256:AES256",
        "CHACHA20:!aRSA",
        "AES128",
        "EECDH+AESGCM:EDH+AESGCM:AES256+EECDH",
    ];
    for spec in specs {
        let out = Command::new("openssl")
            .args(["ciphers", "-s", "-tls1_2", spec])
            .output()
            .unwrap();
        let listed = String::from_utf8_lossy(&out.stdout).into_owned();
        let listed: Vec<&str> = listed.trim().split(':').collect();
        let cfg = format!(
            "worker_processes = 1\n[http]\naccess_log = \"off\"\n\n\
             [[http.server]]\nlisten = [\"127.0.0.1:@PORT@ ssl\"]\n\
             ssl_certificate = \"{}\"\nssl_certificate_key = \"{}\"\nssl_ciphers = \"{spec}\"\n\n\
             [[http.server.location]]\nmatch = \"/\"\nreturn = [200, \"$ssl_cipher\"]\n",
            fixture("a.crt").display(),
            fixture("a.key").display()
        );
        let r = Rampart::start(&cfg);
        for suite in ecdsa {
            let got = negotiated(r.port, suite);
            assert_eq!(
                got.is_some(),
                listed.contains(&suite),
                "ssl_ciphers {spec:?}, client offers only {suite}"
            );
        }
    }
}

/// `openssl s_client` TLS 1.2 handshake that stores (or resumes) the
/// session in `sess`; returns whether the server resumed it.
fn handshake(port: u16, sess: &Path, resume: bool) -> bool {
    let flag = if resume { "-sess_in" } else { "-sess_out" };
    let out = Command::new("openssl")
        .args(["s_client", "-tls1_2", "-connect"])
        .arg(format!("127.0.0.1:{port}"))
        .arg(flag)
        .arg(sess)
        .stdin(Stdio::null())
        .output()
        .expect("openssl s_client");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Cipher is ECDHE"),
        "no handshake: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.contains("Reused, TLSv1.2")
}

fn resumes(port: u16, dir: &Path) -> bool {
    let sess = dir.join("sess.pem");
    let _ = std::fs::remove_file(&sess);
    handshake(port, &sess, false);
    // No session id and no ticket: s_client has nothing to store.
    sess.exists() && handshake(port, &sess, true)
}

fn session_conf(extra: &str) -> String {
    format!(
        "worker_processes 2;\ndaemon off;\npid logs/rampart.pid;\nerror_log logs/error.log info;\n\
         events {{}}\nhttp {{\n access_log off;\n server {{\n  listen 127.0.0.1:@PORT@ ssl;\n\
         ssl_certificate {};\n  ssl_certificate_key {};\n  {extra}\n  location / {{ return 200 ok; }}\n }}\n}}\n",
        fixture("a.crt").display(),
        fixture("a.key").display()
    )
}

fn start(extra: &str) -> Rampart {
    let port = rampart_port();
    let dir = TempDir::new("tls-session");
    let conf = dir.path().join("nginx.conf");
    std::fs::write(&conf, session_conf(extra).replace("@PORT@", &port.to_string())).unwrap();
    Rampart::run_file(dir, port, conf)
}

#[test]
fn session_resumption() {
    if !have("openssl") {
        return;
    }
    // nginx's defaults: tickets on, no cache: resumed by ticket.
    let r = start("");
    assert!(resumes(r.port, r.dir.path()), "ticket resumption by default");
    // The ticket keys survive a reload.
    let sess = r.dir.path().join("sess.pem");
    handshake(r.port, &sess, false);
    r.signal(libc::SIGHUP);
    wait_log(&r, "error.log", "generation 2 loaded");
    assert!(handshake(r.port, &sess, true), "resumed after a reload");

    // (Tickets off with and without a cache, on TLS 1.2 and 1.3:
    // tests/tls_sessions.rs.)
    // ssl_session_timeout: a cached session is refused once older.
    let r = start("ssl_session_tickets off; ssl_session_cache builtin:100; ssl_session_timeout 1s;");
    let sess = r.dir.path().join("sess.pem");
    handshake(r.port, &sess, false);
    let born = Instant::now();
    assert!(handshake(r.port, &sess, true) || born.elapsed() >= Duration::from_secs(1));
    // Waiting is the point here: the session must age past the timeout.
    std::thread::sleep(Duration::from_millis(1100).saturating_sub(born.elapsed()));
    assert!(!handshake(r.port, &sess, true), "expired session resumed");
}

#[test]
fn bad_values_name_the_directive() {
    for (extra, needle) in [
        ("ssl_ciphers AES256-SHA;", "ssl_ciphers"),
        ("ssl_session_cache shared:SSL;", "invalid session cache"),
        ("ssl_ecdh_curve brainpoolP512r1;", "unknown curve"),
        ("ssl_session_tickets maybe;", "ssl_session_tickets"),
    ] {
        let dir = TempDir::new("tls-bad");
        let conf = dir.path().join("nginx.conf");
        std::fs::write(
            &conf,
            session_conf(extra).replace("@PORT@", &free_port().to_string()),
        )
        .unwrap();
        let out = rampart_cmd(&["-t".as_ref(), "-c".as_ref(), conf.as_os_str()]);
        assert_ne!(out.code, Some(0), "{extra} accepted");
        assert!(
            out.stderr.contains(needle) && out.stderr.contains("nginx.conf:"),
            "{extra}: {}",
            out.stderr
        );
    }
}
