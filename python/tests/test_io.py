"""Files from Python: writers and readers round trip, scans push projections and filters down,
and the GPU decoders (on the simulated device) give the CPU readers' frames."""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import ember as em
from ember import col


def frame() -> em.DataFrame:
    return em.DataFrame(
        {
            "id": list(range(1000)),
            "name": [None if i % 7 == 0 else f"n{i}" for i in range(1000)],
            "price": [Decimal(i) / 100 for i in range(1000)],
            "day": [datetime.date(2020, 1, 1) + datetime.timedelta(days=i) for i in range(1000)],
            "x": [i * 0.5 if i % 5 else None for i in range(1000)],
        }
    )


def test_parquet_round_trip_and_pyarrow_reads_ours(tmp_path: Path, device: str) -> None:
    p = tmp_path / "f.parquet"
    df = frame()
    df.write_parquet(p, compression="zstd", row_group_size=300)
    assert pq.ParquetFile(p).metadata.num_row_groups == 4
    assert pq.read_table(p).to_pylist() == df.to_arrow().to_pylist()
    back = em.read_parquet(p, device=device)
    assert back.device == device and back.equals(df)
    some = em.read_parquet(p, columns=["x", "id"], row_groups=[1], device=device)
    assert some.columns == ["x", "id"] and some["id"].to_list() == list(range(300, 600))


def test_parquet_written_by_pyarrow(tmp_path: Path, device: str) -> None:
    p = tmp_path / "pa.parquet"
    t = pa.table({"a": pa.array([1, None, 3], pa.int32()), "s": ["x", None, "z"]})
    pq.write_table(t, p, use_dictionary=True)
    assert em.read_parquet(p, device=device).to_arrow().to_pylist() == t.to_pylist()


def test_csv_round_trip_and_options(tmp_path: Path, device: str) -> None:
    p = tmp_path / "f.csv"
    df = frame()
    df.write_csv(p)
    back = em.read_csv(p, device=device, schema_overrides={"price": "Decimal(10, 2)"})
    assert back.device == device
    assert back.to_dict() == df.to_dict()
    q = tmp_path / "semi.csv"
    q.write_text("# comment\na;b\n1;NA\n2;\"x;y\"\n")
    got = em.read_csv(q, separator=";", comment_prefix="#", null_values=["NA"], device=device)
    assert got.to_dict() == {"a": [1, 2], "b": [None, "x;y"]}
    # Byte ranges: the records that start in each; consecutive ranges read every record once,
    # a quoted newline never starts a record.
    r = tmp_path / "ranges.csv"
    r.write_text("id,s\n" + "".join(f'{i},"line\nbreak {i}"\n' for i in range(300)))
    size = r.stat().st_size
    parts = [em.read_csv(r, byte_range=(a, 500), device=device) for a in range(0, size, 500)]
    assert len(parts) > 5 and min(p.height for p in parts) > 0
    assert sum((p["id"].to_list() for p in parts), []) == list(range(300))
    assert parts[1]["s"].to_list()[0].startswith("line\nbreak")
    lazy = em.scan_csv(r, byte_range=(500, 500)).collect()
    assert lazy.to_dict() == parts[1].to_dict()


def test_filtered_scans_skip_pages_by_the_page_index(tmp_path: Path, device: str) -> None:
    # pyarrow's page index (small pages, two row groups): the answer equals pyarrow's filter.
    n = 20_000
    t = pa.table(
        {
            "k": list(range(n)),
            "s": [f"name-{i:06}" for i in range(n)],
            "g": [None if i % 11 == 0 else i * 7919 % 1000 for i in range(n)],
        }
    )
    p = tmp_path / "paged.parquet"
    pq.write_table(t, p, write_page_index=True, data_page_size=2048, row_group_size=12_000, use_dictionary=False)
    assert pq.ParquetFile(p).metadata.row_group(0).column(0).has_offset_index
    for lo, hi in [(5000, 5300), (11_900, 12_100), (0, 10), (19_990, 30_000)]:
        got = em.scan_parquet(p, device=device).filter((col("k") >= lo) & (col("k") < hi) & (col("g") > 100)).collect()
        want = [r for r in t.to_pylist() if lo <= r["k"] < hi and r["g"] is not None and r["g"] > 100]
        assert got.to_arrow().to_pylist() == want
    # ember's writer: `page_rows` caps rows per page, and pyarrow reads its page index.
    ours = tmp_path / "ours.parquet"
    em.DataFrame(t).write_parquet(ours, page_rows=500)
    meta = pq.ParquetFile(ours).metadata.row_group(0).column(0)
    assert meta.has_offset_index and meta.has_column_index
    got = em.scan_parquet(ours, device=device).filter(col("s") < "name-000042").collect()
    assert got["k"].to_list() == list(range(42))


def test_reads_over_the_memory_limit_raise_before_decoding(tmp_path: Path, device: str) -> None:
    p = tmp_path / "f.parquet"
    frame().write_parquet(p, row_group_size=100)
    with pytest.raises(em.exceptions.ReadError, match="memory limit") as e:
        em.read_parquet(p, memory_limit=10_000, device=device)
    assert "row group" in str(e.value) and "f.parquet" in str(e.value)
    with pytest.raises(em.exceptions.ReadError, match="memory limit"):
        em.scan_parquet(p, memory_limit=10_000, device=device).collect()
    assert em.read_parquet(p, columns=["id"], row_groups=[0], memory_limit=10_000, device=device).height == 100
    # In chunks under the limit, the whole file reads.
    assert em.read_parquet(p, memory_limit=10_000, progress=lambda d, t: None, chunk_bytes=5_000).height == 1000


def test_scans_push_down_projection_and_filter(tmp_path: Path) -> None:
    p = tmp_path / "f.parquet"
    frame().write_parquet(p, row_group_size=100)
    lf = em.scan_parquet(p).filter(col("id") >= 950).select("id", "name")
    plan = lf.explain()
    assert "SKIP ROW GROUPS UNLESS" in plan
    assert lf.collect()["id"].to_list() == list(range(950, 1000))
    c = tmp_path / "f.csv"
    frame().write_csv(c)
    out = em.scan_csv(c).filter(col("x") > 490).select(col("id").sum())
    assert out.collect()["id"].to_list() == [sum(i for i in range(981, 1000) if i % 5)]
