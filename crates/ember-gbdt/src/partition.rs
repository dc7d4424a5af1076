//! Splitting a piece of a node's rows by a split: the inner loop of the CPU engine's partition
//! (`cpu.rs`), a fifth of a training's time before it had a vector form.
//!
//! The contract of [`split_rows`]: `out` (as long as `rows`) receives the rows that go left at
//! its front, in their order, and the rows that go right at its back in reverse order (the first
//! right row last); it returns how many went left. The scalar form and the AVX-512 form write
//! the same `out`.
use crate::cuts::MISSING;
use crate::grow::{SplitRow, SLOTS};

/// Bytes a column slice must extend past its last row for [`split_rows`]' vector form (a gather
/// reads four bytes per row).
pub(crate) const COLUMN_PAD: usize = 3;

/// Splits `rows` (each `< n`) by `split` reading bins from `col` (`col[row]`, at least
/// `n + COLUMN_PAD` bytes long) into `out`; returns the number of left rows.
pub(crate) fn split_rows(rows: &[u32], col: &[u8], n: usize, split: SplitRow, out: &mut [u32]) -> usize {
    assert!(out.len() == rows.len() && col.len() >= n + COLUMN_PAD);
    #[cfg(target_arch = "x86_64")]
    if n < i32::MAX as usize
        && std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("popcnt")
    {
        // SAFETY: the processor has AVX-512F and POPCNT (checked just above); rows are < n < 2^31, so every
        // gather offset is a non-negative i32 and reads col[row..row + 4], inside `col`.
        return unsafe { split_rows_avx512(rows, col, split, out) };
    }
    split_rows_scalar(rows, &col[..n], split, out)
}

/// The scalar form: directions looked up per bin for a block of rows, then branch-free writes.
pub(crate) fn split_rows_scalar(rows: &[u32], col: &[u8], split: SplitRow, out: &mut [u32]) -> usize {
    let (mut l, mut r) = (0usize, out.len());
    // The split's direction of every bin, looked up: fewer instructions per row than the
    // comparisons.
    let side: [u8; SLOTS] = std::array::from_fn(|b| split.goes_left(b as u8) as u8);
    // Two steps per block of rows: the directions first (independent loads, which the processor
    // overlaps), then the writes, whose loop carries only `l` and `r`. In one loop each row's
    // write position waited on its own column load: 40% slower.
    let mut left = [0u8; 512];
    for block in rows.chunks(left.len()) {
        for (d, &row) in left.iter_mut().zip(block) {
            *d = side[col[row as usize] as usize];
        }
        // Branch-free: a balanced split's direction is a coin toss a branch would mispredict.
        // The row is written at both ends and only the side it belongs to advances (the other
        // write is overwritten later).
        for (&d, &row) in left.iter().zip(block) {
            let d = d as usize;
            debug_assert!(l < r && r <= out.len());
            // SAFETY: one row is written per step and l + (out.len() - r) counts the rows
            // written, so l < r <= out.len() before every step.
            unsafe {
                *out.get_unchecked_mut(l) = row;
                *out.get_unchecked_mut(r - 1) = row;
            }
            l += d;
            r -= 1 - d;
        }
    }
    l
}

/// The AVX-512 form, sixteen rows per step: their bins gathered, compared into a mask, the left
/// rows compressed and stored at the front, the right rows compressed, reversed and stored at
/// the back (masked stores: only the rows' own slots are written).
///
/// # Safety
/// The processor has AVX-512F and POPCNT; every row is below 2^31 and `col[row..row + 4]` is in bounds.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,popcnt")]
unsafe fn split_rows_avx512(rows: &[u32], col: &[u8], split: SplitRow, out: &mut [u32]) -> usize {
    use std::arch::x86_64::*;
    let (mut l, mut r) = (0usize, out.len());
    let byte = _mm512_set1_epi32(0xff);
    let bin = _mm512_set1_epi32(split.bin as i32);
    let missing = _mm512_set1_epi32(MISSING as i32);
    let reverse = _mm512_set_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    let base = col.as_ptr() as *const i32;
    let dst = out.as_mut_ptr() as *mut i32;
    for block in rows.chunks(16) {
        let valid: __mmask16 = if block.len() == 16 { 0xffff } else { (1u16 << block.len()) - 1 };
        // SAFETY: the masked load reads the block's rows only; the gather reads col[row..row + 4]
        // for valid lanes only (the caller's bound); the stores write out[l..l + nl] and
        // out[r - nr..r], which lie in `out` because the block's nl + nr rows still have
        // unwritten slots between l and r.
        unsafe {
            let idx = _mm512_maskz_loadu_epi32(valid, block.as_ptr() as *const i32);
            let bins =
                _mm512_and_si512(_mm512_mask_i32gather_epi32::<1>(_mm512_setzero_si512(), valid, idx, base), byte);
            let mut goes_left = _mm512_mask_cmple_epu32_mask(valid, bins, bin);
            if split.default_left {
                goes_left |= _mm512_mask_cmpeq_epi32_mask(valid, bins, missing);
            }
            let goes_right = valid & !goes_left;
            let (nl, nr) = (goes_left.count_ones() as usize, goes_right.count_ones() as usize);
            let lefts = _mm512_maskz_compress_epi32(goes_left, idx);
            _mm512_mask_storeu_epi32(dst.add(l), ((1u32 << nl) - 1) as __mmask16, lefts);
            // The right rows in lanes 0..nr; reversed they sit in lanes 16 - nr..16, stored so that
            // lane 15 (the first right row) lands at r - 1. The base address may lie before `out`
            // (wrapping arithmetic); only the high nr lanes, at r - nr..r, are written.
            let rights = _mm512_permutexvar_epi32(reverse, _mm512_maskz_compress_epi32(goes_right, idx));
            let high = !((1u32 << (16 - nr)) - 1) as __mmask16;
            _mm512_mask_storeu_epi32(dst.add(r).wrapping_sub(16), high, rights);
            l += nl;
            r -= nr;
        }
    }
    debug_assert_eq!(l, r);
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both forms give the same `out` as the definition, on every length around the vector
    /// width, with missing values, both default directions and rows that skip.
    #[test]
    fn both_forms_split_rows_as_the_definition() {
        let n = 5000;
        let col: Vec<u8> =
            (0..n + COLUMN_PAD).map(|i| if i % 13 == 0 { MISSING } else { ((i * 7919) % 251) as u8 }).collect();
        for len in [0, 1, 15, 16, 17, 31, 32, 33, 100, 1023, 2500] {
            let rows: Vec<u32> = (0..len as u32).map(|i| i * 2 % n as u32).collect();
            for (bin, default_left) in [(0, false), (100, true), (100, false), (250, true)] {
                let split = SplitRow { node: 0, feature: 0, bin, default_left };
                let lefts: Vec<u32> = rows.iter().copied().filter(|r| split.goes_left(col[*r as usize])).collect();
                let mut expect: Vec<u32> = lefts.clone();
                expect.extend(rows.iter().rev().copied().filter(|r| !split.goes_left(col[*r as usize])));
                let mut out = vec![u32::MAX; len];
                assert_eq!(split_rows_scalar(&rows, &col[..n], split, &mut out), lefts.len());
                assert_eq!(out, expect, "scalar, {len} rows, {split:?}");
                let mut out = vec![u32::MAX; len];
                assert_eq!(split_rows(&rows, &col, n, split, &mut out), lefts.len());
                assert_eq!(out, expect, "dispatched, {len} rows, {split:?}");
            }
        }
        #[cfg(target_arch = "x86_64")]
        if !std::arch::is_x86_feature_detected!("avx512f") {
            eprintln!("skipped: this processor has no AVX-512F, so split_rows took the scalar form");
        }
    }
}
