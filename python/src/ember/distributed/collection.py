"""``ember.distributed.DataFrame``: a partitioned frame as a custom Dask collection.

A collection is a list of *input partitions* (keys of frames already in the graph, or Parquet
files read by the tasks themselves) and one *plan template*: an ember logical plan over the
partition, serialised to JSON into each task. Row-wise work (``filter``, ``select``,
``with_columns``) only extends the template, so a chain of them is one task per partition that
runs ember's optimizer (projection and predicate pushdown into the Parquet scan included).

Operations that combine partitions add stages:

* ``group_by(...).agg(...)``: aggregations that decompose (sum, min, max, count, len, first,
  last, mean) run a partial aggregate inside each partition's plan, then
  merge partials — by a tree of concatenate-and-merge tasks (``split_out=1``: no shuffle, the
  right choice when groups are few) or by hashing the partials on the keys into ``split_out``
  pieces, an all-to-all, and a merge per piece. Other aggregations (median, quantile, var, std,
  n_unique) shuffle the rows themselves and aggregate each piece whole.
* ``join``: broadcast of a one-partition side (or on request), else both sides hash-partitioned
  on their keys with the same hash and piece count, and ember's local join per piece.

Every piece keeps its rows in input order, so ``first``, ``last`` and ``maintain_order`` give
single-process ember's answer.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any

from dask.base import DaskMethodsMixin, tokenize
from dask.threaded import get as threaded_get

from ember import _ember, exceptions
from ember.distributed import _tasks
from ember.expr import Expr, col, lit, when
from ember.frame import DataFrame as Frame
from ember.frame import JoinHow
from ember.lazy import LazyFrame

__all__ = ["DataFrame", "GroupBy", "from_arrow", "from_ember", "read_csv", "read_parquet"]

Key = tuple[str, int]
#: A partition a task reads itself: ``("parquet" | "csv", keyword arguments of ember's scan)``
#: (a file and its row groups, or a file and a byte range).
Source = tuple[str, dict[str, Any]]
Graph = dict[Hashable, Any]

#: How each decomposable aggregation's partials merge.
_MERGE = {"sum": "sum", "min": "min", "max": "max", "count": "sum", "len": "sum", "first": "first", "last": "last"}


def _template(meta: Frame) -> LazyFrame:
    return LazyFrame(_ember.scan_named(_tasks.PART, meta._df))


class DataFrame(DaskMethodsMixin):  # type: ignore[misc]
    """A frame split into partitions, each an :class:`ember.DataFrame` on some Dask worker.

    Build one with :func:`from_ember`, :func:`from_arrow` or :func:`read_parquet`; run it with
    ``compute()`` (one ember frame) or ``persist()`` (partitions kept on the workers). With a
    ``distributed.Client`` active the cluster runs it, else Dask's local threads do.
    """

    def __init__(
        self,
        graph: Graph,
        inputs: list[Key] | None,
        sources: list[Source] | None,
        plan: LazyFrame,
        leaf: str,
    ) -> None:
        # inputs: keys of partition frames in `graph`; sources: file reads (Parquet row groups,
        # CSV byte ranges) whose scans replace the template's leaf scan (named `leaf`). Exactly
        # one of the two is set.
        self._graph = graph
        self._inputs = inputs
        self._sources = sources
        self._plan = plan
        self._leaf = leaf
        json = _ember.plan_to_json(plan._lf)
        self._json = json
        self._name = "ember-" + str(tokenize(json, inputs, sources))

    # -- shape -----------------------------------------------------------------------------------
    @property
    def npartitions(self) -> int:
        return len(self._inputs) if self._inputs is not None else len(self._sources or [])

    @property
    def schema(self) -> dict[str, str]:
        """The columns and dtypes, without running anything."""
        return self._plan.schema

    @property
    def columns(self) -> list[str]:
        return self._plan.columns

    def explain(self) -> str:
        """The plan each partition's task runs."""
        return self._plan.explain()

    def __repr__(self) -> str:
        cols = ", ".join(f"{n}: {t}" for n, t in self.schema.items())
        return f"<ember.distributed.DataFrame npartitions={self.npartitions} [{cols}]>"

    # -- row-wise work: extends the plan template -------------------------------------------------
    def _with_plan(self, plan: LazyFrame) -> DataFrame:
        return DataFrame(self._graph, self._inputs, self._sources, plan, self._leaf)

    def filter(self, predicate: Expr) -> DataFrame:
        return self._with_plan(self._plan.filter(predicate))

    def select(self, *exprs: Any, **named: Expr) -> DataFrame:
        """Row-wise expressions per partition (a whole-frame aggregation would be per partition:
        use ``group_by`` for that)."""
        return self._with_plan(self._plan.select(*exprs, **named))

    def with_columns(self, *exprs: Any, **named: Expr) -> DataFrame:
        return self._with_plan(self._plan.with_columns(*exprs, **named))

    def drop(self, *columns: str | Sequence[str]) -> DataFrame:
        return self._with_plan(self._plan.drop(*columns))

    def rename(self, mapping: Mapping[str, str]) -> DataFrame:
        return self._with_plan(self._plan.rename(mapping))

    def map_partitions(self, func: Callable[[Frame], Frame]) -> DataFrame:
        """``func`` on each partition (an ember frame in, an ember frame out, same columns for
        every partition). ``func`` is called once on an empty frame here to learn the columns."""
        meta = func(self._meta())
        graph, keys = self._materialise()
        name = "ember-map-" + tokenize(self._name, func)
        graph.update({(name, i): (func, k) for i, k in enumerate(keys)})
        return _from_keys(graph, [(name, i) for i in range(len(keys))], meta)

    # -- the graph ---------------------------------------------------------------------------------
    def _meta(self) -> Frame:
        """An empty frame with the output columns."""
        return Frame(_ember.plan_empty(self._plan._lf))

    def _identity(self) -> bool:
        return self._inputs is not None and _ember.plan_to_json(_template(self._meta())._lf) == self._json

    def _task(self, i: int) -> tuple[Any, ...]:
        if self._inputs is not None:
            return (_tasks.run_plan, self._json, self._inputs[i])
        assert self._sources is not None
        kind, args = self._sources[i]
        scan = _ember.scan_parquet(**args) if kind == "parquet" else _ember.scan_csv(**args)
        return (_tasks.run_plan, _ember.plan_to_json(_ember.plan_substitute(self._plan._lf, self._leaf, scan)))

    def _materialise(self) -> tuple[Graph, list[Key]]:
        """The graph with a key per output partition, and those keys."""
        graph = dict(self._graph)
        if self._inputs is not None and self._identity():
            return graph, list(self._inputs)
        keys = [(self._name, i) for i in range(self.npartitions)]
        graph.update({k: self._task(i) for i, k in enumerate(keys)})
        return graph, keys

    def __dask_graph__(self) -> Graph:
        return self._materialise()[0]

    def __dask_keys__(self) -> list[Key]:
        return self._materialise()[1]

    def __dask_layers__(self) -> tuple[str, ...]:
        return (self._name,)

    def __dask_tokenize__(self) -> str:
        return self._name

    def __dask_postcompute__(self) -> tuple[Callable[..., Frame], tuple[Any, ...]]:
        return _finalize, (self._meta(),)

    def __dask_postpersist__(self) -> tuple[Callable[..., DataFrame], tuple[Any, ...]]:
        return _rebuild, (self.__dask_keys__(), self._meta())

    __dask_scheduler__ = staticmethod(threaded_get)

    @staticmethod
    def __dask_optimize__(dsk: Graph, keys: Any, **kwargs: Any) -> Graph:
        return dsk

    def compute(self, **kwargs: Any) -> Frame:
        """Runs the graph; one ember frame with every partition's rows in partition order. A
        lost worker or a broken connection is an :class:`ember.exceptions.DistributedError`;
        an error inside ember (a bad cast, a missing file) is raised as itself."""
        out: Frame = _guarded(lambda: DaskMethodsMixin.compute(self, **kwargs))
        return out

    def persist(self, **kwargs: Any) -> DataFrame:
        """Runs the graph and keeps the partitions where they were computed (on the cluster's
        workers with a ``distributed.Client``)."""
        out: DataFrame = _guarded(lambda: DaskMethodsMixin.persist(self, **kwargs))
        return out

    # -- operations across partitions --------------------------------------------------------------
    def _gather(self, per_partition: LazyFrame, final: Callable[[LazyFrame], LazyFrame], what: str) -> DataFrame:
        """``per_partition`` in each partition, then the results concatenated in partition order
        into one partition and ``final`` applied there."""
        per = self._with_plan(per_partition)
        graph, keys = per._materialise()
        meta = per._meta()
        fj = _ember.plan_to_json(final(_template(meta))._lf)
        name = f"ember-{what}-" + str(tokenize(keys, fj))
        graph[(name, 0)] = (_tasks.concat_run, fj, keys)
        return _from_keys(graph, [(name, 0)], meta)

    def sort(
        self,
        by: Any,
        *more_by: Any,
        descending: bool | Sequence[bool] = False,
        nulls_last: bool | Sequence[bool] = False,
        npartitions: int | None = None,
    ) -> DataFrame:
        """A stable sort into ``npartitions`` partitions (default: as many as now) that hold
        consecutive ranges of the order, so ``compute()`` is the sorted frame. Each partition
        sends a sample of its keys; one task picks ``npartitions - 1`` splitters from them
        (weighted by partition size); each partition is split by them; each output partition
        sorts its pieces (in input order: equal keys keep their order). Keys with many equal
        values make uneven partitions (equal keys always share one). Sort keys given as
        expressions, or ``npartitions=1``, sort in one partition."""
        order = dict(descending=descending, nulls_last=nulls_last)
        keys = ([by] if isinstance(by, (str, Expr)) else list(by)) + list(more_by)
        graph, parts = self._materialise()
        n = npartitions or len(parts)
        if n < 1:
            raise ValueError("npartitions must be at least 1")
        if n == 1 or not all(isinstance(k, str) for k in keys):
            return self._gather(self._plan.sort(by, *more_by, **order), lambda t: t.sort(by, *more_by, **order), "sort")
        missing = [k for k in keys if k not in self.columns]
        if missing:
            raise exceptions.ColumnNotFoundError(
                f"column {missing[0]!r} not found; available columns: [{', '.join(self.columns)}]"
            )
        flags = [_per_key(descending, len(keys), "descending"), _per_key(nulls_last, len(keys), "nulls_last")]
        opts = (keys, *flags)
        meta = self._meta()
        name = "ember-sort-" + tokenize(self._name, opts, n)
        size = min(16 * n, 4096)
        samples = [(name + "-sample", i) for i in range(len(parts))]
        graph.update({s: (_tasks.sort_sample, k, *opts, size) for s, k in zip(samples, parts)})
        splitters = (name + "-splitters", 0)
        graph[splitters] = (_tasks.sort_splitters, samples, *opts, n)
        pieces: list[list[Key]] = [[] for _ in range(n)]
        for i, k in enumerate(parts):
            graph[(name + "-split", i)] = (_tasks.range_split, k, splitters, *opts, n)
            _take_pieces(graph, (name + "-split", i), range(n), name, i, pieces)
        sj = _ember.plan_to_json(_template(meta).sort(keys, descending=flags[0], nulls_last=flags[1])._lf)
        graph.update({(name, j): (_tasks.concat_run, sj, pieces[j]) for j in range(n)})
        return _from_keys(graph, [(name, j) for j in range(n)], meta)

    def top_k(
        self,
        k: int,
        by: Any,
        *more_by: Any,
        descending: bool | Sequence[bool] = False,
        nulls_last: bool | Sequence[bool] = False,
    ) -> DataFrame:
        """The first ``k`` rows in sort order, in one partition: each partition keeps its own
        first ``k``, then one task sorts those (a stable sort: ties keep partition order)."""
        order = dict(descending=descending, nulls_last=nulls_last)
        return self._gather(
            self._plan.sort(by, *more_by, **order).head(k), lambda t: t.sort(by, *more_by, **order).head(k), "top-k"
        )

    def head(self, n: int = 5) -> DataFrame:
        """The first ``n`` rows in partition order, in one partition."""
        return self._gather(self._plan.head(n), lambda t: t.head(n), "head")

    def group_by(self, *keys: str | Sequence[str], maintain_order: bool = False) -> GroupBy:
        """Groups by key columns (names; add computed keys with ``with_columns`` first)."""
        names: list[str] = []
        for k in keys:
            if isinstance(k, Expr):
                raise TypeError("distributed group_by takes column names; add the key with with_columns first")
            names.extend([k] if isinstance(k, str) else k)
        missing = [k for k in names if k not in self.columns]
        if missing:
            raise exceptions.ColumnNotFoundError(
                f"column {missing[0]!r} not found; available columns: [{', '.join(self.columns)}]"
            )
        return GroupBy(self, names, maintain_order)

    def join(
        self,
        other: DataFrame,
        on: str | Sequence[str] | None = None,
        how: JoinHow = "inner",
        *,
        left_on: str | Sequence[str] | None = None,
        right_on: str | Sequence[str] | None = None,
        suffix: str = "_right",
        nulls_equal: bool = False,
        broadcast: bool | None = None,
        npartitions: int | None = None,
    ) -> DataFrame:
        """An equi-join, partition by partition. ``broadcast=None`` broadcasts a one-partition
        side where the join type allows it (the right side of inner / left / semi / anti, the
        left side of inner / right); ``True`` forces broadcasting the right side (concatenated
        to one partition); ``False`` always hash-partitions both sides into ``npartitions``
        pieces (default: the larger side's count). Rows come out grouped by partition: sort
        the computed frame for a fixed order."""
        lo = _names(on if on is not None else left_on)
        ro = _names(on if on is not None else right_on)
        if how == "cross":
            lo, ro = [], []
        elif not lo or not ro:
            raise ValueError("join needs on= or both left_on= and right_on=")
        args = (lo, ro, how, suffix, nulls_equal)
        meta = _tasks.join([self._meta()], [other._meta()], *args)
        lg, lkeys = self._materialise()
        rg, rkeys = other._materialise()
        graph = {**lg, **rg}
        name = "ember-join-" + tokenize(self._name, other._name, args, broadcast, npartitions)
        right_small = len(rkeys) == 1 and how in ("inner", "left", "semi", "anti")
        left_small = len(lkeys) == 1 and how in ("inner", "right")
        if how == "cross" or broadcast or (broadcast is None and right_small):
            right = _concat_key(graph, rkeys, name + "-right")
            graph.update({(name, i): (_tasks.join, [k], [right], *args) for i, k in enumerate(lkeys)})
            out = [(name, i) for i in range(len(lkeys))]
        elif broadcast is None and left_small:
            graph.update({(name, i): (_tasks.join, [lkeys[0]], [k], *args) for i, k in enumerate(rkeys)})
            out = [(name, i) for i in range(len(rkeys))]
        else:
            n = npartitions or max(len(lkeys), len(rkeys))
            lp = _shuffle(graph, lkeys, lo, n, name + "-left")
            rp = _shuffle(graph, rkeys, ro, n, name + "-right")
            graph.update({(name, j): (_tasks.join, lp[j], rp[j], *args) for j in range(n)})
            out = [(name, j) for j in range(n)]
        return _from_keys(graph, out, meta)


class GroupBy:
    """``ddf.group_by(keys)``: call ``agg(...)``."""

    def __init__(self, df: DataFrame, keys: list[str], maintain_order: bool) -> None:
        self._df, self._keys, self._maintain_order = df, keys, maintain_order

    def agg(self, *aggs: Expr | Sequence[Expr], split_out: int = 1, split_every: int = 8) -> DataFrame:
        """One row per group: the keys, then each aggregation, as single-process ember gives
        them. ``split_out=1`` merges partials by a tree of ``split_every``-way merges into one
        partition, groups in key order (or first-appearance order with ``maintain_order``);
        ``split_out=n`` shuffles into ``n`` partitions, each in that order."""
        flat: list[Expr] = []
        for a in aggs:
            flat.extend(a if isinstance(a, (list, tuple)) else [a])  # type: ignore[list-item]
        if split_out < 1 or split_every < 2:
            raise ValueError("split_out must be at least 1 and split_every at least 2")
        df, keys, mo = self._df, self._keys, self._maintain_order
        expected = df._plan.group_by(keys, maintain_order=mo).agg(flat)
        out_meta = Frame(_ember.plan_empty(expected._lf))
        split = _decompose(flat, out_meta)
        if split is None:
            # The rows themselves (only the columns used) go to the piece of their key; each
            # piece is aggregated whole.
            used = df.select(list(dict.fromkeys(keys + [c for c in _columns_of(flat) if c not in keys])))
            graph, parts = used._materialise()
            whole = _template(used._meta()).group_by(keys, maintain_order=mo).agg(flat)
            return _merge(graph, parts, keys, whole, whole, split_out, 0, out_meta)
        partials, merges, finals = split
        partial_plan = df._plan.group_by(keys, maintain_order=mo).agg(partials)
        graph, parts = df._with_plan(partial_plan)._materialise()
        merge = _template(Frame(_ember.plan_empty(partial_plan._lf))).group_by(keys, maintain_order=mo).agg(merges)
        final = merge.select([col(k) for k in keys] + finals)
        return _merge(graph, parts, keys, merge, final, split_out, split_every, out_meta)

    def len(self, name: str = "len") -> DataFrame:
        """Rows per group."""
        return self.agg(col(self._keys[0]).len().alias(name))


# -- building blocks -------------------------------------------------------------------------------
def _per_key(v: bool | Sequence[bool], n: int, what: str) -> list[bool]:
    """A sort flag for each of ``n`` keys (one bool for all, or one per key)."""
    if isinstance(v, bool):
        return [v] * n
    out = [bool(x) for x in v]
    if len(out) != n:
        raise ValueError(f"{what} has {len(out)} values for {n} sort keys")
    return out


def _names(v: str | Sequence[str] | None) -> list[str]:
    if v is None:
        return []
    return [v] if isinstance(v, str) else list(v)


def _decompose(aggs: list[Expr], out_meta: Frame) -> tuple[list[Expr], list[Expr], list[Expr]] | None:
    """Partial, merge and final expressions for ``aggs``, or ``None`` when one of them does not
    decompose. Final columns are cast to the dtype single-process ember gives."""
    partials: list[Expr] = []
    merges: list[Expr] = []
    finals: list[Expr] = []
    dtypes = out_meta.schema
    for i, a in enumerate(aggs):
        parts = _ember.expr_agg_parts(a._e)
        if parts is None:
            raise TypeError(f"{a} is not an aggregation; use e.g. col(...).sum() in agg(...)")
        agg, inner, name = parts
        x = Expr(inner)
        t = f"__ember_p{i}"
        if agg in _MERGE:
            partials.append(getattr(x, agg)().alias(t))
            merges.append(getattr(col(t), _MERGE[agg])().alias(t))
            finals.append(col(t).cast(dtypes[name]).alias(name))
        elif agg == "mean":
            # ember's mean is the exact sum (integer or decimal) as f64 over the count: so is this.
            s, c = t + "s", t + "c"
            partials += [x.sum().alias(s), x.count().alias(c)]
            merges += [col(s).sum().alias(s), col(c).sum().alias(c)]
            mean = when(col(c) == 0).then(lit(None)).otherwise(col(s).cast("Float64") / col(c).cast("Float64"))
            finals.append(mean.cast(dtypes[name]).alias(name))
        else:
            return None
    return partials, merges, finals


def _columns_of(exprs: Sequence[Expr]) -> list[str]:
    """The columns ``exprs`` read, in order of first mention (from ember's JSON form)."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "Column" in node and isinstance(node["Column"], str):
                out.append(node["Column"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    for e in exprs:
        walk(json.loads(_ember.expr_to_json(e._e)))
    return list(dict.fromkeys(out))


def _concat_key(graph: Graph, keys: list[Key], name: str) -> Key:
    """One key holding the rows of ``keys`` in order."""
    if len(keys) == 1:
        return keys[0]
    graph[(name, 0)] = (_tasks.concat, list(keys))
    return (name, 0)


#: The most (input partition, output piece) pairs a shuffle deals in one stage; above it, two
#: stages keep the task count near ``3 n^1.5`` instead of ``n^2`` (Dask's task shuffle splits in
#: stages for the same reason).
ALL_TO_ALL_MAX = 1024


def _shuffle(
    graph: Graph, keys: list[Key], on: list[str], n: int, name: str, combine: str | None = None
) -> list[list[Key]]:
    """Hash-partitions the rows of ``keys`` on ``on`` into ``n`` pieces; returns, per piece, the
    keys of its parts, whose rows in that order are the piece's rows in input order.

    One stage when ``len(keys) * n`` is at most :data:`ALL_TO_ALL_MAX`: every input is dealt
    into ``n`` pieces. Else two: every input is dealt into ``g ~ sqrt(n)`` groups of ``k``
    pieces (group ``(hash % n) // k``); each group's shares of a block of ``~sqrt(inputs)``
    consecutive inputs are concatenated (or merged by the plan ``combine``: partial aggregates
    shrink here); each of those is dealt into its group's ``k`` pieces. A piece is then one
    part per block, in block order, so input order survives both stages."""
    if len(keys) * n <= ALL_TO_ALL_MAX:
        pieces: list[list[Key]] = [[] for _ in range(n)]
        for i, key in enumerate(keys):
            graph[(name + "-split", i)] = (_tasks.hash_split, key, on, n)
            _take_pieces(graph, (name + "-split", i), range(n), name, i, pieces)
        return pieces
    g = math.isqrt(n - 1) + 1
    k = -(-n // g)
    b = math.isqrt(len(keys) - 1) + 1
    out: list[list[Key]] = [[] for _ in range(n)]
    for i, key in enumerate(keys):
        graph[(name + "-split1", i)] = (_tasks.hash_split_groups, key, on, n, k)
        for gi in range(g):
            graph[(f"{name}-group-{gi}", i)] = (_tasks.piece, (name + "-split1", i), gi)
    for bi, first in enumerate(range(0, len(keys), b)):
        block = range(first, min(first + b, len(keys)))
        for gi in range(g):
            shares = [(f"{name}-group-{gi}", i) for i in block]
            ck = (f"{name}-combine-{gi}", bi)
            graph[ck] = (_tasks.concat, shares) if combine is None else (_tasks.concat_run, combine, shares)
            graph[(f"{name}-split2-{gi}", bi)] = (_tasks.hash_split, ck, on, n)
            _take_pieces(graph, (f"{name}-split2-{gi}", bi), range(gi * k, min(gi * k + k, n)), name, bi, out)
    return out


def _take_pieces(graph: Graph, split: Key, js: Iterable[int], name: str, at: int, out: list[list[Key]]) -> None:
    """A task per piece ``j`` in ``js`` of the split task ``split`` (keyed ``(name-piece-j, at)``),
    appended to ``out[j]``: only that piece moves to the task that reads it."""
    for j in js:
        pk = (f"{name}-piece-{j}", at)
        graph[pk] = (_tasks.piece, split, j)
        out[j].append(pk)


def _merge(
    graph: Graph,
    parts: list[Key],
    keys: list[str],
    merge: LazyFrame,
    final: LazyFrame,
    split_out: int,
    split_every: int,
    out_meta: Frame,
) -> DataFrame:
    """Combines per-partition results (partials, or raw rows when ``split_every`` is 0) into
    ``split_out`` partitions by a tree (``split_out == 1``) or a shuffle."""
    mj, fj = _ember.plan_to_json(merge._lf), _ember.plan_to_json(final._lf)
    name = "ember-agg-" + tokenize(parts, mj, fj, split_out, split_every)
    if split_out == 1:
        level = 0
        while split_every and len(parts) > split_every:
            groups = [parts[i : i + split_every] for i in range(0, len(parts), split_every)]
            parts = [(f"{name}-tree-{level}", g) for g in range(len(groups))]
            graph.update({k: (_tasks.concat_run, mj, list(g)) for k, g in zip(parts, groups)})
            level += 1
        graph[(name, 0)] = (_tasks.concat_run, fj, list(parts))
        return _from_keys(graph, [(name, 0)], out_meta)
    pieces = _shuffle(graph, parts, keys, split_out, name, combine=mj if split_every else None)
    graph.update({(name, j): (_tasks.concat_run, fj, pieces[j]) for j in range(split_out)})
    return _from_keys(graph, [(name, j) for j in range(split_out)], out_meta)


def _from_keys(graph: Graph, keys: list[Key], meta: Frame) -> DataFrame:
    return DataFrame(graph, keys, None, _template(meta), _tasks.PART)


def _finalize(results: Sequence[Frame], meta: Frame) -> Frame:
    frames = list(results)
    return _tasks.concat(frames) if frames else meta


def _rebuild(dsk: Graph, keys: list[Key], meta: Frame, rename: Mapping[str, str] | None = None) -> DataFrame:
    if rename:
        keys = [(rename.get(k[0], k[0]), k[1]) for k in keys]
    return _from_keys(dict(dsk), keys, meta)


def _guarded(run: Callable[[], Any]) -> Any:
    """Runs ``run``, turning the cluster's own failures into ``DistributedError``."""
    try:
        return run()
    except exceptions.EmberError:
        raise
    except Exception as e:  # noqa: BLE001 - classified below, everything else re-raised
        kind = type(e).__name__
        if kind in ("KilledWorker", "CommClosedError", "FutureCancelledError", "CancelledError") or (
            type(e).__module__.startswith("distributed") and isinstance(e, (OSError, RuntimeError))
        ):
            raise exceptions.DistributedError(f"the Dask cluster lost the computation: {kind}: {e}") from e
        raise


# -- sources ---------------------------------------------------------------------------------------
def from_ember(df: Frame, npartitions: int) -> DataFrame:
    """``df`` split into ``npartitions`` row ranges of (nearly) equal size."""
    if npartitions < 1:
        raise ValueError("npartitions must be at least 1")
    name = "from-ember-" + tokenize(df, npartitions)
    n = df.height
    bounds = [n * i // npartitions for i in range(npartitions + 1)]
    graph: Graph = {(name, i): df.slice(bounds[i], bounds[i + 1] - bounds[i]) for i in range(npartitions)}
    return _from_keys(graph, [(name, i) for i in range(npartitions)], df.head(0))


def from_arrow(tables: Iterable[object]) -> DataFrame:
    """One partition per Arrow table (or any Arrow stream producer: pyarrow, polars, DuckDB)."""
    frames = [t if isinstance(t, Frame) else Frame(t) for t in tables]
    if not frames:
        raise ValueError("from_arrow needs at least one table")
    name = "from-arrow-" + tokenize(*frames)
    graph: Graph = {(name, i): f for i, f in enumerate(frames)}
    return _from_keys(graph, [(name, i) for i in range(len(frames))], frames[0].head(0))


def read_parquet(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *, split_row_groups: bool | int = False
) -> DataFrame:
    """A partition per Parquet file (a directory: its ``*.parquet`` files, sorted), or with
    ``split_row_groups`` a partition per row group (``True``) or per run of that many row groups
    of one file (the row groups are counted from the footers here; the data is read by the
    tasks). Each task reads its own file or row groups, with the query's columns and filter
    pushed into the read."""
    files = _files(paths, (".parquet", ".pq"), "parquet")
    step = int(split_row_groups)
    if step < 0:
        raise ValueError("split_row_groups must be a bool or a positive count")
    sources: list[Source] = []
    for f in files:
        groups = len(_ember.parquet_row_groups(f)) if step else 0
        runs = [list(range(a, min(a + step, groups))) for a in range(0, groups, step)] if groups else [None]
        sources.extend(("parquet", {"path": f, "n_rows": None, "row_groups": r, "device": "cpu"}) for r in runs)
    leaf = LazyFrame(_ember.scan_parquet(files[0], n_rows=None, row_groups=None, device="cpu"))
    return DataFrame({}, None, sources, leaf, files[0])


def read_csv(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    blocksize: int | None = 64 << 20,
    has_header: bool = True,
    separator: str = ",",
    quote_char: str | None = '"',
    comment_prefix: str | None = None,
    schema_overrides: Mapping[str, str] | None = None,
    null_values: Sequence[str] | None = None,
    infer_schema_length: int | None = 1000,
    ignore_errors: bool = False,
) -> DataFrame:
    """A partition per ``blocksize`` bytes of each CSV file (the records that start in that
    byte range; ``None``: a partition per file; a directory: its ``*.csv`` files, sorted).
    Options as :func:`ember.read_csv`. The column types are inferred once, from the first
    file, and every partition reads with them, so partitions never disagree on a type; only the
    columns the query uses are decoded."""
    files = _files(paths, (".csv",), "csv")
    if blocksize is not None and blocksize < 1:
        raise ValueError("blocksize must be a positive number of bytes, or None")
    opts: dict[str, Any] = {
        "has_header": has_header,
        "separator": separator,
        "quote_char": quote_char,
        "comment_prefix": comment_prefix,
        "schema_overrides": dict(schema_overrides) if schema_overrides is not None else None,
        "null_values": list(null_values) if null_values is not None else None,
        "infer_schema_length": infer_schema_length,
        "ignore_errors": ignore_errors,
        "device": "cpu",
    }
    leaf = LazyFrame(_ember.scan_csv(files[0], **opts))
    opts["schema_overrides"] = dict(leaf.schema)
    sources: list[Source] = []
    for f in files:
        size = os.path.getsize(f)
        ranges = [None] if blocksize is None or size <= blocksize else [(a, blocksize) for a in range(0, size, blocksize)]
        sources.extend(("csv", {"path": f, "byte_range": r, **opts}) for r in ranges)
    return DataFrame({}, None, sources, leaf, files[0])


def _files(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], ext: tuple[str, ...], what: str) -> list[str]:
    """``paths`` as a list of files: a file, a list of them, or a directory's files ending in
    ``ext`` (sorted, hidden ones left out)."""
    if isinstance(paths, (str, os.PathLike)):
        p = os.fspath(paths)
        if not os.path.isdir(p):
            return [p]
        files = sorted(os.path.join(p, f) for f in os.listdir(p) if f.endswith(ext) and not f.startswith("."))
        if not files:
            raise exceptions.InvalidArgumentError(f"{p}: no .{what} files in the directory")
        return files
    files = [os.fspath(p) for p in paths]
    if not files:
        raise ValueError(f"read_{what} needs at least one path")
    return files
