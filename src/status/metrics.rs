//! The Prometheus endpoint (`metrics = true` in a location): the stub_status
//! set, responses by server and status class, bytes sent, a response-time
//! histogram, per-upstream-peer attempts and failures, config generation and
//! reload outcome, build info. Text exposition format 0.0.4
//! (https://prometheus.io/docs/instrumenting/exposition_formats/); names
//! follow the Prometheus naming rules: a `rampart_` prefix, `_total` on
//! counters, base units (seconds, bytes) in the name.
//!
//! Counting is on the request path, so it takes no lock and allocates
//! nothing: every counter is an atomic reached through an `Arc` resolved when
//! the config was compiled (a server's and a proxy target's stats). The
//! registries below are locked only at compile time and at scrape time, and
//! keep the counters across reloads, as nginx's shared-memory counters are.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Content-Type of the exposition.
pub const CONTENT_TYPE: &[u8] = b"text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds of the response-time histogram, in microseconds.
const BUCKETS_US: [u64; 11] = [
    5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000,
];
const BUCKET_LABELS: [&str; 11] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10",
];

/// Requests of one `server_name` (servers with the same primary name share it).
#[derive(Debug, Default)]
pub struct ServerStats {
    name: String,
    /// Responses by status class 1xx..5xx.
    classes: [AtomicU64; 5],
    bytes_sent: AtomicU64,
}

/// Attempts sent to one upstream peer.
#[derive(Debug)]
pub struct PeerStats {
    upstream: String,
    peer: SocketAddr,
    requests: AtomicU64,
    failures: AtomicU64,
}

struct Histogram {
    buckets: [AtomicU64; 11],
    count: AtomicU64,
    sum_us: AtomicU64,
}

static HIST: Histogram = Histogram {
    buckets: [const { AtomicU64::new(0) }; 11],
    count: AtomicU64::new(0),
    sum_us: AtomicU64::new(0),
};

static SERVERS: Mutex<Vec<Arc<ServerStats>>> = Mutex::new(Vec::new());
static PEERS: Mutex<Vec<Arc<PeerStats>>> = Mutex::new(Vec::new());

static RELOAD_OK: AtomicU64 = AtomicU64::new(1);
static LAST_OK_MS: AtomicU64 = AtomicU64::new(0);
static START_MS: AtomicU64 = AtomicU64::new(0);

/// The stats of the server named `name`, created on first use (compile time).
pub fn server_stats(name: &[u8]) -> Arc<ServerStats> {
    let name = String::from_utf8_lossy(name);
    let mut all = SERVERS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(s) = all.iter().find(|s| s.name == name) {
        return s.clone();
    }
    let s = Arc::new(ServerStats {
        name: name.into_owned(),
        ..ServerStats::default()
    });
    all.push(s.clone());
    s
}

/// The stats of `peer` in upstream group `upstream`, created on first use (compile time).
pub fn peer_stats(upstream: &str, peer: SocketAddr) -> Arc<PeerStats> {
    let mut all = PEERS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(s) = all.iter().find(|s| s.upstream == upstream && s.peer == peer) {
        return s.clone();
    }
    let s = Arc::new(PeerStats {
        upstream: upstream.to_string(),
        peer,
        requests: AtomicU64::new(0),
        failures: AtomicU64::new(0),
    });
    all.push(s.clone());
    s
}

/// Counts one finished request (the access-log phase): its final status,
/// the bytes written to the client and the time since its first byte.
pub fn record_request(server: &ServerStats, status: u16, bytes_sent: u64, elapsed: Duration) {
    if let Some(c) = (status / 100)
        .checked_sub(1)
        .and_then(|i| server.classes.get(usize::from(i)))
    {
        c.fetch_add(1, Relaxed);
    }
    server.bytes_sent.fetch_add(bytes_sent, Relaxed);
    let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    if let Some(i) = BUCKETS_US.iter().position(|&b| us <= b) {
        if let Some(b) = HIST.buckets.get(i) {
            b.fetch_add(1, Relaxed);
        }
    }
    HIST.count.fetch_add(1, Relaxed);
    HIST.sum_us.fetch_add(us, Relaxed);
}

/// Counts one upstream attempt. `failed`: no valid response head came back
/// (connect error or timeout, send or read error, invalid header), which is
/// what nginx counts against `max_fails`.
pub fn record_attempt(peer: &PeerStats, failed: bool) {
    peer.requests.fetch_add(1, Relaxed);
    if failed {
        peer.failures.fetch_add(1, Relaxed);
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0))
}

/// Records the outcome of loading a config: at start (`true`) and on every reload.
pub fn config_loaded(ok: bool) {
    let now = now_ms();
    let _ = START_MS.compare_exchange(0, now, Relaxed, Relaxed);
    RELOAD_OK.store(u64::from(ok), Relaxed);
    if ok {
        LAST_OK_MS.store(now, Relaxed);
    }
}

fn escape(v: &str, out: &mut String) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn secs(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// The whole exposition. `generation` is the config generation in force.
pub fn render(generation: u64) -> Vec<u8> {
    let c = super::counters::snapshot();
    let mut o = String::with_capacity(4096);
    let simple: [(&str, &str, &str, u64); 8] = [
        (
            "rampart_connections_accepted_total",
            "counter",
            "Client connections accepted.",
            c.accepts,
        ),
        (
            "rampart_connections_handled_total",
            "counter",
            "Client connections handled (accepted and not dropped for lack of worker_connections).",
            c.handled,
        ),
        (
            "rampart_http_requests_total",
            "counter",
            "Client requests (stub_status requests).",
            c.requests,
        ),
        (
            "rampart_connections_active",
            "gauge",
            "Open client connections, including waiting ones.",
            c.active,
        ),
        (
            "rampart_connections_reading",
            "gauge",
            "Connections whose request head is being read.",
            c.reading,
        ),
        (
            "rampart_connections_writing",
            "gauge",
            "Connections with a request being processed or answered.",
            c.writing,
        ),
        (
            "rampart_connections_waiting",
            "gauge",
            "Idle keep-alive connections and accepted connections that sent nothing yet.",
            c.waiting,
        ),
        (
            "rampart_config_generation",
            "gauge",
            "Generation of the configuration in force (1 at start, +1 per successful reload).",
            generation,
        ),
    ];
    for (name, kind, help, v) in simple {
        header(&mut o, name, kind, help);
        let _ = writeln!(o, "{name} {v}");
    }

    header(
        &mut o,
        "rampart_config_last_reload_successful",
        "gauge",
        "Whether the last configuration load succeeded (1) or failed (0).",
    );
    let _ = writeln!(
        o,
        "rampart_config_last_reload_successful {}",
        RELOAD_OK.load(Relaxed)
    );
    header(
        &mut o,
        "rampart_config_last_reload_success_timestamp_seconds",
        "gauge",
        "Unix time of the last successful configuration load.",
    );
    let _ = writeln!(
        o,
        "rampart_config_last_reload_success_timestamp_seconds {}",
        secs(LAST_OK_MS.load(Relaxed))
    );
    header(
        &mut o,
        "rampart_start_time_seconds",
        "gauge",
        "Unix time the server started.",
    );
    let _ = writeln!(o, "rampart_start_time_seconds {}", secs(START_MS.load(Relaxed)));
    header(
        &mut o,
        "rampart_build_info",
        "gauge",
        "Build information; the value is always 1.",
    );
    let _ = writeln!(
        o,
        "rampart_build_info{{version=\"{}\",nginx_version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION"),
        crate::http::status::NGINX_VERSION
    );

    let servers: Vec<Arc<ServerStats>> = SERVERS.lock().unwrap_or_else(|p| p.into_inner()).clone();
    header(
        &mut o,
        "rampart_http_responses_total",
        "counter",
        "Responses by server_name and status class.",
    );
    for s in &servers {
        for (i, n) in s.classes.iter().enumerate() {
            o.push_str("rampart_http_responses_total{server=\"");
            escape(&s.name, &mut o);
            let _ = writeln!(o, "\",code=\"{}xx\"}} {}", i + 1, n.load(Relaxed));
        }
    }
    header(
        &mut o,
        "rampart_http_sent_bytes_total",
        "counter",
        "Bytes sent to clients (headers and bodies) by server_name.",
    );
    for s in &servers {
        o.push_str("rampart_http_sent_bytes_total{server=\"");
        escape(&s.name, &mut o);
        let _ = writeln!(o, "\"}} {}", s.bytes_sent.load(Relaxed));
    }

    let name = "rampart_http_request_duration_seconds";
    header(
        &mut o,
        name,
        "histogram",
        "Time from the first byte of a request to its log line.",
    );
    let mut cum = 0;
    for (b, le) in HIST.buckets.iter().zip(BUCKET_LABELS) {
        cum += b.load(Relaxed);
        let _ = writeln!(o, "{name}_bucket{{le=\"{le}\"}} {cum}");
    }
    let count = HIST.count.load(Relaxed).max(cum);
    let _ = writeln!(o, "{name}_bucket{{le=\"+Inf\"}} {count}");
    let us = HIST.sum_us.load(Relaxed);
    let _ = writeln!(o, "{name}_sum {}.{:06}", us / 1_000_000, us % 1_000_000);
    let _ = writeln!(o, "{name}_count {count}");

    let peers: Vec<Arc<PeerStats>> = PEERS.lock().unwrap_or_else(|p| p.into_inner()).clone();
    for (name, help, failures) in [
        (
            "rampart_upstream_requests_total",
            "Attempts sent to an upstream peer.",
            false,
        ),
        (
            "rampart_upstream_failures_total",
            "Attempts to an upstream peer that got no valid response head.",
            true,
        ),
    ] {
        header(&mut o, name, "counter", help);
        for p in &peers {
            let _ = write!(o, "{name}{{upstream=\"");
            escape(&p.upstream, &mut o);
            let v = if failures { &p.failures } else { &p.requests };
            let _ = writeln!(o, "\",peer=\"{}\"}} {}", p.peer, v.load(Relaxed));
        }
    }
    o.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str, line_start: &str) -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(line_start) && l[line_start.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    #[test]
    fn counts_land_in_the_right_series() {
        let s = server_stats(b"metrics-unit.test");
        let again = server_stats(b"metrics-unit.test");
        assert!(Arc::ptr_eq(&s, &again));
        let table = [
            (200, 10, Duration::from_millis(1)),
            (204, 10, Duration::from_millis(7)),
            (301, 10, Duration::from_millis(30)),
            (404, 10, Duration::from_secs(20)),
            (502, 10, Duration::from_millis(5)),
            (101, 10, Duration::from_millis(5)),
            (0, 10, Duration::from_millis(5)),
        ];
        let before = render(1);
        let before = String::from_utf8(before).unwrap();
        let inf0 = value(
            &before,
            "rampart_http_request_duration_seconds_bucket{le=\"+Inf\"}",
        )
        .unwrap();
        for (st, b, d) in table {
            record_request(&s, st, b, d);
        }
        let p = peer_stats("back\"end", "127.0.0.1:9".parse().unwrap());
        record_attempt(&p, false);
        record_attempt(&p, true);
        let text = String::from_utf8(render(7)).unwrap();
        let srv = "rampart_http_responses_total{server=\"metrics-unit.test\",code=";
        for (class, n) in [
            ("1xx", 1.0),
            ("2xx", 2.0),
            ("3xx", 1.0),
            ("4xx", 1.0),
            ("5xx", 1.0),
        ] {
            assert_eq!(value(&text, &format!("{srv}\"{class}\"}}")), Some(n), "{class}");
        }
        assert_eq!(
            value(
                &text,
                "rampart_http_sent_bytes_total{server=\"metrics-unit.test\"}"
            ),
            Some(70.0)
        );
        assert_eq!(value(&text, "rampart_config_generation"), Some(7.0));
        let inf = value(&text, "rampart_http_request_duration_seconds_bucket{le=\"+Inf\"}").unwrap();
        assert!(inf - inf0 >= 7.0);
        assert_eq!(
            value(
                &text,
                "rampart_upstream_requests_total{upstream=\"back\\\"end\",peer=\"127.0.0.1:9\"}"
            ),
            Some(2.0)
        );
        assert_eq!(
            value(
                &text,
                "rampart_upstream_failures_total{upstream=\"back\\\"end\",peer=\"127.0.0.1:9\"}"
            ),
            Some(1.0)
        );
        // Buckets are cumulative and end at the count.
        let mut last = 0.0;
        for l in text
            .lines()
            .filter(|l| l.starts_with("rampart_http_request_duration_seconds_bucket"))
        {
            let v: f64 = l.rsplit(' ').next().unwrap().parse().unwrap();
            assert!(v >= last, "{l}");
            last = v;
        }
        assert_eq!(
            Some(last),
            value(&text, "rampart_http_request_duration_seconds_count")
        );
    }

    #[test]
    fn every_series_has_help_and_type() {
        let text = String::from_utf8(render(1)).unwrap();
        let mut typed = std::collections::HashSet::new();
        for l in text.lines() {
            if let Some(rest) = l.strip_prefix("# TYPE ") {
                typed.insert(rest.split(' ').next().unwrap().to_string());
            } else if !l.starts_with('#') {
                let name = l.split(['{', ' ']).next().unwrap();
                let base = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s).filter(|b| typed.contains(*b)))
                    .unwrap_or(name);
                assert!(typed.contains(base), "{l}");
                assert!(name.starts_with("rampart_"));
            }
        }
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn label_escaping() {
        let mut o = String::new();
        escape("a\\b\"c\nd", &mut o);
        assert_eq!(o, "a\\\\b\\\"c\\nd");
    }
}
