//! The static handler end to end (TOML front end): path traversal, a file
//! replaced by rename under open_file_cache, a large file streamed, and
//! storage that stalls (a FUSE mount that never answers, like a hung NFS
//! server) delaying nobody else.

mod common;

use common::{config, get, rampart_cmd, raw_all, wait_log, Rampart, TempDir};
use std::time::{Duration, Instant};

/// The config of `start`.
fn start_config(http_extra: &str) -> String {
    let locs = r#"
root = "www"

[[http.server.location]]
match = "/img"
alias = "www/img/"

[[http.server.location]]
match = "/al/"
alias = "www/sub/"

[[http.server.location]]
match = "~ ^/rx/(.*)$"
alias = "www/$1"
"#;
    config(http_extra, locs)
}

/// Starts rampart on a tree `@DIR@/www` with `@DIR@/secret.txt` outside it.
fn start(http_extra: &str) -> Rampart {
    let r = Rampart::start(&start_config(http_extra));
    let www = r.dir.path().join("www");
    std::fs::create_dir_all(www.join("img")).unwrap();
    std::fs::create_dir_all(www.join("sub")).unwrap();
    std::fs::write(www.join("a.txt"), b"inside\n").unwrap();
    std::fs::write(www.join("sub/b.txt"), b"sub\n").unwrap();
    std::fs::write(r.dir.path().join("secret.txt"), b"TOPSECRET\n").unwrap();
    r
}

#[test]
fn hostile_uris_never_leave_the_root() {
    let r = start("");
    assert_eq!(get(r.addr(), "/a.txt").text(), "inside\n");
    assert_eq!(get(r.addr(), "/al/b.txt").text(), "sub\n");
    let hostile = [
        "/../secret.txt",
        "/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/.%2e/secret.txt",
        "/%2e./secret.txt",
        "/..%2fsecret.txt",
        "/..%2Fsecret.txt",
        "/%2e%2e%2fsecret.txt",
        "/a/../../secret.txt",
        "/a/%2e%2e/%2e%2e/secret.txt",
        "/./../secret.txt",
        "/..\\secret.txt",
        "/..%5csecret.txt",
        "/%5c..%5csecret.txt",
        "/..%00/secret.txt",
        "/secret.txt%00.txt",
        "/%00../secret.txt",
        "/%c0%ae%c0%ae/secret.txt",
        "/%c0%2e%c0%2e/secret.txt",
        "/%e0%80%ae%e0%80%ae/secret.txt",
        "/%c1%9c../secret.txt",
        "/img../secret.txt",
        "/img/../secret.txt",
        "/img/..%2fsecret.txt",
        "/img%2f..%2f..%2fsecret.txt",
        "/img..%2fsecret.txt",
        "/al/../../secret.txt",
        "/al/..%2f..%2fsecret.txt",
        "/al/%2e%2e/%2e%2e/secret.txt",
        "/rx/../secret.txt",
        "/rx/..%2fsecret.txt",
        "/rx/%2e%2e/secret.txt",
        "/rx/%2e%2e%2fsecret.txt",
        "//../secret.txt",
        "/.../secret.txt",
        "/....//secret.txt",
        "/%252e%252e/secret.txt",
        "/..;/secret.txt",
        "/sub/../../secret.txt",
        "/sub/./../../secret.txt",
        "/%2e%2e%5csecret.txt",
        "http://localhost/../secret.txt",
        "/a.txt/../../secret.txt",
    ];
    assert!(hostile.len() >= 40);
    for u in hostile {
        let out = raw_all(
            r.addr(),
            format!("GET {u} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        let text = String::from_utf8_lossy(&out);
        assert!(!text.contains("TOPSECRET"), "{u} leaked: {text}");
        assert!(
            text.starts_with("HTTP/1.1 400")
                || text.starts_with("HTTP/1.1 404")
                || text.starts_with("HTTP/1.1 403"),
            "{u}: {}",
            text.lines().next().unwrap_or("")
        );
    }
}

#[test]
fn rename_under_open_file_cache_is_never_mixed() {
    let r = start("open_file_cache = \"max=100 inactive=60s\"\nopen_file_cache_valid = \"1s\"\n");
    let www = r.dir.path().join("www");
    let size = 600 * 1024;
    std::fs::write(www.join("big.bin"), vec![b'A'; size]).unwrap();
    let first = get(r.addr(), "/big.bin");
    assert_eq!(first.body, vec![b'A'; size]);
    // Replace it by rename with a different size and content.
    let tmp = www.join("big.tmp");
    std::fs::write(&tmp, vec![b'B'; size + 1000]).unwrap();
    std::fs::rename(&tmp, www.join("big.bin")).unwrap();
    let changed = Instant::now();
    let mut saw_new = None;
    while changed.elapsed() < Duration::from_secs(5) {
        let resp = get(r.addr(), "/big.bin");
        let len: usize = resp.header("content-length").unwrap().parse().unwrap();
        assert_eq!(resp.body.len(), len);
        let all_a = resp.body.iter().all(|&b| b == b'A') && len == size;
        let all_b = resp.body.iter().all(|&b| b == b'B') && len == size + 1000;
        assert!(all_a || all_b, "a mixed body of {len} bytes");
        if all_b {
            saw_new = Some(changed.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let t = saw_new.expect("the new file was never served");
    assert!(t <= Duration::from_millis(1500), "new content after {t:?}");
}

#[test]
fn large_file_streams_whole() {
    let r = start("");
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(r.dir.path().join("www/large.bin"), &data).unwrap();
    let resp = get(r.addr(), "/large.bin");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body.len(), data.len());
    assert!(resp.body == data);
}

/// Bodies of a local file whose pages are in memory go out with sendfile:
/// whole, ranged and HEAD answers are byte-exact, keep-alive continues after
/// them, and the access log counts their bytes.
#[test]
fn sendfile_bodies_are_exact() {
    let r = start("");
    let data: Vec<u8> = (0..2_500_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(r.dir.path().join("www/sf.bin"), &data).unwrap();
    for _ in 0..3 {
        let resp = get(r.addr(), "/sf.bin");
        assert_eq!(resp.status, 200);
        assert!(resp.body == data, "{} bytes", resp.body.len());
    }
    let mut s = common::connect(r.addr());
    let mut rd = std::io::BufReader::new(s.try_clone().unwrap());
    let req =
        |range: &str| format!("GET /sf.bin HTTP/1.1\r\nHost: localhost\r\nRange: bytes={range}\r\n\r\n");
    for (range, from, to) in [
        ("100000-899999", 100_000, 900_000),
        ("-70000", 2_430_000, 2_500_000),
    ] {
        std::io::Write::write_all(&mut s, req(range).as_bytes()).unwrap();
        let resp = common::read_response(&mut rd, false).unwrap();
        assert_eq!(resp.status, 206);
        assert!(resp.body == data[from..to], "{range}");
    }
    std::io::Write::write_all(&mut s, b"HEAD /sf.bin HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let resp = common::read_response(&mut rd, true).unwrap();
    assert_eq!(resp.header("content-length"), Some("2500000"));
    // $body_bytes_sent counts what sendfile sent.
    common::wait_for("the access log", Duration::from_secs(5), || {
        let log = r.read_log("access.log");
        (log.matches("\"GET /sf.bin HTTP/1.1\" 200 2500000 ").count() == 3).then_some(())
    });
}

#[test]
fn stalled_readers_of_a_big_file_neither_block_others_nor_buffer_it() {
    let r = start("");
    let data = vec![b'z'; 8 << 20];
    std::fs::write(r.dir.path().join("www/huge.bin"), &data).unwrap();
    let before = common::rss_kib(r.pid());
    // 16 clients ask for 8 MiB each and never read: their responses stall on
    // the socket, each holding at most one chunk.
    let mut stalled = Vec::new();
    for _ in 0..16 {
        let mut s = common::connect(r.addr());
        std::io::Write::write_all(&mut s, b"GET /huge.bin HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
        stalled.push(s);
    }
    std::thread::sleep(Duration::from_millis(500));
    let t0 = Instant::now();
    assert_eq!(get(r.addr(), "/a.txt").text(), "inside\n");
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    let grown = common::rss_kib(r.pid()).saturating_sub(before);
    // 16 × 8 MiB would be 128 MiB if bodies were read whole.
    assert!(grown < 24 * 1024, "RSS grew by {grown} KiB");
    drop(stalled);
}

#[test]
fn gzip_of_a_file_larger_than_one_compression_step() {
    // 700 KB: several read-and-compress steps, HTTP/1.1 (chunked) and 1.0 (until close).
    let r = start("gzip = true\ngzip_http_version = \"1.0\"");
    let page: Vec<u8> = (0..20000u32)
        .flat_map(|i| format!("<p>w{} {}</p>\n", i % 97, i.wrapping_mul(2654435761) % 9973).into_bytes())
        .collect();
    std::fs::write(r.dir.path().join("www/big.html"), &page).unwrap();
    for version in ["1.1", "1.0"] {
        let resp = common::raw(
            r.addr(),
            format!("GET /big.html HTTP/{version}\r\nHost: localhost\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        );
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("content-encoding"), Some("gzip"));
        assert_eq!(resp.header("content-length"), None);
        let mut back = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&resp.body[..]), &mut back).unwrap();
        assert_eq!(back.len(), page.len(), "HTTP/{version}");
        assert!(back == page, "HTTP/{version}");
        assert!(resp.body.len() < page.len() / 3);
    }
}

/// A FUSE file system that stalls like a hung NFSv4 server: its daemon (a
/// thread here) answers INIT and every LOOKUP at once (any name is a 5-byte
/// file, cached by the kernel for an hour, so a later path walk finds every
/// component in the dentry cache), but never answers OPEN or OPENDIR: the
/// open itself waits, as an NFSv4 OPEN round trip to a dead server does.
/// Each OPEN it holds is reported on `opens`. Releasing it aborts the
/// connection (the waiters get ENOTCONN); it is detached on drop.
struct StalledMount {
    target: std::ffi::CString,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    daemon: Option<std::thread::JoinHandle<()>>,
    opens: std::sync::mpsc::Receiver<u32>,
}

mod fuse {
    pub const LOOKUP: u32 = 1;
    pub const FORGET: u32 = 2;
    pub const GETATTR: u32 = 3;
    pub const OPEN: u32 = 14;
    pub const INIT: u32 = 26;
    pub const OPENDIR: u32 = 27;
    pub const INTERRUPT: u32 = 36;
    pub const BATCH_FORGET: u32 = 42;

    /// struct fuse_attr (include/uapi/linux/fuse.h), 88 bytes.
    pub fn attr(ino: u64, mode: u32, size: u64) -> Vec<u8> {
        let mut a = Vec::with_capacity(88);
        for v in [ino, size, 1, 0, 0, 0] {
            a.extend_from_slice(&v.to_ne_bytes());
        }
        for v in [0u32, 0, 0, mode, 1, 0, 0, 0, 4096, 0] {
            a.extend_from_slice(&v.to_ne_bytes());
        }
        a
    }

    /// A reply: fuse_out_header then the body.
    pub fn reply(unique: u64, error: i32, body: &[u8]) -> Vec<u8> {
        let mut r = Vec::with_capacity(16 + body.len());
        r.extend_from_slice(&((16 + body.len()) as u32).to_ne_bytes());
        r.extend_from_slice(&error.to_ne_bytes());
        r.extend_from_slice(&unique.to_ne_bytes());
        r.extend_from_slice(body);
        r
    }
}

impl StalledMount {
    /// Needs CAP_SYS_ADMIN and /dev/fuse; the reason when not possible.
    fn mount(target: &std::path::Path) -> Result<StalledMount, String> {
        use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
        use std::os::unix::ffi::OsStrExt;
        use std::sync::atomic::Ordering;
        // SAFETY: a plain open of a NUL-terminated path.
        let fd = unsafe { libc::open(c"/dev/fuse".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(format!("open /dev/fuse: {}", std::io::Error::last_os_error()));
        }
        // SAFETY: a fresh descriptor that nothing else owns.
        let dev = unsafe { OwnedFd::from_raw_fd(fd) };
        let target = std::ffi::CString::new(target.as_os_str().as_bytes()).unwrap();
        let opts = std::ffi::CString::new(format!(
            "fd={},rootmode=40000,user_id=0,group_id=0",
            dev.as_raw_fd()
        ))
        .unwrap();
        // SAFETY: all pointers are NUL-terminated strings that outlive the call.
        let r = unsafe {
            libc::mount(
                c"rampart-stall".as_ptr(),
                target.as_ptr(),
                c"fuse".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV,
                opts.as_ptr().cast(),
            )
        };
        if r != 0 {
            return Err(format!("mount fuse: {}", std::io::Error::last_os_error()));
        }
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (tx, opens) = std::sync::mpsc::channel();
        let flag = stop.clone();
        let daemon = std::thread::spawn(move || {
            let mut buf = vec![0u8; 256 * 1024];
            while !flag.load(Ordering::Relaxed) {
                let mut p = libc::pollfd {
                    fd: dev.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd.
                if unsafe { libc::poll(&mut p, 1, 20) } <= 0 {
                    continue;
                }
                // SAFETY: reads into `buf`, at most its length.
                let n = unsafe { libc::read(dev.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
                let Ok(n) = usize::try_from(n) else { continue };
                if n < 40 {
                    continue;
                }
                let u32_at = |o: usize| u32::from_ne_bytes(buf[o..o + 4].try_into().unwrap());
                let u64_at = |o: usize| u64::from_ne_bytes(buf[o..o + 8].try_into().unwrap());
                let (opcode, unique, node) = (u32_at(4), u64_at(8), u64_at(16));
                let out = match opcode {
                    fuse::INIT => {
                        // fuse_init_out: major 7, minor 31, max_write 4096, time_gran 1.
                        let mut b = vec![0u8; 64];
                        b[0..4].copy_from_slice(&7u32.to_ne_bytes());
                        b[4..8].copy_from_slice(&31u32.to_ne_bytes());
                        b[16..20].copy_from_slice(&4096u32.to_ne_bytes());
                        b[20..24].copy_from_slice(&1u32.to_ne_bytes());
                        fuse::reply(unique, 0, &b)
                    }
                    fuse::LOOKUP => {
                        // fuse_entry_out: nodeid, generation, entry/attr valid for an hour.
                        let mut b = Vec::new();
                        for v in [2u64, 0, 3600, 3600] {
                            b.extend_from_slice(&v.to_ne_bytes());
                        }
                        b.extend_from_slice(&[0u8; 8]);
                        b.extend_from_slice(&fuse::attr(2, libc::S_IFREG | 0o644, 5));
                        fuse::reply(unique, 0, &b)
                    }
                    fuse::GETATTR => {
                        let mut b = Vec::new();
                        b.extend_from_slice(&3600u64.to_ne_bytes());
                        b.extend_from_slice(&[0u8; 8]);
                        let (mode, size) = if node == 1 {
                            (libc::S_IFDIR | 0o755, 0)
                        } else {
                            (libc::S_IFREG | 0o644, 5)
                        };
                        b.extend_from_slice(&fuse::attr(node, mode, size));
                        fuse::reply(unique, 0, &b)
                    }
                    fuse::OPEN | fuse::OPENDIR => {
                        let _ = tx.send(opcode);
                        continue;
                    }
                    fuse::FORGET | fuse::BATCH_FORGET | fuse::INTERRUPT => continue,
                    _ => fuse::reply(unique, -libc::ENOSYS, &[]),
                };
                // SAFETY: writes `out`, a whole reply, to the device.
                unsafe { libc::write(dev.as_raw_fd(), out.as_ptr().cast(), out.len()) };
            }
            // Dropping the last descriptor of the device aborts the connection.
            drop(dev);
        });
        Ok(StalledMount {
            target,
            stop,
            daemon: Some(daemon),
            opens,
        })
    }

    /// Aborts the connection: every waiting and later request fails.
    fn release(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(d) = self.daemon.take() {
            let _ = d.join();
        }
    }
}

impl Drop for StalledMount {
    fn drop(&mut self) {
        // SAFETY: a NUL-terminated path; MNT_DETACH needs no answer from the daemon.
        unsafe { libc::umount2(self.target.as_ptr(), libc::MNT_DETACH) };
        self.release();
    }
}

#[test]
fn stalled_storage_delays_no_other_file() {
    // One worker: an open that blocked its event loop would stall everything.
    let cfg = start_config("").replace("worker_processes = 2", "worker_processes = 1");
    let r = Rampart::start(&cfg);
    let www = r.dir.path().join("www");
    std::fs::create_dir_all(www.join("stall")).unwrap();
    std::fs::write(www.join("a.txt"), b"inside\n").unwrap();
    // Warm the path (and classify the local mount) before the stall.
    assert_eq!(get(r.addr(), "/a.txt").text(), "inside\n");
    let mut mount = match StalledMount::mount(&www.join("stall")) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("skipped: cannot make a stalled FUSE mount ({e}); needs root and /dev/fuse");
            return;
        }
    };
    // Readers of files on the stalled mount, one after the other, each once
    // its OPEN reached the daemon: the first walks the path on the blocking
    // pool (LOOKUP answered, now cached); the later ones find every component
    // in the dentry cache, so only the file-system check keeps their open,
    // which waits, off the event loop. "/stall/" is an index lookup.
    let (tx, rx) = std::sync::mpsc::channel();
    for path in ["/stall/x.bin", "/stall/x.bin", "/stall/", "/stall/y.bin"] {
        let tx = tx.clone();
        let addr = r.addr();
        std::thread::spawn(move || {
            let _ = tx.send((path, get(addr, path).status));
        });
        let op = mount.opens.recv_timeout(Duration::from_secs(5));
        assert!(op.is_ok(), "{path}: no OPEN reached the stalled file system");
    }
    drop(tx);
    let t0 = Instant::now();
    for _ in 0..20 {
        assert_eq!(get(r.addr(), "/a.txt").text(), "inside\n");
    }
    let took = t0.elapsed();
    assert!(
        rx.try_recv().is_err(),
        "a request on the stalled mount was answered"
    );
    assert!(
        took < Duration::from_secs(2),
        "20 requests for another file took {took:?}"
    );
    // The connection is aborted: the stalled requests end with 500
    // (ECONNABORTED or ENOTCONN, by kernel version).
    mount.release();
    let mut answered = Vec::new();
    while let Ok((path, status)) = rx.recv_timeout(Duration::from_secs(5)) {
        answered.push((path, status));
    }
    assert_eq!(answered.len(), 4, "{answered:?}");
    assert!(answered.iter().all(|&(_, s)| s == 500), "{answered:?}");
    // The line may be written a moment after the 500 (logs are buffered).
    wait_log(&r, "error.log", "stall/x.bin\" failed (10");
    assert_eq!(get(r.addr(), "/a.txt").text(), "inside\n");
}

/// `disable_symlinks` from the TOML front end: a link inside the root is
/// refused with 403 and nginx's error line, plain files still serve, and
/// `from=` trusts the links before it. (tests/static_nginx.rs compares the
/// nginx.conf form with nginx itself.)
#[test]
fn disable_symlinks_refuses_links() {
    let r = start("disable_symlinks = \"on\"");
    let www = r.dir.path().join("www");
    std::os::unix::fs::symlink("a.txt", www.join("ln")).unwrap();
    assert_eq!(get(r.addr(), "/a.txt").text(), "inside\n");
    assert_eq!(get(r.addr(), "/ln").status, 403);
    wait_log(
        &r,
        "error.log",
        "ln\" failed (40: Too many levels of symbolic links)",
    );
    let off = start("");
    std::os::unix::fs::symlink("a.txt", off.dir.path().join("www/ln")).unwrap();
    assert_eq!(get(off.addr(), "/ln").text(), "inside\n");
    // from= naming the root: the link under it is still checked; a link in
    // the root's own path is not (the test prefix itself is reached by one).
    let dir = TempDir::new("symfrom");
    std::fs::create_dir_all(dir.path().join("real")).unwrap();
    std::fs::write(dir.path().join("real/f.txt"), b"f\n").unwrap();
    std::os::unix::fs::symlink(dir.path().join("real"), dir.path().join("via")).unwrap();
    let via = dir.path().join("via");
    let cfg = "disable_symlinks = \"on from=$document_root\"";
    let r = Rampart::start(&config(cfg, &format!("root = \"{}\"", via.display())));
    assert_eq!(get(r.addr(), "/f.txt").text(), "f\n");
    let strict = Rampart::start(&config(
        "disable_symlinks = \"on\"",
        &format!("root = \"{}\"", via.display()),
    ));
    assert_eq!(
        get(strict.addr(), "/f.txt").status,
        404,
        "a linked directory on the way is ENOTDIR, as nginx"
    );
}

/// Bad `disable_symlinks` values and `autoindex on` are config errors that
/// name the directive; `autoindex off` (nginx's default) loads.
#[test]
fn disable_symlinks_and_autoindex_config_errors() {
    let dir = TempDir::new("symcfg");
    let check = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        rampart_cmd(&[
            std::ffi::OsStr::new("-t"),
            std::ffi::OsStr::new("-p"),
            dir.path().as_os_str(),
            std::ffi::OsStr::new("-c"),
            p.as_os_str(),
        ])
    };
    let nginx = |body: &str| {
        format!("events {{}}\nhttp {{\n server {{\n  listen 127.0.0.1:1;\n  location / {{\n   {body}\n  }}\n }}\n}}\n")
    };
    let bad = [
        ("a.conf", nginx("disable_symlinks yes;"), "disable_symlinks"),
        (
            "b.conf",
            nginx("disable_symlinks off from=/x;"),
            "disable_symlinks",
        ),
        ("c.conf", nginx("autoindex on;"), "autoindex"),
        (
            "d.toml",
            "[http]\ndisable_symlinks = \"sometimes\"\n[[http.server]]\nlisten = [\"127.0.0.1:1\"]\n"
                .to_string(),
            "disable_symlinks",
        ),
    ];
    for (name, text, key) in bad {
        let out = check(name, &text);
        assert_eq!(out.code, Some(1), "{name}: {}", out.stderr);
        assert!(out.stderr.contains(key), "{name}: {}", out.stderr);
    }
    for (name, text) in [
        (
            "e.conf",
            nginx("autoindex off; disable_symlinks if_not_owner from=$document_root;"),
        ),
        ("f.conf", nginx("disable_symlinks off;")),
    ] {
        let out = check(name, &text);
        assert_eq!(out.code, Some(0), "{name}: {}", out.stderr);
    }
}
