#[global_allocator]
static A: ember_bench::alloc::Counting = ember_bench::alloc::Counting;
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let cols: Option<Vec<String>> = std::env::args().nth(2).map(|s| s.split(',').map(String::from).collect());
    let mut opts = ember::ParquetReadOptions::default();
    if let Some(c) = cols {
        opts = opts.with_columns(c);
    }
    for _ in 0..12 {
        let t = std::time::Instant::now();
        let df = ember::read_parquet(&path, &opts).unwrap();
        eprintln!("{} rows {:.3}s", df.num_rows(), t.elapsed().as_secs_f64());
    }
}
