//! The response of the static handler: headers in nginx's filter order
//! (not_modified → headers (expires, add_header) → charset → range), then
//! the body streamed from the blocking pool in bounded chunks.

use super::cache::FileInfo;
use super::cond::{self, Cond, Conditionals, Ranges};
use super::{mime, StaticConf};
use crate::exchange::respond;
use crate::exchange::{Exchange, Reply};
use crate::filters::gzip_encoder::gzip_whole;
use crate::http::buf_pool::PooledBuf;
use crate::http::response::{push_u64, ConnHeader, Framing, ResponseHead};
use bytes::Bytes;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Bytes per read and per socket write: bounds memory per response whatever
/// the file size. 256 KiB halved the CPU per 1 MiB response against 128 KiB
/// (fewer sendto calls, each filling more of the socket buffer).
pub const CHUNK: usize = 256 * 1024;

/// Bytes of file compressed per step of a gzip response: bounds the time one
/// response holds the event loop (nginx compresses up to its 128 KiB of
/// gzip_buffers at a time) and the memory per response.
const GZIP_CHUNK: usize = crate::filters::gzip_encoder::WHOLE_MAX;
/// The frame and output buffers' first size: a compressed step of markup
/// (~22 KiB for 100 KiB of HTML); a larger one grows them.
const FRAME_CAP: usize = 32 * 1024;

/// Bodies at least this big go out with sendfile(2) when they may (see
/// `resident`); smaller ones are read and written with their headers in one
/// send, which costs less than a separate header write plus sendfile.
const SENDFILE_MIN: u64 = 64 * 1024;

/// nginx's multipart boundary comes from `ngx_next_temp_number(0)`, a counter.
static BOUNDARY: AtomicU64 = AtomicU64::new(1);

/// `precompressed`: a gzip_static `.gz` file, sent with Content-Encoding
/// (gzip does not run, and the module does not allow ranges: no
/// Accept-Ranges). `vary`: gzip_static found a `.gz` this client does not get.
pub async fn send(
    ex: &mut Exchange<'_>,
    conf: &StaticConf,
    uri: &[u8],
    info: &Arc<FileInfo>,
    precompressed: bool,
    vary: bool,
) -> Reply {
    let mut head = ResponseHead::new(200);
    head.content_type = Some(super::content_type(&ex.req, conf, uri));
    let lm = info.mtime;
    head.last_modified = Some(Bytes::from(crate::http::date::http_time(lm)));
    let etag = conf.etag.then(|| cond::etag(lm, info.size));
    if let Some(e) = &etag {
        head.headers
            .push((Bytes::from_static(b"ETag"), Bytes::from(e.clone())));
    }
    let status = ex.override_status.unwrap_or(200);
    head.status = status;
    let h = &ex.req.head;
    let mut len = info.size;
    let mut ranges = Ranges::Full;
    if status == 200 {
        let c = Conditionals {
            if_unmodified_since: h.header(b"if-unmodified-since"),
            if_match: h.header(b"if-match"),
            if_modified_since: h.header(b"if-modified-since"),
            if_none_match: h.header(b"if-none-match"),
        };
        match cond::evaluate(&c, etag.as_deref().map(str::as_bytes), Some(lm), conf.ims) {
            Cond::Send => {}
            Cond::PreconditionFailed => {
                return Reply::Special {
                    status: 412,
                    location: None,
                }
            }
            Cond::NotModified => {
                head.status = 304;
                head.content_type = None;
            }
        }
    }
    if !matches!(head.status, 200 | 206 | 304) {
        head.last_modified = None;
    }
    respond::header_filters(&ex.req, &mut head, Some(lm));
    // gzip's header filter runs before the range filter: a compressed body
    // has no length, so it is never ranged (ngx_http_gzip_header_filter).
    let gz = &ex.req.loc.conf.gzip;
    if precompressed {
        // gzip_static sending the .gz: gzip itself does not run (the
        // response has a Content-Encoding), Vary as gzip_vary says.
        head.vary_accept_encoding = gz.vary;
        head.headers.push((
            Bytes::from_static(b"Content-Encoding"),
            Bytes::from_static(b"gzip"),
        ));
    } else {
        // gzip_static found a .gz this client does not get: it sets nginx's
        // one `r->gzip_vary` flag too.
        head.vary_accept_encoding = gz.vary && vary;
        if let Some(level) = crate::filters::gzip::decide(gz, &ex.req.head, &mut head, Some(info.size)) {
            return send_gzip(ex, head, info, level).await;
        }
    }
    if head.status == 200 && !precompressed && ex.req.head.version() != crate::http1::Version::Http09 {
        ranges = cond::ranges(
            h.header(b"range"),
            h.header(b"if-range"),
            etag.as_deref().map(str::as_bytes),
            Some(lm),
            info.size,
            conf.max_ranges,
        );
    }
    let mut parts: Vec<(Vec<u8>, u64, u64)> = Vec::new();
    let mut tail = Vec::new();
    match &ranges {
        // max_ranges 0 turns the range filter off, Accept-Ranges included.
        Ranges::Full if head.status == 200 && conf.max_ranges != Some(0) && !precompressed => head
            .headers
            .push((Bytes::from_static(b"Accept-Ranges"), Bytes::from_static(b"bytes"))),
        Ranges::Full => {}
        Ranges::NotSatisfiable => {
            // ngx_http_range_not_satisfiable, then nginx's special page for 416.
            head.status = 416;
            head.last_modified = None;
            head.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(b"etag"));
            let mut cr = b"bytes */".to_vec();
            push_u64(&mut cr, info.size);
            head.headers
                .push((Bytes::from_static(b"Content-Range"), Bytes::from(cr)));
            let c = &ex.req.loc.conf;
            let body =
                crate::filters::special::error_page_body(416, c.server_tokens, false).unwrap_or_default();
            head.content_type = Some(
                mime::with_charset(b"text/html", conf.charset.as_ref(), &conf.charset_types)
                    .unwrap_or(Bytes::from_static(b"text/html")),
            );
            return Reply::Full { head, body };
        }
        Ranges::Parts(p) if p.len() == 1 => {
            let (s, e) = p.first().copied().unwrap_or((0, 0));
            head.status = 206;
            let mut cr = b"bytes ".to_vec();
            push_u64(&mut cr, s);
            cr.push(b'-');
            push_u64(&mut cr, e - 1);
            cr.push(b'/');
            push_u64(&mut cr, info.size);
            head.headers
                .push((Bytes::from_static(b"Content-Range"), Bytes::from(cr)));
            parts.push((Vec::new(), s, e));
            len = e - s;
        }
        Ranges::Parts(p) => {
            head.status = 206;
            let b = BOUNDARY.fetch_add(1, Ordering::Relaxed);
            let boundary = format!("{b:020}");
            let ct = head.content_type.take().unwrap_or_default();
            let mut total = 0u64;
            for &(s, e) in p {
                let mut ph = format!("\r\n--{boundary}\r\n").into_bytes();
                if !ct.is_empty() {
                    ph.extend_from_slice(b"Content-Type: ");
                    ph.extend_from_slice(&ct);
                    ph.extend_from_slice(b"\r\n");
                }
                ph.extend_from_slice(
                    format!("Content-Range: bytes {}-{}/{}\r\n\r\n", s, e - 1, info.size).as_bytes(),
                );
                total += ph.len() as u64 + (e - s);
                parts.push((ph, s, e));
            }
            tail = format!("\r\n--{boundary}--\r\n").into_bytes();
            total += tail.len() as u64;
            len = total;
            head.content_type = Some(Bytes::from(format!("multipart/byteranges; boundary={boundary}")));
        }
    }
    if parts.is_empty() {
        parts.push((Vec::new(), 0, info.size));
    }
    let status = head.status;
    let mut out = Vec::with_capacity(512);
    let Some(conn) = respond::begin(ex, &head, Framing::Length(len), &mut out) else {
        return Reply::Sent { reusable: false };
    };
    let t = ex.req.loc.conf.send_timeout;
    if ex.req.is_head() || status == 304 {
        return Reply::Sent {
            reusable: ex.io.write_all(&out, t).await.is_ok() && conn == ConnHeader::KeepAlive,
        };
    }
    let Some(file) = info.file.clone() else {
        return Reply::Sent { reusable: false };
    };
    for (ph, s, e) in parts {
        out.extend_from_slice(&ph);
        // sendfile for a whole part of a file on a local file system on
        // plain TCP, when every page is already in memory: then it
        // copies from the page cache to the socket without waiting on storage.
        if ph.is_empty()
            && info.local
            && e - s >= SENDFILE_MIN
            && ex.io.can_sendfile()
            && resident(info, &file, s, e - s)
        {
            let sent = ex.io.sendfile(&out, &file, s, e - s, t).await;
            out.clear();
            match sent {
                Ok(n) if n == e - s => continue,
                Ok(_) => {
                    crate::log::error_log::log(
                        crate::log::Level::Crit,
                        Some(ex.req.conn.number),
                        format_args!("file was truncated while being sent"),
                    );
                    return Reply::Sent { reusable: false };
                }
                Err(_) => return Reply::Sent { reusable: false },
            }
        }
        let mut off = s;
        // A read of the next chunk running on the blocking pool while this one
        // is written: at most one, and only once the file proved uncached.
        let mut ahead: Option<(u64, ReadTask)> = None;
        let mut blocked = false;
        while off < e {
            let want = usize::try_from(e - off).unwrap_or(CHUNK).min(CHUNK);
            let n = match ahead.take() {
                Some((at, task)) if at == off => {
                    let Ok((buf, n)) = task.await else {
                        return Reply::Sent { reusable: false };
                    };
                    if out.is_empty() {
                        out = buf;
                    } else {
                        out.extend_from_slice(&buf);
                    }
                    n
                }
                _ => match read_cached(&file, &mut out, want, off) {
                    Some(n) => n,
                    None => {
                        blocked = true;
                        let Ok((buf, n)) =
                            spawn_read(file.clone(), std::mem::take(&mut out), want, off).await
                        else {
                            return Reply::Sent { reusable: false };
                        };
                        out = buf;
                        n
                    }
                },
            };
            match n {
                Ok(0) | Err(_) => {
                    // The file shrank under us: nginx logs and closes the connection.
                    crate::log::error_log::log(
                        crate::log::Level::Crit,
                        Some(ex.req.conn.number),
                        format_args!("file was truncated while being sent"),
                    );
                    let _ = ex.io.write_all(&out, t).await;
                    return Reply::Sent { reusable: false };
                }
                Ok(n) => off += n as u64,
            }
            if out.len() >= CHUNK || off >= e {
                if blocked && off < e {
                    let next = usize::try_from(e - off).unwrap_or(CHUNK).min(CHUNK);
                    ahead = Some((off, spawn_read(file.clone(), Vec::with_capacity(next), next, off)));
                }
                if ex.io.write_all(&out, t).await.is_err() {
                    return Reply::Sent { reusable: false };
                }
                out.clear();
            }
        }
    }
    out.extend_from_slice(&tail);
    if !out.is_empty() && ex.io.write_all(&out, t).await.is_err() {
        return Reply::Sent { reusable: false };
    }
    Reply::Sent {
        reusable: conn == ConnHeader::KeepAlive,
    }
}

/// Appends up to `want` bytes of `f` at `off` to `buf` if they are all in
/// the page cache, without blocking: `preadv2(RWF_NOWAIT)` (Linux 4.14+,
/// preadv2(2)) never waits for I/O, so a cached read runs on the event loop
/// and skips the two thread switches of a blocking-pool hop. None when the
/// data is not cached (EAGAIN) or the file system or kernel does not offer
/// the flag (EOPNOTSUPP, ENOSYS, EINVAL), or on EINTR: the caller then reads on the
/// blocking pool, so a stalled NFS read still never holds an event-loop
/// thread. A short read (part of the range cached) is a normal result.
pub(super) fn read_cached(
    f: &std::fs::File,
    buf: &mut Vec<u8>,
    want: usize,
    off: u64,
) -> Option<io::Result<usize>> {
    use std::os::unix::io::AsRawFd;
    let off = i64::try_from(off).ok()?;
    buf.reserve(want);
    let spare = buf.spare_capacity_mut();
    let iov = libc::iovec {
        iov_base: spare.as_mut_ptr().cast(),
        iov_len: want.min(spare.len()),
    };
    // SAFETY: the iovec points into `buf`'s spare capacity, valid for
    // `iov_len` bytes of writes; the kernel writes at most that many.
    let r = unsafe { libc::preadv2(f.as_raw_fd(), &iov, 1, off, libc::RWF_NOWAIT) };
    match usize::try_from(r) {
        Ok(n) => {
            // SAFETY: the kernel initialised the first `n <= iov_len` spare bytes.
            unsafe { buf.set_len(buf.len() + n) };
            Some(Ok(n))
        }
        Err(_) => {
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EAGAIN | libc::EOPNOTSUPP | libc::ENOSYS | libc::EINVAL | libc::EINTR) => None,
                _ => Some(Err(e)),
            }
        }
    }
}

/// How long a whole-file "all in the page cache" verdict is reused. cachestat
/// walks every page of the range: ~7 % of the CPU of a 1 MiB response. A
/// hot file's pages rarely leave memory within this window; if one did, that
/// one sendfile would wait on a local disk read, which nginx's sendfile may
/// do on every request.
const RESIDENT_REUSE_MS: u64 = 100;

/// Whether `len` bytes at `off` of the file of `info` are all in the page
/// cache: `all_cached`, or the file's whole-file verdict of the last
/// `RESIDENT_REUSE_MS`.
fn resident(info: &FileInfo, f: &std::fs::File, off: u64, len: u64) -> bool {
    resident_at(info, f, off, len, crate::log::clock::now().unix_millis())
}

/// `resident` at `now` (unix ms).
fn resident_at(info: &FileInfo, f: &std::fs::File, off: u64, len: u64, now: u64) -> bool {
    let last = info.resident_at.load(Ordering::Relaxed);
    if last != 0 && now.wrapping_sub(last) < RESIDENT_REUSE_MS {
        return true;
    }
    if off != 0 || len != info.size {
        return all_cached(f, off, len);
    }
    let all = all_cached(f, 0, len);
    if all {
        info.resident_at.store(now.max(1), Ordering::Relaxed);
    }
    all
}

/// Whether every page of `f` in `off..off + len` is in the page cache:
/// cachestat(2) (Linux 6.5+), which only counts and never waits. False when
/// the kernel lacks it, so the body is then read with `read_cached` or the
/// blocking pool instead of sendfile.
pub(super) fn all_cached(f: &std::fs::File, off: u64, len: u64) -> bool {
    use std::os::unix::io::AsRawFd;
    #[repr(C)]
    struct Range {
        off: u64,
        len: u64,
    }
    /// struct cachestat of linux/mman.h.
    #[repr(C)]
    #[derive(Default)]
    struct Stat {
        nr_cache: u64,
        nr_dirty: u64,
        nr_writeback: u64,
        nr_evicted: u64,
        nr_recently_evicted: u64,
    }
    // The generic syscall table's number, shared by x86_64 and aarch64.
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    const SYS_CACHESTAT: Option<libc::c_long> = Some(451);
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    const SYS_CACHESTAT: Option<libc::c_long> = None;
    let Some(nr) = SYS_CACHESTAT else {
        return false;
    };
    if len == 0 {
        return false;
    }
    let range = Range { off, len };
    let mut st = Stat::default();
    // SAFETY: `range` and `st` are valid, correctly laid out structs the
    // kernel reads and writes; flags must be 0.
    let r = unsafe {
        libc::syscall(
            nr,
            f.as_raw_fd(),
            &range as *const Range,
            &mut st as *mut Stat,
            0u32,
        )
    };
    // SAFETY: sysconf has no preconditions.
    let page = u64::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) })
        .unwrap_or(4096)
        .max(1);
    let pages = off.saturating_add(len - 1) / page - off / page + 1;
    r == 0 && st.nr_cache >= pages
}

/// A read on the blocking pool: the buffer back, with what was appended.
type ReadTask = tokio::task::JoinHandle<(Vec<u8>, io::Result<usize>)>;

/// Appends up to `want` bytes of `f` at `off` to `buf` on the blocking pool
/// (one hop). Dropping the handle lets the read finish and frees the buffer.
pub(super) fn spawn_read(f: Arc<std::fs::File>, mut buf: Vec<u8>, want: usize, off: u64) -> ReadTask {
    tokio::task::spawn_blocking(move || {
        use std::os::unix::fs::FileExt;
        let start = buf.len();
        buf.resize(start + want, 0);
        let n = f.read_at(buf.get_mut(start..).unwrap_or_default(), off);
        let got = *n.as_ref().unwrap_or(&0);
        buf.truncate(start + got);
        (buf, n)
    })
}

/// A compressed body: chunked on HTTP/1.1, close-delimited on 1.0; one
/// file chunk and its compressed output in memory at a time.
async fn send_gzip(ex: &mut Exchange<'_>, head: ResponseHead, info: &Arc<FileInfo>, level: u32) -> Reply {
    let http11 = ex.req.head.version() == crate::http1::Version::Http11;
    let framing = if ex.req.is_head() {
        Framing::NoBody
    } else if http11 {
        Framing::Chunked
    } else {
        ex.close_after = true;
        Framing::Close
    };

    // The frame buffer (head, then each compressed step), the read buffer
    // and the compressor's output: pooled per thread, so a response of the
    // usual sizes allocates none of them (see buf_pool.rs).
    let mut frame = PooledBuf::take(FRAME_CAP);
    let Some(conn) = respond::begin(ex, &head, framing, &mut frame) else {
        return Reply::Sent { reusable: false };
    };
    let t = ex.req.loc.conf.send_timeout;
    if ex.req.is_head() {
        if ex.io.write_all(&frame, t).await.is_err() {
            return Reply::Sent { reusable: false };
        }
        return Reply::Sent {
            reusable: conn == ConnHeader::KeepAlive,
        };
    }
    let Some(file) = info.file.clone() else {
        return Reply::Sent { reusable: false };
    };
    // Created at the first read that is not the whole file (a small file
    // is compressed in one piece and needs no deflate stream).
    let mut enc: Option<crate::filters::gzip::Gzip> = None;
    let mut off = 0u64;
    let size = info.size;
    // One read buffer and one output buffer for the whole body. The head
    // goes out with the first compressed bytes: one send, one segment, one
    // wake-up of the client instead of two.
    let mut raw = PooledBuf::take(GZIP_CHUNK.min(usize::try_from(info.size).unwrap_or(GZIP_CHUNK)));
    let mut z = PooledBuf::take(FRAME_CAP);
    loop {
        z.clear();
        let mut whole = false;
        if off < size {
            let want = usize::try_from(size - off).unwrap_or(GZIP_CHUNK).min(GZIP_CHUNK);
            raw.clear();
            // A cached range is read right here (RWF_NOWAIT never blocks);
            // anything else on the blocking pool, so NFS never stalls the loop.
            let got = match read_cached(&file, &mut raw, want, off) {
                Some(n) => n,
                None => match spawn_read(file.clone(), std::mem::take(&mut *raw), want, off).await {
                    Ok((buf, n)) => {
                        *raw = buf;
                        n
                    }
                    Err(_) => return Reply::Sent { reusable: false },
                },
            };
            match got {
                Ok(n) if n > 0 => off += n as u64,
                _ => return Reply::Sent { reusable: false },
            }
            // Compressed on the event loop, as nginx does: at most
            // GZIP_CHUNK per step, a fraction of a millisecond. A file read
            // whole is compressed in one piece (ISA-L or libdeflate).
            whole = off == size && raw.len() as u64 == size && gzip_whole(level, &raw, &mut z);
            if !whole {
                enc.get_or_insert_with(|| crate::filters::gzip::Gzip::new(level))
                    .feed_into(&raw, &mut z);
            }
        }
        // The last read and the end of the stream go out in one write.
        let done = off >= size;
        if done && !whole {
            enc.get_or_insert_with(|| crate::filters::gzip::Gzip::new(level))
                .finish_into(&mut z);
        }
        if done {
            ex.req.gzip = match &enc {
                Some(e) if !whole => Some(e.totals()),
                _ => Some((size, z.len() as u64)),
            };
        }
        if frame.is_empty() && !ex.io.chunks(framing) {
            std::mem::swap(&mut *frame, &mut *z);
        } else {
            ex.io.frame_body(framing, &z, &mut frame);
        }
        if done {
            ex.io.end_body(framing, &mut frame);
        }
        if !frame.is_empty() && ex.io.write_all(&frame, t).await.is_err() {
            return Reply::Sent { reusable: false };
        }
        frame.clear();
        if done {
            break;
        }
    }
    Reply::Sent {
        reusable: conn == ConnHeader::KeepAlive,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(name: &str, data: &[u8]) -> (std::path::PathBuf, Arc<std::fs::File>) {
        let p = std::env::temp_dir().join(format!("rampart-send-{}-{name}", std::process::id()));
        std::fs::write(&p, data).unwrap();
        let f = Arc::new(std::fs::File::open(&p).unwrap());
        (p, f)
    }

    #[test]
    fn read_cached_appends_the_range_or_declines() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let (p, f) = temp_file("cached", &data);
        // (offset, want, expected bytes): whole, middle, past the end, at EOF (0 = truncation).
        let cases: [(u64, usize, &[u8]); 4] = [
            (0, 10_000, &data[..]),
            (100, 50, &data[100..150]),
            (9_990, 100, &data[9_990..]),
            (10_000, 10, &[]),
        ];
        for (off, want, expect) in cases {
            let mut buf = b"head".to_vec();
            match read_cached(&f, &mut buf, want, off) {
                // Just written, so cached; a file system without RWF_NOWAIT declines.
                Some(r) => {
                    assert_eq!(r.unwrap(), expect.len(), "off {off}");
                    assert_eq!(&buf[..4], b"head");
                    assert_eq!(&buf[4..], expect, "off {off}");
                }
                None => assert_eq!(buf, b"head"),
            }
        }
        std::fs::remove_file(p).unwrap();
    }

    #[test]
    fn a_whole_file_verdict_is_reused_for_a_short_while() {
        use std::os::unix::io::AsRawFd;
        let data = vec![3u8; 200_000];
        let (p, f) = temp_file("reuse", &data);
        let info = info_of(&f, 200_000);
        // Times are given, so a slow test machine cannot age the verdict.
        let t0 = 1_000_000;
        if !all_cached(&f, 0, 200_000) {
            // A kernel without cachestat: never sendfile, nothing to reuse.
            assert!(!resident_at(&info, &f, 0, 200_000, t0));
            return;
        }
        assert!(resident_at(&info, &f, 0, 200_000, t0));
        assert_eq!(info.resident_at.load(Ordering::Relaxed), t0);
        // Evicted (clean pages go with DONTNEED): the verdict still stands...
        f.sync_all().unwrap();
        // SAFETY: plain advice on an open descriptor.
        unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        let late = t0 + RESIDENT_REUSE_MS - 1;
        assert!(resident_at(&info, &f, 0, 200_000, late));
        assert!(
            resident_at(&info, &f, 70_000, 100_000, late),
            "any part of the file"
        );
        // ...until it is as old as the window; then the pages are counted again.
        if !all_cached(&f, 0, 200_000) {
            assert!(!resident_at(&info, &f, 0, 200_000, t0 + RESIDENT_REUSE_MS));
            assert_eq!(info.resident_at.load(Ordering::Relaxed), t0);
        }
        std::fs::remove_file(p).unwrap();
    }

    fn info_of(f: &Arc<std::fs::File>, size: u64) -> FileInfo {
        FileInfo {
            file: Some(f.clone()),
            size,
            mtime: 0,
            is_dir: false,
            is_file: true,
            local: true,
            resident_at: AtomicU64::new(0),
        }
    }

    #[test]
    fn all_cached_counts_pages() {
        let data = vec![7u8; 300_000];
        let (p, f) = temp_file("resident", &data);
        // Just written: every page is in memory (a kernel without cachestat says false).
        let whole = all_cached(&f, 0, 300_000);
        assert_eq!(all_cached(&f, 100_000, 50_000), whole);
        // Past the end nothing is cached.
        assert!(!all_cached(&f, 400_000, 10_000));
        assert!(!all_cached(&f, 0, 0));
        std::fs::remove_file(p).unwrap();
    }

    #[tokio::test]
    async fn spawn_read_appends_the_range() {
        let (p, f) = temp_file("blocking", b"0123456789");
        let cases: [(u64, usize, &[u8]); 3] = [(0, 10, b"0123456789"), (3, 4, b"3456"), (10, 5, b"")];
        for (off, want, expect) in cases {
            let (buf, n) = spawn_read(f.clone(), b"h:".to_vec(), want, off).await.unwrap();
            assert_eq!(n.unwrap(), expect.len());
            assert_eq!(&buf[2..], expect);
            assert_eq!(&buf[..2], b"h:");
        }
        std::fs::remove_file(p).unwrap();
    }
}
