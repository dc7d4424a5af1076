//! The CPU engine's sort order. Keys that together fit 128 bits (fixed-width types, decimals of
//! precision <= 18, strings as their ranks among the column's distinct strings, plus a null bit
//! per nullable key) are packed per row into one order-preserving `u128` (the same words the GPU
//! path sorts by, strings aside) and `(key, row)` pairs are sorted in parallel: unique pairs, so
//! an unstable sort gives the stable order. Other keys (wide decimals, many strings) are encoded
//! with arrow-rs's row format and the row numbers merge-sorted (stable) by it.
use super::SortKey;
use crate::expr::evaluate;
use arrow::array::{Array, ArrayRef, AsArray, UInt32Array};
use arrow::compute::SortOptions;
use arrow::datatypes::*;
use arrow::row::{RowConverter, SortField};
use ember_core::{DataFrame, Error, Result};
use rayon::prelude::*;

/// Row numbers of `df` in `keys` order (stable).
pub(crate) fn sort_indices(df: &DataFrame, keys: &[SortKey]) -> Result<UInt32Array> {
    top_indices(df, keys, usize::MAX)
}

/// The first `k` row numbers of `df` in `keys` order (stable): a partial selection of the `k`
/// smallest `(key, row)` pairs, then a sort of those only, when `k` is well below the row count.
pub(crate) fn top_indices(df: &DataFrame, keys: &[SortKey], k: usize) -> Result<UInt32Array> {
    let n = df.num_rows();
    let arrays =
        keys.iter().map(|k| Ok(evaluate(df, &k.expr)?.as_host()?.clone())).collect::<Result<Vec<ArrayRef>>>()?;
    let opts: Vec<SortOptions> =
        keys.iter().map(|k| SortOptions { descending: k.descending, nulls_first: !k.nulls_last }).collect();
    if k.saturating_mul(4) >= n || n > u32::MAX as usize {
        let mut all = sorted_rows(&arrays, &opts, n)?;
        all.truncate(k);
        return Ok(UInt32Array::from(all));
    }
    let top: Vec<u32> = match packed_keys(&arrays, &opts, n, true) {
        Some(packed) => {
            let mut pairs: Vec<(u128, u32)> = packed.into_iter().zip(0..n as u32).collect();
            pairs.select_nth_unstable(k);
            pairs.truncate(k);
            pairs.sort_unstable();
            pairs.into_iter().map(|(_, i)| i).collect()
        }
        None => {
            let fields =
                arrays.iter().zip(&opts).map(|(a, o)| SortField::new_with_options(a.data_type().clone(), *o)).collect();
            let rows = RowConverter::new(fields)?.convert_columns(&arrays)?;
            let cmp = |a: &u32, b: &u32| rows.row(*a as usize).cmp(&rows.row(*b as usize)).then(a.cmp(b));
            let mut idx: Vec<u32> = (0..n as u32).collect();
            idx.select_nth_unstable_by(k, cmp);
            idx.truncate(k);
            idx.sort_unstable_by(cmp);
            idx
        }
    };
    Ok(UInt32Array::from(top))
}

/// The stable order of rows `0..n` by the key `arrays`.
pub(crate) fn sorted_rows(arrays: &[ArrayRef], opts: &[SortOptions], n: usize) -> Result<Vec<u32>> {
    if n > u32::MAX as usize {
        return Err(Error::InvalidArgument(format!("sort of {n} rows: row numbers are 32-bit")));
    }
    if arrays.is_empty() || n < 2 {
        return Ok((0..n as u32).collect());
    }
    if let Some(keys) = packed_keys(arrays, opts, n, true) {
        return Ok(sort_packed(&keys));
    }
    let fields = arrays.iter().zip(opts).map(|(a, o)| SortField::new_with_options(a.data_type().clone(), *o)).collect();
    let rows = RowConverter::new(fields)?.convert_columns(arrays)?;
    let mut idx: Vec<u32> = (0..n as u32).collect();
    // `par_sort_by` is a stable merge sort.
    idx.par_sort_by(|&a, &b| rows.row(a as usize).cmp(&rows.row(b as usize)));
    Ok(idx)
}

/// Row numbers in the order of their packed keys (stable). Keys whose range (max - min) and row
/// numbers fit 64 bits together, as most do (`l_extendedprice`'s cents span 24 bits at any scale
/// factor), become `(key - min) << row_bits | row` words sorted by an LSD radix sort of the key
/// bits only, 8 per pass: the words start in row order and every pass is stable. Others sort
/// `(key, row)` pairs in parallel (unique pairs: an unstable sort gives the stable order).
///
/// Hand-written rather than a crate's radix sort: it sorts the key bits of packed words only
/// (the row bits below them need no pass), which is what makes it three passes for TPC-H's
/// prices instead of eight.
pub(crate) fn sort_packed(keys: &[u128]) -> Vec<u32> {
    let n = keys.len();
    let (min, max) = keys
        .par_iter()
        .fold(|| (u128::MAX, 0u128), |(lo, hi), &k| (lo.min(k), hi.max(k)))
        .reduce(|| (u128::MAX, 0u128), |a, b| (a.0.min(b.0), a.1.max(b.1)));
    let key_bits = 128 - max.wrapping_sub(min).leading_zeros();
    let row_bits = (usize::BITS - n.saturating_sub(1).leading_zeros()).max(1);
    if n < 2 || key_bits + row_bits > 64 {
        let mut pairs: Vec<(u128, u32)> = keys.par_iter().copied().zip(0..n as u32).collect();
        pairs.par_sort_unstable();
        return pairs.into_iter().map(|(_, i)| i).collect();
    }
    let mut words: Vec<u64> =
        keys.par_iter().enumerate().map(|(i, &k)| (((k - min) as u64) << row_bits) | i as u64).collect();
    let mut spare = vec![0u64; n];
    let mut shift = row_bits;
    while shift < row_bits + key_bits {
        let digit = |w: u64| ((w >> shift) & 0xff) as usize;
        let mut starts = [0usize; 256];
        for &w in &words {
            starts[digit(w)] += 1;
        }
        let mut total = 0;
        for s in starts.iter_mut() {
            (*s, total) = (total, total + *s);
        }
        for &w in &words {
            let d = digit(w);
            spare[starts[d]] = w;
            starts[d] += 1;
        }
        std::mem::swap(&mut words, &mut spare);
        shift += 8;
    }
    let rows = (1u64 << row_bits) - 1;
    words.par_iter().map(|&w| (w & rows) as u32).collect()
}

/// Each row's keys packed into one `u128` whose unsigned order is the sort order, or `None` if
/// they do not fit (see `kernels/sort_keys.cu` for the per-type mapping).
/// String keys pack as their ranks within `arrays`: words of two calls do not compare.
/// With `null_bits` false no null bits are packed (null rows' keys are then meaningless: the
/// caller skips them), so two frames' keys of the same types pack alike whatever their nulls.
pub(crate) fn packed_keys(arrays: &[ArrayRef], opts: &[SortOptions], n: usize, null_bits: bool) -> Option<Vec<u128>> {
    let mut fields = Vec::with_capacity(arrays.len());
    let mut total = 0u32;
    // Fixed-width keys first: a string key is ranked (a pass over it) only if the others fit.
    for a in arrays {
        let bits = value_bits(a.data_type()).or_else(|| string_ranks_bits(a.data_type()))?;
        total += bits + u32::from(null_bits && a.null_count() > 0);
        fields.push(bits);
    }
    if total > 128 {
        return None;
    }
    let mut ranked = Vec::with_capacity(arrays.len());
    for (a, bits) in arrays.iter().zip(fields.iter_mut()) {
        ranked.push(match value_bits(a.data_type()) {
            Some(_) => None,
            None => {
                let (ranks, rank_bits) = crate::hash::string_ranks(a)?;
                total = total - *bits + rank_bits;
                *bits = rank_bits;
                Some(ranks)
            }
        });
    }
    if total > 128 {
        return None;
    }
    let mut keys = vec![0u128; n];
    for (((a, o), &bits), ranks) in arrays.iter().zip(opts).zip(&fields).zip(ranked) {
        let mask = if bits == 64 { u64::MAX } else { (1u64 << bits) - 1 };
        let nullable = null_bits && a.null_count() > 0;
        let width = bits + u32::from(nullable);
        let ordered = ranks.unwrap_or_else(|| ordered_column(a));
        let value = |i: usize| -> u128 {
            if a.is_null(i) {
                // The null bit: 0 sorts first. The value bits stay 0.
                return if o.nulls_first { 0 } else { 1u128 << bits };
            }
            let v = ordered[i] & mask;
            let v = if o.descending { v ^ mask } else { v };
            let null_bit = if nullable && o.nulls_first { 1u128 << bits } else { 0 };
            null_bit | v as u128
        };
        keys.par_iter_mut().enumerate().for_each(|(i, k)| *k = (*k << width) | value(i));
    }
    Some(keys)
}

/// The fewest bits a string key's ranks can take (at least one distinct value: one bit), for
/// deciding whether keys may fit before ranking; `None` for a type that is not a string.
fn string_ranks_bits(t: &DataType) -> Option<u32> {
    matches!(t, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8).then_some(1)
}

/// Significant bits of a fixed-width key type, `None` for the others.
pub(crate) fn value_bits(t: &DataType) -> Option<u32> {
    Some(match t {
        DataType::Boolean => 1,
        DataType::Int8 | DataType::UInt8 => 8,
        DataType::Int16 | DataType::UInt16 => 16,
        DataType::Int32 | DataType::UInt32 | DataType::Float32 | DataType::Date32 => 32,
        DataType::Int64 | DataType::UInt64 | DataType::Float64 => 64,
        DataType::Decimal128(p, _) if *p <= 18 => 64,
        _ => return None,
    })
}

/// The values of `a` mapped to unsigned bits in the type's order (signed: sign bit flipped;
/// floats: IEEE total order), in the low bits of a `u64` (null slots: whatever they hold).
pub(crate) fn ordered_column(a: &ArrayRef) -> Vec<u64> {
    fn map<T: ArrowPrimitiveType>(a: &ArrayRef, f: impl Fn(T::Native) -> u64 + Sync) -> Vec<u64> {
        a.as_primitive::<T>().values().par_iter().map(|&v| f(v)).collect()
    }
    fn float(b: u64, sign: u64) -> u64 {
        if b & sign != 0 {
            !b
        } else {
            b | sign
        }
    }
    match a.data_type() {
        DataType::Boolean => a.as_boolean().values().iter().map(u64::from).collect(),
        DataType::Int8 => map::<Int8Type>(a, |v| (v as u8 ^ 0x80) as u64),
        DataType::Int16 => map::<Int16Type>(a, |v| (v as u16 ^ 0x8000) as u64),
        DataType::Int32 => map::<Int32Type>(a, |v| (v as u32 ^ 0x8000_0000) as u64),
        DataType::Date32 => map::<Date32Type>(a, |v| (v as u32 ^ 0x8000_0000) as u64),
        DataType::Int64 => map::<Int64Type>(a, |v| v as u64 ^ (1 << 63)),
        DataType::UInt8 => map::<UInt8Type>(a, |v| v as u64),
        DataType::UInt16 => map::<UInt16Type>(a, |v| v as u64),
        DataType::UInt32 => map::<UInt32Type>(a, |v| v as u64),
        DataType::UInt64 => map::<UInt64Type>(a, |v| v),
        DataType::Float32 => map::<Float32Type>(a, |v| float(v.to_bits() as u64, 1 << 31) & 0xffff_ffff),
        DataType::Float64 => map::<Float64Type>(a, |v| float(v.to_bits(), 1 << 63)),
        // Precision <= 18 (checked by `value_bits`): the value fits an i64.
        DataType::Decimal128(..) => map::<Decimal128Type>(a, |v| v as i64 as u64 ^ (1 << 63)),
        t => unreachable!("value_bits admits no {t}"),
    }
}

#[cfg(test)]
mod tests {
    use super::sort_packed;

    /// The stable order by a plain sort of `(key, row)` pairs.
    fn oracle(keys: &[u128]) -> Vec<u32> {
        let mut rows: Vec<u32> = (0..keys.len() as u32).collect();
        rows.sort_by_key(|&i| keys[i as usize]);
        rows
    }

    #[test]
    fn packed_keys_sort_stably_by_radix_or_by_pairs() {
        let mut next = crate::test_rng(0x2545_f491_4f6c_dd1d);
        // Ranges of 0, 5, 24 and 41 bits above an offset (radix: key and row bits fit 64), and
        // 60 and 100 bits (pairs), with many ties.
        for bits in [0u32, 5, 24, 41, 60, 100] {
            for n in [0usize, 1, 2, 255, 257, 5_000] {
                let keys: Vec<u128> = (0..n)
                    .map(|_| {
                        (1u128 << 101) + ((next() as u128) << 64 | next() as u128) % (1u128 << bits).max(1) / 3 * 3
                    })
                    .collect();
                assert_eq!(sort_packed(&keys), oracle(&keys), "{bits} bits, {n} rows");
            }
        }
    }
}
