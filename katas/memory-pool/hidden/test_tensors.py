"""Tensors are typed views of the one buffer. The solution's objects stay in its process,
so aliasing is tested by behaviour there: a tensor kept in the worker (`keep`) is written
through, then the buffer is read; the buffer (kept too) is written, then the tensor read.
"""

from __future__ import annotations

import pytest
import solution as sol
import torch
from oracle import KIB, MIB

from grader.judge.remote import fetch, keep, keep_attr

CAPACITY = 4 * MIB  # small enough to read the whole buffer back


def test_the_buffer_is_a_uint8_tensor_of_the_capacity() -> None:
    a = sol.CachingAllocator(CAPACITY)
    buf = a.buffer
    assert isinstance(buf, torch.Tensor) and buf.dtype == torch.uint8, (
        f"buffer must be a torch.uint8 tensor, got {getattr(buf, 'dtype', type(buf))}"
    )
    assert tuple(buf.shape) == (CAPACITY,), (
        f"buffer must have shape ({CAPACITY},), got {tuple(buf.shape)}"
    )


@pytest.mark.parametrize(
    ("dtype", "shape"),
    [
        (torch.float32, (4, 8)),
        (torch.bfloat16, (3, 5, 2)),
        (torch.int64, (7,)),
        (torch.uint8, (1000,)),
        (torch.float16, ()),
        (torch.float32, (0, 4)),
    ],
)
def test_tensor_has_the_dtype_and_shape_asked_for(
    dtype: torch.dtype, shape: tuple[int, ...]
) -> None:
    a = sol.CachingAllocator(CAPACITY)
    offset = a.malloc(1000)
    t = a.tensor(offset, shape, dtype)
    assert t.dtype == dtype and tuple(t.shape) == shape, (
        f"tensor(offset, {shape}, {dtype}) must have that shape and dtype, "
        f"got {tuple(t.shape)} {t.dtype}"
    )


def test_a_write_through_a_tensor_lands_in_its_block_of_the_buffer() -> None:
    a = sol.CachingAllocator(CAPACITY)
    a.malloc(100)  # 512 bytes at 0
    offset = a.malloc(4 * 32)  # 512 bytes at 512
    t = keep(a.tensor, offset, (4, 8), torch.float32)
    before = a.buffer
    mark = -torch.arange(1.0, 33.0).reshape(4, 8)
    t.copy_(mark)
    after = a.buffer
    expected = before.clone()
    expected[offset : offset + 128] = mark.flatten().view(torch.uint8)
    assert not torch.equal(after, before), (
        "a write through the tensor left the buffer unchanged: tensor() must return a view "
        "of the buffer, not a copy"
    )
    changed = torch.nonzero(after != expected).flatten()
    assert changed.numel() == 0, (
        f"the float32 tensor of the block at {offset} must cover buffer bytes "
        f"[{offset}, {offset + 128}); the write landed elsewhere (first differing byte "
        f"{int(changed[0])})"
    )


def test_a_write_into_the_buffer_shows_through_the_tensor() -> None:
    a = sol.CachingAllocator(CAPACITY)
    offset = a.malloc(3 * KIB)
    t = keep(a.tensor, offset, (2, 3), torch.int32)
    t.zero_()  # the buffer's contents are unspecified until written
    buf = keep_attr(a, "buffer")
    buf[offset + 4] = 7  # the low byte of element (0, 1), little-endian
    buf[offset + 21] = 1  # the second byte of element (1, 2): 256
    got = fetch(t).tolist()
    assert got == [[0, 7, 0], [0, 0, 256]], (
        f"writing bytes {offset + 4} and {offset + 21} of the buffer must change elements "
        f"(0, 1) and (1, 2) of the int32 view of the block at {offset}, got {got}"
    )


def test_tensors_of_different_blocks_do_not_overlap() -> None:
    a = sol.CachingAllocator(CAPACITY)
    offsets = [a.malloc(n) for n in (256, 1024, 256)]
    views = [keep(a.tensor, off, (64,), torch.float32) for off in offsets]
    for i, v in enumerate(views):
        v.fill_(float(i + 1))
    for i, (off, v) in enumerate(zip(offsets, views, strict=True)):
        got = fetch(v)
        assert torch.equal(got, torch.full((64,), float(i + 1))), (
            f"the tensor of block {i} (offset {off}) was overwritten through another block's "
            f"tensor: {got[:4].tolist()}..."
        )


def test_a_tensor_may_not_need_more_bytes_than_were_requested() -> None:
    a = sol.CachingAllocator(CAPACITY)
    offset = a.malloc(1000)  # a 1024-byte block
    a.tensor(offset, (250,), torch.float32)  # exactly 1000 bytes
    with pytest.raises(ValueError):
        a.tensor(offset, (251,), torch.float32)
        pytest.fail("1004 bytes of a 1000-byte request must raise ValueError")


def test_a_tensor_of_anything_but_an_allocated_block_raises_value_error() -> None:
    a = sol.CachingAllocator(CAPACITY)
    offset = a.malloc(1024)
    with pytest.raises(ValueError):
        a.tensor(offset + 512, (4,), torch.float32)
        pytest.fail("an offset inside a block must raise ValueError")
    a.free(offset)
    with pytest.raises(ValueError):
        a.tensor(offset, (4,), torch.float32)
        pytest.fail("a freed block must raise ValueError")
