//! ISA-L's igzip level 1 for whole bodies: the fastest deflate encoder
//! measured here (about twice libdeflate's level 1 and four times zlib's on
//! the bench's 100 KiB HTML page) at a ratio better than zlib's level 1, so
//! it is what `gzip_comp_level 1` runs for static files up to
//! [`super::gzip_encoder::WHOLE_MAX`] and for streamed bodies. Present only
//! in builds with the `isal` cargo feature (off by default: it links the
//! system's `libisal.so.2`); otherwise [`gzip_level1`] says no and the
//! caller uses libdeflate (whole bodies) or zlib-rs (streams).
//!
//! Why not at level 2 and up: igzip's levels 2 and 3 compress worse than
//! zlib's level 2 on some text (JSON, JavaScript), and the ratio must never
//! be worse than nginx's at the same level.

/// Whether this build has ISA-L (for `rampart -V`).
pub const AVAILABLE: bool = cfg!(feature = "isal");

/// Appends one gzip member of `data` (nginx's header, igzip level-1 deflate,
/// CRC-32 and ISIZE trailer) to `out`. False, with `out` unchanged, when
/// this build has no ISA-L or igzip could not compress.
pub fn gzip_level1(data: &[u8], out: &mut Vec<u8>) -> bool {
    imp::gzip_level1(data, out)
}

/// A level-1 gzip body without header (igzip writes the CRC-32/ISIZE
/// trailer at the end), fed piece by piece: proxied responses and files
/// over the whole-body size at `gzip_comp_level 1`. Its state (~82 KiB
/// stream + ~148 KiB work buffer, about zlib-rs's size) is reused per
/// thread like the zlib states of `gzip_encoder`.
pub struct Stream(imp::Stream);

impl Stream {
    /// A fresh stream, or None when this build has no ISA-L.
    pub fn new() -> Option<Stream> {
        imp::Stream::new().map(Stream)
    }

    /// Compresses `data`, appending what igzip emits to `out`. False on an
    /// igzip error (the response is then cut short, as a zlib error is).
    pub fn feed_into(&mut self, data: &[u8], out: &mut Vec<u8>) -> bool {
        self.0.step(data, Step::Feed, out)
    }

    /// Sync flush: everything fed so far comes out, byte-aligned.
    pub fn flush_into(&mut self, out: &mut Vec<u8>) -> bool {
        self.0.step(&[], Step::Sync, out)
    }

    /// Ends the stream: the rest of the deflate data and the trailer.
    pub fn finish_into(&mut self, out: &mut Vec<u8>) -> bool {
        self.0.step(&[], Step::End, out)
    }
}

/// What a call into igzip asks for besides compressing its input.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    Feed,
    Sync,
    End,
}

#[cfg(not(feature = "isal"))]
mod imp {
    pub fn gzip_level1(_data: &[u8], _out: &mut Vec<u8>) -> bool {
        false
    }

    /// Never made: `new` says there is no ISA-L.
    pub struct Stream;

    impl Stream {
        pub fn new() -> Option<Stream> {
            None
        }

        pub fn step(&mut self, _data: &[u8], _step: super::Step, _out: &mut Vec<u8>) -> bool {
            false
        }
    }
}

#[cfg(feature = "isal")]
mod imp {
    use super::Step;
    use crate::filters::gzip_encoder::HEADER;
    use std::cell::RefCell;

    extern "C" {
        fn rampart_isal_stream_size() -> usize;
        fn rampart_isal_level_buf_size() -> usize;
        fn rampart_isal_stream_level_buf_size() -> usize;
        fn rampart_isal_stream_init(stream: *mut u8, level_buf: *mut u8, level_buf_size: u32);
        #[allow(clippy::too_many_arguments)]
        fn rampart_isal_stream_deflate(
            stream: *mut u8,
            input: *const u8,
            in_len: u32,
            out: *mut u8,
            out_cap: u32,
            end: libc::c_int,
            sync: libc::c_int,
            used: *mut u32,
            written: *mut u32,
            done: *mut libc::c_int,
        ) -> libc::c_int;
        fn rampart_isal_gzip_body(
            stream: *mut u8,
            level_buf: *mut u8,
            level_buf_size: u32,
            input: *const u8,
            in_len: u32,
            out: *mut u8,
            out_cap: u32,
        ) -> usize;
    }

    /// One thread's igzip state and work buffer, allocated at its first
    /// gzip response and reused: igzip needs no reset between calls
    /// (the stateless init rewrites what it uses).
    struct State {
        /// `struct isal_zstream`, as u64s for its 8-byte alignment.
        stream: Vec<u64>,
        level_buf: Vec<u8>,
    }

    impl State {
        /// A zeroed stream state and a work buffer of `level_buf` bytes.
        fn new(level_buf: usize) -> State {
            // SAFETY: a plain size query without arguments.
            let words = unsafe { rampart_isal_stream_size() }.div_ceil(8);
            State {
                stream: vec![0u64; words],
                level_buf: vec![0u8; level_buf],
            }
        }
    }

    thread_local! {
        static STATE: RefCell<Option<State>> = const { RefCell::new(None) };
        /// Idle stream states of this thread (see `Stream`).
        static STREAMS: RefCell<Vec<State>> = const { RefCell::new(Vec::new()) };
    }

    /// Idle stream states kept per thread, as gzip_encoder's CACHE_PER_THREAD.
    const STREAMS_PER_THREAD: usize = 4;

    pub struct Stream {
        st: Option<State>,
        done: bool,
    }

    impl Stream {
        pub fn new() -> Option<Stream> {
            let reused = STREAMS.with(|c| c.try_borrow_mut().ok()?.pop());
            // SAFETY: a plain size query without arguments.
            let mut st =
                reused.unwrap_or_else(|| State::new(unsafe { rampart_isal_stream_level_buf_size() }));
            let lb_len = u32::try_from(st.level_buf.len()).ok()?;
            // SAFETY: `stream` is at least sizeof(struct isal_zstream)
            // bytes, 8-aligned; `level_buf` is `lb_len` bytes and outlives
            // the stream (both live in `st`, moved only as a whole: the
            // Vecs' heap buffers do not move).
            unsafe {
                rampart_isal_stream_init(st.stream.as_mut_ptr().cast(), st.level_buf.as_mut_ptr(), lb_len)
            };
            Some(Stream {
                st: Some(st),
                done: false,
            })
        }

        /// Runs igzip until `data` is used up (and, with `Step::Sync`, until
        /// the flush is complete; with `Step::End`, until the stream has
        /// ended), growing `out` as it fills.
        pub fn step(&mut self, mut data: &[u8], step: Step, out: &mut Vec<u8>) -> bool {
            let Some(st) = self.st.as_mut() else {
                return false;
            };
            let end = step == Step::End;
            // A sync flush takes at least one call, even without input.
            let mut flushed = step != Step::Sync;
            loop {
                if self.done || (data.is_empty() && !end && flushed) {
                    return true;
                }
                out.reserve(data.len() / 2 + 4096);
                let spare = out.capacity() - out.len();
                let chunk = data.len().min(1 << 30);
                let (Ok(in_len), Ok(cap)) = (u32::try_from(chunk), u32::try_from(spare.min(1 << 30))) else {
                    return false;
                };
                let (mut used, mut written, mut done) = (0u32, 0u32, 0 as libc::c_int);
                // SAFETY: the state was initialised by `new`; `data` has
                // `in_len` readable bytes; `out`'s spare capacity has `cap`
                // writable bytes, of which igzip reports how many it wrote.
                let r = unsafe {
                    rampart_isal_stream_deflate(
                        st.stream.as_mut_ptr().cast(),
                        data.as_ptr(),
                        in_len,
                        out.as_mut_ptr().add(out.len()),
                        cap,
                        libc::c_int::from(end && chunk == data.len()),
                        libc::c_int::from(step == Step::Sync),
                        &mut used,
                        &mut written,
                        &mut done,
                    )
                };
                let (used, written) = (used as usize, written as usize);
                if r != 0 || used > chunk || written > spare {
                    return false;
                }
                // SAFETY: igzip initialised `written <= spare` bytes.
                unsafe { out.set_len(out.len() + written) };
                data = data.get(used..).unwrap_or_default();
                self.done = done != 0;
                // igzip: the flush is complete once a call leaves output room.
                flushed = flushed || (data.is_empty() && written < cap as usize);
                if used == 0 && written == 0 && !self.done {
                    // A flush with nothing left to write is complete (the
                    // previous call filled the room exactly); any other call
                    // without progress would loop forever.
                    return step == Step::Sync && data.is_empty();
                }
            }
        }
    }

    impl Drop for Stream {
        /// The state goes back to this thread's cache; `new` re-initialises it.
        fn drop(&mut self) {
            let Some(st) = self.st.take() else { return };
            STREAMS.with(|c| {
                if let Ok(mut c) = c.try_borrow_mut() {
                    if c.len() < STREAMS_PER_THREAD {
                        c.push(st);
                    }
                }
            });
        }
    }

    pub fn gzip_level1(data: &[u8], out: &mut Vec<u8>) -> bool {
        let Ok(in_len) = u32::try_from(data.len()) else {
            return false;
        };
        // Deflate's worst case (stored blocks) plus igzip's block headers
        // and the trailer; igzip reports overflow rather than overrun.
        let cap = data.len() + data.len() / 16 + 1024;
        let Ok(cap32) = u32::try_from(cap) else {
            return false;
        };
        STATE.with(|st| {
            let Ok(mut st) = st.try_borrow_mut() else {
                return false;
            };
            // SAFETY: a plain size query without arguments.
            let st = st.get_or_insert_with(|| State::new(unsafe { rampart_isal_level_buf_size() }));
            let Ok(lb_len) = u32::try_from(st.level_buf.len()) else {
                return false;
            };
            let start = out.len();
            out.extend_from_slice(&HEADER);
            out.reserve(cap);
            let body_at = out.len();
            // SAFETY: `stream` is at least sizeof(struct isal_zstream)
            // bytes, 8-aligned; `level_buf` is `lb_len` bytes; `data` is
            // `in_len` readable bytes; the spare capacity of `out` holds
            // `cap` bytes and igzip writes at most `out_cap` of them,
            // returning how many (0 on failure).
            let n = unsafe {
                rampart_isal_gzip_body(
                    st.stream.as_mut_ptr().cast(),
                    st.level_buf.as_mut_ptr(),
                    lb_len,
                    data.as_ptr(),
                    in_len,
                    out.as_mut_ptr().add(body_at),
                    cap32,
                )
            };
            if n == 0 || n > cap {
                out.truncate(start);
                return false;
            }
            // SAFETY: igzip initialised the first `n <= cap` spare bytes.
            unsafe { out.set_len(body_at + n) };
            true
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gunzip(z: &[u8]) -> Vec<u8> {
        let mut d = flate2::read::GzDecoder::new(z);
        let mut v = Vec::new();
        d.read_to_end(&mut v).expect("valid gzip");
        v
    }

    /// Round trips over the shapes that stress an encoder: empty, one
    /// byte, incompressible, long runs, text, and the largest whole body.
    #[test]
    fn level1_round_trips_when_built_in() {
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut noise = vec![0u8; 128 * 1024];
        for b in &mut noise {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            *b = rng as u8;
        }
        let text: Vec<u8> = (0..6000)
            .flat_map(|i| format!("<p class=\"c{}\">word{} text</p>\n", i % 50, i * 7 % 997).into_bytes())
            .take(128 * 1024)
            .collect();
        let cases: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"a".to_vec(),
            noise.clone(),
            noise[..1000].to_vec(),
            vec![b'x'; 128 * 1024],
            text.clone(),
            text[..777].to_vec(),
        ];
        for c in &cases {
            let mut out = b"prefix".to_vec();
            let ok = gzip_level1(c, &mut out);
            assert_eq!(ok, AVAILABLE, "len {}", c.len());
            if ok {
                assert_eq!(&out[..6], b"prefix");
                assert_eq!(&out[6..16], &crate::filters::gzip_encoder::HEADER);
                assert_eq!(gunzip(&out[6..]), *c, "len {}", c.len());
            } else {
                assert_eq!(out, b"prefix");
            }
        }
    }

    /// Streams of every shape round-trip: pieces of 1 byte, of 7000, one
    /// piece, empty feeds, incompressible data larger than the output
    /// reserve, nothing at all; a reused state starts clean.
    #[test]
    fn streams_round_trip_when_built_in() {
        let have = Stream::new().is_some();
        assert_eq!(have, AVAILABLE, "a stream exactly when ISA-L is built in");
        if !have {
            return;
        }
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let noise: Vec<u8> = (0..300_000)
            .map(|_| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng as u8
            })
            .collect();
        let text: Vec<u8> = (0..20_000)
            .flat_map(|i| format!("<li id=\"n{}\">item {}</li>\n", i % 300, i * 13 % 1009).into_bytes())
            .collect();
        for (data, piece) in [
            (&text[..], 1usize),
            (&text[..], 7000),
            (&text[..], text.len()),
            (&noise[..], 65536),
            (&b""[..], 1),
        ] {
            let data = if piece == 1 {
                &data[..data.len().min(5000)]
            } else {
                data
            };
            let mut s = Stream::new().expect("built in");
            let mut out = crate::filters::gzip_encoder::HEADER.to_vec();
            for p in data.chunks(piece) {
                assert!(s.feed_into(p, &mut out));
                assert!(s.feed_into(&[], &mut out));
            }
            assert!(s.finish_into(&mut out));
            assert_eq!(gunzip(&out), data, "piece {piece}, len {}", data.len());
        }
    }

    /// ISA-L's gain at `gzip_comp_level 1`: what a build with the `isal`
    /// feature runs against what the default build runs, on the timing
    /// corpus. Whole bodies (up to 128 KiB: static files, held proxied
    /// bodies): igzip against libdeflate level 1. Streams (larger files,
    /// proxied bodies that outgrow 128 KiB; fed in 64 KiB pieces): igzip
    /// against zlib-rs level 2. Optimised, as zlib-rs is Rust: `cargo test
    /// --release --features isal --lib isal_gain_timing -- --ignored
    /// --nocapture` (ROUNDS=n to change the 51 rounds).
    #[cfg(feature = "isal")]
    #[test]
    #[ignore]
    fn isal_gain_timing() {
        use crate::filters::gzip_encoder::{gzip_whole, Gzip};
        use crate::filters::timing::{compare, corpus, Variant};
        let rounds = std::env::var("ROUNDS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(51);
        let corpus = corpus();
        let mut out = Vec::with_capacity(256 * 1024);
        let mut out2 = Vec::with_capacity(256 * 1024);
        let mut whole: [Variant; 2] = [
            (
                "libdeflate 1",
                Box::new(|d: &[u8]| {
                    out.clear();
                    // gzip_comp_level 2 runs libdeflate 1, as level 1 does without ISA-L.
                    assert!(gzip_whole(2, d, &mut out));
                    out.len()
                }),
            ),
            (
                "igzip 1",
                Box::new(|d: &[u8]| {
                    out2.clear();
                    assert!(gzip_level1(d, &mut out2));
                    out2.len()
                }),
            ),
        ];
        compare("whole bodies, gzip_comp_level 1", &corpus, &mut whole, rounds);
        drop(whole);
        let stream = |level: u32| {
            let mut out = Vec::with_capacity(256 * 1024);
            Box::new(move |d: &[u8]| {
                out.clear();
                // Level 2 streams on zlib-rs 2, as level 1 does without ISA-L.
                let mut g = Gzip::new(level);
                for piece in d.chunks(64 * 1024) {
                    g.feed_into(piece, &mut out);
                }
                g.finish_into(&mut out);
                out.len()
            }) as Box<dyn FnMut(&[u8]) -> usize>
        };
        let mut streams: [Variant; 2] = [("zlib-rs 2", stream(2)), ("igzip 1", stream(1))];
        compare("streams, gzip_comp_level 1", &corpus, &mut streams, rounds);
    }
}
