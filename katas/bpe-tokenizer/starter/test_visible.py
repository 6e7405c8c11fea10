"""A few examples from the prompt. Run them with `drill test`."""

from __future__ import annotations

import pytest
from solution import BPETokenizer


def test_worked_example_from_the_prompt() -> None:
    tok = BPETokenizer.train("ab ab ba ba", 300)
    assert tok.merges == {(32, 98): 256, (97, 98): 257, (256, 97): 258, (32, 257): 259}
    assert tok.vocab[259] == b" ab"


def test_overlapping_pairs_merge_left_to_right() -> None:
    assert BPETokenizer({(97, 97): 256}).encode("aaa") == [256, 97]


def test_encode_applies_the_earliest_merge_first() -> None:
    assert BPETokenizer({(98, 99): 256, (97, 98): 257}).encode("abc") == [97, 256]


def test_round_trip() -> None:
    tok = BPETokenizer.train("the cat sat on the mat, the end", 280)
    text = "the cat — and 猫 🐈"
    assert tok.decode(tok.encode(text)) == text


def test_special_tokens() -> None:
    tok = BPETokenizer.train("hello world", 260)
    tok.register_special_tokens({"<|endoftext|>": 260})
    assert tok.encode("hi<|endoftext|>", allowed_special="all")[-1] == 260
    with pytest.raises(ValueError):
        tok.encode("hi<|endoftext|>")
    assert 260 not in tok.encode("hi<|endoftext|>", disallowed_special=())
