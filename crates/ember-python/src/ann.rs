//! `ember.ann`: exact and HNSW nearest-neighbour indexes. Vectors cross as little-endian bytes
//! (NumPy's `tobytes()` of a C-contiguous float32 matrix) with their dimension; results come back
//! as bytes of u64 labels and f32 distances (`np.frombuffer` on the Python side).
use crate::error::IntoPyResult;
use crate::frame::device;
use crate::run::run;
use ember::ann::{FlatIndex, HnswIndex, HnswParams, Metric, RecallTarget, SearchResult, Storage, Vectors};
use ember::{Device, Error};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::collections::HashSet;
use std::sync::{Arc, RwLock};

fn vectors(bytes: &[u8], dim: usize) -> PyResult<Vectors> {
    if !bytes.len().is_multiple_of(4) {
        return Err(Error::InvalidArgument("vector bytes are not whole float32 values".into())).py();
    }
    let v: Vec<f32> = bytes.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))).collect();
    Vectors::from_row_major(v, dim).py()
}

fn labels_of(bytes: Option<&[u8]>) -> Option<Vec<u64>> {
    bytes.map(|b| b.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes"))).collect())
}

fn result_bytes<'py>(py: Python<'py>, r: &SearchResult) -> (Bound<'py, PyBytes>, Bound<'py, PyBytes>) {
    let labels: Vec<u8> = r.labels.iter().flat_map(|l| l.to_le_bytes()).collect();
    let dists: Vec<u8> = r.distances.iter().flat_map(|d| d.to_le_bytes()).collect();
    (PyBytes::new(py, &labels), PyBytes::new(py, &dists))
}

type Index<T> = Arc<RwLock<T>>;

fn read<T>(i: &Index<T>) -> std::sync::RwLockReadGuard<'_, T> {
    i.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(i: &Index<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    i.write().unwrap_or_else(|e| e.into_inner())
}

/// `add` of either index: bytes to vectors, then the index's own `add` without the GIL.
fn add_batch<T: Send + Sync + 'static>(
    py: Python<'_>,
    idx: &Index<T>,
    dim: usize,
    data: &[u8],
    labels: Option<&[u8]>,
    add: fn(&mut T, &Vectors, Option<&[u64]>) -> ember::Result<()>,
) -> PyResult<()> {
    let v = vectors(data, dim)?;
    let labels = labels_of(labels);
    let idx = idx.clone();
    run(py, move || add(&mut write(&idx), &v, labels.as_deref()))
}

/// `"f32"` or `"f16"`.
fn parse_storage(s: &str) -> PyResult<Storage> {
    match s {
        "f32" => Ok(Storage::F32),
        "f16" => Ok(Storage::F16),
        other => Err(Error::InvalidArgument(format!("storage {other:?} (\"f32\" or \"f16\")"))).py(),
    }
}

/// An exact index.
#[pyclass(name = "PyFlatIndex", module = "ember._ember", frozen)]
#[derive(Debug)]
pub struct PyFlatIndex {
    idx: Index<FlatIndex>,
}

#[pymethods]
impl PyFlatIndex {
    #[new]
    #[pyo3(signature = (dim, metric, storage="f32"))]
    fn new(dim: usize, metric: &str, storage: &str) -> PyResult<Self> {
        let idx = FlatIndex::with_storage(dim, Metric::parse(metric).py()?, parse_storage(storage)?).py()?;
        Ok(PyFlatIndex { idx: Arc::new(RwLock::new(idx)) })
    }

    #[staticmethod]
    #[pyo3(signature = (path, mmap=false))]
    fn load(py: Python<'_>, path: String, mmap: bool) -> PyResult<Self> {
        let idx = run(py, move || if mmap { FlatIndex::load_mapped(&path) } else { FlatIndex::load(&path) })?;
        Ok(PyFlatIndex { idx: Arc::new(RwLock::new(idx)) })
    }

    fn save(&self, py: Python<'_>, path: String) -> PyResult<()> {
        let idx = self.idx.clone();
        run(py, move || read(&idx).save(&path))
    }

    #[getter]
    fn is_mapped(&self) -> bool {
        read(&self.idx).is_mapped()
    }

    #[pyo3(signature = (data, labels=None))]
    fn add(&self, py: Python<'_>, data: &[u8], labels: Option<&[u8]>) -> PyResult<()> {
        add_batch(py, &self.idx, self.dim(), data, labels, |i, v, l| i.add(v, l))
    }

    fn delete(&self, label: u64) -> bool {
        write(&self.idx).delete(label)
    }

    fn __len__(&self) -> usize {
        read(&self.idx).len()
    }

    #[getter]
    fn dim(&self) -> usize {
        read(&self.idx).dim()
    }

    #[pyo3(signature = (queries, k, allowed=None, device_name=None))]
    fn search<'py>(
        &self,
        py: Python<'py>,
        queries: &[u8],
        k: usize,
        allowed: Option<&[u8]>,
        device_name: Option<&str>,
    ) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyBytes>)> {
        let d = device(device_name)?;
        let q = vectors(queries, read(&self.idx).dim())?;
        let allowed: Option<HashSet<u64>> = labels_of(allowed).map(|v| v.into_iter().collect());
        let idx = self.idx.clone();
        let r = run(py, move || {
            let f = allowed.as_ref().map(|set| move |l: u64| set.contains(&l));
            read(&idx).search(&q, k, f.as_ref().map(|f| f as &(dyn Fn(u64) -> bool + Sync)), d)
        })?;
        Ok(result_bytes(py, &r))
    }
}

/// An HNSW index.
#[pyclass(name = "PyHnswIndex", module = "ember._ember", frozen)]
#[derive(Debug)]
pub struct PyHnswIndex {
    idx: Index<HnswIndex>,
}

#[pymethods]
impl PyHnswIndex {
    #[new]
    #[pyo3(signature = (dim, metric, m=16, ef_construction=200, seed=100, storage="f32"))]
    fn new(dim: usize, metric: &str, m: usize, ef_construction: usize, seed: u64, storage: &str) -> PyResult<Self> {
        let params = HnswParams { m, ef_construction, seed };
        let idx = HnswIndex::with_storage(dim, Metric::parse(metric).py()?, params, parse_storage(storage)?).py()?;
        Ok(PyHnswIndex { idx: Arc::new(RwLock::new(idx)) })
    }

    #[staticmethod]
    #[pyo3(signature = (path, mmap=false))]
    fn load(py: Python<'_>, path: String, mmap: bool) -> PyResult<Self> {
        let idx = run(py, move || if mmap { HnswIndex::load_mapped(&path) } else { HnswIndex::load(&path) })?;
        Ok(PyHnswIndex { idx: Arc::new(RwLock::new(idx)) })
    }

    fn save(&self, py: Python<'_>, path: String) -> PyResult<()> {
        let idx = self.idx.clone();
        run(py, move || read(&idx).save(&path))
    }

    #[pyo3(signature = (data, labels=None))]
    fn add(&self, py: Python<'_>, data: &[u8], labels: Option<&[u8]>) -> PyResult<()> {
        add_batch(py, &self.idx, self.dim(), data, labels, |i, v, l| i.add(v, l))
    }

    fn delete(&self, label: u64) -> bool {
        write(&self.idx).delete(label)
    }

    fn compact(&self, py: Python<'_>) -> PyResult<()> {
        let idx = self.idx.clone();
        run(py, move || write(&idx).compact())
    }

    fn __len__(&self) -> usize {
        read(&self.idx).len()
    }

    #[getter]
    fn dim(&self) -> usize {
        read(&self.idx).dim()
    }

    #[getter]
    fn memory_bytes(&self) -> usize {
        read(&self.idx).memory_bytes()
    }

    #[getter]
    fn is_mapped(&self) -> bool {
        read(&self.idx).is_mapped()
    }

    /// With `target_recall`, `ef` is chosen by the index's recall curve (`ef` ignored; on a GPU
    /// capped at the graph search's longest list), `confidence` the share of batches that should
    /// reach it (`RecallTarget`). `device_name`: the CPU engine or the GPU path
    /// (`HnswIndex::search_on`).
    #[pyo3(signature = (queries, k, ef=64, allowed=None, target_recall=None, device_name=None, confidence=0.95))]
    #[allow(clippy::too_many_arguments)]
    fn search<'py>(
        &self,
        py: Python<'py>,
        queries: &[u8],
        k: usize,
        ef: usize,
        allowed: Option<&[u8]>,
        target_recall: Option<f64>,
        device_name: Option<&str>,
        confidence: f64,
    ) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyBytes>)> {
        let d = device(device_name)?;
        let q = vectors(queries, read(&self.idx).dim())?;
        let allowed: Option<HashSet<u64>> = labels_of(allowed).map(|v| v.into_iter().collect());
        let idx = self.idx.clone();
        let r = run(py, move || {
            let f = allowed.as_ref().map(|set| move |l: u64| set.contains(&l));
            let f = f.as_ref().map(|f| f as &(dyn Fn(u64) -> bool + Sync));
            let i = read(&idx);
            match (target_recall.map(|t| RecallTarget::batches(t, confidence)), d) {
                (Some(t), Device::Cpu) => i.search_with_recall(&q, k, t, f).map(|(r, _)| r),
                (Some(t), _) => {
                    let ef = if k == 0 || i.len() < 2 { k } else { i.ef_for_recall(k, t, q.len())?.ceil() as usize };
                    i.search_on(&q, k, ef.min(i.gpu_max_ef()).max(k), f, d)
                }
                (None, _) => i.search_on(&q, k, ef, f, d),
            }
        })?;
        Ok(result_bytes(py, &r))
    }

    /// `(ef, mean recall@k)` of the index's measured recall curve.
    fn recall_curve(&self, py: Python<'_>, k: usize) -> PyResult<Vec<(usize, f64)>> {
        let idx = self.idx.clone();
        run(py, move || read(&idx).recall_curve(k))
    }

    /// The `ef` a batch of `batch` queries would get for `target_recall` at `confidence`
    /// (fractional: a share of the batch takes the next integer).
    #[pyo3(signature = (k, target_recall, batch, confidence=0.95))]
    fn ef_for_recall(
        &self,
        py: Python<'_>,
        k: usize,
        target_recall: f64,
        batch: usize,
        confidence: f64,
    ) -> PyResult<f64> {
        let idx = self.idx.clone();
        run(py, move || read(&idx).ef_for_recall(k, RecallTarget::batches(target_recall, confidence), batch))
    }
}
