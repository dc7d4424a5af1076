//! `HnswIndex`: a hierarchical navigable small-world graph (Malkov & Yashunin) on the CPU engine.
//!
//! Layout: level 0 (every vector) is one array of fixed-size records
//! `[link count | M0 links | vector]`, so visiting a node touches one contiguous record (the
//! vector as f32 words, or with [`Storage::F16`] two halves per word, the last padded); upper
//! levels (a 1/M fraction of the nodes) keep `[count | M links]` per level in their own array.
//! Links are `AtomicU32` (plain loads and stores on x86), written under a striped lock per node
//! and read without locks: a reader may see a list mid-update, but every id in it is a node whose
//! vector is already in place (a batch's vectors are written before any of them is linked).
//!
//! Build: levels drawn from a seeded hash of the slot; the batch is linked in parallel (rayon),
//! each insertion a greedy descent, then `ef_construction` searches per level and the neighbour
//! selection heuristic (keep a candidate only if it is closer to the new node than to every kept
//! one), with back-links pruned by the same heuristic, as hnswlib does.
//! Search: greedy descent, then a best-first search at level 0 with `ef` candidates; an
//! epoch-tagged visited array per thread; the next candidates' records are prefetched. Deleted
//! vectors (tombstones) and vectors the filter rejects are traversed but never returned; a filter
//! that keeps under 2% of a sample of the vectors switches to an exact scan of those it keeps.
use crate::flat::{check_f16_range, resolve_labels, Filter, Storage};
use crate::metric::{DistFn, Metric};
use crate::recall::{RecallCurve, RecallTarget};
use crate::topk::{Neighbor, SearchResult};
use crate::vectors::Vectors;
use ember_core::{Device, Error, Result};
use ember_gpu::ExecContext;
use half::f16;
use rayon::prelude::*;
use std::borrow::Cow;
use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

mod file;
use crate::mapped::Buf;

/// HNSW build parameters (hnswlib's names and defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HnswParams {
    /// Links per node on the upper levels (level 0 keeps `2 * m`).
    pub m: usize,
    /// Candidates per level while inserting.
    pub ef_construction: usize,
    /// Seed of the level draws.
    pub seed: u64,
}

impl Default for HnswParams {
    fn default() -> Self {
        HnswParams { m: 16, ef_construction: 200, seed: 100 }
    }
}

const LOCK_STRIPES: usize = 4096;
const MAX_LEVEL: usize = 16;
/// Below this estimated fraction of accepted vectors a filtered search scans exactly.
const EXACT_FILTER_FRACTION: f64 = 0.02;

/// A graph index (see the module documentation).
#[derive(Debug)]
pub struct HnswIndex {
    metric: Metric,
    storage: Storage,
    dist: DistFn<f32>,
    dist16: DistFn<f16>,
    dim: usize,
    params: HnswParams,
    m0: usize,
    /// u32 words per level-0 record: the count, m0 links, the vector (dim f32 words, or dim / 2
    /// rounded up for f16; no other padding: memory as hnswlib).
    stride: usize,
    records: Buf<AtomicU32>,
    levels: Vec<u8>,
    /// Per node, `level * (1 + m)` words for levels 1..=level.
    upper: Vec<Box<[AtomicU32]>>,
    labels: Vec<u64>,
    deleted: Vec<bool>,
    slots: HashMap<u64, u32>,
    /// Deleted slots that new vectors fill.
    free: Vec<u32>,
    live: usize,
    /// Entry point and the top level.
    entry: Option<(u32, usize)>,
    locks: Vec<Mutex<()>>,
    /// Recall curves by `k` for the target-recall knob (`recall.rs`), measured on first use and
    /// dropped when vectors are added or deleted.
    curves: Mutex<Vec<(usize, Arc<RecallCurve>)>>,
    /// Bumped by `add`: the level-0 records on a GPU (`gpu.rs`) are re-uploaded when it changes.
    version: u64,
    device: Mutex<Option<Arc<crate::gpu::DeviceVectors>>>,
}

/// A recall probe's slot held out of the graph ([`HnswIndex::held_out`]).
pub(crate) struct HeldOut {
    slot: u32,
    /// Repaired level-0 links of the nodes that linked to it, by node.
    repaired: Vec<(u32, Vec<u32>)>,
}

impl HeldOut {
    fn links(&self, v: u32) -> Option<&Vec<u32>> {
        self.repaired.iter().find(|r| r.0 == v).map(|r| &r.1)
    }
}

thread_local! {
    static VISITED: RefCell<(Vec<u32>, u32)> = const { RefCell::new((Vec::new(), 0)) };
}

/// A visited set for `n` nodes: epoch tags, reset by bumping the epoch.
struct Visited<'a> {
    tags: &'a mut [u32],
    epoch: u32,
}

impl Visited<'_> {
    /// Marks `v`; whether it was new.
    #[inline]
    fn mark(&mut self, v: u32) -> bool {
        let t = &mut self.tags[v as usize];
        let new = *t != self.epoch;
        *t = self.epoch;
        new
    }
}

/// The nearest nodes a level search has met: `res` the `max(ef, keep)` nearest (the answer),
/// `short` the `ef` nearest when that is fewer (`ef < keep`; the search's bound).
struct Found {
    res: BinaryHeap<Neighbor>,
    short: Option<BinaryHeap<Neighbor>>,
    ef: usize,
    cap: usize,
}

impl Found {
    fn new(ef: usize, keep: usize) -> Found {
        let cap = ef.max(keep);
        Found {
            res: BinaryHeap::with_capacity(cap + 1),
            short: (ef < cap).then(|| BinaryHeap::with_capacity(ef + 1)),
            ef,
            cap,
        }
    }

    /// The distance a node must beat to be expanded: the `ef`-th nearest met (infinite before
    /// `ef` are met).
    #[inline]
    fn bound(&self) -> f32 {
        let heap = self.short.as_ref().unwrap_or(&self.res);
        if heap.len() >= self.ef {
            heap.peek().map_or(f32::INFINITY, |w| w.dist)
        } else {
            f32::INFINITY
        }
    }

    /// Keeps `n` if it is among the `cap` nearest met so far.
    #[inline]
    fn offer(&mut self, n: Neighbor) {
        Self::push(&mut self.res, n, self.cap);
        if let Some(short) = &mut self.short {
            Self::push(short, n, self.ef);
        }
    }

    #[inline]
    fn push(heap: &mut BinaryHeap<Neighbor>, n: Neighbor, cap: usize) {
        if heap.len() < cap {
            heap.push(n);
        } else if heap.peek().is_some_and(|w| n.dist < w.dist) {
            heap.pop();
            heap.push(n);
        }
    }
}

/// Runs `f` with this thread's visited set, sized for `n` nodes.
fn with_visited<T>(n: usize, f: impl FnOnce(&mut Visited<'_>) -> T) -> T {
    VISITED.with(|cell| {
        let mut guard = cell.borrow_mut();
        let (tags, epoch) = &mut *guard;
        if tags.len() < n {
            tags.clear();
            tags.resize(n, 0);
            *epoch = 0;
        }
        *epoch = epoch.wrapping_add(1);
        if *epoch == 0 {
            tags.iter_mut().for_each(|t| *t = 0);
            *epoch = 1;
        }
        f(&mut Visited { tags, epoch: *epoch })
    })
}

/// Whether a slot is one of the recall probes' (one in 16, by a seeded hash; `recall.rs`).
fn is_probe(slot: u32) -> bool {
    splitmix(slot as u64 ^ 0xC0FF_EE00).is_multiple_of(16)
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[inline]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetching is a hint; any address is allowed, nothing is dereferenced.
    unsafe {
        std::arch::x86_64::_mm_prefetch(p as *const i8, std::arch::x86_64::_MM_HINT_T0)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

impl HnswIndex {
    /// An empty index storing its vectors as f32.
    pub fn new(dim: usize, metric: Metric, params: HnswParams) -> Result<HnswIndex> {
        HnswIndex::with_storage(dim, metric, params, Storage::F32)
    }

    /// An empty index storing its vectors as `storage`. With [`Storage::F16`] each vector is
    /// rounded to the nearest f16 when added (after cosine normalisation) and widened exactly
    /// when distances are computed: the index is the f32 index of the rounded vectors (the same
    /// graph and results, bit for bit), in about half the memory for long vectors, and a search
    /// reads half the bytes per distance.
    ///
    /// ```
    /// use ember_ann::{HnswIndex, HnswParams, Metric, Storage, Vectors};
    /// let mut idx = HnswIndex::with_storage(2, Metric::L2, HnswParams::default(), Storage::F16)?;
    /// idx.add(&Vectors::from_row_major(vec![0.0, 0.0, 1.0, 0.1, 5.0, 5.0], 2)?, None)?;
    /// let r = idx.search(&Vectors::from_row_major(vec![1.0, 0.0], 2)?, 1, 16, None)?;
    /// // 0.1 is stored as the f16 0.099975586: the distance is that of the rounded vector.
    /// assert_eq!((r.labels[0], r.distances[0]), (1, 0.099975586 * 0.099975586));
    /// # Ok::<(), ember_core::Error>(())
    /// ```
    pub fn with_storage(dim: usize, metric: Metric, params: HnswParams, storage: Storage) -> Result<HnswIndex> {
        if dim == 0 {
            return Err(Error::InvalidArgument("vector dimension must be at least 1".into()));
        }
        if params.m < 2 || params.m > 256 {
            return Err(Error::InvalidArgument(format!("HNSW m = {} (2..=256)", params.m)));
        }
        let m0 = 2 * params.m;
        let words = match storage {
            Storage::F32 => dim,
            Storage::F16 => dim.div_ceil(2),
        };
        Ok(HnswIndex {
            metric,
            storage,
            dist: metric.resolve(),
            dist16: metric.resolve(),
            dim,
            params,
            m0,
            stride: 1 + m0 + words,
            records: Buf::default(),
            levels: Vec::new(),
            upper: Vec::new(),
            labels: Vec::new(),
            deleted: Vec::new(),
            slots: HashMap::new(),
            free: Vec::new(),
            live: 0,
            entry: None,
            locks: (0..LOCK_STRIPES).map(|_| Mutex::new(())).collect(),
            curves: Mutex::new(Vec::new()),
            version: 0,
            device: Mutex::new(None),
        })
    }

    /// Live vectors.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether no vector is live.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The metric.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// The build parameters.
    pub fn params(&self) -> HnswParams {
        self.params
    }

    /// How the vectors are stored.
    pub fn storage(&self) -> Storage {
        self.storage
    }

    /// Bytes of vectors and links held (records, upper levels, labels).
    pub fn memory_bytes(&self) -> usize {
        self.records.len() * 4 + self.upper.iter().map(|u| u.len() * 4 + 16).sum::<usize>() + self.labels.len() * 9
    }

    /// The vector words of slot `v`.
    #[inline]
    fn vector_words(&self, v: u32) -> &[AtomicU32] {
        let base = v as usize * self.stride + 1 + self.m0;
        &self.records[base..(v as usize + 1) * self.stride]
    }

    /// Slot `v`'s vector of an f32 index.
    #[inline]
    fn vector32(&self, v: u32) -> &[f32] {
        debug_assert_eq!(self.storage, Storage::F32);
        let words = self.vector_words(v);
        // SAFETY: AtomicU32 has the layout of u32 (and so of f32); the record holds `dim` vector
        // words, written once, through `&mut self`, before the node can be reached, and never
        // again while shared.
        unsafe { std::slice::from_raw_parts(words.as_ptr() as *const f32, self.dim) }
    }

    /// Slot `v`'s vector of an f16 index.
    #[inline]
    fn vector16(&self, v: u32) -> &[f16] {
        debug_assert_eq!(self.storage, Storage::F16);
        let words = self.vector_words(v);
        // SAFETY: as in `vector32`; the words hold `dim` halves (`dim.div_ceil(2)` words, packed
        // in memory order by `add`), and u32 alignment satisfies f16's.
        unsafe { std::slice::from_raw_parts(words.as_ptr() as *const f16, self.dim) }
    }

    /// Slot `v`'s vector as f32, to search from: borrowed, or widened from f16 (exactly).
    fn widened(&self, v: u32) -> Cow<'_, [f32]> {
        match self.storage {
            Storage::F32 => Cow::Borrowed(self.vector32(v)),
            Storage::F16 => Cow::Owned(self.vector16(v).iter().map(|x| x.to_f32()).collect()),
        }
    }

    /// The distance from `q` to slot `v`'s vector.
    #[inline]
    fn dist(&self, q: &[f32], v: u32) -> f32 {
        match self.storage {
            Storage::F32 => (self.dist)(q, self.vector32(v)),
            Storage::F16 => (self.dist16)(q, self.vector16(v)),
        }
    }

    /// The distances from `Q` queries to four slots' vectors (`Metric::distance_block`).
    #[inline]
    fn dist4<const Q: usize>(&self, q: [&[f32]; Q], v: [u32; 4]) -> [[f32; 4]; Q] {
        match self.storage {
            Storage::F32 => self.metric.distance_block(q, v.map(|x| self.vector32(x))),
            Storage::F16 => self.metric.distance_block(q, v.map(|x| self.vector16(x))),
        }
    }

    /// Writes `row` (prepared) as slot `slot`'s vector.
    fn write_vector(&mut self, slot: usize, row: &[f32]) {
        let base = slot * self.stride + 1 + self.m0;
        let words = &mut self.records[base..(slot + 1) * self.stride];
        match self.storage {
            Storage::F32 => words.iter_mut().zip(row).for_each(|(w, x)| *w.get_mut() = x.to_bits()),
            Storage::F16 => {
                // Two halves per word in memory order (what `vector16` reads on any endianness).
                for (w, pair) in words.iter_mut().zip(row.chunks(2)) {
                    let lo = f16::from_f32(pair[0]).to_ne_bytes();
                    let hi = pair.get(1).map_or([0, 0], |&x| f16::from_f32(x).to_ne_bytes());
                    *w.get_mut() = u32::from_ne_bytes([lo[0], lo[1], hi[0], hi[1]]);
                }
            }
        }
    }

    /// The link list (count word first) of `v` at `level`.
    #[inline]
    fn links(&self, v: u32, level: usize) -> &[AtomicU32] {
        if level == 0 {
            let base = v as usize * self.stride;
            &self.records[base..base + 1 + self.m0]
        } else {
            let w = 1 + self.params.m;
            &self.upper[v as usize][(level - 1) * w..level * w]
        }
    }

    fn neighbours(&self, v: u32, level: usize, out: &mut Vec<u32>) {
        let l = self.links(v, level);
        let c = (l[0].load(Relaxed) as usize).min(l.len() - 1);
        out.clear();
        out.extend(l[1..1 + c].iter().map(|x| x.load(Relaxed)));
    }

    fn set_links(&self, v: u32, level: usize, ids: &[u32]) {
        let l = self.links(v, level);
        for (slot, &id) in l[1..].iter().zip(ids) {
            slot.store(id, Relaxed);
        }
        l[0].store(ids.len() as u32, Relaxed);
    }

    fn lock(&self, v: u32) -> std::sync::MutexGuard<'_, ()> {
        self.locks[v as usize % LOCK_STRIPES].lock().unwrap_or_else(|e| e.into_inner())
    }

    fn draw_level(&self, slot: usize) -> usize {
        let u = ((splitmix(self.params.seed ^ (slot as u64).wrapping_mul(0xA24B_AED4_963E_E407)) >> 11) as f64 + 0.5)
            / (1u64 << 53) as f64;
        ((-u.ln() / (self.params.m as f64).ln()) as usize).min(MAX_LEVEL)
    }

    /// Adds vectors with labels (`0, 1, ...` after the current count when None). A label already
    /// present is an upsert: its slot takes the new vector. New labels fill the slots of deleted
    /// vectors first (their old neighbours' links are repaired, as hnswlib's `replace_deleted`),
    /// then new slots, linked in parallel.
    ///
    /// ```
    /// use ember_ann::{HnswIndex, HnswParams, Metric, Vectors};
    /// let mut idx = HnswIndex::new(2, Metric::L2, HnswParams::default())?;
    /// idx.add(&Vectors::from_row_major(vec![0.0, 0.0, 1.0, 1.0, 9.0, 9.0], 2)?, Some(&[10, 11, 12]))?;
    /// idx.add(&Vectors::from_row_major(vec![5.0, 5.0], 2)?, Some(&[10]))?; // upsert: 10 moves
    /// let r = idx.search(&Vectors::from_row_major(vec![4.0, 4.0], 2)?, 1, 16, None)?;
    /// assert_eq!((idx.len(), r.labels[0]), (3, 10));
    /// # Ok::<(), ember_core::Error>(())
    /// ```
    pub fn add(&mut self, v: &Vectors, labels: Option<&[u64]>) -> Result<()> {
        v.check(self.dim, "HnswIndex::add")?;
        if self.storage == Storage::F16 {
            check_f16_range(v, "HnswIndex::add")?;
        }
        self.curves.get_mut().unwrap_or_else(|p| p.into_inner()).clear();
        self.version += 1;
        let labels = resolve_labels(v.len(), labels, self.labels.len())?;
        if labels.is_empty() {
            return Ok(());
        }
        let first = self.labels.len();
        if first + labels.len() >= u32::MAX as usize {
            return Err(Error::Unsupported(format!("{} vectors: HNSW slots are 32-bit", first + labels.len())));
        }
        // Vectors first (through &mut self), then linking: every slot a reader can reach already
        // holds its vector. Upserts and new labels that find a free slot overwrite in place.
        let mut reused: Vec<u32> = Vec::new();
        for (i, &label) in labels.iter().enumerate() {
            let mut row = v.row(i).to_vec();
            self.metric.prepare(&mut row);
            let existing = self.slots.get(&label).copied();
            let slot = match existing.or_else(|| self.free.pop()) {
                Some(s) => {
                    reused.push(s);
                    s as usize
                }
                None => {
                    let slot = self.labels.len();
                    self.records.owned().extend((0..self.stride).map(|_| AtomicU32::new(0)));
                    let level = self.draw_level(slot);
                    self.levels.push(level as u8);
                    self.upper.push((0..level * (1 + self.params.m)).map(|_| AtomicU32::new(0)).collect());
                    self.labels.push(label);
                    self.deleted.push(true);
                    slot
                }
            };
            self.write_vector(slot, &row);
            if self.deleted[slot] {
                self.deleted[slot] = false;
                self.live += 1;
            }
            if existing.is_none() {
                self.labels[slot] = label;
                self.slots.insert(label, slot as u32);
            }
        }
        let total = self.labels.len();
        let mut start = first;
        if self.entry.is_none() {
            // A fresh index (nothing to reuse): its first vector is the entry point.
            self.entry = Some((first as u32, self.levels[first] as usize));
            start += 1;
        }
        let entry = Mutex::new(self.entry.expect("set above when the index was empty"));
        let this = &*self;
        // The recall probes' slots (`recall.rs`) go in after the rest of the batch, so that the
        // graph without one of them is the graph with its back-links undone (`held_out`).
        for probes in [false, true] {
            (start..total)
                .into_par_iter()
                .with_min_len(16)
                .filter(|&slot| is_probe(slot as u32) == probes)
                .for_each(|slot| this.insert(slot as u32, &entry));
        }
        // Reused slots one at a time: re-link the old neighbours among themselves, then insert.
        for &s in &reused {
            this.repair_around(s);
            this.insert(s, &entry);
        }
        self.entry = Some(entry.into_inner().unwrap_or_else(|e| e.into_inner()));
        Ok(())
    }

    /// Before slot `s` takes a new vector's place: each of its neighbours re-picks its links
    /// (the heuristic) among `s`'s neighbours and their neighbours, and `s`'s own links are cleared.
    fn repair_around(&self, s: u32) {
        let (mut around, mut more) = (Vec::new(), Vec::new());
        for l in 0..=self.levels[s as usize] as usize {
            self.neighbours(s, l, &mut around);
            let mut cand = around.clone();
            for &n in &around {
                self.neighbours(n, l, &mut more);
                cand.extend(more.iter().copied().filter(|&x| x != s));
            }
            cand.sort_unstable();
            cand.dedup();
            let cap = if l == 0 { self.m0 } else { self.params.m };
            for &n in &around {
                let nv = self.widened(n);
                let mut cs: Vec<Neighbor> =
                    cand.iter().filter(|&&c| c != n).map(|&c| Neighbor { dist: self.dist(&nv, c), id: c }).collect();
                cs.sort_unstable();
                cs.truncate(self.params.ef_construction);
                let kept = self.select(&cs, cap);
                let _g = self.lock(n);
                self.set_links(n, l, &kept.iter().map(|k| k.id).collect::<Vec<_>>());
            }
            let _g = self.lock(s);
            self.set_links(s, l, &[]);
        }
    }

    fn insert(&self, q: u32, entry: &Mutex<(u32, usize)>) {
        let level = self.levels[q as usize] as usize;
        let mut guard = Some(entry.lock().unwrap_or_else(|e| e.into_inner()));
        let (ep, top) = **guard.as_ref().expect("locked");
        if level <= top {
            // Only an insertion that raises the top level keeps the entry lock (as hnswlib).
            guard = None;
        }
        let qv = self.widened(q);
        let mut buf = Vec::with_capacity(self.m0);
        let mut eps = vec![self.descend(&qv, ep, top, level + 1, None)];
        for l in (0..=level.min(top)).rev() {
            let mut found = self.search_layer(&qv, &eps, (self.params.ef_construction, 0), l, None, None);
            found.retain(|n| n.id != q); // a reused slot is already in the graph
            let chosen = self.select(&found, self.params.m);
            {
                let _g = self.lock(q);
                self.set_links(q, l, &chosen.iter().map(|n| n.id).collect::<Vec<_>>());
            }
            let cap = if l == 0 { self.m0 } else { self.params.m };
            for nb in &chosen {
                let _g = self.lock(nb.id);
                self.neighbours(nb.id, l, &mut buf);
                if buf.contains(&q) {
                    continue;
                }
                if buf.len() < cap {
                    buf.push(q);
                    self.set_links(nb.id, l, &buf);
                } else {
                    let nv = self.widened(nb.id);
                    let mut cands: Vec<Neighbor> =
                        buf.iter().map(|&x| Neighbor { dist: self.dist(&nv, x), id: x }).collect();
                    cands.push(Neighbor { dist: nb.dist, id: q });
                    cands.sort_unstable();
                    let kept = self.select(&cands, cap);
                    self.set_links(nb.id, l, &kept.iter().map(|n| n.id).collect::<Vec<_>>());
                }
            }
            eps = found;
        }
        if let Some(mut g) = guard {
            if level > g.1 {
                *g = (q, level);
            }
        }
    }

    /// The neighbour selection heuristic over candidates sorted by distance to the base vector.
    fn select(&self, sorted: &[Neighbor], m: usize) -> Vec<Neighbor> {
        let mut kept: Vec<Neighbor> = Vec::with_capacity(m);
        // The kept vectors as f32, to measure candidates from (distances are symmetric to the
        // bit: (a - b)^2 = (b - a)^2 and a * b = b * a in every lane), so an f16 index widens
        // each kept vector once rather than every candidate.
        let mut from: Vec<Cow<'_, [f32]>> = Vec::with_capacity(m);
        for c in sorted {
            if kept.len() >= m {
                break;
            }
            if from.iter().all(|k| self.dist(k, c.id) >= c.dist) {
                kept.push(*c);
                from.push(self.widened(c.id));
            }
        }
        kept
    }

    /// Best-first search of one level from `eps` with `(ef, keep)`: the `max(ef, keep)` nearest
    /// it meets, ascending. The search stops when the nearest unexpanded candidate is farther
    /// than the `ef`-th nearest found, so `ef < keep` searches less (a lower recall than
    /// `ef = keep`: the target-recall knob's low end) and still returns `keep` from every
    /// distance it computed.
    /// With `accept`, only accepted nodes enter the result (all are still traversed).
    fn search_layer(
        &self,
        qv: &[f32],
        eps: &[Neighbor],
        (ef, keep): (usize, usize),
        level: usize,
        accept: Option<&dyn Fn(u32) -> bool>,
        held_out: Option<&HeldOut>,
    ) -> Vec<Neighbor> {
        with_visited(self.labels.len(), |visited| {
            // A held-out probe's node (`recall.rs`) is marked visited up front: neither expanded
            // nor returned, the graph as if it were not in it, with the links around it repaired.
            if let Some(h) = held_out {
                visited.mark(h.slot);
            }
            let ef = ef.max(1);
            let mut cand: BinaryHeap<Reverse<Neighbor>> = BinaryHeap::with_capacity(ef * 2);
            let mut found = Found::new(ef, keep);
            for e in eps {
                if visited.mark(e.id) {
                    cand.push(Reverse(*e));
                    if accept.is_none_or(|a| a(e.id)) {
                        found.offer(*e);
                    }
                }
            }
            let mut nbrs = Vec::with_capacity(self.m0);
            let (mut fresh, mut dists) = (Vec::with_capacity(self.m0), Vec::with_capacity(self.m0));
            while let Some(Reverse(c)) = cand.pop() {
                if c.dist > found.bound() {
                    break;
                }
                match held_out.and_then(|h| h.links(c.id)) {
                    Some(repaired) => nbrs.clone_from(repaired),
                    None => self.neighbours(c.id, level, &mut nbrs),
                }
                for &nb in &nbrs {
                    prefetch(self.records.as_ptr().wrapping_add(nb as usize * self.stride + 1 + self.m0));
                }
                // The unvisited neighbours' distances four at a time (independent FMA chains;
                // the same bits as one at a time), then taken in list order as before.
                fresh.clear();
                fresh.extend(nbrs.iter().copied().filter(|&nb| visited.mark(nb)));
                dists.clear();
                let mut quads = fresh.chunks_exact(4);
                for c in &mut quads {
                    let [d] = self.dist4([qv], [c[0], c[1], c[2], c[3]]);
                    dists.extend_from_slice(&d);
                }
                dists.extend(quads.remainder().iter().map(|&nb| self.dist(qv, nb)));
                for (&nb, &d) in fresh.iter().zip(&dists) {
                    let n = Neighbor { dist: d, id: nb };
                    if d < found.bound() {
                        cand.push(Reverse(n));
                        if accept.is_none_or(|a| a(nb)) {
                            found.offer(n);
                        }
                    } else if found.short.is_some() && accept.is_none_or(|a| a(nb)) {
                        // Not worth expanding, but maybe among the `keep` nearest.
                        found.offer(n);
                    }
                }
            }
            found.res.into_sorted_vec()
        })
    }

    /// The `k` approximate nearest live vectors per query (in parallel over queries) that pass
    /// `filter`, searching level 0 with `max(ef, k)` candidates.
    pub fn search(&self, queries: &Vectors, k: usize, ef: usize, filter: Option<Filter<'_>>) -> Result<SearchResult> {
        queries.check(self.dim, "HnswIndex::search")?;
        self.search_each(queries, k, |_| ef.max(k), filter)
    }

    /// [`HnswIndex::search`] with query `i` searched at `ef(i)` (below `k`: a shorter search
    /// that still returns `k`, see `search_layer`).
    fn search_each(
        &self,
        queries: &Vectors,
        k: usize,
        ef: impl Fn(usize) -> usize + Sync,
        filter: Option<Filter<'_>>,
    ) -> Result<SearchResult> {
        let nq = queries.len();
        let mut res = SearchResult::new(nq, k);
        let Some((ep, top)) = self.entry else { return Ok(res) };
        if k == 0 || self.live == 0 {
            return Ok(res);
        }
        let any_deleted = self.live < self.labels.len();
        let accept = |s: u32| !self.deleted[s as usize] && filter.is_none_or(|f| f(self.labels[s as usize]));
        let exact = filter.is_some() && self.filter_fraction(filter) < EXACT_FILTER_FRACTION;
        let allowed: Vec<u32> = if exact {
            (0..self.labels.len() as u32).into_par_iter().filter(|&s| accept(s)).collect()
        } else {
            Vec::new()
        };
        res.labels.par_chunks_mut(k).zip(res.distances.par_chunks_mut(k)).enumerate().for_each(
            |(qi, (labels, dists))| {
                let mut qv = queries.row(qi).to_vec();
                self.metric.prepare(&mut qv);
                let found: Vec<Neighbor> = if exact {
                    let mut all: Vec<Neighbor> =
                        allowed.iter().map(|&s| Neighbor { dist: self.dist(&qv, s), id: s }).collect();
                    let kk = k.min(all.len());
                    if kk > 0 {
                        all.select_nth_unstable(kk - 1);
                        all.truncate(kk);
                    }
                    all.sort_unstable();
                    all
                } else {
                    let eps = [self.descend(&qv, ep, top, 1, None)];
                    let acc: Option<&dyn Fn(u32) -> bool> =
                        if any_deleted || filter.is_some() { Some(&accept) } else { None };
                    self.search_layer(&qv, &eps, (ef(qi), k), 0, acc, None)
                };
                for (j, nb) in found.into_iter().take(k).enumerate() {
                    labels[j] = self.labels[nb.id as usize];
                    dists[j] = nb.dist;
                }
            },
        );
        Ok(res)
    }

    /// The largest `ef` (and `k`) the GPU path's graph search takes for this index (its list
    /// lives in shared memory: 256 entries, fewer when level 0 has more than 256 links).
    pub fn gpu_max_ef(&self) -> usize {
        crate::gpu::max_candidates(self.m0)
    }

    /// [`HnswIndex::search`] on `device`: the CPU engine, or the GPU path
    /// ([`HnswIndex::search_in`] in a new execution context).
    pub fn search_on(
        &self,
        queries: &Vectors,
        k: usize,
        ef: usize,
        filter: Option<Filter<'_>>,
        device: Device,
    ) -> Result<SearchResult> {
        match device.gpu()? {
            None => self.search(queries, k, ef, filter),
            Some(gpu) => self.search_in(queries, k, ef, filter, &ExecContext::new(gpu)),
        }
    }

    /// [`HnswIndex::search`] on the GPU of `ctx`: a CAGRA-style search of level 0 (its records
    /// are the fixed-degree graph) with a candidate list of `max(ef, k)` entries (at most 256),
    /// one thread block per query, the whole batch in one launch (`kernels/ann.cu`,
    /// `ann_graph_search`). Distances are the CPU engine's bits; the candidates differ (the GPU
    /// starts from the entry point and hashed random seeds, expands up to four candidates per step
    /// and keeps filtered-out vectors in its list for routing), so results are approximate in the
    /// same way, not identical. With deletions or a filter the list is lengthened by the fraction
    /// of vectors that may be returned (up to its limit), and a second buffer keeps the best
    /// returnable vectors met; a filter that keeps under 2% of the vectors searches exactly on
    /// the CPU, as [`HnswIndex::search`] does. A filter that removes whole regions of the space
    /// (every vector of the clusters nearest a query) costs the GPU more recall than the CPU: the
    /// CPU's queue of vectors to visit is unbounded, the GPU's list is not.
    ///
    /// ```
    /// use ember_ann::{HnswIndex, HnswParams, Metric, Vectors};
    /// # if !ember_gpu::sim::compiled() { return Ok(()); }
    /// let dim = 8;
    /// let data: Vec<f32> = (0..500 * dim).map(|i| ((i * 7919) % 1009) as f32 / 1009.0).collect();
    /// let base = Vectors::from_row_major(data, dim)?;
    /// let mut idx = HnswIndex::new(dim, Metric::L2, HnswParams::default())?;
    /// idx.add(&base, None)?;
    /// let q = Vectors::from_row_major(base.row(42).to_vec(), dim)?;
    /// let r = idx.search_on(&q, 5, 64, None, ember_core::Device::Sim)?;
    /// assert_eq!((r.labels[0], r.distances[0]), (42, 0.0));
    /// # Ok::<(), ember_core::Error>(())
    /// ```
    pub fn search_in(
        &self,
        queries: &Vectors,
        k: usize,
        ef: usize,
        filter: Option<Filter<'_>>,
        ctx: &ExecContext,
    ) -> Result<SearchResult> {
        queries.check(self.dim, "HnswIndex::search")?;
        let Some((ep, _)) = self.entry else { return Ok(SearchResult::new(queries.len(), k)) };
        let passing = self.filter_fraction(filter);
        if self.live == 0 || passing < EXACT_FILTER_FRACTION {
            return self.search(queries, k, ef, filter);
        }
        let mut q = queries.clone();
        if self.metric == Metric::Cosine {
            q.data.chunks_mut(self.dim).for_each(|r| self.metric.prepare(r));
        }
        let records = || self.records.iter().map(|w| w.load(Relaxed)).collect::<Vec<u32>>();
        let graph = crate::gpu::Graph {
            records: &records,
            storage: self.storage,
            stride: self.stride,
            m0: self.m0,
            dim: self.dim,
            n: self.labels.len(),
            entry: ep,
            metric: self.metric.code(),
            version: self.version,
            device: &self.device,
        };
        let accept = |s: usize| !self.deleted[s] && filter.is_none_or(|f| f(self.labels[s]));
        let restricted = filter.is_some() || self.live < self.labels.len();
        // The GPU's list holds returnable and other vectors alike: lengthen it by the fraction
        // returnable, so it holds about `ef` returnable ones as the CPU's result list does.
        let mut ef = ef.max(k);
        if restricted && ef <= crate::gpu::max_candidates(self.m0) {
            let fraction = self.live as f64 / self.labels.len() as f64 * passing;
            let longer = (ef as f64 / fraction.max(1e-9)).ceil() as usize;
            ef = longer.min(crate::gpu::max_candidates(self.m0));
        }
        let mut res = crate::gpu::graph_search(ctx, &graph, &q, k, ef, restricted.then_some(&accept as _))?;
        for l in res.labels.iter_mut().filter(|l| **l != crate::topk::NO_LABEL) {
            *l = self.labels[*l as usize];
        }
        Ok(res)
    }

    /// [`HnswIndex::search`] at the `ef` that reaches `target` for this batch (a mean recall@k,
    /// with a confidence: an `f64` asks that 95% of batches reach it, see [`RecallTarget`]), by
    /// the recall curve the index measures on itself (see below); returns the result and the `ef`
    /// used, which may be fractional: `ef = 20.3` searches 30% of the queries (spread evenly
    /// over the batch) at 21 and the rest at 20, since one step of `ef` moves the recall by
    /// about 0.01 where the curve is steep. An `ef` below `k` searches less than `ef = k` and
    /// still returns `k` neighbours (for targets under the recall at `ef = k`).
    ///
    /// The curve: up to 1000 live vectors are searched as queries the index does not hold, at
    /// each `ef` of a grid from 1 to 1024, against their exact neighbours. They are vectors the
    /// build inserted after the rest of their batch (one in 16, by a seeded hash), each left out
    /// of the graph with the links of the nodes that link to it re-selected without it: their
    /// recall is that of new queries from the indexed vectors' distribution (within 0.003 of the
    /// 10,000 test queries' at every `ef` on Fashion-MNIST; `docs/perf.md`). The batch gets the
    /// smallest `ef` (interpolated between grid points) whose mean recall less `z` standard errors
    /// of the batch's and the curve's means reaches the target's recall, `z` the normal quantile
    /// of its confidence (1.645 at 0.95: about 19 batches in 20 from that distribution meet it;
    /// 0 at [`RecallTarget::mean`]); the largest grid `ef` when none does. The curve is measured
    /// once per `k` (about 1000 exact scans of the index), kept, and dropped when vectors are
    /// added or deleted. Filters are applied as in `search`; the curve is the unfiltered one.
    ///
    /// ```
    /// use ember_ann::{HnswIndex, HnswParams, Metric, RecallTarget, Vectors};
    /// let dim = 16;
    /// let data: Vec<f32> = (0..3000 * dim).map(|i| ((i * 7919) % 1009) as f32 / 1009.0).collect();
    /// let base = Vectors::from_row_major(data, dim)?;
    /// let mut idx = HnswIndex::new(dim, Metric::L2, HnswParams::default())?;
    /// idx.add(&base, None)?;
    /// let q = Vectors::from_row_major(base.row(7).to_vec(), dim)?;
    /// let (low, ef_low) = idx.search_with_recall(&q, 10, 0.8, None)?;
    /// let (_, ef_high) = idx.search_with_recall(&q, 10, 0.99, None)?;
    /// let (_, ef_mean) = idx.search_with_recall(&q, 10, RecallTarget::mean(0.99), None)?;
    /// assert!(ef_high >= ef_mean && ef_mean >= ef_low && low.labels[0] == 7);
    /// # Ok::<(), ember_core::Error>(())
    /// ```
    pub fn search_with_recall(
        &self,
        queries: &Vectors,
        k: usize,
        target: impl Into<RecallTarget>,
        filter: Option<Filter<'_>>,
    ) -> Result<(SearchResult, f64)> {
        queries.check(self.dim, "HnswIndex::search_with_recall")?;
        let target = target.into();
        target.check()?;
        if k == 0 || self.live < 2 {
            // Nothing to measure a curve on; a search of `k` candidates is exact here.
            return Ok((self.search(queries, k, k, filter)?, k as f64));
        }
        let ef = self.ef_for_recall(k, target, queries.len())?;
        let (whole, part) = (ef.floor() as usize, ef.fract());
        // Query `i` takes the next `ef` when `floor((i + 1) * part)` steps up: `part` of them.
        let each = |i: usize| whole + (((i + 1) as f64 * part).floor() > (i as f64 * part).floor()) as usize;
        Ok((self.search_each(queries, k, each, filter)?, ef))
    }

    /// The `ef` [`HnswIndex::search_with_recall`] uses for a batch of `batch` queries
    /// (fractional: see there; one search of the GPU path takes its ceiling, and at least `k`).
    pub fn ef_for_recall(&self, k: usize, target: impl Into<RecallTarget>, batch: usize) -> Result<f64> {
        let target = target.into();
        target.check()?;
        Ok(self.curve(k)?.ef_for(target, batch))
    }

    /// The recall curve at `k` as `(ef, mean recall@k)` pairs (measured now if it was not).
    pub fn recall_curve(&self, k: usize) -> Result<Vec<(usize, f64)>> {
        Ok(self.curve(k)?.points())
    }

    fn curve(&self, k: usize) -> Result<Arc<RecallCurve>> {
        if let Some((_, c)) = self.curves.lock().unwrap_or_else(|p| p.into_inner()).iter().find(|(kk, _)| *kk == k) {
            return Ok(c.clone());
        }
        // Measured outside the lock (searches in parallel); two first users may both measure it.
        let c = Arc::new(RecallCurve::measure(self, k)?);
        self.curves.lock().unwrap_or_else(|p| p.into_inner()).push((k, c.clone()));
        Ok(c)
    }

    /// Up to `n` live slots for the recall probes, in the order of a seeded hash: those inserted
    /// last in their batch (`is_probe`), or, when fewer than 100 of them are live, others after
    /// them.
    pub(crate) fn probe_slots(&self, n: usize) -> Vec<u32> {
        let mut live: Vec<(bool, u64, u32)> = (0..self.labels.len() as u32)
            .filter(|&s| !self.deleted[s as usize])
            .map(|s| (!is_probe(s), splitmix(s as u64 ^ 0x005E_ED0F), s))
            .collect();
        let last = live.iter().filter(|p| !p.0).count();
        let n = if last >= 100 { n.min(last) } else { n.min(live.len()) };
        if n > 0 && n < live.len() {
            live.select_nth_unstable(n - 1);
        }
        live.truncate(n);
        live.sort_unstable();
        live.into_iter().map(|(_, _, s)| s).collect()
    }

    /// For each of `slots`, the labels of the `k` nearest live vectors to its vector, itself
    /// excluded, by a scan: two slots against four vectors at a time (`Metric::distance_block`).
    pub(crate) fn exact_excluding(&self, slots: &[u32], k: usize) -> Vec<Vec<u64>> {
        let n = self.labels.len() as u32;
        slots
            .par_chunks(2)
            .flat_map_iter(|pair| {
                let (a, b) = (pair[0], pair[pair.len() - 1]);
                let (wa, wb) = (self.widened(a), self.widened(b));
                let qs: [&[f32]; 2] = [&wa, &wb];
                let mut heaps = [BinaryHeap::with_capacity(k + 1), BinaryHeap::with_capacity(k + 1)];
                let mut offer = |h: usize, o: u32, d: f32| {
                    let heap: &mut BinaryHeap<Neighbor> = &mut heaps[h];
                    if o != pair[h.min(pair.len() - 1)] && !self.deleted[o as usize] {
                        if heap.len() < k {
                            heap.push(Neighbor { dist: d, id: o });
                        } else if heap.peek().is_some_and(|w| Neighbor { dist: d, id: o } < *w) {
                            heap.pop();
                            heap.push(Neighbor { dist: d, id: o });
                        }
                    }
                };
                let mut o = 0;
                while o + 4 <= n {
                    let d = self.dist4(qs, [o, o + 1, o + 2, o + 3]);
                    for (h, row) in d.iter().enumerate() {
                        for (j, &dj) in row.iter().enumerate() {
                            offer(h, o + j as u32, dj);
                        }
                    }
                    o += 4;
                }
                for o in o..n {
                    for (h, q) in qs.iter().enumerate() {
                        offer(h, o, self.dist(q, o));
                    }
                }
                let [ha, hb] = heaps;
                let labels = |h: BinaryHeap<Neighbor>| -> Vec<u64> {
                    h.into_sorted_vec().into_iter().map(|x| self.labels[x.id as usize]).collect()
                };
                if a == b {
                    vec![labels(ha)]
                } else {
                    vec![labels(ha), labels(hb)]
                }
            })
            .collect()
    }

    /// The nodes whose level-0 lists link to each of `slots` (one scan of level 0).
    pub(crate) fn in_links(&self, slots: &[u32]) -> Vec<Vec<u32>> {
        let at: HashMap<u32, usize> = slots.iter().enumerate().map(|(i, &s)| (s, i)).collect();
        let pairs: Vec<(usize, u32)> = (0..self.labels.len() as u32)
            .into_par_iter()
            .fold(
                || (Vec::new(), Vec::new()),
                |(mut acc, mut links), v| {
                    self.neighbours(v, 0, &mut links);
                    acc.extend(links.iter().filter_map(|x| at.get(x).map(|&i| (i, v))));
                    (acc, links)
                },
            )
            .flat_map_iter(|(acc, _)| acc)
            .collect();
        let mut out = vec![Vec::new(); slots.len()];
        for (i, v) in pairs {
            out[i].push(v);
        }
        out
    }

    /// Slot `s` held out of the graph for a recall probe, as if it had never been inserted.
    /// Probes are inserted after the rest of their batch (`is_probe`), so what is left of `s` in
    /// the graph are the links to it from the nodes it was linked back from (`linking`, from
    /// [`HnswIndex::in_links`]) and from later probes. A list that had room took `s` on its end:
    /// without it, it is the list from before. A full list made room by pruning, by the
    /// heuristic, nodes near `s`: without `s`, its free places take the nearest of the nodes
    /// `s` links or is linked from.
    pub(crate) fn held_out(&self, s: u32, linking: &[u32]) -> HeldOut {
        let mut around = Vec::new();
        self.neighbours(s, 0, &mut around);
        around.extend_from_slice(linking);
        around.sort_unstable();
        around.dedup();
        around.retain(|&v| v != s);
        let mut links = Vec::new();
        let repaired = linking
            .iter()
            .filter(|&&u| u != s)
            .map(|&u| {
                self.neighbours(u, 0, &mut links);
                let full = links.len() >= self.m0;
                links.retain(|&x| x != s);
                if full {
                    let uv = self.widened(u);
                    let mut near: Vec<Neighbor> = around
                        .iter()
                        .filter(|&&c| c != u && !links.contains(&c))
                        .map(|&c| Neighbor { dist: self.dist(&uv, c), id: c })
                        .collect();
                    near.sort_unstable();
                    let room = self.m0 - links.len();
                    links.extend(near.iter().take(room).map(|n| n.id));
                }
                (u, links.clone())
            })
            .collect();
        HeldOut { slot: s, repaired }
    }

    /// The labels the graph search at `ef` finds for the held-out probe's vector: the probe as a
    /// vector the index does not hold. A probe searched with itself in the graph would reach its
    /// own neighbour list at once and overstate the recall of new queries; one searched with
    /// only its node skipped would meet holes where the build pruned links in its favour and
    /// understate it (by 0.04 at small `ef` on 50k clustered vectors).
    pub(crate) fn search_held_out(&self, h: &HeldOut, k: usize, ef: usize) -> Vec<u64> {
        let Some((ep, top)) = self.entry else { return Vec::new() };
        let qv = self.widened(h.slot);
        let any_deleted = self.live < self.labels.len();
        let accept = |o: u32| !self.deleted[o as usize];
        let acc: Option<&dyn Fn(u32) -> bool> = if any_deleted { Some(&accept) } else { None };
        let eps = [self.descend(&qv, ep, top, 1, Some(h.slot))];
        let found = self.search_layer(&qv, &eps, (ef, k), 0, acc, Some(h));
        found.into_iter().take(k).map(|n| self.labels[n.id as usize]).collect()
    }

    /// The greedy descent from entry point `ep` through levels `top` down to `bottom` (none when
    /// `bottom > top`): the closest node it reaches, never `skip` (when the entry point is `skip`,
    /// the descent starts at its first neighbour on the top level, or on level 0).
    fn descend(&self, qv: &[f32], ep: u32, top: usize, bottom: usize, skip: Option<u32>) -> Neighbor {
        let mut buf = Vec::with_capacity(self.m0);
        let mut cur = ep;
        if skip == Some(ep) {
            self.neighbours(ep, top, &mut buf);
            if buf.is_empty() {
                self.neighbours(ep, 0, &mut buf);
            }
            cur = buf.first().copied().unwrap_or(ep);
        }
        let mut cur_d = self.dist(qv, cur);
        for l in (bottom..=top).rev() {
            loop {
                let mut changed = false;
                self.neighbours(cur, l, &mut buf);
                for &nb in &buf {
                    if Some(nb) == skip {
                        continue;
                    }
                    let d = self.dist(qv, nb);
                    if d < cur_d {
                        (cur, cur_d) = (nb, d);
                        changed = true;
                    }
                }
                if !changed {
                    break;
                }
            }
        }
        Neighbor { dist: cur_d, id: cur }
    }

    /// The fraction of a seeded sample of live vectors that `filter` accepts.
    fn filter_fraction(&self, filter: Option<Filter<'_>>) -> f64 {
        let Some(f) = filter else { return 1.0 };
        let n = self.labels.len();
        let sample = 1000.min(n);
        let mut live = 0usize;
        let mut pass = 0usize;
        for i in 0..sample {
            let s = (splitmix(i as u64 ^ 0x5EED) % n as u64) as usize;
            if !self.deleted[s] {
                live += 1;
                pass += f(self.labels[s]) as usize;
            }
        }
        if live == 0 {
            0.0
        } else {
            pass as f64 / live as f64
        }
    }

    /// Removes a label (a tombstone: still traversed, never returned; the next new vector takes
    /// its slot, or `compact` drops it).
    pub fn delete(&mut self, label: u64) -> bool {
        self.curves.get_mut().unwrap_or_else(|p| p.into_inner()).clear();
        match self.slots.remove(&label) {
            Some(s) => {
                self.deleted[s as usize] = true;
                self.free.push(s);
                self.live -= 1;
                true
            }
            None => false,
        }
    }

    /// Rebuilds the index from its live vectors (dropping tombstones).
    pub fn compact(&mut self) -> Result<()> {
        let live: Vec<usize> = (0..self.labels.len()).filter(|&s| !self.deleted[s]).collect();
        let mut data = Vec::with_capacity(live.len() * self.dim);
        for &s in &live {
            data.extend_from_slice(&self.widened(s as u32));
        }
        let labels: Vec<u64> = live.iter().map(|&s| self.labels[s]).collect();
        let mut fresh = HnswIndex::with_storage(self.dim, self.metric, self.params, self.storage)?;
        if !labels.is_empty() {
            fresh.add(&Vectors::from_row_major(data, self.dim)?, Some(&labels))?;
        }
        *self = fresh;
        Ok(())
    }
}
