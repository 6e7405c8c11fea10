"""A byte-level BPE tokenizer (GPT-4's pre-tokenizer), made fast in pure Python.

Where the original spent its time, and what replaced it:

- encode ran BPE on every chunk occurrence; text repeats its words, so the ids of each
  distinct chunk are cached (bounded, so a long-lived tokenizer cannot grow forever);
- each BPE step counted every pair into a dict and called a lambda per pair to find
  the lowest rank, then rebuilt the chunk; now `ranks[i]` holds the rank of the pair at i,
  the minimum is one C-level `min`, and a merge updates only its two neighbours;
- training recounted every pair of every chunk occurrence per merge; now each distinct
  chunk is counted once with its frequency, pair counts are kept up to date, a pair
  index says which chunks a merge touches, and a heap with lazy deletion gives the top
  pair.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Collection
from collections.abc import Set as AbstractSet
from itertools import pairwise, repeat
from typing import Literal

import regex  # the third-party package: Python's `re` has no \p{L}

# GPT-4's pre-tokenizer pattern (tiktoken's cl100k_base).
GPT4_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)

Pair = tuple[int, int]
NO_MERGE = 1 << 62  # the rank of a pair that never merges: above every real one
CACHE_LIMIT = 1 << 16  # distinct chunks kept before the cache starts over


def merge(ids: list[int], pair: Pair, new_id: int) -> list[int]:
    """Replace every `pair` in `ids` by `new_id`, left to right: [a, a, a] -> [new, a]."""
    out: list[int] = []
    i, n = 0, len(ids)
    while i < n:
        if i + 1 < n and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def learn_merges(words: list[list[int]], freqs: list[int], num_merges: int) -> dict[Pair, int]:
    """Up to `num_merges` merges from distinct chunks `words` occurring `freqs` times.

    `counts` is kept exact; `where` may list chunks that lost a pair (merging them again
    changes nothing). The heap holds (-count, pair) entries that may be stale: a popped
    entry whose count is no longer current is pushed back with the current count. Only
    pairs containing the new id can gain count in a merge, and those are pushed then, so
    the first entry that matches its count is the true top (ties: smallest pair).
    """
    counts: Counter[Pair] = Counter()
    where: defaultdict[Pair, set[int]] = defaultdict(set)
    for w, word in enumerate(words):
        for pair in pairwise(word):
            counts[pair] += freqs[w]
            where[pair].add(w)
    heap = [(-count, pair) for pair, count in counts.items()]
    heapq.heapify(heap)
    merges: dict[Pair, int] = {}
    while heap and len(merges) < num_merges:
        neg_count, pair = heapq.heappop(heap)
        count = counts.get(pair, 0)
        if count != -neg_count:
            if count > 0:
                heapq.heappush(heap, (-count, pair))
            continue
        new_id = 256 + len(merges)
        merges[pair] = new_id
        del counts[pair]
        born: set[Pair] = set()
        for w in where.pop(pair):
            word, freq = words[w], freqs[w]
            new_word = merge(word, pair, new_id)
            if len(new_word) == len(word):
                continue
            for p in pairwise(word):
                if p != pair:
                    counts[p] -= freq
            for p in pairwise(new_word):
                counts[p] += freq
                where[p].add(w)
                if new_id in p:
                    born.add(p)
            words[w] = new_word
        for p in born:
            heapq.heappush(heap, (-counts[p], p))
    return merges


class BPETokenizer:
    """Ids 0..255 are the bytes; merge number k (from 0) creates id 256 + k."""

    def __init__(self, merges: dict[Pair, int], pattern: str = GPT4_PATTERN) -> None:
        self.merges: dict[Pair, int] = dict(merges)  # (left, right) -> new id, in the order learned
        self.pattern = pattern
        self.vocab: dict[int, bytes] = {i: bytes([i]) for i in range(256)}
        for (a, b), new_id in self.merges.items():
            self.vocab[new_id] = self.vocab[a] + self.vocab[b]
        self.special_tokens: dict[str, int] = {}
        self._findall = regex.compile(pattern).findall  # compiled once, not per call
        self._decoder: dict[int, bytes] = dict(self.vocab)
        self._cache: dict[str, list[int]] = {}

    @classmethod
    def train(cls, text: str, vocab_size: int, pattern: str = GPT4_PATTERN) -> BPETokenizer:
        """Learn `vocab_size - 256` merges from `text` (fewer if no pair is left)."""
        if vocab_size < 256:
            raise ValueError(f"vocab_size must be at least 256, got {vocab_size}")
        chunk_counts = Counter(regex.findall(pattern, text))
        words = [list(chunk.encode("utf-8")) for chunk in chunk_counts]
        merges = learn_merges(words, list(chunk_counts.values()), vocab_size - 256)
        return cls(merges, pattern)

    def register_special_tokens(self, tokens: dict[str, int]) -> None:
        """Add special tokens, e.g. {"<|endoftext|>": 100257}; their ids must be unused."""
        for token, token_id in tokens.items():
            if token_id in self.vocab:
                raise ValueError(f"special token {token!r}: id {token_id} is an ordinary token")
            self.special_tokens[token] = token_id
            self._decoder[token_id] = token.encode("utf-8")

    def encode(
        self,
        text: str,
        *,
        allowed_special: Literal["all"] | AbstractSet[str] = frozenset(),
        disallowed_special: Literal["all"] | Collection[str] = "all",
    ) -> list[int]:
        """Token ids of `text`, with tiktoken's rules for special tokens."""
        if allowed_special == "all":
            allowed = set(self.special_tokens)
        else:
            allowed = set(allowed_special) & set(self.special_tokens)
        if disallowed_special == "all":
            disallowed = set(self.special_tokens) - allowed
        else:
            disallowed = set(disallowed_special)
        for token in disallowed:
            if token in text:
                raise ValueError(f"text contains the special token {token!r}, which is not allowed")
        if not allowed:
            return self.encode_ordinary(text)
        alternation = "|".join(regex.escape(t) for t in sorted(allowed, key=len, reverse=True))
        ids: list[int] = []
        for i, part in enumerate(regex.split(f"({alternation})", text)):
            if i % 2 == 1:
                ids.append(self.special_tokens[part])
            else:
                ids.extend(self.encode_ordinary(part))
        return ids

    def encode_ordinary(self, text: str) -> list[int]:
        """Token ids of `text`, special tokens treated as ordinary text."""
        cache = self._cache
        if len(cache) > CACHE_LIMIT:
            cache.clear()
        ids: list[int] = []
        for chunk in self._findall(text):
            chunk_ids = cache.get(chunk)
            if chunk_ids is None:
                chunk_ids = cache[chunk] = self.encode_chunk(chunk.encode("utf-8"))
            ids.extend(chunk_ids)
        return ids

    def encode_chunk(self, data: bytes) -> list[int]:
        """BPE on one chunk: merge the pair learned earliest, again and again.

        ranks[i] is the rank of (ids[i], ids[i + 1]); merging at i changes only the
        ranks of its two neighbours. Equal lowest ranks are the same pair: the leftmost
        goes first, as a left-to-right merge of all of them would do.
        """
        get = self.merges.get
        ids = list(data)
        ranks = list(map(get, pairwise(ids), repeat(NO_MERGE)))
        while ranks:
            best = min(ranks)
            if best == NO_MERGE:
                break
            i = ranks.index(best)
            ids[i] = best  # a pair's rank is the id it merges into
            del ids[i + 1], ranks[i]
            if i > 0:
                ranks[i - 1] = get((ids[i - 1], best), NO_MERGE)
            if i < len(ranks):
                ranks[i] = get((best, ids[i + 1]), NO_MERGE)
        return ids

    def decode(self, ids: list[int]) -> str:
        """The text of `ids`; bytes that are not valid UTF-8 become U+FFFD."""
        return b"".join(map(self._decoder.__getitem__, ids)).decode("utf-8", errors="replace")

    def mergeable_ranks(self) -> dict[bytes, int]:
        """bytes -> id of every ordinary token, as tiktoken's `Encoding` takes them."""
        return {token: i for i, token in self.vocab.items()}
