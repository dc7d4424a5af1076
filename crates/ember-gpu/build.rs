//! Build script for ember-gpu.
//!
//! 1. Flattens every `kernels/*.cu` (textually inlining the repo's own `#include "..."` headers once
//!    each) into `$OUT_DIR/kernels/<module>.cu`, and writes `$OUT_DIR/kernel_sources.rs`, the table
//!    of embedded sources that NVRTC compiles at run time on a CUDA device.
//! 2. With the `sim` feature, compiles the same `.cu` files for the host with the C++ compiler
//!    (through `kernels/sim/emu.h`) into a static library, and writes `$OUT_DIR/sim_kernels.rs`:
//!    a sorted `(module, name) -> entry point` table of every kernel exported with `EMBER_SIM_EXPORT`.
//! 3. Writes `$OUT_DIR/abi.rs`: every `#define EMBER_ABI_<NAME> <integer>` of `kernels/abi.cuh` as
//!    `pub const <NAME>: u32`, so op codes, error bits and limits are written once for both sides.
use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let kernels = manifest.join("../../kernels");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    println!("cargo:rerun-if-changed={}", kernels.display());
    println!("cargo::rustc-check-cfg=cfg(ember_sim_tsan)");

    let mut cu_files: Vec<PathBuf> = std::fs::read_dir(&kernels)
        .expect("kernels/ directory next to the workspace root")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cu"))
        .collect();
    cu_files.sort();

    let flat_dir = out.join("kernels");
    std::fs::create_dir_all(&flat_dir).unwrap();
    let mut table = String::from(
        "/// `(module, flattened CUDA source)` for every `kernels/*.cu`.\npub const MODULES: &[(&str, &str)] = &[\n",
    );
    for cu in &cu_files {
        let stem = cu.file_stem().unwrap().to_str().unwrap().to_string();
        let mut seen = HashSet::new();
        let flat = flatten(cu, &mut seen);
        let dst = flat_dir.join(format!("{stem}.cu"));
        std::fs::write(&dst, flat).unwrap();
        writeln!(table, "    ({stem:?}, include_str!({:?})),", dst.display().to_string()).unwrap();
    }
    table.push_str("];\n");
    std::fs::write(out.join("kernel_sources.rs"), table).unwrap();
    write_abi(&kernels.join("abi.cuh"), &out.join("abi.rs"));

    if std::env::var_os("CARGO_FEATURE_SIM").is_some() {
        build_sim(&kernels, &cu_files, &out);
    }
}

/// `#define EMBER_ABI_X 12` -> `pub const X: u32 = 12;` (with the comment line above it as the doc).
fn write_abi(header: &Path, dst: &Path) {
    let text = std::fs::read_to_string(header).unwrap_or_else(|e| panic!("{}: {e}", header.display()));
    let mut rs = String::new();
    let mut doc = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        if let Some(c) = t.strip_prefix("//") {
            doc.push(c.trim().to_string());
            continue;
        }
        if let Some(rest) = t.strip_prefix("#define EMBER_ABI_") {
            let mut parts = rest.split_whitespace();
            let (name, value) = (parts.next().unwrap(), parts.next().unwrap_or_else(|| panic!("{t}: no value")));
            let v: u32 = match value.strip_prefix("0x") {
                Some(h) => u32::from_str_radix(h, 16),
                None => value.trim_end_matches('u').parse(),
            }
            .unwrap_or_else(|_| panic!("{t}: the value must be an integer literal"));
            let d = if doc.is_empty() { format!("`EMBER_ABI_{name}`") } else { doc.join(" ") };
            writeln!(rs, "/// {d}\npub const {name}: u32 = {v};").unwrap();
        }
        doc.clear();
    }
    std::fs::write(dst, rs).unwrap();
}

/// Inlines `#include "x"` (quoted, relative to the including file) once per header; leaves `<...>`
/// includes alone (they only appear inside the host-only emulation header).
fn flatten(path: &Path, seen: &mut HashSet<PathBuf>) -> String {
    let canon = path.canonicalize().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if !seen.insert(canon.clone()) {
        return String::new();
    }
    let text = std::fs::read_to_string(&canon).unwrap();
    let dir = canon.parent().unwrap().to_path_buf();
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix("#include \"") {
            let name = rest.split('"').next().unwrap();
            out.push_str(&flatten(&dir.join(name), seen));
            out.push('\n');
        } else if t.starts_with("#pragma once") {
            out.push('\n');
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[cfg(feature = "sim")]
fn build_sim(kernels: &Path, cu_files: &[PathBuf], out: &Path) {
    let configure = |b: &mut cc::Build| {
        b.cpp(true)
            .std("c++20")
            .opt_level(2)
            .debug(false)
            .include(kernels)
            .flag("-fno-strict-aliasing")
            // No fused multiply-add: float results must equal the CPU engine's (NVRTC: --fmad=false).
            .flag_if_supported("-ffp-contract=off")
            .flag_if_supported("-Wno-unused-parameter")
            .flag_if_supported("-Wno-unused-variable")
            .warnings(false);
    };
    // Kernel entry names, read from the preprocessed sources, with their module.
    let mut names = Vec::new();
    for cu in cu_files {
        let module = cu.file_stem().unwrap().to_str().unwrap().to_string();
        let mut b = cc::Build::new();
        configure(&mut b);
        b.flag("-xc++").file(cu);
        let expanded = b.expand();
        let text = String::from_utf8_lossy(&expanded);
        let key = "ember_sim_entry_";
        let mut rest: &str = &text;
        while let Some(i) = rest.find(key) {
            let tail = &rest[i + key.len()..];
            let end = tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(tail.len());
            names.push((module.clone(), tail[..end].to_string()));
            rest = &tail[end..];
        }
    }
    names.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    names.dedup();

    // EMBER_SIM_TSAN=1: the kernels under ThreadSanitizer, the scheduler not (see scheduler.cpp);
    // the test binaries then link the compiler's libtsan (scripts/racecheck.sh builds this into
    // its own target directory).
    println!("cargo:rerun-if-env-changed=EMBER_SIM_TSAN");
    let tsan = std::env::var("EMBER_SIM_TSAN").is_ok_and(|v| v == "1");
    let mut b = cc::Build::new();
    configure(&mut b);
    b.flag("-xc++");
    for cu in cu_files {
        b.file(cu);
    }
    if tsan {
        b.define("EMBER_SIM_TSAN", "1").flag("-fsanitize=thread").flag("-g");
    }
    b.compile("ember_sim");
    let mut s = cc::Build::new();
    configure(&mut s);
    if tsan {
        s.define("EMBER_SIM_TSAN", "1");
    }
    s.file(kernels.join("sim/scheduler.cpp")).compile("ember_sim_scheduler");
    if tsan {
        println!("cargo:rustc-cfg=ember_sim_tsan");
        let cxx = cc::Build::new().cpp(true).get_compiler();
        let lib = std::process::Command::new(cxx.path()).arg("-print-file-name=libtsan.so").output().unwrap();
        let lib = PathBuf::from(String::from_utf8(lib.stdout).unwrap().trim());
        assert!(lib.is_absolute(), "EMBER_SIM_TSAN=1 needs the C++ compiler's libtsan (apt install libtsan2)");
        println!("cargo:rustc-link-search=native={}", lib.parent().unwrap().display());
        println!("cargo:rustc-link-lib=dylib=tsan");
    }

    let mut rs = String::from("unsafe extern \"C\" {\n");
    for (_, n) in &names {
        writeln!(rs, "    fn ember_sim_entry_{n}(l: *const SimLaunch, args: *mut *mut core::ffi::c_void, err: *mut SimError) -> i32;").unwrap();
    }
    rs.push_str("}\n/// Every kernel exported with `EMBER_SIM_EXPORT`, sorted by (module, name).\npub(crate) static SIM_KERNELS: &[(&str, &str, SimEntry)] = &[\n");
    for (m, n) in &names {
        writeln!(rs, "    ({m:?}, {n:?}, ember_sim_entry_{n}),").unwrap();
    }
    rs.push_str("];\n");
    std::fs::write(out.join("sim_kernels.rs"), rs).unwrap();
}

#[cfg(not(feature = "sim"))]
fn build_sim(_: &Path, _: &[PathBuf], _: &Path) {}
