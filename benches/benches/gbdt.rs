//! GBDT on the CPU engine: one boosting round (depth 6, 256 bins) on a seeded synthetic binary
//! set (`EMBER_BENCH_GBDT_ROWS` rows, default 200k, 28 features, 5% missing), and prediction of
//! 100k rows by 100 trees. The comparison with xgboost and LightGBM (Python peers) is
//! `benches/gbdt_vs_xgboost.py`.
use criterion::{criterion_group, criterion_main, Criterion};
use ember::gbdt::{train, Dataset, Features, Objective, Params, PredictOptions};
use ember::Device;
use std::hint::black_box;

fn synthetic(rows: usize, cols: usize, seed: u64) -> Dataset {
    let mut s = seed;
    let mut next = move || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((s >> 11) as f64 / (1u64 << 53) as f64) as f32
    };
    let mut x = Vec::with_capacity(rows * cols);
    let mut y = Vec::with_capacity(rows);
    for _ in 0..rows {
        let row: Vec<f32> = (0..cols).map(|_| next() * 4.0 - 2.0).collect();
        let score = 1.5 * row[0] - row[1] + 0.8 * row[2] * row[3] + (2.0 * row[4]).sin() + next() - 0.5;
        y.push((score > 0.0) as u8 as f32);
        x.extend(row.into_iter().map(|v| if next() < 0.05 { f32::NAN } else { v }));
    }
    Dataset::new(Features::from_row_major(x, rows, cols).expect("shape"), y).expect("labels")
}

fn bench(c: &mut Criterion) {
    let rows = std::env::var("EMBER_BENCH_GBDT_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000);
    let ds = synthetic(rows, 28, 1);
    let mut g = c.benchmark_group(format!("gbdt {rows}x28 binary:logistic"));
    g.sample_size(10);
    let one_round = Params::new(Objective::Logistic).rounds(1).max_depth(6).eta(0.1);
    g.bench_function("ember cpu: bin + 1 round", |b| {
        b.iter(|| black_box(train(&ds, None, &one_round, Device::Cpu).expect("train").rounds()))
    });
    let model = train(&ds, None, &Params::new(Objective::Logistic).rounds(100).eta(0.1), Device::Cpu).expect("train");
    let test = synthetic(100_000, 28, 2);
    g.bench_function("ember cpu: predict 100k rows, 100 trees", |b| {
        b.iter(|| {
            black_box(model.predict(test.features(), PredictOptions::default(), Device::Cpu).expect("predict").len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
