"""Temperature, top-k, top-p and min-p: each on its own, and in the stated order
through `process_logits`, against hand-worked rows, the oracle and `reference.sampling`."""

from __future__ import annotations

from typing import Any

import solution as sol
import torch
from oracle import check_processed, expected, randn
from torch import Tensor

from reference.sampling import filter_logits

INF = float("inf")


def process(x: Tensor, params: list[dict[str, Any]], histories: list[list[int]]) -> Tensor:
    out = sol.process_logits(x, [sol.SamplingParams(**p) for p in params], histories)
    assert isinstance(out, Tensor) and out.shape == x.shape, (
        f"process_logits must return [batch, vocab] = {tuple(x.shape)}"
    )
    return out


def survivors(out: Tensor) -> list[list[int]]:
    return [torch.isfinite(row).nonzero().flatten().tolist() for row in out]


def test_temperature_divides_each_row_and_greedy_rows_by_one() -> None:
    x = torch.tensor([[2.0, -1.0, 0.5], [2.0, -1.0, 0.5], [2.0, -1.0, 0.5]])
    got = sol.apply_temperature(x.clone(), torch.tensor([0.5, 0.0, 2.0]))
    want = [[4.0, -2.0, 1.0], [2.0, -1.0, 0.5], [1.0, -0.5, 0.25]]
    assert got.tolist() == want, f"temperatures [0.5, 0, 2] must give {want}, got {got.tolist()}"


def test_top_p_keeps_the_token_that_crosses_p() -> None:
    x = torch.tensor([[0.5, 0.3, 0.15, 0.05]]).log()
    for p, keep in [(0.4, [0]), (0.7, [0, 1]), (0.85, [0, 1, 2]), (0.96, [0, 1, 2, 3])]:
        got = sol.apply_top_k_top_p(x.clone(), torch.tensor([0]), torch.tensor([p]))
        assert survivors(got) == [keep], (
            f"probabilities [0.5, 0.3, 0.15, 0.05], top_p={p}: a token survives iff the "
            f"mass before it is < p, so {keep} survive; got {survivors(got)[0]}"
        )


def test_top_p_keeps_the_tokens_tied_with_the_last_one_kept() -> None:
    x = torch.tensor([[0.4, 0.3, 0.3]]).log()
    got = sol.apply_top_k_top_p(x.clone(), torch.tensor([0]), torch.tensor([0.5]))
    assert survivors(got) == [[0, 1, 2]], (
        "probabilities [0.4, 0.3, 0.3], top_p=0.5: token 1 starts at mass 0.4 < 0.5 and "
        f"stays, and token 2 is tied with it, so it stays too; got {survivors(got)[0]}"
    )


def test_top_p_one_keeps_every_token_and_a_tiny_p_keeps_only_the_most_likely() -> None:
    x = randn(3, 25, seed=11, scale=4.0)
    got = sol.apply_top_k_top_p(x.clone(), torch.tensor([0, 0, 0]), torch.tensor([1.0, 1e-6, 1.0]))
    assert len(survivors(got)[0]) == 25, "top_p=1.0 (and no top-k) must keep every token"
    assert survivors(got)[1] == [int(x[1].argmax())], (
        f"top_p=1e-6 must keep only the most likely token {int(x[1].argmax())}, "
        f"got {survivors(got)[1]}"
    )


def test_top_k_keeps_ties_and_k_at_or_beyond_the_vocabulary_keeps_everything() -> None:
    x = torch.tensor([[3.0, 1.0, 2.0, 1.0, 0.0]] * 4)
    got = sol.apply_top_k_top_p(x.clone(), torch.tensor([3, 5, 9, 1]), torch.ones(4))
    want = [[0, 1, 2, 3], [0, 1, 2, 3, 4], [0, 1, 2, 3, 4], [0]]
    assert survivors(got) == want, (
        f"top_k [3, 5, 9, 1] on [3, 1, 2, 1, 0]: ties with the k-th largest survive and "
        f"k >= vocab keeps all: {want}; got {survivors(got)}"
    )


def test_top_p_is_normalised_over_the_top_k_survivors() -> None:
    # Over the whole row token 1 starts at mass 0.4 (< 0.5); over the top 2 it starts
    # at 0.4 / 0.7 = 0.57, so p = 0.5 drops it only with top-k's renormalisation.
    x = torch.tensor([[0.4, 0.3, 0.2, 0.1]]).log()
    got = sol.apply_top_k_top_p(x.clone(), torch.tensor([2]), torch.tensor([0.5]))
    assert survivors(got) == [[0]], (
        f"top_k=2 then top_p=0.5 on [0.4, 0.3, 0.2, 0.1]: renormalised over the two "
        f"survivors, token 1 starts at mass 0.571 >= 0.5 and goes; got {survivors(got)[0]}"
    )


def test_min_p_is_relative_to_the_largest_probability() -> None:
    probs = torch.tensor([[0.2] + [0.8 / 16] * 16])  # max 0.2, the rest 0.05 each
    for mp, n in [(0.2, 17), (0.3, 1), (0.24, 17), (0.26, 1)]:
        got = sol.apply_min_p(probs.log(), torch.tensor([mp]))
        assert len(survivors(got)[0]) == n, (
            f"probabilities [0.2, 0.05 x 16], min_p={mp}: the threshold is min_p * 0.2 = "
            f"{mp * 0.2:.3f}, so {n} tokens survive; got {len(survivors(got)[0])}"
        )


def test_min_p_never_removes_the_most_likely_token() -> None:
    x = randn(4, 200, seed=12, scale=0.1)  # nearly flat: no token reaches 1%
    got = sol.apply_min_p(x.clone(), torch.tensor([0.1, 0.5, 0.9, 1.0]))
    for r in range(4):
        assert int(x[r].argmax()) in survivors(got)[r], (
            f"row {r}: min-p compares with the largest probability, so the most likely "
            f"token always survives; row came back with {len(survivors(got)[r])} survivors"
        )


def test_temperature_is_applied_before_top_p_and_min_p() -> None:
    x = torch.tensor([[2.0, 1.0, 0.0, -1.0]])
    got = process(x, [{"temperature": 2.0, "top_p": 0.6}], [[]])
    assert survivors(got) == [[0, 1]], (
        "temperature 2 then top_p=0.6 on [2, 1, 0, -1]: over [1, 0.5, 0, -0.5] token 1 "
        f"starts at mass 0.46 < 0.6 and survives; got {survivors(got)[0]}"
    )
    got = process(x, [{"temperature": 0.5, "min_p": 0.1}], [[]])
    assert survivors(got) == [[0, 1]], (
        "temperature 0.5 then min_p=0.1 on [2, 1, 0, -1]: p_i / p_max = exp(2 * (x_i - 2)) "
        f"keeps tokens 0 and 1 (1 and 0.135), drops 0.018; got {survivors(got)[0]}"
    )


def test_process_logits_matches_the_oracle() -> None:
    g = torch.Generator().manual_seed(13)
    batch, vocab = 8, 40
    x = randn(batch, vocab, seed=14, scale=2.5)
    params: list[dict[str, Any]] = [
        {"temperature": 0.7, "top_p": 0.8, "repetition_penalty": 1.3},
        {"temperature": 1.3, "top_k": 10, "min_p": 0.05, "presence_penalty": 0.6},
        {"temperature": 0.0, "top_k": 5, "frequency_penalty": 0.4},
        {"temperature": 0.5, "top_p": 0.9, "min_p": 0.02, "repetition_penalty": 2.0},
        {"temperature": 1.0},
        {"temperature": 1.7, "top_k": 25, "top_p": 0.7, "min_p": 0.1},
        {"temperature": 0.9, "top_p": 0.95, "repetition_penalty": 1.1, "frequency_penalty": 0.3},
        {"temperature": 2.0, "min_p": 0.2, "presence_penalty": -0.5},
    ]
    histories = [
        torch.randint(
            0, vocab, (int(torch.randint(0, 15, (1,), generator=g)),), generator=g
        ).tolist()
        for _ in range(batch)
    ]
    check_processed(process(x, params, histories), expected(x, params, histories), "process_logits")


def test_process_logits_matches_reference_sampling_without_penalties() -> None:
    x = randn(6, 64, seed=15, scale=3.0)
    t = [0.6, 1.0, 1.4, 0.8, 2.5, 1.0]
    k = [0, 8, 0, 30, 12, 64]
    p = [0.9, 1.0, 0.5, 0.75, 0.95, 0.3]
    mp = [0.0, 0.1, 0.05, 0.0, 0.2, 0.01]
    params = [{"temperature": t[i], "top_k": k[i], "top_p": p[i], "min_p": mp[i]} for i in range(6)]
    got = process(x, params, [[]] * 6)
    want = filter_logits(
        x, torch.tensor(t), torch.tensor(k), torch.tensor(p), torch.tensor(mp)
    )  # reference.sampling: the project's filter, same order and boundary rules
    assert survivors(got) == survivors(want), (
        f"the tokens kept differ from reference.sampling.filter_logits: got "
        f"{survivors(got)}, expected {survivors(want)}"
    )
    assert torch.allclose(got[torch.isfinite(got)], want[torch.isfinite(want)], rtol=1e-5), (
        "the kept logits must be the logits divided by each row's temperature"
    )


def test_process_logits_does_not_modify_its_input() -> None:
    for dtype in (torch.float32, torch.bfloat16):
        x = randn(3, 16, seed=16, scale=2.0).to(dtype)
        before = x.clone()
        params = [
            {"temperature": 0.5, "top_k": 4, "repetition_penalty": 1.5},
            {"temperature": 0.0, "top_p": 0.5},
            {"min_p": 0.3, "presence_penalty": 1.0},
        ]
        out = process(x, params, [[1, 2], [3], [15, 15]])
        assert torch.equal(x, before), (
            f"process_logits must not modify the logits it is given ({dtype}): "
            f"{int((x != before).sum())} values changed"
        )
        assert out.dtype == torch.float32, f"processed logits are float32, got {out.dtype}"


def test_the_processed_rows_of_a_batch_equal_the_rows_processed_alone() -> None:
    x = randn(4, 24, seed=17, scale=2.0)
    params: list[dict[str, Any]] = [
        {"temperature": 0.8, "top_p": 0.9, "presence_penalty": 0.8},
        {"temperature": 1.2, "top_k": 6, "repetition_penalty": 1.4},
        {"temperature": 0.6, "min_p": 0.05, "frequency_penalty": 0.5},
        {"temperature": 1.0},
    ]
    histories = [[0, 0, 1], [], [5, 6, 7, 8, 9, 10, 11, 12], [23]]
    together = process(x, params, histories)
    for r in range(4):
        alone = process(x[r : r + 1], [params[r]], [histories[r]])[0]
        same = torch.equal(torch.isfinite(together[r]), torch.isfinite(alone)) and torch.allclose(
            together[r][torch.isfinite(alone)], alone[torch.isfinite(alone)], atol=1e-5
        )
        assert same, f"row {r} processed in a batch of 4 differs from the same row alone"


def test_sampling_params_rejects_out_of_range_settings() -> None:
    bad: list[dict[str, Any]] = [
        {"temperature": -0.1},
        {"top_k": -1},
        {"top_p": 0.0},
        {"top_p": 1.5},
        {"min_p": -0.1},
        {"min_p": 1.1},
        {"repetition_penalty": 0.0},
    ]
    for kwargs in bad:
        try:
            sol.SamplingParams(**kwargs)
        except ValueError:
            continue
        raise AssertionError(f"SamplingParams(**{kwargs}) must raise ValueError")
