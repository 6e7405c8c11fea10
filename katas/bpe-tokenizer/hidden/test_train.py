"""Training: which pairs merge, in which order, with which ids."""

from __future__ import annotations

import pytest
import solution as sol
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import CORPUS, FRENCH, slow_merges

from reference.tokenizer import BPETokenizer as Reference

Pair = tuple[int, int]


def merges_of(text: str, vocab_size: int) -> dict[Pair, int]:
    return dict(sol.BPETokenizer.train(text, vocab_size).merges)


def test_count_ties_go_to_the_smallest_pair() -> None:
    # chunks "ab", " ab", " ba", " ba": (32,98), (97,98) and (98,97) all occur twice
    got = merges_of("ab ab ba ba", 300)
    expected = {(32, 98): 256, (97, 98): 257, (256, 97): 258, (32, 257): 259}
    assert got == expected, (
        f"'ab ab ba ba': expected merges {expected} (ties to the smallest pair), got {got}"
    )


def test_count_ties_compare_the_second_id_when_the_first_is_equal() -> None:
    # one chunk, every pair once: (97,98) < (97,99) < (99,97)
    got = merges_of("acab", 300)
    expected = {(97, 98): 256, (97, 99): 257, (257, 256): 258}
    assert got == expected, f"'acab': expected merges {expected}, got {got}"


def test_overlapping_occurrences_all_count() -> None:
    # "aaaa" has (97,97) at three positions: 3 beats the 2 of (32,120) and (120,121)
    got = merges_of("aaaa xy xy", 257)
    assert got == {(97, 97): 256}, (
        f"'aaaa xy xy': (97, 97) occurs 3 times in 'aaaa' and must merge first, got {got}"
    )


def test_overlapping_runs_merge_left_to_right() -> None:
    # "aaaaa" -> [256, 256, 97]; then (256,97) and (256,256) tie, (256,97) is smaller
    got = merges_of("aaaaa", 300)
    expected = {(97, 97): 256, (256, 97): 257, (256, 257): 258}
    assert got == expected, (
        f"'aaaaa': the first merge must leave [256, 256, 97]; expected {expected}, got {got}"
    )


def test_merges_never_cross_chunk_boundaries() -> None:
    # chunks "x", " y", " x", " y": (32,121) twice, (32,120) once, and nothing else;
    # (120,32) and (121,32) would only appear if the text were not cut into chunks
    got = merges_of("x y x y", 300)
    assert got == {(32, 121): 256, (32, 120): 257}, (
        f"'x y x y' has chunks 'x', ' y', ' x', ' y'; expected (32,121) then (32,120), got {got}"
    )


def test_chunk_counts_are_weighted_by_how_often_the_chunk_occurs() -> None:
    # chunks "ab", "1", "yz", "2", "yz": (121,122) occurs twice, (97,98) once
    got = merges_of("ab1yz2yz", 257)
    assert got == {(121, 122): 256}, (
        f"'ab1yz2yz': the chunk 'yz' occurs twice, so (121, 122) must merge first; got {got}"
    )


def test_new_ids_count_up_from_256_in_merge_order() -> None:
    merges = merges_of(CORPUS[:5_000], 400)
    ids = list(merges.values())
    assert ids == list(range(256, 256 + len(ids))), (
        f"merge ids must be 256, 257, ... in the order learned; got {ids[:5]}..."
    )
    assert len(ids) == 144, f"vocab_size 400 on 5 KB of English needs 144 merges, got {len(ids)}"


def test_vocab_holds_the_bytes_of_every_token() -> None:
    tok = sol.BPETokenizer.train(FRENCH, 300)
    assert all(tok.vocab[i] == bytes([i]) for i in range(256)), "vocab[i] must be bytes([i])"
    for (a, b), new_id in tok.merges.items():
        assert tok.vocab[new_id] == tok.vocab[a] + tok.vocab[b], (
            f"vocab[{new_id}] must be vocab[{a}] + vocab[{b}]"
        )
    assert len(tok.vocab) == 256 + len(tok.merges)


def test_vocab_size_256_learns_no_merges() -> None:
    got = merges_of("hello hello hello", 256)
    assert got == {}, f"vocab_size=256 leaves room for no merge, got {got}"


def test_vocab_size_below_256_is_rejected() -> None:
    with pytest.raises(ValueError):
        sol.BPETokenizer.train("hello", 200)


def test_training_stops_when_no_pair_is_left() -> None:
    got = merges_of("ab", 1000)
    assert got == {(97, 98): 256}, f"'ab' allows one merge whatever the vocab_size, got {got}"


def test_empty_text_learns_no_merges() -> None:
    assert merges_of("", 300) == {}


def test_pattern_argument_decides_the_chunks() -> None:
    # One character per chunk: no pair ever forms.
    tok = sol.BPETokenizer.train("aaaa bbbb", 300, pattern=r".")
    assert tok.merges == {}, f"with pattern '.', no chunk holds a pair; got {tok.merges}"
    assert tok.pattern == r"."


def test_training_matches_the_reference_on_english() -> None:
    text = CORPUS[:15_000]
    expected = Reference.train(text, 700).merges
    got = merges_of(text, 700)
    assert len(got) == len(expected), f"expected {len(expected)} merges, got {len(got)}"
    first_diff = next(
        (i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b), None
    )
    assert got == expected, f"merge {first_diff} differs from the reference"


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet="ab c\n\né🎉", max_size=50))
def test_training_matches_the_obvious_loop_on_small_alphabets(text: str) -> None:
    assert merges_of(text, 290) == slow_merges(text, 290)


def test_training_twice_gives_identical_merges() -> None:
    text = CORPUS[60_000:66_000]
    first, second = merges_of(text, 400), merges_of(text, 400)
    assert list(first.items()) == list(second.items()), "two runs on the same text differ"
