"""Exchange with pyarrow, polars, pandas and NumPy: round trips with nulls, strings, dates and
decimals; zero copy proved by buffer addresses; DLPack; the Arrow C Device interface."""

from __future__ import annotations

import datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import ember as em


def arrow_table() -> pa.Table:
    return pa.table(
        {
            "i": pa.array([1, None, 3, -4], pa.int32()),
            "f": pa.array([0.5, 1.5, None, float("nan")], pa.float64()),
            "s": pa.array(["x", None, "zz", ""], pa.string()),
            "d": pa.array([datetime.date(2020, 2, 29), None, datetime.date(1970, 1, 1), datetime.date(1900, 1, 1)]),
            "m": pa.array([Decimal("1.23"), Decimal("-0.01"), None, Decimal("99999.99")], pa.decimal128(7, 2)),
            "b": pa.array([True, None, False, True]),
        }
    )


def test_pyarrow_round_trip_keeps_types_values_and_nulls(device: str) -> None:
    t = arrow_table()
    back = em.DataFrame(t).to_device(device).to_arrow()
    assert back.schema.types == t.schema.types
    assert back.to_pylist()[:3] == t.to_pylist()[:3]
    assert np.isnan(back.column("f")[3].as_py())


def test_polars_round_trip_both_ways() -> None:
    p = pl.DataFrame({"k": ["a", None, "c"], "v": [1, 2, None], "day": [datetime.date(2024, 5, 1), None, None]})
    df = em.DataFrame(p)  # polars exports string views; ember stores utf8
    assert df.schema == {"k": "utf8", "v": "int64", "day": "date32"}
    assert df.to_polars().equals(p)
    assert pl.DataFrame(df).equals(p)  # polars consumes ember's __arrow_c_stream__


def test_pandas_round_trip() -> None:
    p = pd.DataFrame({"a": [1.0, None, 3.0], "s": ["x", "y", None]})
    df = em.DataFrame(p)
    assert df["a"].to_list() == [1.0, None, 3.0]
    back = df.to_pandas()
    assert back["s"].tolist()[:2] == ["x", "y"] and back["s"].isna().tolist() == [False, False, True]
    assert np.isnan(back["a"][1])


def test_pyarrow_to_ember_is_zero_copy() -> None:
    values = pa.array(np.arange(1000, dtype=np.int64))
    df = em.DataFrame(pa.table({"v": values}))
    assert df._df.column_buffer_address("v") == values.buffers()[1].address


def test_ember_to_pyarrow_is_zero_copy() -> None:
    df = em.DataFrame({"v": list(range(100))})
    t = df.to_arrow()
    assert t.column("v").chunk(0).buffers()[1].address == df._df.column_buffer_address("v")


def test_numpy_in_and_out_share_memory() -> None:
    a = np.arange(10_000, dtype=np.float32)
    df = em.DataFrame({"a": a})
    assert df._df.column_buffer_address("a") == a.ctypes.data
    out = df["a"].to_numpy()
    assert out.ctypes.data == a.ctypes.data and not out.flags.writeable
    assert np.array_equal(out, a)


def test_numpy_column_survives_its_source() -> None:
    a = np.arange(5, dtype=np.int16) * 3
    df = em.DataFrame({"a": a})
    del a  # the frame keeps the NumPy buffer alive through the DLPack deleter
    assert df["a"].to_list() == [0, 3, 6, 9, 12]
    assert df.schema == {"a": "int16"}


def test_strided_numpy_is_copied_correctly() -> None:
    a = np.arange(20, dtype=np.int64)[::2]
    assert em.DataFrame({"a": a})["a"].to_list() == list(range(0, 20, 2))


def test_dlpack_round_trip_versions_and_copy() -> None:
    s = em.Series("v", np.array([1.5, 2.5, -3.0]))
    assert s.__dlpack_device__() == (1, 0)
    shared = np.from_dlpack(s)
    assert shared.ctypes.data == s._df.column_buffer_address("v")

    class Legacy:  # a consumer path that asks for the unversioned struct (DLPack < 1.0)
        def __dlpack__(self, stream: object = None) -> object:
            return s.__dlpack__()

        def __dlpack_device__(self) -> tuple[int, int]:
            return s.__dlpack_device__()

    legacy = np.from_dlpack(Legacy())
    assert legacy.tolist() == [1.5, 2.5, -3.0] and legacy.ctypes.data == shared.ctypes.data
    copied = np.from_dlpack(s, copy=True)
    assert copied.ctypes.data != shared.ctypes.data and copied.tolist() == [1.5, 2.5, -3.0]
    back = em.Series("w", shared)  # NumPy → ember again: still the same memory
    assert back._df.column_buffer_address("w") == shared.ctypes.data


def test_dlpack_refuses_what_it_cannot_carry() -> None:
    with pytest.raises(BufferError, match="nulls"):
        em.Series("v", [1, None]).__dlpack__()
    with pytest.raises(BufferError, match="DLPack has no layout"):
        em.Series("s", ["a"]).__dlpack__()
    with pytest.raises(BufferError, match="host memory only"):
        em.Series("v", [1]).__dlpack__(dl_device=(2, 0))


def test_sim_columns_export_as_host_memory() -> None:
    s = em.Series("v", [1, 2, 3]).to_device("sim")
    assert s.device == "sim" and s.__dlpack_device__() == (1, 0)
    assert np.from_dlpack(s).tolist() == [1, 2, 3]
    rb = pa.RecordBatch._import_from_c_device_capsule(*em.DataFrame({"v": [1, 2]}).to_device("sim").__arrow_c_device_array__())
    assert rb.device_type == pa.DeviceAllocationType.CPU and rb.column(0).to_pylist() == [1, 2]


def test_device_capsules_with_the_cpu_device_type() -> None:
    df = em.DataFrame({"a": [1, None, 3], "s": ["x", "y", None]})
    rb = pa.RecordBatch._import_from_c_device_capsule(*df.__arrow_c_device_array__())
    assert rb.device_type == pa.DeviceAllocationType.CPU
    assert rb.to_pydict() == {"a": [1, None, 3], "s": ["x", "y", None]}
    arr = pa.Array._import_from_c_device_capsule(*df["s"].__arrow_c_device_array__())
    assert arr.to_pylist() == ["x", "y", None]


def test_arrow_c_array_and_schema_capsules() -> None:
    df = em.DataFrame({"a": [1, 2]})
    assert pa.schema(df) == pa.schema([("a", pa.int64())])
    rb = pa.record_batch(df)
    assert rb.to_pydict() == {"a": [1, 2]}
    assert pa.array(df["a"]).to_pylist() == [1, 2]


def test_requested_schema_casts_when_possible() -> None:
    df = em.DataFrame({"s": ["a", None]})
    want = pa.schema([("s", pa.large_string())])
    t = pa.table(df, schema=want)
    assert t.schema == want and t.column("s").to_pylist() == ["a", None]


def test_chunked_and_dictionary_inputs_are_normalised() -> None:
    t = pa.concat_tables([pa.table({"v": [1, 2]}), pa.table({"v": [3]})])
    assert em.DataFrame(t)["v"].to_list() == [1, 2, 3]
    d = pa.table({"c": pa.array(["x", "y", "x"]).dictionary_encode()})
    assert em.DataFrame(d).schema == {"c": "utf8"}


def test_to_numpy_of_frames_and_of_columns_with_nulls() -> None:
    df = em.DataFrame({"a": [1.0, 2.0], "b": [3.0, None]})
    m = df.to_numpy()
    assert m.shape == (2, 2) and m[0].tolist() == [1.0, 3.0] and np.isnan(m[1, 1])


def test_empty_streams_keep_their_schema() -> None:
    t = pa.table({"s": pa.array([], pa.large_string()), "v": pa.array([], pa.int16())})
    df = em.DataFrame(t.to_reader())  # a stream with no batches
    assert df.shape == (0, 2) and df.schema == {"s": "utf8", "v": "int16"}
