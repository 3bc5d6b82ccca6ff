//! Finds Intel's ISA-L (Debian: `libisal-dev`) for the gzip filter's level-1
//! encoder, about twice libdeflate's speed at a ratio better than zlib's
//! level 1. Without it rampart still builds and gzips with libdeflate;
//! `rampart -V` says which. `RAMPART_NO_ISAL=1` builds without it on purpose.

fn main() {
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
