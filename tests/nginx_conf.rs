//! The nginx.conf front end over the real binary: malformed configs rejected
//! as nginx rejects them (and, where the wording is nginx's, checked against
//! Debian's nginx 1.22.1 when it is installed), the seed configs read
//! completely, `rampart convert` round trips, and an nginx.conf serving
//! exactly as its TOML twin.
//!
//! Fixtures: tests/nginx_conf/bad/*.conf start with `# expect: [FILE:]LINE
//! MESSAGE` (LINE 0: no line) and `# nginx: same|differs`; tests/nginx_conf/
//! good/*.conf are valid configs (nginx -t accepts them too).

mod common;

use common::*;
use rampart::config;
use rampart::model::{self, nginx, Config};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn fixtures(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/nginx_conf")
        .join(sub)
}

fn conf_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    v.sort();
    v
}

struct Expect {
    /// `MESSAGE in FILE[:LINE]`, as rampart and nginx print it after `[emerg] `.
    text: String,
    nginx_same: bool,
}

fn expectation(path: &Path) -> Expect {
    let src = std::fs::read_to_string(path).unwrap();
    let mut lines = src.lines();
    let head = lines
        .next()
        .and_then(|l| l.strip_prefix("# expect: "))
        .expect("# expect: line");
    let nginx_same = lines.next() == Some("# nginx: same");
    let (place, msg) = head.split_once(' ').unwrap();
    let dir = path.parent().unwrap();
    let msg = msg.replace("@DIR@", &dir.display().to_string());
    let text = match place.rsplit_once(':') {
        Some((file, line)) => format!("{msg} in {}:{line}", dir.join(file).display()),
        None if place == "0" => format!("{msg} in {}", path.display()),
        None => format!("{msg} in {}:{place}", path.display()),
    };
    Expect { text, nginx_same }
}

/// Runs a command to completion, killing it after `limit`.
fn run_bounded(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

fn rampart(args: &[&str], prefix: &Path) -> Output {
    let mut c = Command::new(RAMPART);
    c.arg("-p").arg(prefix).args(args);
    run_bounded(&mut c, Duration::from_secs(20))
}

/// `rampart convert FILE` (a subcommand: no other flags).
fn convert(file: &Path) -> Output {
    run_bounded(
        Command::new(RAMPART).arg("convert").arg(file),
        Duration::from_secs(20),
    )
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn malformed_configs_are_rejected_with_file_line_and_no_pid_file() {
    let bad = conf_files(&fixtures("bad"));
    assert!(bad.len() >= 25, "only {} fixtures", bad.len());
    for f in &bad {
        let want = expectation(f);
        let fs = f.to_str().unwrap();
        let tmp = TempDir::new("nginx-bad");

        let t = rampart(&["-t", "-c", fs], tmp.path());
        let err = stderr(&t);
        assert_eq!(t.status.code(), Some(1), "{fs}: {err}");
        assert!(
            err.contains(&format!("rampart: [emerg] {}\n", want.text)),
            "{fs}:\n want: {}\n got: {err}",
            want.text
        );
        assert!(
            err.contains(&format!("configuration file {fs} test failed")),
            "{err}"
        );

        let run = rampart(&["-c", fs], tmp.path());
        assert_eq!(run.status.code(), Some(1), "{fs}: {}", stderr(&run));
        assert!(stderr(&run).contains(&want.text), "{fs}: {}", stderr(&run));
        assert!(
            !tmp.path().join("logs/rampart.pid").exists(),
            "{fs} left a pid file"
        );
    }
}

/// The fixtures whose wording is nginx's own give the same message at the
/// same file:line with Debian's nginx 1.22.1.
#[test]
fn malformed_configs_are_worded_as_nginx_1_22() {
    if !require_nginx() {
        return;
    }
    let mut compared = 0;
    for f in conf_files(&fixtures("bad")) {
        let want = expectation(&f);
        if !want.nginx_same {
            continue;
        }
        let tmp = TempDir::new("nginx-ref");
        let err_log = tmp.path().join("logs/error.log");
        let o = run_bounded(
            Command::new(NGINX)
                .arg("-t")
                .arg("-p")
                .arg(tmp.path())
                .arg("-e")
                .arg(&err_log)
                .arg("-c")
                .arg(&f),
            Duration::from_secs(20),
        );
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{}: {err}", f.display());
        let line = err.lines().find(|l| l.contains("[emerg]")).unwrap_or_default();
        // `nginx: [emerg] MSG in FILE:LINE` (nginx names no file for a missing events block).
        let got = line.split_once("[emerg] ").map(|x| x.1).unwrap_or_default();
        let want_text = if want.text.contains("no \"events\" section") {
            "no \"events\" section in configuration".to_string()
        } else {
            want.text.clone()
        };
        assert_eq!(got, want_text, "{}", f.display());
        compared += 1;
    }
    assert!(compared >= 25, "compared only {compared}");
}

/// The seed tier configs, rewritten to loopback addresses and a temp prefix.
fn seed(name: &str, tmp: &Path) -> Option<PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/reference")
        .join(name);
    let Ok(text) = std::fs::read_to_string(&src) else {
        eprintln!(
            "notice: {} not found; skipping the seed config test",
            src.display()
        );
        return None;
    };
    let text = text
        .replace("/usr/local/nginx", &tmp.display().to_string())
        .replace("listen 80;", &format!("listen 127.0.0.1:{};", rampart_port()))
        .replace("192.168.100.", "127.0.0.");
    let conf = tmp.join("conf");
    std::fs::create_dir_all(conf.join("vhost")).unwrap();
    std::fs::write(conf.join("mime.types"), "types {\n    text/html  html htm;\n}\n").unwrap();
    let path = conf.join("nginx.conf");
    std::fs::write(&path, text).unwrap();
    Some(path)
}

fn listed(errs: &[config::ConfigError]) -> Vec<String> {
    errs.iter()
        .map(|e| {
            let name = e.message.split('"').nth(1).unwrap_or_default();
            let file = e.file.file_name().unwrap().to_string_lossy();
            format!("{name} {file}:{}", e.line)
        })
        .collect()
}

/// Every directive of the seeds is mapped, ignored with a warning, or not
/// implemented yet; this is the exact list of the last kind (later issues
/// shrink it). Without them, the config passes `rampart -t`.
#[test]
fn seed_configs_parse_completely() {
    let front_later: [&str; 0] = [];
    let front_ignored = [
        "use nginx.conf:13",
        "server_names_hash_bucket_size nginx.conf:21",
        "sendfile nginx.conf:25",
        "tcp_nopush nginx.conf:26",
        "fastcgi_cache_path nginx.conf:29",
        "fastcgi_connect_timeout nginx.conf:30",
        "fastcgi_send_timeout nginx.conf:31",
        "fastcgi_read_timeout nginx.conf:32",
        "fastcgi_buffer_size nginx.conf:33",
        "fastcgi_buffers nginx.conf:34",
        "fastcgi_busy_buffers_size nginx.conf:35",
        "fastcgi_temp_file_write_size nginx.conf:36",
        "fastcgi_cache nginx.conf:37",
        "fastcgi_cache_valid nginx.conf:38",
        "fastcgi_cache_valid nginx.conf:39",
        "fastcgi_cache_valid nginx.conf:40",
        "fastcgi_cache_min_uses nginx.conf:41",
        "fastcgi_cache_use_stale nginx.conf:42",
        "tcp_nodelay nginx.conf:47",
    ];
    let static_later: [&str; 0] = [];
    let static_ignored = [
        "use nginx.conf:13",
        "server_names_hash_bucket_size nginx.conf:21",
        "sendfile nginx.conf:25",
        "tcp_nopush nginx.conf:26",
        "tcp_nodelay nginx.conf:32",
    ];
    for (name, later, ignored) in [
        ("seed-front-nginx.conf", &front_later[..], &front_ignored[..]),
        ("seed-static-nginx.conf", &static_later[..], &static_ignored[..]),
    ] {
        let tmp = TempDir::new("nginx-seed");
        let Some(path) = seed(name, tmp.path()) else {
            return;
        };
        let r = nginx::analyze(&path);
        assert_eq!(listed(&r.not_implemented), later, "{name}");
        assert_eq!(listed(&r.ignored), ignored, "{name}");
        if name == "seed-front-nginx.conf" {
            // The health checks of the front tier (issue 5) map into the model.
            let ups = &r.config.http.upstream;
            for u in ["web_server", "napi_server", "oapi_server"] {
                let check = ups[u].check.as_ref().map(|c| (c.value.as_str(), c.line));
                assert!(
                    check.is_some_and(|(v, _)| v == "interval=3000 rise=2 fall=5 timeout=1000"),
                    "{u}: {check:?}"
                );
            }
            assert!(ups["nginx_server"].check.is_none());
            let nstatus = r.config.http.server[0]
                .location
                .iter()
                .find(|l| l.match_.value == "/nstatus")
                .unwrap();
            assert_eq!(
                nstatus.check_status.as_ref().map(|c| c.value.as_str()),
                Some("html")
            );
        }
        // Every directive of both seed configs is implemented or ignored now.
        assert!(r.error.is_none(), "{name}: {:?}", r.error);

        // Over the binary: -t passes, and each ignored directive is warned
        // about with its file:line.
        let t = rampart(&["-t", "-c", path.to_str().unwrap()], tmp.path());
        let err = stderr(&t);
        assert_eq!(t.status.code(), Some(0), "{name}: {err}");
        assert!(
            err.contains(&format!(
                "\"sendfile\" directive is ignored: it has no meaning in rampart in {}:25",
                path.display()
            )),
            "{err}"
        );
    }
}

/// nginx.conf → `rampart convert` → TOML → the same model, for every valid
/// nginx-syntax fixture (which nginx itself accepts too).
#[test]
fn convert_round_trips_nginx_fixtures() {
    let good = conf_files(&fixtures("good"));
    assert!(good.len() >= 3);
    // Without nginx the `nginx -t` half is SKIPPED (a failure under CI=true).
    let with_nginx = require_nginx();
    for f in &good {
        let r = nginx::analyze(f);
        assert!(r.error.is_none(), "{}: {:?}", f.display(), r.error);
        let tmp = TempDir::new("nginx-convert");
        let o = convert(f);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let toml_text = String::from_utf8(o.stdout).unwrap();
        let back = model::parse_toml(&tmp.path().join("x.toml"), &toml_text)
            .unwrap_or_else(|e| panic!("{}: {e}\n{toml_text}", f.display()));
        assert_eq!(back, r.config, "{}:\n{toml_text}", f.display());
        // The converted file is a config rampart accepts.
        let conv = tmp.path().join("converted.toml");
        std::fs::write(&conv, &toml_text).unwrap();
        let t = rampart(&["-t", "-c", conv.to_str().unwrap()], tmp.path());
        assert_eq!(t.status.code(), Some(0), "{}: {}", f.display(), stderr(&t));

        if with_nginx {
            let o = run_bounded(
                Command::new(NGINX)
                    .arg("-t")
                    .arg("-p")
                    .arg(tmp.path())
                    .arg("-e")
                    .arg(tmp.path().join("logs/error.log"))
                    .arg("-c")
                    .arg(f),
                Duration::from_secs(20),
            );
            assert_eq!(
                o.status.code(),
                Some(0),
                "nginx -t {}: {}",
                f.display(),
                stderr(&o)
            );
        }
    }
}

/// What nginx's lexer makes of quotes, escapes, variables and `#` inside words.
#[test]
fn quoting_fixture_maps_as_nginx_reads_it() {
    let c = nginx::analyze(&fixtures("good/quoting.conf")).config;
    let fmt = match &c.http.log_format["quoted"] {
        rampart::model::LogFormatDef::Plain(f) => f.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(fmt, "\"$request\" \t ${status}x '$uri'");
    let s = &c.http.server[0];
    assert_eq!(
        s.server_name.as_deref().unwrap(),
        ["single quoted", "double quoted", "plain"]
    );
    let h = s.add_header.as_ref().unwrap();
    assert_eq!(h[0], ["X-Quote", "it's \"fine\""]);
    assert_eq!(h[1], ["X-Escapes", "a\\b\tc"]);
    let m: Vec<&str> = s.location.iter().map(|l| l.match_.value.as_str()).collect();
    assert_eq!(m, ["~ ^/re/(?<n>[a-z]+)\\.html$", "= /exact", "/hash#notcomment"]);
    assert_eq!(
        s.location[2].return_.clone().map(|r| r.value),
        Some(rampart::model::ReturnDef::CodeText(200, "#not a comment".into()))
    );
}

/// TOML → model → TOML → model: conf/rampart.toml and the configs the other
/// integration tests write (through tests/common's `config`).
#[test]
fn convert_round_trips_toml_configs() {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/rampart.toml");
    let mut samples = vec![(shipped.clone(), std::fs::read_to_string(&shipped).unwrap())];
    let extra_http = [
        ("", "[[http.server.location]]\nmatch = \"/\"\nreturn = [200, \"ok\"]\n"),
        (
            "proxy_http_version = \"1.1\"\nproxy_set_header = [[\"Connection\", \"\"]]\n\
             [http.upstream.b]\nserver = [\"127.0.0.1:1 weight=3 max_fails=2 fail_timeout=5s\", \"127.0.0.1:2 backup\"]",
            "[[http.server.location]]\nmatch = \"/\"\nproxy_pass = \"http://b\"\nproxy_read_timeout = \"500ms\"\n\
             error_page = [{ codes = [502], page = \"@f\" }]\n\
             [[http.server.location]]\nmatch = \"@f\"\nreturn = [503, \"down\"]\n",
        ),
        (
            "add_header = [[\"X-A\", \"1\", \"always\"]]\nclient_max_body_size = 0\nkeepalive_timeout = 0",
            "[[http.server.location]]\nmatch = \"~* \\\\.png$\"\ninternal = true\n\
             [[http.server.location.location]]\nmatch = \"/x\"\nreturn = \"https://example.com$request_uri\"\n",
        ),
    ];
    for (h, l) in extra_http {
        samples.push((PathBuf::from("/t/sample.toml"), config(h, l)));
    }
    for (path, text) in &samples {
        let a = model::parse_toml(path, text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let out = toml::to_string(&a).unwrap();
        let b = model::parse_toml(path, &out).unwrap_or_else(|e| panic!("{e}\n{out}"));
        assert_eq!(a, b, "{out}");
        assert_ne!(a, Config::default());
    }
    // And through the binary.
    let o = convert(&shipped);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let back = model::parse_toml(&shipped, &String::from_utf8(o.stdout).unwrap()).unwrap();
    assert_eq!(back, model::load(&shipped).unwrap());
}

const TWIN_NGINX: &str = r#"
# The same server as TWIN_TOML, in nginx.conf syntax (daemon is on by default in nginx.conf).
daemon off;
worker_processes 1;
error_log logs/error.log info;
events {
    worker_connections 256;
}
http {
    access_log logs/access.log;
    upstream be {
        server @BACKEND@;
    }
    server {
        listen 127.0.0.1:@PORT@;
        server_name localhost;
        error_page 404 /nf;
        add_header X-Level server;
        location = /r {
            return 200 "from \"return\"\n";
        }
        location /app/ {
            proxy_pass http://be/;
            proxy_set_header X-Twin 'a b';
            proxy_set_header Host $host;
        }
        location = /nf {
            internal;
            return 404 "custom not found: $uri\n";
        }
        location /moved {
            return 301 /r;
        }
    }
}
"#;

const TWIN_TOML: &str = r#"
daemon = false
worker_processes = 1
error_log = "logs/error.log info"
[events]
worker_connections = 256
[http]
access_log = "logs/access.log"
[http.upstream.be]
server = ["@BACKEND@"]
[[http.server]]
listen = ["127.0.0.1:@PORT@"]
server_name = ["localhost"]
error_page = [{ codes = [404], page = "/nf" }]
add_header = [["X-Level", "server"]]
[[http.server.location]]
match = "= /r"
return = [200, "from \"return\"\n"]
[[http.server.location]]
match = "/app/"
proxy_pass = "http://be/"
proxy_set_header = [["X-Twin", "a b"], ["Host", "$host"]]
[[http.server.location]]
match = "= /nf"
internal = true
return = [404, "custom not found: $uri\n"]
[[http.server.location]]
match = "/moved"
return = [301, "/r"]
"#;

/// Writes `template` to `DIR/file_name` and starts rampart on it.
fn start(file_name: &str, template: &str, backend: &str) -> Rampart {
    let dir = TempDir::new("nginx-twin");
    let port = rampart_port();
    let conf = dir.path().join(file_name);
    let text = template
        .replace("@PORT@", &port.to_string())
        .replace("@BACKEND@", backend);
    std::fs::write(&conf, text).unwrap();
    let how = Launch {
        quiet: true,
        ..Launch::default()
    };
    Rampart::launch(dir, port, conf, &how)
}

#[test]
fn nginx_conf_serves_exactly_as_its_toml_twin() {
    let backend = Backend::start("twin");
    let be = backend.addr.to_string();
    // Both files describe the same model...
    let tmp = TempDir::new("twin-model");
    let n = tmp.path().join("nginx.conf");
    let t = tmp.path().join("rampart.toml");
    std::fs::write(&n, TWIN_NGINX.replace("@BACKEND@", &be).replace("@PORT@", "8080")).unwrap();
    std::fs::write(&t, TWIN_TOML.replace("@BACKEND@", &be).replace("@PORT@", "8080")).unwrap();
    assert_eq!(model::load(&n).unwrap(), model::load(&t).unwrap());

    // `rampart convert` of the nginx.conf gives the TOML twin's model.
    let o = convert(&n);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let converted = model::parse_toml(&t, &String::from_utf8(o.stdout).unwrap()).unwrap();
    assert_eq!(converted, model::load(&t).unwrap());

    // ...and serve the same bytes.
    let a = start("nginx.conf", TWIN_NGINX, &be);
    let b = start("rampart.toml", TWIN_TOML, &be);
    let requests = [
        ("/r", 200, "from \"return\"\n"),
        ("/app/echo/x?q=1", 200, ""),
        ("/nothing-here", 404, "custom not found: /nf\n"),
        ("/moved", 301, ""),
    ];
    for (path, status, body) in requests {
        let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        // Absolute redirects name the listening port, which differs.
        let ra = without_date(&raw_all(a.addr(), req.as_bytes())).replace(&a.port.to_string(), "PORT");
        let rb = without_date(&raw_all(b.addr(), req.as_bytes())).replace(&b.port.to_string(), "PORT");
        assert_eq!(ra, rb, "{path}");
        assert!(ra.starts_with(&format!("HTTP/1.1 {status} ")), "{path}: {ra}");
        assert!(ra.ends_with(body), "{path}: {ra}");
        assert!(
            ra.contains("\r\nX-Level: server\r\n") || status != 200,
            "{path}: {ra}"
        );
    }
    let echo = get(a.addr(), "/app/echo/x");
    assert_eq!(echo.header("X-Backend"), Some("twin"));
    let sent = echo.header("X-Echo-Headers").unwrap_or_default().to_string();
    assert!(sent.contains("x-twin: a b"), "{sent}");
    assert!(sent.contains("host: localhost"), "{sent}");
}

/// The front tier's seed config, unchanged but for loopback addresses and a
/// temp prefix, starts and serves what the site relies on: media proxied to
/// nginx_server, `.js` with `Expires` one hour ahead, `/NginxStatus`
/// (stub_status), `/nstatus` (check_status), and `/50x.html` on a 502.
#[test]
fn seed_front_config_starts_and_serves() {
    let tmp = TempDir::new("seed-serve");
    let Some(path) = seed("seed-front-nginx.conf", tmp.path()) else {
        return;
    };
    let mut backend = Backend::start("media");
    // nginx_server is the one upstream this test talks to; the others stay on
    // loopback addresses where nothing listens (their checks just fail).
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("server 127.0.0.122:80;", &format!("server {};", backend.addr))
        .replace("/usr/wodm/", &format!("{}/wodm/", tmp.path().display()));
    std::fs::write(&path, text).unwrap();
    let conf_dir = tmp.path().join("conf");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/mime.types"),
        conf_dir.join("mime.types"),
    )
    .unwrap();
    let html = tmp.path().join("html");
    std::fs::create_dir_all(&html).unwrap();
    std::fs::create_dir_all(tmp.path().join("logs")).unwrap();
    std::fs::write(html.join("50x.html"), "sorry, try again\n").unwrap();
    std::fs::write(html.join("a.js"), "console.log(1);\n").unwrap();
    let port: u16 = std::fs::read_to_string(&path)
        .unwrap()
        .split("listen 127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split(';').next())
        .and_then(|p| p.parse().ok())
        .unwrap();
    let how = Launch {
        args: vec!["-g".into(), "daemon off;".into()],
        pid_file: Some(tmp.path().join("logs/nginx.pid")),
        quiet: true,
        ..Launch::default()
    };
    let r = Rampart::launch(TempDir::at(tmp.path()), port, path.clone(), &how);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));

    let png = get(addr, "/img/a.png");
    assert_eq!(png.status, 200);
    assert_eq!(
        png.header("x-backend"),
        Some("media"),
        "media is proxied to nginx_server"
    );

    let js = get(addr, "/a.js");
    assert_eq!((js.status, js.text().as_str()), (200, "console.log(1);\n"));
    assert_eq!(js.header("cache-control"), Some("max-age=3600"));
    let date = httpdate::parse_http_date(js.header("date").unwrap()).unwrap();
    let expires = httpdate::parse_http_date(js.header("expires").unwrap()).unwrap();
    assert_eq!(expires.duration_since(date).unwrap(), Duration::from_secs(3600));

    let st = get(addr, "/NginxStatus");
    assert_eq!(st.status, 200);
    assert!(st.text().starts_with("Active connections: "), "{}", st.text());
    assert!(st.text().contains("\nserver accepts handled requests\n"));

    let ck = get(addr, "/nstatus");
    assert_eq!(ck.status, 200);
    assert!(
        ck.text().contains("Nginx http upstream check status"),
        "{}",
        ck.text()
    );
    assert!(ck.text().contains("web_server"), "{}", ck.text());

    backend.kill();
    let down = get(addr, "/img/b.png");
    assert_eq!(down.status, 502);
    assert_eq!(down.text(), "sorry, try again\n", "error_page 502 → /50x.html");
    drop(r);
}
