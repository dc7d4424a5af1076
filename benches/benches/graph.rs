//! Graph analytics on the CPU engine, on a seeded Graph500 R-MAT graph (`EMBER_BENCH_GRAPH_SCALE`,
//! default 18, edge factor 16, directed): building the graph from edges, 20 PageRank iterations
//! (an L1 tolerance of 0 never stops early, so the call ends with `NotConverged` after exactly 20),
//! BFS from one source, connected components. The
//! comparison with networkit, igraph and networkx is `benches/graph_vs_peers.py`.
use criterion::{criterion_group, criterion_main, Criterion};
use ember::graph::{Graph, GraphOptions, PageRankOptions, Rmat, StopRule};
use ember::Device;
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let scale = std::env::var("EMBER_BENCH_GRAPH_SCALE").ok().and_then(|v| v.parse().ok()).unwrap_or(18);
    let (s, d) = Rmat::graph500(scale, 1).edges();
    let n = 1usize << scale;
    let mut grp = c.benchmark_group(format!("graph R-MAT {scale}"));
    grp.sample_size(10);
    grp.bench_function("build CSR + CSC", |b| {
        b.iter(|| {
            black_box(Graph::from_dense_edges(n, &s, &d, None, &GraphOptions::directed()).expect("graph").num_edges())
        })
    });
    let g = Graph::from_dense_edges(n, &s, &d, None, &GraphOptions::directed()).expect("graph");
    // tol 0 never stops early; max_iter 20 then fails with NotConverged after exactly 20 iterations.
    let twenty = PageRankOptions { stop: StopRule::L1 { tol: 0.0 }, max_iter: 20, ..Default::default() };
    grp.bench_function("pagerank: 20 iterations", |b| b.iter(|| black_box(g.pagerank(&twenty, Device::Cpu).is_err())));
    grp.bench_function("bfs: one source", |b| {
        b.iter(|| black_box(g.bfs(s[0] as i64, Device::Cpu).expect("bfs").reached()))
    });
    grp.bench_function("connected components", |b| {
        b.iter(|| black_box(g.connected_components(Device::Cpu).expect("cc").count()))
    });
    grp.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
