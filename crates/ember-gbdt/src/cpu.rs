//! The CPU engine's backend: rows kept as one permutation in which every node's rows are a
//! contiguous ascending range (partitioned stably, in parallel over 16K-row pieces of all split
//! nodes), histograms built in parallel over one row part per thread into pooled integer
//! histograms and summed, logistic gradients computed and quantised in one vectorised pass, the
//! last level's split applied to the rows only when their leaf values are added.
use crate::distributed::Shard;
use crate::grow::{grow, Backend, Evaluator, Grown, Hist, HistPool, HostRows, SplitRow, SLOTS};
use crate::objective::{gradient, logistic_quantised, sample_threshold, sampled, Quantiser};
use crate::params::{Objective, Params};
use crate::partition::{split_rows, COLUMN_PAD};
use crate::tree::Tree;
use ember_core::Result;
use rayon::prelude::*;
use std::sync::Mutex;

/// Rows per task when a histogram is built in parallel.
const CHUNK: usize = 16 * 1024;

pub(crate) struct CpuBackend<'a> {
    /// Row-major bins (a row's features together): what a histogram reads.
    bins: &'a [u8],
    /// Column-major bins (`cols[f * n + row]`): what a partition reads, one byte per row.
    cols: Vec<u8>,
    features: usize,
    y: &'a [f32],
    w: Option<&'a [f32]>,
    obj: Objective,
    groups: usize,
    pub margins: Vec<f32>,
    g: Vec<f64>,
    h: Vec<f64>,
    gh: Vec<[i64; 2]>,
    rows: Vec<u32>,
    /// Partition workspace, as long as `rows`.
    scratch: Vec<u32>,
    /// Per-thread histograms of large nodes, reused (no allocation per node after the first).
    scratch_hists: Mutex<Vec<Vec<i64>>>,
    /// Row range of each heap node of the current tree.
    ranges: Vec<(u32, u32)>,
    /// Node histograms, reused from tree to tree.
    pool: HistPool,
    seed: u64,
    threshold: u64,
    /// Data-parallel training ([`crate::train_distributed`]): this process holds rows
    /// `offset..offset + n` of `total`, and every sum and maximum the decisions read is
    /// reduced over all processes with `comm`.
    shard: Option<Shard<'a>>,
}

impl<'a> CpuBackend<'a> {
    pub fn new(
        bins: &'a [u8],
        features: usize,
        y: &'a [f32],
        w: Option<&'a [f32]>,
        params: &Params,
        base: f32,
    ) -> Self {
        let n = y.len();
        let groups = params.objective.groups();
        // Padded for the partition's vector form (a gather reads four bytes per row).
        let mut cols = vec![0u8; bins.len() + COLUMN_PAD];
        if features > 0 {
            cols[..bins.len()].par_chunks_mut(n.max(1)).enumerate().for_each(|(f, col)| {
                for (r, c) in col.iter_mut().enumerate() {
                    *c = bins[r * features + f];
                }
            });
        }
        CpuBackend {
            bins,
            cols,
            features,
            y,
            w,
            obj: params.objective,
            groups,
            margins: vec![base; n * groups],
            g: vec![0.0; n * groups],
            h: vec![0.0; n * groups],
            gh: vec![[0, 0]; n],
            rows: (0..n as u32).collect(),
            scratch: vec![0; n],
            scratch_hists: Mutex::new(Vec::new()),
            ranges: vec![(0, 0); (1usize << (params.max_depth + 1)) - 1],
            pool: HistPool::new(features),
            seed: params.seed,
            threshold: sample_threshold(params.subsample),
            shard: None,
        }
    }

    /// The backend of one process of a data-parallel training.
    pub fn with_shard(mut self, shard: Shard<'a>) -> Self {
        self.shard = Some(shard);
        self
    }

    /// Totals summed over every process.
    fn all_totals(&self, (g, h): (i64, i64)) -> Result<(i64, i64)> {
        let Some(s) = self.shard else { return Ok((g, h)) };
        let mut v = [g, h];
        s.comm.sum_i64(&mut v)?;
        Ok((v[0], v[1]))
    }

    /// Every row back in the root, in row order, so the root's histogram streams through memory
    /// and each node's rows stay ascending (the partition is stable).
    fn reset_rows(&mut self) {
        self.rows.par_iter_mut().enumerate().for_each(|(i, r)| *r = i as u32);
        self.ranges[0] = (0, self.rows.len() as u32);
    }

    /// Adds the rows' pairs into `hist` (viewed as `features * SLOTS` cells of (g, h)). `rows`
    /// ascend (a node's rows always do).
    fn accumulate(&self, rows: &[u32], hist: &mut [i64]) {
        let f = self.features;
        let cells: &mut [[i64; 2]] = bytemuck::cast_slice_mut(hist);
        assert_eq!(cells.len(), f * SLOTS);
        #[inline(always)]
        fn add(cells: &mut [[i64; 2]], row: &[u8], [g, h]: [i64; 2]) {
            if g == 0 && h == 0 {
                return;
            }
            for (i, &b) in row.iter().enumerate() {
                // SAFETY: i < f and b < SLOTS, so i * SLOTS + b < f * SLOTS == cells.len()
                // (asserted above).
                let cell = unsafe { cells.get_unchecked_mut(i * SLOTS + b as usize) };
                cell[0] += g;
                cell[1] += h;
            }
        }
        if let (Some(&first), Some(&last)) = (rows.first(), rows.last()) {
            if (last - first) as usize == rows.len() - 1 {
                // Consecutive rows (the root, every tree): straight through the matrix, with
                // no row numbers to read and nothing to prefetch (12% of the root's time).
                let span = first as usize..last as usize + 1;
                let bins = &self.bins[span.start * f..span.end * f];
                for (row, gh) in bins.chunks_exact(f.max(1)).zip(&self.gh[span]) {
                    add(cells, row, *gh);
                }
                return;
            }
        }
        for (i, &r) in rows.iter().enumerate() {
            if let Some(&ahead) = rows.get(i + PREFETCH) {
                prefetch(self.bins[ahead as usize * f..].as_ptr());
                prefetch(self.gh[ahead as usize..].as_ptr() as *const u8);
            }
            let r = r as usize;
            add(cells, &self.bins[r * f..r * f + f], self.gh[r]);
        }
    }

    /// The histogram of `rows`: split into one contiguous part per thread, each summed into its
    /// own buffer, then added together (integers: the result does not depend on the split).
    fn build(&self, rows: &[u32], out: &mut [i64]) {
        out.fill(0);
        let parts = rayon::current_num_threads().min(rows.len() / CHUNK).max(1);
        if parts == 1 {
            self.accumulate(rows, out);
            return;
        }
        let per = rows.len().div_ceil(parts);
        let mut partial: Vec<Vec<i64>> = {
            let mut pool = self.scratch_hists.lock().expect("no panics while held");
            (1..parts).map(|_| pool.pop().unwrap_or_else(|| vec![0i64; out.len()])).collect()
        };
        partial.iter_mut().for_each(|p| p.fill(0));
        let (first, rest) = rows.split_at(per);
        rayon::join(
            || self.accumulate(first, out),
            || {
                rest.par_chunks(per).zip(partial.par_iter_mut()).for_each(|(rows, buf)| self.accumulate(rows, buf));
            },
        );
        for p in &partial {
            out.iter_mut().zip(p).for_each(|(o, v)| *o += v);
        }
        self.scratch_hists.lock().expect("no panics while held").extend(partial);
    }
}

/// Quantises each row's pair from `pair(row)` into `gh` (zeros outside tree `tree`'s sample),
/// in parallel; returns the totals.
#[allow(clippy::too_many_arguments)]
fn quantise_rows(
    gh: &mut [[i64; 2]],
    offset: u64,
    seed: u64,
    tree: u64,
    threshold: u64,
    qg: Quantiser,
    qh: Quantiser,
    pair: impl Fn(usize) -> (f64, f64) + Sync,
) -> (i64, i64) {
    let all = threshold >= 1u64 << 53;
    gh.par_chunks_mut(4096)
        .enumerate()
        .map(|(c, out)| {
            let (mut tg, mut th) = (0i64, 0i64);
            for (i, o) in out.iter_mut().enumerate() {
                let row = c * 4096 + i;
                *o = if all || sampled(seed, tree, offset + row as u64, threshold) {
                    let (g, h) = pair(row);
                    [qg.quantise(g), qh.quantise(h)]
                } else {
                    [0, 0]
                };
                tg += o[0];
                th += o[1];
            }
            (tg, th)
        })
        .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
}

/// Rows ahead whose data `accumulate` prefetches: a node's rows are ascending but sparse, so
/// the hardware prefetcher cannot guess them (xgboost prefetches the same way).
const PREFETCH: usize = 16;

/// A hint to bring `p`'s cache line in (no effect on other targets).
#[inline(always)]
fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint; it never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p as *const i8)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// What [`CpuBackend::add_leaves`] adds to the rows of a node: a leaf's value, or for a last
/// split (not applied to the rows) the value of each bin's side, read from its feature's column.
enum LeafAdd {
    Value(f32),
    BySide { feature: u32, by_bin: Box<[f32; SLOTS]> },
}

/// A pointer that may be sent to rayon tasks writing disjoint elements.
#[derive(Clone, Copy)]
struct SharedMut<T>(*mut T);
impl<T> SharedMut<T> {
    /// The pointer (a method, so closures capture the whole `Send` wrapper).
    fn ptr(&self) -> *mut T {
        self.0
    }
}

// SAFETY: used only to write disjoint elements from different tasks (each row is in one leaf).
unsafe impl<T> Send for SharedMut<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for SharedMut<T> {}

impl Backend for CpuBackend<'_> {
    fn rows(&self) -> usize {
        self.shard.map_or(self.y.len(), |s| s.total)
    }

    fn gradients(&mut self) -> Result<Vec<(f64, f64)>> {
        let k = self.groups;
        let (obj, y, w) = (self.obj, self.y, self.w);
        let zero = vec![(0.0f64, 0.0f64); k];
        let maxima = self
            .g
            .par_chunks_mut(k * 4096)
            .zip(self.h.par_chunks_mut(k * 4096))
            .zip(self.margins.par_chunks(k * 4096))
            .enumerate()
            .map(|(c, ((g, h), m))| {
                let mut mx = zero.clone();
                for (i, ((g, h), m)) in g.chunks_mut(k).zip(h.chunks_mut(k)).zip(m.chunks(k)).enumerate() {
                    let row = c * 4096 + i;
                    let weight = w.map_or(1.0, |w| w[row]);
                    for j in 0..k {
                        let (gv, hv) = gradient(obj, m, y[row], weight, j);
                        g[j] = gv;
                        h[j] = hv;
                        mx[j].0 = mx[j].0.max(gv.abs());
                        mx[j].1 = mx[j].1.max(hv.abs());
                    }
                }
                mx
            })
            .reduce(|| zero.clone(), |a, b| a.iter().zip(&b).map(|(x, y)| (x.0.max(y.0), x.1.max(y.1))).collect());
        let Some(shard) = self.shard else { return Ok(maxima) };
        let mut flat: Vec<f64> = maxima.iter().flat_map(|(g, h)| [*g, *h]).collect();
        shard.comm.max_f64(&mut flat)?;
        Ok(flat.chunks(2).map(|p| (p[0], p[1])).collect())
    }

    fn tree(&mut self, k: usize, fused: bool, ev: &Evaluator<'_>, tree: u64) -> Result<Tree> {
        let totals =
            if fused { self.fused_gradients(ev.qg, ev.qh, tree) } else { self.quantise(k, ev.qg, ev.qh, tree) };
        let totals = self.all_totals(totals)?;
        let mut pool = std::mem::take(&mut self.pool);
        let grown = grow(self, ev, &mut pool, totals);
        self.pool = pool;
        let grown = grown?;
        self.add_leaves(k, &grown);
        Ok(grown.tree)
    }
}

impl CpuBackend<'_> {
    /// Quantises group `k`'s pairs for tree `tree` and puts every row in the root; returns the
    /// (gradient, hessian) totals.
    fn quantise(&mut self, k: usize, qg: Quantiser, qh: Quantiser, tree: u64) -> (i64, i64) {
        let (g, h, groups) = (&self.g, &self.h, self.groups);
        let offset = self.shard.map_or(0, |s| s.offset);
        let totals = quantise_rows(&mut self.gh, offset, self.seed, tree, self.threshold, qg, qh, |row| {
            (g[row * groups + k], h[row * groups + k])
        });
        self.reset_rows();
        totals
    }

    /// [`Self::quantise`] of the one group's pairs computed from the margins in the same pass.
    fn fused_gradients(&mut self, qg: Quantiser, qh: Quantiser, tree: u64) -> (i64, i64) {
        debug_assert_eq!(self.groups, 1);
        let (obj, y, w, m) = (self.obj, self.y, self.w, &self.margins);
        let every_row = self.threshold >= 1u64 << 53;
        let totals = if obj == Objective::Logistic && every_row && y.len() >= 1 << 12 {
            // Blocks of rows through the vectorised form (the same values; see
            // `logistic_quantised` for why 2^12 rows keep them in its range).
            self.gh
                .par_chunks_mut(4096)
                .enumerate()
                .map(|(c, out)| {
                    let rows = c * 4096..c * 4096 + out.len();
                    let (m, y, w) = (&m[rows.clone()], &y[rows.clone()], w.map(|w| &w[rows.clone()]));
                    if !logistic_quantised(m, y, w, qg, qh, out) {
                        for (i, o) in out.iter_mut().enumerate() {
                            let (g, h) = gradient(obj, &m[i..i + 1], y[i], w.map_or(1.0, |w| w[i]), 0);
                            *o = [qg.quantise(g), qh.quantise(h)];
                        }
                    }
                    out.iter().fold((0i64, 0i64), |(a, b), o| (a + o[0], b + o[1]))
                })
                .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
        } else {
            let offset = self.shard.map_or(0, |s| s.offset);
            quantise_rows(&mut self.gh, offset, self.seed, tree, self.threshold, qg, qh, |row| {
                gradient(obj, &m[row..row + 1], y[row], w.map_or(1.0, |w| w[row]), 0)
            })
        };
        self.reset_rows();
        totals
    }

    /// Adds each leaf's value to group `k`'s margin of the rows in it: the rows of a leaf's
    /// range, and for the unapplied last splits each row by its side.
    fn add_leaves(&mut self, k: usize, grown: &Grown) {
        let groups = self.groups;
        let margins = SharedMut(self.margins.as_mut_ptr());
        let (rows, ranges) = (&self.rows, &self.ranges);
        let mut value = vec![0f32; ranges.len()];
        for (id, v) in &grown.leaves {
            value[*id as usize] = *v;
        }
        // Leaves below a last split have no range of their own.
        let below_last = |id: u32| id > 0 && grown.last.iter().any(|s| s.node == (id - 1) / 2);
        let add = |r: u32, v: f32| {
            // SAFETY: `r * groups + k` is in bounds (r < rows, k < groups), and each row is in
            // exactly one leaf, so no two tasks write the same element.
            unsafe { *margins.ptr().add(r as usize * groups + k) += v };
        };
        // Each task owns a block of row numbers (so of margins) and takes, from every leaf and
        // last split, the part of its rows in that block: a node's rows ascend, so the part is
        // a sub-range found by binary search. Tasks split by leaf instead wrote margins that
        // share cache lines (a leaf's rows are spread over the whole array), and two threads
        // took longer than one.
        let mut nodes: Vec<((u32, u32), LeafAdd)> = grown
            .leaves
            .iter()
            .filter(|(id, _)| !below_last(*id))
            .map(|(id, v)| (ranges[*id as usize], LeafAdd::Value(*v)))
            .collect();
        nodes.extend(grown.last.iter().map(|split| {
            let (l, r) = (value[2 * split.node as usize + 1], value[2 * split.node as usize + 2]);
            let by_bin = Box::new(std::array::from_fn(|b| if split.goes_left(b as u8) { l } else { r }));
            (ranges[split.node as usize], LeafAdd::BySide { feature: split.feature, by_bin })
        }));
        let n = rows.len();
        let blocks = n.div_ceil(CHUNK).max(1);
        (0..blocks).into_par_iter().for_each(|b| {
            let (lo, hi) = ((b * CHUNK) as u32, ((b + 1) * CHUNK).min(n) as u32);
            for ((s, e), what) in &nodes {
                let node = &rows[*s as usize..*e as usize];
                let part = &node[node.partition_point(|r| *r < lo)..node.partition_point(|r| *r < hi)];
                match what {
                    LeafAdd::Value(v) => part.iter().for_each(|r| add(*r, *v)),
                    LeafAdd::BySide { feature, by_bin } => {
                        let col = &self.cols[*feature as usize * n..][..n];
                        part.iter().for_each(|r| add(*r, by_bin[col[*r as usize] as usize]));
                    }
                }
            }
        });
    }
}

impl HostRows for CpuBackend<'_> {
    fn build_left(&self, left: u32, right: u32, hl: i64, hr: i64) -> bool {
        if self.shard.is_some() {
            // Every process must build the same child: decide by the global hessians.
            return hl <= hr;
        }
        let rows = |id: u32| {
            let (s, e) = self.ranges[id as usize];
            e - s
        };
        rows(left) <= rows(right)
    }

    fn histograms(&mut self, nodes: &[u32], out: &mut [Hist]) -> Result<()> {
        let this = &*self;
        nodes.par_iter().zip(out.par_iter_mut()).for_each(|(id, hist)| {
            let (s, e) = this.ranges[*id as usize];
            this.build(&this.rows[s as usize..e as usize], hist);
        });
        if let Some(shard) = self.shard {
            // One reduction per level: the nodes' histograms end to end.
            let len = out.first().map_or(0, Vec::len);
            let mut flat: Vec<i64> = out.iter().flat_map(|h| h.iter().copied()).collect();
            shard.comm.sum_i64(&mut flat)?;
            for (h, part) in out.iter_mut().zip(flat.chunks(len.max(1))) {
                h.copy_from_slice(part);
            }
        }
        Ok(())
    }

    /// Stable partition of every split node's rows, in parallel over pieces of at most
    /// `CHUNK` rows of all nodes: each piece writes its left rows to the front of its range of
    /// `scratch` and its right rows to the back (reversed); the pieces' counts give each one's
    /// place among its node's left and right rows; then each piece copies its rows there.
    fn partition(&mut self, splits: &[SplitRow]) -> Result<()> {
        struct Piece {
            split: SplitRow,
            start: usize,
            end: usize,
            left: usize,
        }
        let mut pieces = Vec::new();
        let mut sorted: Vec<SplitRow> = splits.to_vec();
        sorted.sort_by_key(|s| self.ranges[s.node as usize].0);
        for s in &sorted {
            let (a, b) = self.ranges[s.node as usize];
            if a == b {
                // No rows here (a data-parallel shard can hold none of a node the others
                // split): its children are empty too, not last tree's ranges.
                self.ranges[2 * s.node as usize + 1] = (a, a);
                self.ranges[2 * s.node as usize + 2] = (a, a);
            }
            let mut at = a as usize;
            while at < b as usize {
                let end = (at + CHUNK).min(b as usize);
                pieces.push(Piece { split: *s, start: at, end, left: 0 });
                at = end;
            }
        }
        let rows = &self.rows;
        // Phase 1: each piece into its own range of scratch (disjoint slices, in order).
        let mut slices = Vec::with_capacity(pieces.len());
        let mut rest: &mut [u32] = &mut self.scratch;
        let mut at = 0usize;
        for p in &mut pieces {
            let (start, end) = (p.start, p.end);
            let (_, tail) = rest.split_at_mut(start - at);
            let (mine, tail) = tail.split_at_mut(end - start);
            slices.push((p, mine));
            rest = tail;
            at = end;
        }
        slices.into_par_iter().for_each(|(p, out)| {
            let n = rows.len();
            let col = &self.cols[p.split.feature as usize * n..];
            p.left = split_rows(&rows[p.start..p.end], col, n, p.split, out);
        });
        // Phase 2: where each piece's rows go.
        let mut dest = Vec::with_capacity(pieces.len());
        let mut i = 0;
        while i < pieces.len() {
            let node = pieces[i].split.node;
            let j = pieces[i..].iter().position(|p| p.split.node != node).map_or(pieces.len(), |k| i + k);
            let (a, b) = self.ranges[node as usize];
            let total_left: usize = pieces[i..j].iter().map(|p| p.left).sum();
            let (mut lo, mut ro) = (a as usize, a as usize + total_left);
            for p in &pieces[i..j] {
                dest.push((lo, ro));
                lo += p.left;
                ro += p.end - p.start - p.left;
            }
            self.ranges[2 * node as usize + 1] = (a, a + total_left as u32);
            self.ranges[2 * node as usize + 2] = (a + total_left as u32, b);
            i = j;
        }
        // Phase 3: copy back; the destinations are disjoint ranges of `rows`.
        let out = SharedMut(self.rows.as_mut_ptr());
        let scratch = &self.scratch;
        pieces.par_iter().zip(dest.par_iter()).for_each(|(p, (lo, ro))| {
            let src = &scratch[p.start..p.end];
            let (left, right) = src.split_at(p.left);
            // SAFETY: [lo, lo + left) and [ro, ro + right) lie in this piece's node's range and
            // no other piece's destinations overlap them (phase 2 hands out disjoint ranges), so
            // these slices alias nothing another task touches.
            let (to_left, to_right) = unsafe {
                (
                    std::slice::from_raw_parts_mut(out.ptr().add(*lo), left.len()),
                    std::slice::from_raw_parts_mut(out.ptr().add(*ro), right.len()),
                )
            };
            to_left.copy_from_slice(left);
            to_right.iter_mut().zip(right.iter().rev()).for_each(|(d, s)| *d = *s);
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cuts::{Cuts, MISSING};
    use crate::data::Features;

    /// The sibling histogram by subtraction equals the one built from its rows, bit for bit.
    #[test]
    fn sibling_by_subtraction_is_exact() {
        let (n, f) = (5000, 3);
        let x: Vec<f32> =
            (0..n * f).map(|i| if i % 11 == 0 { f32::NAN } else { ((i * 7919) % 1000) as f32 / 7.0 }).collect();
        let y: Vec<f32> = (0..n).map(|i| ((i * 31) % 17) as f32 / 3.0).collect();
        let x = Features::from_row_major(x, n, f).unwrap();
        let cuts = Cuts::compute(&x, 64);
        let bins = cuts.bin_matrix(&x);
        let params = Params::new(Objective::SquaredError).max_depth(3);
        let mut b = CpuBackend::new(&bins, f, &y, None, &params, 0.5);
        let m = b.gradients().unwrap();
        let (qg, qh) = (Quantiser::new(m[0].0, n), Quantiser::new(m[0].1, n));
        b.quantise(0, qg, qh, 0);
        let len = f * SLOTS * 2;
        let mut parent = vec![vec![0i64; len]];
        b.histograms(&[0], &mut parent).unwrap();
        b.partition(&[SplitRow { node: 0, feature: 1, bin: 20, default_left: true }]).unwrap();
        let mut children = vec![vec![0i64; len], vec![0i64; len]];
        b.histograms(&[1, 2], &mut children).unwrap();
        let by_subtraction: Vec<i64> = parent[0].iter().zip(&children[0]).map(|(p, c)| p - c).collect();
        assert_eq!(by_subtraction, children[1]);
        assert!(children[0].iter().any(|v| *v != 0) && children[1].iter().any(|v| *v != 0));
        // Rows went where the split says (missing left).
        let (l, r) = (b.ranges[1], b.ranges[2]);
        for &row in &b.rows[l.0 as usize..l.1 as usize] {
            let bin = bins[row as usize * f + 1];
            assert!(bin == MISSING || bin <= 20);
        }
        for &row in &b.rows[r.0 as usize..r.1 as usize] {
            let bin = bins[row as usize * f + 1];
            assert!(bin != MISSING && bin > 20);
        }
    }

    #[test]
    fn missing_code_is_the_last_slot() {
        assert_eq!(MISSING as usize, SLOTS - 1);
    }
}
