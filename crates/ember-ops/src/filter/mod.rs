//! Filter: keep the rows where a boolean predicate is true, in their original order. A null
//! predicate drops the row (SQL `WHERE`).
//!
//! | `a` | `a > 1` | kept? |
//! |---|---|---|
//! | 1 | false | no |
//! | 2 | true | yes |
//! | null | null | no |
pub mod cpu;

use crate::executor::{CpuExecutor, Executor, GpuExecutor, Indices};
use crate::expr::{types::dtype_of, Expr};
use arrow::array::BooleanArray;
use arrow::buffer::BooleanBuffer;
use ember_core::{type_bail, DType, DataFrame, Error, Result};
use ember_gpu::ExecContext;

/// Rows of `df` where `predicate` is true, on `df`'s device.
pub fn filter(df: &DataFrame, predicate: &Expr) -> Result<DataFrame> {
    filter_in(None, df, predicate)
}

/// [`filter`] in the execution context `ctx` (GPU frames; `None`: a fresh one).
pub fn filter_in(ctx: Option<&ExecContext>, df: &DataFrame, predicate: &Expr) -> Result<DataFrame> {
    match dtype_of(predicate, df.fields())? {
        Some(DType::Bool) | None => {}
        Some(t) => type_bail!(format!("filter({predicate})"), "the predicate must be boolean, got {t}"),
    }
    crate::dispatch(
        df,
        ctx,
        "filter",
        |ctx| GpuExecutor::new(ctx).filter(df, predicate),
        || CpuExecutor.filter(df, predicate),
    )
}

/// Rows of `df` that `mask` (no nulls, one entry per row, on the host) sets, on `df`'s device:
/// the fallback of the ops that fuse a filter (join, group-by) where they cannot.
pub(crate) fn filter_by_mask_in(ctx: Option<&ExecContext>, df: &DataFrame, mask: &BooleanArray) -> Result<DataFrame> {
    crate::dispatch(
        df,
        ctx,
        "filter",
        |ctx| {
            let rows = set_rows(mask.values());
            let idx = Indices::Device { buf: ctx.upload(&rows).map_err(Error::from)?, len: rows.len() };
            GpuExecutor::new(ctx).gather(df, &idx)
        },
        || cpu::filter_by_mask(df, mask),
    )
}

/// The positions of the set bits of `bits`, ascending. Large masks are read in parallel parts
/// (counted, then each written to its place in one vector): one thread walking a 6M-row
/// mask was a serial phase of every filtered join and gather, which a many-core host feels.
pub(crate) fn set_rows(bits: &BooleanBuffer) -> Vec<u32> {
    use rayon::prelude::*;
    const PART: usize = 1 << 18;
    if bits.len() <= PART {
        return bits.set_indices().map(|i| i as u32).collect();
    }
    let parts: Vec<BooleanBuffer> =
        (0..bits.len().div_ceil(PART)).map(|p| bits.slice(p * PART, PART.min(bits.len() - p * PART))).collect();
    let counts: Vec<usize> = parts.par_iter().map(BooleanBuffer::count_set_bits).collect();
    let mut out = vec![0u32; counts.iter().sum()];
    let mut pieces = Vec::with_capacity(parts.len());
    let mut rest = out.as_mut_slice();
    for &c in &counts {
        let (piece, tail) = rest.split_at_mut(c);
        pieces.push(piece);
        rest = tail;
    }
    pieces.into_par_iter().zip(parts.par_iter()).enumerate().for_each(|(p, (piece, part))| {
        for (o, i) in piece.iter_mut().zip(part.set_indices()) {
            *o = (p * PART + i) as u32;
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_rows_of_large_and_sliced_masks() {
        for (n, offset) in [(0, 0), (100, 3), ((1 << 18) + 1, 0), (3 * (1 << 18) + 77, 5), (1 << 20, 64)] {
            let all = BooleanBuffer::from_iter((0..n + offset).map(|i| (i * 7919) % 13 < 4 || i % 1000 == 999));
            let bits = all.slice(offset, n);
            let want: Vec<u32> = bits.set_indices().map(|i| i as u32).collect();
            assert_eq!(set_rows(&bits), want, "{n} rows at {offset}");
        }
    }
}
