//! Single values: literals in expressions and results of reductions.
use crate::dtype::DType;
use crate::error::{Error, Result};
use arrow::array::*;
use arrow::datatypes::TimeUnit;
use std::fmt;
use std::sync::Arc;

/// One value of some [`DType`], or null.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Scalar {
    /// Null (of no particular type).
    Null,
    /// Boolean.
    Bool(bool),
    /// i8.
    Int8(i8),
    /// i16.
    Int16(i16),
    /// i32.
    Int32(i32),
    /// i64.
    Int64(i64),
    /// u8.
    UInt8(u8),
    /// u16.
    UInt16(u16),
    /// u32.
    UInt32(u32),
    /// u64.
    UInt64(u64),
    /// f32.
    Float32(f32),
    /// f64.
    Float64(f64),
    /// Exact decimal `value / 10^scale`.
    Decimal128 {
        /// Unscaled value.
        value: i128,
        /// Total digits.
        precision: u8,
        /// Digits after the point.
        scale: i8,
    },
    /// String.
    Utf8(String),
    /// Days since the epoch.
    Date32(i32),
    /// Time since the epoch.
    Timestamp(i64, #[serde(with = "crate::serde_time_unit")] TimeUnit),
}

impl Scalar {
    /// The type, or `None` for [`Scalar::Null`].
    pub fn dtype(&self) -> Option<DType> {
        Some(match self {
            Scalar::Null => return None,
            Scalar::Bool(_) => DType::Bool,
            Scalar::Int8(_) => DType::Int8,
            Scalar::Int16(_) => DType::Int16,
            Scalar::Int32(_) => DType::Int32,
            Scalar::Int64(_) => DType::Int64,
            Scalar::UInt8(_) => DType::UInt8,
            Scalar::UInt16(_) => DType::UInt16,
            Scalar::UInt32(_) => DType::UInt32,
            Scalar::UInt64(_) => DType::UInt64,
            Scalar::Float32(_) => DType::Float32,
            Scalar::Float64(_) => DType::Float64,
            Scalar::Decimal128 { precision, scale, .. } => DType::Decimal128 { precision: *precision, scale: *scale },
            Scalar::Utf8(_) => DType::Utf8,
            Scalar::Date32(_) => DType::Date32,
            Scalar::Timestamp(_, u) => DType::Timestamp(*u),
        })
    }

    /// Whether this is null.
    pub fn is_null(&self) -> bool {
        matches!(self, Scalar::Null)
    }

    /// Parses an exact decimal literal such as `"0.06"` or `"-12.500"`: the scale is the number of
    /// digits after the point, the precision the number of digits (at least the scale, at least 1).
    ///
    /// ```
    /// use ember_core::Scalar;
    /// assert_eq!(Scalar::parse_decimal("0.06").unwrap(), Scalar::Decimal128 { value: 6, precision: 2, scale: 2 });
    /// assert!(Scalar::parse_decimal("1.2.3").is_err());
    /// ```
    pub fn parse_decimal(s: &str) -> Result<Scalar> {
        let bad = || Error::InvalidArgument(format!("{s:?} is not a decimal literal"));
        let t = s.trim();
        let (neg, digits) = match t.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if (int.is_empty() && frac.is_empty()) || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let all = format!("{int}{frac}");
        let sig = all.trim_start_matches('0');
        if sig.len() > 38 || frac.len() > 38 {
            return Err(Error::InvalidArgument(format!("{s:?} has more than 38 digits")));
        }
        let mut value: i128 = if sig.is_empty() { 0 } else { sig.parse().map_err(|_| bad())? };
        if neg {
            value = -value;
        }
        let scale = frac.len() as i8;
        let precision = (sig.len().max(frac.len()).max(1)) as u8;
        Ok(Scalar::Decimal128 { value, precision, scale })
    }

    /// Parses a `YYYY-MM-DD` date.
    ///
    /// ```
    /// use ember_core::Scalar;
    /// assert_eq!(Scalar::parse_date("1994-01-01").unwrap(), Scalar::Date32(8766));
    /// ```
    pub fn parse_date(s: &str) -> Result<Scalar> {
        let bad = || Error::InvalidArgument(format!("{s:?} is not a YYYY-MM-DD date"));
        let mut it = s.trim().splitn(3, '-');
        let y: i64 = it.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
        let m: u32 = it.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
        let d: u32 = it.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
        let mdays = [
            31,
            if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 { 29 } else { 28 },
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ];
        if !(1..=12).contains(&m) || d == 0 || d > mdays[(m - 1) as usize] {
            return Err(bad());
        }
        // The years chrono (and so arrow's date display) handles; date32 itself reaches further,
        // but a date nobody can print back is not one a user meant.
        if !(-262_000..=262_000).contains(&y) {
            return Err(Error::InvalidArgument(format!("{s:?}: year {y} is out of range (-262000 to 262000)")));
        }
        let days = i32::try_from(days_from_civil(y, m, d))
            .map_err(|_| Error::InvalidArgument(format!("{s:?} is out of the date32 range")))?;
        Ok(Scalar::Date32(days))
    }

    /// A one-element Arrow array holding this value as `dtype` (null if `self` is null).
    pub fn to_array(&self, dtype: &DType) -> Result<ArrayRef> {
        let arr: ArrayRef = match self {
            Scalar::Null => new_null_array(&dtype.to_arrow(), 1),
            Scalar::Bool(v) => Arc::new(BooleanArray::from(vec![*v])),
            Scalar::Int8(v) => Arc::new(Int8Array::from(vec![*v])),
            Scalar::Int16(v) => Arc::new(Int16Array::from(vec![*v])),
            Scalar::Int32(v) => Arc::new(Int32Array::from(vec![*v])),
            Scalar::Int64(v) => Arc::new(Int64Array::from(vec![*v])),
            Scalar::UInt8(v) => Arc::new(UInt8Array::from(vec![*v])),
            Scalar::UInt16(v) => Arc::new(UInt16Array::from(vec![*v])),
            Scalar::UInt32(v) => Arc::new(UInt32Array::from(vec![*v])),
            Scalar::UInt64(v) => Arc::new(UInt64Array::from(vec![*v])),
            Scalar::Float32(v) => Arc::new(Float32Array::from(vec![*v])),
            Scalar::Float64(v) => Arc::new(Float64Array::from(vec![*v])),
            Scalar::Decimal128 { value, precision, scale } => {
                Arc::new(Decimal128Array::from(vec![*value]).with_precision_and_scale(*precision, *scale)?)
            }
            Scalar::Utf8(v) => Arc::new(StringArray::from(vec![v.as_str()])),
            Scalar::Date32(v) => Arc::new(Date32Array::from(vec![*v])),
            Scalar::Timestamp(v, u) => match u {
                TimeUnit::Second => Arc::new(TimestampSecondArray::from(vec![*v])),
                TimeUnit::Millisecond => Arc::new(TimestampMillisecondArray::from(vec![*v])),
                TimeUnit::Microsecond => Arc::new(TimestampMicrosecondArray::from(vec![*v])),
                TimeUnit::Nanosecond => Arc::new(TimestampNanosecondArray::from(vec![*v])),
            },
        };
        if arr.data_type() == &dtype.to_arrow() {
            return Ok(arr);
        }
        let opts = arrow::compute::CastOptions { safe: false, ..Default::default() };
        Ok(arrow::compute::cast_with_options(&arr, &dtype.to_arrow(), &opts)?)
    }

    /// Element `i` of an Arrow array.
    pub fn from_array(arr: &dyn Array, i: usize) -> Result<Scalar> {
        use arrow::datatypes::DataType as D;
        if i >= arr.len() {
            return Err(Error::InvalidArgument(format!("index {i} out of bounds for {} rows", arr.len())));
        }
        if arr.is_null(i) {
            return Ok(Scalar::Null);
        }
        macro_rules! p {
            ($t:ty, $v:ident) => {
                Scalar::$v(arr.as_any().downcast_ref::<$t>().expect("type checked").value(i))
            };
        }
        Ok(match arr.data_type() {
            D::Boolean => p!(BooleanArray, Bool),
            D::Int8 => p!(Int8Array, Int8),
            D::Int16 => p!(Int16Array, Int16),
            D::Int32 => p!(Int32Array, Int32),
            D::Int64 => p!(Int64Array, Int64),
            D::UInt8 => p!(UInt8Array, UInt8),
            D::UInt16 => p!(UInt16Array, UInt16),
            D::UInt32 => p!(UInt32Array, UInt32),
            D::UInt64 => p!(UInt64Array, UInt64),
            D::Float32 => p!(Float32Array, Float32),
            D::Float64 => p!(Float64Array, Float64),
            D::Date32 => p!(Date32Array, Date32),
            D::Decimal128(precision, scale) => Scalar::Decimal128 {
                value: arr.as_any().downcast_ref::<Decimal128Array>().expect("type checked").value(i),
                precision: *precision,
                scale: *scale,
            },
            D::Utf8 => {
                Scalar::Utf8(arr.as_any().downcast_ref::<StringArray>().expect("type checked").value(i).to_string())
            }
            D::LargeUtf8 => Scalar::Utf8(
                arr.as_any().downcast_ref::<LargeStringArray>().expect("type checked").value(i).to_string(),
            ),
            D::Utf8View => {
                Scalar::Utf8(arr.as_any().downcast_ref::<StringViewArray>().expect("type checked").value(i).to_string())
            }
            D::Timestamp(u, _) => {
                let v = arrow::compute::cast(&arr.slice(i, 1), &D::Int64)?;
                Scalar::Timestamp(v.as_any().downcast_ref::<Int64Array>().expect("cast to i64").value(0), *u)
            }
            other => return Err(Error::UnsupportedArrowType(other.to_string())),
        })
    }
}

macro_rules! scalar_from {
    ($($t:ty => $v:ident),*) => {$(
        impl From<$t> for Scalar {
            fn from(v: $t) -> Self {
                Scalar::$v(v)
            }
        }
    )*};
}
scalar_from!(bool => Bool, i8 => Int8, i16 => Int16, i32 => Int32, i64 => Int64, u8 => UInt8, u16 => UInt16,
    u32 => UInt32, u64 => UInt64, f32 => Float32, f64 => Float64, String => Utf8);

impl From<&str> for Scalar {
    fn from(v: &str) -> Self {
        Scalar::Utf8(v.to_string())
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Formats a decimal exactly: `format_decimal(1231410782283, 4) == "123141078.2283"`.
pub fn format_decimal(value: i128, scale: i8) -> String {
    if scale <= 0 {
        let mut s = value.to_string();
        s.extend(std::iter::repeat_n('0', (-scale) as usize));
        return s;
    }
    let neg = value < 0;
    let digits = value.unsigned_abs().to_string();
    let scale = scale as usize;
    let padded =
        if digits.len() <= scale { format!("{}{digits}", "0".repeat(scale + 1 - digits.len())) } else { digits };
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{}{int}.{frac}", if neg { "-" } else { "" })
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Null => write!(f, "null"),
            Scalar::Bool(v) => write!(f, "{v}"),
            Scalar::Int8(v) => write!(f, "{v}"),
            Scalar::Int16(v) => write!(f, "{v}"),
            Scalar::Int32(v) => write!(f, "{v}"),
            Scalar::Int64(v) => write!(f, "{v}"),
            Scalar::UInt8(v) => write!(f, "{v}"),
            Scalar::UInt16(v) => write!(f, "{v}"),
            Scalar::UInt32(v) => write!(f, "{v}"),
            Scalar::UInt64(v) => write!(f, "{v}"),
            Scalar::Float32(v) => write!(f, "{v}"),
            Scalar::Float64(v) => write!(f, "{v}"),
            Scalar::Decimal128 { value, scale, .. } => write!(f, "{}", format_decimal(*value, *scale)),
            Scalar::Utf8(v) => write!(f, "{v}"),
            Scalar::Date32(v) => match arrow::temporal_conversions::date32_to_datetime(*v) {
                Some(d) => write!(f, "{}", d.date()),
                None => write!(f, "date32({v})"),
            },
            Scalar::Timestamp(v, u) => write!(f, "timestamp[{u:?}]({v})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_literals_parse_exactly() {
        assert_eq!(
            Scalar::parse_decimal("123.4500").unwrap(),
            Scalar::Decimal128 { value: 1234500, precision: 7, scale: 4 }
        );
        assert_eq!(Scalar::parse_decimal("-0.5").unwrap(), Scalar::Decimal128 { value: -5, precision: 1, scale: 1 });
        assert_eq!(Scalar::parse_decimal("42").unwrap(), Scalar::Decimal128 { value: 42, precision: 2, scale: 0 });
        assert_eq!(Scalar::parse_decimal(".25").unwrap(), Scalar::Decimal128 { value: 25, precision: 2, scale: 2 });
        for bad in ["", ".", "1e5", "--1", "1.2.3", "abc", "1 2"] {
            assert!(matches!(Scalar::parse_decimal(bad), Err(Error::InvalidArgument(_))), "{bad:?}");
        }
        assert!(Scalar::parse_decimal(&"9".repeat(39)).is_err());
    }

    #[test]
    fn decimals_format_exactly() {
        assert_eq!(format_decimal(1231410782283, 4), "123141078.2283");
        assert_eq!(format_decimal(-5, 2), "-0.05");
        assert_eq!(format_decimal(0, 3), "0.000");
        assert_eq!(format_decimal(12, 0), "12");
        assert_eq!(format_decimal(12, -2), "1200");
        assert_eq!(format_decimal(i128::MIN, 38).len(), "-1.".len() + 38);
    }

    #[test]
    fn dates_parse_and_reject_invalid_days() {
        assert_eq!(Scalar::parse_date("1970-01-01").unwrap(), Scalar::Date32(0));
        assert_eq!(Scalar::parse_date("1995-01-01").unwrap(), Scalar::Date32(9131));
        assert_eq!(Scalar::parse_date("2000-02-29").unwrap(), Scalar::Date32(11016));
        assert_eq!(Scalar::parse_date("1969-12-31").unwrap(), Scalar::Date32(-1));
        for bad in ["1999-02-29", "1994-13-01", "1994-00-10", "1994-01-32", "1994/01/01", "x"] {
            assert!(Scalar::parse_date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn scalars_round_trip_through_arrays() {
        let cases = [
            (Scalar::Int32(-7), DType::Int32),
            (Scalar::Decimal128 { value: 5, precision: 2, scale: 2 }, DType::Decimal128 { precision: 2, scale: 2 }),
            (Scalar::Utf8("AIR".into()), DType::Utf8),
            (Scalar::Date32(9131), DType::Date32),
            (Scalar::Bool(true), DType::Bool),
        ];
        for (s, t) in cases {
            let arr = s.to_array(&t).unwrap();
            assert_eq!(Scalar::from_array(arr.as_ref(), 0).unwrap(), s);
        }
        // widening on the way: i32 literal as decimal(15, 2)
        let arr = Scalar::Int32(24).to_array(&DType::Decimal128 { precision: 15, scale: 2 }).unwrap();
        assert_eq!(
            Scalar::from_array(arr.as_ref(), 0).unwrap(),
            Scalar::Decimal128 { value: 2400, precision: 15, scale: 2 }
        );
        assert!(Scalar::from_array(arr.as_ref(), 1).is_err());
    }
}
