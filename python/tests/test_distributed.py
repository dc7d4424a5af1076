"""ember.distributed on a real two-process Dask cluster: group-by and join equal single-process
ember (exact: integer and string values), Parquet sources, the Arrow IPC wire format, content
tokens, and a lost worker as a clear error."""

from __future__ import annotations

import os
import pickle
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

dask = pytest.importorskip("dask", reason="ember.distributed needs dask (pip install dask distributed)")
distributed = pytest.importorskip("distributed", reason="ember.distributed needs distributed")

import cloudpickle  # noqa: E402  (a dependency of distributed)

import ember as em  # noqa: E402
from ember import distributed as ed  # noqa: E402
from ember.exceptions import DistributedError  # noqa: E402

# Workers unpickle this module's functions by value: the test directory is not on their path.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=40
    )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def _data(n: int, seed: int) -> em.DataFrame:
    """Skewed string and integer keys with nulls; integer values with nulls."""
    rng = random.Random(seed)
    names = ["alpha", "b", "a-much-longer-key-name", "", "z"]
    k = [None if rng.random() < 0.05 else ("alpha" if rng.random() < 0.5 else rng.choice(names)) for _ in range(n)]
    g = [None if rng.random() < 0.03 else rng.randrange(40) for _ in range(n)]
    x = [None if rng.random() < 0.1 else rng.randrange(-1000, 1000) for _ in range(n)]
    return em.DataFrame({"k": k, "g": g, "x": x, "row": list(range(n))})


AGGS = [
    em.col("x").sum().alias("sum"),
    em.col("x").min().alias("min"),
    em.col("x").max().alias("max"),
    em.col("x").count().alias("count"),
    em.col("x").len().alias("len"),
    em.col("x").first().alias("first"),
    em.col("row").last().alias("last"),
    em.col("x").mean().alias("mean"),
]


@pytest.mark.parametrize("maintain_order", [False, True])
def test_tree_group_by_equals_single_process(client: Any, maintain_order: bool) -> None:
    df = _data(3000, 1)
    want = df.group_by("k", "g", maintain_order=maintain_order).agg(AGGS)
    ddf = ed.from_ember(df, npartitions=5)
    got = ddf.group_by("k", "g", maintain_order=maintain_order).agg(AGGS, split_every=2).compute()
    assert got.schema == want.schema
    assert got.to_dict() == want.to_dict()


def test_shuffled_group_by_equals_single_process(client: Any) -> None:
    df = _data(4000, 2)
    want = df.group_by("k").agg(AGGS)
    got_ddf = ed.from_ember(df, npartitions=4).group_by("k").agg(AGGS, split_out=3)
    assert got_ddf.npartitions == 3
    got = got_ddf.compute()
    assert got.height == want.height
    assert got.sort("k").to_dict() == want.sort("k").to_dict()


def test_two_stage_shuffles_equal_single_process(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from ember.distributed import collection

    monkeypatch.setattr(collection, "ALL_TO_ALL_MAX", 1)  # every shuffle below takes two stages
    df = _data(3000, 21)
    ddf = ed.from_ember(df, npartitions=7)
    q = ddf.group_by("k", "g", maintain_order=True).agg(AGGS, split_out=5)
    graph = dict(q.__dask_graph__())
    assert any("split2" in str(k) for k in graph) and any("combine" in str(k) for k in graph)
    want = df.group_by("k", "g", maintain_order=True).agg(AGGS)
    assert _sorted(q.compute()) == _sorted(want)
    rows = [em.col("x").median().alias("med"), em.col("row").first().alias("first")]
    assert _sorted(ddf.group_by("g").agg(rows, split_out=3).compute()) == _sorted(df.group_by("g").agg(rows))
    right = ed.from_ember(df.select("row", em.col("x").alias("y")), npartitions=3)
    joined = ddf.join(right, on="row", npartitions=4).compute()
    assert _sorted(joined) == _sorted(df.join(df.select("row", em.col("x").alias("y")), on="row"))


def test_range_partitioned_sort_equals_the_stable_sort_of_one_process(client: Any) -> None:
    df = _data(5000, 22)  # skewed string keys, nulls, duplicates
    parts = [df.slice(0, 3000), df.slice(3000, 0), df.slice(3000, 400), df.slice(3400, 1600)]  # uneven, one empty
    ddf = ed.from_arrow([p.to_arrow() for p in parts])
    for by, desc, nl, n in [
        (["k", "g"], [False, True], True, 4),
        (["x"], True, False, 3),
        (["g", "x"], False, [True, False], 6),
    ]:
        q = ddf.sort(by, descending=desc, nulls_last=nl, npartitions=n)
        assert q.npartitions == n
        pieces = [p.compute() for p in _each_partition(q)]
        assert sum(p.height for p in pieces) == df.height
        if by == ["x"]:  # thousands of distinct values: every range gets rows
            assert min(p.height for p in pieces) > 0
        got = q.compute()
        assert got.to_dict() == df.sort(by, descending=desc, nulls_last=nl).to_dict(), (by, desc, nl)
    one = ddf.sort("x", nulls_last=True, npartitions=1)
    assert one.npartitions == 1 and one.compute().to_dict() == df.sort("x", nulls_last=True).to_dict()
    top = ddf.top_k(7, "x", "row", descending=[True, False], nulls_last=True).compute()
    assert top.to_dict() == df.sort("x", "row", descending=[True, False], nulls_last=True).head(7).to_dict()


def _each_partition(ddf: ed.DataFrame) -> list[ed.DataFrame]:
    graph, keys = ddf._materialise()
    return [ed.collection._from_keys(graph, [k], ddf._meta()) for k in keys]


def test_order_statistics_shuffle_rows(client: Any) -> None:
    df = _data(2000, 3)
    aggs = [em.col("x").n_unique().alias("nu"), em.col("x").median().alias("med"), em.col("x").std().alias("sd")]
    want = df.group_by("g").agg(aggs)
    ddf = ed.from_ember(df, npartitions=3)
    assert ddf.group_by("g").agg(aggs).compute().to_dict() == want.to_dict()
    got = ddf.group_by("g").agg(aggs, split_out=2).compute()
    assert got.sort("g").to_dict() == want.to_dict()


def test_row_wise_work_fuses_into_one_task_per_partition(client: Any) -> None:
    df = _data(1000, 4)
    ddf = ed.from_ember(df, npartitions=4)
    q = ddf.filter(em.col("x") > 0).with_columns(y=em.col("x") * 2).select("k", "y")
    graph = dict(q.__dask_graph__())
    assert len(graph) == 8  # 4 inputs + 4 plan tasks, not one layer per call
    want = df.filter(em.col("x") > 0).with_columns(y=em.col("x") * 2).select("k", "y")
    assert q.compute().to_dict() == want.to_dict()
    assert q.schema == {"k": "utf8", "y": "int64"}


JOINS = ["inner", "left", "full", "semi", "anti"]


def _sorted(df: em.DataFrame) -> dict[str, list[Any]]:
    return df.sort(df.columns, nulls_last=True).to_dict()


@pytest.mark.parametrize("how", JOINS)
def test_hash_join_equals_single_process(client: Any, how: str) -> None:
    left = _data(1500, 5)
    rng = random.Random(6)
    right = em.DataFrame(
        {
            "k": [None if rng.random() < 0.1 else rng.choice(["alpha", "b", "", "q"]) for _ in range(300)],
            "w": [rng.randrange(100) for _ in range(300)],
        }
    )
    want = left.join(right, on="k", how=how)  # type: ignore[arg-type]
    got = (
        ed.from_ember(left, 3).join(ed.from_ember(right, 2), on="k", how=how, broadcast=False, npartitions=4)  # type: ignore[arg-type]
    ).compute()
    assert got.schema == want.schema
    assert _sorted(got) == _sorted(want)


@pytest.mark.parametrize("how", ["inner", "left", "semi", "anti"])
def test_broadcast_join_equals_single_process(client: Any, how: str) -> None:
    left = _data(1200, 7)
    right = em.DataFrame({"g": [1, 2, 2, None, 39], "tag": ["one", "two", "two-again", "null", "last"]})
    want = left.join(right, on="g", how=how, nulls_equal=True)  # type: ignore[arg-type]
    ddf = ed.from_ember(left, 3).join(ed.from_ember(right, 1), on="g", how=how, nulls_equal=True)  # type: ignore[arg-type]
    assert ddf.npartitions == 3
    assert not any("split" in str(k) for k in ddf.__dask_graph__())  # no shuffle
    assert _sorted(ddf.compute()) == _sorted(want)


def test_read_parquet_pushes_the_query_into_each_file(client: Any, tmp_path: Path) -> None:
    df = _data(3000, 8)
    for i in range(3):
        df.slice(i * 1000, 1000).write_parquet(tmp_path / f"part-{i}.parquet", row_group_size=250)
    ddf = ed.read_parquet(tmp_path)
    assert ddf.npartitions == 3
    q = ddf.filter(em.col("row") >= 1500).group_by("k").agg(em.col("x").sum().alias("s"), em.col("x").len().alias("n"))
    want = df.filter(em.col("row") >= 1500).group_by("k").agg(em.col("x").sum().alias("s"), em.col("x").len().alias("n"))
    assert q.compute().to_dict() == want.to_dict()
    assert "Parquet" in ddf.explain() or "parquet" in ddf.explain()

    # A partition per row group (4 per file), or per run of 3 of one file; rows keep file order.
    by_group = ed.read_parquet(tmp_path, split_row_groups=True)
    assert by_group.npartitions == 12
    assert by_group.compute().to_dict() == df.to_dict()
    runs = ed.read_parquet(sorted(tmp_path.iterdir()), split_row_groups=3)
    assert runs.npartitions == 6
    q = runs.filter(em.col("row") >= 1500).group_by("k").agg(em.col("x").sum().alias("s"), em.col("x").len().alias("n"))
    assert q.compute().to_dict() == want.to_dict()
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(em.exceptions.EmberError, match="broken.parquet"):
        ed.read_parquet(tmp_path, split_row_groups=True)


def test_read_csv_by_byte_ranges_reads_every_record_once(client: Any, tmp_path: Path) -> None:
    df = _data(3000, 18)
    for i in range(2):
        df.slice(i * 1500, 1500).write_csv(tmp_path / f"part-{i}.csv")
    # A string column whose first 1000 rows look like integers: inferred once, from the first
    # file's start, and applied to every range (a range inferring alone would say int64).
    odd = tmp_path / "odd"
    odd.mkdir()
    lines = ["id,code"] + [f"{i},{i}" for i in range(1200)] + [f"{i},x{i}" for i in range(1200, 1300)]
    (odd / "a.csv").write_text("\n".join(lines) + "\n")
    ddf = ed.read_csv(tmp_path, blocksize=10_000)
    assert ddf.npartitions == 6  # 3 ranges of each ~25 KB file
    got = ddf.compute()
    files = [em.read_csv(tmp_path / f"part-{i}.csv").to_dict() for i in range(2)]
    want = em.DataFrame({c: files[0][c] + files[1][c] for c in files[0]})  # CSV reads "" as null
    assert got.schema == want.schema
    assert got.to_dict() == want.to_dict()
    q = ddf.filter(em.col("row") >= 700).group_by("k").agg(em.col("x").sum().alias("s"))
    assert q.compute().to_dict() == want.filter(em.col("row") >= 700).group_by("k").agg(em.col("x").sum().alias("s")).to_dict()
    assert ed.read_csv(tmp_path / "part-1.csv", blocksize=None).npartitions == 1
    with pytest.raises(em.exceptions.ReadError):
        ed.read_csv(odd, blocksize=1_000, infer_schema_length=100).compute()
    codes = ed.read_csv(odd, blocksize=1_000, schema_overrides={"code": "utf8"}).compute()
    assert codes.height == 1300 and codes["code"].to_list()[-1] == "x1299"


def test_persist_keeps_partitions_on_the_workers(client: Any) -> None:
    df = _data(800, 9)
    ddf = ed.from_ember(df, 4).filter(em.col("x").is_not_null()).persist()
    assert ddf.npartitions == 4
    assert ddf.group_by("k").agg(em.col("x").sum()).compute().to_dict() == (
        df.filter(em.col("x").is_not_null()).group_by("k").agg(em.col("x").sum()).to_dict()
    )


def test_frames_travel_as_arrow_ipc_and_slices_get_their_own_tokens(client: Any) -> None:
    from distributed.protocol import deserialize, serialize

    df = _data(100, 10)
    header, frames = serialize(df, serializers=("dask",))
    assert header["serializer"] == "dask" and header["sub-header"] == {"format": "arrow-ipc"}
    assert deserialize(header, frames).to_dict() == df.to_dict()
    assert pickle.loads(pickle.dumps(df)).to_dict() == df.to_dict()
    a, b = df.slice(0, 50), df.slice(50, 50)
    assert dask.base.tokenize(a) != dask.base.tokenize(b)
    assert dask.base.tokenize(a) == dask.base.tokenize(df.slice(0, 50))
    fa, fb = client.scatter([a, b])
    assert fa.result().to_dict() == a.to_dict()
    assert fb.result().to_dict() == b.to_dict()
    e = (em.col("x") * 2 + 1).alias("y")
    assert str(pickle.loads(pickle.dumps(e))) == str(e)


def test_without_a_cluster_local_threads_run_it() -> None:
    df = _data(500, 11)
    with dask.config.set(scheduler="threads"):
        got = ed.from_ember(df, 3).group_by("k").agg(AGGS).compute(scheduler="threads")
    assert got.to_dict() == df.group_by("k").agg(AGGS).to_dict()


def test_errors_inside_ember_are_raised_as_themselves(client: Any) -> None:
    ddf = ed.from_ember(_data(100, 12), 2)
    with pytest.raises(em.exceptions.ColumnNotFoundError):
        ddf.group_by("nope")
    with pytest.raises(em.exceptions.ComputeError):
        ddf.with_columns(bad=em.col("x").cast("Int8")).compute()


def _die(df: em.DataFrame) -> em.DataFrame:
    if df.height:  # the empty frame that learns the columns runs here, not on a worker
        os._exit(3)
    return df


def test_a_lost_worker_is_a_distributed_error_not_a_hang() -> None:
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=50
        )
        with distributed.Client(cluster):
            ddf = ed.from_ember(_data(100, 13), 2).map_partitions(_die)
            start = time.monotonic()
            with pytest.raises(DistributedError, match="KilledWorker"):
                ddf.compute()
            assert time.monotonic() - start < 60
        cluster.close()


@pytest.mark.parametrize("sf", ["0.01", "0.1"])
@pytest.mark.parametrize("q", [1, 3, 18])
def test_tpch_with_each_worker_generating_its_part_equals_duckdb(client: Any, q: int, sf: str) -> None:
    from test_tpch import assert_matches_oracle

    from ember.distributed import tpch as dtpch

    t = dtpch.tables(float(sf), npartitions=3)
    got = {1: dtpch.q1, 3: dtpch.q3, 18: dtpch.q18}[q](t).compute()
    assert_matches_oracle(q, got, sf)
    if sf == "0.01":  # and single-process ember's frame exactly (types, float bits)
        want_df = em.tpch.query(q, em.tpch.tables(0.01)).collect()
        assert got.schema == want_df.schema and got.to_dict() == want_df.to_dict()


def test_table_parts_make_the_whole_table() -> None:
    whole = em.tpch.tables(0.01)["orders"]
    parts = [em.tpch.table_part("orders", 0.01, p, 3) for p in (1, 2, 3)]
    assert sum(p.height for p in parts) == whole.height
    assert em.concat(parts).to_dict() == whole.to_dict()
    with pytest.raises(em.exceptions.InvalidArgumentError):
        em.tpch.table_part("orders", 0.01, 4, 3)


def test_workers_on_the_simulated_device_give_the_cpu_answer() -> None:
    # EMBER_DEVICE on a worker is its device: the GPU code path runs there, on the simulated GPU.
    rng = random.Random(14)
    df = em.DataFrame(
        {
            "g": [None if rng.random() < 0.05 else rng.randrange(9) for _ in range(700)],
            "x": [rng.randrange(-50, 50) for _ in range(700)],
        }
    )
    right = em.DataFrame({"g": list(range(0, 9, 2)), "w": [10, 20, 30, 40, 50]})
    aggs = [em.col("x").sum().alias("s"), em.col("x").min().alias("lo"), em.col("x").len().alias("n")]
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        silence_logs=40,
        env={"EMBER_DEVICE": "sim"},
    )
    with distributed.Client(cluster) as c:
        assert set(c.run(lambda: em.default_device()).values()) == {"sim"}
        ddf = ed.from_ember(df, 3).filter(em.col("x") != 0)
        got = ddf.group_by("g").agg(aggs).compute()
        joined = ddf.join(ed.from_ember(right, 2), on="g", broadcast=False).compute()
        # GBDT ranks train on the workers' device: histograms from the GPU path's kernels.
        train = _gbdt_data(1200, 17)
        params = {"rounds": 4, "max_depth": 3, "subsample": 0.8, "seed": 5}
        model = ed.gbdt.train(ed.from_ember(train, 3), "y", objective="binary:logistic", collective="dask", **params)
    cluster.close()
    want = df.filter(em.col("x") != 0)
    assert got.to_dict() == want.group_by("g").agg(aggs).to_dict()
    assert _sorted(joined) == _sorted(want.join(right, on="g"))
    assert model.to_json() == em.gbdt.train(train, "y", objective="binary:logistic", **params).to_json()


def _gbdt_data(n: int, seed: int) -> em.DataFrame:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        a, b, c = rng.uniform(-2, 2), rng.uniform(-2, 2), float(rng.randrange(5))
        y = 1.0 if 1.5 * a - b + 0.3 * c + rng.uniform(-0.5, 0.5) > 0 else 0.0
        rows.append((None if rng.random() < 0.05 else a, b, c, y))
    return em.DataFrame({k: [r[i] for r in rows] for i, k in enumerate(["a", "b", "c", "y"])})


@pytest.mark.parametrize("collective", ["xgboost", "dask"])
@pytest.mark.parametrize("objective,params", [
    ("binary:logistic", {"rounds": 8, "max_depth": 4, "eta": 0.3}),
    ("reg:squarederror", {"rounds": 5, "max_depth": 3, "subsample": 0.8, "colsample_bytree": 0.7, "seed": 3}),
])
def test_gbdt_on_two_workers_builds_the_trees_of_one_process(
    client: Any, objective: str, params: dict[str, Any], collective: str
) -> None:
    if collective == "xgboost":
        pytest.importorskip("xgboost", reason="the Rabit collective needs xgboost")
    from ember.distributed import gbdt as dgbdt

    df = _gbdt_data(2400, 15)
    # Each of the 4 partitions has at most 600 rows: its sketch is exact, so the cuts are.
    model = dgbdt.train(ed.from_ember(df, 4), "y", objective=objective, collective=collective, **params)
    want = em.gbdt.train(df, "y", objective=objective, **params)
    assert model.to_json() == want.to_json()
    assert len(model.to_json()) > 1000


@pytest.mark.parametrize("collective", ["xgboost", "dask"])
def test_gbdt_eval_set_scores_and_stops_as_one_process(client: Any, collective: str) -> None:
    if collective == "xgboost":
        pytest.importorskip("xgboost", reason="the Rabit collective needs xgboost")
    df, valid = _gbdt_data(2000, 19), _gbdt_data(700, 20)
    params = {"rounds": 60, "max_depth": 5, "eta": 0.6, "early_stopping_rounds": 3, "eval_metric": "logloss"}
    want = em.gbdt.train(df, "y", objective="binary:logistic", valid=valid, **params)
    assert want.best_iteration is not None and len(want.eval_history) < 60
    # The eval rows in 3 partitions over 2 workers (one worker gets one of them).
    got = ed.gbdt.train(
        ed.from_ember(df, 4), "y", objective="binary:logistic", valid=ed.from_ember(valid, 3),
        collective=collective, **params,
    )
    assert got.eval_history == want.eval_history
    assert got.best_iteration == want.best_iteration
    assert got.to_json() == want.to_json()
    one = ed.gbdt.train(ed.from_ember(df, 2), "y", objective="binary:logistic", valid=valid, **params)
    assert one.to_json() == want.to_json()  # an ember frame as valid: split over the workers


def test_a_rank_whose_peers_never_come_frees_its_worker_once_cancelled(client: Any) -> None:
    from ember import _ember
    from ember.distributed import gbdt as dgbdt

    df = _gbdt_data(200, 16)
    cuts = _ember.gbdt_cuts_from_sketches([_ember.gbdt_sketch(df._df, "y", None, 4096)], 256)
    worker = sorted(client.scheduler_info()["workers"])[0]
    comm = {"kind": "dask", "name": "ember-test-lonely", "rank": 0, "ranks": 2, "timeout": 600.0}
    [part] = client.scatter([df], workers=[worker])
    lonely = client.submit(
        dgbdt._train_rank, [part], "y", "binary:logistic", None, None, {"rounds": 2}, cuts, 0, comm,
        workers=[worker], pure=False,
    )
    time.sleep(1.0)
    assert lonely.status == "pending"  # rank 0 waits for rank 1
    lonely.cancel()
    start = time.monotonic()
    after = client.submit(len, [1, 2, 3], workers=[worker], pure=False)
    assert after.result(timeout=30) == 3
    assert time.monotonic() - start < 10  # the worker's one thread came back


def test_gbdt_without_rows_is_an_error(client: Any) -> None:
    from ember.distributed import gbdt as dgbdt

    empty = ed.from_ember(_gbdt_data(10, 1).head(0), 2)
    with pytest.raises(em.exceptions.InvalidArgumentError):
        dgbdt.train(empty, "y")
