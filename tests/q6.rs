//! TPC-H Q6 end to end against the outside world: duckdb's answer on the same data
//! (`tests/oracle/q6_answers.csv`, produced and re-checked in CI by `tests/oracle/tpch_duckdb.py`),
//! to the last decimal digit, on every device.
mod common;
use ember::prelude::*;

fn oracle(sf: &str) -> String {
    let text = include_str!("oracle/q6_answers.csv");
    text.lines()
        .filter_map(|l| l.split_once(','))
        .find(|(s, _)| *s == sf)
        .map(|(_, v)| v.to_string())
        .unwrap_or_else(|| panic!("no stored Q6 answer for sf={sf}"))
}

test_device!(q6_matches_duckdb_sf001, |device: Device| {
    let lineitem = ember::tpch::lineitem(0.01).unwrap().to(device).unwrap();
    let revenue = ember::tpch::q6(&lineitem).unwrap();
    assert!(matches!(revenue, Scalar::Decimal128 { scale: 4, .. }), "{revenue:?}");
    assert_eq!(revenue.to_string(), oracle("0.01"), "Q6 on {device}");
});

test_device!(q6_filter_keeps_the_rows_duckdb_keeps, |device: Device| {
    let lineitem = ember::tpch::lineitem(0.01).unwrap().to(device).unwrap();
    let kept = lineitem.filter(ember::tpch::q6_predicate().unwrap()).unwrap();
    assert_eq!(kept.device(), device);
    // count(*) from duckdb on the same data (tpchgen-cli sf=0.01).
    assert_eq!(kept.num_rows(), 1_191, "Q6 row count on {device}");
    let cpu = lineitem.to(Device::Cpu).unwrap().filter(ember::tpch::q6_predicate().unwrap()).unwrap();
    assert_eq!(common::host(&kept), common::host(&cpu), "filtered rows differ between {device} and cpu");
});
