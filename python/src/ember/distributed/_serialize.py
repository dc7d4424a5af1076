"""Dask's wire format for ember frames: an Arrow IPC stream, not a pickle of Python objects.

Registered when ``ember.distributed`` is imported, and by ``import ember`` in a process that has
already imported ``distributed`` (a worker unpickling its first ember object), so that every
worker can read what another sends."""

from __future__ import annotations

from typing import Any

from distributed.protocol import dask_deserialize, dask_serialize

from ember import _ember
from ember.frame import DataFrame


@dask_serialize.register(DataFrame)  # type: ignore[untyped-decorator]
def _serialize(df: DataFrame) -> tuple[dict[str, Any], list[bytes]]:
    return {"format": "arrow-ipc"}, [_ember.frame_to_ipc(df._df)]


@dask_deserialize.register(DataFrame)  # type: ignore[untyped-decorator]
def _deserialize(header: dict[str, Any], frames: list[Any]) -> DataFrame:
    return DataFrame(_ember.frame_from_ipc(bytes(frames[0])))
