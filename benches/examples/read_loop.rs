//! Reads one Parquet or CSV file (by extension; or some of its columns) again and again and
//! prints each read's time: the steady state of the CPU readers, for a profiler (`perf record -D
//! 3000` skips the first, cold reads). Allocates through mimalloc, as `ember-bench` does.
//!
//! ```sh
//! cargo run --release -p ember-bench --example read_loop -- lineitem.parquet|lineitem.csv [COL,COL,..] [READS]
//! ```
#[global_allocator]
static A: ember_bench::alloc::Counting = ember_bench::alloc::Counting;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: read_loop FILE [COL,COL,..] [READS]")?;
    let columns: Option<Vec<String>> =
        args.next().filter(|c| !c.is_empty()).map(|c| c.split(',').map(String::from).collect());
    let reads: usize = args.next().map(|n| n.parse()).transpose()?.unwrap_or(12);
    let csv = path.ends_with(".csv");
    for _ in 0..reads {
        let t = std::time::Instant::now();
        let df = if csv {
            let mut opts = ember::CsvReadOptions::default();
            if let Some(c) = &columns {
                opts = opts.with_columns(c.iter().cloned());
            }
            ember::read_csv(&path, &opts)?
        } else {
            let mut opts = ember::ParquetReadOptions::default();
            if let Some(c) = &columns {
                opts = opts.with_columns(c.iter().cloned());
            }
            ember::read_parquet(&path, &opts)?
        };
        println!("{} rows, {} columns: {:.3} s", df.num_rows(), df.num_columns(), t.elapsed().as_secs_f64());
    }
    Ok(())
}
