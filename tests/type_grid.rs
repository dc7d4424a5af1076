//! Every pair of column types under every binary operator, CPU engine against the GPU path, on
//! values at the edges (0, -1, min, max, NaN, -0.0, decimals above 2^53 unscaled, nulls): the
//! results are identical, or both devices refuse with the same kind of error.
mod common;
use arrow::array::*;
use ember::prelude::*;
use std::sync::Arc;

/// Eight rows per type (row 7 null), chosen at the edges of each type.
fn column(name: &str) -> ArrayRef {
    match name {
        "bool" => Arc::new(BooleanArray::from(vec![
            Some(true),
            Some(false),
            Some(true),
            Some(false),
            Some(true),
            Some(true),
            Some(false),
            None,
        ])),
        "i8" => Arc::new(Int8Array::from(vec![
            Some(0),
            Some(-1),
            Some(i8::MIN),
            Some(i8::MAX),
            Some(1),
            Some(7),
            Some(-7),
            None,
        ])),
        "i16" => Arc::new(Int16Array::from(vec![
            Some(0),
            Some(-1),
            Some(i16::MIN),
            Some(i16::MAX),
            Some(1),
            Some(300),
            Some(-300),
            None,
        ])),
        "i32" => Arc::new(Int32Array::from(vec![
            Some(0),
            Some(-1),
            Some(i32::MIN),
            Some(i32::MAX),
            Some(1),
            Some(70_000),
            Some(-5),
            None,
        ])),
        "i64" => Arc::new(Int64Array::from(vec![
            Some(0),
            Some(-1),
            Some(i64::MIN),
            Some(i64::MAX),
            Some(1),
            Some(1 << 40),
            Some(-9),
            None,
        ])),
        "u8" => Arc::new(UInt8Array::from(vec![
            Some(0),
            Some(1),
            Some(u8::MAX),
            Some(128),
            Some(2),
            Some(7),
            Some(9),
            None,
        ])),
        "u16" => Arc::new(UInt16Array::from(vec![
            Some(0),
            Some(1),
            Some(u16::MAX),
            Some(300),
            Some(2),
            Some(7),
            Some(9),
            None,
        ])),
        "u32" => Arc::new(UInt32Array::from(vec![
            Some(0),
            Some(1),
            Some(u32::MAX),
            Some(1 << 31),
            Some(2),
            Some(7),
            Some(9),
            None,
        ])),
        "u64" => Arc::new(UInt64Array::from(vec![
            Some(0),
            Some(1),
            Some(u64::MAX),
            Some(1 << 63),
            Some(2),
            Some(7),
            Some(9),
            None,
        ])),
        "f32" => Arc::new(Float32Array::from(vec![
            Some(0.0),
            Some(-0.0),
            Some(f32::NAN),
            Some(f32::MAX),
            Some(-1.5),
            Some(f32::INFINITY),
            Some(1e-30),
            None,
        ])),
        "f64" => Arc::new(Float64Array::from(vec![
            Some(0.0),
            Some(-0.0),
            Some(f64::NAN),
            Some(f64::MAX),
            Some(-1.5),
            Some(f64::NEG_INFINITY),
            Some(1e-300),
            None,
        ])),
        "dec10" => Arc::new(
            Decimal128Array::from(vec![
                Some(0),
                Some(-1),
                Some(9_999_999_999),
                Some(-9_999_999_999),
                Some(150),
                Some(12_345),
                Some(7),
                None,
            ])
            .with_precision_and_scale(10, 2)
            .unwrap(),
        ),
        "dec38" => Arc::new(
            Decimal128Array::from(vec![
                Some(0),
                Some(-1),
                Some(10i128.pow(37)),
                Some(-(2i128.pow(60) + 1)),
                Some(9_007_199_254_740_993),
                Some(10i128.pow(20) + 7),
                Some(123_456_789),
                None,
            ])
            .with_precision_and_scale(38, 10)
            .unwrap(),
        ),
        "utf8" => Arc::new(StringArray::from(vec![
            Some(""),
            Some("a"),
            Some("b"),
            Some("ab"),
            Some("é"),
            Some("zz"),
            Some("a"),
            None,
        ])),
        "date" => Arc::new(Date32Array::from(vec![
            Some(0),
            Some(-1),
            Some(19_000),
            Some(8766),
            Some(1),
            Some(-700_000),
            Some(2_000_000),
            None,
        ])),
        other => panic!("no column {other}"),
    }
}

const TYPES: &[&str] =
    &["bool", "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "f32", "f64", "dec10", "dec38", "utf8", "date"];

/// A binary operator as a function of its operands.
type BinOp = fn(Expr, Expr) -> Expr;

#[test]
fn every_type_pair_under_every_operator_agrees() {
    let mut cols: Vec<(&str, ArrayRef)> = Vec::new();
    for t in TYPES {
        cols.push((t, column(t)));
    }
    let cpu = common::frame(cols, Device::Cpu);
    let ops: [(&str, BinOp); 12] = [
        ("+", |a, b| a + b),
        ("-", |a, b| a - b),
        ("*", |a, b| a * b),
        ("/", |a, b| a / b),
        ("=", Expr::eq),
        ("!=", Expr::neq),
        ("<", Expr::lt),
        ("<=", Expr::lt_eq),
        (">", Expr::gt),
        (">=", Expr::gt_eq),
        ("and", Expr::and),
        ("or", Expr::or),
    ];
    let (mut checked, mut computed) = (0, 0);
    for device in common::gpu_devices() {
        let gpu = cpu.to(device).unwrap();
        for l in TYPES {
            for r in TYPES {
                for (name, op) in ops {
                    let e = op(col(l), col(r));
                    let want = cpu.evaluate(&e).and_then(|c| c.to_arrow());
                    let got = gpu.evaluate(&e).and_then(|c| c.to_arrow());
                    match (&got, &want) {
                        (Ok(g), Ok(w)) => {
                            assert_eq!(format!("{g:?}"), format!("{w:?}"), "{l} {name} {r} on {device}");
                            computed += 1;
                        }
                        (Err(g), Err(w)) => {
                            assert_ne!(common::error_class(g), "internal", "{l} {name} {r} on {device}: {g}");
                            assert_eq!(
                                common::error_class(g),
                                common::error_class(w),
                                "{l} {name} {r} on {device}: {g} vs cpu {w}"
                            )
                        }
                        _ => panic!("{l} {name} {r} on {device}: {:?} vs cpu {:?}", got.err(), want.err()),
                    }
                    checked += 1;
                }
            }
        }
    }
    eprintln!("{checked} (type, type, operator) cases agree; {computed} computed, the rest refused alike");
    assert!(computed > checked / 3, "too few cases compute anything: {computed} of {checked}");
}
