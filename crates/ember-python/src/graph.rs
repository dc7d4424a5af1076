//! `ember.graph`: graphs from frames or R-MAT, PageRank, BFS and connected components.
use crate::error::IntoPyResult;
use crate::frame::{device, PyDataFrame};
use crate::run::run;
use ember::graph::{Graph, GraphOptions, MultiEdges, PageRankOptions, Rmat, StopRule};
use ember::Error;
use pyo3::prelude::*;
use std::sync::Arc;

/// A graph over renumbered vertices (`ember.graph.Graph` wraps it).
#[pyclass(name = "PyGraph", module = "ember._ember", frozen)]
#[derive(Debug, Clone)]
pub struct PyGraph {
    g: Arc<Graph>,
}

fn options(directed: bool, multi_edges: &str, vertices: Option<&PyDataFrame>) -> PyResult<GraphOptions> {
    let mut o = if directed { GraphOptions::directed() } else { GraphOptions::undirected() };
    o = o.multi_edges(match multi_edges {
        "collapse" => MultiEdges::Collapse,
        "sum" => MultiEdges::Sum,
        other => {
            return Err(Error::InvalidArgument(format!("multi_edges must be \"collapse\" or \"sum\", got {other:?}")))
                .py()
        }
    });
    if let Some(v) = vertices {
        let col =
            v.df.columns().first().ok_or_else(|| Error::InvalidArgument("vertices: an empty frame".into())).py()?;
        o = o.vertices(col.to_arrow().py()?);
    }
    Ok(o)
}

/// A graph from the `src` / `dst` (and optional `weight`) columns of a frame.
#[pyfunction]
#[pyo3(signature = (df, src, dst, weight=None, directed=true, multi_edges="collapse", vertices=None))]
#[allow(clippy::too_many_arguments)]
pub fn graph_from_frame(
    py: Python<'_>,
    df: &PyDataFrame,
    src: String,
    dst: String,
    weight: Option<String>,
    directed: bool,
    multi_edges: &str,
    vertices: Option<&PyDataFrame>,
) -> PyResult<PyGraph> {
    let o = options(directed, multi_edges, vertices)?;
    let df = df.df.clone();
    let g = run(py, move || Graph::from_frame(&df, &src, &dst, weight.as_deref(), &o))?;
    Ok(PyGraph { g: Arc::new(g) })
}

/// A seeded Graph500 R-MAT graph (`2^scale` vertices, ids `0..2^scale`).
#[pyfunction]
#[pyo3(signature = (scale, edge_factor=16, seed=1, directed=true))]
pub fn graph_rmat(py: Python<'_>, scale: u32, edge_factor: u32, seed: u64, directed: bool) -> PyResult<PyGraph> {
    if scale > 30 {
        return Err(Error::InvalidArgument(format!("R-MAT scale {scale} is above 30"))).py();
    }
    let r = Rmat { edge_factor, ..Rmat::graph500(scale, seed) };
    let o = if directed { GraphOptions::directed() } else { GraphOptions::undirected() };
    let g = run(py, move || {
        let (s, d) = r.edges();
        Graph::from_dense_edges(r.num_vertices(), &s, &d, None, &o)
    })?;
    Ok(PyGraph { g: Arc::new(g) })
}

#[pymethods]
impl PyGraph {
    #[getter]
    fn num_vertices(&self) -> usize {
        self.g.num_vertices()
    }

    #[getter]
    fn num_edges(&self) -> usize {
        self.g.num_edges()
    }

    #[getter]
    fn directed(&self) -> bool {
        self.g.is_directed()
    }

    #[getter]
    fn weighted(&self) -> bool {
        self.g.is_weighted()
    }

    /// PageRank: `(frame (vertex, pagerank), iterations, last L1 change)`.
    #[pyo3(signature = (alpha=0.85, max_iter=100, tol=1e-6, l1_tol=None, personalization=None, dangling=None, nstart=None, weighted=true, device_name=None))]
    #[allow(clippy::too_many_arguments)]
    fn pagerank(
        &self,
        py: Python<'_>,
        alpha: f64,
        max_iter: usize,
        tol: f64,
        l1_tol: Option<f64>,
        personalization: Option<Vec<(i64, f64)>>,
        dangling: Option<Vec<(i64, f64)>>,
        nstart: Option<Vec<(i64, f64)>>,
        weighted: bool,
        device_name: Option<&str>,
    ) -> PyResult<(PyDataFrame, usize, f64)> {
        let d = device(device_name)?;
        let stop = match l1_tol {
            Some(t) => StopRule::L1 { tol: t },
            None => StopRule::NetworkX { tol },
        };
        let o = PageRankOptions { alpha, max_iter, stop, personalization, dangling, nstart, weighted };
        let g = self.g.clone();
        let (df, it, res) = run(py, move || {
            let pr = g.pagerank(&o, d)?;
            Ok((pr.to_frame()?, pr.iterations, pr.residual))
        })?;
        Ok((PyDataFrame { df }, it, res))
    }

    /// BFS from `source`: a frame (vertex, distance, parent).
    #[pyo3(signature = (source, device_name=None))]
    fn bfs(&self, py: Python<'_>, source: i64, device_name: Option<&str>) -> PyResult<PyDataFrame> {
        let d = device(device_name)?;
        let g = self.g.clone();
        let df = run(py, move || g.bfs(source, d)?.to_frame())?;
        Ok(PyDataFrame { df })
    }

    /// Connected components (weak for directed graphs): a frame (vertex, component).
    #[pyo3(signature = (device_name=None))]
    fn connected_components(&self, py: Python<'_>, device_name: Option<&str>) -> PyResult<PyDataFrame> {
        let d = device(device_name)?;
        let g = self.g.clone();
        let df = run(py, move || g.connected_components(d)?.to_frame())?;
        Ok(PyDataFrame { df })
    }
}
