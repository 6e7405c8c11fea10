"""A byte-level BPE tokenizer (GPT-4's pre-tokenizer): correct, and slow.

Every id it produces is right. Make `encode` and `train` fast without changing one
of them. `drill test --profile` shows where the time goes.
"""

from __future__ import annotations

from collections.abc import Collection
from collections.abc import Set as AbstractSet
from typing import Literal

import regex  # the third-party package: Python's `re` has no \p{L}

# GPT-4's pre-tokenizer pattern (tiktoken's cl100k_base).
GPT4_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)

Pair = tuple[int, int]


def get_stats(ids: list[int], counts: dict[Pair, int]) -> None:
    """Add the adjacent pairs of `ids` to `counts`: [1, 2, 1, 2] adds (1, 2) twice, (2, 1) once."""
    for i in range(len(ids) - 1):
        pair = (ids[i], ids[i + 1])
        counts[pair] = counts.get(pair, 0) + 1


def merge(ids: list[int], pair: Pair, new_id: int) -> list[int]:
    """Replace every `pair` in `ids` by `new_id`, left to right: [a, a, a] -> [new, a]."""
    out: list[int] = []
    i = 0
    while i < len(ids):
        if i < len(ids) - 1 and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


class BPETokenizer:
    """Ids 0..255 are the bytes; merge number k (from 0) creates id 256 + k."""

    def __init__(self, merges: dict[Pair, int], pattern: str = GPT4_PATTERN) -> None:
        self.merges: dict[Pair, int] = dict(merges)  # (left, right) -> new id, in the order learned
        self.pattern = pattern
        self.vocab: dict[int, bytes] = {i: bytes([i]) for i in range(256)}
        for (a, b), new_id in self.merges.items():
            self.vocab[new_id] = self.vocab[a] + self.vocab[b]
        self.special_tokens: dict[str, int] = {}

    @classmethod
    def train(cls, text: str, vocab_size: int, pattern: str = GPT4_PATTERN) -> BPETokenizer:
        """Learn `vocab_size - 256` merges from `text` (fewer if no pair is left).

        Each merge is the most frequent adjacent pair over all chunks; ties go to the
        smallest pair of ids.
        """
        if vocab_size < 256:
            raise ValueError(f"vocab_size must be at least 256, got {vocab_size}")
        chunks = regex.findall(pattern, text)
        words = [list(chunk.encode("utf-8")) for chunk in chunks]
        merges: dict[Pair, int] = {}
        for new_id in range(256, vocab_size):
            counts: dict[Pair, int] = {}
            for word in words:
                get_stats(word, counts)
            if not counts:
                break  # no chunk has two ids left
            best = max(counts, key=lambda p: (counts[p], -p[0], -p[1]))
            merges[best] = new_id
            words = [merge(word, best, new_id) for word in words]
        return cls(merges, pattern)

    def register_special_tokens(self, tokens: dict[str, int]) -> None:
        """Add special tokens, e.g. {"<|endoftext|>": 100257}; their ids must be unused."""
        for token, token_id in tokens.items():
            if token_id in self.vocab:
                raise ValueError(f"special token {token!r}: id {token_id} is an ordinary token")
            self.special_tokens[token] = token_id

    def encode(
        self,
        text: str,
        *,
        allowed_special: Literal["all"] | AbstractSet[str] = frozenset(),
        disallowed_special: Literal["all"] | Collection[str] = "all",
    ) -> list[int]:
        """Token ids of `text`, with tiktoken's rules for special tokens.

        `allowed_special` become their id; `disallowed_special` ("all": every registered
        one that is not allowed) raise ValueError; any other is ordinary text.
        """
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
        # Cut the allowed special tokens out first (longest first), so the pattern never
        # sees them; the pieces between them are ordinary text.
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
        ids: list[int] = []
        for chunk in regex.compile(self.pattern).findall(text):
            ids.extend(self.encode_chunk(chunk.encode("utf-8")))
        return ids

    def encode_chunk(self, data: bytes) -> list[int]:
        """BPE on one chunk: merge the pair learned earliest, again and again."""
        ids = list(data)
        while len(ids) >= 2:
            pairs: dict[Pair, int] = {}
            get_stats(ids, pairs)
            best = min(pairs, key=lambda p: self.merges.get(p, float("inf")))
            if best not in self.merges:
                break  # no adjacent pair was ever merged
            ids = merge(ids, best, self.merges[best])
        return ids

    def decode(self, ids: list[int]) -> str:
        """The text of `ids`; bytes that are not valid UTF-8 become U+FFFD."""
        data = b""
        for i in ids:
            if i in self.vocab:
                data += self.vocab[i]
            else:
                token = next(t for t, t_id in self.special_tokens.items() if t_id == i)
                data += token.encode("utf-8")
        return data.decode("utf-8", errors="replace")

    def mergeable_ranks(self) -> dict[bytes, int]:
        """bytes -> id of every ordinary token, as tiktoken's `Encoding` takes them."""
        return {token: i for i, token in self.vocab.items()}
