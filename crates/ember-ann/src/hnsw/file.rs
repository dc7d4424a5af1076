//! The index file: [`HnswIndex::save`], [`HnswIndex::load`] and [`HnswIndex::load_mapped`].
//!
//! Version 3 (little-endian), laid out to be memory-mapped: the level-0 records, which are nearly
//! all of the bytes, start at byte [`RECORDS_AT`] so that a mapping can be searched in place.
//!
//! | bytes | what |
//! |---|---|
//! | 0..11 | `EMBERHNSW3\0` |
//! | 11..67 | u64: dim, m, ef_construction, seed, slots `n`, entry slot (or `u64::MAX`), top level |
//! | 67, 68 | metric code, storage code (0 f32, 1 f16) |
//! | ..128 | zero |
//! | 128.. | `n * stride` u32 record words (`[count | 2m links | vector]` per slot) |
//! | then | `n` u64 labels, `n` u8 levels, `n` u8 deleted flags, the upper levels' u32 words |
//!
//! Versions 1 and 2 (before this layout) still load: their header ends at byte 68 (version 1:
//! no storage byte, f32) and the labels, levels and deleted flags come before the records.
use super::{HnswIndex, HnswParams, MAX_LEVEL};
use crate::flat::Storage;
use crate::mapped::{bad, live_slots, map_file, metric_code, metric_from_code, save_atomically, storage_code};
use crate::mapped::{storage_from_code, write_le, Buf};
use ember_core::{Error, Result};
use rayon::prelude::*;
use std::io::{Read, Write};
use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

const MAGIC: &[u8] = b"EMBERHNSW3\0";
const MAGIC_V2: &[u8] = b"EMBERHNSW2\0";
const MAGIC_V1: &[u8] = b"EMBERHNSW1\0";
/// Where version 3's records start: past the header, aligned for any SIMD load.
pub(crate) const RECORDS_AT: usize = 128;
/// Header bytes every version has at least (version 1's).
const HEADER_V1: usize = 11 + 7 * 8 + 1;

impl HnswIndex {
    /// Writes the index to `path` (the format in this module's documentation; `load` and
    /// `load_mapped` read it back).
    ///
    /// The file is written under a temporary name beside `path` and renamed when complete: an
    /// interrupted save never leaves a truncated index under the real name, and a process that
    /// has the old file mapped keeps reading the old file.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        save_atomically(path.as_ref(), |out| self.write_to(out))
    }

    fn write_to(&self, out: &mut impl Write) -> std::io::Result<()> {
        let mut header = Vec::with_capacity(RECORDS_AT);
        header.extend_from_slice(MAGIC);
        for v in [
            self.dim as u64,
            self.params.m as u64,
            self.params.ef_construction as u64,
            self.params.seed,
            self.labels.len() as u64,
            self.entry.map_or(u64::MAX, |e| e.0 as u64),
            self.entry.map_or(0, |e| e.1 as u64),
        ] {
            header.extend_from_slice(&v.to_le_bytes());
        }
        header.push(metric_code(self.metric));
        header.push(storage_code(self.storage));
        header.resize(RECORDS_AT, 0);
        out.write_all(&header)?;
        write_le(out, &self.records, |w| w.load(Relaxed).to_le_bytes())?;
        write_le(out, &self.labels, |l| l.to_le_bytes())?;
        out.write_all(&self.levels)?;
        out.write_all(&self.deleted.iter().map(|&d| d as u8).collect::<Vec<u8>>())?;
        for u in &self.upper {
            write_le(out, u, |w| w.load(Relaxed).to_le_bytes())?;
        }
        Ok(())
    }

    /// Reads an index written by [`Self::save`] into memory; a truncated or foreign file is an
    /// error naming it. The file is read into one buffer of words whose record part becomes the
    /// index's records in place: loading takes the file's size in memory, not twice that.
    pub fn load(path: impl AsRef<Path>) -> Result<HnswIndex> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let io = |e: std::io::Error| Error::Io { path: name.clone(), source: e };
        let mut file = std::fs::File::open(path).map_err(io)?;
        let len = usize::try_from(file.metadata().map_err(io)?.len()).map_err(|_| bad(&name, "too large"))?;
        let mut buf = vec![0u32; len.div_ceil(4)];
        file.read_exact(&mut bytemuck::cast_slice_mut::<u32, u8>(&mut buf)[..len]).map_err(io)?;
        let (mut idx, at) = parse(&bytemuck::cast_slice::<u32, u8>(&buf)[..len], &name)?;
        idx.records = if at.start.is_multiple_of(4) {
            // Records at a word boundary (always so in version 3): drop the words before and
            // after them; the map to atomics reuses the allocation (same size and alignment).
            buf.truncate(at.end / 4);
            buf.drain(..at.start / 4);
            Buf::Owned(buf.into_iter().map(|w| AtomicU32::new(u32::from_le(w))).collect())
        } else {
            Buf::Owned(words(&bytemuck::cast_slice::<u32, u8>(&buf)[at]))
        };
        finish(idx, &name)
    }

    /// Opens an index written by [`Self::save`] by memory-mapping it: the level-0 records (the
    /// vectors and their links) are searched in place from the page cache instead of being read
    /// into memory, so opening costs a pass over the links (checked, as `load` checks them) and
    /// processes that map one file share its pages. The index answers exactly as `load`'s does.
    /// It stays fully usable: `add`, `delete`, `upsert` and `compact` write to private copies of
    /// the pages they touch (never to the file), and growing past the mapped slots copies the
    /// records into memory. Files of versions 1 and 2 are read into memory instead
    /// ([`Self::is_mapped`] says which).
    ///
    /// The file must not be truncated or rewritten in place while the index is open (reading a
    /// page the file no longer has is a bus error, as with every memory-mapped reader).
    /// [`Self::save`] never does that: it writes a new file and renames it over the old one.
    ///
    /// ```
    /// use ember_ann::{HnswIndex, HnswParams, Metric, Vectors};
    /// let mut idx = HnswIndex::new(4, Metric::L2, HnswParams::default())?;
    /// idx.add(&Vectors::from_row_major(vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0], 4)?, None)?;
    /// let path = std::env::temp_dir().join(format!("ember-doc-{}.ember", std::process::id()));
    /// idx.save(&path)?;
    /// let mapped = HnswIndex::load_mapped(&path)?;
    /// assert!(mapped.is_mapped());
    /// let hits = mapped.search(&Vectors::from_row_major(vec![0.9, 0.0, 0.0, 0.1], 4)?, 1, 8, None)?;
    /// assert_eq!(hits.labels, vec![1]);
    /// # drop(mapped); std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), ember_core::Error>(())
    /// ```
    pub fn load_mapped(path: impl AsRef<Path>) -> Result<HnswIndex> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let map = map_file(path, HEADER_V1, "HNSW")?;
        let (mut idx, at) = parse(&map, &name)?;
        // Version 3's records start aligned in a page-aligned mapping; older files' need not.
        let mapped = if at.start == RECORDS_AT { Buf::mapped(map, at.start, at.len() / 4) } else { Err(map) };
        idx.records = mapped.unwrap_or_else(|map| Buf::Owned(words(&map[at])));
        finish(idx, &name)
    }

    /// Whether the index's records are a mapped file ([`Self::load_mapped`]), not owned memory.
    pub fn is_mapped(&self) -> bool {
        self.records.is_mapped()
    }
}

/// u32 words from little-endian bytes.
fn words(bytes: &[u8]) -> Vec<AtomicU32> {
    bytes.chunks_exact(4).map(|c| AtomicU32::new(u32::from_le_bytes(c.try_into().expect("4 bytes")))).collect()
}

/// The index a file describes, except its records (their byte range is returned) and what
/// `finish` derives; every size is checked against the file's length.
fn parse(bytes: &[u8], name: &str) -> Result<(HnswIndex, Range<usize>)> {
    let bad = |m: &str| bad(name, m);
    let version =
        [(MAGIC_V1, 1), (MAGIC_V2, 2), (MAGIC, 3)].into_iter().find(|(m, _)| bytes.starts_with(m)).map(|v| v.1);
    let header = |v: usize| [HEADER_V1, HEADER_V1 + 1, RECORDS_AT][v - 1];
    let Some(version) = version.filter(|&v| bytes.len() >= header(v)) else {
        return Err(bad("not an ember HNSW index file"));
    };
    let u64_at = |i: usize| {
        let at = MAGIC.len() + 8 * i;
        u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
    };
    let (dim, m, efc, seed, n, ep, top) = (u64_at(0), u64_at(1), u64_at(2), u64_at(3), u64_at(4), u64_at(5), u64_at(6));
    let metric = metric_from_code(bytes[HEADER_V1 - 1], name)?;
    // Version 1 files (before f16 storage) have no storage byte: f32.
    let storage = if version == 1 { Storage::F32 } else { storage_from_code(bytes[HEADER_V1], name)? };
    if dim == 0 || dim > 1 << 20 || !(2..=256).contains(&m) || n >= u32::MAX as u64 {
        return Err(bad("implausible header (dimension, m or count)"));
    }
    let params = HnswParams { m: m as usize, ef_construction: efc as usize, seed };
    let mut idx = HnswIndex::with_storage(dim as usize, metric, params, storage)?;
    let n = n as usize;
    let record_bytes = n * idx.stride * 4;
    let (records, mut pos) = match version {
        3 => (RECORDS_AT..RECORDS_AT + record_bytes, RECORDS_AT + record_bytes),
        _ => {
            let at = HEADER_V1 + (version == 2) as usize + n * 10;
            (at..at + record_bytes, HEADER_V1 + (version == 2) as usize)
        }
    };
    if bytes.len() < pos + n * 10 || bytes.len() < records.end {
        return Err(bad("truncated (labels or records)"));
    }
    idx.labels =
        bytes[pos..pos + n * 8].chunks(8).map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes"))).collect();
    pos += n * 8;
    idx.levels = bytes[pos..pos + n].to_vec();
    pos += n;
    idx.deleted = bytes[pos..pos + n].iter().map(|&b| b != 0).collect();
    pos += n;
    if idx.levels.iter().any(|&l| l as usize > MAX_LEVEL) {
        return Err(bad("a level above the maximum"));
    }
    let upper_at = pos.max(records.end);
    let upper_words: usize = idx.levels.iter().map(|&l| l as usize * (1 + idx.params.m)).sum();
    if bytes.len() != upper_at + upper_words * 4 {
        return Err(bad("truncated or trailing bytes (links and vectors)"));
    }
    let mut upper = words(&bytes[upper_at..]).into_iter();
    idx.upper = idx.levels.iter().map(|&l| upper.by_ref().take(l as usize * (1 + idx.params.m)).collect()).collect();
    idx.entry = if n == 0 || ep == u64::MAX {
        None
    } else if ep as usize >= n || top as usize != idx.levels[ep as usize] as usize {
        return Err(bad("invalid entry point"));
    } else {
        Some((ep as u32, top as usize))
    };
    Ok((idx, records))
}

/// Checks the links of an index whose records are in place (every link must name a slot that has
/// the link's level, so a corrupt file cannot send a search out of bounds) and derives the label map (a label live in
/// two slots is an error) and the free slots.
fn finish(mut idx: HnswIndex, name: &str) -> Result<HnswIndex> {
    let n = idx.labels.len();
    let invalid = (0..n as u32).into_par_iter().find_first(|&v| {
        (0..=idx.levels[v as usize] as usize).any(|l| {
            let links = idx.links(v, l);
            let c = links[0].load(Relaxed) as usize;
            // A link at level `l` must name a node that has level `l` (a search steps onto it
            // and reads its links there).
            let ok = |x: usize| x < n && idx.levels[x] as usize >= l;
            c > links.len() - 1 || !links[1..1 + c].iter().all(|x| ok(x.load(Relaxed) as usize))
        })
    });
    if let Some(v) = invalid {
        return Err(bad(name, &format!("node {v} has invalid links")));
    }
    idx.slots = live_slots(&idx.labels, &idx.deleted, name)?;
    idx.live = idx.slots.len();
    idx.free = (0..n as u32).filter(|&s| idx.deleted[s as usize]).collect();
    Ok(idx)
}
