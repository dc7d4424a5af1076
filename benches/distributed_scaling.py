"""ember.distributed on 1 and 2 local Dask workers: TPC-H Q1, Q3 and Q18 (tables generated on the
workers), a group-by with many groups (shuffled), and a GBDT fit; single-process ember beside them.

    python benches/distributed_scaling.py [--sf 1] [--gbdt-rows 400000] [--workers 1 2]

Prints one row per workload: seconds per worker count (best of --reps after one warm-up run).
Each worker is given one core (one Dask thread, RAYON_NUM_THREADS=1); the single process uses
every core.
Needs dask, distributed and xgboost (one of the two GBDT allreduces) next to the ember wheel.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

import distributed

import ember as em
from ember import distributed as ed
from ember.distributed import gbdt as dgbdt
from ember.distributed import tpch


def best(f: Callable[[], object], reps: int) -> float:
    f()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return min(times)


def gbdt_frame(rows: int) -> em.DataFrame:
    rng = random.Random(5)
    cols: dict[str, list[float]] = {f"x{i}": [rng.uniform(-2, 2) for _ in range(rows)] for i in range(10)}
    cols["y"] = [1.0 if 1.5 * a - b + 0.5 * c * d > 0 else 0.0 for a, b, c, d in zip(cols["x0"], cols["x1"], cols["x2"], cols["x3"])]
    return em.DataFrame(cols)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sf", type=float, default=1.0)
    ap.add_argument("--gbdt-rows", type=int, default=400_000)
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()

    gdf = gbdt_frame(args.gbdt_rows)
    params = {"rounds": args.rounds, "max_depth": 6, "eta": 0.1}
    rows: dict[str, dict[str, float]] = {}
    single = em.tpch.tables(args.sf)
    for q in (1, 3, 18):
        rows.setdefault(f"TPC-H Q{q} SF{args.sf:g}", {})["1 process"] = best(
            lambda q=q: em.tpch.query(q, single).collect(), args.reps
        )
    li = single["lineitem"]
    many = [em.col("l_quantity").sum().alias("q"), em.col("l_extendedprice").mean().alias("p")]
    rows.setdefault("group-by l_orderkey (1.5M groups/SF)", {})["1 process"] = best(
        lambda: li.group_by("l_orderkey").agg(many), args.reps
    )
    one = best(lambda: em.gbdt.train(gdf, "y", objective="binary:logistic", **params), 1)
    for how in ("xgboost", "dask"):
        rows[f"GBDT {args.gbdt_rows} x 10, {args.rounds} rounds, {how} allreduce"] = {"1 process": one}
    del single, li
    for n in args.workers:
        # One core per worker: ember's thread pool (rayon) in each worker gets one thread, as
        # Dask's task thread does, so n workers use n cores.
        cluster = distributed.LocalCluster(
            n_workers=n, threads_per_worker=1, dashboard_address=":0", env={"RAYON_NUM_THREADS": "1"}
        )
        with distributed.Client(cluster):
            parts = 2 * n
            t = {name: tab.persist() for name, tab in tpch.tables(args.sf, parts).items()}
            distributed.wait(distributed.futures_of(list(t.values())))
            for q, run in ((1, tpch.q1), (3, tpch.q3), (18, tpch.q18)):
                rows[f"TPC-H Q{q} SF{args.sf:g}"][f"{n} workers"] = best(lambda run=run: run(t).compute(), args.reps)
            rows["group-by l_orderkey (1.5M groups/SF)"][f"{n} workers"] = best(
                lambda: t["lineitem"].group_by("l_orderkey").agg(many, split_out=parts).compute(), args.reps
            )
            g = ed.from_ember(gdf, parts).persist()
            for how in ("xgboost", "dask"):
                rows[f"GBDT {args.gbdt_rows} x 10, {args.rounds} rounds, {how} allreduce"][f"{n} workers"] = best(
                    lambda how=how: dgbdt.train(g, "y", objective="binary:logistic", collective=how, **params), 1
                )
        cluster.close()
    heads = ["1 process"] + [f"{n} workers" for n in args.workers]
    print("| workload | " + " | ".join(heads) + " |")
    print("|---" * (len(heads) + 1) + "|")
    for name, r in rows.items():
        print(f"| {name} | " + " | ".join(f"{r.get(h, float('nan')):.3f}" for h in heads) + " |")


if __name__ == "__main__":
    main()
