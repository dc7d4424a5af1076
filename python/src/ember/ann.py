"""Nearest-neighbour search over float32 vectors: ``FlatIndex`` (exact, CPU engine or GPU) and
``HnswIndex`` (a graph index on the CPU engine, hnswlib's parameters), metrics ``"l2"``
(squared), ``"ip"`` (``1 - a.b``) and ``"cosine"``. Vectors are NumPy arrays (or anything
``np.asarray`` takes) of shape ``(n, dim)``; labels are non-negative integers.

>>> import numpy as np, ember as em
>>> x = np.arange(40, dtype=np.float32).reshape(10, 4)
>>> idx = em.ann.HnswIndex(4, "l2")
>>> idx.add(x)
>>> labels, dist = idx.search(x[3:5], k=2)
>>> labels.tolist()
[[3, 2], [4, 3]]
>>> em.ann.FlatIndex(4).add(x) is None
True
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ember import _ember

if TYPE_CHECKING:
    import numpy as np

__all__ = ["FlatIndex", "HnswIndex", "NO_LABEL"]

#: The label of a missing neighbour (fewer than ``k`` vectors matched).
NO_LABEL = 2**64 - 1


def _f32(x: Any, dim: int) -> bytes:
    import numpy as np

    a = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
    if a.ndim == 1:
        a = a.reshape(1, -1)
    if a.ndim != 2 or a.shape[1] != dim:
        raise ValueError(f"expected vectors of shape (n, {dim}), got {a.shape}")
    return a.astype("<f4", copy=False).tobytes()


def _u64(x: Any) -> bytes | None:
    import numpy as np

    return None if x is None else np.ascontiguousarray(np.asarray(x, dtype="<u8")).tobytes()


def _result(r: tuple[bytes, bytes], k: int) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np

    labels = np.frombuffer(r[0], dtype="<u8").reshape(-1, k) if k else np.zeros((0, 0), np.uint64)
    dist = np.frombuffer(r[1], dtype="<f4").reshape(-1, k) if k else np.zeros((0, 0), np.float32)
    return labels, dist


class _Index:
    """What both indexes share: dimension, size, add and delete."""

    __slots__ = ("_i",)
    _i: _ember.PyFlatIndex | _ember.PyHnswIndex

    @property
    def dim(self) -> int:
        return self._i.dim

    def __len__(self) -> int:
        return len(self._i)

    def add(self, vectors: Any, labels: Any = None) -> None:
        """Adds vectors (labels ``len(self)...`` when None); an existing label is an upsert."""
        self._i.add(_f32(vectors, self.dim), _u64(labels))

    def delete(self, label: int) -> bool:
        """Removes a label; whether it was present. It is never returned again."""
        return self._i.delete(label)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes the index to ``path`` (under a temporary name, renamed when complete)."""
        self._i.save(os.fspath(path))

    @property
    def is_mapped(self) -> bool:
        """Whether the index's vectors are a memory-mapped file (``load(mmap=True)``)."""
        return self._i.is_mapped


class FlatIndex(_Index):
    """Exact search by a full scan (``device="cuda"`` / ``"sim"`` runs it on the GPU path; every
    device returns the same neighbours, ties to the earlier-added vector). ``storage="f16"`` keeps
    the vectors in half precision (half the memory; results are those of the rounded vectors,
    the same on every device)."""

    __slots__ = ()
    _i: _ember.PyFlatIndex

    def __init__(self, dim: int, metric: str = "l2", *, storage: str = "f32") -> None:
        self._i = _ember.PyFlatIndex(dim, metric, storage)

    @staticmethod
    def load(path: str | os.PathLike[str], *, mmap: bool = False) -> FlatIndex:
        """Reads an index written by ``save``; ``mmap=True`` memory-maps the file, as
        ``HnswIndex.load`` does."""
        idx = FlatIndex.__new__(FlatIndex)
        idx._i = _ember.PyFlatIndex.load(os.fspath(path), mmap)
        return idx

    def search(
        self, queries: Any, k: int = 10, *, allowed: Any = None, device: str | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(labels, distances)``, each ``(queries, k)``, closest first; ``allowed`` restricts the
        result to those labels. Missing neighbours are ``NO_LABEL`` / ``inf``."""
        return _result(self._i.search(_f32(queries, self.dim), k, _u64(allowed), device), k)


class HnswIndex(_Index):
    """An HNSW graph index (``m`` links per node, ``ef_construction`` candidates while building,
    as hnswlib). ``search(..., ef=...)`` trades speed for recall. New vectors fill the slots of
    deleted ones. ``storage="f16"`` keeps the vectors in half precision (about half the memory
    for long vectors; the graph and results are those of an f32 index of the rounded vectors)."""

    __slots__ = ()
    _i: _ember.PyHnswIndex

    def __init__(
        self,
        dim: int,
        metric: str = "l2",
        *,
        m: int = 16,
        ef_construction: int = 200,
        seed: int = 100,
        storage: str = "f32",
    ) -> None:
        self._i = _ember.PyHnswIndex(dim, metric, m, ef_construction, seed, storage)

    @staticmethod
    def load(path: str | os.PathLike[str], *, mmap: bool = False) -> HnswIndex:
        """Reads an index written by ``save``. With ``mmap=True`` the file is memory-mapped
        (copy-on-write): the vectors and links are searched in place from the page cache, not
        read into memory, and processes that open one file share its pages. The index answers as
        a loaded one and can still be changed; changes never reach the file. The file must not be
        truncated or rewritten in place while it is open (``save`` replaces files by rename, so it
        never does)."""
        idx = HnswIndex.__new__(HnswIndex)
        idx._i = _ember.PyHnswIndex.load(os.fspath(path), mmap)
        return idx

    @property
    def memory_bytes(self) -> int:
        """Bytes of vectors, links and labels held."""
        return self._i.memory_bytes

    def compact(self) -> None:
        self._i.compact()

    def search(
        self,
        queries: Any,
        k: int = 10,
        *,
        ef: int = 64,
        target_recall: float | None = None,
        confidence: float = 0.95,
        allowed: Any = None,
        device: str | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(labels, distances)``, each ``(queries, k)``, closest first; ``allowed`` restricts the
        result to those labels (a selective filter switches to an exact scan). With
        ``target_recall`` (in (0, 1]) the index picks ``ef`` for the batch from the recall curve it
        measures on itself (once per ``k``; see ``recall_curve``; fractional on the CPU, where a
        share of the batch takes the next integer; below ``k`` a shorter search that still returns
        ``k``), and ``ef`` is ignored. ``confidence`` (in [0.5, 1)) is the share of batches that
        should reach the target: 0.95 puts the mean recall above it by the batch's and the curve's
        sampling error (about 0.007 at recall 0.95, batches of 1000), 0.5 aims the mean at the
        target itself (about half the batches fall short).
        ``device="cuda"`` / ``"sim"`` searches on the GPU path: a CAGRA-style graph search of the
        whole batch in one launch (``ef`` and ``k`` at most 256), approximate like the CPU search
        and with about the same recall at the same ``ef``, not the same neighbours."""
        q = _f32(queries, self.dim)
        return _result(self._i.search(q, k, ef, _u64(allowed), target_recall, device, confidence), k)

    def recall_curve(self, k: int = 10) -> list[tuple[int, float]]:
        """``(ef, mean recall@k)`` measured on up to 1000 of the indexed vectors, each searched as if
        the index did not hold it (it is left out of the graph and the links to it re-selected)."""
        return self._i.recall_curve(k)

    def ef_for_recall(
        self, target_recall: float, k: int = 10, batch: int = 1000, confidence: float = 0.95
    ) -> float:
        """The ``ef`` a batch of ``batch`` queries gets for ``target_recall`` at ``confidence`` (see
        ``search``) on the CPU: fractional, a share of the batch takes the next integer (the GPU
        path takes its ceiling, and at least ``k``)."""
        return self._i.ef_for_recall(k, target_recall, batch, confidence)
