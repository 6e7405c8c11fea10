"""The dtype and device fixed at construction hold for storage and for every result."""

from __future__ import annotations

from typing import Any

import pytest
import solution as sol
import torch
from oracle import randn

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _make(kind: str, dtype: torch.dtype, device: str) -> Any:
    if kind == "contiguous":
        return sol.KVCache(2, 2, 16, 2, 4, dtype=dtype, device=device)
    return sol.RollingKVCache(2, 2, 4, 2, 4, dtype=dtype, device=device)


def _check_device_dtype(kind: str, dtype: torch.dtype, device: str, start_device: str) -> None:
    cache = _make(kind, dtype, device)
    for name in ("k", "v"):
        buf = getattr(cache, name)
        assert buf.dtype == dtype, f"{kind}: cache.{name} must be {dtype}, got {buf.dtype}"
        assert buf.device.type == device, f"{kind}: cache.{name} must be on {device}"
    x = randn(2, 6, 2, 4, seed=3, dtype=dtype).to(device)
    start = torch.zeros(2, dtype=torch.long, device=start_device)
    cache.update(1, x, x, start)
    k, v, lengths = cache.update(1, x[:, :1], x[:, :1], start + 6)
    for name, out in (("k", k), ("v", v)):
        assert out.dtype == dtype, f"{kind}: update returned {name} in {out.dtype}, not {dtype}"
        assert out.device.type == device, f"{kind}: update returned {name} on {out.device}"
    assert lengths.dtype == torch.long and lengths.device.type == device, (
        f"{kind}: lengths must be int64 on the cache's device, got {lengths.dtype} on {lengths.device}"
    )
    assert torch.equal(k[:, -1].cpu(), x[:, 0].cpu()), (
        f"{kind}: the newest key must read back exactly"
    )


@pytest.mark.parametrize("kind", ["contiguous", "rolling"])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float64])
def test_dtype_is_preserved(kind: str, dtype: torch.dtype) -> None:
    _check_device_dtype(kind, dtype, "cpu", "cpu")


@pytest.mark.cuda
@needs_cuda
@pytest.mark.parametrize("kind", ["contiguous", "rolling"])
@pytest.mark.parametrize("start_device", ["cpu", "cuda"])
def test_cuda_device_is_preserved(kind: str, start_device: str) -> None:
    _check_device_dtype(kind, torch.bfloat16, "cuda", start_device)
