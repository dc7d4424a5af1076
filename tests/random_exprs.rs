//! The expression interpreter (one GPU launch per tree) against the CPU engine (one arrow-rs
//! kernel per node) on random expression trees up to depth 5 over every column type, with nulls,
//! literal operands (null literals included) and frame sizes around warp and block boundaries.
//! Results must be identical; where the CPU engine errors, the GPU must fail with the same kind
//! of error (the first failing row decides it on both).
mod common;
use ember::prelude::*;
use proptest::prelude::*;

#[derive(Clone, Copy)]
enum Kind {
    Num,
    Bool,
}

fn gen(r: &mut dyn FnMut() -> u64, kind: Kind, depth: u32) -> Expr {
    let leaf = depth == 0 || r().is_multiple_of(4);
    match kind {
        Kind::Num if leaf => match r() % 12 {
            0 => col("a"),
            1 => col("b"),
            2 => col("c"),
            3 => col("d"),
            4 => col("u"),
            5 => lit((r() % 7) as i32 - 3),
            6 => lit((r() % 1000) as i64 - 500),
            7 => lit(((r() % 64) as f64 - 32.0) / 4.0),
            8 => dec(["0.05", "12.5", "-3.25", "100"][(r() % 4) as usize]).unwrap(),
            9 => lit(Scalar::Null),
            10 => lit((r() % 5) as u8),
            _ => lit(0.5f32),
        },
        Kind::Num => {
            let (a, b) = (gen(r, Kind::Num, depth - 1), gen(r, Kind::Num, depth - 1));
            match r() % 8 {
                0 | 1 => a + b,
                2 => a - b,
                3 => a * b,
                4 => a / b,
                5 => when(gen(r, Kind::Bool, depth - 1)).then(a).otherwise(b),
                6 => {
                    [col("t").year(), col("t").month(), col("t").day(), col("t").weekday()][(r() % 4) as usize].clone()
                        + a
                }
                _ => {
                    col("s").str_slice((r() % 5) as i64 - 2, [None, Some(1), Some(3)][(r() % 3) as usize]).str_len() + a
                }
            }
        }
        Kind::Bool if leaf => match r() % 9 {
            0 => col("f"),
            1 => lit(r().is_multiple_of(2)),
            2 => lit(Scalar::Null),
            3 => col("s").starts_with("A"),
            4 => col("s").lt(lit("b")),
            5 => col("t").gt_eq(date("1993-06-01").unwrap()),
            6 => col("s").is_null(),
            7 => col("s").like(["%A%R%", "_", "a_%", "%é", ""][(r() % 5) as usize]),
            _ => col("a").is_not_null(),
        },
        Kind::Bool => match r() % 7 {
            0 | 1 => {
                let (a, b) = (gen(r, Kind::Num, depth - 1), gen(r, Kind::Num, depth - 1));
                [a.clone().eq(b.clone()), a.clone().neq(b.clone()), a.clone().lt(b.clone()), a.lt_eq(b.clone())]
                    [(r() % 4) as usize]
                    .clone()
            }
            2 => gen(r, Kind::Bool, depth - 1).and(gen(r, Kind::Bool, depth - 1)),
            3 => gen(r, Kind::Bool, depth - 1).or(gen(r, Kind::Bool, depth - 1)),
            4 => !gen(r, Kind::Bool, depth - 1),
            5 => gen(r, Kind::Num, depth - 1).is_null(),
            _ => gen(r, Kind::Num, depth - 1).gt(gen(r, Kind::Num, depth - 1)),
        },
    }
}

fn same<T: std::fmt::Debug>(what: &str, got: Result<T>, want: Result<T>) -> Result<(), TestCaseError> {
    match (got, want) {
        (Ok(g), Ok(w)) => prop_assert_eq!(format!("{g:?}"), format!("{w:?}"), "{}", what),
        (Err(g), Err(w)) => {
            prop_assert_ne!(common::error_class(&g), "internal", "{}: {}", what, g);
            prop_assert_eq!(common::error_class(&g), common::error_class(&w), "{}: {} vs cpu {}", what, g, w)
        }
        (g, w) => prop_assert!(false, "{}: {:?} vs cpu {:?}", what, g.err(), w.err()),
    }
    Ok(())
}

fn check(n: usize, seed: u64) -> Result<(), TestCaseError> {
    let cpu = DataFrame::from_record_batch(&common::random_batch(n, seed)).unwrap();
    let mut r = common::rng(seed ^ 0xabcdef);
    for device in common::gpu_devices() {
        let gpu = cpu.to(device).unwrap();
        for _ in 0..6 {
            let depth = 1 + (r() % 5) as u32;
            let e = gen(&mut r, Kind::Num, depth);
            let p = gen(&mut r, Kind::Bool, depth);
            let host = |c: Result<ember::Column>| c.and_then(|c| c.to_arrow());
            same(&format!("evaluate({e}) n={n} on {device}"), host(gpu.evaluate(&e)), host(cpu.evaluate(&e)))?;
            same(&format!("evaluate({p}) n={n} on {device}"), host(gpu.evaluate(&p)), host(cpu.evaluate(&p)))?;
            let rows = |d: Result<DataFrame>| d.and_then(|d| d.to_record_batch());
            same(&format!("filter({p}) n={n} on {device}"), rows(gpu.filter(p.clone())), rows(cpu.filter(p.clone())))?;
            for agg in [Agg::Count, Agg::Min, Agg::Max] {
                let q = |df: &DataFrame| {
                    let out = df.lazy().filter(p.clone()).aggregate([e.clone().agg(agg)]).collect()?;
                    Scalar::from_array(out.columns()[0].to_arrow()?.as_ref(), 0)
                };
                same(&format!("{agg:?}({e}) where {p} n={n} on {device}\n{e:?}\n{p:?}"), q(&gpu), q(&cpu))?;
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn interpreter_equals_cpu_engine_on_random_trees(
        n in prop_oneof![proptest::sample::select(&[0usize, 1, 31, 32, 33, 255, 256, 257, 1025][..]), 0usize..2000],
        seed in any::<u64>(),
    ) {
        check(n, seed)?;
    }
}
