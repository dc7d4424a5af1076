"""ember.graph against networkx: PageRank (plain, personalized, weighted, multi-edges), BFS and
components, on the CPU engine and the simulated device; errors."""

from __future__ import annotations

import random
from typing import Any

import pytest

import ember as em
from ember.exceptions import InvalidArgumentError, NotConvergedError

nx = pytest.importorskip("networkx")
pytest.importorskip("scipy")


def _edges(g: Any) -> tuple[list[int], list[int]]:
    src, dst = zip(*g.edges())
    return list(src), list(dst)


def _random_digraph(n: int, m: int, seed: int) -> tuple[list[int], list[int]]:
    r = random.Random(seed)
    # ids far from 0..n and sparse, to exercise renumbering; duplicates and self-loops included
    ids = [r.randrange(-10**12, 10**12) for _ in range(n)]
    return [ids[r.randrange(n)] for _ in range(m)], [ids[r.randrange(n)] for _ in range(m)]


def test_pagerank_matches_networkx_on_karate() -> None:
    kg = nx.karate_club_graph()
    src, dst = _edges(kg)
    g = em.graph.Graph.from_edges(src, dst, directed=False)
    got = dict(zip(*g.pagerank(weighted=False).to_dict().values()))
    want = nx.pagerank(kg, weight=None)
    assert set(got) == set(want)
    assert max(abs(got[v] - want[v]) for v in want) < 1e-12
    assert g.last_iterations is not None and g.last_iterations > 5


def test_personalized_weighted_multigraph_pagerank() -> None:
    src, dst = _random_digraph(300, 1500, 1)
    r = random.Random(2)
    w = [r.uniform(0.1, 5.0) for _ in src]
    mg = nx.MultiDiGraph()
    for s, d, x in zip(src, dst, w):
        mg.add_edge(s, d, weight=x)
    pers = {src[0]: 1.0, dst[5]: 3.0}
    dang = {dst[1]: 2.0, src[9]: 1.0}
    want = nx.pagerank(mg, personalization=pers, dangling=dang)
    g = em.graph.Graph.from_edges(src, dst, w, multi_edges="sum")
    got = dict(zip(*g.pagerank(personalization=pers, dangling=dang).to_dict().values()))
    assert max(abs(got[v] - want[v]) for v in want) < 1e-12


@pytest.mark.parametrize("device", ["cpu", "sim"])
def test_bfs_and_components_match_networkx(device: str) -> None:
    src, dst = _random_digraph(400, 700, 3)
    dg = nx.DiGraph()
    dg.add_edges_from(zip(src, dst))
    g = em.graph.Graph.from_edges(src, dst)
    for s in (src[0], src[17]):
        out = g.bfs(s, device=device).to_dict()
        want = nx.single_source_shortest_path_length(dg, s)
        got = {v: d for v, d in zip(out["vertex"], out["distance"]) if d is not None}
        assert got == want
        for v, d, p in zip(out["vertex"], out["distance"], out["parent"]):
            if d:
                assert dg.has_edge(p, v) and want[p] == d - 1
    cc = g.connected_components(device=device).to_dict()
    labels = dict(zip(cc["vertex"], cc["component"]))
    for comp in nx.weakly_connected_components(dg):
        assert {labels[v] for v in comp} == {min(comp)}


def test_sim_pagerank_close_to_cpu() -> None:
    g = em.graph.Graph.rmat(9, seed=4)
    cpu = g.pagerank(l1_tol=1e-10, max_iter=500).to_dict()["pagerank"]
    sim = g.pagerank(l1_tol=1e-6, device="sim").to_dict()["pagerank"]
    assert sum(abs(a - b) for a, b in zip(cpu, sim)) < 1e-5


def test_from_frame_isolated_vertices_and_arrow() -> None:
    pa = pytest.importorskip("pyarrow")
    t = pa.table({"a": pa.array([1, 2], pa.int32()), "b": pa.array([2, 3], pa.int32())})
    g = em.graph.Graph.from_frame(em.DataFrame(t), "a", "b", directed=False, vertices=[9])
    assert (g.num_vertices, g.num_edges, g.directed) == (4, 2, False)
    cc = g.connected_components().to_dict()
    assert cc == {"vertex": [1, 2, 3, 9], "component": [1, 1, 1, 9]}
    # all-dangling: isolated vertices only get the uniform rank
    pr = g.pagerank().to_dict()["pagerank"]
    assert abs(sum(pr) - 1.0) < 1e-12
    assert "undirected, 4 vertices" in repr(g)


def test_errors() -> None:
    g = em.graph.Graph.from_edges([1, 2, 3], [2, 3, 1])
    with pytest.raises(InvalidArgumentError, match="BFS source 7"):
        g.bfs(7)
    with pytest.raises(NotConvergedError, match="did not converge in 2 iterations"):
        em.graph.Graph.from_edges([1, 2, 3, 3], [2, 3, 1, 4]).pagerank(max_iter=2)
    with pytest.raises(InvalidArgumentError, match="sum to zero"):
        g.pagerank(personalization={1: 0.0})
    with pytest.raises(InvalidArgumentError, match="multi_edges"):
        em.graph.Graph.from_edges([1], [2], multi_edges="max")
    with pytest.raises(em.exceptions.SchemaError):
        em.graph.Graph.from_edges([1.5], [2.0])


def test_module_examples() -> None:
    import doctest

    result = doctest.testmod(em.graph)
    assert result.attempted >= 5 and result.failed == 0
