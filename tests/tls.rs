//! `listen ... ssl` over the real binary with curl as the client: SNI picks
//! the certificate of three names (and the default without SNI), ALPN
//! http/1.1, `ssl_protocols`, the TLS variables, PROXY protocol in front of
//! TLS, and certificates re-read on SIGHUP, where an expired or mismatched
//! one fails the reload and the old certificate keeps serving.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tls").join(name)
}

fn curl_available() -> bool {
    require_tool("curl", "curl")
}

/// curl -k over TLS to 127.0.0.1:port with `name` as SNI and Host;
/// returns (body, verbose stderr) or None when the request failed.
fn curl(port: u16, name: &str, extra: &[&str]) -> Option<(String, String)> {
    let url = format!("https://{name}:{port}/");
    let out = Command::new("curl")
        .args(["-sS", "-k", "-v", "--max-time", "5", "--resolve"])
        .arg(format!("{name}:{port}:127.0.0.1"))
        .args(extra)
        .arg(&url)
        .output()
        .ok()?;
    out.status.success().then(|| {
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
}

fn subject(verbose: &str) -> String {
    verbose
        .lines()
        .find_map(|l| l.split_once("subject: ").map(|(_, s)| s.trim().to_string()))
        .unwrap_or_default()
}

fn conf(port2: u16, b_cert: &Path, a_cert: &str, a_key: &str) -> String {
    format!(
        r#"
worker_processes 2;
daemon off;
pid logs/rampart.pid;
error_log logs/error.log info;
events {{}}
http {{
    access_log off;
    server {{
        listen 127.0.0.1:@PORT@ ssl default_server;
        listen 127.0.0.1:{port2} ssl proxy_protocol;
        server_name a.test;
        ssl_certificate {a_cert};
        ssl_certificate_key {a_key};
        ssl_session_cache shared:SSL:1m;
        location / {{ return 200 "a $scheme $https $ssl_protocol $ssl_cipher $ssl_server_name $proxy_protocol_addr\n"; }}
        location /r {{ return 302 /x; }}
    }}
    server {{
        listen 127.0.0.1:@PORT@ ssl;
        server_name b.test;
        ssl_certificate {b};
        ssl_certificate_key {b}.key;
        location / {{ return 200 "b $ssl_server_name\n"; }}
    }}
    server {{
        listen 127.0.0.1:@PORT@ ssl;
        server_name c.test;
        ssl_certificate {c};
        ssl_certificate_key {ck};
        ssl_protocols TLSv1.3;
        location / {{ return 200 "c\n"; }}
    }}
}}
"#,
        b = b_cert.display(),
        c = fixture("c.crt").display(),
        ck = fixture("c.key").display(),
    )
}

/// Starts rampart on an nginx.conf written from `text` (with @PORT@).
fn start(dir: TempDir, port: u16, text: &str) -> Rampart {
    let conf = dir.path().join("nginx.conf");
    std::fs::write(&conf, text.replace("@PORT@", &port.to_string())).unwrap();
    Rampart::run_file(dir, port, conf)
}

#[test]
fn sni_alpn_variables_and_certificate_reload() {
    if !curl_available() {
        return;
    }
    let dir = TempDir::new("tls");
    // b.test's certificate lives in a file the test rotates.
    let b_cert = dir.path().join("rot.crt");
    std::fs::copy(fixture("b.crt"), &b_cert).unwrap();
    std::fs::copy(fixture("b.key"), dir.path().join("rot.crt.key")).unwrap();
    let (port, port2) = (rampart_port(), rampart_port());
    let a = |c: &str, k: &str| {
        conf(
            port2,
            &b_cert,
            &fixture(c).display().to_string(),
            &fixture(k).display().to_string(),
        )
    };
    let r = start(dir, port, &a("a.crt", "a.key"));

    // SNI picks each server's certificate; the Host picks the server.
    for name in ["a.test", "b.test", "c.test"] {
        let (body, v) = curl(port, name, &["--http1.1"]).unwrap_or_else(|| panic!("{name} failed"));
        assert_eq!(subject(&v), format!("CN={name}"), "{name}");
        assert!(body.starts_with(&name[..1]), "{name}: {body}");
        assert!(v.contains("ALPN: server accepted http/1.1"), "{v}");
    }
    let (body, _) = curl(port, "a.test", &[]).unwrap();
    let f: Vec<&str> = body.split_whitespace().collect();
    assert_eq!(&f[..3], ["a", "https", "on"], "{body}");
    // nginx 1.22's default ssl_protocols has no TLSv1.3 (checked against it:
    // "a https on TLSv1.2 ECDHE-ECDSA-AES256-GCM-SHA384 a.test").
    assert_eq!(f[3], "TLSv1.2");
    assert!(f[4].starts_with("ECDHE-ECDSA-AES"), "{body}");
    assert_eq!(f[5], "a.test");
    assert!(
        curl(port, "a.test", &["--tlsv1.3"]).is_none(),
        "TLS 1.3 is not in the default"
    );
    assert_eq!(curl(port, "b.test", &[]).unwrap().0, "b b.test\n");
    // Redirects say https.
    let (_, v) = curl(port, "a.test", &[])
        .map(|_| ())
        .and_then(|_| {
            let out = Command::new("curl")
                .args(["-sS", "-k", "-v", "--max-time", "5", "--resolve"])
                .arg(format!("a.test:{port}:127.0.0.1"))
                .arg(format!("https://a.test:{port}/r"))
                .output()
                .ok()?;
            Some(((), String::from_utf8_lossy(&out.stderr).into_owned()))
        })
        .unwrap();
    assert!(v.contains(&format!("Location: https://a.test:{port}/x")), "{v}");
    // An unknown name and no SNI at all: the default server's certificate.
    let (_, v) = curl(port, "zzz.test", &[]).unwrap();
    assert_eq!(subject(&v), "CN=a.test");
    let out = Command::new("curl")
        .args(["-sS", "-k", "-v", "--max-time", "5"])
        .arg(format!("https://127.0.0.1:{port}/"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("subject: CN=a.test"));
    // ssl_protocols of the default server rules the address (as in nginx,
    // the handshake starts in its context): c.test's TLSv1.3-only is not
    // applied per name, so TLS 1.2 to c.test still works.
    assert!(curl(port, "c.test", &["--tls-max", "1.2"]).is_some());
    // Plain HTTP to a TLS port is not answered with a page.
    let plain = raw_all(r.addr(), b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n");
    assert!(!String::from_utf8_lossy(&plain).contains("200 OK"));
    // PROXY protocol in front of TLS.
    let (body, _) = curl(port2, "a.test", &["--haproxy-protocol"]).unwrap();
    assert!(body.ends_with(" a.test 127.0.0.1\n"), "{body}");
    assert!(
        curl(port2, "a.test", &[]).is_none(),
        "TLS without the PROXY header is refused"
    );

    // Reload with an expired certificate: refused, the old one keeps serving.
    std::fs::write(
        &r.conf,
        a("a-expired.crt", "a.key").replace("@PORT@", &port.to_string()),
    )
    .unwrap();
    r.signal(libc::SIGHUP);
    wait_log(&r, "error.log", "has expired");
    let (_, v) = curl(port, "a.test", &[]).unwrap();
    assert_eq!(subject(&v), "CN=a.test");
    // A certificate with the wrong key: refused as well.
    std::fs::write(&r.conf, a("a.crt", "b.key").replace("@PORT@", &port.to_string())).unwrap();
    r.signal(libc::SIGHUP);
    wait_log(&r, "error.log", "do not match");
    assert!(curl(port, "a.test", &[]).is_some());
    // A good config again, with b.test's file now holding another certificate:
    // the reload re-reads it.
    std::fs::write(&r.conf, a("a.crt", "a.key").replace("@PORT@", &port.to_string())).unwrap();
    std::fs::copy(fixture("c.crt"), &b_cert).unwrap();
    std::fs::copy(fixture("c.key"), r.dir.path().join("rot.crt.key")).unwrap();
    r.signal(libc::SIGHUP);
    wait_for("the rotated certificate", Duration::from_secs(5), || {
        let (_, v) = curl(port, "b.test", &[])?;
        (subject(&v) == "CN=c.test").then_some(())
    });
}

#[test]
fn toml_front_end() {
    if !curl_available() {
        return;
    }
    let cfg = format!(
        "worker_processes = 1\nerror_log = \"logs/error.log info\"\n\n[http]\naccess_log = \"off\"\n\n\
         [[http.server]]\nlisten = [\"127.0.0.1:@PORT@ ssl\"]\nserver_name = [\"b.test\"]\n\
         ssl_certificate = \"{}\"\nssl_certificate_key = \"{}\"\nssl_protocols = [\"TLSv1.3\"]\n\n\
         [[http.server.location]]\nmatch = \"/\"\nreturn = [200, \"$scheme $ssl_protocol\"]\n",
        fixture("b.crt").display(),
        fixture("b.key").display()
    );
    let r = Rampart::start(&cfg);
    let (body, v) = curl(r.port, "b.test", &[]).expect("https request");
    assert_eq!(body, "https TLSv1.3");
    assert_eq!(subject(&v), "CN=b.test");
    assert!(
        curl(r.port, "b.test", &["--tls-max", "1.2"]).is_none(),
        "TLS 1.2 is off"
    );
}

/// Proxying over TLS: a large response, a request body, keep-alive reuse of
/// one TLS connection, and a slow (dripped) response all arrive whole.
#[test]
fn proxying_over_tls() {
    if !curl_available() {
        return;
    }
    let be = Backend::start("b1");
    let cfg = format!(
        "worker_processes = 1\nerror_log = \"logs/error.log info\"\n\n[http]\naccess_log = \"off\"\n\
         client_max_body_size = \"10m\"\n\n[http.upstream.app]\nserver = [\"{}\"]\n\n\
         [[http.server]]\nlisten = [\"127.0.0.1:@PORT@ ssl\"]\nserver_name = [\"a.test\"]\n\
         ssl_certificate = \"{}\"\nssl_certificate_key = \"{}\"\n\n\
         [[http.server.location]]\nmatch = \"/\"\nproxy_pass = \"http://app\"\n",
        be.addr,
        fixture("a.crt").display(),
        fixture("a.key").display()
    );
    let r = Rampart::start(&cfg);
    let dir = TempDir::new("tls-body");
    let body = dir.path().join("body");
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&body, &data).unwrap();
    let url = |p: &str| format!("https://a.test:{}{p}", r.port);
    let out = Command::new("curl")
        .args(["-sS", "-k", "--max-time", "20", "--resolve"])
        .arg(format!("a.test:{}:127.0.0.1", r.port))
        .args(["-w", "%{http_code} %{size_download} %{num_connects}\\n"])
        .args(["-o", "/dev/null"])
        .arg(url("/size/5000000"))
        .args(["-o", "/dev/null"])
        .arg(url("/drip/5/20"))
        .args(["-o", "/dev/null", "--data-binary"])
        .arg(format!("@{}", body.display()))
        .arg(url("/sink"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text} {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(lines[0], "200 5000000 1", "{text}");
    assert!(
        lines[1].starts_with("200 5 0"),
        "one TLS connection reused: {text}"
    );
    assert!(lines[2].starts_with("200 "), "{text}");
    // The sink's digest of the 3 MB body matches what was sent.
    let out = Command::new("curl")
        .args(["-sS", "-k", "--max-time", "20", "--resolve"])
        .arg(format!("a.test:{}:127.0.0.1", r.port))
        .arg("--data-binary")
        .arg(format!("@{}", body.display()))
        .arg(url("/sink"))
        .output()
        .unwrap();
    let sink = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(sink.starts_with("3000000 bytes sha1 "), "{sink}");
    let want = {
        use std::process::Stdio as S;
        let o = Command::new("sha1sum")
            .arg(&body)
            .stdout(S::piped())
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout)
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_string()
    };
    assert!(sink.trim_end().ends_with(&want), "{sink} vs {want}");
}
