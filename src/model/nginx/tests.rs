//! Mapping tests: nginx.conf text → the model, compared with the same config
//! written in TOML, and the errors nginx 1.22.1 prints for bad directives.

use super::*;
use crate::model::parse_toml;
use std::path::PathBuf;

fn conf(src: &str) -> Report {
    analyze_str(&PathBuf::from("/t/nginx.conf"), src)
}

fn ok(src: &str) -> Config {
    let r = conf(src);
    if let Some(e) = r.error {
        panic!("{src}\n=> {e}");
    }
    r.config
}

#[test]
fn maps_like_the_toml_twin() {
    let nginx = r#"
worker_processes auto;
worker_rlimit_nofile 65535;
worker_shutdown_timeout 10s;
error_log logs/error.log notice;
pid logs/x.pid;
events { worker_connections 1024; }
http {
    default_type text/plain;
    keepalive_timeout 65;
    client_max_body_size 8m;
    large_client_header_buffers 4 16k;
    merge_slashes off;
    log_format main '$remote_addr "$request" '
                    '$status';
    log_format j escape=json '{"s":"$status"}';
    access_log logs/access.log main;
    error_page 502 504 /down;
    upstream backend {
        server 127.0.0.1:9001 weight=2;
        server 127.0.0.1:9002 backup;
    }
    server {
        listen 127.0.0.1:8080 default_server;
        server_name localhost "" *.example.com;
        server_name extra;
        add_header X-A "a b";
        add_header X-B b always;
        location = / { return 200 "hi\n"; }
        location /app/ {
            proxy_pass http://backend/;
            proxy_set_header Host $host;
            proxy_set_header X-F ${proxy_add_x_forwarded_for};
            proxy_http_version 1.1;
            proxy_intercept_errors on;
            error_page 404 =200 /nf;
            error_page 500 = @x;
            access_log off;
            location ~* \.(gif|png)$ { internal; }
        }
        location ^~ /s { return https://example.com; }
        location @x { return 404; }
    }
    server { return 444; }
}
"#;
    let toml = r#"
worker_processes = "auto"
worker_rlimit_nofile = 65535
worker_shutdown_timeout = "10s"
error_log = "logs/error.log notice"
pid = "logs/x.pid"
[events]
worker_connections = 1024
[http]
default_type = "text/plain"
keepalive_timeout = "65s"
client_max_body_size = "8m"
large_client_header_buffers = "4 16k"
merge_slashes = false
access_log = "logs/access.log main"
error_page = [{ codes = [502, 504], page = "/down" }]
[http.log_format]
main = '$remote_addr "$request" $status'
j = { escape = "json", format = '{"s":"$status"}' }
[http.upstream.backend]
server = ["127.0.0.1:9001 weight=2", "127.0.0.1:9002 backup"]
[[http.server]]
listen = ["127.0.0.1:8080 default_server"]
server_name = ["localhost", "", "*.example.com", "extra"]
add_header = [["X-A", "a b"], ["X-B", "b", "always"]]
[[http.server.location]]
match = "= /"
return = [200, "hi\n"]
[[http.server.location]]
match = "/app/"
proxy_pass = "http://backend/"
proxy_set_header = [["Host", "$host"], ["X-F", "${proxy_add_x_forwarded_for}"]]
proxy_http_version = "1.1"
proxy_intercept_errors = true
error_page = [{ codes = [404], page = "/nf", status = 200 }, { codes = [500], page = "@x", status = "=" }]
access_log = "off"
[[http.server.location.location]]
match = '~* \.(gif|png)$'
internal = true
[[http.server.location]]
match = "^~ /s"
return = "https://example.com"
[[http.server.location]]
match = "@x"
return = 404
[[http.server]]
return = 444
"#;
    let from_nginx = ok(nginx);
    let from_toml = parse_toml(&PathBuf::from("/t/r.toml"), toml).unwrap();
    assert_eq!(from_nginx, from_toml);
    // Lines are kept for errors found later (Located compares values only).
    let s = &from_nginx.http.server[0];
    assert_eq!(s.listen[0].line, 24);
    assert_eq!(s.location[1].match_.line, 30);
    assert_eq!(from_nginx.http.upstream["backend"].server[1].line, 21);
}

#[test]
fn repeated_lists_append_and_stay_per_level() {
    let c = ok("events{} http { proxy_set_header A x; proxy_set_header B y;
        server { proxy_set_header C z; location / { } } }");
    let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(
        c.http.proxy.proxy_set_header.map(|l| l.value),
        Some(vec![pair("A", "x"), pair("B", "y")])
    );
    assert_eq!(
        c.http.server[0].proxy.proxy_set_header.clone().map(|l| l.value),
        Some(vec![pair("C", "z")])
    );
    assert_eq!(c.http.server[0].location[0].proxy.proxy_set_header, None);
    let c = ok("events{} http { access_log a.log; access_log b.log main; }");
    assert_eq!(
        c.http.access_log.map(|l| l.value),
        Some(AccessLogDef::Many(vec!["a.log".into(), "b.log main".into()]))
    );
}

use crate::model::AccessLogDef;

#[test]
fn errors_worded_as_nginx() {
    // (config, message as nginx 1.22.1 prints it before " in FILE:LINE", line)
    let cases: &[(&str, &str, usize)] = &[
        ("events{} http { foo 1; }", "unknown directive \"foo\"", 1),
        (
            "events{}\nhttp {\n listen 80; }",
            "\"listen\" directive is not allowed here",
            3,
        ),
        (
            "events{} http { proxy_pass x; }",
            "\"proxy_pass\" directive is not allowed here",
            1,
        ),
        (
            "events{} http { server { location / { client_header_buffer_size 1k; } } }",
            "\"client_header_buffer_size\" directive is not allowed here",
            1,
        ),
        (
            "worker_connections 1; events{}",
            "\"worker_connections\" directive is not allowed here",
            1,
        ),
        (
            "events{} http { server { internal; } }",
            "\"internal\" directive is not allowed here",
            1,
        ),
        (
            "events{} http { server { location / { internal 1; } } }",
            "invalid number of arguments in \"internal\" directive",
            1,
        ),
        (
            "events{} http { server { return; } }",
            "invalid number of arguments in \"return\" directive",
            1,
        ),
        (
            "events{} http { server { return a b c; } }",
            "invalid number of arguments in \"return\" directive",
            1,
        ),
        (
            "events{} http { server { location {} } }",
            "invalid number of arguments in \"location\" directive",
            1,
        ),
        (
            "events{} http { server; }",
            "directive \"server\" has no opening \"{\"",
            1,
        ),
        (
            "events{} http { server { listen 80 {\n } } }",
            "directive \"listen\" is not terminated by \";\"",
            1,
        ),
        (
            "events{} http { client_max_body_size 8x; }",
            "\"client_max_body_size\" directive invalid value",
            1,
        ),
        (
            "events{} http { keepalive_timeout 1x; }",
            "\"keepalive_timeout\" directive invalid value",
            1,
        ),
        (
            "events{} http { keepalive_requests x; }",
            "\"keepalive_requests\" directive invalid number",
            1,
        ),
        (
            "events{} http { merge_slashes x; }",
            "invalid value \"x\" in \"merge_slashes\" directive, it must be \"on\" or \"off\"",
            1,
        ),
        (
            "events{} http { proxy_http_version 2; }",
            "invalid value \"2\"",
            1,
        ),
        ("events{} http { server_tokens x; }", "invalid value \"x\"", 1),
        (
            "events{} http { client_max_body_size 1m;\n client_max_body_size 2m; }",
            "\"client_max_body_size\" directive is duplicate",
            2,
        ),
        ("events{} events{}", "\"events\" directive is duplicate", 1),
        ("events{} http{} http{}", "\"http\" directive is duplicate", 1),
        ("pid a; pid b; events{}", "\"pid\" directive is duplicate", 1),
        (
            "worker_processes x; events{}",
            "\"worker_processes\" directive invalid value",
            1,
        ),
        (
            "worker_rlimit_nofile x; events{}",
            "\"worker_rlimit_nofile\" directive invalid number",
            1,
        ),
        ("events { worker_connections x; }", "invalid number \"x\"", 1),
        (
            "events{} http { server { return 30x; } }",
            "invalid return code \"30x\"",
            1,
        ),
        (
            "events{} http { server { return 1000; } }",
            "invalid return code \"1000\"",
            1,
        ),
        (
            "events{} http { server { error_page 200 /x; } }",
            "value \"200\" must be between 300 and 599",
            1,
        ),
        (
            "events{} http { server { error_page abc /x; } }",
            "invalid value \"abc\"",
            1,
        ),
        (
            "events{} http { server { error_page 404 =abc /x; } }",
            "invalid value \"=abc\"",
            1,
        ),
        (
            "events{} http { server { add_header A b c; } }",
            "invalid parameter \"c\"",
            1,
        ),
        (
            "events{} http { access_log off foo; }",
            "invalid parameter \"foo\"",
            1,
        ),
        (
            "events{} http { server { location ^^ /a {} } }",
            "invalid location modifier \"^^\"",
            1,
        ),
        (
            "events{} http { upstream u { server 1.2.3.4; }\n upstream u { server 1.2.3.4; } }",
            "duplicate upstream \"u\"",
            2,
        ),
        (
            "events{} http { upstream u {\n}\n}",
            "no servers are inside upstream",
            2,
        ),
        (
            "events{} http { upstream u { foo; } }",
            "unknown directive \"foo\"",
            1,
        ),
        (
            "events{} http { upstream u { listen 80; } }",
            "\"listen\" directive is not allowed here",
            1,
        ),
        (
            "events{} http { log_format a escape=foo x; }",
            "unknown log format escaping \"foo\"",
            1,
        ),
        (
            "events{} http { log_format combined x; }",
            "duplicate \"log_format\" name \"combined\"",
            1,
        ),
        (
            "events{} http { log_format a x; log_format a y; }",
            "duplicate \"log_format\" name \"a\"",
            1,
        ),
        (
            "events{} http { large_client_header_buffers x 8k; }",
            "\"large_client_header_buffers\" directive invalid value",
            1,
        ),
        (
            "events{} http { server { location / { proxy_pass a; proxy_pass b; } } }",
            "\"proxy_pass\" directive is duplicate",
            1,
        ),
        ("http { }", "no \"events\" section in configuration", 0),
        // Syntax errors, and the first error in file order wins.
        ("events{} http { server { listen 80; } } }", "unexpected \"}\"", 1),
        (
            "events{} http {\n server {\n",
            "unexpected end of file, expecting \"}\"",
            3,
        ),
        (
            "events{} http { server \"a",
            "unexpected end of file, expecting \";\" or \"}\"",
            1,
        ),
        ("events{} http { foo; }\n}", "unknown directive \"foo\"", 1),
        ("events{} http { server { \"a\"b; }", "unexpected \"b\"", 1),
        // Not implemented yet, and FastCGI.
        (
            "events{} http { autoindex on; }",
            "\"autoindex\" directive is not implemented yet",
            1,
        ),
        (
            "events{} http { upstream u { random; server a; } }",
            "\"random\" directive is not implemented yet",
            1,
        ),
        (
            "events{} http { server { location / { fastcgi_pass x; } } }",
            "\"fastcgi_pass\" directive is not supported (rampart has no FastCGI)",
            1,
        ),
    ];
    for (src, msg, line) in cases {
        let e = conf(src).error.unwrap_or_else(|| panic!("{src:?} must fail"));
        assert_eq!(
            (e.to_string().as_str(), e.line),
            (
                format!(
                    "{msg} in /t/nginx.conf{}",
                    if *line > 0 {
                        format!(":{line}")
                    } else {
                        String::new()
                    }
                )
                .as_str(),
                *line
            ),
            "{src:?}"
        );
    }
}

#[test]
fn ignored_and_not_implemented_are_all_listed() {
    let r = conf(
        "events { use epoll; }\nhttp {\n sendfile on;\n autoindex on;\n fastcgi_read_timeout 300;\n server {\n  root /x;\n  location / { expires 1h; }\n }\n}",
    );
    let list = |v: &[ConfigError]| {
        v.iter()
            .map(|e| format!("{}:{}", e.message, e.line))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        list(&r.not_implemented),
        ["\"autoindex\" directive is not implemented yet:4",]
    );
    assert_eq!(
        list(&r.ignored),
        [
            "\"use\" directive is ignored: it has no meaning in rampart:1",
            "\"sendfile\" directive is ignored: it has no meaning in rampart:3",
            "\"fastcgi_read_timeout\" directive is ignored: it has no meaning in rampart:5",
        ]
    );
    assert_eq!(r.error.map(|e| e.line), Some(4));
}

#[test]
fn rewrite_module_and_rest3_settings_map_like_the_toml_twin() {
    let nginx = r#"
events {}
http {
    limit_rate 10k;
    keepalive_disable none;
    client_body_buffer_size 16k;
    client_body_in_file_only clean;
    client_body_in_single_buffer on;
    server {
        listen 127.0.0.1:8080;
        absolute_redirect off;
        rewrite ^/old/(.*)$ /new/$1 permanent;
        set $s 1;
        location / {
            limit_rate_after 1m;
            port_in_redirect off;
            server_name_in_redirect on;
            return 200 "first";
            rewrite ^ /x last;
            break;
        }
        location /only-return { return 404; }
        location /p { proxy_pass http://$host:81$request_uri; }
    }
}
"#;
    let toml = r#"
[http]
limit_rate = "10k"
keepalive_disable = ["none"]
client_body_buffer_size = "16k"
client_body_in_file_only = "clean"
client_body_in_single_buffer = true
[[http.server]]
listen = ["127.0.0.1:8080"]
absolute_redirect = false
rewrite = [{ rewrite = ["^/old/(.*)$", "/new/$1", "permanent"] }, { set = ["$s", "1"] }]
[[http.server.location]]
match = "/"
limit_rate_after = "1m"
port_in_redirect = false
server_name_in_redirect = true
rewrite = [{ return = [200, "first"] }, { rewrite = ["^", "/x", "last"] }, { break = true }]
[[http.server.location]]
match = "/only-return"
return = 404
[[http.server.location]]
match = "/p"
proxy_pass = "http://$host:81$request_uri"
"#;
    let from_nginx = ok(nginx);
    let from_toml = parse_toml(&PathBuf::from("/t/r.toml"), toml).unwrap();
    assert_eq!(from_nginx, from_toml);
    // Script steps keep their own lines for errors found at load.
    let loc = &from_nginx.http.server[0].location[0];
    assert_eq!(
        loc.rewrite.iter().map(|s| s.line).collect::<Vec<_>>(),
        vec![18, 19, 20]
    );
    assert!(loc.return_.is_none());
}

#[test]
fn rewrite_module_errors_worded_as_nginx() {
    let cases: &[(&str, &str)] = &[
        ("rewrite ^ /x stop;", "invalid parameter \"stop\""),
        (
            "rewrite ^;",
            "invalid number of arguments in \"rewrite\" directive",
        ),
        ("set x 1;", "invalid variable name \"x\""),
        ("set $x;", "invalid number of arguments in \"set\" directive"),
        ("break 1;", "invalid number of arguments in \"break\" directive"),
        ("keepalive_disable msie7;", "invalid value \"msie7\""),
        ("client_body_in_file_only maybe;", "invalid value \"maybe\""),
        ("absolute_redirect yes;", "it must be \"on\" or \"off\""),
        ("limit_rate fast;", "\"limit_rate\" directive invalid value"),
    ];
    for (d, want) in cases {
        let src = format!("events{{}} http {{ server {{ location / {{ {d} }} }} }}");
        let r = conf(&src);
        let e = r.error.unwrap_or_else(|| panic!("{d} must fail"));
        assert!(e.message.contains(want), "{d}: {}", e.message);
    }
    // `if` stays "not implemented yet".
    let r = conf("events{} http { server { if ($uri) { return 404; } } }");
    assert_eq!(
        r.not_implemented.first().map(|e| e.message.as_str()),
        Some("\"if\" directive is not implemented yet")
    );
}

/// The graceful-drain directives (rampart's own, issue 8): `drain_grace_time`
/// (main), `listen ... health_probe` and the `health_probe` location handler
/// read the same from nginx.conf as from rampart.toml, and are compiled into
/// the main settings, the listener flag and the handler.
#[test]
fn drain_directives_map_like_the_toml_twin() {
    let nginx = r#"
worker_shutdown_timeout 30s;
drain_grace_time 10s;
error_log stderr;
events {}
http {
    access_log off;
    server {
        listen 127.0.0.1:8080 proxy_protocol;
        listen 127.0.0.1:8081 health_probe;
        location = /healthz { health_probe; }
        location / { return 200 "$draining"; }
    }
}
"#;
    let toml = r#"
worker_shutdown_timeout = "30s"
drain_grace_time = "10s"
error_log = "stderr"
[http]
access_log = "off"
[[http.server]]
listen = ["127.0.0.1:8080 proxy_protocol", "127.0.0.1:8081 health_probe"]
[[http.server.location]]
match = "= /healthz"
health_probe = true
[[http.server.location]]
match = "/"
return = [200, "$draining"]
"#;
    let from_nginx = ok(nginx);
    let from_toml = parse_toml(&PathBuf::from("/t/r.toml"), toml).unwrap();
    assert_eq!(from_nginx, from_toml);
    assert_eq!(
        from_nginx.drain_grace_time.map(|d| d.0),
        Some(std::time::Duration::from_secs(10))
    );
    let snap = crate::runtime::compile(&from_toml, &PathBuf::from("/t/r.toml"), &PathBuf::from("/t"), 1)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(snap.main.drain_grace, std::time::Duration::from_secs(10));
    let probe: Vec<(u16, bool)> = snap
        .listeners
        .iter()
        .map(|l| (l.opts.addr.port(), l.opts.health_probe))
        .collect();
    assert_eq!(probe, [(8080, false), (8081, true)]);
    // Unset: no grace, as nginx (stop accepting at once).
    let plain = parse_toml(&PathBuf::from("/t/r.toml"), "error_log = \"stderr\"\n[http]\naccess_log = \"off\"\n[[http.server]]\nlisten = [\"127.0.0.1:8080\"]\n").unwrap();
    let snap = crate::runtime::compile(&plain, &PathBuf::from("/t/r.toml"), &PathBuf::from("/t"), 1).unwrap();
    assert!(snap.main.drain_grace.is_zero());
    // A wildcard socket that serves a flagged specific address is the probe socket.
    let wild = parse_toml(
        &PathBuf::from("/t/r.toml"),
        "error_log = \"stderr\"\n[http]\naccess_log = \"off\"\n[[http.server]]\nlisten = [\"8082\"]\n[[http.server]]\nlisten = [\"127.0.0.1:8082 health_probe\"]\n",
    )
    .unwrap();
    let snap = crate::runtime::compile(&wild, &PathBuf::from("/t/r.toml"), &PathBuf::from("/t"), 1).unwrap();
    assert_eq!(snap.listeners.len(), 1);
    assert!(snap.listeners[0].opts.addr.ip().is_unspecified() && snap.listeners[0].opts.health_probe);
}

#[test]
fn drain_directive_errors_name_file_and_line() {
    let cases: &[(&str, &str, usize)] = &[
        (
            "drain_grace_time 10s;\ndrain_grace_time 5s;\nevents{}",
            "\"drain_grace_time\" directive is duplicate",
            2,
        ),
        (
            "drain_grace_time soon;\nevents{}",
            "\"drain_grace_time\" directive invalid value",
            1,
        ),
        (
            "events{}\nhttp { drain_grace_time 1s; }",
            "\"drain_grace_time\" directive is not allowed here",
            2,
        ),
        (
            "events{}\nhttp { server {\n health_probe; } }",
            "\"health_probe\" directive is not allowed here",
            3,
        ),
        (
            "events{}\nhttp { server { location / {\n health_probe on; } } }",
            "invalid number of arguments in \"health_probe\" directive",
            3,
        ),
    ];
    for (src, msg, line) in cases {
        let e = conf(src).error.unwrap_or_else(|| panic!("{src:?} must fail"));
        assert_eq!(
            (e.to_string(), e.line),
            (format!("{msg} in /t/nginx.conf:{line}"), *line),
            "{src:?}"
        );
    }
    // One content handler per location, in both front ends.
    let nginx = ok("error_log stderr; events{}\nhttp { access_log off; server { listen 8080;\n location / {\n health_probe;\n return 200; } } }");
    let e = crate::runtime::compile(&nginx, &PathBuf::from("/t/nginx.conf"), &PathBuf::from("/t"), 1)
        .err()
        .expect("health_probe + return must fail");
    assert!(
        e.to_string().contains("one location can have only one of") && e.to_string().contains(":3"),
        "{e}"
    );
    let toml = parse_toml(
        &PathBuf::from("/t/r.toml"),
        "error_log = \"stderr\"\n[http]\naccess_log = \"off\"\n[[http.server]]\nlisten = [\"8080\"]\n[[http.server.location]]\nmatch = \"/\"\nhealth_probe = true\nstub_status = true\n",
    )
    .unwrap();
    let e = crate::runtime::compile(&toml, &PathBuf::from("/t/r.toml"), &PathBuf::from("/t"), 1)
        .err()
        .expect("health_probe + stub_status must fail");
    assert!(e.to_string().contains("/t/r.toml:7"), "{e}");
    // The listen flag takes no value.
    let e = parse_toml(
        &PathBuf::from("/t/r.toml"),
        "error_log = \"stderr\"\n[http]\naccess_log = \"off\"\n[[http.server]]\nlisten = [\"8080 health_probe=on\"]\n",
    )
    .map_err(|e| e.to_string())
    .and_then(|c| {
        crate::runtime::compile(&c, &PathBuf::from("/t/r.toml"), &PathBuf::from("/t"), 1)
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    assert!(
        e.as_ref()
            .is_err_and(|m| m.contains("invalid parameter \"health_probe=on\"") && m.contains("/t/r.toml:5")),
        "{e:?}"
    );
}

#[test]
fn http2_directives_map_like_the_toml_twin() {
    let n = ok("events {}\nhttp {\n http2_max_concurrent_streams 16;\n http2_recv_buffer_size 512k;\n server {\n  listen 8443 ssl http2;\n  http2 on;\n  http2_body_preread_size 32k;\n }\n}");
    let t = parse_toml(
        &PathBuf::from("/t/r.toml"),
        "[http]\nhttp2_max_concurrent_streams = 16\nhttp2_recv_buffer_size = \"512k\"\n\
         [[http.server]]\nlisten = [\"8443 ssl http2\"]\nhttp2 = true\nhttp2_body_preread_size = \"32k\"\n",
    )
    .unwrap();
    assert_eq!(n.http.http2_max_concurrent_streams, Some(16));
    assert_eq!(
        n.http.http2_max_concurrent_streams,
        t.http.http2_max_concurrent_streams
    );
    assert_eq!(n.http.http2_recv_buffer_size, t.http.http2_recv_buffer_size);
    assert_eq!(n.http.server[0].http2, Some(true));
    assert_eq!(n.http.server[0].http2, t.http.server[0].http2);
    assert_eq!(
        n.http.server[0].http2_body_preread_size,
        t.http.server[0].http2_body_preread_size
    );
    let listens = |c: &Config| {
        c.http.server[0]
            .listen
            .iter()
            .map(|l| l.value.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(listens(&n), listens(&t));
    // nginx's wording, with the line.
    let r = conf("events {}\nhttp {\n http2_max_concurrent_streams x;\n}");
    let e = r.error.expect("error");
    assert_eq!(
        (e.message.as_str(), e.line),
        ("\"http2_max_concurrent_streams\" directive invalid number", 3)
    );
    // Obsolete since nginx 1.19.7: accepted with a warning.
    let r = conf(
        "events {}\nhttp {\n http2_idle_timeout 3m;\n http2_max_field_size 4k;\n http2_push_preload on;\n}",
    );
    assert!(r.error.is_none());
    assert_eq!(r.ignored.len(), 3);
}

#[test]
fn proxy_directives_map_like_the_toml_twin() {
    let nginx = r#"
error_log stderr;
events {}
http {
    access_log off;
    proxy_buffering off;
    proxy_buffers 16 8k;
    server {
        listen 127.0.0.1:8080;
        proxy_redirect http://a/ /b/;
        proxy_redirect ~*^http://c(/.*)$ $scheme://$host$1;
        location / {
            proxy_pass http://127.0.0.1:9;
            proxy_redirect default;
            proxy_request_buffering off;
            proxy_busy_buffers_size 16k;
            proxy_max_temp_file_size 0;
            proxy_temp_file_write_size 16k;
            proxy_socket_keepalive on;
            proxy_bind 127.0.0.2;
            proxy_method POST;
            proxy_pass_request_headers off;
            proxy_pass_request_body off;
            proxy_set_body "a=$arg_a";
            proxy_ignore_client_abort on;
        }
        location /off/ { proxy_redirect off; proxy_cookie_path off; }
        location /c/ { proxy_cookie_domain .a.test $host; proxy_cookie_path ~^/x(.*)$ /y$1; }
    }
}
"#;
    let toml = r#"
error_log = "stderr"
[http]
access_log = "off"
proxy_buffering = false
proxy_buffers = "16 8k"
[[http.server]]
listen = ["127.0.0.1:8080"]
proxy_redirect = [["http://a/", "/b/"], ["~*^http://c(/.*)$", "$scheme://$host$1"]]
[[http.server.location]]
match = "/"
proxy_pass = "http://127.0.0.1:9"
proxy_redirect = [["default"]]
proxy_request_buffering = false
proxy_busy_buffers_size = "16k"
proxy_max_temp_file_size = "0"
proxy_temp_file_write_size = "16k"
proxy_socket_keepalive = true
proxy_bind = "127.0.0.2"
proxy_method = "POST"
proxy_pass_request_headers = false
proxy_pass_request_body = false
proxy_set_body = "a=$arg_a"
proxy_ignore_client_abort = true
[[http.server.location]]
match = "/off/"
proxy_redirect = [["off"]]
proxy_cookie_path = [["off"]]
[[http.server.location]]
match = "/c/"
proxy_cookie_domain = [[".a.test", "$host"]]
proxy_cookie_path = [["~^/x(.*)$", "/y$1"]]
"#;
    let from_nginx = ok(nginx);
    let from_toml = parse_toml(&PathBuf::from("/t/r.toml"), toml).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(from_nginx, from_toml);
    crate::runtime::compile(&from_toml, &PathBuf::from("/t/r.toml"), &PathBuf::from("/t"), 1)
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn proxy_directive_errors_worded_as_nginx() {
    let loc =
        |body: &str| format!("events {{}}\nhttp {{\n server {{\n  location / {{\n   {body}\n  }}\n }}\n}}\n");
    // (config, message as nginx 1.22.1 prints it, checked with nginx -t)
    let cases: &[(String, &str)] = &[
        (
            loc("proxy_redirect default;"),
            "\"proxy_redirect default\" should be placed after the \"proxy_pass\" directive",
        ),
        (
            "events {}\nhttp { proxy_redirect default; }".into(),
            "\"proxy_redirect default\" should be placed after the \"proxy_pass\" directive",
        ),
        (
            loc("proxy_pass http://a;\nproxy_redirect default;\nproxy_redirect off;"),
            "\"proxy_redirect\" directive is duplicate",
        ),
        (
            loc("proxy_redirect off;\nproxy_redirect off;"),
            "\"proxy_redirect\" directive is duplicate",
        ),
        (
            loc("proxy_redirect a b c;"),
            "invalid number of arguments in \"proxy_redirect\" directive",
        ),
        (
            loc("proxy_buffers 0 4k;"),
            "\"proxy_buffers\" directive invalid value",
        ),
        (
            loc("proxy_buffers 4 4z;"),
            "\"proxy_buffers\" directive invalid value",
        ),
        (
            loc("proxy_busy_buffers_size 1q;"),
            "\"proxy_busy_buffers_size\" directive invalid value",
        ),
        (
            loc("proxy_request_buffering 1;"),
            "invalid value \"1\" in \"proxy_request_buffering\" directive, it must be \"on\" or \"off\"",
        ),
        (
            loc("proxy_socket_keepalive yes;"),
            "invalid value \"yes\" in \"proxy_socket_keepalive\" directive, it must be \"on\" or \"off\"",
        ),
        (loc("proxy_bind 127.0.0.1 foo;"), "invalid parameter \"foo\""),
        (
            loc("proxy_method GET;\nproxy_method PUT;"),
            "\"proxy_method\" directive is duplicate",
        ),
    ];
    for (src, msg) in cases {
        let e = conf(src).error.unwrap_or_else(|| panic!("{src:?} must fail"));
        assert!(
            e.to_string().starts_with(&format!("{msg} in /t/nginx.conf:")),
            "{src:?}: {e}"
        );
    }
}
