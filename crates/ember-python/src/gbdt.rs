//! `ember.gbdt`: training, prediction and XGBoost JSON for gradient-boosted trees.
use crate::error::IntoPyResult;
use crate::frame::{device, PyDataFrame};
use crate::run::run;
use arrow::array::AsArray;
use arrow::datatypes::Float32Type;
use ember::gbdt::{
    train, train_distributed, Collective, Cuts, Dataset, Features, Importance, Metric, Model, Objective, Params,
    PredictOptions, Sketch,
};
use ember::Error;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use std::collections::BTreeMap;

/// A trained or imported model.
#[pyclass(name = "GbdtModel", module = "ember._ember", frozen)]
#[derive(Debug, Clone)]
pub struct PyGbdtModel {
    model: Model,
}

fn params_from(objective: &str, num_class: Option<usize>, kw: Option<&Bound<'_, PyDict>>) -> PyResult<Params> {
    let mut p = Params::new(Objective::parse(objective, num_class).py()?);
    let Some(kw) = kw else { return Ok(p) };
    for (k, v) in kw.iter() {
        let key: String = k.extract()?;
        match key.as_str() {
            "rounds" | "num_boost_round" | "n_estimators" => p.rounds = v.extract()?,
            "max_depth" => p.max_depth = v.extract()?,
            "eta" | "learning_rate" => p.eta = v.extract()?,
            "lambda" | "reg_lambda" => p.lambda = v.extract()?,
            "alpha" | "reg_alpha" => p.alpha = v.extract()?,
            "gamma" | "min_split_loss" => p.gamma = v.extract()?,
            "min_child_weight" => p.min_child_weight = v.extract()?,
            "max_bin" => p.max_bin = v.extract()?,
            "subsample" => p.subsample = v.extract()?,
            "colsample_bytree" => p.colsample_bytree = v.extract()?,
            "base_score" => p.base_score = v.extract()?,
            "seed" | "random_state" => p.seed = v.extract()?,
            "early_stopping_rounds" => p.early_stopping_rounds = v.extract()?,
            "eval_metric" => {
                let name: Option<String> = v.extract()?;
                p.eval_metric = name.map(|n| Metric::parse(&n)).transpose().py()?;
            }
            "verbose" => p.verbose = v.extract()?,
            other => {
                return Err(Error::InvalidArgument(format!("unknown gbdt parameter {other:?}"))).py();
            }
        }
    }
    Ok(p)
}

/// Trains on `train` (every column but `label` and `weight` is a feature).
#[pyfunction]
#[pyo3(signature = (train_df, label, objective, num_class=None, weight=None, valid=None, device_name=None, params=None))]
#[allow(clippy::too_many_arguments)]
pub fn gbdt_train(
    py: Python<'_>,
    train_df: &PyDataFrame,
    label: String,
    objective: &str,
    num_class: Option<usize>,
    weight: Option<String>,
    valid: Option<&PyDataFrame>,
    device_name: Option<&str>,
    params: Option<&Bound<'_, PyDict>>,
) -> PyResult<PyGbdtModel> {
    let p = params_from(objective, num_class, params)?;
    let d = device(device_name)?;
    let (tdf, vdf) = (train_df.df.clone(), valid.map(|v| v.df.clone()));
    let model = run(py, move || {
        let ds = Dataset::from_frame(&tdf, &label, weight.as_deref())?;
        let vs = vdf.map(|v| Dataset::from_frame(&v, &label, weight.as_deref())).transpose()?;
        train(&ds, vs.as_ref(), &p, d)
    })?;
    Ok(PyGbdtModel { model })
}

/// Row-major f32 features sharing a host tensor's memory: `x` is a 1-D DLPack view of
/// `rows * cols` float32 values (a C-contiguous NumPy matrix's `reshape(-1)`); no copy is made.
fn matrix(x: &Bound<'_, PyAny>, rows: usize, cols: usize) -> PyResult<Features> {
    let a = crate::dlpack::import(x)?;
    let f = a.as_primitive_opt::<Float32Type>().ok_or_else(|| PyTypeError::new_err("features must be float32"))?;
    Features::from_buffer(f.values().clone(), rows, cols).py()
}

/// A 1-D float32 host tensor's values (labels, weights).
fn vector(v: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<f32>> {
    let a = crate::dlpack::import(v)?;
    let f =
        a.as_primitive_opt::<Float32Type>().ok_or_else(|| PyTypeError::new_err(format!("{what} must be float32")))?;
    Ok(f.values().to_vec())
}

/// Trains on arrays: `x` a row-major float32 matrix as a 1-D DLPack view of `rows * cols`
/// values, trained on in place (a NumPy matrix is not copied); `y` and `weight` 1-D float32;
/// `valid` an `(x, rows, y)` of the same kinds. Features are named `f0`, `f1`, ....
#[pyfunction]
#[pyo3(signature = (x, rows, cols, y, objective, num_class=None, weight=None, valid=None, device_name=None, params=None))]
#[allow(clippy::too_many_arguments)]
pub fn gbdt_train_arrays(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    rows: usize,
    cols: usize,
    y: &Bound<'_, PyAny>,
    objective: &str,
    num_class: Option<usize>,
    weight: Option<&Bound<'_, PyAny>>,
    valid: Option<(Bound<'_, PyAny>, usize, Bound<'_, PyAny>)>,
    device_name: Option<&str>,
    params: Option<&Bound<'_, PyDict>>,
) -> PyResult<PyGbdtModel> {
    let p = params_from(objective, num_class, params)?;
    let d = device(device_name)?;
    let mut ds = Dataset::new(matrix(x, rows, cols)?, vector(y, "labels")?).py()?;
    if let Some(w) = weight {
        ds = ds.with_weights(vector(w, "weights")?).py()?;
    }
    let vs = match valid {
        Some((vx, vrows, vy)) => Some(Dataset::new(matrix(&vx, vrows, cols)?, vector(&vy, "labels")?).py()?),
        None => None,
    };
    let model = run(py, move || train(&ds, vs.as_ref(), &p, d))?;
    Ok(PyGbdtModel { model })
}

/// A sketch of the feature columns of `df` (every column but `label` and `weight`) with at
/// most `size` runs per feature, as bytes ([`Sketch::to_bytes`]).
#[pyfunction]
#[pyo3(signature = (df, label, weight, size))]
pub fn gbdt_sketch<'py>(
    py: Python<'py>,
    df: &PyDataFrame,
    label: String,
    weight: Option<String>,
    size: usize,
) -> PyResult<Bound<'py, PyBytes>> {
    let df = df.df.clone();
    let bytes = run(py, move || {
        let ds = Dataset::from_frame(&df, &label, weight.as_deref())?;
        Ok(Sketch::of(ds.features(), size).to_bytes())
    })?;
    Ok(PyBytes::new(py, &bytes))
}

/// The cuts merged from every part's sketch ([`Cuts::from_sketches`]), one list per feature.
#[pyfunction]
pub fn gbdt_cuts_from_sketches(sketches: Vec<Vec<u8>>, max_bin: usize) -> PyResult<Vec<Vec<f32>>> {
    let sketches = sketches.iter().map(|b| Sketch::from_bytes(b)).collect::<ember::Result<Vec<_>>>().py()?;
    let bins = Params { max_bin, ..Params::new(Objective::SquaredError) }.value_bins();
    let cuts = Cuts::from_sketches(&sketches, bins).py()?;
    Ok((0..cuts.features()).map(|f| cuts.feature(f).to_vec()).collect())
}

/// Reductions through a Python callable `allreduce(op, data) -> data`: `op` is `sum_i64`,
/// `sum_f64` or `max_f64`, `data` little-endian bytes of the buffer (what xgboost's collective
/// reduces in `ember.distributed.gbdt`).
struct PyCollective(Py<PyAny>);

impl PyCollective {
    fn reduce<T: bytemuck::Pod>(&self, op: &str, values: &mut [T]) -> ember::Result<()> {
        Python::attach(|py| -> PyResult<()> {
            let data = PyBytes::new(py, bytemuck::cast_slice(values));
            let out = self.0.call1(py, (op, data))?;
            let out: Vec<u8> = out.extract(py)?;
            if out.len() != std::mem::size_of_val(values) {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "allreduce returned {} bytes for {}",
                    out.len(),
                    std::mem::size_of_val(values)
                )));
            }
            bytemuck::cast_slice_mut::<T, u8>(values).copy_from_slice(&out);
            Ok(())
        })
        .map_err(|e| Error::Collective(format!("{op} of {} values: {e}", values.len())))
    }
}

impl Collective for PyCollective {
    fn sum_i64(&self, values: &mut [i64]) -> ember::Result<()> {
        self.reduce("sum_i64", values)
    }
    fn sum_f64(&self, values: &mut [f64]) -> ember::Result<()> {
        self.reduce("sum_f64", values)
    }
    fn max_f64(&self, values: &mut [f64]) -> ember::Result<()> {
        self.reduce("max_f64", values)
    }
}

/// One process of a data-parallel training on `device` (default: the detected one): `train_df`
/// holds rows `offset..` of the whole set, `cuts` every process's cuts, `allreduce` the transport,
/// `valid` this process's eval rows and the offset of the first among all eval rows.
#[pyfunction]
#[pyo3(signature = (train_df, label, objective, cuts, offset, allreduce, num_class=None, weight=None, params=None,
    device=None, valid=None))]
#[allow(clippy::too_many_arguments)]
pub fn gbdt_train_distributed(
    py: Python<'_>,
    train_df: &PyDataFrame,
    label: String,
    objective: &str,
    cuts: Vec<Vec<f32>>,
    offset: u64,
    allreduce: Py<PyAny>,
    num_class: Option<usize>,
    weight: Option<String>,
    params: Option<&Bound<'_, PyDict>>,
    device: Option<&str>,
    valid: Option<(PyRef<'_, PyDataFrame>, u64)>,
) -> PyResult<PyGbdtModel> {
    let p = params_from(objective, num_class, params)?;
    let d = self::device(device)?;
    let valid = valid.map(|(v, at)| (v.df.clone(), at));
    let df = train_df.df.clone();
    let comm = PyCollective(allreduce);
    // On this thread (the GIL released), not on the pool as `run` would: the reductions call
    // back into Python from the thread that trains, and xgboost's communicator belongs to the
    // thread that entered its context.
    let model = py
        .detach(move || {
            let ds = Dataset::from_frame(&df, &label, weight.as_deref())?;
            let vs =
                valid.map(|(v, at)| Dataset::from_frame(&v, &label, weight.as_deref()).map(|v| (v, at))).transpose()?;
            train_distributed(&ds, &Cuts::from_lists(cuts), &p, offset, vs.as_ref().map(|(v, at)| (v, *at)), &comm, d)
        })
        .py()?;
    Ok(PyGbdtModel { model })
}

/// Predictions as little-endian f32 bytes (`rows x groups`) with their shape.
fn predictions<'py>(
    py: Python<'py>,
    shape: (usize, usize),
    values: impl Iterator<Item = f32>,
) -> (Bound<'py, PyBytes>, (usize, usize)) {
    let bytes: Vec<u8> = values.flat_map(|v| v.to_le_bytes()).collect();
    (PyBytes::new(py, &bytes), shape)
}

#[pymethods]
impl PyGbdtModel {
    /// Predictions for the model's feature columns of `df`, as little-endian f32 bytes
    /// (`rows x groups`) with their shape.
    #[pyo3(signature = (df, margin=false, rounds=None, device_name=None))]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        df: &PyDataFrame,
        margin: bool,
        rounds: Option<(usize, usize)>,
        device_name: Option<&str>,
    ) -> PyResult<(Bound<'py, PyBytes>, (usize, usize))> {
        let d = device(device_name)?;
        let (model, df) = (self.model.clone(), df.df.clone());
        let out = run(py, move || {
            let names: Vec<&str> = model.feature_names().iter().map(String::as_str).collect();
            let x = Features::from_batch(&df.to_record_batch()?, &names)?;
            model.predict(&x, PredictOptions { margin, rounds }, d)
        })?;
        Ok(predictions(py, out.dim(), out.iter().copied()))
    }

    /// Predictions for a row-major float32 matrix (`x`: a 1-D DLPack view of `rows * cols`
    /// values, read in place), as `predict` returns them.
    #[pyo3(signature = (x, rows, cols, margin=false, rounds=None, device_name=None))]
    #[allow(clippy::too_many_arguments)]
    fn predict_matrix<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        rows: usize,
        cols: usize,
        margin: bool,
        rounds: Option<(usize, usize)>,
        device_name: Option<&str>,
    ) -> PyResult<(Bound<'py, PyBytes>, (usize, usize))> {
        let d = device(device_name)?;
        let (model, x) = (self.model.clone(), matrix(x, rows, cols)?);
        let out = run(py, move || model.predict(&x, PredictOptions { margin, rounds }, d))?;
        Ok(predictions(py, out.dim(), out.iter().copied()))
    }

    /// XGBoost JSON.
    fn to_json(&self) -> String {
        self.model.to_xgboost_json()
    }

    /// Reads XGBoost JSON.
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<PyGbdtModel> {
        Ok(PyGbdtModel { model: Model::from_xgboost_json(text).py()? })
    }

    /// Importance per feature name.
    fn importance(&self, kind: &str) -> PyResult<BTreeMap<String, f64>> {
        let k = match kind {
            "weight" => Importance::Weight,
            "gain" => Importance::Gain,
            "cover" => Importance::Cover,
            "total_gain" => Importance::TotalGain,
            "total_cover" => Importance::TotalCover,
            other => {
                return Err(Error::InvalidArgument(format!(
                    "importance type {other:?} (weight, gain, cover, total_gain, total_cover)"
                )))
                .py()
            }
        };
        Ok(self.model.importance(k))
    }

    #[getter]
    fn best_iteration(&self) -> Option<usize> {
        self.model.best_iteration()
    }
    #[getter]
    fn best_score(&self) -> Option<f64> {
        self.model.best_score()
    }
    #[getter]
    fn rounds(&self) -> usize {
        self.model.rounds()
    }
    #[getter]
    fn feature_names(&self) -> Vec<String> {
        self.model.feature_names().to_vec()
    }
    #[getter]
    fn objective(&self) -> &'static str {
        self.model.objective().name()
    }
    #[getter]
    fn eval_history(&self) -> Vec<f64> {
        self.model.eval_history().to_vec()
    }
    #[getter]
    fn base_score(&self) -> Vec<f32> {
        self.model.base_score().to_vec()
    }
}
