"""Speculative decoding in the reference engine: greedy tokens are the target's own,
sampled tokens follow the target's distribution, and the counts add up."""

from __future__ import annotations

import pytest
import torch
from scipy.stats import chisquare

from reference.divergence import tiny_model
from reference.draft_decoding import generate_speculative
from reference.engine import generate
from reference.model import Transformer

PROMPTS = [[5, 17, 3], [40, 2, 2, 9, 61, 7, 7, 30, 1], [88] * 14]


def perturbed(model: Transformer, scale: float, seed: int) -> Transformer:
    """A draft that agrees with the target often but not always."""
    draft = tiny_model(window=model.args.sliding_window, seed=0)
    draft.load_state_dict(model.state_dict())
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in draft.parameters():
            p.add_(torch.randn(p.shape, generator=g) * scale)
    return draft


@pytest.mark.parametrize("window", [8, None])
@pytest.mark.parametrize("k", [1, 3])
def test_greedy_speculative_tokens_are_the_targets_greedy_tokens(
    window: int | None, k: int
) -> None:
    target = tiny_model(window=window, seed=0)
    want = generate(target, PROMPTS, 20, stop_ids=(), cache="contiguous")
    result = generate_speculative(target, perturbed(target, 0.05, 1), PROMPTS, 20, k=k)
    assert result.tokens == want
    assert 0 < result.accepted < result.drafted  # the draft was right and wrong, both


def test_a_perfect_draft_is_always_accepted_and_saves_target_forwards() -> None:
    target = tiny_model(seed=2)
    result = generate_speculative(target, target, PROMPTS, 20, k=4)
    assert result.acceptance_rate == 1.0
    assert result.target_forwards == 4  # 5 tokens per round: 4 drafts and the bonus
    assert [len(t) for t in result.tokens] == [20, 20, 20]


def test_sampling_with_a_perfect_draft_accepts_everything() -> None:
    target = tiny_model(seed=2)
    g = torch.Generator().manual_seed(0)
    result = generate_speculative(target, target, PROMPTS, 9, k=2, temperature=0.8, generator=g)
    assert result.acceptance_rate == pytest.approx(1.0)
    assert result.target_forwards == 3


def test_sampled_first_tokens_follow_the_target_distribution() -> None:
    target = tiny_model(seed=3)
    draft = perturbed(target, 0.5, 4)  # accepts about a quarter of proposals
    prompt = [7, 8, 9]
    rows = 3000
    g = torch.Generator().manual_seed(1)
    result = generate_speculative(
        target, draft, [prompt] * rows, 2, k=1, temperature=1.0, generator=g
    )
    assert 0 < result.accepted < result.drafted
    with torch.inference_mode():
        p = torch.softmax(target(torch.tensor([prompt]))[0, -1].double(), -1)
    counts = torch.bincount(torch.tensor([t[0] for t in result.tokens]), minlength=len(p))
    seen = p > 0.002  # pool the rare tokens so that every expected count is large enough
    observed = [*counts[seen].tolist(), int(counts[~seen].sum())]
    expected = [*(p[seen] * rows).tolist(), float(p[~seen].sum() * rows)]
    # Drawing a rejected position's token from p instead of max(0, p - q) gives p < 1e-100.
    assert chisquare(observed, expected).pvalue > 1e-4


def test_invalid_arguments_are_rejected() -> None:
    model = tiny_model()
    with pytest.raises(ValueError, match="k >= 1"):
        generate_speculative(model, model, PROMPTS, 4, k=0)
    with pytest.raises(ValueError, match="at least one token"):
        generate_speculative(model, model, [[]], 4)
