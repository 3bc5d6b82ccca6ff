//! nginx's cached time strings (`$time_local`, `$time_iso8601`, `$msec`, the error-log
//! timestamp and the `Date` header).
//!
//! nginx formats these once per clock tick in `ngx_time_update()` (nginx/nginx:
//! src/core/ngx_times.c), not once per request. We do the same per thread: [`now()`] reads the
//! wall clock (a vDSO call), and re-formats the strings only when the second changed (the `$msec`
//! string only when the millisecond changed). The cache is a `Cell` in a thread-local, so reads
//! take no lock and share no cache line between worker threads.
//!
//! Local time comes from libc `localtime_r`, so `TZ` is honoured exactly as nginx honours it.
//! Like nginx on Linux (`NGX_HAVE_GMTOFF`), the UTC offset shown is `tm_gmtoff` truncated to whole
//! minutes, while the local clock fields are `localtime_r`'s own (checked against nginx 1.22.1 with
//! `TZ=XYZ+3:15:20`: `13:24:24 -0315` for 16:39:44 UTC). glibc reads the zone once; nginx calls
//! `tzset()` again on reload (SIGHUP), which [`reload_timezone`] mirrors.

use std::cell::Cell;
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/// Bumped by [`reload_timezone`] so that every thread's cache re-formats on its next call.
static TZ_GENERATION: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static CACHE: Cell<Option<Now>> = const { Cell::new(None) };
}

extern "C" {
    // Not bound by the `libc` crate on Linux; part of POSIX and glibc.
    fn tzset();
}

/// Re-reads the time zone (`TZ` or /etc/localtime), as nginx does on reload
/// (src/os/unix/ngx_process_cycle.c calls `ngx_timezone_update()` on SIGHUP). Later [`now()`]
/// calls on every thread re-format with the new zone.
pub fn reload_timezone() {
    // SAFETY: tzset has no preconditions; glibc serialises it against localtime_r with a lock.
    unsafe { tzset() };
    TZ_GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// The cached time strings. Cheap to copy (fixed inline buffers, no heap).
pub fn now() -> Now {
    let (secs, millis) = wall_clock();
    let generation = TZ_GENERATION.load(Ordering::Relaxed);
    CACHE
        .try_with(|cache| {
            let n = match cache.get() {
                Some(n) if n.secs == secs && n.generation == generation => {
                    if n.millis == millis {
                        n
                    } else {
                        n.with_millis(millis)
                    }
                }
                _ => Now::local(secs, millis, generation),
            };
            cache.set(Some(n));
            n
        })
        // The thread-local is being destroyed (thread exit): format without the cache.
        .unwrap_or_else(|_| Now::local(secs, millis, generation))
}

fn wall_clock() -> (i64, u32) {
    // A clock before 1970 is a broken host; nginx would print garbage, we print the epoch.
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    (i64::try_from(d.as_secs()).unwrap_or(i64::MAX), d.subsec_millis())
}

/// A small fixed-capacity ASCII string; writes past the end are cut off (never panics).
#[derive(Clone, Copy)]
struct InlineStr<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> InlineStr<N> {
    const fn new() -> Self {
        InlineStr { buf: [0; N], len: 0 }
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(self.buf.get(..self.len).unwrap_or(&[])).unwrap_or("")
    }
}

impl<const N: usize> fmt::Write for InlineStr<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = N.saturating_sub(self.len);
        let take = s.len().min(room);
        if let (Some(dst), Some(src)) = (
            self.buf.get_mut(self.len..self.len + take),
            s.as_bytes().get(..take),
        ) {
            dst.copy_from_slice(src);
            self.len += take;
        }
        if take < s.len() {
            Err(fmt::Error)
        } else {
            Ok(())
        }
    }
}

/// Broken-down calendar time (like `struct tm`, with a real year and 1-based month).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Civil {
    year: i64,
    mon: u32,
    mday: u32,
    hour: u32,
    min: u32,
    sec: u32,
    wday: u32,
}

impl Civil {
    /// UTC calendar fields of a unix time (the proleptic Gregorian algorithm of H. Hinnant's
    /// `civil_from_days`), as `ngx_gmtime()` computes them.
    fn from_unix(secs: i64) -> Civil {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let mday = doy - (153 * mp + 2) / 5 + 1;
        let mon = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(mon <= 2);
        Civil {
            year,
            mon: mon as u32,
            mday: mday as u32,
            hour: (rem / 3_600) as u32,
            min: (rem / 60 % 60) as u32,
            sec: (rem % 60) as u32,
            // 1970-01-01 was a Thursday.
            wday: (days + 4).rem_euclid(7) as u32,
        }
    }

    fn month_name(&self) -> &'static str {
        MONTHS
            .get(self.mon.wrapping_sub(1) as usize)
            .copied()
            .unwrap_or("???")
    }

    fn weekday_name(&self) -> &'static str {
        WEEKDAYS.get(self.wday as usize).copied().unwrap_or("???")
    }
}

/// Local calendar fields and the UTC offset in seconds, from libc `localtime_r`.
fn local_civil(secs: i64) -> (Civil, i64) {
    // time_t is i64 on every 64-bit Linux target; the conversion is the identity there.
    let t: libc::time_t = secs;
    // SAFETY: `tm` is plain old data, all-zero is a valid value.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the duration of the call; localtime_r is thread-safe.
    let res = unsafe { libc::localtime_r(&t, &mut tm) };
    if res.is_null() {
        return (Civil::from_unix(secs), 0);
    }
    let civil = Civil {
        year: i64::from(tm.tm_year) + 1900,
        mon: u32::try_from(tm.tm_mon + 1).unwrap_or(1),
        mday: u32::try_from(tm.tm_mday).unwrap_or(1),
        hour: u32::try_from(tm.tm_hour).unwrap_or(0),
        min: u32::try_from(tm.tm_min).unwrap_or(0),
        sec: u32::try_from(tm.tm_sec).unwrap_or(0),
        wday: u32::try_from(tm.tm_wday).unwrap_or(0),
    };
    (civil, tm.tm_gmtoff)
}

/// One tick's worth of formatted time strings.
#[derive(Clone, Copy)]
pub struct Now {
    secs: i64,
    millis: u32,
    generation: u64,
    msec: InlineStr<24>,
    time_local: InlineStr<32>,
    time_iso8601: InlineStr<32>,
    err_log: InlineStr<24>,
    http_date: InlineStr<32>,
}

impl fmt::Debug for Now {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Now")
            .field("msec", &self.msec())
            .field("time_local", &self.time_local())
            .finish()
    }
}

impl Now {
    /// The strings for a fixed instant with an explicit UTC offset (seconds east of UTC). The local
    /// fields are the UTC fields of `unix + offset`, which is what `localtime_r` yields for a zone
    /// with that constant offset. Pure: used by tests and by callers that need a given instant.
    pub fn at(unix_millis: u64, gmtoff_secs: i64) -> Now {
        let secs = i64::try_from(unix_millis / 1000).unwrap_or(i64::MAX);
        let local = Civil::from_unix(secs.saturating_add(gmtoff_secs));
        Now::build(secs, (unix_millis % 1000) as u32, u64::MAX, local, gmtoff_secs)
    }

    fn local(secs: i64, millis: u32, generation: u64) -> Now {
        let (local, gmtoff) = local_civil(secs);
        Now::build(secs, millis, generation, local, gmtoff)
    }

    /// Formats as `ngx_time_update()` does (src/core/ngx_times.c).
    fn build(secs: i64, millis: u32, generation: u64, tm: Civil, gmtoff_secs: i64) -> Now {
        // nginx keeps the offset in whole minutes (`tm_gmtoff / 60`, truncating toward zero).
        let off = gmtoff_secs / 60;
        let sign = if off < 0 { '-' } else { '+' };
        let (oh, om) = (off.abs() / 60, off.abs() % 60);
        let mut n = Now {
            secs,
            millis,
            generation,
            msec: InlineStr::new(),
            time_local: InlineStr::new(),
            time_iso8601: InlineStr::new(),
            err_log: InlineStr::new(),
            http_date: InlineStr::new(),
        };
        // Overflow only cuts the string short; the buffers fit every 4-digit year.
        let _ = write!(
            n.time_local,
            "{:02}/{}/{}:{:02}:{:02}:{:02} {sign}{oh:02}{om:02}",
            tm.mday,
            tm.month_name(),
            tm.year,
            tm.hour,
            tm.min,
            tm.sec
        );
        let _ = write!(
            n.time_iso8601,
            "{:4}-{:02}-{:02}T{:02}:{:02}:{:02}{sign}{oh:02}:{om:02}",
            tm.year, tm.mon, tm.mday, tm.hour, tm.min, tm.sec
        );
        let _ = write!(
            n.err_log,
            "{:4}/{:02}/{:02} {:02}:{:02}:{:02}",
            tm.year, tm.mon, tm.mday, tm.hour, tm.min, tm.sec
        );
        // RFC 9110 §5.6.7 IMF-fixdate, always GMT (`ngx_http_time`).
        let g = Civil::from_unix(secs);
        let _ = write!(
            n.http_date,
            "{}, {:02} {} {:4} {:02}:{:02}:{:02} GMT",
            g.weekday_name(),
            g.mday,
            g.month_name(),
            g.year,
            g.hour,
            g.min,
            g.sec
        );
        n.set_msec();
        n
    }

    fn with_millis(mut self, millis: u32) -> Now {
        self.millis = millis;
        self.set_msec();
        self
    }

    fn set_msec(&mut self) {
        self.msec = InlineStr::new();
        let _ = write!(self.msec, "{}.{:03}", self.secs, self.millis);
    }

    /// `$msec`: `1728561336.123`.
    pub fn msec(&self) -> &str {
        self.msec.as_str()
    }

    /// `$time_local`: `10/Oct/2025:13:55:36 +0200`.
    pub fn time_local(&self) -> &str {
        self.time_local.as_str()
    }

    /// `$time_iso8601`: `2025-10-10T13:55:36+02:00`.
    pub fn time_iso8601(&self) -> &str {
        self.time_iso8601.as_str()
    }

    /// The error-log timestamp: `2025/10/10 13:55:36` (local time).
    pub fn err_log(&self) -> &str {
        self.err_log.as_str()
    }

    /// The `Date` header value: `Fri, 10 Oct 2025 11:55:36 GMT`.
    pub fn http_date(&self) -> &str {
        self.http_date.as_str()
    }

    /// Milliseconds since the unix epoch.
    pub fn unix_millis(&self) -> u64 {
        u64::try_from(self.secs)
            .unwrap_or(0)
            .saturating_mul(1000)
            .saturating_add(u64::from(self.millis))
    }

    /// Whole seconds since the unix epoch.
    pub fn unix_secs(&self) -> i64 {
        self.secs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    // 2025-10-10T11:55:36.123Z, a Friday.
    const T: u64 = 1_760_097_336_123;

    #[test]
    fn fixed_instants() {
        // (unix ms, offset s, time_local, iso8601, err_log, http_date, msec)
        let cases: &[(u64, i64, &str, &str, &str, &str, &str)] = &[
            (
                T,
                0,
                "10/Oct/2025:11:55:36 +0000",
                "2025-10-10T11:55:36+00:00",
                "2025/10/10 11:55:36",
                "Fri, 10 Oct 2025 11:55:36 GMT",
                "1760097336.123",
            ),
            (
                T,
                7_200,
                "10/Oct/2025:13:55:36 +0200",
                "2025-10-10T13:55:36+02:00",
                "2025/10/10 13:55:36",
                "Fri, 10 Oct 2025 11:55:36 GMT",
                "1760097336.123",
            ),
            (
                T,
                -18_000,
                "10/Oct/2025:06:55:36 -0500",
                "2025-10-10T06:55:36-05:00",
                "2025/10/10 06:55:36",
                "Fri, 10 Oct 2025 11:55:36 GMT",
                "1760097336.123",
            ),
            // Half-hour zone crossing midnight.
            (
                1_760_125_500_007,
                19_800,
                "11/Oct/2025:01:15:00 +0530",
                "2025-10-11T01:15:00+05:30",
                "2025/10/11 01:15:00",
                "Fri, 10 Oct 2025 19:45:00 GMT",
                "1760125500.007",
            ),
            // Offset with seconds: nginx shows whole minutes (checked against nginx 1.22.1).
            (
                T,
                -(3 * 3600 + 15 * 60 + 20),
                "10/Oct/2025:08:40:16 -0315",
                "2025-10-10T08:40:16-03:15",
                "2025/10/10 08:40:16",
                "Fri, 10 Oct 2025 11:55:36 GMT",
                "1760097336.123",
            ),
            (
                0,
                0,
                "01/Jan/1970:00:00:00 +0000",
                "1970-01-01T00:00:00+00:00",
                "1970/01/01 00:00:00",
                "Thu, 01 Jan 1970 00:00:00 GMT",
                "0.000",
            ),
            // Leap day, and the last millisecond of a year.
            (
                951_782_400_000,
                0,
                "29/Feb/2000:00:00:00 +0000",
                "2000-02-29T00:00:00+00:00",
                "2000/02/29 00:00:00",
                "Tue, 29 Feb 2000 00:00:00 GMT",
                "951782400.000",
            ),
            (
                1_767_225_599_999,
                0,
                "31/Dec/2025:23:59:59 +0000",
                "2025-12-31T23:59:59+00:00",
                "2025/12/31 23:59:59",
                "Wed, 31 Dec 2025 23:59:59 GMT",
                "1767225599.999",
            ),
        ];
        for &(ms, off, local, iso, err, http, msec) in cases {
            let n = Now::at(ms, off);
            assert_eq!(n.time_local(), local, "{ms} {off}");
            assert_eq!(n.time_iso8601(), iso, "{ms} {off}");
            assert_eq!(n.err_log(), err, "{ms} {off}");
            assert_eq!(n.http_date(), http, "{ms} {off}");
            assert_eq!(n.msec(), msec, "{ms} {off}");
            assert_eq!(n.unix_millis(), ms);
        }
    }

    #[test]
    fn http_date_matches_httpdate_crate() {
        for secs in [0u64, 68_169_600, 951_782_400, 1_760_097_336, 4_102_444_799] {
            let want = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs));
            assert_eq!(Now::at(secs * 1000, 3600).http_date(), want);
        }
    }

    #[test]
    fn millis_update_without_reformatting_seconds() {
        let n = Now::at(T, 0).with_millis(7);
        assert_eq!(n.msec(), "1760097336.007");
        assert_eq!(n.time_local(), "10/Oct/2025:11:55:36 +0000");
    }

    #[test]
    fn now_tracks_the_wall_clock() {
        let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        let n = now();
        let after = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        assert!(before <= n.unix_millis() && n.unix_millis() <= after);
        let m = now();
        assert!(m.unix_millis() >= n.unix_millis());
        assert_eq!(
            m.msec(),
            format!("{}.{:03}", m.unix_millis() / 1000, m.unix_millis() % 1000)
        );
    }

    /// Runs in a child process with `TZ` set (see `tz_is_honoured`); a plain `cargo test` skips it.
    #[test]
    #[ignore]
    fn tz_child() {
        let Ok(off) = std::env::var("RAMPART_TZ_CHILD_OFFSET") else {
            return;
        };
        let off: i64 = off.parse().unwrap();
        let n = now();
        let want = Now::at(n.unix_millis(), off);
        assert_eq!(n.time_local(), want.time_local());
        assert_eq!(n.time_iso8601(), want.time_iso8601());
        assert_eq!(n.err_log(), want.err_log());
        assert_eq!(n.http_date(), want.http_date());
    }

    #[test]
    fn tz_is_honoured() {
        // POSIX TZ strings need no tzdata. POSIX offsets are west-positive.
        for (tz, off) in [
            ("UTC0", 0i64),
            ("IST-5:30", 19_800),
            ("EST5", -18_000),
            ("XYZ+3:15:20", -11_720),
        ] {
            let mut child = Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "log::clock::tests::tz_child",
                    "--ignored",
                    "--test-threads=1",
                ])
                .env("TZ", tz)
                .env("RAMPART_TZ_CHILD_OFFSET", off.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let deadline = Instant::now() + Duration::from_secs(60);
            let status = loop {
                if let Some(s) = child.try_wait().unwrap() {
                    break s;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    panic!("tz child for {tz} timed out");
                }
                std::thread::sleep(Duration::from_millis(10));
            };
            let mut out = String::new();
            std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
            assert!(status.success(), "TZ={tz}: {out}");
            // Guard against the filter matching nothing (which would also "succeed").
            assert!(out.contains("1 passed"), "TZ={tz}: child did not run: {out}");
        }
    }
}
