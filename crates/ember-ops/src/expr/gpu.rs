//! Expression evaluation on a GPU (CUDA or Sim): the typed tree is compiled into one register
//! program ([`super::program`]) that `kernels/expr.cu` runs in one launch, with no intermediate
//! columns. String predicates and string comparisons run first, one kernel each
//! (`kernels/compare.cu`, `kernels/strings.cu`), and enter the program as boolean inputs (string
//! lengths as `u32` ones; string slices are utf8 columns the string nodes above them read); a tree
//! too large for one program has its largest subtrees evaluated first the same way.
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
const STR_LIKE: Kernel = Kernel::new("strings", "str_like");
const STR_LEN: Kernel = Kernel::new("strings", "str_len_chars");
const STR_SLICE_BOUNDS: Kernel = Kernel::new("strings", "str_slice_bounds");
const STR_COPY_RANGES: Kernel = Kernel::new("strings", "str_copy_ranges");

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

/// Evaluates the string nodes of `e` (comparisons of utf8 operands, string predicates, lengths
/// and slices) into columns in `pre`, children first.
fn strings_first(ctx: &ExecContext, df: &DataFrame, e: &TypedExpr, pre: &mut Precomputed) -> Result<()> {
    if pre.contains_key(&(e as *const TypedExpr)) {
        return Ok(());
    }
    for c in e.children() {
        strings_first(ctx, df, c, pre)?;
    }
    let col = match e {
        TypedExpr::Binary { op, left, right, .. } if op.is_comparison() && left.dtype() == DType::Utf8 => {
            compare_strings(ctx, df, *op, left, right, pre)?
        }
        TypedExpr::Str { op, expr, pattern } => match string_operand(ctx, df, expr, pre)? {
            None => None,
            Some((c, _)) => Some(match_strings(ctx, &broadcast(ctx, c, df.num_rows())?, *op, pattern)?),
        },
        TypedExpr::StrLen(expr) => match string_operand(ctx, df, expr, pre)? {
            None => None,
            Some((c, _)) => Some(char_lengths(ctx, &broadcast(ctx, c, df.num_rows())?)?),
        },
        TypedExpr::StrSlice { expr, offset, length } => match string_operand(ctx, df, expr, pre)? {
            None => None,
            Some((c, _)) => Some(slice_strings(ctx, &broadcast(ctx, c, df.num_rows())?, *offset, *length)?),
        },
        TypedExpr::When { cond, then, otherwise, dtype: DType::Utf8 } => {
            Some(when_strings(ctx, df, cond, then, otherwise, pre)?)
        }
        _ => None,
    };
    if let Some(col) = col {
        pre.insert(e as *const TypedExpr, col);
    }
    Ok(())
}

/// `CASE WHEN cond THEN a ELSE b END` with utf8 branches. There is no device kernel for
/// choosing between two string columns yet: the three operands are evaluated on the device,
/// downloaded, chosen by arrow's `zip` on the host (a null condition counts as false) and the
/// result uploaded: two transfers each way, visible in the trace. A selecting gather kernel is
/// the fix (issue 10).
fn when_strings(
    ctx: &ExecContext,
    df: &DataFrame,
    cond: &TypedExpr,
    then: &TypedExpr,
    otherwise: &TypedExpr,
    pre: &mut Precomputed,
) -> Result<DeviceColumn> {
    let mask = evaluate_typed(ctx, df, cond, pre)?.to_arrow(ctx)?;
    let mask = mask
        .as_any()
        .downcast_ref::<arrow::array::BooleanArray>()
        .ok_or_else(|| Error::Internal("when: the condition is not boolean".into()))?;
    let mask = match arrow::array::Array::nulls(mask) {
        Some(_) => arrow::compute::prep_null_mask_filter(mask),
        None => mask.clone(),
    };
    let a = evaluate_typed(ctx, df, then, pre)?.to_arrow(ctx)?;
    let b = evaluate_typed(ctx, df, otherwise, pre)?.to_arrow(ctx)?;
    let out = arrow::compute::kernels::zip::zip(&mask, &a, &b)?;
    DeviceColumn::upload(ctx, out.as_ref())
}

/// A utf8 operand as (column, step): a column (or a string node evaluated into `pre`) has step
/// 1, a literal is a one-row column with step 0. `None` for a null literal (the result is null:
/// the program's NULL).
fn string_operand(
    ctx: &ExecContext,
    df: &DataFrame,
    e: &TypedExpr,
    pre: &Precomputed,
) -> Result<Option<(DeviceColumn, u32)>> {
    if let Some(c) = pre.get(&(e as *const TypedExpr)) {
        return Ok(Some((c.clone(), 1)));
    }
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

/// A string operand as a column of `n` rows (a one-row literal repeated; the kernels below take
/// no step).
fn broadcast(ctx: &ExecContext, c: DeviceColumn, n: usize) -> Result<DeviceColumn> {
    if c.len() == n {
        return Ok(c);
    }
    let zeros = ctx.alloc(n * 4)?;
    ctx.fill_bytes(&zeros, 0)?;
    let (offsets, bytes) = ember_gpu::primitives::compact::gather_utf8(ctx, c.utf8_offsets()?, c.values(), &zeros, n)?;
    utf8_column(ctx, n, bytes, offsets, None)
}

fn utf8_column(
    ctx: &ExecContext,
    n: usize,
    bytes: DeviceBuffer,
    offsets: DeviceBuffer,
    validity: Option<Arc<DeviceBuffer>>,
) -> Result<DeviceColumn> {
    DeviceColumn::try_new(
        ctx.gpu().clone(),
        DType::Utf8,
        arrow::datatypes::DataType::LargeUtf8,
        n,
        Arc::new(bytes),
        Some(Arc::new(offsets)),
        validity,
    )
}

/// The number of characters of each string, `UInt32` (null where the string is).
fn char_lengths(ctx: &ExecContext, c: &DeviceColumn) -> Result<DeviceColumn> {
    let n = c.len();
    let out = ctx.alloc(n * 4)?;
    if n > 0 {
        ctx.launch(
            STR_LEN,
            LaunchConfig::for_elems(n, BLOCK),
            &[(&**c.utf8_offsets()?).into(), (&**c.values()).into(), (&out).into(), KernelArg::U64(n as u64)],
        )?;
    }
    let t = DType::UInt32;
    DeviceColumn::try_new(ctx.gpu().clone(), t, t.to_arrow(), n, Arc::new(out), None, c.validity().cloned())
}

/// Characters `offset..` (at most `length`) of each string: bounds per row, a scan of the
/// lengths (one size readback), one copy.
fn slice_strings(ctx: &ExecContext, c: &DeviceColumn, offset: i64, length: Option<u64>) -> Result<DeviceColumn> {
    let n = c.len();
    let src = ctx.alloc(n * 8)?;
    let lengths = ctx.alloc(n * 8)?;
    let cfg = LaunchConfig::for_elems(n, BLOCK);
    if n > 0 {
        ctx.launch(
            STR_SLICE_BOUNDS,
            cfg,
            &[
                (&**c.utf8_offsets()?).into(),
                (&**c.values()).into(),
                c.validity().map(|v| &**v).into(),
                KernelArg::I64(offset),
                KernelArg::U32(length.is_some() as u32),
                KernelArg::U64(length.unwrap_or(0)),
                (&src).into(),
                (&lengths).into(),
                KernelArg::U64(n as u64),
            ],
        )?;
    }
    let (offsets, total) =
        ember_gpu::primitives::scan::exclusive_scan(ctx, &lengths, n, ember_gpu::primitives::scan::ScanType::U64)?;
    let bytes = ctx.alloc(total as usize)?;
    if n > 0 {
        ctx.launch(
            STR_COPY_RANGES,
            cfg,
            &[(&**c.values()).into(), (&src).into(), (&offsets).into(), (&bytes).into(), KernelArg::U64(n as u64)],
        )?;
    }
    utf8_column(ctx, n, bytes, offsets, c.validity().cloned())
}

/// SQL `LIKE` patterns as the tokens `kernels/strings.cu` reads: bytes, with `%` and `_` as the
/// wildcard tokens and `\` escaping the next character (a trailing `\` is itself, as arrow-rs).
fn like_tokens(pattern: &str) -> Vec<u16> {
    let b = pattern.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' if i + 1 < b.len() => {
                // An escaped character: all its bytes are literal.
                let ch = pattern[i + 1..].chars().next().map_or(1, char::len_utf8);
                out.extend(b[i + 1..i + 1 + ch].iter().map(|&x| x as u16));
                i += 1 + ch;
                continue;
            }
            b'%' => out.push(abi::LIKE_ANY as u16),
            b'_' => out.push(abi::LIKE_ONE as u16),
            x => out.push(x as u16),
        }
        i += 1;
    }
    out
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
    pre: &Precomputed,
) -> Result<Option<DeviceColumn>> {
    let n = df.num_rows();
    let (Some((a, a_step)), Some((b, b_step))) = (string_operand(ctx, df, l, pre)?, string_operand(ctx, df, r, pre)?)
    else {
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
    if op == StrOp::Like {
        let tokens = like_tokens(pattern);
        let pat = ctx.upload(&tokens)?;
        let out = ctx.alloc(words(n) * 4)?;
        if n > 0 {
            ctx.launch(
                STR_LIKE,
                LaunchConfig::for_elems(n, BLOCK),
                &[
                    (&**c.utf8_offsets()?).into(),
                    (&**c.values()).into(),
                    (&pat).into(),
                    KernelArg::U64(tokens.len() as u64),
                    (&out).into(),
                    KernelArg::U64(n as u64),
                ],
            )?;
        }
        return bool_column(ctx, out, c.validity().cloned(), n);
    }
    let pat = ctx.upload_bytes(pattern.as_bytes())?;
    let out = ctx.alloc(words(n) * 4)?;
    let code = match op {
        StrOp::StartsWith => abi::STR_STARTS_WITH,
        StrOp::EndsWith => abi::STR_ENDS_WITH,
        StrOp::Contains => abi::STR_CONTAINS,
        StrOp::Like => unreachable!("handled above"),
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
        _ if expr.dtype() == DType::Utf8 => {
            // A string-valued node (a slice): computed by its own kernels, no program.
            strings_first(ctx, df, expr, pre)?;
            return match (pre.get(&(expr as *const TypedExpr)), expr) {
                (Some(c), _) => Ok(c.clone()),
                // A null string literal folded in: all nulls.
                (None, TypedExpr::Literal { value: Scalar::Null, .. }) => {
                    DeviceColumn::upload(ctx, &arrow::array::new_null_array(&DType::Utf8.to_arrow(), n))
                }
                (None, other) => Err(Error::Internal(format!("no GPU evaluation for the utf8 expression {other:?}"))),
            };
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
