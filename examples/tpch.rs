//! Runs TPC-H queries on any device and prints their answers, for people who want to look:
//!
//! ```text
//! cargo run --release --example tpch -- --query 3|all [--sf 0.1 | --data DIR] [--device cpu|sim|cuda|cuda:N] [--out DIR]
//! ```
//!
//! Tables are generated in memory by `tpchgen`, or with `--data DIR` read from the files
//! `tpchgen-cli` writes there (`<table>.parquet`, `<table>/` parts, or `<table>.csv`). With `--out`, each
//! answer is also written to `DIR/ember-q<N>.csv` (header row, values as text, decimals exact,
//! dates ISO), to compare with any other engine. The queries written so far: `ember::tpch::QUERIES`.
use ember::prelude::*;
use std::process::ExitCode;
use std::time::Instant;

struct Args {
    queries: Vec<u32>,
    sf: f64,
    device: Option<Device>,
    out: Option<std::path::PathBuf>,
    data: Option<std::path::PathBuf>,
}

fn parse_args() -> Result<Args> {
    let mut a = Args { queries: ember::tpch::QUERIES.to_vec(), sf: 0.1, device: None, out: None, data: None };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| Error::InvalidArgument(format!("{name} needs a value")));
        match arg.as_str() {
            "--query" => {
                let v = value("--query")?;
                if v != "all" {
                    let q = v.parse().map_err(|_| Error::InvalidArgument(format!("--query {v:?}: a number or all")))?;
                    a.queries = vec![q];
                }
            }
            "--sf" => {
                let v = value("--sf")?;
                a.sf = v.parse().map_err(|_| Error::InvalidArgument(format!("--sf {v:?} is not a number")))?;
            }
            "--device" => a.device = Some(value("--device")?.parse()?),
            "--out" => a.out = Some(value("--out")?.into()),
            "--data" => a.data = Some(value("--data")?.into()),
            "-h" | "--help" => {
                println!("usage: tpch --query N|all [--sf SF | --data DIR] [--device cpu|sim|cuda|cuda:N] [--out DIR]");
                std::process::exit(0);
            }
            other => return Err(Error::InvalidArgument(format!("unknown argument {other:?}"))),
        }
    }
    Ok(a)
}

fn run() -> Result<()> {
    ember::trace::init_from_env();
    let args = parse_args()?;
    let device = match args.device {
        Some(d) => d,
        None => Device::detect()?.0,
    };
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).map_err(|e| Error::InvalidArgument(format!("{}: {e}", dir.display())))?;
    }
    let t = Instant::now();
    let tables = match &args.data {
        Some(dir) => {
            let tables = ember::tpch::Tables::read(dir, device)?;
            println!("TPC-H read from {} onto {device} in {:.2} s", dir.display(), t.elapsed().as_secs_f64());
            tables
        }
        None => {
            let tables = ember::tpch::Tables::generate(args.sf, device)?;
            println!("TPC-H sf {} generated on {device} in {:.2} s", args.sf, t.elapsed().as_secs_f64());
            tables
        }
    };
    // Tables read from a directory are whatever scale factor it holds: name the directory.
    let source = match &args.data {
        Some(dir) => dir.display().to_string(),
        None => format!("sf {}", args.sf),
    };
    for q in args.queries {
        let t = Instant::now();
        let answer = ember::tpch::query(q, &tables)?.collect()?.to_record_batch()?;
        println!("Q{q} ({source}, {device}, {:.3} s):", t.elapsed().as_secs_f64());
        print!("{}", ember::tpch::format_table(&answer, " | ")?);
        if let Some(dir) = &args.out {
            let path = dir.join(format!("ember-q{q}.csv"));
            std::fs::write(&path, ember::tpch::format_table(&answer, ",")?)
                .map_err(|e| Error::InvalidArgument(format!("{}: {e}", path.display())))?;
            println!("written to {}", path.display());
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
