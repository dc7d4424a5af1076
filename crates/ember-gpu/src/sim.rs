//! The simulated CUDA device: `kernels/*.cu` compiled for the host (see `kernels/sim/`), launched
//! through the same `Gpu::launch` call as on CUDA. Blocks are spread over rayon's threads; each OS
//! thread runs one block at a time as fibers, one per CUDA thread.
use crate::error::{GpuError, Result};
use crate::launch::{KernelArg, LaunchConfig};
use crate::Kernel;
use std::ffi::c_void;

/// `EmberSimLaunch` in `kernels/sim/emu.h`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub(crate) struct SimLaunch {
    pub grid: [u32; 3],
    pub block: [u32; 3],
    pub dyn_smem: u32,
    pub smem_limit: u32,
    pub block_begin: u32,
    pub block_end: u32,
    pub nargs: u32,
    pub order: u32,
    pub arg_sizes: *const u32,
    pub seed: u64,
}

/// `EmberSimError` in `kernels/sim/emu.h`.
#[repr(C)]
pub(crate) struct SimError {
    pub code: i32,
    pub message: [u8; 256],
}

#[allow(dead_code)]
pub(crate) type SimEntry = unsafe extern "C" fn(*const SimLaunch, *mut *mut c_void, *mut SimError) -> i32;

#[cfg(feature = "sim")]
include!(concat!(env!("OUT_DIR"), "/sim_kernels.rs"));

/// The order the simulated device runs the threads of a block (between barriers) and the blocks
/// of a launch in. A GPU promises neither; a kernel whose answer changes with the order has a race
/// that the default order may hide. Chosen per process by `EMBER_SIM_ORDER`: `forward` (default),
/// `reverse`, `random` or `random:SEED`. CI runs the Sim tests under all three.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadOrder {
    /// Thread and block index order.
    Forward,
    /// Reversed threads in every pass, reversed blocks in every worker's range.
    Reverse,
    /// A seeded random permutation per pass (and reversed blocks).
    Random(u64),
}

impl ThreadOrder {
    // Read only by the emulator's launch code, which the `sim` feature compiles.
    #[cfg_attr(not(feature = "sim"), allow(dead_code))]
    fn code(self) -> u32 {
        match self {
            ThreadOrder::Forward => 0,
            ThreadOrder::Reverse => 1,
            ThreadOrder::Random(_) => 2,
        }
    }
    #[cfg_attr(not(feature = "sim"), allow(dead_code))]
    fn seed(self) -> u64 {
        match self {
            ThreadOrder::Random(s) => s,
            _ => 0,
        }
    }
    /// Parses `forward`, `reverse`, `random` (seed 1) or `random:SEED`.
    pub fn parse(s: &str) -> Option<ThreadOrder> {
        match s.trim() {
            "" | "forward" => Some(ThreadOrder::Forward),
            "reverse" => Some(ThreadOrder::Reverse),
            "random" => Some(ThreadOrder::Random(1)),
            other => other.strip_prefix("random:")?.parse().ok().map(ThreadOrder::Random),
        }
    }
}

thread_local! {
    static ORDER_OVERRIDE: std::cell::Cell<Option<ThreadOrder>> = const { std::cell::Cell::new(None) };
}

/// True in a ThreadSanitizer build of the simulated device (`EMBER_SIM_TSAN=1` at build time,
/// see `scripts/racecheck.sh`): kernels are instrumented and every launch runs on one OS thread.
pub const TSAN: bool = cfg!(ember_sim_tsan);

/// The order launches from this thread run in: [`with_order`]'s if inside one, else the process's
/// (`EMBER_SIM_ORDER`). An unparsable `EMBER_SIM_ORDER` makes every launch fail with an error
/// saying so: a race check that silently ran in the default order would prove nothing.
pub fn order() -> std::result::Result<ThreadOrder, String> {
    if let Some(o) = ORDER_OVERRIDE.with(|c| c.get()) {
        return Ok(o);
    }
    static ORDER: std::sync::OnceLock<std::result::Result<ThreadOrder, String>> = std::sync::OnceLock::new();
    ORDER
        .get_or_init(|| {
            let v = std::env::var("EMBER_SIM_ORDER").unwrap_or_default();
            ThreadOrder::parse(&v)
                .ok_or_else(|| format!("EMBER_SIM_ORDER={v:?}: expected forward, reverse, random or random:SEED"))
        })
        .clone()
}

/// Runs `f` with this thread's simulated launches in `order` (tests compare a kernel's answers
/// across orders within one process).
pub fn with_order<T>(order: ThreadOrder, f: impl FnOnce() -> T) -> T {
    let prev = ORDER_OVERRIDE.with(|c| c.replace(Some(order)));
    let out = f();
    ORDER_OVERRIDE.with(|c| c.set(prev));
    out
}

/// Shared memory per block a kernel may use without opting in, as on every CUDA GPU since Volta.
pub const DEFAULT_SHARED_MEM_LIMIT: u32 = 48 * 1024;

/// Whether this build includes the simulated device.
pub const fn compiled() -> bool {
    cfg!(feature = "sim")
}

/// `(module, name)` of every kernel the simulated device can run.
pub fn kernel_names() -> Vec<(&'static str, &'static str)> {
    #[cfg(feature = "sim")]
    {
        SIM_KERNELS.iter().map(|(m, n, _)| (*m, *n)).collect()
    }
    #[cfg(not(feature = "sim"))]
    {
        Vec::new()
    }
}

/// Raw parameter pointers, shared read-only by the worker threads of one launch.
#[cfg(feature = "sim")]
struct Params(Vec<*mut c_void>);
// SAFETY: `SimLaunch` holds a pointer to the argument sizes, which outlive the launch and are
// only read while it runs.
#[cfg(feature = "sim")]
unsafe impl Sync for SimLaunch {}
#[cfg(feature = "sim")]
// SAFETY: as above.
unsafe impl Send for SimLaunch {}
#[cfg(feature = "sim")]
// SAFETY: the pointers point into the caller's argument array, which outlives the launch and is
// only read (by the kernels' argument unpacking) while the launch runs.
unsafe impl Sync for Params {}

#[cfg(feature = "sim")]
impl Params {
    fn as_ptr(&self) -> *mut *mut c_void {
        self.0.as_ptr() as *mut *mut c_void
    }
}

pub(crate) fn launch(kernel: Kernel, cfg: &LaunchConfig, args: &mut [KernelArg<'_>]) -> Result<()> {
    #[cfg(not(feature = "sim"))]
    {
        let _ = (kernel, cfg, args);
        Err(GpuError::SimNotCompiled)
    }
    #[cfg(feature = "sim")]
    {
        use crate::error::SimRejection;
        use rayon::prelude::*;
        let entry = SIM_KERNELS
            .binary_search_by(|(m, n, _)| (*m, *n).cmp(&(kernel.module, kernel.name)))
            .map(|i| SIM_KERNELS[i].2)
            .map_err(|_| GpuError::KernelNotFound { module: kernel.module.into(), kernel: kernel.name.into() })?;
        let kernel = kernel.name;
        let sizes: Vec<u32> = args.iter().map(|a| a.size() as u32).collect();
        let order = order().map_err(|message| GpuError::SimLaunch {
            kernel: kernel.into(),
            kind: SimRejection::InvalidLaunchConfig,
            message,
        })?;
        let total = cfg.num_blocks();
        if total > u32::MAX as u64 {
            return Err(GpuError::SimLaunch {
                kernel: kernel.into(),
                kind: SimRejection::InvalidLaunchConfig,
                message: format!("{total} blocks"),
            });
        }
        let params = Params(args.iter_mut().map(|a| a.as_param()).collect());
        let base = SimLaunch {
            grid: [cfg.grid.0, cfg.grid.1, cfg.grid.2],
            block: [cfg.block.0, cfg.block.1, cfg.block.2],
            dyn_smem: cfg.shared_mem_bytes,
            smem_limit: DEFAULT_SHARED_MEM_LIMIT,
            block_begin: 0,
            block_end: total as u32,
            nargs: sizes.len() as u32,
            order: order.code(),
            arg_sizes: sizes.as_ptr(),
            seed: order.seed(),
        };
        // Under ThreadSanitizer a launch runs on the calling thread, so that nothing but the
        // kernel's own synchronisation orders its blocks (rayon's is invisible to TSan).
        let workers = if TSAN { 1 } else { rayon::current_num_threads().max(1) as u64 };
        let chunks = if total <= 1 || TSAN { 1 } else { (workers * 4).min(total) };
        let per = total.div_ceil(chunks);
        let run = |c: u64| -> Result<()> {
            let mut l = base;
            l.block_begin = (c * per).min(total) as u32;
            l.block_end = ((c + 1) * per).min(total) as u32;
            if l.block_begin >= l.block_end && total > 0 {
                return Ok(());
            }
            let mut err = SimError { code: 0, message: [0; 256] };
            // SAFETY: `entry` is a kernel entry generated from kernels/*.cu; `params` holds one pointer
            // per kernel parameter, each pointing at a value of the parameter's C type (the caller's
            // duty, as with cuLaunchKernel); `l` and `err` are valid for the call.
            let code = unsafe { entry(&l, params.as_ptr(), &mut err) };
            if code == 0 {
                return Ok(());
            }
            let end = err.message.iter().position(|&b| b == 0).unwrap_or(err.message.len());
            Err(GpuError::SimLaunch {
                kernel: kernel.into(),
                kind: SimRejection::from_code(code),
                message: String::from_utf8_lossy(&err.message[..end]).into_owned(),
            })
        };
        if chunks == 1 {
            run(0)
        } else {
            (0..chunks).into_par_iter().map(run).collect::<Result<Vec<()>>>().map(|_| ())
        }
    }
}
