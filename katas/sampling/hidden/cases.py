"""Memory and speed cases: the same calls for the candidate and the reference.

Both use top-k off and top-p on, so each side has to order the whole row: a
straightforward sort-based answer does the same work as the reference and is judged
on how it does it (extra passes, copies, Python loops), not on whether it found the
top-k shortcut (with top_k=50 the reference's torch.topk path is about 30x faster than
any full sort on CPU; the benchmarks report that case).
"""

from __future__ import annotations

from typing import Any

import torch

from grader.judge.measuring import Case
from reference.components import Components
from reference.divergence import first_divergence, tiny_model
from reference.sampling import filter_logits

PARAMS: dict[str, Any] = {"temperature": 0.8, "top_k": 0, "top_p": 0.9, "min_p": 0.05}


def _logits(batch: int, vocab: int, device: str, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, vocab, generator=gen) * 2.0).to(device)


def memory_case(impl: Any, device: str) -> Case:
    """filter_logits on [64, 32768] float32: temperature 0.8, top-p 0.9, min-p 0.05.

    The reference peaks at about 7 copies of the logits' size (its own float32 copy,
    the sorted values and int64 ids, one float32 buffer); float64 copies, Python lists
    of the logits or [batch, vocab, vocab] comparisons go far beyond.
    """
    return Case(
        call=lambda x: impl.filter_logits(x, **PARAMS),
        inputs=lambda i: (_logits(64, 32768, device, seed=i),),
    )


def _survivors(candidate: Any, reference: Any, inputs: tuple[Any, ...]) -> str | None:
    """Draws are random, and another correct algorithm draws other tokens: each id must
    be one that survives the filters (checked here, with the reference's filter)."""
    ids = candidate["sample"] if isinstance(candidate, dict) else None
    if not isinstance(ids, torch.Tensor) or ids.shape != (inputs[0].shape[0],):
        return f"expected one token id per row, got {candidate!r:.80}"
    kept = torch.isfinite(filter_logits(inputs[0].cpu(), **PARAMS))
    rows = torch.arange(ids.shape[0])
    if bool(((ids < 0) | (ids >= kept.shape[1])).any()) or not bool(kept[rows, ids].all()):
        return f"drew {ids.tolist()}, not all of them tokens that survive the filters"
    return None


def speed_case(impl: Any, device: str, size: int | None) -> Case:
    """sample on [4, 32768] float32: temperature 0.8, top-p 0.9, min-p 0.05, seeded.

    One call is a few tens of milliseconds on CPU, dominated by one sort per row: the
    channel's fraction of a millisecond is small beside it. Every call gets fresh
    logits and its own generator.
    """

    def inputs(i: int) -> tuple[Any, ...]:
        return _logits(4, 32768, device, seed=i), torch.Generator(device=device).manual_seed(i)

    def call(x: torch.Tensor, gen: torch.Generator) -> object:
        return impl.sample(x, **PARAMS, generator=gen)

    return Case(call, inputs, check=_survivors)


# Prompts longer than the tiny model's window of 8, of different lengths.
INTEGRATION_PROMPTS = [
    [5, 17, 3, 44, 2, 9, 31, 8, 60, 12, 7],
    [71, 4, 19, 33, 26, 1, 90, 55, 13, 40],
]


# Settings under which exactly one token can be drawn at each step, so that any correct
# sampler, whatever its random algorithm, must choose what the reference chooses. The
# high temperatures flatten the distribution, so a sampler that ignores a filter soon
# draws something else.
ONE_CANDIDATE = (
    {"temperature": 0.0},
    {"temperature": 5.0, "top_k": 1},
    {"temperature": 5.0, "top_p": 1e-4},
    {"temperature": 5.0, "min_p": 1.0},
)


def integration_case(impl: Any, device: str) -> str | None:
    """Your sample() inside the reference engine: a tiny Mistral generates for two prompts
    under settings that leave one candidate token per step (greedy, top_k=1, a tiny top_p,
    min_p=1); the tokens must match the reference engine's."""
    model = tiny_model(window=8, device=device)
    components = Components(sample=impl.sample)
    for sampling in ONE_CANDIDATE:
        difference = first_divergence(model, INTEGRATION_PROMPTS, 8, components, sampling=sampling)
        if difference is not None:
            settings = ", ".join(f"{k}={v:g}" for k, v in sampling.items())
            return f"with {settings}: {difference}"
    return None
