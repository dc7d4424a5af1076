"""Frames and queries: construction, the polars-named operations, and the same answers on every device."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

import ember as em
from ember import col, lit


def sample() -> em.DataFrame:
    return em.DataFrame(
        {
            "k": ["a", "b", "a", None, "b", "a"],
            "x": [1.5, 2.0, None, 4.0, -1.0, 3.0],
            "n": [1, 2, 3, 4, 5, 6],
            "d": [Decimal("1.10"), Decimal("2.25"), None, Decimal("-3.00"), Decimal("0.05"), Decimal("10.00")],
            "day": [datetime.date(2024, 1, 31), None, datetime.date(1969, 12, 31), datetime.date(2000, 2, 29),
                    datetime.date(2024, 1, 1), datetime.date(1999, 12, 31)],
        }
    )


def test_construction_from_lists_infers_types_and_keeps_nulls() -> None:
    df = sample()
    assert df.shape == (6, 5)
    assert df.schema == {"k": "utf8", "x": "float64", "n": "int64", "d": "decimal128(38, 2)", "day": "date32"}
    assert df["k"].to_list() == ["a", "b", "a", None, "b", "a"]
    assert df["d"].to_list()[:3] == [Decimal("1.10"), Decimal("2.25"), None]
    assert df["day"][2] == datetime.date(1969, 12, 31)
    assert df["x"].null_count == 1
    assert len(df) == 6 and "n" in df and df.columns == ["k", "x", "n", "d", "day"]


def test_mixed_ints_and_floats_widen_but_strings_do_not_mix() -> None:
    assert em.DataFrame({"v": [1, 2.5, None]}).schema == {"v": "float64"}
    with pytest.raises(TypeError, match="mixes"):
        em.DataFrame({"v": [1, "a"]})
    with pytest.raises(em.exceptions.ShapeError):
        em.DataFrame({"a": [1, 2], "b": [1]})


def test_select_filter_with_columns(device: str) -> None:
    df = sample().to_device(device)
    out = df.filter((col("x") > 0) & col("k").is_not_null()).with_columns((col("x") * 2).alias("x2")).select(
        "k", "x2", (col("n") + 1).alias("n1")
    )
    assert out.device == device
    assert out.to_dict() == {"k": ["a", "b", "a"], "x2": [3.0, 4.0, 6.0], "n1": [2, 3, 7]}


def test_group_by_agg_matches_hand_computation(device: str) -> None:
    df = sample().to_device(device)
    out = df.group_by("k", maintain_order=True).agg(
        col("x").sum().alias("sx"),
        col("n").count().alias("cnt"),
        col("n").len().alias("len"),
        col("d").max().alias("dmax"),
        col("x").mean().alias("mx"),
    )
    assert out.to_dict() == {
        "k": ["a", "b", None],
        "sx": [4.5, 1.0, 4.0],
        "cnt": [3, 2, 1],
        "len": [3, 2, 1],
        "dmax": [Decimal("10.00"), Decimal("2.25"), Decimal("-3.00")],
        "mx": [2.25, 0.5, 4.0],
    }


def test_whole_frame_aggregations_and_series_reductions(device: str) -> None:
    df = sample().to_device(device)
    out = df.select(col("n").sum(), col("x").min().alias("lo"), col("d").sum().alias("ds"))
    assert out.to_dict() == {"n": [21], "lo": [-1.0], "ds": [Decimal("10.40")]}
    assert df["n"].sum() == 21 and df["x"].max() == 4.0


def test_join_kinds_and_suffix(device: str) -> None:
    left = em.DataFrame({"id": [1, 2, 3, None], "v": ["a", "b", "c", "d"]}).to_device(device)
    right = em.DataFrame({"id": [2, 3, 3, None], "v": ["x", "y", "z", "w"]}).to_device(device)
    inner = left.join(right, on="id").sort("id", "v_right")
    assert inner.to_dict() == {"id": [2, 3, 3], "v": ["b", "c", "c"], "v_right": ["x", "y", "z"]}
    assert left.join(right, on="id", how="anti").sort("v")["v"].to_list() == ["a", "d"]
    assert left.join(right, on="id", how="semi").sort("v")["v"].to_list() == ["b", "c"]
    nulls = left.join(right, on="id", nulls_equal=True).sort("v")
    assert nulls["v_right"].to_list() == ["x", "y", "z", "w"]
    assert left.join(right, left_on="id", right_on="id", how="left").height == 5


def test_sort_unique_head_tail_slice(device: str) -> None:
    df = sample().to_device(device)
    s = df.sort("k", "n", descending=[True, False], nulls_last=True)
    assert s["k"].to_list() == ["b", "b", "a", "a", "a", None]
    assert s["n"].to_list() == [2, 5, 1, 3, 6, 4]
    assert df.unique("k").sort("n")["n"].to_list() == [1, 2, 4]
    assert df.head(2)["n"].to_list() == [1, 2]
    assert df.tail(2)["n"].to_list() == [5, 6]
    assert df[1:3]["n"].to_list() == [2, 3]
    assert df[["n", "k"]].columns == ["n", "k"]


def test_expressions_strings_dates_when_is_in(device: str) -> None:
    df = sample().to_device(device)
    out = df.select(
        col("k").str.starts_with("a").alias("sa"),
        col("day").dt.year().alias("y"),
        em.when(col("n") > 3).then(lit("big")).otherwise(lit("small")).alias("size"),
        col("n").is_in([2, 5]).alias("in"),
        col("x").fill_null(0.0).alias("xf"),
        col("n").is_between(2, 4).alias("btw"),
    )
    assert out.to_dict() == {
        "sa": [True, False, True, None, False, True],
        "y": [2024, None, 1969, 2000, 2024, 1999],
        "size": ["small", "small", "small", "big", "big", "big"],
        "in": [False, True, False, False, True, False],
        "xf": [1.5, 2.0, 0.0, 4.0, -1.0, 3.0],
        "btw": [False, True, True, True, False, False],
    }


def test_lazy_explain_schema_and_pushdown() -> None:
    lf = sample().lazy().filter(col("n") > 2).select("k")
    assert lf.schema == {"k": "utf8"}
    plan = lf.explain()
    assert "FILTER" in plan and "SCAN" in plan
    assert lf.collect()["k"].to_list() == ["a", None, "b", "a"]


def test_concat_and_empty_frames() -> None:
    a = em.DataFrame({"x": [1, 2]})
    assert em.concat([a, a.lazy()])["x"].to_list() == [1, 2, 1, 2]
    empty = a.filter(col("x") > 10)
    assert empty.shape == (0, 1) and empty["x"].to_list() == []
    assert em.DataFrame().shape == (0, 0)


def test_expression_misuse_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="truth value"):
        bool(col("a") > 1)
    with pytest.raises(TypeError, match="aggregation"):
        sample().filter(col("n").sum() > 1)
    with pytest.raises(em.exceptions.SchemaError):
        sample().select(col("k") + 1)


def test_devices_give_the_same_answers_on_random_data_with_nulls() -> None:
    import random

    rng = random.Random(7)
    for n in (0, 1, 255, 256, 257, 1000):
        data = {
            "g": [rng.choice(["p", "q", "r", None]) for _ in range(n)],
            "v": [rng.choice([None, rng.randint(-50, 50)]) for _ in range(n)],
        }
        base = em.DataFrame(data)
        answers = []
        for dev in ("cpu", "sim"):
            df = base.to_device(dev)
            out = df.filter(col("v").is_not_null()).group_by("g").agg(col("v").sum(), col("v").len().alias("c"))
            answers.append(out.sort("g", nulls_last=True).to_dict())
        assert answers[0] == answers[1], n


def test_numpy_scalars_are_literals() -> None:
    import numpy as np

    df = em.DataFrame({"n": [1, 2, 3]})
    assert df.filter(col("n") > np.int64(1))["n"].to_list() == [2, 3]
    assert df.filter(col("n").is_in([np.int32(3), np.float64(1.0)]))["n"].to_list() == [1, 3]
    assert em.DataFrame({"b": np.array([True, False])})["b"].to_list() == [True, False]


def test_drop_rename_and_named_expressions(device: str) -> None:
    df = sample().to_device(device)
    assert df.drop("d", ["day"]).columns == ["k", "x", "n"]
    assert df.rename({"n": "num", "k": "key"}).columns == ["key", "x", "num", "d", "day"]
    out = df.select("n", doubled=col("n") * 2).with_columns(tripled=col("n") * 3)
    assert out.columns == ["n", "doubled", "tripled"] and out["tripled"].to_list() == [3, 6, 9, 12, 15, 18]
    with pytest.raises(em.exceptions.ColumnNotFoundError):
        df.drop("nope")


@pytest.mark.parametrize("interpolation", ["nearest", "lower", "higher", "midpoint", "linear"])
def test_quantiles_equal_polars(device: str, interpolation: str) -> None:
    import random

    import polars as pl

    rng = random.Random(3)
    data = {"g": [rng.randint(0, 4) for _ in range(300)], "x": [rng.choice([None, rng.uniform(-9, 9)]) for _ in range(300)]}
    df = em.DataFrame(data).to_device(device)
    p = pl.DataFrame(data)
    for q in (0.0, 0.25, 0.5, 0.9, 1.0):
        got = df.group_by("g").agg(col("x").quantile(q, interpolation)).sort("g").to_dict()  # type: ignore[arg-type]
        want = p.group_by("g").agg(pl.col("x").quantile(q, interpolation)).sort("g").to_dict(as_series=False)  # type: ignore[arg-type]
        assert got["g"] == want["g"]
        for a, b in zip(got["x"], want["x"]):
            assert a == pytest.approx(b, rel=1e-12, abs=1e-12), (q, interpolation)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        col("x").quantile(1.5)


def test_narrowing_casts_check_their_range(device: str) -> None:
    df = em.DataFrame({"v": [1, -2, 300], "f": [1.9, -0.5, 2.0]}).to_device(device)
    assert df.select(col("f").cast("Int8"))["f"].to_list() == [1, 0, 2]
    assert df.head(2).select(col("v").cast("Int8"))["v"].to_list() == [1, -2]
    with pytest.raises(em.exceptions.ComputeError, match="overflow"):
        df.select(col("v").cast("Int8"))


def test_output_names_follow_polars() -> None:
    df = em.DataFrame({"a": [1, 2], "b": [3, 4]})
    assert df.select(col("a") * 2, (col("b") + col("a")).alias("s")).columns == ["a", "s"]
    assert df.select(lit(1)).columns == ["literal"]
    assert df.select((col("b") * col("a")).sum()).to_dict() == {"b": [11]}
    assert df.with_columns(col("a").cast("Float64")).schema == {"a": "float64", "b": "int64"}


def test_dates_plus_days(device: str) -> None:
    df = em.DataFrame({"d": [datetime.date(2024, 2, 28), None]}).to_device(device)
    out = df.select((col("d") + 2).alias("p"), (col("d") - 365).alias("m"))
    assert out.to_dict() == {"p": [datetime.date(2024, 3, 1), None], "m": [datetime.date(2023, 2, 28), None]}


def test_series_and_frames_build_frames() -> None:
    s = em.Series("v", [1, None, 3])
    df = em.DataFrame({"a": s, "b": s.to_device("sim")})
    assert df.to_dict() == {"a": [1, None, 3], "b": [1, None, 3]}
    assert em.DataFrame(df).to_dict() == df.to_dict()
