"""Special tokens, with tiktoken's rules for allowed_special and disallowed_special."""

from __future__ import annotations

import pytest
import solution as sol
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import CORPUS, EOT, FIM, reference

from reference.tokenizer import BPETokenizer as Reference

SPECIALS = {EOT: 5000, FIM: 5001}


def candidate() -> sol.BPETokenizer:
    tok = sol.BPETokenizer(dict(reference().merges))
    tok.register_special_tokens(dict(SPECIALS))
    return tok


def oracle() -> Reference:
    return Reference(reference().merges, special_tokens=SPECIALS)


def test_allowed_special_tokens_become_their_ids() -> None:
    text = f"Hello{EOT}world{FIM} {EOT}{EOT}"
    got = candidate().encode(text, allowed_special="all")
    expected = oracle().encode(text, allowed_special="all")
    assert got == expected, f"expected {expected}, got {got}"
    assert got.count(5000) == 3 and got.count(5001) == 1


def test_special_token_text_raises_by_default() -> None:
    with pytest.raises(ValueError):
        candidate().encode(f"user text with {EOT} in it")


def test_a_token_that_is_not_allowed_raises_even_when_another_is() -> None:
    with pytest.raises(ValueError):
        candidate().encode(f"{FIM} and {EOT}", allowed_special={FIM})


def test_disallowed_special_empty_encodes_special_text_as_ordinary_text() -> None:
    text = f"a {EOT} b"
    got = candidate().encode(text, disallowed_special=())
    expected = oracle().encode(text, disallowed_special=())
    assert got == expected and 5000 not in got, f"expected ordinary ids {expected}, got {got}"


def test_only_the_allowed_tokens_are_cut_out() -> None:
    text = f"a{FIM}b{EOT}"
    got = candidate().encode(text, allowed_special={FIM}, disallowed_special=())
    expected = oracle().encode(text, allowed_special={FIM}, disallowed_special=())
    assert got == expected, f"only {FIM} is allowed; {EOT} is ordinary text: got {got}"


def test_the_longest_special_token_wins_when_one_extends_another() -> None:
    tok = sol.BPETokenizer({})
    tok.register_special_tokens({"<|im|>": 300, "<|im|>x": 301})
    got = tok.encode("<|im|>x<|im|>", allowed_special="all")
    assert got == [301, 300], (
        f"'<|im|>x' is a special token of its own: expected [301, 300], got {got}"
    )


def test_an_ordinary_id_cannot_be_a_special_token() -> None:
    with pytest.raises(ValueError):
        sol.BPETokenizer(dict(reference().merges)).register_special_tokens({EOT: 300})


def test_decode_gives_special_tokens_back_as_text() -> None:
    text = f"{FIM}def f():{EOT}"
    tok = candidate()
    assert tok.decode(tok.encode(text, allowed_special="all")) == text


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["a", " ", "b\n", "é", "<|", "|>", EOT, FIM, "🎉"]), max_size=16))
def test_special_tokens_anywhere_encode_like_the_reference(parts: list[str]) -> None:
    text = "".join(parts)
    got = candidate().encode(text, allowed_special="all")
    assert got == oracle().encode(text, allowed_special="all")


def test_text_without_special_tokens_encodes_alike_with_any_option() -> None:
    tok, text = candidate(), CORPUS[40_000:42_000]
    plain = tok.encode(text)
    assert plain == tok.encode(text, allowed_special="all") == oracle().encode(text)
