//! # ember-graph
//!
//! Graph analytics on the CPU engine and the GPU path (CUDA and the simulated device):
//! PageRank (uniform or personalized, weighted, networkx's stopping rule or an absolute L1
//! tolerance), direction-optimising BFS and Afforest connected components, on graphs built from
//! Arrow / ember edge columns with arbitrary integer ids (renumbered to dense indices and back in
//! every output frame), plus a seeded R-MAT / Graph500 generator.
//!
//! BFS distances and parents and component labels are deterministic and equal on every device;
//! PageRank is f64 on the CPU (networkx's answer to ~1e-15) and f32 with f64 reductions on the GPU.
//!
//! ```
//! use arrow::array::{ArrayRef, Int32Array};
//! use ember_core::Device;
//! use ember_graph::{Graph, GraphOptions, PageRankOptions};
//! use std::sync::Arc;
//!
//! let src: ArrayRef = Arc::new(Int32Array::from(vec![100, 200, 300, 300, 400]));
//! let dst: ArrayRef = Arc::new(Int32Array::from(vec![200, 300, 100, 400, 100]));
//! let g = Graph::from_edges(&src, &dst, None, &GraphOptions::directed())?;
//! let pr = g.pagerank(&PageRankOptions::default(), Device::Cpu)?.to_frame()?;
//! assert_eq!(pr.num_rows(), 4);
//! let bfs = g.bfs(100, Device::Cpu)?;
//! assert_eq!(bfs.distances, vec![0, 1, 2, 3]); // 100 -> 200 -> 300 -> 400
//! assert_eq!(g.connected_components(Device::Cpu)?.count(), 1);
//! # Ok::<(), ember_core::Error>(())
//! ```
#![warn(missing_docs)]

mod bfs;
mod cc;
mod gpu;
mod graph;
mod ids;
mod pagerank;
mod rmat;

pub use bfs::{Bfs, NO_PARENT, UNREACHED};
pub use cc::Components;
pub use graph::{Adjacency, Graph, GraphOptions, MultiEdges};
pub use pagerank::{PageRank, PageRankOptions, StopRule};
pub use rmat::Rmat;
