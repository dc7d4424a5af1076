"""TPC-H through the Python API against the stored duckdb answers that the Rust tests also use
(tests/oracle/q<N>_answers.csv): the same queries, the same data, the same answers."""

from __future__ import annotations

import datetime
import math
from decimal import Decimal
from typing import Any

import pytest

import ember as em
from conftest import ORACLE

SF = "0.01"
TABLES: dict[str, dict[str, em.DataFrame]] = {}


def tables(device: str) -> dict[str, em.DataFrame]:
    if device not in TABLES:
        TABLES[device] = em.tpch.tables(float(SF), device=device)
    return TABLES[device]


def text(v: Any) -> str:
    if isinstance(v, (datetime.date, Decimal)):
        return str(v)
    return "null" if v is None else str(v)


def oracle(q: int, sf: str = SF) -> tuple[list[str], list[str]]:
    lines = (ORACLE / f"q{q}_answers.csv").read_text().splitlines()
    return lines[0].split(",")[1:], [line[len(sf) + 1 :] for line in lines[1:] if line.startswith(sf + ",")]


def assert_matches_oracle(q: int, got: em.DataFrame, sf: str = SF) -> None:
    """``got`` equals duckdb's stored answer to query ``q`` at scale factor ``sf``."""
    names, want = oracle(q, sf)
    assert len(got.columns) == len(names), f"Q{q}: {got.columns} vs {names}"
    cols = [got[c].to_list() for c in got.columns]
    rows = list(zip(*cols)) if cols else []
    assert len(rows) == len(want), f"Q{q}: {len(rows)} rows vs {len(want)}"
    for r, (row, line) in enumerate(zip(rows, want)):
        fields = line.split(",")
        if len(fields) != len(row):  # a string with a comma: compare the line
            assert ",".join(text(v) for v in row) == line, f"Q{q} row {r}"
            continue
        for v, w in zip(row, fields):
            if isinstance(v, float):
                assert math.isclose(v, float(w), rel_tol=1e-12), f"Q{q} row {r}: {v} vs {w}"
            else:
                assert text(v) == w, f"Q{q} row {r}: {v!r} vs {w!r}"


def check(q: int, device: str) -> None:
    got = em.tpch.query(q, tables(device)).collect()
    assert got.device == device
    assert_matches_oracle(q, got)


@pytest.mark.parametrize("q", range(1, 23))
def test_query_matches_duckdb_on_cpu(q: int) -> None:
    check(q, "cpu")


@pytest.mark.parametrize("q", [1, 3, 6, 13, 18])
def test_query_matches_duckdb_on_the_simulated_gpu(q: int) -> None:
    check(q, "sim")


def test_q6_by_hand_equals_the_stored_answer() -> None:
    li = tables("cpu")["lineitem"]
    d = em.lit
    out = li.filter(
        (em.col("l_shipdate") >= d(datetime.date(1994, 1, 1)))
        & (em.col("l_shipdate") < d(datetime.date(1995, 1, 1)))
        & em.col("l_discount").is_between(Decimal("0.05"), Decimal("0.07"))
        & (em.col("l_quantity") < 24)
    ).select((em.col("l_extendedprice") * em.col("l_discount")).sum().alias("revenue"))
    assert [text(v) for v in out["revenue"].to_list()] == oracle(6)[1]
