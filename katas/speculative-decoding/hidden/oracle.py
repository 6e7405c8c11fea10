"""Oracles for the speculative-decoding hidden suite: the distributions the emitted tokens
must follow, a chi-square goodness-of-fit check without scipy, and slow loop versions of
greedy verification and of the expected number of accepted tokens.

Nothing here compares draws with another implementation's draws: a correct solution may
consume random numbers in any order, so the suite compares frequencies with the exact
distributions the prompt's rules imply.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

K, V = 3, 6  # draft tokens per row and vocabulary of the statistical configurations

# Chi-square critical values at significance 1e-6 by degrees of freedom (the 1 - 1e-6
# quantile of the chi-square distribution, computed once offline). The statistical tests
# make about 50 such comparisons on one seeded batch, so a correct solution fails the
# suite with probability about 5e-5 over its own random stream; the draws come from a
# fixed seed, so a given solution always gets the same verdict. Each known-wrong variant
# the suite is written against reaches statistics in the hundreds or thousands.
CHI2_CRITICAL_1E6 = {
    1: 23.93, 2: 27.63, 3: 30.66, 4: 33.38, 5: 35.89, 6: 38.26, 7: 40.52, 8: 42.7,
}  # fmt: skip


def chi_square(counts: Tensor, probs: Tensor, what: str) -> str | None:
    """None when `counts` fit `probs` at significance 1e-6, else the reason in words.

    A token with probability 0 must never be drawn (a hard failure, whatever the count).
    """
    counts, probs = counts.double(), probs.double() / probs.sum()
    n = float(counts.sum())
    impossible = (probs == 0) & (counts > 0)
    if bool(impossible.any()):
        token = int(impossible.nonzero()[0])
        return (
            f"{what}: token {token} has probability 0 here, yet was drawn "
            f"{int(counts[token])} times out of {int(n)}"
        )
    support = probs > 0
    expected = probs[support] * n
    stat = float(((counts[support] - expected) ** 2 / expected).sum())
    df = int(support.sum()) - 1
    if df == 0 or stat <= CHI2_CRITICAL_1E6[df]:
        return None
    return (
        f"{what}: frequencies {rounded(counts / n)} over {int(n)} draws do not follow "
        f"{rounded(probs)} (chi-square {stat:.1f} > {CHI2_CRITICAL_1E6[df]} at "
        f"significance 1e-6, {df} degrees of freedom)"
    )


def rounded(t: Tensor) -> list[float]:
    return [round(float(v), 3) for v in t]


@dataclass(frozen=True)
class Config:
    """One target/draft pair: p [K + 1, V] and q [K, V], float64, each row normalised."""

    name: str
    p: Tensor
    q: Tensor

    @property
    def alpha(self) -> Tensor:
        """[K]: the probability that the draft token at each position is accepted."""
        return torch.minimum(self.p[:K], self.q).sum(-1)

    def residual(self, i: int) -> Tensor:
        """normalize(max(0, p_i - q_i)): the token after a rejection at position i."""
        r = (self.p[i] - self.q[i]).clamp(min=0)
        return r / r.sum()

    def accepted(self, i: int) -> Tensor:
        """min(p_i, q_i) / alpha_i: a draft token that was accepted at position i."""
        m = torch.minimum(self.p[i], self.q[i])
        return m / m.sum()

    def n_accepted(self, length: int) -> Tensor:
        """[length + 1]: P(n_accepted = j) for a row that drafted `length` tokens."""
        a = self.alpha[:length]
        reach = torch.cat([torch.ones(1, dtype=a.dtype), a.cumprod(0)])  # P(n >= j)
        stop = torch.cat([1 - a, torch.ones(1, dtype=a.dtype)])
        return reach * stop


def twentieths(rows: list[list[int]]) -> Tensor:
    """Probabilities written as whole twentieths, so that every residual is easy to check
    by hand: max(0, p - q) is a multiple of 1/20 too."""
    t = torch.tensor(rows, dtype=torch.float64)
    assert bool((t.sum(-1) == 20).all()), rows
    return t / 20


# Three configurations, each distribution different at every position (a token drawn
# from the wrong position, or from q instead of p, shows): both with full support; the
# target ruling out two tokens the draft proposes; the draft never proposing two tokens
# the target likes (only residual and bonus draws can produce those). In the first, the
# acceptance rates are 15/20, 14/20, 13/20 and the residuals after a rejection at each
# position are [4, 1, 0, 0, 0, 0] / 5, [0, 0, 3, 3, 0, 0] / 6 and [0, 3, 0, 4, 0, 0] / 7.
CONFIGS = [
    Config(
        "p and q with full support",
        twentieths(
            [[6, 4, 3, 3, 2, 2], [2, 2, 5, 5, 3, 3], [1, 5, 2, 6, 3, 3], [3, 1, 4, 1, 5, 6]]
        ),
        twentieths([[2, 3, 3, 4, 4, 4], [5, 5, 2, 2, 3, 3], [4, 2, 4, 2, 4, 4]]),
    ),
    Config(
        "p gives tokens 4 and 5 probability 0",
        twentieths(
            [[8, 4, 4, 4, 0, 0], [2, 8, 6, 4, 0, 0], [5, 3, 3, 9, 0, 0], [4, 4, 6, 6, 0, 0]]
        ),
        twentieths([[3, 3, 3, 3, 4, 4], [4, 4, 4, 4, 2, 2], [2, 6, 2, 4, 3, 3]]),
    ),
    Config(
        "q gives tokens 0 and 1 probability 0",
        twentieths(
            [[3, 3, 4, 4, 3, 3], [2, 4, 2, 6, 3, 3], [4, 2, 5, 3, 4, 2], [1, 2, 3, 4, 5, 5]]
        ),
        twentieths([[0, 0, 5, 5, 5, 5], [0, 0, 4, 4, 6, 6], [0, 0, 8, 4, 4, 4]]),
    ),
]


def _check_configs() -> None:
    """Every probability the tests expect is either 0 or at least 1% (a fair chi-square
    cell), every position accepts and rejects often, and p_i differs from q_i and from
    p_{i+1} everywhere."""
    for c in CONFIGS:
        laws = [*c.p, *(c.residual(i) for i in range(K)), *(c.accepted(i) for i in range(K))]
        for law in laws:
            small = (law > 0) & (law < 0.01)
            assert not bool(small.any()), f"{c.name}: a probability below 1%: {law.tolist()}"
        assert bool(((c.alpha > 0.25) & (c.alpha < 0.9)).all()), (c.name, c.alpha.tolist())
        for i in range(K):
            assert not torch.equal(c.p[i], c.q[i]) and not torch.equal(c.p[i], c.p[i + 1])


_check_configs()


@dataclass(frozen=True)
class Batch:
    """Rows of the three configurations, interleaved (row r uses CONFIGS[r % 3]), each
    with its own draft length and draft tokens drawn from its q; -1 past the length."""

    draft: Tensor  # int64 [N, K]
    q: Tensor  # float32 [N, K, V]
    p: Tensor  # float32 [N, K + 1, V]
    lengths: Tensor  # int64 [N]
    config: Tensor  # int64 [N]: the index into CONFIGS


def batch(rows: int, seed: int) -> Batch:
    """`rows` rows (a multiple of 3); half draft all K tokens, the rest 0 to K - 1."""
    g = torch.Generator().manual_seed(seed)
    config = torch.arange(rows) % len(CONFIGS)
    full = torch.rand(rows, generator=g) < 0.5
    lengths = torch.where(full, K, torch.randint(0, K, (rows,), generator=g))
    draft = torch.empty(rows, K, dtype=torch.int64)
    for c, conf in enumerate(CONFIGS):
        mine = config == c
        for i in range(K):
            draft[mine, i] = torch.multinomial(conf.q[i], int(mine.sum()), True, generator=g)
    draft[torch.arange(K) >= lengths[:, None]] = -1
    q = torch.stack([c.q for c in CONFIGS]).float()[config]
    p = torch.stack([c.p for c in CONFIGS]).float()[config]
    return Batch(draft, q, p, lengths, config)


def greedy(draft: list[int], logits: Tensor, length: int) -> tuple[list[int], int]:
    """One row of greedy verification, as a loop: (tokens [k + 1], n_accepted)."""
    k = len(draft)
    out = [-1] * (k + 1)
    for i in range(length + 1):
        row = logits[i].tolist()
        best = row.index(max(row))  # the first maximal index
        out[i] = best
        if i == length or draft[i] != best:
            return out, i
    raise AssertionError("unreachable")


def expected_accepted(p: Tensor, q: Tensor) -> float:
    """sum over positions of the probability that every draft token up to it is accepted."""
    total, reach = 0.0, 1.0
    for pi, qi in zip(p.double(), q.double(), strict=True):
        reach *= sum(min(a, b) for a, b in zip(pi.tolist(), qi.tolist(), strict=True))
        total += reach
    return total
