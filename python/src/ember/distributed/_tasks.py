"""What the tasks of an ``ember.distributed`` graph run on a worker: plain functions of ember frames
and JSON plans, so a graph pickles to small tuples and every worker runs ember's own engine.

Each function takes and returns :class:`ember.DataFrame` (or a list of them); Dask moves those
between workers as Arrow IPC frames (``ember.distributed._serialize``)."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from ember import _ember
from ember.frame import DataFrame

#: The name a plan template's input is scanned under; a task binds one partition to it.
PART = "__ember_partition__"


def run_plan(plan_json: str, part: DataFrame | None = None) -> DataFrame:
    """Runs a serialised plan: a template over :data:`PART` bound to ``part``, or (``part`` is
    ``None``) a plan whose sources are files it reads itself."""
    lf = _ember.plan_from_json(plan_json)
    if part is not None:
        df = part._df
        if df.device != _worker_device():
            df = df.to_device(_worker_device())
        lf = _ember.plan_bind(lf, PART, df)
    return DataFrame(lf.collect())


@functools.lru_cache(maxsize=1)
def _worker_device() -> str:
    """Where this worker runs its tasks: ``EMBER_DEVICE``, else a CUDA GPU when present, else
    the CPU (what :func:`ember.default_device` says, asked once per process)."""
    return _ember.default_device()[0]


def concat_run(plan_json: str, parts: Sequence[DataFrame]) -> DataFrame:
    """Runs a template over the rows of ``parts`` one after the other (a merge of partials, or a
    shuffle's output partition)."""
    return run_plan(plan_json, concat(parts))


def concat(parts: Sequence[DataFrame]) -> DataFrame:
    """The rows of ``parts`` in order (moved to the CPU when they are on different devices)."""
    frames = [p._df for p in parts]
    if len({f.device for f in frames}) > 1:
        frames = [f.to_device("cpu") for f in frames]
    return DataFrame(_ember.concat_frames(frames))


def hash_split(part: DataFrame, keys: Sequence[str], n: int) -> list[DataFrame]:
    """``part``'s rows dealt into ``n`` pieces by a process-independent hash of ``keys``."""
    return [DataFrame(p) for p in _ember.frame_hash_partition(part._df, list(keys), n)]


def hash_split_groups(part: DataFrame, keys: Sequence[str], n: int, k: int) -> list[DataFrame]:
    """``part``'s rows dealt into groups of ``k`` consecutive pieces of :func:`hash_split` into
    ``n`` (a two-stage shuffle's first stage)."""
    pieces = hash_split(part, keys, n)
    return [concat(pieces[a : a + k]) for a in range(0, n, k)]


def piece(pieces: Sequence[DataFrame], i: int) -> DataFrame:
    """Piece ``i`` of a split."""
    return pieces[i]


def slice_frame(df: DataFrame, offset: int, length: int) -> DataFrame:
    return df.slice(offset, length)


def join(
    lefts: Sequence[DataFrame],
    rights: Sequence[DataFrame],
    left_on: list[str],
    right_on: list[str],
    how: str,
    suffix: str,
    nulls_equal: bool,
) -> DataFrame:
    """ember's local join of the rows of ``lefts`` with those of ``rights`` (one piece of a
    shuffle from each side, or a partition and a broadcast side)."""
    left, right = concat(lefts), concat(rights)
    if left.device != right.device:
        left, right = left.to_device("cpu"), right.to_device("cpu")
    lf = left.lazy().join(
        right.lazy(),
        how=how,  # type: ignore[arg-type]
        left_on=left_on,
        right_on=right_on,
        suffix=suffix,
        nulls_equal=nulls_equal,
    )
    return lf.collect()
