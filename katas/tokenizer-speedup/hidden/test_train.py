"""Training: the same merges as the reference, in the same order, with the same ids."""

from __future__ import annotations

import pytest
import solution as sol
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import CODE, CORPUS, FRENCH, Pair

from reference.tokenizer import BPETokenizer as Reference


def merges_of(text: str, vocab_size: int) -> dict[Pair, int]:
    return dict(sol.BPETokenizer.train(text, vocab_size).merges)


def assert_same_merges(text: str, vocab_size: int) -> None:
    got, expected = merges_of(text, vocab_size), dict(Reference.train(text, vocab_size).merges)
    first = next(
        (i for i, (a, b) in enumerate(zip(got.items(), expected.items(), strict=False)) if a != b),
        min(len(got), len(expected)),
    )
    assert list(got.items()) == list(expected.items()), (
        f"{len(got)} merges against the reference's {len(expected)}; merge {first} differs: "
        f"{list(got.items())[first : first + 1]} instead of {list(expected.items())[first : first + 1]}"
    )


def test_count_ties_go_to_the_smallest_pair() -> None:
    # chunks "ab", " ab", " ba", " ba": (32,98), (97,98) and (98,97) all occur twice
    got = merges_of("ab ab ba ba", 300)
    expected = {(32, 98): 256, (97, 98): 257, (256, 97): 258, (32, 257): 259}
    assert got == expected, f"'ab ab ba ba': expected {expected} (ties: smallest pair), got {got}"


def test_overlapping_occurrences_all_count() -> None:
    # "aaaa" holds (97,97) three times: 3 beats the 2 of (32,120) and (120,121)
    got = merges_of("aaaa xy xy", 257)
    assert got == {(97, 97): 256}, f"(97, 97) occurs 3 times in 'aaaa' and merges first, got {got}"


def test_a_run_merges_left_to_right_during_training() -> None:
    # "aaaaa" -> [256, 256, 97]; then (256,97) and (256,256) tie, (256,97) is smaller
    got = merges_of("aaaaa", 300)
    expected = {(97, 97): 256, (256, 97): 257, (256, 257): 258}
    assert got == expected, f"'aaaaa': expected {expected}, got {got}"


def test_repeated_chunks_count_as_often_as_they_occur() -> None:
    # chunks "ab", "1", "yz", "2", "yz": (121,122) occurs twice, (97,98) once
    got = merges_of("ab1yz2yz", 257)
    assert got == {(121, 122): 256}, f"the chunk 'yz' occurs twice: (121,122) first, got {got}"


def test_training_stops_when_no_pair_is_left() -> None:
    got = merges_of("ab", 1000)
    assert got == {(97, 98): 256}, f"'ab' allows one merge whatever the vocab_size, got {got}"


def test_vocab_size_256_learns_nothing_and_below_is_rejected() -> None:
    assert merges_of("hello hello", 256) == {}, "vocab_size=256 leaves room for no merge"
    with pytest.raises(ValueError):
        sol.BPETokenizer.train("hello", 255)


@pytest.mark.parametrize(
    ("text", "vocab_size"),
    [(CORPUS[:12_000], 600), (CODE[:8_000], 500), (FRENCH * 3, 300)],
    ids=["english", "code", "french"],
)
def test_merges_equal_the_reference(text: str, vocab_size: int) -> None:
    assert_same_merges(text, vocab_size)


@settings(max_examples=30, deadline=None)
@given(st.text(alphabet="ab c\n\né🎉", max_size=50))
def test_merges_equal_the_reference_on_small_alphabets(text: str) -> None:
    assert_same_merges(text, 290)


def test_a_trained_tokenizer_encodes_like_the_reference() -> None:
    text = CORPUS[300_000:310_000]
    tok, ref = sol.BPETokenizer.train(text, 500), Reference.train(text, 500)
    probe = CORPUS[320_000:324_000]
    got = tok.encode(probe)
    assert got == ref.encode(probe), "a tokenizer trained here encodes unlike the reference's"
    assert tok.decode(got) == probe
