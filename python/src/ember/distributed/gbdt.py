"""Gradient-boosted trees on a Dask cluster: one long-running task per worker holds a contiguous
run of the frame's partitions, and the workers grow every tree together, reducing integer
histograms once per tree level, as ``xgboost.dask`` does.

The reduction (an allreduce) goes through xgboost's collective (Rabit; its tracker runs on the
scheduler) when xgboost is installed, else through Dask itself: every rank sends its buffer to
rank 0 over a scheduler queue, and rank 0 reduces them in rank order and sends the sum back
(slower: each level costs a few scheduler round trips, against one ring allreduce).

Every worker makes the same decisions from the same reduced numbers, so the model is the one a
single process would train on all rows with the same cuts (``ember.gbdt.train``: byte-identical
XGBoost JSON), through either collective. The cuts come from merged per-partition sketches:
exactly single-process cuts when each partition has at most ``sketch_size`` distinct values per
feature, quantiles within one sketch step of them otherwise. Each worker trains on its own
device (``EMBER_DEVICE``, else a CUDA GPU, else the CPU engine); devices may differ between
workers and the model does not change.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, Literal

from ember import _ember, exceptions
from ember.distributed import _tasks
from ember.distributed.collection import DataFrame, from_ember
from ember.frame import DataFrame as Frame
from ember.gbdt import Model

__all__ = ["train"]


def _height(df: Frame) -> int:
    return df.height


def _sketch(df: Frame, label: str, weight: str | None, size: int) -> bytes:
    return _ember.gbdt_sketch(df._df, label, weight, size)


#: An allreduce as the Rust trainer calls it: (op, the rank's buffer) -> the reduced buffer.
Allreduce = Callable[[str, bytes], bytes]

_DTYPES = {"sum_i64": "int64", "sum_f64": "float64", "max_f64": "float64"}


def _train_rank(
    parts: list[Frame],
    label: str,
    objective: str,
    num_class: int | None,
    weight: str | None,
    params: dict[str, Any],
    cuts: list[list[float]],
    offset: int,
    comm: dict[str, Any],
    valid_parts: list[Frame] | None = None,
    valid_offset: int = 0,
) -> str:
    """One worker's share: its partitions' rows (and eval rows), trained in step with the other
    workers."""
    df = _tasks.concat(parts)
    valid = (_tasks.concat(valid_parts)._df, valid_offset) if valid_parts else None

    def fit(allreduce: Allreduce) -> str:
        model = _ember.gbdt_train_distributed(
            df._df,
            label,
            objective,
            cuts,
            offset,
            allreduce,
            num_class=num_class,
            weight=weight,
            params=params,
            device=_tasks._worker_device(),
            valid=valid,
        )
        return model.to_json()

    if comm["kind"] == "xgboost":
        return _with_rabit(comm["args"], fit)
    with _QueueAllreduce(comm["name"], comm["rank"], comm["ranks"], comm["timeout"]) as allreduce:
        return fit(allreduce)


def _with_rabit(args: dict[str, Any], fit: Callable[[Allreduce], str]) -> str:
    """``fit`` with an allreduce through xgboost's collective (joined for the call's duration)."""
    import numpy as np
    from xgboost import collective

    how = {"sum_i64": collective.Op.SUM, "sum_f64": collective.Op.SUM, "max_f64": collective.Op.MAX}

    def allreduce(op: str, data: bytes) -> bytes:
        dtype = np.dtype(_DTYPES[op])
        out = collective.allreduce(np.frombuffer(data, dtype=dtype).copy(), how[op])
        return bytes(np.ascontiguousarray(out, dtype=dtype).tobytes())

    with collective.CommunicatorContext(**args):
        return fit(allreduce)


class _QueueAllreduce:
    """An allreduce through Dask's scheduler queues, for clusters without xgboost: rank ``r > 0``
    puts ``(r, seq, buffer)`` on rank 0's queue and waits on its own; rank 0 takes the other
    ranks' buffers, reduces all of them in rank order (so every run adds floats the same way)
    and puts the result on each rank's queue. Each call is a barrier, so one queue per rank
    carries every level's messages in order."""

    def __init__(self, name: str, rank: int, ranks: int, timeout: float) -> None:
        from distributed import Queue, get_client, get_worker

        client = get_client()
        self._worker = get_worker()
        self._task = self._worker.get_current_task()
        self._rank, self._ranks, self._timeout, self._seq = rank, ranks, timeout, 0
        self._inbox = Queue(f"{name}-to-{rank}", client=client)
        self._outs = [Queue(f"{name}-to-{r}", client=client) for r in range(ranks) if r != rank]

    def __enter__(self) -> _QueueAllreduce:
        return self

    def __exit__(self, *exc: object) -> None:
        for q in [self._inbox, *self._outs]:
            q.close()

    def _receive(self) -> Any:
        """The next message for this rank. Waits at most ``timeout`` in all, and stops waiting
        within a second once the client has given the training up (another rank failed): a
        cancelled task still holds its worker's thread until it returns."""
        deadline = time.monotonic() + self._timeout
        while True:
            try:
                return self._inbox.get(timeout=max(0.0, min(1.0, deadline - time.monotonic())))
            except TimeoutError:
                ts = self._worker.state.tasks.get(self._task)
                if ts is None or ts.state == "cancelled":
                    raise RuntimeError("the training was given up (another rank failed)") from None
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"rank {self._rank}: no allreduce message within {self._timeout} s") from None

    def __call__(self, op: str, data: bytes) -> bytes:
        import numpy as np

        seq, self._seq = self._seq, self._seq + 1
        if self._rank != 0:
            self._outs[0].put([self._rank, seq, data], timeout=self._timeout)
            got, out = self._receive()
            if got != seq:
                raise RuntimeError(f"allreduce {seq}: rank 0 answered allreduce {got}")
            return bytes(out)
        parts = {0: data}
        while len(parts) < self._ranks:
            rank, got, buf = self._receive()
            if got != seq:
                raise RuntimeError(f"allreduce {seq}: rank {rank} sent allreduce {got}")
            parts[rank] = buf
        arrays = [np.frombuffer(parts[r], dtype=_DTYPES[op]) for r in range(self._ranks)]
        acc = arrays[0].copy()
        for a in arrays[1:]:
            if op == "max_f64":
                np.maximum(acc, a, out=acc)
            else:
                acc += a
        out = acc.tobytes()
        for q in self._outs:
            q.put([seq, out], timeout=self._timeout)
        return out


def _start_tracker(n: int, timeout: float, dask_scheduler: Any = None) -> dict[str, Any]:
    """Starts xgboost's Rabit tracker for ``n`` ranks where this runs (the scheduler, as
    ``xgboost.dask`` does, or the client); a daemon thread keeps it alive until the ranks
    finish or ``timeout`` passes. Returns the ranks' connection arguments."""
    import threading

    from xgboost.tracker import RabitTracker

    if dask_scheduler is not None:
        host = dask_scheduler.address.split("://")[-1].rsplit(":", 1)[0]
    else:
        from distributed import get_client

        host = get_client().scheduler.address.split("://")[-1].rsplit(":", 1)[0]
    tracker = RabitTracker(n_workers=n, host_ip=host, sortby="task", timeout=int(timeout))
    tracker.start()
    threading.Thread(target=tracker.wait_for, daemon=True).start()
    return dict(tracker.worker_args())


def _has_xgboost() -> bool:
    import importlib.util

    return importlib.util.find_spec("xgboost") is not None


def train(
    data: DataFrame,
    label: str,
    *,
    objective: str = "reg:squarederror",
    num_class: int | None = None,
    weight: str | None = None,
    valid: DataFrame | Frame | None = None,
    sketch_size: int | None = None,
    collective: Literal["auto", "xgboost", "dask"] = "auto",
    timeout: float = 600.0,
    **params: Any,
) -> Model:
    """Trains on every row of ``data`` (every column but ``label`` and ``weight`` is a feature)
    with one task per worker of the active ``distributed.Client``. ``params`` as
    :func:`ember.gbdt.train` (``rounds``, ``max_depth``, ``eta``, ``subsample``,
    ``early_stopping_rounds``, ``eval_metric``, ...). ``valid`` (a distributed or ember frame
    with the same columns) is scored each round on all its rows, as ``ember.gbdt.train``'s
    ``valid``: the same history, early stop and best iteration. ``sketch_size`` is the runs per feature each partition summarises its values by
    (default 16 per bin). ``collective`` is how histograms are reduced: ``"xgboost"`` (Rabit),
    ``"dask"`` (scheduler queues), ``"auto"`` (xgboost when installed). ``timeout`` bounds each
    wait for the other workers. A lost worker is an :class:`ember.exceptions.DistributedError`.

    ```python
    from distributed import Client
    import ember.distributed as ed
    from ember.distributed import gbdt

    client = Client()
    model = gbdt.train(ed.read_parquet("flights/"), "delayed", objective="binary:logistic", rounds=100)
    ```
    """
    from distributed import get_client, wait

    if collective == "auto":
        collective = "xgboost" if _has_xgboost() else "dask"
    if collective not in ("xgboost", "dask"):
        raise ValueError(f"collective must be 'auto', 'xgboost' or 'dask', not {collective!r}")
    if collective == "xgboost" and not _has_xgboost():
        raise exceptions.InvalidArgumentError("collective='xgboost' needs xgboost (pip install xgboost-cpu)")
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
    vfutures: list[Any] = []
    vheights: list[int] = []
    if valid is not None:
        vd = valid if isinstance(valid, DataFrame) else from_ember(valid, len(futures))
        vgraph, vkeys = vd._materialise()
        vfutures = client.get(vgraph, vkeys, sync=False)
        vheights = client.gather(client.map(_height, vfutures, pure=False))
        vmeta = vd._meta()

    # Contiguous runs of partitions, one per worker, so each holds rows offset..offset + n.
    workers = sorted(client.scheduler_info()["workers"])[: len(futures)]
    n = len(workers)
    bounds = [len(futures) * i // n for i in range(n + 1)]
    comms: list[dict[str, Any]]
    if collective == "xgboost":
        try:
            rabit = client.run_on_scheduler(_start_tracker, n, timeout)
        except ImportError:  # the scheduler has no xgboost (or no ember): track from here
            rabit = _start_tracker(n, timeout)
        comms = [{"kind": "xgboost", "args": dict(rabit, dmlc_task_id=f"{r:08d}")} for r in range(n)]
    else:
        name = f"ember-gbdt-{uuid.uuid4().hex}"
        comms = [{"kind": "dask", "name": name, "rank": r, "ranks": n, "timeout": timeout} for r in range(n)]
    vbounds = [len(vfutures) * i // n for i in range(n + 1)]
    ranks = []
    for r, w in enumerate(workers):
        a, b = bounds[r], bounds[r + 1]
        va, vb = vbounds[r], vbounds[r + 1]
        # A rank without eval partitions still takes part in the eval reductions: an empty frame.
        vparts = (vfutures[va:vb] or [vmeta]) if valid is not None else None
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
                comms[r],
                vparts,
                sum(vheights[:va]),
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
