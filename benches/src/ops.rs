//! `ember-bench ops`: single operations on TPC-H `lineitem` (and `orders`), ember vs polars on
//! the same data in one process: read CSV, read Parquet, filter, gather, join, group-by with few
//! and many groups, sort, Q6. Each case checks that the engines agree.
use crate::answer::{Answer, Value};
use crate::data::{self, Source};
use crate::duck::{read_csv_sql, read_parquet_sql};
use crate::measure::{machine, measure, versions};
use crate::report::Report;
use crate::{
    ember_filter, ember_group_by, ember_join, ember_orderkeys, ember_sort, polars_err, polars_filter, polars_group_by,
    polars_join, polars_orderkeys, polars_sort, polars_tpch, BenchJoin,
};
use arrow::array::Array;
use ember::ops::executor::{CpuExecutor, Executor, GpuExecutor, Indices};
use ember::prelude::*;
use polars::prelude::{self as pl, IntoLazy};
use std::path::PathBuf;

/// What to run.
#[derive(Debug, Clone)]
pub struct OpsConfig {
    /// Scale factor of `lineitem`.
    pub sf: f64,
    /// `ember`, `polars`, or both.
    pub engines: Vec<String>,
    /// ember's device.
    pub device: Device,
    /// Timed repetitions after one warm-up.
    pub reps: usize,
    /// Where the CSV and Parquet files of `lineitem` are cached (`<dir>/sf<sf>/`).
    pub data_dir: PathBuf,
    /// Only the cases whose name contains one of these words (any case); empty: every case.
    pub cases: Vec<String>,
}

/// One check value: `[rows]` and whatever else pins the answer down.
fn check(values: Vec<Value>) -> Answer {
    Answer { columns: (0..values.len()).map(|i| format!("v{i}")).collect(), rows: vec![values] }
}

fn ints(v: impl IntoIterator<Item = i64>) -> Vec<Value> {
    v.into_iter().map(|x| Value::Int(x as i128)).collect()
}

/// duckdb's side of a case: the SQL whose answer, materialised as a temporary table, is timed,
/// and its check (of the table read back as Arrow, after the timing).
// Without the `duckdb` feature the SQL is written but never run.
#[cfg_attr(not(feature = "duckdb"), allow(dead_code))]
struct DuckCase {
    sql: String,
    check: fn(&arrow::array::RecordBatch) -> Result<(usize, Answer)>,
}

struct Runner<'a> {
    cfg: &'a OpsConfig,
    report: Report,
    #[cfg(feature = "duckdb")]
    duck: Option<crate::duck::Duck>,
}

impl Runner<'_> {
    fn has(&self, e: &str) -> bool {
        self.cfg.engines.iter().any(|x| x == e)
    }

    /// Times the engines on case `name`; `*_check` turn an output into its row count and the
    /// answer compared (as sorted rows if `sorted`). duckdb runs the case when `duck` gives it.
    #[allow(clippy::too_many_arguments)]
    fn case<E, P>(
        &mut self,
        name: &str,
        scanned: Option<u64>,
        sorted: bool,
        ember: impl FnMut() -> Result<E>,
        ember_check: impl Fn(&E) -> Result<(usize, Answer)>,
        polars: impl FnMut() -> Result<P>,
        polars_check: impl Fn(&P) -> Result<(usize, Answer)>,
        duck: Option<DuckCase>,
    ) -> Result<()> {
        let lower = name.to_lowercase();
        if !self.cfg.cases.is_empty() && !self.cfg.cases.iter().any(|w| lower.contains(&w.to_lowercase())) {
            return Ok(());
        }
        let mut answers: Vec<(&str, Answer)> = Vec::new();
        let first = self.report.records.len();
        if self.has("ember") {
            let m = measure(self.cfg.device, self.cfg.reps, ember)?;
            let (rows, a) = ember_check(&m.out)?;
            let mut r = m.record("ember", self.cfg.device, name, rows);
            r.scanned_bytes = scanned;
            self.report.records.push(r);
            answers.push(("ember", a));
        }
        if self.has("polars") {
            let m = measure(Device::Cpu, self.cfg.reps, polars)?;
            let (rows, a) = polars_check(&m.out)?;
            self.report.records.push(m.record("polars", Device::Cpu, name, rows));
            answers.push(("polars", a));
        }
        #[cfg(feature = "duckdb")]
        if let (Some(d), Some(c)) = (&self.duck, &duck) {
            let m = measure(Device::Cpu, self.cfg.reps, || d.run_into_table(&c.sql))?;
            let (rows, a) = (c.check)(&d.result()?)?;
            self.report.records.push(m.record("duckdb", Device::Cpu, name, rows));
            answers.push(("duckdb", a));
        }
        #[cfg(not(feature = "duckdb"))]
        let _ = duck;
        // Every engine's answer against the first one's.
        let diff = answers.split_first().and_then(|((e0, a0), rest)| {
            rest.iter().find_map(|(e, a)| a.differs_from(a0, sorted).map(|d| format!("{e} vs {e0}: {d}")))
        });
        self.report.settle(first, name, answers.len() > 1, diff);
        Ok(())
    }
}

/// `(rows, [rows, columns])`: an output checked by its shape.
fn shape(rows: usize, cols: usize) -> (usize, Answer) {
    (rows, check(ints([rows as i64, cols as i64])))
}

/// An Arrow answer checked by its shape.
fn batch_shape(b: &arrow::array::RecordBatch) -> Result<(usize, Answer)> {
    Ok(shape(b.num_rows(), b.num_columns()))
}

/// A sorted Arrow answer checked by its row count and first, middle and last order keys.
fn batch_orderkeys(b: &arrow::array::RecordBatch) -> Result<(usize, Answer)> {
    Ok((b.num_rows(), check(ints(crate::batch_orderkeys(b)?))))
}

/// An ember answer, compared whole.
fn batch_answer(b: &arrow::array::RecordBatch) -> Result<(usize, Answer)> {
    Ok((b.num_rows(), Answer::from_batch(b)?))
}

/// A polars answer, compared whole.
fn polars_answer(df: &pl::DataFrame) -> Result<(usize, Answer)> {
    Ok((df.height(), Answer::from_polars(df)?))
}

/// Bytes of the named columns of a CPU frame (all when `names` is empty).
fn column_bytes(df: &DataFrame, names: &[&str]) -> Result<u64> {
    let b = df.to_record_batch()?;
    Ok(b.schema()
        .fields()
        .iter()
        .zip(b.columns())
        .filter(|(f, _)| names.is_empty() || names.contains(&f.name().as_str()))
        .map(|(_, c)| c.get_buffer_memory_size() as u64)
        .sum())
}

/// `n / 4` row numbers below `n` in a fixed pseudo-random order (splitmix64).
fn random_rows(n: usize) -> Vec<u32> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    (0..n / 4)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            ((z ^ (z >> 31)) % n as u64) as u32
        })
        .collect()
}

/// Runs the operations; the report (check [`Report::all_ok`]).
pub fn run(cfg: &OpsConfig) -> Result<Report> {
    crate::tpch::check_engines(&cfg.engines)?;
    let dir = data::sf_dir(&cfg.data_dir, cfg.sf);
    data::ensure_files(&dir, cfg.sf, Source::Parquet, &["lineitem"])?;
    data::ensure_files(&dir, cfg.sf, Source::Csv, &["lineitem"])?;
    let (li, pli) = crate::lineitem_both(cfg.sf)?;
    let (orders, porders) = crate::orders_both(cfg.sf)?;
    let (customer, pcustomer) = crate::customer_both(cfg.sf)?;
    let (dev, dev_orders, dev_customer) = (li.to(cfg.device)?, orders.to(cfg.device)?, customer.to(cfg.device)?);
    #[cfg(feature = "duckdb")]
    let duck = match cfg.engines.iter().any(|e| e == "duckdb") {
        true => Some(crate::duck::Duck::load(&dir, cfg.sf, Source::Memory, &["lineitem", "orders", "customer"])?.0),
        false => None,
    };
    let mut run = Runner {
        cfg,
        #[cfg(feature = "duckdb")]
        duck,
        report: Report {
            suite: "operations".into(),
            machine: machine(cfg.device),
            device: cfg.device.to_string(),
            sf: cfg.sf,
            source: "memory; reads from the data directory".into(),
            reps: cfg.reps,
            engines: cfg.engines.clone(),
            versions: versions(&cfg.engines),
            rule: "row and column counts of every output; the group-by answers row by row, sorted \
                   (sums exactly); the first, middle and last order keys of the sort and the gather; Q6's revenue"
                .into(),
            ..Default::default()
        },
    };
    #[cfg(feature = "duckdb")]
    if let Some(d) = &run.duck {
        if let Some(v) = run.report.versions.iter_mut().find(|v| v.as_str() == "duckdb") {
            *v = format!("duckdb {} (Rust crate, bundled)", d.version()?);
        }
    }
    let duck =
        |sql: String, check: fn(&arrow::array::RecordBatch) -> Result<(usize, Answer)>| Some(DuckCase { sql, check });
    let file_len = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).ok();

    let csv = dir.join("lineitem.csv");
    let csv_opts = CsvReadOptions::default().with_schema(ember::tpch::table("lineitem", 0.001)?.fields().to_vec());
    run.case(
        "read CSV (lineitem)",
        file_len(&csv),
        false,
        || ember::io::read_csv_on(&csv, &csv_opts, cfg.device, None),
        |df| Ok(shape(df.num_rows(), df.num_columns())),
        || data::read_polars_csv(&csv, "lineitem"),
        |df| Ok(shape(df.height(), df.width())),
        duck(format!("SELECT * FROM {}", read_csv_sql(&csv, "lineitem")?), batch_shape),
    )?;
    let parquet = dir.join("lineitem.parquet");
    run.case(
        "read Parquet (lineitem)",
        file_len(&parquet),
        false,
        || ember::io::read_parquet_on(&parquet, &Default::default(), cfg.device, None),
        |df| Ok(shape(df.num_rows(), df.num_columns())),
        || data::read_polars_parquet(&parquet),
        |df| Ok(shape(df.height(), df.width())),
        duck(format!("SELECT * FROM {}", read_parquet_sql(&parquet)), batch_shape),
    )?;
    // A selective filter on the column the file is sorted by: row-group statistics keep one
    // group of six, the page index a few pages of it.
    let scan_cols = ["l_orderkey", "l_quantity", "l_extendedprice", "l_shipdate"];
    run.case(
        "scan Parquet where l_orderkey < 60000, 4 columns",
        None,
        false,
        || {
            LazyFrame::scan_parquet(&parquet, Default::default(), cfg.device)?
                .filter(col("l_orderkey").lt(lit(60_000i64)))
                .select(scan_cols.map(col))
                .collect()
        },
        |df| Ok(shape(df.num_rows(), df.num_columns())),
        || {
            let p = pl::PlRefPath::new(parquet.display().to_string());
            pl::LazyFrame::scan_parquet(p, Default::default())
                .and_then(|lf| {
                    lf.filter(pl::col("l_orderkey").lt(pl::lit(60_000i64))).select(scan_cols.map(pl::col)).collect()
                })
                .map_err(polars_err)
        },
        |df| Ok(shape(df.height(), df.width())),
        duck(
            format!("SELECT {} FROM {} WHERE l_orderkey < 60000", scan_cols.join(", "), read_parquet_sql(&parquet)),
            batch_shape,
        ),
    )?;
    run.case(
        "filter l_quantity < 24, 16 columns",
        Some(column_bytes(&li, &[])?),
        false,
        || ember_filter(&dev),
        |b| Ok(shape(b.num_rows(), b.num_columns())),
        || polars_filter(&pli),
        |df| Ok(shape(df.height(), df.width())),
        duck("SELECT * FROM lineitem WHERE l_quantity < 24".into(), batch_shape),
    )?;

    let rows = random_rows(li.num_rows());
    let pl_rows = pl::IdxCa::from_vec("rows".into(), rows.iter().map(|&r| r as pl::IdxSize).collect());
    let gpu_ctx = cfg.device.gpu()?.map(ember::gpu::ExecContext::new);
    let host_rows = arrow::array::UInt32Array::from(rows.clone());
    run.case(
        "gather 1/4 of the rows at random, 16 columns",
        Some(column_bytes(&li, &[])? / 4),
        false,
        || match &gpu_ctx {
            // The row numbers start on the host, as polars' do: their upload is part of the gather.
            Some(ctx) => {
                let idx = Indices::Device { buf: ctx.upload(&rows).map_err(Error::from)?, len: rows.len() };
                let out = GpuExecutor::new(ctx).gather(&dev, &idx)?;
                ctx.synchronize().map_err(Error::from)?;
                Ok(out)
            }
            None => CpuExecutor.gather(&dev, &Indices::Host(host_rows.clone())),
        },
        |df| Ok((df.num_rows(), check(ints(ember_orderkeys(df)?)))),
        || pli.take(&pl_rows).map_err(polars_err),
        |df| Ok((df.height(), check(ints(polars_orderkeys(df)?)))),
        // SQL has no row-number gather.
        None,
    )?;
    let joins = [
        (
            "join lineitem ⋈ orders on the order key, 24 columns",
            (&dev, &pli),
            BenchJoin::LineitemOrders,
            24,
            "SELECT * EXCLUDE (o_orderkey) FROM lineitem JOIN orders ON l_orderkey = o_orderkey",
        ),
        (
            "anti join customer ▷ orders on the customer key, 8 columns",
            (&dev_customer, &pcustomer),
            BenchJoin::CustomersWithoutOrders,
            8,
            "SELECT * FROM customer WHERE NOT EXISTS (SELECT 1 FROM orders WHERE o_custkey = c_custkey)",
        ),
    ];
    for (name, (left, pleft), join, columns, sql) in joins {
        run.case(
            name,
            None,
            false,
            || ember_join(left, &dev_orders, join),
            |&n| Ok(shape(n, columns)),
            || polars_join(pleft, &porders, join),
            |&n| Ok(shape(n, columns)),
            duck(sql.into(), batch_shape),
        )?;
    }
    run.case(
        "group-by 4 groups (sum, count)",
        Some(column_bytes(&li, &["l_returnflag", "l_linestatus", "l_extendedprice"])?),
        true,
        || ember_group_by(&dev, true)?.to_record_batch(),
        batch_answer,
        || polars_group_by(&pli, true),
        polars_answer,
        duck(
            "SELECT l_returnflag, l_linestatus, sum(l_extendedprice) AS sum, count(*) AS n FROM lineitem \
             GROUP BY l_returnflag, l_linestatus"
                .into(),
            batch_answer,
        ),
    )?;
    run.case(
        "group-by the order key (sf × 1.5M groups, sum)",
        Some(column_bytes(&li, &["l_orderkey", "l_quantity"])?),
        true,
        || ember_group_by(&dev, false)?.to_record_batch(),
        batch_answer,
        || polars_group_by(&pli, false),
        polars_answer,
        duck("SELECT l_orderkey, sum(l_quantity) AS qty FROM lineitem GROUP BY l_orderkey".into(), batch_answer),
    )?;
    run.case(
        "sort by l_extendedprice, 16 columns, stable",
        Some(column_bytes(&li, &[])?),
        false,
        || ember_sort(&dev),
        |df| Ok((df.num_rows(), check(ints(ember_orderkeys(df)?)))),
        || polars_sort(&pli),
        |df| Ok((df.height(), check(ints(polars_orderkeys(df)?)))),
        // duckdb's sort is not stable: the generated order (order key, line number) breaks ties.
        duck("SELECT * FROM lineitem ORDER BY l_extendedprice, l_orderkey, l_linenumber".into(), batch_orderkeys),
    )?;
    run.case(
        "TPC-H Q6 (filter + sum)",
        Some(column_bytes(&li, &["l_shipdate", "l_discount", "l_quantity", "l_extendedprice"])?),
        false,
        || ember::tpch::q6_lazy(&dev)?.collect()?.to_record_batch(),
        batch_answer,
        || polars_tpch::q6(pli.clone().lazy()).collect().map_err(polars_err),
        polars_answer,
        duck(crate::duck::SQL[5].into(), batch_answer),
    )?;
    Ok(run.report)
}
