//! nginx's error log: `YYYY/MM/DD HH:MM:SS [level] PID#TID: *CONN message`.
//!
//! Source: nginx/nginx: src/core/ngx_log.c (`ngx_log_error_core`, `ngx_log_init`). The line is
//! capped at `NGX_MAX_ERROR_STR` (2048) bytes including the '\n', as nginx cuts it. The TID is the
//! kernel thread id (`gettid`), which is what Debian's threaded nginx 1.22.1 prints
//! (`5972#5972:` for its single-threaded worker).
//!
//! Lines go to the destination at once: to a [`LogHub`](super::writer::LogHub) file through the
//! writer's channel (the caller never waits on the disk), or to stderr with one `write()` per
//! line. Before any config is loaded errors go to stderr at level `notice`, which is where and how
//! nginx logs before it has read its config (`ngx_log_init`).

use std::cell::Cell;
use std::fmt::{self, Write as _};
use std::io::{self, Write as _};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

use super::clock;
use super::writer::{hub, LogId};

/// Error-log severities, most severe first (so `a <= b` means "a is at least as severe").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Emerg,
    Alert,
    Crit,
    Error,
    Warn,
    Notice,
    Info,
    Debug,
}

const LEVELS: [Level; 8] = [
    Level::Emerg,
    Level::Alert,
    Level::Crit,
    Level::Error,
    Level::Warn,
    Level::Notice,
    Level::Info,
    Level::Debug,
];

impl Level {
    /// The name nginx prints inside `[...]` and accepts in `error_log`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Emerg => "emerg",
            Level::Alert => "alert",
            Level::Crit => "crit",
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Notice => "notice",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }

    fn from_u8(n: u8) -> Level {
        LEVELS.get(usize::from(n)).copied().unwrap_or(Level::Debug)
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `error_log` named a level nginx does not know; the text is nginx's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseLevelError(pub String);

impl fmt::Display for ParseLevelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid log level \"{}\"", self.0)
    }
}

impl std::error::Error for ParseLevelError {}

impl FromStr for Level {
    type Err = ParseLevelError;

    /// Exact, case-sensitive names, as `ngx_log_set_levels` compares them.
    fn from_str(s: &str) -> Result<Level, ParseLevelError> {
        LEVELS
            .iter()
            .copied()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| ParseLevelError(s.to_string()))
    }
}

/// Where error lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorDest {
    Stderr,
    File(LogId),
}

/// `NGX_MAX_ERROR_STR`: the longest error line, '\n' included.
pub const MAX_LINE: usize = 2048;

/// `ngx_log_init` starts at `NGX_LOG_NOTICE` on stderr.
static LEVEL: AtomicU8 = AtomicU8::new(Level::Notice as u8);
static DEST: AtomicU64 = AtomicU64::new(STDERR);
const STDERR: u64 = u64::MAX;

/// Sets the error-log destination and level; called at startup and on every reload.
pub fn set_error_log(dest: ErrorDest, level: Level) {
    let d = match dest {
        ErrorDest::Stderr => STDERR,
        ErrorDest::File(id) => u64::from(id.raw()),
    };
    // Destination first: a racing `log` may briefly use the new place with the old level.
    DEST.store(d, Ordering::Relaxed);
    LEVEL.store(level as u8, Ordering::Relaxed);
}

/// The current destination and level.
pub fn error_log_config() -> (ErrorDest, Level) {
    let d = DEST.load(Ordering::Relaxed);
    let dest = match u32::try_from(d) {
        Ok(raw) if d != STDERR => ErrorDest::File(LogId::from_raw(raw)),
        _ => ErrorDest::Stderr,
    };
    (dest, Level::from_u8(LEVEL.load(Ordering::Relaxed)))
}

/// Whether a line at `level` would be written: one atomic load, call it before formatting.
pub fn enabled(level: Level) -> bool {
    level as u8 <= LEVEL.load(Ordering::Relaxed)
}

/// Writes `YYYY/MM/DD HH:MM:SS [level] PID#TID: *CONN message` + '\n' (the `*CONN ` part only
/// when `conn` is given) if `level` is enabled.
pub fn log(level: Level, conn: Option<u64>, msg: fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let mut line = Vec::with_capacity(256);
    format_line(
        &mut line,
        clock::now().err_log(),
        level,
        std::process::id(),
        tid(),
        conn,
        msg,
    );
    match error_log_config().0 {
        // One write of the whole line, so lines from several threads never interleave.
        ErrorDest::Stderr => {
            let _ = io::stderr().lock().write_all(&line);
        }
        ErrorDest::File(id) => hub().write_now(id, line),
    }
}

/// Formats one line into `out` as `ngx_log_error_core` does, cut at [`MAX_LINE`] bytes.
pub fn format_line(
    out: &mut Vec<u8>,
    time: &str,
    level: Level,
    pid: u32,
    tid: u64,
    conn: Option<u64>,
    msg: fmt::Arguments<'_>,
) {
    let start = out.len();
    let mut w = Capped {
        out,
        limit: start + MAX_LINE - 1,
    };
    // Errors only mean "cut at the limit", which is the intended behaviour.
    let _ = write!(w, "{time} [{level}] {pid}#{tid}: ");
    if let Some(c) = conn {
        let _ = write!(w, "*{c} ");
    }
    let _ = w.write_fmt(msg);
    w.out.push(b'\n');
}

/// A `fmt::Write` into a Vec that silently stops at `limit` bytes (like `ngx_slprintf`).
struct Capped<'a> {
    out: &'a mut Vec<u8>,
    limit: usize,
}

impl fmt::Write for Capped<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.limit.saturating_sub(self.out.len());
        let b = s.as_bytes();
        // Byte-exact like nginx, which may cut inside a UTF-8 sequence.
        self.out
            .extend_from_slice(b.get(..room.min(b.len())).unwrap_or(b));
        if b.len() > room {
            Err(fmt::Error)
        } else {
            Ok(())
        }
    }
}

/// The kernel thread id of the calling thread, cached per thread.
fn tid() -> u64 {
    thread_local! {
        static TID: Cell<u64> = const { Cell::new(0) };
    }
    TID.try_with(|t| {
        if t.get() == 0 {
            t.set(os_tid());
        }
        t.get()
    })
    .unwrap_or_else(|_| os_tid())
}

#[cfg(target_os = "linux")]
fn os_tid() -> u64 {
    // SAFETY: gettid has no preconditions and cannot fail.
    u64::try_from(unsafe { libc::gettid() }).unwrap_or(0)
}

#[cfg(not(target_os = "linux"))]
fn os_tid() -> u64 {
    use std::sync::atomic::AtomicU64;
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Formats an OS error as nginx does after a failed call: `13: Permission denied`
/// (`ngx_log_errno` prints `(%d: %s)`; callers add the parentheses).
pub struct OsErr<'a>(pub &'a io::Error);

impl fmt::Display for OsErr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(code) = self.0.raw_os_error() else {
            return write!(f, "{}", self.0);
        };
        let mut buf = [0u8; 256];
        // SAFETY: the buffer is valid for its length; the XSI strerror_r NUL-terminates on success.
        let rc = unsafe { libc::strerror_r(code, buf.as_mut_ptr().cast(), buf.len()) };
        let text = if rc == 0 {
            std::ffi::CStr::from_bytes_until_nul(&buf)
                .ok()
                .and_then(|c| c.to_str().ok())
                .unwrap_or("Unknown error")
        } else {
            "Unknown error"
        };
        write!(f, "{code}: {text}")
    }
}

/// Logs to the error log if the level is enabled, formatting only then:
/// `error_log!(Level::Warn, "upstream {} is down", name)` or, for a line tied to a client
/// connection, `error_log!(Level::Info, conn = 42, "client timed out")`.
#[macro_export]
macro_rules! error_log {
    ($lvl:expr, conn = $conn:expr, $($arg:tt)+) => {{
        let lvl: $crate::log::Level = $lvl;
        if $crate::log::error_log::enabled(lvl) {
            $crate::log::error_log::log(lvl, ::core::option::Option::Some($conn), ::core::format_args!($($arg)+));
        }
    }};
    ($lvl:expr, $($arg:tt)+) => {{
        let lvl: $crate::log::Level = $lvl;
        if $crate::log::error_log::enabled(lvl) {
            $crate::log::error_log::log(lvl, ::core::option::Option::None, ::core::format_args!($($arg)+));
        }
    }};
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::writer::flush_thread_buffers;

    fn line(level: Level, conn: Option<u64>, msg: fmt::Arguments<'_>) -> String {
        let mut out = Vec::new();
        format_line(&mut out, "2025/10/10 13:55:36", level, 5972, 5973, conn, msg);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn line_shape() {
        // The shapes nginx 1.22.1 wrote in its own error log.
        assert_eq!(
            line(
                Level::Info,
                Some(4),
                format_args!("client {} closed keepalive connection", "127.0.0.1")
            ),
            "2025/10/10 13:55:36 [info] 5972#5973: *4 client 127.0.0.1 closed keepalive connection\n"
        );
        assert_eq!(
            line(
                Level::Notice,
                None,
                format_args!("using the \"epoll\" event method")
            ),
            "2025/10/10 13:55:36 [notice] 5972#5973: using the \"epoll\" event method\n"
        );
        for l in LEVELS {
            assert!(line(l, None, format_args!("x")).contains(&format!(" [{}] ", l.as_str())));
        }
    }

    #[test]
    fn long_lines_are_cut_at_nginx_max() {
        let long = "y".repeat(5000);
        let l = line(Level::Error, Some(1), format_args!("{long}"));
        assert_eq!(l.len(), MAX_LINE);
        assert!(l.ends_with("yy\n"));
        let short = line(Level::Error, None, format_args!("{}", "y".repeat(100)));
        assert!(short.len() < MAX_LINE && short.ends_with("yy\n"));
    }

    #[test]
    fn levels_parse_and_order() {
        let names = [
            "emerg", "alert", "crit", "error", "warn", "notice", "info", "debug",
        ];
        for (i, n) in names.iter().enumerate() {
            let l: Level = n.parse().unwrap();
            assert_eq!(l.as_str(), *n);
            assert_eq!(l as usize, i);
            assert_eq!(Level::from_u8(i as u8), l);
        }
        assert!(Level::Emerg < Level::Error && Level::Error < Level::Debug);
        for bad in ["", "ERROR", "warning", "err", " info"] {
            let e = bad.parse::<Level>().unwrap_err();
            assert_eq!(e.to_string(), format!("invalid log level \"{bad}\""));
        }
    }

    #[test]
    fn os_errors_read_like_nginx() {
        let e = io::Error::from_raw_os_error(libc::ENOSPC);
        assert_eq!(OsErr(&e).to_string(), "28: No space left on device");
        let e = io::Error::from_raw_os_error(libc::EACCES);
        assert_eq!(OsErr(&e).to_string(), "13: Permission denied");
        let e = io::Error::other("custom");
        assert_eq!(OsErr(&e).to_string(), "custom");
    }

    /// The only test that changes the global destination; other tests' lines (a failed reopen)
    /// may land in the file too, so assertions look only at this test's marked lines.
    #[test]
    fn filtering_and_file_destination() {
        let dir = std::env::temp_dir().join(format!("rampart-errlog-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("error.log");
        let id = hub().open(&path).unwrap();
        let before = error_log_config();
        set_error_log(ErrorDest::File(id), Level::Warn);
        assert_eq!(error_log_config(), (ErrorDest::File(id), Level::Warn));
        assert!(enabled(Level::Emerg) && enabled(Level::Warn));
        assert!(!enabled(Level::Notice) && !enabled(Level::Debug));
        crate::error_log!(Level::Error, "marker-{} error", 1);
        crate::error_log!(Level::Warn, conn = 7, "marker-{} warn", 2);
        crate::error_log!(Level::Notice, "marker-{} notice", 3);
        crate::error_log!(Level::Info, conn = 8u64, "marker-{} info", 4);
        log(Level::Debug, None, format_args!("marker-5 debug"));
        // Error lines bypass the per-thread buffer: no flush_thread_buffers() needed.
        hub().flush();
        set_error_log(before.0, before.1);
        flush_thread_buffers();

        let text = std::fs::read_to_string(&path).unwrap();
        let mine: Vec<&str> = text.lines().filter(|l| l.contains("marker-")).collect();
        assert_eq!(mine.len(), 2, "{text}");
        let pid = std::process::id();
        let prefix = format!(" [error] {pid}#{}: marker-1 error", tid());
        assert!(mine[0].ends_with(&prefix), "{}", mine[0]);
        let prefix = format!(" [warn] {pid}#{}: *7 marker-2 warn", tid());
        assert!(mine[1].ends_with(&prefix), "{}", mine[1]);
        // The timestamp is the cached local err_log time.
        let ts = &mine[0][..19];
        assert_eq!(ts.len(), 19);
        assert_eq!(&ts[4..5], "/");
        assert_eq!(&ts[10..11], " ");
    }
}
