//! `ember`: look at and convert CSV and Parquet files without writing code.
//!
//! ```text
//! ember head FILE [-n N]                      the first N rows (default 10) as a table
//! ember schema FILE                           column names and types
//! ember convert IN OUT [--device cpu|sim|cuda] CSV <-> Parquet, by extension
//! ```
//! A read error prints the typed error (file, line or row group, column) and exits with 1.
use ember::io::FileFormat;
use ember::prelude::*;
use ember::{CsvWriteOptions, ParquetWriteOptions};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const USAGE: &str = "usage:
  ember head FILE [-n N]
  ember schema FILE
  ember convert IN OUT [--device cpu|sim|cuda]
FILE: .csv / .tsv / .txt (CSV), .parquet / .pq or a directory of Parquet files";

fn main() -> ExitCode {
    ember::trace::init_from_env();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ember: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<()> {
    let bad = |m: &str| Error::InvalidArgument(format!("{m}\n{USAGE}"));
    match args.first().map(String::as_str) {
        Some("head") => {
            let (file, rest) = args[1..].split_first().ok_or_else(|| bad("head needs a file"))?;
            let n = match rest {
                [] => 10,
                [flag, n] if flag == "-n" => n.parse().map_err(|_| bad("-n needs a number"))?,
                _ => return Err(bad("head takes FILE [-n N]")),
            };
            let df = with_progress(&format!("reading {file}"), || read(file, Some(n)))?;
            let df = df.slice(0, n.min(df.num_rows()))?;
            let table = arrow::util::pretty::pretty_format_batches(&[df.to_record_batch()?])?;
            println!("{table}");
            Ok(())
        }
        Some("schema") => {
            let [_, file] = args else { return Err(bad("schema takes FILE")) };
            let fields = match FileFormat::from_path(file)? {
                FileFormat::Csv => ember::io::csv_schema(file, &csv_options(file))?,
                FileFormat::Parquet => ember::io::parquet_schema(file)?,
            };
            for f in fields {
                println!("{}: {}", f.name, f.dtype);
            }
            Ok(())
        }
        Some("convert") => {
            let (input, output, device) = match &args[1..] {
                [i, o] => (i, o, Device::Cpu),
                [i, o, flag, d] if flag == "--device" => (i, o, d.parse::<Device>()?),
                _ => return Err(bad("convert takes IN OUT [--device D]")),
            };
            let out_format = FileFormat::from_path(output)?;
            with_progress(&format!("converting {input} to {output}"), || {
                // Decoded on `device` (the GPU decoders on a GPU; `EMBER_TRACE=1` prints what the
                // decode cost there), written on the CPU.
                let ctx = device.gpu()?.map(ember::gpu::ExecContext::new);
                let df = read_on(input, None, device, ctx.as_ref())?;
                if let Some(ctx) = &ctx {
                    ctx.log_trace(&format!("decoding {input}"));
                }
                match out_format {
                    FileFormat::Csv => write_csv(&df, output, &CsvWriteOptions::default()),
                    FileFormat::Parquet => write_parquet(&df, output, &ParquetWriteOptions::default()),
                }
            })
        }
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(bad("unknown command")),
    }
}

fn csv_options(file: &str) -> CsvReadOptions {
    let tsv = Path::new(file).extension().is_some_and(|e| e.eq_ignore_ascii_case("tsv"));
    CsvReadOptions::default().with_delimiter(if tsv { b'\t' } else { b',' })
}

fn read(file: &str, n_rows: Option<usize>) -> Result<DataFrame> {
    read_on(file, n_rows, Device::Cpu, None)
}

fn read_on(
    file: &str,
    n_rows: Option<usize>,
    device: Device,
    ctx: Option<&ember::gpu::ExecContext>,
) -> Result<DataFrame> {
    match FileFormat::from_path(file)? {
        FileFormat::Csv => {
            let mut opts = csv_options(file);
            opts.n_rows = n_rows;
            ember::io::read_csv_on(file, &opts, device, ctx)
        }
        FileFormat::Parquet => {
            ember::io::read_parquet_on(file, &ParquetReadOptions { n_rows, ..Default::default() }, device, ctx)
        }
    }
}

/// Runs `work`, showing a spinner on stderr if it takes more than a second (indicatif draws
/// nothing when stderr is not a terminal).
fn with_progress<T>(what: &str, work: impl FnOnce() -> Result<T>) -> Result<T> {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
    let done = Arc::new(AtomicBool::new(false));
    let shower = {
        let (bar, done, what) = (bar.clone(), done.clone(), what.to_string());
        std::thread::spawn(move || {
            for _ in 0..20 {
                std::thread::sleep(Duration::from_millis(50));
                if done.load(Ordering::Relaxed) {
                    return;
                }
            }
            bar.set_draw_target(ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
                bar.set_style(style);
            }
            bar.set_message(what);
            bar.enable_steady_tick(Duration::from_millis(100));
        })
    };
    let out = work();
    done.store(true, Ordering::Relaxed);
    let _ = shower.join();
    bar.finish_and_clear();
    out
}
