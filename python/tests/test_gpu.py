"""CUDA-only checks (marked ``gpu``: skipped, saying so, unless EMBER_TEST_CUDA=1; then a missing
GPU fails them, as an explicit CUDA request must)."""

from __future__ import annotations

import numpy as np
import pytest

import ember as em
from ember import col


@pytest.mark.gpu
def test_cuda_frames_answer_as_the_cpu_and_export_as_host_memory() -> None:
    base = em.DataFrame({"k": ["a", "b", "a", None], "v": [1.0, 2.0, None, 4.0]})
    gpu = base.to_device("cuda")
    assert gpu.device == "cuda:0"
    got = gpu.group_by("k").agg(col("v").sum()).sort("k", nulls_last=True).to_dict()
    assert got == base.group_by("k").agg(col("v").sum()).sort("k", nulls_last=True).to_dict()
    assert gpu.to_arrow().to_pylist() == base.to_arrow().to_pylist()
    assert np.from_dlpack(em.Series("x", [1, 2, 3]).to_device("cuda")).tolist() == [1, 2, 3]
