//! Differential test of virtual-server and location selection: one table of
//! configs and requests is rendered both into an nginx.conf for Debian's
//! nginx 1.22.1 and into rampart TOML; both servers run, and every response's
//! status, Location header and body must agree with each other and with the
//! table. Covers nginx-semantics.md §1.2–1.4, §2.1–2.5 and the traps of §13
//! items 1 (location order), 2 (matching on the normalised `$uri`) and 18 (a
//! Host-less request selects the `""` name).

mod common;
use common::*;
use std::fmt::Write as _;

/// What a location (or a server's catch-all) does.
#[derive(Clone)]
enum H {
    /// `return 200 "<id>"`.
    Ret(&'static str),
    /// `return CODE` (a bare status, so error_page applies).
    Code(u16),
    /// `proxy_pass http://UPSTREAM/` (the upstream names below).
    Proxy(&'static str),
}

/// One `location` block.
#[derive(Clone)]
struct L {
    m: &'static str,
    h: H,
    /// `error_page CODE [=STATUS] PAGE`.
    error_page: Option<(u16, Option<u16>, &'static str)>,
    internal: bool,
    kids: Vec<L>,
}

fn ret(m: &'static str, id: &'static str) -> L {
    L {
        m,
        h: H::Ret(id),
        error_page: None,
        internal: false,
        kids: Vec::new(),
    }
}

fn with_kids(mut l: L, kids: Vec<L>) -> L {
    l.kids = kids;
    l
}

/// One `server` block; every server listens on the scenario's port.
struct S {
    /// `None`: no server_name directive at all (nginx's implicit `""`).
    names: Option<Vec<&'static str>>,
    default: bool,
    locs: Vec<L>,
}

fn srv(names: &[&'static str], id: &'static str) -> S {
    S {
        names: Some(names.to_vec()),
        default: false,
        locs: vec![ret("/", id)],
    }
}

/// Expected body.
enum B {
    Text(&'static str),
    /// nginx's built-in page for the status (compared with nginx byte for byte).
    Page,
}

struct Case {
    /// A path (sent as `GET PATH HTTP/1.1` with `Host: localhost`), or a full
    /// raw request when it starts with an upper-case method and contains "\r\n".
    req: &'static str,
    host: &'static str,
    status: u16,
    body: B,
    /// Expected Location; `@PORT@` stands for the port of the server asked.
    location: Option<&'static str>,
}

fn c(path: &'static str, status: u16, id: &'static str) -> Case {
    Case {
        req: path,
        host: "localhost",
        status,
        body: B::Text(id),
        location: None,
    }
}

fn ok(path: &'static str, id: &'static str) -> Case {
    c(path, 200, id)
}

fn page(path: &'static str, status: u16) -> Case {
    Case {
        body: B::Page,
        ..c(path, status, "")
    }
}

fn host(h: &'static str, id: &'static str) -> Case {
    Case {
        host: h,
        ..ok("/", id)
    }
}

fn raw_req(req: &'static str, status: u16, body: B) -> Case {
    Case {
        req,
        host: "",
        status,
        body,
        location: None,
    }
}

fn redirect(path: &'static str, host: &'static str, location: &'static str) -> Case {
    Case {
        req: path,
        host,
        status: 301,
        body: B::Page,
        location: Some(location),
    }
}

struct Scenario {
    name: &'static str,
    servers: Vec<S>,
    cases: Vec<Case>,
}

fn scenarios() -> Vec<Scenario> {
    let np = L {
        h: H::Code(404),
        error_page: Some((404, None, "@fallback")),
        ..ret("/np/", "")
    };
    let np2 = L {
        m: "/np2/",
        error_page: Some((404, Some(200), "@fallback")),
        ..np.clone()
    };
    let down = L {
        h: H::Proxy("dead"),
        error_page: Some((502, None, "@down")),
        ..ret("/down/", "")
    };
    let internal = L {
        internal: true,
        ..ret("/int/", "internal")
    };
    let locations = S {
        names: Some(vec!["localhost"]),
        default: false,
        locs: vec![
            ret("= /", "exact-root"),
            ret("/", "root"),
            ret("/a", "prefix-a"),
            ret("/abc/", "prefix-abc"),
            ret("^~ /static/", "noregex-static"),
            ret(r"~ \.php$", "regex-php"),
            ret(r"~* \.(gif|jpg)$", "regex-img"),
            with_kids(
                ret("/img/", "prefix-img"),
                vec![ret(r"~ \.png$", "nested-png"), ret("/img/big/", "nested-big")],
            ),
            ret("^~ /i/", "noregex-i"),
            ret("/i/big/", "prefix-i-big"),
            with_kids(
                ret("/docs/", "prefix-docs"),
                vec![ret("/docs/api/", "nested-docs-api")],
            ),
            ret("= /exact", "exact"),
            ret("/exact", "prefix-exact"),
            ret("~ ^/Case", "regex-case"),
            ret("~* ^/ci/", "regex-ci"),
            ret("~ ^/order/", "re-first"),
            ret("~ ^/order/x", "re-second"),
            ret("/long/er/", "long-er"),
            ret("/long/", "long"),
            np,
            np2,
            ret("@fallback", "named-fallback"),
            L {
                h: H::Proxy("backend"),
                ..ret("/app/", "")
            },
            ret("~ ^/app$", "regex-app"),
            ret("= /app2", "exact-app2"),
            L {
                h: H::Proxy("backend"),
                ..ret("/app2/", "")
            },
            down,
            ret("@down", "named-down"),
            internal,
            ret("~ \"^/sp ace$\"", "regex-space"),
        ],
    };
    let location_cases = vec![
        // §2.1: exact stops at once; longest prefix wins whatever the file order.
        ok("/", "exact-root"),
        ok("/index.html", "root"),
        ok("/a", "prefix-a"),
        ok("/ab", "prefix-a"),
        ok("/abc", "prefix-a"),
        ok("/abc/d", "prefix-abc"),
        ok("/long/er/z", "long-er"),
        ok("/long/z", "long"),
        ok("/exact", "exact"),
        ok("/exact/", "prefix-exact"),
        ok("/exactly", "prefix-exact"),
        // Trap 1: regexes beat a plain prefix, in file order, unless ^~ is the longest prefix.
        ok("/x.php", "regex-php"),
        ok("/abc/x.php", "regex-php"),
        ok("/static/x.php", "noregex-static"),
        ok("/x.PHP", "root"),
        ok("/x.JPG", "regex-img"),
        ok("/order/x", "re-first"),
        ok("/i/x.jpg", "noregex-i"),
        ok("/i/big/x.jpg", "regex-img"),
        ok("/i/big/x.txt", "prefix-i-big"),
        // §2.2 case: prefix and `~` are case-sensitive, `~*` is not.
        ok("/Case/1", "regex-case"),
        ok("/case/1", "root"),
        ok("/CI/x", "regex-ci"),
        // Nested locations; outer regexes override a nested prefix.
        ok("/img/x.png", "nested-png"),
        ok("/img/x.txt", "prefix-img"),
        ok("/img/x.gif", "regex-img"),
        ok("/img/big/x.png", "nested-png"),
        ok("/img/big/x.txt", "nested-big"),
        ok("/img/big/x.gif", "regex-img"),
        ok("/docs/api/v1", "nested-docs-api"),
        ok("/docs/api/x.php", "regex-php"),
        ok("/docs/x", "prefix-docs"),
        // Named locations only via error_page; never by URI.
        c("/np/x", 404, "named-fallback"),
        ok("/np2/x", "named-fallback"),
        c("/down/x", 502, "named-down"),
        ok("/@fallback", "root"),
        page("/int/x", 404),
        // §2.5: the automatic 301 for a proxy_pass location ending in `/`.
        redirect("/app", "localhost", "http://localhost:@PORT@/app/"),
        redirect("/app?x=1", "localhost", "http://localhost:@PORT@/app/?x=1"),
        redirect("/app", "LocalHost.:8080", "http://localhost:@PORT@/app/"),
        // No Host at all: nginx writes the socket's local address (§5.12).
        Case {
            location: Some("http://127.0.0.1:@PORT@/app/"),
            ..raw_req("GET /app HTTP/1.0\r\n\r\n", 301, B::Page)
        },
        ok("/app/id", "b1"),
        ok("/app2", "exact-app2"),
        ok("/app2/id", "b1"),
        // Trap 2: match on the normalised, percent-decoded $uri.
        ok("/static%2Fx.php", "noregex-static"),
        ok("//static//x.php", "noregex-static"),
        ok("/a/../abc/x", "prefix-abc"),
        ok("/static/%2e%2e/x.php", "regex-php"),
        ok("/static/../x.php", "regex-php"),
        ok("/img/./x.png", "nested-png"),
        ok("/img/big/..", "prefix-img"),
        ok("/y%3F.php", "regex-php"),
        ok("/y?.php", "root"),
        ok("/abc/%23.php", "regex-php"),
        ok("/%61bc/d", "prefix-abc"),
        ok("/sp%20ace", "regex-space"),
        page("/../x", 400),
        page("/%2e%2e/x", 400),
        page("/a/../../x", 400),
        page("/x%00y", 400),
        page("/x%2", 400),
        page("/x%zz", 400),
    ];

    let mut dflt = srv(&["default.test"], "default");
    dflt.default = true;
    let vhosts = vec![
        srv(&["first.test"], "first"),
        srv(&["example.com"], "exact"),
        srv(&["*.example.com"], "wild-head"),
        srv(&["*.sub.example.com"], "wild-head-long"),
        srv(&["www.*"], "wild-tail"),
        srv(&["www.example.*"], "wild-tail-long"),
        srv(&[".domain.org"], "dot-domain"),
        srv(&["exact.domain.org"], "exact-in-dot"),
        srv(&[r"~^api\d+\.re\.test$"], "regex-1"),
        srv(&["~^api"], "regex-2"),
        dflt,
    ];
    let vhost_cases = vec![
        host("example.com", "exact"),
        // Host normalisation (§1.4): case, one trailing dot, port.
        host("EXAMPLE.COM", "exact"),
        host("example.com.", "exact"),
        host("example.com:8080", "exact"),
        host("ExAmple.COM.:99", "exact"),
        host("a.example.com", "wild-head"),
        host("a.b.example.com", "wild-head"),
        host("x.sub.example.com", "wild-head-long"),
        host("www.example.com", "wild-head"),
        host("www.foo.net", "wild-tail"),
        host("www.example.net", "wild-tail-long"),
        host("www", "default"),
        host("domain.org", "dot-domain"),
        host("x.domain.org", "dot-domain"),
        host("exact.domain.org", "exact-in-dot"),
        host("api12.re.test", "regex-1"),
        host("apix.re.test", "regex-2"),
        host("API7.re.test", "regex-1"),
        host("unknown.test", "default"),
        host("first.test", "first"),
        host("example.com.evil", "default"),
        // Trap 18 (no server named "" here): the default server answers.
        raw_req("GET / HTTP/1.0\r\n\r\n", 200, B::Text("default")),
        raw_req("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", 400, B::Page),
        raw_req(
            "GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\nConnection: close\r\n\r\n",
            400,
            B::Page,
        ),
        // The absolute-form request target picks the server, not Host.
        raw_req(
            "GET http://EXAMPLE.com:81/ HTTP/1.1\r\nHost: unknown.test\r\nConnection: close\r\n\r\n",
            200,
            B::Text("exact"),
        ),
        Case {
            host: "a..b",
            ..page("/", 400)
        },
        Case {
            host: ".",
            ..page("/", 400)
        },
    ];

    let mut named_default = srv(&["a.test"], "default");
    named_default.default = true;
    let unnamed = S {
        names: None,
        ..srv(&[], "unnamed")
    };
    let empty_second = srv(&["b.test", ""], "empty-name");

    vec![
        Scenario {
            name: "locations",
            servers: vec![locations],
            cases: location_cases,
        },
        Scenario {
            name: "server_names",
            servers: vhosts,
            cases: vhost_cases,
        },
        Scenario {
            name: "no_server_name_beats_default_for_hostless",
            servers: vec![named_default, unnamed],
            cases: vec![
                raw_req("GET / HTTP/1.0\r\n\r\n", 200, B::Text("unnamed")),
                host("other.test", "default"),
                host("a.test", "default"),
            ],
        },
        Scenario {
            name: "explicit_empty_name",
            servers: vec![srv(&["a.test"], "first-default"), empty_second],
            cases: vec![
                raw_req("GET / HTTP/1.0\r\n\r\n", 200, B::Text("empty-name")),
                host("zzz.test", "first-default"),
                host("b.test", "empty-name"),
            ],
        },
    ]
}

/// Quotes a value for nginx.conf (inside `"..."`, `\` and `"` are escapes).
fn nq(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Quotes a value as a TOML basic string.
fn tq(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// `("~", "re")` from `"~ re"`; the pattern of a table entry may itself be
/// nginx-quoted (`~ "^/sp ace$"`), which is undone here.
fn split_match(m: &str) -> (&str, String) {
    let (modifier, pat) = match m.split_once(' ') {
        Some((mo, p)) if ["=", "^~", "~", "~*"].contains(&mo) => (mo, p),
        _ => ("", m),
    };
    let pat = pat
        .strip_prefix('"')
        .and_then(|p| p.strip_suffix('"'))
        .unwrap_or(pat);
    (modifier, pat.to_string())
}

fn nginx_loc(l: &L, out: &mut String, indent: usize) {
    let pad = " ".repeat(indent);
    let (modifier, pat) = split_match(l.m);
    let _ = writeln!(out, "{pad}location {modifier} {} {{", nq(&pat));
    if l.internal {
        let _ = writeln!(out, "{pad}  internal;");
    }
    if let Some((code, status, p)) = l.error_page {
        let st = status.map(|s| format!("={s} ")).unwrap_or_default();
        let _ = writeln!(out, "{pad}  error_page {code} {st}{p};");
    }
    match &l.h {
        H::Ret(id) => {
            let _ = writeln!(out, "{pad}  return 200 {};", nq(id));
        }
        H::Code(code) => {
            let _ = writeln!(out, "{pad}  return {code};");
        }
        H::Proxy(up) => {
            let _ = writeln!(out, "{pad}  proxy_pass http://{up}/;");
        }
    }
    for k in &l.kids {
        nginx_loc(k, out, indent + 2);
    }
    let _ = writeln!(out, "{pad}}}");
}

fn toml_loc(l: &L, out: &mut String, depth: usize) {
    let _ = writeln!(out, "\n[[http.server{}]]", ".location".repeat(depth));
    let (modifier, pat) = split_match(l.m);
    let m = if modifier.is_empty() {
        pat
    } else {
        format!("{modifier} {pat}")
    };
    let _ = writeln!(out, "match = {}", tq(&m));
    if l.internal {
        let _ = writeln!(out, "internal = true");
    }
    if let Some((code, status, p)) = l.error_page {
        let st = status.map(|s| format!(", status = {s}")).unwrap_or_default();
        let _ = writeln!(out, "error_page = [{{ codes = [{code}], page = {}{st} }}]", tq(p));
    }
    match &l.h {
        H::Ret(id) => {
            let _ = writeln!(out, "return = [200, {}]", tq(id));
        }
        H::Code(code) => {
            let _ = writeln!(out, "return = {code}");
        }
        H::Proxy(up) => {
            let _ = writeln!(out, "proxy_pass = \"http://{up}/\"");
        }
    }
    for k in &l.kids {
        toml_loc(k, out, depth + 1);
    }
}

/// The unreachable upstream: nothing listens on port 1 of 127.0.0.1.
const DEAD: &str = "127.0.0.1:1";

fn nginx_conf(dir: &std::path::Path, backend: &str, ports: &[u16]) -> String {
    let mut o = Nginx::preamble(dir);
    o.push_str("http {\n  access_log off;\n");
    o.push_str(&Nginx::temp_paths(dir));
    let _ = writeln!(o, "  upstream backend {{ server {backend}; }}");
    let _ = writeln!(o, "  upstream dead {{ server {DEAD}; }}");
    for (sc, port) in scenarios().iter().zip(ports) {
        for s in &sc.servers {
            let def = if s.default { " default_server" } else { "" };
            let _ = writeln!(o, "  server {{\n    listen 127.0.0.1:{port}{def};");
            if let Some(names) = &s.names {
                let names: Vec<String> = names.iter().map(|n| nq(n)).collect();
                let _ = writeln!(o, "    server_name {};", names.join(" "));
            }
            for l in &s.locs {
                nginx_loc(l, &mut o, 4);
            }
            o.push_str("  }\n");
        }
    }
    o.push_str("}\n");
    o
}

fn rampart_conf(backend: &str, ports: &[u16]) -> String {
    let mut o = String::from(
        "worker_processes = 1\nerror_log = \"logs/error.log info\"\n\n[http]\naccess_log = \"off\"\n",
    );
    let _ = writeln!(o, "\n[http.upstream.backend]\nserver = [\"{backend}\"]");
    let _ = writeln!(o, "\n[http.upstream.dead]\nserver = [\"{DEAD}\"]");
    for (sc, port) in scenarios().iter().zip(ports) {
        for s in &sc.servers {
            let def = if s.default { " default_server" } else { "" };
            let _ = writeln!(o, "\n[[http.server]]\nlisten = [\"127.0.0.1:{port}{def}\"]");
            if let Some(names) = &s.names {
                let names: Vec<String> = names.iter().map(|n| tq(n)).collect();
                let _ = writeln!(o, "server_name = [{}]", names.join(", "));
            }
            for l in &s.locs {
                toml_loc(l, &mut o, 1);
            }
        }
    }
    o
}

fn request_bytes(case: &Case) -> Vec<u8> {
    if case.req.contains("\r\n") {
        case.req.as_bytes().to_vec()
    } else {
        format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            case.req, case.host
        )
        .into_bytes()
    }
}

/// (status, Location with the port replaced by @PORT@, body).
fn observe(port: u16, case: &Case) -> (u16, Option<String>, Vec<u8>) {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let r = raw(addr, &request_bytes(case));
    let loc = r
        .header("location")
        .map(|l| l.replace(&format!(":{port}/"), ":@PORT@/"));
    (r.status, loc, r.body)
}

fn describe(sc: &Scenario, case: &Case) -> String {
    format!(
        "[{}] {:?} (Host {:?})",
        sc.name,
        case.req.replace("\r\n", "\\r\\n"),
        case.host
    )
}

/// Checks one observed response against the table's expectation.
fn check_expectation(
    who: &str,
    what: &str,
    case: &Case,
    got: &(u16, Option<String>, Vec<u8>),
) -> Vec<String> {
    let mut bad = Vec::new();
    if got.0 != case.status {
        bad.push(format!(
            "{who} {what}: status {} (table says {})",
            got.0, case.status
        ));
    }
    if got.1.as_deref() != case.location {
        bad.push(format!(
            "{who} {what}: Location {:?} (table says {:?})",
            got.1, case.location
        ));
    }
    match case.body {
        B::Text(t) if got.2 != t.as_bytes() => bad.push(format!(
            "{who} {what}: body {:?} (table says {t:?})",
            String::from_utf8_lossy(&got.2)
        )),
        B::Page => {
            let marker = format!("<title>{}", case.status);
            if !String::from_utf8_lossy(&got.2).contains(&marker) {
                bad.push(format!(
                    "{who} {what}: body {:?} is not the {} page",
                    String::from_utf8_lossy(&got.2),
                    case.status
                ));
            }
        }
        _ => {}
    }
    bad
}

/// The table is large enough to be the differential test the brief asks for.
#[test]
fn table_has_at_least_forty_cases() {
    let n: usize = scenarios().iter().map(|s| s.cases.len()).sum();
    assert!(n >= 40, "only {n} cases");
}

/// Every request of the table gets the same status, Location and body from
/// rampart and from nginx 1.22.1, and both match the table.
#[test]
fn routing_matches_nginx() {
    let be = Backend::start("b1");
    let backend = be.addr.to_string();
    let scs = scenarios();
    let r_ports: Vec<u16> = scs.iter().map(|_| rampart_port()).collect();
    let rampart_text = rampart_conf(&backend, &r_ports);
    // Rampart::start assigns @PORT@ itself; this config names its ports directly.
    let r = Rampart::start(&rampart_text);

    let nginx = if require_nginx() {
        let n_ports: Vec<u16> = scs.iter().map(|_| free_port()).collect();
        let text = nginx_conf(std::path::Path::new("@DIR@"), &backend, &n_ports);
        Some((Nginx::start(&text), n_ports))
    } else {
        // SKIPPED (a failure under CI=true): rampart is checked against the table only.
        None
    };

    let mut failures = Vec::new();
    let mut checked = 0;
    for (i, sc) in scs.iter().enumerate() {
        for case in &sc.cases {
            let what = describe(sc, case);
            let got_r = observe(r_ports[i], case);
            failures.extend(check_expectation("rampart", &what, case, &got_r));
            if let Some((_, n_ports)) = &nginx {
                let got_n = observe(n_ports[i], case);
                failures.extend(check_expectation("nginx", &what, case, &got_n));
                if got_r != got_n {
                    failures.push(format!(
                        "{what}: rampart ({}, {:?}, {:?}) != nginx ({}, {:?}, {:?})",
                        got_r.0,
                        got_r.1,
                        String::from_utf8_lossy(&got_r.2),
                        got_n.0,
                        got_n.1,
                        String::from_utf8_lossy(&got_n.2)
                    ));
                }
            }
            checked += 1;
        }
    }
    drop(r);
    assert!(
        failures.is_empty(),
        "{} of {checked} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
