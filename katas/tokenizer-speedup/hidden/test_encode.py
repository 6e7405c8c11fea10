"""Encoding and decoding: the same ids as the reference, on every kind of text."""

from __future__ import annotations

import pytest
import solution as sol
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import CJK, CODE, COMBINING, CORPUS, EMOJI, FRENCH, WHITESPACE, reference, sampled_text

from reference.tokenizer import BPETokenizer as Reference


def candidate() -> sol.BPETokenizer:
    return sol.BPETokenizer(dict(reference().merges))


def first_difference(got: list[int], expected: list[int]) -> str:
    at = next((i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b), None)
    if at is None:
        return f"{len(got)} ids against the reference's {len(expected)}"
    return f"first difference at id {at}: {got[at : at + 5]} instead of {expected[at : at + 5]}"


def assert_same_ids(text: str) -> None:
    got, expected = candidate().encode(text), reference().encode(text)
    assert got == expected, first_difference(got, expected)


def test_the_earliest_merge_applies_first() -> None:
    # "abc": (98, 99) was learned first, so "bc" merges and (97, 98) never gets a chance
    tok = sol.BPETokenizer({(98, 99): 256, (97, 98): 257})
    got = tok.encode("abc")
    assert got == [97, 256], f"merges (98,99)->256 then (97,98)->257: 'abc' is [97, 256], got {got}"


def test_merged_tokens_merge_again() -> None:
    tok = sol.BPETokenizer({(104, 105): 256, (256, 256): 257})
    assert tok.encode("hihi") == [257], f"'hihi' is one token 257, got {tok.encode('hihi')}"
    assert tok.encode("hih") == [256, 104], f"'hih' is [256, 104], got {tok.encode('hih')}"


def test_a_run_of_one_pair_merges_left_to_right() -> None:
    tok = sol.BPETokenizer({(97, 97): 256})
    got = tok.encode("aaaaa")
    assert got == [256, 256, 97], f"'aaaaa' with (97,97)->256 is [256, 256, 97], got {got}"


def test_a_lower_rank_found_after_a_merge_goes_first() -> None:
    # "abcd": (99,100)->256 merges first and makes the pair (98,256)->258, but (97,98)->257
    # ranks lower and merges next, which leaves [257, 256]: ranks decide, not position.
    tok = sol.BPETokenizer({(99, 100): 256, (97, 98): 257, (98, 256): 258})
    got = tok.encode("abcd")
    assert got == [257, 256], f"'abcd' is [257, 256] (ranks decide, not position), got {got}"


def test_merges_never_cross_chunks() -> None:
    tok = sol.BPETokenizer({(97, 32): 256})
    got = tok.encode("a b")
    assert got == [97, 32, 98], f"'a b' is chunks 'a', ' b': (97,32) cannot merge; got {got}"


def test_without_merges_ids_are_the_utf8_bytes() -> None:
    text = "héllo 👋 日本"
    got = sol.BPETokenizer({}).encode(text)
    assert got == list(text.encode("utf-8")), f"no merges: the ids are the UTF-8 bytes, got {got}"


def test_empty_text_is_no_ids() -> None:
    tok = candidate()
    assert tok.encode("") == [], "'' encodes to []"
    assert tok.decode([]) == "", "[] decodes to ''"


@pytest.mark.parametrize(
    "text",
    [CORPUS[200_000:230_000], CODE, FRENCH, EMOJI, CJK, COMBINING, WHITESPACE],
    ids=["english", "code", "french", "emoji", "cjk", "combining-marks", "whitespace-runs"],
)
def test_ids_equal_the_reference(text: str) -> None:
    assert_same_ids(text)


def test_chunks_that_differ_only_by_a_leading_space_get_their_own_ids() -> None:
    # " the" and "the" are different chunks with different ids: a cache must not mix them
    tok, ref = candidate(), reference()
    for text in ("the", " the", "the the", " the\nthe", "the  the"):
        got = tok.encode(text)
        assert got == ref.encode(text), f"{text!r}: expected {ref.encode(text)}, got {got}"


def test_unicode_spaces_are_whitespace_to_the_pattern() -> None:
    # \s matches U+3000 and U+00A0: a run of them leaves its last one to the next word, as
    # a run of spaces does. Trained on such text, merges join that space to the word.
    text = "word\u3000\u3000\u3000next \u00a0\u00a0\u00a0nbsp x\u3000\u3000y\n" * 30
    ref = Reference.train(text, 300)
    got = sol.BPETokenizer(dict(ref.merges)).encode(text)
    assert got == ref.encode(text), first_difference(got, ref.encode(text))


def test_repeated_encodes_give_the_same_ids() -> None:
    tok = candidate()
    texts = [sampled_text(seed, 3_000) for seed in range(3)]
    first = [tok.encode(t) for t in texts]
    again = [tok.encode(t) for t in reversed(texts)][::-1]
    assert first == again, "encoding the same texts again (a warm cache) changed the ids"
    assert first == [reference().encode(t) for t in texts], "ids differ from the reference's"


def test_two_tokenizers_do_not_share_ids() -> None:
    # The same chunk has other ids under other merges: nothing may leak between instances.
    small = sol.BPETokenizer({(116, 104): 256})
    large = candidate()
    text = "the other thing"
    large.encode(text)
    got = small.encode(text)
    assert got == [256, 101, 32, 111, 256, 101, 114, 32, 256, 105, 110, 103], (
        f"with the merge (116,104) alone, 'the other thing' has three 256s; got {got}"
    )


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=60))
def test_ids_equal_the_reference_on_random_unicode(text: str) -> None:
    assert_same_ids(text)


@settings(max_examples=30, deadline=None)
@given(st.text(alphabet="ab \n\t.é日", max_size=40))
def test_ids_equal_the_reference_on_runs_of_few_characters(text: str) -> None:
    assert_same_ids(text)


def test_decode_inverts_encode() -> None:
    tok = candidate()
    for text in (CORPUS[:5_000], CODE[:5_000], FRENCH, EMOJI, CJK, COMBINING, WHITESPACE):
        got = tok.decode(tok.encode(text))
        assert got == text, f"decode(encode(text)) differs from the text: {got[:60]!r}"


def test_decode_joins_bytes_before_decoding() -> None:
    # "日" is E6 97 A5; with (E6, 97) -> 256, token 256 holds two thirds of a character.
    tok = sol.BPETokenizer({(0xE6, 0x97): 256})
    ids = tok.encode("日本")
    assert ids[:2] == [256, 0xA5], f"'日' must encode to [256, 0xA5], got {ids[:2]}"
    got = tok.decode(ids)
    assert got == "日本", f"token 256 is not UTF-8 on its own; join the bytes first: got {got!r}"


@settings(max_examples=30, deadline=None)
@given(st.binary(max_size=30))
def test_decode_of_any_bytes_replaces_invalid_utf8(data: bytes) -> None:
    got = sol.BPETokenizer({}).decode(list(data))
    assert got == data.decode("utf-8", errors="replace")


def test_mergeable_ranks_are_the_reference_ranks() -> None:
    got = candidate().mergeable_ranks()
    expected = reference().mergeable_ranks()
    assert got == expected, f"{len(got)} ranks against the reference's {len(expected)}"
