"""quantize: ranges, rounding, zero points, zero rows, groups, outliers; peers and oracle."""

from __future__ import annotations

import warnings

import pytest
import solution as sol
import torch
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from oracle import first_difference, gaussian, slow_quantize
from torch import Tensor
from torch.ao.quantization.observer import PerChannelMinMaxObserver

NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)


def check_q(
    out: tuple[Tensor, Tensor, Tensor],
    w: Tensor,
    bits: int,
    symmetric: bool,
    group_size: int | None,
) -> None:
    """The whole result against the slow oracle: dtypes, shapes, every value."""
    what = f"quantize(bits={bits}, symmetric={symmetric}, group_size={group_size})"
    q, scale, zp = out
    eq, es, ez = slow_quantize(w, bits, symmetric, group_size)
    want = torch.int8 if symmetric else torch.uint8
    assert q.dtype == want, f"{what}: q must be {want}, got {q.dtype}"
    assert scale.dtype == torch.float32, f"{what}: scale must be float32, got {scale.dtype}"
    assert zp.dtype == torch.int32, f"{what}: zero_point must be int32, got {zp.dtype}"
    assert tuple(scale.shape) == tuple(es.shape), (
        f"{what}: scale must be [rows, n_groups] = {tuple(es.shape)}, got {tuple(scale.shape)}"
    )
    assert torch.allclose(scale, es, rtol=1e-6, atol=0), (
        f"{what}: scales differ; expected {es.flatten()[:8].tolist()}, got "
        f"{scale.flatten()[:8].tolist()}"
    )
    assert torch.equal(zp.long(), ez), first_difference(zp, ez, f"{what} zero_point")
    assert torch.equal(q.long(), eq), first_difference(q, eq, f"{what} q")


# Symmetric -------------------------------------------------------------------------


def test_symmetric_int8_worked_example_with_a_zero_row() -> None:
    w = torch.tensor([[0.5, -1.0, 2.0, -4.0], [0.0, 0.0, 0.0, 0.0]])
    q, scale, zp = sol.quantize(w)
    assert q.tolist() == [[16, -32, 64, -127], [0, 0, 0, 0]], f"got q={q.tolist()}"
    assert scale[1].tolist() == [1.0], f"an all-zero row's scale must be 1.0, got {scale[1]}"
    assert zp.tolist() == [[0], [0]], f"symmetric zero points are 0, got {zp.tolist()}"


def test_rounding_is_half_to_even() -> None:
    # Scale 1 exactly: every x.5 is a true tie.
    w = torch.tensor([[0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, 127.0]])
    q, _, _ = sol.quantize(w)
    expected = [[0, 2, 2, 4, 0, -2, -2, 127]]
    assert q.tolist() == expected, f"round half to even gives {expected}, got {q.tolist()}"


def test_symmetric_range_is_restricted_to_plus_minus_127_and_7() -> None:
    w = gaussian(16, 64, seed=1)
    for bits, top in ((8, 127), (4, 7)):
        q, _, _ = sol.quantize(w, bits)
        assert int(q.min()) >= -top and int(q.max()) <= top, (
            f"bits={bits} symmetric: q must be in [-{top}, {top}], got "
            f"[{int(q.min())}, {int(q.max())}]"
        )
        biggest = q.long().abs().amax(dim=1)
        assert (biggest == top).all(), (
            f"bits={bits}: each row's largest |w| must map to ±{top}; got maxima {biggest.tolist()}"
        )


def test_symmetric_int8_matches_torch_ao_and_quantize_per_channel() -> None:
    w = gaussian(24, 200, seed=2) * torch.linspace(0.05, 5, 24)[:, None]
    q, scale, zp = sol.quantize(w, 8, True)
    obs = PerChannelMinMaxObserver(
        ch_axis=0,
        dtype=torch.qint8,
        qscheme=torch.per_channel_symmetric,
        quant_min=-127,
        quant_max=127,
    )
    obs(w)
    ref_scale, _ = obs.calculate_qparams()
    assert torch.allclose(scale[:, 0], ref_scale, rtol=1e-6, atol=0), (
        "scale must be max|w| / 127 per row (torch.ao's symmetric observer with [-127, 127])"
    )
    check_q((q, scale, zp), w, 8, True, None)


def test_asymmetric_int8_matches_torch_ao_and_quantize_per_channel() -> None:
    w = gaussian(24, 200, seed=3) + torch.linspace(-2, 2, 24)[:, None]
    q, scale, zp = sol.quantize(w, 8, False)
    obs = PerChannelMinMaxObserver(ch_axis=0, dtype=torch.quint8, qscheme=torch.per_channel_affine)
    obs(w)
    ref_scale, ref_zp = obs.calculate_qparams()
    assert torch.allclose(scale[:, 0], ref_scale, rtol=1e-6, atol=0), (
        "scale must be (max(w, 0) - min(w, 0)) / 255 per row (torch.ao's affine observer)"
    )
    assert zp[:, 0].tolist() == ref_zp.tolist(), (
        f"zero points differ from torch.ao's: expected {ref_zp.tolist()}, got {zp[:, 0].tolist()}"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = torch.quantize_per_channel(w, scale[:, 0].double(), zp[:, 0].long(), 0, torch.quint8)
    # torch multiplies by 1/scale where the prompt divides: they may differ on exact ties only.
    ratio = (w / scale).abs().frac()
    diff = q.long() != peer.int_repr().long()
    assert not (diff & ((ratio - 0.5).abs() > 1e-4)).any(), (
        "q differs from torch.quantize_per_channel away from rounding ties"
    )


# Asymmetric ------------------------------------------------------------------------


def test_asymmetric_int4_worked_example() -> None:
    w = torch.tensor([[-0.5, 0.0, 1.25, 7.0]])
    q, scale, zp = sol.quantize(w, bits=4, symmetric=False)
    assert q.dtype == torch.uint8, f"asymmetric q must be uint8, got {q.dtype}"
    assert scale.tolist() == [[0.5]], f"scale (7 - (-0.5)) / 15 = 0.5, got {scale.tolist()}"
    assert zp.tolist() == [[1]], f"zero_point round(0.5 / 0.5) = 1, got {zp.tolist()}"
    assert q.tolist() == [[0, 1, 3, 15]], f"expected [[0, 1, 3, 15]], got {q.tolist()}"


def test_all_positive_row_has_zero_point_zero() -> None:
    w = torch.tensor([[2.0, 4.0, 5.1, 3.0]])
    q, scale, zp = sol.quantize(w, 8, False)
    assert zp.tolist() == [[0]], f"the range [0, 5.1] puts the zero point at 0, got {zp.tolist()}"
    assert int(q[0, 2]) == 255, f"the row's maximum must map to 255, got {int(q[0, 2])}"
    check_q((q, scale, zp), w, 8, False, None)


def test_all_negative_row_has_zero_point_at_the_top() -> None:
    w = torch.tensor([[-2.0, -4.0, -5.1, -3.0]])
    q, _, zp = sol.quantize(w, 8, False)
    assert zp.tolist() == [[255]], (
        f"the range [-5.1, 0] puts the zero point at 255, got {zp.tolist()}"
    )
    assert int(q[0, 2]) == 0, f"the row's minimum must map to 0, got {int(q[0, 2])}"


def test_asymmetric_zero_point_is_rounded_not_truncated() -> None:
    # Row 0: scale 4 / 255, -lo / scale = 63.75, which rounds to 64 (a cast truncates to 63).
    w = torch.tensor([[-1.0, 0.0, 2.0, 3.0], [-1.0, 0.5, 1.55, 0.0]])
    out = sol.quantize(w, 8, False)
    check_q(out, w, 8, False, None)
    assert out[2][0].tolist() == [64], f"round(1 / (4 / 255)) = round(63.75) = 64, got {out[2][0]}"


# Zero rows, groups, outliers -------------------------------------------------------


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("bits", [4, 8])
def test_all_zero_row_and_group_get_scale_one_and_no_nan(bits: int, symmetric: bool) -> None:
    w = gaussian(3, 12, seed=4)
    w[1] = 0.0
    w[2, 4:8] = 0.0  # a zero group inside a non-zero row
    q, scale, zp = sol.quantize(w, bits, symmetric, group_size=4)
    assert scale[1].tolist() == [1.0, 1.0, 1.0] and float(scale[2, 1]) == 1.0, (
        f"all-zero groups must get scale 1.0, got {scale.tolist()}"
    )
    assert torch.isfinite(scale).all(), "scales must be finite"
    check_q((q, scale, zp), w, bits, symmetric, 4)


def test_groups_of_three_over_seven_columns_worked_example() -> None:
    w = torch.tensor([[1.0, 2.0, 3.0, -7.0, 0.5, 0.25, 0.1]])
    q, scale, _ = sol.quantize(w, bits=4, group_size=3)
    assert tuple(scale.shape) == (1, 3), (
        f"ceil(7 / 3) = 3 groups, got scale shape {tuple(scale.shape)}"
    )
    assert q.tolist() == [[2, 5, 7, -7, 0, 0, 7]], f"got {q.tolist()}"
    assert torch.allclose(scale, torch.tensor([[3 / 7, 1.0, 0.1 / 7]])), f"got {scale.tolist()}"


@pytest.mark.parametrize("symmetric", [True, False])
def test_short_last_group_uses_only_its_own_elements(symmetric: bool) -> None:
    w = gaussian(4, 10, seed=5)
    w[:, 8:] *= 0.01  # the short last group (columns 8, 9) is tiny
    check_q(sol.quantize(w, 8, symmetric, 4), w, 8, symmetric, 4)


def test_group_size_at_least_the_row_length_is_per_channel() -> None:
    w = gaussian(5, 16, seed=6)
    per_channel = sol.quantize(w, 4, True, None)
    for size in (16, 40):
        grouped = sol.quantize(w, 4, True, size)
        for a, b, name in zip(per_channel, grouped, ("q", "scale", "zero_point"), strict=True):
            assert torch.equal(a, b), (
                f"group_size={size} >= 16 columns: {name} must equal per-channel"
            )


def test_an_outlier_changes_only_its_own_row() -> None:
    w = gaussian(6, 64, seed=7)
    spiked = w.clone()
    spiked[2, 10] = 100.0
    q0, s0, _ = sol.quantize(w)
    q1, s1, _ = sol.quantize(spiked)
    others = [0, 1, 3, 4, 5]
    assert torch.equal(q0[others], q1[others]) and torch.equal(s0[others], s1[others]), (
        "an outlier in row 2 changed other rows: the scale must be per row"
    )
    assert int(q1[2, 10]) == 127 and int(q1[2].abs().lt(3).sum()) > 50, (
        "in the outlier's row the outlier maps to 127 and the rest crowd near 0"
    )


def test_an_outlier_changes_only_its_own_group() -> None:
    w = gaussian(2, 64, seed=8)
    spiked = w.clone()
    spiked[1, 40] = -50.0
    q0, s0, _ = sol.quantize(w, 4, False, 16)
    q1, s1, _ = sol.quantize(spiked, 4, False, 16)
    changed = (s0 != s1).nonzero().tolist()
    assert changed == [[1, 2]], f"only group 2 of row 1 may change its scale; changed: {changed}"
    keep = torch.ones(2, 64, dtype=torch.bool)
    keep[1, 32:48] = False
    assert torch.equal(q0[keep], q1[keep]), "values outside the outlier's group changed"
    check_q(sol.quantize(spiked, 4, False, 16), spiked, 4, False, 16)


@settings(max_examples=40, phases=NO_SHRINK)
@given(
    st.integers(1, 5),
    st.integers(1, 33),
    st.sampled_from([None, 1, 2, 5, 8, 16]),
    st.sampled_from([4, 8]),
    st.booleans(),
    st.integers(0, 10_000),
    st.sampled_from([0.01, 1.0, 30.0]),
)
def test_quantize_matches_the_oracle(
    rows: int, cols: int, group: int | None, bits: int, symmetric: bool, seed: int, std: float
) -> None:
    w = gaussian(rows, cols, seed, std) + (0.5 * std if seed % 3 == 0 else 0.0)
    check_q(sol.quantize(w, bits, symmetric, group), w, bits, symmetric, group)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_weights_quantize_like_their_float32_upcast(dtype: torch.dtype) -> None:
    w = gaussian(4, 32, seed=9).to(dtype)
    check_q(sol.quantize(w, 8, False, 8), w.float(), 8, False, 8)


def test_the_weight_is_not_modified() -> None:
    w = gaussian(3, 20, seed=10)
    before = w.clone()
    sol.quantize(w, 4, False, 8)
    assert torch.equal(w, before), "quantize modified its input"


@pytest.mark.parametrize(
    ("args", "why"),
    [
        ((gaussian(2, 8, 0), 3, True, None), "bits=3"),
        ((gaussian(2, 8, 0), 8, True, 0), "group_size=0"),
        ((gaussian(1, 8, 0)[0], 8, True, None), "a 1-D weight"),
        ((torch.zeros(2, 0), 8, True, None), "a weight with no columns"),
    ],
)
def test_invalid_arguments_raise_value_error(args: tuple[object, ...], why: str) -> None:
    with pytest.raises(ValueError):
        sol.quantize(*args)
        pytest.fail(f"{why} must raise ValueError")
