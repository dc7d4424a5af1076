//! GBDT on the CPU engine: one boosting round (depth 6, 256 bins) on a seeded synthetic binary
//! set (`Dataset::synthetic_binary`, `EMBER_BENCH_GBDT_ROWS` rows, default 200k), and prediction of
//! 100k rows by 100 trees. The comparison with xgboost and LightGBM (Python peers) is
//! `benches/gbdt_vs_xgboost.py`.
use criterion::{criterion_group, criterion_main, Criterion};
use ember::gbdt::{train, Dataset, Objective, Params, PredictOptions};
use ember::Device;
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let rows = std::env::var("EMBER_BENCH_GBDT_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000);
    let ds = Dataset::synthetic_binary(rows, 1);
    let mut g = c.benchmark_group(format!("gbdt {rows}x28 binary:logistic"));
    g.sample_size(10);
    let one_round = Params::new(Objective::Logistic).rounds(1).max_depth(6).eta(0.1);
    g.bench_function("ember cpu: bin + 1 round", |b| {
        b.iter(|| black_box(train(&ds, None, &one_round, Device::Cpu).expect("train").rounds()))
    });
    let model = train(&ds, None, &Params::new(Objective::Logistic).rounds(100).eta(0.1), Device::Cpu).expect("train");
    let test = Dataset::synthetic_binary(100_000, 2);
    g.bench_function("ember cpu: predict 100k rows, 100 trees", |b| {
        b.iter(|| {
            black_box(model.predict(test.features(), PredictOptions::default(), Device::Cpu).expect("predict").len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
