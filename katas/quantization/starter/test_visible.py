"""A few examples from the prompt. Run with `drill test` (or pytest)."""

from __future__ import annotations

import math

import solution as sol
import torch


def test_symmetric_int8_per_channel_with_a_zero_row() -> None:
    w = torch.tensor([[0.5, -1.0, 2.0, -4.0], [0.0, 0.0, 0.0, 0.0]])
    q, scale, zero_point = sol.quantize(w)
    assert q.dtype == torch.int8
    assert q.tolist() == [[16, -32, 64, -127], [0, 0, 0, 0]]
    torch.testing.assert_close(scale, torch.tensor([[4.0 / 127], [1.0]]))
    assert zero_point.dtype == torch.int32 and zero_point.tolist() == [[0], [0]]


def test_round_half_to_even() -> None:
    w = torch.tensor([[0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 127.0]])
    q, _, _ = sol.quantize(w)
    assert q.tolist() == [[0, 2, 2, 0, -2, -2, 127]]


def test_asymmetric_int4() -> None:
    w = torch.tensor([[-0.5, 0.0, 1.25, 7.0]])
    q, scale, zero_point = sol.quantize(w, bits=4, symmetric=False)
    assert q.dtype == torch.uint8 and q.tolist() == [[0, 1, 3, 15]]
    assert scale.tolist() == [[0.5]] and zero_point.tolist() == [[1]]
    w_hat = sol.dequantize(q, scale, zero_point)
    assert w_hat.tolist() == [[-0.5, 0.0, 1.0, 7.0]]


def test_groups_of_three_over_seven_columns() -> None:
    w = torch.tensor([[1.0, 2.0, 3.0, -7.0, 0.5, 0.25, 0.1]])
    q, scale, _ = sol.quantize(w, bits=4, group_size=3)
    assert q.tolist() == [[2, 5, 7, -7, 0, 0, 7]]
    torch.testing.assert_close(scale, torch.tensor([[3 / 7, 1.0, 0.1 / 7]]))


def test_packing_puts_the_even_element_in_the_low_nibble() -> None:
    q = torch.tensor([[1, -2, -8, 7]], dtype=torch.int8)
    packed = sol.pack_int4(q)
    assert packed.dtype == torch.uint8 and packed.tolist() == [[0xE1, 0x78]]
    assert torch.equal(sol.unpack_int4(packed, signed=True), q)


def test_sqnr() -> None:
    w = torch.tensor([3.0, 4.0])
    assert math.isclose(sol.sqnr_db(w, torch.tensor([3.0, 3.0])), 10 * math.log10(25.0))
    assert sol.sqnr_db(w, w) == math.inf


def test_quant_matmul_matches_the_dequantized_weight() -> None:
    g = torch.Generator().manual_seed(0)
    w = torch.randn(300, 64, generator=g)
    x = torch.randn(3, 64, generator=g)
    q, scale, zero_point = sol.quantize(w, group_size=32)
    expected = x @ sol.dequantize(q, scale, zero_point, 32).T
    torch.testing.assert_close(sol.quant_matmul(x, q, scale, zero_point, 32), expected)
