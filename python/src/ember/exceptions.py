"""ember's exceptions: one base class, and builtins where Python code expects them.

Errors raised by the compiled module are converted once, in Rust (``crates/ember-python/src/error.rs``),
to the class named here; the message is the Rust error's full text (file, line, column, ...).
File-system errors are the builtin ``FileNotFoundError`` / ``PermissionError`` / ``OSError``.
"""

from __future__ import annotations

__all__ = [
    "EmberError",
    "SchemaError",
    "ColumnNotFoundError",
    "ComputeError",
    "ShapeError",
    "DeviceError",
    "KernelCompileError",
    "OutOfMemoryError",
    "InvalidArgumentError",
    "ReadError",
    "UnsupportedError",
    "NotConvergedError",
    "DistributedError",
]


class EmberError(Exception):
    """Base class of every error ember raises (except file-system errors)."""


class SchemaError(EmberError, TypeError):
    """An operation was applied to column types it does not accept."""


class ColumnNotFoundError(EmberError, KeyError):
    """A column name that is not in the frame."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ComputeError(EmberError):
    """A computation failed (overflow, division by zero, an internal error)."""


class ShapeError(EmberError, ValueError):
    """Columns of different lengths were combined."""


class DeviceError(EmberError):
    """A device is missing or data on different devices was combined."""


class KernelCompileError(DeviceError):
    """NVRTC could not compile a GPU kernel."""


class OutOfMemoryError(EmberError, MemoryError):
    """The device ran out of memory."""


class InvalidArgumentError(EmberError, ValueError):
    """An argument ember cannot use (an unknown device name, a bad literal, ...)."""


class ReadError(EmberError, ValueError):
    """A file's contents are malformed; the message names the file and the place in it."""


class UnsupportedError(EmberError, NotImplementedError):
    """Something ember does not do yet (on this device); the message says what to do instead."""


class NotConvergedError(ComputeError):
    """An iterative algorithm (PageRank) did not converge within its iteration limit, like
    networkx's ``PowerIterationFailedConvergence``."""


class DistributedError(EmberError):
    """A Dask cluster lost an ``ember.distributed`` computation (a worker died or a connection
    broke); the cause is chained. Errors inside ember's own work are raised as themselves."""
