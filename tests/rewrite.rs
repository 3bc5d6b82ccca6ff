//! nginx's rewrite module through the binary: `rewrite` (last, break,
//! redirect, permanent, no flag), the `?` rules for arguments, captures
//! (location, rewrite and server_name regexes, named and positional), `set`,
//! `return` ordering with `rewrite` at server and location level, and the
//! 10-changes limit (500). Every case runs on rampart and on Debian's nginx
//! 1.22.1 with the same nginx.conf, and the whole answers must be equal; each
//! case also pins a fragment of the expected answer (recorded from nginx), so
//! the test still checks something where nginx is not installed.

mod common;
mod nginx_diff;

use nginx_diff::*;

const CONF: &str = r#"
http {
    @TEMP@
    log_format cmp '$request_method $request_uri $status $uri $args $is_args $sent_http_location $sent_http_content_length $sent_http_connection $sent_http_content_type';
    access_log logs/cmp.log cmp;
    default_type text/plain;
    server {
        listen 127.0.0.1:@PORT@;
        server_name localhost;
        rewrite ^/srv/(.*)$ /s/$1;
        rewrite ^/srvlast/(.*)$ /s/last-$1 last;
        rewrite ^/srvredir/(.*)$ /s/$1 redirect;
        rewrite ^/srvbrk/(.*)$ /s/brk-$1 break;
        location /s/ { return 200 "s uri=$uri args=$args 1=$1\n"; }
        location /t/ { return 200 "t uri=$uri args=$args\n"; }
        location /last/ { rewrite ^/last/(.*)$ /t/$1 last; return 200 "not reached\n"; }
        location /brk/ { rewrite ^/brk/(.*)$ /t/$1 break; return 200 "brk uri=$uri args=$args 1=$1\n"; }
        location /red/ { rewrite ^/red/(.*)$ /t/$1 redirect; }
        location /perm/ { rewrite ^/perm/(.*)$ /t/$1 permanent; }
        location /ext/ { rewrite ^/ext/(.*)$ http://example.com/$1; }
        location /extq/ { rewrite ^/extq/(.*)$ http://example.com/$1?; }
        location /extargs/ { rewrite ^/extargs/(.*)$ http://example.com/$1?x=1; }
        location /extperm/ { rewrite ^ https://example.org/p permanent; }
        location /args/ { rewrite ^/args/(.*)$ /t/$1?new=1 last; }
        location /argsq/ { rewrite ^/argsq/(.*)$ /t/$1?new=1? last; }
        location /drop/ { rewrite ^/drop/(.*)$ /t/$1? last; }
        location /redargs/ { rewrite ^/redargs/(.*)$ /t/$1?r=1 redirect; }
        location /loop/ { rewrite ^/loop/(.*)$ /loop/x$1 last; }
        location /flagless/ { rewrite ^/flagless/(.*)$ /t/$1; rewrite ^/t/(.*)$ /t/again-$1; }
        location /set/ { set $a "A-$uri"; set $b "$a+B"; return 200 "$a|$b\n"; }
        location /setrw/ { set $x hello; rewrite ^ /t/$x last; }
        location ~ ^/cap/(?<word>[a-z]+)/(\d+)$ { return 200 "word=$word 2=$2 1=$1\n"; }
        location ~ ^/recap/(\w+)$ { rewrite ^/recap/(\w)(\w*)$ /t/$2-$1 last; }
        location /order1/ { return 200 "first\n"; rewrite ^ /t/x last; }
        location /order2/ { rewrite ^ /t/x last; return 200 "second\n"; }
        location /nomatch/ { rewrite ^/zzz /t/never last; return 200 "nomatch $uri\n"; }
        location /ret301/ { return 301 /t/abs; }
        location /empty/ { rewrite ^/empty/(x)?(.*)$ /t/[$1][$2] last; }
        location /brkdir/ { set $v 1; break; return 200 "v=$v\n"; }
        location /setlast/ { set $w "w1"; rewrite ^ /shown/ last; }
        location /shown/ { return 200 "w=$w\n"; }
        location /cnt/ { rewrite ^/cnt/(\d)(.*)$ /cnt/$2 last; return 200 "done $uri\n"; }
        location /named/ { rewrite ^/named/(?<tail>.*)$ /t/$tail last; }
        location = /exact { rewrite ^ /t/from-exact?k=v last; }
        location /setargs/ { set $args "n=1&$args"; rewrite ^ /t/ last; }
        location /shadow/ { set $http_x_s "set"; set $arg_q "$arg_q!"; return 200 "$http_x_s $arg_q\n"; }
    }
    server {
        listen 127.0.0.1:@PORT@;
        server_name ~^(?<sub>[a-z]+)\.example\.com$;
        location / { return 200 "sub=$sub 1=$1 host=$host\n"; }
        location ~ ^/l/(\d+) { return 200 "sub=$sub 1=$1\n"; }
    }
    server {
        listen 127.0.0.1:@PORT@;
        server_name ~^www\.(\w+)\.org$;
        location / { rewrite ^ /x/$1 last; }
        location /x/ { return 200 "$uri\n"; }
    }
    server {
        listen 127.0.0.1:@PORT@;
        server_name order.test;
        rewrite ^/go$ /t/go;
        return 200 "srvret uri=$uri\n";
        location /t/ { return 200 "not reached\n"; }
    }
    server {
        listen 127.0.0.1:@PORT@;
        server_name first.test;
        return 200 "server return first\n";
        rewrite ^ /t/x last;
    }
}
"#;

/// (request target, Host, a fragment the answer must contain).
const CASES: &[(&str, &str, &str)] = &[
    // the later server rewrites that do not match empty $1
    ("/srv/a?q=1", "localhost", "s uri=/s/a args=q=1 1=\n"),
    ("/srvlast/a", "localhost", "s uri=/s/last-a args= 1=a\n"),
    (
        "/srvredir/a?q=1",
        "localhost",
        "Location: http://localhost:PORT/s/a?q=1\r\n",
    ),
    ("/srvbrk/a", "localhost", "s uri=/s/brk-a args= 1=a\n"),
    ("/last/a?x=1", "localhost", "t uri=/t/a args=x=1\n"),
    // break stops the script before `return`: no content handler, 404
    ("/brk/a?x=1", "localhost", "HTTP/1.1 404 Not Found"),
    ("/red/a?x=1", "localhost", "HTTP/1.1 302 Moved Temporarily"),
    (
        "/red/a?x=1",
        "localhost",
        "Location: http://localhost:PORT/t/a?x=1\r\n",
    ),
    ("/perm/b", "localhost", "HTTP/1.1 301 Moved Permanently"),
    ("/perm/b", "localhost", "Location: http://localhost:PORT/t/b\r\n"),
    (
        "/ext/z?k=1",
        "localhost",
        "Location: http://example.com/z?k=1\r\n",
    ),
    ("/extq/z?k=1", "localhost", "Location: http://example.com/z\r\n"),
    (
        "/extargs/z?k=1",
        "localhost",
        "Location: http://example.com/z?x=1&k=1\r\n",
    ),
    ("/extperm/z", "localhost", "HTTP/1.1 301 Moved Permanently"),
    ("/args/a?x=1", "localhost", "t uri=/t/a args=new=1&x=1\n"),
    ("/args/a", "localhost", "t uri=/t/a args=new=1\n"),
    ("/argsq/a?x=1", "localhost", "t uri=/t/a args=new=1\n"),
    ("/drop/a?x=1", "localhost", "t uri=/t/a args=\n"),
    (
        "/redargs/a?x=1",
        "localhost",
        "Location: http://localhost:PORT/t/a?r=1&x=1\r\n",
    ),
    ("/loop/a", "localhost", "HTTP/1.1 500 Internal Server Error"),
    ("/flagless/a", "localhost", "t uri=/t/again-a args=\n"),
    ("/set/a", "localhost", "A-/set/a|A-/set/a+B\n"),
    ("/setrw/q", "localhost", "t uri=/t/hello args=\n"),
    ("/cap/abc/42", "localhost", "word=abc 2=42 1=abc\n"),
    ("/recap/hello", "localhost", "t uri=/t/ello-h args=\n"),
    ("/order1/", "localhost", "first\n"),
    ("/order2/", "localhost", "t uri=/t/x args=\n"),
    ("/nomatch/a", "localhost", "nomatch /nomatch/a\n"),
    (
        "/ret301/",
        "localhost",
        "Location: http://localhost:PORT/t/abs\r\n",
    ),
    ("/empty/abc", "localhost", "t uri=/t/[][abc] args=\n"),
    ("/empty/xbc", "localhost", "t uri=/t/[x][bc] args=\n"),
    ("/brkdir/", "localhost", "HTTP/1.1 404 Not Found"),
    ("/setlast/", "localhost", "w=w1\n"),
    ("/cnt/123456789", "localhost", "done /cnt/\n"),
    (
        "/cnt/12345678901",
        "localhost",
        "HTTP/1.1 500 Internal Server Error",
    ),
    ("/named/p/q", "localhost", "t uri=/t/p/q args=\n"),
    ("/exact?a=b", "localhost", "t uri=/t/from-exact args=k=v&a=b\n"),
    ("/setargs/?o=2", "localhost", "t uri=/t/ args=n=1&o=2\n"),
    ("/shadow/?q=1", "localhost", "set 1!\n"),
    // escaping of captures from the decoded $uri
    ("/red/a%20b?x=1", "localhost", "HTTP/1.1 302"),
    ("/ext/a%20b%3Fc", "localhost", "HTTP/1.1 302"),
    ("/extargs/a+b%26c", "localhost", "HTTP/1.1 302"),
    ("/last/a%20b?x=1", "localhost", "t uri=/t/a b args=x=1\n"),
    ("/args/a%26b?x=1", "localhost", "HTTP/1.1 200"),
    (
        "/ext/a%22b%27c%23d%25e%3Bf%2Bg%26h%3Fi%3Cj%7Fk%C3%A9",
        "localhost",
        "Location: http://example.com/a%22b'c%23d%25e;f+g&h?i%3Cj%7Fk%C3%A9\r\n",
    ),
    ("/extargs/a%20b%26c%5C", "localhost", "HTTP/1.1 302"),
    ("/redargs/a%20b?x=1", "localhost", "HTTP/1.1 302"),
    ("/args/a%20b%26c+d", "localhost", "t uri=/t/a b&c+d args=new=1\n"),
    ("/args/a+b", "localhost", "HTTP/1.1 200"),
    ("/named/a%20b", "localhost", "HTTP/1.1 200"),
    ("/", "abc.example.com", "sub=abc 1=abc host=abc.example.com\n"),
    ("/l/77", "abc.example.com", "sub=abc 1=77\n"),
    // `^` has no groups: its match empties the server_name's $1
    ("/p", "www.site.org", "/x/\n"),
    ("/go", "order.test", "srvret uri=/t/go\n"),
    ("/go", "first.test", "server return first\n"),
];

#[test]
fn rewrite_cases_match_nginx() {
    let r = start_rampart(CONF);
    let n = start_nginx(CONF);
    let mut failures = Vec::new();
    for (target, host, want) in CASES {
        let req = get_req(target, host);
        let got = r.ask(&req);
        if !got.contains(want) {
            failures.push(format!("{host}{target}: want {want:?} in rampart's\n{got}"));
        }
        if let Some(n) = &n {
            let reference = n.ask(&req);
            if got != reference {
                failures.push(format!("{host}{target}: rampart\n{got}\nnginx\n{reference}"));
            }
        }
    }
    // The access-log lines too: URI, argument and $sent_http_* variables
    // after each rewrite, ports aside.
    if let Some(n) = &n {
        let log = |s: &Side| {
            common::log_lines(&s.path("logs/cmp.log"), CASES.len())
                .into_iter()
                .map(|l| l.replace(&format!(":{}", s.port), ":PORT"))
                .collect::<Vec<_>>()
        };
        for (a, b) in log(n).iter().zip(&log(&r)) {
            if a != b {
                failures.push(format!("log line: nginx {a:?}\n          rampart {b:?}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n---\n")
    );
}

#[test]
fn rewrite_config_errors() {
    // (directive line, the error rampart must print, as nginx words it)
    let cases: &[(&str, &str)] = &[
        ("rewrite ^/a /b stop;", "invalid parameter \"stop\""),
        ("set x 1;", "invalid variable name \"x\""),
        ("return 200 \"$nosuchvar\";", "unknown \"nosuchvar\" variable"),
        (
            "if ($uri) { return 404; }",
            "\"if\" directive is not implemented yet",
        ),
    ];
    for (line, want) in cases {
        let dir = common::TempDir::new("rwerr");
        let file = dir.path().join("nginx.conf");
        let conf = format!(
            "events {{}}\nhttp {{\n server {{\n  listen 127.0.0.1:1;\n  location / {{\n   {line}\n  }}\n }}\n}}\n"
        );
        std::fs::write(&file, conf).unwrap();
        let out = common::rampart_cmd(&["-t".as_ref(), "-c".as_ref(), file.as_os_str()]);
        assert_eq!(out.code, Some(1), "{line}: {}", out.stderr);
        assert!(
            out.stderr.contains(want),
            "{line}: want {want:?} in {}",
            out.stderr
        );
        assert!(
            out.stderr.contains("nginx.conf:6"),
            "{line}: no file:line in {}",
            out.stderr
        );
    }
}

const REDIRECT_CONF: &str = r#"
http {
    @TEMP@
    access_log off;
    server {
        listen 127.0.0.1:@PORT@;
        server_name primary.test alias.test;
        location /abs/ { absolute_redirect off; rewrite ^ /t/x redirect; }
        location /noport/ { port_in_redirect off; return 301 /t/y; }
        location /sname/ { server_name_in_redirect on; return 302 /t/z; }
        location /auto/ { proxy_pass http://127.0.0.1:1; }
        location /autooff/ { absolute_redirect off; proxy_pass http://127.0.0.1:1; }
        location /ka/ { return 200 "ka\n"; }
        location /kanone/ { keepalive_disable none; return 200 "ka\n"; }
        location /kasafari/ { keepalive_disable safari; return 200 "ka\n"; }
    }
}
"#;

#[test]
fn redirect_and_keepalive_settings_match_nginx() {
    let r = start_rampart(REDIRECT_CONF);
    let n = start_nginx(REDIRECT_CONF);
    const MSIE6: &str = "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)";
    const SAFARI: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) Version/16.1 Safari/605.1.15";
    let ka = |method: &str, target: &str, ua: &str| {
        let body = if method == "POST" {
            "Content-Length: 0\r\n"
        } else {
            ""
        };
        // keep-alive request, then a closing one, so that the read ends
        format!(
            "{method} {target} HTTP/1.1\r\nHost: alias.test\r\nUser-Agent: {ua}\r\n{body}\r\n\
             GET /ka/ HTTP/1.1\r\nHost: alias.test\r\nConnection: close\r\n\r\n"
        )
    };
    // (request, a fragment rampart's answer must contain)
    let cases: Vec<(String, &str)> = vec![
        (get_req("/abs/q", "alias.test"), "\r\nLocation: /t/x\r\n"),
        (
            get_req("/noport/q", "alias.test"),
            "\r\nLocation: http://alias.test/t/y\r\n",
        ),
        (
            get_req("/sname/q", "alias.test"),
            "\r\nLocation: http://primary.test:PORT/t/z\r\n",
        ),
        (
            get_req("/auto", "alias.test"),
            "\r\nLocation: http://alias.test:PORT/auto/\r\n",
        ),
        (get_req("/autooff", "alias.test"), "\r\nLocation: /autooff/\r\n"),
        (ka("POST", "/ka/", MSIE6), "Connection: close"),
        (ka("GET", "/ka/", MSIE6), "Connection: keep-alive"),
        (ka("POST", "/kanone/", MSIE6), "Connection: keep-alive"),
        (ka("GET", "/kasafari/", SAFARI), "Connection: close"),
        (ka("GET", "/ka/", SAFARI), "Connection: keep-alive"),
    ];
    let mut failures = Vec::new();
    for (req, want) in &cases {
        let got = r.ask(req);
        if !got.contains(want) {
            failures.push(format!("{req:?}: want {want:?} in\n{got}"));
        }
        if let Some(n) = &n {
            let reference = n.ask(req);
            if got != reference {
                failures.push(format!("{req:?}: rampart\n{got}\nnginx\n{reference}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n---\n"));
}

#[test]
fn limit_rate_paces_like_nginx() {
    // ~3150 bytes (3000 of body) at 1000 B/s after 500 B: nginx allows
    // 500 + 1000 * (t + 1) bytes by t seconds, so the last byte goes at ~1.65 s
    // (nginx counts whole seconds: ~2 s). nginx takes parameters up to 4 KiB.
    let body = "x".repeat(3000);
    let conf = format!(
        "http {{\n @TEMP@\n access_log off;\n server {{\n listen 127.0.0.1:@PORT@;\n\
         location / {{ limit_rate 1000; limit_rate_after 500; return 200 \"{body}\"; }}\n\
         location /free {{ return 200 \"{body}\"; }}\n }}\n}}\n"
    );
    let r = start_rampart(&conf);
    let n = start_nginx(&conf);
    let time = |s: &Side, target: &str| {
        let t = std::time::Instant::now();
        let got = s.ask(&get_req(target, "localhost"));
        assert!(got.ends_with(&body), "{}: {}", s.name, &got[..got.len().min(200)]);
        t.elapsed()
    };
    let limited = time(&r, "/");
    assert!(
        limited >= std::time::Duration::from_millis(1200) && limited < std::time::Duration::from_secs(4),
        "rampart took {limited:?}"
    );
    assert!(time(&r, "/free") < std::time::Duration::from_millis(500));
    if let Some(n) = &n {
        // nginx counts whole seconds from the second the request started
        // in: two second boundaries must pass, ~1 s when it began just
        // before one.
        let reference = time(n, "/");
        assert!(
            reference >= std::time::Duration::from_millis(900)
                && reference < std::time::Duration::from_secs(4),
            "nginx took {reference:?}"
        );
    }
}

/// The same script written in rampart.toml behaves as its nginx.conf twin.
#[test]
fn toml_rewrite_script() {
    let r = common::Rampart::start(
        r#"
[http]
access_log = "off"
[[http.server]]
listen = ["127.0.0.1:@PORT@"]
rewrite = [{ rewrite = ["^/old/(.*)$", "/t/$1?from=old", "last"] }]
[[http.server.location]]
match = "/t/"
return = [200, "t uri=$uri args=$args v=$v\n"]
[[http.server.location]]
match = "/s/"
rewrite = [{ set = ["$v", "x-$uri"] }, { rewrite = ["^/s/(.*)$", "/t/$1", "last"] }, { return = 404 }]
[[http.server.location]]
match = "/p/"
limit_rate = "1m"
rewrite = [{ rewrite = ["^", "https://example.com/p", "permanent"] }]
"#,
    );
    let cases = [
        ("/old/a?q=1", "t uri=/t/a args=from=old&q=1 v=\n"),
        ("/s/b", "t uri=/t/b args= v=x-/s/b\n"),
    ];
    for (target, want) in cases {
        let got = common::get(r.addr(), target);
        assert_eq!(got.status, 200, "{target}");
        assert_eq!(got.text(), want, "{target}");
    }
    let got = common::get(r.addr(), "/p/z?k=v");
    assert_eq!(got.status, 301);
    assert_eq!(got.header("location"), Some("https://example.com/p?k=v"));
}
