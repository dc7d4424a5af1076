//! A join's fixed-width keys read in place: each key column is viewed as unsigned words (no
//! per-row copy of a 6M-row probe side), and a row's key is its columns' bits packed into one
//! `u64` or `u128` word. Equal keys have equal words and unequal keys unequal words, because
//! both sides of a join have the same key types (checked by `output_fields`).
use crate::sort::cpu::value_bits;
use arrow::array::{Array, ArrayRef, AsArray};
use arrow::buffer::BooleanBuffer;
use arrow::datatypes::*;

/// One key column's values as unsigned words.
enum Words<'a> {
    W8(&'a [u8]),
    W16(&'a [u16]),
    W32(&'a [u32]),
    W64(&'a [u64]),
    /// Decimals of at most 18 digits: the low word of each value (which fits an `i64`).
    Dec(&'a [i128]),
    /// Booleans, bit-packed in Arrow: copied out once (a bool key is rare and short).
    Bits(Vec<u64>),
}

impl Words<'_> {
    #[inline(always)]
    fn get(&self, i: usize) -> u64 {
        match self {
            Words::W8(v) => v[i] as u64,
            Words::W16(v) => v[i] as u64,
            Words::W32(v) => v[i] as u64,
            Words::W64(v) => v[i],
            Words::Dec(v) => v[i] as u64,
            Words::Bits(v) => v[i],
        }
    }
}

/// A packed key word: `u64` when the key columns' bits fit, else `u128`.
pub(crate) trait KeyWord: Copy + Eq + Send + Sync + 'static {
    /// `self` shifted left by `bits`, with `low` in the freed bits.
    fn push(self, bits: u32, low: u64) -> Self;
    /// The all-zero word.
    const ZERO: Self;
    /// A well-mixed 64-bit hash (the table uses its top bits).
    fn hash(self) -> u64;
    /// The word as a `u64`, when it is one (a `u128` key is never indexed directly).
    fn narrow(self) -> Option<u64>;
}

impl KeyWord for u64 {
    const ZERO: u64 = 0;
    #[inline(always)]
    fn push(self, bits: u32, low: u64) -> u64 {
        if bits == 64 {
            low
        } else {
            (self << bits) | low
        }
    }
    #[inline(always)]
    fn hash(self) -> u64 {
        // Fibonacci hashing with a fold so the top bits see every input bit.
        (self ^ (self >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }
    #[inline(always)]
    fn narrow(self) -> Option<u64> {
        Some(self)
    }
}

impl KeyWord for u128 {
    const ZERO: u128 = 0;
    #[inline(always)]
    fn push(self, bits: u32, low: u64) -> u128 {
        (self << bits) | low as u128
    }
    #[inline(always)]
    fn hash(self) -> u64 {
        ((self as u64) ^ ((self >> 64) as u64).rotate_left(29)).hash()
    }
    #[inline(always)]
    fn narrow(self) -> Option<u64> {
        None
    }
}

/// A primitive array's values (offset applied) as unsigned words of the same width.
fn view<T: ArrowPrimitiveType, W: bytemuck::Pod>(a: &ArrayRef) -> &[W]
where
    T::Native: bytemuck::Pod,
{
    bytemuck::cast_slice(a.as_primitive::<T>().values())
}

/// The key columns of one side of a join.
pub(crate) struct Keys<'a> {
    columns: Vec<(Words<'a>, u32)>,
    /// Rows that take part and whose keys are all valid (`None`: every row).
    valid: Option<BooleanBuffer>,
    /// Rows that take part: a filter fused into the join (`None`: every row).
    selected: Option<&'a BooleanBuffer>,
    /// Rows that take part with a valid key (what the hash table holds when built on this side).
    count: usize,
    len: usize,
}

impl<'a> Keys<'a> {
    /// The keys of `arrays` (all `len` rows long), or `None` when a column is not fixed-width.
    /// Only the `selected` rows (all when `None`) take part in the join: the others are as if
    /// filtered out before it.
    pub(crate) fn new(arrays: &'a [ArrayRef], len: usize, selected: Option<&'a BooleanBuffer>) -> Option<Keys<'a>> {
        let mut columns = Vec::with_capacity(arrays.len());
        for a in arrays {
            let bits = value_bits(a.data_type())?;
            let words = match a.data_type() {
                DataType::Boolean => Words::Bits(a.as_boolean().values().iter().map(u64::from).collect()),
                DataType::Decimal128(..) => Words::Dec(a.as_primitive::<Decimal128Type>().values()),
                DataType::Int8 => Words::W8(view::<Int8Type, u8>(a)),
                DataType::UInt8 => Words::W8(view::<UInt8Type, u8>(a)),
                DataType::Int16 => Words::W16(view::<Int16Type, u16>(a)),
                DataType::UInt16 => Words::W16(view::<UInt16Type, u16>(a)),
                DataType::Int32 => Words::W32(view::<Int32Type, u32>(a)),
                DataType::UInt32 => Words::W32(view::<UInt32Type, u32>(a)),
                DataType::Date32 => Words::W32(view::<Date32Type, u32>(a)),
                DataType::Float32 => Words::W32(view::<Float32Type, u32>(a)),
                DataType::Int64 => Words::W64(view::<Int64Type, u64>(a)),
                DataType::UInt64 => Words::W64(view::<UInt64Type, u64>(a)),
                DataType::Float64 => Words::W64(view::<Float64Type, u64>(a)),
                _ => return None,
            };
            columns.push((words, bits));
        }
        let nulls = arrays.iter().filter_map(|a| a.logical_nulls()).filter(|n| n.null_count() > 0);
        let valid = nulls.map(|n| n.into_inner()).chain(selected.cloned()).reduce(|a, b| &a & &b);
        let count = valid.as_ref().map_or(len, |v| v.count_set_bits());
        Some(Keys { columns, valid, selected, count, len })
    }

    /// Rows whose key takes part in matching (selected, no null).
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// Row `i` takes part in the join (a filter fused into it kept the row). A selected row with
    /// a null key matches nothing but is still a left or anti join's unmatched row.
    #[inline(always)]
    pub(crate) fn is_selected(&self, i: usize) -> bool {
        self.selected.is_none_or(|v| v.value(i))
    }

    /// Bits of a packed key.
    pub(crate) fn bits(&self) -> u32 {
        self.columns.iter().map(|(_, b)| b).sum()
    }

    /// Rows.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Row `i` is selected and its key valid (no null in it).
    #[inline(always)]
    pub(crate) fn is_valid(&self, i: usize) -> bool {
        self.valid.as_ref().is_none_or(|v| v.value(i))
    }

    /// The span of the valid rows' keys packed in a `u64` (the caller checked they fit): the
    /// smallest key and the number of values up to the largest (0: no valid row). Every
    /// `step`-th row is read (1: every row, in parallel; more: a strided sample).
    pub(crate) fn span(&self, step: usize) -> (u64, u64) {
        let fold = |(lo, hi): (u64, u64), k: u64| (lo.min(k), hi.max(k));
        let (lo, hi) = if step > 1 {
            (0..self.len)
                .step_by(step)
                .filter(|&i| self.is_valid(i))
                .map(|i| self.get::<u64>(i))
                .fold((u64::MAX, 0), fold)
        } else {
            use rayon::prelude::*;
            // Chunks of plain loops (a rayon adapter per row cost ~6 ns a row, 40% of Q22 on
            // one thread); one column with every row valid reads its slice directly.
            const CHUNK: usize = 1 << 16;
            let chunk = |c: usize| -> (u64, u64) {
                let rows = c * CHUNK..((c + 1) * CHUNK).min(self.len);
                fn slice<W: Copy + Into<u64>>(v: &[W]) -> (u64, u64) {
                    v.iter().fold((u64::MAX, 0), |(lo, hi), &k| (lo.min(k.into()), hi.max(k.into())))
                }
                match (self.columns.as_slice(), &self.valid) {
                    ([(Words::W32(v), _)], None) => slice(&v[rows]),
                    ([(Words::W64(v), _)], None) => slice(&v[rows]),
                    _ => {
                        let mut acc = (u64::MAX, 0);
                        for i in rows {
                            if self.is_valid(i) {
                                acc = fold(acc, self.get::<u64>(i));
                            }
                        }
                        acc
                    }
                }
            };
            (0..self.len.div_ceil(CHUNK))
                .into_par_iter()
                .map(chunk)
                .reduce(|| (u64::MAX, 0), |a, b| (a.0.min(b.0), a.1.max(b.1)))
        };
        if lo > hi {
            (0, 0)
        } else {
            (lo, (hi - lo).saturating_add(1))
        }
    }

    /// Row `i`'s packed key.
    #[inline(always)]
    pub(crate) fn get<K: KeyWord>(&self, i: usize) -> K {
        if let [(words, _)] = self.columns.as_slice() {
            return K::ZERO.push(64, words.get(i));
        }
        self.columns.iter().fold(K::ZERO, |k, (words, bits)| k.push(*bits, words.get(i)))
    }
}
