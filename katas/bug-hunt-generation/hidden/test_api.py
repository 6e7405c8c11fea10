"""The file's public API: weights from a seed, argument checks."""

from __future__ import annotations

import pytest
import solution as sol
import torch
from oracle import CONFIG, build, prompts


def test_the_same_seed_builds_the_same_weights() -> None:
    a, _ = build(sol, 5)
    b, _ = build(sol, 5)
    c, _ = build(sol, 6)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa), "seed 5 built two different models"
    assert not torch.equal(sa["embed"], sc["embed"]), "seeds 5 and 6 built the same embedding"


def test_state_dict_names_and_shapes() -> None:
    model, _ = build(sol)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes["embed"] == (64, 32) and shapes["lm_head"] == (32, 64), shapes
    assert shapes["layers.1.wq"] == (32, 32) and shapes["layers.0.w_down"] == (64, 32), shapes
    assert len(shapes) == 2 + 1 + 9 * int(CONFIG["n_layers"]), sorted(shapes)


def test_an_empty_prompt_is_rejected() -> None:
    model, _ = build(sol)
    with pytest.raises(ValueError):
        sol.generate(model, [[3, 4], []], 4)


def test_a_prompt_too_long_for_the_context_is_rejected() -> None:
    model, _ = build(sol)
    with pytest.raises(ValueError):
        sol.generate(model, prompts(50, [60]), 5)


def test_an_empty_batch_gives_an_empty_list() -> None:
    model, _ = build(sol)
    assert sol.generate(model, [], 5) == []
