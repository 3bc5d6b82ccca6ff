//! Builds the gzip filter's C encoders: the vendored libdeflate compressor
//! (`vendor/libdeflate`, always) and, with the `isal` cargo feature only,
//! the shim over Intel's ISA-L (Debian: `libisal-dev`) for the level-1
//! encoder, about twice libdeflate's speed at a ratio better than zlib's
//! level 1. The default build links nothing but the C runtime, whatever the
//! build host has installed; `rampart -V` names the encoders built in.

/// The vendored libdeflate sources rampart compiles (the compressor only).
const LIBDEFLATE: [&str; 6] = [
    "lib/deflate_compress.c",
    "lib/gzip_compress.c",
    "lib/crc32.c",
    "lib/utils.c",
    "lib/x86/cpu_features.c",
    "lib/arm/cpu_features.c",
];

fn main() {
    build_libdeflate();
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_ISAL").is_some() {
        build_isal_shim();
    }
}

/// The `isal` feature: compiles `src/filters/isal_shim.c` against the
/// system's `<isa-l/igzip_lib.h>` (so `struct isal_zstream` is laid out by
/// the header of the library linked) and links `libisal.so.2`. Dynamic
/// because Debian's libisal-dev ships no static archive: such a binary needs
/// `libisal2` where it runs. Asked for explicitly, a missing ISA-L is an
/// error, not a silent fall-back.
fn build_isal_shim() {
    println!("cargo::rerun-if-changed=src/filters/isal_shim.c");
    let built = cc::Build::new()
        .file("src/filters/isal_shim.c")
        .opt_level(2)
        .warnings(true)
        .cargo_warnings(false)
        .try_compile("rampart_isal_shim");
    if let Err(e) = built {
        panic!(
            "the `isal` feature needs ISA-L's header and library (Debian: apt-get install \
             libisal-dev): {e}"
        );
    }
    println!("cargo::rustc-link-lib=dylib=isal");
}

/// Compiles `vendor/libdeflate` at -O2 whatever the profile: a debug build
/// of rampart still compresses at full speed (the tests gzip a lot).
///
/// One baseline build: a second copy compiled for x86-64-v3 (AVX2, BMI2,
/// ...) and picked at run time was 3.4–3.7 % faster over the timing corpus
/// at level 1 and under 1 % at level 6 (benches/README.md), short of the
/// 10 % that would pay for a second build and its dispatch. libdeflate
/// itself dispatches its checksums at run time.
fn build_libdeflate() {
    let dir = std::path::Path::new("vendor/libdeflate");
    println!("cargo::rerun-if-changed=vendor/libdeflate");
    let mut b = cc::Build::new();
    for f in LIBDEFLATE {
        b.file(dir.join(f));
    }
    b.include(dir)
        .opt_level(2)
        .warnings(false)
        .compile("rampart_libdeflate");
}
