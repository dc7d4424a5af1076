"""TPC-H on a cluster: each worker generates its own part of each table (``tpchgen``'s parts,
as dbgen's ``-C``/``-S``), and Q1, Q3 and Q18 written with the distributed API. They give the
answers of :func:`ember.tpch.query` (the same queries, checked against duckdb in CI)."""

from __future__ import annotations

import datetime

from dask.base import tokenize

from ember import _ember
from ember.distributed import _tasks
from ember.distributed.collection import DataFrame, _from_keys
from ember.expr import Expr, col, lit
from ember.frame import DataFrame as Frame

__all__ = ["tables", "q1", "q3", "q18"]

#: Tables whose generators ignore parts (fixed size): one partition.
_FIXED = ("nation", "region")
_NAMES = ("lineitem", "orders", "customer", "supplier", "part", "partsupp", "nation", "region")


def _part(name: str, sf: float, part: int, parts: int) -> Frame:
    return Frame(_ember.table_part(name, sf, part, parts))


def tables(sf: float, npartitions: int) -> dict[str, DataFrame]:
    """The eight tables at scale factor ``sf``, ``npartitions`` each (``nation`` and ``region``:
    one). Nothing is generated here: each partition's task generates its part on a worker."""
    out: dict[str, DataFrame] = {}
    for t in _NAMES:
        n = 1 if t in _FIXED else npartitions
        name = f"tpch-{t}-" + str(tokenize(sf, n))
        graph = {(name, i): (_part, t, sf, i + 1, n) for i in range(n)}
        meta = _part(t, 0.001, 1, 1).head(0)
        out[t] = _from_keys(dict(graph), [(name, i) for i in range(n)], meta)
    return out


def _disc_price() -> Expr:
    return col("l_extendedprice") * (lit(1) - col("l_discount"))


def q1(t: dict[str, DataFrame]) -> DataFrame:
    """Pricing summary report: a filter and a group-by with four groups (a tree of merges)."""
    charge = _disc_price() * (lit(1) + col("l_tax"))
    return (
        t["lineitem"]
        .filter(col("l_shipdate") <= datetime.date(1998, 9, 2))
        .group_by("l_returnflag", "l_linestatus")
        .agg(
            col("l_quantity").sum().alias("sum_qty"),
            col("l_extendedprice").sum().alias("sum_base_price"),
            _disc_price().sum().alias("sum_disc_price"),
            charge.sum().alias("sum_charge"),
            col("l_quantity").mean().alias("avg_qty"),
            col("l_extendedprice").mean().alias("avg_price"),
            col("l_discount").mean().alias("avg_disc"),
            col("l_orderkey").count().alias("count_order"),
        )
        .sort("l_returnflag", "l_linestatus")
    )


def q3(t: dict[str, DataFrame]) -> DataFrame:
    """Shipping priority: two hash joins, a shuffled group-by and a distributed top-k."""
    day = datetime.date(1995, 3, 15)
    n = t["lineitem"].npartitions
    c = t["customer"].filter(col("c_mktsegment") == "BUILDING").select("c_custkey")
    o = t["orders"].filter(col("o_orderdate") < day).select("o_orderkey", "o_custkey", "o_orderdate", "o_shippriority")
    li = t["lineitem"].filter(col("l_shipdate") > day).select("l_orderkey", "l_extendedprice", "l_discount")
    return (
        c.join(o, left_on="c_custkey", right_on="o_custkey")
        .join(li, left_on="o_orderkey", right_on="l_orderkey")
        .group_by("l_orderkey", "o_orderdate", "o_shippriority")
        .agg(_disc_price().sum().alias("revenue"), split_out=n)
        .top_k(10, "revenue", "o_orderdate", descending=[True, False])
        .select("l_orderkey", "revenue", "o_orderdate", "o_shippriority")
    )


def q18(t: dict[str, DataFrame]) -> DataFrame:
    """Large volume customer: a shuffled group-by with a filter on its sums, a semi join, two
    more joins, a group-by on five keys and a top-k."""
    n = t["lineitem"].npartitions
    li = t["lineitem"].select("l_orderkey", "l_quantity")
    big = (
        li.group_by("l_orderkey")
        .agg(col("l_quantity").sum().alias("total"), split_out=n)
        .filter(col("total") > 300)
        .select("l_orderkey")
    )
    o = (
        t["orders"]
        .select("o_orderkey", "o_custkey", "o_orderdate", "o_totalprice")
        .join(big, how="semi", left_on="o_orderkey", right_on="l_orderkey")
    )
    return (
        t["customer"]
        .select("c_custkey", "c_name")
        .join(o, left_on="c_custkey", right_on="o_custkey")
        .join(li, left_on="o_orderkey", right_on="l_orderkey")
        .group_by("c_name", "c_custkey", "o_orderkey", "o_orderdate", "o_totalprice")
        .agg(col("l_quantity").sum().alias("sum_qty"), split_out=n)
        .top_k(100, "o_totalprice", "o_orderdate", descending=[True, False])
    )
