"""``ember.LazyFrame``: a query plan, optimized (projection and predicate pushdown, top-k, fusion)
and run by ``collect()`` on the device its inputs live on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from ember import _ember
from ember.exceptions import ColumnNotFoundError
from ember.expr import Expr, col
from ember.frame import ColumnLike, DataFrame, JoinHow, _exprs

__all__ = ["LazyFrame", "LazyGroupBy"]


def _names(v: str | Sequence[str] | None) -> list[str] | None:
    if v is None:
        return None
    return [v] if isinstance(v, str) else list(v)


def _flags(v: bool | Sequence[bool], n: int, what: str) -> list[bool]:
    if isinstance(v, bool):
        return [v] * n
    out = list(v)
    if len(out) != n:
        raise ValueError(f"{what} has {len(out)} entries for {n} sort keys")
    return out


class LazyFrame:
    """A query: build it step by step, look at it with ``explain()``, run it with ``collect()``."""

    __slots__ = ("_lf",)

    def __init__(self, inner: _ember.PyLazyFrame) -> None:
        self._lf = inner

    def select(self, *exprs: ColumnLike | Sequence[ColumnLike], **named: Expr) -> LazyFrame:
        """Row-wise expressions, or only aggregations (``select(col("x").sum())``: one row);
        ``name=expr`` keywords name their columns."""
        return LazyFrame(self._lf.select(_exprs(exprs) + [e.alias(n)._e for n, e in named.items()]))

    def filter(self, predicate: Expr) -> LazyFrame:
        """Rows where ``predicate`` is true (a null drops the row)."""
        return LazyFrame(self._lf.filter(predicate._e))

    def with_columns(self, *exprs: Expr | Sequence[Expr], **named: Expr) -> LazyFrame:
        """Adds (or replaces, by name) columns; ``name=expr`` keywords name theirs."""
        return LazyFrame(self._lf.with_columns(_exprs(exprs) + [e.alias(n)._e for n, e in named.items()]))

    def drop(self, *columns: str | Sequence[str]) -> LazyFrame:
        """Every column but ``columns`` (a missing one is a ``ColumnNotFoundError``)."""
        gone: list[str] = []
        for c in columns:
            gone.extend([c] if isinstance(c, str) else c)
        have = self.columns
        for c in gone:
            if c not in have:
                raise ColumnNotFoundError(f"column {c!r} not found; available columns: [{', '.join(have)}]")
        return self.select([c for c in have if c not in gone])

    def rename(self, mapping: Mapping[str, str]) -> LazyFrame:
        """Columns renamed by ``{old: new}``; the others keep their names and order."""
        have = self.columns
        for c in mapping:
            if c not in have:
                raise ColumnNotFoundError(f"column {c!r} not found; available columns: [{', '.join(have)}]")
        return LazyFrame(self._lf.select([col(c).alias(mapping.get(c, c))._e for c in have]))

    def group_by(self, *keys: ColumnLike | Sequence[ColumnLike], maintain_order: bool = False) -> LazyGroupBy:
        """Groups by ``keys`` (a null key is a group of its own); call ``agg(...)``."""
        return LazyGroupBy(self, _exprs(keys), maintain_order)

    def join(
        self,
        other: LazyFrame,
        on: str | Sequence[str] | None = None,
        how: JoinHow = "inner",
        *,
        left_on: str | Sequence[str] | None = None,
        right_on: str | Sequence[str] | None = None,
        suffix: str = "_right",
        nulls_equal: bool = False,
    ) -> LazyFrame:
        """An equi-join; null keys never match unless ``nulls_equal``."""
        lo, ro = _names(left_on), _names(right_on)
        if on is not None:
            lo = ro = _names(on)
        if how == "cross":
            lo, ro = lo or [], ro or []
        if lo is None or ro is None:
            raise ValueError("join needs on= or both left_on= and right_on=")
        return LazyFrame(self._lf.join(other._lf, lo, ro, how, suffix, nulls_equal))

    def sort(
        self,
        by: ColumnLike | Sequence[ColumnLike],
        *more_by: ColumnLike,
        descending: bool | Sequence[bool] = False,
        nulls_last: bool | Sequence[bool] = False,
    ) -> LazyFrame:
        """Stable sort by one or more keys."""
        keys = _exprs([by, *more_by])
        return LazyFrame(
            self._lf.sort(keys, _flags(descending, len(keys), "descending"), _flags(nulls_last, len(keys), "nulls_last"))
        )

    def head(self, n: int = 5) -> LazyFrame:
        return LazyFrame(self._lf.slice(0, n))

    def slice(self, offset: int, length: int) -> LazyFrame:
        return LazyFrame(self._lf.slice(offset, length))

    def unique(
        self, subset: str | Sequence[str] | None = None, *, keep: Literal["first", "last", "any"] = "any"
    ) -> LazyFrame:
        """Distinct rows (by ``subset``), first occurrences in input order."""
        return LazyFrame(self._lf.unique(_names(subset), keep))

    def explain(self, *, optimized: bool = True) -> str:
        """The plan ``collect()`` runs, as an indented tree."""
        return self._lf.explain(optimized)

    @property
    def schema(self) -> dict[str, str]:
        """The result's columns and dtypes, without running the query."""
        return dict(self._lf.schema())

    @property
    def columns(self) -> list[str]:
        return [n for n, _ in self._lf.schema()]

    def collect(self) -> DataFrame:
        """Runs the query (without the GIL; Ctrl-C interrupts it)."""
        return DataFrame(self._lf.collect())

    def __repr__(self) -> str:
        return "<ember.LazyFrame>\n" + self.explain(optimized=False)


class LazyGroupBy:
    """``lf.group_by(keys)``: call ``agg(...)``."""

    def __init__(self, lf: LazyFrame, keys: list[_ember.PyExpr], maintain_order: bool) -> None:
        self._lf, self._keys, self._maintain_order = lf, keys, maintain_order

    def agg(self, *aggs: Expr | Sequence[Expr]) -> LazyFrame:
        """One row per group: the keys, then each aggregation (``col("x").sum()``, ...)."""
        flat: list[Expr] = []
        for a in aggs:
            flat.extend(a if isinstance(a, (list, tuple)) else [a])  # type: ignore[list-item]
        return LazyFrame(self._lf._lf.group_by_agg(self._keys, [a._e for a in flat], self._maintain_order))


def concat(frames: Sequence[DataFrame | LazyFrame]) -> DataFrame:
    """The rows of every frame, in order (same column names and types)."""
    lfs = [f.lazy()._lf if isinstance(f, DataFrame) else f._lf for f in frames]
    return DataFrame(_ember.concat(lfs).collect())
