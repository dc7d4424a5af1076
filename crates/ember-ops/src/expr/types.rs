//! Type rules shared by the CPU engine and the GPU, so both produce the same result types.
//!
//! * **Common type** (comparisons, and arithmetic on non-decimals): the same type; integers widen
//!   to the wider type of the same signedness, mixed signedness goes to the next wider signed type
//!   (`u64` with a signed type goes to `f64`); an integer with a float goes to `f32` only for
//!   `f32` with 8/16-bit integers, else `f64`; a decimal with an integer treats the integer as
//!   `decimal(digits, 0)`; a decimal with a float goes to `f64`; two decimals go to
//!   `decimal(max(p1-s1, p2-s2) + max(s1, s2), max(s1, s2))` (at most 38 digits). Strings, dates,
//!   timestamps and booleans compare only with their own type.
//! * **Integer arithmetic** wraps on overflow for `+ - *` (as polars); division is checked:
//!   division by zero and `MIN / -1` are errors (as arrow-rs).
//! * **Decimal arithmetic** is exact and checked, with arrow-rs's result types: `+`/`-`:
//!   `scale = max(s1, s2)`, `precision = scale + max(p1-s1, p2-s2) + 1`; `*`: `scale = s1 + s2`,
//!   `precision = p1 + p2 + 1`; `/`: `scale = s1 + 4`, `precision = p1 - s1 + s2 + scale`,
//!   truncating. Precision is capped at 38.
//! * **Float arithmetic** is IEEE (no fused multiply-add on the GPU).
//! * **Dates** plus or minus an integer (whole days) are dates, the day numbers added as `int32`
//!   (the integer cast to `int32` first, checked); `date - date` is not supported yet.
use super::{BinaryOp, Expr};
use ember_core::{type_bail, DType, Error, Field, Result};

/// How to evaluate one binary operation: cast the operands to `left`/`right`, run the kernel,
/// get `output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BinaryPlan {
    /// Type the left operand is cast to.
    pub left: DType,
    /// Type the right operand is cast to.
    pub right: DType,
    /// Result type.
    pub output: DType,
    /// For decimal `+ - /`: the powers of ten the (unscaled) operands are multiplied by.
    pub decimal_mul: Option<(i128, i128)>,
}

fn int_as_decimal(d: DType) -> Option<DType> {
    let precision = match d {
        DType::Int8 | DType::UInt8 => 3,
        DType::Int16 | DType::UInt16 => 5,
        DType::Int32 | DType::UInt32 => 10,
        DType::Int64 => 19,
        DType::UInt64 => 20,
        _ => return None,
    };
    Some(DType::Decimal128 { precision, scale: 0 })
}

fn signed_of_bits(bits: u32) -> DType {
    match bits {
        8 => DType::Int8,
        16 => DType::Int16,
        32 => DType::Int32,
        _ => DType::Int64,
    }
}

fn unsigned_of_bits(bits: u32) -> DType {
    match bits {
        8 => DType::UInt8,
        16 => DType::UInt16,
        32 => DType::UInt32,
        _ => DType::UInt64,
    }
}

fn dec_parts(d: DType) -> (i16, i16) {
    match d {
        DType::Decimal128 { precision, scale } => (precision as i16, scale as i16),
        _ => unreachable!("decimal expected"),
    }
}

/// 10^k as i128 (k in 0..=38).
pub fn pow10(k: u32) -> Option<i128> {
    10i128.checked_pow(k)
}

/// The type both operands of a comparison (or non-decimal arithmetic) are cast to, if any.
pub fn common_type(l: DType, r: DType) -> Option<DType> {
    use DType::*;
    if l == r {
        return Some(l);
    }
    if l.is_decimal() || r.is_decimal() {
        let (a, b) = (int_as_decimal(l).unwrap_or(l), int_as_decimal(r).unwrap_or(r));
        if a.is_float() || b.is_float() {
            return Some(Float64);
        }
        if !(a.is_decimal() && b.is_decimal()) {
            return None;
        }
        let ((p1, s1), (p2, s2)) = (dec_parts(a), dec_parts(b));
        let scale = s1.max(s2);
        let precision = ((p1 - s1).max(p2 - s2) + scale).min(38);
        return Some(Decimal128 { precision: precision as u8, scale: scale as i8 });
    }
    if l.is_integer() && r.is_integer() {
        let (bl, br) = (l.int_bits().expect("int"), r.int_bits().expect("int"));
        let (sl, sr) = (l.is_signed_integer(), r.is_signed_integer());
        if sl == sr {
            let bits = bl.max(br);
            return Some(if sl { signed_of_bits(bits) } else { unsigned_of_bits(bits) });
        }
        let (s_bits, u_bits) = if sl { (bl, br) } else { (br, bl) };
        return Some(if u_bits < s_bits {
            signed_of_bits(s_bits)
        } else if u_bits < 64 {
            signed_of_bits(u_bits * 2)
        } else {
            Float64
        });
    }
    if l.is_numeric() && r.is_numeric() {
        // at least one float, no decimal
        let small_int = |d: DType| d.int_bits().is_some_and(|b| b <= 16);
        return Some(match (l, r) {
            (Float32, o) | (o, Float32) if o == Float32 || small_int(o) => Float32,
            _ => Float64,
        });
    }
    None
}

/// The plan for `l op r` (`None` = an untyped null literal: it takes the other side's type).
pub fn binary_plan(op: BinaryOp, l: Option<DType>, r: Option<DType>) -> Result<BinaryPlan> {
    let name = format!("{} ({})", op.symbol(), format!("{op:?}").to_lowercase());
    let (l, r) = match (l, r) {
        (None, None) => {
            let t = if op.is_arithmetic() { DType::Int32 } else { DType::Bool };
            (t, t)
        }
        (Some(a), None) => (a, a),
        (None, Some(b)) => (b, b),
        (Some(a), Some(b)) => (a, b),
    };
    if op.is_logical() {
        if l != DType::Bool || r != DType::Bool {
            type_bail!(name, "AND/OR need boolean operands, got {l} and {r}");
        }
        return Ok(BinaryPlan { left: l, right: r, output: DType::Bool, decimal_mul: None });
    }
    if op.is_comparison() {
        let Some(c) = common_type(l, r) else {
            type_bail!(name, "cannot compare {l} with {r}");
        };
        return Ok(BinaryPlan { left: c, right: c, output: DType::Bool, decimal_mul: None });
    }
    // a date plus or minus whole days (an integer): the day numbers added as int32 (wrapping, as
    // integer arithmetic does), the result a date
    let days = |t: DType| t.is_integer();
    match (op, l, r) {
        (BinaryOp::Add | BinaryOp::Sub, DType::Date32, t) | (BinaryOp::Add, t, DType::Date32) if days(t) => {
            return Ok(BinaryPlan {
                left: DType::Int32,
                right: DType::Int32,
                output: DType::Date32,
                decimal_mul: None,
            });
        }
        _ => {}
    }
    // arithmetic
    if !(l.is_numeric() && r.is_numeric()) {
        type_bail!(name, "arithmetic needs numeric operands, got {l} and {r}");
    }
    let decimal_side = (l.is_decimal() || r.is_decimal()) && !(l.is_float() || r.is_float());
    if !decimal_side {
        let c = common_type(l, r)
            .ok_or_else(|| Error::Type { op: name.clone(), message: format!("no common type for {l} and {r}") })?;
        return Ok(BinaryPlan { left: c, right: c, output: c, decimal_mul: None });
    }
    let (a, b) = (int_as_decimal(l).unwrap_or(l), int_as_decimal(r).unwrap_or(r));
    let ((p1, s1), (p2, s2)) = (dec_parts(a), dec_parts(b));
    let pw = |k: i16| pow10(k as u32).ok_or_else(|| Error::Overflow(format!("10^{k} in decimal {name}")));
    let (precision, scale, muls) = match op {
        BinaryOp::Add | BinaryOp::Sub => {
            let scale = s1.max(s2);
            let precision = (scale + (p1 - s1).max(p2 - s2) + 1).min(38);
            (precision, scale, Some((pw(scale - s1)?, pw(scale - s2)?)))
        }
        BinaryOp::Mul => {
            let scale = s1 + s2;
            if scale > 38 {
                type_bail!(name, "result scale {scale} of {a} * {b} exceeds 38");
            }
            ((p1 + p2 + 1).min(38), scale, None)
        }
        BinaryOp::Div => {
            let scale = (s1 + 4).min(38);
            let mul_pow = scale - s1 + s2;
            let precision = (mul_pow + p1).clamp(scale.max(1), 38);
            let muls = if mul_pow >= 0 { (pw(mul_pow)?, 1) } else { (1, pw(-mul_pow)?) };
            (precision, scale, Some(muls))
        }
        _ => unreachable!("arithmetic op"),
    };
    Ok(BinaryPlan {
        left: a,
        right: b,
        output: DType::Decimal128 { precision: precision as u8, scale: scale as i8 },
        decimal_mul: muls,
    })
}

/// The type of `expr` over columns `fields` (`None` for an untyped null literal).
pub fn dtype_of(expr: &Expr, fields: &[Field]) -> Result<Option<DType>> {
    Ok(match expr {
        Expr::Column(name) => Some(
            fields
                .iter()
                .find(|f| &f.name == name)
                .ok_or_else(|| Error::ColumnNotFound {
                    name: name.clone(),
                    available: fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", "),
                })?
                .dtype,
        ),
        Expr::Literal(s) => s.dtype(),
        Expr::Alias(e, _) => dtype_of(e, fields)?,
        Expr::Binary { op, left, right } => {
            Some(binary_plan(*op, dtype_of(left, fields)?, dtype_of(right, fields)?)?.output)
        }
        Expr::Not(e) => {
            match dtype_of(e, fields)? {
                Some(DType::Bool) | None => {}
                Some(t) => type_bail!("NOT", "needs a boolean operand, got {t}"),
            }
            Some(DType::Bool)
        }
        Expr::IsNull(e) | Expr::IsNotNull(e) => {
            dtype_of(e, fields)?;
            Some(DType::Bool)
        }
        Expr::Str { op, expr, .. } => {
            expect_operand(&format!("{op:?}"), dtype_of(expr, fields)?, DType::Utf8)?;
            Some(DType::Bool)
        }
        Expr::When { cond, then, otherwise } => {
            expect_operand("when", dtype_of(cond, fields)?, DType::Bool)?;
            when_type(dtype_of(then, fields)?, dtype_of(otherwise, fields)?)?
        }
        Expr::DatePart { part, expr } => {
            expect_operand(&format!("{part:?}"), dtype_of(expr, fields)?, DType::Date32)?;
            Some(DType::Int32)
        }
        Expr::StrSlice { expr, .. } => {
            expect_operand("str_slice", dtype_of(expr, fields)?, DType::Utf8)?;
            Some(DType::Utf8)
        }
        Expr::StrLen(e) => {
            expect_operand("str_len", dtype_of(e, fields)?, DType::Utf8)?;
            Some(DType::UInt32)
        }
        Expr::Cast { expr, to } => {
            check_cast(dtype_of(expr, fields)?, *to)?;
            Some(*to)
        }
        Expr::Round { expr, .. } => dtype_of(expr, fields)?.map(round_type).transpose()?,
    })
}

/// The type of `round(x)` for `x` of type `t`: floats and integers keep theirs, a decimal gains
/// one digit of precision (99.99 rounds to 100.0).
pub fn round_type(t: DType) -> Result<DType> {
    Ok(match t {
        DType::Decimal128 { precision, scale } => DType::Decimal128 { precision: (precision + 1).min(38), scale },
        t if t.is_numeric() => t,
        t => type_bail!("round", "needs a numeric operand, got {t}"),
    })
}

/// A type error unless ember casts `from` to `to`: a widening cast (their common type is `to`),
/// or any cast between integer and float types (checked: a value the target cannot hold — out
/// of range, NaN — is an overflow error; floats truncate toward zero; f64 to f32 rounds). An
/// untyped null casts to anything.
pub fn check_cast(from: Option<DType>, to: DType) -> Result<()> {
    let plain = |t: DType| t.is_integer() || matches!(t, DType::Float32 | DType::Float64);
    match from {
        Some(f) if f != to && common_type(f, to) != Some(to) && !(plain(f) && plain(to)) => type_bail!(
            format!("cast({f} -> {to})"),
            "not implemented yet: widening casts, and casts between integer and float types"
        ),
        _ => Ok(()),
    }
}

/// A type error unless `got` is `want` (or an untyped null, which takes `want`).
pub fn expect_operand(op: &str, got: Option<DType>, want: DType) -> Result<()> {
    match got {
        Some(t) if t != want => type_bail!(op, "needs a {want} operand, got {t}"),
        _ => Ok(()),
    }
}

/// The type of `when(..).then(a).otherwise(b)`: the common type of the branches (an untyped null
/// branch takes the other's type; `None` when both are untyped nulls).
pub fn when_type(then: Option<DType>, otherwise: Option<DType>) -> Result<Option<DType>> {
    Ok(match (then, otherwise) {
        (None, t) | (t, None) => t,
        (Some(a), Some(b)) => Some(common_type(a, b).ok_or_else(|| Error::Type {
            op: "when".into(),
            message: format!("the branches have no common type: {a} and {b}"),
        })?),
    })
}
