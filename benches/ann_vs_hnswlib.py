#!/usr/bin/env python3
"""Vector search: ember's HnswIndex (f32 and f16 storage) and FlatIndex against hnswlib and faiss
(Flat, HNSWFlat, IVF1024 Flat) on one data set, in one run: build time, memory, and recall@10 /
QPS at several ef (for IVF: nprobe, in the ef column).

    pip install hnswlib faiss-cpu numpy   # and ember (pip install ./python)
    python benches/ann_vs_hnswlib.py --data synthetic [--threads 1] [--m 16] [--ef-construction 200]
    python benches/ann_vs_hnswlib.py --data fashion-mnist   # Debian's dataset-fashion-mnist (apt-get download)
    python benches/ann_vs_hnswlib.py --data wordllama       # pip install wordllama safetensors

`--threads` sets every library's search threads (ember through RAYON_NUM_THREADS, set before it
is imported); builds use all threads. Ground truth: exact search by ember's FlatIndex, checked
against NumPy on the first 20 queries. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import glob
import gzip
import os
import struct
import subprocess
import tempfile
import time
from typing import Any


def synthetic(n: int, q: int, dim: int, seed: int = 1) -> tuple[Any, Any]:
    import numpy as np

    r = np.random.default_rng(seed)
    centres = r.normal(0, 3, (100, dim)).astype(np.float32)
    base = (centres[r.integers(0, 100, n)] + r.normal(0, 1, (n, dim))).astype(np.float32)
    queries = (centres[r.integers(0, 100, q)] + r.normal(0, 1, (q, dim))).astype(np.float32)
    return base, queries


def fashion_mnist() -> tuple[Any, Any]:
    import numpy as np

    cache = os.path.join(os.environ.get("EMBER_CACHE_DIR") or os.path.expanduser("~/.cache/ember-dev"), "fashion-mnist")
    if not glob.glob(os.path.join(cache, "**", "train-images-idx3-ubyte*"), recursive=True):
        os.makedirs(cache, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["apt-get", "download", "dataset-fashion-mnist"], cwd=tmp, check=True)
            deb = glob.glob(os.path.join(tmp, "*.deb"))[0]
            subprocess.run(["dpkg-deb", "-x", deb, cache], check=True)

    def idx(name: str) -> Any:
        path = glob.glob(os.path.join(cache, "**", name + "*"), recursive=True)[0]
        raw = gzip.open(path).read() if path.endswith(".gz") else open(path, "rb").read()
        n, rows, cols = struct.unpack(">III", raw[4:16])
        return np.frombuffer(raw[16:], dtype=np.uint8).reshape(n, rows * cols).astype(np.float32)

    return idx("train-images-idx3-ubyte"), idx("t10k-images-idx3-ubyte")


def wordllama_table() -> tuple[Any, Any]:
    """wordllama's bundled 32,000 x 256 token embedding table (float16), normalised to unit length
    (so L2 ranks as cosine); the last 1000 rows are the queries, the rest the base."""
    import numpy as np
    import wordllama
    from safetensors.numpy import load_file

    path = os.path.join(os.path.dirname(wordllama.__file__), "weights", "l2_supercat_256.safetensors")
    t = load_file(path)["embedding.weight"].astype(np.float32)
    t /= np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-12)
    return np.ascontiguousarray(t[:-1000]), np.ascontiguousarray(t[-1000:])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="synthetic", choices=["synthetic", "fashion-mnist", "wordllama"])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--ef-construction", type=int, default=200)
    ap.add_argument("--efs", default="16,32,64,128,256")
    ap.add_argument("--nprobes", default="1,2,4,8,16,32,64", help="IVF1024's nprobe sweep")
    ap.add_argument("--reps", type=int, default=5, help="timed runs per ef (the median is reported)")
    a = ap.parse_args()
    os.environ["RAYON_NUM_THREADS"] = str(a.threads)
    import faiss
    import hnswlib
    import numpy as np

    import ember as em

    if a.data == "synthetic":
        base, queries = synthetic(a.n, a.queries, a.dim)
    elif a.data == "wordllama":
        base, queries = wordllama_table()
    else:
        base, queries = fashion_mnist()
        queries = queries[: a.queries]
    n, dim = base.shape
    k = 10
    efs = [int(x) for x in a.efs.split(",")]
    rows: list[str] = []

    flat = em.ann.FlatIndex(dim, "l2")
    flat.add(base)
    t = time.perf_counter()
    truth, _ = flat.search(queries, k)
    flat_s = time.perf_counter() - t
    d = ((queries[:20, None, :] - base[None, :, :]) ** 2).sum(-1)
    np_truth = np.argsort(d, axis=1, kind="stable")[:, :k]
    agree = np.mean([len(set(np_truth[i]) & set(truth[i].tolist())) / k for i in range(20)])
    assert agree > 0.99, f"FlatIndex disagrees with NumPy: {agree}"

    def recall(labels: Any) -> float:
        return float(np.mean([len(set(labels[i].tolist()) & set(truth[i].tolist())) / k for i in range(len(truth))]))

    def sweep(name: str, build_s: float, mem: float, search: Any, params: list[int] = efs) -> None:
        for ef in params:
            labels = search(ef)  # warm-up (and the answer)
            times = []
            for _ in range(a.reps):
                t = time.perf_counter()
                search(ef)
                times.append(time.perf_counter() - t)
            s = sorted(times)[len(times) // 2]  # the median: a batch takes milliseconds, noise is large
            rows.append(f"| {name} | {build_s:.1f} | {mem:.0f} | {ef} | {recall(labels):.4f} | {len(queries) / s:,.0f} |")

    # ember HNSW (build on all threads: rayon's pool is set to --threads, so build with a second
    # process would be needed for a different count; the build time is reported at --threads).
    t = time.perf_counter()
    h = em.ann.HnswIndex(dim, "l2", m=a.m, ef_construction=a.ef_construction)
    h.add(base)
    build = time.perf_counter() - t
    sweep("ember HnswIndex", build, h.memory_bytes / 2**20, lambda ef: h.search(queries, k, ef=ef)[0])
    del h
    t = time.perf_counter()
    h16 = em.ann.HnswIndex(dim, "l2", m=a.m, ef_construction=a.ef_construction, storage="f16")
    h16.add(base)
    build = time.perf_counter() - t
    sweep("ember HnswIndex f16", build, h16.memory_bytes / 2**20, lambda ef: h16.search(queries, k, ef=ef)[0])
    del h16

    t = time.perf_counter()
    hl = hnswlib.Index(space="l2", dim=dim)
    hl.init_index(max_elements=n, M=a.m, ef_construction=a.ef_construction, random_seed=100)
    hl.set_num_threads(a.threads)
    hl.add_items(base, np.arange(n))
    build = time.perf_counter() - t
    hl_mem = n * (hl.M * 2 * 4 + 4 + dim * 4 + 8) / 2**20

    def hl_search(ef: int) -> Any:
        hl.set_ef(ef)
        return hl.knn_query(queries, k=k, num_threads=a.threads)[0]

    sweep(f"hnswlib {hnswlib.__version__ if hasattr(hnswlib, '__version__') else ''}".strip(), build, hl_mem, hl_search)

    faiss.omp_set_num_threads(a.threads)
    t = time.perf_counter()
    fh = faiss.IndexHNSWFlat(dim, a.m)
    fh.hnsw.efConstruction = a.ef_construction
    fh.add(base)
    build = time.perf_counter() - t

    def fh_search(ef: int) -> Any:
        fh.hnsw.efSearch = ef
        return fh.search(queries, k)[1]

    sweep(f"faiss {faiss.__version__} HNSWFlat", build, float("nan"), fh_search)
    del fh
    t = time.perf_counter()
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatL2(dim), dim, 1024)
    ivf.train(base)
    ivf.add(base)
    build = time.perf_counter() - t

    def ivf_search(nprobe: int) -> Any:
        ivf.nprobe = nprobe
        return ivf.search(queries, k)[1]

    ivf_mem = (n * (dim * 4 + 8) + 1024 * dim * 4) / 2**20
    sweep("faiss IVF1024 Flat (ef = nprobe)", build, ivf_mem, ivf_search, [int(x) for x in a.nprobes.split(",")])
    del ivf
    ff = faiss.IndexFlatL2(dim)
    ff.add(base)
    t = time.perf_counter()
    ff.search(queries, k)
    faiss_flat_s = time.perf_counter() - t

    print(f"\n{a.data}: {n} x {dim} base, {len(queries)} queries, k = {k}, M = {a.m}, "
          f"efConstruction = {a.ef_construction}, {a.threads} search thread(s), {os.cpu_count()} CPUs\n")
    print("| index | build s | memory MiB | ef | recall@10 | QPS |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(f"\nexact: ember FlatIndex {len(queries) / flat_s:,.0f} QPS, faiss IndexFlatL2 {len(queries) / faiss_flat_s:,.0f} QPS")


if __name__ == "__main__":
    main()
