"""verify, statistically: one seeded batch of 60,000 rows over three target/draft pairs
and mixed draft lengths; every emitted token, every residual and bonus draw, every
accepted draft token and the number accepted against the distributions the rules imply.

The draws are never compared with another implementation's draws (a correct solution
may use its random numbers in any order), only frequencies with exact probabilities.
"""

from __future__ import annotations

import pytest
import solution as sol
import torch
from oracle import CONFIGS, Batch, K, V, batch, chi_square
from torch import Tensor

ROWS = 60_000  # 20,000 per configuration; half of them draft all K tokens


def verified(b: Batch, seed: int) -> tuple[Tensor, Tensor]:
    """sol.verify on the batch, its result checked for type, shape, dtype and layout."""
    out = sol.verify(b.draft, b.q, b.p, b.lengths, generator=torch.Generator().manual_seed(seed))
    assert isinstance(out, tuple) and len(out) == 2, "verify returns (tokens, n_accepted)"
    tokens, n = out
    rows = b.draft.shape[0]
    assert tuple(tokens.shape) == (rows, K + 1) and tokens.dtype == torch.int64, (
        f"tokens must be int64 [B, k + 1] = [{rows}, {K + 1}], got {tokens.dtype} "
        f"{list(tokens.shape)}"
    )
    assert tuple(n.shape) == (rows,) and n.dtype == torch.int64, (
        f"n_accepted must be int64 [B], got {n.dtype} {list(n.shape)}"
    )
    bad = (n < 0) | (n > b.lengths)
    assert not bool(bad.any()), (
        f"n_accepted must lie in [0, lengths[b]]; row {int(bad.nonzero()[0])} has length "
        f"{int(b.lengths[bad][0])} and n_accepted {int(n[bad][0])}"
    )
    cols = torch.arange(K + 1)
    want_draft = (cols[:K] < n[:, None]) & (tokens[:, :K] != b.draft)
    assert not bool(want_draft.any()), (
        "the first n_accepted tokens of a row must be its draft tokens; row "
        f"{int(want_draft.any(1).nonzero()[0])} differs"
    )
    extra = tokens[torch.arange(rows), n]
    assert bool(((extra >= 0) & (extra < V)).all()), (
        f"tokens[b, n_accepted[b]] must be a token id in [0, {V}); got {extra.min()} "
        f"to {extra.max()}"
    )
    after = (cols > n[:, None]) & (tokens != -1)
    assert not bool(after.any()), (
        "every position after the row's extra token must be -1; row "
        f"{int(after.any(1).nonzero()[0])} has {tokens[after.any(1)][0].tolist()}"
    )
    return tokens, n


@pytest.fixture(scope="module")
def outcome() -> tuple[Batch, Tensor, Tensor]:
    b = batch(ROWS, seed=2024)
    tokens, n = verified(b, seed=7)
    return b, tokens, n


def counts(t: Tensor) -> Tensor:
    return torch.bincount(t, minlength=V)


def test_the_result_is_a_prefix_of_the_draft_then_one_token_then_padding(
    outcome: tuple[Batch, Tensor, Tensor],
) -> None:
    b, _, n = outcome  # the fixture checked the layout of all 60,000 rows
    assert bool((n[b.lengths == 0] == 0).all()), "a row with length 0 accepts nothing"


def test_every_emitted_token_follows_the_target_distribution(
    outcome: tuple[Batch, Tensor, Tensor],
) -> None:
    b, tokens, _ = outcome
    failures = []
    for c, conf in enumerate(CONFIGS):
        for i in range(K + 1):
            got = tokens[b.config == c, i]
            reason = chi_square(
                counts(got[got >= 0]), conf.p[i], f"{conf.name}, emitted tokens at position {i}"
            )
            failures += [reason] if reason else []
    assert not failures, "emitted tokens must follow p exactly: " + "; ".join(failures)


def test_after_a_rejection_the_token_follows_the_normalised_residual(
    outcome: tuple[Batch, Tensor, Tensor],
) -> None:
    b, tokens, n = outcome
    extra = tokens[torch.arange(len(n)), n]
    failures = []
    for c, conf in enumerate(CONFIGS):
        for i in range(K):
            stopped = (b.config == c) & (n == i) & (b.lengths > i)
            reason = chi_square(
                counts(extra[stopped]),
                conf.residual(i),
                f"{conf.name}, the token after a rejection at position {i}",
            )
            failures += [reason] if reason else []
    assert not failures, "after a rejection, draw from normalize(max(0, p - q)): " + "; ".join(
        failures
    )


def test_the_bonus_token_follows_the_target_after_the_last_draft_token(
    outcome: tuple[Batch, Tensor, Tensor],
) -> None:
    b, tokens, n = outcome
    extra = tokens[torch.arange(len(n)), n]
    failures = []
    for c, conf in enumerate(CONFIGS):
        for length in range(K + 1):
            all_accepted = (b.config == c) & (b.lengths == length) & (n == length)
            reason = chi_square(
                counts(extra[all_accepted]),
                conf.p[length],
                f"{conf.name}, the bonus token of rows that drafted {length} and kept all",
            )
            failures += [reason] if reason else []
    assert not failures, "the bonus token comes from p[b, lengths[b]]: " + "; ".join(failures)


def test_accepted_draft_tokens_follow_the_overlap_of_p_and_q(
    outcome: tuple[Batch, Tensor, Tensor],
) -> None:
    b, tokens, n = outcome
    failures = []
    for c, conf in enumerate(CONFIGS):
        for i in range(K):
            kept = (b.config == c) & (n > i)
            reason = chi_square(
                counts(tokens[kept, i]),
                conf.accepted(i),
                f"{conf.name}, draft tokens accepted at position {i}",
            )
            failures += [reason] if reason else []
    assert not failures, (
        "a draft token x is kept with probability min(1, p(x) / q(x)), so kept tokens "
        "follow min(p, q) normalised: " + "; ".join(failures)
    )


def test_the_number_accepted_follows_the_acceptance_rates(
    outcome: tuple[Batch, Tensor, Tensor],
) -> None:
    b, _, n = outcome
    failures = []
    for c, conf in enumerate(CONFIGS):
        for length in range(1, K + 1):
            rows = (b.config == c) & (b.lengths == length)
            got = torch.bincount(n[rows], minlength=length + 1)
            reason = chi_square(
                got,
                conf.n_accepted(length),
                f"{conf.name}, n_accepted of rows that drafted {length}",
            )
            failures += [reason] if reason else []
    assert not failures, "; ".join(failures)


def test_the_mean_number_accepted_matches_expected_accepted(
    outcome: tuple[Batch, Tensor, Tensor],
) -> None:
    b, _, n = outcome
    for c, conf in enumerate(CONFIGS):
        rows = (b.config == c) & (b.lengths == K)
        got = n[rows].double()
        want = sol.expected_accepted(conf.p[:K], conf.q)
        assert isinstance(want, float), f"expected_accepted returns a float, got {type(want)}"
        # Five standard errors: a correct pair of functions lands outside with
        # probability below 1e-6.
        bound = 5 * float(got.std()) / len(got) ** 0.5
        assert abs(float(got.mean()) - want) < bound, (
            f"{conf.name}: rows that drafted {K} accepted {float(got.mean()):.4f} on average "
            f"over {len(got)} rows; expected_accepted(p[:k], q) says {want:.4f} "
            f"(allowed {bound:.4f})"
        )
