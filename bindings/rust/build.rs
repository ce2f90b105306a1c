//! Links libmmgen (the shared library, `-lmmgen`).
//!
//! Where it looks, in order:
//! 1. `$MMGEN_LIB_DIR`, a directory holding `libmmgen.so` (a build tree's
//!    `build/lib`, or an install's `<prefix>/lib`);
//! 2. the install directories `cmake --install` uses that the system linker
//!    does not search by itself: `/usr/local/lib`, `/usr/local/lib64` and
//!    `/usr/local/lib/<multiarch>`;
//! 3. the linker's own default directories (`/usr/lib`, `/usr/lib/<multiarch>`).
//!
//! No pkg-config and no rpath: at run time the dynamic linker finds
//! `libmmgen.so.1` as for any program (ldconfig's cache, or `LD_LIBRARY_PATH`
//! for a build tree). Crates depending on this one read the directory used as
//! `DEP_MMGEN_LIB_DIR` (empty when the linker's defaults were relied on).
use std::env;
use std::path::{Path, PathBuf};

fn has_lib(dir: &Path) -> bool {
    dir.join("libmmgen.so").exists()
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=MMGEN_LIB_DIR");

    let mut found: Option<PathBuf> = None;
    if let Some(dir) = env::var_os("MMGEN_LIB_DIR").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        if !has_lib(&dir) {
            println!("cargo:warning=MMGEN_LIB_DIR={} holds no libmmgen.so; linking may fail", dir.display());
        }
        found = Some(dir);
    } else {
        let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
        let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
        let env_abi = env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
        let multiarch = format!("/usr/local/lib/{}-{}-{}", arch, os, env_abi);
        for dir in ["/usr/local/lib", "/usr/local/lib64", multiarch.as_str()] {
            let dir = Path::new(dir);
            if has_lib(dir) {
                found = Some(dir.to_path_buf());
                break;
            }
        }
    }
    match &found {
        Some(dir) => {
            println!("cargo:rustc-link-search=native={}", dir.display());
            println!("cargo:lib_dir={}", dir.display());
        }
        None => println!("cargo:lib_dir="),
    }
    println!("cargo:rustc-link-lib=dylib=mmgen");
}
