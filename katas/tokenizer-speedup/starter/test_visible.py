"""A few examples, and a timing you can profile. Run them with `drill test` (and
`drill test --profile` to see where the time goes)."""

from __future__ import annotations

import time
from pydoc_data.topics import topics

import pytest
from solution import BPETokenizer

CORPUS = "\n".join(topics.values())  # Python's own help texts: the kind of text that is timed


def test_the_earliest_merge_applies_first() -> None:
    assert BPETokenizer({(98, 99): 256, (97, 98): 257}).encode("abc") == [97, 256]


def test_a_run_of_one_pair_merges_left_to_right() -> None:
    assert BPETokenizer({(97, 97): 256}).encode("aaaaa") == [256, 256, 97]


def test_training_ties_go_to_the_smallest_pair() -> None:
    tok = BPETokenizer.train("ab ab ba ba", 300)
    assert tok.merges == {(32, 98): 256, (97, 98): 257, (256, 97): 258, (32, 257): 259}


def test_special_tokens() -> None:
    tok = BPETokenizer.train("hello world", 260)
    tok.register_special_tokens({"<|endoftext|>": 260})
    assert tok.encode("hi<|endoftext|>", allowed_special="all")[-1] == 260
    with pytest.raises(ValueError):
        tok.encode("hi<|endoftext|>")
    assert 260 not in tok.encode("hi<|endoftext|>", disallowed_special=())


def test_encode_100kb_and_round_trip() -> None:
    # Before you change anything, save `tok.encode(text)` for a few texts and compare
    # with it afterwards: not one id may change.
    tok = BPETokenizer.train(CORPUS[:4_000], 512)
    text = CORPUS[200_000:300_000]
    start = time.perf_counter()
    ids = tok.encode(text)
    print(f"encode, 100 KB: {time.perf_counter() - start:.3f} s, {len(ids)} ids")
    assert tok.decode(ids) == text
