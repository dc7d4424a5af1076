"""``ember.Series``: one named column (``df["x"]``), with NumPy, DLPack and Arrow exchange."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ember import _ember

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from ember.frame import DataFrame

__all__ = ["Series"]

#: ``__dlpack_device__`` of host memory: (kDLCPU, 0).
_DL_CPU = (1, 0)


class Series:
    """A named column on one device. Build one with ``ember.Series(name, values)`` or ``df[name]``."""

    __slots__ = ("_df",)
    _df: _ember.PyDataFrame

    def __init__(self, name: str, values: Any) -> None:
        from ember.frame import _column_value

        self._df = _ember.PyDataFrame.from_columns([name], [_column_value(values)])

    @classmethod
    def _from_frame(cls, df: _ember.PyDataFrame) -> Series:
        s = cls.__new__(cls)
        s._df = df
        return s

    @property
    def name(self) -> str:
        return self._df.columns[0]

    @property
    def dtype(self) -> str:
        return self._df.schema[0][1]

    @property
    def device(self) -> str:
        return self._df.device

    @property
    def null_count(self) -> int:
        return self._df.column_null_count(self.name)

    def __len__(self) -> int:
        return self._df.height

    def to_frame(self) -> DataFrame:
        from ember.frame import DataFrame

        return DataFrame(self._df)

    def to_device(self, device: str) -> Series:
        return Series._from_frame(self._df.to_device(device))

    def to_list(self) -> list[Any]:
        """The values as Python objects (``None`` for nulls, ``Decimal`` for decimals, ``date`` for dates)."""
        return self._df.column_to_list(self.name)

    def __getitem__(self, i: int) -> Any:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"index {i} is out of range for a Series of length {n}")
        return Series._from_frame(self._df.slice(i % n, 1)).to_list()[0]

    def _agg(self, name: str) -> Any:
        from ember.expr import Expr, col

        e: Expr = getattr(col(self.name), name)()
        return self.to_frame().select(e).get_column(self.name).to_list()[0]

    def sum(self) -> Any:
        return self._agg("sum")

    def min(self) -> Any:
        return self._agg("min")

    def max(self) -> Any:
        return self._agg("max")

    def mean(self) -> Any:
        return self._agg("mean")

    # -- DLPack ----------------------------------------------------------------------------------
    def __dlpack__(
        self,
        *,
        stream: Any = None,
        max_version: tuple[int, int] | None = None,
        dl_device: tuple[int, int] | None = None,
        copy: bool | None = None,
    ) -> Any:
        """The column as a 1-D DLPack tensor in host memory, shared (read-only) unless ``copy=True``.

        Raises ``BufferError`` for columns with nulls, booleans and non-numeric types, and for a
        ``dl_device`` other than the CPU. Simulated-device columns are downloaded and exported as
        host memory, never as CUDA.
        """
        if dl_device is not None and tuple(dl_device) != _DL_CPU:
            raise BufferError(f"ember exports DLPack tensors in host memory only, not on device {dl_device}")
        versioned = max_version is not None and tuple(max_version) >= (1, 0)
        return self._df.column_dlpack(self.name, versioned, bool(copy))

    def __dlpack_device__(self) -> tuple[int, int]:
        return _DL_CPU

    @property
    def __cuda_array_interface__(self) -> dict[str, Any]:
        """The CUDA Array Interface (v3) of a CUDA column: CuPy, Numba and PyTorch read the device
        buffer in place. Only CUDA columns have it (``hasattr`` is false elsewhere: simulated-device
        columns are host memory); numeric columns without nulls."""
        return self._df.column_cuda_array_interface(self.name)

    # -- Arrow -----------------------------------------------------------------------------------
    def __arrow_c_array__(self, requested_schema: object | None = None) -> tuple[object, object]:
        return self._df.column_arrow_c_array(self.name, requested_schema)

    def __arrow_c_device_array__(self, requested_schema: object | None = None, **kwargs: Any) -> tuple[object, object]:
        return self._df.column_arrow_c_device_array(self.name)

    def to_arrow(self) -> pa.Array:
        import pyarrow as pa

        return pa.array(self)

    def to_numpy(self) -> np.ndarray[Any, Any]:
        """A 1-D array: shared memory (read-only) for numeric columns without nulls, else a copy
        (nulls become NaN in floats, ``None`` in object arrays)."""
        import numpy as np

        if self.null_count == 0 and self.dtype.startswith(("int", "uint", "float")):
            shared: np.ndarray[Any, Any] = np.from_dlpack(self)
            return shared
        try:
            copied: np.ndarray[Any, Any] = self.to_arrow().to_numpy(zero_copy_only=False)
            return copied
        except ImportError:
            values = self.to_list()
            if self.dtype.startswith(("int", "uint", "float")):
                return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
            return np.array(values, dtype=object)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray[Any, Any]:
        a = self.to_numpy()
        return a.astype(dtype) if dtype is not None else a

    def __repr__(self) -> str:
        values = self.to_list()
        shown = ", ".join(repr(v) for v in values[:10]) + (", …" if len(values) > 10 else "")
        return f"ember.Series({self.name!r}, dtype={self.dtype}, len={len(values)}, device={self.device}) [{shown}]"
