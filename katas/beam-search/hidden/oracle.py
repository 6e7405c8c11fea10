"""What the suite checks against: hand-worked tables and the reference search.

The judge plays the model. A *table model* gives each sequence's next-token
probabilities by its generated suffix (crafted so that one convention decides the
answer; PROMPT.md's worked example is one); a *hashed model* draws random logits from a
hash of the whole sequence (no ties, the same logits whenever the same sequence comes
back); the *tiny model* is the reference's small random Mistral, run on whole
sequences. `drive` runs a search the way a serving loop does: logits for the running
sequences, `step`, reorder by `beam_indices`, append `next_tokens`, until `is_done`,
recording every step's answer. The reference search (`reference.beam_search`,
checked against transformers' `generate(num_beams=...)` in the project's own tests)
is driven the same way in this process, and the candidate's must give the same
answers step by step and the same hypotheses.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from reference.beam_search import BeamSearch as ReferenceSearch
from reference.divergence import tiny_model

ModelFn = Callable[[Tensor], Tensor]
Table = dict[tuple[int, ...], Sequence[float]]
EOS = 0
L = math.log
PROMPT = [3, 1, 2]
DEFAULT = (-1,)  # a table's row for every suffix it does not list

# PROMPT.md's worked example (vocabulary 4, EOS 0, 2 beams). Step 1: EOS at rank 1.
# Step 2: EOS at rank 0 ([1, 0], kept) and at rank 2 ([2, 0], dropped). Any later step
# offers a strong EOS (0.95), which a search that does not stop takes.
EXAMPLE: Table = {
    (): [0.25, 0.5, 0.15, 0.10],
    (1,): [0.6, 0.05, 0.25, 0.10],
    (2,): [0.7, 0.1, 0.15, 0.05],
    DEFAULT: [0.95, 0.03, 0.015, 0.005],
}
# After step 2 it holds [1, 0] (-1.050 / 2) and [2, 0] (-2.254 / 2 = -1.127); the best
# running beam [1, 1] (-2.900) gives -2.900 / 2 = -1.45 <= -1.127: early_stopping=False
# stops. Going on would find [1, 1, 0] at -3.005 / 3 = -1.002, which beats -1.127.
HEURISTIC: Table = {
    (): [0.25, 0.5, 0.15, 0.10],
    (1,): [0.7, 0.11, 0.1, 0.09],
    (2,): [0.7, 0.1, 0.15, 0.05],
    (1, 1): [0.9, 0.04, 0.03, 0.03],
    DEFAULT: [0.2, 0.3, 0.4, 0.1],
}
# [0] (log 0.3 = -1.204, length 1) against [1, 1, 1] (3 log 0.6 = -1.532, length 3,
# never ended by EOS: finished at max_new_tokens = 3).
LENGTHS: Table = {
    (): [0.3, 0.6, 0.06, 0.04],
    (1,): [0.05, 0.6, 0.2, 0.15],
    (1, 1): [0.01, 0.6, 0.2, 0.19],
    DEFAULT: [0.01, 0.28, 0.32, 0.39],
}


def table_model(tables: dict[int, Table], prompt_len: int) -> ModelFn:
    """Log-probabilities by (the sequence's first token, its generated suffix)."""

    def fn(ids: Tensor) -> Tensor:
        rows = []
        for seq in ids.tolist():
            table = tables[seq[0]]
            rows.append(table.get(tuple(seq[prompt_len:]), table[DEFAULT]))
        return torch.tensor(rows, dtype=torch.float64).log().float()

    return fn


def hashed_model(seed: int, vocab: int, eos_boost: float, scale: float = 2.0) -> ModelFn:
    """Random logits per whole sequence, EOS raised by `eos_boost` so that hypotheses
    end at many different steps."""

    def fn(ids: Tensor) -> Tensor:
        out = torch.empty(ids.shape[0], vocab)
        for i, seq in enumerate(ids.tolist()):
            g = torch.Generator().manual_seed(zlib.crc32(repr((seed, seq)).encode()))
            out[i] = torch.randn(vocab, generator=g) * scale
        out[:, EOS] += eos_boost
        return out

    return fn


_TINY: list[Any] = []


def tiny_model_fn() -> ModelFn:
    """The reference's tiny random Mistral (vocabulary 97): last-position logits."""
    if not _TINY:
        _TINY.append(tiny_model(seed=0))
    model = _TINY[0]

    def fn(ids: Tensor) -> Tensor:
        with torch.no_grad():
            logits: Tensor = model(ids, last=-1)[:, 0]
        return logits

    return fn


@dataclass
class Run:
    steps: list[tuple[list[int], list[int]]] = field(default_factory=list)
    sequences: list[list[int]] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)


def drive(
    search: Any,
    fn: ModelFn,
    prompts: Sequence[Sequence[int]],
    num_beams: int,
    max_new_tokens: int,
    num_return_sequences: int = 1,
    logits_dtype: torch.dtype = torch.float32,
) -> Run:
    """Run `search` (a candidate's BeamSearch or the reference's) like a serving loop."""
    x = torch.tensor(prompts, dtype=torch.long)
    rows = x.shape[0] * num_beams
    seqs = x.repeat_interleave(num_beams, dim=0)  # [B * K, T]
    run = Run()
    for step in range(1, max_new_tokens + 1):
        if search.is_done:
            break
        out = search.step(seqs, fn(seqs).to(logits_dtype))
        assert isinstance(out, tuple) and len(out) == 2, (
            f"step must return (next_tokens, beam_indices), got {type(out).__name__}"
        )
        tokens, idx = out
        for name, t in (("next_tokens", tokens), ("beam_indices", idx)):
            assert isinstance(t, Tensor) and t.dtype == torch.int64 and tuple(t.shape) == (rows,), (
                f"step {step}: {name} must be an int64 tensor of shape [{rows}], got "
                f"{getattr(t, 'dtype', type(t).__name__)} {tuple(getattr(t, 'shape', ()))}"
            )
        assert bool(((idx >= 0) & (idx < rows)).all()), (
            f"step {step}: beam_indices must be flat indices in [0, {rows}), got {idx.tolist()}"
        )
        run.steps.append((tokens.tolist(), idx.tolist()))
        seqs = torch.cat([seqs[idx], tokens[:, None]], dim=1)
    assert search.is_done, f"is_done must be True after max_new_tokens = {max_new_tokens} steps"
    result = search.finalize(num_return_sequences)
    assert isinstance(result, tuple) and len(result) == 2, "finalize returns (sequences, scores)"
    sequences, scores = result
    assert isinstance(scores, Tensor) and scores.dtype == torch.float32, (
        f"finalize's scores must be a float32 tensor, got {getattr(scores, 'dtype', type(scores))}"
    )
    run.sequences = [list(map(int, s)) for s in sequences]
    run.scores = scores.tolist()
    return run


def reference_run(
    fn: ModelFn,
    prompts: Sequence[Sequence[int]],
    num_beams: int,
    max_new_tokens: int,
    length_penalty: float = 1.0,
    early_stopping: bool = False,
    num_return_sequences: int = 1,
    eos: int = EOS,
    logits_dtype: torch.dtype = torch.float32,
) -> Run:
    search = ReferenceSearch(
        len(prompts), num_beams, eos, max_new_tokens, length_penalty, early_stopping
    )
    return drive(search, fn, prompts, num_beams, max_new_tokens, num_return_sequences, logits_dtype)


def compare(got: Run, want: Run, what: str) -> None:
    """Step answers equal, hypotheses equal, scores within float32 rounding."""
    for i, (g, w) in enumerate(zip(got.steps, want.steps, strict=False), start=1):
        assert g[0] == w[0], f"{what}: step {i} next_tokens expected {w[0]}, got {g[0]}"
        assert g[1] == w[1], f"{what}: step {i} beam_indices expected {w[1]}, got {g[1]}"
    assert len(got.steps) == len(want.steps), (
        f"{what}: the search must be done after {len(want.steps)} steps, took {len(got.steps)}"
    )
    assert got.sequences == want.sequences, (
        f"{what}: expected hypotheses {want.sequences}, got {got.sequences}"
    )
    torch.testing.assert_close(
        torch.tensor(got.scores),
        torch.tensor(want.scores),
        rtol=1e-5,
        atol=1e-6,
        msg=lambda m: f"{what}: scores expected {want.scores}, got {got.scores} ({m})",
    )
