"""Notebook and process behaviour: the GIL is released, Ctrl-C stops a long call, progress is
reported, and frames render as bounded text and HTML tables."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import ember as em
from ember import col


def test_heavy_calls_release_the_gil() -> None:
    t = em.tpch.tables(0.05)["lineitem"]
    lf = t.lazy().group_by("l_orderkey").agg(col("l_quantity").sum(), col("l_extendedprice").mean())
    done = threading.Event()
    elapsed: list[float] = []

    def work() -> None:
        start = time.perf_counter()
        for _ in range(3):
            lf.collect()
        elapsed.append(time.perf_counter() - start)
        done.set()

    worker = threading.Thread(target=work)
    ticks = 0
    worker.start()
    while not done.is_set():
        ticks += 1  # runs only while the worker's Rust code has let go of the GIL
    worker.join()
    assert elapsed[0] > 0.02
    assert ticks > 10_000, f"the main thread ran {ticks} loop iterations in {elapsed[0]:.3f}s"


def test_ctrl_c_interrupts_a_long_call() -> None:
    script = textwrap.dedent(
        """
        import sys, ember as em
        print("ready", flush=True)
        try:
            em.tpch.tables(3.0)   # tens of seconds on a small machine
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(3)
        print("finished", flush=True)
        """
    )
    p = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout is not None
    assert p.stdout.readline().strip() == "ready"
    time.sleep(1.0)
    sent = time.perf_counter()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    waited = time.perf_counter() - sent
    assert p.returncode == 3, (out, err)
    assert "interrupted" in out and "finished" not in out
    assert waited < 5.0, f"took {waited:.1f}s to stop after SIGINT"


def test_progress_callbacks_and_tqdm_like_bars(tmp_path: Path) -> None:
    path = tmp_path / "rg.parquet"
    em.DataFrame({"v": list(range(10_000))}).write_parquet(path, row_group_size=1000)
    calls: list[tuple[int, int]] = []
    df = em.read_parquet(path, progress=lambda d, t: calls.append((d, t)), chunk_bytes=1)
    assert df["v"].to_list() == list(range(10_000))
    assert calls == [(i, 10) for i in range(11)]

    class Bar:
        total: int | None = None
        n = 0
        closed = False

        def update(self, n: int = 1) -> None:
            self.n += n

        def close(self) -> None:
            self.closed = True

    bar = Bar()
    em.read_parquet(path, progress=bar, chunk_bytes=25_000)
    assert bar.total == bar.n and bar.closed and 1 < bar.n < 10


def test_repr_html_snapshot() -> None:
    df = em.DataFrame({"name": ["a<b", None], "x": [1.5, 2.0]})
    assert df._repr_html_() == (
        "<div><small>shape: (2, 2) · device: "
        '<span style="padding:0 4px;border-radius:3px;background:#fde7d9;color:#9a3412">cpu</span></small>'
        '<table border="1" class="dataframe ember"><thead><tr><th>name</th><th>x</th></tr>'
        "<tr><td><i>utf8</i></td><td><i>float64</i></td></tr></thead><tbody>"
        "<tr><td>a&lt;b</td><td>1.5</td></tr><tr><td>null</td><td>2.0</td></tr>"
        "</tbody></table></div>"
    )


def test_repr_is_bounded() -> None:
    wide = em.DataFrame({f"c{i}": list(range(100)) for i in range(30)})
    html = wide._repr_html_()
    assert html.count("<th>") == 13  # 6 + … + 6
    assert html.count("<tr>") == 2 + 11  # header, dtypes; 5 + … + 5 rows
    text = repr(wide)
    assert text.startswith("shape: (100, 30) · device: cpu") and "…" in text
    assert len(text.splitlines()) == 1 + 4 + 11 + 1
    assert repr(em.DataFrame({"a": [1]}).to_device("sim")).startswith("shape: (1, 1) · device: sim")
    long = repr(em.DataFrame({"s": ["x" * 100]}))
    assert "x" * 31 + "…" in long and "x" * 33 not in long


def test_column_name_completion() -> None:
    df = em.DataFrame({"alpha": [1], "beta": [2]})
    assert df._ipython_key_completions_() == ["alpha", "beta"]


def test_import_needs_neither_pyarrow_nor_numpy() -> None:
    code = "import sys, ember; print('pyarrow' in sys.modules, 'numpy' in sys.modules, 'polars' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False", "False"]
