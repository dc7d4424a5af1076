//! The benchmark runner end to end on tiny data: both engines agree on all 22 TPC-H queries (from
//! memory and from cached Parquet and CSV files), the answers land as CSV, the reports render, and
//! on the simulated device the report carries the device's launches instead of times.
use ember::prelude::*;
use ember_bench::answer::Answer;
use ember_bench::data::Source;
use ember_bench::ops::OpsConfig;
use ember_bench::tpch::{run, TpchConfig};

fn config(dir: &std::path::Path, source: Source, device: Device, queries: Vec<u32>) -> TpchConfig {
    TpchConfig {
        sf: 0.01,
        queries,
        engines: vec!["ember".into(), "polars".into()],
        device,
        reps: 1,
        source,
        data_dir: dir.join("data"),
        results_dir: Some(dir.join(format!("results-{source}"))),
    }
}

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("ember-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn all_22_queries_agree_with_polars_on_the_cpu() {
    let dir = tmp("cpu");
    let report = run(&config(&dir, Source::Memory, Device::Cpu, ember::tpch::QUERIES.to_vec())).unwrap();
    assert_eq!(report.records.len(), 44);
    for r in &report.records {
        assert_eq!(r.ok, Some(true), "{} {}: {:?}", r.engine, r.query, r.diff);
        assert!(r.median_s > 0.0 && r.min_s <= r.median_s);
    }
    assert!(report.all_ok());
    // Q1 at sf 0.01 has its 4 groups; the answer files hold them as text, identical row counts.
    let q1 = report.records.iter().find(|r| r.query == "Q1").unwrap();
    assert_eq!(q1.rows, 4);
    let ember_q1 = std::fs::read_to_string(dir.join("results-memory/ember-q1.csv")).unwrap();
    let polars_q1 = std::fs::read_to_string(dir.join("results-memory/polars-q1.csv")).unwrap();
    assert!(ember_q1.starts_with("l_returnflag,l_linestatus,sum_qty,"), "{ember_q1}");
    assert_eq!(ember_q1.lines().count(), 5);
    assert_eq!(polars_q1.lines().count(), 5);
    // The same first group key in both files.
    assert_eq!(ember_q1.lines().nth(1).unwrap()[..4], polars_q1.lines().nth(1).unwrap()[..4]);
    let md = report.markdown();
    assert!(md.contains("| geometric mean |") && md.contains("22/22"), "{md}");
    let json: Vec<serde_json::Value> = report.json_lines().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(json.len(), 44);
    assert!(json.iter().all(|j| j["ok"] == true && j["rows"].is_u64() && j["peak_bytes"].is_u64()));
    assert_eq!(report.svg().matches("<title>").count(), 44);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn files_are_cached_and_read_by_each_engine() {
    let dir = tmp("files");
    for source in [Source::Parquet, Source::Csv] {
        let report = run(&config(&dir, source, Device::Cpu, vec![1, 6, 13])).unwrap();
        assert!(report.all_ok(), "{}", report.markdown());
        assert_eq!(report.load_s.len(), 2, "a load time per engine");
        let ext = if source == Source::Csv { "csv" } else { "parquet" };
        assert!(dir.join(format!("data/sf0.01/lineitem.{ext}")).is_file());
        assert!(!dir.join("data/sf0.01/lineitem.partial").exists());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn on_the_simulated_device_the_report_counts_launches() {
    let dir = tmp("sim");
    let report = run(&config(&dir, Source::Memory, Device::Sim, vec![1, 6])).unwrap();
    assert!(report.all_ok(), "{}", report.markdown());
    let q6 = report.records.iter().find(|r| r.engine == "ember" && r.query == "Q6").unwrap();
    let cost = q6.cost.expect("a device cost on sim");
    assert!(cost.launches >= 1 && cost.syncs >= 1, "{cost:?}");
    assert!(q6.peak_bytes > 0);
    let polars = report.records.iter().find(|r| r.engine == "polars" && r.query == "Q6").unwrap();
    assert_eq!(polars.cost, None);
    let md = report.markdown();
    assert!(md.contains("launches") && md.contains("say nothing about a GPU"), "{md}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_wrong_answer_is_caught() {
    // The check is not vacuous: polars' Q1 against ember's Q3 differs.
    let dir = tmp("wrong");
    let cfg = config(&dir, Source::Memory, Device::Cpu, vec![]);
    let t = ember::tpch::Tables::generate(cfg.sf, Device::Cpu).unwrap();
    let q1 =
        Answer::from_batch(&ember::tpch::query(1, &t).unwrap().collect().unwrap().to_record_batch().unwrap()).unwrap();
    let mut changed = q1.clone();
    if let ember_bench::answer::Value::Decimal(v, _) = &mut changed.rows[2][2] {
        *v += 1; // one cent more in one sum: same scale, so exact comparison
    }
    assert_eq!(q1.differs(1, &q1), None);
    assert!(changed.differs(1, &q1).unwrap().contains("sum_qty"));
}

#[test]
fn unknown_engines_and_queries_are_refused() {
    let dir = tmp("bad");
    let mut cfg = config(&dir, Source::Memory, Device::Cpu, vec![23]);
    assert!(run(&cfg).unwrap_err().to_string().contains("1 to 22"));
    cfg.queries = vec![1];
    cfg.engines = vec!["sqlite".into()];
    assert!(run(&cfg).unwrap_err().to_string().contains("unknown engine"));
    // duckdb is known, but needs the feature.
    cfg.engines = vec!["duckdb".into()];
    let duck = run(&cfg);
    if cfg!(feature = "duckdb") {
        assert!(duck.is_ok(), "{duck:?}");
    } else {
        assert!(duck.unwrap_err().to_string().contains("--features duckdb"));
    }
}

/// With `--features duckdb` (not in CI: DuckDB's C++ build takes half an hour on 2 cores), all
/// three engines agree on every query and operation.
#[cfg(feature = "duckdb")]
#[test]
fn duckdb_agrees_with_ember_and_polars() {
    let dir = tmp("duckdb");
    let mut cfg = config(&dir, Source::Parquet, Device::Cpu, (1..=22).collect());
    cfg.engines = vec!["ember".into(), "polars".into(), "duckdb".into()];
    let report = run(&cfg).unwrap();
    assert_eq!(report.records.len(), 66);
    assert!(report.all_ok(), "{}", report.markdown());
    assert!(report.versions.iter().any(|v| v.starts_with("duckdb v")), "{:?}", report.versions);
    let ops = ember_bench::ops::run(&OpsConfig {
        sf: 0.01,
        engines: cfg.engines.clone(),
        device: Device::Cpu,
        reps: 1,
        data_dir: dir.join("data"),
        cases: Vec::new(),
    })
    .unwrap();
    assert!(ops.all_ok(), "{}", ops.markdown());
    assert_eq!(ops.records.iter().filter(|r| r.engine == "duckdb").count(), 10, "all but the gather");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn single_operations_agree() {
    let dir = tmp("ops");
    let report = ember_bench::ops::run(&OpsConfig {
        sf: 0.01,
        engines: vec!["ember".into(), "polars".into()],
        device: Device::Cpu,
        reps: 1,
        data_dir: dir.join("data"),
        cases: Vec::new(),
    })
    .unwrap();
    assert_eq!(report.queries().len(), 11);
    assert!(report.all_ok(), "{}", report.markdown());
    // `--cases`: only the cases naming one of the words, in any case.
    let some = ember_bench::ops::run(&OpsConfig {
        sf: 0.01,
        engines: vec!["ember".into()],
        device: Device::Cpu,
        reps: 1,
        data_dir: dir.join("data"),
        cases: vec!["PARQUET".into(), "q6".into()],
    })
    .unwrap();
    let names = some.queries();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(names.iter().all(|n| n.contains("Parquet") || n.contains("Q6")), "{names:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
