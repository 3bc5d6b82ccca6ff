//! Differential test against Debian's nginx 1.22.1: `ip_hash` must send every
//! client address to the same peer as nginx does, over 2, 3 and 5 weighted
//! peers (with a `down` one in the last two, which keeps its slot). Clients
//! bind to distinct 127.x.y.z source addresses (all in 127.0.0.0/8); backends
//! report who they are in `X-Backend`. SKIPPED when /usr/sbin/nginx is
//! absent (a failure under CI=true).

mod common;
use common::*;

use std::io::{BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::time::Duration;

/// The reference nginx (the common harness) on `http` inside a single
/// process config, everything inside `dir`; returns once it accepts on `ports`.
fn start_nginx(dir: TempDir, http: &str, ports: &[u16]) -> Nginx {
    let d = dir.path().display().to_string();
    let conf = format!(
        "user root;\ndaemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
         error_log {d}/nginx-error.log;\nevents {{ worker_connections 1024; }}\n\
         http {{\n access_log off;\n client_body_temp_path {d}/cb;\n proxy_temp_path {d}/pt;\n\
         fastcgi_temp_path {d}/ft;\n uwsgi_temp_path {d}/ut;\n scgi_temp_path {d}/st;\n{http}\n}}\n"
    );
    let how = Launch {
        quiet: true,
        ..Launch::default()
    };
    let nginx = Nginx::start_in(dir, &conf, &how);
    for &p in ports {
        wait_for("nginx to listen", Duration::from_secs(10), || {
            TcpStream::connect(("127.0.0.1", p)).ok().map(|_| ())
        });
    }
    nginx
}

/// GET /id from source address `src`; returns the X-Backend value.
fn backend_for(proxy: SocketAddr, src: Ipv4Addr) -> String {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    sock.bind(&SocketAddr::V4(SocketAddrV4::new(src, 0)).into())
        .expect("bind source address");
    sock.connect_timeout(&proxy.into(), Duration::from_secs(5))
        .expect("connect");
    let mut s: TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /id HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let r = read_response(&mut BufReader::new(s), false).expect("response");
    assert_eq!(r.status, 200, "{src} via {proxy}");
    r.header("X-Backend").unwrap_or("?").to_string()
}

/// The client addresses: 240 distinct /24s spread over 127.0.0.0/8, plus a
/// few that share a /24 with another (must stick to the same peer).
fn clients() -> Vec<Ipv4Addr> {
    let mut v: Vec<Ipv4Addr> = (0u32..240)
        .map(|i| {
            Ipv4Addr::new(
                127,
                (1 + i * 7 % 254) as u8,
                (i * 53 % 256) as u8,
                (1 + i % 250) as u8,
            )
        })
        .collect();
    v.extend((2..10).map(|z| Ipv4Addr::new(127, 8, 53, z)));
    v
}

#[test]
fn ip_hash_matches_nginx() {
    if !require_nginx() {
        return;
    }
    let backends: Vec<Backend> = ["A", "B", "C", "D", "E"]
        .iter()
        .map(|id| Backend::start(id))
        .collect();
    let a = |i: usize| backends[i].addr.to_string();
    // (name, server lines) — the same lines for both proxies.
    let ups: Vec<(&str, Vec<String>)> = vec![
        (
            "u2",
            vec![format!("{} weight=1", a(0)), format!("{} weight=3", a(1))],
        ),
        (
            "u3",
            vec![
                format!("{} weight=2", a(0)),
                format!("{} weight=1 down", a(1)),
                format!("{}", a(2)),
            ],
        ),
        (
            "u5",
            vec![
                a(0),
                format!("{} weight=2", a(1)),
                a(2),
                format!("{} weight=3 down", a(3)),
                format!("{} weight=1", a(4)),
            ],
        ),
    ];

    let dir = TempDir::new("nginx-iphash");
    let nports: Vec<u16> = ups.iter().map(|_| free_port()).collect();
    let mut http = String::new();
    for ((name, lines), port) in ups.iter().zip(&nports) {
        http.push_str(&format!(" upstream {name} {{\n  ip_hash;\n"));
        for l in lines {
            http.push_str(&format!("  server {l};\n"));
        }
        http.push_str(" }\n");
        http.push_str(&format!(
            " server {{ listen 127.0.0.1:{port}; location / {{ proxy_pass http://{name}; }} }}\n"
        ));
    }
    let _nginx = start_nginx(dir, &http, &nports);

    let rports: Vec<u16> = ups.iter().map(|_| rampart_port()).collect();
    let mut toml = String::from("error_log = \"logs/error.log\"\n\n[http]\naccess_log = \"off\"\n\n");
    for (name, lines) in &ups {
        let list: Vec<String> = lines.iter().map(|l| format!("\"{l}\"")).collect();
        toml.push_str(&format!(
            "[http.upstream.{name}]\nbalance = \"ip_hash\"\nserver = [{}]\n\n",
            list.join(", ")
        ));
    }
    for ((name, _), port) in ups.iter().zip(&rports) {
        toml.push_str(&format!(
            "[[http.server]]\nlisten = [\"127.0.0.1:{port}\"]\n\n[[http.server.location]]\nmatch = \"/\"\nproxy_pass = \"http://{name}\"\n\n"
        ));
    }
    let _rampart = Rampart::start(&toml);
    for &p in &rports {
        wait_for("rampart to listen", Duration::from_secs(10), || {
            TcpStream::connect(("127.0.0.1", p)).ok().map(|_| ())
        });
    }

    let mut compared = 0;
    for (u, ((name, _), (np, rp))) in ups.iter().zip(nports.iter().zip(&rports)).enumerate() {
        let mut seen = std::collections::BTreeMap::new();
        for ip in clients() {
            let n = backend_for(SocketAddr::from(([127, 0, 0, 1], *np)), ip);
            let r = backend_for(SocketAddr::from(([127, 0, 0, 1], *rp)), ip);
            assert_eq!(r, n, "{name}: client {ip}: rampart chose {r}, nginx {n}");
            *seen.entry(n).or_insert(0) += 1;
            compared += 1;
        }
        // The down peer (B in u3, D in u5) never serves; every live peer does.
        let down = [None, Some("B"), Some("D")][u];
        if let Some(d) = down {
            assert!(!seen.contains_key(d), "{name}: down peer served: {seen:?}");
        }
        let live = [2, 2, 4][u];
        assert_eq!(seen.len(), live, "{name}: {seen:?}");
        eprintln!("{name}: {seen:?}");
    }
    assert!(compared >= 3 * 200);
}

/// GET /id?k=KEY; returns the X-Backend value.
fn backend_for_key(proxy: SocketAddr, key: &str) -> String {
    let r = request_id(proxy, &format!("/id?k={key}"));
    r.header("X-Backend").unwrap_or("?").to_string()
}

fn request_id(proxy: SocketAddr, path: &str) -> Resp {
    let mut s = connect(proxy);
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
        .unwrap();
    let r = read_response(&mut BufReader::new(s), false).expect("response");
    assert_eq!(r.status, 200, "{path} via {proxy}");
    r
}

#[test]
fn hash_and_consistent_hash_match_nginx() {
    if !require_nginx() {
        return;
    }
    let backends: Vec<Backend> = ["A", "B", "C", "D"].iter().map(|id| Backend::start(id)).collect();
    let a = |i: usize| backends[i].addr.to_string();
    let lines = vec![
        format!("{} weight=2", a(0)),
        a(1),
        format!("{} weight=3", a(2)),
        format!("{} down", a(3)),
    ];
    // (name, nginx method line, rampart balance)
    let methods = [
        ("h", "hash $arg_k;", "{ hash = \"$arg_k\" }"),
        (
            "c",
            "hash $arg_k consistent;",
            "{ hash = \"$arg_k\", consistent = true }",
        ),
    ];
    let dir = TempDir::new("nginx-hash");
    let nports: Vec<u16> = methods.iter().map(|_| free_port()).collect();
    let mut http = String::new();
    for ((name, m, _), port) in methods.iter().zip(&nports) {
        http.push_str(&format!(" upstream {name} {{\n  {m}\n"));
        for l in &lines {
            http.push_str(&format!("  server {l};\n"));
        }
        http.push_str(&format!(
            " }}\n server {{ listen 127.0.0.1:{port}; location / {{ proxy_pass http://{name}; }} }}\n"
        ));
    }
    let _nginx = start_nginx(dir, &http, &nports);
    let rports: Vec<u16> = methods.iter().map(|_| rampart_port()).collect();
    let mut toml = String::from("error_log = \"logs/error.log\"\n\n[http]\naccess_log = \"off\"\n\n");
    let list: Vec<String> = lines.iter().map(|l| format!("\"{l}\"")).collect();
    for (name, _, b) in &methods {
        toml.push_str(&format!(
            "[http.upstream.{name}]\nbalance = {b}\nserver = [{}]\n\n",
            list.join(", ")
        ));
    }
    for ((name, _, _), port) in methods.iter().zip(&rports) {
        toml.push_str(&format!(
            "[[http.server]]\nlisten = [\"127.0.0.1:{port}\"]\n\n[[http.server.location]]\nmatch = \"/\"\nproxy_pass = \"http://{name}\"\n\n"
        ));
    }
    let _rampart = Rampart::start(&toml);
    for (i, (name, _, _)) in methods.iter().enumerate() {
        let mut seen = std::collections::BTreeMap::new();
        for k in 0..200 {
            let key = format!("key{k}");
            let n = backend_for_key(SocketAddr::from(([127, 0, 0, 1], nports[i])), &key);
            let r = backend_for_key(SocketAddr::from(([127, 0, 0, 1], rports[i])), &key);
            assert_eq!(r, n, "{name}: key {key}: rampart chose {r}, nginx {n}");
            *seen.entry(n).or_insert(0) += 1;
        }
        assert!(!seen.contains_key("D"), "{name}: down peer served: {seen:?}");
        assert_eq!(seen.len(), 3, "{name}: {seen:?}");
        eprintln!("{name}: {seen:?}");
    }
}
