"""Encoding and decoding, with merges given (so training bugs do not leak in here)."""

from __future__ import annotations

import pytest
import solution as sol
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import CJK, CODE, CORPUS, EMOJI, FRENCH

from reference.tokenizer import BPETokenizer as Reference

# Merges learned by the reference on English, French, emoji and CJK text.
REFERENCE = Reference.train(CORPUS[:40_000] + FRENCH + EMOJI + CJK * 3, 1000)


def candidate() -> sol.BPETokenizer:
    return sol.BPETokenizer(dict(REFERENCE.merges))


def test_encode_applies_the_earliest_merge_first() -> None:
    # "abc": (98,99) was learned first, so "bc" merges and (97,98) never gets a chance
    tok = sol.BPETokenizer({(98, 99): 256, (97, 98): 257})
    got = tok.encode("abc")
    assert got == [97, 256], f"merges (98,99)->256 then (97,98)->257: 'abc' is [97, 256], got {got}"


def test_encode_keeps_merging_merged_tokens() -> None:
    tok = sol.BPETokenizer({(104, 105): 256, (256, 256): 257})
    assert tok.encode("hihi") == [257], f"'hihi' is one token 257, got {tok.encode('hihi')}"
    assert tok.encode("hih") == [256, 104], f"'hih' is [256, 104], got {tok.encode('hih')}"


def test_encode_merges_runs_left_to_right() -> None:
    tok = sol.BPETokenizer({(97, 97): 256})
    got = tok.encode("aaaaa")
    assert got == [256, 256, 97], f"'aaaaa' with (97,97)->256 is [256, 256, 97], got {got}"


def test_encode_never_merges_across_chunks() -> None:
    tok = sol.BPETokenizer({(97, 32): 256})
    got = tok.encode("a b")
    assert got == [97, 32, 98], f"'a b' is chunks 'a', ' b': (97,32) cannot merge; got {got}"


def test_empty_text_encodes_to_no_ids_and_back() -> None:
    tok = candidate()
    assert tok.encode("") == []
    assert tok.decode([]) == ""


def test_without_merges_ids_are_the_utf8_bytes() -> None:
    tok = sol.BPETokenizer({})
    text = "héllo 👋"
    assert tok.encode(text) == list(text.encode("utf-8"))


@pytest.mark.parametrize(
    "text",
    [CORPUS[100_000:130_000], FRENCH, EMOJI, CJK, CODE],
    ids=["english", "french", "emoji", "cjk", "code"],
)
def test_encode_matches_the_reference(text: str) -> None:
    got, expected = candidate().encode(text), REFERENCE.encode(text)
    first = next((i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b), None)
    assert got == expected, (
        f"{len(got)} ids against the reference's {len(expected)}; first difference at {first}"
    )


def test_encoding_twice_gives_the_same_ids() -> None:
    tok = candidate()
    text = CORPUS[:5_000]
    assert tok.encode(text) == tok.encode(text), "a second encode (cache warm) changed the ids"


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=80))
def test_encode_matches_the_reference_on_random_unicode(text: str) -> None:
    assert candidate().encode(text) == REFERENCE.encode(text)


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=80))
def test_decode_inverts_encode(text: str) -> None:
    tok = candidate()
    assert tok.decode(tok.encode(text)) == text


def test_trained_tokenizer_round_trips_text_it_never_saw() -> None:
    tok = sol.BPETokenizer.train(CORPUS[:10_000], 500)
    for text in (FRENCH, EMOJI, CJK, CODE[:3_000]):
        assert tok.decode(tok.encode(text)) == text


def test_decode_joins_bytes_before_decoding() -> None:
    # "日" is E6 97 A5; with (E6, 97) -> 256, token 256 holds two thirds of a character.
    tok = sol.BPETokenizer({(0xE6, 0x97): 256})
    ids = tok.encode("日本")
    assert ids[:2] == [256, 0xA5], f"'日' must encode to [256, 0xA5], got {ids[:2]}"
    got = tok.decode(ids)
    assert got == "日本", (
        f"token 256 is not valid UTF-8 on its own; join the bytes first: got {got!r}"
    )


def test_decode_of_byte_ids_that_cut_a_character_gives_replacement_characters() -> None:
    tok = sol.BPETokenizer({})
    euro = list("€".encode())  # [226, 130, 172]
    assert tok.decode(euro) == "€"
    got = tok.decode([*euro[:2], 97])
    assert got == "\ufffda", (
        f"bytes E2 82 then 'a' decode (errors='replace') to '\\ufffda', got {got!r}"
    )


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=40))
def test_decode_of_any_bytes_matches_pythons_replace_decoding(data: bytes) -> None:
    tok = sol.BPETokenizer({})
    assert tok.decode(list(data)) == data.decode("utf-8", errors="replace")
