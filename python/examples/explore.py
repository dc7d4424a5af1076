"""Look at a CSV or Parquet file of your own with ember from Python.

    python python/examples/explore.py data.parquet
    python python/examples/explore.py data.csv --group-by region --sum sales --device sim

Prints the schema, the first rows and, with --group-by/--sum, a grouped sum sorted by the key,
with the time each step took on the chosen device (default: the GPU if present, else the CPU).
"""

from __future__ import annotations

import argparse
import time

import ember as em


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file", help="a .csv or .parquet file (or a directory of Parquet files)")
    ap.add_argument("--group-by", help="a key column")
    ap.add_argument("--sum", help="a numeric column to sum per key")
    ap.add_argument("--device", default=None, help="cpu, cuda, cuda:N or sim (default: the best present)")
    args = ap.parse_args()

    start = time.perf_counter()
    if args.file.endswith(".csv"):
        df = em.read_csv(args.file, device=args.device)
    else:
        df = em.read_parquet(args.file, device=args.device)
    print(f"read {df.height:,} rows × {df.width} columns on {df.device} in {time.perf_counter() - start:.3f}s")
    for name, dtype in df.schema.items():
        print(f"  {name}: {dtype}")
    print(df.head(10))
    if args.group_by:
        aggs = [em.col(args.sum).sum()] if args.sum else []
        start = time.perf_counter()
        out = df.group_by(args.group_by).agg(em.col(args.group_by).len().alias("rows"), *aggs).sort(args.group_by)
        print(f"group-by in {time.perf_counter() - start:.3f}s")
        print(out)


if __name__ == "__main__":
    main()
