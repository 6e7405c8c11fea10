"""Special tokens, with tiktoken's rules for allowed_special and disallowed_special."""

from __future__ import annotations

import pytest
import solution as sol
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import CORPUS, EOT, FIM

from reference.tokenizer import BPETokenizer as Reference

SPECIALS = {EOT: 1000, FIM: 1001}
REFERENCE = Reference.train(CORPUS[:20_000], 1000, special_tokens=SPECIALS)


def candidate() -> sol.BPETokenizer:
    tok = sol.BPETokenizer(dict(REFERENCE.merges))
    tok.register_special_tokens(dict(SPECIALS))
    return tok


def ordinary(text: str) -> list[int]:
    return REFERENCE.encode(text, disallowed_special=())


def test_allowed_special_all_encodes_each_special_token_as_its_id() -> None:
    got = candidate().encode(f"Hello{EOT}", allowed_special="all")
    assert got == [*ordinary("Hello"), 1000], f"expected the ids of 'Hello' then 1000, got {got}"


def test_special_token_inside_a_word_is_cut_out_before_the_regex() -> None:
    got = candidate().encode(f"hello{EOT}world", allowed_special="all")
    expected = [*ordinary("hello"), 1000, *ordinary("world")]
    assert got == expected, f"expected {expected}, got {got}"


def test_special_token_text_is_not_split_by_the_pattern() -> None:
    # The pattern alone would cut "<|endoftext|>" into "<|", "endoftext", "|>".
    got = candidate().encode(f" {EOT} ", allowed_special="all")
    assert got == [*ordinary(" "), 1000, *ordinary(" ")], f"got {got}"


def test_adjacent_special_tokens_each_get_their_id() -> None:
    got = candidate().encode(f"{EOT}{FIM}{EOT}", allowed_special="all")
    assert got == [1000, 1001, 1000], f"expected [1000, 1001, 1000], got {got}"


def test_allowed_special_set_encodes_only_those_tokens() -> None:
    text = f"a{FIM}b{EOT}"
    got = candidate().encode(text, allowed_special={FIM}, disallowed_special=())
    expected = [*ordinary("a"), 1001, *ordinary(f"b{EOT}")]
    assert got == expected, f"only {FIM} is allowed; {EOT} must be ordinary text; got {got}"


def test_special_token_in_text_raises_by_default() -> None:
    with pytest.raises(ValueError):
        candidate().encode(f"user text with {EOT} in it")


def test_special_token_that_is_not_allowed_raises_even_when_another_is() -> None:
    with pytest.raises(ValueError):
        candidate().encode(f"{FIM} and {EOT}", allowed_special={FIM})


def test_disallowed_special_empty_encodes_special_text_as_ordinary_text() -> None:
    text = f"a {EOT} b"
    got = candidate().encode(text, disallowed_special=())
    assert got == ordinary(text), f"disallowed_special=() must encode {EOT} as text, got {got}"
    assert 1000 not in got


def test_text_without_special_tokens_encodes_alike_with_any_options() -> None:
    tok, text = candidate(), CORPUS[50_000:52_000]
    assert tok.encode(text) == tok.encode(text, allowed_special="all") == ordinary(text)


def test_decode_turns_special_ids_back_into_their_text() -> None:
    text = f"{FIM}def f():{EOT}"
    tok = candidate()
    assert tok.decode(tok.encode(text, allowed_special="all")) == text


def test_the_longest_special_token_wins_when_one_extends_another() -> None:
    tok = sol.BPETokenizer({})
    tok.register_special_tokens({"<|im|>": 300, "<|im|>x": 301})
    got = tok.encode("<|im|>x<|im|>", allowed_special="all")
    assert got == [301, 300], (
        f"'<|im|>x' is a special token of its own: expected [301, 300], got {got}"
    )


def test_registering_an_ordinary_id_as_special_is_rejected() -> None:
    tok = sol.BPETokenizer(dict(REFERENCE.merges))
    with pytest.raises(ValueError):
        tok.register_special_tokens({EOT: 300})


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from(["a", " ", "b\n", "é", "<|", "|>", EOT, FIM, "🎉"]), max_size=16))
def test_special_tokens_anywhere_encode_like_the_reference(parts: list[str]) -> None:
    text = "".join(parts)
    tok = candidate()
    got = tok.encode(text, allowed_special="all")
    assert got == REFERENCE.encode(text, allowed_special="all")
    assert tok.decode(got) == text
