//! The execution context on the simulated device: what a query costs (read from its trace), a
//! memory limit that fails one op cleanly and leaves the context usable, kernel argument checks,
//! and device frames used and dropped on other threads.
mod common;
use ember::gpu::memory::{LimitResource, MemoryResource};
use ember::gpu::{ExecContext, Gpu, GpuError, Kernel, KernelArg, LaunchConfig, SimRejection};
use ember::prelude::*;
use std::sync::Arc;

fn sim() -> ExecContext {
    ExecContext::new(Gpu::sim().unwrap())
}

#[test]
fn q6_is_two_launches_and_one_synchronisation() {
    let li = ember::tpch::lineitem(0.01).unwrap().to(Device::Sim).unwrap();
    let ctx = sim();
    let out = ember::tpch::q6_lazy(&li).unwrap().collect_in(&ctx).unwrap();
    let t = ctx.trace();
    eprintln!("Q6 trace: {t}");
    assert!(t.launches <= 3, "{t}");
    assert_eq!(t.syncs, 1, "{t}");
    assert_eq!(t.kernels[0].kernel, "expr::expr_reduce_partial", "{t}");
    // No full-width intermediate: far less device memory than one 16-byte column of the input.
    assert!(t.memory.peak_bytes < (li.num_rows() as u64 * 16) / 8, "{t}");
    assert_eq!(out.num_rows(), 1);
}

#[test]
fn q1_charge_is_one_launch() {
    let li = ember::tpch::lineitem(0.001).unwrap().to(Device::Sim).unwrap();
    let charge = col("l_extendedprice") * (lit(1) - col("l_discount")) * (lit(1) + col("l_tax"));
    let ctx = sim();
    let dev = ember::expr::evaluate_in(Some(&ctx), &li, &charge).unwrap();
    let t = ctx.trace();
    assert_eq!(t.launches, 1, "{t}");
    assert_eq!(t.syncs, 1, "the error word: {t}");
    // One output column of i128 and its error word; no intermediates.
    assert!(t.memory.allocated_bytes <= (li.num_rows() as u64 * 16).next_multiple_of(256) + 256, "{t}");
    let cpu = li.to(Device::Cpu).unwrap().evaluate(&charge).unwrap().to_arrow().unwrap();
    assert_eq!(dev.to_arrow().unwrap().as_ref(), cpu.as_ref());
}

/// Ordering rows never waits for the host: key words, radix passes and the row permutation are
/// queued back to back. By a decimal key (`l_extendedprice`): one key launch, the row numbers,
/// 8 passes (a decimal(15, 2) fits one 64-bit word) of histogram + scan + scatter. The only
/// synchronisation is the gather of the five string columns, which reads back their byte totals
/// (all five in one download) to size their outputs.
#[test]
fn sort_synchronises_only_to_size_string_gathers() {
    let li = ember::tpch::lineitem(0.01).unwrap().to(Device::Sim).unwrap();
    let ctx = sim();
    let out = li.lazy().sort(["l_extendedprice"]).collect_in(&ctx).unwrap();
    let t = ctx.trace();
    eprintln!("sort trace: {t}");
    assert_eq!(li.fields().iter().filter(|f| f.dtype == DType::Utf8).count(), 5);
    assert_eq!(t.syncs, 1, "{t}");
    assert_eq!(t.dtoh_bytes, 5 * 8, "five byte totals: {t}");
    let radix = t.kernels.iter().filter(|k| k.kernel.starts_with("radix_sort::")).count();
    assert_eq!(radix, 16, "8 passes of histogram + scatter: {t}");
    assert_eq!(out.num_rows(), li.num_rows());
}

#[test]
fn a_memory_limit_fails_one_op_and_the_context_recovers() {
    let gpu = Gpu::sim().unwrap();
    let limited: Arc<dyn MemoryResource> = Arc::new(LimitResource::new(gpu.default_resource(), 64 << 10));
    let ctx = ExecContext::with_resource(gpu, limited);
    let big =
        common::frame(vec![("x", Arc::new(arrow::array::Int64Array::from_iter_values(0..100_000)) as _)], Device::Sim);
    let err = ember::filter::filter_in(Some(&ctx), &big, &col("x").gt(lit(10i64))).unwrap_err();
    assert!(matches!(err, Error::Gpu(GpuError::OutOfMemory { limit: Some(_), .. })), "{err}");
    let small = common::frame(vec![("x", Arc::new(arrow::array::Int64Array::from(vec![1, 20, 30])) as _)], Device::Sim);
    let kept = ember::filter::filter_in(Some(&ctx), &small, &col("x").gt(lit(10i64))).unwrap();
    assert_eq!(kept.num_rows(), 2);
    assert_eq!(ctx.trace().memory.current_bytes, 16, "the result's one buffer (two i64, padded)");
    drop(kept);
    assert_eq!(ctx.trace().memory.current_bytes, 0, "everything both ops allocated was returned");
}

#[test]
fn kernel_arguments_are_checked_on_every_sim_launch() {
    let ctx = sim();
    let buf = ctx.alloc_zeroed(64).unwrap();
    let cfg = LaunchConfig::blocks(1, 32);
    let kind = |r: ember::gpu::Result<()>| match r {
        Err(GpuError::SimLaunch { kind, message, .. }) => (kind, message),
        other => panic!("expected a rejected launch, got {other:?}"),
    };
    // iota_u32(u32* out, u32 start, u64 n): one argument short, a u64 for a u32, a misaligned pointer.
    let k = Kernel::new("compact", "iota_u32");
    let (r, m) = kind(ctx.launch(k, cfg, &[(&buf).into(), KernelArg::U32(0)]));
    assert_eq!(r, SimRejection::ArgumentMismatch, "{m}");
    let (r, m) = kind(ctx.launch(k, cfg, &[(&buf).into(), KernelArg::U64(0), KernelArg::U64(4)]));
    assert_eq!(r, SimRejection::ArgumentMismatch, "{m}");
    assert!(m.contains("argument 1"), "{m}");
    let (r, m) =
        kind(ctx.launch(k, cfg, &[KernelArg::Ptr(buf.device_ptr() + 2), KernelArg::U32(0), KernelArg::U64(4)]));
    assert_eq!(r, SimRejection::ArgumentMismatch, "{m}");
    assert!(m.contains("aligned"), "{m}");
    // The right kernel in the wrong module is not found, as on CUDA.
    let wrong =
        ctx.launch(Kernel::new("reduce", "iota_u32"), cfg, &[(&buf).into(), KernelArg::U32(0), KernelArg::U64(4)]);
    assert!(matches!(wrong, Err(GpuError::KernelNotFound { .. })), "{wrong:?}");
    ctx.launch(k, cfg, &[(&buf).into(), KernelArg::U32(7), KernelArg::U64(4)]).unwrap();
    assert_eq!(ctx.download::<u32>(&buf, 4).unwrap(), vec![7, 8, 9, 10]);
}

#[test]
fn device_frames_are_read_and_dropped_on_other_threads() {
    let df = common::frame(vec![("x", Arc::new(arrow::array::Int32Array::from(vec![1, 2, 3])) as _)], Device::Sim);
    let moved = df.clone();
    let back = std::thread::spawn(move || {
        let host = moved.to_record_batch().unwrap();
        drop(moved);
        host
    })
    .join()
    .unwrap();
    assert_eq!(back, df.to_record_batch().unwrap());
}

#[test]
fn slices_clamp_on_every_device() {
    for device in [Device::Cpu].into_iter().chain(common::gpu_devices()) {
        let df = common::frame(vec![("x", Arc::new(arrow::array::Int32Array::from(vec![1, 2, 3, 4])) as _)], device);
        let s = df.lazy().slice(2, usize::MAX).collect().unwrap();
        assert_eq!(s.to(Device::Cpu).unwrap().num_rows(), 2);
        assert_eq!(df.lazy().slice(9, 1).collect().unwrap().num_rows(), 0);
    }
}

/// TPC-H Q1's group-by (four groups) on the simulated device: the device hash table numbers the
/// groups and the aggregations fold warp-cooperatively, so the 60k rows are never sorted (the
/// only radix sorts order the four groups); the synchronisations are the group count, the
/// decimal-overflow word and the final sort's string gathers, none per aggregation.
#[test]
fn q1_groups_by_hash_without_sorting_the_rows() {
    let li = ember::tpch::lineitem(0.01).unwrap().to(Device::Sim).unwrap();
    let ctx = sim();
    let out = ember::tpch::q1_lazy(&li).unwrap().collect_in(&ctx).unwrap();
    let t = ctx.trace();
    eprintln!("Q1 trace: {t}");
    assert_eq!(out.num_rows(), 4);
    let big_sorts = t.kernels.iter().filter(|k| k.kernel.starts_with("radix_sort::") && k.grid.0 > 1).count();
    assert_eq!(big_sorts, 0, "{t}");
    assert_eq!(t.kernels.iter().filter(|k| k.kernel == "hash_table::ht_insert_rows").count(), 1, "{t}");
    let folds = t.kernels.iter().filter(|k| k.kernel.starts_with("groupby::few_") && !k.kernel.contains("finish"));
    assert_eq!(folds.count(), 8, "sum x4, mean x3 (as sums), len: {t}");
    assert!(t.syncs <= 12, "{t}");
}

/// The inner join of `left` and `right` on `k` in a fresh Sim context, and that context's trace.
fn traced_inner_join(left: &DataFrame, right: &DataFrame) -> (DataFrame, ember::gpu::TraceSummary) {
    let ctx = sim();
    let args = ember::ops::join::JoinArgs::new(["k"], ["k"], ember::ops::join::JoinType::Inner);
    let out = left.lazy().join(right.lazy(), args).collect_in(&ctx).unwrap();
    let t = ctx.trace();
    eprintln!("join trace: {t}");
    (out, t)
}

/// A GPU join hashes the right rows and sorts them only by their group number: 3,000 distinct
/// 64-bit keys in 6,000 rows (group numbers bounded by the rows: 13 bits) take 2 radix passes
/// where a sort by the key word took 8 (plus the null word's), and each left row finds its
/// matches with one table probe.
#[test]
fn a_join_sorts_the_right_side_by_group_number_only() {
    use arrow::array::Int64Array;
    let left = common::frame(
        vec![("k", Arc::new(Int64Array::from_iter_values((0..20_000).map(|i| (i * 7919) % 4000 * 1_000_003))) as _)],
        Device::Sim,
    );
    let right = common::frame(
        vec![
            ("k", Arc::new(Int64Array::from_iter_values((0..6_000).map(|i| (i % 3000) * 1_000_003))) as _),
            ("v", Arc::new(Int64Array::from_iter_values(0..6_000)) as _),
        ],
        Device::Sim,
    );
    let (out, t) = traced_inner_join(&left, &right);
    // Left keys are multiples of 1,000,003 below 4000 of them; 3000 exist on the right, twice each.
    assert_eq!(out.num_rows(), 2 * 20_000 * 3 / 4);
    let passes = t.kernels.iter().filter(|k| k.kernel.starts_with("radix_sort::radix_scatter")).count();
    assert_eq!(passes, 2, "{t}");
    assert_eq!(t.kernels.iter().filter(|k| k.kernel == "join::join_probe").count(), 1, "{t}");
    assert_eq!(t.syncs, 1, "the pair count (the group count is bounded by the rows, not read): {t}");
}

/// With the left side the smaller, the table holds the left rows: each right row probes it once
/// for its left group, the right rows are sorted by that group (group numbers bounded by the
/// 6,000 left rows, and the misses: 2 radix passes), and the answer keeps the documented order.
#[test]
fn a_join_builds_its_table_on_the_smaller_left_side() {
    use arrow::array::Int64Array;
    let left_keys = |n: i64| (0..n).map(|i| (i % 3000) * 1_000_003);
    let left = common::frame(
        vec![
            ("k", Arc::new(Int64Array::from_iter_values(left_keys(6_000))) as _),
            ("v", Arc::new(Int64Array::from_iter_values(0..6_000)) as _),
        ],
        Device::Sim,
    );
    let right_keys: Vec<i64> = (0..20_000).map(|i| (i * 7919) % 4000 * 1_000_003).collect();
    let right = common::frame(
        vec![
            ("k", Arc::new(Int64Array::from(right_keys.clone())) as _),
            ("w", Arc::new(Int64Array::from_iter_values(0..20_000)) as _),
        ],
        Device::Sim,
    );
    let (out, t) = traced_inner_join(&left, &right);
    let inserts: Vec<_> = t.kernels.iter().filter(|k| k.kernel == "hash_table::ht_insert_rows").collect();
    assert_eq!(inserts.len(), 1, "{t}");
    assert!((inserts[0].grid.0 * inserts[0].block.0) < 7_000, "the table holds the 6,000 left rows: {t}");
    assert_eq!(t.kernels.iter().filter(|k| k.kernel == "join::join_probe_group").count(), 1, "{t}");
    assert_eq!(t.kernels.iter().filter(|k| k.kernel == "join::join_probe").count(), 0, "{t}");
    let passes = t.kernels.iter().filter(|k| k.kernel.starts_with("radix_sort::radix_scatter")).count();
    assert_eq!(passes, 2, "{t}");
    assert_eq!(t.syncs, 1, "the pair count (the group count is bounded by the rows, not read): {t}");
    // Left rows in order, each one's matches in right row order.
    let mut want = Vec::new();
    for (i, k) in left_keys(6_000).enumerate() {
        want.extend(right_keys.iter().enumerate().filter(|(_, &r)| r == k).map(|(j, _)| (i as i64, j as i64)));
    }
    assert_eq!(out.num_rows(), 6_000 * 5);
    let got = common::host(&out);
    let values =
        |name: &str| got.column_by_name(name).unwrap().as_any().downcast_ref::<Int64Array>().unwrap().values().to_vec();
    assert_eq!(values("v"), want.iter().map(|w| w.0).collect::<Vec<_>>());
    assert_eq!(values("w"), want.iter().map(|w| w.1).collect::<Vec<_>>());
}

/// A GPU sort by a utf8 key sorts by each string's rank among the distinct strings: 25 brands of
/// 8 bytes take one radix pass (their byte words and length took 9), whatever their length.
#[test]
fn a_sort_by_strings_sorts_by_their_rank() {
    use arrow::array::{Int64Array, StringViewArray};
    let brand = |i: i64| format!("Brand#{}{}", (i * 7) % 5 + 1, (i * 3) % 5 + 1);
    let df = common::frame(
        vec![
            ("b", Arc::new(StringViewArray::from_iter_values((0..20_000).map(brand))) as _),
            ("v", Arc::new(Int64Array::from_iter_values(0..20_000)) as _),
        ],
        Device::Sim,
    );
    let ctx = sim();
    let out = df.lazy().sort([SortKey::new(col("b")).descending()]).collect_in(&ctx).unwrap();
    let t = ctx.trace();
    eprintln!("sort trace: {t}");
    let passes = t.kernels.iter().filter(|k| k.kernel.starts_with("radix_sort::radix_scatter")).count();
    assert_eq!(passes, 1, "{t}");
    assert_eq!(t.syncs, 2, "the distinct count and the gathered strings' bytes: {t}");
    let got = common::host(&out);
    let v = got.column_by_name("v").unwrap().as_any().downcast_ref::<Int64Array>().unwrap().values().to_vec();
    let mut want: Vec<i64> = (0..20_000).collect();
    want.sort_by_key(|&i| std::cmp::Reverse(brand(i))); // stable: ties keep row order
    assert_eq!(v, want);
}
