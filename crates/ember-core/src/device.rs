//! Where a frame lives and its operations run.
use crate::error::{Error, Result};
use ember_gpu::{Backend, Gpu};
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

/// An executor: the CPU engine, a CUDA GPU, or the simulated CUDA device (the GPU code path run
/// on the CPU, for tests and CI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Device {
    /// The CPU engine (arrow-rs compute + rayon).
    Cpu,
    /// CUDA device with this ordinal.
    Cuda(usize),
    /// The simulated CUDA device (needs the `sim` feature).
    Sim,
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => write!(f, "cpu"),
            Device::Cuda(i) => write!(f, "cuda:{i}"),
            Device::Sim => write!(f, "sim"),
        }
    }
}

impl FromStr for Device {
    type Err = Error;
    /// Parses `cpu`, `cuda`, `cuda:N`, `sim` (case-insensitive).
    fn from_str(s: &str) -> Result<Device> {
        let t = s.trim().to_ascii_lowercase();
        match t.as_str() {
            "cpu" => Ok(Device::Cpu),
            "sim" => Ok(Device::Sim),
            "cuda" | "gpu" => Ok(Device::Cuda(0)),
            _ => t.strip_prefix("cuda:").and_then(|n| n.parse().ok()).map(Device::Cuda).ok_or_else(|| {
                Error::InvalidArgument(format!("unknown device {s:?}; expected cpu, cuda, cuda:N or sim"))
            }),
        }
    }
}

impl Device {
    /// Picks the default device and says why: `EMBER_DEVICE` if set (an error if it doesn't
    /// parse), else `cuda:0` when a CUDA driver, a device and NVRTC are all present, else `cpu`.
    /// Never panics on a machine without a driver.
    pub fn detect() -> Result<(Device, String)> {
        if let Ok(v) = std::env::var("EMBER_DEVICE") {
            if !v.trim().is_empty() {
                let d: Device = v.parse()?;
                return Ok((d, format!("EMBER_DEVICE={v}")));
            }
        }
        match ember_gpu::cuda_unavailable_reason(0) {
            None => Ok((Device::Cuda(0), "CUDA driver, device 0 and NVRTC found".into())),
            Some(reason) => Ok((Device::Cpu, reason)),
        }
    }

    /// The GPU handle for `Cuda`/`Sim` (None for `Cpu`). Fails if that device is unavailable.
    pub fn gpu(&self) -> Result<Option<Arc<Gpu>>> {
        Ok(match self {
            Device::Cpu => None,
            Device::Cuda(i) => Some(Gpu::get(Backend::Cuda(*i))?),
            Device::Sim => Some(Gpu::get(Backend::Sim)?),
        })
    }

    /// Whether this device runs the GPU code path (CUDA or Sim).
    pub fn is_gpu(&self) -> bool {
        !matches!(self, Device::Cpu)
    }

    /// The device of a GPU handle.
    pub fn of_gpu(gpu: &Gpu) -> Device {
        match gpu.backend() {
            Backend::Cuda(i) => Device::Cuda(i),
            Backend::Sim => Device::Sim,
        }
    }
}

impl Default for Device {
    /// [`Device::detect`], once per process, logging one line to stderr with the choice and the
    /// reason. An unparsable `EMBER_DEVICE` is logged and falls back to the CPU; use
    /// [`Device::detect`] to get the error instead.
    fn default() -> Device {
        static CHOICE: OnceLock<Device> = OnceLock::new();
        *CHOICE.get_or_init(|| {
            let (d, why) = match Device::detect() {
                Ok(x) => x,
                Err(e) => (Device::Cpu, format!("{e}; using the CPU")),
            };
            eprintln!("ember: default device {d} ({why})");
            d
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_parse() {
        assert_eq!("cpu".parse::<Device>().unwrap(), Device::Cpu);
        assert_eq!("SIM".parse::<Device>().unwrap(), Device::Sim);
        assert_eq!("cuda".parse::<Device>().unwrap(), Device::Cuda(0));
        assert_eq!("cuda:3".parse::<Device>().unwrap(), Device::Cuda(3));
        for bad in ["", "tpu", "cuda:", "cuda:x", "cuda:-1"] {
            assert!(matches!(bad.parse::<Device>(), Err(Error::InvalidArgument(_))), "{bad:?}");
        }
        for d in [Device::Cpu, Device::Sim, Device::Cuda(2)] {
            assert_eq!(d.to_string().parse::<Device>().unwrap(), d);
        }
    }

    #[test]
    fn cuda_without_a_driver_is_an_error_not_a_panic() {
        if let Some(reason) = ember_gpu::cuda_unavailable_reason(0) {
            let err = Device::Cuda(0).gpu().unwrap_err();
            assert!(matches!(err, Error::Gpu(ember_gpu::GpuError::CudaUnavailable { .. })), "{err}");
            assert!(!reason.is_empty());
            // And twice: cudarc keeps panicking after a first failure, ember must not.
            assert!(Device::Cuda(0).gpu().is_err());
        } else {
            eprintln!("a CUDA device is present: the no-driver path is not exercised here");
        }
    }
}
