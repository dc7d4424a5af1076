"""ember: GPU-accelerated dataframes on Arrow memory, with a fast CPU engine.

>>> import ember as em
>>> df = em.DataFrame({"k": ["a", "b", "a"], "x": [1, 2, 3]})
>>> df.group_by("k", maintain_order=True).agg(em.col("x").sum()).to_dict()
{'k': ['a', 'b'], 'x': [4, 2]}
"""

from __future__ import annotations

import sys

from ember import ann, exceptions, gbdt, graph, tpch
from ember._ember import __version__
from ember.expr import Expr, coalesce, col, lit, when
from ember.frame import DataFrame, GroupBy
from ember.io import read_csv, read_parquet, scan_csv, scan_parquet
from ember.lazy import LazyFrame, LazyGroupBy, concat
from ember.series import Series

__all__ = [
    "DataFrame",
    "Expr",
    "GroupBy",
    "LazyFrame",
    "LazyGroupBy",
    "Series",
    "coalesce",
    "col",
    "ann",
    "concat",
    "default_device",
    "exceptions",
    "from_arrow",
    "gbdt",
    "graph",
    "lit",
    "read_csv",
    "read_parquet",
    "scan_csv",
    "scan_parquet",
    "tpch",
    "when",
    "__version__",
]


if "distributed" in sys.modules:
    # A Dask worker reading an ember frame another worker sent: register the Arrow IPC wire format.
    try:
        from ember.distributed import _serialize  # noqa: F401
    except ImportError:  # a module named `distributed` that is not Dask's
        pass


def default_device() -> str:
    """The device new frames and readers use: ``EMBER_DEVICE`` if set, else ``cuda:0`` when a
    CUDA GPU is usable, else ``cpu``."""
    from ember import _ember

    return _ember.default_device()[0]


def from_arrow(data: object) -> DataFrame:
    """A frame from any Arrow producer (``__arrow_c_stream__`` / ``__arrow_c_array__``), zero-copy."""
    return DataFrame(data)
