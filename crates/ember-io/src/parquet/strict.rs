//! Byte ranges of a Parquet file as the `parquet` crate's [`ChunkReader`], with two differences
//! from its own `impl ChunkReader for Bytes` (or `File`):
//!
//! * Only the ranges a task needs are in memory: the column chunks of the row groups it decodes,
//!   read from the file by positioned reads (`OpenFile::chunks`). A task that reads one row
//!   group of a large file (one Dask partition, one chunk of the chunked reader) holds that row
//!   group's bytes, not the file's.
//! * Reading past the end of a range is an error, not an empty read. The crate's thrift decoder
//!   skips an unknown binary field by copying its declared length into a sink and stops quietly
//!   at end of input; a corrupt page header that declares a list of two billion such fields then
//!   spins through two billion empty skips (cargo fuzz found one: a 1.4 KB file took minutes,
//!   `fuzz/open/` before this fix). With this reader the first skip past the end fails and the
//!   read is an `Error::Read` at once. Pages never span column chunks, so a read that leaves its
//!   chunk is corrupt input.
use bytes::{Buf, Bytes};
use parquet::errors::ParquetError;
use parquet::file::reader::{ChunkReader, Length};
use std::io::Read;
use std::sync::Arc;

/// Some byte ranges of a Parquet file, by file offset (cheap to clone: reference counts).
#[derive(Debug, Clone)]
pub(crate) struct StrictBytes {
    /// `(file offset, bytes)`, sorted by offset, not overlapping.
    ranges: Arc<[(u64, Bytes)]>,
    /// The whole file's length.
    file_len: u64,
}

impl StrictBytes {
    /// `ranges` of a file of `file_len` bytes (sorted here).
    pub(crate) fn new(mut ranges: Vec<(u64, Bytes)>, file_len: u64) -> StrictBytes {
        ranges.sort_by_key(|r| r.0);
        StrictBytes { ranges: ranges.into(), file_len }
    }

    /// The range holding the byte at `start`, from that byte on.
    fn from(&self, start: u64) -> parquet::errors::Result<Bytes> {
        let i = self.ranges.partition_point(|r| r.0 <= start);
        let outside = || ParquetError::EOF(format!("byte {start} is outside the column chunks read"));
        let (at, bytes) = self.ranges[..i].last().ok_or_else(outside)?;
        let skip = usize::try_from(start - at).map_err(|_| outside())?;
        if skip > bytes.len() {
            return Err(outside());
        }
        Ok(bytes.slice(skip..))
    }
}

impl Length for StrictBytes {
    fn len(&self) -> u64 {
        self.file_len
    }
}

impl ChunkReader for StrictBytes {
    type T = StrictReader;

    fn get_read(&self, start: u64) -> parquet::errors::Result<StrictReader> {
        Ok(StrictReader(self.from(start)?))
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        let rest = self.from(start)?;
        if length > rest.len() {
            return Err(ParquetError::EOF(format!(
                "{length} bytes at byte {start} run past the end of their column chunk"
            )));
        }
        Ok(rest.slice(..length))
    }
}

/// A reader of the bytes from an offset to the end of its range; a read asked for at least one
/// byte at the end is `UnexpectedEof`.
#[derive(Debug)]
pub(crate) struct StrictReader(Bytes);

impl Read for StrictReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if !buf.is_empty() && !self.0.has_remaining() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "read past the end of the column chunk",
            ));
        }
        let n = buf.len().min(self.0.remaining());
        self.0.copy_to_slice(&mut buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_inside_ranges_then_fails() {
        let r = StrictBytes::new(vec![(10, Bytes::from_static(b"abcdef")), (4, Bytes::from_static(b"xy"))], 100);
        let mut rd = r.get_read(12).unwrap();
        let mut buf = [0u8; 3];
        assert_eq!(rd.read(&mut buf).unwrap(), 3);
        assert_eq!(&buf, b"cde");
        assert_eq!(rd.read(&mut buf).unwrap(), 1);
        assert_eq!(rd.read(&mut buf).unwrap_err().kind(), std::io::ErrorKind::UnexpectedEof);
        assert_eq!(rd.read(&mut []).unwrap(), 0);
        assert_eq!(r.get_bytes(4, 2).unwrap().as_ref(), b"xy");
        assert_eq!(r.get_bytes(11, 5).unwrap().as_ref(), b"bcdef");
        assert!(r.get_bytes(11, 6).is_err(), "past the range's end");
        assert!(r.get_bytes(6, 1).is_err(), "between ranges");
        assert!(r.get_read(17).is_err());
        assert!(r.get_read(0).is_err(), "before the first range");
        assert_eq!(r.len(), 100);
    }
}
