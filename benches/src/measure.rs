//! Timing one case on one engine: a warm-up run that also measures peak memory (and, on a GPU or
//! the simulated device, the launches, synchronisations and copies it made), then `reps` timed runs.
use crate::report::{DeviceCost, Record};
use ember::prelude::{Device, Result};
use std::time::Instant;

/// The measurements of one case on one engine, and the warm-up run's output.
#[derive(Debug)]
pub struct Measured<T> {
    /// What the warm-up run returned.
    pub out: T,
    /// Median seconds.
    pub median_s: f64,
    /// Fastest run.
    pub min_s: f64,
    /// Peak bytes beyond those in use before (device memory on a GPU, else host).
    pub peak_bytes: u64,
    /// The device's work (GPU and simulated runs).
    pub cost: Option<DeviceCost>,
}

impl<T> Measured<T> {
    /// The record of `engine` on `device` for case `query` with `rows` rows of answer.
    pub fn record(&self, engine: &str, device: Device, query: &str, rows: usize) -> Record {
        Record {
            engine: engine.into(),
            device: device.to_string(),
            query: query.into(),
            median_s: self.median_s,
            min_s: self.min_s,
            rows,
            ok: None,
            diff: None,
            peak_bytes: self.peak_bytes,
            cost: self.cost,
            scanned_bytes: None,
        }
    }
}

/// Runs `f` once to warm up (measuring memory and device work), then `reps` times timed. Work on
/// a GPU must have finished when `f` returns (a download or a synchronisation at its end).
pub fn measure<T>(device: Device, reps: usize, mut f: impl FnMut() -> Result<T>) -> Result<Measured<T>> {
    let gpu = device.gpu()?;
    let before = gpu.as_ref().map(|g| {
        g.reset_peak();
        g.trace()
    });
    let (out, host_peak) = crate::alloc::peak_during(&mut f);
    let out = out?;
    let (peak_bytes, cost) = match (&gpu, before) {
        (Some(g), Some(b)) => {
            let a = g.trace();
            let cost = DeviceCost {
                launches: a.launches - b.launches,
                syncs: a.syncs - b.syncs,
                htod_bytes: a.htod_bytes - b.htod_bytes,
                dtoh_bytes: a.dtoh_bytes - b.dtoh_bytes,
            };
            (a.memory.peak_bytes.saturating_sub(b.memory.current_bytes), Some(cost))
        }
        _ => (host_peak, None),
    };
    let mut secs = Vec::with_capacity(reps.max(1));
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        f()?;
        secs.push(t.elapsed().as_secs_f64());
    }
    secs.sort_by(f64::total_cmp);
    Ok(Measured { out, median_s: secs[secs.len() / 2], min_s: secs[0], peak_bytes, cost })
}

/// The machine in one line: cores, CPU model, and the GPU when `device` is one.
pub fn machine(device: Device) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let gpu = match device.gpu() {
        Ok(Some(g)) => format!("; {}", g.describe()),
        _ => String::new(),
    };
    format!("{cores} cores, {cpu}{gpu}")
}

/// `ember <version>` and `polars <version>` (the crate this binary was built with).
pub fn versions(engines: &[String]) -> Vec<String> {
    engines
        .iter()
        .map(|e| match e.as_str() {
            "ember" => format!("ember {}", env!("CARGO_PKG_VERSION")),
            "polars" => format!("polars {} (Rust crate)", env!("EMBER_BENCH_POLARS_VERSION")),
            other => other.to_string(),
        })
        .collect()
}
