//! Vector search on the CPU engine: HNSW build (M 16, efConstruction 200), a batch of 1000
//! queries at ef 64, and exact (flat) search of 100 queries, on seeded clustered vectors
//! (`EMBER_BENCH_ANN_N` base vectors, default 20k, dimension 128). The comparison with hnswlib and
//! faiss is `benches/ann_vs_hnswlib.py`.
use criterion::{criterion_group, criterion_main, Criterion};
use ember::ann::{FlatIndex, HnswIndex, HnswParams, Metric, Vectors};
use ember::Device;
use std::hint::black_box;

fn clustered(n: usize, dim: usize, seed: u64) -> Vectors {
    let mut s = seed;
    let mut next = move || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5
    };
    let centres: Vec<f32> = (0..64 * dim).map(|_| next() * 8.0).collect();
    let data =
        (0..n).flat_map(|i| (0..dim).map(|j| centres[(i % 64) * dim + j] + next()).collect::<Vec<_>>()).collect();
    Vectors::from_row_major(data, dim).expect("whole vectors")
}

fn bench(c: &mut Criterion) {
    let n = std::env::var("EMBER_BENCH_ANN_N").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    let base = clustered(n, 128, 1);
    let queries = clustered(1000, 128, 2);
    let mut g = c.benchmark_group(format!("ann {n}x128"));
    g.sample_size(10);
    g.bench_function("hnsw build", |b| {
        b.iter(|| {
            let mut idx = HnswIndex::new(128, Metric::L2, HnswParams::default()).expect("index");
            idx.add(&base, None).expect("add");
            black_box(idx.len())
        })
    });
    let mut idx = HnswIndex::new(128, Metric::L2, HnswParams::default()).expect("index");
    idx.add(&base, None).expect("add");
    g.bench_function("hnsw search 1000 queries, ef 64", |b| {
        b.iter(|| black_box(idx.search(&queries, 10, 64, None).expect("search").labels[0]))
    });
    let mut flat = FlatIndex::new(128, Metric::L2).expect("index");
    flat.add(&base, None).expect("add");
    let hundred = Vectors::from_row_major(queries.values()[..100 * 128].to_vec(), 128).expect("rows");
    g.bench_function("flat search 100 queries", |b| {
        b.iter(|| black_box(flat.search(&hundred, 10, None, Device::Cpu).expect("search").labels[0]))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
