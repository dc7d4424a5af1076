//! The main job: TPC-H Q6 and Q1 on `lineitem` generated in memory.
//!
//! ```text
//! cargo run --release --example quickstart -- [--sf 0.1 | --lineitem FILE] [--device cpu|sim|cuda|cuda:N]
//! ```
//!
//! `--lineitem FILE` reads `lineitem` from a Parquet or CSV file (as `tpchgen-cli` writes it)
//! instead of generating it, decoded on the device.
//!
//! Without `--device` it runs on `Device::default()` (`EMBER_DEVICE`, else the GPU if one is
//! usable, else the CPU). Prints `revenue: <exact decimal>` on a line of its own, then Q1's
//! table. With
//! `EMBER_TRACE=1` it also prints what the query cost on a GPU (launches, copies, syncs, memory).
use ember::prelude::*;
use std::process::ExitCode;
use std::time::Instant;

fn parse_args() -> Result<(f64, Option<Device>, Option<String>)> {
    let mut sf = 0.1;
    let mut device = None;
    let mut file = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| Error::InvalidArgument(format!("{name} needs a value")));
        match a.as_str() {
            "--sf" => {
                let v = value("--sf")?;
                sf = v.parse().map_err(|_| Error::InvalidArgument(format!("--sf {v:?} is not a number")))?;
            }
            "--device" => device = Some(value("--device")?.parse()?),
            "--lineitem" => file = Some(value("--lineitem")?),
            "-h" | "--help" => {
                println!("usage: quickstart [--sf SCALE_FACTOR | --lineitem FILE] [--device cpu|sim|cuda|cuda:N]");
                std::process::exit(0);
            }
            other => return Err(Error::InvalidArgument(format!("unknown argument {other:?}"))),
        }
    }
    Ok((sf, device, file))
}

fn run() -> Result<()> {
    ember::trace::init_from_env();
    let (sf, device, file) = parse_args()?;
    let device = match device {
        Some(d) => d,
        None => {
            let (d, why) = Device::detect()?;
            eprintln!("ember: default device {d} ({why})");
            d
        }
    };
    let t = Instant::now();
    let lineitem = match &file {
        Some(path) if ember::io::FileFormat::from_path(path)? == ember::io::FileFormat::Csv => {
            // The generator's column types, so decimals stay exact.
            let schema = ember::tpch::lineitem(0.001)?.fields().to_vec();
            ember::io::read_csv_on(path, &CsvReadOptions::default().with_schema(schema), device, None)?
        }
        Some(path) => ember::io::read_parquet_on(path, &ParquetReadOptions::default(), device, None)?,
        None => {
            let lineitem = ember::tpch::lineitem(sf)?;
            println!("generated lineitem sf={sf}: {} rows in {:.3} s", lineitem.num_rows(), t.elapsed().as_secs_f64());
            let t = Instant::now();
            let lineitem = lineitem.to(device)?;
            println!("moved to {device} in {:.3} s", t.elapsed().as_secs_f64());
            lineitem
        }
    };
    if let Some(path) = &file {
        println!("read {path} onto {device}: {} rows in {:.3} s", lineitem.num_rows(), t.elapsed().as_secs_f64());
    }

    let t = Instant::now();
    let revenue = ember::tpch::q6(&lineitem)?;
    let secs = t.elapsed().as_secs_f64();
    println!("device: {device}");
    println!("q6 time: {secs:.4} s");
    println!("revenue: {revenue}");

    let t = Instant::now();
    let q1 = ember::tpch::q1_lazy(&lineitem)?.collect()?.to_record_batch()?;
    println!("q1 time: {:.4} s", t.elapsed().as_secs_f64());
    print!("{}", ember::tpch::format_table(&q1, " | ")?);
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
