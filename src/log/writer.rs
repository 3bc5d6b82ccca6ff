//! Buffered, reopenable log files, written off the request path.
//!
//! nginx writes access-log lines with a `write()` in the worker (optionally through a
//! `buffer=` that it flushes on `flush=`, src/http/modules/ngx_http_log_module.c); a slow disk
//! therefore stalls every request of that worker. rampart keeps the observable contract (whole
//! lines, append mode, the logrotate `mv` + SIGUSR1 procedure) but moves the syscall off the
//! request path:
//!
//! * request threads [`append`] lines to a per-thread buffer per file (no lock, no syscall);
//! * a buffer of at least [`HANDOVER_BYTES`] is handed to the writer thread through a channel, and
//!   the server calls [`flush_thread_buffers`] from a per-thread timer (~100 ms) and at exit;
//! * one writer thread owns the open files and `write()`s each buffer whole. A buffer only ever
//!   holds complete lines, and a file is opened `O_APPEND`, so lines are never torn or interleaved.
//!
//! Files are deduplicated by path. [`LogHub::open`] on a path that is already open re-opens it,
//! as nginx's reload opens every log file anew (src/core/ngx_cycle.c `ngx_init_cycle`), so an
//! operator who rotates with `mv` + HUP also gets a fresh file. A file that no config refers to any
//! more after a reload stays open (one descriptor per distinct path ever configured): this keeps
//! [`LogId`]s valid for in-flight requests of the old config without reference counting.
//!
//! If the disk falls behind by more than [`MAX_BACKLOG_BYTES`], further buffers are dropped (and
//! an `alert` says how many bytes) instead of growing memory without bound or blocking requests.
//! nginx would block there; we choose to keep serving.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use super::error_log::{self, Level, OsErr};

/// A per-thread buffer is handed to the writer once it holds this much.
pub const HANDOVER_BYTES: usize = 32 * 1024;

/// Bytes handed over but not yet written above which new buffers are dropped.
pub const MAX_BACKLOG_BYTES: usize = 64 * 1024 * 1024;

/// Recycled buffers kept for reuse, so steady logging allocates nothing.
const POOL_MAX: usize = 64;

/// nginx reports a failing log write at most once a minute per file
/// (`ngx_http_log_write`: `if (now - log->error_log_time > 59)`).
const ERROR_REPORT_INTERVAL: Duration = Duration::from_secs(60);

/// An open log file. Cheap to copy into compiled configs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LogId(u32);

impl LogId {
    fn index(self) -> usize {
        self.0 as usize
    }

    /// For packing into an atomic (the error-log destination).
    pub(crate) fn raw(self) -> u32 {
        self.0
    }

    /// The inverse of [`LogId::raw`]; an id that was never opened is ignored by the writer.
    pub(crate) fn from_raw(raw: u32) -> LogId {
        LogId(raw)
    }
}

enum Msg {
    /// A newly opened (or, on reload, re-opened) file for `id`.
    Open(LogId, PathBuf, File),
    Data(LogId, Vec<u8>),
    /// `access_log ... gzip[=LEVEL]`: compress every batch for this file.
    Gzip(LogId, Option<u32>),
    Flush(Sender<()>),
    Reopen(Sender<()>),
}

/// State shared between the request threads and the writer thread.
struct Shared {
    backlog: AtomicUsize,
    dropped: AtomicU64,
    pool: Mutex<Vec<Vec<u8>>>,
}

impl Shared {
    fn pool(&self) -> MutexGuard<'_, Vec<Vec<u8>>> {
        // A poisoned pool is still a valid list of empty buffers.
        self.pool.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn take_buffer(&self) -> Vec<u8> {
        self.pool()
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(HANDOVER_BYTES + 4096))
    }

    fn recycle(&self, mut buf: Vec<u8>) {
        if buf.capacity() < HANDOVER_BYTES || buf.capacity() > 4 * HANDOVER_BYTES {
            return;
        }
        buf.clear();
        let mut pool = self.pool();
        if pool.len() < POOL_MAX {
            pool.push(buf);
        }
    }
}

/// The process-wide owner of the log files and of the writer thread.
pub struct LogHub {
    /// `Sender` is `Sync`: request threads send without a lock of ours.
    tx: Sender<Msg>,
    shared: Arc<Shared>,
    /// path → id; the lock also orders `Open` messages before any data for the id.
    registry: Mutex<HashMap<PathBuf, LogId>>,
}

/// The global hub; the writer thread starts on first use.
pub fn hub() -> &'static LogHub {
    static HUB: OnceLock<LogHub> = OnceLock::new();
    HUB.get_or_init(LogHub::start)
}

/// Opens `path` for appending as nginx does (`O_WRONLY|O_APPEND|O_CREAT`, mode 0644 before the
/// umask, src/core/ngx_cycle.c). The error text is nginx's: `open() "/x" failed (13: ...)`.
fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o644)
        .open(path)
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("open() \"{}\" failed ({})", path.display(), OsErr(&e)),
            )
        })
}

impl LogHub {
    fn start() -> LogHub {
        let (tx, rx) = mpsc::channel();
        let shared = Arc::new(Shared {
            backlog: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
            pool: Mutex::new(Vec::new()),
        });
        let writer_shared = Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name("rampart-log".into())
            .spawn(move || Writer::new(writer_shared).run(rx));
        if let Err(e) = spawned {
            // Nothing can be logged to files without the writer; say so where an operator looks.
            eprintln!(
                "rampart: [emerg] cannot start the log writer thread ({})",
                OsErr(&e)
            );
        }
        LogHub {
            tx,
            shared,
            registry: Mutex::new(HashMap::new()),
        }
    }

    fn send(&self, msg: Msg) -> bool {
        self.tx.send(msg).is_ok()
    }

    /// Opens (or reuses the id of, re-opening the file, if already open) the file at `path`.
    /// Errors name the path and the OS error. Call it while loading a config, not per request.
    pub fn open(&self, path: &Path) -> io::Result<LogId> {
        let file = open_append(path)?;
        let mut reg = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        let id = match reg.get(path) {
            Some(&id) => id,
            None => {
                let n = u32::try_from(reg.len()).map_err(|_| io::Error::other("too many log files"))?;
                reg.insert(path.to_path_buf(), LogId(n));
                LogId(n)
            }
        };
        // Sent under the registry lock, so it precedes any data a caller sends for `id`.
        self.send(Msg::Open(id, path.to_path_buf(), file));
        Ok(id)
    }

    /// `access_log ... gzip[=LEVEL]`: from now on every batch written to
    /// `id` is one gzip member (nginx compresses each buffer it writes the
    /// same way; `zcat` reads the concatenated members). `None` turns it off.
    pub fn set_gzip(&self, id: LogId, level: Option<u32>) {
        self.send(Msg::Gzip(id, level));
    }

    /// The logrotate contract (SIGUSR1, nginx's `ngx_reopen_files`): every file is re-opened by
    /// path. Lines handed over before the call go to the old file, later ones to the new. Blocks
    /// until done (call it from a signal task or a blocking thread, not from a request). Errors are
    /// reported to the error log and the old handle is kept.
    pub fn reopen_all(&self) {
        self.round_trip(Msg::Reopen);
    }

    /// Writes out everything handed over so far (blocks until it is in the page cache). Lines
    /// still in a thread's buffer are not included: call [`flush_thread_buffers`] there first.
    pub fn flush(&self) {
        self.round_trip(Msg::Flush);
    }

    fn round_trip(&self, make: fn(Sender<()>) -> Msg) {
        let (ack_tx, ack_rx) = mpsc::channel();
        if self.send(make(ack_tx)) {
            // Returns Err only if the writer thread is gone, then there is nothing to wait for.
            let _ = ack_rx.recv();
        }
    }

    /// Hands `data` (complete lines) to the writer at once, bypassing the per-thread buffers;
    /// used for the error log, which an operator tails.
    pub fn write_now(&self, id: LogId, data: Vec<u8>) {
        let len = data.len();
        if len == 0 {
            return;
        }
        let before = self.shared.backlog.fetch_add(len, Ordering::Relaxed);
        if before.saturating_add(len) > MAX_BACKLOG_BYTES {
            self.shared.backlog.fetch_sub(len, Ordering::Relaxed);
            self.shared.dropped.fetch_add(len as u64, Ordering::Relaxed);
            self.shared.recycle(data);
            return;
        }
        if !self.send(Msg::Data(id, data)) {
            self.shared.backlog.fetch_sub(len, Ordering::Relaxed);
        }
    }
}

/// One batch of lines as a complete gzip member.
fn gzip_member(data: &[u8], level: u32) -> Vec<u8> {
    use flate2::write::GzEncoder;
    let mut enc = GzEncoder::new(
        Vec::with_capacity(data.len() / 4 + 64),
        flate2::Compression::new(level),
    );
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

/// One open log file as the writer thread sees it.
struct Slot {
    path: PathBuf,
    file: Option<File>,
    last_error_report: Option<Instant>,
    /// gzip level when the access_log asked for compression.
    gzip: Option<u32>,
}

struct Writer {
    shared: Arc<Shared>,
    slots: Vec<Slot>,
    dropped_unreported: u64,
    last_drop_report: Option<Instant>,
}

fn due(last: Option<Instant>) -> bool {
    last.is_none_or(|t| t.elapsed() >= ERROR_REPORT_INTERVAL)
}

impl Writer {
    fn new(shared: Arc<Shared>) -> Writer {
        Writer {
            shared,
            slots: Vec::new(),
            dropped_unreported: 0,
            last_drop_report: None,
        }
    }

    fn run(mut self, rx: Receiver<Msg>) {
        while let Ok(msg) = rx.recv() {
            match msg {
                Msg::Open(id, path, file) => self.install(id, path, file),
                Msg::Data(id, data) => self.write(id, data),
                Msg::Gzip(id, level) => {
                    if let Some(slot) = self.slots.get_mut(id.index()) {
                        slot.gzip = level;
                    }
                }
                Msg::Flush(ack) => {
                    let _ = ack.send(());
                }
                Msg::Reopen(ack) => {
                    self.reopen_all();
                    let _ = ack.send(());
                }
            }
            self.report_drops();
        }
    }

    fn install(&mut self, id: LogId, path: PathBuf, file: File) {
        let i = id.index();
        if self.slots.len() <= i {
            self.slots.resize_with(i + 1, || Slot {
                path: PathBuf::new(),
                file: None,
                last_error_report: None,
                gzip: None,
            });
        }
        if let Some(slot) = self.slots.get_mut(i) {
            slot.path = path;
            slot.file = Some(file);
        }
    }

    fn write(&mut self, id: LogId, data: Vec<u8>) {
        let len = data.len();
        let data = match self.slots.get(id.index()).and_then(|s| s.gzip) {
            Some(level) => gzip_member(&data, level),
            None => data,
        };
        if let Some(slot) = self.slots.get_mut(id.index()) {
            if let Some(file) = slot.file.as_mut() {
                // One write() per buffer of whole lines; write_all only loops on a short write.
                if let Err(e) = file.write_all(&data) {
                    if due(slot.last_error_report) {
                        slot.last_error_report = Some(Instant::now());
                        error_log::log(
                            Level::Alert,
                            None,
                            format_args!("write() to \"{}\" failed ({})", slot.path.display(), OsErr(&e)),
                        );
                    }
                }
            }
        }
        self.shared.backlog.fetch_sub(len, Ordering::Relaxed);
        self.shared.recycle(data);
    }

    fn reopen_all(&mut self) {
        for slot in &mut self.slots {
            if slot.file.is_none() {
                continue;
            }
            match open_append(&slot.path) {
                Ok(file) => slot.file = Some(file),
                // nginx logs a failed reopen at emerg and keeps the old descriptor.
                Err(e) => error_log::log(Level::Emerg, None, format_args!("{e}")),
            }
        }
    }

    fn report_drops(&mut self) {
        self.dropped_unreported += self.shared.dropped.swap(0, Ordering::Relaxed);
        if self.dropped_unreported > 0 && due(self.last_drop_report) {
            self.last_drop_report = Some(Instant::now());
            let n = std::mem::take(&mut self.dropped_unreported);
            error_log::log(
                Level::Alert,
                None,
                format_args!("{n} bytes of log lines dropped: the log writer is more than {MAX_BACKLOG_BYTES} bytes behind"),
            );
        }
    }
}

/// This thread's pending lines, one buffer per [`LogId`].
struct ThreadBuffers {
    bufs: Vec<Vec<u8>>,
}

impl ThreadBuffers {
    fn append_with(&mut self, id: LogId, f: impl FnOnce(&mut Vec<u8>)) {
        let i = id.index();
        if self.bufs.len() <= i {
            self.bufs.resize_with(i + 1, Vec::new);
        }
        let Some(buf) = self.bufs.get_mut(i) else {
            return;
        };
        if buf.capacity() == 0 {
            *buf = hub().shared.take_buffer();
        }
        f(buf);
        if buf.len() >= HANDOVER_BYTES {
            hub().write_now(id, std::mem::take(buf));
        }
    }

    fn hand_over(&mut self) {
        for (i, buf) in self.bufs.iter_mut().enumerate() {
            if !buf.is_empty() {
                hub().write_now(LogId(i as u32), std::mem::take(buf));
            }
        }
    }
}

impl Drop for ThreadBuffers {
    /// A thread that exits without a final [`flush_thread_buffers`] still loses nothing.
    fn drop(&mut self) {
        self.hand_over();
    }
}

thread_local! {
    static BUFFERS: RefCell<ThreadBuffers> = const { RefCell::new(ThreadBuffers { bufs: Vec::new() }) };
}

/// Appends complete line(s) (with their '\n') for `id` to this thread's buffer.
pub fn append(id: LogId, line: &[u8]) {
    append_with(id, |buf| buf.extend_from_slice(line));
}

/// Lets `f` write complete line(s) straight into this thread's buffer for `id`, e.g.
/// `append_with(id, |b| format.render(src, b))`, which saves a copy per line.
pub fn append_with(id: LogId, f: impl FnOnce(&mut Vec<u8>)) {
    let mut f = Some(f);
    let done = BUFFERS
        .try_with(|b| match b.try_borrow_mut() {
            Ok(mut b) => {
                if let Some(f) = f.take() {
                    b.append_with(id, f);
                }
                true
            }
            Err(_) => false,
        })
        .unwrap_or(false);
    // Thread exiting, or re-entered from inside `f`: hand the line over directly.
    if !done {
        if let Some(f) = f.take() {
            let mut line = Vec::new();
            f(&mut line);
            hub().write_now(id, line);
        }
    }
}

/// Hands every non-empty buffer of this thread to the writer (periodic timer, and at exit).
pub fn flush_thread_buffers() {
    let _ = BUFFERS.try_with(|b| {
        if let Ok(mut b) = b.try_borrow_mut() {
            b.hand_over();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;

    fn tmpdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("rampart-log-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// Runs `f` on a thread and fails the test if it takes longer than a minute.
    fn bounded(f: impl FnOnce() + Send + 'static) {
        let (tx, rx) = mpsc::channel();
        let h = std::thread::spawn(move || {
            f();
            let _ = tx.send(());
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(()) => h.join().unwrap(),
            Err(mpsc::RecvTimeoutError::Disconnected) => h.join().unwrap(), // f panicked
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("test body timed out"),
        }
    }

    fn line(t: usize, i: usize) -> String {
        // Variable length, so a torn or interleaved write cannot look like a good line.
        format!("t{t} i{i} {} end\n", "x".repeat(i % 97))
    }

    fn parse(l: &str) -> Option<(usize, usize)> {
        let mut it = l.split(' ');
        let t = it.next()?.strip_prefix('t')?.parse().ok()?;
        let i = it.next()?.strip_prefix('i')?.parse().ok()?;
        let pad = it.next()?;
        (it.next()? == "end" && it.next().is_none() && pad == "x".repeat(i % 97)).then_some((t, i))
    }

    #[test]
    fn rotate_with_mv_and_reopen_keeps_every_line_whole() {
        bounded(|| {
            const PER: usize = 10_000;
            let dir = tmpdir("rotate");
            let path = dir.join("access.log");
            let rotated = dir.join("access.log.1");
            let id = hub().open(&path).unwrap();
            let barrier = Arc::new(Barrier::new(3));
            let workers: Vec<_> = (0..2)
                .map(|t| {
                    let barrier = Arc::clone(&barrier);
                    std::thread::spawn(move || {
                        for i in 0..PER {
                            if i == PER / 2 {
                                barrier.wait(); // main: mv + reopen_all
                                barrier.wait();
                            }
                            append(id, line(t, i).as_bytes());
                        }
                        flush_thread_buffers();
                    })
                })
                .collect();
            barrier.wait();
            std::fs::rename(&path, &rotated).unwrap();
            hub().reopen_all();
            barrier.wait();
            for w in workers {
                w.join().unwrap();
            }
            hub().flush();

            let old = std::fs::read_to_string(&rotated).unwrap();
            let new = std::fs::read_to_string(&path).unwrap();
            assert!(old.ends_with('\n') && new.ends_with('\n'));
            let mut seen = vec![[false; PER]; 2];
            let mut total = 0;
            for (name, text) in [("old", &old), ("new", &new)] {
                for l in text.lines() {
                    let (t, i) = parse(l).unwrap_or_else(|| panic!("torn line in {name}: {l:?}"));
                    assert!(!seen[t][i], "duplicate {l:?}");
                    seen[t][i] = true;
                    total += 1;
                    if name == "old" {
                        // Appended after reopen_all, so it must not reach the rotated file.
                        assert!(i < PER / 2, "late line in the old file: {l:?}");
                    }
                }
            }
            assert_eq!(total, 2 * PER);
            // ~500 KiB were appended before the rotation: most of it was handed over already.
            assert!(
                old.lines().count() > PER / 2,
                "old file got {}",
                old.lines().count()
            );
        });
    }

    #[test]
    fn open_dedups_by_path_and_small_lines_wait_for_a_flush() {
        bounded(|| {
            let dir = tmpdir("dedup");
            let a = hub().open(&dir.join("a.log")).unwrap();
            let a2 = hub().open(&dir.join("a.log")).unwrap();
            let b = hub().open(&dir.join("b.log")).unwrap();
            assert_eq!(a, a2);
            assert_ne!(a, b);
            append(a, b"one\n");
            append(b, b"two\n");
            hub().flush();
            // Still in this thread's buffer: nothing on disk yet.
            assert_eq!(std::fs::read(dir.join("a.log")).unwrap(), b"");
            flush_thread_buffers();
            hub().flush();
            assert_eq!(std::fs::read(dir.join("a.log")).unwrap(), b"one\n");
            assert_eq!(std::fs::read(dir.join("b.log")).unwrap(), b"two\n");
            // A line larger than the hand-over size goes out whole, without a flush call.
            let big = [vec![b'z'; HANDOVER_BYTES * 2], b"\n".to_vec()].concat();
            append(a, &big);
            hub().flush();
            assert_eq!(
                std::fs::read(dir.join("a.log")).unwrap(),
                [&b"one\n"[..], &big].concat()
            );
            // 0644 before the umask: owner rw, nobody may write or execute but the owner.
            let perm = std::fs::metadata(dir.join("a.log")).unwrap().permissions();
            let mode = std::os::unix::fs::PermissionsExt::mode(&perm);
            assert_eq!((mode & 0o600, mode & 0o133), (0o600, 0), "mode {mode:o}");
        });
    }

    #[test]
    fn lines_of_an_exiting_thread_are_not_lost() {
        bounded(|| {
            let dir = tmpdir("exit");
            let id = hub().open(&dir.join("x.log")).unwrap();
            std::thread::spawn(move || append_with(id, |b| b.extend_from_slice(b"bye\n")))
                .join()
                .unwrap();
            hub().flush();
            assert_eq!(std::fs::read(dir.join("x.log")).unwrap(), b"bye\n");
        });
    }

    #[test]
    fn reopen_failure_keeps_the_old_handle() {
        bounded(|| {
            let dir = tmpdir("gone");
            let path = dir.join("x.log");
            let id = hub().open(&path).unwrap();
            let mut reader = File::open(&path).unwrap();
            // With the directory gone the reopen fails (ENOENT), even as root.
            std::fs::remove_file(&path).unwrap();
            std::fs::remove_dir(&dir).unwrap();
            hub().reopen_all();
            append(id, b"still here\n");
            flush_thread_buffers();
            hub().flush();
            let mut got = String::new();
            io::Read::read_to_string(&mut reader, &mut got).unwrap();
            assert_eq!(got, "still here\n");
        });
    }

    #[test]
    fn open_errors_name_the_path() {
        let err = hub()
            .open(Path::new("/nonexistent-rampart-dir/a.log"))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "open() \"/nonexistent-rampart-dir/a.log\" failed (2: No such file or directory)"
        );
    }

    #[test]
    fn reopen_on_reload_follows_a_moved_file() {
        bounded(|| {
            let dir = tmpdir("reload");
            let path = dir.join("r.log");
            let id = hub().open(&path).unwrap();
            std::fs::rename(&path, dir.join("r.log.old")).unwrap();
            // A reload opens the path again: same id, fresh file.
            assert_eq!(hub().open(&path).unwrap(), id);
            append(id, b"after\n");
            flush_thread_buffers();
            hub().flush();
            assert_eq!(std::fs::read(&path).unwrap(), b"after\n");
            assert_eq!(std::fs::read(dir.join("r.log.old")).unwrap(), b"");
        });
    }
}
