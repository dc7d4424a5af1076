//! Reads one Parquet file (or some of its columns) again and again and prints each read's time:
//! the steady state of the CPU reader, for a profiler (`perf record -D 3000` skips the first,
//! cold reads). Allocates through mimalloc, as `ember-bench` does.
//!
//! ```sh
//! cargo run --release -p ember-bench --example parquet_read_loop -- lineitem.parquet [COL,COL,..] [READS]
//! ```
#[global_allocator]
static A: ember_bench::alloc::Counting = ember_bench::alloc::Counting;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: parquet_read_loop FILE [COL,COL,..] [READS]")?;
    let mut opts = ember::ParquetReadOptions::default();
    if let Some(cols) = args.next().filter(|c| !c.is_empty()) {
        opts = opts.with_columns(cols.split(',').map(String::from));
    }
    let reads: usize = args.next().map(|n| n.parse()).transpose()?.unwrap_or(12);
    for _ in 0..reads {
        let t = std::time::Instant::now();
        let df = ember::read_parquet(&path, &opts)?;
        println!("{} rows, {} columns: {:.3} s", df.num_rows(), df.num_columns(), t.elapsed().as_secs_f64());
    }
    Ok(())
}
