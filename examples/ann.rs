//! Build a nearest-neighbour index over your own vectors and search it.
//!
//! ```text
//! cargo run --release --example ann -- build --base FILE --out index.ember [--metric l2|ip|cosine]
//!     [--m M] [--ef-construction E] [--storage f32|f16] [--column COL]
//! cargo run --release --example ann -- search --index index.ember --queries FILE --k 10 [--ef E]
//!     [--device D] [--truth exact] [--open read|mmap] --out ids.csv
//! cargo run --release --example ann -- exact --base FILE --queries FILE --k 10 [--device D] --out ids.csv
//! cargo run --release --example ann -- recall --index index.ember --base FILE --queries FILE [--k 10]
//!     [--batch 1000] [--targets 0.9,0.95,0.97,0.99] [--confidence 0.95]
//! ```
//!
//! Vectors come from `.npy` files (a 2-D float32 or float64 array, C order) or Parquet files
//! (a `FixedSizeList<float>` column, `--column` when there are several). `search` prints the time
//! and QPS; `--truth exact` also computes the exact answer (FlatIndex) and prints recall@k. The
//! output CSV has one row per query: `query,rank,label,distance`. A path `synthetic:N:DIM[:SEED]`
//! stands for seeded clustered vectors (a machine without data files: the GPU check uses it). `--target-recall R`
//! (instead of `--ef`) picks `ef` from the recall curve the index measures on itself (see
//! `HnswIndex::search_with_recall`); `--confidence C` is the share of batches that should reach
//! it (default 0.95; 0.5 aims the batch's mean recall at the target itself). `--device cuda|sim`
//! searches on the GPU path (a graph search of the whole batch in one launch; `ef` at most 256);
//! the default is the GPU when there is one.
//! `recall` checks the target-recall knob on your queries (split into batches): per target, the
//! mean recall, the share of batches that meet it, the mean `ef`, and the QPS against the QPS of
//! a fixed `ef` at the same recall (interpolated on a sweep of fixed `ef`s), as a markdown table.
//! `--open mmap` memory-maps the index file (`HnswIndex::load_mapped`) instead of reading it.
use ember::ann::{FlatIndex, HnswIndex, HnswParams, Metric, RecallTarget, SearchResult, Storage, Vectors, NO_LABEL};
use ember::arrow;
use ember::prelude::*;
use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Instant;

const USAGE: &str = "usage: ann build --base FILE --out index.ember [--metric M] [--m M] [--ef-construction E] [--storage f32|f16] [--column C]\n       ann search --index index.ember --queries FILE --k K [--ef E | --target-recall R [--confidence C]] [--device D] [--truth exact --base FILE] [--open read|mmap] [--out ids.csv]\n       ann exact --base FILE --queries FILE --k K [--metric M] [--device D] [--out ids.csv]\n       ann recall --index index.ember --base FILE --queries FILE [--k K] [--batch B] [--targets T,T,...] [--confidence C]";

/// A 2-D float array from a `.npy` file (format 1.0-3.0, little-endian f4 / f8, C order).
fn read_npy(path: &str) -> Result<Vectors> {
    let bytes = std::fs::read(path).map_err(|e| Error::Io { path: path.into(), source: e })?;
    let bad = |m: &str| Error::Read { path: path.into(), at: Box::default(), message: m.into() };
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("not a .npy file"));
    }
    let (hlen, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        _ if bytes.len() >= 12 => (u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes")) as usize, 12),
        _ => return Err(bad("truncated header")),
    };
    let header = std::str::from_utf8(bytes.get(start..start + hlen).ok_or_else(|| bad("truncated header"))?)
        .map_err(|_| bad("header is not text"))?;
    if header.contains("'fortran_order': True") {
        return Err(bad("Fortran-order arrays are not supported; save with np.ascontiguousarray"));
    }
    let width = if header.contains("'<f4'") {
        4
    } else if header.contains("'<f8'") {
        8
    } else {
        return Err(bad("dtype must be little-endian float32 or float64"));
    };
    let shape: Vec<usize> = header
        .split("'shape':")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .map(|s| s.trim().trim_start_matches('(').split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .ok_or_else(|| bad("no shape"))?;
    let [rows, dim] = shape[..] else { return Err(bad("the array must be 2-D (rows x dimension)")) };
    let data = &bytes[start + hlen..];
    if data.len() != rows * dim * width {
        return Err(bad(&format!("{} data bytes for shape ({rows}, {dim})", data.len())));
    }
    let values: Vec<f32> = if width == 4 {
        data.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))).collect()
    } else {
        data.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32).collect()
    };
    Vectors::from_row_major(values, dim)
}

/// `synthetic:N:DIM[:SEED]`: seeded clustered vectors (64 centres), for machines without data.
fn synthetic(spec: &str) -> Result<Vectors> {
    let parts: Vec<u64> = spec.split(':').skip(1).map(|x| x.parse().unwrap_or(0)).collect();
    let (n, dim, seed) = match parts[..] {
        [n, d] => (n as usize, d as usize, 1),
        [n, d, s] => (n as usize, d as usize, s),
        _ => return Err(Error::InvalidArgument(format!("{spec:?}: use synthetic:N:DIM[:SEED]"))),
    };
    let mut s = 0x9E37_79B9_7F4A_7C15u64 ^ seed;
    let mut next = move || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5
    };
    let mut c = 0x5EEDu64;
    let centres: Vec<f32> = (0..64 * dim)
        .map(|_| {
            c = c.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((c >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 8.0
        })
        .collect();
    let data =
        (0..n).flat_map(|i| (0..dim).map(|j| centres[(i % 64) * dim + j] + next()).collect::<Vec<_>>()).collect();
    Vectors::from_row_major(data, dim)
}

fn read_vectors(path: &str, column: Option<&str>) -> Result<Vectors> {
    if path.starts_with("synthetic:") {
        return synthetic(path);
    }
    if path.ends_with(".npy") {
        return read_npy(path);
    }
    let df = read_parquet(path, &ParquetReadOptions::default())?;
    let name = match column {
        Some(c) => c.to_string(),
        None => {
            let schema = df.schema().clone();
            let lists: Vec<&str> = schema
                .fields()
                .iter()
                .filter(|f| matches!(f.data_type(), arrow::datatypes::DataType::FixedSizeList(_, _)))
                .map(|f| f.name().as_str())
                .collect();
            match lists[..] {
                [one] => one.to_string(),
                _ => {
                    return Err(Error::InvalidArgument(format!(
                        "{path}: name the vector column with --column ({lists:?})"
                    )))
                }
            }
        }
    };
    Vectors::from_frame(&df, &name)
}

fn write_result(path: &str, r: &SearchResult) -> Result<()> {
    let mut out = String::from("query,rank,label,distance\n");
    for q in 0..r.queries() {
        for j in 0..r.k {
            let l = r.labels[q * r.k + j];
            if l != NO_LABEL {
                out.push_str(&format!("{q},{j},{l},{}\n", r.distances[q * r.k + j]));
            }
        }
    }
    std::fs::write(path, out).map_err(|e| Error::Io { path: path.into(), source: e })
}

/// `--confidence` (default 0.95: the share of batches that should reach a target recall).
fn confidence(v: Option<&str>) -> Result<f64> {
    v.map_or(Ok(0.95), |v| v.parse().map_err(|_| Error::InvalidArgument(format!("--confidence {v:?} is not a number"))))
}

/// The `recall` command (see the module documentation).
fn recall_check(
    idx: &HnswIndex,
    (base, q): (&Vectors, &Vectors),
    k: usize,
    batch: usize,
    targets: &str,
    confidence: f64,
) -> Result<()> {
    let targets: Vec<f64> = targets
        .split(',')
        .map(|t| t.trim().parse().map_err(|_| Error::InvalidArgument(format!("--targets: {t:?} is not a number"))))
        .collect::<Result<_>>()?;
    let mut flat = FlatIndex::new(base.dim(), idx.metric())?;
    flat.add(base, None)?;
    let truth = flat.search(q, k, None, Device::Cpu)?.labels;
    let dim = q.dim();
    let batch = batch.clamp(1, q.len().max(1));
    let batches: Vec<(Vectors, &[u64])> = (0..q.len() / batch)
        .map(|b| {
            let rows = b * batch..(b + 1) * batch;
            let v = Vectors::from_row_major(q.values()[rows.start * dim..rows.end * dim].to_vec(), dim)?;
            Ok((v, &truth[rows.start * k..rows.end * k]))
        })
        .collect::<Result<_>>()?;
    let n = (batches.len() * batch) as f64;
    // Best of three timed passes over the batches: (seconds, recall per batch, mean ef).
    let timed = |search: &dyn Fn(&Vectors) -> Result<(SearchResult, f64)>| -> Result<(f64, Vec<f64>, f64)> {
        let mut best = (f64::INFINITY, Vec::new(), 0.0);
        for _ in 0..3 {
            let t = Instant::now();
            let mut out = Vec::with_capacity(batches.len());
            for (v, _) in &batches {
                out.push(search(v)?);
            }
            let s = t.elapsed().as_secs_f64();
            if s < best.0 {
                let ef = out.iter().map(|o| o.1).sum::<f64>() / out.len().max(1) as f64;
                best = (s, out.iter().zip(&batches).map(|(o, (_, tr))| o.0.recall(tr)).collect(), ef);
            }
        }
        Ok(best)
    };
    idx.recall_curve(k)?; // measured outside the timed searches
    let mean = |r: &[f64]| r.iter().sum::<f64>() / r.len().max(1) as f64;
    // `(ef, mean recall, QPS)` of fixed `ef`s from `k` up (`search` takes at least `k`).
    let mut fixed = Vec::new();
    let mut efs: Vec<usize> =
        [10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 128, 192, 256, 384, 512].map(|e| e.max(k)).to_vec();
    efs.dedup();
    for ef in efs {
        let (s, r, _) = timed(&|v| Ok((idx.search(v, k, ef, None)?, ef as f64)))?;
        fixed.push((ef, mean(&r), n / s));
    }
    // The index's own curve (its held-out probes) beside the recall of these queries.
    eprintln!("ef: recall of the index's probes / of these queries");
    for (ef, r) in idx.recall_curve(k)? {
        if let Some(f) = fixed.iter().find(|f| f.0 == ef) {
            eprintln!("{ef}: {r:.4} / {:.4}", f.1);
        }
    }
    println!("| target | mean recall@{k} | batches of {batch} meeting it | mean ef | QPS | fixed-ef QPS at that recall | ratio |");
    println!("|---|---|---|---|---|---|---|");
    for t in targets {
        let (s, r, ef) = timed(&|v| idx.search_with_recall(v, k, RecallTarget::batches(t, confidence), None))?;
        let (m, qps) = (mean(&r), n / s);
        let met = r.iter().filter(|&&x| x >= t).count() as f64 / r.len().max(1) as f64;
        // The fixed-ef QPS at recall `m`, linear between the sweep's points around it.
        let at = fixed.windows(2).find(|w| w[0].1 <= m && m <= w[1].1).map(|w| {
            let ((_, r0, q0), (_, r1, q1)) = (w[0], w[1]);
            q0 + (q1 - q0) * (m - r0) / (r1 - r0).max(1e-12)
        });
        let (at, ratio) = at.map_or(("-".into(), "-".into()), |a| (format!("{a:.0}"), format!("{:.2}", qps / a)));
        println!("| {t} | {m:.4} | {:.0}% | {ef:.1} | {qps:.0} | {at} | {ratio} |", met * 100.0);
    }
    Ok(())
}

fn run() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let cmd = args.next().ok_or_else(|| Error::InvalidArgument(USAGE.into()))?;
    let mut opt: HashMap<String, String> = HashMap::new();
    while let Some(a) = args.next() {
        if a == "-h" || a == "--help" {
            println!("{USAGE}");
            return Ok(());
        }
        let v = args.next().ok_or_else(|| Error::InvalidArgument(format!("{a} needs a value\n{USAGE}")))?;
        opt.insert(a.trim_start_matches("--").to_string(), v);
    }
    let get = |k: &str| opt.get(k).map(String::as_str);
    let need = |k: &str| get(k).ok_or_else(|| Error::InvalidArgument(format!("--{k} is required\n{USAGE}")));
    let num = |k: &str, d: usize| -> Result<usize> {
        get(k).map_or(Ok(d), |v| v.parse().map_err(|_| Error::InvalidArgument(format!("--{k} {v:?} is not a number"))))
    };
    let metric = Metric::parse(get("metric").unwrap_or("l2"))?;
    match cmd.as_str() {
        "build" => {
            let base = read_vectors(need("base")?, get("column"))?;
            let params =
                HnswParams { m: num("m", 16)?, ef_construction: num("ef-construction", 200)?, ..Default::default() };
            let t = Instant::now();
            let storage = match get("storage").unwrap_or("f32") {
                "f32" => Storage::F32,
                "f16" => Storage::F16,
                other => return Err(Error::InvalidArgument(format!("--storage {other:?} (f32 or f16)"))),
            };
            let mut idx = HnswIndex::with_storage(base.dim(), metric, params, storage)?;
            idx.add(&base, None)?;
            eprintln!(
                "built HNSW over {} x {} ({}) in {:.2} s, {:.1} MiB",
                base.len(),
                base.dim(),
                metric.name(),
                t.elapsed().as_secs_f64(),
                idx.memory_bytes() as f64 / (1 << 20) as f64
            );
            idx.save(need("out")?)?;
            eprintln!("wrote {}", need("out")?);
        }
        "search" => {
            let t = Instant::now();
            let idx = match get("open").unwrap_or("read") {
                "read" => HnswIndex::load(need("index")?)?,
                "mmap" => HnswIndex::load_mapped(need("index")?)?,
                other => return Err(Error::InvalidArgument(format!("--open {other:?} (read or mmap)"))),
            };
            eprintln!(
                "opened {} ({} vectors{}) in {:.3} s",
                need("index")?,
                idx.len(),
                if idx.is_mapped() { ", mapped" } else { "" },
                t.elapsed().as_secs_f64()
            );
            let q = read_vectors(need("queries")?, get("column"))?;
            let k = num("k", 10)?;
            let target = match get("target-recall") {
                Some(v) => Some(RecallTarget::batches(
                    v.parse::<f64>()
                        .map_err(|_| Error::InvalidArgument(format!("--target-recall {v:?} is not a number")))?,
                    confidence(get("confidence"))?,
                )),
                None => None,
            };
            if target.is_some() {
                // Measured once before the timed search (kept in the index for later searches).
                let t = Instant::now();
                idx.recall_curve(k)?;
                eprintln!("measured the index's recall curve at k {k} in {:.2} s", t.elapsed().as_secs_f64());
            }
            let device = match get("device") {
                Some(d) => d.parse()?,
                None => Device::detect()?.0,
            };
            // With a target on the CPU, `search_with_recall` (a fractional `ef`: part of the
            // batch at the next integer); on the GPU path one `ef` for the batch, its ceiling.
            let ef: f64 = match target {
                Some(target) if idx.len() >= 2 && k > 0 => idx.ef_for_recall(k, target, q.len())?,
                Some(_) => k as f64,
                None => num("ef", 64)? as f64,
            };
            // The GPU path's list is at most `gpu_max_ef` long.
            let whole = if device == Device::Cpu {
                ef.ceil() as usize
            } else {
                (ef.ceil() as usize).min(idx.gpu_max_ef()).max(k)
            };
            if device != Device::Cpu {
                // Uploads the graph and compiles the kernel outside the timed search.
                idx.search_on(&Vectors::from_row_major(q.row(0).to_vec(), q.dim())?, k, whole, None, device)?;
            }
            let t = Instant::now();
            let r = match target {
                Some(target) if device == Device::Cpu => idx.search_with_recall(&q, k, target, None)?.0,
                _ => idx.search_on(&q, k, whole, None, device)?,
            };
            let s = t.elapsed().as_secs_f64();
            let shown = if device == Device::Cpu { ef } else { whole as f64 };
            eprintln!(
                "{} queries on {device}, k {k}, ef {shown:.1}: {s:.3} s ({:.0} QPS)",
                q.len(),
                q.len() as f64 / s
            );
            if get("truth") == Some("exact") {
                let base = read_vectors(need("base")?, get("column"))?;
                let mut flat = FlatIndex::new(base.dim(), idx.metric())?;
                flat.add(&base, None)?;
                let truth = flat.search(&q, k, None, Device::Cpu)?;
                eprintln!("recall@{k}: {:.4}", r.recall(&truth.labels));
            }
            if let Some(out) = get("out") {
                write_result(out, &r)?;
                eprintln!("wrote {out}");
            }
        }
        "recall" => recall_check(
            &HnswIndex::load(need("index")?)?,
            (&read_vectors(need("base")?, get("column"))?, &read_vectors(need("queries")?, get("column"))?),
            num("k", 10)?,
            num("batch", 1000)?,
            get("targets").unwrap_or("0.9,0.95,0.97,0.99"),
            confidence(get("confidence"))?,
        )?,
        "exact" => {
            let base = read_vectors(need("base")?, get("column"))?;
            let q = read_vectors(need("queries")?, get("column"))?;
            let device = match get("device") {
                Some(d) => d.parse()?,
                None => Device::detect()?.0,
            };
            let mut flat = FlatIndex::new(base.dim(), metric)?;
            flat.add(&base, None)?;
            let k = num("k", 10)?;
            if device != Device::Cpu {
                // Uploads the base vectors and compiles the kernel outside the timed search.
                flat.search(&Vectors::from_row_major(q.row(0).to_vec(), q.dim())?, k, None, device)?;
            }
            let t = Instant::now();
            let r = flat.search(&q, k, None, device)?;
            let s = t.elapsed().as_secs_f64();
            eprintln!("exact search on {device}: {} queries in {s:.3} s ({:.0} QPS)", q.len(), q.len() as f64 / s);
            if let Some(out) = get("out") {
                write_result(out, &r)?;
                eprintln!("wrote {out}");
            }
        }
        other => return Err(Error::InvalidArgument(format!("unknown command {other:?}\n{USAGE}"))),
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
