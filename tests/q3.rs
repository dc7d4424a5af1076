//! TPC-H Q3 (two joins, a three-key group-by, sort, limit) end to end against duckdb's answer on
//! the same data (`tests/oracle/q3_answers.csv`, re-derived in CI by `tests/oracle/tpch_duckdb.py`),
//! every value exactly, on every device.
mod common;
use ember::prelude::*;

fn oracle(sf: &str) -> Vec<Vec<String>> {
    include_str!("oracle/q3_answers.csv")
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(String::from).collect::<Vec<_>>())
        .filter(|row| row[0] == sf)
        .map(|row| row[1..].to_vec())
        .collect()
}

fn check(sf: f64, device: Device) {
    let to = |df: DataFrame| df.to(device).unwrap();
    let (c, o, l) = (
        to(ember::tpch::customer(sf).unwrap()),
        to(ember::tpch::orders(sf).unwrap()),
        to(ember::tpch::lineitem(sf).unwrap()),
    );
    let out = ember::tpch::q3_lazy(&c, &o, &l).unwrap().collect().unwrap();
    assert_eq!(out.device(), device);
    let batch = out.to_record_batch().unwrap();
    let got: Vec<Vec<String>> = (0..batch.num_rows())
        .map(|r| batch.columns().iter().map(|c| Scalar::from_array(c.as_ref(), r).unwrap().to_string()).collect())
        .collect();
    assert_eq!(got, oracle(&sf.to_string()), "Q3 sf={sf} on {device}");
}

test_device!(q3_matches_duckdb_sf001, |device: Device| check(0.01, device));
test_device!(q3_matches_duckdb_sf01, |device: Device| check(0.1, device));
