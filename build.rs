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

/// The functions of `deflate_compress.c` and `gzip_compress.c`, renamed in
/// the x86-64-v3 copy (see `build_libdeflate`).
const LIBDEFLATE_V3_RENAMED: [&str; 8] = [
    "libdeflate_alloc_compressor",
    "libdeflate_alloc_compressor_ex",
    "libdeflate_deflate_compress",
    "libdeflate_deflate_compress_bound",
    "libdeflate_free_compressor",
    "libdeflate_get_compression_level",
    "libdeflate_gzip_compress",
    "libdeflate_gzip_compress_bound",
];

/// Compiles `vendor/libdeflate` at -O2 whatever the profile: a debug build
/// of rampart still compresses at full speed (the tests gzip a lot).
///
/// On x86-64 the compressor is compiled a second time for x86-64-v3 (AVX2,
/// BMI2, ...), its functions renamed `rampart_v3_*`; src/filters/libdeflate.rs
/// picks that copy at run time when the CPU has those features. It is ~5 %
/// faster (level 1 on the bench page); libdeflate itself only dispatches its
/// checksums and decompressor at run time.
fn build_libdeflate() {
    let dir = std::path::Path::new("vendor/libdeflate");
    println!("cargo::rerun-if-changed=vendor/libdeflate");
    println!("cargo::rustc-check-cfg=cfg(rampart_deflate_v3)");
    let mut b = cc::Build::new();
    for f in LIBDEFLATE {
        b.file(dir.join(f));
    }
    b.include(dir)
        .opt_level(2)
        .warnings(false)
        .compile("rampart_libdeflate");

    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() != Ok("x86_64") {
        return;
    }
    let mut v3 = cc::Build::new();
    v3.file(dir.join("lib/deflate_compress.c"))
        .file(dir.join("lib/gzip_compress.c"))
        .include(dir)
        .opt_level(2)
        .warnings(false);
    if !v3.is_flag_supported("-march=x86-64-v3").unwrap_or(false) {
        println!("cargo::warning=the C compiler lacks -march=x86-64-v3: gzip uses the baseline build only");
        return;
    }
    v3.flag("-march=x86-64-v3");
    for name in LIBDEFLATE_V3_RENAMED {
        let renamed = name.replacen("libdeflate_", "rampart_v3_", 1);
        v3.define(name, Some(renamed.as_str()));
    }
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("v3");
    v3.out_dir(out).compile("rampart_libdeflate_v3");
    println!("cargo::rustc-cfg=rampart_deflate_v3");
}
