//! Device-wide primitives (scan, reduce, compaction, gathers, radix sort, hash grouping) against plain Rust on the host, at
//! sizes around warp and block boundaries and on a large input. Runs on the simulated device, and
//! on CUDA device 0 too when `EMBER_TEST_CUDA=1` (which fails if there is no GPU).
#![cfg(feature = "sim")]
use ember_gpu::primitives::compact::{compact_indices, gather_bits, gather_fixed, gather_utf8};
use ember_gpu::primitives::hash_table::{group_rows, MAX_KEY_WORDS};
use ember_gpu::primitives::radix_sort::{argsort, sort_pairs, KeyWidth, KeyWord};
use ember_gpu::primitives::reduce::{reduce, ReduceOp};
use ember_gpu::primitives::scan::{exclusive_scan, ScanType};
use ember_gpu::primitives::Prim;
use ember_gpu::{ExecContext, Gpu};

const SIZES: &[usize] = &[0, 1, 31, 32, 33, 255, 256, 257, 1023, 1024, 1025, 65_537];

fn gpus() -> Vec<ExecContext> {
    let mut v = vec![ExecContext::new(Gpu::sim().expect("sim compiled for tests"))];
    if std::env::var("EMBER_TEST_CUDA").is_ok_and(|x| x == "1") {
        v.push(ExecContext::new(Gpu::cuda(0).expect("EMBER_TEST_CUDA=1 but CUDA device 0 is unavailable")));
    } else {
        eprintln!("CUDA SKIPPED (set EMBER_TEST_CUDA=1 on a GPU machine)");
    }
    v
}

/// Deterministic pseudo-random numbers (xorshift), so failures reproduce.
fn rng(seed: u64) -> impl FnMut() -> u64 {
    let mut s = seed.wrapping_mul(0x9E3779B97F4A7C15) | 1;
    move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    }
}

fn bitmap(bits: &[bool]) -> Vec<u32> {
    let mut w = vec![0u32; bits.len().div_ceil(32).max(1)];
    for (i, &b) in bits.iter().enumerate() {
        if b {
            w[i / 32] |= 1 << (i % 32);
        }
    }
    w
}

#[test]
fn exclusive_scan_matches_host() {
    for gpu in gpus() {
        // The large size takes three scan levels; under ThreadSanitizer (100x slower) a size that
        // still takes two.
        let large = if ember_gpu::sim::TSAN { 300_000 } else { 3_000_000 };
        for &n in SIZES.iter().chain(&[large]) {
            let mut r = rng(n as u64);
            let v32: Vec<u32> = (0..n).map(|_| (r() % 1000) as u32).collect();
            let (out, total) = exclusive_scan(&gpu, &gpu.upload(&v32).unwrap(), n, ScanType::U32).unwrap();
            let got = gpu.download::<u32>(&out, n + 1).unwrap();
            let mut acc = 0u32;
            for i in 0..n {
                assert_eq!(got[i], acc, "u32 scan n={n} i={i} on {gpu:?}");
                acc = acc.wrapping_add(v32[i]);
            }
            assert_eq!((got[n], total), (acc, acc as u64), "u32 total n={n}");
            let v64: Vec<u64> = (0..n).map(|_| r() >> 20).collect();
            let (out, total) = exclusive_scan(&gpu, &gpu.upload(&v64).unwrap(), n, ScanType::U64).unwrap();
            let got = gpu.download::<u64>(&out, n + 1).unwrap();
            let expect: u64 = v64.iter().fold(0u64, |a, b| a.wrapping_add(*b));
            assert_eq!((got[n], total), (expect, expect), "u64 total n={n}");
            if n > 0 {
                assert_eq!(got[n - 1], expect.wrapping_sub(v64[n - 1]));
            }
        }
    }
}

#[test]
fn reduce_sum_min_max_with_nulls() {
    for gpu in gpus() {
        for &n in SIZES {
            let mut r = rng(n as u64 + 7);
            let vals: Vec<i32> = (0..n).map(|_| (r() % 2001) as i32 - 1000).collect();
            let valid: Vec<bool> = (0..n).map(|_| !r().is_multiple_of(5)).collect();
            let vb = gpu.upload(&vals).unwrap();
            let mb = gpu.upload(&bitmap(&valid)).unwrap();
            let kept: Vec<i32> = vals.iter().zip(&valid).filter(|(_, v)| **v).map(|(x, _)| *x).collect();
            let s = reduce(&gpu, ReduceOp::Sum, Prim::I32, &vb, Some(&mb), n).unwrap();
            assert_eq!(
                i64::from_le_bytes(s.value[..8].try_into().unwrap()),
                kept.iter().map(|&x| x as i64).sum::<i64>(),
                "sum n={n}"
            );
            assert_eq!(s.count, kept.len() as u64);
            let mn = reduce(&gpu, ReduceOp::Min, Prim::I32, &vb, Some(&mb), n).unwrap();
            let mx = reduce(&gpu, ReduceOp::Max, Prim::I32, &vb, Some(&mb), n).unwrap();
            if let (Some(lo), Some(hi)) = (kept.iter().min(), kept.iter().max()) {
                assert_eq!(i32::from_le_bytes(mn.value[..4].try_into().unwrap()), *lo, "min n={n}");
                assert_eq!(i32::from_le_bytes(mx.value[..4].try_into().unwrap()), *hi, "max n={n}");
            } else {
                assert_eq!((mn.count, mx.count), (0, 0));
            }
        }
    }
}

#[test]
fn reduce_decimal_sum_detects_overflow() {
    for gpu in gpus() {
        let big = [i128::MAX / 2 + 1, i128::MAX / 2 + 1];
        let b = gpu.upload(&big).unwrap();
        let r = reduce(&gpu, ReduceOp::Sum, Prim::I128, &b, None, 2).unwrap();
        assert!(r.overflow());
        let ok = gpu.upload(&[i128::MAX / 2, -5, 7]).unwrap();
        let r = reduce(&gpu, ReduceOp::Sum, Prim::I128, &ok, None, 3).unwrap();
        assert!(!r.overflow());
        assert_eq!(i128::from_le_bytes(r.value), i128::MAX / 2 + 2);
    }
}

#[test]
fn float_min_max_follow_total_order() {
    for gpu in gpus() {
        let v = [1.5f64, -0.0, 0.0, f64::NEG_INFINITY, 3.0];
        let b = gpu.upload(&v).unwrap();
        let mx = reduce(&gpu, ReduceOp::Max, Prim::F64, &b, None, v.len()).unwrap();
        let mn = reduce(&gpu, ReduceOp::Min, Prim::F64, &b, None, v.len()).unwrap();
        assert_eq!(f64::from_le_bytes(mx.value[..8].try_into().unwrap()), 3.0);
        assert_eq!(f64::from_le_bytes(mn.value[..8].try_into().unwrap()), f64::NEG_INFINITY);
        let with_nan = gpu.upload(&[1.0f64, f64::NAN, -2.0]).unwrap();
        let mx = reduce(&gpu, ReduceOp::Max, Prim::F64, &with_nan, None, 3).unwrap();
        assert!(f64::from_le_bytes(mx.value[..8].try_into().unwrap()).is_nan(), "NaN is the largest in total order");
    }
}

#[test]
fn compaction_and_gathers_keep_row_order() {
    for gpu in gpus() {
        for &n in SIZES {
            let mut r = rng(n as u64 + 99);
            let mask: Vec<bool> = (0..n).map(|_| !r().is_multiple_of(3)).collect();
            let mvalid: Vec<bool> = (0..n).map(|_| !r().is_multiple_of(7)).collect();
            let expect: Vec<u32> = (0..n as u32).filter(|&i| mask[i as usize] && mvalid[i as usize]).collect();
            let (idx, m) = compact_indices(
                &gpu,
                &gpu.upload(&bitmap(&mask)).unwrap(),
                Some(&gpu.upload(&bitmap(&mvalid)).unwrap()),
                n,
            )
            .unwrap();
            assert_eq!(gpu.download::<u32>(&idx, m).unwrap(), expect, "indices n={n}");

            let vals: Vec<u64> = (0..n as u64).map(|i| i * 3 + 1).collect();
            let g = gather_fixed(&gpu, &gpu.upload(&vals).unwrap(), 8, &idx, m).unwrap();
            let exp_vals: Vec<u64> = expect.iter().map(|&i| vals[i as usize]).collect();
            assert_eq!(gpu.download::<u64>(&g, m).unwrap(), exp_vals);

            let bits: Vec<bool> = (0..n).map(|_| r().is_multiple_of(2)).collect();
            let gb = gather_bits(&gpu, &gpu.upload(&bitmap(&bits)).unwrap(), &idx, m).unwrap();
            let exp_bits: Vec<bool> = expect.iter().map(|&i| bits[i as usize]).collect();
            let got_words = gpu.download::<u32>(&gb, m.div_ceil(32)).unwrap();
            for (k, &b) in exp_bits.iter().enumerate() {
                assert_eq!((got_words[k / 32] >> (k % 32)) & 1 == 1, b, "bit {k} n={n}");
            }

            let strings: Vec<String> = (0..n).map(|i| "x".repeat(i % 5) + &i.to_string()).collect();
            let mut offs = vec![0i64];
            let mut bytes = Vec::new();
            for s in &strings {
                bytes.extend_from_slice(s.as_bytes());
                offs.push(bytes.len() as i64);
            }
            let (go, gb) =
                gather_utf8(&gpu, &gpu.upload(&offs).unwrap(), &gpu.upload_bytes(&bytes).unwrap(), &idx, m).unwrap();
            let go = gpu.download::<i64>(&go, m + 1).unwrap();
            let gbytes = gpu.download::<u8>(&gb, *go.last().unwrap() as usize).unwrap();
            for (k, &i) in expect.iter().enumerate() {
                let s = std::str::from_utf8(&gbytes[go[k] as usize..go[k + 1] as usize]).unwrap();
                assert_eq!(s, strings[i as usize]);
            }
        }
    }
}

/// A name and a map from random bits to a key.
type KeyShape = (&'static str, fn(u64) -> u64);

/// Radix sort against the host's stable sort: few distinct keys (stability shows), the full range,
/// keys that differ only in their top byte, and a partial bit count.
#[test]
fn radix_sort_pairs_is_stable_and_matches_the_host() {
    for gpu in gpus() {
        for &n in sort_sizes().iter().chain(&[if ember_gpu::sim::TSAN { 5_003 } else { 200_003 }]) {
            let mut r = rng(n as u64 + 7);
            let vals: Vec<u32> = (0..n as u32).collect();
            let d_vals = gpu.upload(&vals).unwrap();
            let shapes: [KeyShape; 3] = [("few", |x| x % 5), ("full", |x| x), ("top byte", |x| (x % 3) << 56)];
            for (shape, f) in &shapes {
                let k64: Vec<u64> = (0..n).map(|_| f(r())).collect();
                let k32: Vec<u32> = k64.iter().map(|&k| (k >> 32) as u32 ^ k as u32).collect();
                let host = |keys: &[u64]| {
                    let mut idx: Vec<u32> = vals.clone();
                    idx.sort_by_key(|&i| keys[i as usize]);
                    idx
                };
                let (k, v) = sort_pairs(&gpu, &gpu.upload(&k64).unwrap(), &d_vals, n, KeyWidth::U64, 64).unwrap();
                let want = host(&k64);
                assert_eq!(gpu.download::<u32>(&v, n).unwrap(), want, "u64 {shape} n={n} on {gpu:?}");
                let sorted: Vec<u64> = want.iter().map(|&i| k64[i as usize]).collect();
                assert_eq!(gpu.download::<u64>(&k, n).unwrap(), sorted, "u64 keys {shape} n={n}");
                let (_, v) = sort_pairs(&gpu, &gpu.upload(&k32).unwrap(), &d_vals, n, KeyWidth::U32, 32).unwrap();
                let want = host(&k32.iter().map(|&k| k as u64).collect::<Vec<_>>());
                assert_eq!(gpu.download::<u32>(&v, n).unwrap(), want, "u32 {shape} n={n}");
            }
            // Keys that differ only in their low 12 bits (the rest constant): two passes suffice.
            let k: Vec<u32> = (0..n).map(|_| 0xabc0_0000 | (r() as u32 & 0xfff)).collect();
            let (_, v) = sort_pairs(&gpu, &gpu.upload(&k).unwrap(), &d_vals, n, KeyWidth::U32, 12).unwrap();
            let mut want = vals.clone();
            want.sort_by_key(|&i| k[i as usize]);
            assert_eq!(gpu.download::<u32>(&v, n).unwrap(), want, "12-bit keys n={n}");
        }
    }
}

/// The boundary sizes; under ThreadSanitizer (~100x slower) those below 10,000.
fn sort_sizes() -> Vec<usize> {
    SIZES.iter().copied().filter(|&n| !ember_gpu::sim::TSAN || n < 10_000).collect()
}

#[test]
fn argsort_by_several_words_is_lexicographic_and_stable() {
    for gpu in gpus() {
        for n in sort_sizes() {
            let mut r = rng(n as u64 + 11);
            let a: Vec<u32> = (0..n).map(|_| (r() % 3) as u32).collect();
            let b: Vec<u64> = (0..n).map(|_| r() % 4).collect();
            let c: Vec<u32> = (0..n).map(|_| (r() % 2) as u32).collect();
            let (da, db, dc) = (gpu.upload(&a).unwrap(), gpu.upload(&b).unwrap(), gpu.upload(&c).unwrap());
            let words = [
                KeyWord::full(&da, KeyWidth::U32),
                KeyWord::full(&db, KeyWidth::U64),
                KeyWord::full(&dc, KeyWidth::U32),
            ];
            let perm = argsort(&gpu, &words, n).unwrap();
            let mut want: Vec<u32> = (0..n as u32).collect();
            want.sort_by_key(|&i| (a[i as usize], b[i as usize], c[i as usize]));
            assert_eq!(gpu.download::<u32>(&perm, n).unwrap(), want, "n={n} on {gpu:?}");
        }
    }
}

/// Rows grouped by a u32 word and a u64 word (few distinct values each, so keys repeat and
/// collide in the table), against a host map: two rows share a group exactly when both words are
/// equal, groups are numbered 0..groups, and each representative is a row of its group.
#[test]
fn hash_grouping_matches_a_host_map() {
    for ctx in gpus() {
        for &n in SIZES.iter().chain(&[70_001]) {
            for distinct in [1u64, 7, 1000, u64::MAX] {
                let mut r = rng((n as u64 * 7).wrapping_add(distinct));
                let a: Vec<u32> = (0..n).map(|_| (r() % distinct.min(50)) as u32).collect();
                let b: Vec<u64> = (0..n).map(|_| r() % distinct).collect();
                let (da, db) = (ctx.upload(&a).unwrap(), ctx.upload(&b).unwrap());
                let words = [KeyWord::full(&da, KeyWidth::U32).into(), KeyWord::full(&db, KeyWidth::U64).into()];
                let g = group_rows(&ctx, &words, n).unwrap();
                let ids = ctx.download::<u32>(&g.group_of_row, n).unwrap();
                let reps = ctx.download::<u32>(&g.reps, g.groups).unwrap();
                let mut seen = std::collections::HashMap::new();
                for i in 0..n {
                    let id = *seen.entry((a[i], b[i])).or_insert(ids[i]);
                    assert_eq!(ids[i], id, "row {i}: n={n} distinct={distinct}");
                }
                assert_eq!(g.groups, seen.len(), "n={n} distinct={distinct}");
                let mut numbers: Vec<u32> = seen.values().copied().collect();
                numbers.sort_unstable();
                assert_eq!(numbers, (0..g.groups as u32).collect::<Vec<_>>(), "n={n}");
                for (id, &rep) in reps.iter().enumerate() {
                    assert_eq!(ids[rep as usize], id as u32, "representative of group {id}: n={n}");
                }
            }
        }
    }
}

#[test]
fn hash_grouping_refuses_more_words_than_a_kernel_takes() {
    let ctx = &gpus()[0];
    let w = ctx.upload(&[1u32, 2]).unwrap();
    let words = vec![KeyWord::full(&w, KeyWidth::U32).into(); MAX_KEY_WORDS + 1];
    let err = group_rows(ctx, &words, 2).unwrap_err();
    assert!(err.to_string().contains("key parts"), "{err}");
}

/// Uploads leave no byte of the buffer's capacity unwritten (kernels read bitmaps and tails as
/// whole words; initcheck on an H200 flagged reads of the padding), and `download_into` reads
/// exactly the bytes asked for. Sim's fresh memory is `0xCD`, so unwritten padding shows.
#[test]
fn uploads_zero_their_padding_and_downloads_read_only_their_bytes() {
    for ctx in gpus() {
        for n in [0usize, 1, 5, 15, 16, 17, 1 << 20, (1 << 20) + 3, (3 << 20) + 7] {
            let data: Vec<u8> = (0..n).map(|i| (i % 251) as u8 + 1).collect();
            let before = ctx.trace().htod_copies;
            let buf = ctx.upload_bytes(&data).unwrap();
            let copies = ctx.trace().htod_copies - before;
            assert_eq!(buf.capacity() % 16, 0);
            let all = ctx.download::<u8>(&buf, buf.capacity()).unwrap();
            assert_eq!(&all[..n], &data[..], "n={n}");
            assert!(all[n..].iter().all(|&b| b == 0), "n={n}: padding {:?}", &all[n..]);
            // One copy, except a large unaligned upload: its aligned part, then its padded tail.
            assert_eq!(copies, if n > 1 << 20 && n % 16 != 0 { 2 } else { 1 }, "n={n}");
            let mut part = vec![0u8; n.min(7)];
            ctx.download_into(&buf, n - part.len(), &mut part).unwrap();
            assert_eq!(part, data[n - part.len()..]);
        }
        let buf = ctx.upload_bytes(&[1, 2, 3]).unwrap();
        assert!(ctx.download_into(&buf, 10, &mut [0u8; 7]).is_err(), "past the capacity");
    }
}
