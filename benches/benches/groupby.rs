//! Group TPC-H lineitem by its two flags (4 groups: sum and count) and by the order key
//! (sf × 1.5M groups: sum): ember's CPU engine vs polars, same data, same process (the
//! `ember-bench ops` cases; TPC-H Q1, a filter fused into a group-by, is in `ember-bench tpch`).
//! Scale factor from `EMBER_BENCH_SF` (default 1).
use criterion::{criterion_group, criterion_main, Criterion};
use ember_bench::{ember_group_by, lineitem_both, polars_group_by, polars_shape};
use std::hint::black_box;

fn sf() -> f64 {
    std::env::var("EMBER_BENCH_SF").ok().and_then(|v| v.parse().ok()).unwrap_or(1.0)
}

fn bench(c: &mut Criterion) {
    let sf = sf();
    let (li, pli) = lineitem_both(sf).expect("lineitem");
    for (few, name) in [(true, "4 groups"), (false, "the order key")] {
        let mut g = c.benchmark_group(format!("group-by {name}, sf={sf}"));
        g.sample_size(10);
        g.bench_function("ember cpu", |b| b.iter(|| black_box(ember_group_by(&li, few).expect("ember").num_rows())));
        g.bench_function("polars", |b| {
            b.iter(|| black_box(polars_shape(&polars_group_by(&pli, few).expect("polars"))))
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
