"""Memory and speed cases: both measure training, the heart of this kata.

Each call trains on its own text (the corpus's paragraphs in an order drawn per
call), so no call can be answered from an earlier one. A call returns the merges
learned, which are compared with the reference's on the same text.
"""

from __future__ import annotations

from typing import Any

from oracle import sampled_text

from grader.judge.measuring import Case

MEMORY_SEED, SPEED_SEED = 10_000, 20_000  # text seeds apart from the hidden tests'


def _training(impl: Any, chars: int, vocab_size: int, seed: int) -> Case:
    # The class method through an instance (the proxy resolves one name at a time),
    # looked up once here so that a timed call is the training and one read of merges.
    train = impl.BPETokenizer({}).train

    def call(text: str) -> object:
        return train(text, vocab_size).merges

    return Case(call, inputs=lambda i: (sampled_text(seed + i, chars),))


def memory_case(impl: Any, device: str) -> Case:
    """Train 768 merges on 200 KB of English (the worker's peak resident memory).

    Storing each distinct chunk once with its count keeps the peak near the
    reference's; keeping every chunk occurrence as its own list costs about 3x.
    """
    return _training(impl, 200_000, 1024, MEMORY_SEED)


def speed_case(impl: Any, device: str, size: int | None) -> Case:
    """Train 1,792 merges on 100 KB of English (about 0.2 s for the reference)."""
    return _training(impl, 100_000, 2048, SPEED_SEED)
