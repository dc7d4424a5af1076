"""``progress=``: a callable ``(done, total)`` or a tqdm-like object; tqdm by default when installed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, Union, runtime_checkable


@runtime_checkable
class TqdmLike(Protocol):
    """What ember uses of a tqdm bar: ``total``, ``update(n)`` and ``close()``."""

    total: Any

    def update(self, n: int = 1) -> Any: ...

    def close(self) -> Any: ...


#: What ``progress=`` accepts: ``True`` (tqdm if installed, else nothing), ``False``/``None``,
#: a callable ``(done, total)``, or a tqdm-like object.
Progress = Union[bool, None, Callable[[int, int], object], TqdmLike]


def callback(progress: Progress, desc: str) -> Callable[[int, int], object] | None:
    """A ``(done, total)`` callable for the compiled reader, or ``None`` for no reporting."""
    if progress is None or progress is False:
        return None
    if progress is True:
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return None
        progress = tqdm(desc=desc, unit="chunk")
    if isinstance(progress, TqdmLike):
        bar = progress
        seen = [0]

        def update(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - seen[0])
            seen[0] = done
            if done == total:
                bar.close()

        return update
    if callable(progress):
        return progress
    raise TypeError(f"progress must be a callable (done, total) or a tqdm-like object, not {type(progress).__name__}")
