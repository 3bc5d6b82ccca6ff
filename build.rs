//! Builds the gzip filter's C encoders: the vendored libdeflate compressor
//! (`vendor/libdeflate`, always) and the shim over Intel's ISA-L (Debian:
//! `libisal-dev`) for the level-1 encoder, about twice libdeflate's speed at
//! a ratio better than zlib's level 1. Without ISA-L rampart still builds and
//! gzips with libdeflate; `rampart -V` says which. `RAMPART_NO_ISAL=1` builds
//! without it on purpose.

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
    println!("cargo::rustc-check-cfg=cfg(rampart_isal)");
    println!("cargo::rerun-if-changed=src/filters/isal_shim.c");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=RAMPART_NO_ISAL");
    if std::env::var_os("RAMPART_NO_ISAL").is_some_and(|v| v != "0") {
        return;
    }
    let built = cc::Build::new()
        .file("src/filters/isal_shim.c")
        .opt_level(2)
        .warnings(true)
        .cargo_warnings(false)
        .try_compile("rampart_isal_shim");
    match built {
        Ok(()) => {
            println!("cargo::rustc-link-lib=dylib=isal");
            println!("cargo::rustc-cfg=rampart_isal");
        }
        Err(_) => println!(
            "cargo::warning=ISA-L not found (apt-get install libisal-dev): gzip level 1 \
             will use libdeflate, about half as fast"
        ),
    }
}

/// Compiles `vendor/libdeflate` at -O2 whatever the profile: a debug build
/// of rampart still compresses at full speed (the tests gzip a lot).
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
