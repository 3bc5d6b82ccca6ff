//! Logging as nginx does it, without putting a disk write on the request path.
//!
//! * [`format`]: `log_format` templates and nginx's `default` / `json` / `none` escaping;
//! * [`writer`]: the [`LogHub`] of open files, per-thread line buffers and the writer thread
//!   (reopen on SIGUSR1 for logrotate);
//! * [`error_log`]: the error log (`YYYY/MM/DD HH:MM:SS [level] PID#TID: *CONN message`) and the
//!   [`error_log!`](crate::error_log) macro;
//! * [`clock`]: the cached time strings (`$time_local`, `$msec`, the `Date` header, ...).
//!
//! An access-log line is written at the end of a request with
//! `writer::append_with(id, |buf| format.render(&request, buf))`; the server calls
//! [`flush_thread_buffers`] from a ~100 ms per-thread timer and at exit, then [`LogHub::flush`].

pub mod clock;
pub mod error_log;
pub mod format;
pub mod writer;

pub use clock::{now, reload_timezone, Now};
pub use error_log::{enabled, set_error_log, ErrorDest, Level, OsErr};
pub use format::{Escape, LogFormat};
pub use writer::{append, append_with, flush_thread_buffers, hub, LogHub, LogId};
