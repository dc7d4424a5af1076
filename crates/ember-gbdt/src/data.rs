//! Training and prediction inputs: a dense row-major `f32` feature matrix (NaN = missing), labels
//! and optional sample weights, from `ndarray`, Arrow record batches or ember frames.
use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::buffer::ScalarBuffer;
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float32Type};
use ember_core::{DataFrame, Error, Result};
use ndarray::{Array2, ArrayView1, ArrayView2};

/// Features (row-major, `rows * cols`, NaN for missing), with their names. The values are an
/// Arrow buffer, so a caller's matrix (a NumPy array through DLPack, an Arrow array) can be
/// trained on and predicted from without a copy.
#[derive(Debug, Clone)]
pub struct Features {
    pub(crate) values: ScalarBuffer<f32>,
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    pub(crate) names: Vec<String>,
}

impl Features {
    /// From a matrix of any layout (copied into row-major order).
    pub fn from_ndarray(x: ArrayView2<'_, f32>) -> Features {
        let (rows, cols) = x.dim();
        // `iter` walks in logical (row-major) order whatever the memory layout.
        let values = match x.as_slice() {
            Some(s) => s.to_vec().into(),
            None => x.iter().copied().collect(),
        };
        Features { values, rows, cols, names: (0..cols).map(|i| format!("f{i}")).collect() }
    }

    /// From row-major values.
    pub fn from_row_major(values: Vec<f32>, rows: usize, cols: usize) -> Result<Features> {
        Features::from_buffer(values.into(), rows, cols)
    }

    /// From row-major values in an Arrow buffer, shared without a copy (the Python package
    /// trains on a NumPy matrix this way).
    ///
    /// ```
    /// use ember_gbdt::Features;
    /// let buffer = arrow::buffer::ScalarBuffer::from(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]);
    /// let x = Features::from_buffer(buffer.clone(), 3, 2)?;
    /// assert_eq!(x.values().as_ptr(), buffer.as_ptr()); // the same memory
    /// assert!(Features::from_buffer(buffer, 4, 2).is_err());
    /// # Ok::<(), ember_core::Error>(())
    /// ```
    pub fn from_buffer(values: ScalarBuffer<f32>, rows: usize, cols: usize) -> Result<Features> {
        if Some(values.len()) != rows.checked_mul(cols) {
            return Err(Error::InvalidArgument(format!("{} values for {rows} x {cols} features", values.len())));
        }
        Ok(Features { values, rows, cols, names: (0..cols).map(|i| format!("f{i}")).collect() })
    }

    /// The named columns of a record batch (numeric or boolean; nulls become NaN).
    ///
    /// Each column is written straight into the row-major matrix (no f32 copy of every column
    /// first: the peak is the matrix plus one column's cast).
    pub fn from_batch(batch: &RecordBatch, columns: &[&str]) -> Result<Features> {
        let (rows, cols) = (batch.num_rows(), columns.len());
        let mut values = vec![0f32; rows * cols];
        for (c, name) in columns.iter().enumerate() {
            let idx = batch.schema().index_of(name).map_err(|_| Error::ColumnNotFound {
                name: name.to_string(),
                available: column_names(batch).join(", "),
            })?;
            let f = as_f32(batch.column(idx).as_ref(), name)?;
            let f = f.as_primitive::<Float32Type>();
            let at = values.iter_mut().skip(c).step_by(cols.max(1));
            match f.nulls().filter(|n| n.null_count() > 0) {
                None => at.zip(f.values().iter()).for_each(|(v, &x)| *v = x),
                Some(n) => at.zip(f.values().iter().zip(n.iter())).for_each(|(v, (&x, ok))| {
                    *v = if ok { x } else { f32::NAN };
                }),
            }
        }
        Ok(Features { values: values.into(), rows, cols, names: columns.iter().map(|s| s.to_string()).collect() })
    }

    /// Every column of a frame except `exclude` (the label, a weight column), downloaded from its
    /// device if needed.
    pub fn from_frame(df: &DataFrame, exclude: &[&str]) -> Result<Features> {
        let batch = df.to_record_batch()?;
        let names: Vec<String> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .filter(|n| !exclude.contains(&n.as_str()))
            .collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        Features::from_batch(&batch, &refs)
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns (features).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Feature names (`f0`, `f1`, ... unless the source had names).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The row-major values.
    pub fn values(&self) -> &[f32] {
        &self.values[..]
    }

    /// As an `ndarray` view.
    pub fn view(&self) -> ArrayView2<'_, f32> {
        ArrayView2::from_shape((self.rows, self.cols), &self.values).expect("shape matches by construction")
    }
}

fn column_names(batch: &RecordBatch) -> Vec<String> {
    batch.schema().fields().iter().map(|f| f.name().clone()).collect()
}

/// One column cast to `Float32` (no copy when it already is); a type error names it.
fn as_f32(array: &dyn Array, name: &str) -> Result<ArrayRef> {
    let ok = array.data_type().is_numeric() || matches!(array.data_type(), DataType::Boolean);
    if !ok {
        return Err(Error::Type {
            op: format!("gbdt input {name:?}"),
            message: format!("expected a numeric or boolean column, found {}", array.data_type()),
        });
    }
    Ok(cast(array, &DataType::Float32)?)
}

/// One column as `f32` values, nulls as NaN.
pub(crate) fn to_f32(array: &dyn Array, name: &str) -> Result<Vec<f32>> {
    let cast = as_f32(array, name)?;
    let f = cast.as_primitive::<Float32Type>();
    Ok((0..f.len()).map(|i| if f.is_null(i) { f32::NAN } else { f.value(i) }).collect())
}

/// A training set: features, labels and optional weights.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub(crate) x: Features,
    pub(crate) y: Vec<f32>,
    pub(crate) w: Option<Vec<f32>>,
}

impl Dataset {
    /// Features with their labels; rejects a length mismatch and missing or infinite labels.
    pub fn new(x: Features, y: Vec<f32>) -> Result<Dataset> {
        if y.len() != x.rows {
            return Err(Error::LengthMismatch { context: "gbdt labels".into(), expected: x.rows, actual: y.len() });
        }
        if let Some(i) = y.iter().position(|v| !v.is_finite()) {
            return Err(Error::InvalidArgument(format!("label of row {i} is {} (labels must be finite)", y[i])));
        }
        Ok(Dataset { x, y, w: None })
    }

    /// From `ndarray` views.
    pub fn from_ndarray(x: ArrayView2<'_, f32>, y: ArrayView1<'_, f32>) -> Result<Dataset> {
        Dataset::new(Features::from_ndarray(x), y.to_vec())
    }

    /// From a frame: `label` is the target, every other column (but `weight`, if given) a feature.
    pub fn from_frame(df: &DataFrame, label: &str, weight: Option<&str>) -> Result<Dataset> {
        let mut exclude = vec![label];
        exclude.extend(weight);
        let x = Features::from_frame(df, &exclude)?;
        let batch = df.select(&[label])?.to_record_batch()?;
        let y = to_f32(batch.column(0).as_ref(), label)?;
        let ds = Dataset::new(x, y)?;
        match weight {
            Some(w) => {
                let batch = df.select(&[w])?.to_record_batch()?;
                ds.with_weights(to_f32(batch.column(0).as_ref(), w)?)
            }
            None => Ok(ds),
        }
    }

    /// Sample weights (non-negative, finite, one per row).
    pub fn with_weights(mut self, w: Vec<f32>) -> Result<Dataset> {
        if w.len() != self.x.rows {
            return Err(Error::LengthMismatch {
                context: "gbdt weights".into(),
                expected: self.x.rows,
                actual: w.len(),
            });
        }
        if let Some(i) = w.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
            return Err(Error::InvalidArgument(format!(
                "weight of row {i} is {} (weights must be finite and >= 0)",
                w[i]
            )));
        }
        self.w = Some(w);
        Ok(self)
    }

    /// The features.
    pub fn features(&self) -> &Features {
        &self.x
    }

    /// The labels.
    pub fn labels(&self) -> &[f32] {
        &self.y
    }

    /// The weights, if any.
    pub fn weights(&self) -> Option<&[f32]> {
        self.w.as_deref()
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.x.rows
    }

    /// Owned copy of the features as an `ndarray` matrix.
    pub fn to_ndarray(&self) -> Array2<f32> {
        self.x.view().to_owned()
    }
}

impl Dataset {
    /// A seeded synthetic binary set for benchmarks and trials: `rows` x 28 features (sums of
    /// uniforms, 5% missing), labels from a logistic function of the first 12 with logistic noise.
    /// The same `seed` gives the same set on every machine.
    ///
    /// ```
    /// let ds = ember_gbdt::Dataset::synthetic_binary(1000, 7);
    /// assert_eq!((ds.rows(), ds.features().cols()), (1000, 28));
    /// assert!(ds.labels().iter().all(|y| *y == 0.0 || *y == 1.0));
    /// ```
    pub fn synthetic_binary(rows: usize, seed: u64) -> Dataset {
        let mut s = seed;
        let mut next = move || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) as f32
        };
        let cols = 28;
        let mut x = Vec::with_capacity(rows * cols);
        let mut y = Vec::with_capacity(rows);
        for _ in 0..rows {
            let r: Vec<f32> = (0..cols).map(|_| (next() + next() + next() - 1.5) * 2.0).collect();
            let logit = 1.5 * r[0] - r[1] + 0.8 * r[2] * r[3] + (2.0 * r[4]).sin() + if r[5] > 0.3 { 0.5 } else { 0.0 }
                - 0.7 * r[6].abs()
                + 0.3 * r[7..12].iter().sum::<f32>();
            let u = next().clamp(1e-6, 1.0 - 1e-6);
            y.push((logit + 0.5 * (u / (1.0 - u)).ln() > 0.0) as u8 as f32);
            x.extend(r.into_iter().map(|v| if next() < 0.05 { f32::NAN } else { v }));
        }
        Dataset {
            x: Features { values: x.into(), rows, cols, names: (0..cols).map(|i| format!("f{i}")).collect() },
            y,
            w: None,
        }
    }
}
