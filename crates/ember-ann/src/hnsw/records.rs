//! The level-0 records of an [`HnswIndex`](super::HnswIndex): words in memory the index owns, or
//! words of an index file mapped copy-on-write ([`HnswIndex::load_mapped`](super::HnswIndex::load_mapped)).
//!
//! A mapped index is searched straight from the page cache: nothing is read or copied until a
//! search touches it, processes that map the same file share its pages, and the kernel may drop
//! clean pages under memory pressure (an index larger than memory still opens). Writes (`add`,
//! `delete`, `compact` relinking) go to private copies of the pages they touch, never to the
//! file; growing past the mapped slots copies the records into owned memory first.
use memmap2::MmapMut;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// Level-0 record words, owned or mapped.
#[derive(Debug)]
pub(crate) enum Records {
    Owned(Vec<AtomicU32>),
    /// `words` little-endian u32 words at byte `at` of a private (copy-on-write) mapping.
    Mapped {
        map: MmapMut,
        at: usize,
        words: usize,
    },
}

impl Records {
    /// Records over `words` words at byte `at` of `map`; the mapping back unless they fit in it
    /// and start 4-byte aligned, and on a big-endian target (the file is little-endian).
    pub(crate) fn mapped(map: MmapMut, at: usize, words: usize) -> Result<Records, MmapMut> {
        let fits = words.checked_mul(4).and_then(|b| b.checked_add(at)).is_some_and(|end| end <= map.len());
        let aligned = (map.as_ptr() as usize).wrapping_add(at).is_multiple_of(align_of::<AtomicU32>());
        if fits && aligned && cfg!(target_endian = "little") {
            Ok(Records::Mapped { map, at, words })
        } else {
            Err(map)
        }
    }

    /// Whether the words live in a mapped file.
    pub(crate) fn is_mapped(&self) -> bool {
        matches!(self, Records::Mapped { .. })
    }

    /// Appends `n` zero words; a mapped index is copied into owned memory first.
    pub(crate) fn grow(&mut self, n: usize) {
        if let Records::Mapped { .. } = self {
            let owned: Vec<AtomicU32> = self.iter().map(|w| AtomicU32::new(w.load(Relaxed))).collect();
            *self = Records::Owned(owned);
        }
        if let Records::Owned(v) = self {
            v.extend((0..n).map(|_| AtomicU32::new(0)));
        }
    }
}

impl Default for Records {
    fn default() -> Self {
        Records::Owned(Vec::new())
    }
}

impl Deref for Records {
    type Target = [AtomicU32];

    fn deref(&self) -> &[AtomicU32] {
        match self {
            Records::Owned(v) => v,
            // SAFETY: `mapped` checked that `words` u32 words from byte `at` lie inside the
            // mapping and are aligned for AtomicU32 (which has u32's layout, and every bit
            // pattern is valid); the mapping lives as long as `self`. The mapping is private, so
            // no other process's writes through it can alias ours; the file itself must not be
            // truncated or rewritten while mapped (the precondition `load_mapped` documents, as
            // every reader of memory-mapped files has).
            Records::Mapped { map, at, words } => unsafe {
                std::slice::from_raw_parts(map.as_ptr().add(*at).cast::<AtomicU32>(), *words)
            },
        }
    }
}

impl DerefMut for Records {
    fn deref_mut(&mut self) -> &mut [AtomicU32] {
        match self {
            Records::Owned(v) => v,
            // SAFETY: as in `deref`; `&mut self` makes this the only reference into the mapping,
            // and a copy-on-write mapping is writable (writes never reach the file).
            Records::Mapped { map, at, words } => unsafe {
                std::slice::from_raw_parts_mut(map.as_mut_ptr().add(*at).cast::<AtomicU32>(), *words)
            },
        }
    }
}
