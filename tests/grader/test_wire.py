"""The judge's decoder: plain values round-trip, and anything malformed is refused."""

from __future__ import annotations

import socket
import struct
from typing import Any

import msgpack
import pytest
import torch

from grader.worker.wire import (
    TENSOR,
    Decoder,
    Handle,
    WireError,
    encode,
    recv_frame,
    send_frame,
)


def roundtrip(value: Any) -> Any:
    a, b = socket.socketpair()
    with a, b:
        header, buffers, _ = encode(value, lambda v: Handle(1, "object", type(v).__name__))
        send_frame(a, header, buffers)
        frame = recv_frame(b)
    return Decoder(lambda h: h).decode(*frame).value


def decode_header(value: Any, body: bytes = b"") -> Any:
    header = msgpack.packb(value)
    frame = bytearray(header + body)
    return Decoder(lambda h: h).decode(header, frame, len(header)).value


@pytest.mark.parametrize(
    "value",
    [
        None, True, 3, -(2**63), 2.5, float("inf"), "text", b"\x00\xff", [1, [2, 3]],
        (1, (2,)), {"a": 1, 2: "b"}, {1, 2}, frozenset({3}), slice(1, None, 2), ...,
    ],
)  # fmt: skip
def test_plain_values_round_trip(value: Any) -> None:
    out = roundtrip(value)
    assert out == value and type(out) is type(value)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.int64, torch.bool])
def test_tensors_round_trip_with_dtype_shape_and_values(dtype: torch.dtype) -> None:
    x = (torch.randn(3, 0 if dtype == torch.bool else 4, 5) * 10).to(dtype)
    for t in (x, x.transpose(0, 2), torch.tensor(7).to(dtype), torch.empty(0, dtype=dtype)):
        out = roundtrip(t)
        assert out.dtype == t.dtype and out.shape == t.shape and torch.equal(out, t)


def test_a_tensor_subclass_arrives_as_a_plain_tensor() -> None:
    class Liar(torch.Tensor):
        def __eq__(self, other: object) -> Any:
            return True

    out = roundtrip(torch.zeros(3).as_subclass(Liar))
    assert type(out) is torch.Tensor
    assert not torch.equal(out, torch.ones(3))


def test_unknown_objects_cross_as_handles() -> None:
    out = roundtrip(object())
    assert out == Handle(1, "object", "object")


def _tensor(meta: list[Any]) -> msgpack.ExtType:
    return msgpack.ExtType(TENSOR, msgpack.packb(meta))


@pytest.mark.parametrize(
    "meta",
    [
        pytest.param(["float32", [10**12], "cpu", False, 0, 4], id="shape-larger-than-bytes"),
        pytest.param(["float32", [2], "cpu", False, 0, 8], id="bytes-past-the-frame"),
        pytest.param(["object", [1], "cpu", False, 0, 8], id="dtype-not-allowed"),
        pytest.param(["float32", [-1], "cpu", False, 0, 0], id="negative-dimension"),
        pytest.param(["float32", [1], "file:///etc/passwd", False, 0, 4], id="device-not-allowed"),
        pytest.param(["float32", "1", "cpu", False, 0, 4], id="shape-not-a-list"),
    ],
)
def test_malformed_tensors_are_refused(meta: list[Any]) -> None:
    with pytest.raises(WireError):
        decode_header({"ok": _tensor(meta)}, body=b"\0" * 4)


def test_tensors_that_share_their_bytes_are_refused() -> None:
    one = _tensor(["float32", [1], "cpu", False, 0, 4])
    assert decode_header({"ok": [one]}, body=b"\0" * 4)["ok"][0].shape == (1,)
    with pytest.raises(WireError, match="share their bytes"):  # 1000 copies of 4 bytes
        decode_header({"ok": [one] * 1000}, body=b"\0" * 4)


def test_many_small_values_and_a_long_list_decode_within_the_limits() -> None:
    assert len(decode_header({"ok": list(range(100_000))})["ok"]) == 100_000
    with pytest.raises(WireError, match="longer than"):
        decode_header({"ok": [0] * (1 << 21)})
    with pytest.raises(WireError, match="entries"):
        decode_header({"ok": [[0] * 1000] * 5000})


def test_unknown_extension_types_are_refused() -> None:
    with pytest.raises(WireError, match="unknown value type"):
        decode_header({"ok": msgpack.ExtType(99, b"whatever")})


def test_deep_nesting_is_refused() -> None:
    value: Any = msgpack.ExtType(5, msgpack.packb([]))  # an empty tuple
    for _ in range(100):
        value = msgpack.ExtType(5, msgpack.packb([value]))
    with pytest.raises(WireError, match="nested too deeply"):
        decode_header(value)


def test_a_frame_over_the_limit_is_refused_before_it_is_read() -> None:
    a, b = socket.socketpair()
    with a, b:
        a.sendall(struct.pack("!QI", 1 << 40, 8))
        with pytest.raises(WireError, match="over the limit"):
            recv_frame(b)


def test_a_meta_tensor_crosses_as_its_shape_and_dtype() -> None:
    out = roundtrip(torch.empty(3, 4, dtype=torch.bfloat16, device="meta"))
    assert out.device.type == "meta" and out.shape == (3, 4) and out.dtype == torch.bfloat16
