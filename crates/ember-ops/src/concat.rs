//! Vertical concatenation: the rows of several frames with the same column names and types, one
//! after the other, on their (common) device. The CPU engine uses arrow-rs' `concat`; on a GPU
//! fixed-width values are copied, bitmaps (booleans, validity) shifted into place by
//! `concat_bits`, and string offsets rebased by `rebase_offsets` (`kernels/compact.cu`); one size
//! readback per string column part (its byte count).
//!
//! ```
//! use arrow::array::{Int32Array, RecordBatch};
//! use ember_core::DataFrame;
//! use std::sync::Arc;
//! let b = RecordBatch::try_from_iter([("k", Arc::new(Int32Array::from(vec![1, 2])) as _)]).unwrap();
//! let df = DataFrame::from_record_batch(&b).unwrap();
//! let out = ember_ops::concat::concat(&[df.clone(), df]).unwrap();
//! assert_eq!(out.num_rows(), 4);
//! ```
use ember_core::{Column, DType, DataFrame, DeviceColumn, Error, Result};
use ember_gpu::primitives::BLOCK;
use ember_gpu::{ExecContext, Kernel, KernelArg, LaunchConfig};
use std::sync::Arc;

/// `frames` one after the other (at least one; same names and types; one device).
pub fn concat(frames: &[DataFrame]) -> Result<DataFrame> {
    concat_in(None, frames)
}

/// [`concat`] in the execution context `ctx` (GPU frames; `None`: a fresh one).
pub fn concat_in(ctx: Option<&ExecContext>, frames: &[DataFrame]) -> Result<DataFrame> {
    let first = frames.first().ok_or_else(|| Error::InvalidArgument("concat of no frames".into()))?;
    for f in &frames[1..] {
        if f.device() != first.device() {
            return Err(Error::DeviceMismatch(format!(
                "concat of a {} frame with a {} frame",
                first.device(),
                f.device()
            )));
        }
        let same = f.fields().len() == first.fields().len()
            && f.fields().iter().zip(first.fields()).all(|(a, b)| a.name == b.name && a.dtype == b.dtype);
        if !same {
            return Err(Error::InvalidArgument(format!(
                "concat needs the same columns and types: [{}] vs [{}]",
                describe(first),
                describe(f)
            )));
        }
    }
    let names: Vec<String> = first.fields().iter().map(|f| f.name.clone()).collect();
    crate::dispatch(
        first,
        ctx,
        "concat",
        |ctx| {
            let mut columns = Vec::with_capacity(names.len());
            for (j, name) in names.iter().enumerate() {
                let parts = frames.iter().map(|f| f.columns()[j].as_device()).collect::<Result<Vec<_>>>()?;
                columns.push((name.clone(), Column::Device(concat_device(ctx, &parts)?)));
            }
            DataFrame::from_columns(columns, first.device())
        },
        || {
            let mut columns = Vec::with_capacity(names.len());
            for (j, name) in names.iter().enumerate() {
                let mut parts =
                    frames.iter().map(|f| Ok(f.columns()[j].as_host()?.clone())).collect::<Result<Vec<_>>>()?;
                // One ember type can be held in several Arrow layouts (utf8 as Utf8 or Utf8View):
                // the parts take the first part's layout.
                let layout = parts[0].data_type().clone();
                for p in parts.iter_mut().filter(|p| p.data_type() != &layout) {
                    *p = arrow::compute::cast(p, &layout)?;
                }
                let refs: Vec<&dyn arrow::array::Array> = parts.iter().map(|a| a.as_ref()).collect();
                columns.push((name.clone(), Column::Host(arrow::compute::concat(&refs)?)));
            }
            DataFrame::from_columns(columns, first.device())
        },
    )
}

fn describe(df: &DataFrame) -> String {
    df.fields().iter().map(|f| format!("{}: {}", f.name, f.dtype)).collect::<Vec<_>>().join(", ")
}

/// One device column from `parts` of one type.
fn concat_device(ctx: &ExecContext, parts: &[&DeviceColumn]) -> Result<DeviceColumn> {
    let t = parts[0].dtype();
    let total: usize = parts.iter().map(|p| p.len()).sum();
    let words = total.div_ceil(32).max(1) * 4;
    let bits_into = |dst: &ember_gpu::DeviceBuffer, src: Option<&ember_gpu::DeviceBuffer>, n: usize, at: usize| {
        if n == 0 {
            return Ok(());
        }
        ctx.launch(
            Kernel::new("compact", "concat_bits"),
            LaunchConfig::for_elems(n.div_ceil(32), BLOCK),
            &[src.into(), KernelArg::U64(n as u64), dst.into(), KernelArg::U64(at as u64)],
        )
    };
    let validity = if parts.iter().any(|p| p.validity().is_some()) {
        let v = ctx.alloc_zeroed(words)?;
        let mut at = 0;
        for p in parts {
            bits_into(&v, p.validity().map(|b| &**b), p.len(), at)?;
            at += p.len();
        }
        Some(Arc::new(v))
    } else {
        None
    };
    let (values, offsets) = match t {
        DType::Bool => {
            let v = ctx.alloc_zeroed(words)?;
            let mut at = 0;
            for p in parts {
                bits_into(&v, Some(p.values()), p.len(), at)?;
                at += p.len();
            }
            (v, None)
        }
        DType::Utf8 => {
            // Each part's byte count (its last offset; device columns' offsets start at 0).
            let sizes = parts
                .iter()
                .map(|p| Ok(ctx.download_range::<i64>(p.utf8_offsets()?, p.len(), 1)?[0] as usize))
                .collect::<Result<Vec<usize>>>()?;
            let bytes = ctx.alloc(sizes.iter().sum::<usize>().max(1))?;
            let offsets = ctx.alloc((total + 1) * 8)?;
            let (mut row, mut byte) = (0usize, 0usize);
            for (p, &size) in parts.iter().zip(&sizes) {
                if size > 0 {
                    ctx.copy(p.values(), 0, &bytes, byte, size)?;
                }
                if !p.is_empty() {
                    let part_offsets = ctx.alloc(p.len() * 8)?;
                    ctx.launch(
                        Kernel::new("compact", "rebase_offsets"),
                        LaunchConfig::for_elems(p.len(), BLOCK),
                        &[
                            (&**p.utf8_offsets()?).into(),
                            KernelArg::U64(p.len() as u64),
                            KernelArg::I64(byte as i64),
                            (&part_offsets).into(),
                        ],
                    )?;
                    ctx.copy(&part_offsets, 0, &offsets, row * 8, p.len() * 8)?;
                }
                row += p.len();
                byte += size;
            }
            ctx.write_bytes(&offsets, total * 8, &(byte as i64).to_le_bytes())?;
            (bytes, Some(Arc::new(offsets)))
        }
        _ => {
            let w = t.prim().ok_or_else(|| Error::Internal(format!("concat of {t}")))?.width();
            let v = ctx.alloc((total * w).max(1))?;
            let mut at = 0;
            for p in parts {
                if !p.is_empty() {
                    ctx.copy(p.values(), 0, &v, at * w, p.len() * w)?;
                }
                at += p.len();
            }
            (v, None)
        }
    };
    DeviceColumn::try_new(
        ctx.gpu().clone(),
        t,
        parts[0].arrow_type().clone(),
        total,
        Arc::new(values),
        offsets,
        validity,
    )
}
