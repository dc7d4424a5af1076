"""Expressions: ``col("x") * 2``, ``col("s").str.starts_with("a")``, ``col("x").sum()``."""

from __future__ import annotations

import builtins
import datetime
import decimal
from collections.abc import Iterable
from typing import Literal, Union

from ember import _ember

#: A Python value usable as a literal.
PythonLiteral = Union[None, bool, int, float, str, datetime.date, decimal.Decimal]
#: An expression or a literal (operands of operators and comparisons).
IntoExpr = Union["Expr", PythonLiteral]

__all__ = ["Expr", "col", "lit", "when", "coalesce", "IntoExpr", "PythonLiteral"]


def _from_json(json: builtins.str) -> Expr:
    return Expr(_ember.expr_from_json(json))


def _raw(value: IntoExpr) -> object:
    return value._e if isinstance(value, Expr) else value


class Expr:
    """An expression over the columns of a frame (or an aggregation of one)."""

    __slots__ = ("_e",)

    def __init__(self, inner: _ember.PyExpr) -> None:
        self._e = inner

    def __reduce__(self) -> tuple[object, tuple[builtins.str]]:
        """Pickles as ember's JSON form of the expression (how Dask tasks carry it)."""
        return _from_json, (_ember.expr_to_json(self._e),)

    # -- operators -----------------------------------------------------------------------------
    def _bin(self, op: builtins.str, other: IntoExpr, reflected: bool = False) -> Expr:
        return Expr(self._e.binary(op, _raw(other), reflected))

    def __add__(self, other: IntoExpr) -> Expr:
        return self._bin("add", other)

    def __radd__(self, other: IntoExpr) -> Expr:
        return self._bin("add", other, True)

    def __sub__(self, other: IntoExpr) -> Expr:
        return self._bin("sub", other)

    def __rsub__(self, other: IntoExpr) -> Expr:
        return self._bin("sub", other, True)

    def __mul__(self, other: IntoExpr) -> Expr:
        return self._bin("mul", other)

    def __rmul__(self, other: IntoExpr) -> Expr:
        return self._bin("mul", other, True)

    def __truediv__(self, other: IntoExpr) -> Expr:
        return self._bin("truediv", other)

    def __rtruediv__(self, other: IntoExpr) -> Expr:
        return self._bin("truediv", other, True)

    def __eq__(self, other: IntoExpr) -> Expr:  # type: ignore[override]
        return self._bin("eq", other)

    def __ne__(self, other: IntoExpr) -> Expr:  # type: ignore[override]
        return self._bin("ne", other)

    def __lt__(self, other: IntoExpr) -> Expr:
        return self._bin("lt", other)

    def __le__(self, other: IntoExpr) -> Expr:
        return self._bin("le", other)

    def __gt__(self, other: IntoExpr) -> Expr:
        return self._bin("gt", other)

    def __ge__(self, other: IntoExpr) -> Expr:
        return self._bin("ge", other)

    def __and__(self, other: IntoExpr) -> Expr:
        return self._bin("and", other)

    def __rand__(self, other: IntoExpr) -> Expr:
        return self._bin("and", other, True)

    def __or__(self, other: IntoExpr) -> Expr:
        return self._bin("or", other)

    def __ror__(self, other: IntoExpr) -> Expr:
        return self._bin("or", other, True)

    def __invert__(self) -> Expr:
        return Expr(self._e.not_())

    def __neg__(self) -> Expr:
        return Expr(self._e.neg())

    def __bool__(self) -> bool:
        raise TypeError(
            "an ember expression has no truth value; combine conditions with & and |, not `and` / `or`"
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> builtins.str:
        return f"<ember.Expr {self._e}>"

    def __str__(self) -> builtins.str:
        return str(self._e)

    # -- row-wise methods -----------------------------------------------------------------------
    def alias(self, name: builtins.str) -> Expr:
        """The same expression under another output name."""
        return Expr(self._e.alias(name))

    def cast(self, dtype: builtins.str) -> Expr:
        """The value as ``dtype`` (``"Int64"``, ``"Float64"``, ``"Decimal(15, 2)"``, ...)."""
        return Expr(self._e.cast(dtype))

    def is_null(self) -> Expr:
        return Expr(self._e.is_null())

    def is_not_null(self) -> Expr:
        return Expr(self._e.is_not_null())

    def is_in(self, values: Iterable[PythonLiteral]) -> Expr:
        return Expr(self._e.is_in(list(values)))

    def is_between(self, lower: IntoExpr, upper: IntoExpr) -> Expr:
        """``lower <= self <= upper``."""
        return Expr(self._e.is_between(_raw(lower), _raw(upper)))

    def fill_null(self, value: IntoExpr) -> Expr:
        return Expr(self._e.fill_null(_raw(value)))

    def abs(self) -> Expr:
        return Expr(self._e.abs())

    def round(self, decimals: int = 0) -> Expr:
        return Expr(self._e.round(decimals))

    @property
    def str(self) -> StringNamespace:
        """String methods: ``col("s").str.starts_with("x")``."""
        return StringNamespace(self)

    @property
    def dt(self) -> DateNamespace:
        """Date parts: ``col("d").dt.year()``."""
        return DateNamespace(self)

    # -- aggregations ---------------------------------------------------------------------------
    def sum(self) -> Expr:
        return Expr(self._e.agg("sum"))

    def min(self) -> Expr:
        return Expr(self._e.agg("min"))

    def max(self) -> Expr:
        return Expr(self._e.agg("max"))

    def mean(self) -> Expr:
        return Expr(self._e.agg("mean"))

    def count(self) -> Expr:
        """Number of non-null values."""
        return Expr(self._e.agg("count"))

    def len(self) -> Expr:
        """Number of values, nulls included."""
        return Expr(self._e.agg("len"))

    def n_unique(self) -> Expr:
        return Expr(self._e.agg("n_unique"))

    def first(self) -> Expr:
        return Expr(self._e.agg("first"))

    def last(self) -> Expr:
        return Expr(self._e.agg("last"))

    def var(self) -> Expr:
        """Sample variance (ddof 1)."""
        return Expr(self._e.agg("var"))

    def std(self) -> Expr:
        """Sample standard deviation (ddof 1)."""
        return Expr(self._e.agg("std"))

    def median(self) -> Expr:
        return Expr(self._e.agg("median"))

    def quantile(
        self,
        quantile: float,
        interpolation: Literal["nearest", "lower", "higher", "midpoint", "linear"] = "nearest",
    ) -> Expr:
        """The ``quantile`` (in [0, 1]) of the non-null values, as float64 (polars' rules)."""
        return Expr(self._e.quantile(quantile, interpolation))

    def meta_output_name(self) -> builtins.str:
        """The name of the column this expression produces."""
        return self._e.output_name()


class StringNamespace:
    """``Expr.str``."""

    __slots__ = ("_x",)

    def __init__(self, expr: Expr) -> None:
        self._x = expr

    def starts_with(self, prefix: str) -> Expr:
        return Expr(self._x._e.str_op("starts_with", prefix))

    def ends_with(self, suffix: str) -> Expr:
        return Expr(self._x._e.str_op("ends_with", suffix))

    def contains(self, pattern: str, *, literal: bool = True) -> Expr:
        """True where the literal substring occurs (regular expressions are not supported yet)."""
        if not literal:
            raise NotImplementedError("str.contains(literal=False): regular expressions are not supported yet")
        return Expr(self._x._e.str_op("contains", pattern))

    def like(self, pattern: str) -> Expr:
        """SQL ``LIKE`` with ``%`` and ``_``."""
        return Expr(self._x._e.str_op("like", pattern))

    def slice(self, offset: int, length: int | None = None) -> Expr:
        return Expr(self._x._e.str_slice(offset, length))

    def len_chars(self) -> Expr:
        return Expr(self._x._e.str_len())


class DateNamespace:
    """``Expr.dt``."""

    __slots__ = ("_x",)

    def __init__(self, expr: Expr) -> None:
        self._x = expr

    def year(self) -> Expr:
        return Expr(self._x._e.date_part("year"))

    def month(self) -> Expr:
        return Expr(self._x._e.date_part("month"))

    def day(self) -> Expr:
        return Expr(self._x._e.date_part("day"))

    def weekday(self) -> Expr:
        """ISO weekday: Monday 1 .. Sunday 7."""
        return Expr(self._x._e.date_part("weekday"))


def col(name: str) -> Expr:
    """The column ``name``."""
    return Expr(_ember.col(name))


def lit(value: PythonLiteral) -> Expr:
    """A constant: ``None``, ``bool``, ``int``, ``float``, ``str``, ``datetime.date``, ``decimal.Decimal``."""
    return Expr(_ember.lit(value))


class _When:
    def __init__(self, cond: IntoExpr) -> None:
        self._cond = cond

    def then(self, value: IntoExpr) -> _Then:
        return _Then(self._cond, value)


class _Then:
    def __init__(self, cond: IntoExpr, value: IntoExpr) -> None:
        self._cond, self._value = cond, value

    def otherwise(self, value: IntoExpr) -> Expr:
        return Expr(_ember.when_then_otherwise(_raw(self._cond), _raw(self._value), _raw(value)))


def when(condition: IntoExpr) -> _When:
    """``when(cond).then(a).otherwise(b)``: SQL's ``CASE WHEN``."""
    return _When(condition)


def coalesce(*exprs: IntoExpr) -> Expr:
    """The first non-null value of ``exprs``, row by row."""
    return Expr(_ember.coalesce([_raw(e) for e in exprs]))


def into_expr(value: Expr | str) -> Expr:
    """A column name (``str``) or an expression as an expression (for ``select``, ``sort``, ...)."""
    return col(value) if isinstance(value, str) else value
