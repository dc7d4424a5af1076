//! The TPC-H queries end to end against duckdb's answers on the same data
//! (`tests/oracle/q<N>_answers.csv`, re-derived in CI by `tests/oracle/tpch_duckdb.py`), at SF 0.01
//! and 0.1 on every device: integers, strings, dates and decimals exactly, row order included
//! where the query sorts; the f64 ratios of Q8, Q14 and Q17 (SQL divides decimals in f64) to a
//! relative 1e-12. Q1 (float means) and Q6 have their own files.
mod common;
use ember::prelude::*;

fn oracle(q: u32, sf: &str) -> Vec<String> {
    let text = match q {
        2 => include_str!("oracle/q2_answers.csv"),
        3 => include_str!("oracle/q3_answers.csv"),
        7 => include_str!("oracle/q7_answers.csv"),
        8 => include_str!("oracle/q8_answers.csv"),
        9 => include_str!("oracle/q9_answers.csv"),
        12 => include_str!("oracle/q12_answers.csv"),
        13 => include_str!("oracle/q13_answers.csv"),
        14 => include_str!("oracle/q14_answers.csv"),
        16 => include_str!("oracle/q16_answers.csv"),
        17 => include_str!("oracle/q17_answers.csv"),
        20 => include_str!("oracle/q20_answers.csv"),
        21 => include_str!("oracle/q21_answers.csv"),
        22 => include_str!("oracle/q22_answers.csv"),
        4 => include_str!("oracle/q4_answers.csv"),
        5 => include_str!("oracle/q5_answers.csv"),
        10 => include_str!("oracle/q10_answers.csv"),
        11 => include_str!("oracle/q11_answers.csv"),
        15 => include_str!("oracle/q15_answers.csv"),
        18 => include_str!("oracle/q18_answers.csv"),
        19 => include_str!("oracle/q19_answers.csv"),
        _ => unreachable!(),
    };
    text.lines().skip(1).filter_map(|l| l.strip_prefix(&format!("{sf},")).map(String::from)).collect()
}

fn check(q: u32, sf: f64, device: Device) {
    let answer = ember::tpch::run_query(q, sf, device).unwrap();
    let text = ember::tpch::format_table(&answer, ",").unwrap();
    let got: Vec<String> = text.lines().skip(1).map(String::from).collect();
    let want = oracle(q, &sf.to_string());
    assert!(!want.is_empty(), "no stored Q{q} answer for sf={sf}");
    if ![8, 14, 17].contains(&q) {
        assert_eq!(got, want, "Q{q} sf={sf} on {device}");
        return;
    }
    // One f64 column, last: the other fields exactly, it to a relative 1e-12.
    assert_eq!(got.len(), want.len(), "Q{q} sf={sf} on {device}: {got:?} vs {want:?}");
    for (g, w) in got.iter().zip(&want) {
        let (gk, gv) = g.rsplit_once(',').unwrap_or(("", g));
        let (wk, wv) = w.rsplit_once(',').unwrap_or(("", w));
        assert_eq!(gk, wk, "Q{q} sf={sf} on {device}");
        match (gv.parse::<f64>(), wv.parse::<f64>()) {
            (Ok(x), Ok(y)) => assert!((x - y).abs() <= 1e-12 * y.abs(), "Q{q} sf={sf} on {device}: {x} vs {y}"),
            _ => assert_eq!(gv, wv, "Q{q} sf={sf} on {device}"),
        }
    }
}

/// A test per query, on every device, at SF 0.01 and 0.1.
macro_rules! tpch_test {
    ($($name:ident: $q:expr),*) => {
        $(test_device!($name, |device: Device| {
            check($q, 0.01, device);
            check($q, 0.1, device);
        });)*
    };
}

tpch_test!(q2_matches_duckdb: 2, q3_matches_duckdb: 3, q4_matches_duckdb: 4, q5_matches_duckdb: 5,
    q7_matches_duckdb: 7, q8_matches_duckdb: 8, q9_matches_duckdb: 9, q10_matches_duckdb: 10,
    q11_matches_duckdb: 11, q12_matches_duckdb: 12, q13_matches_duckdb: 13, q14_matches_duckdb: 14,
    q15_matches_duckdb: 15, q16_matches_duckdb: 16, q17_matches_duckdb: 17, q18_matches_duckdb: 18,
    q19_matches_duckdb: 19, q20_matches_duckdb: 20, q21_matches_duckdb: 21, q22_matches_duckdb: 22);

/// All 22 queries over tables written to Parquet and CSV files and read back (CSV with the
/// generator's types) equal the in-memory answers; and through `scan_parquet`, Q6 with its filter
/// pushed into the scan.
#[test]
fn queries_over_parquet_and_csv_files_equal_in_memory() {
    let dir = std::env::temp_dir().join(format!("ember-tpch-files-{}", std::process::id()));
    let tables = ember::tpch::Tables::generate(0.01, Device::Cpu).unwrap();
    let want: Vec<_> = ember::tpch::QUERIES
        .iter()
        .map(|&q| {
            let b = ember::tpch::query(q, &tables).unwrap().collect().unwrap().to_record_batch().unwrap();
            ember::tpch::format_table(&b, ",").unwrap()
        })
        .collect();
    let formats = [ember::io::FileFormat::Parquet, ember::io::FileFormat::Csv];
    for format in formats {
        tables.write(dir.join(format!("{format:?}")), format).unwrap();
    }
    // Both formats on every device (the GPU decoders on Sim).
    let mut runs = vec![(formats[1], Device::Cpu), (formats[0], Device::Cpu)];
    for d in common::gpu_devices() {
        runs.extend([(formats[0], d), (formats[1], d)]);
    }
    for (format, device) in runs {
        let read = ember::tpch::Tables::read(dir.join(format!("{format:?}")), device).unwrap();
        assert_eq!(read.lineitem.device(), device);
        for (i, &q) in ember::tpch::QUERIES.iter().enumerate() {
            let got = ember::tpch::query(q, &read).unwrap().collect().unwrap().to_record_batch().unwrap();
            assert_eq!(ember::tpch::format_table(&got, ",").unwrap(), want[i], "Q{q} from {format:?} on {device}");
        }
    }
    let path = dir.join("Parquet/lineitem.parquet");
    let q6 = LazyFrame::scan_parquet(&path, ParquetReadOptions::default(), Device::Cpu)
        .unwrap()
        .filter(ember::tpch::q6_predicate().unwrap())
        .aggregate([(col("l_extendedprice") * col("l_discount")).sum().alias("revenue")]);
    assert!(q6.explain().unwrap().contains("SKIP ROW GROUPS UNLESS"));
    let revenue = q6.collect().unwrap().column("revenue").unwrap().to_arrow().unwrap();
    let expected = ember::tpch::q6(&tables.lineitem).unwrap();
    assert_eq!(Scalar::from_array(revenue.as_ref(), 0).unwrap(), expected);
    std::fs::remove_dir_all(&dir).unwrap();
}
