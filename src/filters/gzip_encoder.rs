//! The gzip stream encoder behind the gzip filter: raw deflate (flate2 with
//! its zlib-rs backend; ISA-L's igzip at level 1 when built in) framed by
//! nginx's 10-byte gzip header and the CRC-32 / ISIZE trailer, written
//! straight into the caller's buffer.
//!
//! Why not `flate2::write::GzEncoder`: it buffers into its own Vec that then
//! has to be handed over, and every request allocated a fresh deflate state
//! (~270 KiB of window, hash and pending buffers with zlib-rs) and released it
//! again, page faults included. Here a finished or dropped encoder gives its
//! state back to a small per-thread cache and the next response on that
//! thread `reset`s it instead (zlib's `deflateReset`), so the steady state
//! allocates nothing per response. Memory stays bounded: one deflate state
//! per response in flight plus at most `CACHE_PER_THREAD` idle ones per
//! thread.

use crate::http::buf_pool::PooledBuf;
use flate2::{Compress, Compression, Crc, FlushCompress, Status};
use std::cell::RefCell;

/// nginx's gzip header (`gzheader` in ngx_http_gzip_filter_module.c):
/// deflate, no flags, no mtime, no extra flags, OS 3 (Unix).
pub const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];

/// Idle deflate states kept per thread: enough for the responses one
/// thread compresses back to back, small enough not to matter in RSS.
const CACHE_PER_THREAD: usize = 4;

thread_local! {
    /// Idle deflate states of this thread, with the zlib level each was made for.
    static CACHE: RefCell<Vec<(u32, Compress)>> = const { RefCell::new(Vec::new()) };
}

/// The deflate level run for a `gzip_comp_level`. Level 1 runs zlib-rs at
/// 2: zlib-rs's level 1 is the "quick" strategy (as zlib-ng's), about 30%
/// larger than zlib's level 1 on HTML, while its level 2 is smaller than
/// zlib's 1 and 2 (measured on the bench's 100 KiB HTML page: zlib 1:
/// 37629 B, 2: 36024 B; zlib-rs 1: 49750 B, 2: 34758 B). The ratio must
/// never be worse than nginx's at the same level.
pub fn backend_level(level: u32) -> u32 {
    level.clamp(2, 9)
}

/// libdeflate compressors of one thread by level, and the output buffer
/// they write into (kept at its largest size: no zeroing per call).
type WholeCache = (Vec<(i32, super::libdeflate::Compressor)>, Vec<u8>);

thread_local! {
    static WHOLE: RefCell<WholeCache> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// The largest body compressed in one piece by [`gzip_whole`]: bounds the
/// input and output buffers like one streaming step does.
pub const WHOLE_MAX: usize = 128 * 1024;

/// The libdeflate level for a `gzip_comp_level`: 1 and 2 run libdeflate's
/// level 1 (rampart's patched match finder, vendor/libdeflate), which still
/// compresses better than zlib's levels 1 and 2 (the bench's 100 KiB page:
/// 22796 B; zlib 1: 24997 B, 2: 24544 B; tests/static_nginx.rs compares
/// against nginx) at ~2.4× zlib's level-2 speed; higher levels map to the
/// same level, where libdeflate is never worse than zlib.
fn whole_level(level: u32) -> i32 {
    i32::try_from(level.clamp(1, 9)).unwrap_or(1).max(2) - i32::from(level <= 2)
}

/// Compresses a whole body (at most [`WHOLE_MAX`] bytes) into one gzip
/// member appended to `out`, with libdeflate: about 1.5× zlib-rs's speed
/// at level 2 with a better ratio, but it only takes whole buffers, so
/// static files that fit in one read use it and everything else streams
/// through [`Gzip`]. Returns false (nothing written) if it could not.
pub fn gzip_whole(level: u32, data: &[u8], out: &mut Vec<u8>) -> bool {
    if data.len() > WHOLE_MAX {
        return false;
    }
    // Level 1: ISA-L when built in, twice libdeflate's speed (see isal.rs).
    if level <= 1 && super::isal::gzip_level1(data, out) {
        return true;
    }
    let lvl = whole_level(level);
    WHOLE.with(|w| {
        let Ok(mut w) = w.try_borrow_mut() else {
            return false;
        };
        let (comps, buf) = &mut *w;
        let i = match comps.iter().position(|(l, _)| *l == lvl) {
            Some(i) => i,
            None => {
                let Some(c) = super::libdeflate::Compressor::new(lvl) else {
                    return false;
                };
                comps.push((lvl, c));
                comps.len() - 1
            }
        };
        let Some((_, c)) = comps.get_mut(i) else {
            return false;
        };
        let bound = c.gzip_bound(data.len());
        if buf.len() < bound {
            buf.resize(bound, 0);
        }
        match c.gzip(data, buf) {
            Some(n) => {
                out.extend_from_slice(buf.get(..n).unwrap_or_default());
                true
            }
            None => false,
        }
    })
}

/// One gzip stream.
pub struct Gzip {
    z: Option<Compress>,
    /// Level 1 with ISA-L built in: igzip instead of zlib-rs (about twice
    /// as fast at a ratio better than zlib's level 1; see isal.rs).
    isal: Option<super::isal::Stream>,
    /// The zlib level of `z` (its key in `CACHE`); the `gzip_comp_level`
    /// with igzip and in the held mode.
    level: u32,
    crc: Crc,
    started: bool,
    /// The input so far, while it may still be compressed in one piece by
    /// [`gzip_whole`] (see [`Gzip::buffered`]); None once streaming.
    held: Option<PooledBuf>,
    /// Bytes fed in and written out so far (header and trailer included).
    zin: u64,
    zout: u64,
}

impl Gzip {
    /// An encoder for `gzip_comp_level` `level`, reusing an idle deflate
    /// state of this thread when there is one.
    pub fn new(level: u32) -> Gzip {
        if level <= 1 {
            if let Some(isal) = super::isal::Stream::new() {
                return Gzip::with(level, None, Some(isal), None);
            }
        }
        let level = backend_level(level);
        let cached = CACHE.with(|c| {
            let mut c = c.try_borrow_mut().ok()?;
            let i = c.iter().position(|(l, _)| *l == level)?;
            Some(c.swap_remove(i).1)
        });
        let z = match cached {
            Some(mut z) => {
                z.reset();
                z
            }
            None => Compress::new(Compression::new(level), false),
        };
        Gzip::with(level, Some(z), None, None)
    }

    fn with(
        level: u32,
        z: Option<Compress>,
        isal: Option<super::isal::Stream>,
        held: Option<PooledBuf>,
    ) -> Gzip {
        Gzip {
            z,
            isal,
            level,
            crc: Crc::new(),
            started: false,
            held,
            zin: 0,
            zout: 0,
        }
    }

    /// An encoder for a body of `expected` bytes (None: not known yet) that
    /// holds the input back while the whole body may still fit in
    /// [`WHOLE_MAX`], and compresses it in one piece with [`gzip_whole`]
    /// when it ends. What that buys is at level 2 and up: libdeflate, about
    /// 1.6× zlib-rs's streaming speed at a better ratio than zlib's (level 1
    /// runs igzip either way, as fast whole as streamed). A body that
    /// outgrows [`WHOLE_MAX`] switches to streaming with what was held, so
    /// memory stays bounded.
    ///
    /// What it costs: no compressed byte leaves before the body ends or
    /// passes [`WHOLE_MAX`]. The streaming encoders hold their output about
    /// as long anyway (zlib emits a block per ~16 K symbols, 40–60 KB of
    /// markup; nginx's gzip does not flush either while proxy buffering is
    /// on), so only a small body trickling in slowly arrives later.
    pub fn buffered(level: u32, expected: Option<u64>) -> Gzip {
        let cap = match expected {
            Some(n) if n > WHOLE_MAX as u64 => return Gzip::new(level),
            Some(n) => usize::try_from(n).unwrap_or(WHOLE_MAX),
            None => 0,
        };
        // Pooled: a fresh 100 KiB block per response went back to the
        // kernel when freed and faulted in again (see buf_pool.rs).
        Gzip::with(level, None, None, Some(PooledBuf::take(cap)))
    }

    /// Leaves the held mode: the encoder becomes a stream that has been fed
    /// what was held (its output appended to `out`).
    fn stream_held(&mut self, held: &[u8], out: &mut Vec<u8>) {
        let (zin, zout) = (self.zin, self.zout);
        *self = Gzip::new(self.level);
        (self.zin, self.zout) = (zin, zout);
        self.feed_uncounted(held, out);
    }

    /// Bytes fed in and gzip bytes written out so far (nginx's `zin` and
    /// `zout`, header and trailer included: `$gzip_ratio`).
    pub fn totals(&self) -> (u64, u64) {
        (self.zin, self.zout)
    }

    fn header(&mut self, out: &mut Vec<u8>) {
        if !self.started {
            self.started = true;
            out.extend_from_slice(&HEADER);
        }
    }

    /// Compresses `data`, appending whatever deflate emits to `out` (often
    /// nothing: deflate holds output until its block is full, as nginx's
    /// zlib does between buffer flushes).
    pub fn feed_into(&mut self, data: &[u8], out: &mut Vec<u8>) {
        self.zin += data.len() as u64;
        self.counted(out, |g, out| g.feed_uncounted(data, out));
    }

    /// Runs one step, adding what it wrote to `zout`.
    fn counted(&mut self, out: &mut Vec<u8>, step: impl FnOnce(&mut Gzip, &mut Vec<u8>)) {
        let start = out.len();
        step(self, out);
        self.zout += (out.len() - start) as u64;
    }

    fn feed_uncounted(&mut self, mut data: &[u8], out: &mut Vec<u8>) {
        if let Some(held) = self.held.as_mut() {
            if held.len() + data.len() <= WHOLE_MAX {
                held.extend_from_slice(data);
                return;
            }
            if let Some(held) = self.held.take() {
                self.stream_held(&held, out);
            }
        }
        self.header(out);
        if let Some(s) = self.isal.as_mut() {
            if !s.feed_into(data, out) {
                // Broken: the body ends short, as after a zlib error.
                self.isal = None;
            }
            return;
        }
        self.crc.update(data);
        let Some(z) = self.z.as_mut() else {
            return;
        };
        while !data.is_empty() {
            out.reserve(data.len() / 2 + 256);
            let before = z.total_in();
            if z.compress_vec(data, out, FlushCompress::None).is_err() {
                return;
            }
            let used = usize::try_from(z.total_in() - before).unwrap_or(data.len());
            data = data.get(used..).unwrap_or_default();
        }
    }

    /// Sync flush (zlib's Z_SYNC_FLUSH): everything fed so far comes out
    /// now, ending on a byte boundary, so a client can decompress it before
    /// the body ends (nginx's gzip filter does this for a flush buffer, as
    /// with `proxy_buffering off`). Costs ratio: use it only where asked.
    pub fn flush_into(&mut self, out: &mut Vec<u8>) {
        self.counted(out, Gzip::flush_uncounted);
    }

    fn flush_uncounted(&mut self, out: &mut Vec<u8>) {
        if let Some(held) = self.held.take() {
            self.stream_held(&held, out);
        }
        self.header(out);
        if let Some(s) = self.isal.as_mut() {
            if !s.flush_into(out) {
                self.isal = None;
            }
            return;
        }
        let Some(z) = self.z.as_mut() else {
            return;
        };
        loop {
            out.reserve(4096);
            let room = out.capacity() - out.len();
            let before = z.total_out();
            if z.compress_vec(&[], out, FlushCompress::Sync).is_err() {
                return;
            }
            // zlib: a flush that filled the whole output room may have more.
            if usize::try_from(z.total_out() - before).map_or(true, |n| n < room) {
                return;
            }
        }
    }

    /// Ends the stream: the rest of the deflate output and the trailer.
    pub fn finish_into(&mut self, out: &mut Vec<u8>) {
        self.counted(out, Gzip::finish_uncounted);
    }

    fn finish_uncounted(&mut self, out: &mut Vec<u8>) {
        if let Some(held) = self.held.take() {
            if gzip_whole(self.level, &held, out) {
                return;
            }
            self.stream_held(&held, out);
        }
        self.header(out);
        if let Some(mut s) = self.isal.take() {
            // igzip writes the trailer itself.
            s.finish_into(out);
            return;
        }
        let Some(z) = self.z.as_mut() else {
            return;
        };
        loop {
            out.reserve(4096);
            match z.compress_vec(&[], out, FlushCompress::Finish) {
                Ok(Status::StreamEnd) | Err(_) => break,
                Ok(_) => {}
            }
        }
        out.extend_from_slice(&self.crc.sum().to_le_bytes());
        out.extend_from_slice(&self.crc.amount().to_le_bytes());
        self.release();
    }

    /// Gives the deflate state to this thread's cache (reset on reuse).
    fn release(&mut self) {
        let Some(z) = self.z.take() else {
            return;
        };
        let level = self.level;
        CACHE.with(|c| {
            if let Ok(mut c) = c.try_borrow_mut() {
                if c.len() < CACHE_PER_THREAD {
                    c.push((level, z));
                }
            }
        });
    }
}

impl Drop for Gzip {
    /// A response cut short (client gone, upstream error) still returns
    /// its state; `new` resets it before use.
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gunzip(z: &[u8]) -> Vec<u8> {
        let mut d = flate2::read::GzDecoder::new(z);
        let mut back = Vec::new();
        std::io::Read::read_to_end(&mut d, &mut back).unwrap();
        back
    }

    #[test]
    fn stream_round_trips() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 97) as u8).collect();
        let mut g = Gzip::new(1);
        let mut out = Vec::new();
        for c in data.chunks(7000) {
            g.feed_into(c, &mut out);
        }
        g.finish_into(&mut out);
        assert_eq!(&out[..10], &HEADER);
        assert_eq!(gunzip(&out), data);
        assert!(out.len() < data.len() / 10);
    }

    #[test]
    fn reused_state_starts_clean() {
        // An abandoned stream's state goes back to the cache; the next
        // stream on this thread must not carry any of it.
        let mut a = Gzip::new(3);
        let mut sink = Vec::new();
        a.feed_into(b"left over from a response the client abandoned", &mut sink);
        drop(a);
        for _ in 0..3 {
            let mut g = Gzip::new(3);
            let mut out = Vec::new();
            g.feed_into(b"hello hello hello hello", &mut out);
            g.finish_into(&mut out);
            assert_eq!(gunzip(&out), b"hello hello hello hello");
        }
        let mut empty = Vec::new();
        Gzip::new(3).finish_into(&mut empty);
        assert_eq!(gunzip(&empty), b"");
    }

    /// Markup-like text (compresses about as real HTML does).
    fn markup(n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n + 64);
        let mut i = 0u64;
        while v.len() < n {
            let line = format!(
                "<p class=\"c{}\">word{} {}</p>\n",
                i % 50,
                i * 7 % 997,
                i * 2654435761 % 100000
            );
            v.extend_from_slice(line.as_bytes());
            i += 1;
        }
        v.truncate(n);
        v
    }

    #[test]
    fn buffered_bodies_that_fit_are_compressed_whole() {
        for level in [1, 2, 6] {
            for (len, hint) in [
                (0, None),
                (0, Some(0)),
                (30_000, None),
                (30_000, Some(30_000)),
                (WHOLE_MAX, None),
            ] {
                let data = markup(len);
                let mut g = Gzip::buffered(level, hint);
                let mut out = Vec::new();
                for piece in data.chunks(4093) {
                    g.feed_into(piece, &mut out);
                }
                assert!(out.is_empty(), "level {level}, {len} B: nothing before the end");
                g.finish_into(&mut out);
                let mut whole = Vec::new();
                assert!(gzip_whole(level, &data, &mut whole));
                assert_eq!(out, whole, "level {level}, {len} B: one gzip_whole call");
                assert_eq!(gunzip(&out), data);
            }
        }
    }

    #[test]
    fn buffered_bodies_that_outgrow_it_stream() {
        let data = markup(3 * WHOLE_MAX + 123);
        for level in [1, 2, 6] {
            // Unknown length: held until it passes WHOLE_MAX, then streamed.
            let mut g = Gzip::buffered(level, None);
            let mut out = Vec::new();
            let mut fed = 0;
            for piece in data.chunks(7001) {
                g.feed_into(piece, &mut out);
                fed += piece.len();
                assert_eq!(g.held.is_some(), fed <= WHOLE_MAX, "level {level} after {fed} B");
            }
            assert!(!out.is_empty(), "level {level}: output before the end");
            g.finish_into(&mut out);
            assert_eq!(&out[..10], &HEADER);
            assert_eq!(gunzip(&out), data, "level {level}");
            // A length over WHOLE_MAX streams from the first byte.
            let g = Gzip::buffered(level, Some(WHOLE_MAX as u64 + 1));
            assert!(g.held.is_none());
        }
        // Abandoned while holding: nothing to give back, nothing leaks into the next.
        let mut g = Gzip::buffered(2, None);
        g.feed_into(b"abandoned", &mut Vec::new());
        drop(g);
        let mut out = Vec::new();
        let mut g = Gzip::buffered(2, None);
        g.feed_into(b"next", &mut out);
        g.finish_into(&mut out);
        assert_eq!(gunzip(&out), b"next");
    }

    /// What the deflate data after the 10-byte header decompresses to so far.
    fn inflate_prefix(gz: &[u8]) -> Vec<u8> {
        let mut z = flate2::Decompress::new(false);
        let mut out = Vec::with_capacity(1 << 20);
        z.decompress_vec(&gz[10..], &mut out, flate2::FlushDecompress::Sync)
            .unwrap();
        out
    }

    #[test]
    fn sync_flush_makes_everything_fed_decompressible() {
        let data = markup(300_000);
        // 1: igzip (when built in); 2 and 9: zlib-rs; buffered: leaves the held mode.
        for (level, buffered) in [(1, false), (2, false), (9, false), (2, true)] {
            let mut g = if buffered {
                Gzip::buffered(level, None)
            } else {
                Gzip::new(level)
            };
            let mut out = Vec::new();
            let mut fed = 0;
            for piece in [
                &data[..1],
                &data[1..5000],
                &data[5000..5000],
                &data[5000..200_000],
            ] {
                g.feed_into(piece, &mut out);
                g.flush_into(&mut out);
                fed += piece.len();
                assert_eq!(inflate_prefix(&out), data[..fed], "level {level}, {fed} B fed");
            }
            g.feed_into(&data[200_000..], &mut out);
            g.finish_into(&mut out);
            assert_eq!(gunzip(&out), data, "level {level}");
        }
    }

    /// Random mixes of pieces, flushes and both modes around WHOLE_MAX: the
    /// result always decompresses to exactly what was fed, and after every
    /// flush the output so far decompresses to everything fed so far.
    #[test]
    fn random_feed_flush_sequences_round_trip() {
        let data = markup(2 * WHOLE_MAX);
        let mut x = 0x1234_5678u32;
        let mut rand = |n: u32| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x % n
        };
        for round in 0..24 {
            let level = [1, 2, 6][round % 3];
            let total = [0, 1, 5000, WHOLE_MAX, WHOLE_MAX + 1, 2 * WHOLE_MAX][rand(6) as usize];
            let mut g = match rand(3) {
                0 => Gzip::new(level),
                1 => Gzip::buffered(level, None),
                _ => Gzip::buffered(level, Some(total as u64)),
            };
            let mut out = Vec::new();
            let mut fed = 0;
            while fed < total {
                let n = (rand(40_000) as usize).min(total - fed);
                g.feed_into(&data[fed..fed + n], &mut out);
                fed += n;
                if rand(4) == 0 {
                    g.flush_into(&mut out);
                    assert_eq!(inflate_prefix(&out), data[..fed], "round {round}, level {level}");
                }
            }
            g.finish_into(&mut out);
            assert_eq!(
                gunzip(&out),
                data[..total],
                "round {round}, level {level}, {total} B"
            );
        }
    }

    #[test]
    fn whole_bodies_in_one_piece() {
        assert_eq!(
            (1..=9).map(whole_level).collect::<Vec<_>>(),
            [1, 1, 3, 4, 5, 6, 7, 8, 9]
        );
        let data: Vec<u8> = (0..100_000u32)
            .map(|i| b"abcdefgh"[(i * 7 % 8) as usize])
            .collect();
        for level in [1, 2, 9] {
            let mut out = b"x".to_vec();
            assert!(gzip_whole(level, &data, &mut out));
            assert_eq!(gunzip(&out[1..]), data);
            let mut empty = Vec::new();
            assert!(gzip_whole(level, b"", &mut empty));
            assert_eq!(gunzip(&empty), b"");
        }
        assert!(!gzip_whole(1, &vec![0u8; WHOLE_MAX + 1], &mut Vec::new()));
    }
}
