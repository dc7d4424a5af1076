//! Expression evaluation on a GPU (CUDA or Sim): one kernel launch per node, results stay on the
//! device. Kernels: `kernels/binary.cu` (arithmetic), `kernels/compare.cu` (comparisons, string
//! predicates), `kernels/logic.cu` (Kleene logic, bitmaps), `kernels/cast.cu` (coercion casts).
//! Type rules come from [`super::types`], shared with the CPU engine.
use super::types::{binary_plan, dtype_of, pow10, BinaryPlan};
use super::{BinaryOp, Expr, StrOp};
use arrow::array::AsArray;
use ember_core::{DType, DataFrame, Device, DeviceColumn, Error, Result, Scalar};
use ember_gpu::primitives::BLOCK;
use ember_gpu::{DeviceBuffer, Gpu, KernelArg, LaunchConfig};
use std::sync::Arc;

/// The frame's GPU handle (errors for a CPU frame).
pub(crate) fn gpu_of(df: &DataFrame) -> Result<Arc<Gpu>> {
    df.device().gpu()?.ok_or_else(|| Error::Internal("GPU path called on a CPU frame".into()))
}

/// Evaluates `expr` over `df` (a frame on a GPU) to a device column of `df.num_rows()` rows.
pub fn evaluate(df: &DataFrame, expr: &Expr) -> Result<DeviceColumn> {
    let gpu = gpu_of(df)?;
    let t = dtype_of(expr, df.fields())?.unwrap_or(DType::Bool);
    match eval(df, &gpu, expr)? {
        Val::Col(c) => Ok(c),
        Val::Scalar(s) => broadcast(&gpu, &s, t, df.num_rows()),
    }
}

/// An intermediate value: a device column or a literal.
enum Val {
    Col(DeviceColumn),
    Scalar(Scalar),
}

impl Val {
    fn dtype(&self) -> Option<DType> {
        match self {
            Val::Col(c) => Some(c.dtype),
            Val::Scalar(s) => s.dtype(),
        }
    }
}

fn eval(df: &DataFrame, gpu: &Arc<Gpu>, expr: &Expr) -> Result<Val> {
    let n = df.num_rows();
    Ok(match expr {
        Expr::Column(name) => Val::Col(df.column(name)?.as_device()?.clone()),
        Expr::Literal(s) => Val::Scalar(s.clone()),
        Expr::Binary { op, left, right } => {
            let (l, r) = (eval(df, gpu, left)?, eval(df, gpu, right)?);
            let plan = binary_plan(*op, l.dtype(), r.dtype())?;
            if let (Val::Scalar(a), Val::Scalar(b)) = (&l, &r) {
                return fold_scalars(&Expr::Binary {
                    op: *op,
                    left: Box::new(Expr::Literal(a.clone())),
                    right: Box::new(Expr::Literal(b.clone())),
                });
            }
            if op.is_logical() {
                Val::Col(kleene(gpu, *op, &l, &r, n)?)
            } else if op.is_comparison() {
                Val::Col(compare(gpu, *op, &plan, &l, &r, n)?)
            } else {
                Val::Col(arith(gpu, *op, &plan, &l, &r, n)?)
            }
        }
        Expr::Not(e) => match eval(df, gpu, e)? {
            Val::Scalar(s) => return fold_scalars(&Expr::Not(Box::new(Expr::Literal(s)))),
            Val::Col(c) => {
                let out = gpu.alloc(words(n) * 4)?;
                launch_words(
                    gpu,
                    "logic",
                    "bits_not",
                    n,
                    &[(&*c.values).into(), (&out).into(), KernelArg::U64(words(n) as u64)],
                )?;
                Val::Col(bool_col(gpu, out, c.validity.clone(), n))
            }
        },
        Expr::IsNull(e) | Expr::IsNotNull(e) => {
            let want_null = matches!(expr, Expr::IsNull(_));
            match eval(df, gpu, e)? {
                Val::Scalar(s) => Val::Scalar(Scalar::Bool(s.is_null() == want_null)),
                Val::Col(c) => {
                    let out = gpu.alloc(words(n) * 4)?;
                    match (&c.validity, want_null) {
                        (None, true) => {}
                        (None, false) => gpu.fill_bytes(&out, 0xff)?,
                        (Some(v), false) => gpu.copy(v, 0, &out, 0, words(n) * 4)?,
                        (Some(v), true) => launch_words(
                            gpu,
                            "logic",
                            "bits_not",
                            n,
                            &[(&**v).into(), (&out).into(), KernelArg::U64(words(n) as u64)],
                        )?,
                    }
                    Val::Col(bool_col(gpu, out, None, n))
                }
            }
        }
        Expr::Str { op, expr: inner, pattern } => match eval(df, gpu, inner)? {
            Val::Scalar(s) => {
                return fold_scalars(&Expr::Str { op: *op, expr: Box::new(Expr::Literal(s)), pattern: pattern.clone() })
            }
            Val::Col(c) => {
                let offsets =
                    c.offsets.as_ref().ok_or_else(|| Error::Internal("utf8 column without offsets".into()))?;
                let pat = gpu.upload_bytes(pattern.as_bytes())?;
                let out = gpu.alloc(words(n) * 4)?;
                let code = match op {
                    StrOp::StartsWith => 0,
                    StrOp::EndsWith => 1,
                    StrOp::Contains => 2,
                };
                if n > 0 {
                    gpu.launch(
                        "compare",
                        "str_match",
                        LaunchConfig::for_elems(n, BLOCK),
                        &[
                            (&**offsets).into(),
                            (&*c.values).into(),
                            (&pat).into(),
                            KernelArg::U64(pattern.len() as u64),
                            (&out).into(),
                            KernelArg::U64(n as u64),
                            KernelArg::I32(code),
                        ],
                    )?;
                }
                Val::Col(bool_col(gpu, out, c.validity.clone(), n))
            }
        },
    })
}

/// Literal-only subexpressions are folded on the host by the CPU engine (one row).
fn fold_scalars(expr: &Expr) -> Result<Val> {
    let schema = Arc::new(arrow::datatypes::Schema::empty());
    let one_row = DataFrame::try_new(schema, vec![], 1, Device::Cpu)?;
    let arr = super::cpu::evaluate(&one_row, expr)?;
    Ok(Val::Scalar(Scalar::from_array(arr.as_ref(), 0)?))
}

fn words(n: usize) -> usize {
    n.div_ceil(32)
}

fn launch_words(gpu: &Gpu, module: &'static str, kernel: &str, n: usize, args: &[KernelArg]) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    Ok(gpu.launch(module, kernel, LaunchConfig::for_elems(words(n), BLOCK), args)?)
}

fn bool_col(gpu: &Arc<Gpu>, bits: DeviceBuffer, validity: Option<Arc<DeviceBuffer>>, n: usize) -> DeviceColumn {
    DeviceColumn {
        gpu: gpu.clone(),
        dtype: DType::Bool,
        arrow_type: arrow::datatypes::DataType::Boolean,
        len: n,
        values: Arc::new(bits),
        offsets: None,
        validity,
    }
}

/// A column of `n` copies of `s` (built on the host, uploaded once).
fn broadcast(gpu: &Arc<Gpu>, s: &Scalar, t: DType, n: usize) -> Result<DeviceColumn> {
    let one = s.to_array(&t)?;
    let idx = arrow::array::UInt32Array::from(vec![0u32; n]);
    let arr = arrow::compute::take(one.as_ref(), &idx, None)?;
    DeviceColumn::upload(gpu, arr.as_ref())
}

/// An all-null column of type `t`.
fn all_null(gpu: &Arc<Gpu>, t: DType, n: usize) -> Result<DeviceColumn> {
    let arr = arrow::array::new_null_array(&t.to_arrow(), n);
    let mut c = DeviceColumn::upload(gpu, arr.as_ref())?;
    if c.validity.is_none() {
        c.validity = Some(Arc::new(gpu.alloc(words(n) * 4)?));
    }
    Ok(c)
}

/// A kernel operand: buffers plus step (1 for a column, 0 for a scalar).
struct Operand {
    values: Arc<DeviceBuffer>,
    offsets: Option<Arc<DeviceBuffer>>,
    validity: Option<Arc<DeviceBuffer>>,
    step: u32,
}

/// Prepares `v` as type `t`: casts a column on the device, converts and uploads a scalar.
/// Returns `None` for a null scalar.
fn operand(gpu: &Arc<Gpu>, v: &Val, t: DType) -> Result<Option<Operand>> {
    match v {
        Val::Col(c) => {
            let c = cast_column(gpu, c, t)?;
            Ok(Some(Operand { values: c.values, offsets: c.offsets, validity: c.validity, step: 1 }))
        }
        Val::Scalar(Scalar::Null) => Ok(None),
        Val::Scalar(s) => {
            let arr = s.to_array(&t)?;
            let (values, offsets) = match t {
                DType::Bool => {
                    let word: u32 = if arr.as_boolean().value(0) { u32::MAX } else { 0 };
                    (gpu.upload(&[word])?, None)
                }
                DType::Utf8 => {
                    let text = match s {
                        Scalar::Utf8(x) => x.clone(),
                        other => other.to_string(),
                    };
                    (gpu.upload_bytes(text.as_bytes())?, Some(Arc::new(gpu.upload(&[0i64, text.len() as i64])?)))
                }
                _ => {
                    let data = arr.to_data();
                    let w = t.prim().expect("fixed width").width();
                    (gpu.upload_bytes(&data.buffers()[0].as_slice()[..w])?, None)
                }
            };
            Ok(Some(Operand { values: Arc::new(values), offsets, validity: None, step: 0 }))
        }
    }
}

/// Valid where both are valid.
fn and_validity(
    gpu: &Gpu,
    a: &Option<Arc<DeviceBuffer>>,
    b: &Option<Arc<DeviceBuffer>>,
    n: usize,
) -> Result<Option<Arc<DeviceBuffer>>> {
    Ok(match (a, b) {
        (None, None) => None,
        (Some(x), None) | (None, Some(x)) => Some(x.clone()),
        (Some(x), Some(y)) => {
            let out = gpu.alloc(words(n) * 4)?;
            launch_words(
                gpu,
                "logic",
                "bits_and",
                n,
                &[(&**x).into(), (&**y).into(), (&out).into(), KernelArg::U64(words(n) as u64)],
            )?;
            Some(Arc::new(out))
        }
    })
}

fn split128(v: i128) -> (KernelArg, KernelArg) {
    (KernelArg::U64(v as u128 as u64), KernelArg::U64((v as u128 >> 64) as u64))
}

fn read_err(gpu: &Gpu, err: &DeviceBuffer, what: &str) -> Result<()> {
    let e = gpu.download_prefix::<u32>(err, 1)?[0];
    if e & 2 != 0 {
        return Err(Error::DivideByZero(what.into()));
    }
    if e & 1 != 0 {
        return Err(Error::Overflow(what.into()));
    }
    Ok(())
}

/// Casts a device column to `to` (only the widening casts type coercion produces).
pub(crate) fn cast_column(gpu: &Arc<Gpu>, c: &DeviceColumn, to: DType) -> Result<DeviceColumn> {
    if c.dtype == to {
        return Ok(c.clone());
    }
    let n = c.len;
    let unsupported = || Error::Internal(format!("no device cast from {} to {to}", c.dtype));
    let out_of = |values: DeviceBuffer| DeviceColumn {
        gpu: gpu.clone(),
        dtype: to,
        arrow_type: to.to_arrow(),
        len: n,
        values: Arc::new(values),
        offsets: None,
        validity: c.validity.clone(),
    };
    let to_prim = to.prim().ok_or_else(unsupported)?;
    let from_prim = c.dtype.prim().ok_or_else(unsupported)?;
    match (c.dtype, to) {
        (DType::Decimal128 { scale: s1, .. }, DType::Decimal128 { precision: p2, scale: s2 }) => {
            if s2 < s1 {
                return Err(unsupported());
            }
            let mul = pow10((s2 - s1) as u32).ok_or_else(unsupported)?;
            let lim = pow10(p2 as u32).unwrap_or(i128::MAX);
            let out = gpu.alloc(n * 16)?;
            let err = gpu.alloc(4)?;
            let (ml, mh) = split128(mul);
            let (ll, lh) = split128(lim);
            if n > 0 {
                gpu.launch(
                    "cast",
                    "cast_dec_rescale",
                    LaunchConfig::for_elems(n, BLOCK),
                    &[
                        (&*c.values).into(),
                        (&out).into(),
                        KernelArg::U64(n as u64),
                        ml,
                        mh,
                        ll,
                        lh,
                        c.validity.as_deref().into(),
                        (&err).into(),
                    ],
                )?;
            }
            read_err(gpu, &err, &format!("cast from {} to {to}", c.dtype))?;
            Ok(out_of(out))
        }
        (DType::Decimal128 { scale, .. }, DType::Float64) => {
            let out = gpu.alloc(n * 8)?;
            if n > 0 {
                gpu.launch(
                    "cast",
                    "cast_dec_f64",
                    LaunchConfig::for_elems(n, BLOCK),
                    &[
                        (&*c.values).into(),
                        (&out).into(),
                        KernelArg::U64(n as u64),
                        KernelArg::F64(10f64.powi(scale as i32)),
                    ],
                )?;
            }
            Ok(out_of(out))
        }
        (from, DType::Decimal128 { scale, .. }) if from.is_integer() && scale != 0 => {
            // integer -> decimal(p, 0) (a widening kernel), then rescale to `to`
            let dec0 = cast_column(gpu, c, DType::Decimal128 { precision: 38, scale: 0 })?;
            cast_column(gpu, &dec0, to)
        }
        (from, _) if (from.is_integer() || from == DType::Float32) && to.is_numeric() => {
            let out = gpu.alloc(n * to_prim.width())?;
            if n > 0 {
                gpu.launch(
                    "cast",
                    &format!("cast_{}_{}", from_prim.suffix(), to_prim.suffix()),
                    LaunchConfig::for_elems(n, BLOCK),
                    &[(&*c.values).into(), (&out).into(), KernelArg::U64(n as u64)],
                )?;
            }
            Ok(out_of(out))
        }
        _ => Err(unsupported()),
    }
}

fn arith(gpu: &Arc<Gpu>, op: BinaryOp, plan: &BinaryPlan, l: &Val, r: &Val, n: usize) -> Result<DeviceColumn> {
    let (Some(a), Some(b)) = (operand(gpu, l, plan.left)?, operand(gpu, r, plan.right)?) else {
        return all_null(gpu, plan.output, n);
    };
    let validity = and_validity(gpu, &a.validity, &b.validity, n)?;
    let prim = plan.output.prim().ok_or_else(|| Error::Internal(format!("arithmetic on {}", plan.output)))?;
    let out = gpu.alloc(n * prim.width())?;
    let err = gpu.alloc(4)?;
    let opname = match op {
        BinaryOp::Add => "add",
        BinaryOp::Sub => "sub",
        BinaryOp::Mul => "mul",
        BinaryOp::Div => "div",
        _ => unreachable!("arithmetic op"),
    };
    if n > 0 {
        let cfg = LaunchConfig::for_elems(n, BLOCK);
        let common = [
            (&*a.values).into(),
            KernelArg::U32(a.step),
            (&*b.values).into(),
            KernelArg::U32(b.step),
            validity.as_deref().into(),
            (&out).into(),
            KernelArg::U64(n as u64),
        ];
        if plan.output.is_decimal() {
            let (lm, rm) = plan.decimal_mul.unwrap_or((1, 1));
            let (l0, l1) = split128(lm);
            let (r0, r1) = split128(rm);
            let mut args = common.to_vec();
            args.extend([l0, l1, r0, r1, (&err).into()]);
            gpu.launch("binary", &format!("dec_{opname}"), cfg, &args)?;
        } else {
            let mut args = common.to_vec();
            args.push((&err).into());
            gpu.launch("binary", &format!("arith_{opname}_{}", prim.suffix()), cfg, &args)?;
        }
    }
    read_err(gpu, &err, &format!("{} {} {}", plan.left, op.symbol(), plan.right))?;
    Ok(DeviceColumn {
        gpu: gpu.clone(),
        dtype: plan.output,
        arrow_type: plan.output.to_arrow(),
        len: n,
        values: Arc::new(out),
        offsets: None,
        validity,
    })
}

fn cmp_code(op: BinaryOp) -> i32 {
    match op {
        BinaryOp::Eq => 0,
        BinaryOp::NotEq => 1,
        BinaryOp::Lt => 2,
        BinaryOp::LtEq => 3,
        BinaryOp::Gt => 4,
        BinaryOp::GtEq => 5,
        _ => unreachable!("comparison op"),
    }
}

fn compare(gpu: &Arc<Gpu>, op: BinaryOp, plan: &BinaryPlan, l: &Val, r: &Val, n: usize) -> Result<DeviceColumn> {
    let (Some(a), Some(b)) = (operand(gpu, l, plan.left)?, operand(gpu, r, plan.right)?) else {
        return all_null(gpu, DType::Bool, n);
    };
    let validity = and_validity(gpu, &a.validity, &b.validity, n)?;
    let out = gpu.alloc(words(n) * 4)?;
    if n > 0 {
        let code = KernelArg::I32(cmp_code(op));
        match plan.left {
            DType::Bool => launch_words(
                gpu,
                "compare",
                "cmp_bool",
                n,
                &[
                    (&*a.values).into(),
                    KernelArg::U32(a.step),
                    (&*b.values).into(),
                    KernelArg::U32(b.step),
                    (&out).into(),
                    KernelArg::U64(words(n) as u64),
                    code,
                ],
            )?,
            DType::Utf8 => {
                let missing = || Error::Internal("utf8 operand without offsets".into());
                let (ao, bo) = (a.offsets.as_ref().ok_or_else(missing)?, b.offsets.as_ref().ok_or_else(missing)?);
                gpu.launch(
                    "compare",
                    "cmp_str",
                    LaunchConfig::for_elems(n, BLOCK),
                    &[
                        (&**ao).into(),
                        (&*a.values).into(),
                        KernelArg::U32(a.step),
                        (&**bo).into(),
                        (&*b.values).into(),
                        KernelArg::U32(b.step),
                        (&out).into(),
                        KernelArg::U64(n as u64),
                        code,
                    ],
                )?
            }
            t => {
                let prim = t.prim().ok_or_else(|| Error::Internal(format!("comparison on {t}")))?;
                gpu.launch(
                    "compare",
                    &format!("cmp_{}", prim.suffix()),
                    LaunchConfig::for_elems(n, BLOCK),
                    &[
                        (&*a.values).into(),
                        KernelArg::U32(a.step),
                        (&*b.values).into(),
                        KernelArg::U32(b.step),
                        (&out).into(),
                        KernelArg::U64(n as u64),
                        code,
                    ],
                )?
            }
        }
    }
    Ok(bool_col(gpu, out, validity, n))
}

fn kleene(gpu: &Arc<Gpu>, op: BinaryOp, l: &Val, r: &Val, n: usize) -> Result<DeviceColumn> {
    // A null scalar is a word of zeros with an invalid validity word.
    let side = |v: &Val| -> Result<Operand> {
        match operand(gpu, v, DType::Bool)? {
            Some(o) => Ok(o),
            None => Ok(Operand {
                values: Arc::new(gpu.upload(&[0u32])?),
                offsets: None,
                validity: Some(Arc::new(gpu.upload(&[0u32])?)),
                step: 0,
            }),
        }
    };
    let (a, b) = (side(l)?, side(r)?);
    let out = gpu.alloc(words(n) * 4)?;
    let out_valid = gpu.alloc(words(n) * 4)?;
    let kernel = if op == BinaryOp::And { "kleene_and" } else { "kleene_or" };
    launch_words(
        gpu,
        "logic",
        kernel,
        n,
        &[
            (&*a.values).into(),
            a.validity.as_deref().into(),
            KernelArg::U32(a.step),
            (&*b.values).into(),
            b.validity.as_deref().into(),
            KernelArg::U32(b.step),
            (&out).into(),
            (&out_valid).into(),
            KernelArg::U64(words(n) as u64),
        ],
    )?;
    let validity = if a.validity.is_none() && b.validity.is_none() { None } else { Some(Arc::new(out_valid)) };
    Ok(bool_col(gpu, out, validity, n))
}
