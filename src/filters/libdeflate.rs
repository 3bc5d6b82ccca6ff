//! The vendored libdeflate compressor (`vendor/libdeflate`, built by
//! build.rs): whole gzip members in one call. Vendored rather than taken
//! from crates.io because rampart patches its level-1 match finder (see
//! `vendor/libdeflate/README.rampart.md`).

use std::ffi::{c_int, c_void};
use std::ptr::NonNull;
use std::sync::OnceLock;

type Alloc = unsafe extern "C" fn(c_int) -> *mut c_void;
type Free = unsafe extern "C" fn(*mut c_void);
type Compress = unsafe extern "C" fn(*mut c_void, *const c_void, usize, *mut c_void, usize) -> usize;
type Bound = unsafe extern "C" fn(*mut c_void, usize) -> usize;

/// Declares one build's four entry points (the same C functions, renamed
/// in the x86-64-v3 copy).
macro_rules! entry_points {
    ($alloc:ident, $free:ident, $compress:ident, $bound:ident) => {
        extern "C" {
            fn $alloc(level: c_int) -> *mut c_void;
            fn $free(c: *mut c_void);
            fn $compress(
                c: *mut c_void,
                input: *const c_void,
                in_nbytes: usize,
                out: *mut c_void,
                out_nbytes_avail: usize,
            ) -> usize;
            fn $bound(c: *mut c_void, in_nbytes: usize) -> usize;
        }
    };
}

entry_points!(
    libdeflate_alloc_compressor,
    libdeflate_free_compressor,
    libdeflate_gzip_compress,
    libdeflate_gzip_compress_bound
);

#[cfg(rampart_deflate_v3)]
entry_points!(
    rampart_v3_alloc_compressor,
    rampart_v3_free_compressor,
    rampart_v3_gzip_compress,
    rampart_v3_gzip_compress_bound
);

/// One build of the compressor: its entry points.
pub struct Build {
    pub name: &'static str,
    alloc: Alloc,
    free: Free,
    compress: Compress,
    bound: Bound,
}

static BASELINE: Build = Build {
    name: "baseline",
    alloc: libdeflate_alloc_compressor,
    free: libdeflate_free_compressor,
    compress: libdeflate_gzip_compress,
    bound: libdeflate_gzip_compress_bound,
};

#[cfg(rampart_deflate_v3)]
static V3: Build = Build {
    name: "x86-64-v3",
    alloc: rampart_v3_alloc_compressor,
    free: rampart_v3_free_compressor,
    compress: rampart_v3_gzip_compress,
    bound: rampart_v3_gzip_compress_bound,
};

/// The build this CPU runs: the x86-64-v3 one when it has every feature
/// that level implies (the compiler may use any of them), else baseline.
pub fn build() -> &'static Build {
    static CHOSEN: OnceLock<&'static Build> = OnceLock::new();
    CHOSEN.get_or_init(|| {
        #[cfg(rampart_deflate_v3)]
        if std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("bmi1")
            && std::is_x86_feature_detected!("bmi2")
            && std::is_x86_feature_detected!("fma")
            && std::is_x86_feature_detected!("lzcnt")
            && std::is_x86_feature_detected!("movbe")
            && std::is_x86_feature_detected!("f16c")
        {
            return &V3;
        }
        &BASELINE
    })
}

/// One libdeflate compressor of a fixed level (its match-finder tables:
/// ~100–800 KiB depending on the level). Used by one thread at a time.
pub struct Compressor {
    c: NonNull<c_void>,
    /// The build that allocated it, and that alone uses and frees it.
    build: &'static Build,
}

// SAFETY: a libdeflate compressor has no thread affinity; `&mut self` on
// every call keeps it to one user at a time.
unsafe impl Send for Compressor {}

impl Compressor {
    /// A compressor for libdeflate `level` (0–12); None for another level
    /// or when the allocation fails.
    pub fn new(level: i32) -> Option<Compressor> {
        Compressor::of(build(), level)
    }

    fn of(build: &'static Build, level: i32) -> Option<Compressor> {
        if !(0..=12).contains(&level) {
            return None;
        }
        // SAFETY: plain allocation; null means failure.
        let c = NonNull::new(unsafe { (build.alloc)(level) })?;
        Some(Compressor { c, build })
    }

    /// The most bytes a gzip member of `len` input bytes can take.
    pub fn gzip_bound(&mut self, len: usize) -> usize {
        // SAFETY: self.c is a live compressor of this build.
        unsafe { (self.build.bound)(self.c.as_ptr(), len) }
    }

    /// Compresses `data` into one gzip member at the start of `out` and
    /// returns its length; None when it does not fit in `out`.
    pub fn gzip(&mut self, data: &[u8], out: &mut [u8]) -> Option<usize> {
        // SAFETY: both slices are valid for their lengths; libdeflate
        // writes at most out.len() bytes and reads data.len().
        let n = unsafe {
            (self.build.compress)(
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
        // SAFETY: allocated by this build's alloc, freed once.
        unsafe { (self.build.free)(self.c.as_ptr()) }
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
        for (build, level) in builds().into_iter().flat_map(|b| (0..=12).map(move |l| (b, l))) {
            let mut c = Compressor::of(build, level).unwrap();
            for data in [&b""[..], b"a", &text, &noise] {
                let mut out = vec![0; c.gzip_bound(data.len())];
                let n = c.gzip(data, &mut out).unwrap();
                assert_eq!(
                    gunzip(&out[..n]),
                    data,
                    "{} level {level}, {} bytes",
                    build.name,
                    data.len()
                );
            }
        }
        assert!(Compressor::new(13).is_none() && Compressor::new(-2).is_none());
    }

    /// Every build this binary holds that this CPU can run.
    fn builds() -> Vec<&'static Build> {
        let mut v = vec![&BASELINE];
        if !std::ptr::eq(build(), &BASELINE) {
            v.push(build());
        }
        v
    }

    #[test]
    fn the_builds_write_the_same_bytes() {
        let text: Vec<u8> = (0..20_000u32)
            .flat_map(|i| format!("{{\"k{}\":{}}},", i % 300, i * 31 % 7919).into_bytes())
            .collect();
        for level in [1, 2, 6, 9, 12] {
            let outs: Vec<Vec<u8>> = builds()
                .into_iter()
                .map(|b| {
                    let mut c = Compressor::of(b, level).unwrap();
                    let mut out = vec![0; c.gzip_bound(text.len())];
                    let n = c.gzip(&text, &mut out).unwrap();
                    out.truncate(n);
                    out
                })
                .collect();
            assert!(outs.windows(2).all(|w| w[0] == w[1]), "level {level}");
        }
    }

    #[test]
    fn too_small_an_output_is_refused() {
        let mut c = Compressor::new(1).unwrap();
        let data = vec![b'x'; 10_000];
        let mut out = vec![0; 10];
        assert_eq!(c.gzip(&data, &mut out), None);
    }

    /// Does the x86-64-v3 copy earn its keep? Both builds on the timing
    /// corpus at libdeflate levels 1 (rampart's `gzip_comp_level` 1 and 2)
    /// and 6: `cargo test --lib v3_against_baseline_timing -- --ignored
    /// --nocapture` (the C is compiled at -O2 in every profile, so a debug
    /// build measures it; ROUNDS=n to change the 101 rounds).
    #[test]
    #[ignore]
    fn v3_against_baseline_timing() {
        let v3 = build();
        assert!(
            !std::ptr::eq(v3, &BASELINE),
            "this CPU runs the baseline build only"
        );
        let rounds = std::env::var("ROUNDS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(101);
        let corpus = crate::filters::timing::corpus();
        for level in [1, 6] {
            let mut variants = [("baseline", &BASELINE), ("x86-64-v3", v3)].map(|(name, b)| {
                let mut c = Compressor::of(b, level).unwrap();
                let mut out = vec![0u8; 512 * 1024];
                let v: crate::filters::timing::Variant =
                    (name, Box::new(move |d: &[u8]| c.gzip(d, &mut out).unwrap()));
                v
            });
            crate::filters::timing::compare(
                &format!("libdeflate level {level}"),
                &corpus,
                &mut variants,
                rounds,
            );
        }
    }
}
