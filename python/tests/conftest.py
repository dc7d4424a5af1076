"""Shared fixtures. GPU tests are marked ``gpu``: they run when EMBER_TEST_CUDA=1 (and then fail
without a GPU, as an explicit CUDA request must) and are skipped, saying so, otherwise."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ORACLE = REPO / "tests" / "oracle"

#: The executors every device test runs on: the CPU engine and the simulated GPU (and CUDA when asked).
DEVICES = ["cpu", "sim"] + (["cuda"] if os.environ.get("EMBER_TEST_CUDA") == "1" else [])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("EMBER_TEST_CUDA") == "1":
        return
    skip = pytest.mark.skip(reason="skipped: needs a CUDA GPU (set EMBER_TEST_CUDA=1 on a GPU machine)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(params=DEVICES)
def device(request: pytest.FixtureRequest) -> str:
    return str(request.param)
