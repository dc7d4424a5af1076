"""``ember.DataFrame``: columns of one length on one device (Arrow memory), with polars' names.

Each operation is a lazy query collected at once (``df.filter(e)`` is ``df.lazy().filter(e).collect()``),
so eager and lazy code give the same answers on every device.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Union, overload

from ember import _ember, _repr
from ember.expr import Expr, col, into_expr
from ember.series import Series

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import polars as pl
    import pyarrow as pa

    from ember.lazy import LazyFrame

#: Join types.
JoinHow = Literal["inner", "left", "right", "full", "semi", "anti", "cross"]
#: A column for ``select`` / ``group_by`` / ``sort``: a name or an expression.
ColumnLike = Union[str, Expr]

__all__ = ["DataFrame", "GroupBy", "JoinHow", "ColumnLike"]


def _column_value(value: Any) -> Any:
    """A dict value as something the compiled constructor takes (Arrow producer, DLPack, list)."""
    if hasattr(value, "__arrow_c_array__") or hasattr(value, "__arrow_c_stream__"):
        return value
    kind = getattr(getattr(value, "dtype", None), "kind", None)
    if hasattr(value, "__dlpack__") and kind in ("i", "u", "f"):
        return value  # NumPy / PyTorch / JAX: zero-copy through DLPack
    if type(value).__module__.startswith("pandas"):
        import pyarrow as pa

        return pa.array(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def _exprs(items: Sequence[ColumnLike | Sequence[ColumnLike]]) -> list[_ember.PyExpr]:
    out: list[_ember.PyExpr] = []
    for it in items:
        if isinstance(it, (list, tuple)):
            out.extend(into_expr(x)._e for x in it)
        else:
            out.append(into_expr(it)._e)  # type: ignore[arg-type]
    return out


class DataFrame:
    """A table of named, typed columns on one device (``cpu``, ``cuda:N`` or ``sim``).

    ``data`` is a dict of columns (lists, NumPy arrays, Arrow arrays, ember Series), or any object
    with ``__arrow_c_stream__`` / ``__arrow_c_array__`` (pyarrow, polars, pandas >= 2.2, DuckDB),
    or a pandas frame. Arrow and NumPy numeric memory is shared, not copied.
    """

    __slots__ = ("_df",)
    _df: _ember.PyDataFrame

    def __init__(self, data: Any = None, *, device: str | None = None) -> None:
        if data is None:
            data = {}
        if isinstance(data, _ember.PyDataFrame):
            df = data
        elif isinstance(data, DataFrame):
            df = data._df
        elif isinstance(data, Mapping):
            names = [str(k) for k in data]
            df = _ember.PyDataFrame.from_columns(names, [_column_value(v) for v in data.values()])
        elif hasattr(data, "__arrow_c_stream__") or hasattr(data, "__arrow_c_array__"):
            df = _ember.PyDataFrame.from_arrow(data)
        elif type(data).__module__.startswith("pandas"):
            import pyarrow as pa

            df = _ember.PyDataFrame.from_arrow(pa.Table.from_pandas(data, preserve_index=False))
        elif getattr(data, "ndim", None) == 2:
            df = _ember.PyDataFrame.from_columns(
                [f"column_{i}" for i in range(data.shape[1])], [_column_value(data[:, i]) for i in range(data.shape[1])]
            )
        else:
            raise TypeError(f"cannot make an ember DataFrame from a {type(data).__name__}")
        self._df = df.to_device(device) if device is not None else df

    # -- shape and schema ------------------------------------------------------------------------
    @property
    def height(self) -> int:
        return self._df.height

    @property
    def width(self) -> int:
        return self._df.width

    @property
    def shape(self) -> tuple[int, int]:
        return (self._df.height, self._df.width)

    @property
    def columns(self) -> list[str]:
        return self._df.columns

    @property
    def schema(self) -> dict[str, str]:
        """Column name → dtype name (``int64``, ``utf8``, ``decimal128(15, 2)``, ...)."""
        return dict(self._df.schema)

    @property
    def dtypes(self) -> list[str]:
        return [t for _, t in self._df.schema]

    @property
    def device(self) -> str:
        """Where the columns live: ``cpu``, ``cuda:N`` or ``sim``."""
        return self._df.device

    def __len__(self) -> int:
        return self._df.height

    def __contains__(self, name: object) -> bool:
        return name in self._df.columns

    def __iter__(self) -> Iterator[Series]:
        return (self.get_column(c) for c in self.columns)

    def _ipython_key_completions_(self) -> list[str]:
        return self.columns

    # -- devices ---------------------------------------------------------------------------------
    def to_device(self, device: str) -> DataFrame:
        """A copy on ``device`` (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"sim"``); itself if already there."""
        return DataFrame(self._df.to_device(device))

    # -- columns and rows ------------------------------------------------------------------------
    def get_column(self, name: str) -> Series:
        return Series._from_frame(self._df.select_columns([name]))

    @overload
    def __getitem__(self, key: str) -> Series: ...

    @overload
    def __getitem__(self, key: list[str] | slice) -> DataFrame: ...

    def __getitem__(self, key: str | list[str] | slice) -> Series | DataFrame:
        if isinstance(key, str):
            return self.get_column(key)
        if isinstance(key, list):
            return DataFrame(self._df.select_columns(key))
        if isinstance(key, slice):
            start, stop, step = key.indices(self.height)
            if step != 1:
                raise ValueError("row slices with a step are not supported")
            return self.slice(start, max(stop - start, 0))
        raise TypeError(f"cannot index a DataFrame with a {type(key).__name__}")

    def head(self, n: int = 5) -> DataFrame:
        return self.slice(0, n)

    def tail(self, n: int = 5) -> DataFrame:
        return self.slice(max(self.height - n, 0), n)

    def slice(self, offset: int, length: int | None = None) -> DataFrame:
        if offset < 0:
            offset = max(self.height + offset, 0)
        return DataFrame(self._df.slice(offset, self.height if length is None else length))

    # -- queries ---------------------------------------------------------------------------------
    def lazy(self) -> LazyFrame:
        from ember.lazy import LazyFrame

        return LazyFrame(self._df.lazy())

    def select(self, *exprs: ColumnLike | Sequence[ColumnLike], **named: Expr) -> DataFrame:
        return self.lazy().select(*exprs, **named).collect()

    def filter(self, predicate: Expr) -> DataFrame:
        return self.lazy().filter(predicate).collect()

    def with_columns(self, *exprs: Expr | Sequence[Expr], **named: Expr) -> DataFrame:
        return self.lazy().with_columns(*exprs, **named).collect()

    def drop(self, *columns: str | Sequence[str]) -> DataFrame:
        return self.lazy().drop(*columns).collect()

    def rename(self, mapping: Mapping[str, str]) -> DataFrame:
        return self.lazy().rename(mapping).collect()

    def group_by(self, *keys: ColumnLike | Sequence[ColumnLike], maintain_order: bool = False) -> GroupBy:
        return GroupBy(self, _exprs(keys), maintain_order)

    def join(
        self,
        other: DataFrame,
        on: str | Sequence[str] | None = None,
        how: JoinHow = "inner",
        *,
        left_on: str | Sequence[str] | None = None,
        right_on: str | Sequence[str] | None = None,
        suffix: str = "_right",
        nulls_equal: bool = False,
    ) -> DataFrame:
        return (
            self.lazy()
            .join(other.lazy(), on, how, left_on=left_on, right_on=right_on, suffix=suffix, nulls_equal=nulls_equal)
            .collect()
        )

    def sort(
        self,
        by: ColumnLike | Sequence[ColumnLike],
        *more_by: ColumnLike,
        descending: bool | Sequence[bool] = False,
        nulls_last: bool | Sequence[bool] = False,
    ) -> DataFrame:
        return self.lazy().sort(by, *more_by, descending=descending, nulls_last=nulls_last).collect()

    def unique(
        self, subset: str | Sequence[str] | None = None, *, keep: Literal["first", "last", "any"] = "any"
    ) -> DataFrame:
        return self.lazy().unique(subset, keep=keep).collect()

    # -- interop ---------------------------------------------------------------------------------
    def __arrow_c_schema__(self) -> object:
        return self._df.__arrow_c_schema__()

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        return self._df.__arrow_c_stream__(requested_schema)

    def __arrow_c_array__(self, requested_schema: object | None = None) -> tuple[object, object]:
        return self._df.__arrow_c_array__(requested_schema)

    def __arrow_c_device_array__(self, requested_schema: object | None = None, **kwargs: Any) -> tuple[object, object]:
        """The frame as a struct array in the C Device Data Interface (host memory; device type CPU)."""
        return self._df.__arrow_c_device_array__(requested_schema)

    def __arrow_c_device_stream__(self, requested_schema: object | None = None, **kwargs: Any) -> object:
        return self._df.__arrow_c_device_stream__(requested_schema)

    def to_arrow(self) -> pa.Table:
        """A pyarrow Table sharing the frame's memory (a GPU frame is downloaded first)."""
        import pyarrow as pa

        return pa.table(self)

    def to_polars(self) -> pl.DataFrame:
        import polars as pl

        out = pl.from_arrow(self.to_arrow())
        assert isinstance(out, pl.DataFrame)
        return out

    def to_pandas(self) -> pd.DataFrame:
        return self.to_arrow().to_pandas()

    def to_numpy(self) -> np.ndarray[Any, Any]:
        """A 2-D array (rows × columns) of the columns' common type."""
        import numpy as np

        if self.width == 0:
            return np.empty((self.height, 0))
        return np.column_stack([s.to_numpy() for s in self])

    def to_dict(self) -> dict[str, list[Any]]:
        return {c: self.get_column(c).to_list() for c in self.columns}

    def equals(self, other: DataFrame) -> bool:
        """Same columns, dtypes and values (nulls equal to nulls)."""
        return self.schema == other.schema and self.to_dict() == other.to_dict()

    # -- files -----------------------------------------------------------------------------------
    def write_csv(self, path: str | os.PathLike[str], *, include_header: bool = True, separator: str = ",") -> None:
        _ember.write_csv(self._df, os.fspath(path), include_header=include_header, separator=separator)

    def write_parquet(
        self,
        path: str | os.PathLike[str],
        *,
        compression: Literal["uncompressed", "snappy", "zstd", "lz4", "gzip"] = "snappy",
        row_group_size: int | None = None,
        page_rows: int | None = None,
    ) -> None:
        """Writes one Parquet file (under a temporary name, renamed when complete), with min/max
        statistics per row group and a page index; ``page_rows`` caps rows per data page (default
        20 Ki): smaller pages let a filtered read skip more."""
        _ember.write_parquet(
            self._df,
            os.fspath(path),
            compression=compression,
            row_group_size=row_group_size,
            page_rows=page_rows,
        )

    # -- pickling and Dask ------------------------------------------------------------------------
    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        """Pickles as an Arrow IPC stream (a GPU frame comes back as a CPU frame)."""
        return _from_ipc, (_ember.frame_to_ipc(self._df),)

    def __dask_tokenize__(self) -> tuple[str, str]:
        """Dask's key for this frame: a hash of its contents (an Arrow IPC stream of exactly its
        rows), so two slices of one table never share a key."""
        import hashlib

        return ("ember.DataFrame", hashlib.sha256(_ember.frame_to_ipc(self._df)).hexdigest())

    # -- display ---------------------------------------------------------------------------------
    def __repr__(self) -> str:
        return _repr.to_text(self)

    def _repr_html_(self) -> str:
        return _repr.to_html(self)


def _from_ipc(data: bytes) -> DataFrame:
    return DataFrame(_ember.frame_from_ipc(data))


class GroupBy:
    """``df.group_by(keys)``: call ``agg(...)``."""

    def __init__(self, df: DataFrame, keys: list[_ember.PyExpr], maintain_order: bool) -> None:
        self._df, self._keys, self._maintain_order = df, keys, maintain_order

    def agg(self, *aggs: Expr | Sequence[Expr]) -> DataFrame:
        from ember.lazy import LazyGroupBy

        return LazyGroupBy(self._df.lazy(), self._keys, self._maintain_order).agg(*aggs).collect()

    def len(self, name: str = "len") -> DataFrame:
        """Rows per group."""
        key = self._keys[0].output_name()
        return self.agg(col(key).len().alias(name))

