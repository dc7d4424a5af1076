"""PageRank, BFS or connected components on an edge file of your own, from Python.

    python python/examples/graph.py pagerank|bfs|cc edges.parquet [--src src] [--dst dst]
        [--weight COL] [--undirected] [--source V] [--top 10] [--device cpu|sim|cuda] [--out result.csv]

The file (CSV or Parquet) holds integer vertex ids in two columns (any ids: they are renumbered
and come back unchanged). Prints the time and the top vertices (PageRank), the depth reached
(BFS) or the largest components; ``--out`` writes the whole result.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

import ember as em


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("algorithm", choices=["pagerank", "bfs", "cc"])
    ap.add_argument("edges", help="a .csv or .parquet file")
    ap.add_argument("--src", default="src")
    ap.add_argument("--dst", default="dst")
    ap.add_argument("--weight")
    ap.add_argument("--undirected", action="store_true")
    ap.add_argument("--source", type=int, help="BFS source (default: the first edge's src)")
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--device", default=None)
    ap.add_argument("--out")
    a = ap.parse_args()

    df = em.read_csv(a.edges) if a.edges.endswith(".csv") else em.read_parquet(a.edges)
    t = time.perf_counter()
    g = em.graph.Graph.from_frame(df, a.src, a.dst, a.weight, directed=not a.undirected)
    print(f"{g!r} built in {time.perf_counter() - t:.3f} s")
    t = time.perf_counter()
    if a.algorithm == "pagerank":
        out = g.pagerank(device=a.device)
        print(f"pagerank: {g.last_iterations} iterations in {time.perf_counter() - t:.3f} s")
        d = out.to_dict()
        for v, r in sorted(zip(d["vertex"], d["pagerank"]), key=lambda x: -x[1])[: a.top]:
            print(f"  {v}\t{r:.6g}")
    elif a.algorithm == "bfs":
        source = a.source if a.source is not None else int(df.to_dict()[a.src][0])
        out = g.bfs(source, device=a.device)
        dist = [x for x in out.to_dict()["distance"] if x is not None]
        print(f"bfs from {source}: {len(dist)} reached, depth {max(dist)}, {time.perf_counter() - t:.3f} s")
    else:
        out = g.connected_components(device=a.device)
        sizes = Counter(out.to_dict()["component"])
        print(f"{len(sizes)} components in {time.perf_counter() - t:.3f} s; largest (component: size):")
        for c, n in sizes.most_common(a.top):
            print(f"  {c}\t{n}")
    if a.out:
        out.write_csv(a.out) if a.out.endswith(".csv") else out.write_parquet(a.out)
        print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
