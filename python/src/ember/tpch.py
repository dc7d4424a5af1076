"""TPC-H: the eight tables generated in memory (identical to dbgen's) and the 22 queries, the
same ones the Rust API, the tests and ``ember-bench`` run."""

from __future__ import annotations

from collections.abc import Mapping

from ember import _ember
from ember.frame import DataFrame
from ember.lazy import LazyFrame

__all__ = ["tables", "table_part", "query"]


def tables(sf: float, *, device: str | None = None) -> dict[str, DataFrame]:
    """``lineitem``, ``orders``, ``customer``, ``supplier``, ``part``, ``partsupp``, ``nation``, ``region``."""
    return {name: DataFrame(df) for name, df in _ember.tables(sf, device).items()}


def table_part(name: str, sf: float, part: int, parts: int) -> DataFrame:
    """Part ``part`` (1-based) of ``parts`` of one table: what one worker of a cluster generates
    (the parts together are the whole table; ``nation`` and ``region`` are whole in part 1)."""
    return DataFrame(_ember.table_part(name, sf, part, parts))


def query(n: int, tables: Mapping[str, DataFrame]) -> LazyFrame:
    """TPC-H query ``n`` (1..22) over ``tables`` as a lazy frame."""
    return LazyFrame(_ember.query(n, {k: v._df for k, v in tables.items()}))
