//! The file's bytes as the `parquet` crate's [`ChunkReader`], with one difference from its own
//! `impl ChunkReader for Bytes`: reading past the end of the file is an error, not an empty read.
//!
//! The crate's thrift decoder skips an unknown binary field by copying its declared length into
//! a sink and stops quietly at end of input; a corrupt page header that declares a list of two
//! billion such fields then spins through two billion empty skips (cargo fuzz found one: a
//! 1.4 KB file took minutes, `fuzz/open/` before this fix). With this reader the first skip past
//! the end fails and the read is an `Error::Read` at once.
use bytes::{Buf, Bytes};
use parquet::file::reader::{ChunkReader, Length};
use std::io::Read;

/// The bytes of a Parquet file (cheap to clone: a reference count).
#[derive(Debug, Clone)]
pub(crate) struct StrictBytes(pub(crate) Bytes);

impl Length for StrictBytes {
    fn len(&self) -> u64 {
        self.0.len() as u64
    }
}

impl ChunkReader for StrictBytes {
    type T = StrictReader;

    fn get_read(&self, start: u64) -> parquet::errors::Result<StrictReader> {
        Ok(StrictReader(ChunkReader::get_read(&self.0, start)?.into_inner()))
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        self.0.get_bytes(start, length)
    }
}

/// A reader of the bytes from an offset to the end of the file; a read asked for at least one
/// byte at the end is `UnexpectedEof`.
#[derive(Debug)]
pub(crate) struct StrictReader(Bytes);

impl Read for StrictReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if !buf.is_empty() && !self.0.has_remaining() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "read past the end of the Parquet file",
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
    fn reads_to_the_end_then_fails() {
        let r = StrictBytes(Bytes::from_static(b"abcdef"));
        let mut rd = r.get_read(2).unwrap();
        let mut buf = [0u8; 3];
        assert_eq!(rd.read(&mut buf).unwrap(), 3);
        assert_eq!(&buf, b"cde");
        assert_eq!(rd.read(&mut buf).unwrap(), 1);
        assert_eq!(rd.read(&mut buf).unwrap_err().kind(), std::io::ErrorKind::UnexpectedEof);
        assert_eq!(rd.read(&mut []).unwrap(), 0);
        assert!(r.get_read(7).is_err());
    }
}
