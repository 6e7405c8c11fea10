"""Speculative decoding's verification step: rejection sampling, greedy, the expectation."""

from __future__ import annotations

import torch
from torch import Tensor


def _draft_lengths(draft: Tensor, lengths: Tensor | None) -> Tensor:
    """int64 [B]: each row's number of draft tokens (k when not given)."""
    b, k = draft.shape
    if lengths is None:
        return torch.full((b,), k, dtype=torch.int64, device=draft.device)
    if bool((lengths < 0).any()) or bool((lengths > k).any()):
        raise ValueError(f"lengths must lie in [0, {k}], got {lengths.tolist()}")
    return lengths.to(device=draft.device, dtype=torch.int64)


def _tokens(draft: Tensor, n_accepted: Tensor, extra: Tensor) -> Tensor:
    """int64 [B, k + 1]: the accepted draft tokens, the extra token, then -1."""
    b, k = draft.shape
    cols = torch.arange(k, device=draft.device)
    out = torch.full((b, k + 1), -1, dtype=torch.int64, device=draft.device)
    out[:, :k] = torch.where(cols < n_accepted[:, None], draft, -1)
    out[torch.arange(b, device=draft.device), n_accepted] = extra
    return out


def verify(
    draft: Tensor,
    q: Tensor,
    p: Tensor,
    lengths: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """(tokens [B, k + 1], n_accepted [B]): the draft checked against the target."""
    b, k = draft.shape
    n = _draft_lengths(draft, lengths)
    rows = torch.arange(b, device=draft.device)
    drafted = torch.arange(k, device=draft.device) < n[:, None]  # [B, k]
    x = torch.where(drafted, draft, 0)[..., None]  # padding reads token 0, then is ignored
    p_x = p[:, :k].gather(2, x).squeeze(2).double()  # [B, k]; compare in float64
    q_x = q.gather(2, x).squeeze(2).double()
    u = torch.rand(b, k, dtype=torch.float64, generator=generator, device=draft.device)
    accepted = (u * q_x < p_x) & drafted  # u < p / q without dividing by q
    # Keep the prefix up to the first rejection (or the end of the row's draft).
    n_accepted = accepted.long().cumprod(1).sum(1)  # [B]
    rejected = n_accepted < n
    at = n_accepted.clamp(max=k - 1)  # where the rejected rows stopped
    residual = (p[rows, at] - q[rows, at]).clamp(min=0)  # [B, V]; multinomial normalises
    bonus = p[rows, n]  # [B, V]: the target after the row's last draft token
    weights = torch.where(rejected[:, None], residual, bonus)
    extra = torch.multinomial(weights, 1, generator=generator).squeeze(1)
    return _tokens(draft, n_accepted, extra), n_accepted


def verify_greedy(
    draft: Tensor, target_logits: Tensor, lengths: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """(tokens [B, k + 1], n_accepted [B]): keep draft tokens while they are the target's
    argmax, then emit the target's argmax."""
    b, k = draft.shape
    n = _draft_lengths(draft, lengths)
    choice = target_logits.argmax(-1)  # [B, k + 1]; the first maximal index
    drafted = torch.arange(k, device=draft.device) < n[:, None]
    matches = (draft == choice[:, :k]) & drafted
    n_accepted = matches.long().cumprod(1).sum(1)
    extra = choice[torch.arange(b, device=draft.device), n_accepted]
    return _tokens(draft, n_accepted, extra), n_accepted


def expected_accepted(p: Tensor, q: Tensor) -> float:
    """sum_i prod_{j <= i} alpha_j, alpha_j = sum_x min(p_j(x), q_j(x)); p, q [k, V]."""
    alpha = torch.minimum(p.double(), q.double()).sum(-1)  # [k]
    return float(alpha.cumprod(0).sum())
