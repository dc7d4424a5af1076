//! Query answers as plain rows, whichever engine computed them: the runner checks that the
//! engines agree and writes each answer as CSV.
//!
//! The rule (printed in every report, see [`RULE`]): integers, strings, dates and booleans are
//! equal exactly; two decimals of the same scale are equal exactly; any other pair of numbers
//! (floats, or decimals of different scales: polars rounds a decimal product to the operands'
//! scale, ember keeps the exact scale) is equal within a relative 1e-6. Answers of queries whose
//! `ORDER BY` keys may tie are compared as sorted rows.
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{self as at, DataType as ArrowType};
use ember::prelude::{Error, Result};
use polars::prelude as pl;
use std::fmt::Write as _;

/// The answer-check rule, as the reports state it.
pub const RULE: &str = "integers, strings and dates exactly; decimals of the same scale exactly; \
    floats, and decimals of different scales (polars rounds decimal products to the operands' scale), \
    within a relative 1e-6; rows compared in order, or sorted where ORDER BY keys may tie (Q3, Q6, Q10, Q11, Q14, Q17, Q18, Q19)";

/// The relative tolerance of [`RULE`].
const REL_TOL: f64 = 1e-6;

/// Queries whose `ORDER BY` may tie (or that return one row): compared as sorted rows.
const UNORDERED: &[u32] = &[3, 6, 10, 11, 14, 17, 18, 19];

/// One value of an answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL null.
    Null,
    /// Any integer.
    Int(i128),
    /// A float.
    Float(f64),
    /// An exact decimal: unscaled value and scale.
    Decimal(i128, u8),
    /// A string.
    Str(String),
    /// Days since 1970-01-01.
    Date(i32),
    /// A boolean.
    Bool(bool),
}

impl Value {
    fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Int(v) => Some(v as f64),
            Value::Float(v) => Some(v),
            Value::Decimal(v, s) => Some(v as f64 / 10f64.powi(s as i32)),
            _ => None,
        }
    }

    /// Equal under [`RULE`].
    pub fn same(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Decimal(a, s), Value::Decimal(b, t)) if s == t => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Date(a), Value::Date(b)) => a == b,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Null, Value::Null) => true,
            (a, b) => match (a.as_f64(), b.as_f64()) {
                (Some(x), Some(y)) => x == y || (x - y).abs() <= REL_TOL * x.abs().max(y.abs()),
                _ => false,
            },
        }
    }

    /// The value as CSV text: decimals exact, dates ISO, nulls empty, strings quoted when needed.
    pub fn to_csv(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Int(v) => v.to_string(),
            Value::Float(v) => v.to_string(),
            Value::Decimal(v, s) => decimal_text(*v, *s),
            Value::Str(s) if s.contains([',', '"', '\n', '\r']) => format!("\"{}\"", s.replace('"', "\"\"")),
            Value::Str(s) => s.clone(),
            Value::Date(d) => ember::prelude::Scalar::Date32(*d).to_string(),
            Value::Bool(b) => b.to_string(),
        }
    }

    /// A key that orders rows for the sorted comparison (floats rounded so near-equal sort alike).
    fn sort_key(&self) -> String {
        match self.as_f64() {
            Some(x) => format!("{x:.6e}"),
            None => self.to_csv(),
        }
    }
}

fn decimal_text(v: i128, scale: u8) -> String {
    if scale == 0 {
        return v.to_string();
    }
    let digits = v.unsigned_abs().to_string();
    let s = scale as usize;
    let padded = if digits.len() <= s { format!("{}{digits}", "0".repeat(s + 1 - digits.len())) } else { digits };
    let (int, frac) = padded.split_at(padded.len() - s);
    format!("{}{int}.{frac}", if v < 0 { "-" } else { "" })
}

/// An answer: column names and rows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Answer {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, each as long as `columns`.
    pub rows: Vec<Vec<Value>>,
}

impl Answer {
    /// An Arrow batch's rows (ember's answers, downloaded).
    pub fn from_batch(batch: &RecordBatch) -> Result<Answer> {
        let columns = batch.schema().fields().iter().map(|f| f.name().clone()).collect();
        let cols = batch.columns().iter().map(|c| arrow_values(c.as_ref())).collect::<Result<Vec<_>>>()?;
        Ok(Answer { columns, rows: transpose(cols, batch.num_rows()) })
    }

    /// A polars frame's rows.
    pub fn from_polars(df: &pl::DataFrame) -> Result<Answer> {
        let columns = df.get_column_names().iter().map(|s| s.to_string()).collect();
        let mut cols = Vec::with_capacity(df.width());
        for c in df.columns() {
            let mut vals = Vec::with_capacity(c.len());
            for i in 0..c.len() {
                let v = c.get(i).map_err(|e| Error::Internal(format!("polars: {e}")))?;
                vals.push(polars_value(&v, c.name())?);
            }
            cols.push(vals);
        }
        Ok(Answer { columns, rows: transpose(cols, df.height()) })
    }

    /// The answer as CSV: a header row, then the rows ([`Value::to_csv`]).
    pub fn to_csv(&self) -> String {
        let mut out = self.columns.join(",");
        out.push('\n');
        for r in &self.rows {
            let cells: Vec<String> = r.iter().map(Value::to_csv).collect();
            let _ = writeln!(out, "{}", cells.join(","));
        }
        out
    }

    /// `None` when this answer to TPC-H query `q` equals `want` under [`RULE`], else what differs.
    pub fn differs(&self, q: u32, want: &Answer) -> Option<String> {
        self.differs_from(want, UNORDERED.contains(&q))
    }

    /// `None` when this answer equals `want` under [`RULE`] (as sorted rows if `sorted`), else
    /// what differs.
    pub fn differs_from(&self, want: &Answer, sorted: bool) -> Option<String> {
        if self.rows.len() != want.rows.len() {
            return Some(format!("{} rows, expected {}", self.rows.len(), want.rows.len()));
        }
        if self.columns.len() != want.columns.len() {
            return Some(format!("columns {:?}, expected {:?}", self.columns, want.columns));
        }
        let (mut got, mut exp): (Vec<&Vec<Value>>, Vec<&Vec<Value>>) =
            (self.rows.iter().collect(), want.rows.iter().collect());
        if sorted {
            let key = |r: &&Vec<Value>| r.iter().map(Value::sort_key).collect::<Vec<_>>();
            got.sort_by_cached_key(key);
            exp.sort_by_cached_key(key);
        }
        for (i, (g, w)) in got.iter().zip(&exp).enumerate() {
            if let Some(c) = g.iter().zip(w.iter()).position(|(a, b)| !a.same(b)) {
                return Some(format!("row {i}, column {}: {:?}, expected {:?}", self.columns[c], g[c], w[c]));
            }
        }
        None
    }
}

fn transpose(cols: Vec<Vec<Value>>, n: usize) -> Vec<Vec<Value>> {
    let mut rows: Vec<Vec<Value>> = (0..n).map(|_| Vec::with_capacity(cols.len())).collect();
    for c in cols {
        for (row, v) in rows.iter_mut().zip(c) {
            row.push(v);
        }
    }
    rows
}

fn arrow_values(a: &dyn Array) -> Result<Vec<Value>> {
    macro_rules! ints {
        ($t:ty) => {{
            let p = a.as_primitive::<$t>();
            (0..a.len()).map(|i| Value::Int(p.value(i) as i128)).collect()
        }};
    }
    let mut out: Vec<Value> = match a.data_type() {
        ArrowType::Int8 => ints!(at::Int8Type),
        ArrowType::Int16 => ints!(at::Int16Type),
        ArrowType::Int32 => ints!(at::Int32Type),
        ArrowType::Int64 => ints!(at::Int64Type),
        ArrowType::UInt8 => ints!(at::UInt8Type),
        ArrowType::UInt16 => ints!(at::UInt16Type),
        ArrowType::UInt32 => ints!(at::UInt32Type),
        ArrowType::UInt64 => ints!(at::UInt64Type),
        ArrowType::Float32 => {
            a.as_primitive::<at::Float32Type>().values().iter().map(|&v| Value::Float(v as f64)).collect()
        }
        ArrowType::Float64 => a.as_primitive::<at::Float64Type>().values().iter().map(|&v| Value::Float(v)).collect(),
        ArrowType::Decimal128(_, s) => {
            a.as_primitive::<at::Decimal128Type>().values().iter().map(|&v| Value::Decimal(v, *s as u8)).collect()
        }
        ArrowType::Date32 => a.as_primitive::<at::Date32Type>().values().iter().map(|&v| Value::Date(v)).collect(),
        ArrowType::Boolean => (0..a.len()).map(|i| Value::Bool(a.as_boolean().value(i))).collect(),
        ArrowType::Utf8 => a.as_string::<i32>().iter().map(|s| Value::Str(s.unwrap_or_default().into())).collect(),
        ArrowType::LargeUtf8 => a.as_string::<i64>().iter().map(|s| Value::Str(s.unwrap_or_default().into())).collect(),
        ArrowType::Utf8View => a.as_string_view().iter().map(|s| Value::Str(s.unwrap_or_default().into())).collect(),
        other => return Err(Error::UnsupportedArrowType(format!("answer column of type {other}"))),
    };
    for (i, v) in out.iter_mut().enumerate() {
        if a.is_null(i) {
            *v = Value::Null;
        }
    }
    Ok(out)
}

fn polars_value(v: &pl::AnyValue<'_>, column: &str) -> Result<Value> {
    use pl::AnyValue as A;
    Ok(match v {
        A::Null => Value::Null,
        A::Boolean(b) => Value::Bool(*b),
        A::Int8(x) => Value::Int(*x as i128),
        A::Int16(x) => Value::Int(*x as i128),
        A::Int32(x) => Value::Int(*x as i128),
        A::Int64(x) => Value::Int(*x as i128),
        A::Int128(x) => Value::Int(*x),
        A::UInt8(x) => Value::Int(*x as i128),
        A::UInt16(x) => Value::Int(*x as i128),
        A::UInt32(x) => Value::Int(*x as i128),
        A::UInt64(x) => Value::Int(*x as i128),
        A::Float32(x) => Value::Float(*x as f64),
        A::Float64(x) => Value::Float(*x),
        A::Decimal(x, _, s) => Value::Decimal(*x, *s as u8),
        A::Date(d) => Value::Date(*d),
        A::String(s) => Value::Str(s.to_string()),
        A::StringOwned(s) => Value::Str(s.to_string()),
        other => return Err(Error::Internal(format!("polars answer column {column}: unexpected value {other:?}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ans(rows: Vec<Vec<Value>>) -> Answer {
        Answer { columns: (0..rows[0].len()).map(|i| format!("c{i}")).collect(), rows }
    }

    #[test]
    fn the_rule() {
        assert!(Value::Decimal(12345, 2).same(&Value::Decimal(12345, 2)));
        assert!(!Value::Decimal(12345, 2).same(&Value::Decimal(12346, 2)), "same scale: exact");
        assert!(Value::Decimal(1234500, 4).same(&Value::Decimal(12345, 2)), "different scales: as numbers");
        assert!(Value::Decimal(123450001, 4).same(&Value::Decimal(1234500, 2)), "within 1e-6");
        assert!(!Value::Decimal(123460000, 4).same(&Value::Decimal(1234500, 2)), "outside 1e-6");
        assert!(Value::Float(1.0).same(&Value::Float(1.0 + 1e-9)));
        assert!(!Value::Float(1.0).same(&Value::Float(1.0001)));
        assert!(!Value::Int(3).same(&Value::Int(4)));
        assert!(Value::Int(3).same(&Value::Float(3.0)));
        assert!(!Value::Str("a".into()).same(&Value::Str("b".into())));
        assert!(!Value::Null.same(&Value::Int(0)));
        assert!(!Value::Date(1).same(&Value::Int(1)), "a date is not a number");
    }

    #[test]
    fn order_matters_unless_keys_may_tie() {
        let a = ans(vec![vec![Value::Int(1)], vec![Value::Int(2)]]);
        let b = ans(vec![vec![Value::Int(2)], vec![Value::Int(1)]]);
        assert!(a.differs(1, &b).unwrap().starts_with("row 0"));
        assert_eq!(a.differs(3, &b), None);
        assert_eq!(a.differs(1, &ans(vec![vec![Value::Int(1)]])).unwrap(), "2 rows, expected 1");
    }

    #[test]
    fn csv_text() {
        let a = Answer {
            columns: vec!["d".into(), "s".into(), "x".into(), "day".into()],
            rows: vec![
                vec![Value::Decimal(-5, 2), Value::Str("a, \"b\"".into()), Value::Null, Value::Date(8766)],
                vec![Value::Decimal(123456, 4), Value::Str("plain".into()), Value::Float(0.5), Value::Date(0)],
            ],
        };
        assert_eq!(a.to_csv(), "d,s,x,day\n-0.05,\"a, \"\"b\"\"\",,1994-01-01\n12.3456,plain,0.5,1970-01-01\n");
    }

    #[test]
    fn from_both_engines() {
        let batch = RecordBatch::try_from_iter([
            ("k", std::sync::Arc::new(arrow::array::Int64Array::from(vec![Some(1), None])) as arrow::array::ArrayRef),
            ("s", std::sync::Arc::new(arrow::array::StringArray::from(vec!["x", "y"])) as _),
        ])
        .unwrap();
        let df = pl::DataFrame::new(
            2,
            vec![pl::Column::new("k".into(), [Some(1i64), None]), pl::Column::new("s".into(), ["x", "y"])],
        )
        .unwrap();
        let (a, b) = (Answer::from_batch(&batch).unwrap(), Answer::from_polars(&df).unwrap());
        assert_eq!(a, b);
        assert_eq!(a.rows[1][0], Value::Null);
    }
}
