"""Gradient-boosted trees on a Dask cluster: one long-running task per worker holds a contiguous
run of the frame's partitions, and the workers grow every tree together, reducing integer
histograms through xgboost's collective (Rabit) once per tree level, as ``xgboost.dask`` does.

Every worker makes the same decisions from the same reduced numbers, so the model is the one a
single process would train on all rows with the same cuts (``ember.gbdt.train``: byte-identical
XGBoost JSON). The cuts come from merged per-partition sketches: exactly single-process cuts
when each partition has at most ``sketch_size`` distinct values per feature, quantiles within
one sketch step of them otherwise.

Needs ``xgboost`` for the allreduce (``pip install xgboost-cpu``); the workers train on the CPU
engine.
"""

from __future__ import annotations

import time
from typing import Any

from ember import _ember, exceptions
from ember.distributed import _tasks
from ember.distributed.collection import DataFrame
from ember.frame import DataFrame as Frame
from ember.gbdt import Model

__all__ = ["train"]


def _height(df: Frame) -> int:
    return df.height


def _sketch(df: Frame, label: str, weight: str | None, size: int) -> bytes:
    return _ember.gbdt_sketch(df._df, label, weight, size)


def _train_rank(
    parts: list[Frame],
    label: str,
    objective: str,
    num_class: int | None,
    weight: str | None,
    params: dict[str, Any],
    cuts: list[list[float]],
    offset: int,
    rabit: dict[str, Any],
) -> str:
    """One worker's share: its partitions' rows, trained in step with the other workers."""
    import numpy as np
    from xgboost import collective

    ops = {"sum_i64": (np.int64, collective.Op.SUM), "sum_f64": (np.float64, collective.Op.SUM)}
    ops["max_f64"] = (np.float64, collective.Op.MAX)

    def allreduce(op: str, data: bytes) -> bytes:
        dtype, how = ops[op]
        out = collective.allreduce(np.frombuffer(data, dtype=dtype).copy(), how)
        return bytes(np.ascontiguousarray(out, dtype=dtype).tobytes())

    with collective.CommunicatorContext(**rabit):
        df = _tasks.concat(parts)
        model = _ember.gbdt_train_distributed(
            df._df, label, objective, cuts, offset, allreduce, num_class=num_class, weight=weight, params=params
        )
        return model.to_json()


def train(
    data: DataFrame,
    label: str,
    *,
    objective: str = "reg:squarederror",
    num_class: int | None = None,
    weight: str | None = None,
    sketch_size: int | None = None,
    timeout: float = 600.0,
    **params: Any,
) -> Model:
    """Trains on every row of ``data`` (every column but ``label`` and ``weight`` is a feature)
    with one task per worker of the active ``distributed.Client``. ``params`` as
    :func:`ember.gbdt.train` (``rounds``, ``max_depth``, ``eta``, ``subsample``, ...; no eval set
    yet). ``sketch_size`` is the runs per feature each partition summarises its values by
    (default 16 per bin). A lost worker is an :class:`ember.exceptions.DistributedError`."""
    from distributed import get_client, wait
    from xgboost.tracker import RabitTracker

    client = get_client()
    max_bin = int(params.get("max_bin", 256))
    size = sketch_size or 16 * min(max_bin, 255)
    graph, keys = data._materialise()
    futures = client.get(graph, keys, sync=False)
    wait(futures)
    heights: list[int] = client.gather(client.map(_height, futures, pure=False))
    if sum(heights) == 0:
        raise exceptions.InvalidArgumentError("training set has no rows")
    sketches: list[bytes] = client.gather(
        [client.submit(_sketch, f, label, weight, size, pure=False) for f in futures]
    )
    cuts = _ember.gbdt_cuts_from_sketches(sketches, max_bin)

    # Contiguous runs of partitions, one per worker, so each holds rows offset..offset + n.
    workers = sorted(client.scheduler_info()["workers"])[: len(futures)]
    n = len(workers)
    bounds = [len(futures) * i // n for i in range(n + 1)]
    host = client.scheduler.address.split("://")[-1].rsplit(":", 1)[0]
    tracker = RabitTracker(n_workers=n, host_ip=host, sortby="task", timeout=int(timeout))
    tracker.start()
    rabit = tracker.worker_args()
    ranks = []
    for r, w in enumerate(workers):
        a, b = bounds[r], bounds[r + 1]
        args: dict[str, Any] = dict(rabit, dmlc_task_id=f"{r:08d}")
        ranks.append(
            client.submit(
                _train_rank,
                futures[a:b],
                label,
                objective,
                num_class,
                weight,
                params,
                cuts,
                sum(heights[:a]),
                args,
                workers=[w],
                allow_other_workers=False,
                pure=False,
                key=f"ember-gbdt-rank-{r}-{time.monotonic_ns()}",
            )
        )
    try:
        models: list[str] = client.gather(ranks)
    except exceptions.EmberError:
        raise
    except Exception as e:  # noqa: BLE001 - a lost worker, a broken transport
        raise exceptions.DistributedError(f"distributed GBDT training failed: {type(e).__name__}: {e}") from e
    finally:
        for f in ranks:
            f.cancel()
    return Model(_ember.GbdtModel.from_json(models[0]))
