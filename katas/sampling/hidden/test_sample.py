"""sample: ids, greedy rows, only survivors drawn, the generator, frequencies."""

from __future__ import annotations

import math

import pytest
import solution as sol
import torch
from hypothesis import given, settings
from oracle import DROP, KEEP, expected, expected_row
from strategies import NO_SHRINK, Case, per_row_cases
from torch import Tensor

from grader.judge.remote import manual_seed

INF = float("inf")


def randn(*shape: int, seed: int) -> Tensor:
    """Seeded normal logits: the same inputs on every run, so the same grade."""
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# Chi-square critical values at significance 1e-4, by degrees of freedom (scipy's
# chi2.ppf(1 - 1e-4, df)). A correct sampler fails one configuration with probability
# 1e-4; the draws come from a fixed seed, so a given solution always gets the same verdict.
CHI2_CRITICAL_1E4 = {
    1: 15.14, 2: 18.42, 3: 21.11, 4: 23.51, 5: 25.74, 6: 27.86, 7: 29.88, 8: 31.83,
    9: 33.72, 10: 35.56, 11: 37.37, 12: 39.13,
}  # fmt: skip


def draw(x: Tensor, **params: object) -> Tensor:
    out = sol.sample(x, **params)  # type: ignore[arg-type]
    assert isinstance(out, Tensor), f"sample must return a Tensor, got {type(out).__name__}"
    assert out.dtype == torch.int64, f"sample must return int64 token ids, got {out.dtype}"
    assert tuple(out.shape) == (x.shape[0],), (
        f"sample must return one id per row, shape {(x.shape[0],)}; got {tuple(out.shape)}"
    )
    return out


def test_sample_returns_one_int64_id_per_row_within_the_vocabulary() -> None:
    x = randn(5, 11, seed=1)
    out = draw(x, temperature=0.9, top_k=4, generator=torch.Generator().manual_seed(0))
    assert bool(((out >= 0) & (out < 11)).all()), f"ids must lie in [0, 11), got {out.tolist()}"


def test_greedy_sample_returns_the_argmax() -> None:
    x = randn(6, 50, seed=2)
    out = draw(x, temperature=0.0, top_k=10, top_p=0.5)
    want = x.argmax(dim=-1)
    assert torch.equal(out, want), (
        f"temperature 0 must return the argmax {want.tolist()}, got {out.tolist()}"
    )


def test_greedy_sample_breaks_ties_by_the_lowest_index() -> None:
    x = torch.tensor([[1.0, 3.0, 0.0, 3.0], [2.0, 2.0, 2.0, 2.0]])
    out = draw(x, temperature=0.0)
    assert out.tolist() == [1, 0], (
        f"ties for the max go to the lowest index: expected [1, 0], got {out.tolist()}"
    )


def test_greedy_rows_in_a_mixed_batch_return_their_argmax() -> None:
    x = randn(8, 40, seed=3)
    t = torch.tensor([0.0, 1.0, 0.0, 0.5, 0.0, 2.0, 0.0, 1.0])
    gen = torch.Generator().manual_seed(3)
    out = draw(x, temperature=t, top_p=0.9, generator=gen)
    greedy = t == 0
    assert torch.equal(out[greedy], x.argmax(dim=-1)[greedy]), (
        f"rows with temperature 0 must return their argmax {x.argmax(dim=-1)[greedy].tolist()}, "
        f"got {out[greedy].tolist()}"
    )


@settings(max_examples=25, phases=NO_SHRINK)
@given(per_row_cases())
def test_sample_only_returns_tokens_that_survive_the_filters(case: Case) -> None:
    x = case.logits
    finite_rows = torch.isfinite(x).any(dim=-1)
    x = x[finite_rows]
    if x.shape[0] == 0:
        return
    params = {
        name: value[finite_rows] if isinstance(value, Tensor) else value
        for name, value in [
            ("temperature", case.temperature),
            ("top_k", case.top_k),
            ("top_p", case.top_p),
            ("min_p", case.min_p),
        ]
    }
    reps = 50  # each row 50 times: a token that should be gone gets its chances
    rep_params = {k: v.repeat(reps) if isinstance(v, Tensor) else v for k, v in params.items()}
    out = draw(x.repeat(reps, 1), generator=torch.Generator().manual_seed(0), **rep_params)
    fates = expected(x, **params)  # type: ignore[arg-type]
    rows = x.shape[0]
    for i, token in enumerate(out.tolist()):
        fate = fates[i % rows]
        assert 0 <= token < x.shape[1] and fate[token] != DROP, (
            f"row {x[i % rows].tolist()} with parameters "
            f"{ {k: (float(v[i % rows]) if isinstance(v, Tensor) else v) for k, v in params.items()} } "
            f"sampled token {token}; expected one of {[j for j, f in enumerate(fate) if f != DROP]}"
        )


def test_a_row_without_finite_logits_raises_value_error() -> None:
    x = torch.tensor([[0.0, 1.0, 2.0], [-INF, -INF, -INF]])
    with pytest.raises(ValueError):
        sol.sample(x, temperature=0.8, generator=torch.Generator().manual_seed(0))


def test_one_token_vocabulary_always_samples_token_zero() -> None:
    out = draw(
        randn(4, 1, seed=4), temperature=0.7, top_p=0.3, generator=torch.Generator().manual_seed(0)
    )
    assert out.tolist() == [0, 0, 0, 0], (
        f"a vocabulary of one can only give token 0, got {out.tolist()}"
    )


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_sample_accepts_half_precision_logits(dtype: torch.dtype) -> None:
    x = randn(16, 64, seed=5)
    out = draw(x.to(dtype), temperature=0.0)
    want = x.to(dtype).float().argmax(dim=-1)
    assert torch.equal(out, want), (
        f"greedy on {dtype} logits: expected {want.tolist()}, got {out.tolist()}"
    )
    out = draw(x.to(dtype), temperature=0.8, top_k=5, generator=torch.Generator().manual_seed(0))
    top5 = x.to(dtype).float().topk(5, dim=-1).values[:, -1:]
    picked = x.to(dtype).float().gather(1, out.unsqueeze(1))
    assert bool((picked >= top5).all()), (
        f"top_k=5 on {dtype} logits drew tokens outside the top 5: {out.tolist()}"
    )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_sample_leaves_the_input_untouched(dtype: torch.dtype) -> None:
    x = randn(4, 30, seed=6).to(dtype)
    before = x.clone()
    sol.sample(
        x,
        temperature=0.7,
        top_k=5,
        top_p=0.8,
        min_p=0.1,
        generator=torch.Generator().manual_seed(0),
    )
    assert torch.equal(x, before), f"sample modified its {dtype} input in place"


# -- the generator ------------------------------------------------------------------------


def flat_logits() -> Tensor:
    """64 rows spread over 1000 tokens: two independent draws almost never agree."""
    return torch.randn(64, 1000, generator=torch.Generator().manual_seed(7)) * 0.1


def test_the_same_generator_seed_gives_the_same_tokens() -> None:
    x = flat_logits()
    a = draw(x, temperature=1.0, top_p=0.95, generator=torch.Generator().manual_seed(42))
    b = draw(x, temperature=1.0, top_p=0.95, generator=torch.Generator().manual_seed(42))
    assert torch.equal(a, b), "two generators seeded alike must give the same tokens"


def test_draws_come_from_the_generator_not_the_global_rng() -> None:
    x = flat_logits()
    torch.manual_seed(1)
    a = draw(x, temperature=1.0, min_p=0.01, generator=torch.Generator().manual_seed(42))
    torch.manual_seed(2)
    b = draw(x, temperature=1.0, min_p=0.01, generator=torch.Generator().manual_seed(42))
    assert torch.equal(a, b), (
        "with the same generator seed, changing torch.manual_seed changed the tokens: "
        "the draws must come from `generator`"
    )


def test_different_generator_seeds_give_different_tokens() -> None:
    x = flat_logits()
    a = draw(x, temperature=1.0, generator=torch.Generator().manual_seed(1))
    b = draw(x, temperature=1.0, generator=torch.Generator().manual_seed(2))
    same = int((a == b).sum())
    assert same < 16, f"seeds 1 and 2 agreed on {same} of 64 flat rows: the generator seems unused"


def test_without_a_generator_the_global_rng_is_used() -> None:
    x = flat_logits()
    manual_seed(sol, 5)  # the global RNG of the process the solution runs in
    a = draw(x, temperature=1.0)
    manual_seed(sol, 5)
    b = draw(x, temperature=1.0)
    assert torch.equal(a, b), "generator=None must draw from torch's global RNG (torch.manual_seed)"


# -- frequencies ----------------------------------------------------------------------------


def target_distribution(row: list[float], t: float, k: int, p: float, mp: float) -> list[float]:
    """Probabilities of the filtered row, by the oracle, in float64."""
    fate = expected_row(row, t, k, p, mp)
    assert all(f != "either" for f in fate), "test configuration too close to a boundary"
    w = [math.exp(v / t) if f == KEEP else 0.0 for v, f in zip(row, fate, strict=True)]
    return [v / sum(w) for v in w]


def chi_square(counts: list[int], probs: list[float], what: str) -> None:
    n = sum(counts)
    for token, (c, q) in enumerate(zip(counts, probs, strict=True)):
        assert q > 0 or c == 0, f"{what}: token {token} is filtered out, yet was drawn {c} times"
    cells = [(c, n * q) for c, q in zip(counts, probs, strict=True) if q > 0]
    stat = sum((c - e) ** 2 / e for c, e in cells)
    df = len(cells) - 1
    if df == 0:
        return
    critical = CHI2_CRITICAL_1E4[df]
    observed = [round(c / n, 4) for c in counts]
    assert stat <= critical, (
        f"{what}: frequencies {observed} over {n} draws do not follow the filtered "
        f"distribution {[round(q, 4) for q in probs]} (chi-square {stat:.1f} > {critical} "
        f"at significance 1e-4, {df} degrees of freedom)"
    )


ROW = [2.0, 1.0, 1.0, 0.5, 0.0, -1.0, -INF, 1.5]
FREQUENCY_CASES = [
    (0.8, 6, 0.85, 0.2),  # every filter on: top-k cuts -1.0, top-p cuts 0.5 and 0.0
    (1.3, 0, 0.95, 0.0),  # top-p alone
    (1.0, 0, 1.0, 0.0),  # plain softmax sampling over the finite tokens
    (0.6, 3, 1.0, 0.0),  # top-k alone; the 3rd largest, 1.0, is tied: 4 survive
]


@pytest.mark.parametrize(("t", "k", "p", "mp"), FREQUENCY_CASES)
def test_sampled_frequencies_follow_the_filtered_distribution(
    t: float, k: int, p: float, mp: float
) -> None:
    n = 20_000
    x = torch.tensor([ROW]).repeat(n, 1)
    out = draw(
        x, temperature=t, top_k=k, top_p=p, min_p=mp, generator=torch.Generator().manual_seed(1234)
    )
    counts = torch.bincount(out, minlength=len(ROW)).tolist()
    chi_square(
        counts,
        target_distribution(ROW, t, k, p, mp),
        f"temperature={t}, top_k={k}, top_p={p}, min_p={mp}",
    )


def test_sampled_frequencies_follow_per_row_parameters() -> None:
    n = 10_000  # rows alternate between two settings
    x = torch.tensor([ROW]).repeat(2 * n, 1)
    t = torch.tensor([0.7, 1.5]).repeat(n)
    k = torch.tensor([3, 0]).repeat(n)
    p = torch.tensor([1.0, 0.8]).repeat(n)
    mp = torch.tensor([0.0, 0.2]).repeat(n)
    out = draw(
        x, temperature=t, top_k=k, top_p=p, min_p=mp, generator=torch.Generator().manual_seed(99)
    )
    for parity, settings_ in [(0, (0.7, 3, 1.0, 0.0)), (1, (1.5, 0, 0.8, 0.2))]:
        counts = torch.bincount(out[parity::2], minlength=len(ROW)).tolist()
        want = target_distribution(ROW, *settings_)
        chi_square(counts, want, f"rows with temperature, top_k, top_p, min_p = {settings_}")
