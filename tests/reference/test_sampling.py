"""reference.sampling against transformers' logits warpers and a slow float64 oracle."""

from __future__ import annotations

import math
from typing import cast

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chisquare
from torch import Tensor
from transformers.generation.logits_process import (
    LogitsProcessorList,
    MinPLogitsWarper,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from reference.sampling import filter_logits, sample

INF = float("inf")
SETTINGS = settings(derandomize=True, database=None, deadline=None, max_examples=80)


def transformers_filter(x: Tensor, t: float, k: int, p: float, min_p: float) -> Tensor:
    """The same filters as transformers' generate() chain builds them, in our order."""
    chain = LogitsProcessorList([TemperatureLogitsWarper(float(t))])
    if k > 0:
        chain.append(TopKLogitsWarper(k))
    chain.append(TopPLogitsWarper(p))
    chain.append(MinPLogitsWarper(min_p))
    input_ids = cast(torch.LongTensor, torch.zeros(x.shape[0], 1, dtype=torch.long))
    return chain(input_ids, x.float())


def slow_filter_row(row: list[float], t: float, k: int, p: float, min_p: float) -> list[bool]:
    """Which tokens survive, by the conventions spelled out, in float64 (ties included)."""
    if t == 0:
        return [v == max(row) and v != -INF for v in row]
    y = [v / t for v in row]
    alive = [v != -INF for v in y]
    if 0 < k < len(y):
        kth = sorted(y, reverse=True)[k - 1]
        alive = [a and v >= kth for a, v in zip(alive, y, strict=True)]
    if not any(alive):
        return alive
    top = max(y)
    w = [math.exp(v - top) if a else 0.0 for a, v in zip(alive, y, strict=True)]
    total = sum(w)
    keep = list(alive)
    for i, a in enumerate(alive):
        if not a:
            continue
        before = sum(wj for wj, yj in zip(w, y, strict=True) if yj > y[i]) / total
        if p < 1.0 and y[i] != top and before >= p:
            keep[i] = False
        if w[i] < min_p:
            keep[i] = False
    return keep


def random_logits(seed: int, batch: int, vocab: int, scale: float = 3.0) -> Tensor:
    return torch.randn(batch, vocab, generator=torch.Generator().manual_seed(seed)) * scale


params = st.tuples(
    st.floats(0.2, 3.0),  # temperature
    st.integers(0, 70),  # top_k (vocab is at most 64: some draws turn it off)
    st.one_of(st.just(1.0), st.floats(0.0, 1.0)),  # top_p
    st.one_of(st.just(0.0), st.floats(0.0, 0.5)),  # min_p
)


@SETTINGS
@given(st.integers(0, 2**31 - 1), st.integers(1, 64), params)
def test_same_kept_set_as_transformers(
    seed: int, vocab: int, p: tuple[float, int, float, float]
) -> None:
    x = random_logits(seed, 4, vocab)
    ours = filter_logits(x, *p)
    theirs = transformers_filter(x, *p)
    assert torch.equal(torch.isfinite(ours), torch.isfinite(theirs)), (p, ours, theirs)
    kept = torch.isfinite(ours)
    torch.testing.assert_close(ours[kept], theirs[kept])


@SETTINGS
@given(st.integers(0, 2**31 - 1), st.lists(params, min_size=1, max_size=6))
def test_per_row_parameters_match_transformers_row_by_row(
    seed: int, rows: list[tuple[float, int, float, float]]
) -> None:
    x = random_logits(seed, len(rows), 48)
    t, k, p, mp = (torch.tensor(col) for col in zip(*rows, strict=True))
    ours = filter_logits(x, t, k, p, mp)
    for i, row_params in enumerate(rows):
        theirs = transformers_filter(x[i : i + 1], *row_params)
        assert torch.equal(torch.isfinite(ours[i : i + 1]), torch.isfinite(theirs)), row_params


@SETTINGS
@given(
    st.lists(st.integers(-6, 6), min_size=1, max_size=40),
    st.sampled_from([0.0, 0.5, 1.0, 2.0]),
    st.integers(0, 12),
    st.sampled_from([1.0, 0.0, 0.3, 0.62, 0.9]),
    st.sampled_from([0.0, 0.05, 0.3]),
)
def test_ties_and_neg_inf_match_the_slow_oracle(
    cells: list[int], t: float, k: int, p: float, min_p: float
) -> None:
    # Small integers tie often, including at the k-th value and beyond torch.topk's
    # window; -6 stands for -inf.
    row = [-INF if c == -6 else float(c) for c in cells]
    x = torch.tensor([row])
    got = torch.isfinite(filter_logits(x, t, k, p, min_p))[0].tolist()
    assert got == slow_filter_row(row, t, k, p, min_p), (row, t, k, p, min_p, got)


def test_top_p_boundary_keeps_only_the_token_before_p() -> None:
    x = torch.tensor([[0.5, 0.3, 0.2]]).log()
    assert torch.isfinite(filter_logits(x, top_p=0.5)).tolist() == [[True, False, False]]
    assert torch.isfinite(filter_logits(x, top_p=0.55)).tolist() == [[True, True, False]]


def test_docstring_example() -> None:
    x = torch.tensor([[2.0, 1.0, 1.0, 0.5, -INF]])
    out = filter_logits(x, temperature=0.5, top_k=2, top_p=0.8, min_p=0.1)
    assert out.tolist() == [[4.0, 2.0, 2.0, -INF, -INF]]
    out = filter_logits(x, temperature=0.5, top_k=2, top_p=0.75, min_p=0.1)
    assert out.tolist() == [[4.0, -INF, -INF, -INF, -INF]]


def test_ties_of_the_kth_logit_outside_the_window_join_top_p() -> None:
    # k=2: the 2nd largest is 1.0 and five tokens tie with it. Over the six survivors
    # the mass before the ties is e / (e + 5) = 0.352, so top_p=0.4 keeps them all and
    # top_p=0.3 keeps token 0 alone.
    x = torch.tensor([[2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0]])
    assert torch.isfinite(filter_logits(x, top_k=2, top_p=0.4)).sum() == 6
    assert torch.isfinite(filter_logits(x, top_k=2, top_p=0.3)).sum() == 1
    drawn = sample(x.repeat(500, 1), top_k=2, generator=torch.Generator().manual_seed(0))
    assert set(drawn.tolist()) == {0, 1, 2, 3, 4, 5}


def test_greedy_rows_keep_their_max_unscaled_and_sample_the_lowest_argmax() -> None:
    x = torch.tensor([[1.0, 3.0, 3.0], [0.5, -1.0, 0.0]])
    t = torch.tensor([0.0, 0.5])
    out = filter_logits(x, temperature=t, top_k=2)
    assert out.tolist() == [[-INF, 3.0, 3.0], [1.0, -INF, 0.0]]
    tokens = sample(x, temperature=0.0)
    assert tokens.tolist() == [1, 0]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_greedy_sample_is_the_first_max_of_the_filtered_row(dtype: torch.dtype) -> None:
    # Rounded logits: many ties. Greedy skips filtering; it must agree with it anyway.
    x = (random_logits(2, 16, 50) * 2).round().to(dtype)
    x[3] = -INF
    x[3, 7] = 0.0  # one finite logit
    for k, p, m in [(0, 1.0, 0.0), (3, 0.5, 0.2), (1, 1.0, 0.0)]:
        want = filter_logits(x, temperature=0.0, top_k=k, top_p=p, min_p=m).argmax(dim=-1)
        assert torch.equal(sample(x, temperature=0.0, top_k=k, top_p=p, min_p=m), want)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_greedy_sample_refuses_a_row_whose_max_is_not_finite(bad: float) -> None:
    x = torch.tensor([[0.0, 1.0, 2.0], [0.0, bad, 2.0]])
    with pytest.raises(ValueError, match="row 1"):
        sample(x, temperature=0.0)
    with pytest.raises(ValueError, match="row 0"):
        sample(torch.full((1, 3), -INF), temperature=0.0)


def test_all_neg_inf_row_stays_neg_inf_and_cannot_be_sampled() -> None:
    x = torch.tensor([[-INF, -INF, -INF], [0.0, 1.0, 2.0]])
    for k, p in [(0, 1.0), (2, 1.0), (0, 0.5), (2, 0.5)]:
        out = filter_logits(x, temperature=0.7, top_k=k, top_p=p, min_p=0.1)
        assert not torch.isnan(out).any() and bool((out[0] == -INF).all())
    with pytest.raises(ValueError, match="row 0"):
        sample(x)


@pytest.mark.parametrize(
    "bad",
    [
        {"temperature": -1.0},
        {"top_k": -1},
        {"top_k": 2.5},
        {"top_p": 1.01},
        {"min_p": -0.1},
        {"top_p": torch.tensor([0.5, 2.0])},
        {"top_k": torch.tensor([1.0, 2.0])},
        {"temperature": torch.tensor([1.0])},
    ],
)
def test_invalid_parameters_raise_value_error(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        filter_logits(torch.zeros(2, 5), **bad)  # type: ignore[arg-type]
    greedy = {"temperature": 0.0} | bad  # greedy sampling checks the filters it skips
    with pytest.raises(ValueError):
        sample(torch.zeros(2, 5), **greedy)  # type: ignore[arg-type]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_input_is_never_modified(dtype: torch.dtype) -> None:
    x = random_logits(0, 3, 100).to(dtype)
    before = x.clone()
    filter_logits(x, temperature=0.5, top_k=10, top_p=0.8, min_p=0.1)
    sample(x, temperature=0.5, top_k=10, top_p=0.8, generator=torch.Generator().manual_seed(0))
    filter_logits(x)
    assert torch.equal(x, before)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_filters_like_its_float32_upcast(dtype: torch.dtype) -> None:
    x = random_logits(1, 8, 500).to(dtype)
    for p in [(1.0, 0, 1.0, 0.0), (0.8, 50, 0.9, 0.0), (1.3, 0, 0.7, 0.05), (0.0, 0, 1.0, 0.0)]:
        out = filter_logits(x, *p)
        assert out.dtype == torch.float32
        assert torch.equal(out, filter_logits(x.float(), *p)), p


def test_same_generator_state_gives_the_same_tokens() -> None:
    x = random_logits(2, 64, 1000, scale=0.1)
    for p in [(1.0, 0, 1.0, 0.0), (0.9, 40, 0.9, 0.0), (1.0, 0, 0.95, 0.0), (0.7, 0, 1.0, 0.01)]:
        torch.manual_seed(1)
        a = sample(x, *p, generator=torch.Generator().manual_seed(42))
        torch.manual_seed(2)
        b = sample(x, *p, generator=torch.Generator().manual_seed(42))
        c = sample(x, *p, generator=torch.Generator().manual_seed(43))
        assert torch.equal(a, b), p
        assert int((a == c).sum()) < 16, p


@pytest.mark.parametrize(
    "p",
    [
        (1.0, 0, 1.0, 0.0),  # no filter: the whole row
        (0.8, 3, 1.0, 0.0),  # top-k window, with a tie at the k-th value
        (1.2, 0, 0.9, 0.0),  # full sort for top-p
        (0.9, 5, 0.8, 0.1),  # every filter
        (1.0, 2, 1.0, 0.0),  # ties outside the top-k window: drawn from the whole row
    ],
)
def test_sampled_frequencies_follow_the_filtered_distribution(
    p: tuple[float, int, float, float],
) -> None:
    row = torch.tensor([[1.5, 0.2, 1.0, 1.0, -0.5, 2.0, 1.0, -INF, 0.7]])
    n = 40_000
    tokens = sample(row.repeat(n, 1), *p, generator=torch.Generator().manual_seed(7))
    probs = torch.softmax(filter_logits(row, *p).double(), dim=-1)[0]
    counts = torch.bincount(tokens, minlength=row.shape[1]).double()
    kept = probs > 0
    assert counts[~kept].sum() == 0, "a filtered-out token was drawn"
    # Significance 1e-4 on a fixed seed: deterministic, and a bias of 2% shows.
    result = chisquare(counts[kept].numpy(), (probs[kept] * n).numpy())
    assert result.pvalue > 1e-4, (p, counts.tolist(), (probs * n).tolist())


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu() -> None:
    x = random_logits(3, 16, 4096)
    t = torch.linspace(0.0, 2.0, 16)
    k = torch.arange(16) * 7
    settings_: list[tuple[float | Tensor, int | Tensor, float, float]] = [
        (0.8, 50, 0.9, 0.0),
        (t, k, 0.9, 0.05),
        (1.0, 0, 0.95, 0.0),
    ]
    for temperature, top_k, top_p, min_p in settings_:
        t_gpu = temperature.cuda() if isinstance(temperature, Tensor) else temperature
        k_gpu = top_k.cuda() if isinstance(top_k, Tensor) else top_k
        cpu = filter_logits(x, temperature, top_k, top_p, min_p)
        gpu = filter_logits(x.cuda(), t_gpu, k_gpu, top_p, min_p)
        assert gpu.device.type == "cuda"
        assert torch.equal(torch.isfinite(cpu), torch.isfinite(gpu.cpu())), (top_k, top_p)
        gen = torch.Generator(device="cuda").manual_seed(0)
        tokens = sample(x.cuda(), t_gpu, k_gpu, top_p, min_p, generator=gen)
        assert tokens.device.type == "cuda" and tokens.dtype == torch.int64
        assert bool(torch.isfinite(gpu.gather(1, tokens.unsqueeze(1))).all()), (top_k, top_p)
