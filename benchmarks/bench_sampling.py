"""reference.sampling against transformers' logits-processor chain, side by side.

The chain is what `generate()` builds for these settings: TemperatureLogitsWarper,
TopKLogitsWarper, TopPLogitsWarper, MinPLogitsWarper, in that order. TopP sorts the
whole row; the reference sorts only torch.topk's k survivors when top-k is on, so the
top-k-off rows (a full sort on both sides) are there for honesty. `sample` is compared
with the chain followed by softmax and torch.multinomial. Ratios are transformers' time
over the reference's (above 1: the reference is faster).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import torch
from transformers.generation.logits_process import (
    LogitsProcessorList,
    MinPLogitsWarper,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from benchmarks.common import Section, fmt_ratio, fmt_s
from grader.judge.timing import compare
from reference.sampling import filter_logits, sample

BATCH, VOCAB = 64, 32768
CASES = [
    # name, temperature, top_k, top_p, min_p
    ("T=0.8, top-k 50, top-p 0.9", 0.8, 50, 0.9, 0.0),
    ("T=0.8, top-k 50, top-p 0.9, min-p 0.05", 0.8, 50, 0.9, 0.05),
    ("T=0.8, top-k off, top-p 0.9", 0.8, 0, 0.9, 0.0),
    ("T=0.8, top-k off, top-p off, min-p 0.05", 0.8, 0, 1.0, 0.05),
]


def transformers_chain(t: float, k: int, p: float, min_p: float) -> LogitsProcessorList:
    chain = LogitsProcessorList([TemperatureLogitsWarper(t)])
    if k > 0:
        chain.append(TopKLogitsWarper(k))
    if p < 1.0:
        chain.append(TopPLogitsWarper(p))
    if min_p > 0.0:
        chain.append(MinPLogitsWarper(min_p))
    return chain


def run(device: str) -> Section:
    sync: Callable[[], None] = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    section = Section(
        name="sampling",
        title=f"Sampling: reference vs transformers' warpers, logits [{BATCH}, {VOCAB}] ({device})",
        headers=["call", "settings", "reference", "transformers", "speed-up"],
    )
    gen = torch.Generator(device=device).manual_seed(0)
    x = torch.randn(BATCH, VOCAB, generator=gen, device=device) * 2.0  # [batch, vocab]
    ids = cast(torch.LongTensor, torch.zeros(BATCH, 1, dtype=torch.long, device=device))
    for name, t, k, p, mp in CASES:
        chain = transformers_chain(t, k, p, mp)
        theirs = chain(ids, x)
        assert torch.equal(torch.isfinite(filter_logits(x, t, k, p, mp)), torch.isfinite(theirs))

        def ours_filter(t: float = t, k: int = k, p: float = p, mp: float = mp) -> object:
            return filter_logits(x, t, k, p, mp)

        def their_filter(chain: LogitsProcessorList = chain) -> object:
            return chain(ids, x)

        c = compare(their_filter, ours_filter, sync=sync)
        section.add("filter_logits", name, fmt_s(c.b_s), fmt_s(c.a_s), fmt_ratio(c.ratio))

    for name, t, k, p, mp in CASES[:1] + CASES[2:3]:
        chain = transformers_chain(t, k, p, mp)

        def ours_sample(t: float = t, k: int = k, p: float = p, mp: float = mp) -> object:
            return sample(x, t, k, p, mp, generator=gen)

        def their_sample(chain: LogitsProcessorList = chain) -> object:
            probs = torch.softmax(chain(ids, x), dim=-1)
            return torch.multinomial(probs, 1, generator=gen)

        c = compare(their_sample, ours_sample, sync=sync)
        section.add("sample", name, fmt_s(c.b_s), fmt_s(c.a_s), fmt_ratio(c.ratio))

    section.notes.append(
        "Logits: torch.randn * 2, float32. Medians of interleaved ABBA rounds "
        "(grader/judge/timing.py); speed-up is transformers' time over the reference's. "
        "With top-k on, the reference runs torch.topk and a cumulative sum over the k "
        "survivors; with top-k off and top-p on, both sides sort every row, and the "
        "sort dominates."
    )
    return section
