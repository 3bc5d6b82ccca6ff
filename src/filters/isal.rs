//! ISA-L's igzip level 1 for whole bodies: the fastest deflate encoder
//! measured here (about twice libdeflate's level 1 and four times zlib's on
//! the bench's 100 KiB HTML page) at a ratio better than zlib's level 1, so
//! it is what `gzip_comp_level 1` runs for static files up to
//! [`super::gzip_encoder::WHOLE_MAX`]. Present only when build.rs found the
//! library (`cfg(rampart_isal)`); otherwise [`gzip_level1`] says no and the
//! caller uses libdeflate.
//!
//! Why not at level 2 and up: igzip's levels 2 and 3 compress worse than
//! zlib's level 2 on some text (JSON, JavaScript), and the ratio must never
//! be worse than nginx's at the same level.

/// Whether this build has ISA-L (for `rampart -V`).
pub const AVAILABLE: bool = cfg!(rampart_isal);

/// Appends one gzip member of `data` (nginx's header, igzip level-1 deflate,
/// CRC-32 and ISIZE trailer) to `out`. False, with `out` unchanged, when
/// this build has no ISA-L or igzip could not compress.
pub fn gzip_level1(data: &[u8], out: &mut Vec<u8>) -> bool {
    imp::gzip_level1(data, out)
}

#[cfg(not(rampart_isal))]
mod imp {
    pub fn gzip_level1(_data: &[u8], _out: &mut Vec<u8>) -> bool {
        false
    }
}

#[cfg(rampart_isal)]
mod imp {
    use crate::filters::gzip_encoder::HEADER;
    use std::cell::RefCell;

    extern "C" {
        fn rampart_isal_stream_size() -> usize;
        fn rampart_isal_level_buf_size() -> usize;
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

    thread_local! {
        static STATE: RefCell<Option<State>> = const { RefCell::new(None) };
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
            let st = st.get_or_insert_with(|| {
                // SAFETY: plain size queries without arguments.
                let (words, lb) = unsafe {
                    (
                        rampart_isal_stream_size().div_ceil(8),
                        rampart_isal_level_buf_size(),
                    )
                };
                State {
                    stream: vec![0u64; words],
                    level_buf: vec![0u8; lb],
                }
            });
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
}
