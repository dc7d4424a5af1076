"""ember on a Dask cluster: partitioned frames whose tasks run ember's engine on each worker.

>>> import ember as em
>>> from ember import distributed as ed
>>> ddf = ed.from_ember(em.DataFrame({"k": ["a", "b", "a", None], "x": [1, 2, 3, 4]}), npartitions=2)
>>> ddf.group_by("k").agg(em.col("x").sum()).compute().to_dict()
{'k': [None, 'a', 'b'], 'x': [4, 4, 2]}

With a ``distributed.Client`` the cluster runs the graph; without one, Dask's local threads do.
Frames travel between workers as Arrow IPC (``_serialize``), plans as ember's JSON plan.
Needs ``dask`` (and ``distributed`` for a cluster): ``pip install ember[distributed]``.
"""

from __future__ import annotations

from ember.distributed import gbdt, tpch
from ember.distributed.collection import DataFrame, GroupBy, from_arrow, from_ember, read_csv, read_parquet

try:
    from ember.distributed import _serialize  # noqa: F401  (registers the Arrow IPC wire format)
except ImportError:  # dask without distributed: local threads need no wire format
    pass

__all__ = ["DataFrame", "GroupBy", "from_arrow", "from_ember", "gbdt", "read_csv", "read_parquet", "tpch"]
