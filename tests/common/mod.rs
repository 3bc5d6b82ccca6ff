//! Shared harness for the integration tests: start the real `rampart` binary
//! on a config written by the test, start real upstreams (the
//! `rampart-backend` crate, in-process), and talk to both over TCP on 127.0.0.1.
//!
//! Every wait is bounded; every process started here is killed by PID when
//! its handle drops.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub const RAMPART: &str = env!("CARGO_BIN_EXE_rampart");

/// A port that was free a moment ago (bind to 0, read it, release it): for
/// ports something else binds (nginx, haproxy, a backend, a reload's new
/// listener) or nothing does (a dead upstream). A port rampart listens on
/// from its start comes from [`rampart_port`].
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

thread_local! {
    /// Listeners bound by [`rampart_port`] and not yet handed to a rampart.
    static RESERVED: std::cell::RefCell<Vec<TcpListener>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A port for a listener of the next rampart this test starts, with no
/// bind-then-release race: the harness binds 127.0.0.1:0 and keeps the
/// socket; [`Rampart::launch`] hands it to rampart as an inherited listener
/// (`NGINX=fd;`, as nginx's binary upgrade hands sockets over) when the
/// config names `127.0.0.1:PORT`, and closes its own copy.
pub fn rampart_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let port = l.local_addr().expect("local addr").port();
    RESERVED.with(|r| r.borrow_mut().push(l));
    port
}

/// This thread's reserved listeners whose `127.0.0.1:PORT` appears in
/// `config`; the others are closed (a config that names its port otherwise
/// binds it itself).
fn take_reserved(config: &str) -> Vec<TcpListener> {
    RESERVED.with(|r| {
        r.borrow_mut()
            .drain(..)
            .filter(|l| l.local_addr().is_ok_and(|a| names_port(config, a.port())))
            .collect()
    })
}

/// Whether `config` contains `127.0.0.1:PORT` (not followed by a digit).
fn names_port(config: &str, port: u16) -> bool {
    let pat = format!("127.0.0.1:{port}");
    config
        .match_indices(&pat)
        .any(|(i, _)| !config[i + pat.len()..].starts_with(|c: char| c.is_ascii_digit()))
}

/// A private temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "rampart-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(p.join("logs")).expect("temp dir");
        TempDir(p)
    }
    /// `path` (with a `logs` directory), removed on drop: a server's own
    /// directory inside a test's [`TempDir`].
    pub fn at(path: &Path) -> TempDir {
        std::fs::create_dir_all(path.join("logs")).expect("temp dir");
        TempDir(path.to_path_buf())
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The name of the running test (libtest names each test's thread after it).
pub fn test_name() -> String {
    match std::thread::current().name() {
        Some(n) if n != "main" => n.to_string(),
        _ => "this test".to_string(),
    }
}

/// The one answer to "a test cannot run because `tool` is missing": a test
/// must never pass silently without having run. When `tool` (a name looked up
/// on PATH, or an absolute path) can be run this returns true. Otherwise it
/// prints `SKIPPED <test>: needs <tool> (apt-get install <package>)` to
/// stderr and returns false, so the caller returns (or skips the part that
/// needs it); under `CI=true` it panics instead, so CI (.ci/run installs every
/// tool) fails rather than reports `ok`.
pub fn require_tool(tool: &str, package: &str) -> bool {
    if find_tool(tool).is_some() {
        return true;
    }
    let msg = format!(
        "SKIPPED {}: needs {tool} (apt-get install {package})",
        test_name()
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{msg}, and CI=true: a test that cannot run must fail in CI");
    }
    // Straight to fd 2 (libtest captures `eprintln!` of passing tests, and
    // this must show in a plain `cargo test`), on a line of its own even if
    // libtest is in the middle of one.
    let _ = write!(std::io::stderr(), "\n{msg}\n");
    false
}

/// Where `tool` is: itself when it has a `/`, else the first executable of that
/// name in PATH.
pub fn find_tool(tool: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    let runnable =
        |p: &Path| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    if tool.contains('/') {
        let p = PathBuf::from(tool);
        return runnable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| runnable(p))
}

/// Polls `f` every 10 ms until it returns Some, or panics after `limit`.
pub fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        if start.elapsed() > limit {
            panic!("timed out after {limit:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A running upstream: the `rampart-backend` library serving in this process
/// on its own thread and runtime. `kill` (and drop) close its listener and
/// every connection, as killing a backend process would.
pub struct Backend {
    server: rampart_backend::Server,
    pub addr: SocketAddr,
}

impl Backend {
    /// Starts a backend on `addr` (use port 0 for any) with identity `id`.
    pub fn start_on(addr: &str, id: &str) -> Backend {
        static NOFILE: std::sync::Once = std::sync::Once::new();
        // Its connections are this process's file descriptors now.
        NOFILE.call_once(rampart_backend::raise_nofile);
        let want: SocketAddr = addr.parse().expect("backend address");
        let server = rampart_backend::Server::start(want, Some(id))
            .unwrap_or_else(|e| panic!("start backend on {addr}: {e}"));
        Backend {
            addr: server.addr(),
            server,
        }
    }

    pub fn start(id: &str) -> Backend {
        Self::start_on("127.0.0.1:0", id)
    }

    pub fn kill(&mut self) {
        self.server.stop();
    }
}

/// How a server process (rampart or the reference nginx) is started, beyond
/// `BIN -p DIR -c CONF`: the one launcher, [`launch`], behind [`Rampart`] and
/// [`Nginx`].
#[derive(Default, Clone)]
pub struct Launch {
    /// `-e DIR/logs/error.log`: start-up errors go to the error log, not stderr.
    pub error_log: bool,
    /// Arguments after `-c CONF` (`-g 'daemon off;'`).
    pub args: Vec<String>,
    /// The file whose appearance means "every listener is bound" (default:
    /// `DIR/logs/rampart.pid` for rampart, `DIR/nginx.pid` for nginx).
    pub pid_file: Option<PathBuf>,
    /// Discard stderr (default: piped, shown if the server exits early).
    pub quiet: bool,
}

/// Starts `bin -p DIR [-e DIR/logs/error.log] -c CONF ARGS...` and waits (10 s)
/// for `pid_file`: both servers write it once every listener is bound. One
/// that exits first (a bad config, a port taken in the meantime) fails here
/// with its stderr and error log. `inherit`: listening sockets handed to the
/// child as nginx hands them over (`NGINX=fd;fd;`, the fds left open across
/// exec in the child only); this process's copies are closed once it runs.
pub fn launch(
    bin: &str,
    dir: &Path,
    conf: &Path,
    pid_file: &Path,
    how: &Launch,
    inherit: Vec<TcpListener>,
) -> Child {
    let _ = std::fs::create_dir_all(dir.join("logs"));
    let mut cmd = Command::new(bin);
    cmd.arg("-p").arg(dir);
    if how.error_log {
        cmd.arg("-e").arg(dir.join("logs/error.log"));
    }
    cmd.arg("-c")
        .arg(conf)
        .args(&how.args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(if how.quiet { Stdio::null() } else { Stdio::piped() });
    if !inherit.is_empty() {
        use std::os::fd::AsRawFd as _;
        use std::os::unix::process::CommandExt as _;
        let fds: Vec<i32> = inherit.iter().map(|l| l.as_raw_fd()).collect();
        let var: String = fds.iter().map(|fd| format!("{fd};")).collect();
        cmd.env("NGINX", var);
        // SAFETY: runs in the child between fork and exec, calling only
        // fcntl (async-signal-safe) on fds that are open in it. Clearing
        // FD_CLOEXEC there, not here, keeps the sockets out of any other
        // child this process starts meanwhile.
        unsafe {
            cmd.pre_exec(move || {
                for &fd in &fds {
                    if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
    }
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("start {bin}: {e}"));
    drop(inherit);
    wait_for(
        &format!("{bin}'s pid file {}", pid_file.display()),
        Duration::from_secs(10),
        || {
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = String::new();
                if let Some(e) = child.stderr.as_mut() {
                    let _ = e.read_to_string(&mut err);
                }
                let log = std::fs::read_to_string(dir.join("logs/error.log")).unwrap_or_default();
                panic!("{bin} exited early ({status}): {err}{log}");
            }
            pid_file.exists().then_some(())
        },
    );
    child
}

/// A running `rampart -p DIR -c CONF`, stopped on drop.
pub struct Rampart {
    pub child: Child,
    pub dir: TempDir,
    pub port: u16,
    pub conf: PathBuf,
    pid_path: PathBuf,
}

impl Rampart {
    /// Writes `config` (with `@PORT@` and `@DIR@` replaced) and starts rampart
    /// on it; returns once the pid file exists (every listener is bound then).
    pub fn start(config: &str) -> Rampart {
        let dir = TempDir::new("rampart");
        let port = rampart_port();
        let conf = dir.path().join("rampart.toml");
        let text = config
            .replace("@PORT@", &port.to_string())
            .replace("@DIR@", &dir.path().display().to_string());
        std::fs::write(&conf, text).expect("write config");
        Self::run_file(dir, port, conf)
    }

    /// Starts `rampart -p DIR -c CONF` on a config file already written
    /// (listening on `port`); returns once its pid file exists.
    pub fn run_file(dir: TempDir, port: u16, conf: PathBuf) -> Rampart {
        Self::launch(dir, port, conf, &Launch::default())
    }

    /// Writes the nginx.conf text `conf` to `DIR/nginx.conf`, without its
    /// `*_temp_path` lines (nginx-only housekeeping), and starts rampart on
    /// it. The config writes its pid file to `DIR/nginx.pid`, as the
    /// reference nginx's does ([`Nginx::start_in`]).
    pub fn start_nginx_conf(dir: TempDir, port: u16, conf: &str, how: &Launch) -> Rampart {
        let text: Vec<&str> = conf.lines().filter(|l| !l.contains("_temp_path")).collect();
        let file = dir.path().join("nginx.conf");
        std::fs::write(&file, text.join("\n")).expect("write nginx.conf");
        let how = Launch {
            pid_file: Some(
                how.pid_file
                    .clone()
                    .unwrap_or_else(|| dir.path().join("nginx.pid")),
            ),
            ..how.clone()
        };
        Self::launch(dir, port, file, &how)
    }

    /// The one way tests start a rampart server: `rampart -p DIR -c CONF` as
    /// `how` says; returns once its pid file exists. Every listener this test
    /// reserved with [`rampart_port`] whose address the config names is
    /// inherited, not bound by rampart.
    pub fn launch(dir: TempDir, port: u16, conf: PathBuf, how: &Launch) -> Rampart {
        let pid_path = how
            .pid_file
            .clone()
            .unwrap_or_else(|| dir.path().join("logs/rampart.pid"));
        let text = std::fs::read_to_string(&conf).unwrap_or_default();
        let child = launch(RAMPART, dir.path(), &conf, &pid_path, how, take_reserved(&text));
        Rampart {
            child,
            dir,
            port,
            conf,
            pid_path,
        }
    }

    /// The pid file (`DIR/logs/rampart.pid` unless the config sets `pid`).
    pub fn pid_file(&self) -> PathBuf {
        self.pid_path.clone()
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends a signal (libc number) to the process.
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill has no memory-safety preconditions; the pid is our child.
        unsafe {
            libc::kill(self.pid(), sig);
        }
    }

    /// Waits for the process to exit (bounded) and returns its exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let child = &mut self.child;
        let status = wait_for("rampart to exit", limit, || child.try_wait().ok().flatten());
        status.code()
    }

    pub fn log_path(&self, name: &str) -> PathBuf {
        self.dir.path().join("logs").join(name)
    }

    pub fn read_log(&self, name: &str) -> String {
        std::fs::read_to_string(self.log_path(name)).unwrap_or_default()
    }
}

impl Drop for Rampart {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A parsed HTTP/1.x response.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub status_line: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Connects with a bounded timeout for every read and write.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.set_write_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s
}

/// Reads one response from `r` (Content-Length, chunked, or until close).
/// `head_request`: the request was HEAD (no body follows).
pub fn read_response(r: &mut impl BufRead, head_request: bool) -> std::io::Result<Resp> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "closed before a response",
        ));
    }
    let status_line = line.trim_end().to_string();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((n, v)) = l.split_once(':') {
            headers.push((n.trim().to_string(), v.trim().to_string()));
        }
    }
    let mut resp = Resp {
        status,
        status_line,
        headers,
        body: Vec::new(),
    };
    if head_request || status == 204 || status == 304 || (100..200).contains(&status) {
        return Ok(resp);
    }
    if resp
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            line.clear();
            r.read_line(&mut line)?;
            let size =
                usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16).map_err(|_| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("bad chunk size {line:?}"),
                    )
                })?;
            if size == 0 {
                // trailers until the empty line
                loop {
                    line.clear();
                    r.read_line(&mut line)?;
                    if line.trim_end().is_empty() {
                        break;
                    }
                }
                break;
            }
            let mut chunk = vec![0u8; size];
            r.read_exact(&mut chunk)?;
            resp.body.extend_from_slice(&chunk);
            line.clear();
            r.read_line(&mut line)?;
        }
    } else if let Some(n) = resp
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        resp.body = vec![0u8; n];
        r.read_exact(&mut resp.body)?;
    } else {
        r.read_to_end(&mut resp.body)?;
    }
    Ok(resp)
}

/// Sends raw bytes on a new connection and reads one response.
pub fn raw(addr: SocketAddr, request: &[u8]) -> Resp {
    let mut s = connect(addr);
    s.write_all(request).expect("send");
    let head = request.starts_with(b"HEAD ");
    read_response(&mut BufReader::new(s), head).expect("response")
}

/// Sends raw bytes and returns everything until the server closes (bounded by the read timeout).
pub fn raw_all(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut s = connect(addr);
    s.write_all(request).expect("send");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

/// `GET path` with `Host: localhost` and `Connection: close`.
pub fn get(addr: SocketAddr, path: &str) -> Resp {
    raw(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

/// Resident set size of a process in KiB (from /proc).
pub fn rss_kib(pid: i32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// A minimal config: one server on @PORT@ with the given locations (TOML
/// `[[http.server.location]]` tables) and http-level extras.
pub fn config(http_extra: &str, locations: &str) -> String {
    format!(
        "worker_processes = 2\nerror_log = \"logs/error.log info\"\n\n[http]\naccess_log = \"logs/access.log\"\n{http_extra}\n\n\
         [[http.server]]\nlisten = [\"127.0.0.1:@PORT@\"]\nserver_name = [\"localhost\"]\n\n{locations}\n"
    )
}

// ---------------------------------------------------------------------------
// Additions for tests/proxy.rs and tests/errors.rs (t-proxy).
// ---------------------------------------------------------------------------

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

/// What a [`RawUpstream`] does with a connection once `reply` has seen enough.
type ReplyFn = dyn Fn(&[u8]) -> Option<Vec<u8>> + Send + Sync;

/// A hand-written upstream on a real socket, for what `rampart-backend` cannot
/// send (garbage, custom reason phrases, hidden headers) or to watch request
/// bytes arrive one read at a time. For every connection it appends each read
/// to `received` (one `Vec` per connection, in accept order) and calls `reply`
/// with everything read so far; once `reply` returns bytes it writes them and
/// closes. A connection whose peer closes first is just recorded.
pub struct RawUpstream {
    pub addr: SocketAddr,
    pub received: Arc<Mutex<Vec<Vec<u8>>>>,
    stop: Arc<AtomicBool>,
}

impl RawUpstream {
    pub fn start(reply: impl Fn(&[u8]) -> Option<Vec<u8>> + Send + Sync + 'static) -> RawUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind raw upstream");
        let addr = listener.local_addr().expect("addr");
        let received: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let reply: Arc<ReplyFn> = Arc::new(reply);
        let (rec, st) = (received.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut conn) = conn else { continue };
                let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
                let idx = {
                    let mut r = rec.lock().expect("lock");
                    r.push(Vec::new());
                    r.len() - 1
                };
                let (rec, reply) = (rec.clone(), reply.clone());
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16 * 1024];
                    loop {
                        let n = match conn.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        let so_far = {
                            let mut r = rec.lock().expect("lock");
                            r[idx].extend_from_slice(&buf[..n]);
                            r[idx].clone()
                        };
                        if let Some(out) = reply(&so_far) {
                            let _ = conn.write_all(&out);
                            return;
                        }
                    }
                });
            }
        });
        RawUpstream { addr, received, stop }
    }

    /// Answers `response` to every request once its head (up to the blank line) has arrived.
    pub fn canned(response: &[u8]) -> RawUpstream {
        let response = response.to_vec();
        Self::start(move |got| got.windows(4).any(|w| w == b"\r\n\r\n").then(|| response.clone()))
    }

    /// The bytes received so far on the `i`th connection (empty if none yet).
    pub fn received(&self, i: usize) -> Vec<u8> {
        self.received
            .lock()
            .expect("lock")
            .get(i)
            .cloned()
            .unwrap_or_default()
    }
}

impl Drop for RawUpstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

/// nginx 1.22.1's built-in error page for a status line text such as
/// `"502 Bad Gateway"` (`ngx_http_special_response.c`: CRLF lines, version tail).
pub fn nginx_page(title: &str) -> String {
    format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n\
         <hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n"
    )
}

/// A whole response (or several in a row) as text with each head's `Date:`
/// value replaced by `DATE`, for byte comparisons with what nginx sent.
pub fn without_date(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut out = String::with_capacity(text.len());
    let mut in_head = true;
    for line in text.split_inclusive("\r\n") {
        if line.starts_with("HTTP/1.") {
            in_head = true;
        }
        if in_head && line.starts_with("Date: ") {
            out.push_str("Date: DATE\r\n");
        } else {
            out.push_str(line);
        }
        if line == "\r\n" {
            in_head = false;
        }
    }
    out
}

/// Polls a log file until it contains `needle`; returns the whole file.
pub fn wait_log(r: &Rampart, name: &str, needle: &str) -> String {
    wait_for(&format!("{needle:?} in {name}"), Duration::from_secs(5), || {
        let s = r.read_log(name);
        s.contains(needle).then_some(s)
    })
}

// ---------------------------------------------------------------------------
// Added for tests/locations.rs, tests/signals.rs and tests/cli.rs (t-ops):
// the reference nginx, running a CLI command with a bounded wait, and
// access-log line counting.
// ---------------------------------------------------------------------------

/// Debian's nginx 1.22.1, the behaviour reference.
pub const NGINX: &str = "/usr/sbin/nginx";

/// Whether the reference nginx is installed; when it is not, says SKIPPED
/// (or fails under `CI=true`): see [`require_tool`].
pub fn require_nginx() -> bool {
    require_tool(NGINX, "nginx")
}

/// A running reference nginx (`daemon off; master_process off;`, everything
/// under its own temp dir), killed by PID on drop: the one nginx harness.
pub struct Nginx {
    pub child: Child,
    pub dir: TempDir,
}

impl Nginx {
    /// The config lines every test nginx needs (paths inside `dir`); the
    /// caller appends its `http { ... }` block.
    pub fn preamble(dir: &Path) -> String {
        let d = dir.display();
        format!(
            "user root;\ndaemon off;\nmaster_process off;\nworker_processes 1;\n\
             pid {d}/nginx.pid;\nerror_log {d}/logs/error.log info;\n\
             events {{ worker_connections 1024; }}\n"
        )
    }

    /// The http-level temp paths, so nginx never touches /var.
    pub fn temp_paths(dir: &Path) -> String {
        let d = dir.display();
        ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
            .iter()
            .map(|t| format!("{t}_temp_path {d}/tmp_{t};\n"))
            .collect()
    }

    /// Writes `conf` (with `@DIR@` replaced) and starts nginx on it; returns
    /// once the pid file exists (nginx writes it after binding every listener).
    pub fn start(conf: &str) -> Nginx {
        let dir = TempDir::new("nginx");
        let conf = conf.replace("@DIR@", &dir.path().display().to_string());
        Self::start_in(
            dir,
            &conf,
            &Launch {
                error_log: true,
                ..Launch::default()
            },
        )
    }

    /// Writes the nginx.conf text `conf` to `DIR/nginx.conf` as it is and starts
    /// nginx on it (`-p DIR`, as `how` says); the config must write its pid
    /// file to `DIR/nginx.pid` unless `how.pid_file` names another.
    pub fn start_in(dir: TempDir, conf: &str, how: &Launch) -> Nginx {
        let file = dir.path().join("nginx.conf");
        std::fs::write(&file, conf).expect("write nginx.conf");
        let pid = how
            .pid_file
            .clone()
            .unwrap_or_else(|| dir.path().join("nginx.pid"));
        let child = launch(NGINX, dir.path(), &file, &pid, how, Vec::new());
        Nginx { child, dir }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// nginx or rampart, started on the same nginx.conf by the differential tests.
pub enum Server {
    Nginx(Nginx),
    Rampart(Rampart),
}

impl Server {
    /// The reference nginx (`nginx: true`) or rampart on the nginx.conf text
    /// `conf` in `dir` (see [`Nginx::start_in`], [`Rampart::start_nginx_conf`]).
    pub fn start(nginx: bool, dir: TempDir, port: u16, conf: &str, how: &Launch) -> Server {
        if nginx {
            Server::Nginx(Nginx::start_in(dir, conf, how))
        } else {
            Server::Rampart(Rampart::start_nginx_conf(dir, port, conf, how))
        }
    }

    pub fn dir(&self) -> &Path {
        match self {
            Server::Nginx(n) => n.dir.path(),
            Server::Rampart(r) => r.dir.path(),
        }
    }
}

/// The output of a finished command.
pub struct CmdOut {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `rampart ARGS` to completion (bounded: killed after 10 s).
pub fn rampart_cmd(args: &[&std::ffi::OsStr]) -> CmdOut {
    let mut child = Command::new(RAMPART)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run rampart");
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let status = {
        let start = Instant::now();
        loop {
            if let Some(s) = child.try_wait().expect("wait") {
                break s;
            }
            if start.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("rampart {args:?} did not finish within 10 s");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    CmdOut {
        code: status.code(),
        stdout: t_out.join().unwrap_or_default(),
        stderr: t_err.join().unwrap_or_default(),
    }
}

/// Number of lines in a file (0 when it does not exist).
pub fn count_lines(path: &Path) -> usize {
    std::fs::read(path)
        .map(|b| b.iter().filter(|&&c| c == b'\n').count())
        .unwrap_or(0)
}

/// Established IPv4 TCP connections whose remote end is 127.0.0.1:`port`
/// (from /proc/net/tcp): with a `rampart-backend` on `port`, the number of
/// upstream connections rampart (and anyone else) holds open to it right now.
pub fn connections_to(port: u16) -> usize {
    let want = format!("0100007F:{port:04X}");
    std::fs::read_to_string("/proc/net/tcp")
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.get(2) == Some(&want.as_str()) && f.get(3) == Some(&"01")
        })
        .count()
}

/// Starts nginx (`nginx: true`) or rampart on the nginx.conf text `conf`,
/// written to `dir/nginx.conf`, with `-p dir` (see [`Server::start`]). The
/// config must write its pid file to `dir/nginx.pid`: the server is ready
/// when it appears.
pub fn serve_nginx_conf(nginx: bool, dir: &Path, port: u16, conf: &str) -> Server {
    Server::start(nginx, TempDir::at(dir), port, conf, &Launch::default())
}

/// The first `want` lines of the log file at `path`, once it has them (logs
/// are written in batches: rampart's writer flushes at least every ~100 ms).
pub fn log_lines(path: &Path, want: usize) -> Vec<String> {
    wait_for(
        &format!("{want} lines in {path:?}"),
        Duration::from_secs(5),
        || {
            let s = std::fs::read_to_string(path).ok()?;
            let v: Vec<String> = s.lines().take(want).map(str::to_string).collect();
            (v.len() >= want).then_some(v)
        },
    )
}

/// Checks log lines ending in `$gzip_ratio`, request by request: rampart
/// logs a number exactly where nginx does (the values differ: not the same
/// compressor), and its number is its own (decoded, sent) body sizes in
/// `sizes` as nginx would format them. Returns how many lines had a number.
pub fn check_gzip_ratios(nginx: &[String], rampart: &[String], sizes: &[(u64, u64)]) -> usize {
    let mut ratios = 0;
    for ((n, r), (plain, sent)) in nginx.iter().zip(rampart).zip(sizes) {
        let (rn, rr) = (n.rsplit(' ').next(), r.rsplit(' ').next());
        assert_eq!(rn == Some("-"), rr == Some("-"), "nginx: {n:?}, rampart: {r:?}");
        if rr != Some("-") {
            ratios += 1;
            let want = rampart::filters::gzip::ratio(*plain, *sent);
            assert_eq!(rr, Some(want.as_str()), "{r:?}: {plain} bytes sent as {sent}");
        }
    }
    ratios
}
