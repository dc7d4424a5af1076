//! Neighbours ordered by (distance, id), and the search result.
use std::cmp::Ordering;

/// A candidate: distance and internal slot (or label).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Neighbor {
    pub dist: f32,
    pub id: u32,
}

impl Eq for Neighbor {}
impl PartialOrd for Neighbor {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Neighbor {
    fn cmp(&self, o: &Self) -> Ordering {
        self.dist.total_cmp(&o.dist).then(self.id.cmp(&o.id))
    }
}

/// Label of a missing neighbour (fewer than `k` vectors passed the filter).
pub const NO_LABEL: u64 = u64::MAX;

/// `k` neighbours per query, closest first (ties: smaller label first for exact search); rows
/// with fewer matches are padded with [`NO_LABEL`] and `f32::INFINITY`.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchResult {
    /// Neighbours per query.
    pub k: usize,
    /// `queries * k` labels.
    pub labels: Vec<u64>,
    /// `queries * k` distances.
    pub distances: Vec<f32>,
}

impl SearchResult {
    pub(crate) fn new(queries: usize, k: usize) -> SearchResult {
        SearchResult { k, labels: vec![NO_LABEL; queries * k], distances: vec![f32::INFINITY; queries * k] }
    }

    /// The labels of query `q`'s neighbours (padding included).
    pub fn labels_of(&self, q: usize) -> &[u64] {
        &self.labels[q * self.k..(q + 1) * self.k]
    }

    /// Queries.
    pub fn queries(&self) -> usize {
        self.labels.len().checked_div(self.k).unwrap_or(0)
    }

    /// Recall@k against ground-truth labels (`queries * k`, the true neighbours).
    pub fn recall(&self, truth: &[u64]) -> f64 {
        let q = self.queries();
        if q == 0 {
            return 1.0;
        }
        let mut hits = 0usize;
        let mut total = 0usize;
        for i in 0..q {
            let t = &truth[i * self.k..(i + 1) * self.k];
            let got = self.labels_of(i);
            total += t.iter().filter(|&&l| l != NO_LABEL).count();
            hits += t.iter().filter(|&&l| l != NO_LABEL && got.contains(&l)).count();
        }
        if total == 0 {
            1.0
        } else {
            hits as f64 / total as f64
        }
    }
}
