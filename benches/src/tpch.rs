//! `ember-bench tpch`: the 22 TPC-H queries on ember and polars over the same data, in one
//! process, with the answers checked against each other.
use crate::answer::Answer;
use crate::data::{self, Source};
use crate::measure::{machine, measure, versions};
use crate::report::Report;
use crate::{polars_err, polars_tpch};
use ember::prelude::*;
use std::path::PathBuf;

/// What to run.
#[derive(Debug, Clone)]
pub struct TpchConfig {
    /// Scale factor.
    pub sf: f64,
    /// Query numbers.
    pub queries: Vec<u32>,
    /// `ember`, `polars`, or both (the first is shown first).
    pub engines: Vec<String>,
    /// ember's device (polars runs on the CPU).
    pub device: Device,
    /// Timed repetitions after one warm-up.
    pub reps: usize,
    /// Where the tables come from.
    pub source: Source,
    /// Where generated tables are cached (`<dir>/sf<sf>/`).
    pub data_dir: PathBuf,
    /// Where each engine's answer to each query is written as `<engine>-q<N>.csv`.
    pub results_dir: Option<PathBuf>,
}

/// The engines the runner knows (`duckdb` only when built with `--features duckdb`).
pub const ENGINES: &[&str] = &["ember", "polars", "duckdb"];

/// Checks the engine list.
pub fn check_engines(engines: &[String]) -> Result<()> {
    if engines.is_empty() {
        return Err(Error::InvalidArgument("--engines: name at least one of ember, polars, duckdb".into()));
    }
    for e in engines {
        if !ENGINES.contains(&e.as_str()) {
            return Err(Error::InvalidArgument(format!(
                "--engines: unknown engine {e:?} (known: ember, polars, duckdb)"
            )));
        }
        if e == "duckdb" && !cfg!(feature = "duckdb") {
            return Err(Error::InvalidArgument(
                "--engines duckdb: this ember-bench was built without duckdb; rebuild it with \
                 `cargo run --release -p ember-bench --features duckdb -- ...`"
                    .into(),
            ));
        }
    }
    Ok(())
}

/// Runs the queries; the report (check [`Report::all_ok`]).
pub fn run(cfg: &TpchConfig) -> Result<Report> {
    check_engines(&cfg.engines)?;
    for &q in &cfg.queries {
        if !(1..=22).contains(&q) {
            return Err(Error::InvalidArgument(format!("--queries: TPC-H has queries 1 to 22, not {q}")));
        }
    }
    let has = |e: &str| cfg.engines.iter().any(|x| x == e);
    let dir = data::sf_dir(&cfg.data_dir, cfg.sf);
    data::ensure_files(&dir, cfg.sf, cfg.source, &data::TABLES)?;
    let mut report = Report {
        suite: "TPC-H".into(),
        machine: machine(cfg.device),
        device: cfg.device.to_string(),
        sf: cfg.sf,
        source: cfg.source.to_string(),
        reps: cfg.reps,
        engines: cfg.engines.clone(),
        versions: versions(&cfg.engines),
        rule: crate::answer::RULE.into(),
        ..Default::default()
    };
    let ember_tables = if has("ember") {
        let (t, secs) = data::load_ember(&dir, cfg.sf, cfg.source, cfg.device)?;
        if cfg.source != Source::Memory {
            report.load_s.push(("ember".into(), secs));
        }
        Some(t)
    } else {
        None
    };
    let pl_tables = if has("polars") {
        // From memory polars gets a copy of the CPU tables (ember's own when it runs on the CPU).
        let cpu = match (&ember_tables, cfg.source) {
            (Some(t), Source::Memory) if cfg.device == Device::Cpu => Some(t.clone()),
            (_, Source::Memory) => Some(ember::tpch::Tables::generate(cfg.sf, Device::Cpu)?),
            _ => None,
        };
        let (t, secs) = data::load_polars(&dir, cfg.source, cpu.as_ref())?;
        if cfg.source != Source::Memory {
            report.load_s.push(("polars".into(), secs));
        }
        Some(t)
    } else {
        None
    };
    #[cfg(feature = "duckdb")]
    let duck = if has("duckdb") {
        let (d, secs) = crate::duck::Duck::load(&dir, cfg.sf, cfg.source, &data::TABLES)?;
        if cfg.source != Source::Memory {
            report.load_s.push(("duckdb".into(), secs));
        }
        if let Some(v) = report.versions.iter_mut().find(|v| v.as_str() == "duckdb") {
            *v = format!("duckdb {} (Rust crate, bundled)", d.version()?);
        }
        Some(d)
    } else {
        None
    };
    if let Some(d) = &cfg.results_dir {
        std::fs::create_dir_all(d).map_err(|e| Error::Io { path: d.display().to_string(), source: e })?;
    }
    for &q in &cfg.queries {
        let name = format!("Q{q}");
        let mut answers: Vec<(String, Answer)> = Vec::new();
        for engine in &cfg.engines {
            let (m, answer) = match engine.as_str() {
                "ember" => {
                    let t = ember_tables.as_ref().ok_or_else(|| Error::Internal("ember tables".into()))?;
                    let m = measure(cfg.device, cfg.reps, || ember::tpch::query(q, t)?.collect()?.to_record_batch())?;
                    let a = Answer::from_batch(&m.out)?;
                    (m.record(engine, cfg.device, &name, a.rows.len()), a)
                }
                #[cfg(feature = "duckdb")]
                "duckdb" => {
                    let d = duck.as_ref().ok_or_else(|| Error::Internal("duckdb tables".into()))?;
                    let m = measure(Device::Cpu, cfg.reps, || d.query(q))?;
                    let a = Answer::from_batch(&m.out)?;
                    (m.record(engine, Device::Cpu, &name, a.rows.len()), a)
                }
                _ => {
                    let t = pl_tables.as_ref().ok_or_else(|| Error::Internal("polars tables".into()))?;
                    let m = measure(Device::Cpu, cfg.reps, || polars_tpch::query(q, t)?.collect().map_err(polars_err))?;
                    let a = Answer::from_polars(&m.out)?;
                    (m.record(engine, Device::Cpu, &name, a.rows.len()), a)
                }
            };
            if let Some(d) = &cfg.results_dir {
                let path = d.join(format!("{engine}-q{q}.csv"));
                std::fs::write(&path, answer.to_csv())
                    .map_err(|e| Error::Io { path: path.display().to_string(), source: e })?;
            }
            report.records.push(m);
            answers.push((engine.clone(), answer));
        }
        // Every engine's answer against the first one's.
        let diff = answers[1..]
            .iter()
            .find_map(|(e, a)| a.differs(q, &answers[0].1).map(|d| format!("{e} vs {}: {d}", answers[0].0)));
        let first = report.records.len() - answers.len();
        report.settle(first, &name, answers.len() > 1, diff);
    }
    Ok(report)
}
