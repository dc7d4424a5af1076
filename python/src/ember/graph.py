"""Graph analytics: PageRank, BFS and connected components on the CPU engine or the GPU, on
graphs built from edge columns with any integer vertex ids (outputs use the same ids).

Duplicate edges and self-loops follow networkx: ``multi_edges="collapse"`` is ``nx.DiGraph`` /
``nx.Graph`` (the weight given last wins), ``"sum"`` is ``nx.MultiDiGraph`` / ``nx.MultiGraph``
(weights add up); a self-loop is an ordinary edge.

>>> import ember as em
>>> g = em.graph.Graph.from_edges([10, 20, 30, 30], [20, 30, 10, 40])
>>> (g.num_vertices, g.num_edges)
(4, 4)
>>> g.bfs(10).to_dict()["distance"]
[0, 1, 2, 3]
>>> g.connected_components().to_dict()["component"]
[10, 10, 10, 10]
>>> round(sum(g.pagerank().to_dict()["pagerank"]), 12)
1.0
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ember import _ember
from ember.frame import DataFrame

__all__ = ["Graph"]


def _pairs(d: Mapping[int, float] | None) -> list[tuple[int, float]] | None:
    return None if d is None else [(int(k), float(v)) for k, v in d.items()]


class Graph:
    """A directed or undirected graph (``from_edges``, ``from_frame``, ``rmat``)."""

    __slots__ = ("_g", "last_iterations", "last_residual")

    def __init__(self, inner: _ember.PyGraph) -> None:
        self._g = inner
        #: PageRank iterations of the last ``pagerank`` call.
        self.last_iterations: int | None = None
        #: The last ``pagerank`` call's final L1 change.
        self.last_residual: float | None = None

    @staticmethod
    def from_frame(
        df: DataFrame,
        src: str = "src",
        dst: str = "dst",
        weight: str | None = None,
        *,
        directed: bool = True,
        multi_edges: str = "collapse",
        vertices: Any = None,
    ) -> Graph:
        """A graph from integer ``src`` / ``dst`` columns of a frame (and a numeric ``weight``
        column); ``vertices`` adds vertices (e.g. isolated ones) by id."""
        vf = None if vertices is None else DataFrame({"vertex": vertices})._df
        return Graph(_ember.graph_from_frame(df._df, src, dst, weight, directed, multi_edges, vf))

    @staticmethod
    def from_edges(
        src: Any,
        dst: Any,
        weight: Any = None,
        *,
        directed: bool = True,
        multi_edges: str = "collapse",
        vertices: Any = None,
    ) -> Graph:
        """A graph from edge arrays (lists, NumPy or Arrow arrays of integer ids)."""
        cols: dict[str, Any] = {"src": src, "dst": dst}
        if weight is not None:
            cols["weight"] = weight
        return Graph.from_frame(
            DataFrame(cols),
            "src",
            "dst",
            "weight" if weight is not None else None,
            directed=directed,
            multi_edges=multi_edges,
            vertices=vertices,
        )

    @staticmethod
    def rmat(scale: int, *, edge_factor: int = 16, seed: int = 1, directed: bool = True) -> Graph:
        """A seeded Graph500 R-MAT graph: ``2**scale`` vertices (ids ``0 .. 2**scale - 1``),
        ``edge_factor * 2**scale`` edges drawn (duplicates collapsed)."""
        return Graph(_ember.graph_rmat(scale, edge_factor, seed, directed))

    @property
    def num_vertices(self) -> int:
        return self._g.num_vertices

    @property
    def num_edges(self) -> int:
        """Edges after combining parallel ones (``u - v`` once when undirected)."""
        return self._g.num_edges

    @property
    def directed(self) -> bool:
        return self._g.directed

    @property
    def weighted(self) -> bool:
        return self._g.weighted

    def __repr__(self) -> str:
        kind = "directed" if self.directed else "undirected"
        return f"<ember.graph.Graph {kind}, {self.num_vertices} vertices, {self.num_edges} edges>"

    def pagerank(
        self,
        alpha: float = 0.85,
        *,
        personalization: Mapping[int, float] | None = None,
        max_iter: int = 100,
        tol: float = 1e-6,
        l1_tol: float | None = None,
        nstart: Mapping[int, float] | None = None,
        dangling: Mapping[int, float] | None = None,
        weighted: bool = True,
        device: str | None = None,
    ) -> DataFrame:
        """PageRank as ``networkx.pagerank`` (same arguments and defaults; stops when the L1
        change is below ``N * tol``, or below ``l1_tol`` when given). Raises
        ``NotConvergedError`` after ``max_iter`` iterations. Returns ``(vertex, pagerank)``."""
        df, it, res = self._g.pagerank(
            alpha,
            max_iter,
            tol,
            l1_tol,
            _pairs(personalization),
            _pairs(dangling),
            _pairs(nstart),
            weighted,
            device,
        )
        self.last_iterations, self.last_residual = it, res
        return DataFrame(df)

    def bfs(self, source: int, *, device: str | None = None) -> DataFrame:
        """Breadth-first search from ``source`` along out-edges: ``(vertex, distance, parent)``,
        null where unreached (the source's parent is null). A parent is the smallest vertex one
        level closer with an edge to the vertex, so the answer is the same on every device."""
        return DataFrame(self._g.bfs(source, device))

    def connected_components(self, *, device: str | None = None) -> DataFrame:
        """Connected components (weakly connected for a directed graph): ``(vertex, component)``,
        each component named by its smallest vertex id."""
        return DataFrame(self._g.connected_components(device))
