//! The benchmark runner: ember vs polars on the same TPC-H data in one process.
//!
//! ```text
//! cargo run --release -p ember-bench --bin ember-bench -- [--sf 1] [--device cpu|sim|cuda] [--reps 7]
//! cargo run --release -p ember-bench --bin ember-bench -- tpch [--sf 1] [--device D] [--reps 3] [--queries 1,5,9]
//! ```
//!
//! Generates `lineitem` once, moves it to the device (not timed), runs each case after one
//! warm-up, and prints a markdown table of medians and the ember/polars ratio, plus the machine.
//! `tpch` times ember's 22 TPC-H queries on all eight tables (generated once, moved to the device
//! untimed) and prints the median per query and their geometric mean; the polars baseline of the
//! 22 queries is `../shared/peers/peers_tpch.py` on the same machine for now (the runner of the
//! benchmark issue puts polars' Rust crate in the same process).
use ember::prelude::*;
use ember_bench::{
    ember_filter, ember_join, ember_orderkeys, ember_q1, ember_sort, lineitem_both, orders_both, polars_filter,
    polars_join, polars_orderkeys, polars_q1, polars_q6, polars_shape, polars_sort,
};
use std::process::ExitCode;

// Both engines allocate from mimalloc, as polars' Python package does from jemalloc: glibc's malloc
// returns every large block to the OS and takes it back zeroed on the next query, and on this
// machine those page faults cost more than the operators (docs/perf.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::time::Instant;

struct Args {
    sf: f64,
    device: Device,
    reps: usize,
    tpch: bool,
    queries: Vec<u32>,
}

fn parse() -> Result<Args> {
    let mut a = Args { sf: 1.0, device: Device::Cpu, reps: 7, tpch: false, queries: ember::tpch::QUERIES.to_vec() };
    let mut it = std::env::args().skip(1).peekable();
    if it.peek().map(String::as_str) == Some("tpch") {
        it.next();
        a.tpch = true;
    }
    while let Some(k) = it.next() {
        let mut v = || it.next().ok_or_else(|| Error::InvalidArgument(format!("{k} needs a value")));
        match k.as_str() {
            "--sf" => a.sf = v()?.parse().map_err(|_| Error::InvalidArgument("--sf takes a number".into()))?,
            "--device" => a.device = v()?.parse()?,
            "--reps" => a.reps = v()?.parse().map_err(|_| Error::InvalidArgument("--reps takes a count".into()))?,
            "--queries" => {
                a.queries = v()?
                    .split(',')
                    .map(|q| q.trim().parse().map_err(|_| Error::InvalidArgument(format!("--queries: {q:?}"))))
                    .collect::<Result<_>>()?
            }
            other => return Err(Error::InvalidArgument(format!("unknown argument {other:?}"))),
        }
    }
    Ok(a)
}

/// Median seconds of `reps` runs after one warm-up.
fn time<T>(reps: usize, mut f: impl FnMut() -> Result<T>) -> Result<(f64, T)> {
    let mut out = f()?;
    let mut secs = Vec::with_capacity(reps);
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        out = f()?;
        secs.push(t.elapsed().as_secs_f64());
    }
    secs.sort_by(f64::total_cmp);
    Ok((secs[secs.len() / 2], out))
}

/// Medians of `f` and `g` timed in alternation (so drift on a noisy machine hits both alike).
fn time_pair<T, U>(
    reps: usize,
    mut f: impl FnMut() -> Result<T>,
    mut g: impl FnMut() -> Result<U>,
) -> Result<(f64, f64)> {
    f()?;
    g()?;
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        f()?;
        a.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        g()?;
        b.push(t.elapsed().as_secs_f64());
    }
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    Ok((a[a.len() / 2], b[b.len() / 2]))
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// The 22 TPC-H queries on ember: median seconds each, and their geometric mean.
fn run_tpch(args: &Args) -> Result<()> {
    let t = Instant::now();
    let tables = ember::tpch::Tables::generate(args.sf, args.device)?;
    eprintln!("TPC-H sf={} generated and moved to {} in {:.1} s", args.sf, args.device, t.elapsed().as_secs_f64());
    println!(
        "machine: {} cores, {}; ember device: {}; TPC-H sf={}; median of {} runs after a warm-up",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model(),
        args.device,
        args.sf,
        args.reps
    );
    println!();
    println!("| query | ember ({}) s | rows |", args.device);
    println!("|---|---|---|");
    let mut log_sum = 0.0;
    for &q in &args.queries {
        let (secs, rows) = time(args.reps, || Ok(ember::tpch::query(q, &tables)?.collect()?.num_rows()))?;
        log_sum += secs.ln();
        println!("| Q{q} | {secs:.4} | {rows} |");
    }
    println!("| geometric mean | {:.4} | |", (log_sum / args.queries.len() as f64).exp());
    Ok(())
}

fn run() -> Result<()> {
    let args = parse()?;
    if args.tpch {
        return run_tpch(&args);
    }
    let t = Instant::now();
    let (li, pli) = lineitem_both(args.sf)?;
    eprintln!(
        "lineitem sf={} ({} rows) generated for both in {:.1} s",
        args.sf,
        li.num_rows(),
        t.elapsed().as_secs_f64()
    );
    let dev = li.to(args.device)?;

    let (e_q6, e_rev) = time(args.reps, || ember::tpch::q6(&dev))?;
    let (p_q6, p_rev) = time(args.reps, || polars_q6(&pli))?;
    let (e_f, e_rows) = time(args.reps, || ember_filter(&dev).map(|b| b.num_rows()))?;
    let (p_f, p_rows) = time(args.reps, || polars_filter(&pli).map(|d| polars_shape(&d).0))?;
    let (e_q1, e_counts) = time(args.reps, || ember_q1(&dev))?;
    let (p_q1, p_counts) = time(args.reps, || polars_q1(&pli))?;
    if e_counts != p_counts {
        return Err(Error::Internal(format!("q1 counts differ: ember {e_counts:?}, polars {p_counts:?}")));
    }
    let (orders, porders) = orders_both(args.sf)?;
    let dev_orders = orders.to(args.device)?;
    let (e_j, e_jrows) = time(args.reps, || ember_join(&dev, &dev_orders))?;
    let (p_j, p_jrows) = time(args.reps, || polars_join(&pli, &porders))?;
    if e_jrows != p_jrows {
        return Err(Error::Internal(format!("join row counts differ: ember {e_jrows}, polars {p_jrows}")));
    }
    let (e_s, e_keys) = time(args.reps, || ember_sort(&dev).and_then(|d| ember_orderkeys(&d)))?;
    let (p_s, p_keys) = time(args.reps, || polars_sort(&pli).and_then(|d| polars_orderkeys(&d)))?;
    if e_keys != p_keys {
        return Err(Error::Internal(format!("sorted l_orderkey differ: ember {e_keys:?}, polars {p_keys:?}")));
    }
    // The eager API is `lazy()…collect()`: its cost over calling the op directly.
    let pred = col("l_quantity").lt(lit(24));
    let (e_op, e_eager) = time_pair(
        args.reps * 2,
        || ember::filter::filter(&dev, &pred).map(|d| d.num_rows()),
        || dev.filter(pred.clone()).map(|d| d.num_rows()),
    )?;
    // Q6 written eagerly (select, filter materialising four columns, then sum) vs the fused plan.
    let q6_eager = || {
        dev.lazy()
            .select([col("l_shipdate"), col("l_discount"), col("l_quantity"), col("l_extendedprice")])
            .collect()?
            .filter(ember::tpch::q6_predicate()?)?
            .sum(col("l_extendedprice") * col("l_discount"))
    };
    let (e_q6_eager, e_rev_eager) = time(args.reps, q6_eager)?;
    if e_rev_eager != e_rev {
        return Err(Error::Internal(format!("eager Q6 {e_rev_eager} != lazy Q6 {e_rev}")));
    }
    if e_rows != p_rows {
        return Err(Error::Internal(format!("filter row counts differ: ember {e_rows}, polars {p_rows}")));
    }

    println!(
        "machine: {} cores, {}; ember device: {}; lineitem sf={} ({} rows); median of {} runs after a warm-up",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model(),
        args.device,
        args.sf,
        li.num_rows(),
        args.reps
    );
    println!();
    println!("| case | ember ({}) s | polars s | ember / polars |", args.device);
    println!("|---|---|---|---|");
    println!("| q6 | {e_q6:.4} | {p_q6:.4} | {:.2} |", e_q6 / p_q6);
    println!("| q1 (group-by of 4 groups + sort) | {e_q1:.4} | {p_q1:.4} | {:.2} |", e_q1 / p_q1);
    println!(
        "| filter l_quantity < 24, 16 columns materialised ({e_rows} rows) | {e_f:.4} | {p_f:.4} | {:.2} |",
        e_f / p_f
    );
    println!(
        "| lineitem ⋈ orders on the order key, 24 columns ({e_jrows} rows) | {e_j:.4} | {p_j:.4} | {:.2} |",
        e_j / p_j
    );
    println!("| sort by l_extendedprice, 16 columns, stable | {e_s:.4} | {p_s:.4} | {:.2} |", e_s / p_s);
    println!();
    println!("| ember only ({}) | s | vs |", args.device);
    println!("|---|---|---|");
    println!(
        "| filter through the eager API (plan + optimizer) vs the op directly | {e_eager:.4} | {:.3}x |",
        e_eager / e_op
    );
    println!(
        "| q6 eager (filter materialises 4 columns, then sum) vs the fused plan | {e_q6_eager:.4} | {:.2}x |",
        e_q6_eager / e_q6
    );
    println!();
    println!("q6 revenue: ember {e_rev}, polars {p_rev}");
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
