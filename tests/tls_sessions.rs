//! TLS session resumption (`ssl_session_cache`, `ssl_session_tickets`) over
//! the real binary, with `openssl s_client -sess_out/-sess_in` as the client:
//! nginx's defaults resume by ticket, a cache without tickets resumes by
//! session id (TLS 1.2) or stateful ticket (TLS 1.3), and with neither
//! nothing resumes, on TLS 1.2 and 1.3; the TOML front end, and a bad cache value as
//! a file:line config error. Skipped when openssl is not installed.

mod common;
use common::*;
use std::path::Path;
use std::process::{Command, Stdio};

/// A self-signed ECDSA P-256 certificate and key in `dir`.
fn make_cert(dir: &Path) {
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ])
        .args(["-days", "2", "-subj", "/CN=localhost", "-keyout"])
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(made, "openssl could not make a certificate");
}

fn openssl_available() -> bool {
    require_tool("openssl", "openssl")
}

/// One `s_client` connection that sends a request and reads the answer (a
/// TLS 1.3 ticket comes after the handshake); "New" or "Reused".
fn connect(port: u16, version: &str, sess: &Path, reuse: bool) -> String {
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-connect"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["-servername", "localhost", version, "-ign_eof"]);
    cmd.arg(if reuse { "-sess_in" } else { "-sess_out" }).arg(sess);
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl s_client");
    if let Some(mut i) = child.stdin.take() {
        use std::io::Write;
        let _ = i.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n");
    }
    // The server closes after the HTTP/1.0 answer: s_client exits.
    wait_for(
        "openssl s_client to finish",
        std::time::Duration::from_secs(10),
        || child.try_wait().ok().flatten(),
    );
    let mut text = String::new();
    if let Some(mut o) = child.stdout.take() {
        use std::io::Read;
        let _ = o.read_to_string(&mut text);
    }
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut err);
    }
    assert!(
        text.contains("resumed ok"),
        "no answer through {version}: {text}{err}"
    );
    text.lines()
        .find_map(|l| {
            l.strip_prefix("New, ")
                .map(|_| "New")
                .or(l.strip_prefix("Reused, ").map(|_| "Reused"))
        })
        .unwrap_or("?")
        .to_string()
}

#[test]
fn session_cache_and_tickets() {
    if !openssl_available() {
        return;
    }
    let dir = TempDir::new("tls-sessions");
    let d = dir.path().to_path_buf();
    make_cert(&d);
    let ports = [rampart_port(), rampart_port(), rampart_port()];
    let text = format!(
        r#"
worker_processes 2;
daemon off;
pid logs/rampart.pid;
error_log logs/error.log info;
events {{}}
http {{
    access_log off;
    ssl_certificate cert.pem;
    ssl_certificate_key key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    server {{
        listen 127.0.0.1:{} ssl;
        location / {{ return 200 "resumed ok\n"; }}
    }}
    server {{
        listen 127.0.0.1:{} ssl;
        ssl_session_cache off;
        ssl_session_tickets off;
        location / {{ return 200 "resumed ok\n"; }}
    }}
    server {{
        listen 127.0.0.1:{} ssl;
        ssl_session_cache builtin:100 shared:SSL:1m;
        ssl_session_tickets off;
        location / {{ return 200 "resumed ok\n"; }}
    }}
}}
"#,
        ports[0], ports[1], ports[2]
    );
    let conf = d.join("nginx.conf");
    std::fs::write(&conf, text).unwrap();
    let _r = Rampart::run_file(dir, ports[0], conf);
    // (port, resumes?) for the defaults (tickets), neither, a cache.
    for (port, resumes) in [(ports[0], true), (ports[1], false), (ports[2], true)] {
        for version in ["-tls1_2", "-tls1_3"] {
            let sess = d.join(format!("sess-{port}{version}"));
            assert_eq!(connect(port, version, &sess, false), "New", "{port} {version}");
            // s_client writes no session file when the server offered
            // nothing to resume with (no session id, no ticket).
            let second = if sess.exists() {
                connect(port, version, &sess, true)
            } else {
                "New".to_string()
            };
            let want = if resumes { "Reused" } else { "New" };
            assert_eq!(second, want, "{port} {version}");
        }
    }
}

/// The TOML front end: the same settings, and a bad value is a config
/// error naming the file, line and directive.
#[test]
fn toml_front_end() {
    if !openssl_available() {
        return;
    }
    let server = |cache: &str| {
        format!(
            "worker_processes = 1\nerror_log = \"logs/error.log info\"\n\n[http]\naccess_log = \"off\"\n\n\
             [[http.server]]\nlisten = [\"127.0.0.1:@PORT@ ssl\"]\nssl_certificate = \"cert.pem\"\n\
             ssl_certificate_key = \"key.pem\"\nssl_protocols = [\"TLSv1.2\"]\n\
             ssl_session_cache = [\"{cache}\"]\nssl_session_tickets = false\n\n\
             [[http.server.location]]\nmatch = \"/\"\nreturn = [200, \"resumed ok\\n\"]\n"
        )
    };
    // Tickets off, a builtin cache: TLS 1.2 resumes by session id.
    let dir = TempDir::new("tls-sessions-toml");
    let d = dir.path().to_path_buf();
    make_cert(&d);
    let port = rampart_port();
    let conf = d.join("rampart.toml");
    std::fs::write(&conf, server("builtin:10").replace("@PORT@", &port.to_string())).unwrap();
    let r = Rampart::run_file(dir, port, conf.clone());
    let sess = d.join("sess");
    assert_eq!(connect(port, "-tls1_2", &sess, false), "New");
    assert_eq!(connect(port, "-tls1_2", &sess, true), "Reused");
    // A bad cache value fails `-t` with file:line and the directive.
    let conf = d.join("bad.toml");
    std::fs::write(
        &conf,
        server("shared:SSL").replace("@PORT@", &free_port().to_string()),
    )
    .unwrap();
    let out = Command::new(RAMPART)
        .arg("-p")
        .arg(&d)
        .arg("-t")
        .arg("-c")
        .arg(&conf)
        .output()
        .expect("rampart -t");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("invalid session cache \"shared:SSL\""), "{err}");
    assert!(err.contains("bad.toml:"), "{err}");
    assert!(err.contains("ssl_session_cache"), "{err}");
    drop(r);
}
