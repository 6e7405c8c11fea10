"""Speculative decoding's verification step: which draft tokens the target keeps.

A draft model proposed `k` tokens `x_1 .. x_k`, drawing `x_i` from `q_i` (its
distribution at position i); the target model scored the same positions in one
forward, giving `p_1 .. p_{k+1}` (`p_{k+1}` follows the last draft token). Then, left to
right (Leviathan et al. 2023, Chen et al. 2023):

- accept `x_i` with probability `min(1, p_i(x_i) / q_i(x_i))`;
- at the first rejection, draw one token from `normalize(max(0, p_i - q_i))` and stop;
- if all k are accepted, draw a bonus token from `p_{k+1}`.

Every emitted token is then distributed exactly as the target alone would have drawn it,
and one target forward yields between 1 and k + 1 tokens. If `p_i - q_i` has no positive
mass the rejection cannot happen (then p_i = q_i), so that draw is never made.

Greedy verification keeps draft tokens while each equals the target's argmax and then
emits the target's argmax at the first mismatch (or after the last draft token): the
same tokens as greedy decoding with the target alone.

Batched: row b proposed `lengths[b] <= k` tokens (rows past their length are padding);
a row's result is its accepted draft tokens followed by one token, `-1` after that.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["expected_accepted", "verify", "verify_greedy"]


def _lengths(draft: Tensor, lengths: Tensor | None) -> Tensor:
    b, k = draft.shape
    if lengths is None:
        return torch.full((b,), k, dtype=torch.long, device=draft.device)
    if bool((lengths < 0).any()) or bool((lengths > k).any()):
        raise ValueError(f"draft lengths must be in [0, {k}], got {lengths.tolist()}")
    return lengths.to(device=draft.device, dtype=torch.long)


def _first(mask: Tensor) -> Tensor:
    """int64 `[B]`: each row's first True column, or the width when it has none."""
    b, k = mask.shape
    if k == 0:
        return torch.zeros(b, dtype=torch.long, device=mask.device)
    return torch.where(mask.any(1), mask.int().argmax(1), k)


def _emit(draft: Tensor, n_accepted: Tensor, last: Tensor) -> Tensor:
    """int64 `[B, k + 1]`: row b's first `n_accepted[b]` draft tokens, then `last[b]`,
    then -1."""
    b, k = draft.shape
    cols = torch.arange(k + 1, device=draft.device)
    out = torch.full((b, k + 1), -1, dtype=torch.long, device=draft.device)
    out[:, :k] = torch.where(cols[:k] < n_accepted[:, None], draft, -1)
    out[torch.arange(b, device=draft.device), n_accepted] = last
    return out


def verify(
    draft: Tensor,
    q: Tensor,
    p: Tensor,
    lengths: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Rejection-sample the draft against the target: `(tokens [B, k+1], n_accepted [B])`.

    draft int64 `[B, k]`; q `[B, k, V]` the draft's probabilities at each drafted
    position; p `[B, k + 1, V]` the target's (the last row for the bonus token); both
    normalised. `lengths` int64 `[B]` (default k). Draws come from `generator`.
    """
    b, k = draft.shape
    n = _lengths(draft, lengths)
    rows = torch.arange(b, device=draft.device)
    idx = draft.clamp(min=0)[..., None]  # padding (-1) reads a real column, then is ignored
    # The test u * q < p in float64, on the drafted tokens' probabilities only: the
    # product of a small u and q must not round to p's side.
    p_x = p[:, :k].gather(-1, idx).squeeze(-1).double()  # [B, k]
    q_x = q.gather(-1, idx).squeeze(-1).double()
    u = torch.rand(b, k, generator=generator, dtype=torch.float64, device=draft.device)
    # Accept when u * q(x) < p(x): min(1, p/q) without dividing by a zero q.
    rejected = (u * q_x >= p_x) | (torch.arange(k, device=draft.device) >= n[:, None])
    n_accepted = torch.minimum(_first(rejected), n)
    # The extra token: from max(0, p - q) where a draft token was rejected, else from p
    # at the first undrafted position (the bonus).
    target = p[rows, n_accepted]  # [B, V]
    was_rejected = n_accepted < n
    residual = (target - q[rows, n_accepted.clamp(max=k - 1)]).clamp(min=0) if k else target
    weights = torch.where(was_rejected[:, None], residual, target)
    last = torch.multinomial(weights.float(), 1, generator=generator).squeeze(1)
    return _emit(draft, n_accepted, last), n_accepted


def verify_greedy(
    draft: Tensor, target_logits: Tensor, lengths: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """Greedy verification: `(tokens [B, k + 1], n_accepted [B])`.

    target_logits `[B, k + 1, V]`; the target's choice is each row's first maximal index.
    """
    b, k = draft.shape
    n = _lengths(draft, lengths)
    choice = target_logits.argmax(-1)  # [B, k + 1]
    mismatch = (draft != choice[:, :k]) | (torch.arange(k, device=draft.device) >= n[:, None])
    n_accepted = torch.minimum(_first(mismatch), n)
    last = choice[torch.arange(b, device=draft.device), n_accepted]
    return _emit(draft, n_accepted, last), n_accepted


def expected_accepted(p: Tensor, q: Tensor) -> float:
    """E[accepted draft tokens] for k positions with distributions p, q `[k, V]`.

    Position i is reached only if every earlier token was accepted; each is accepted with
    probability `alpha_i = sum_x min(p_i(x), q_i(x))`, so the expectation is
    `sum_{i=1..k} prod_{j<=i} alpha_j`.
    """
    alpha = torch.minimum(p.double(), q.double()).sum(-1)  # [k]
    return float(torch.cumprod(alpha, 0).sum())
