"""Readers and scans: CSV and Parquet, decoded on the GPU when the device is one."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from ember import _ember
from ember._progress import Progress, callback
from ember.frame import DataFrame
from ember.lazy import LazyFrame

__all__ = ["read_csv", "scan_csv", "read_parquet", "scan_parquet"]


def read_csv(
    source: str | os.PathLike[str],
    *,
    has_header: bool = True,
    separator: str = ",",
    quote_char: str | None = '"',
    comment_prefix: str | None = None,
    skip_rows: int = 0,
    n_rows: int | None = None,
    columns: Sequence[str] | None = None,
    schema_overrides: Mapping[str, str] | None = None,
    null_values: Sequence[str] | None = None,
    infer_schema_length: int | None = 1000,
    ignore_errors: bool = False,
    byte_range: tuple[int, int] | None = None,
    device: str | None = None,
) -> DataFrame:
    """Reads a CSV file (RFC 4180). A malformed file raises ``ember.exceptions.ReadError``
    naming the line and column; ``ignore_errors=True`` turns unparsable values into nulls.
    ``byte_range=(offset, length)`` reads only the records that start in those bytes (cuDF's
    ``byte_range``: consecutive ranges read every record once; the header and the type sample
    still come from the file's start)."""
    return DataFrame(
        _ember.read_csv(
            os.fspath(source),
            has_header=has_header,
            separator=separator,
            quote_char=quote_char,
            comment_prefix=comment_prefix,
            skip_rows=skip_rows,
            n_rows=n_rows,
            columns=list(columns) if columns is not None else None,
            schema_overrides=dict(schema_overrides) if schema_overrides is not None else None,
            null_values=list(null_values) if null_values is not None else None,
            infer_schema_length=infer_schema_length,
            ignore_errors=ignore_errors,
            byte_range=byte_range,
            device=device,
        )
    )


def scan_csv(
    source: str | os.PathLike[str],
    *,
    has_header: bool = True,
    separator: str = ",",
    quote_char: str | None = '"',
    comment_prefix: str | None = None,
    skip_rows: int = 0,
    n_rows: int | None = None,
    schema_overrides: Mapping[str, str] | None = None,
    null_values: Sequence[str] | None = None,
    infer_schema_length: int | None = 1000,
    ignore_errors: bool = False,
    byte_range: tuple[int, int] | None = None,
    device: str | None = None,
) -> LazyFrame:
    """A lazy query over a CSV file: only the columns the query uses are decoded.
    ``byte_range`` as :func:`read_csv`."""
    return LazyFrame(
        _ember.scan_csv(
            os.fspath(source),
            has_header=has_header,
            separator=separator,
            quote_char=quote_char,
            comment_prefix=comment_prefix,
            skip_rows=skip_rows,
            n_rows=n_rows,
            schema_overrides=dict(schema_overrides) if schema_overrides is not None else None,
            null_values=list(null_values) if null_values is not None else None,
            infer_schema_length=infer_schema_length,
            ignore_errors=ignore_errors,
            byte_range=byte_range,
            device=device,
        )
    )


def read_parquet(
    source: str | os.PathLike[str],
    *,
    columns: Sequence[str] | None = None,
    n_rows: int | None = None,
    row_groups: Sequence[int] | None = None,
    device: str | None = None,
    progress: Progress = None,
    chunk_bytes: int = 64 << 20,
    memory_limit: int | None = None,
) -> DataFrame:
    """Reads a Parquet file or a directory of them. With ``progress`` (``True`` for tqdm, a
    callable ``(done, total)`` or a tqdm-like bar) the file is read in chunks of about
    ``chunk_bytes`` decoded bytes each (small row groups together, a large one in row ranges),
    progress is reported after each, and Ctrl-C stops the read between chunks. A read that would
    decode to more than ``memory_limit`` bytes (default: the memory available) raises
    ``ember.exceptions.ReadError`` naming its largest row group and column before reading any page."""
    return DataFrame(
        _ember.read_parquet(
            os.fspath(source),
            columns=list(columns) if columns is not None else None,
            n_rows=n_rows,
            row_groups=list(row_groups) if row_groups is not None else None,
            device=device,
            progress=callback(progress, os.path.basename(os.fspath(source))),
            chunk_bytes=chunk_bytes,
            memory_limit=memory_limit,
        )
    )


def scan_parquet(
    source: str | os.PathLike[str],
    *,
    n_rows: int | None = None,
    row_groups: Sequence[int] | None = None,
    device: str | None = None,
    memory_limit: int | None = None,
) -> LazyFrame:
    """A lazy query over Parquet: only used columns are decoded, and row groups (and, in files
    with a page index, pages) whose statistics exclude the query's filter are skipped.
    ``memory_limit`` as in :func:`read_parquet`."""
    return LazyFrame(
        _ember.scan_parquet(
            os.fspath(source),
            n_rows=n_rows,
            row_groups=list(row_groups) if row_groups is not None else None,
            device=device,
            memory_limit=memory_limit,
        )
    )
