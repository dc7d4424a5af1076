//! Where the benchmark's TPC-H tables come from, for both engines: generated in memory, or read
//! from Parquet or CSV files cached under a data directory (generated once with the `tpchgen`
//! crates, with a progress bar).
use crate::polars_tpch::PlTables;
use crate::{both, polars_err};
use ember::prelude::*;
use ember::tpch::Tables;
use polars::prelude::{self as pl};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where the tables come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Generated in memory; polars gets a copy of the same Arrow data (nothing to time).
    Memory,
    /// `<table>.parquet` in the data directory, read by each engine's own reader (timed).
    Parquet,
    /// `<table>.csv` in the data directory, read by each engine's own reader (timed).
    Csv,
}

impl std::str::FromStr for Source {
    type Err = Error;
    fn from_str(s: &str) -> Result<Source> {
        match s {
            "memory" => Ok(Source::Memory),
            "parquet" => Ok(Source::Parquet),
            "csv" => Ok(Source::Csv),
            other => Err(Error::InvalidArgument(format!("--source is memory, parquet or csv, not {other:?}"))),
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Source::Memory => "memory",
            Source::Parquet => "parquet",
            Source::Csv => "csv",
        })
    }
}

/// The TPC-H table names, largest first.
pub const TABLES: [&str; 8] = ["lineitem", "orders", "partsupp", "part", "customer", "supplier", "nation", "region"];

/// The default data directory: `$EMBER_BENCH_DATA`, else `~/.cache/ember/tpch`.
pub fn default_data_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("EMBER_BENCH_DATA") {
        return d.into();
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    home.join(".cache").join("ember").join("tpch")
}

/// The directory of scale factor `sf` under `root` (`sf1`, `sf0.1`).
pub fn sf_dir(root: &Path, sf: f64) -> PathBuf {
    root.join(format!("sf{sf}"))
}

pub(crate) fn file(dir: &Path, table: &str, source: Source) -> PathBuf {
    dir.join(format!("{table}.{}", if source == Source::Csv { "csv" } else { "parquet" }))
}

/// Makes sure `dir` holds `tables` as `source` files, generating (and writing) the
/// missing ones with a progress bar on stderr. A file is written under a temporary name and
/// renamed, so an interrupted run leaves no half-written table behind.
pub fn ensure_files(dir: &Path, sf: f64, source: Source, tables: &[&str]) -> Result<()> {
    if source == Source::Memory {
        return Ok(());
    }
    let missing: Vec<&str> = tables.iter().copied().filter(|t| !file(dir, t, source).is_file()).collect();
    if missing.is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::Io { path: dir.display().to_string(), source: e })?;
    let bar = indicatif::ProgressBar::new(missing.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{elapsed:>4} [{bar:30}] {pos}/{len} tables {msg}")
            .map_err(|e| Error::Internal(e.to_string()))?
            .progress_chars("=> "),
    );
    let t = Instant::now();
    for table in missing {
        bar.set_message(format!("generating {table} (sf {sf}) into {}", dir.display()));
        let df = ember::tpch::table(table, sf)?;
        let path = file(dir, table, source);
        let tmp = path.with_extension("partial");
        match source {
            Source::Csv => write_csv(&df, &tmp, &Default::default())?,
            _ => write_parquet(&df, &tmp, &Default::default())?,
        }
        std::fs::rename(&tmp, &path).map_err(|e| Error::Io { path: path.display().to_string(), source: e })?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    eprintln!("TPC-H sf={sf} written as {source} to {} in {:.1} s", dir.display(), t.elapsed().as_secs_f64());
    Ok(())
}

/// Loads ember's tables onto `device`; the seconds the read took (0 for memory, whose
/// generation is not a read).
pub fn load_ember(dir: &Path, sf: f64, source: Source, device: Device) -> Result<(Tables, f64)> {
    if source == Source::Memory {
        return Ok((Tables::generate(sf, device)?, 0.0));
    }
    let t = Instant::now();
    let tables = Tables::read(dir, device)?;
    // The readers return when the columns are on the device; nothing is left queued.
    Ok((tables, t.elapsed().as_secs_f64()))
}

/// Loads polars' tables: a copy of ember's CPU data for memory (`cpu` must then be given),
/// else polars' own Parquet / CSV reader on all cores; the seconds the read took.
pub fn load_polars(dir: &Path, source: Source, cpu: Option<&Tables>) -> Result<(PlTables, f64)> {
    let t = Instant::now();
    let mut frames = Vec::with_capacity(8);
    for table in ["lineitem", "orders", "customer", "supplier", "part", "partsupp", "nation", "region"] {
        let df = match source {
            Source::Memory => {
                let cpu = cpu.ok_or_else(|| Error::Internal("memory source needs the generated tables".into()))?;
                let df = cpu.named().iter().find(|(n, _)| *n == table).map(|(_, d)| (*d).clone());
                both(df.ok_or_else(|| Error::Internal(table.into()))?.to(Device::Cpu)?)?.1
            }
            Source::Parquet => read_polars_parquet(&file(dir, table, source))?,
            Source::Csv => read_polars_csv(&file(dir, table, source), table)?,
        };
        frames.push(df.lazy());
    }
    let secs = if source == Source::Memory { 0.0 } else { t.elapsed().as_secs_f64() };
    let mut it = frames.into_iter();
    let mut next = || it.next().expect("eight tables");
    let tables = PlTables {
        lineitem: next(),
        orders: next(),
        customer: next(),
        supplier: next(),
        part: next(),
        partsupp: next(),
        nation: next(),
        region: next(),
    };
    Ok((tables, secs))
}

use polars::prelude::{IntoLazy, LazyFileListReader};

/// A Parquet file read by polars (all columns, all cores).
pub fn read_polars_parquet(path: &Path) -> Result<pl::DataFrame> {
    let p = pl::PlRefPath::new(path.display().to_string());
    pl::LazyFrame::scan_parquet(p, Default::default()).and_then(|lf| lf.collect()).map_err(polars_err)
}

/// A CSV file of TPC-H table `table` read by polars, with the generator's column types (so
/// decimals stay decimals and dates dates, as ember reads it).
pub fn read_polars_csv(path: &Path, table: &str) -> Result<pl::DataFrame> {
    let schema = ember::tpch::table(table, 0.001)?.to_record_batch()?.schema();
    let mut pl_schema = pl::Schema::default();
    for f in schema.fields() {
        let dt = match f.data_type() {
            arrow::datatypes::DataType::Int64 => pl::DataType::Int64,
            arrow::datatypes::DataType::Int32 => pl::DataType::Int32,
            arrow::datatypes::DataType::Date32 => pl::DataType::Date,
            arrow::datatypes::DataType::Decimal128(p, s) => pl::DataType::Decimal(*p as usize, *s as usize),
            _ => pl::DataType::String,
        };
        pl_schema.insert(f.name().as_str().into(), dt);
    }
    let p = pl::PlRefPath::new(path.display().to_string());
    pl::LazyCsvReader::new(p)
        .with_has_header(true)
        .with_schema(Some(std::sync::Arc::new(pl_schema)))
        .finish()
        .and_then(|lf| lf.collect())
        .map_err(polars_err)
}
