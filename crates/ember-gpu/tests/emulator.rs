//! The simulated device models CUDA's execution (3-D indexing, shared memory, barriers, warp
//! intrinsics, atomics) and rejects what a GPU rejects. Kernels: `kernels/sim_checks.cu`.
#![cfg(feature = "sim")]
use ember_gpu::{DeviceBuffer, ExecContext, Gpu, GpuError, Kernel, KernelArg, LaunchConfig, SimRejection};

fn sim() -> ExecContext {
    ExecContext::new(Gpu::sim().unwrap())
}

fn cfg(grid: (u32, u32, u32), block: (u32, u32, u32), shared: u32) -> LaunchConfig {
    LaunchConfig { grid, block, shared_mem_bytes: shared }
}

fn rejection(r: ember_gpu::Result<()>) -> (SimRejection, String) {
    match r {
        Err(GpuError::SimLaunch { kind, message, .. }) => (kind, message),
        other => panic!("expected a rejected launch, got {other:?}"),
    }
}

fn launch(g: &ExecContext, k: &str, c: LaunchConfig, args: &[KernelArg]) -> ember_gpu::Result<()> {
    g.launch(Kernel::named("sim_checks", k), c, args)
}

#[test]
fn three_d_indexing() {
    let g = sim();
    for (grid, block) in
        [((2, 3, 2), (4, 2, 3)), ((1, 1, 1), (1024, 1, 1)), ((5, 1, 1), (96, 1, 1)), ((3, 2, 1), (7, 5, 2))]
    {
        let nb = grid.0 * grid.1 * grid.2;
        let nt = block.0 * block.1 * block.2;
        let out = g.alloc_zeroed((nb * nt * 4) as usize).unwrap();
        launch(&g, "check_index_3d", cfg(grid, block, 0), &[(&out).into()]).unwrap();
        let got = g.download_all::<u32>(&out).unwrap();
        for bz in 0..grid.2 {
            for by in 0..grid.1 {
                for bx in 0..grid.0 {
                    for tz in 0..block.2 {
                        for ty in 0..block.1 {
                            for tx in 0..block.0 {
                                let bid = bx + by * grid.0 + bz * grid.0 * grid.1;
                                let tid = tx + ty * block.0 + tz * block.0 * block.1;
                                let want = (bz << 24) | (by << 20) | (bx << 16) | (tz << 12) | (ty << 8) | tx;
                                assert_eq!(got[(bid * nt + tid) as usize], want, "grid {grid:?} block {block:?}");
                            }
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn block_reduction_with_barriers_and_shuffles() {
    let g = sim();
    let large = if ember_gpu::sim::TSAN { 100_000 } else { 1_000_000 }; // TSan: 100x slower
    for (n, block) in [(1usize, 64u32), (1000, 256), (large, 256), (4097, 1024)] {
        let v: Vec<i64> = (0..n as i64).map(|i| (i * 7919) % 1001 - 500).collect();
        let out = g.alloc_zeroed(8).unwrap();
        let input = g.upload(&v).unwrap();
        launch(
            &g,
            "check_block_reduce",
            LaunchConfig::for_elems(n, block),
            &[(&input).into(), (&out).into(), KernelArg::U64(n as u64)],
        )
        .unwrap();
        assert_eq!(g.download_all::<i64>(&out).unwrap()[0], v.iter().sum::<i64>(), "n={n} block={block}");
    }
}

#[test]
fn ballot_popc_and_syncthreads_count() {
    let g = sim();
    let n = 1000usize;
    let v: Vec<i32> = (0..n as i32).map(|i| if i % 3 == 0 { 1 } else { -1 }).collect();
    let warps = g.alloc_zeroed(n.div_ceil(32) * 4 + 64).unwrap();
    let blocks = g.alloc_zeroed(4 * 4).unwrap();
    let input = g.upload(&v).unwrap();
    launch(
        &g,
        "check_ballot",
        LaunchConfig::for_elems(n, 256),
        &[(&input).into(), (&warps).into(), (&blocks).into(), KernelArg::U64(n as u64)],
    )
    .unwrap();
    let w = g.download::<u32>(&warps, n.div_ceil(32)).unwrap();
    for (k, &c) in w.iter().enumerate() {
        let want = (k * 32..((k + 1) * 32).min(n)).filter(|i| i % 3 == 0).count() as u32;
        assert_eq!(c, want, "warp {k}");
    }
    let b = g.download::<u32>(&blocks, 4).unwrap();
    for (k, &c) in b.iter().enumerate() {
        assert_eq!(c as usize, (k * 256..((k + 1) * 256).min(n)).filter(|i| i % 3 == 0).count());
    }
}

#[test]
fn warp_scan_and_butterfly_with_partial_last_block() {
    let g = sim();
    let n = 1000usize; // last warp of the last block is partial in data, full in threads
    let v: Vec<i32> = (0..n as i32).map(|i| i % 17 - 8).collect();
    let scan = g.alloc_zeroed(n * 4).unwrap();
    let sums = g.alloc_zeroed(n * 4).unwrap();
    let input = g.upload(&v).unwrap();
    launch(
        &g,
        "check_warp_scan",
        LaunchConfig::for_elems(n, 128),
        &[(&input).into(), (&scan).into(), (&sums).into(), KernelArg::U64(n as u64)],
    )
    .unwrap();
    let (scan, sums) = (g.download_all::<i32>(&scan).unwrap(), g.download_all::<i32>(&sums).unwrap());
    for w in 0..n.div_ceil(32) {
        let lo = w * 32;
        let hi = (lo + 32).min(n);
        let total: i32 = v[lo..hi].iter().sum();
        let mut acc = 0;
        for i in lo..hi {
            acc += v[i];
            assert_eq!(scan[i], acc, "scan at {i}");
            assert_eq!(sums[i], total, "butterfly at {i}");
        }
    }
}

#[test]
fn dynamic_shared_memory_is_per_block() {
    let g = sim();
    let n = 96 * 5;
    let v: Vec<f32> = (0..n).map(|i| i as f32).collect();
    let out = g.alloc_zeroed(n * 4).unwrap();
    let input = g.upload(&v).unwrap();
    let mut c = LaunchConfig::for_elems(n, 96);
    c.shared_mem_bytes = 96 * 4;
    launch(&g, "check_dynamic_shared", c, &[(&input).into(), (&out).into(), KernelArg::U64(n as u64)]).unwrap();
    let got = g.download_all::<f32>(&out).unwrap();
    for b in 0..5 {
        for t in 0..96 {
            assert_eq!(got[b * 96 + t], (b * 96 + 95 - t) as f32);
        }
    }
}

#[test]
fn atomics_on_global_and_shared_memory() {
    let g = sim();
    let n = 100_000usize;
    let v: Vec<i32> = (0..n as i32).map(|i| (i * 7919) % 100_003).collect();
    let gmin = g.upload(&[i32::MAX]).unwrap();
    let gmax = g.upload(&[i32::MIN]).unwrap();
    let gor = g.alloc_zeroed(4).unwrap();
    let gsum = g.alloc_zeroed(8).unwrap();
    let blocks = n.div_ceil(256);
    let bmax = g.alloc_zeroed(blocks * 4).unwrap();
    let input = g.upload(&v).unwrap();
    let args: Vec<KernelArg> = [&input, &gmin, &gmax, &gor, &gsum, &bmax]
        .iter()
        .map(|b: &&DeviceBuffer| KernelArg::from(*b))
        .chain([KernelArg::U64(n as u64)])
        .collect();
    launch(&g, "check_atomics", LaunchConfig::for_elems(n, 256), &args).unwrap();
    assert_eq!(g.download_all::<i32>(&gmin).unwrap()[0], *v.iter().min().unwrap());
    assert_eq!(g.download_all::<i32>(&gmax).unwrap()[0], *v.iter().max().unwrap());
    assert_eq!(g.download_all::<u32>(&gor).unwrap()[0], v.iter().fold(0u32, |a, &x| a | 1 << (x & 31)));
    assert_eq!(g.download_all::<u64>(&gsum).unwrap()[0], v.iter().map(|&x| (x & 0xff) as u64).sum::<u64>());
    let bm = g.download::<u32>(&bmax, blocks).unwrap();
    for (b, &m) in bm.iter().enumerate() {
        assert_eq!(m, *v[b * 256..((b + 1) * 256).min(n)].iter().max().unwrap() as u32);
    }
}

#[test]
fn rejects_more_than_1024_threads_per_block() {
    let g = sim();
    let out = g.alloc_zeroed(1025 * 4).unwrap();
    let (kind, msg) = rejection(launch(&g, "check_index_3d", cfg((1, 1, 1), (1025, 1, 1), 0), &[(&out).into()]));
    assert_eq!(kind, SimRejection::InvalidLaunchConfig, "{msg}");
    let (kind, _) = rejection(launch(&g, "check_index_3d", cfg((1, 1, 1), (32, 32, 2), 0), &[(&out).into()]));
    assert_eq!(kind, SimRejection::InvalidLaunchConfig);
    let (kind, _) = rejection(launch(&g, "check_index_3d", cfg((1, 1, 1), (0, 1, 1), 0), &[(&out).into()]));
    assert_eq!(kind, SimRejection::InvalidLaunchConfig);
    // exactly 1024 is fine
    launch(&g, "check_index_3d", cfg((1, 1, 1), (1024, 1, 1), 0), &[(&out).into()]).unwrap();
}

#[test]
fn rejects_shared_memory_over_the_limit() {
    let g = sim();
    let out = g.alloc_zeroed(256 * 4).unwrap();
    // 40 KiB static alone is fine; with 16 KiB dynamic on top it exceeds 48 KiB.
    launch(&g, "check_big_static_shared", cfg((1, 1, 1), (256, 1, 1), 0), &[(&out).into()]).unwrap();
    let (kind, msg) =
        rejection(launch(&g, "check_big_static_shared", cfg((1, 1, 1), (256, 1, 1), 16 * 1024), &[(&out).into()]));
    assert_eq!(kind, SimRejection::SharedMemoryExceeded, "{msg}");
    assert!(msg.contains("40960") && msg.contains("16384"), "{msg}");
    let input = g.alloc_zeroed(4).unwrap();
    let (kind, _) = rejection(launch(
        &g,
        "check_dynamic_shared",
        cfg((1, 1, 1), (32, 1, 1), 64 * 1024),
        &[(&input).into(), (&out).into(), KernelArg::U64(1)],
    ));
    assert_eq!(kind, SimRejection::SharedMemoryExceeded);
}

#[test]
fn rejects_divergent_syncthreads_naming_both_lines() {
    let g = sim();
    let out = g.alloc_zeroed(64 * 4).unwrap();
    let (kind, msg) = rejection(launch(&g, "check_divergent_sync", cfg((1, 1, 1), (64, 1, 1), 0), &[(&out).into()]));
    assert_eq!(kind, SimRejection::DivergentSyncthreads, "{msg}");
    assert!(msg.contains("sim_checks.cu:"), "message names the source line: {msg}");
    let (kind, msg) = rejection(launch(&g, "check_early_exit_sync", cfg((2, 1, 1), (64, 1, 1), 0), &[(&out).into()]));
    assert_eq!(kind, SimRejection::DivergentSyncthreads, "{msg}");
}

#[test]
fn rejects_partial_warp_masks_and_reports_deadlock() {
    let g = sim();
    let out = g.alloc_zeroed(64 * 4).unwrap();
    let (kind, msg) = rejection(launch(&g, "check_partial_mask", cfg((1, 1, 1), (64, 1, 1), 0), &[(&out).into()]));
    assert_eq!(kind, SimRejection::UnsupportedWarpMask, "{msg}");
    let (kind, msg) = rejection(launch(&g, "check_warp_deadlock", cfg((1, 1, 1), (64, 1, 1), 0), &[(&out).into()]));
    assert!(
        matches!(kind, SimRejection::Deadlock | SimRejection::DivergentSyncthreads | SimRejection::UnsupportedWarpMask),
        "{kind:?}: {msg}"
    );
}

#[test]
fn the_device_recovers_after_a_rejected_launch() {
    let g = sim();
    let out = g.alloc_zeroed(64 * 4).unwrap();
    assert!(launch(&g, "check_divergent_sync", cfg((4, 1, 1), (64, 1, 1), 0), &[(&out).into()]).is_err());
    let idx = g.alloc_zeroed(64 * 4 * 4).unwrap();
    launch(&g, "check_index_3d", cfg((4, 1, 1), (64, 1, 1), 0), &[(&idx).into()]).unwrap();
    assert_eq!(g.download_all::<u32>(&idx).unwrap()[64 * 3 + 5], (3 << 16) | 5);
}

#[test]
fn unknown_kernels_are_an_error() {
    let g = sim();
    assert!(matches!(
        launch(&g, "no_such_kernel", cfg((1, 1, 1), (1, 1, 1), 0), &[]),
        Err(GpuError::KernelNotFound { .. })
    ));
}

/// The thread orders find races the default order hides: each planted racy kernel gives a wrong
/// answer in at least one order, its fixed twin the right answer in every order. Each order gets
/// its own input, so stale shared memory from an earlier launch is never the right answer.
#[test]
fn thread_orders_expose_planted_races() {
    use ember_gpu::sim::{with_order, ThreadOrder};
    let orders = [ThreadOrder::Forward, ThreadOrder::Reverse, ThreadOrder::Random(7), ThreadOrder::Random(99)];
    let g = sim();
    let cases = [
        ("barrier", "race_barrier_racy", "race_barrier_fixed", 1u32, 256u32, 256usize),
        ("warp", "race_warp_racy", "race_warp_fixed", 1, 32, 1),
        ("blocks", "race_blocks_racy", "race_blocks_fixed", 64, 32, 64),
    ];
    for (name, racy, fixed, blocks, threads, out_len) in cases {
        let mut racy_wrong = Vec::new();
        for (k, order) in orders.into_iter().enumerate() {
            let input: Vec<i32> = (1..=256).map(|x| x * (k as i32 + 2)).collect();
            let (racy_want, fixed_want): (Vec<i32>, Vec<i32>) = match name {
                "barrier" => {
                    let v: Vec<i32> = (0..256).map(|t| input[t] + input[(t + 1) % 256]).collect();
                    (v.clone(), v)
                }
                "warp" => (vec![input[..32].iter().sum()], vec![input[..32].iter().sum()]),
                _ => (
                    input[..64].iter().scan(0, |s, x| Some(*s + x)).collect(),
                    (0..64).map(|b| input[b] + if b > 0 { input[b - 1] } else { 0 }).collect(),
                ),
            };
            let run = |kernel: &str| {
                with_order(order, || {
                    let inp = g.upload(&input).unwrap();
                    let out = g.alloc_zeroed(out_len * 4).unwrap();
                    launch(&g, kernel, cfg((blocks, 1, 1), (threads, 1, 1), 0), &[(&inp).into(), (&out).into()])
                        .unwrap();
                    g.download::<i32>(&out, out_len).unwrap()
                })
            };
            if run(racy) != racy_want {
                racy_wrong.push(format!("{order:?}"));
            }
            assert_eq!(run(fixed), fixed_want, "fixed {name} under {order:?}");
        }
        assert!(!racy_wrong.is_empty(), "no thread order exposed the planted {name} race");
        eprintln!("planted {name} race: wrong under {racy_wrong:?}");
    }
}
