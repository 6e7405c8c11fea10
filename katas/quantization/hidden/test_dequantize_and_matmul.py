"""dequantize, quant_matmul and sqnr_db: zero points, groups, blocks, error bounds."""

from __future__ import annotations

import math

import pytest
import solution as sol
import torch
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from oracle import gaussian, slow_dequantize, slow_quantize

NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)


def test_dequantize_asymmetric_worked_example() -> None:
    q = torch.tensor([[0, 1, 3, 15]], dtype=torch.uint8)
    w_hat = sol.dequantize(q, torch.tensor([[0.5]]), torch.tensor([[1]], dtype=torch.int32))
    assert w_hat.dtype == torch.float32, f"dequantize returns float32, got {w_hat.dtype}"
    assert w_hat.tolist() == [[-0.5, 0.0, 1.0, 7.0]], (
        f"(q - zero_point) * scale = [-0.5, 0, 1, 7], got {w_hat.tolist()}"
    )


def test_dequantize_uses_each_groups_own_parameters() -> None:
    q = torch.tensor([[0, 255, 10, 20, 7]], dtype=torch.uint8)
    scale = torch.tensor([[0.5, 2.0, 0.25]])
    zp = torch.tensor([[5, 10, 200]], dtype=torch.int32)
    expected = [[-2.5, 125.0, 0.0, 20.0, -48.25]]
    got = sol.dequantize(q, scale, zp, 2).tolist()
    assert got == expected, f"groups of 2 (last one short): expected {expected}, got {got}"


@settings(max_examples=40, phases=NO_SHRINK)
@given(
    st.integers(1, 5),
    st.integers(1, 40),
    st.sampled_from([None, 1, 3, 8, 32]),
    st.sampled_from([4, 8]),
    st.booleans(),
    st.integers(0, 10_000),
)
def test_round_trip_error_stays_within_the_stated_bound(
    rows: int, cols: int, group: int | None, bits: int, symmetric: bool, seed: int
) -> None:
    w = gaussian(rows, cols, seed, std=3.0) + (1.0 if seed % 2 else 0.0)
    q, scale, zp = sol.quantize(w, bits, symmetric, group)
    w_hat = sol.dequantize(q, scale, zp, group)
    eq, es, ez = slow_quantize(w, bits, symmetric, group)
    expected = slow_dequantize(eq, es, ez, group)
    assert torch.allclose(w_hat.double(), expected, rtol=1e-6, atol=1e-7), (
        "dequantize(quantize(w)) differs from the oracle's (q - zero_point) * scale"
    )
    size = cols if group is None else group
    step = es.repeat_interleave(size, dim=1)[:, :cols].double()
    bound = step * (0.5 if symmetric else 1.0) * (1 + 1e-5) + 1e-7
    worst = float(((w.double() - w_hat.double()).abs() / step).max())
    assert ((w.double() - w_hat.double()).abs() <= bound).all(), (
        f"round-trip error reached {worst:.3f} steps; the prompt bounds it by "
        f"{'0.5' if symmetric else '1'} step"
    )


@pytest.mark.parametrize(
    ("rows", "cols", "bits", "symmetric", "group"),
    [
        (600, 96, 8, True, None),  # more rows than a block of 256
        (513, 100, 8, False, 32),  # a short last group, a one-row last block
        (40, 64, 4, True, 16),
        (7, 33, 4, False, 5),
    ],
)
def test_quant_matmul_equals_x_times_the_dequantized_weight(
    rows: int, cols: int, bits: int, symmetric: bool, group: int | None
) -> None:
    w = gaussian(rows, cols, seed=rows)
    x = gaussian(5, cols, seed=cols)
    q, scale, zp = slow_quantize(w, bits, symmetric, group)
    qt = q.to(torch.int8 if symmetric else torch.uint8)
    expected = x.double() @ slow_dequantize(q, scale, zp, group).T
    out = sol.quant_matmul(x, qt, scale, zp.to(torch.int32), group)
    assert out.dtype == torch.float32, f"quant_matmul returns float32, got {out.dtype}"
    assert tuple(out.shape) == (5, rows), f"expected [5, {rows}], got {tuple(out.shape)}"
    err = float((out.double() - expected).abs().max())
    assert err < 1e-3, f"x @ dequantized weight.T: largest difference {err:.2e} (allowed 1e-3)"


def test_quant_matmul_keeps_leading_dimensions_of_x() -> None:
    w = gaussian(300, 24, seed=11)
    x = gaussian(6, 24, seed=12).reshape(2, 3, 24)
    q, scale, zp = slow_quantize(w, 8, False, 8)
    expected = x.double() @ slow_dequantize(q, scale, zp, 8).T
    out = sol.quant_matmul(x, q.to(torch.uint8), scale, zp.to(torch.int32), 8)
    assert tuple(out.shape) == (2, 3, 300), (
        f"x [2, 3, 24] gives [2, 3, 300], got {tuple(out.shape)}"
    )
    assert float((out.double() - expected).abs().max()) < 1e-3


def test_sqnr_worked_example() -> None:
    got = sol.sqnr_db(torch.tensor([3.0, 4.0]), torch.tensor([3.0, 3.0]))
    assert math.isclose(got, 10 * math.log10(25.0), rel_tol=1e-9), (
        f"10 log10(25 / 1) = 13.979 dB, got {got}"
    )


def test_sqnr_matches_a_float64_sum() -> None:
    w = gaussian(16, 64, seed=13)
    w_hat = w + gaussian(16, 64, seed=14) * 0.003
    signal = sum(v * v for v in w.double().flatten().tolist())
    noise = sum(v * v for v in (w.double() - w_hat.double()).flatten().tolist())
    got = sol.sqnr_db(w, w_hat)
    assert math.isclose(got, 10 * math.log10(signal / noise), rel_tol=1e-6), (
        f"expected {10 * math.log10(signal / noise):.4f} dB, got {got}"
    )


def test_sqnr_edges_are_infinite() -> None:
    w = gaussian(2, 4, seed=15)
    assert sol.sqnr_db(w, w.clone()) == math.inf, "no error is +inf dB"
    assert sol.sqnr_db(torch.zeros(2, 4), torch.zeros(2, 4)) == math.inf, "0 vs 0 is +inf dB"
    got = sol.sqnr_db(torch.zeros(2, 4), torch.ones(2, 4))
    assert got == -math.inf, f"error on a zero signal is -inf dB, got {got}"


def test_sqnr_of_gaussian_weights_meets_the_stated_bounds() -> None:
    w = gaussian(256, 4096, seed=16)
    q, scale, zp = sol.quantize(w, 8, True)
    int8 = sol.sqnr_db(w, sol.dequantize(q, scale, zp))
    assert 39.5 <= int8 <= 43.0, f"int8 per-channel on N(0, 1): about 41 dB, got {int8:.2f}"
    q, scale, zp = sol.quantize(w, 4, True, 128)
    int4 = sol.sqnr_db(w, sol.dequantize(q, scale, zp, 128))
    assert 17.5 <= int4 <= 19.5, f"int4 groups of 128 on N(0, 1): about 18.6 dB, got {int4:.2f}"
