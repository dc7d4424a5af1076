"""Exceptions: one class per kind of failure, builtins where Python code expects them, messages
that say where (file, line, column) and what."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import ember as em
from ember import col
from ember.exceptions import (
    ColumnNotFoundError,
    ComputeError,
    DeviceError,
    EmberError,
    InvalidArgumentError,
    KernelCompileError,
    OutOfMemoryError,
    ReadError,
    SchemaError,
    ShapeError,
)


def test_hierarchy() -> None:
    for cls in (SchemaError, ColumnNotFoundError, ComputeError, ShapeError, DeviceError, KernelCompileError,
                OutOfMemoryError, InvalidArgumentError, ReadError):
        assert issubclass(cls, EmberError)
    assert issubclass(ColumnNotFoundError, KeyError)
    assert issubclass(OutOfMemoryError, MemoryError)
    assert issubclass(KernelCompileError, DeviceError)


def test_missing_column_is_a_key_error_naming_the_columns() -> None:
    df = em.DataFrame({"a": [1], "b": [2]})
    with pytest.raises(KeyError) as e:
        df["zz"]
    assert isinstance(e.value, ColumnNotFoundError)
    assert str(e.value) == 'column "zz" not found; available columns: [a, b]'
    with pytest.raises(ColumnNotFoundError):
        df.lazy().select(col("q") + 1).collect()


def test_type_errors_are_schema_errors() -> None:
    with pytest.raises(SchemaError, match="utf8"):
        em.DataFrame({"s": ["x"]}).select(col("s") * 2)


def test_bad_device_names_and_missing_gpus() -> None:
    df = em.DataFrame({"a": [1]})
    with pytest.raises(InvalidArgumentError, match="unknown device"):
        df.to_device("tpu")
    if os.environ.get("EMBER_TEST_CUDA") != "1":
        with pytest.raises(DeviceError, match="CUDA"):
            df.to_device("cuda")


def test_malformed_csv_names_file_line_and_column(tmp_path: Path) -> None:
    p = tmp_path / "bad.csv"
    p.write_text("a,b\n1,2\n3,x\n")
    with pytest.raises(ReadError) as e:
        em.read_csv(p, schema_overrides={"b": "Int64"})
    msg = str(e.value)
    assert str(p) in msg and "line 3" in msg and 'column "b"' in msg
    lenient = em.read_csv(p, schema_overrides={"b": "Int64"}, ignore_errors=True)
    assert lenient["b"].to_list() == [2, None]


def test_corrupt_parquet_is_a_read_error(tmp_path: Path) -> None:
    p = tmp_path / "x.parquet"
    em.DataFrame({"a": list(range(100))}).write_parquet(p)
    data = bytearray(p.read_bytes())
    data[4:40] = b"\xff" * 36  # the first page header and values
    p.write_bytes(bytes(data))
    with pytest.raises(ReadError, match=str(p)):
        em.read_parquet(p)


def test_missing_files_are_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as e:
        em.read_parquet(tmp_path / "nope.parquet")
    assert e.value.filename == str(tmp_path / "nope.parquet")
    with pytest.raises(FileNotFoundError):
        em.scan_csv(tmp_path / "nope.csv").collect()


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown join type"):
        em.DataFrame({"a": [1]}).join(em.DataFrame({"a": [1]}), on="a", how="sideways")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown dtype"):
        col("a").cast("int128")
    with pytest.raises(ValueError, match="one ASCII character"):
        em.read_csv("x.csv", separator=";;")
