//! The ngx_http_proxy_module directives operators' configs carry:
//! `proxy_redirect` (differential against nginx 1.22.1 on the same
//! nginx.conf), `proxy_method`, `proxy_pass_request_headers`, `proxy_bind`,
//! `proxy_socket_keepalive`, and the buffering directives' checks.

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// An upstream that redirects: `Location` absolute (or relative for paths
/// containing `/rel`) and a `Refresh` with a URL, both naming its own address.
fn redirecting_upstream() -> RawUpstream {
    let me: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
    let me2 = me.clone();
    let up = RawUpstream::start(move |got| {
        if !got.windows(4).any(|w| w == b"\r\n\r\n") {
            return None;
        }
        let line = String::from_utf8_lossy(got.split(|&b| b == b'\r').next().unwrap_or_default()).to_string();
        let addr = me2.lock().ok()?.map(|a| a.to_string()).unwrap_or_default();
        let location = if line.contains("/rel") {
            "/app/rel".to_string()
        } else {
            format!("http://{addr}/app/x?y=1")
        };
        Some(
            format!(
                "HTTP/1.1 302 Found\r\nX-Before: 1\r\nLocation: {location}\r\nRefresh: 5; URL=http://{addr}/app/z\r\n\
                 X-After: 2\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            .into_bytes(),
        )
    });
    *me.lock().unwrap() = Some(up.addr);
    up
}

/// The http block both servers run: one location per kind of rule.
fn redirect_http_block(port: u16, up: SocketAddr) -> String {
    format!(
        r#"
http {{
    access_log off;
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        location /d/ {{ proxy_pass http://{up}; }}
        location /drel/ {{ proxy_pass http://{up}; }}
        location /u/ {{ proxy_pass http://{up}/app/; }}
        location /off/ {{ proxy_pass http://{up}; proxy_redirect off; }}
        location /offrel/ {{ proxy_pass http://{up}; proxy_redirect off; }}
        location /p/ {{ proxy_pass http://{up}; proxy_redirect http://{up}/app/ /new/; }}
        location /v/ {{ proxy_pass http://{up}; proxy_redirect http://$proxy_host/ $scheme://$host/v/; }}
        location /r/ {{ proxy_pass http://{up}; proxy_redirect ~^http://[^/]+/app/(.*)$ https://$host/re/$1; }}
        location /ri/ {{ proxy_pass http://{up}; proxy_redirect ~*^HTTP://[^/]+/APP/(x.*)$ /ci/$1; }}
        location /m/ {{
            proxy_pass http://{up};
            proxy_redirect http://nomatch/ /a/;
            proxy_redirect default;
        }}
        location /none/ {{ proxy_pass http://{up}; proxy_redirect http://nomatch/ /a/; }}
        location /nest/ {{
            proxy_pass http://{up}/app/;
            location /nest/in/ {{ proxy_pass http://{up}/app/in/; }}
        }}
        location /nestd/ {{
            proxy_pass http://{up}/app/;
            proxy_redirect default;
            location /nestd/in/ {{ proxy_pass http://{up}/app/in/; }}
        }}
        location /inh/ {{
            proxy_redirect http://{up}/ /outer/;
            location /inh/in/ {{ proxy_pass http://{up}; }}
            location /inh/off/ {{ proxy_pass http://{up}; proxy_redirect off; }}
        }}
    }}
}}
"#
    )
}

const REDIRECT_PATHS: &[&str] = &[
    "/d/a",
    "/drel/rel",
    "/u/a",
    "/off/a",
    "/offrel/rel",
    "/p/a",
    "/v/a",
    "/r/a",
    "/ri/a",
    "/m/a",
    "/none/a",
    "/inh/in/a",
    "/inh/off/a",
    "/nest/in/a",
    "/nestd/in/a",
];

/// Status and every header but Date, in order, with the server's port masked.
fn shape(addr: SocketAddr, path: &str) -> String {
    let r = raw(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    let mut out = format!("{}\n", r.status);
    for (n, v) in &r.headers {
        if n.eq_ignore_ascii_case("date") {
            continue;
        }
        out.push_str(&format!("{n}: {v}\n"));
    }
    out.replace(&format!(":{}", addr.port()), ":PORT")
}

/// Starts rampart on an nginx.conf whose `http` block `http(port)` makes.
fn rampart_on(tag: &str, http: impl Fn(u16) -> String) -> Rampart {
    let dir = TempDir::new(tag);
    let port = rampart_port();
    let conf = dir.path().join("nginx.conf");
    let text = format!(
        "daemon off;\npid logs/rampart.pid;\nerror_log logs/error.log info;\nevents {{}}\n{}",
        http(port)
    );
    std::fs::write(&conf, text).unwrap();
    Rampart::run_file(dir, port, conf)
}

#[test]
fn proxy_redirect_matches_nginx() {
    let up = redirecting_upstream();
    let r = rampart_on("redirect", |port| redirect_http_block(port, up.addr));

    // What rampart answers, spelled out for the main cases (independent of nginx).
    let p = |path: &str| shape(r.addr(), path);
    let up_s = up.addr.to_string();
    assert!(
        p("/d/a").contains("Location: http://example.test:PORT/app/x?y=1\n"),
        "{}",
        p("/d/a")
    );
    assert!(p("/d/a").contains("Refresh: 5; URL=/app/z\n"), "{}", p("/d/a"));
    assert!(
        p("/u/a").contains("Location: http://example.test:PORT/u/x?y=1\n"),
        "{}",
        p("/u/a")
    );
    assert!(p("/off/a").contains(&format!("Location: http://{up_s}/app/x?y=1\n")));
    assert!(p("/p/a").contains("Location: http://example.test:PORT/new/x?y=1\n"));
    assert!(p("/p/a").contains("Refresh: 5; URL=/new/z\n"));
    assert!(
        p("/v/a").contains("Location: http://example.test/v/app/x?y=1\n"),
        "{}",
        p("/v/a")
    );
    assert!(
        p("/r/a").contains("Location: https://example.test/re/x?y=1\n"),
        "{}",
        p("/r/a")
    );
    assert!(
        p("/ri/a").contains("Location: http://example.test:PORT/ci/x?y=1\n"),
        "{}",
        p("/ri/a")
    );
    assert!(p("/ri/a").contains(&format!("Refresh: 5; URL=http://{up_s}/app/z\n")));
    assert!(p("/inh/in/a").contains("Location: http://example.test:PORT/outer/app/x?y=1\n"));
    assert!(
        p("/drel/rel").contains("Location: /app/rel\n"),
        "{}",
        p("/drel/rel")
    );

    if !require_nginx() {
        return;
    }
    let nport = free_port();
    let at = std::path::Path::new("@DIR@");
    let text = format!(
        "{}{}",
        Nginx::preamble(at),
        redirect_http_block(nport, up.addr).replacen(
            "access_log off;",
            &format!("access_log off;\n{}", Nginx::temp_paths(at)),
            1
        )
    );
    let n = Nginx::start(&text);
    let naddr: SocketAddr = format!("127.0.0.1:{nport}").parse().unwrap();
    for path in REDIRECT_PATHS {
        assert_eq!(p(path), shape(naddr, path), "{path}");
    }
    drop(n);
}

/// Captures the request one connection sends, answers 200, and reports the peer address.
fn recording_upstream() -> (SocketAddr, std::sync::mpsc::Receiver<(SocketAddr, Vec<u8>)>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
            let peer = c.peer_addr().unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                match c.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            // Then the body its Content-Length announces, if it comes (with
            // `proxy_pass_request_body off` it does not: a short wait then).
            let head_end = got
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map_or(got.len(), |p| p + 4);
            let head = String::from_utf8_lossy(&got[..head_end]).to_ascii_lowercase();
            let want = head
                .lines()
                .find_map(|l| {
                    l.strip_prefix("content-length: ")
                        .and_then(|v| v.trim().parse::<usize>().ok())
                })
                .unwrap_or(0);
            let _ = c.set_read_timeout(Some(Duration::from_millis(300)));
            while got.len() < head_end + want {
                match c.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            // Keep the connection open a while when asked, so its socket can be inspected.
            if got.windows(5).any(|w| w == b"/hold") {
                std::thread::sleep(Duration::from_millis(1500));
            }
            let _ = c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
            if tx.send((peer, got)).is_err() {
                return;
            }
        }
    });
    (addr, rx)
}

#[test]
fn method_request_headers_and_bind() {
    let (up, rx) = recording_upstream();
    let r = Rampart::start(&config(
        "",
        &format!(
            "[[http.server.location]]\nmatch = \"/m/\"\nproxy_pass = \"http://{up}\"\nproxy_method = \"PROPFIND\"\n\n\
             [[http.server.location]]\nmatch = \"/mv/\"\nproxy_pass = \"http://{up}\"\nproxy_method = \"X$arg_m\"\n\n\
             [[http.server.location]]\nmatch = \"/noh/\"\nproxy_pass = \"http://{up}\"\nproxy_pass_request_headers = false\n\
             proxy_set_header = [[\"X-Kept\", \"$http_x_client\"]]\n\n\
             [[http.server.location]]\nmatch = \"/bind/\"\nproxy_pass = \"http://{up}\"\nproxy_bind = \"127.0.0.2\"\n\n\
             [[http.server.location]]\nmatch = \"/bindv/\"\nproxy_pass = \"http://{up}\"\nproxy_bind = \"$arg_b\"\n"
        ),
    ));
    let ask = |req: &str| {
        let resp = raw(r.addr(), req.as_bytes());
        let got = rx
            .recv_timeout(Duration::from_secs(5))
            .expect("upstream saw the request");
        (resp, got.0, String::from_utf8_lossy(&got.1).to_string())
    };
    let (resp, _, got) =
        ask("POST /m/x HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    assert_eq!(resp.status, 200);
    assert!(got.starts_with("PROPFIND /m/x HTTP/1.0\r\n"), "{got}");
    let (_, _, got) = ask("GET /mv/x?m=YZ HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    assert!(got.starts_with("XYZ /mv/x?m=YZ HTTP/1.0\r\n"), "{got}");

    let (_, _, got) =
        ask("GET /noh/x HTTP/1.1\r\nHost: h\r\nX-Client: c1\r\nUser-Agent: t\r\nConnection: close\r\n\r\n");
    assert!(got.contains("\r\nX-Kept: c1\r\n"), "{got}");
    assert!(got.contains(&format!("\r\nHost: {up}\r\n")), "{got}");
    assert!(!got.contains("User-Agent") && !got.contains("X-Client"), "{got}");

    let (resp, peer, _) = ask("GET /bind/x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    assert_eq!(resp.status, 200);
    assert_eq!(peer.ip().to_string(), "127.0.0.2");
    let (_, peer, _) = ask("GET /bindv/x?b=127.0.0.3 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    assert_eq!(peer.ip().to_string(), "127.0.0.3");
    // An empty value binds nothing: the default source address.
    let (_, peer, _) = ask("GET /bindv/x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    assert_eq!(peer.ip().to_string(), "127.0.0.1");
    // A value that is no address: 502 and an error-log line; the upstream sees nothing.
    let resp = raw(
        r.addr(),
        b"GET /bindv/x?b=nope HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(resp.status, 502);
    wait_log(&r, "error.log", "invalid local address \"nope\"");
}

/// `ss -o` shows a `keepalive` timer on sockets with SO_KEEPALIVE.
fn keepalive_timer_to(port: u16) -> Option<bool> {
    let out = std::process::Command::new("ss")
        .args([
            "-tnoH",
            "state",
            "established",
            "dst",
            &format!("127.0.0.1:{port}"),
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    (!text.trim().is_empty()).then(|| text.contains("keepalive"))
}

#[test]
fn socket_keepalive_sets_so_keepalive() {
    let (up, rx) = recording_upstream();
    let r = Rampart::start(&config(
        "",
        &format!(
            "[[http.server.location]]\nmatch = \"/ka/\"\nproxy_pass = \"http://{up}\"\nproxy_socket_keepalive = true\n\n\
             [[http.server.location]]\nmatch = \"/plain/\"\nproxy_pass = \"http://{up}\"\n"
        ),
    ));
    for (path, want) in [("/ka/hold", true), ("/plain/hold", false)] {
        let addr = r.addr();
        let path2 = path.to_string();
        let t = std::thread::spawn(move || {
            raw(
                addr,
                format!("GET {path2} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n").as_bytes(),
            )
        });
        // While the upstream holds the request, rampart's socket to it is open.
        let seen = wait_for("rampart's upstream socket", Duration::from_secs(5), || {
            keepalive_timer_to(up.port())
        });
        assert_eq!(seen, want, "{path}");
        assert_eq!(t.join().unwrap().status, 200);
        rx.recv_timeout(Duration::from_secs(5)).unwrap();
    }
}

fn check(name: &str, text: &str) -> CmdOut {
    let dir = TempDir::new("check");
    let conf = dir.path().join(name);
    std::fs::write(&conf, text).unwrap();
    rampart_cmd(&[
        "-t".as_ref(),
        "-p".as_ref(),
        dir.path().as_os_str(),
        "-c".as_ref(),
        conf.as_os_str(),
    ])
}

#[test]
fn config_checks_worded_as_nginx() {
    let nginx = |loc: &str| {
        format!("events {{}}\nhttp {{\n server {{\n  listen 127.0.0.1:1;\n  location / {{\n   {loc}\n  }}\n }}\n}}\n")
    };
    let cases: &[(&str, &str)] = &[
        ("proxy_redirect default; proxy_pass http://127.0.0.1:9;", "\"proxy_redirect default\" should be placed after the \"proxy_pass\" directive in"),
        ("proxy_pass http://127.0.0.1:9; proxy_redirect default; proxy_redirect off;", "\"proxy_redirect\" directive is duplicate in"),
        ("proxy_pass http://127.0.0.1:9; proxy_redirect on;", "invalid parameter \"on\""),
        ("proxy_pass http://$host:9; proxy_redirect default;", "\"proxy_redirect default\" cannot be used with \"proxy_pass\" directive with variables"),
        ("proxy_pass http://127.0.0.1:9; proxy_redirect ~(x /;", "proxy_redirect"),
        ("proxy_pass http://127.0.0.1:9; proxy_buffers 2 4k;", "\"proxy_busy_buffers_size\" must be less than the size of all \"proxy_buffers\" minus one buffer"),
        ("proxy_pass http://127.0.0.1:9; proxy_buffers 1 4k;", "there must be at least 2 \"proxy_buffers\""),
        ("proxy_pass http://127.0.0.1:9; proxy_buffers 8 x;", "\"proxy_buffers\" directive invalid value"),
        ("proxy_pass http://127.0.0.1:9; proxy_max_temp_file_size 1k;", "\"proxy_max_temp_file_size\" must be equal to zero"),
        ("proxy_pass http://127.0.0.1:9; proxy_buffering maybe;", "invalid value \"maybe\" in \"proxy_buffering\" directive, it must be \"on\" or \"off\""),
        ("proxy_pass http://127.0.0.1:9; proxy_bind 127.0.0.2 transparent;", "transparent"),
        ("proxy_pass http://127.0.0.1:9; proxy_bind nohost;", "invalid address \"nohost\""),
    ];
    for (loc, msg) in cases {
        let out = check("nginx.conf", &nginx(loc));
        assert_eq!(out.code, Some(1), "{loc}: {}", out.stderr);
        assert!(out.stderr.contains(msg), "{loc}: {}", out.stderr);
        assert!(out.stderr.contains("nginx.conf:"), "{loc}: {}", out.stderr);
    }
    // A real-world location: every directive accepted together.
    let out = check(
        "nginx.conf",
        &nginx(
            "proxy_pass http://127.0.0.1:9; proxy_redirect off; proxy_buffering off; proxy_request_buffering off;\n\
             proxy_buffers 16 8k; proxy_busy_buffers_size 16k; proxy_max_temp_file_size 0;\n\
             proxy_temp_file_write_size 16k; proxy_socket_keepalive on; proxy_bind off; proxy_method GET;\n\
             proxy_pass_request_headers on;",
        ),
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);

    // The TOML front end: the same checks, at the level's line.
    let toml = |extra: &str| {
        config(
            "",
            &format!(
                "[[http.server.location]]\nmatch = \"/\"\nproxy_pass = \"http://127.0.0.1:9\"\n{extra}\n"
            ),
        )
        .replace("@PORT@", "1")
    };
    let cases: &[(&str, &str)] = &[
        (
            "proxy_redirect = [[\"default\"], [\"off\"]]",
            "\"proxy_redirect\" directive is duplicate",
        ),
        ("proxy_redirect = [[\"x\", \"$nosuchvar\"]]", "nosuchvar"),
        (
            "proxy_buffers = \"1 4k\"",
            "there must be at least 2 \"proxy_buffers\"",
        ),
        ("proxy_bind = \"x.y\"", "invalid address \"x.y\""),
    ];
    for (extra, msg) in cases {
        let out = check("rampart.toml", &toml(extra));
        assert_eq!(out.code, Some(1), "{extra}: {}", out.stderr);
        assert!(out.stderr.contains(msg), "{extra}: {}", out.stderr);
    }
    let out = check(
        "rampart.toml",
        &config("proxy_redirect = [[\"default\"]]", "").replace("@PORT@", "1"),
    );
    assert!(
        out.stderr
            .contains("should be placed after the \"proxy_pass\" directive"),
        "{}",
        out.stderr
    );
    let out = check(
        "rampart.toml",
        &config(
            "",
            "[[http.server.location]]\nmatch = \"/\"\nproxy_pass = \"http://$host:9\"\nproxy_redirect = [[\"default\"]]\n",
        )
        .replace("@PORT@", "1"),
    );
    assert!(
        out.stderr
            .contains("cannot be used with \"proxy_pass\" directive with variables"),
        "{}",
        out.stderr
    );
}

/// The http block for the upstream-request differential.
fn request_http_block(port: u16, up: SocketAddr) -> String {
    format!(
        r#"
http {{
    access_log off;
    server {{
        listen 127.0.0.1:{port};
        location /nb/ {{ proxy_pass http://{up}; proxy_pass_request_body off; }}
        location /nbcl/ {{ proxy_pass http://{up}; proxy_pass_request_body off; proxy_set_header Content-Length ""; }}
        location /sb/ {{ proxy_pass http://{up}; proxy_set_body "x=$request_body&m=$request_method"; }}
        location /sbnb/ {{ proxy_pass http://{up}; proxy_set_body "abc"; proxy_pass_request_body off; }}
        location /sbe/ {{ proxy_pass http://{up}; proxy_set_body $arg_none; }}
        location /m/ {{ proxy_pass http://{up}; proxy_method PUT; }}
        location /noh/ {{ proxy_pass http://{up}; proxy_pass_request_headers off; proxy_set_header X-K $http_x_c; }}
    }}
}}
"#
    )
}

#[test]
fn upstream_request_matches_nginx() {
    if !require_nginx() {
        return;
    }
    let (up, rx) = recording_upstream();
    let r = rampart_on("upreq", |port| request_http_block(port, up));
    let nport = free_port();
    let at = std::path::Path::new("@DIR@");
    let n = Nginx::start(&format!(
        "{}{}",
        Nginx::preamble(at),
        request_http_block(nport, up).replacen(
            "access_log off;",
            &format!("access_log off;\n{}", Nginx::temp_paths(at)),
            1
        )
    ));
    let naddr: SocketAddr = format!("127.0.0.1:{nport}").parse().unwrap();
    let requests: &[&str] = &[
        "POST /nb/x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
        "POST /nb/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "POST /nbcl/x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
        "GET /nb/x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        "POST /sb/x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
        "GET /sb/x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        "POST /sbnb/x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
        "POST /sbe/x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
        "POST /m/x HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
        "GET /noh/x HTTP/1.1\r\nHost: h\r\nX-C: c1\r\nAccept: */*\r\nConnection: close\r\n\r\n",
    ];
    // The upstream reads until a short idle gap, so a body sent after the head is included.
    let upstream_saw = |addr: SocketAddr, req: &str| {
        let resp = raw(addr, req.as_bytes());
        assert_eq!(resp.status, 200, "{req}");
        let (_, got) = rx.recv_timeout(Duration::from_secs(5)).expect("upstream request");
        String::from_utf8_lossy(&got).to_string()
    };
    for req in requests {
        let ours = upstream_saw(r.addr(), req);
        let theirs = upstream_saw(naddr, req);
        assert_eq!(ours, theirs, "{req}");
    }
    assert!(upstream_saw(r.addr(), requests[4]).ends_with("\r\n\r\nx=hello&m=POST"));
    drop(n);
}

fn cookie_http_block(port: u16, up: SocketAddr) -> String {
    format!(
        r#"
http {{
    access_log off;
    server {{
        listen 127.0.0.1:{port};
        proxy_cookie_path /app/ /srv/;
        location /cd/ {{ proxy_pass http://{up}; proxy_cookie_domain .internal.test $host; proxy_cookie_path /app/ /; }}
        location /cr/ {{
            proxy_pass http://{up};
            proxy_cookie_domain ~^\.?(.*)\.internal$ $1.example;
            proxy_cookie_path ~*^/APP(/.*)$ $1;
        }}
        location /cin/ {{ proxy_pass http://{up}; }}
        location /coff/ {{ proxy_pass http://{up}; proxy_cookie_path off; }}
    }}
}}
"#
    )
}

#[test]
fn proxy_cookie_rewrites_match_nginx() {
    let up = RawUpstream::canned(
        b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1; Domain=.Internal.test; Path=/app/x; HttpOnly\r\n\
          Set-Cookie: b=2;path=/app/;  domain=internal.test  ;Secure\r\nSet-Cookie: c=3; Path=/other\r\n\
          Set-Cookie: noeq; Path=/app/\r\nSet-Cookie: d=4; Domain=x.internal; Path=/apps\r\n\
          Content-Length: 0\r\nConnection: close\r\n\r\n",
    );
    let r = rampart_on("cookie", |port| cookie_http_block(port, up.addr));
    let cookies = |addr: SocketAddr, path: &str| -> Vec<String> {
        let resp = raw(
            addr,
            format!("GET {path} HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        resp.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
            .map(|(_, v)| v.clone())
            .collect()
    };
    let cd = cookies(r.addr(), "/cd/x");
    assert_eq!(cd[0], "a=1; Domain=.example.test; Path=/x; HttpOnly");
    assert_eq!(cd[1], "b=2; path=/; domain=example.test; Secure");
    assert_eq!(cd[2], "c=3; Path=/other");
    assert_eq!(cd[3], "noeq; Path=/app/");
    let cr = cookies(r.addr(), "/cr/x");
    assert_eq!(cr[4], "d=4; Domain=x.example; Path=/apps");
    assert_eq!(
        cookies(r.addr(), "/cin/x")[0],
        "a=1; Domain=.Internal.test; Path=/srv/x; HttpOnly"
    );
    assert_eq!(
        cookies(r.addr(), "/coff/x")[0],
        "a=1; Domain=.Internal.test; Path=/app/x; HttpOnly"
    );

    if !require_nginx() {
        return;
    }
    let nport = free_port();
    let at = std::path::Path::new("@DIR@");
    let n = Nginx::start(&format!(
        "{}{}",
        Nginx::preamble(at),
        cookie_http_block(nport, up.addr).replacen(
            "access_log off;",
            &format!("access_log off;\n{}", Nginx::temp_paths(at)),
            1
        )
    ));
    let naddr: SocketAddr = format!("127.0.0.1:{nport}").parse().unwrap();
    for path in ["/cd/x", "/cr/x", "/cin/x", "/coff/x"] {
        assert_eq!(cookies(r.addr(), path), cookies(naddr, path), "{path}");
    }
    drop(n);
}

/// An upstream that reads a request head and never answers; reports whether
/// the proxy closed the connection within `limit`.
type Verdicts = (std::sync::mpsc::Receiver<()>, std::sync::mpsc::Receiver<bool>);

fn silent_upstream(limit: Duration) -> (SocketAddr, Verdicts) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let (arrived_tx, arrived) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            let _ = c.set_read_timeout(Some(limit));
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            let closed = loop {
                match c.read(&mut buf) {
                    Ok(0) => break true,
                    Ok(n) => {
                        got.extend_from_slice(&buf[..n]);
                        if got.windows(4).any(|w| w == b"\r\n\r\n") {
                            let _ = arrived_tx.send(());
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
                    Err(_) => break false,
                }
            };
            let _ = c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            if tx.send(closed).is_err() {
                return;
            }
        }
    });
    (addr, (arrived, rx))
}

#[test]
fn client_abort_closes_the_upstream_unless_ignored() {
    let (up, (arrived, rx)) = silent_upstream(Duration::from_millis(1500));
    let r = Rampart::start(&config(
        "",
        &format!(
            "[[http.server.location]]\nmatch = \"/wait/\"\nproxy_pass = \"http://{up}\"\n\n\
             [[http.server.location]]\nmatch = \"/ignore/\"\nproxy_pass = \"http://{up}\"\nproxy_ignore_client_abort = true\n"
        ),
    ));
    for (path, closed) in [("/wait/x", true), ("/ignore/x", false)] {
        let mut c = connect(r.addr());
        c.write_all(format!("GET {path} HTTP/1.1\r\nHost: h\r\n\r\n").as_bytes())
            .unwrap();
        // Once the request reached the upstream, go away.
        arrived
            .recv_timeout(Duration::from_secs(5))
            .expect("request at the upstream");
        drop(c);
        let seen = rx.recv_timeout(Duration::from_secs(5)).expect("upstream verdict");
        assert_eq!(seen, closed, "{path}");
    }
    let log = wait_log(&r, "access.log", "GET /wait/x HTTP/1.1\" 499 ");
    assert!(log.contains("\"GET /wait/x HTTP/1.1\" 499 "), "{log}");
    wait_log(
        &r,
        "error.log",
        "client prematurely closed connection, so upstream connection is closed too",
    );
}
