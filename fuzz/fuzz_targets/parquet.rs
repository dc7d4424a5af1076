//! Parquet bytes (written to a temporary file) through the CPU reader and the simulated-device
//! decoder: neither may panic or hang; where both succeed they agree.
#![no_main]
use ember::io::{read_parquet_on, ParquetReadOptions};
use ember::Device;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // libfuzzer-sys aborts on every panic, even one the readers catch on purpose (a panic inside
    // the parquet crate on corrupt pages becomes an error there): keep the default hook, so only
    // panics that escape the readers (and the checks below) are crashes.
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| drop(std::panic::take_hook()));
    let path = std::env::temp_dir().join(format!("ember-fuzz-{}.parquet", std::process::id()));
    std::fs::write(&path, data).unwrap();
    let opts = ParquetReadOptions::default();
    let cpu = ember::read_parquet(&path, &opts);
    let sim = read_parquet_on(&path, &opts, Device::Sim, None);
    if let (Ok(c), Ok(s)) = (cpu, sim) {
        let (c, s) = (c.to_record_batch().unwrap(), s.to(Device::Cpu).unwrap().to_record_batch().unwrap());
        assert_eq!(c.num_rows(), s.num_rows());
        for k in 0..c.num_columns() {
            let ours = ember::arrow::compute::cast(s.column(k), c.column(k).data_type()).unwrap();
            assert_eq!(ours.to_data(), c.column(k).to_data(), "column {k}");
        }
    }
});
