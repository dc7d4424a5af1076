//! Every `kernels/*.cu` compiles with NVRTC for sm_90 (PTX and CUBIN, with the runtime's options)
//! and the PTX assembles with `ptxas -arch=sm_90`; and the CUDA and Sim builds define the same
//! kernels. With `EMBER_REQUIRE_NVRTC=1` (CI) a missing NVRTC or ptxas is a failure; otherwise the
//! test says it was skipped.
use ember_gpu::nvrtc::{self, Target};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

fn required() -> bool {
    std::env::var("EMBER_REQUIRE_NVRTC").is_ok_and(|v| v == "1")
}

fn ptxas() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("EMBER_PTXAS") {
        return Some(PathBuf::from(p));
    }
    Command::new("ptxas").arg("--version").output().ok().filter(|o| o.status.success()).map(|_| PathBuf::from("ptxas"))
}

/// Kernel entry names declared in a PTX module.
fn ptx_entries(ptx: &str) -> BTreeSet<String> {
    ptx.lines()
        .filter_map(|l| {
            l.trim_start().strip_prefix(".visible .entry ").or_else(|| l.trim_start().strip_prefix(".entry "))
        })
        .map(|rest| rest.split(['(', ' ']).next().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn every_kernel_compiles_with_nvrtc_and_assembles_for_sm90() {
    if !nvrtc::available() {
        assert!(!required(), "EMBER_REQUIRE_NVRTC=1 but libnvrtc could not be loaded (LD_LIBRARY_PATH?)");
        eprintln!("SKIPPED: libnvrtc not found; set LD_LIBRARY_PATH to run the kernel check (scripts/test.sh does)");
        return;
    }
    let ptxas = ptxas();
    assert!(ptxas.is_some() || !required(), "EMBER_REQUIRE_NVRTC=1 but ptxas was not found (EMBER_PTXAS?)");
    let dir = std::env::temp_dir().join(format!("ember-kernel-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut cuda_kernels = BTreeSet::new();
    assert!(!ember_gpu::kernels::MODULES.is_empty());
    for (module, src) in ember_gpu::kernels::MODULES {
        let ptx = nvrtc::compile(module, src, Target::Ptx(90)).unwrap_or_else(|e| panic!("{e}"));
        let ptx = String::from_utf8_lossy(&ptx).trim_end_matches('\0').to_string();
        let entries = ptx_entries(&ptx);
        assert!(!entries.is_empty(), "module {module} defines no kernels");
        cuda_kernels.extend(entries.into_iter().map(|e| format!("{module}::{e}")));
        let cubin = nvrtc::compile(module, src, Target::Cubin(90)).unwrap_or_else(|e| panic!("{e}"));
        assert!(cubin.starts_with(b"\x7fELF"), "{module}: NVRTC CUBIN is not an ELF image");
        match &ptxas {
            Some(ptxas) => {
                let path = dir.join(format!("{module}.ptx"));
                std::fs::write(&path, &ptx).unwrap();
                let out = Command::new(ptxas)
                    .args(["-arch=sm_90", "-o"])
                    .arg(dir.join(format!("{module}.cubin")))
                    .arg(&path)
                    .output()
                    .expect("run ptxas");
                assert!(
                    out.status.success(),
                    "ptxas -arch=sm_90 rejected {module}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                eprintln!("kernel check: {module}.cu ok (NVRTC PTX + CUBIN sm_90, ptxas sm_90)");
            }
            None => eprintln!("kernel check: {module}.cu NVRTC ok; ptxas SKIPPED (not found)"),
        }
    }
    if ember_gpu::sim::compiled() {
        let sim: BTreeSet<String> =
            ember_gpu::sim::kernel_names().into_iter().map(|(m, k)| format!("{m}::{k}")).collect();
        let only_cuda: Vec<_> = cuda_kernels.difference(&sim).collect();
        let only_sim: Vec<_> = sim.difference(&cuda_kernels).collect();
        assert!(
            only_cuda.is_empty() && only_sim.is_empty(),
            "kernel sets differ: only CUDA {only_cuda:?}, only Sim {only_sim:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
