"""reference.quant against torch.ao's MinMax observers, torch.quantize_per_channel and
exact integer arithmetic.

torch's quantizer multiplies by the reciprocal of the scale where we divide, so on an
exact tie (w / scale = k + 0.5 in float32) the two may round to neighbours; elsewhere
they must agree exactly.
"""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor
from torch.ao.quantization.observer import PerChannelMinMaxObserver

from reference.quant import (
    dequantize,
    pack_int4,
    quant_matmul,
    quantize,
    sqnr_db,
    unpack_int4,
)

SETTINGS = settings(derandomize=True, database=None, deadline=None, max_examples=60)


def weights(rows: int, cols: int, seed: int) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(rows, cols, generator=g)


def observer_qparams(w: Tensor, symmetric: bool) -> tuple[Tensor, Tensor]:
    if symmetric:
        obs = PerChannelMinMaxObserver(
            ch_axis=0,
            dtype=torch.qint8,
            qscheme=torch.per_channel_symmetric,
            quant_min=-127,
            quant_max=127,
        )
    else:
        obs = PerChannelMinMaxObserver(
            ch_axis=0, dtype=torch.quint8, qscheme=torch.per_channel_affine
        )
    obs(w)
    scale, zero_point = obs.calculate_qparams()
    return scale, zero_point


def torch_quantize(w: Tensor, scale: Tensor, zero_point: Tensor, symmetric: bool) -> Tensor:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # quantized tensors are deprecated, still the peer
        dtype = torch.qint8 if symmetric else torch.quint8
        qt = torch.quantize_per_channel(w, scale.double(), zero_point.long(), 0, dtype)
        return qt.int_repr()


def near_tie(w: Tensor, scale: Tensor) -> Tensor:
    frac = (w / scale[:, None]).abs().frac()
    return (frac - 0.5).abs() < 1e-4


@pytest.mark.parametrize("symmetric", [True, False])
def test_per_channel_int8_scale_and_zero_point_match_torch_ao(symmetric: bool) -> None:
    w = weights(16, 96, seed=1) * torch.linspace(0.1, 10, 16)[:, None]
    _, scale, zero_point = quantize(w, 8, symmetric)
    ref_scale, ref_zp = observer_qparams(w, symmetric)
    torch.testing.assert_close(scale[:, 0], ref_scale, rtol=1e-6, atol=0)
    assert torch.equal(zero_point[:, 0].long(), ref_zp.long())


@pytest.mark.parametrize("symmetric", [True, False])
def test_per_channel_int8_values_match_quantize_per_channel(symmetric: bool) -> None:
    w = weights(32, 257, seed=2)
    w[3, 7] = 40.0  # an outlier: only row 3's scale may change
    q, scale, zero_point = quantize(w, 8, symmetric)
    peer = torch_quantize(w, scale[:, 0], zero_point[:, 0], symmetric)
    diff = (q.long() - peer.long()).abs()
    assert int(diff.max()) <= 1
    assert not (diff.bool() & ~near_tie(w, scale[:, 0])).any()


def test_rounding_is_half_to_even_and_the_restricted_range() -> None:
    w = torch.tensor([[0.5, 1.5, 2.5, -0.5, -2.5, 127.0, -127.0]])
    q, scale, _ = quantize(w)
    assert scale.item() == 1.0
    assert q.tolist() == [[0, 2, 2, 0, -2, 127, -127]]


def test_all_zero_rows_get_scale_one_and_dequantize_to_zero() -> None:
    w = weights(3, 8, seed=3)
    w[1] = 0.0
    for symmetric in (True, False):
        for bits in (4, 8):
            q, scale, zp = quantize(w, bits, symmetric, group_size=4)
            assert scale[1].tolist() == [1.0, 1.0]
            assert torch.equal(dequantize(q, scale, zp, 4)[1], torch.zeros(8))


def test_asymmetric_range_includes_zero() -> None:
    # All positive: lo is 0, so the zero point is 0 and 0.0 stays exact.
    q, scale, zp = quantize(torch.tensor([[2.0, 4.0, 5.1]]), 8, symmetric=False)
    assert zp.item() == 0
    assert scale.item() == pytest.approx(5.1 / 255)
    assert q.dtype == torch.uint8 and int(q[0, 2]) == 255


def test_short_last_group_has_its_own_scale() -> None:
    # Scales 1 and 2 are exact, so 3.5 is a true tie (rounds to even 4).
    w = torch.tensor([[3.5, -7.0, 14.0, 2.5, 0.25]])
    q, scale, _ = quantize(w, 4, True, group_size=2)
    assert scale.shape == (1, 3)
    torch.testing.assert_close(scale, torch.tensor([[1.0, 2.0, 0.25 / 7]]))
    assert q.tolist() == [[4, -7, 7, 1, 7]]


@SETTINGS
@given(
    st.integers(1, 6),
    st.integers(1, 40),
    st.sampled_from([None, 1, 3, 8, 32]),
    st.sampled_from([4, 8]),
    st.booleans(),
    st.integers(0, 2**31 - 1),
)
def test_round_trip_error_is_within_half_a_step(
    rows: int, cols: int, group: int | None, bits: int, symmetric: bool, seed: int
) -> None:
    w = weights(rows, cols, seed) * 3
    q, scale, zp = quantize(w, bits, symmetric, group)
    w_hat = dequantize(q, scale, zp, group)
    size = cols if group is None else group
    step = scale.repeat_interleave(size, dim=1)[:, :cols]
    # Half a step, or one step where the asymmetric top edge is clamped after a tie.
    bound = step * (0.5 if symmetric else 1.0) * (1 + 1e-5) + 1e-7
    assert ((w - w_hat).abs() <= bound).all()


@SETTINGS
@given(st.integers(0, 5), st.integers(0, 12), st.booleans(), st.integers(0, 2**31 - 1))
def test_pack_unpack_is_the_identity(rows: int, half: int, signed: bool, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    if signed:
        q = torch.randint(-8, 8, (rows, 2 * half), generator=g).to(torch.int8)
    else:
        q = torch.randint(0, 16, (rows, 2 * half), generator=g).to(torch.uint8)
    packed = pack_int4(q)
    assert packed.dtype == torch.uint8 and packed.shape == (rows, half)
    assert torch.equal(unpack_int4(packed, signed), q)


def test_packing_against_integer_arithmetic() -> None:
    q = torch.tensor([[1, 2, -1, -8, 7, 0]], dtype=torch.int8)
    expected = [v0 % 16 + 16 * (v1 % 16) for v0, v1 in [(1, 2), (-1, -8), (7, 0)]]
    assert pack_int4(q).tolist() == [expected] == [[0x21, 0x8F, 0x07]]


def test_pack_rejects_odd_lengths_and_out_of_range_values() -> None:
    with pytest.raises(ValueError):
        pack_int4(torch.zeros(2, 3, dtype=torch.int8))
    with pytest.raises(ValueError):
        pack_int4(torch.tensor([[8, 0]], dtype=torch.int8))
    with pytest.raises(ValueError):
        pack_int4(torch.tensor([[16, 0]], dtype=torch.uint8))


@pytest.mark.parametrize(("symmetric", "group"), [(True, None), (False, 32), (True, 48)])
def test_quant_matmul_equals_the_float_matmul_of_the_dequantized_weight(
    symmetric: bool, group: int | None
) -> None:
    w = weights(600, 100, seed=4)  # more rows than one block, a short last group at 48
    x = weights(5, 100, seed=5)
    q, scale, zp = quantize(w, 8, symmetric, group)
    expected = x.double() @ dequantize(q, scale, zp, group).double().T
    got = quant_matmul(x, q, scale, zp, group).double()
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


def test_sqnr_matches_a_float64_sum_and_its_edges() -> None:
    w = weights(8, 64, seed=6)
    noise = weights(8, 64, seed=7) * 0.01
    signal = sum(float(v) ** 2 for v in w.double().flatten())
    err = sum(float(v) ** 2 for v in noise.double().flatten())
    assert sqnr_db(w, w + noise) == pytest.approx(10 * math.log10(signal / err), rel=1e-6)
    assert sqnr_db(w, w) == math.inf
    assert sqnr_db(torch.zeros(3), torch.zeros(3)) == math.inf
    assert sqnr_db(torch.zeros(3), torch.ones(3)) == -math.inf


def test_sqnr_of_gaussian_weights_is_near_the_textbook_figure() -> None:
    w = weights(256, 4096, seed=8)
    q, scale, zp = quantize(w, 8, True)
    assert 39.0 < sqnr_db(w, dequantize(q, scale, zp)) < 43.0
    q, scale, zp = quantize(w, 4, True, 128)
    assert 18.5 < sqnr_db(w, dequantize(q, scale, zp, 128)) < 21.5


def test_invalid_arguments_raise() -> None:
    w = weights(2, 8, seed=9)
    for kwargs in ({"bits": 3}, {"group_size": 0}):
        with pytest.raises(ValueError):
            quantize(w, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        quantize(w[0])
