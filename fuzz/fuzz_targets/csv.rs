//! CSV bytes through the CPU reader and the simulated-device decoder: neither may panic, hang or
//! disagree (both succeed with equal frames, or both fail with the same message).
#![no_main]
use ember::io::{read_csv_bytes, read_csv_bytes_on, CsvReadOptions};
use ember::Device;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // libfuzzer-sys aborts on every panic, even one the readers catch on purpose (a panic inside
    // the parquet crate on corrupt pages becomes an error there): keep the default hook, so only
    // panics that escape the readers (and the checks below) are crashes.
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| drop(std::panic::take_hook()));
    // The first byte picks options, so the corpus explores them too.
    let (flags, body) = data.split_first().unwrap_or((&0, &[]));
    let mut opts = CsvReadOptions::default()
        .with_header(flags & 1 == 0)
        .with_delimiter(if flags & 2 == 0 { b',' } else { b';' })
        .with_infer_schema_length(Some(if flags & 4 == 0 { 1000 } else { 2 }));
    if flags & 8 != 0 {
        opts = opts.with_quote(None);
    }
    if flags & 16 != 0 {
        opts = opts.with_ignore_errors(true);
    }
    let cpu = read_csv_bytes(body, "fuzz.csv", &opts);
    let sim = read_csv_bytes_on(body, "fuzz.csv", &opts, Device::Sim, None);
    match (cpu, sim) {
        (Ok(c), Ok(s)) => {
            let (c, s) = (c.to_record_batch().unwrap(), s.to(Device::Cpu).unwrap().to_record_batch().unwrap());
            assert_eq!(c.num_rows(), s.num_rows());
            for k in 0..c.num_columns() {
                let ours = ember::arrow::compute::cast(s.column(k), c.column(k).data_type()).unwrap();
                assert_eq!(ours.to_data(), c.column(k).to_data(), "column {k}");
            }
        }
        (Err(c), Err(s)) => assert_eq!(c.to_string(), s.to_string()),
        (c, s) => panic!("CPU {:?} vs Sim {:?}", c.map(|d| d.num_rows()), s.map(|d| d.num_rows())),
    }
});
