//! Differential property tests: the simulated device (and CUDA when requested) must give exactly
//! the CPU engine's answer on random data with nulls, at sizes around warp/block boundaries and
//! for empty inputs. Integers, decimals, strings, booleans and element-wise float arithmetic are
//! compared exactly; float sums within a relative 1e-12 (the documented float rule: the GPU adds
//! in a fixed tree order, the CPU engine in arrow's order).
mod common;
use arrow::array::*;
use ember::prelude::*;
use ember::Scalar;
use proptest::prelude::*;
use std::sync::Arc;

const BOUNDARY: &[usize] = &[0, 1, 31, 32, 33, 255, 256, 257, 1023, 1025, 65_537];

fn rng(seed: u64) -> impl FnMut() -> u64 {
    let mut s = seed.wrapping_mul(0x9E3779B97F4A7C15) | 1;
    move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    }
}

/// A random frame: ints, floats, decimals, strings, booleans and dates, each with ~15% nulls.
fn random_batch(n: usize, seed: u64) -> RecordBatch {
    let mut r = rng(seed);
    let null = |r: &mut dyn FnMut() -> u64| r() % 100 < 15;
    let a: Int32Array = (0..n).map(|_| if null(&mut r) { None } else { Some((r() % 200) as i32 - 100) }).collect();
    let b: Int64Array =
        (0..n).map(|_| if null(&mut r) { None } else { Some((r() % 1_000_000) as i64 - 500_000) }).collect();
    let c: Float64Array = (0..n)
        .map(|_| if null(&mut r) { None } else { Some(((r() % 2_000_001) as f64 - 1_000_000.0) / 1024.0) })
        .collect();
    let d = (0..n)
        .map(|_| if null(&mut r) { None } else { Some((r() % 1_000_000) as i128 - 200_000) })
        .collect::<Decimal128Array>()
        .with_precision_and_scale(15, 2)
        .unwrap();
    let words = ["", "a", "ab", "abc", "b", "ba", "SHIP", "MAIL", "AIR", "AIR REG", "é", "zz"];
    let s: StringViewArray =
        (0..n).map(|_| if null(&mut r) { None } else { Some(words[(r() % words.len() as u64) as usize]) }).collect();
    let f: BooleanArray = (0..n).map(|_| if null(&mut r) { None } else { Some(r() % 2 == 0) }).collect();
    let t: Date32Array = (0..n).map(|_| if null(&mut r) { None } else { Some(8000 + (r() % 2000) as i32) }).collect();
    let u: UInt8Array = (0..n).map(|_| Some((r() % 256) as u8)).collect();
    common::batch(vec![
        ("a", Arc::new(a) as ArrayRef),
        ("b", Arc::new(b)),
        ("c", Arc::new(c)),
        ("d", Arc::new(d)),
        ("s", Arc::new(s)),
        ("f", Arc::new(f)),
        ("t", Arc::new(t)),
        ("u", Arc::new(u)),
    ])
}

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
