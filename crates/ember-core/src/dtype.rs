//! Logical data types.
use crate::error::{Error, Result};
use arrow::datatypes::{DataType, TimeUnit};
use ember_gpu::primitives::Prim;
use std::fmt;

/// A column's logical type. Physical layout follows Arrow: fixed-width values, bit-packed
/// booleans, strings as offsets + bytes, and a validity bitmap for nulls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum DType {
    /// Boolean (bit-packed).
    Bool,
    /// 8-bit signed integer.
    Int8,
    /// 16-bit signed integer.
    Int16,
    /// 32-bit signed integer.
    Int32,
    /// 64-bit signed integer.
    Int64,
    /// 8-bit unsigned integer.
    UInt8,
    /// 16-bit unsigned integer.
    UInt16,
    /// 32-bit unsigned integer.
    UInt32,
    /// 64-bit unsigned integer.
    UInt64,
    /// 32-bit float.
    Float32,
    /// 64-bit float.
    Float64,
    /// Exact decimal: `value / 10^scale`, at most `precision` digits (1..=38).
    Decimal128 {
        /// Total digits.
        precision: u8,
        /// Digits after the point.
        scale: i8,
    },
    /// UTF-8 string (Arrow Utf8, LargeUtf8 and Utf8View are all accepted).
    Utf8,
    /// Days since 1970-01-01.
    Date32,
    /// Time since the epoch in `TimeUnit`s (no time zone).
    Timestamp(#[serde(with = "crate::serde_time_unit")] TimeUnit),
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DType::Decimal128 { precision, scale } => write!(f, "decimal128({precision}, {scale})"),
            DType::Timestamp(u) => write!(f, "timestamp[{u:?}]"),
            other => write!(f, "{}", format!("{other:?}").to_lowercase()),
        }
    }
}

impl DType {
    /// The ember type of an Arrow type.
    pub fn from_arrow(dt: &DataType) -> Result<DType> {
        Ok(match dt {
            DataType::Boolean => DType::Bool,
            DataType::Int8 => DType::Int8,
            DataType::Int16 => DType::Int16,
            DataType::Int32 => DType::Int32,
            DataType::Int64 => DType::Int64,
            DataType::UInt8 => DType::UInt8,
            DataType::UInt16 => DType::UInt16,
            DataType::UInt32 => DType::UInt32,
            DataType::UInt64 => DType::UInt64,
            DataType::Float32 => DType::Float32,
            DataType::Float64 => DType::Float64,
            DataType::Decimal128(p, s) => DType::Decimal128 { precision: *p, scale: *s },
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => DType::Utf8,
            DataType::Date32 => DType::Date32,
            DataType::Timestamp(u, None) => DType::Timestamp(*u),
            other => return Err(Error::UnsupportedArrowType(other.to_string())),
        })
    }

    /// The Arrow type ember produces for this type (strings: `Utf8`).
    pub fn to_arrow(&self) -> DataType {
        match *self {
            DType::Bool => DataType::Boolean,
            DType::Int8 => DataType::Int8,
            DType::Int16 => DataType::Int16,
            DType::Int32 => DataType::Int32,
            DType::Int64 => DataType::Int64,
            DType::UInt8 => DataType::UInt8,
            DType::UInt16 => DataType::UInt16,
            DType::UInt32 => DataType::UInt32,
            DType::UInt64 => DataType::UInt64,
            DType::Float32 => DataType::Float32,
            DType::Float64 => DataType::Float64,
            DType::Decimal128 { precision, scale } => DataType::Decimal128(precision, scale),
            DType::Utf8 => DataType::Utf8,
            DType::Date32 => DataType::Date32,
            DType::Timestamp(u) => DataType::Timestamp(u, None),
        }
    }

    /// The fixed-width physical type of the values (None for bool and utf8).
    pub fn prim(&self) -> Option<Prim> {
        Some(match self {
            DType::Int8 => Prim::I8,
            DType::Int16 => Prim::I16,
            DType::Int32 | DType::Date32 => Prim::I32,
            DType::Int64 | DType::Timestamp(_) => Prim::I64,
            DType::UInt8 => Prim::U8,
            DType::UInt16 => Prim::U16,
            DType::UInt32 => Prim::U32,
            DType::UInt64 => Prim::U64,
            DType::Float32 => Prim::F32,
            DType::Float64 => Prim::F64,
            DType::Decimal128 { .. } => Prim::I128,
            DType::Bool | DType::Utf8 => return None,
        })
    }

    /// Integer types (signed or unsigned).
    pub fn is_integer(&self) -> bool {
        matches!(
            self,
            DType::Int8
                | DType::Int16
                | DType::Int32
                | DType::Int64
                | DType::UInt8
                | DType::UInt16
                | DType::UInt32
                | DType::UInt64
        )
    }
    /// Signed integer types.
    pub fn is_signed_integer(&self) -> bool {
        matches!(self, DType::Int8 | DType::Int16 | DType::Int32 | DType::Int64)
    }
    /// Float types.
    pub fn is_float(&self) -> bool {
        matches!(self, DType::Float32 | DType::Float64)
    }
    /// Decimal types.
    pub fn is_decimal(&self) -> bool {
        matches!(self, DType::Decimal128 { .. })
    }
    /// Integers, floats and decimals.
    pub fn is_numeric(&self) -> bool {
        self.is_integer() || self.is_float() || self.is_decimal()
    }
    /// Date and timestamp types.
    pub fn is_temporal(&self) -> bool {
        matches!(self, DType::Date32 | DType::Timestamp(_))
    }
    /// Bits of an integer type.
    pub fn int_bits(&self) -> Option<u32> {
        Some(match self {
            DType::Int8 | DType::UInt8 => 8,
            DType::Int16 | DType::UInt16 => 16,
            DType::Int32 | DType::UInt32 => 32,
            DType::Int64 | DType::UInt64 => 64,
            _ => return None,
        })
    }
}
