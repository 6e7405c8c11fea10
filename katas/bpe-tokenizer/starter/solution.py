"""Byte-level BPE tokenizer: train, encode, decode, special tokens.

Fill in the methods of BPETokenizer. GPT4_PATTERN and split_chunks are given.
"""

from __future__ import annotations

from collections.abc import Collection
from collections.abc import Set as AbstractSet
from typing import Literal

import regex  # the third-party package: Python's `re` has no \p{L}

# GPT-4's pre-tokenizer pattern (tiktoken's cl100k_base). Use it as is.
GPT4_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)


def split_chunks(text: str, pattern: str = GPT4_PATTERN) -> list[str]:
    """Cut `text` into the chunks that BPE works on (given, use as is).

    split_chunks("Hello world!!") == ["Hello", " world", "!!"]
    """
    chunks: list[str] = regex.findall(pattern, text)
    return chunks


class BPETokenizer:
    """Ids 0..255 are the bytes; merge number k (from 0) creates id 256 + k."""

    def __init__(self, merges: dict[tuple[int, int], int], pattern: str = GPT4_PATTERN) -> None:
        self.merges: dict[tuple[int, int], int] = dict(merges)  # in the order learned
        self.pattern = pattern
        self.vocab: dict[int, bytes] = {}  # id -> bytes, for 0..255 and every merge
        self.special_tokens: dict[str, int] = {}
        raise NotImplementedError

    @classmethod
    def train(cls, text: str, vocab_size: int, pattern: str = GPT4_PATTERN) -> BPETokenizer:
        """Learn vocab_size - 256 merges from `text` (fewer if no pair is left)."""
        raise NotImplementedError

    def register_special_tokens(self, tokens: dict[str, int]) -> None:
        """Add special tokens, e.g. {"<|endoftext|>": 1000}."""
        raise NotImplementedError

    def encode(
        self,
        text: str,
        *,
        allowed_special: Literal["all"] | AbstractSet[str] = frozenset(),
        disallowed_special: Literal["all"] | Collection[str] = "all",
    ) -> list[int]:
        """Token ids of `text`; special tokens as tiktoken treats them (see the prompt)."""
        raise NotImplementedError

    def decode(self, ids: list[int]) -> str:
        """The text of `ids`; invalid UTF-8 becomes U+FFFD."""
        raise NotImplementedError
