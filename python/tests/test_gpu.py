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


@pytest.mark.gpu
def test_cuda_array_interface_points_at_the_device_buffer() -> None:
    s = em.Series("v", np.arange(1000, dtype=np.float32)).to_device("cuda")
    cai = s.__cuda_array_interface__
    assert cai["version"] == 3 and cai["shape"] == (1000,) and cai["typestr"] == "<f4"
    assert cai["data"][0] != 0 and cai["data"][1] is True


def test_only_cuda_columns_have_the_cuda_array_interface() -> None:
    s = em.Series("v", [1, 2, 3])
    assert not hasattr(s, "__cuda_array_interface__")
    assert not hasattr(s.to_device("sim"), "__cuda_array_interface__")
