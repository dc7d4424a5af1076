//! The exact index's file: [`FlatIndex::save`], [`FlatIndex::load`] and
//! [`FlatIndex::load_mapped`].
//!
//! Version 1 (little-endian), laid out to be memory-mapped: the vectors, nearly all of the
//! bytes, start at byte [`VECTORS_AT`] so that a mapping can be scanned in place.
//!
//! | bytes | what |
//! |---|---|
//! | 0..11 | `EMBERFLAT1\0` |
//! | 11..27 | u64: dim, slots `n` |
//! | 27, 28 | metric code (0 L2, 1 inner product, 2 cosine), storage code (0 f32, 1 f16) |
//! | ..128 | zero |
//! | 128.. | `n * dim` f32 or f16 elements (cosine vectors already normalised) |
//! | then | `n` u64 labels, `n` u8 deleted flags |
use super::{FlatIndex, Storage, Store};
use crate::mapped::storage_from_code;
use crate::mapped::{bad, live_slots, map_file, metric_code, metric_from_code, save_atomically, storage_code};
use crate::mapped::{write_le, Buf, Plain};
use crate::metric::Metric;
use ember_core::{Error, Result};
use half::f16;
use std::io::{Read, Write};
use std::path::Path;

const MAGIC: &[u8] = b"EMBERFLAT1\0";
/// Where the vectors start: past the header, aligned for any SIMD load.
const VECTORS_AT: usize = 128;

/// What the header says.
struct Header {
    dim: usize,
    n: usize,
    metric: Metric,
    storage: Storage,
}

impl Header {
    fn parse(bytes: &[u8], name: &str) -> Result<Header> {
        if bytes.len() < VECTORS_AT || !bytes.starts_with(MAGIC) {
            return Err(bad(name, "not an ember flat index file"));
        }
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        let (dim, n) = (u64_at(11), u64_at(19));
        let (metric, storage) = (metric_from_code(bytes[27], name)?, storage_from_code(bytes[28], name)?);
        if dim == 0 || dim > 1 << 20 || n >= u32::MAX as u64 {
            return Err(bad(name, "implausible header (dimension or count)"));
        }
        Ok(Header { dim: dim as usize, n: n as usize, metric, storage })
    }

    /// Bytes of the vectors.
    fn vector_bytes(&self) -> usize {
        self.n * self.dim * if self.storage == Storage::F16 { 2 } else { 4 }
    }

    /// The file's whole length.
    fn file_len(&self) -> usize {
        VECTORS_AT + self.vector_bytes() + self.n * 9
    }
}

impl FlatIndex {
    /// Writes the index to `path` (the format in this module's documentation; `load` and
    /// `load_mapped` read it back). The file is written under a temporary name and renamed when
    /// complete: an interrupted save never leaves a truncated file under the real name.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        save_atomically(path.as_ref(), |out| {
            let mut header = Vec::with_capacity(VECTORS_AT);
            header.extend_from_slice(MAGIC);
            header.extend_from_slice(&(self.dim as u64).to_le_bytes());
            header.extend_from_slice(&(self.labels.len() as u64).to_le_bytes());
            header.push(metric_code(self.metric));
            header.push(storage_code(self.storage()));
            header.resize(VECTORS_AT, 0);
            out.write_all(&header)?;
            match &self.data {
                Store::F32(d) => write_le(out, d, |x| x.to_le_bytes())?,
                Store::F16(d) => write_le(out, d, |x| x.to_le_bytes())?,
            }
            write_le(out, &self.labels, |l| l.to_le_bytes())?;
            out.write_all(&self.deleted.iter().map(|&d| d as u8).collect::<Vec<u8>>())
        })
    }

    /// Reads an index written by [`Self::save`] into memory (the vectors straight into their
    /// buffer: the peak is the file's size); a truncated or foreign file is an error naming it.
    pub fn load(path: impl AsRef<Path>) -> Result<FlatIndex> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let io = |e: std::io::Error| Error::Io { path: name.clone(), source: e };
        let mut file = std::fs::File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let mut head = vec![0u8; VECTORS_AT.min(len as usize)];
        file.read_exact(&mut head).map_err(io)?;
        let h = Header::parse(&head, &name)?;
        if len != h.file_len() as u64 {
            return Err(bad(&name, "truncated or trailing bytes"));
        }
        let data = match h.storage {
            Storage::F32 => Store::F32(Buf::Owned(read_le(&mut file, h.n * h.dim, f32::from_le_bytes).map_err(io)?)),
            Storage::F16 => Store::F16(Buf::Owned(read_le(&mut file, h.n * h.dim, f16::from_le_bytes).map_err(io)?)),
        };
        let mut rest = Vec::with_capacity(h.n * 9);
        file.read_to_end(&mut rest).map_err(io)?;
        finish(h, data, &rest, &name)
    }

    /// Opens an index written by [`Self::save`] by memory-mapping it: the vectors are scanned in
    /// place from the page cache instead of being read into memory, and processes that map one
    /// file share its pages. The index answers exactly as `load`'s does and stays usable: `add`
    /// and `delete` change private copies of the pages they touch (never the file), and adding
    /// a vector copies the vectors into memory first.
    ///
    /// The file must not be truncated or rewritten in place while the index is open (reading a
    /// page the file no longer has is a bus error, as with every memory-mapped reader).
    /// [`Self::save`] never does that: it writes a new file and renames it over the old one.
    ///
    /// ```
    /// use ember_ann::{FlatIndex, Metric, Vectors};
    /// use ember_core::Device;
    /// let mut idx = FlatIndex::new(2, Metric::L2)?;
    /// idx.add(&Vectors::from_row_major(vec![0.0, 0.0, 1.0, 0.0, 5.0, 5.0], 2)?, None)?;
    /// let path = std::env::temp_dir().join(format!("ember-flat-doc-{}.ember", std::process::id()));
    /// idx.save(&path)?;
    /// let mapped = FlatIndex::load_mapped(&path)?;
    /// assert!(mapped.is_mapped());
    /// let r = mapped.search(&Vectors::from_row_major(vec![0.9, 0.1], 2)?, 2, None, Device::Cpu)?;
    /// assert_eq!(r.labels, vec![1, 0]);
    /// # drop(mapped); std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), ember_core::Error>(())
    /// ```
    pub fn load_mapped(path: impl AsRef<Path>) -> Result<FlatIndex> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let map = map_file(path, VECTORS_AT, "flat")?;
        let h = Header::parse(&map, &name)?;
        if map.len() != h.file_len() {
            return Err(bad(&name, "truncated or trailing bytes"));
        }
        let rest = map[VECTORS_AT + h.vector_bytes()..].to_vec();
        let len = h.n * h.dim;
        let data = match h.storage {
            Storage::F32 => Store::F32(mapped_or_read(map, len, f32::from_le_bytes)),
            Storage::F16 => Store::F16(mapped_or_read(map, len, f16::from_le_bytes)),
        };
        finish(h, data, &rest, &name)
    }

    /// Whether the index's vectors are a mapped file ([`Self::load_mapped`]), not owned memory.
    pub fn is_mapped(&self) -> bool {
        match &self.data {
            Store::F32(d) => d.is_mapped(),
            Store::F16(d) => d.is_mapped(),
        }
    }
}

/// The vectors of a mapped file in place, or (a big-endian target) read out of it.
fn mapped_or_read<T: Plain, const W: usize>(map: memmap2::MmapMut, len: usize, from: fn([u8; W]) -> T) -> Buf<T> {
    Buf::mapped(map, VECTORS_AT, len).unwrap_or_else(|map| {
        Buf::Owned(
            map[VECTORS_AT..VECTORS_AT + len * W]
                .chunks_exact(W)
                .map(|c| from(c.try_into().expect("W bytes")))
                .collect(),
        )
    })
}

/// `len` little-endian values read a block at a time straight into their vector.
fn read_le<T, const W: usize>(file: &mut impl Read, len: usize, from: fn([u8; W]) -> T) -> std::io::Result<Vec<T>> {
    let mut out = Vec::with_capacity(len);
    let mut buf = vec![0u8; W << 14];
    while out.len() < len {
        let take = (len - out.len()).min(1 << 14);
        file.read_exact(&mut buf[..take * W])?;
        out.extend(buf[..take * W].chunks_exact(W).map(|c| from(c.try_into().expect("W bytes"))));
    }
    Ok(out)
}

/// The index from its header, vectors and the labels and deleted flags (`rest`); a label live in
/// two slots is a corrupt file.
fn finish(h: Header, data: Store, rest: &[u8], name: &str) -> Result<FlatIndex> {
    let mut idx = FlatIndex::with_storage(h.dim, h.metric, h.storage)?;
    idx.data = data;
    idx.labels = rest[..h.n * 8].chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes"))).collect();
    idx.deleted = rest[h.n * 8..h.n * 9].iter().map(|&b| b != 0).collect();
    idx.slots = live_slots(&idx.labels, &idx.deleted, name)?;
    idx.live = idx.slots.len();
    Ok(idx)
}
