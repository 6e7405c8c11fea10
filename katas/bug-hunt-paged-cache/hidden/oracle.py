"""Oracles for the paged KV cache, written without blocks.

- `prefix_rows`: the K/V a model would compute, one row per token, each row a function
  of the whole prefix up to its token (so a prefix-cache hit on the wrong prefix, or a
  row taken from another sequence, shows as a wrong value).
- `DictOfListsCache`: each sequence is a plain list of (k, v) rows; fork copies the
  list, free deletes it. What a sequence should gather is its list, stacked.
- `check_state`: reads every table, ref count and gather in one round trip and checks
  them against the model and the block accounting invariants.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import torch

from grader.judge.remote import batch

H, D = 2, 3  # n_kv_heads, head_dim of every cache in the suite


def _row(code: int, phase: float) -> torch.Tensor:
    i = torch.arange(H * D, dtype=torch.float64)
    return torch.sin(code * 0.0137 + i * 1.31 + phase).reshape(H, D).float()


def prefix_rows(tokens: list[int], start: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """K and V rows of tokens[start:], [n, H, D] each; row p depends on tokens[: p + 1]."""
    code = 0
    ks: list[torch.Tensor] = []
    vs: list[torch.Tensor] = []
    for p, token in enumerate(tokens):
        code = (code * 131 + token + 7) % 1_000_003
        if p >= start:
            ks.append(_row(code, 0.0))
            vs.append(_row(code, 1.0))
    if not ks:
        return torch.zeros(0, H, D), torch.zeros(0, H, D)
    return torch.stack(ks), torch.stack(vs)


class DictOfListsCache:
    """The obvious cache: every sequence its own list of (token, k row, v row)."""

    def __init__(self) -> None:
        self.seqs: dict[int, list[tuple[int, torch.Tensor, torch.Tensor]]] = {}

    def add(self, seq_id: int) -> None:
        assert seq_id not in self.seqs
        self.seqs[seq_id] = []

    def append(self, seq_id: int, tokens: list[int], k: torch.Tensor, v: torch.Tensor) -> None:
        for i, token in enumerate(tokens):
            self.seqs[seq_id].append((token, k[i].clone(), v[i].clone()))

    def fork(self, parent: int, child: int) -> None:
        self.seqs[child] = list(self.seqs[parent])

    def free(self, seq_id: int) -> None:
        del self.seqs[seq_id]

    def tokens(self, seq_id: int) -> list[int]:
        return [t for t, _, _ in self.seqs[seq_id]]

    def gather(self, seq_id: int) -> tuple[torch.Tensor, torch.Tensor]:
        rows = self.seqs[seq_id]
        if not rows:
            return torch.zeros(0, H, D), torch.zeros(0, H, D)
        return torch.stack([k for _, k, _ in rows]), torch.stack([v for _, _, v in rows])


def first_bad_row(got: torch.Tensor, want: torch.Tensor) -> str | None:
    """None when equal; else a sentence saying how they differ."""
    if tuple(got.shape) != tuple(want.shape):
        return f"shape {tuple(got.shape)}, expected {tuple(want.shape)}"
    if got.dtype != want.dtype:
        got = got.to(want.dtype)
    bad = [p for p in range(want.shape[0]) if not torch.allclose(got[p], want[p], atol=1e-6)]
    if bad:
        return f"{len(bad)} of {want.shape[0]} rows differ, the first at position {bad[0]}"
    return None


def check_state(
    cache: Any, model: DictOfListsCache, num_blocks: int, block_size: int, where: str
) -> None:
    """Every live sequence gathers its rows; tables and ref counts add up.

    Two round trips: the tables, counts and gathers, then the ref counts of the held
    blocks (a block that is neither held nor free shows in free + held != the pool)."""
    ids = sorted(model.seqs)
    calls: list[tuple[Any, tuple[int, ...]]] = [(cache.num_free_blocks, ())]
    calls += [(cache.block_table, (s,)) for s in ids]
    calls += [(cache.num_tokens, (s,)) for s in ids]
    calls += [(cache.gather, (s,)) for s in ids]
    free, *rest = batch(calls)
    n = len(ids)
    tables = dict(zip(ids, rest[:n], strict=True))
    counts = dict(zip(ids, rest[n : 2 * n], strict=True))
    gathers = dict(zip(ids, rest[2 * n :], strict=True))
    for s in ids:
        want_k, want_v = model.gather(s)
        assert counts[s] == len(want_k), (
            f"{where}: sequence {s} holds {len(want_k)} tokens, num_tokens says {counts[s]}"
        )
        for name, got, want in (("keys", gathers[s][0], want_k), ("values", gathers[s][1], want_v)):
            problem = first_bad_row(got, want)
            assert problem is None, f"{where}: gather({s}) {name}: {problem}"
    holders: Counter[int] = Counter()
    for s, table in tables.items():
        assert len(set(table)) == len(table), (
            f"{where}: sequence {s}'s table repeats a block: {table}"
        )
        need = math.ceil(counts[s] / block_size)
        assert len(table) == need, (
            f"{where}: sequence {s} has {counts[s]} tokens in {len(table)} blocks, expected {need}"
        )
        holders.update(table)
    held = sorted(holders)
    refs = batch([(cache.ref_count, (b,)) for b in held])
    for b, r in zip(held, refs, strict=True):
        assert r == holders[b], (
            f"{where}: block {b} has ref count {r} but {holders[b]} tables hold it"
        )
    assert free + len(holders) == num_blocks, (
        f"{where}: {free} free + {len(holders)} held blocks != {num_blocks} blocks in the pool"
    )


def expected_slots(table: list[int], block_size: int, positions: list[int]) -> list[int]:
    return [table[p // block_size] * block_size + p % block_size for p in positions]


def prefill(cache: Any, model: DictOfListsCache, seq_id: int, prompt: list[int]) -> int:
    """Start a sequence in both caches; append what the prefix cache did not have."""
    cached: int = cache.add_sequence(seq_id, prompt)
    k, v = prefix_rows(prompt, cached)
    cache.append(seq_id, prompt[cached:], k, v)
    model.add(seq_id)
    model.append(seq_id, prompt, *prefix_rows(prompt))
    return cached


def extend(cache: Any, model: DictOfListsCache, seq_id: int, tokens: list[int]) -> list[int]:
    """Append tokens (with the rows a model would compute) to both caches; the slots."""
    history = model.tokens(seq_id)
    k, v = prefix_rows(history + tokens, len(history))
    slots = cache.append(seq_id, tokens, k, v)
    model.append(seq_id, tokens, k, v)
    return [int(s) for s in slots]


def decode(cache: Any, model: DictOfListsCache, seq_ids: list[int], tokens: list[int]) -> list[int]:
    """One batched decode step through slot_mapping and write; the slots."""
    rows = [
        prefix_rows([*model.tokens(s), t], len(model.tokens(s)))
        for s, t in zip(seq_ids, tokens, strict=True)
    ]
    k = torch.cat([r[0] for r in rows])
    v = torch.cat([r[1] for r in rows])
    slots = cache.slot_mapping(seq_ids, tokens)
    cache.write(slots, k, v)
    for i, (s, t) in enumerate(zip(seq_ids, tokens, strict=True)):
        model.append(s, [t], k[i : i + 1], v[i : i + 1])
    return [int(x) for x in slots]
