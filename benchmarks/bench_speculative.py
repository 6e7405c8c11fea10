"""Speculative decoding in the reference engine against plain greedy decoding.

Target: the `larger` config of bench_engine (8 layers). Draft: the target's first two
layers with its own final norm and LM head (a quarter of the layers, the same
vocabulary). Greedy, one prompt of 16 tokens, 64 new tokens; the two sides' tokens are
checked equal before timing (speculative greedy must give the target's own tokens),
then timed side by side in interleaved rounds (`grader.judge.timing.compare`).

On random weights a truncated draft almost never agrees with the target (the first
row). A trained model's early layers predict much of its output, which random weights
cannot show; the other rows stand in for that with a target whose six later layers
write small residual updates (their output projections `wo` and `w2` scaled by 0.05),
so that the draft agrees with it most of the time. The acceptance rate in each row is
measured, not assumed.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable

import torch

from benchmarks.bench_engine import LARGER, PROMPT_LEN, _models, _prompt, _sync
from benchmarks.common import Section, fmt_ratio, single_threaded
from grader.judge.timing import compare
from reference.draft_decoding import generate_speculative
from reference.engine import generate
from reference.model import Transformer

NEW_TOKENS = 64
DRAFT_LAYERS = 2
DAMPING = 0.05


def truncated(model: Transformer, n_layers: int) -> Transformer:
    """The model's first `n_layers` blocks, its final norm and LM head."""
    draft = copy.deepcopy(model)
    draft.layers = draft.layers[:n_layers]
    draft.args = dataclasses.replace(model.args, n_layers=n_layers)
    return draft


def damped(model: Transformer, after: int, scale: float) -> Transformer:
    """The model with the blocks after `after` writing `scale` times their update."""
    out = copy.deepcopy(model)
    with torch.no_grad():
        for name, weight in out.named_parameters():
            parts = name.split(".")  # layers.<i>.attention.wo, layers.<i>.feed_forward.w2
            if parts[0] == "layers" and int(parts[1]) >= after and parts[-1] in ("wo", "w2"):
                weight.mul_(scale)
    return out


def _case(
    section: Section, label: str, target: Transformer, k: int, prompt: list[int], device: str
) -> None:
    draft = truncated(target, DRAFT_LAYERS)

    def plain() -> list[int]:
        return generate(target, [prompt], NEW_TOKENS, stop_ids=(), cache="contiguous")[0]

    def speculative() -> list[int]:
        return generate_speculative(target, draft, [prompt], NEW_TOKENS, k=k).tokens[0]

    if plain() != speculative():
        raise AssertionError(f"{label}: speculative greedy tokens differ from the target's")
    stats = generate_speculative(target, draft, [prompt], NEW_TOKENS, k=k)
    timed: tuple[Callable[[], list[int]], Callable[[], list[int]]] = (plain, speculative)
    result = compare(*timed, sync=_sync(device), rounds=7, min_rounds=3, max_s=40.0)
    section.add(
        f"{label}, k={k}",
        f"{stats.acceptance_rate:.0%}",
        f"{stats.target_forwards}",
        f"{NEW_TOKENS / result.b_s:.0f} tok/s",
        f"{NEW_TOKENS / result.a_s:.0f} tok/s",
        fmt_ratio(result.ratio),
    )


def run(device: str) -> Section:
    return single_threaded(device, _run)


def _run(device: str) -> Section:
    section = Section(
        name="speculative",
        title="Speculative decoding with a draft model against plain greedy decoding",
        headers=[
            "target, draft = its first 2 of 8 layers",
            "acceptance",
            "target forwards",
            "speculative",
            "plain",
            "speed-up",
        ],
    )
    _, model = _models(LARGER, device)
    prompt = _prompt(PROMPT_LEN, LARGER["vocab_size"], seed=1)
    _case(section, "random weights", model, 3, prompt, device)
    easy = damped(model, DRAFT_LAYERS, DAMPING)
    for k in (3, 5):
        _case(section, f"later layers damped x{DAMPING}", easy, k, prompt, device)
    section.notes += [
        f"Greedy, {PROMPT_LEN}-token prompt, {NEW_TOKENS} new tokens, batch 1, contiguous "
        "KV cache on both sides; `reference.draft_decoding.generate_speculative` against "
        "`reference.engine.generate`. Target forwards: rounds of draft-then-verify (plain "
        f"decoding makes {NEW_TOKENS}). Speed-up: plain time over speculative time, median "
        "of paired interleaved rounds.",
        "larger: hidden 1024, intermediate 2048, 8 layers, 16 heads, 4 KV heads, vocab "
        "1000, window 64; random weights (transformers' initialisation).",
    ]
    return section
