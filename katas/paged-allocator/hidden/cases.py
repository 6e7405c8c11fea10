"""Speed case of the paged-allocator kata.

No memory case: the allocator's own state is O(num_blocks) small ints whatever the
design (a queue, a ref count per block, the tables), a few MB at 100k blocks, while
the memory that matters in serving is the K/V pool the block ids index, which the
allocator never touches. Any sensible layout passes and a budget would only punish
per-block objects, which vLLM itself uses; time is where the designs differ.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from reference.divergence import first_divergence, tiny_model
from reference.engine import Components

BLOCK_SIZE = 4  # small blocks: many block operations per token
N_SEQS = 32  # sequences per call; half of them are forked
PROMPT = [1] * 42  # 11 blocks, the last half full
DECODE_STEPS = 8  # 42 + 8 = 50 tokens: every sequence takes two more blocks
RESIDENTS = 8  # long-lived sequences (8 x 14 blocks) so the pool is not empty


def speed_case(impl: ModuleType, device: str, size: int | None) -> Callable[[], object]:
    """A serving step's churn on a pool of `size` blocks (100k if None).

    Each call: allocate 32 prompts, fork 16 of them, 8 decode steps of one token for
    all 48 sequences (the forks' first step is a copy-on-write), free all 48: about
    500 blocks taken and returned and 400 appends, the same at every pool size,
    so an O(1) allocator takes the same time at 1k and 100k blocks while one that
    scans or shifts its free list slows down with the pool. Every call frees what it
    took, so the pool returns to the same number of free blocks.
    """
    a = impl.BlockAllocator(size or 100_000, BLOCK_SIZE)
    for r in range(RESIDENTS):
        a.allocate(-1 - r, [2] * 55)
    parents = list(range(N_SEQS))
    children = [N_SEQS + s for s in range(0, N_SEQS, 2)]
    everyone = parents + children
    token = [7]

    def churn() -> int:
        for s in parents:
            a.allocate(s, PROMPT)
        for s in range(0, N_SEQS, 2):
            a.fork(s, N_SEQS + s)
        for _ in range(DECODE_STEPS):
            for s in everyone:
                a.append(s, token)
        for s in everyone:
            a.free(s)
        n_free: int = a.num_free_blocks()
        return n_free

    return churn


# Prompts longer than the tiny model's window of 8, of different lengths.
INTEGRATION_PROMPTS = [
    [5, 17, 3, 44, 2, 9, 31, 8, 60, 12, 7],
    [71, 4, 19, 33, 26, 1, 90, 55, 13, 40],
]


def integration_case(impl: ModuleType, device: str) -> str | None:
    """Your allocator inside the reference engine's paged KV cache: a tiny Mistral
    generates with blocks of 4 tokens; the tokens and every layer's hidden states must
    match the reference engine."""
    model = tiny_model(window=None, device=device)
    components = Components(block_allocator=impl.BlockAllocator)
    return first_divergence(model, INTEGRATION_PROMPTS, 10, components, cache="paged")
