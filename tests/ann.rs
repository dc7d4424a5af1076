//! Vector search: FlatIndex against a naive scan (every metric), the GPU path (Sim, and CUDA with
//! EMBER_TEST_CUDA=1) against the CPU engine bit for bit at block-boundary sizes, HNSW recall
//! against the exact answer, deletions, filters (with the exact fallback), upserts, save / load,
//! bad input, the Sim trace of a batch.
#[macro_use]
mod common;

use common::gpu_devices;
use ember::ann::{FlatIndex, HnswIndex, HnswParams, Metric, RecallTarget, SearchResult, Vectors, NO_LABEL};
use ember::prelude::*;
use std::sync::Arc;

/// Seeded Gaussian clusters: `n` vectors of `dim` around `clusters` centres (overlapping).
fn clusters(n: usize, dim: usize, clusters: usize, seed: u64) -> Vectors {
    let mut r = common::rng(seed);
    let mut gauss = move || {
        // Box-Muller from two uniforms.
        let u1 = ((r() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        let u2 = ((r() >> 11) as f64) / (1u64 << 53) as f64;
        ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
    };
    let centres: Vec<f32> = (0..clusters * dim).map(|_| gauss() * 3.0).collect();
    let mut data = Vec::with_capacity(n * dim);
    for i in 0..n {
        let c = i % clusters;
        for j in 0..dim {
            data.push(centres[c * dim + j] + gauss());
        }
    }
    Vectors::from_row_major(data, dim).unwrap()
}

/// The exact answer by a plain loop: (distance, slot) sorted, labels = slots.
fn naive(base: &Vectors, q: &Vectors, k: usize, metric: Metric, keep: impl Fn(usize) -> bool) -> Vec<u64> {
    let prep = |v: &[f32]| {
        let mut v = v.to_vec();
        if metric == Metric::Cosine {
            let n: f32 = ember::ann::dot(&v, &v).sqrt();
            if n > 0.0 {
                v.iter_mut().for_each(|x| *x *= 1.0 / n);
            }
        }
        v
    };
    let mut out = Vec::new();
    for qi in 0..q.len() {
        let qv = prep(q.row(qi));
        let mut all: Vec<(f32, usize)> =
            (0..base.len()).filter(|&s| keep(s)).map(|s| (metric.distance(&qv, &prep(base.row(s))), s)).collect();
        all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        out.extend((0..k).map(|j| all.get(j).map_or(NO_LABEL, |x| x.1 as u64)));
    }
    out
}

#[test]
fn flat_equals_a_naive_scan_for_every_metric() {
    let base = clusters(700, 19, 7, 1);
    let q = clusters(23, 19, 5, 2);
    for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine] {
        let mut idx = FlatIndex::new(19, metric).unwrap();
        idx.add(&base, None).unwrap();
        let r = idx.search(&q, 10, None, Device::Cpu).unwrap();
        assert_eq!(r.labels, naive(&base, &q, 10, metric, |_| true), "{metric:?}");
        assert!(r.distances.windows(2).enumerate().all(|(i, w)| (i + 1) % 10 == 0 || w[0] <= w[1]));
    }
}

#[test]
fn flat_gpu_equals_cpu_bit_for_bit() {
    for device in gpu_devices() {
        for (n, dim, k) in
            [(1usize, 3usize, 1usize), (255, 8, 10), (256, 17, 256), (257, 16, 7), (1030, 33, 100), (2000, 64, 10)]
        {
            let base = clusters(n, dim, 5, n as u64);
            let q = clusters(9, dim, 3, 99);
            for metric in [Metric::L2, Metric::Cosine] {
                let mut idx = FlatIndex::new(dim, metric).unwrap();
                idx.add(&base, None).unwrap();
                // Deletions and a filter on half of the rest.
                for l in (0..n as u64).step_by(5) {
                    idx.delete(l);
                }
                let filter = |l: u64| l.is_multiple_of(2);
                for f in [None, Some(&filter as &(dyn Fn(u64) -> bool + Sync))] {
                    let cpu = idx.search(&q, k, f, Device::Cpu).unwrap();
                    let gpu = idx.search(&q, k, f, device).unwrap();
                    assert_eq!(gpu.labels, cpu.labels, "n {n} dim {dim} k {k} {metric:?} on {device}");
                    let bits = |r: &SearchResult| r.distances.iter().map(|d| d.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&gpu), bits(&cpu), "distances, n {n} on {device}");
                    let want = naive(&base, &q, k, metric, |s| s % 5 != 0 && (f.is_none() || s % 2 == 0));
                    assert_eq!(cpu.labels, want);
                }
            }
        }
    }
}

#[test]
fn sim_trace_of_a_batch() {
    let base = clusters(500, 16, 4, 3);
    let mut idx = FlatIndex::new(16, Metric::L2).unwrap();
    idx.add(&base, None).unwrap();
    let ctx = ember::gpu::ExecContext::new(ember::gpu::Gpu::sim().unwrap());
    idx.search_in(&clusters(3, 16, 2, 4), 5, None, &ctx).unwrap();
    let before = ctx.trace();
    idx.search_in(&clusters(64, 16, 2, 5), 5, None, &ctx).unwrap();
    let t = ctx.trace();
    // One launch (a block per query) and two read-backs per batch; the vectors stay on the device.
    assert_eq!((t.launches - before.launches, t.dtoh_copies - before.dtoh_copies), (1, 2), "{t}");
    assert_eq!(t.htod_bytes - before.htod_bytes, 64 * 16 * 4, "only the queries move: {t}");
}

fn exact_truth(base: &Vectors, q: &Vectors, k: usize, metric: Metric) -> Vec<u64> {
    let mut f = FlatIndex::new(base.dim(), metric).unwrap();
    f.add(base, None).unwrap();
    f.search(q, k, None, Device::Cpu).unwrap().labels
}

#[test]
fn hnsw_recall_deletions_filters_upserts() {
    let (n, dim) = (6000, 32);
    let base = clusters(n, dim, 40, 7);
    let q = clusters(200, dim, 40, 8);
    let mut idx = HnswIndex::new(dim, Metric::L2, HnswParams { m: 16, ef_construction: 100, seed: 1 }).unwrap();
    // Two batches: the second links into the first.
    let half = Vectors::from_row_major(base.values()[..n / 2 * dim].to_vec(), dim).unwrap();
    let rest = Vectors::from_row_major(base.values()[n / 2 * dim..].to_vec(), dim).unwrap();
    idx.add(&half, None).unwrap();
    idx.add(&rest, None).unwrap();
    assert_eq!(idx.len(), n);
    let truth = exact_truth(&base, &q, 10, Metric::L2);
    let r = idx.search(&q, 10, 64, None).unwrap();
    let recall = r.recall(&truth);
    // The parallel build links vectors in thread order, so recall moves from run to run. Over 70
    // runs on a 2-core machine (release and debug, alone and beside the other tests): 0.9385–0.966
    // at ef 64 and 0.990–0.998 at ef 200; a CI run once measured 0.9495 and 0.9845. The bounds
    // leave room for that spread, not for a broken graph (which falls far below them).
    assert!(recall >= 0.92, "recall@10 at ef 64: {recall}");
    let wide = idx.search(&q, 10, 200, None).unwrap().recall(&truth);
    assert!(wide >= recall && wide >= 0.975, "recall@10 at ef 200: {wide} (ef 64: {recall})");

    // Deleted labels never come back; the rest keep their recall.
    for l in (0..n as u64).step_by(3) {
        assert!(idx.delete(l));
    }
    assert!(!idx.delete(0));
    let r = idx.search(&q, 10, 64, None).unwrap();
    assert!(r.labels.iter().all(|&l| l % 3 != 0 && l != NO_LABEL));
    let kept = Vectors::from_row_major((0..n).filter(|s| s % 3 != 0).flat_map(|s| base.row(s).to_vec()).collect(), dim)
        .unwrap();
    let kept_labels: Vec<u64> = (0..n as u64).filter(|s| s % 3 != 0).collect();
    let mut f = FlatIndex::new(dim, Metric::L2).unwrap();
    f.add(&kept, Some(&kept_labels)).unwrap();
    let truth_kept = f.search(&q, 10, None, Device::Cpu).unwrap().labels;
    assert!(r.recall(&truth_kept) >= 0.93, "recall after deletions {}", r.recall(&truth_kept));

    // A filter keeping 1%: the exact fallback returns exactly the filtered truth.
    let filter = |l: u64| l % 100 == 1;
    let r = idx.search(&q, 10, 64, Some(&filter)).unwrap();
    let truth_f = f.search(&q, 10, Some(&filter), Device::Cpu).unwrap();
    assert_eq!(r.labels, truth_f.labels);
    // A filter keeping half: traversal with the filter, recall still high.
    let half_filter = |l: u64| l.is_multiple_of(2);
    let r = idx.search(&q, 10, 64, Some(&half_filter)).unwrap();
    assert!(r.labels.iter().all(|&l| l % 2 == 0 && l % 3 != 0));
    let truth_h = f.search(&q, 10, Some(&half_filter), Device::Cpu).unwrap().labels;
    assert!(r.recall(&truth_h) >= 0.93, "filtered recall {}", r.recall(&truth_h));

    // Upsert: label 1 moves onto query 0's position.
    idx.add(&Vectors::from_row_major(q.row(0).to_vec(), dim).unwrap(), Some(&[1])).unwrap();
    assert_eq!(
        idx.search(&Vectors::from_row_major(q.row(0).to_vec(), dim).unwrap(), 1, 32, None).unwrap().labels[0],
        1
    );

    // Compaction drops tombstones and keeps answers.
    let before = idx.search(&q, 10, 128, None).unwrap();
    idx.compact().unwrap();
    assert_eq!(idx.len(), kept_labels.len());
    let after = idx.search(&q, 10, 128, None).unwrap();
    assert!(after.recall(&before.labels) >= 0.95);
}

/// New vectors fill deleted slots (no growth), the repaired graph keeps its recall, and the
/// deleted labels never return.
#[test]
fn hnsw_reuses_deleted_slots() {
    let (n, dim) = (4000, 24);
    let base = clusters(n, dim, 30, 21);
    let mut idx = HnswIndex::new(dim, Metric::L2, HnswParams { m: 12, ef_construction: 100, seed: 3 }).unwrap();
    idx.add(&base, None).unwrap();
    let bytes = idx.memory_bytes();
    for l in (0..n as u64).step_by(4) {
        idx.delete(l);
    }
    let fresh = clusters(n / 4, dim, 30, 22);
    let labels: Vec<u64> = (0..(n / 4) as u64).map(|i| 100_000 + i).collect();
    idx.add(&fresh, Some(&labels)).unwrap();
    assert_eq!((idx.len(), idx.memory_bytes()), (n, bytes), "slots were reused, nothing grew");
    // Exact truth over the live set: the kept base vectors and the new ones.
    let mut flat = FlatIndex::new(dim, Metric::L2).unwrap();
    let kept: Vec<u64> = (0..n as u64).filter(|l| l % 4 != 0).collect();
    let kept_v =
        Vectors::from_row_major(kept.iter().flat_map(|&l| base.row(l as usize).to_vec()).collect(), dim).unwrap();
    flat.add(&kept_v, Some(&kept)).unwrap();
    flat.add(&fresh, Some(&labels)).unwrap();
    let q = clusters(150, dim, 30, 23);
    let truth = flat.search(&q, 10, None, Device::Cpu).unwrap();
    let got = idx.search(&q, 10, 80, None).unwrap();
    assert!(got.labels.iter().all(|&l| l % 4 != 0 || l >= 100_000));
    assert!(got.recall(&truth.labels) >= 0.95, "recall after reuse {}", got.recall(&truth.labels));
    // Each new vector finds itself.
    let r = idx.search(&fresh, 1, 64, None).unwrap();
    let hits = r.labels.iter().zip(&labels).filter(|(a, b)| a == b).count();
    assert!(hits as f64 >= 0.98 * labels.len() as f64, "{hits} of {}", labels.len());
}

#[test]
fn hnsw_save_load_round_trip_and_corrupt_files() {
    let base = clusters(1500, 24, 10, 11);
    let q = clusters(50, 24, 10, 12);
    let mut idx = HnswIndex::new(24, Metric::Cosine, HnswParams::default()).unwrap();
    idx.add(&base, None).unwrap();
    idx.delete(5);
    let dir = std::env::temp_dir().join(format!("ember-ann-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("index.ember");
    idx.save(&path).unwrap();
    let back = HnswIndex::load(&path).unwrap();
    assert_eq!(back.len(), idx.len());
    assert_eq!(back.search(&q, 10, 50, None).unwrap(), idx.search(&q, 10, 50, None).unwrap());
    assert!(idx.search(&q, 10, 50, None).unwrap().recall(&exact_truth(&base, &q, 10, Metric::Cosine)) > 0.9);
    // Truncated and garbage files: a read error naming the file, never a panic.
    let bytes = std::fs::read(&path).unwrap();
    for cut in [0, 10, 60, bytes.len() / 2, bytes.len() - 1] {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let e = HnswIndex::load(&path).unwrap_err();
        assert!(matches!(e, Error::Read { .. }) && e.to_string().contains("index.ember"), "{e}");
    }
    let mut bad = bytes.clone();
    let links_at = bytes.len() - 24 * 4 - 40; // inside the records
    bad[links_at..links_at + 8].copy_from_slice(&[0xff; 8]);
    std::fs::write(&path, &bad).unwrap();
    let _ = HnswIndex::load(&path); // corrupt links or vector bits: an error or an index, never a panic
    let _ = std::fs::remove_dir_all(&dir);
}

/// A version-3 file rewritten in the layout of version 1 or 2: the header ends at byte 68
/// (version 2: plus the storage byte) and the labels, levels and deleted flags (10 bytes a slot)
/// come before the records.
fn older_file(v3: &[u8], version: u8) -> Vec<u8> {
    let u64_at = |i: usize| u64::from_le_bytes(v3[11 + 8 * i..19 + 8 * i].try_into().unwrap()) as usize;
    let (dim, m, n) = (u64_at(0), u64_at(1), u64_at(4));
    let vector_words = if v3[68] == 1 { dim.div_ceil(2) } else { dim };
    let records = &v3[128..128 + n * (1 + 2 * m + vector_words) * 4];
    let rest = &v3[128 + records.len()..];
    let mut out = format!("EMBERHNSW{version}\0").into_bytes();
    out.extend_from_slice(&v3[11..68 + (version == 2) as usize]);
    out.extend_from_slice(&rest[..n * 10]);
    out.extend_from_slice(records);
    out.extend_from_slice(&rest[n * 10..]);
    out
}

/// `load_mapped` searches the file in place and answers as `load` does (f32 and f16, with
/// deletions and a filter, on the CPU and the GPU path); the mapped index can be changed (add,
/// delete, grow, compact) without the file changing; `save` over a mapped file replaces it by
/// rename, so the mapped index keeps reading the old one; truncated and corrupt files are errors.
#[test]
fn hnsw_mapped_index_answers_as_the_loaded_one_and_never_writes_the_file() {
    use ember::ann::Storage;
    let dir = std::env::temp_dir().join(format!("ember-ann-map-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (dim, n) = (19, 1200);
    let base = clusters(n, dim, 12, 61);
    let q = clusters(60, dim, 12, 62);
    let truth = exact_truth(&base, &q, 10, Metric::L2);
    let odd = |l: u64| l % 2 == 1;
    for storage in [Storage::F32, Storage::F16] {
        let path = dir.join(format!("{storage:?}.ember"));
        let params = HnswParams { m: 8, ef_construction: 64, seed: 3 };
        let mut idx = HnswIndex::with_storage(dim, Metric::L2, params, storage).unwrap();
        idx.add(&base, None).unwrap();
        assert!(idx.delete(17) && idx.delete(400));
        idx.save(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..11], b"EMBERHNSW3\0");
        let loaded = HnswIndex::load(&path).unwrap();
        let mut mapped = HnswIndex::load_mapped(&path).unwrap();
        assert!(mapped.is_mapped() && !loaded.is_mapped());
        assert_eq!((mapped.len(), mapped.storage(), mapped.memory_bytes()), (n - 2, storage, loaded.memory_bytes()));
        for (ef, filter) in [(10, None), (48, None), (48, Some(&odd as &(dyn Fn(u64) -> bool + Sync)))] {
            let (a, b) = (mapped.search(&q, 10, ef, filter).unwrap(), loaded.search(&q, 10, ef, filter).unwrap());
            assert_eq!((&a.labels, bits(&a.distances)), (&b.labels, bits(&b.distances)), "{storage:?} ef {ef}");
            assert_eq!(a, idx.search(&q, 10, ef, filter).unwrap());
            assert!(a.labels.iter().all(|&l| l != 17 && l != 400 && (filter.is_none() || l % 2 == 1)));
            for device in gpu_devices() {
                assert_eq!(
                    mapped.search_on(&q, 10, ef, filter, device).unwrap(),
                    loaded.search_on(&q, 10, ef, filter, device).unwrap()
                );
            }
        }
        assert!(mapped.search(&q, 10, 48, None).unwrap().recall(&truth) >= 0.9);
        // Changes go to private pages: delete, re-add into the freed slots (relinking mapped
        // records), then grow past the mapping (copied into memory).
        assert!(mapped.delete(5));
        mapped.add(&clusters(3, dim, 12, 63), Some(&[17, 400, 5])).unwrap();
        assert!(mapped.is_mapped(), "slot reuse stays in the mapping");
        mapped.add(&clusters(50, dim, 12, 64), Some(&(10_000..10_050).collect::<Vec<u64>>())).unwrap();
        assert!(!mapped.is_mapped() && mapped.len() == n + 50);
        let r = mapped.search(&clusters(50, dim, 12, 64), 1, 48, None).unwrap();
        assert!(r.labels.iter().zip(10_000..).filter(|(&a, b)| a == *b).count() >= 48, "{:?}", r.labels);
        assert!(std::fs::read(&path).unwrap() == bytes, "{storage:?}: the mapped file changed");
        // Saving over the mapped file replaces it; the open index still reads the old file.
        let again = HnswIndex::load_mapped(&path).unwrap();
        mapped.compact().unwrap();
        mapped.save(&path).unwrap();
        assert_eq!(again.search(&q, 10, 48, None).unwrap(), loaded.search(&q, 10, 48, None).unwrap());
        assert_eq!(HnswIndex::load_mapped(&path).unwrap().len(), n + 50);
        // Truncated and corrupt files: an error naming the file, never a panic.
        for cut in [0, 10, 100, 128, bytes.len() / 2, bytes.len() - 1] {
            std::fs::write(&path, &bytes[..cut]).unwrap();
            let e = HnswIndex::load_mapped(&path).unwrap_err();
            assert!(matches!(e, Error::Read { .. }) && e.to_string().contains(".ember"), "{e}");
        }
        let mut bad = bytes.clone();
        bad[128 + 4..128 + 8].copy_from_slice(&(n as u32).to_le_bytes()); // slot 0's first link
        std::fs::write(&path, &bad).unwrap();
        for e in [HnswIndex::load(&path).unwrap_err(), HnswIndex::load_mapped(&path).unwrap_err()] {
            assert!(e.to_string().contains("node 0 has invalid links"), "{e}");
        }
        // A level-1 link to a node without level 1 (a search would step onto it and read links it
        // does not have: found by the fuzz test below).
        let vector_words = if storage == Storage::F16 { dim.div_ceil(2) } else { dim };
        let levels_at = 128 + n * (1 + 2 * 8 + vector_words) * 4 + n * 8;
        let levels = &bytes[levels_at..levels_at + n];
        let v = levels.iter().position(|&l| l >= 1).unwrap();
        let low = levels.iter().position(|&l| l == 0).unwrap() as u32;
        let upper_at = levels_at + 2 * n + levels[..v].iter().map(|&l| l as usize * 9 * 4).sum::<usize>();
        let mut bad = bytes.clone();
        bad[upper_at..upper_at + 8].copy_from_slice(&[1u32.to_le_bytes(), low.to_le_bytes()].concat());
        std::fs::write(&path, &bad).unwrap();
        for e in [HnswIndex::load(&path).unwrap_err(), HnswIndex::load_mapped(&path).unwrap_err()] {
            assert!(e.to_string().contains(&format!("node {v} has invalid links")), "{e}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// FlatIndex files: `load` and `load_mapped` answer as the saved index (f32 and f16, cosine,
/// with deletions and a filter, on the CPU and the GPU path); the mapped index can be changed
/// without the file changing; truncated, foreign and corrupt files are errors naming the file.
#[test]
fn flat_save_load_and_mapped_answer_as_the_saved_index() {
    use ember::ann::Storage;
    let dir = std::env::temp_dir().join(format!("ember-flat-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (dim, n) = (13, 700);
    let base = clusters(n, dim, 7, 71);
    let q = clusters(40, dim, 7, 72);
    let even = |l: u64| l.is_multiple_of(2);
    for storage in [Storage::F32, Storage::F16] {
        let path = dir.join(format!("{storage:?}.ember"));
        let mut idx = FlatIndex::with_storage(dim, Metric::Cosine, storage).unwrap();
        idx.add(&base, Some(&(0..n as u64).map(|l| l * 3).collect::<Vec<u64>>())).unwrap();
        assert!(idx.delete(30) && idx.delete(33));
        idx.save(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let loaded = FlatIndex::load(&path).unwrap();
        let mut mapped = FlatIndex::load_mapped(&path).unwrap();
        assert!(mapped.is_mapped() && !loaded.is_mapped());
        assert_eq!(
            (loaded.len(), loaded.storage(), loaded.metric(), loaded.dim()),
            (n - 2, storage, Metric::Cosine, dim)
        );
        for filter in [None, Some(&even as &(dyn Fn(u64) -> bool + Sync))] {
            let want = idx.search(&q, 10, filter, Device::Cpu).unwrap();
            assert!(want.labels.iter().all(|&l| l != 30 && l != 33 && (filter.is_none() || l % 2 == 0)));
            for (what, got) in [("loaded", &loaded), ("mapped", &mapped)] {
                let r = got.search(&q, 10, filter, Device::Cpu).unwrap();
                assert_eq!(
                    (&r.labels, bits(&r.distances)),
                    (&want.labels, bits(&want.distances)),
                    "{storage:?} {what}"
                );
                for device in gpu_devices() {
                    assert_eq!(got.search(&q, 10, filter, device).unwrap(), want, "{storage:?} {what} on {device}");
                }
            }
        }
        // Changes stay private: an upsert in place, a delete, then a new vector (copied out).
        mapped.add(&clusters(1, dim, 7, 73), Some(&[3])).unwrap();
        assert!(mapped.is_mapped() && mapped.delete(6));
        mapped.add(&clusters(1, dim, 7, 74), Some(&[5000])).unwrap();
        assert!(!mapped.is_mapped() && mapped.len() == n - 2);
        assert_eq!(mapped.search(&clusters(1, dim, 7, 74), 1, None, Device::Cpu).unwrap().labels, vec![5000]);
        assert!(std::fs::read(&path).unwrap() == bytes, "{storage:?}: the mapped file changed");
        // Bad files.
        for cut in [0, 20, 127, 128, bytes.len() - 1] {
            std::fs::write(&path, &bytes[..cut]).unwrap();
            for e in [FlatIndex::load(&path).unwrap_err(), FlatIndex::load_mapped(&path).unwrap_err()] {
                assert!(matches!(e, Error::Read { .. }) && e.to_string().contains(".ember"), "{cut}: {e}");
            }
        }
        let mut twice = bytes.clone();
        let labels_at = bytes.len() - n * 9;
        twice.copy_within(labels_at..labels_at + 8, labels_at + 8); // slot 1 takes slot 0's label
        std::fs::write(&path, &twice).unwrap();
        for e in [FlatIndex::load(&path).unwrap_err(), FlatIndex::load_mapped(&path).unwrap_err()] {
            assert!(e.to_string().contains("label 0 is live in two slots"), "{e}");
        }
        let hnsw = dir.join("hnsw.ember");
        HnswIndex::new(dim, Metric::L2, HnswParams::default()).unwrap().save(&hnsw).unwrap();
        assert!(FlatIndex::load(&hnsw).unwrap_err().to_string().contains("not an ember flat index"));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Index files fuzzed: random byte changes, overwritten words (0, the slot count, `u32::MAX`, NaN
/// bits), truncations and extensions of small HNSW and flat files (f32 and f16) give, through
/// `load` and `load_mapped` alike, either an error naming the file or an index whose searches on
/// the CPU and the GPU path return without a panic. `EMBER_FUZZ_ROUNDS` sets the rounds (400).
#[test]
fn index_files_fuzzed_never_panic() {
    use ember::ann::Storage;
    let dir = std::env::temp_dir().join(format!("ember-ann-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (dim, n) = (6, 150);
    let base = clusters(n, dim, 4, 81);
    let q = clusters(4, dim, 4, 82);
    let path = dir.join("fuzzed.ember");
    let mut files: Vec<(bool, Vec<u8>)> = Vec::new();
    for storage in [Storage::F32, Storage::F16] {
        let params = HnswParams { m: 4, ef_construction: 16, seed: 1 };
        let mut h = HnswIndex::with_storage(dim, Metric::L2, params, storage).unwrap();
        h.add(&base, None).unwrap();
        h.delete(3);
        h.save(&path).unwrap();
        files.push((true, std::fs::read(&path).unwrap()));
        let mut f = FlatIndex::with_storage(dim, Metric::Cosine, storage).unwrap();
        f.add(&base, None).unwrap();
        f.delete(3);
        f.save(&path).unwrap();
        files.push((false, std::fs::read(&path).unwrap()));
    }
    let rounds: usize = std::env::var("EMBER_FUZZ_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(400);
    let mut r = common::rng(5);
    let (mut opened, mut refused) = (0, 0);
    for round in 0..rounds {
        let (hnsw, orig) = &files[round % files.len()];
        let mut b = orig.clone();
        let at = |r: &mut dyn FnMut() -> u64, len: usize| (r() % len as u64) as usize;
        match r() % 4 {
            0 => {
                for _ in 0..1 + r() % 8 {
                    let i = at(&mut r, b.len());
                    b[i] = r() as u8;
                }
            }
            1 => {
                let i = at(&mut r, b.len() / 4) * 4;
                let w: u32 = [0, n as u32, n as u32 - 1, u32::MAX, f32::NAN.to_bits(), r() as u32][at(&mut r, 6)];
                b[i..i + 4].copy_from_slice(&w.to_le_bytes());
            }
            2 => b.truncate(at(&mut r, b.len())),
            _ => b.extend((0..1 + r() % 16).map(|_| r() as u8)),
        }
        std::fs::write(&path, &b).unwrap();
        for mapped in [false, true] {
            let what = format!("round {round} (hnsw {hnsw}, mapped {mapped})");
            let searched = if *hnsw {
                let idx = if mapped { HnswIndex::load_mapped(&path) } else { HnswIndex::load(&path) };
                idx.map(|idx| {
                    let _ = idx.search(&q, 5, 16, None);
                    for device in gpu_devices() {
                        let _ = idx.search_on(&q, 5, 16, None, device);
                    }
                })
            } else {
                let idx = if mapped { FlatIndex::load_mapped(&path) } else { FlatIndex::load(&path) };
                idx.map(|idx| {
                    for device in std::iter::once(Device::Cpu).chain(gpu_devices()) {
                        let _ = idx.search(&q, 5, None, device);
                    }
                })
            };
            match searched {
                Ok(()) => opened += 1,
                Err(e) => {
                    assert!(e.to_string().contains("fuzzed.ember"), "{what}: {e}");
                    refused += 1;
                }
            }
        }
    }
    assert!(opened > 0 && refused > 0, "{opened} opened, {refused} refused");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn vectors_from_arrow_and_bad_input() {
    use arrow::array::{FixedSizeListArray, Float32Array, Float64Array};
    use arrow::datatypes::{DataType, Field};
    let values = Float32Array::from(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let list =
        FixedSizeListArray::new(Arc::new(Field::new("item", DataType::Float32, false)), 3, Arc::new(values), None);
    let v = Vectors::from_arrow(&list).unwrap();
    assert_eq!((v.len(), v.dim(), v.row(1)), (2, 3, &[4.0f32, 5.0, 6.0][..]));
    let sliced = list.slice(1, 1);
    assert_eq!(Vectors::from_arrow(&sliced).unwrap().row(0), &[4.0, 5.0, 6.0]);
    let doubles = FixedSizeListArray::new(
        Arc::new(Field::new("item", DataType::Float64, false)),
        2,
        Arc::new(Float64Array::from(vec![0.5, 1.5])),
        None,
    );
    assert_eq!(Vectors::from_arrow(&doubles).unwrap().row(0), &[0.5, 1.5]);
    assert!(matches!(Vectors::from_arrow(&Float32Array::from(vec![1.0])), Err(Error::Type { .. })));
    assert!(Vectors::from_row_major(vec![1.0; 5], 2).is_err());
    let mut idx = FlatIndex::new(3, Metric::L2).unwrap();
    assert!(idx.add(&Vectors::from_row_major(vec![1.0, 2.0], 2).unwrap(), None).is_err());
    let nan = Vectors::from_row_major(vec![1.0, f32::NAN, 0.0], 3).unwrap();
    assert!(idx.add(&nan, None).unwrap_err().to_string().contains("NaN"));
    assert!(idx.add(&v, Some(&[1, 1])).unwrap_err().to_string().contains("twice"));
    assert!(HnswIndex::new(4, Metric::L2, HnswParams { m: 1, ..Default::default() }).is_err());
    // Empty batches and searches of an empty index are fine.
    let mut empty = HnswIndex::new(3, Metric::L2, HnswParams::default()).unwrap();
    empty.add(&Vectors::from_row_major(vec![], 3).unwrap(), None).unwrap();
    assert_eq!(empty.search(&v, 2, 10, None).unwrap().labels, vec![NO_LABEL; 4]);
    assert!(Metric::parse("manhattan").is_err());
    idx.add(&v, Some(&[7, 8])).unwrap();
    let big_k = idx.search(&v, 300, None, Device::Sim);
    assert!(matches!(big_k, Err(Error::Unsupported(_))), "{big_k:?}");
    // Fewer vectors than k: padded.
    let r = idx.search(&v, 4, None, Device::Cpu).unwrap();
    assert_eq!(r.labels_of(0), &[7, 8, NO_LABEL, NO_LABEL]);
}

/// The target-recall knob: on held-out queries from the indexed vectors' distribution, the `ef`
/// it picks reaches the target (within the curve's sampling error), grows with the target, and
/// bad targets are refused.
#[test]
fn target_recall_picks_an_ef_that_reaches_it() {
    let (n, nq, dim) = (5000, 400, 24);
    let all = clusters(n + nq, dim, 30, 21);
    let base = Vectors::from_row_major(all.values()[..n * dim].to_vec(), dim).unwrap();
    let q = Vectors::from_row_major(all.values()[n * dim..].to_vec(), dim).unwrap();
    let mut idx = HnswIndex::new(dim, Metric::L2, HnswParams { m: 12, ef_construction: 100, seed: 3 }).unwrap();
    idx.add(&base, None).unwrap();
    let truth = exact_truth(&base, &q, 10, Metric::L2);
    let mut last_ef = 0.0;
    for target in [0.8, 0.9, 0.97] {
        let (r, ef) = idx.search_with_recall(&q, 10, target, None).unwrap();
        let recall = r.recall(&truth);
        eprintln!("target {target}: ef {ef}, recall {recall:.4}");
        assert!(recall >= target - 0.02, "target {target}: ef {ef} gave recall {recall}");
        assert!(ef >= last_ef, "ef grows with the target");
        last_ef = ef;
    }
    let curve = idx.recall_curve(10).unwrap();
    assert!(curve.len() >= 10 && curve.windows(2).all(|w| w[0].0 < w[1].0));
    // The curve is that of new queries: at each `ef` from `k` (`search` takes at least `k`)
    // where the recall is not yet near 1, the
    // probes' mean recall is within 0.025 of the held-out queries' (measured: 0.004-0.013 on
    // parallel builds; probes that were not inserted last measured 0.04 low).
    for &(ef, probes) in curve.iter().filter(|p| p.0 >= 10 && p.1 < 0.99) {
        let queries = idx.search(&q, 10, ef, None).unwrap().recall(&truth);
        eprintln!("ef {ef}: probes {probes:.4}, queries {queries:.4}");
        assert!((probes - queries).abs() <= 0.025, "ef {ef}: probes {probes}, queries {queries}");
    }
    assert!(curve.last().unwrap().1 > curve[0].1, "{curve:?}");
    // A fractional `ef`: query `i` is searched at the next integer when `floor((i + 1) * f)`
    // steps up (`f` its fraction), at the integer below otherwise.
    let (r, ef) = idx.search_with_recall(&q, 10, 0.97, None).unwrap();
    let (lo, hi) =
        (idx.search(&q, 10, ef.floor() as usize, None).unwrap(), idx.search(&q, 10, ef.ceil() as usize, None).unwrap());
    let f = ef.fract();
    let mut up = 0;
    for i in 0..q.len() {
        let step = ((i + 1) as f64 * f).floor() > (i as f64 * f).floor();
        up += step as usize;
        assert_eq!(r.labels_of(i), if step { hi.labels_of(i) } else { lo.labels_of(i) }, "query {i}, ef {ef}");
    }
    assert_eq!(up, (q.len() as f64 * f).floor() as usize);
    for bad in [0.0, 1.5, f64::NAN] {
        let e = idx.search_with_recall(&q, 10, bad, None).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
    }
    for bad in [0.3, 1.0, f64::NAN] {
        let e = idx.search_with_recall(&q, 10, RecallTarget::batches(0.9, bad), None).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "confidence {bad}: {e}");
    }
    // Aiming the mean (confidence 0.5) takes no margin: a smaller `ef`, and a mean recall near
    // the target on these 400 held-out queries (the curve has about 300 probes: the two means
    // differ by 0.01 standard deviation).
    for target in [0.9, 0.95] {
        let ef95 = idx.ef_for_recall(10, target, q.len()).unwrap();
        let (r, ef50) = idx.search_with_recall(&q, 10, RecallTarget::mean(target), None).unwrap();
        let recall = r.recall(&truth);
        eprintln!("mean target {target}: ef {ef50} (0.95: {ef95}), recall {recall:.4}");
        assert!(ef50 <= ef95 && (recall - target).abs() <= 0.035, "target {target}: ef {ef50}, recall {recall}");
    }
    // A target under the recall at `ef = k` takes an `ef` below `k`: a shorter search that
    // still returns `k` neighbours, sorted, with a recall between the target's and `ef = k`'s.
    let at_k = idx.search(&q, 10, 10, None).unwrap().recall(&truth);
    let low = (at_k - 0.1).max(0.3);
    let (r, ef) = idx.search_with_recall(&q, 10, RecallTarget::mean(low), None).unwrap();
    let recall = r.recall(&truth);
    eprintln!("mean target {low:.3} (ef = k: {at_k:.4}): ef {ef}, recall {recall:.4}");
    assert!(ef < 10.0 && recall < at_k && (recall - low).abs() <= 0.05, "ef {ef}, recall {recall}");
    assert!(r.labels.iter().all(|&l| l != NO_LABEL));
    assert!(r.distances.chunks(10).all(|d| d.windows(2).all(|w| w[0] <= w[1])));
    // Deleting vectors drops the curve; the next search measures it again over the live ones.
    for l in 0..100 {
        idx.delete(l);
    }
    let (r, _) = idx.search_with_recall(&q, 10, 0.9, None).unwrap();
    assert!(r.labels.iter().all(|l| *l >= 100));
}

/// Graph search on the GPU path (`HnswIndex::search_on`, CAGRA-style over level 0): recall@10 at
/// equal `ef` within 0.01 of the CPU search (or better), for L2 and cosine.
#[test]
fn gpu_graph_search_recall_matches_the_cpu_search() {
    let (n, dim) = (3000, 24);
    let base = clusters(n, dim, 30, 21);
    let q = clusters(100, dim, 30, 22);
    for device in gpu_devices() {
        for metric in [Metric::L2, Metric::Cosine] {
            let mut idx = HnswIndex::new(dim, metric, HnswParams { m: 12, ef_construction: 100, seed: 3 }).unwrap();
            idx.add(&base, None).unwrap();
            let truth = exact_truth(&base, &q, 10, metric);
            for ef in [16, 64] {
                let cpu = idx.search(&q, 10, ef, None).unwrap().recall(&truth);
                let gpu = idx.search_on(&q, 10, ef, None, device).unwrap();
                let rg = gpu.recall(&truth);
                eprintln!("{device} {metric:?} ef {ef}: recall@10 GPU {rg}, CPU {cpu}");
                assert!(rg >= cpu - 0.01, "{device} {metric:?} ef {ef}: GPU recall {rg}, CPU {cpu}");
                assert!(gpu.distances.windows(2).enumerate().all(|(i, w)| (i + 1) % 10 == 0 || w[0] <= w[1]));
                assert!(gpu.labels.iter().all(|&l| l != NO_LABEL));
            }
        }
    }
}

/// GPU graph search with deletions and filters: deleted labels never return, filters are
/// honoured with recall within 0.01 of the CPU's (a 1% filter takes the exact route); one launch
/// and two read-backs per batch, the graph uploaded once; `ef` past the kernel's list is an
/// error.
#[test]
fn gpu_graph_search_deletions_filters_and_trace() {
    let (n, dim) = (1500, 16);
    let base = clusters(n, dim, 30, 23);
    let q = clusters(40, dim, 30, 24);
    for device in gpu_devices() {
        let mut idx = HnswIndex::new(dim, Metric::L2, HnswParams { m: 12, ef_construction: 100, seed: 3 }).unwrap();
        idx.add(&base, None).unwrap();
        let ctx = ember::gpu::ExecContext::new(device.gpu().unwrap().unwrap());
        idx.search_in(&q, 10, 64, None, &ctx).unwrap();
        let before = ctx.trace();
        idx.search_in(&q, 10, 64, None, &ctx).unwrap();
        let t = ctx.trace();
        assert_eq!((t.launches - before.launches, t.dtoh_copies - before.dtoh_copies), (1, 2), "{t}");
        assert_eq!(t.htod_bytes - before.htod_bytes, 40 * dim as u64 * 4, "only the queries move: {t}");
        // A query equal to a base vector finds it first, at distance 0.
        let r0 =
            idx.search_in(&Vectors::from_row_major(base.row(77).to_vec(), dim).unwrap(), 3, 32, None, &ctx).unwrap();
        assert_eq!((r0.labels[0], r0.distances[0]), (77, 0.0));

        // (Vector i is in cluster i % 30: these deletions and this filter cut across clusters.)
        for l in (0..n as u64).step_by(7) {
            idx.delete(l);
        }
        let half = |l: u64| (l / 30).is_multiple_of(2);
        let r = idx.search_in(&q, 10, 64, Some(&half), &ctx).unwrap();
        assert!(r.labels.iter().all(|&l| l != NO_LABEL && half(l) && l % 7 != 0), "{:?}", &r.labels[..20]);
        let cpu = idx.search(&q, 10, 64, Some(&half)).unwrap();
        let kept: Vec<u64> = (0..n as u64).filter(|l| l % 7 != 0).collect();
        let kept_v =
            Vectors::from_row_major(kept.iter().flat_map(|&s| base.row(s as usize).to_vec()).collect(), dim).unwrap();
        let mut f = FlatIndex::new(dim, Metric::L2).unwrap();
        f.add(&kept_v, Some(&kept)).unwrap();
        let truth_h = f.search(&q, 10, Some(&half), Device::Cpu).unwrap().labels;
        let (rg, rc) = (r.recall(&truth_h), cpu.recall(&truth_h));
        eprintln!("{device} deletions + filter, ef 64: recall@10 GPU {rg}, CPU {rc}");
        assert!(rg >= rc - 0.01, "filtered recall: GPU {rg}, CPU {rc}");
        let one = |l: u64| l % 100 == 1;
        let exact = idx.search_in(&q, 10, 64, Some(&one), &ctx).unwrap();
        assert_eq!(exact.labels, f.search(&q, 10, Some(&one), Device::Cpu).unwrap().labels);
        let e = idx.search_in(&q, 10, 400, None, &ctx).unwrap_err();
        assert!(e.to_string().contains("GPU graph search"), "{e}");
    }
}

/// A small GPU graph search with deletions and a filter (the visited hash, parent marks, the
/// allowed-results buffer): the race check runs this one under ThreadSanitizer.
#[test]
fn gpu_graph_search_small_filtered_batch() {
    let (n, dim) = (400, 8);
    let base = clusters(n, dim, 8, 31);
    let q = clusters(8, dim, 8, 32);
    for device in gpu_devices() {
        let mut idx = HnswIndex::new(dim, Metric::L2, HnswParams { m: 8, ef_construction: 64, seed: 5 }).unwrap();
        idx.add(&base, None).unwrap();
        for l in (0..n as u64).step_by(5) {
            idx.delete(l);
        }
        let keep = |l: u64| l % 3 != 1;
        let r = idx.search_on(&q, 5, 32, Some(&keep), device).unwrap();
        assert!(r.labels.iter().all(|&l| l != NO_LABEL && keep(l) && l % 5 != 0), "{:?}", r.labels);
        let truth = naive(&base, &q, 5, Metric::L2, |s| s % 5 != 0 && keep(s as u64));
        assert!(r.recall(&truth) >= 0.9, "recall {}", r.recall(&truth));
    }
}

/// `Storage::F16`: results equal an f32 index of the f16-rounded vectors (labels and distance
/// bits) on the CPU engine and the GPU path, for every metric; values past f16's range are an
/// error, not infinities.
#[test]
fn flat_f16_storage_equals_an_f32_index_of_the_rounded_vectors() {
    use ember::ann::Storage;
    let (n, dim) = (1200, 19);
    let base = clusters(n, dim, 12, 41);
    let q = clusters(37, dim, 12, 42);
    let round = |v: &Vectors| {
        let data = v.values().iter().map(|&x| half::f16::from_f32(x).to_f32()).collect();
        Vectors::from_row_major(data, v.dim()).unwrap()
    };
    for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine] {
        let mut f16 = FlatIndex::with_storage(dim, metric, Storage::F16).unwrap();
        f16.add(&base, None).unwrap();
        let cpu = f16.search(&q, 10, None, Device::Cpu).unwrap();
        if metric != Metric::Cosine {
            // (Cosine normalises before rounding, so its f32 twin is not the rounded input.)
            let mut f32_twin = FlatIndex::new(dim, metric).unwrap();
            f32_twin.add(&round(&base), None).unwrap();
            let twin = f32_twin.search(&q, 10, None, Device::Cpu).unwrap();
            assert_eq!(cpu.labels, twin.labels, "{metric:?}");
            assert_eq!(bits(&cpu.distances), bits(&twin.distances), "{metric:?}");
        }
        let truth = exact_truth(&base, &q, 10, metric);
        assert!(cpu.recall(&truth) >= 0.98, "{metric:?}: f16 recall {}", cpu.recall(&truth));
        for device in gpu_devices() {
            let gpu = f16.search(&q, 10, None, device).unwrap();
            assert_eq!(gpu.labels, cpu.labels, "{metric:?} on {device}");
            assert_eq!(bits(&gpu.distances), bits(&cpu.distances), "{metric:?} on {device}");
        }
    }
    // Subnormal and tiny values round-trip as the CPU rounds them, on every device.
    let tiny = Vectors::from_row_major(vec![1e-6, -3e-8, 0.0, 6e-5, 65504.0, -1.5], 3).unwrap();
    let mut f16 = FlatIndex::with_storage(3, Metric::InnerProduct, Storage::F16).unwrap();
    f16.add(&tiny, None).unwrap();
    let qq = Vectors::from_row_major(vec![1.0, 2.0, 3.0], 3).unwrap();
    let cpu = f16.search(&qq, 2, None, Device::Cpu).unwrap();
    for device in gpu_devices() {
        assert_eq!(bits(&f16.search(&qq, 2, None, device).unwrap().distances), bits(&cpu.distances));
    }
    let e = f16.add(&Vectors::from_row_major(vec![1.0, 70000.0, 0.0], 3).unwrap(), None).unwrap_err();
    assert!(e.to_string().contains("f16"), "{e}");
}

/// An f16 HNSW index is the f32 index of the rounded vectors: built on one thread (so both builds
/// take the same steps), the graphs, results and distance bits are equal, on the CPU and on the
/// GPU path; with deletions and a filter; after save / load (and a version-1 file still loads);
/// about half the memory at this dimension; an odd dimension pads the last word.
#[test]
fn hnsw_f16_storage_is_the_f32_index_of_the_rounded_vectors() {
    use ember::ann::Storage;
    let (n, dim) = (1500, 21);
    let base = clusters(n, dim, 15, 51);
    let q = clusters(40, dim, 15, 52);
    let rounded = {
        let data = base.values().iter().map(|&x| half::f16::from_f32(x).to_f32()).collect();
        Vectors::from_row_major(data, dim).unwrap()
    };
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let params = HnswParams { m: 8, ef_construction: 64, seed: 7 };
    for metric in [Metric::L2, Metric::InnerProduct] {
        let (mut f16, mut twin) = one.install(|| {
            let mut f16 = HnswIndex::with_storage(dim, metric, params, Storage::F16).unwrap();
            f16.add(&base, None).unwrap();
            let mut twin = HnswIndex::new(dim, metric, params).unwrap();
            twin.add(&rounded, None).unwrap();
            (f16, twin)
        });
        assert_eq!(f16.storage(), Storage::F16);
        let (m16, m32) = (f16.memory_bytes(), twin.memory_bytes());
        assert!(m16 < m32 && m16 > m32 / 2, "{metric:?}: memory {m16} vs {m32}");
        let same = |a: &SearchResult, b: &SearchResult, what: &str| {
            assert_eq!(a.labels, b.labels, "{metric:?} {what}");
            assert_eq!(bits(&a.distances), bits(&b.distances), "{metric:?} {what}");
        };
        for ef in [10, 48] {
            let a = f16.search(&q, 10, ef, None).unwrap();
            same(&a, &twin.search(&q, 10, ef, None).unwrap(), &format!("ef {ef}"));
            let truth = exact_truth(&base, &q, 10, metric);
            // (Inner product on unnormalised clusters is no metric: HNSW's recall there is poor,
            // f16 or not; the twin's equality is the check.)
            let want = if metric == Metric::L2 && ef == 48 { 0.9 } else { 0.0 };
            assert!(a.recall(&truth) >= want, "{metric:?}: recall {}", a.recall(&truth));
            for device in gpu_devices() {
                let g = f16.search_on(&q, 10, ef, None, device).unwrap();
                same(&g, &twin.search_on(&q, 10, ef, None, device).unwrap(), &format!("ef {ef} on {device}"));
                assert!(g.recall(&truth) >= a.recall(&truth) - 0.05, "{metric:?} on {device}");
            }
        }
        for idx in [&mut f16, &mut twin] {
            assert!(idx.delete(3) && idx.delete(700));
        }
        let odd = |l: u64| l % 2 == 1;
        let a = f16.search(&q, 10, 32, Some(&odd)).unwrap();
        same(&a, &twin.search(&q, 10, 32, Some(&odd)).unwrap(), "deleted + filtered");
        assert!(a.labels.iter().all(|&l| l % 2 == 1 && l != 3 && l != 700));
        // Save / load keeps the storage and the answers.
        let dir = std::env::temp_dir().join(format!("ember-ann-f16-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f16.ember");
        f16.save(&path).unwrap();
        let back = HnswIndex::load(&path).unwrap();
        assert_eq!(back.storage(), Storage::F16);
        same(&back.search(&q, 10, 32, None).unwrap(), &f16.search(&q, 10, 32, None).unwrap(), "loaded");
        // Version-1 and -2 files (the records after the labels; version 1 without a storage
        // byte: f32) still load, also through `load_mapped` (read into memory).
        twin.save(&path).unwrap();
        let v3 = std::fs::read(&path).unwrap();
        for version in [1, 2] {
            std::fs::write(&path, older_file(&v3, version)).unwrap();
            for old in [HnswIndex::load(&path).unwrap(), HnswIndex::load_mapped(&path).unwrap()] {
                assert_eq!((old.storage(), old.is_mapped()), (Storage::F32, false));
                let what = format!("version {version}");
                same(&old.search(&q, 10, 32, None).unwrap(), &twin.search(&q, 10, 32, None).unwrap(), &what);
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        // Compacting keeps f16 (the vectors are already rounded: nothing changes but the slots).
        f16.compact().unwrap();
        assert_eq!((f16.storage(), f16.len()), (Storage::F16, n - 2));
        let want = if metric == Metric::L2 { 0.85 } else { 0.0 };
        assert!(f16.search(&q, 10, 48, None).unwrap().recall(&exact_truth(&base, &q, 10, metric)) >= want);
    }
    let mut idx = HnswIndex::with_storage(3, Metric::L2, HnswParams::default(), Storage::F16).unwrap();
    let e = idx.add(&Vectors::from_row_major(vec![1.0, -70000.0, 0.0], 3).unwrap(), None).unwrap_err();
    assert!(e.to_string().contains("HnswIndex::add") && e.to_string().contains("f16"), "{e}");
    assert!(idx.is_empty());
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}
