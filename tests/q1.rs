//! TPC-H Q1 end to end against duckdb's answer on the same data (`tests/oracle/q1_answers.csv`,
//! re-derived and compared in CI by `tests/oracle/tpch_duckdb.py`): group keys, decimal sums and
//! counts exactly, means to a relative 1e-12 (duckdb and ember both divide in f64, possibly in
//! another order), on every device.
mod common;
use ember::prelude::*;

fn oracle(sf: &str) -> Vec<Vec<String>> {
    include_str!("oracle/q1_answers.csv")
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(String::from).collect::<Vec<_>>())
        .filter(|row| row[0] == sf)
        .map(|row| row[1..].to_vec())
        .collect()
}

fn check(sf: f64, device: Device) {
    let li = ember::tpch::lineitem(sf).unwrap().to(device).unwrap();
    // The group-by already returns its groups in key order: the optimizer drops the ORDER BY.
    let plan = ember::tpch::q1_lazy(&li).unwrap().explain().unwrap();
    assert!(!plan.contains("SORT"), "{plan}");
    let out = ember::tpch::q1_lazy(&li).unwrap().collect().unwrap();
    assert_eq!(out.device(), device);
    let batch = out.to_record_batch().unwrap();
    let want = oracle(&sf.to_string());
    assert_eq!(batch.num_rows(), want.len(), "Q1 sf={sf} on {device}");
    for (r, row) in want.iter().enumerate() {
        for (c, expected) in row.iter().enumerate() {
            let got = Scalar::from_array(batch.column(c).as_ref(), r).unwrap();
            let name = batch.schema().field(c).name().clone();
            match got {
                Scalar::Float64(x) => {
                    let y: f64 = expected.parse().unwrap();
                    assert!((x - y).abs() <= 1e-12 * y.abs(), "{name} row {r}: {x} vs duckdb {y} (sf={sf}, {device})");
                }
                other => assert_eq!(other.to_string(), *expected, "{name} row {r} (sf={sf}, {device})"),
            }
        }
    }
}

test_device!(q1_matches_duckdb_sf001, |device: Device| check(0.01, device));
test_device!(q1_matches_duckdb_sf01, |device: Device| check(0.1, device));
