"""ember.ann against NumPy brute force and hnswlib: exact search on every device, HNSW recall at
hnswlib's parameters, deletions, filters, upserts, save / load, errors."""

from __future__ import annotations

import doctest
from pathlib import Path

import numpy as np
import pytest

import ember as em


def _data(n: int, q: int, dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    r = np.random.default_rng(seed)
    centres = r.normal(0, 3, (20, dim)).astype(np.float32)
    base = (centres[r.integers(0, 20, n)] + r.normal(0, 1, (n, dim))).astype(np.float32)
    queries = (centres[r.integers(0, 20, q)] + r.normal(0, 1, (q, dim))).astype(np.float32)
    return base, queries


def _truth(base: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    d = ((q[:, None, :].astype(np.float64) - base[None, :, :]) ** 2).sum(-1)
    return np.argsort(d, axis=1, kind="stable")[:, :k]


def _recall(got: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(g.tolist()) & set(t.tolist())) / truth.shape[1] for g, t in zip(got, truth)]))


@pytest.mark.parametrize("device", ["cpu", "sim"])
def test_flat_matches_numpy(device: str) -> None:
    base, q = _data(800, 30, 24)
    idx = em.ann.FlatIndex(24)
    idx.add(base)
    labels, dist = idx.search(q, 10, device=device)
    assert labels.shape == (30, 10) and dist.dtype == np.float32
    assert _recall(labels, _truth(base, q, 10)) > 0.999  # float32 vs float64 near-ties only
    assert np.all(np.diff(dist, axis=1) >= 0)


@pytest.mark.parametrize("device", ["cpu", "sim"])
def test_flat_f16_storage_is_the_f32_index_of_rounded_vectors(device: str) -> None:
    base, q = _data(600, 20, 16, 3)
    half = em.ann.FlatIndex(16, storage="f16")
    half.add(base)
    twin = em.ann.FlatIndex(16)
    twin.add(base.astype(np.float16).astype(np.float32))
    l16, d16 = half.search(q, 10, device=device)
    l32, d32 = twin.search(q, 10, device=device)
    assert np.array_equal(l16, l32) and np.array_equal(d16, d32)
    with pytest.raises(em.exceptions.InvalidArgumentError):
        em.ann.FlatIndex(16, storage="f8")


def test_hnsw_f16_storage(tmp_path: Path) -> None:
    base, q = _data(3000, 100, 64, 4)
    truth = _truth(base, q, 10)
    half = em.ann.HnswIndex(64, storage="f16", ef_construction=100)
    half.add(base)
    full = em.ann.HnswIndex(64, ef_construction=100)
    full.add(base)
    # The vectors take half the bytes (links and labels do not shrink).
    assert full.memory_bytes - half.memory_bytes == 3000 * 64 * 2
    r16 = _recall(half.search(q, 10, ef=48)[0], truth)
    assert r16 >= _recall(full.search(q, 10, ef=48)[0], truth) - 0.02 and r16 > 0.9
    half.save(tmp_path / "f16.ember")
    back = em.ann.HnswIndex.load(tmp_path / "f16.ember")
    for a, b in zip(back.search(q, 10, ef=48), half.search(q, 10, ef=48)):
        assert np.array_equal(a, b)
    assert _recall(half.search(q, 10, ef=48, device="sim")[0], truth) > 0.9
    with pytest.raises(em.exceptions.InvalidArgumentError, match="f16"):
        half.add(np.full((1, 64), 1e6, np.float32))


def test_hnsw_recall_close_to_hnswlib() -> None:
    hnswlib = pytest.importorskip("hnswlib")
    base, q = _data(5000, 200, 32, 1)
    truth = _truth(base, q, 10)
    idx = em.ann.HnswIndex(32, "l2", m=16, ef_construction=100)
    idx.add(base)
    ours = _recall(idx.search(q, 10, ef=32)[0], truth)
    hl = hnswlib.Index(space="l2", dim=32)
    hl.init_index(max_elements=5000, M=16, ef_construction=100, random_seed=100)
    hl.add_items(base, np.arange(5000))
    hl.set_ef(32)
    theirs = _recall(hl.knn_query(q, k=10)[0], truth)
    assert ours >= theirs - 0.01, (ours, theirs)
    assert len(idx) == 5000 and idx.memory_bytes > 5000 * 32 * 4


def test_hnsw_graph_search_on_the_gpu_path_keeps_the_cpu_recall() -> None:
    base, q = _data(2000, 60, 16, 9)
    truth = _truth(base, q, 10)
    idx = em.ann.HnswIndex(16, "l2", m=12, ef_construction=100)
    idx.add(base)
    cpu = _recall(idx.search(q, 10, ef=48)[0], truth)
    labels, dist = idx.search(q, 10, ef=48, device="sim")
    assert _recall(labels, truth) >= cpu - 0.01, (_recall(labels, truth), cpu)
    assert np.all(np.diff(dist, axis=1) >= 0)
    keep = np.arange(0, 2000, 2)
    labels, _ = idx.search(q, 10, ef=48, allowed=keep, device="sim")
    assert np.all(labels % 2 == 0)
    labels, _ = idx.search(q, 10, target_recall=0.9, device="sim")
    assert _recall(labels, truth) >= 0.88
    with pytest.raises(em.exceptions.UnsupportedError):
        idx.search(q, 10, ef=1000, device="sim")


def test_target_recall_is_reached_on_held_out_queries() -> None:
    base, q = _data(4000, 300, 24, 5)
    truth = _truth(base, q, 10)
    idx = em.ann.HnswIndex(24, "l2", m=12, ef_construction=100)
    idx.add(base)
    curve = idx.recall_curve(10)
    assert len(curve) >= 10 and curve[-1][1] > curve[0][1]
    efs = []
    for target in (0.85, 0.95):
        labels, _ = idx.search(q, 10, target_recall=target)
        assert _recall(labels, truth) >= target - 0.02, target
        efs.append(idx.ef_for_recall(target, 10, len(q)))
    assert efs[0] <= efs[1]
    # confidence 0.5 aims the mean at the target: no margin, so a smaller ef, and the mean
    # recall of these 300 queries near it.
    assert idx.ef_for_recall(0.95, 10, len(q), confidence=0.5) <= efs[1]
    labels, _ = idx.search(q, 10, target_recall=0.95, confidence=0.5)
    assert abs(_recall(labels, truth) - 0.95) <= 0.03
    with pytest.raises(em.exceptions.InvalidArgumentError):
        idx.search(q, 10, target_recall=1.5)
    with pytest.raises(em.exceptions.InvalidArgumentError):
        idx.search(q, 10, target_recall=0.9, confidence=1.0)


def test_delete_filter_upsert_save_load(tmp_path: Path) -> None:
    base, q = _data(2000, 50, 16, 2)
    idx = em.ann.HnswIndex(16, "cosine")
    idx.add(base, labels=np.arange(2000) * 10)
    for label in range(0, 20000, 30):
        assert idx.delete(label)
    labels, _ = idx.search(q, 10, ef=64)
    assert not np.any(labels % 30 == 0)
    allowed = np.arange(0, 20000, 70)
    labels, _ = idx.search(q, 5, allowed=allowed)
    assert set(labels.ravel().tolist()) <= set(allowed.tolist()) - set(range(0, 20000, 30))
    idx.add(q[:1], labels=[10])  # upsert
    assert idx.search(q[:1], 1)[0][0, 0] == 10
    path = tmp_path / "idx.ember"
    idx.save(path)
    back = em.ann.HnswIndex.load(path)
    a, b = idx.search(q, 10), back.search(q, 10)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not back.is_mapped
    # Memory-mapped: the same answers; changes stay private and the file is untouched.
    before = path.read_bytes()
    mapped = em.ann.HnswIndex.load(path, mmap=True)
    assert mapped.is_mapped and mapped.memory_bytes == back.memory_bytes
    c = mapped.search(q, 10)
    assert np.array_equal(a[0], c[0]) and np.array_equal(a[1], c[1])
    assert mapped.delete(10)
    assert 10 not in mapped.search(q[:1], 5)[0]
    assert path.read_bytes() == before
    idx.compact()
    assert len(idx) == len(back)


def test_flat_save_load_mmap(tmp_path: Path) -> None:
    base, q = _data(1000, 50, 12, 4)
    for storage in ("f32", "f16"):
        idx = em.ann.FlatIndex(12, "cosine", storage=storage)
        idx.add(base, labels=np.arange(1000) * 2)
        assert idx.delete(4)
        path = tmp_path / f"{storage}.ember"
        idx.save(path)
        before = path.read_bytes()
        want = idx.search(q, 10)
        for back in (em.ann.FlatIndex.load(path), em.ann.FlatIndex.load(path, mmap=True)):
            got = back.search(q, 10)
            assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
            assert len(back) == 999 and back.dim == 12
        mapped = em.ann.FlatIndex.load(path, mmap=True)
        assert mapped.is_mapped and not em.ann.FlatIndex.load(path).is_mapped
        mapped.add(q[:1], labels=[7])
        assert mapped.search(q[:1], 1)[0][0, 0] == 7 and not mapped.is_mapped
        assert path.read_bytes() == before
    with pytest.raises(em.exceptions.ReadError):
        em.ann.FlatIndex.load(__file__, mmap=True)


def test_errors() -> None:
    idx = em.ann.FlatIndex(4)
    with pytest.raises(ValueError, match="shape"):
        idx.add(np.zeros((3, 5), np.float32))
    with pytest.raises(em.exceptions.InvalidArgumentError, match="NaN"):
        idx.add(np.array([[1, 2, np.nan, 4]], np.float32))
    with pytest.raises(em.exceptions.InvalidArgumentError, match="metric"):
        em.ann.HnswIndex(4, "manhattan")
    idx.add(np.eye(4, dtype=np.float32))
    labels, dist = idx.search(np.ones((1, 4)), 6)
    assert labels[0, 4] == em.ann.NO_LABEL and np.isinf(dist[0, 5])
    with pytest.raises(em.exceptions.ReadError):
        em.ann.HnswIndex.load(__file__)


def test_module_examples() -> None:
    r = doctest.testmod(em.ann)
    assert r.attempted >= 4 and r.failed == 0
