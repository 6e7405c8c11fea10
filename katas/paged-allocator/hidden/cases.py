"""Speed case of the paged-allocator kata.

No memory case: the allocator's own state is O(num_blocks) small ints whatever the
design (a queue, a ref count per block, the tables), a few MB at 100k blocks, while
the memory that matters in serving is the K/V pool the block ids index, which the
allocator never touches. Any sensible layout passes and a budget would only punish
per-block objects, which vLLM itself uses; time is where the designs differ.
"""

from __future__ import annotations

from typing import Any

from grader.judge.measuring import Case
from grader.judge.remote import batch
from reference.components import Components
from reference.divergence import first_divergence, tiny_model

BLOCK_SIZE = 2  # small blocks: many block operations per token
N_SEQS = 8  # sequences per call; half of them are forked
PROMPT = 199  # tokens: 100 blocks, the last half full
DECODE = 4  # tokens appended at once (speculative decoding): one slot, then 2 new blocks
RESIDENTS = 8  # long-lived sequences (8 x 14 blocks) so the pool is not empty


def speed_case(impl: Any, device: str, size: int | None) -> Case:
    """A serving step's churn on a pool of `size` blocks (100k if None).

    Each call: allocate 8 long prompts, fork 4 of them, append 4 tokens to all 12
    sequences (a forked prompt's append copies its shared, half-full last block),
    free all 12: about 830 blocks taken and returned in 37 operations, the same at
    every pool size (the 1k pool holds them beside the residents), so an O(1)
    allocator takes the same time at 1k and 100k blocks while one that scans or
    shifts its free list slows down with the pool (measured: about 6x, and 4 to 5x
    the reference at 100k). Every call frees what it took, so the pool returns to the
    same number of free blocks.

    The call's operations go in one round trip (`batch`): one each would be mostly
    channel. What the channel still costs per operation and per token (encoding here,
    decoding in the worker) is the same for every design, so few operations that
    each take many blocks keep the allocator's work most of what is timed. Each call
    has its own sequence ids and tokens; its results (block tables, copies, the free
    count) are compared with the reference's, whose pool went through the same calls.
    """
    a = impl.BlockAllocator(size or 100_000, BLOCK_SIZE)
    for r in range(RESIDENTS):
        a.allocate(-1 - r, [2] * 27)
    allocate, fork, append, free = a.allocate, a.fork, a.append, a.free
    num_free_blocks = a.num_free_blocks

    def inputs(i: int) -> tuple[Any, ...]:
        base = 2 * N_SEQS * i  # fresh sequence ids for every call
        parents = [base + s for s in range(N_SEQS)]
        children = [base + N_SEQS + s for s in range(0, N_SEQS, 2)]
        everyone = parents + children
        calls: list[tuple[Any, tuple[Any, ...]]] = []
        calls += [(allocate, (s, [i % 1000 + s % 7] * PROMPT)) for s in parents]
        calls += [(fork, (base + s, base + N_SEQS + s)) for s in range(0, N_SEQS, 2)]
        calls += [(append, (s, [i % 1000 + 1] * DECODE)) for s in everyone]
        calls += [(free, (s,)) for s in everyone]
        calls.append((num_free_blocks, ()))
        return (calls,)

    return Case(batch, inputs)


# Prompts longer than the tiny model's window of 8, of different lengths.
INTEGRATION_PROMPTS = [
    [5, 17, 3, 44, 2, 9, 31, 8, 60, 12, 7],
    [71, 4, 19, 33, 26, 1, 90, 55, 13, 40],
]


def integration_case(impl: Any, device: str) -> str | None:
    """Your allocator inside the reference engine's paged KV cache: a tiny Mistral
    generates with blocks of 4 tokens; the tokens and every layer's hidden states must
    match the reference engine."""
    model = tiny_model(window=None, device=device)
    components = Components(block_allocator=impl.BlockAllocator)
    return first_divergence(model, INTEGRATION_PROMPTS, 10, components, cache="paged")
