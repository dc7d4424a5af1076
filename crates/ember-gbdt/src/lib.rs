//! # ember-gbdt
//!
//! Histogram gradient-boosted trees (xgboost's `hist` algorithm) on the CPU engine and the GPU
//! path (CUDA and the simulated device), with XGBoost JSON import and export.
//!
//! The model does not depend on the device or the thread count: features are binned once on the
//! host (`cuts.rs`), gradients are quantised to integers with a power-of-two scale each round
//! (`objective.rs`), histograms hold integer sums (exact and order-free, so a sibling is its
//! parent minus the other child), and the tree decisions are made by one piece of host code
//! (`grow.rs`) for every backend (`cpu.rs`, `gpu.rs` + `kernels/gbdt.cu`). The only
//! transcendental function training uses is `math::exp`, written once and mirrored in the
//! kernels.
//!
//! ```
//! use ember_gbdt::{train, Dataset, Features, Model, Objective, Params, PredictOptions};
//! use ember_core::Device;
//!
//! // y = 2 x0 + noise-free step in x1
//! let rows = 500;
//! let x: Vec<f32> = (0..rows * 2).map(|i| ((i * 37) % 101) as f32 / 10.0).collect();
//! let y: Vec<f32> = x.chunks(2).map(|r| 2.0 * r[0] + if r[1] > 5.0 { 3.0 } else { 0.0 }).collect();
//! let ds = Dataset::new(Features::from_row_major(x, rows, 2)?, y)?;
//! let params = Params::new(Objective::SquaredError).rounds(50).max_depth(4);
//! let model = train(&ds, None, &params, Device::Cpu)?;
//! let pred = model.predict(ds.features(), PredictOptions::default(), Device::Cpu)?;
//! let rmse = (pred.column(0).iter().zip(ds.labels()).map(|(p, y)| (p - y).powi(2)).sum::<f32>() / rows as f32).sqrt();
//! assert!(rmse < 0.5, "rmse {rmse}");
//! // XGBoost JSON round trip
//! let again = Model::from_xgboost_json(&model.to_xgboost_json())?;
//! assert_eq!(again.trees(), model.trees());
//! # Ok::<(), ember_core::Error>(())
//! ```
#![warn(missing_docs)]

mod cpu;
mod cuts;
mod data;
mod distributed;
mod gpu;
mod grow;
mod json;
pub mod math;
pub mod metric;
mod model;
mod objective;
mod params;
mod partition;
mod tree;

pub use cuts::{Cuts, Sketch, MISSING};
pub use data::{Dataset, Features};
pub use distributed::{train_distributed, Collective};
pub use model::{train, train_in, Importance, Model, PredictOptions};
pub use params::{Metric, Objective, Params};
pub use tree::Tree;
