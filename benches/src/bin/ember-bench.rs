//! The benchmark runner: ember vs polars (and duckdb, built with `--features duckdb`) on the same
//! data in one process, answers checked.
//!
//! ```text
//! ember-bench tpch [--sf 1] [--queries 1,3,...] [--engines ember,polars[,duckdb]] [--device cpu|cuda|sim]
//!                  [--reps 3] [--source parquet|csv|memory] [--data-dir DIR] [--results-dir DIR]
//!                  [--json out.jsonl] [--markdown out.md] [--plot out.svg]
//! ember-bench ops  [--sf 1] [--engines ember,polars[,duckdb]] [--device D] [--reps 5] [--data-dir DIR]
//!                  [--cases parquet,filter] [--json …] [--markdown …] [--plot …]
//! ```
//!
//! `tpch` reads the tables from Parquet files cached under the data directory by default
//! (`~/.cache/ember/tpch/sf<N>`, generated with a progress bar on first use); `--source memory`
//! generates them in the process instead.
//!
//! Prints a markdown table (median seconds per case and engine, ember / each baseline, rows, whether
//! the answers agree, peak memory; on the simulated device and a GPU the launches,
//! synchronisations and copies) and exits 1 if any answer differs.
use ember::prelude::*;
use ember_bench::data::{default_data_dir, Source};
use ember_bench::ops::OpsConfig;
use ember_bench::report::Report;
use ember_bench::tpch::TpchConfig;
use std::path::PathBuf;
use std::process::ExitCode;

#[global_allocator]
static ALLOC: ember_bench::alloc::Counting = ember_bench::alloc::Counting;

const USAGE: &str = "usage: ember-bench [tpch|ops] [--sf N] [--queries 1,2,..] [--engines ember,polars[,duckdb]] \
[--device cpu|cuda|sim] [--reps N] [--source parquet|csv|memory] [--data-dir DIR] [--results-dir DIR] \
[--cases WORD,..] \
[--json FILE] [--markdown FILE] [--plot FILE.svg]";

struct Args {
    ops: bool,
    sf: f64,
    queries: Vec<u32>,
    engines: Vec<String>,
    cases: Vec<String>,
    device: Device,
    reps: Option<usize>,
    source: Source,
    data_dir: PathBuf,
    results_dir: Option<PathBuf>,
    json: Option<PathBuf>,
    markdown: Option<PathBuf>,
    plot: Option<PathBuf>,
}

fn parse() -> Result<Option<Args>> {
    let mut a = Args {
        ops: false,
        sf: 1.0,
        queries: ember::tpch::QUERIES.to_vec(),
        engines: vec!["ember".into(), "polars".into()],
        cases: Vec::new(),
        device: Device::default(),
        reps: None,
        source: Source::Parquet,
        data_dir: default_data_dir(),
        results_dir: None,
        json: None,
        markdown: None,
        plot: None,
    };
    let mut it = std::env::args().skip(1).peekable();
    match it.peek().map(String::as_str) {
        Some("tpch") => {
            it.next();
        }
        Some("ops") => {
            it.next();
            a.ops = true;
        }
        _ => {}
    }
    let bad = |k: &str, what: &str| Error::InvalidArgument(format!("{k} takes {what}"));
    while let Some(k) = it.next() {
        if k == "-h" || k == "--help" {
            println!("{USAGE}");
            return Ok(None);
        }
        let v = it.next().ok_or_else(|| Error::InvalidArgument(format!("{k} needs a value\n{USAGE}")))?;
        match k.as_str() {
            "--sf" => a.sf = v.parse().ok().filter(|s: &f64| *s > 0.0).ok_or_else(|| bad(&k, "a positive number"))?,
            "--device" => a.device = v.parse()?,
            "--reps" => a.reps = Some(v.parse().ok().filter(|&r| r > 0).ok_or_else(|| bad(&k, "a count above 0"))?),
            "--queries" => {
                a.queries = v
                    .split(',')
                    .map(|q| q.trim().parse().map_err(|_| bad(&k, "query numbers, e.g. 1,5,9")))
                    .collect::<Result<_>>()?
            }
            "--engines" => a.engines = v.split(',').map(|e| e.trim().to_string()).collect(),
            "--cases" => a.cases = v.split(',').map(|e| e.trim().to_string()).filter(|e| !e.is_empty()).collect(),
            "--source" => a.source = v.parse()?,
            "--data-dir" => a.data_dir = v.into(),
            "--results-dir" => a.results_dir = Some(v.into()),
            "--json" => a.json = Some(v.into()),
            "--markdown" => a.markdown = Some(v.into()),
            "--plot" => a.plot = Some(v.into()),
            other => return Err(Error::InvalidArgument(format!("unknown argument {other:?}\n{USAGE}"))),
        }
    }
    Ok(Some(a))
}

fn run() -> Result<bool> {
    let Some(a) = parse()? else { return Ok(true) };
    if a.device.is_gpu() {
        // A device asked for explicitly must exist: fail now, not after generating the data.
        a.device.gpu()?;
    }
    let report: Report = if a.ops {
        ember_bench::ops::run(&OpsConfig {
            sf: a.sf,
            engines: a.engines,
            device: a.device,
            reps: a.reps.unwrap_or(5),
            data_dir: a.data_dir,
            cases: a.cases,
        })?
    } else {
        ember_bench::tpch::run(&TpchConfig {
            sf: a.sf,
            queries: a.queries,
            engines: a.engines,
            device: a.device,
            reps: a.reps.unwrap_or(3),
            source: a.source,
            data_dir: a.data_dir,
            results_dir: a.results_dir,
        })?
    };
    println!("{}", report.markdown());
    report.write(a.json.as_deref(), a.markdown.as_deref(), a.plot.as_deref())?;
    if !report.all_ok() {
        eprintln!("error: the engines' answers differ (see the table)");
    }
    Ok(report.all_ok())
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
