//! What the index files share: element buffers that are owned or a memory-mapped file
//! ([`Buf`]), the copy-on-write mapping of a file, and writing a file under a temporary name.
//!
//! A mapped buffer is searched straight from the page cache: nothing is read or copied until a
//! search touches it, processes that map the same file share its pages, and the kernel may drop
//! clean pages under memory pressure (an index larger than memory still opens). The mapping is
//! private: writes (`add`, `delete`, relinking) go to copies of the pages they touch, never to the
//! file; growing past the mapped elements copies them into owned memory first.
use crate::flat::Storage;
use crate::metric::Metric;
use ember_core::{Error, Result};
use half::f16;
use memmap2::MmapMut;
use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::sync::atomic::AtomicU32;

/// Element types a file's bytes can be viewed as.
///
/// # Safety
/// Every bit pattern is a valid value, the type has no drop glue, and a bitwise copy is a valid
/// value (plain numbers, and `AtomicU32`, which has `u32`'s layout).
pub(crate) unsafe trait Plain: Sized + 'static {}
// SAFETY: u32's layout; any bits; no drop glue.
unsafe impl Plain for AtomicU32 {}
// SAFETY: any bits are some f32; no drop glue.
unsafe impl Plain for f32 {}
// SAFETY: any bits are some f16; no drop glue.
unsafe impl Plain for f16 {}

/// Elements owned, or viewed in a private mapping of a file.
pub(crate) enum Buf<T: Plain> {
    Owned(Vec<T>),
    /// `len` little-endian elements at byte `at` of a private (copy-on-write) mapping.
    Mapped {
        map: MmapMut,
        at: usize,
        len: usize,
    },
}

impl<T: Plain> Buf<T> {
    /// `len` elements at byte `at` of `map`; the mapping back unless they fit in it and are
    /// aligned for `T`, and on a big-endian target (the files are little-endian).
    pub(crate) fn mapped(map: MmapMut, at: usize, len: usize) -> std::result::Result<Buf<T>, MmapMut> {
        let fits = len.checked_mul(size_of::<T>()).and_then(|b| b.checked_add(at)).is_some_and(|end| end <= map.len());
        let aligned = (map.as_ptr() as usize).wrapping_add(at).is_multiple_of(align_of::<T>());
        if fits && aligned && cfg!(target_endian = "little") {
            Ok(Buf::Mapped { map, at, len })
        } else {
            Err(map)
        }
    }

    /// Whether the elements live in a mapped file.
    pub(crate) fn is_mapped(&self) -> bool {
        matches!(self, Buf::Mapped { .. })
    }

    /// The elements as an owned vector to grow; a mapping is copied into memory first.
    pub(crate) fn owned(&mut self) -> &mut Vec<T> {
        if let Buf::Mapped { len, .. } = *self {
            let mut v = Vec::with_capacity(len);
            // SAFETY: `self` derefs to `len` valid elements; `v` has room for them and does not
            // overlap the mapping; `T: Plain`, so a bitwise copy is a valid value and nothing is
            // dropped twice.
            unsafe {
                std::ptr::copy_nonoverlapping(self.as_ptr(), v.as_mut_ptr(), len);
                v.set_len(len);
            }
            *self = Buf::Owned(v);
        }
        match self {
            Buf::Owned(v) => v,
            Buf::Mapped { .. } => unreachable!("copied above"),
        }
    }
}

impl<T: Plain> Default for Buf<T> {
    fn default() -> Self {
        Buf::Owned(Vec::new())
    }
}

impl<T: Plain> std::fmt::Debug for Buf<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Buf").field("len", &self.len()).field("mapped", &self.is_mapped()).finish()
    }
}

impl<T: Plain> Deref for Buf<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        match self {
            Buf::Owned(v) => v,
            // SAFETY: `mapped` checked that `len` elements from byte `at` lie inside the mapping
            // and are aligned for `T`, whose every bit pattern is valid (`Plain`); the mapping
            // lives as long as `self`. It is private, so no other process's writes through it
            // alias ours; the file itself must not be truncated or rewritten while mapped (the
            // precondition the `load_mapped` functions document, as every reader of
            // memory-mapped files has).
            Buf::Mapped { map, at, len } => unsafe {
                std::slice::from_raw_parts(map.as_ptr().add(*at).cast::<T>(), *len)
            },
        }
    }
}

impl<T: Plain> DerefMut for Buf<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        match self {
            Buf::Owned(v) => v,
            // SAFETY: as in `deref`; `&mut self` makes this the only reference into the mapping,
            // and a copy-on-write mapping is writable (writes never reach the file).
            Buf::Mapped { map, at, len } => unsafe {
                std::slice::from_raw_parts_mut(map.as_mut_ptr().add(*at).cast::<T>(), *len)
            },
        }
    }
}

/// A metric's byte in both files' headers.
pub(crate) fn metric_code(m: Metric) -> u8 {
    match m {
        Metric::L2 => 0,
        Metric::InnerProduct => 1,
        Metric::Cosine => 2,
    }
}

/// The metric a header byte names.
pub(crate) fn metric_from_code(c: u8, name: &str) -> Result<Metric> {
    [Metric::L2, Metric::InnerProduct, Metric::Cosine]
        .into_iter()
        .find(|&m| metric_code(m) == c)
        .ok_or_else(|| bad(name, "unknown metric code"))
}

/// A storage's byte in both files' headers.
pub(crate) fn storage_code(s: Storage) -> u8 {
    match s {
        Storage::F32 => 0,
        Storage::F16 => 1,
    }
}

/// The storage a header byte names.
pub(crate) fn storage_from_code(c: u8, name: &str) -> Result<Storage> {
    [Storage::F32, Storage::F16]
        .into_iter()
        .find(|&s| storage_code(s) == c)
        .ok_or_else(|| bad(name, "unknown storage code"))
}

/// The slot of each live label of a loaded file; a label live in two slots is a corrupt file (a
/// search would return it twice and a delete would leave one behind).
pub(crate) fn live_slots(labels: &[u64], deleted: &[bool], name: &str) -> Result<HashMap<u64, u32>> {
    let mut slots = HashMap::with_capacity(labels.len());
    for (s, (&l, &d)) in labels.iter().zip(deleted).enumerate() {
        if !d && slots.insert(l, s as u32).is_some() {
            return Err(bad(name, &format!("label {l} is live in two slots")));
        }
    }
    Ok(slots)
}

/// Writes `values` little-endian (`to` gives one's bytes), a block at a time.
pub(crate) fn write_le<T, const W: usize>(
    out: &mut impl std::io::Write,
    values: &[T],
    to: impl Fn(&T) -> [u8; W],
) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(W << 14);
    for part in values.chunks(1 << 14) {
        buf.clear();
        part.iter().for_each(|v| buf.extend_from_slice(&to(v)));
        out.write_all(&buf)?;
    }
    Ok(())
}

/// A read error naming the file.
pub(crate) fn bad(name: &str, m: &str) -> Error {
    Error::Read { path: name.to_string(), at: Box::default(), message: m.to_string() }
}

/// A private (copy-on-write) mapping of the file at `path`; a file shorter than `header` bytes
/// is not an index of `kind`.
pub(crate) fn map_file(path: &Path, header: usize, kind: &str) -> Result<MmapMut> {
    let name = path.display().to_string();
    let io = |e: std::io::Error| Error::Io { path: name.clone(), source: e };
    let file = std::fs::File::open(path).map_err(io)?;
    if file.metadata().map_err(io)?.len() < header as u64 {
        return Err(bad(&name, &format!("not an ember {kind} index file")));
    }
    // SAFETY: a private (copy-on-write) mapping of a file opened read-only: our writes go to
    // anonymous copies, never to the file. The file must not be truncated or changed while
    // mapped, the precondition the `load_mapped` functions document; `save_atomically` replaces
    // files by rename, so ember itself never does.
    unsafe { memmap2::MmapOptions::new().map_copy(&file) }.map_err(io)
}

/// Writes a file through `write` under a temporary name beside `path`, then renames it: an
/// interrupted save never leaves a truncated file under the real name, and a process that has
/// the old file mapped keeps reading the old file.
pub(crate) fn save_atomically(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp-{}", std::process::id()));
    let tmp = std::path::PathBuf::from(tmp);
    let written = std::fs::File::create(&tmp).and_then(|f| {
        let mut out = std::io::BufWriter::new(f);
        write(&mut out)?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()
    });
    let renamed = written.and_then(|()| std::fs::rename(&tmp, path));
    if renamed.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    renamed.map_err(|e| Error::Io { path: path.display().to_string(), source: e })
}
