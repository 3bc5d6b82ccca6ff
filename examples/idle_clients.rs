//! `idle_clients`: holds N idle HTTP/1.1 keep-alive connections open against a server, so a
//! benchmark can read the server's memory per idle connection (`benches/compare.sh`, idle-10k).
//!
//! ```text
//! idle_clients ADDR N [PATH] [--hold SECS] [--concurrency C]
//! ```
//! Opens N connections (at most C in flight, default 256), sends one
//! `GET PATH HTTP/1.1\r\nHost: x\r\n\r\n` on each and reads the whole response (Content-Length
//! framing; a response without it, or one that announces a close, is an error because that
//! connection cannot stay idle). Then prints `ready N` and holds every connection open, reading
//! nothing, until stdin reaches end of file — or, with `--hold SECS`, for SECS seconds instead
//! (stdin is then ignored, so the tool can run in the background with stdin at /dev/null). On exit
//! it prints `closed_by_peer K`: how many of the held connections the server had closed meanwhile.
//!
//! The soft RLIMIT_NOFILE is raised to the hard limit first (here 20 000, so N ≤ 10 000 is the
//! design point with room for the server's own descriptors when both run in one shell).

use std::net::SocketAddr;
use std::os::fd::AsRawFd as _;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// Bound on connecting plus one exchange, per connection.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest response head accepted.
const MAX_HEAD: usize = 64 * 1024;

#[derive(Debug, PartialEq)]
struct Args {
    addr: SocketAddr,
    n: usize,
    path: String,
    hold: Option<u64>,
    concurrency: usize,
}

const USAGE: &str = "usage: idle_clients ADDR N [PATH] [--hold SECS] [--concurrency C]";

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Args, String> {
    let mut pos = Vec::new();
    let (mut hold, mut concurrency) = (None, 256);
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let mut num = |name: &str| -> Result<u64, String> {
            let v = it.next().ok_or_else(|| format!("{name} needs a value"))?;
            v.parse().map_err(|_| format!("{name} {v}: not a number"))
        };
        match a.as_str() {
            "--hold" => hold = Some(num("--hold")?),
            "--concurrency" => concurrency = usize::try_from(num("--concurrency")?.max(1)).unwrap_or(1),
            "-h" | "--help" => return Err(String::new()),
            s if s.starts_with("--") => return Err(format!("unknown option {s}")),
            _ => pos.push(a),
        }
    }
    let mut pos = pos.into_iter();
    let addr = pos.next().ok_or("missing ADDR")?;
    let addr = addr.parse().map_err(|_| format!("{addr}: not an IP:PORT"))?;
    let n = pos.next().ok_or("missing N")?;
    let n = n.parse().map_err(|_| format!("N {n}: not a number"))?;
    let path = pos.next().unwrap_or_else(|| "/".to_string());
    if !path.starts_with('/') || path.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(format!(
            "PATH {path:?}: want an origin-form target without spaces"
        ));
    }
    if let Some(extra) = pos.next() {
        return Err(format!("unexpected argument {extra}"));
    }
    Ok(Args {
        addr,
        n,
        path,
        hold,
        concurrency,
    })
}

/// What a complete response head says about framing.
#[derive(Debug, PartialEq)]
struct Head {
    /// Bytes of the head including the blank line.
    len: usize,
    status: u16,
    content_length: u64,
}

/// Parses a response head from the start of `buf`: `Ok(None)` while it is incomplete. Errors for
/// anything after which the connection cannot be held idle: no Content-Length (chunked or
/// close-delimited bodies, RFC 9112 §6.3), `Connection: close`, or HTTP/1.0 without
/// `Connection: keep-alive` (RFC 9112 §9.3).
fn parse_head(buf: &[u8]) -> Result<Option<Head>, String> {
    let Some(end) = memchr::memmem::find(buf, b"\r\n\r\n") else {
        return if buf.len() > MAX_HEAD {
            Err("response head too large".into())
        } else {
            Ok(None)
        };
    };
    let text = std::str::from_utf8(buf.get(..end).unwrap_or_default())
        .map_err(|_| "response head is not UTF-8".to_string())?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut words = status_line.splitn(3, ' ');
    let version = words.next().unwrap_or_default();
    let status = words.next().and_then(|s| s.parse::<u16>().ok());
    let (http10, status) = match (version, status) {
        ("HTTP/1.1", Some(s)) => (false, s),
        ("HTTP/1.0", Some(s)) => (true, s),
        _ => return Err(format!("bad status line {status_line:?}")),
    };
    let (mut cl, mut close, mut keep_alive) = (None, false, false);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("bad header line {line:?}"));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            cl = Some(
                value
                    .parse::<u64>()
                    .map_err(|_| format!("bad Content-Length {value:?}"))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(format!(
                "Transfer-Encoding: {value} (only Content-Length framing is supported)"
            ));
        } else if name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                close |= token.eq_ignore_ascii_case("close");
                keep_alive |= token.eq_ignore_ascii_case("keep-alive");
            }
        }
    }
    if close || (http10 && !keep_alive) {
        return Err(format!("status {status}: the server closes this connection"));
    }
    let content_length = cl.ok_or_else(|| format!("status {status}: response has no Content-Length"))?;
    Ok(Some(Head {
        len: end + 4,
        status,
        content_length,
    }))
}

/// Connects, does one exchange and returns the idle connection and the response status.
async fn open_one(addr: SocketAddr, request: Arc<[u8]>) -> Result<(TcpStream, u16), String> {
    let mut s = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    s.write_all(&request).await.map_err(|e| format!("write: {e}"))?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 16 * 1024];
    let head = loop {
        let n = s.read(&mut chunk).await.map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("server closed before the response head ended".into());
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        if let Some(h) = parse_head(&buf)? {
            break h;
        }
    };
    let mut left = head.content_length.saturating_sub((buf.len() - head.len) as u64);
    if buf.len() as u64 > head.len as u64 + head.content_length {
        return Err("server sent more than the response (pipelined garbage?)".into());
    }
    while left > 0 {
        let n = s.read(&mut chunk).await.map_err(|e| format!("read body: {e}"))?;
        if n == 0 {
            return Err(format!("server closed with {left} body bytes missing"));
        }
        if n as u64 > left {
            return Err("server sent more than Content-Length".into());
        }
        left -= n as u64;
    }
    Ok((s, head.status))
}

/// Whether the peer has closed `s`: a non-blocking 1-byte MSG_PEEK reads 0 only at end of stream.
fn peer_closed(s: &TcpStream) -> bool {
    let mut b = 0u8;
    // SAFETY: recv writes at most 1 byte into `b`, and the fd stays open while `s` is borrowed.
    let r = unsafe {
        libc::recv(
            s.as_raw_fd(),
            (&mut b as *mut u8).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    r == 0 || (r < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EAGAIN))
}

async fn run(args: Args) -> Result<(), String> {
    let request: Arc<[u8]> = format!("GET {} HTTP/1.1\r\nHost: x\r\n\r\n", args.path)
        .into_bytes()
        .into();
    let permits = Arc::new(Semaphore::new(args.concurrency));
    let mut tasks = JoinSet::new();
    for _ in 0..args.n {
        let (permits, request) = (permits.clone(), request.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await.map_err(|e| e.to_string())?;
            tokio::time::timeout(EXCHANGE_TIMEOUT, open_one(args.addr, request))
                .await
                .map_err(|_| "timed out".to_string())?
        });
    }
    let mut held = Vec::with_capacity(args.n);
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    let (mut failed, mut first_error) = (0usize, None);
    while let Some(r) = tasks.join_next().await {
        match r.map_err(|e| e.to_string()).and_then(|r| r) {
            Ok((s, status)) => {
                held.push(s);
                *statuses.entry(status).or_default() += 1;
            }
            Err(e) => {
                failed += 1;
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_error {
        return Err(format!("{failed} of {} connections failed; first: {e}", args.n));
    }
    eprintln!("idle_clients: statuses {statuses:?}");
    println!("ready {}", held.len());
    match args.hold {
        Some(secs) => tokio::time::sleep(Duration::from_secs(secs)).await,
        None => {
            // A plain thread: tokio's stdin would keep the runtime from shutting down.
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
                let _ = tx.send(());
            });
            let _ = rx.await;
        }
    }
    println!(
        "closed_by_peer {}",
        held.iter().filter(|s| peer_closed(s)).count()
    );
    Ok(())
}

fn main() {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("idle_clients: {e}");
            }
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    rampart_backend::raise_nofile();
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("idle_clients: runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = match rt.block_on(run(args)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("idle_clients: {e}");
            1
        }
    };
    // Exit without waiting for the stdin thread.
    std::process::exit(code);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads() {
        let ok = |len, status, content_length| {
            Ok(Some(Head {
                len,
                status,
                content_length,
            }))
        };
        let cases: &[(&[u8], Result<Option<Head>, String>)] = &[
            (b"", Ok(None)),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", Ok(None)),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
                ok(38, 200, 5),
            ),
            (
                b"HTTP/1.1 404 Not Found\r\ncontent-length:0\r\n\r\n",
                ok(44, 404, 0),
            ),
            (
                b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n",
                ok(62, 200, 1),
            ),
            (
                b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\n",
                ok(62, 200, 1),
            ),
            (
                b"HTTP/1.1 204 No Content\r\n\r\n",
                Err("status 204: response has no Content-Length".into()),
            ),
            (
                b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n",
                Err("status 200: the server closes this connection".into()),
            ),
            (
                b"HTTP/1.1 200 OK\r\nConnection: x, Close\r\nContent-Length: 1\r\n\r\n",
                Err("status 200: the server closes this connection".into()),
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                Err("Transfer-Encoding: chunked (only Content-Length framing is supported)".into()),
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                Err("bad Content-Length \"-1\"".into()),
            ),
            (
                b"HTTP/2 200\r\n\r\n",
                Err("bad status line \"HTTP/2 200\"".into()),
            ),
            (
                b"HTTP/1.1 200 OK\r\nnocolon\r\n\r\n",
                Err("bad header line \"nocolon\"".into()),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(&parse_head(input), want, "{:?}", String::from_utf8_lossy(input));
        }
        assert!(parse_head(&vec![b'a'; MAX_HEAD + 1]).is_err());
    }

    #[test]
    fn args() {
        let p = |v: &str| parse_args(v.split_whitespace().map(str::to_string));
        let a = p("127.0.0.1:8080 100").unwrap();
        assert_eq!(
            a,
            Args {
                addr: "127.0.0.1:8080".parse().unwrap(),
                n: 100,
                path: "/".into(),
                hold: None,
                concurrency: 256
            }
        );
        let a = p("--hold 5 127.0.0.1:1 3 /size/10 --concurrency 0").unwrap();
        assert_eq!(
            (a.n, a.path.as_str(), a.hold, a.concurrency),
            (3, "/size/10", Some(5), 1)
        );
        for bad in [
            "",
            "127.0.0.1:1",
            "localhost:1 3",
            "127.0.0.1:1 x",
            "127.0.0.1:1 3 nopath",
            "127.0.0.1:1 3 / extra",
            "127.0.0.1:1 3 --hold",
            "--what 127.0.0.1:1 3",
        ] {
            assert!(p(bad).is_err(), "{bad:?}");
        }
    }

    /// A server that answers every request with a fixed response, then closes after `close_after`.
    async fn server(resp: &'static [u8], close_after: Option<Duration>) -> SocketAddr {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    let _ = s.read(&mut buf).await;
                    let _ = s.write_all(resp).await;
                    match close_after {
                        Some(d) => tokio::time::sleep(d).await,
                        None => std::future::pending().await,
                    }
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn exchange_then_hold_and_detect_close() {
        let a = server(
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
            Some(Duration::from_millis(100)),
        )
        .await;
        let (s, status) = open_one(a, Arc::from(&b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..]))
            .await
            .unwrap();
        assert_eq!(status, 200);
        assert!(!peer_closed(&s));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(peer_closed(&s));
    }

    #[tokio::test]
    async fn short_and_closing_responses_fail() {
        let req: Arc<[u8]> = Arc::from(&b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..]);
        let a = server(
            b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc",
            Some(Duration::ZERO),
        )
        .await;
        let e = open_one(a, req.clone()).await.unwrap_err();
        assert!(e.contains("6 body bytes missing"), "{e}");
        let a = server(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nabc", None).await;
        assert!(open_one(a, req.clone()).await.is_err());
        let a = server(
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            None,
        )
        .await;
        assert!(open_one(a, req).await.unwrap_err().contains("closes"));
    }
}
