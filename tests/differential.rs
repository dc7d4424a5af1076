//! Differential property tests: the simulated device (and CUDA when requested) must give exactly
//! the CPU engine's answer on random data with nulls, at sizes around warp/block boundaries and
//! for empty inputs. Integers, decimals, strings, booleans and element-wise float arithmetic are
//! compared exactly; float sums within a relative 1e-12 (the documented float rule: the GPU adds
//! in a fixed tree order, the CPU engine in arrow's order).
mod common;
use ember::prelude::*;
use ember::Scalar;
use proptest::prelude::*;

const BOUNDARY: &[usize] = &[0, 1, 31, 32, 33, 255, 256, 257, 1023, 1025, 65_537];
use common::random_batch;

/// Predicates over the random frame, parameterised by `k`.
fn predicates(k: i64) -> Vec<Expr> {
    let k32 = (k % 150) as i32;
    vec![
        col("a").lt(lit(k32)),
        col("b").gt_eq(lit(k * 1000)).and(col("a").is_not_null()),
        col("c").is_between(lit(-100.0), lit(k as f64)),
        (col("d") * lit(2)).gt(dec("1234.50").unwrap()),
        col("d").is_between(dec("100.00").unwrap(), dec("4000.07").unwrap()),
        col("s").starts_with("A"),
        col("s").contains("b").or(col("s").ends_with("L")),
        col("s").eq(lit("AIR")).or(col("s").lt(lit("ab"))),
        col("f").or(col("a").is_null()),
        !col("f"),
        col("f").and(col("b").gt(lit(0i64))),
        col("t").gt_eq(date("1994-01-01").unwrap()).and(col("t").lt(date("1995-01-01").unwrap())),
        (col("a") + col("b")).gt(lit(k)),
        col("a").is_in([Scalar::Int32(1), Scalar::Int32(k32), Scalar::Null]),
        col("u").gt(lit(k32)).and(col("u").neq(lit(200))),
        lit(true),
        lit(Scalar::Null).and(col("f")),
    ]
}

/// Expressions whose values are compared exactly.
fn projections() -> Vec<Expr> {
    vec![
        col("a") * col("b"),
        col("a") - col("b"),
        col("b") + lit(7),
        col("c") * col("c") - col("c") / lit(3.0),
        col("d") * col("d"),
        col("d") + col("a"),
        col("d") - dec("0.005").unwrap(),
        col("d") / dec("3.00").unwrap(),
        col("u") + col("a"),
        col("a").is_null(),
        col("c").gt(col("a")),
    ]
}

fn check_frame(n: usize, seed: u64) -> Result<(), TestCaseError> {
    let batch = random_batch(n, seed);
    let cpu = DataFrame::from_record_batch(&batch).unwrap();
    for device in common::gpu_devices() {
        let gpu = cpu.to(device).unwrap();
        prop_assert_eq!(common::host(&gpu), batch.clone(), "round trip through {}", device);
        for p in predicates(seed as i64 % 1000 - 500) {
            let want = common::host(&cpu.filter(p.clone()).unwrap());
            let got = common::host(&gpu.filter(p.clone()).unwrap());
            prop_assert_eq!(got, want, "filter({}) on {} n={}", p, device, n);
        }
        for e in projections() {
            let want = cpu.evaluate(&e).map(|c| c.to_arrow().unwrap());
            let got = gpu.evaluate(&e).map(|c| c.to_arrow().unwrap());
            match (got, want) {
                (Ok(g), Ok(w)) => prop_assert_eq!(g.as_ref(), w.as_ref(), "evaluate({}) on {} n={}", e, device, n),
                (Err(g), Err(w)) => prop_assert_eq!(
                    std::mem::discriminant(&g),
                    std::mem::discriminant(&w),
                    "errors differ for {}: {} vs {}",
                    e,
                    g,
                    w
                ),
                (g, w) => prop_assert!(false, "evaluate({}) on {}: {:?} vs cpu {:?}", e, device, g.err(), w.err()),
            }
        }
        for column in ["a", "b", "c", "d", "t", "u"] {
            for agg in [Agg::Sum, Agg::Min, Agg::Max, Agg::Mean, Agg::Count] {
                if column == "t" && matches!(agg, Agg::Sum | Agg::Mean) {
                    continue;
                }
                let want = cpu.agg(col(column), agg).unwrap();
                let got = gpu.agg(col(column), agg).unwrap();
                match (&got, &want) {
                    (Scalar::Float64(g), Scalar::Float64(w)) => {
                        let tol = 1e-12 * w.abs().max(1.0);
                        prop_assert!((g - w).abs() <= tol, "{:?}({}) on {}: {} vs {}", agg, column, device, g, w)
                    }
                    _ => prop_assert_eq!(&got, &want, "{:?}({}) on {} n={}", agg, column, device, n),
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn gpu_equals_cpu_on_random_frames(n in prop_oneof![proptest::sample::select(BOUNDARY), 0usize..3000], seed in any::<u64>()) {
        check_frame(n, seed)?;
    }
}

#[test]
fn gpu_equals_cpu_at_every_boundary_size() {
    for (i, &n) in BOUNDARY.iter().enumerate() {
        check_frame(n, 1000 + i as u64).unwrap();
    }
}

/// The CPU engine's primitives (the executor trait's default filter: select rows, then gather)
/// give what its own filter gives, and its default slice what its zero-copy view gives.
#[test]
fn cpu_primitives_agree_with_the_cpu_engines_own_ops() {
    use ember::ops::executor::{CpuExecutor, Executor};
    for (i, &n) in BOUNDARY.iter().enumerate() {
        let df = DataFrame::from_record_batch(&random_batch(n, 77 + i as u64)).unwrap();
        for p in predicates(i as i64 * 37 - 100) {
            let rows = CpuExecutor.select_rows(&df, &p).unwrap();
            let via_primitives = CpuExecutor.gather(&df, &rows).unwrap();
            assert_eq!(common::host(&via_primitives), common::host(&CpuExecutor.filter(&df, &p).unwrap()), "{p} n={n}");
        }
        let rows = CpuExecutor.range(n / 3, n / 2).unwrap();
        assert_eq!(
            common::host(&CpuExecutor.gather(&df, &rows).unwrap()),
            common::host(&df.slice(n / 3, n / 2).unwrap())
        );
    }
}
