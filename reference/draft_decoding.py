"""Speculative decoding with a draft model, over the reference engine's contiguous cache.

Each round, for every sequence of the batch at once:

1. the draft model catches up on the tokens it has not seen, then proposes up to `k`
   tokens one forward at a time (fewer near a sequence's token budget);
2. the target model scores what it has not seen plus every proposal in one forward;
3. `reference.speculative` keeps a prefix of the proposals and adds one token of the
   target's (greedy: its argmax; sampled: a residual or bonus draw).

Both models keep a KV cache. Positions past what a model has verified hold keys of
rejected proposals; the next round writes over them from the first unverified position,
and causal masking hides whatever lies beyond a query until then. That is why this runs
on the contiguous cache: a rolling buffer would have overwritten live keys with
proposals that were then rejected.

Greedy (temperature 0) gives the tokens of greedy decoding with the target alone; with a
temperature every token is drawn from the target's distribution (softmax of logits /
temperature), and the draft's distribution at the same temperature is the proposal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from reference.components import Components
from reference.kv_layout import ContiguousStore
from reference.model import Transformer
from reference.speculative import verify, verify_greedy

__all__ = ["SpeculativeResult", "generate_speculative"]


@dataclass
class SpeculativeResult:
    tokens: list[list[int]]  # the new tokens of each prompt
    drafted: int = 0  # draft tokens proposed, over every round and sequence
    accepted: int = 0  # of which the target kept
    target_forwards: int = 0  # rounds: one target forward each
    per_round: list[int] = field(default_factory=list)  # tokens emitted per round, all rows

    @property
    def acceptance_rate(self) -> float:
        return self.accepted / self.drafted if self.drafted else 0.0


@dataclass
class _Model:
    """One model, its cache, and how many positions of each sequence it holds correctly."""

    model: Transformer
    store: ContiguousStore
    valid: list[int]

    def forward(self, feeds: list[list[int]]) -> Tensor:
        """Feed each sequence its tokens from its first unverified position: logits
        `[B, T, V]` (float32), right-padded like the feeds."""
        view = self.store.view(list(range(len(feeds))), self.valid, feeds, fresh=False)
        t = max(len(f) for f in feeds)
        padded = [f + [0] * (t - len(f)) for f in feeds]
        tokens = torch.tensor(padded, device=self.model.device)
        logits: Tensor = self.model(tokens, view)
        return logits.float()


@torch.inference_mode()
def generate_speculative(
    target: Transformer,
    draft: Transformer,
    prompts: Sequence[Sequence[int]],
    max_new_tokens: int,
    *,
    k: int = 4,
    temperature: float = 0.0,
    generator: torch.Generator | None = None,
    components: Components | None = None,
) -> SpeculativeResult:
    """The new tokens of each prompt, drafted `k` at a time by `draft` and verified by
    `target` (which must share its vocabulary), with the acceptance counts.

    Every prompt gets exactly `max_new_tokens` tokens (no stop tokens). Greedy at
    temperature 0; otherwise draws come from `generator`.
    """
    if k < 1 or max_new_tokens < 0 or temperature < 0:
        raise ValueError(f"need k >= 1, max_new_tokens >= 0, temperature >= 0; got {k}, "
                         f"{max_new_tokens}, {temperature}")  # fmt: skip
    if not prompts or any(len(p) == 0 for p in prompts):
        raise ValueError("every prompt needs at least one token")
    if draft.args.vocab_size != target.args.vocab_size:
        raise ValueError("the draft and target models must share a vocabulary")
    parts = components or Components()
    longest = max(len(p) for p in prompts) + max_new_tokens + k
    models = [
        _Model(m, ContiguousStore(m, parts, len(prompts), longest, slack=longest), [0] * len(prompts))
        for m in (draft, target)
    ]  # fmt: skip
    seqs = [list(p) for p in prompts]
    result = SpeculativeResult(tokens=[[] for _ in prompts])
    while True:
        budgets = [max_new_tokens - len(out) for out in result.tokens]
        if max(budgets) <= 0:
            return result
        # One token of each round is the target's own: propose at most budget - 1.
        lengths = [max(0, min(k, b - 1)) for b in budgets]
        _round(models, seqs, result, lengths, [b > 0 for b in budgets], temperature, generator)


def _round(
    models: list[_Model],
    seqs: list[list[int]],
    result: SpeculativeResult,
    lengths: list[int],
    active: list[bool],
    temperature: float,
    generator: torch.Generator | None,
) -> None:
    drafter, verifier = models
    proposals, q = _propose(drafter, seqs, lengths, temperature, generator)
    # The target sees its unseen tokens and every proposal: logits for the positions
    # after the last verified token and after each proposal.
    feeds = [s[v:] + d for s, v, d in zip(seqs, verifier.valid, proposals, strict=True)]
    logits = verifier.forward(feeds)
    k = max(lengths)
    rows = [
        logits[b, len(f) - n - 1 : len(f)]
        for b, (f, n) in enumerate(zip(feeds, lengths, strict=True))
    ]
    scores = torch.stack([_pad_rows(r, k + 1) for r in rows])  # [B, k + 1, V]
    draft_ids = torch.tensor([d + [-1] * (k - len(d)) for d in proposals], dtype=torch.long)
    n = torch.tensor(lengths)
    if temperature == 0:
        tokens, accepted = verify_greedy(draft_ids, scores.cpu(), n)
    else:
        p = torch.softmax(scores.cpu() / temperature, -1)
        tokens, accepted = verify(draft_ids, q, p, n, generator)
    result.target_forwards += 1
    emitted = 0
    for b, seq in enumerate(seqs):
        if not active[b]:
            continue
        kept = [t for t in tokens[b].tolist() if t >= 0]
        verifier.valid[b] = len(seq) + int(accepted[b])
        drafter.valid[b] = len(seq) + min(int(accepted[b]), max(lengths[b] - 1, 0))
        seq += kept
        result.tokens[b] += kept
        result.drafted += lengths[b]
        result.accepted += int(accepted[b])
        emitted += len(kept)
    result.per_round.append(emitted)


def _propose(
    drafter: _Model,
    seqs: list[list[int]],
    lengths: list[int],
    temperature: float,
    generator: torch.Generator | None,
) -> tuple[list[list[int]], Tensor]:
    """Each sequence's proposals (lengths[b] tokens) and the draft's distributions
    `[B, k, V]` they were drawn from (one-hot for greedy, which needs none)."""
    k = max(lengths)
    proposals: list[list[int]] = [[] for _ in seqs]
    dists: list[Tensor] = []
    feeds = [s[v:] for s, v in zip(seqs, drafter.valid, strict=True)]
    for i in range(k):
        logits = drafter.forward(feeds)
        last = torch.stack([logits[b, len(f) - 1] for b, f in enumerate(feeds)]).cpu()
        if temperature == 0:
            picks = last.argmax(-1)
            dists.append(torch.zeros_like(last))
        else:
            probs = torch.softmax(last / temperature, -1)
            picks = torch.multinomial(probs, 1, generator=generator).squeeze(1)
            dists.append(probs)
        for b, f in enumerate(feeds):
            drafter.valid[b] += len(f)
            if i < lengths[b]:
                proposals[b].append(int(picks[b]))
        feeds = [[p[-1]] if p else [0] for p in proposals]
    if not dists:  # nothing proposed (every budget ends this round): nothing fed
        return proposals, torch.zeros(len(seqs), 0, 1)
    # What the draft holds: the sequence and every proposal but the last, which it
    # drew but never fed (later positions took padding).
    for b, s in enumerate(seqs):
        drafter.valid[b] = len(s) + max(lengths[b] - 1, 0)
    return proposals, torch.stack(dists, 1)


def _pad_rows(rows: Tensor, n: int) -> Tensor:
    """`rows [m, V]` padded with zeros to `[n, V]`."""
    return torch.cat([rows, rows.new_zeros(n - rows.shape[0], rows.shape[1])])
