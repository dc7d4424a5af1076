//! TPC-H Q6 on lineitem: ember's CPU engine vs polars (same data, same process), and ember on the
//! simulated device at a small scale (the emulator is a correctness tool, not a fast path).
//! Scale factor from `EMBER_BENCH_SF` (default 1).
use criterion::{criterion_group, criterion_main, Criterion};
use ember::prelude::*;
use ember_bench::{lineitem_both, polars_tpch};
use polars::prelude::IntoLazy;
use std::hint::black_box;

fn sf() -> f64 {
    std::env::var("EMBER_BENCH_SF").ok().and_then(|v| v.parse().ok()).unwrap_or(1.0)
}

fn bench(c: &mut Criterion) {
    let sf = sf();
    let (li, pli) = lineitem_both(sf).expect("lineitem");
    let mut g = c.benchmark_group(format!("q6 sf={sf}"));
    g.sample_size(10);
    g.bench_function("ember cpu", |b| b.iter(|| black_box(ember::tpch::q6(&li).expect("ember"))));
    g.bench_function("polars", |b| {
        b.iter(|| black_box(polars_tpch::q6(pli.clone().lazy()).collect().expect("polars")))
    });
    g.finish();

    let small = ember::tpch::lineitem(0.01).expect("lineitem").to(Device::Sim).expect("sim");
    let mut g = c.benchmark_group("q6 sf=0.01 simulated device");
    g.sample_size(10);
    g.bench_function("ember sim", |b| b.iter(|| black_box(ember::tpch::q6(&small).expect("sim"))));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
