//! The vendored libdeflate compressor (`vendor/libdeflate`, built by
//! build.rs): whole gzip members in one call. Vendored rather than taken
//! from crates.io because rampart patches its level-1 match finder (see
//! `vendor/libdeflate/README.rampart.md`).

use std::ffi::{c_int, c_void};
use std::ptr::NonNull;

extern "C" {
    fn libdeflate_alloc_compressor(level: c_int) -> *mut c_void;
    fn libdeflate_free_compressor(c: *mut c_void);
    fn libdeflate_gzip_compress(
        c: *mut c_void,
        input: *const c_void,
        in_nbytes: usize,
        out: *mut c_void,
        out_nbytes_avail: usize,
    ) -> usize;
    fn libdeflate_gzip_compress_bound(c: *mut c_void, in_nbytes: usize) -> usize;
}

/// One libdeflate compressor of a fixed level (its match-finder tables:
/// ~100–800 KiB depending on the level). Used by one thread at a time.
pub struct Compressor {
    c: NonNull<c_void>,
}

// SAFETY: a libdeflate compressor has no thread affinity; `&mut self` on
// every call keeps it to one user at a time.
unsafe impl Send for Compressor {}

impl Compressor {
    /// A compressor for libdeflate `level` (0–12); None for another level
    /// or when the allocation fails.
    pub fn new(level: i32) -> Option<Compressor> {
        if !(0..=12).contains(&level) {
            return None;
        }
        // SAFETY: plain allocation; null means failure.
        let c = NonNull::new(unsafe { libdeflate_alloc_compressor(level) })?;
        Some(Compressor { c })
    }

    /// The most bytes a gzip member of `len` input bytes can take.
    pub fn gzip_bound(&mut self, len: usize) -> usize {
        // SAFETY: self.c is a live compressor.
        unsafe { libdeflate_gzip_compress_bound(self.c.as_ptr(), len) }
    }

    /// Compresses `data` into one gzip member at the start of `out` and
    /// returns its length; None when it does not fit in `out`.
    pub fn gzip(&mut self, data: &[u8], out: &mut [u8]) -> Option<usize> {
        // SAFETY: both slices are valid for their lengths; libdeflate
        // writes at most out.len() bytes and reads data.len().
        let n = unsafe {
            libdeflate_gzip_compress(
                self.c.as_ptr(),
                data.as_ptr().cast(),
                data.len(),
                out.as_mut_ptr().cast(),
                out.len(),
            )
        };
        (n != 0).then_some(n)
    }
}

impl Drop for Compressor {
    fn drop(&mut self) {
        // SAFETY: allocated by libdeflate_alloc_compressor, freed once.
        unsafe { libdeflate_free_compressor(self.c.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gunzip(z: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(z).read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn round_trips_at_every_level() {
        let text: Vec<u8> = (0..40_000u32)
            .flat_map(|i| {
                format!(
                    "<p class=\"c{}\">word{} {}</p>\n",
                    i % 50,
                    i % 997,
                    i * 7919 % 100_000
                )
                .into_bytes()
            })
            .take(150_000)
            .collect();
        let noise: Vec<u8> = (0..70_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for level in 0..=12 {
            let mut c = Compressor::new(level).unwrap();
            for data in [&b""[..], b"a", &text, &noise] {
                let mut out = vec![0; c.gzip_bound(data.len())];
                let n = c.gzip(data, &mut out).unwrap();
                assert_eq!(gunzip(&out[..n]), data, "level {level}, {} bytes", data.len());
            }
        }
        assert!(Compressor::new(13).is_none() && Compressor::new(-2).is_none());
    }

    #[test]
    fn too_small_an_output_is_refused() {
        let mut c = Compressor::new(1).unwrap();
        let data = vec![b'x'; 10_000];
        let mut out = vec![0; 10];
        assert_eq!(c.gzip(&data, &mut out), None);
    }
}
