//! Filter `l_quantity < 24` on TPC-H lineitem with all 16 columns materialised: ember's CPU engine
//! vs polars vs arrow-rs (`lt` + `filter_record_batch`), same data, same process.
//! Scale factor from `EMBER_BENCH_SF` (default 1).
use criterion::{criterion_group, criterion_main, Criterion};
use ember_bench::{arrow_filter, arrow_shape, ember_filter, lineitem_both, polars_filter, polars_shape};
use std::hint::black_box;

fn sf() -> f64 {
    std::env::var("EMBER_BENCH_SF").ok().and_then(|v| v.parse().ok()).unwrap_or(1.0)
}

fn bench(c: &mut Criterion) {
    let sf = sf();
    let (li, pli) = lineitem_both(sf).expect("lineitem");
    let batch = li.to_record_batch().expect("batch");
    let mut g = c.benchmark_group(format!("filter l_quantity < 24, 16 columns, sf={sf}"));
    g.sample_size(10);
    g.bench_function("ember cpu", |b| b.iter(|| black_box(ember_filter(&li).expect("ember").num_rows())));
    g.bench_function("polars", |b| b.iter(|| black_box(polars_shape(&polars_filter(&pli).expect("polars")))));
    g.bench_function("arrow-rs filter_record_batch", |b| {
        b.iter(|| black_box(arrow_shape(&arrow_filter(&batch).expect("arrow"))))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
