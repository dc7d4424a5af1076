//! Run-time compilation of `kernels/*.cu` with NVRTC, with a per-process and an on-disk cache.
//!
//! cudarc's safe wrapper only returns PTX; we call NVRTC's C API (through cudarc's dynamically
//! loaded bindings) to get a CUBIN for the device's exact architecture, so a driver never has to
//! JIT PTX newer than it understands.
use crate::error::{GpuError, Result};
use cudarc::nvrtc::sys;
use std::ffi::{c_char, CStr, CString};
use std::path::PathBuf;

/// What to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Machine code for `sm_XY` (XY = `major * 10 + minor`).
    Cubin(u32),
    /// PTX for `compute_XY`.
    Ptx(u32),
}

/// Options every kernel is compiled with. `--fmad=false` keeps `a * b + c` unfused, so float
/// results match the CPU engine bit for bit; `--device-int128` enables `__int128` (decimal128).
pub fn options(target: Target) -> Vec<String> {
    let arch = match target {
        Target::Cubin(sm) => format!("--gpu-architecture=sm_{sm}"),
        Target::Ptx(sm) => format!("--gpu-architecture=compute_{sm}"),
    };
    vec![arch, "--std=c++17".into(), "--fmad=false".into(), "--device-int128".into(), "-default-device".into()]
}

/// Whether the NVRTC library can be loaded.
pub fn available() -> bool {
    // SAFETY: only tries to dlopen the library; never panics.
    unsafe { sys::is_culib_present() }
}

fn check(module: &str, r: sys::nvrtcResult, what: &str) -> Result<()> {
    if r == sys::nvrtcResult::NVRTC_SUCCESS {
        Ok(())
    } else {
        Err(GpuError::Compile { module: module.into(), log: format!("{what} failed: {r:?}") })
    }
}

/// Compiles one flattened module source.
pub fn compile(module: &str, src: &str, target: Target) -> Result<Vec<u8>> {
    if !available() {
        return Err(GpuError::CudaUnavailable { reason: "libnvrtc not found".into() });
    }
    let c_src = CString::new(src).map_err(|e| GpuError::Compile { module: module.into(), log: e.to_string() })?;
    let c_name = CString::new(format!("{module}.cu")).expect("module names have no NUL");
    let opts: Vec<CString> = options(target).into_iter().map(|o| CString::new(o).expect("no NUL")).collect();
    let opt_ptrs: Vec<*const c_char> = opts.iter().map(|o| o.as_ptr()).collect();
    let mut prog: sys::nvrtcProgram = std::ptr::null_mut();
    // SAFETY: the strings outlive the program; no headers are passed (sources are flattened).
    let created = unsafe {
        sys::nvrtcCreateProgram(&mut prog, c_src.as_ptr(), c_name.as_ptr(), 0, std::ptr::null(), std::ptr::null())
    };
    check(module, created, "nvrtcCreateProgram")?;
    struct Guard(sys::nvrtcProgram);
    impl Drop for Guard {
        fn drop(&mut self) {
            // SAFETY: the program was created above and is destroyed once.
            unsafe {
                sys::nvrtcDestroyProgram(&mut self.0);
            }
        }
    }
    let guard = Guard(prog);
    // SAFETY: `opt_ptrs` holds valid C strings that outlive the call.
    let r = unsafe { sys::nvrtcCompileProgram(guard.0, opt_ptrs.len() as i32, opt_ptrs.as_ptr()) };
    if r != sys::nvrtcResult::NVRTC_SUCCESS {
        let mut n = 0usize;
        // SAFETY: querying the log of a valid program into a buffer of the reported size.
        let log = unsafe {
            sys::nvrtcGetProgramLogSize(guard.0, &mut n);
            let mut buf = vec![0 as c_char; n.max(1)];
            sys::nvrtcGetProgramLog(guard.0, buf.as_mut_ptr());
            CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned()
        };
        return Err(GpuError::Compile { module: module.into(), log });
    }
    let mut n = 0usize;
    let mut out;
    match target {
        Target::Cubin(_) => {
            // SAFETY: valid compiled program; buffer sized from the size query.
            unsafe {
                check(module, sys::nvrtcGetCUBINSize(guard.0, &mut n), "nvrtcGetCUBINSize")?;
                out = vec![0u8; n];
                check(module, sys::nvrtcGetCUBIN(guard.0, out.as_mut_ptr() as *mut c_char), "nvrtcGetCUBIN")?;
            }
        }
        Target::Ptx(_) => {
            // SAFETY: valid compiled program; buffer sized from the size query (includes the NUL).
            unsafe {
                check(module, sys::nvrtcGetPTXSize(guard.0, &mut n), "nvrtcGetPTXSize")?;
                out = vec![0u8; n];
                check(module, sys::nvrtcGetPTX(guard.0, out.as_mut_ptr() as *mut c_char), "nvrtcGetPTX")?;
            }
        }
    }
    Ok(out)
}

/// FNV-1a, 64 bit: a stable hash for cache keys (std's hasher may change between Rust releases).
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for p in parts {
        for &b in *p {
            h ^= b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

fn cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("EMBER_KERNEL_CACHE") {
        return (!d.is_empty()).then(|| PathBuf::from(d));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("ember").join("kernels"))
}

/// Where [`compile_cached`] keeps the compiled `target` of `src` (`None`: no disk cache).
fn cache_path(module: &str, src: &str, target: Target) -> Option<PathBuf> {
    let (mut major, mut minor) = (0, 0);
    if available() {
        // SAFETY: plain out-parameters.
        unsafe { sys::nvrtcVersion(&mut major, &mut minor) };
    }
    let opts = options(target).join(" ");
    let key = fnv1a(&[src.as_bytes(), opts.as_bytes(), &[major as u8, minor as u8]]);
    let ext = match target {
        Target::Cubin(_) => "cubin",
        Target::Ptx(_) => "ptx",
    };
    cache_dir().map(|d| d.join(format!("{module}-{key:016x}.{ext}")))
}

/// [`compile`] through the on-disk cache keyed by source hash, options and NVRTC version.
/// Set `EMBER_KERNEL_CACHE=` (empty) to disable the disk cache.
pub fn compile_cached(module: &str, src: &str, target: Target) -> Result<Vec<u8>> {
    let path = cache_path(module, src, target);
    if let Some(p) = &path {
        if let Ok(bytes) = std::fs::read(p) {
            if !bytes.is_empty() {
                return Ok(bytes);
            }
        }
    }
    let bytes = compile(module, src, target)?;
    if let Some(p) = &path {
        // Best effort: a read-only home directory only costs a recompile next time.
        if let Some(dir) = p.parent() {
            let _ = std::fs::create_dir_all(dir);
            let tmp = p.with_extension(format!("tmp{}", std::process::id()));
            if std::fs::write(&tmp, &bytes).is_ok() {
                let _ = std::fs::rename(&tmp, p);
            }
        }
    }
    Ok(bytes)
}

/// Removes the disk-cache entry of `src` (a corrupt entry the driver refused to load), so the next
/// [`compile_cached`] compiles afresh.
pub fn invalidate_cached(module: &str, src: &str, target: Target) {
    if let Some(p) = cache_path(module, src, target) {
        let _ = std::fs::remove_file(p);
    }
}
