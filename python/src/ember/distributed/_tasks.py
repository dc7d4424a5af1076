"""What the tasks of an ``ember.distributed`` graph run on a worker: plain functions of ember frames
and JSON plans, so a graph pickles to small tuples and every worker runs ember's own engine.

Each function takes and returns :class:`ember.DataFrame` (or a list of them); Dask moves those
between workers as Arrow IPC frames (``ember.distributed._serialize``)."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from ember import _ember
from ember.expr import lit
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


#: The weight column sort samples carry (rows of the partition each sampled row stands for).
WEIGHT = "__ember_weight"


def sort_sample(part: DataFrame, keys: list[str], descending: list[bool], nulls_last: list[bool], size: int) -> DataFrame:
    """About ``size`` rows of ``part``'s key columns at evenly spaced ranks of its sort order,
    each with the number of rows it stands for (:data:`WEIGHT`), so a large partition counts
    for more than a small one when the splitters are chosen."""
    s = part.lazy().select(keys).sort(keys, descending=descending, nulls_last=nulls_last).collect()
    h = s.height
    picked = s if h <= size else concat([s.slice(i * h // size, 1) for i in range(size)])
    return picked.with_columns(lit(h / max(picked.height, 1)).alias(WEIGHT))


def sort_splitters(
    samples: Sequence[DataFrame], keys: list[str], descending: list[bool], nulls_last: list[bool], n: int
) -> DataFrame:
    """``n - 1`` splitter rows (fewer when there are fewer samples): the merged samples in sort
    order, cut where the running weight passes ``i / n`` of the total."""
    s = concat(samples).lazy().sort(keys, descending=descending, nulls_last=nulls_last).collect()
    weights = s[WEIGHT].to_list()
    total = sum(weights)
    cuts, run, i = [], 0.0, 1
    for row, w in enumerate(weights):
        run += w
        while i < n and run >= i * total / n:
            cuts.append(row)
            i += 1
    picked = concat([s.slice(r, 1) for r in cuts]) if cuts else s.head(0)
    return picked.select(keys)


def range_split(
    part: DataFrame, splitters: DataFrame, keys: list[str], descending: list[bool], nulls_last: list[bool], n: int
) -> list[DataFrame]:
    """``part``'s rows dealt into ``n`` pieces by sort order against ``splitters`` (piece ``i``
    after the ``i``-th splitter), each piece in input order."""
    opts = list(zip(keys, descending, nulls_last))
    pieces = [DataFrame(p) for p in _ember.frame_range_partition(part._df, splitters._df, opts)]
    return pieces + [pieces[0].head(0)] * (n - len(pieces))


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
