//! PageRank, BFS or connected components on your own edge list.
//!
//! ```text
//! cargo run --release --example graph -- pagerank|bfs|cc --edges FILE [--src COL] [--dst COL]
//!     [--weight COL] [--undirected] [--multi-sum] [--alpha A] [--tol T | --l1-tol T] [--max-iter N]
//!     [--source V] [--device cpu|sim|cuda|cuda:N] [--repeat N] [--out result.csv]
//! ```
//!
//! The edge file is Parquet or CSV (by extension) with integer `src` and `dst` columns (other
//! names with `--src` / `--dst`) and optionally a numeric weight column. `--rmat SCALE [--seed S]`
//! (instead of `--edges`) uses a seeded Graph500 R-MAT graph (edge factor 16), the benchmark graph
//! of `docs/perf.md`; `--write-edges FILE` saves it for other tools. `--sources K` runs BFS from K
//! seeded random sources and prints the mean time per source. Times exclude reading the file.
//! `--repeat N` runs the algorithm N times and times each run: on a GPU the first run also
//! uploads the graph and loads the kernels, the later ones time the kernels alone.
//!
//! Output: PageRank `vertex,pagerank`; BFS `vertex,distance,parent` (empty where unreached);
//! components `vertex,component` (a component is named by its smallest vertex id).
use ember::arrow::array::{ArrayRef, Int64Array, RecordBatch};
use ember::graph::{Graph, GraphOptions, MultiEdges, PageRankOptions, Rmat, StopRule};
use ember::prelude::*;
use ember::{CsvWriteOptions, ParquetWriteOptions};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

#[derive(Default)]
struct Args {
    algo: String,
    edges: Option<String>,
    rmat: Option<u32>,
    seed: u64,
    src: String,
    dst: String,
    weight: Option<String>,
    undirected: bool,
    multi_sum: bool,
    pagerank: PageRankOptions,
    source: Option<i64>,
    sources: usize,
    device: Option<Device>,
    repeat: usize,
    out: Option<String>,
    write_edges: Option<String>,
}

const USAGE: &str = "usage: graph pagerank|bfs|cc (--edges FILE | --rmat SCALE [--seed S]) [--src COL] [--dst COL] [--weight COL] [--undirected] [--multi-sum] [--alpha A] [--tol T | --l1-tol T] [--max-iter N] [--source V | --sources K] [--device D] [--repeat N] [--out result.csv] [--write-edges FILE]";

fn parse_args() -> Result<Args> {
    let bad = |m: String| Error::InvalidArgument(m);
    let mut a = Args { src: "src".into(), dst: "dst".into(), seed: 1, repeat: 1, ..Default::default() };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| bad(format!("{arg} needs a value")));
        let num = |v: String| v.parse::<f64>().map_err(|_| bad(format!("{v:?} is not a number")));
        match arg.as_str() {
            "pagerank" | "bfs" | "cc" if a.algo.is_empty() => a.algo = arg.clone(),
            "--edges" => a.edges = Some(value()?),
            "--rmat" => a.rmat = Some(num(value()?)? as u32),
            "--seed" => a.seed = num(value()?)? as u64,
            "--src" => a.src = value()?,
            "--dst" => a.dst = value()?,
            "--weight" => a.weight = Some(value()?),
            "--undirected" => a.undirected = true,
            "--multi-sum" => a.multi_sum = true,
            "--alpha" => a.pagerank.alpha = num(value()?)?,
            "--tol" => a.pagerank.stop = StopRule::NetworkX { tol: num(value()?)? },
            "--l1-tol" => a.pagerank.stop = StopRule::L1 { tol: num(value()?)? },
            "--max-iter" => a.pagerank.max_iter = num(value()?)? as usize,
            "--source" => a.source = Some(value()?.parse().map_err(|_| bad("--source takes a vertex id".into()))?),
            "--sources" => a.sources = num(value()?)? as usize,
            "--device" => a.device = Some(value()?.parse()?),
            "--repeat" => a.repeat = (num(value()?)? as usize).max(1),
            "--out" => a.out = Some(value()?),
            "--write-edges" => a.write_edges = Some(value()?),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(bad(format!("unknown argument {other:?}\n{USAGE}"))),
        }
    }
    if a.algo.is_empty() || (a.edges.is_none() == a.rmat.is_none()) {
        return Err(bad(USAGE.into()));
    }
    Ok(a)
}

fn read_table(path: &str) -> Result<DataFrame> {
    match ember::io::FileFormat::from_path(std::path::Path::new(path))? {
        ember::io::FileFormat::Csv => read_csv(path, &CsvReadOptions::default()),
        _ => read_parquet(path, &ParquetReadOptions::default()),
    }
}

fn write_table(df: &DataFrame, path: &str) -> Result<()> {
    match ember::io::FileFormat::from_path(std::path::Path::new(path))? {
        ember::io::FileFormat::Csv => write_csv(df, path, &CsvWriteOptions::default()),
        _ => write_parquet(df, path, &ParquetWriteOptions::default()),
    }
}

fn run() -> Result<()> {
    let a = parse_args()?;
    let device = match a.device {
        Some(d) => d,
        None => Device::detect()?.0,
    };
    let mut opts = if a.undirected { GraphOptions::undirected() } else { GraphOptions::directed() };
    if a.multi_sum {
        opts = opts.multi_edges(MultiEdges::Sum);
    }
    let t = Instant::now();
    let g = match (&a.edges, a.rmat) {
        (Some(path), _) => {
            let df = read_table(path)?;
            let t = Instant::now();
            let g = Graph::from_frame(&df, &a.src, &a.dst, a.weight.as_deref(), &opts)?;
            eprintln!("read {path}: {} edge rows; graph built in {:.3} s", df.num_rows(), t.elapsed().as_secs_f64());
            g
        }
        (None, Some(scale)) => {
            let (s, d) = Rmat::graph500(scale, a.seed).edges();
            eprintln!("R-MAT scale {scale}: {} edges generated in {:.3} s", s.len(), t.elapsed().as_secs_f64());
            if let Some(path) = &a.write_edges {
                let col = |v: &[u32]| Arc::new(Int64Array::from_iter_values(v.iter().map(|&x| x as i64))) as ArrayRef;
                let batch = RecordBatch::try_from_iter([("src", col(&s)), ("dst", col(&d))])?;
                write_table(&DataFrame::from_record_batch(&batch)?, path)?;
                eprintln!("wrote {path}");
            }
            let t = Instant::now();
            let g = Graph::from_dense_edges(1 << scale, &s, &d, None, &opts)?;
            eprintln!("graph built in {:.3} s", t.elapsed().as_secs_f64());
            g
        }
        _ => unreachable!("checked in parse_args"),
    };
    eprintln!(
        "{} vertices, {} {} edges{} on {device}",
        g.num_vertices(),
        g.num_edges(),
        if g.is_directed() { "directed" } else { "undirected" },
        if g.is_weighted() { ", weighted" } else { "" }
    );
    let mut frame = None;
    for run in 1..=a.repeat {
        let t = Instant::now();
        let label = if a.repeat > 1 { format!("run {run}: ") } else { String::new() };
        frame = Some(run_once(&a, &g, device, t, &label)?);
    }
    if let (Some(out), Some(frame)) = (&a.out, &frame) {
        write_table(frame, out)?;
        eprintln!("wrote {out} ({} rows)", frame.num_rows());
    }
    Ok(())
}

/// One timed run of the algorithm (started at `t`); its lines begin with `label`.
fn run_once(a: &Args, g: &Graph, device: Device, t: Instant, label: &str) -> Result<DataFrame> {
    Ok(match a.algo.as_str() {
        "pagerank" => {
            let pr = g.pagerank(&a.pagerank, device)?;
            let s = t.elapsed().as_secs_f64();
            eprintln!(
                "{label}pagerank: {} iterations in {s:.3} s ({:.2} ms per iteration), last L1 change {:.3e}",
                pr.iterations,
                1e3 * s / pr.iterations.max(1) as f64,
                pr.residual
            );
            pr.to_frame()?
        }
        "bfs" => {
            let sources: Vec<i64> = match a.source {
                Some(s) => vec![s],
                None => {
                    // Seeded sources among vertices with out-edges (as the GAP suite picks them).
                    let k = a.sources.max(1);
                    let mut state = a.seed;
                    let mut picked = Vec::new();
                    while picked.len() < k && !g.out_edges().targets().is_empty() {
                        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        let v = ((state >> 33) % g.num_vertices() as u64) as usize;
                        if g.out_edges().degree(v) > 0 {
                            picked.push(g.id_of(v as u32));
                        }
                    }
                    picked
                }
            };
            let mut last = None;
            for &s in &sources {
                let bfs = g.bfs(s, device)?;
                eprintln!(
                    "bfs from {s}: {} vertices reached, depth {}",
                    bfs.reached(),
                    bfs.distances.iter().max().unwrap_or(&0)
                );
                last = Some(bfs);
            }
            let s = t.elapsed().as_secs_f64();
            eprintln!(
                "{label}bfs: {} source(s) in {s:.3} s ({:.2} ms per source)",
                sources.len(),
                1e3 * s / sources.len().max(1) as f64
            );
            match last {
                Some(b) => b.to_frame()?,
                None => return Err(Error::InvalidArgument("the graph has no edges to start a BFS from".into())),
            }
        }
        _ => {
            let cc = g.connected_components(device)?;
            eprintln!("{label}components: {} in {:.3} s", cc.count(), t.elapsed().as_secs_f64());
            cc.to_frame()?
        }
    })
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
