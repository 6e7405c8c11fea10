# BUG: incremental counts, but each merge scans every pair for the maximum (O(pairs) per merge)
"""Byte-level BPE tokenizer: train, encode, decode, special tokens.

Training keeps pair counts up to date instead of recounting them for each merge:
each distinct chunk is stored once with its frequency, `where` maps a pair to the
chunks that contain it, and a heap with lazy deletion yields the next pair. A merge
only rewrites the chunks that contain its pair.
"""

from __future__ import annotations

import heapq
import importlib
import re
from collections import Counter, defaultdict
from collections.abc import Collection
from collections.abc import Set as AbstractSet
from itertools import pairwise
from typing import Literal

# GPT-4's pre-tokenizer pattern (tiktoken's cl100k_base). Use it as is.
GPT4_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)

# The third-party `regex` package (Python's `re` has no \p{L}). It ships without type
# stubs, so it is loaded as a plain module object: mypy --strict stays clean.
_regex = importlib.import_module("regex")

Pair = tuple[int, int]
NO_MERGE = 1 << 62


def split_chunks(text: str, pattern: str = GPT4_PATTERN) -> list[str]:
    """Cut `text` into the chunks that BPE works on (given, use as is).

    split_chunks("Hello world!!") == ["Hello", " world", "!!"]
    """
    chunks: list[str] = _regex.findall(pattern, text)
    return chunks


def merge(ids: list[int], pair: Pair, new_id: int) -> list[int]:
    """Replace `pair` by `new_id` left to right: [a, a, a] with (a, a) -> [new, a]."""
    out: list[int] = []
    i = 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


class BPETokenizer:
    """Ids 0..255 are the bytes; merge number k (from 0) creates id 256 + k."""

    def __init__(self, merges: dict[Pair, int], pattern: str = GPT4_PATTERN) -> None:
        self.merges: dict[Pair, int] = dict(merges)  # in the order learned
        self.pattern = pattern
        self.vocab: dict[int, bytes] = {i: bytes([i]) for i in range(256)}
        for (a, b), new_id in self.merges.items():
            self.vocab[new_id] = self.vocab[a] + self.vocab[b]
        self.special_tokens: dict[str, int] = {}
        self._decoder: dict[int, bytes] = dict(self.vocab)
        self._cache: dict[str, list[int]] = {}

    @classmethod
    def train(cls, text: str, vocab_size: int, pattern: str = GPT4_PATTERN) -> BPETokenizer:
        """Learn vocab_size - 256 merges from `text` (fewer if no pair is left)."""
        if vocab_size < 256:
            raise ValueError(f"vocab_size must be >= 256, got {vocab_size}")
        chunk_counts = Counter(split_chunks(text, pattern))
        words = [list(chunk.encode("utf-8")) for chunk in chunk_counts]
        freqs = list(chunk_counts.values())

        counts: Counter[Pair] = Counter()
        where: defaultdict[Pair, set[int]] = defaultdict(set)  # pair -> chunks holding it
        for w, word in enumerate(words):
            for pair in pairwise(word):
                counts[pair] += freqs[w]
                where[pair].add(w)

        merges: dict[Pair, int] = {}
        while len(merges) < vocab_size - 256:
            top = max(counts.values(), default=0)
            if top <= 0:
                break
            pair = min(p for p, c in counts.items() if c == top)
            new_id = 256 + len(merges)
            merges[pair] = new_id
            for w in where.pop(pair):
                word = words[w]
                new_word = merge(word, pair, new_id)
                if len(new_word) == len(word):
                    continue
                for p in pairwise(word):
                    counts[p] -= freqs[w]
                for p in pairwise(new_word):
                    counts[p] += freqs[w]
                    where[p].add(w)
                words[w] = new_word
        return cls(merges, pattern)

    def register_special_tokens(self, tokens: dict[str, int]) -> None:
        """Add special tokens, e.g. {"<|endoftext|>": 1000}."""
        for token, token_id in tokens.items():
            if token_id in self.vocab:
                raise ValueError(f"special token id {token_id} is an ordinary token")
            self.special_tokens[token] = token_id
            self._decoder[token_id] = token.encode("utf-8")

    def encode(
        self,
        text: str,
        *,
        allowed_special: Literal["all"] | AbstractSet[str] = frozenset(),
        disallowed_special: Literal["all"] | Collection[str] = "all",
    ) -> list[int]:
        """Token ids of `text`; special tokens as tiktoken treats them."""
        specials = set(self.special_tokens)
        allowed = specials if allowed_special == "all" else specials & set(allowed_special)
        disallowed = specials - allowed if disallowed_special == "all" else disallowed_special
        for token in disallowed:
            if token in text:
                raise ValueError(f"disallowed special token {token!r} in text")
        if not allowed:
            return self._encode_ordinary(text)
        # Split on special tokens before the regex ever sees the text; longest first.
        alternation = "|".join(re.escape(t) for t in sorted(allowed, key=len, reverse=True))
        ids: list[int] = []
        for i, part in enumerate(re.split(f"({alternation})", text)):
            if i % 2 == 1:
                ids.append(self.special_tokens[part])
            else:
                ids.extend(self._encode_ordinary(part))
        return ids

    def _encode_ordinary(self, text: str) -> list[int]:
        ids: list[int] = []
        for chunk in split_chunks(text, self.pattern):
            if chunk not in self._cache:
                self._cache[chunk] = self._encode_chunk(chunk.encode("utf-8"))
            ids.extend(self._cache[chunk])
        return ids

    def _encode_chunk(self, data: bytes) -> list[int]:
        """Apply merges in the order learned: always the lowest-ranked pair present."""
        ids = list(data)
        while len(ids) >= 2:
            pair = min(pairwise(ids), key=lambda p: self.merges.get(p, NO_MERGE))
            if pair not in self.merges:
                break
            ids = merge(ids, pair, self.merges[pair])
        return ids

    def decode(self, ids: list[int]) -> str:
        """Join the bytes first: a token may hold half a character."""
        return b"".join(self._decoder[i] for i in ids).decode("utf-8", errors="replace")
