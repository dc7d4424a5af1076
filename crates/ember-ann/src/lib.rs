//! # ember-ann
//!
//! Nearest-neighbour search over `f32` vectors: [`FlatIndex`] (exact, on the CPU engine and the
//! GPU path) and [`HnswIndex`] (a hierarchical navigable small-world graph on the CPU engine),
//! metrics L2, inner product and cosine, labels, deletion, upserts, filters and save / load.
//!
//! ```
//! use ember_ann::{FlatIndex, HnswIndex, HnswParams, Metric, Vectors};
//! use ember_core::Device;
//!
//! let dim = 8;
//! let data: Vec<f32> = (0..1000 * dim).map(|i| ((i * 7919) % 1000) as f32 / 1000.0).collect();
//! let base = Vectors::from_row_major(data, dim)?;
//! let mut hnsw = HnswIndex::new(dim, Metric::L2, HnswParams::default())?;
//! hnsw.add(&base, None)?;
//! let mut flat = FlatIndex::new(dim, Metric::L2)?;
//! flat.add(&base, None)?;
//! let q = Vectors::from_row_major(base.row(42).to_vec(), dim)?;
//! assert_eq!(hnsw.search(&q, 1, 64, None)?.labels[0], 42);
//! assert_eq!(flat.search(&q, 1, None, Device::Cpu)?.labels[0], 42);
//! # Ok::<(), ember_core::Error>(())
//! ```
#![warn(missing_docs)]

mod flat;
mod gpu;
mod hnsw;
mod mapped;
mod metric;
mod recall;
mod topk;
mod vectors;

pub use flat::{Filter, FlatIndex, Storage};
pub use hnsw::{HnswIndex, HnswParams};
pub use metric::{dot, l2, Metric};
pub use recall::RecallTarget;
pub use topk::{SearchResult, NO_LABEL};
pub use vectors::Vectors;
