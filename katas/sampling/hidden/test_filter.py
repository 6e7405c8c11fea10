"""filter_logits, rule by rule, on hand-worked rows."""

from __future__ import annotations

import math

import pytest
import solution as sol
import torch
from oracle import check_filtered, kept
from torch import Tensor

INF = float("inf")


def randn(*shape: int, seed: int) -> Tensor:
    """Seeded normal logits: the same inputs on every run, so the same grade."""
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def row(*values: float) -> Tensor:
    return torch.tensor([values], dtype=torch.float32)


def from_probs(*probs: float) -> Tensor:
    """Logits whose softmax is `probs` (log in float64, then float32)."""
    return torch.tensor([probs], dtype=torch.float64).log().float()


def kept_by(x: Tensor, **params: float) -> list[int]:
    return kept(sol.filter_logits(x, **params)[0])  # type: ignore[arg-type]


# -- output contract ---------------------------------------------------------------


def test_result_is_a_new_float32_tensor_of_the_same_shape() -> None:
    x = randn(3, 7, seed=1)
    out = sol.filter_logits(x, temperature=0.7, top_k=3, top_p=0.9, min_p=0.05)
    check_filtered(out, x, 0.7, 3, 0.9, 0.05)
    assert out.data_ptr() != x.data_ptr(), "filter_logits must return a new tensor, not its input"


def test_no_filter_at_temperature_one_returns_the_logits_unchanged() -> None:
    x = randn(2, 50, seed=2)
    out = sol.filter_logits(x)
    assert torch.equal(out, x), "with every filter off and temperature 1, nothing may change"


def test_temperature_divides_every_logit() -> None:
    x = row(1.0, -2.0, 0.5, 3.0)
    out = sol.filter_logits(x, temperature=0.5)
    assert torch.allclose(out, x / 0.5), f"temperature 0.5 must double the logits, got {out}"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("temperature", -0.5),
        ("top_k", -1),
        ("top_p", 1.5),
        ("top_p", -0.1),
        ("min_p", 1.2),
        ("min_p", -0.2),
    ],
)
def test_out_of_range_parameter_raises_value_error(name: str, value: float) -> None:
    with pytest.raises(ValueError):
        sol.filter_logits(randn(2, 5, seed=3), **{name: value})  # type: ignore[arg-type]


# -- top-k ----------------------------------------------------------------------------


def test_top_k_keeps_the_k_largest() -> None:
    got = kept_by(row(0.1, 2.0, -1.0, 1.5, 0.3), top_k=2)
    assert got == [1, 3], (
        f"top_k=2 on [0.1, 2.0, -1.0, 1.5, 0.3] must keep tokens [1, 3], got {got}"
    )


def test_top_k_keeps_every_tie_of_the_kth_logit() -> None:
    got = kept_by(row(3.0, 1.0, 2.0, 1.0, 1.0, 0.0), top_k=3)
    assert got == [0, 1, 2, 3, 4], (
        f"top_k=3 on [3, 1, 2, 1, 1, 0]: the 3rd largest is 1.0, and all three 1.0s tie "
        f"with it, so tokens [0, 1, 2, 3, 4] survive; got {got}"
    )


@pytest.mark.parametrize("k", [0, 6, 7, 100])
def test_top_k_zero_or_at_least_vocab_keeps_everything(k: int) -> None:
    got = kept_by(row(0.5, -1.0, 2.0, 0.0, 1.0, -3.0), top_k=k)
    assert got == list(range(6)), f"top_k={k} on a vocabulary of 6 must be off, got kept {got}"


# -- top-p ----------------------------------------------------------------------------


def test_top_p_drops_the_token_whose_preceding_mass_equals_p() -> None:
    got = kept_by(from_probs(0.5, 0.3, 0.2), top_p=0.5)
    assert got == [0], (
        f"probabilities [0.5, 0.3, 0.2] with top_p=0.5: the mass before token 1 is 0.5, "
        f"which is not < 0.5, so only token 0 survives; got {got}"
    )


@pytest.mark.parametrize(("p", "want"), [(0.5, [0]), (0.75, [0, 1]), (0.74, [0, 1])])
def test_top_p_boundary_on_exact_probabilities(p: float, want: list[int]) -> None:
    got = kept_by(from_probs(0.5, 0.25, 0.125, 0.125), top_p=p)
    assert got == want, (
        f"probabilities [0.5, 0.25, 0.125, 0.125] with top_p={p}: a token survives iff the "
        f"mass before it is < {p}; expected {want}, got {got}"
    )


def test_top_p_keeps_the_token_that_crosses_p() -> None:
    got = kept_by(from_probs(0.5, 0.3, 0.2), top_p=0.55)
    assert got == [0, 1], (
        f"probabilities [0.5, 0.3, 0.2] with top_p=0.55: token 1 brings the mass from 0.5 "
        f"to 0.8, crossing 0.55, and must survive; got {got}"
    )


def test_top_p_keeps_ties_of_the_last_token_kept() -> None:
    got = kept_by(from_probs(0.5, 0.25, 0.125, 0.125), top_p=0.76)
    assert got == [0, 1, 2, 3], (
        f"probabilities [0.5, 0.25, 0.125, 0.125] with top_p=0.76: token 2 crosses p and "
        f"token 3 ties with it, so all four survive; got {got}"
    )


def test_top_p_never_splits_all_equal_logits() -> None:
    got = kept_by(torch.zeros(1, 8), top_p=0.3)
    assert got == list(range(8)), (
        f"8 equal logits with top_p=0.3 are all tied: all survive, got {got}"
    )


def test_top_p_one_keeps_everything() -> None:
    # In float32 the first token's probability rounds to 1.0: a mass-based rule would
    # drop the others, but top_p=1.0 is off.
    got = kept_by(row(0.0, -30.0, -60.0, -90.0), top_p=1.0)
    assert got == [0, 1, 2, 3], (
        f"top_p=1.0 must be off, yet it removed {sorted(set(range(4)) - set(got))} "
        f"(tokens of tiny probability survive too)"
    )


def test_top_p_zero_keeps_only_the_most_probable() -> None:
    got = kept_by(row(1.0, 3.0, 2.0), top_p=0.0)
    assert got == [1], f"top_p=0: the most probable token always survives, alone; got {got}"


def test_top_p_renormalises_over_the_top_k_survivors() -> None:
    # Over all four tokens the probabilities are [0.4, 0.3, 0.2, 0.1]; over the top 2
    # they are [4/7, 3/7], so top_p=0.5 keeps token 0 only. Without renormalising, the
    # mass before token 1 would be 0.4 < 0.5 and token 1 would survive.
    got = kept_by(from_probs(0.4, 0.3, 0.2, 0.1), top_k=2, top_p=0.5)
    assert got == [0], (
        f"top_k=2 then top_p=0.5 on probabilities [0.4, 0.3, 0.2, 0.1]: over the top-k "
        f"survivors they are [0.571, 0.429], so only token 0 survives; got {got}"
    )


def test_temperature_is_applied_before_top_p() -> None:
    # At temperature 1 the probabilities are [0.5, 0.3, 0.2] and top_p=0.6 keeps two
    # tokens; at temperature 0.25 they are [0.87, 0.11, 0.02] and token 0 alone crosses 0.6.
    x = from_probs(0.5, 0.3, 0.2)
    got = kept_by(x, temperature=0.25, top_p=0.6)
    assert got == [0], (
        f"temperature 0.25 sharpens [0.5, 0.3, 0.2] to [0.87, 0.11, 0.02] before top_p=0.6: "
        f"only token 0 survives; got {got}"
    )


# -- min-p ----------------------------------------------------------------------------


def test_min_p_is_relative_to_the_most_probable_token() -> None:
    # probabilities [0.6, 0.25, 0.1, 0.05]; min_p=0.3 keeps p >= 0.18.
    got = kept_by(from_probs(0.6, 0.25, 0.1, 0.05), min_p=0.3)
    assert got == [0, 1], (
        f"min_p=0.3 on probabilities [0.6, 0.25, 0.1, 0.05] keeps p >= 0.3 * 0.6 = 0.18: "
        f"tokens [0, 1]; got {got}"
    )


def test_min_p_uses_the_probabilities_after_temperature() -> None:
    # At temperature 2 the probabilities become proportional to sqrt([0.6, 0.25, 0.1, 0.05]);
    # the ratio to the max of token 2 is sqrt(0.1 / 0.6) = 0.41 >= 0.3.
    got = kept_by(from_probs(0.6, 0.25, 0.1, 0.05), temperature=2.0, min_p=0.3)
    assert got == [0, 1, 2], (
        f"temperature 2 then min_p=0.3 on probabilities [0.6, 0.25, 0.1, 0.05]: the ratios "
        f"to the max become [1, 0.65, 0.41, 0.29], so tokens [0, 1, 2] survive; got {got}"
    )


def test_worked_example_from_the_prompt() -> None:
    x = torch.tensor([[2.0, 1.0, 1.0, 0.5, -INF]])
    out = sol.filter_logits(x, temperature=0.5, top_k=2, top_p=0.8, min_p=0.1)
    want = torch.tensor([[4.0, 2.0, 2.0, -INF, -INF]])
    assert torch.equal(out, want), (
        f"the prompt's worked example: expected {want.tolist()}, got {out.tolist()}"
    )
    out = sol.filter_logits(x, temperature=0.5, top_k=2, top_p=0.75, min_p=0.1)
    assert kept(out[0]) == [0], (
        f"the worked example with top_p=0.75 keeps token 0 only, got {kept(out[0])}"
    )


# -- greedy -----------------------------------------------------------------------------


def test_temperature_zero_keeps_only_the_max_unscaled() -> None:
    out = sol.filter_logits(row(1.0, 3.0, 2.0, -1.0), temperature=0.0)
    want = row(-INF, 3.0, -INF, -INF)
    assert torch.equal(out, want), (
        f"greedy keeps the max logit as it is: expected {want.tolist()}, got {out.tolist()}"
    )


def test_temperature_zero_keeps_every_tied_max() -> None:
    out = sol.filter_logits(row(3.0, 1.0, 3.0, 2.0), temperature=0.0, top_k=3, top_p=0.9, min_p=0.1)
    want = row(3.0, -INF, 3.0, -INF)
    assert torch.equal(out, want), (
        f"greedy keeps every tie of the max: expected {want.tolist()}, got {out.tolist()}"
    )


# -- -inf, degenerate rows ---------------------------------------------------------------


def test_neg_inf_logits_stay_neg_inf() -> None:
    x = row(1.0, -INF, 0.5, -INF, -1.0)
    out = sol.filter_logits(x, temperature=0.5, top_k=4, top_p=0.999, min_p=0.0)
    check_filtered(out, x, 0.5, 4, 0.999, 0.0)
    got = kept(out[0])
    assert got == [0, 2, 4], (
        f"top_k=4 with only 3 finite logits keeps the 3, and -inf stays -inf; got {got}"
    )


def test_row_of_neg_inf_comes_back_neg_inf_without_nan() -> None:
    x = torch.tensor([[-INF] * 5, [0.0, 1.0, 2.0, 3.0, 4.0]])
    out = sol.filter_logits(x, temperature=0.7, top_k=2, top_p=0.5, min_p=0.1)
    assert not torch.isnan(out).any(), f"an all -inf row must not produce NaN: {out.tolist()}"
    assert bool((out[0] == -INF).all()), (
        f"an all -inf row comes back all -inf, got {out[0].tolist()}"
    )
    check_filtered(out, x, 0.7, 2, 0.5, 0.1)


def test_all_equal_logits_survive_every_filter() -> None:
    x = torch.full((2, 6), 1.5)
    out = sol.filter_logits(x, temperature=0.9, top_k=2, top_p=0.2, min_p=0.9)
    assert bool(torch.isfinite(out).all()), (
        f"6 equal logits are all tied for top-k, top-p and min-p: all survive, got {out.tolist()}"
    )


def test_one_token_vocabulary_keeps_its_token() -> None:
    x = torch.tensor([[0.3], [-2.0], [5.0]])
    out = sol.filter_logits(x, temperature=0.5, top_k=1, top_p=0.1, min_p=0.9)
    assert torch.allclose(out, x / 0.5), (
        f"a vocabulary of one keeps its token: expected {(x / 0.5).tolist()}, got {out.tolist()}"
    )


# -- batches, dtypes, the input ---------------------------------------------------------


def test_per_row_parameters_apply_to_their_own_row() -> None:
    x = torch.tensor([[2.0, 1.0, 0.0, -1.0]] * 4)
    t = torch.tensor([1.0, 0.0, 0.5, 2.0])
    k = torch.tensor([2, 0, 0, 0])
    p = torch.tensor([1.0, 1.0, 0.5, 1.0])
    mp = torch.tensor([0.0, 0.0, 0.0, math.exp(-1.0) + 1e-3])
    out = sol.filter_logits(x, t, k, p, mp)
    check_filtered(out, x, t, k, p, mp)
    got = [kept(r) for r in out]
    assert got == [[0, 1], [0], [0], [0, 1]], (
        f"rows: top_k=2 | greedy | temperature 0.5 with top_p=0.5 | temperature 2 with "
        f"min_p just above e^-1; expected kept [[0, 1], [0], [0], [0, 1]], got {got}"
    )


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_logits_are_filtered_in_float32(dtype: torch.dtype) -> None:
    x = (torch.arange(40, dtype=torch.float32).reshape(2, 20) % 7 - 3) / 4
    out = sol.filter_logits(x.to(dtype), temperature=0.8, top_k=9, top_p=0.8, min_p=0.2)
    assert out.dtype == torch.float32, f"{dtype} logits must give a float32 result, got {out.dtype}"
    check_filtered(out, x, 0.8, 9, 0.8, 0.2)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_filter_leaves_the_input_untouched(dtype: torch.dtype) -> None:
    x = randn(4, 30, seed=4).to(dtype)
    before = x.clone()
    sol.filter_logits(x, temperature=0.7, top_k=5, top_p=0.8, min_p=0.1)
    assert torch.equal(x, before), f"filter_logits modified its {dtype} input in place"
