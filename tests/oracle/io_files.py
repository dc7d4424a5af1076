#!/usr/bin/env python3
"""Writes the reader oracle files for tests/io_oracle.rs into OUTDIR.

For each case `NAME`, `NAME.parquet` (or `.csv`) is written by pyarrow (every codec, dictionary
and plain, data pages v1 and v2, the delta and byte-stream-split encodings, int96 timestamps,
several row groups), duckdb or polars, and `NAME.arrow` holds what pyarrow reads back from it (an
Arrow IPC file): ember's readers must return the same values. `cases.txt` lists the cases.

Usage: python tests/oracle/io_files.py OUTDIR
"""
import datetime
import decimal
import os
import random
import sys

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

N = 2500


def table(seed=7):
    rnd = random.Random(seed)

    def maybe(v, i):
        return None if i % 11 == 3 else v

    words = ["", "a", "zeta", "Grüße", "日本語", "with,comma", 'quote"d', "new\nline"]
    cols = {
        "i8": pa.array([maybe(rnd.randint(-128, 127), i) for i in range(N)], pa.int8()),
        "i16": pa.array([maybe(rnd.randint(-(2**15), 2**15 - 1), i) for i in range(N)], pa.int16()),
        "i32": pa.array([maybe(rnd.randint(-(2**31), 2**31 - 1), i) for i in range(N)], pa.int32()),
        "i64": pa.array([maybe(rnd.randint(-(2**63), 2**63 - 1), i) for i in range(N)], pa.int64()),
        "u8": pa.array([maybe(rnd.randint(0, 255), i) for i in range(N)], pa.uint8()),
        "u32": pa.array([maybe(rnd.randint(0, 2**32 - 1), i) for i in range(N)], pa.uint32()),
        "u64": pa.array([maybe(rnd.randint(0, 2**64 - 1), i) for i in range(N)], pa.uint64()),
        "f32": pa.array([maybe(rnd.uniform(-1e6, 1e6), i) for i in range(N)], pa.float32()),
        "f64": pa.array([maybe(rnd.choice([rnd.gauss(0, 1e9), 0.0, -0.0, 1e-300]), i) for i in range(N)], pa.float64()),
        "b": pa.array([maybe(rnd.random() < 0.5, i) for i in range(N)], pa.bool_()),
        "s": pa.array([maybe(rnd.choice(words) + str(rnd.randint(0, 40)), i) for i in range(N)], pa.string()),
        "d12": pa.array(
            [maybe(decimal.Decimal(rnd.randint(-(10**11), 10**11)) / 1000, i) for i in range(N)], pa.decimal128(12, 3)
        ),
        "d30": pa.array(
            [maybe(decimal.Decimal(rnd.randint(-(10**29), 10**29)) / 100000, i) for i in range(N)], pa.decimal128(30, 5)
        ),
        "date": pa.array(
            [maybe(datetime.date(1970, 1, 1) + datetime.timedelta(days=rnd.randint(-20000, 30000)), i) for i in range(N)],
            pa.date32(),
        ),
        # Within the nanosecond range (years 1677..2262): INT96 files hold nanoseconds.
        "ts_ms": pa.array([maybe(rnd.randint(-(10**12), 9 * 10**12), i) for i in range(N)], pa.timestamp("ms")),
        "ts_us": pa.array([maybe(rnd.randint(-(10**15), 9 * 10**15), i) for i in range(N)], pa.timestamp("us")),
    }
    return pa.table(cols)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    t = table()
    cases = []

    def parquet_case(name, table=None, **kw):
        path = os.path.join(out, name + ".parquet")
        pq.write_table(t if table is None else table, path, **kw)
        back = pq.read_table(path)
        with pa.OSFile(os.path.join(out, name + ".arrow"), "wb") as f, pa.ipc.new_file(f, back.schema) as w:
            w.write_table(back)
        cases.append(name + ".parquet")

    # Strings stored with an Arrow schema of string_view too: ember's own decoder reads them as views.
    views = t.set_column(t.schema.get_field_index("s"), "s", t.column("s").cast(pa.string_view()))
    for prefix, source, codecs in [("pa", t, ["none", "snappy", "zstd", "lz4", "gzip"]), ("pa-view", views, ["none", "snappy"])]:
        for codec in codecs:
            for dictionary in [True, False]:
                for page in ["1.0", "2.0"]:
                    parquet_case(
                        f"{prefix}-{codec}-{'dict' if dictionary else 'plain'}-v{page[0]}",
                        table=source,
                        compression=codec,
                        use_dictionary=dictionary,
                        data_page_version=page,
                        row_group_size=700,
                        data_page_size=4096,
                    )
    parquet_case(
        "pa-delta",
        use_dictionary=False,
        column_encoding={
            "i32": "DELTA_BINARY_PACKED",
            "i64": "DELTA_BINARY_PACKED",
            "s": "DELTA_LENGTH_BYTE_ARRAY",
            "f32": "BYTE_STREAM_SPLIT",
            "f64": "BYTE_STREAM_SPLIT",
        },
        row_group_size=1000,
    )
    parquet_case("pa-delta-byte-array", use_dictionary=False, column_encoding={"s": "DELTA_BYTE_ARRAY"})
    parquet_case("pa-int96", use_deprecated_int96_timestamps=True, compression="snappy")
    parquet_case("pa-no-stats", write_statistics=False, row_group_size=500)

    try:
        import duckdb

        path = os.path.join(out, "duckdb.parquet")
        con = duckdb.connect()
        con.register("t", t.drop(["u64", "d30"]))  # duckdb writes u64 and wide decimals as other types
        con.execute(f"COPY (SELECT * FROM t) TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 1024)")
        back = pq.read_table(path)
        with pa.OSFile(os.path.join(out, "duckdb.arrow"), "wb") as f, pa.ipc.new_file(f, back.schema) as w:
            w.write_table(back)
        cases.append("duckdb.parquet")
    except ImportError:
        print("duckdb not installed: no duckdb-written case", file=sys.stderr)
    try:
        import polars as pl

        path = os.path.join(out, "polars.parquet")
        pl.from_arrow(t).write_parquet(path, row_group_size=900)
        back = pq.read_table(path)
        with pa.OSFile(os.path.join(out, "polars.arrow"), "wb") as f, pa.ipc.new_file(f, back.schema) as w:
            w.write_table(back)
        cases.append("polars.parquet")
    except ImportError:
        print("polars not installed: no polars-written case", file=sys.stderr)

    # CSV: pyarrow writes it; the expected values are the table itself (read with its schema).
    csv_cols = ["i64", "f64", "b", "s", "d12", "date"]
    ct = t.select(csv_cols)
    pacsv.write_csv(ct, os.path.join(out, "pa.csv"))
    with pa.OSFile(os.path.join(out, "pa-csv.arrow"), "wb") as f, pa.ipc.new_file(f, ct.schema) as w:
        w.write_table(ct)
    cases.append("pa.csv")

    with open(os.path.join(out, "cases.txt"), "w") as f:
        f.write("\n".join(cases) + "\n")
    print(f"wrote {len(cases)} cases to {out}")


if __name__ == "__main__":
    main()
