//! What monitoring scrapes, over the real binary: stub_status, the
//! Prometheus endpoint (checked with `promtool check metrics` when
//! installed), auth_basic with htpasswd files in every supported format, and
//! allow/deny.

mod common;
use base64::Engine;
use common::*;
use std::io::{BufReader, Write};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn get_auth(addr: std::net::SocketAddr, path: &str, auth: Option<&str>) -> Resp {
    let auth = auth.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    raw(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Connection: close\r\n\r\n").as_bytes(),
    )
}

/// Runs a tool and returns its trimmed stdout, or None when it fails, or when
/// it is missing (then SKIPPED for that part, a failure under CI=true).
fn tool(cmd: &str, args: &[&str]) -> Option<String> {
    let package = if cmd == "htpasswd" { "apache2-utils" } else { cmd };
    if !require_tool(cmd, package) {
        return None;
    }
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// `user:hash` lines, one per format. Fixed hashes (made once with the same
/// tools) are used when `openssl` / `htpasswd` are not installed.
fn htpasswd_lines() -> Vec<(String, String)> {
    let fixed = [
        ("md5", "$1$saltsalt$9xy1btjgzLYfb7hivXtC//"),
        ("sha256", "$5$saltsalt$0IyaXrmV7.sGNS6tirgqHLqX/G.FBvgkYA.lpPdS5sA"),
        (
            "sha512",
            "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1",
        ),
        ("apr1", "$apr1$saltsalt$LrttParrLPdxvgutaSXWJ0"),
    ];
    let mut v: Vec<(String, String)> = Vec::new();
    for (user, hash) in fixed {
        let flag = match user {
            "md5" => "-1",
            "sha256" => "-5",
            "sha512" => "-6",
            _ => "-apr1",
        };
        // A fresh random salt when openssl is there; the fixed hash otherwise.
        let h = tool("openssl", &["passwd", flag, "secret"]).unwrap_or_else(|| hash.to_string());
        v.push((user.to_string(), h));
    }
    v.push(("plain".into(), "{PLAIN}secret".into()));
    let sha = tool("htpasswd", &["-nbs", "x", "secret"])
        .and_then(|l| l.strip_prefix("x:").map(str::to_string))
        .unwrap_or_else(|| "{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=".into());
    v.push(("sha".into(), sha));
    if let Some(m) =
        tool("htpasswd", &["-nbm", "x", "secret"]).and_then(|l| l.strip_prefix("x:").map(str::to_string))
    {
        v.push(("htapr1".into(), m));
    }
    // {SSHA}: sha1(password + salt) + salt, as OpenLDAP's slappasswd writes it.
    let salt = b"s4lt";
    let mut h = sha1::Sha1::default();
    sha1::Digest::update(&mut h, b"secret");
    sha1::Digest::update(&mut h, salt);
    let mut raw = sha1::Digest::finalize(h).to_vec();
    raw.extend_from_slice(salt);
    v.push((
        "ssha".into(),
        format!(
            "{{SSHA}}{}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        ),
    ));
    v
}

pub fn write_htpasswd(path: &Path) -> Vec<String> {
    let lines = htpasswd_lines();
    let mut text = String::from("# rampart test users\n");
    for (u, h) in &lines {
        text.push_str(&format!("{u}:{h}\n"));
    }
    std::fs::write(path, text).expect("write htpasswd");
    lines.into_iter().map(|(u, _)| u).collect()
}

const AUTH_LOCATIONS: &str =
    "[[http.server.location]]\nmatch = \"/private/\"\nauth_basic = \"Secret Zone\"\n\
     auth_basic_user_file = \"@DIR@/htpasswd\"\nproxy_pass = \"http://app/\"\n\n\
     [[http.server.location]]\nmatch = \"/missing/\"\nauth_basic = \"M\"\n\
     auth_basic_user_file = \"@DIR@/no-such-file\"\nproxy_pass = \"http://app/\"\n\n\
     [[http.server.location]]\nmatch = \"/nofile/\"\nauth_basic = \"M\"\nproxy_pass = \"http://app/\"\n\n\
     [[http.server.location]]\nmatch = \"/off/\"\nauth_basic = \"off\"\n\
     auth_basic_user_file = \"@DIR@/htpasswd\"\nproxy_pass = \"http://app/\"\n\n\
     [[http.server.location]]\nmatch = \"/ret/\"\nauth_basic = \"R\"\n\
     auth_basic_user_file = \"@DIR@/htpasswd\"\nreturn = [200, \"unguarded\\n\"]\n";

#[test]
fn auth_basic_every_hash_format() {
    let be = Backend::start("b1");
    let r = Rampart::start(&config(
        &format!("[http.upstream.app]\nserver = [\"{}\"]", be.addr),
        AUTH_LOCATIONS,
    ));
    let users = write_htpasswd(&r.dir.path().join("htpasswd"));
    assert!(users.len() >= 7, "{users:?}");
    for u in &users {
        let ok = get_auth(
            r.addr(),
            "/private/x",
            Some(&format!("Basic {}", b64(&format!("{u}:secret")))),
        );
        assert_eq!(ok.status, 200, "{u}: right password");
        assert_eq!(ok.header("www-authenticate"), None);
        let bad = get_auth(
            r.addr(),
            "/private/x",
            Some(&format!("Basic {}", b64(&format!("{u}:Secret")))),
        );
        assert_eq!(bad.status, 401, "{u}: wrong password");
        assert_eq!(
            bad.header("www-authenticate"),
            Some("Basic realm=\"Secret Zone\"")
        );
    }
    let cases: &[(Option<&str>, u16)] = &[
        (None, 401),
        (Some("Basic"), 401),
        (Some("Basic !!!"), 401),
        (Some("Bearer abc"), 401),
        (Some("Basic bm9jb2xvbg=="), 401),         // "nocolon"
        (Some("Basic OnNlY3JldA=="), 401),         // ":secret"
        (Some("Basic bm9ib2R5OnNlY3JldA=="), 401), // unknown user
        (Some("basic cGxhaW46c2VjcmV0"), 200),     // scheme is case-insensitive, padding optional
    ];
    for (h, want) in cases {
        let resp = get_auth(r.addr(), "/private/", *h);
        assert_eq!(resp.status, *want, "{h:?}");
        if *want == 401 {
            assert_eq!(
                resp.header("www-authenticate"),
                Some("Basic realm=\"Secret Zone\"")
            );
            assert!(resp.text().contains("<title>401 Authorization Required</title>"));
        }
    }
    // Missing file: 403 once credentials are there; 401 without them (checked first).
    let creds = format!("Basic {}", b64("plain:secret"));
    assert_eq!(get_auth(r.addr(), "/missing/", Some(&creds)).status, 403);
    assert_eq!(get_auth(r.addr(), "/missing/", None).status, 401);
    assert_eq!(get_auth(r.addr(), "/nofile/", None).status, 200);
    assert_eq!(get_auth(r.addr(), "/off/", None).status, 200);
    // `return` runs in nginx's rewrite phase, before the access phase: not guarded.
    assert_eq!(get_auth(r.addr(), "/ret/", None).status, 200);
    // An edit to the file is seen by the next request.
    std::fs::write(r.dir.path().join("htpasswd"), "other:{PLAIN}x\n").unwrap();
    assert_eq!(get_auth(r.addr(), "/private/", Some(&creds)).status, 401);
    let log = wait_log(&r, "error.log", "password mismatch");
    assert!(log.contains("was not found in"), "{log}");
}

#[test]
fn allow_deny_over_the_binary() {
    // Guarded locations use stub_status as their content handler (200 when let through).
    let locs = "[[http.server.location]]\nmatch = \"/deny-me/\"\naccess = [[\"allow\", \"10.0.0.0/8\"], [\"deny\", \"127.0.0.1\"], [\"allow\", \"all\"]]\nstub_status = true\n\n\
         [[http.server.location]]\nmatch = \"/lo-only/\"\naccess = [[\"allow\", \"127.0.0.0/8\"], [\"deny\", \"all\"]]\nstub_status = true\n\n\
         [[http.server.location]]\nmatch = \"/v6-only/\"\naccess = [[\"allow\", \"::1\"], [\"deny\", \"all\"]]\nstub_status = true\n\n\
         [[http.server.location]]\nmatch = \"/both/\"\naccess = [[\"deny\", \"all\"]]\nauth_basic = \"z\"\nauth_basic_user_file = \"@DIR@/htpasswd\"\nstub_status = true\n\n\
         [[http.server.location]]\nmatch = \"/open/\"\nstub_status = true\n\n\
         [[http.server.location]]\nmatch = \"/http-deny/\"\naccess = [[\"allow\", \"all\"]]\nstub_status = true\n";
    let cfg = config("access = [[\"deny\", \"127.0.0.1\"]]", locs);
    let r = Rampart::start(&cfg);
    let d = get(r.addr(), "/deny-me/");
    assert_eq!(d.status, 403);
    assert!(d.text().contains("<title>403 Forbidden</title>"));
    assert_eq!(get(r.addr(), "/lo-only/").status, 200);
    assert_eq!(get(r.addr(), "/v6-only/").status, 403);
    // deny comes before auth_basic: 403, no challenge.
    let b = get(r.addr(), "/both/");
    assert_eq!((b.status, b.header("www-authenticate")), (403, None));
    // The http-level rule list is inherited where a location has none, and
    // replaced whole where it has one.
    assert_eq!(get(r.addr(), "/open/").status, 403);
    assert_eq!(get(r.addr(), "/http-deny/").status, 200);
    let log = wait_log(&r, "error.log", "access forbidden by rule");
    assert!(log.contains("client: 127.0.0.1"), "{log}");
}

#[test]
fn bad_access_rule_is_a_config_error() {
    let dir = TempDir::new("badrule");
    let conf = dir.path().join("rampart.toml");
    std::fs::write(
        &conf,
        config(
            "",
            "[[http.server.location]]\nmatch = \"/\"\naccess = [[\"allow\", \"10.0.0.0/33\"]]\n",
        )
        .replace("@PORT@", &free_port().to_string()),
    )
    .unwrap();
    let out = rampart_cmd(&[
        "-t".as_ref(),
        "-p".as_ref(),
        dir.path().as_os_str(),
        "-c".as_ref(),
        conf.as_os_str(),
    ]);
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("invalid parameter \"10.0.0.0/33\""),
        "{}",
        out.stderr
    );
}

const STATUS_LOCATIONS: &str = "[[http.server.location]]\nmatch = \"= /status\"\nstub_status = true\n\n\
     [[http.server.location]]\nmatch = \"= /metrics\"\nmetrics = true\n\n\
     [[http.server.location]]\nmatch = \"/ok\"\nreturn = [200, \"ok\\n\"]\n\n\
     [[http.server.location]]\nmatch = \"/redir\"\nreturn = [302, \"http://example.com/\"]\n\n\
     [[http.server.location]]\nmatch = \"/app/\"\nproxy_pass = \"http://app/\"\n\n\
     [[http.server.location]]\nmatch = \"/dead/\"\nproxy_pass = \"http://dead/\"\n";

fn status_config(be: &Backend) -> String {
    let dead = free_port();
    config(
        &format!(
            "[http.upstream.app]\nserver = [\"{}\"]\n\n[http.upstream.dead]\nserver = [\"127.0.0.1:{dead}\"]",
            be.addr
        ),
        STATUS_LOCATIONS,
    )
}

#[test]
fn stub_status_shape_methods_and_counts() {
    let be = Backend::start("b1");
    let r = Rampart::start(&status_config(&be));
    let s = get(r.addr(), "/status");
    assert_eq!(s.status, 200);
    assert_eq!(s.header("content-type"), Some("text/plain"));
    assert_eq!(
        s.text(),
        "Active connections: 1 \nserver accepts handled requests\n 1 1 1 \nReading: 0 Writing: 1 Waiting: 0 \n"
    );
    assert_eq!(
        s.header("content-length"),
        Some(s.body.len().to_string().as_str())
    );
    let p = raw(
        r.addr(),
        b"POST /status HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(p.status, 405);
    let h = raw(
        r.addr(),
        b"HEAD /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!((h.status, h.body.len()), (200, 0));
    assert!(h.header("content-length").is_some());
}

/// Go's `fmt.Fscanf`-free reading of the exposition: `name{labels} value` lines.
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.strip_prefix(' ')))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no series {series} in\n{text}"))
}

#[test]
fn metrics_agree_with_a_known_request_mix_and_pass_promtool() {
    let be = Backend::start("b1");
    let r = Rampart::start(&status_config(&be));
    // 3 × 200 (return), 2 × 200 (proxied), 1 × 302, 2 × 404, 1 × 502 (dead upstream), 1 × 400.
    for _ in 0..3 {
        assert_eq!(get(r.addr(), "/ok").status, 200);
    }
    for _ in 0..2 {
        assert_eq!(get(r.addr(), "/app/id").status, 200);
    }
    assert_eq!(get(r.addr(), "/redir").status, 302);
    assert_eq!(get(r.addr(), "/nothing").status, 404);
    assert_eq!(get(r.addr(), "/nothing2").status, 404);
    assert_eq!(get(r.addr(), "/dead/").status, 502);
    assert_eq!(raw(r.addr(), b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n").status, 400);
    // Let the last connections close before scraping.
    std::thread::sleep(Duration::from_millis(200));
    let m = get(r.addr(), "/metrics");
    assert_eq!(m.status, 200);
    assert_eq!(
        m.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let t = m.text();
    let srv = |c: &str| {
        metric(
            &t,
            &format!("rampart_http_responses_total{{server=\"localhost\",code=\"{c}\"}}"),
        )
    };
    assert_eq!(
        (srv("2xx"), srv("3xx"), srv("4xx"), srv("5xx")),
        (5.0, 1.0, 3.0, 1.0)
    );
    assert_eq!(metric(&t, "rampart_http_requests_total"), 11.0);
    assert_eq!(metric(&t, "rampart_connections_accepted_total"), 11.0);
    assert_eq!(metric(&t, "rampart_connections_handled_total"), 11.0);
    assert_eq!(metric(&t, "rampart_connections_writing"), 1.0);
    assert_eq!(metric(&t, "rampart_http_request_duration_seconds_count"), 10.0);
    let app = format!(
        "rampart_upstream_requests_total{{upstream=\"app\",peer=\"{}\"}}",
        be.addr
    );
    assert_eq!(metric(&t, &app), 2.0);
    let appf = format!(
        "rampart_upstream_failures_total{{upstream=\"app\",peer=\"{}\"}}",
        be.addr
    );
    assert_eq!(metric(&t, &appf), 0.0);
    let dead = t
        .lines()
        .find(|l| l.starts_with("rampart_upstream_failures_total{upstream=\"dead\""))
        .unwrap();
    assert!(dead.ends_with(" 1"), "{dead}");
    assert_eq!(metric(&t, "rampart_config_generation"), 1.0);
    assert_eq!(metric(&t, "rampart_config_last_reload_successful"), 1.0);
    assert!(metric(&t, "rampart_http_sent_bytes_total{server=\"localhost\"}") > 1000.0);

    // A failed reload flips the gauge, a good one bumps the generation.
    let good = std::fs::read_to_string(&r.conf).unwrap();
    std::fs::write(&r.conf, "this is not toml [").unwrap();
    r.signal(libc::SIGHUP);
    wait_for("a failed reload", Duration::from_secs(10), || {
        let t = get(r.addr(), "/metrics").text();
        (metric(&t, "rampart_config_last_reload_successful") == 0.0).then_some(())
    });
    std::fs::write(&r.conf, good).unwrap();
    r.signal(libc::SIGHUP);
    let t = wait_for("a good reload", Duration::from_secs(10), || {
        let t = get(r.addr(), "/metrics").text();
        (metric(&t, "rampart_config_generation") == 2.0).then_some(t)
    });
    assert_eq!(metric(&t, "rampart_config_last_reload_successful"), 1.0);
    // Counters survive the reload.
    assert!(metric(&t, &app) >= 2.0);

    promtool_check(&t);
}

/// `promtool check metrics` (Debian package `prometheus`) when installed;
/// otherwise SKIPPED (a failure under CI=true), the format still checked by
/// the parsing above.
fn promtool_check(text: &str) {
    if !require_tool("promtool", "prometheus") {
        return;
    }
    let Ok(mut child) = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    else {
        panic!("promtool check metrics: could not run promtool");
    };
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let msg = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{msg}\n{text}"
    );
    assert!(msg.trim().is_empty(), "promtool lint findings:\n{msg}");
}

#[test]
fn status_request_counts_itself_and_waiting_includes_silent_connections() {
    let be = Backend::start("b1");
    let r = Rampart::start(&status_config(&be));
    let silent = connect(r.addr());
    let mut ka = connect(r.addr());
    ka.write_all(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut rd = BufReader::new(ka.try_clone().unwrap());
    assert_eq!(read_response(&mut rd, false).unwrap().status, 200);
    std::thread::sleep(Duration::from_millis(200));
    let s = get(r.addr(), "/status").text();
    assert_eq!(
        s,
        "Active connections: 3 \nserver accepts handled requests\n 3 3 2 \nReading: 0 Writing: 1 Waiting: 2 \n"
    );
    drop(silent);
    drop(ka);
}
