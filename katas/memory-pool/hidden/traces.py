"""Alloc/free traces shaped like an inference server's: loading a model, decoding with a
growing KV cache, and a fragmentation case. Sizes are drawn from fixed seeds, so every
grade replays the same traces.
"""

from __future__ import annotations

import random

from oracle import KIB, MIB, Step


class Trace:
    """Steps in the runner's format; `malloc` returns the allocation's index."""

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.n = 0

    def malloc(self, nbytes: int) -> int:
        self.steps.append(("malloc", nbytes))
        self.n += 1
        return self.n - 1

    def free(self, index: int) -> None:
        self.steps.append(("free", index))

    def empty_cache(self) -> None:
        self.steps.append(("empty_cache",))


def model_loading(seed: int) -> list[Step]:
    """Load a small decoder's weights the way a checkpoint loader does: each tensor is
    read into a float32 staging buffer, converted into its bfloat16 weight, and the
    staging buffer is freed (holes of every size, refilled by later weights). Then
    the model is unloaded, the cache emptied, and a second model of other sizes loaded
    into what is left (the first model's embedding stays, as a shared vocabulary)."""
    rng = random.Random(seed)
    t = Trace()

    def load(numel: int) -> int:
        staging = t.malloc(4 * numel)
        weight = t.malloc(2 * numel)
        t.free(staging)
        return weight

    vocab, dim = 8000 + rng.randrange(0, 4000), 1024
    embedding = load(vocab * dim)  # 16 to 24 MiB in bfloat16: a segment of its own
    weights: list[int] = []
    for _ in range(4):
        hidden = rng.choice([2048, 2560, 2816, 3072])
        kv = rng.choice([128, 256, 512])
        weights.append(load(dim))  # a norm: 2 KiB, the small pool
        weights += [load(dim * dim), load(kv * dim), load(kv * dim), load(dim * dim)]
        weights.append(load(dim))
        weights += [load(hidden * dim) for _ in range(3)]  # 4 to 6 MiB, 20 MiB segments
    weights.append(load(dim))
    for w in weights:
        t.free(w)
    t.empty_cache()
    for _ in range(3):
        hidden = rng.choice([1536, 1792])
        weights = [load(dim * dim) for _ in range(4)] + [load(hidden * dim) for _ in range(3)]
        weights.append(load(rng.randrange(1, 4096)))  # odd sizes: rounding to 512
    t.free(embedding)
    t.empty_cache()
    return t.steps


def decode(seed: int) -> list[Step]:
    """Decode 48 tokens for 2 layers: per layer, the K and V caches grow by one token a
    step the way `torch.cat` grows them (a new, larger tensor, then the old one freed),
    between short-lived activations (hidden states, attention scores, logits). The
    caches start at 480 tokens of 2 KiB (960 KiB, the small pool) and cross 1 MiB at
    token 513, moving to the large pool."""
    rng = random.Random(seed)
    t = Trace()
    per_token = 2 * KIB  # 8 kv heads * 128 dims * 2 bytes
    length = 480
    caches = [t.malloc(length * per_token) for _ in range(4)]  # (layer, K / V)
    for _ in range(48):
        x = t.malloc(rng.choice([4, 8]) * KIB)
        for i in range(4):
            grown = t.malloc((length + 1) * per_token)
            t.free(caches[i])
            caches[i] = grown
            if i % 2:
                scores = t.malloc(4 * 32 * (length + 1))  # fp32 [heads, 1, length]
                out = t.malloc(8 * KIB)
                t.free(scores)
                t.free(x)
                x = out
        logits = t.malloc(4 * rng.choice([32000, 32768]))
        t.free(logits)
        t.free(x)
        length += 1
    for c in caches:
        t.free(c)
    return t.steps


FRAGMENTATION_CAPACITY = 28 * MIB


def fragmentation() -> list[Step]:
    """Ten 2 MiB blocks fill a 20 MiB segment; nine are freed, the last kept. With
    coalescing they are one free 18 MiB block, which a 16 MiB request takes. Without
    coalescing they are nine 2 MiB pieces: the request needs a new 16 MiB segment, only
    8 MiB of the 28 MiB buffer are left, and empty_cache cannot release a segment with a
    live block: out of memory. An allocator that never splits holds the whole segment
    for the first 2 MiB block and runs out at the second."""
    t = Trace()
    blocks = [t.malloc(2 * MIB) for _ in range(10)]
    for b in blocks[:9]:
        t.free(b)
    big = t.malloc(16 * MIB)
    small = t.malloc(2 * MIB)
    t.free(big)
    t.free(small)
    t.malloc(18 * MIB)  # the coalesced 18 MiB again, exactly
    return t.steps
