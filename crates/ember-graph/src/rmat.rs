//! A seeded R-MAT / Graph500 Kronecker edge generator. Every edge is a pure function of the seed
//! and its index (a counter-based splitmix64 stream), so the output does not depend on the thread
//! count, and any range of edges can be generated alone.
use rayon::prelude::*;

/// R-MAT parameters: `2^scale` vertices, `edge_factor * 2^scale` edges, quadrant probabilities
/// `a`, `b`, `c` (and `d = 1 - a - b - c`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rmat {
    /// log2 of the number of vertices.
    pub scale: u32,
    /// Edges per vertex.
    pub edge_factor: u32,
    /// Top-left quadrant probability.
    pub a: f64,
    /// Top-right quadrant probability.
    pub b: f64,
    /// Bottom-left quadrant probability.
    pub c: f64,
    /// The seed.
    pub seed: u64,
    /// Permute vertex ids (a bijection of `0..2^scale`), as Graph500 does, so that the
    /// high-degree vertices are not the low ids.
    pub scramble: bool,
}

impl Rmat {
    /// Graph500's Kronecker parameters (a = 0.57, b = c = 0.19, edge factor 16, scrambled ids), as
    /// the GAP benchmark suite's `kron` graphs.
    pub fn graph500(scale: u32, seed: u64) -> Rmat {
        Rmat { scale, edge_factor: 16, a: 0.57, b: 0.19, c: 0.19, seed, scramble: true }
    }

    /// Vertices.
    pub fn num_vertices(&self) -> usize {
        1usize << self.scale
    }

    /// Edges generated (before removing duplicates).
    pub fn num_edges(&self) -> usize {
        self.num_vertices() * self.edge_factor as usize
    }

    /// The edges `(src, dst)`, with duplicates and self-loops as drawn.
    ///
    /// ```
    /// let (s, d) = ember_graph::Rmat::graph500(10, 7).edges();
    /// assert_eq!(s.len(), 16 * 1024);
    /// assert!(s.iter().chain(&d).all(|&v| v < 1024));
    /// assert_eq!((s, d), ember_graph::Rmat::graph500(10, 7).edges()); // seeded
    /// ```
    pub fn edges(&self) -> (Vec<u32>, Vec<u32>) {
        assert!(self.scale <= 31, "scale {} exceeds 31 (32-bit vertex indices)", self.scale);
        let ab = self.a + self.b;
        let a_norm = self.a / ab;
        let c_norm = self.c / (1.0 - ab);
        let pairs: Vec<(u32, u32)> = (0..self.num_edges() as u64)
            .into_par_iter()
            .map(|e| {
                let mut state = self.seed ^ e.wrapping_mul(0xD1B5_4A32_D192_ED03);
                let (mut s, mut d) = (0u32, 0u32);
                for _ in 0..self.scale {
                    let r1 = unit(splitmix(&mut state));
                    let r2 = unit(splitmix(&mut state));
                    let down = r1 > ab;
                    let right = if down { r2 > c_norm } else { r2 > a_norm };
                    s = (s << 1) | down as u32;
                    d = (d << 1) | right as u32;
                }
                if self.scramble {
                    (scramble(s, self.scale, self.seed), scramble(d, self.scale, self.seed))
                } else {
                    (s, d)
                }
            })
            .collect();
        pairs.into_iter().unzip()
    }
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn unit(x: u64) -> f64 {
    (x >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A bijection of `0..2^bits`: rounds of odd multiplication and xor-shift, both invertible modulo
/// a power of two.
fn scramble(v: u32, bits: u32, seed: u64) -> u32 {
    if bits == 0 {
        return v;
    }
    let mask = if bits == 32 { u64::MAX >> 32 } else { (1u64 << bits) - 1 };
    let mut x = v as u64;
    for round in 0..3u64 {
        let k = splitmix(&mut (seed ^ round.wrapping_mul(0x9E37_79B9))) | 1;
        x = x.wrapping_mul(k) & mask;
        x ^= x >> bits.div_ceil(2);
        x = (x + (k >> 17)) & mask;
    }
    x as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scramble_is_a_permutation() {
        for bits in [1, 2, 5, 10] {
            let mut seen = vec![false; 1 << bits];
            for v in 0..(1u32 << bits) {
                let s = scramble(v, bits, 42) as usize;
                assert!(!seen[s], "bits {bits}: {v} collides");
                seen[s] = true;
            }
        }
    }

    #[test]
    fn quadrant_frequencies() {
        let r = Rmat { scramble: false, ..Rmat::graph500(12, 3) };
        let (s, d) = r.edges();
        // The top bit of (src, dst) picks the first quadrant: a = 0.57 of the edges in (0, 0).
        let top = 1u32 << 11;
        let a = s.iter().zip(&d).filter(|(&s, &d)| s < top && d < top).count() as f64 / s.len() as f64;
        assert!((a - 0.57).abs() < 0.01, "a = {a}");
        let dd = s.iter().zip(&d).filter(|(&s, &d)| s >= top && d >= top).count() as f64 / s.len() as f64;
        assert!((dd - 0.05).abs() < 0.01, "d = {dd}");
    }
}
