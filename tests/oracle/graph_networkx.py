#!/usr/bin/env python3
"""networkx answers for ember's graph tests (tests/graph.rs).

    python tests/oracle/graph_networkx.py DIR

1. Writes the graph-tool collection's karate, polblogs, power, email-Enron and pgp-strong-2009
   graphs to DIR as `<name>.csv` (header `src,dst`) with a spec `<name>.json`. They come from
   Debian's `python3-graph-tool` package, fetched once with `apt-get download` and unpacked with
   `dpkg-deb -x` into $EMBER_CACHE_DIR/graph-tool (no install; the `.gt` files are parsed here).
2. For every `<name>.json` spec in DIR (the test also writes R-MAT graphs and edge cases) builds
   the networkx graph the spec describes and writes `<name>.answers.json`:
   - "pagerank": nx.pagerank with the spec's options (networkx's defaults otherwise);
   - "pagerank_converged": nx.pagerank run to tol 1e-15 (max_iter 10000), the fixed point;
   - "pagerank_error": the exception class, when nx.pagerank raises;
   - "bfs": {source: {vertex: distance}} from nx.single_source_shortest_path_length;
   - "components": {vertex: smallest vertex id of its (weakly) connected component}.

Spec keys: "directed" (bool), "multi" (bool: MultiDiGraph / MultiGraph), "weight" (bool: a third
CSV column `weight`), "vertices" (extra isolated vertex ids), "personalization" / "dangling"
({id: value}), "max_iter", "tol", "bfs_sources" (ids).
"""
import glob
import gzip
import json
import os
import struct
import subprocess
import sys
import tempfile

import networkx as nx

GRAPHS = ["karate", "polblogs", "power", "email-Enron", "pgp-strong-2009"]


def collection_dir():
    cache = os.environ.get("EMBER_CACHE_DIR") or os.path.expanduser("~/.cache/ember-dev")
    root = os.path.join(cache, "graph-tool")
    coll = glob.glob(os.path.join(root, "usr/lib/python3/dist-packages/graph_tool/collection"))
    if coll and all(os.path.exists(os.path.join(coll[0], g + ".gt.gz")) for g in GRAPHS):
        return coll[0]
    os.makedirs(root, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        fetch = ["apt-get", "download", "python3-graph-tool"]
        if subprocess.run(fetch, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
            # A fresh machine may have no package lists yet.
            subprocess.run(["apt-get", "update", "-qq"], check=True, stdout=subprocess.DEVNULL)
            subprocess.run(fetch, cwd=tmp, check=True, stdout=subprocess.DEVNULL)
        deb = glob.glob(os.path.join(tmp, "python3-graph-tool_*.deb"))[0]
        subprocess.run(["dpkg-deb", "-x", deb, root], check=True)
    return glob.glob(os.path.join(root, "usr/lib/python3/dist-packages/graph_tool/collection"))[0]


def read_gt(path):
    """Edges of a graph-tool binary `.gt` file: (directed, n, [(src, dst)]) (property maps ignored)."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    if data[:6] != b"\xe2\x9b\xbe gt":
        raise ValueError(f"{path}: not a .gt file")
    pos = 6
    _version, big = data[pos], data[pos + 1]
    pos += 2
    e = ">" if big else "<"
    (clen,) = struct.unpack_from(e + "Q", data, pos)
    pos += 8 + clen
    directed = bool(data[pos])
    pos += 1
    (n,) = struct.unpack_from(e + "Q", data, pos)
    pos += 8
    width, code = (1, "B") if n <= 1 << 8 else (2, "H") if n <= 1 << 16 else (4, "I") if n <= 1 << 32 else (8, "Q")
    edges = []
    for v in range(n):
        (k,) = struct.unpack_from(e + "Q", data, pos)
        pos += 8
        for u in struct.unpack_from(e + code * k, data, pos):
            edges.append((v, u))
        pos += width * k
    return directed, n, edges


def write_collection(out):
    coll = collection_dir()
    for name in GRAPHS:
        directed, n, edges = read_gt(os.path.join(coll, name + ".gt.gz"))
        with open(os.path.join(out, name + ".csv"), "w") as f:
            f.write("src,dst\n")
            f.writelines(f"{s},{d}\n" for s, d in edges)
        present = {v for e in edges for v in e}
        spec = {"directed": directed, "multi": name == "polblogs", "vertices": [v for v in range(n) if v not in present],
                "bfs_sources": [0, n // 3, (2 * n) // 3]}
        with open(os.path.join(out, name + ".json"), "w") as f:
            json.dump(spec, f)


def build(path, spec):
    directed, multi = spec.get("directed", True), spec.get("multi", False)
    cls = {(True, False): nx.DiGraph, (False, False): nx.Graph, (True, True): nx.MultiDiGraph, (False, True): nx.MultiGraph}
    g = cls[(directed, multi)]()
    g.add_nodes_from(spec.get("vertices", []))
    with open(path) as f:
        header = f.readline().strip().split(",")
        weighted = "weight" in header
        for line in f:
            parts = line.strip().split(",")
            if weighted:
                g.add_edge(int(parts[0]), int(parts[1]), weight=float(parts[2]))
            else:
                g.add_edge(int(parts[0]), int(parts[1]))
    return g


def keyed(d):
    return {str(k): v for k, v in d.items()}


def answers(g, spec):
    out = {}
    opts = {}
    for key in ("personalization", "dangling"):
        if key in spec:
            opts[key] = {int(k): v for k, v in spec[key].items()}
    for key in ("max_iter", "tol", "alpha"):
        if key in spec:
            opts[key] = spec[key]
    try:
        out["pagerank"] = keyed(nx.pagerank(g, **opts))
        conv = dict(opts, tol=1e-15, max_iter=10000)
        out["pagerank_converged"] = keyed(nx.pagerank(g, **conv))
    except Exception as e:  # noqa: BLE001 - the class name is the answer
        out["pagerank_error"] = type(e).__name__
    out["bfs"] = {str(s): keyed(nx.single_source_shortest_path_length(g, s)) for s in spec.get("bfs_sources", [])}
    comps = nx.weakly_connected_components(g) if g.is_directed() else nx.connected_components(g)
    labels = {}
    for c in comps:
        m = min(c)
        for v in c:
            labels[v] = m
    out["components"] = keyed(labels)
    return out


def main():
    out = sys.argv[1]
    if os.environ.get("EMBER_GRAPH_SKIP_COLLECTION") != "1":
        write_collection(out)
    for spec_path in sorted(glob.glob(os.path.join(out, "*.json"))):
        if spec_path.endswith(".answers.json"):
            continue
        name = spec_path[: -len(".json")]
        with open(spec_path) as f:
            spec = json.load(f)
        g = build(name + ".csv", spec)
        with open(name + ".answers.json", "w") as f:
            json.dump(answers(g, spec), f)


if __name__ == "__main__":
    main()
