"""Memory and speed cases: the same calls for the candidate and the reference.

Both use top-k off and top-p on, so each side has to order the whole row: a
straightforward sort-based answer does the same work as the reference and is judged
on how it does it (extra passes, copies, Python loops), not on whether it found the
top-k shortcut (with top_k=50 the reference's torch.topk path is about 30x faster than
any full sort on CPU; the benchmarks report that case).
"""

from __future__ import annotations

from collections.abc import Callable
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


def _draws(candidate: Any, inputs: tuple[Any, ...]) -> tuple[torch.Tensor, torch.Tensor | str]:
    """(the filtered logits, the ids drawn), or why the ids are not one surviving token
    per row. Draws are random and another correct algorithm draws other tokens, so the
    ids are checked against the reference's filter, not the reference's draws."""
    filtered = filter_logits(inputs[0].cpu(), **PARAMS)
    ids = candidate["sample"] if isinstance(candidate, dict) else None
    if not isinstance(ids, torch.Tensor) or ids.shape != (inputs[0].shape[0],):
        return filtered, f"expected one token id per row, got {candidate!r:.80}"
    kept = torch.isfinite(filtered)
    rows = torch.arange(ids.shape[0])
    if bool(((ids < 0) | (ids >= kept.shape[1])).any()) or not bool(kept[rows, ids].all()):
        return filtered, f"drew {ids.tolist()}, not all of them tokens that survive the filters"
    return filtered, ids


GENERATOR_SEEDS = 1 << 20  # the speed case's generators: seeds apart from the logits'
TOPS = (1, 2, 4, 8, 16, 32, 64)  # "the draw was one of the m most likely tokens"
FALSE_ALARM = 1e-9


def _in_top(filtered: torch.Tensor, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For each m in TOPS and each row: whether the drawn token is among the row's m most
    likely, and the probability of that for a draw from the distribution ([len(TOPS), rows])."""
    probs = torch.softmax(filtered.double(), dim=-1)
    ordered, order = probs.sort(dim=-1, descending=True, stable=True)
    rank = (order == ids.unsqueeze(1)).int().argmax(dim=-1)
    mass = ordered.cumsum(dim=-1)
    hits = torch.stack([rank < m for m in TOPS]).double()
    chance = torch.stack([mass[:, min(m, mass.shape[1]) - 1] for m in TOPS]).clamp(max=1.0)
    return hits, chance


def _upper_tail(chance: torch.Tensor, hits: int) -> float:
    """P(at least `hits` successes) in independent trials of these probabilities (the
    Poisson binomial distribution, exactly, by dynamic programming)."""
    dist = torch.zeros(chance.numel() + 1, dtype=torch.float64)
    dist[0] = 1.0
    for p in chance.tolist():
        dist[1:] = dist[1:] * (1 - p) + dist[:-1] * p
        dist[0] *= 1 - p
    return float(dist[hits:].sum())


def _like_the_distribution() -> Callable[[Any, Any, tuple[Any, ...]], str | None]:
    """The speed case's check: every id survives the filters, and together the draws of
    the calls checked so far are not too often among the most likely tokens. One id
    cannot show that (the top token always survives); a sampler that skips the draw
    while it is timed (argmax, or a pick among the top few) can: for some m, far more
    rows drew one of their m most likely tokens than a draw from the distribution would,
    with a probability below FALSE_ALARM (exact, whatever the sampler's algorithm)."""
    hits: list[torch.Tensor] = []
    chances: list[torch.Tensor] = []

    def check(candidate: Any, reference: Any, inputs: tuple[Any, ...]) -> str | None:
        filtered, ids = _draws(candidate, inputs)
        if isinstance(ids, str):
            return ids
        hit, chance = _in_top(filtered, ids)
        hits.append(hit)
        chances.append(chance)
        seen, odds = torch.cat(hits, dim=1), torch.cat(chances, dim=1)
        for i, m in enumerate(TOPS):
            k = int(seen[i].sum())
            tail = _upper_tail(odds[i], k)
            if tail < FALSE_ALARM / len(TOPS):
                top = "most likely token" if m == 1 else f"{m} most likely tokens"
                return (
                    f"{k} of {seen.shape[1]} rows drew their {top}, where a draw from the"
                    f" filtered distribution would do so about {float(odds[i].sum()):.1f} times"
                    f" (chance {tail:.1e}): the draws do not follow the probabilities"
                )
        return None

    return check


def speed_case(impl: Any, device: str, size: int | None) -> Case:
    """sample on [4, 32768] float32: temperature 0.8, top-p 0.9, min-p 0.05, seeded.

    One call is a few tens of milliseconds on CPU, dominated by one sort per row: the
    channel's fraction of a millisecond is small beside it. Every call gets fresh
    logits and its own generator.
    """

    def inputs(i: int) -> tuple[Any, ...]:
        # Not the logits' seed: a generator seeded alike would draw uniforms that follow
        # the logits' own normals, and a correct Gumbel-max sampler would look biased.
        generator = torch.Generator(device=device).manual_seed(GENERATOR_SEEDS + i)
        return _logits(4, 32768, device, seed=i), generator

    def call(x: torch.Tensor, gen: torch.Generator) -> object:
        return impl.sample(x, **PARAMS, generator=gen)

    # Every timed call is checked: the distribution test needs their rows together.
    return Case(call, inputs, check=_like_the_distribution(), verify_calls=1000)


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
