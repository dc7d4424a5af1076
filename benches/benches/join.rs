//! Join TPC-H lineitem with orders on the order key (inner, all 24 columns), and customer with
//! orders on the customer key (anti: the customers without orders): ember's CPU engine vs polars,
//! same data, same process (the `ember-bench ops` cases). Scale factor from `EMBER_BENCH_SF`
//! (default 1).
use criterion::{criterion_group, criterion_main, Criterion};
use ember_bench::{customer_both, ember_join, lineitem_both, orders_both, polars_join, BenchJoin};
use std::hint::black_box;

fn sf() -> f64 {
    std::env::var("EMBER_BENCH_SF").ok().and_then(|v| v.parse().ok()).unwrap_or(1.0)
}

fn bench(c: &mut Criterion) {
    let sf = sf();
    let (li, pli) = lineitem_both(sf).expect("lineitem");
    let (orders, porders) = orders_both(sf).expect("orders");
    let (customer, pcustomer) = customer_both(sf).expect("customer");
    let cases = [
        ("join lineitem ⋈ orders on the order key", (&li, &pli), BenchJoin::LineitemOrders),
        ("anti join customer ▷ orders on the customer key", (&customer, &pcustomer), BenchJoin::CustomersWithoutOrders),
    ];
    for (name, (left, pleft), join) in cases {
        let mut g = c.benchmark_group(format!("{name}, sf={sf}"));
        g.sample_size(10);
        g.bench_function("ember cpu", |b| b.iter(|| black_box(ember_join(left, &orders, join).expect("ember"))));
        g.bench_function("polars", |b| b.iter(|| black_box(polars_join(pleft, &porders, join).expect("polars"))));
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
