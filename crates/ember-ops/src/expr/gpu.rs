//! Expression evaluation on a GPU (CUDA or Sim): the typed tree is compiled into one register
//! program ([`super::program`]) that `kernels/expr.cu` runs in one launch, with no intermediate
//! columns. String predicates and string comparisons run first, one kernel each
//! (`kernels/compare.cu`), and enter the program as boolean inputs; a tree too large for one
//! program has its largest subtrees evaluated first the same way.
use super::program::{BuildError, Builder, ExprProgram, Precomputed};
use super::typed::TypedExpr;
use super::StrOp;
use ember_core::{DType, DataFrame, DeviceColumn, Error, Result, Scalar};
use ember_gpu::primitives::BLOCK;
use ember_gpu::{abi, DeviceBuffer, ExecContext, Kernel, KernelArg, LaunchConfig};
use std::sync::Arc;

const EXPR_EVAL: Kernel = Kernel::new("expr", "expr_eval");
const EXPR_EVAL_NULLS: Kernel = Kernel::new("expr", "expr_eval_nulls");
const CMP_STR: Kernel = Kernel::new("compare", "cmp_str");
const STR_MATCH: Kernel = Kernel::new("compare", "str_match");

/// The execution context of a GPU frame (errors for a CPU frame).
pub(crate) fn context_of(df: &DataFrame) -> Result<ExecContext> {
    let gpu = df.device().gpu()?.ok_or_else(|| Error::Internal("GPU path called on a CPU frame".into()))?;
    Ok(ExecContext::new(gpu))
}

/// The frame's columns as device columns.
pub(crate) fn device_columns(df: &DataFrame) -> Result<Vec<&DeviceColumn>> {
    df.columns().iter().map(|c| c.as_device()).collect()
}

fn words(n: usize) -> usize {
    n.div_ceil(32)
}

/// Turns an expression's error key (abi.cuh: the first failing row and instruction, and the
/// error; all ones = none) into the operation's error.
pub(crate) fn check_key(key: u64, what: &dyn Fn() -> String) -> Result<()> {
    if key == u64::MAX {
        return Ok(());
    }
    let row = key >> abi::ERR_KEY_ROW_SHIFT;
    if key & abi::ERR_OVERFLOW as u64 != 0 {
        return Err(Error::Overflow(format!("{} (first failing row {row})", what())));
    }
    Err(Error::DivideByZero(format!("{} (first failing row {row})", what())))
}

/// A device word for an expression's error key, set to "no error".
pub(crate) fn error_key(ctx: &ExecContext) -> Result<DeviceBuffer> {
    let key = ctx.alloc(8)?;
    ctx.fill_bytes(&key, 0xff)?;
    Ok(key)
}

/// A program ready to launch.
pub(crate) struct Prepared {
    pub program: ExprProgram,
    /// Whether the `_nulls` kernel is needed.
    pub nullable: bool,
}

/// Compiles `value` (and `predicate`, evaluated first) into one program over `df`, evaluating
/// string nodes and, if the tree is too large, its largest subtrees first (into `pre`, whose
/// columns the program reads: keep it until the launch is queued; buffers are freed in stream
/// order, so dropping them after that is safe).
pub(crate) fn prepare(
    ctx: &ExecContext,
    df: &DataFrame,
    predicate: Option<&TypedExpr>,
    value: &TypedExpr,
    pre: &mut Precomputed,
) -> Result<Prepared> {
    let cols = device_columns(df)?;
    for root in predicate.into_iter().chain(std::iter::once(value)) {
        strings_first(ctx, df, root, pre)?;
    }
    loop {
        let mut b = Builder::new(&cols, pre);
        let built = (|| {
            let pred = match predicate {
                Some(p) => Some(b.compile(p)?),
                None => None,
            };
            b.start_value();
            let out = b.compile(value)?;
            Ok::<_, BuildError>((pred, out))
        })();
        match built {
            Ok((pred, out)) => {
                let nullable = b.nullable();
                let program = b.finish(out, value.dtype(), pred)?;
                return Ok(Prepared { program, nullable });
            }
            Err(BuildError::Failed(e)) => return Err(e),
            Err(BuildError::TooLarge) => {
                // Evaluate the largest subtree not yet evaluated, then try again. Under a
                // predicate the value is not split: a subtree evaluated on its own would run
                // (and fail) on rows the predicate drops. The caller filters first instead.
                let roots: Vec<&TypedExpr> = match predicate {
                    Some(p) => vec![p],
                    None => vec![value],
                };
                let Some(big) = roots.iter().filter_map(|r| split_point(r, pre)).max_by_key(|e| e.size()) else {
                    if predicate.is_some() {
                        return Err(Error::ProgramTooLarge);
                    }
                    return Err(Error::Internal("an expression node does not fit one program".into()));
                };
                let col = evaluate_typed(ctx, df, big, pre)?;
                pre.insert(big as *const TypedExpr, col);
            }
        }
    }
}

/// The subtree to evaluate first when `root` does not fit a program: going down the largest child
/// not yet evaluated, the first node of at most a quarter of a program's instructions (or the
/// deepest such path's end).
fn split_point<'e>(root: &'e TypedExpr, pre: &Precomputed) -> Option<&'e TypedExpr> {
    let limit = abi::EXPR_MAX_INSTR as usize / 4;
    let mut node = root;
    loop {
        let child = node
            .children()
            .into_iter()
            .filter(|c| !pre.contains_key(&(*c as *const TypedExpr)) && c.size() > 1)
            .max_by_key(|c| c.size());
        match child {
            Some(c) if c.size() <= limit => return Some(c),
            Some(c) => node = c,
            None if !std::ptr::eq(node, root) => return Some(node),
            None => return None,
        }
    }
}

/// Evaluates the string nodes of `e` (comparisons of utf8 operands, string predicates) into
/// boolean columns in `pre`.
fn strings_first(ctx: &ExecContext, df: &DataFrame, e: &TypedExpr, pre: &mut Precomputed) -> Result<()> {
    if pre.contains_key(&(e as *const TypedExpr)) {
        return Ok(());
    }
    for c in e.children() {
        strings_first(ctx, df, c, pre)?;
    }
    let col = match e {
        TypedExpr::Binary { op, left, right, .. } if op.is_comparison() && left.dtype() == DType::Utf8 => {
            compare_strings(ctx, df, *op, left, right)?
        }
        TypedExpr::Str { op, expr, pattern } => match string_operand(ctx, df, expr)? {
            None => None,
            Some((c, _)) => Some(match_strings(ctx, &c, *op, pattern)?),
        },
        _ => None,
    };
    if let Some(col) = col {
        pre.insert(e as *const TypedExpr, col);
    }
    Ok(())
}

/// A utf8 operand as (column, step): a column has step 1, a literal is a one-row column with
/// step 0. `None` for a null literal (the result is null: the program's NULL).
fn string_operand(ctx: &ExecContext, df: &DataFrame, e: &TypedExpr) -> Result<Option<(DeviceColumn, u32)>> {
    match e {
        TypedExpr::Column { index, .. } => Ok(Some((df.columns()[*index].as_device()?.clone(), 1))),
        TypedExpr::Literal { value: Scalar::Null, .. } => Ok(None),
        TypedExpr::Literal { value, .. } => {
            let text = match value {
                Scalar::Utf8(s) => s.clone(),
                other => other.to_string(),
            };
            let arr = arrow::array::LargeStringArray::from(vec![text.as_str()]);
            Ok(Some((DeviceColumn::upload(ctx, &arr)?, 0)))
        }
        other => Err(Error::Internal(format!("utf8 operand {other:?}"))),
    }
}

fn bool_column(
    ctx: &ExecContext,
    bits: DeviceBuffer,
    validity: Option<Arc<DeviceBuffer>>,
    n: usize,
) -> Result<DeviceColumn> {
    DeviceColumn::try_new(
        ctx.gpu().clone(),
        DType::Bool,
        arrow::datatypes::DataType::Boolean,
        n,
        Arc::new(bits),
        None,
        validity,
    )
}

fn compare_strings(
    ctx: &ExecContext,
    df: &DataFrame,
    op: super::BinaryOp,
    l: &TypedExpr,
    r: &TypedExpr,
) -> Result<Option<DeviceColumn>> {
    let n = df.num_rows();
    let (Some((a, a_step)), Some((b, b_step))) = (string_operand(ctx, df, l)?, string_operand(ctx, df, r)?) else {
        return Ok(None);
    };
    let code = match op {
        super::BinaryOp::Eq => abi::CMP_EQ,
        super::BinaryOp::NotEq => abi::CMP_NE,
        super::BinaryOp::Lt => abi::CMP_LT,
        super::BinaryOp::LtEq => abi::CMP_LE,
        super::BinaryOp::Gt => abi::CMP_GT,
        _ => abi::CMP_GE,
    };
    let out = ctx.alloc(words(n) * 4)?;
    let (av, bv) = (a.validity().cloned(), b.validity().cloned());
    let validity = match (&av, &bv) {
        (Some(_), Some(_)) => Some(Arc::new(ctx.alloc(words(n) * 4)?)),
        (Some(v), None) | (None, Some(v)) => Some(v.clone()),
        (None, None) => None,
    };
    let combine = av.is_some() && bv.is_some();
    if n > 0 {
        ctx.launch(
            CMP_STR,
            LaunchConfig::for_elems(n, BLOCK),
            &[
                (&**a.utf8_offsets()?).into(),
                (&**a.values()).into(),
                KernelArg::U32(a_step),
                (&**b.utf8_offsets()?).into(),
                (&**b.values()).into(),
                KernelArg::U32(b_step),
                (&out).into(),
                KernelArg::U64(n as u64),
                KernelArg::I32(code as i32),
                if combine { av.as_deref().into() } else { KernelArg::NULL },
                if combine { bv.as_deref().into() } else { KernelArg::NULL },
                if combine { validity.as_deref().into() } else { KernelArg::NULL },
            ],
        )?;
    }
    Ok(Some(bool_column(ctx, out, validity, n)?))
}

fn match_strings(ctx: &ExecContext, c: &DeviceColumn, op: StrOp, pattern: &str) -> Result<DeviceColumn> {
    let n = c.len();
    let pat = ctx.upload_bytes(pattern.as_bytes())?;
    let out = ctx.alloc(words(n) * 4)?;
    let code = match op {
        StrOp::StartsWith => abi::STR_STARTS_WITH,
        StrOp::EndsWith => abi::STR_ENDS_WITH,
        StrOp::Contains => abi::STR_CONTAINS,
    };
    if n > 0 {
        ctx.launch(
            STR_MATCH,
            LaunchConfig::for_elems(n, BLOCK),
            &[
                (&**c.utf8_offsets()?).into(),
                (&**c.values()).into(),
                (&pat).into(),
                KernelArg::U64(pattern.len() as u64),
                (&out).into(),
                KernelArg::U64(n as u64),
                KernelArg::I32(code as i32),
            ],
        )?;
    }
    bool_column(ctx, out, c.validity().cloned(), n)
}

/// Evaluates `expr` (resolved against `df`) to a device column of `df.num_rows()` rows: one
/// launch of the interpreter and one read of its error word.
pub fn evaluate(ctx: &ExecContext, df: &DataFrame, expr: &TypedExpr) -> Result<DeviceColumn> {
    evaluate_typed(ctx, df, expr, &mut Precomputed::new())
}

fn evaluate_typed(ctx: &ExecContext, df: &DataFrame, expr: &TypedExpr, pre: &mut Precomputed) -> Result<DeviceColumn> {
    let n = df.num_rows();
    if let Some(c) = pre.get(&(expr as *const TypedExpr)) {
        return Ok(c.clone());
    }
    match expr {
        TypedExpr::Column { index, .. } => return Ok(df.columns()[*index].as_device()?.clone()),
        TypedExpr::Literal { value, dtype } if *dtype == DType::Utf8 => {
            // A bare string literal: n copies, built on the host (nothing to compute).
            let one = value.to_array(dtype)?;
            let arr = arrow::compute::take(one.as_ref(), &arrow::array::UInt32Array::from(vec![0u32; n]), None)?;
            return DeviceColumn::upload(ctx, arr.as_ref());
        }
        _ => {}
    }
    let t = expr.dtype();
    let p = prepare(ctx, df, None, expr, pre)?;
    let width = t.prim().map_or(0, |p| p.width());
    let out = ctx.alloc(if t == DType::Bool { words(n) * 4 } else { n * width })?;
    let validity = if p.nullable { Some(Arc::new(ctx.alloc(words(n) * 4)?)) } else { None };
    let err = error_key(ctx)?;
    if n > 0 {
        ctx.launch(
            if p.nullable { EXPR_EVAL_NULLS } else { EXPR_EVAL },
            LaunchConfig::for_elems(n, BLOCK),
            &[
                KernelArg::Struct(p.program.as_bytes()),
                KernelArg::U64(n as u64),
                (&out).into(),
                validity.as_deref().into(),
                KernelArg::U32(0),
                (&err).into(),
            ],
        )?;
    }
    // The operation's error key: read once, after its only launch.
    check_key(ctx.download::<u64>(&err, 1)?[0], &|| format!("evaluating {expr:?}"))?;
    DeviceColumn::try_new(ctx.gpu().clone(), t, t.to_arrow(), n, Arc::new(out), None, validity)
}

/// The bitmap of rows where `predicate` is a valid true (null counts as false), for filter: one
/// launch; the error key is left on the device in `err` ([`error_key`]) for the caller to read
/// after its count.
pub(crate) fn predicate_mask(
    ctx: &ExecContext,
    df: &DataFrame,
    predicate: &TypedExpr,
    err: &DeviceBuffer,
) -> Result<DeviceBuffer> {
    let n = df.num_rows();
    let mask = ctx.alloc(words(n) * 4)?;
    if n == 0 {
        return Ok(mask);
    }
    let mut pre = Precomputed::new();
    let p = prepare(ctx, df, None, predicate, &mut pre)?;
    ctx.launch(
        if p.nullable { EXPR_EVAL_NULLS } else { EXPR_EVAL },
        LaunchConfig::for_elems(n, BLOCK),
        &[
            KernelArg::Struct(p.program.as_bytes()),
            KernelArg::U64(n as u64),
            (&mask).into(),
            KernelArg::NULL,
            KernelArg::U32(1),
            err.into(),
        ],
    )?;
    Ok(mask)
}
