//! The logical plan and its optimizer: what `explain` shows before and after each rewrite, the
//! same answer with the optimizer on and off (CPU engine and GPU path), plans through serde.
mod common;
use ember::plan::{execute, optimize, LogicalPlan};
use ember::prelude::*;

fn frame(device: Device) -> DataFrame {
    DataFrame::from_record_batch(&common::random_batch(3000, 7)).unwrap().to(device).unwrap()
}

#[test]
fn explain_shows_pushdown_fusion_and_folding() {
    let df = frame(Device::Cpu);
    let q = df
        .lazy()
        .select([col("a"), col("b").alias("bee"), (col("c") * lit(2.0)).alias("c2")])
        .filter(col("bee").gt(lit(1i64) + lit(2i64)))
        .filter(col("a").lt(lit(50)))
        .aggregate([col("bee").sum().alias("s")]);
    assert_eq!(
        q.clone().with_optimizations(false).explain().unwrap(),
        "AGGREGATE [sum(bee) AS s]\n  FILTER (a < 50)\n    FILTER (bee > (1 + 2))\n      SELECT [a, b AS bee, (c * 2) AS c2]\n        SCAN df\n"
    );
    // (1 + 2) folded; the two filters merged and pushed below the select (through the rename
    // bee -> b) onto the scan; the unused output c2 dropped; the scan reads a and b only. (The
    // select between them keeps the filter from fusing into the aggregate.)
    assert_eq!(
        q.explain().unwrap(),
        "AGGREGATE [sum(bee) AS s]\n  SELECT [b AS bee]\n    FILTER ((b > 3) AND (a < 50))\n      SCAN df [a, b]\n"
    );
}

#[test]
fn filter_then_aggregate_fuses_and_projects() {
    let df = frame(Device::Cpu);
    let q = df.lazy().filter(col("a").gt(lit(0))).aggregate([(col("d") * col("b")).max().alias("m"), col("c").count()]);
    assert_eq!(
        q.explain().unwrap(),
        "AGGREGATE [max((d * b)) AS m, count(c) AS c] WHERE (a > 0)\n  SCAN df [a, b, c, d]\n"
    );
}

#[test]
fn a_filter_that_reads_a_computed_column_stays_above_the_select() {
    let df = frame(Device::Cpu);
    let q = df.lazy().select([(col("a") + lit(1)).alias("a1"), col("b")]).filter(col("a1").gt(lit(3)));
    assert_eq!(q.explain().unwrap(), "FILTER (a1 > 3)\n  SELECT [(a + 1) AS a1, b]\n    SCAN df [a, b]\n");
}

#[test]
fn a_join_passes_each_side_only_the_columns_needed_above_it() {
    let (l, r) = (frame(Device::Cpu), frame(Device::Cpu));
    // Right's `b` clashes with left's `b` (kept on the left so the suffix stays); `c_right` is
    // right's `c`; left's `d` and right's other columns are read by nobody.
    let q = l
        .lazy()
        .filter(col("u").gt(lit(3u8)))
        .join(r.lazy(), JoinArgs::new(["a"], ["a"], JoinType::Inner))
        .select([col("a"), col("c_right"), col("b_right")]);
    assert_eq!(
        q.explain().unwrap(),
        "SELECT [a, c_right, b_right]\n  JOIN Inner ON [a = a]\n    FILTER (u > 3)\n      \
         SCAN df [a, b, c, d, s, f, t, u]\n    SCAN df [a, b, c]\n"
    );
    // A semi join's right side passes only its keys.
    let q = l.lazy().join(r.lazy(), JoinArgs::new(["t"], ["t"], JoinType::Semi)).select([col("s")]);
    assert_eq!(q.explain().unwrap(), "SELECT [s]\n  JOIN Semi ON [t = t]\n    SCAN df [s, t]\n    SCAN df [t]\n");
    assert_eq!(
        q.clone().collect().unwrap().to_record_batch().unwrap(),
        q.clone().with_optimizations(false).collect().unwrap().to_record_batch().unwrap()
    );
}

fn queries(df: &DataFrame) -> Vec<LazyFrame> {
    vec![
        df.lazy().filter(col("a").gt(lit(10))).select([col("b"), (col("d") * lit(3)).alias("d3")]),
        df.lazy().select([col("a"), col("s"), col("t")]).filter(col("s").starts_with("A").or(col("a").is_null())),
        df.lazy().filter(col("t").gt_eq(date("1994-01-01").unwrap())).aggregate([
            col("d").sum(),
            col("c").min().alias("cmin"),
            col("a").count(),
            col("u").mean(),
        ]),
        df.lazy().with_columns([(col("b") * col("a")).alias("b")]).unwrap().filter(col("f")).slice(5, 40),
        df.lazy().aggregate([(col("d") / dec("7.00").unwrap()).max().alias("x")]),
    ]
}

#[test]
fn the_optimizer_never_changes_an_answer() {
    for device in [Device::Cpu].into_iter().chain(common::gpu_devices()) {
        let df = frame(device);
        for (i, q) in queries(&df).into_iter().enumerate() {
            let on = q.clone().collect().unwrap().to_record_batch().unwrap();
            let off = q.with_optimizations(false).collect().unwrap().to_record_batch().unwrap();
            assert_eq!(on, off, "query {i} on {device}");
        }
    }
}

#[test]
fn lazy_and_eager_agree_across_devices() {
    let cpu = frame(Device::Cpu);
    for device in common::gpu_devices() {
        let gpu = frame(device);
        for (i, (a, b)) in queries(&cpu).into_iter().zip(queries(&gpu)).enumerate() {
            let want = a.collect().unwrap().to_record_batch().unwrap();
            let got = b.collect().unwrap().to_record_batch().unwrap();
            // Means of floats add in different orders on the two executors.
            if want.schema().fields().iter().any(|f| f.name().contains("mean") || f.name() == "u") {
                continue;
            }
            assert_eq!(got, want, "query {i} on {device}");
        }
    }
}

#[test]
fn plans_round_trip_through_serde_and_bind_by_name() {
    let df = frame(Device::Cpu);
    let q = ember::tpch::q6_lazy(&df).unwrap();
    let json = serde_json::to_string(q.logical_plan()).unwrap();
    let mut back: LogicalPlan = serde_json::from_str(&json).unwrap();
    assert_eq!(back.to_string(), q.logical_plan().to_string());
    let err = execute(&back, None).unwrap_err();
    assert!(err.to_string().contains("not bound"), "{err}");
    back.bind("lineitem", &df);
    let _ = optimize(&back).unwrap();
}

#[test]
fn q6_plan_reads_four_columns_and_fuses_the_filter() {
    let li = ember::tpch::lineitem(0.001).unwrap();
    assert_eq!(
        ember::tpch::q6_lazy(&li).unwrap().explain().unwrap(),
        "AGGREGATE [sum((l_extendedprice * l_discount)) AS revenue] WHERE ((((l_shipdate >= 1994-01-01) AND \
         (l_shipdate < 1995-01-01)) AND ((l_discount >= 0.05) AND (l_discount <= 0.07))) AND (l_quantity < 24))\n  \
         SCAN lineitem [l_quantity, l_extendedprice, l_discount, l_shipdate]\n"
    );
}

fn keyed(keys: Vec<i64>, vals: Vec<i64>, device: Device) -> DataFrame {
    let batch = arrow::array::RecordBatch::try_from_iter([
        ("k", std::sync::Arc::new(arrow::array::Int64Array::from(keys)) as arrow::array::ArrayRef),
        ("v", std::sync::Arc::new(arrow::array::Int64Array::from(vals)) as _),
    ])
    .unwrap();
    DataFrame::from_record_batch(&batch).unwrap().to(device).unwrap()
}

#[test]
fn frames_with_the_same_name_and_columns_are_not_taken_for_one_another() {
    // `df.lazy()` names every frame "df": the shared-subplan cache must tell the data apart.
    for device in [Device::Cpu].into_iter().chain(common::gpu_devices()) {
        let a = keyed(vec![1, 2, 3], vec![10, 20, 30], device);
        let b = keyed(vec![1, 2, 3], vec![100, 200, 300], device);
        let pred = col("k").gt(lit(1));
        let q = a
            .lazy()
            .filter(pred.clone())
            .join(
                b.lazy().filter(pred),
                JoinArgs { suffix: "_b".into(), ..JoinArgs::new(["k"], ["k"], JoinType::Inner) },
            )
            .sort(["k"]);
        let out = q.collect().unwrap().to_record_batch().unwrap();
        let v_b = out.column_by_name("v_b").unwrap().as_any().downcast_ref::<arrow::array::Int64Array>().unwrap();
        assert_eq!(v_b.values().as_ref(), &[200, 300], "on {device}");
    }
}

#[test]
fn a_subplan_used_twice_runs_once() {
    for device in common::gpu_devices() {
        let gpu = device.gpu().unwrap().unwrap();
        let df = frame(device);
        let shared = df.lazy().filter(col("a").gt(lit(0))).select([col("a"), col("b")]);
        // Each run in its own context: its trace counts this query's launches only.
        let launches = |q: LazyFrame| {
            let ctx = ember::gpu::ExecContext::new(gpu.clone());
            let out = q.collect_in(&ctx).unwrap();
            (ctx.trace().launches, out)
        };
        let semi = || JoinArgs::new(["a"], ["a"], JoinType::Semi);
        let (once, part) = launches(shared.clone());
        let (join_alone, want) = launches(part.lazy().join(part.lazy(), semi()));
        let (both, got) = launches(shared.clone().join(shared.clone(), semi()));
        assert!(once > 0);
        assert_eq!(both, once + join_alone, "the shared filter ran once on {device}");
        assert_eq!(got.to_record_batch().unwrap(), want.to_record_batch().unwrap());
        // The two uses need different columns (the semi join's right side only its key): the
        // projection pushdown keeps them alike, so the filter still runs once.
        let (narrow, got) = launches(shared.clone().join(shared.clone(), semi()).select([col("b")]));
        assert_eq!(narrow, once + join_alone, "the shared filter ran once under a narrowing select on {device}");
        let b = |df: &DataFrame| df.column("b").unwrap().to_arrow().unwrap().to_data();
        assert_eq!(b(&got), b(&want));
    }
}
