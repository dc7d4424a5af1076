//! Fixed-width columns: INT32, INT64, FLOAT and DOUBLE values copied bit for bit (PLAIN,
//! dictionary and BYTE_STREAM_SPLIT pages), decimals widened to `Decimal128` as they are decoded.
use super::{hybrid, spread, values_size, with_scratch, Column, BYTE_STREAM_SPLIT, PLAIN};
use arrow::array::{make_array, ArrayData, ArrayRef};
use arrow::datatypes::{ArrowNativeType, DataType};
use parquet::basic::Type as Physical;

/// An Arrow value made from a stored value `S` (4 or 8 bytes, little-endian as Parquet and every
/// target ember builds for): the same bits, or a decimal widened to 128 bits as it is decoded
/// (no second pass over a narrow buffer).
trait Value<S: bytemuck::Pod>: ArrowNativeType + bytemuck::Pod + Send + Sync {
    fn from_stored(s: S) -> Self;
}
impl Value<u32> for u32 {
    fn from_stored(s: u32) -> u32 {
        s
    }
}
impl Value<u64> for u64 {
    fn from_stored(s: u64) -> u64 {
        s
    }
}
impl Value<u32> for i128 {
    fn from_stored(s: u32) -> i128 {
        i128::from(s as i32)
    }
}
impl Value<u64> for i128 {
    fn from_stored(s: u64) -> i128 {
        i128::from(s as i64)
    }
}

/// How a column stored as `physical` and read as `dt` is decoded: only types whose Arrow values
/// are the stored values bit for bit, and decimals (a timestamp's unit or an 8- or 16-bit integer
/// would need converting: the crate does that).
enum Kind {
    Word32,
    Word64,
    /// INT32 / INT64 decimals, widened to `Decimal128(p, s)`.
    Decimal32(u8, i8),
    Decimal64(u8, i8),
}

fn kind(physical: Physical, dt: &DataType) -> Option<Kind> {
    Some(match (physical, dt) {
        (Physical::INT32, DataType::Int32 | DataType::UInt32 | DataType::Date32)
        | (Physical::FLOAT, DataType::Float32) => Kind::Word32,
        (Physical::INT64, DataType::Int64 | DataType::UInt64) | (Physical::DOUBLE, DataType::Float64) => Kind::Word64,
        (Physical::INT32, &DataType::Decimal32(p, s)) => Kind::Decimal32(p, s),
        (Physical::INT64, &DataType::Decimal64(p, s)) => Kind::Decimal64(p, s),
        _ => return None,
    })
}

/// Whether a column stored as `physical` and read as `dt` is one [`decode`] covers.
pub(super) fn covers(physical: Physical, dt: &DataType) -> bool {
    kind(physical, dt).is_some()
}

/// `column` decoded; `None` for a type this decoder does not cover ([`kind`]); `Ok(None)`: an
/// encoding it does not cover.
pub(super) fn decode(column: &Column, physical: Physical) -> Option<Result<Option<ArrayRef>, String>> {
    Some(match kind(physical, &column.dt)? {
        Kind::Word32 => values::<u32, u32>(column, column.dt.clone()),
        Kind::Word64 => values::<u64, u64>(column, column.dt.clone()),
        Kind::Decimal32(p, s) => values::<u32, i128>(column, DataType::Decimal128(p, s)),
        Kind::Decimal64(p, s) => values::<u64, i128>(column, DataType::Decimal128(p, s)),
    })
}

/// The column's values stored as `S`, as an array of type `dt` over `T` values.
fn values<S: bytemuck::Pod, T: Value<S>>(column: &Column, dt: DataType) -> Result<Option<ArrayRef>, String> {
    let Some(w) = column.walk()? else { return Ok(None) };
    let dictionaries = w
        .dictionaries
        .iter()
        .zip(&w.chunks)
        .zip(&w.codecs)
        .zip(column.run)
        .map(|(((d, chunk), &codec), g)| {
            let Some(d) = d else { return Ok(None) };
            let values = with_scratch(values_size(&d.header), |dst| {
                let data = super::decompress(codec, &chunk[d.body.clone()], values_size(&d.header), dst, false)?;
                let n = usize::try_from(d.header.dict_values.unwrap_or(-1))
                    .map_err(|_| "a dictionary page without a valid entry count".to_string())?;
                let mut values = vec![T::zeroed(); n];
                plain::<S, T>(data, &mut values)?;
                Ok::<_, String>(values)
            });
            values.map(Some).map_err(|m| format!("row group {}, page {}: {m}", g.group, d.number))
        })
        .collect::<Result<Vec<_>, String>>()?;
    let (values, nulls) = column.decode_pages::<T, ()>(&w, vec![(); w.pages.len()], |p, (), out| {
        let body = &w.chunks[p.chunk][p.body.clone()];
        with_scratch(values_size(&p.header), |dst| {
            let (validity, present, values) = column.front(p, body, w.codecs[p.chunk], dst, false)?;
            // The present values, packed into the front of `out`, then spread to their rows.
            let packed = &mut out[..present];
            if p.header.encoding == PLAIN {
                plain::<S, T>(values, packed)?;
            } else if p.header.encoding == BYTE_STREAM_SPLIT {
                split::<S, T>(values, packed)?;
            } else {
                let dictionary =
                    dictionaries[p.chunk].as_deref().ok_or("a dictionary-encoded page and no dictionary page")?;
                let (&width, runs) = values.split_first().ok_or("an empty dictionary-encoded page")?;
                hybrid(runs, u32::from(width), packed, dictionary)?;
            }
            if let Some(v) = &validity {
                spread(out, present, v);
            }
            Ok(validity)
        })
    })?;
    let data = ArrayData::builder(dt).len(w.rows).add_buffer(values.into_inner()).nulls(nulls);
    Ok(Some(make_array(data.build().map_err(|e| e.to_string())?)))
}

/// Fills `out` with the first `out.len()` PLAIN values in `bytes` (stored as `S`, not
/// necessarily aligned).
fn plain<S: bytemuck::Pod, T: Value<S>>(bytes: &[u8], out: &mut [T]) -> Result<(), String> {
    let (n, size) = (out.len(), std::mem::size_of::<S>());
    let need = n.checked_mul(size).filter(|&b| b <= bytes.len()).ok_or_else(|| {
        format!("the page holds {} bytes of values, {n} values of {size} bytes were expected", bytes.len())
    })?;
    let bytes = &bytes[..need];
    if std::mem::size_of::<T>() == size {
        // The same bits: one copy.
        bytemuck::cast_slice_mut::<T, u8>(out).copy_from_slice(bytes);
    } else {
        for (o, b) in out.iter_mut().zip(bytes.chunks_exact(size)) {
            *o = T::from_stored(bytemuck::pod_read_unaligned(b));
        }
    }
    Ok(())
}

/// Fills `out` from a BYTE_STREAM_SPLIT page: `size_of::<S>()` streams of `out.len()` bytes,
/// byte `j` of every value in stream `j`. The page must hold exactly those bytes: the streams'
/// stride is the value count, so a page of wider values than the column's is an error here (the
/// crate would read it as garbage).
fn split<S: bytemuck::Pod, T: Value<S>>(bytes: &[u8], out: &mut [T]) -> Result<(), String> {
    let (n, size) = (out.len(), std::mem::size_of::<S>());
    if n.checked_mul(size) != Some(bytes.len()) {
        return Err(format!("a BYTE_STREAM_SPLIT page of {} bytes for {n} values of {size} bytes", bytes.len()));
    }
    // Blocks of values, so that each stream is read in runs and the block stays in cache.
    const BLOCK: usize = 1024;
    let mut stored = [S::zeroed(); BLOCK];
    for (b, part) in out.chunks_mut(BLOCK).enumerate() {
        let stored = &mut stored[..part.len()];
        let words = bytemuck::cast_slice_mut::<S, u8>(stored);
        for j in 0..size {
            let stream = &bytes[j * n + b * BLOCK..][..part.len()];
            for (k, &byte) in stream.iter().enumerate() {
                words[k * size + j] = byte;
            }
        }
        for (o, &s) in part.iter_mut().zip(stored.iter()) {
            *o = T::from_stored(s);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn split_streams_are_joined_and_must_fill_the_page() {
        // More values than a block, widened (an INT32 decimal) and not.
        let values: Vec<u32> = (0..2500u32).map(|i| i.wrapping_mul(0x9E37_79B9)).collect();
        let size = 4;
        let mut bytes = vec![0u8; values.len() * size];
        for (k, v) in values.iter().enumerate() {
            for (j, b) in v.to_le_bytes().into_iter().enumerate() {
                bytes[j * values.len() + k] = b;
            }
        }
        let mut out = vec![0u32; values.len()];
        split::<u32, u32>(&bytes, &mut out).unwrap();
        assert_eq!(out, values);
        let mut wide = vec![0i128; values.len()];
        split::<u32, i128>(&bytes, &mut wide).unwrap();
        assert!(wide.iter().zip(&values).all(|(&w, &v)| w == i128::from(v as i32)));
        // Twice the bytes (8-byte values under a 4-byte type), or one byte short: errors.
        let mut half = vec![0u32; values.len() / 2];
        assert!(split::<u32, u32>(&bytes, &mut half).unwrap_err().contains("BYTE_STREAM_SPLIT"));
        assert!(split::<u32, u32>(&bytes[1..], &mut out).is_err());
        split::<u64, u64>(&[], &mut []).unwrap();
    }
}
