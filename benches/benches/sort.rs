//! Sort TPC-H lineitem (all 16 columns) by `l_extendedprice`, stable: ember's CPU engine vs
//! polars (`maintain_order`), same data, same process. Scale factor from `EMBER_BENCH_SF`
//! (default 1).
use criterion::{criterion_group, criterion_main, Criterion};
use ember_bench::{ember_sort, lineitem_both, polars_shape, polars_sort};
use std::hint::black_box;

fn sf() -> f64 {
    std::env::var("EMBER_BENCH_SF").ok().and_then(|v| v.parse().ok()).unwrap_or(1.0)
}

fn bench(c: &mut Criterion) {
    let sf = sf();
    let (li, pli) = lineitem_both(sf).expect("lineitem");
    let mut g = c.benchmark_group(format!("sort by l_extendedprice, 16 columns, sf={sf}"));
    g.sample_size(10);
    g.bench_function("ember cpu", |b| b.iter(|| black_box(ember_sort(&li).expect("ember").num_rows())));
    g.bench_function("polars", |b| b.iter(|| black_box(polars_shape(&polars_sort(&pli).expect("polars")))));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
