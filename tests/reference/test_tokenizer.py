"""reference.tokenizer against real peers: tiktoken encodes with our ranks to our ids.

Training has no peer that shares our tie-break, so it is checked against the obvious
loop (recount every pair for each merge) and against hand-worked examples.
"""

from __future__ import annotations

import base64
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
import tiktoken
import tiktoken.load
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.paths import BUILTIN_KATAS
from reference.tokenizer import BPETokenizer, train_merges


def load_oracle() -> ModuleType:
    path = BUILTIN_KATAS / "bpe-tokenizer" / "hidden" / "oracle.py"
    spec = importlib.util.spec_from_file_location("bpe_tokenizer_oracle", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The texts and the obvious trainer are the kata's hidden oracle: one truth for the
# reference and for the candidates it grades.
ORACLE = load_oracle()
CORPUS, EOT, FIM = ORACLE.CORPUS, ORACLE.EOT, ORACLE.FIM
FRENCH, EMOJI, CODE = ORACLE.FRENCH, ORACLE.EMOJI, ORACLE.CODE
slow_merges = ORACLE.slow_merges
Pair = tuple[int, int]


def as_tiktoken(tok: BPETokenizer) -> tiktoken.Encoding:
    return tiktoken.Encoding(
        "drill-test",
        pat_str=tok.pattern,
        mergeable_ranks=tok.mergeable_ranks(),
        special_tokens=tok.special_tokens,
    )


@pytest.fixture(scope="module")
def tok() -> BPETokenizer:
    # 60 KB of English plus some French, emoji and code: 1024 tokens, a second.
    text = CORPUS[:60_000] + FRENCH + EMOJI + CODE[:5_000]
    return BPETokenizer.train(text, 1024, special_tokens={EOT: 1024, FIM: 1025})


@pytest.fixture(scope="module")
def enc(tok: BPETokenizer) -> tiktoken.Encoding:
    return as_tiktoken(tok)


# Training


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # chunks "ab", " ab", " ba", " ba": (32,98), (97,98), (98,97) tie at 2 -> (32,98)
        ("ab ab ba ba", {(32, 98): 256, (97, 98): 257, (256, 97): 258, (32, 257): 259}),
        # one chunk, all pairs at 1: (97,98) < (97,99) < (99,97)
        ("acab", {(97, 98): 256, (97, 99): 257, (257, 256): 258}),
        # "aaaaa": (97,97) counts 4; merging left to right leaves [256, 256, 97]
        ("aaaaa", {(97, 97): 256, (256, 97): 257, (256, 257): 258}),
    ],
)
def test_training_breaks_count_ties_by_the_smallest_pair(
    text: str, expected: dict[Pair, int]
) -> None:
    assert BPETokenizer.train(text, 300).merges == expected


def test_training_matches_the_obvious_loop_on_english() -> None:
    text = CORPUS[:20_000]
    assert BPETokenizer.train(text, 600).merges == slow_merges(text, 600)


@settings(max_examples=60)
@given(st.text(alphabet="ab c\n\né🎉", max_size=60))
def test_training_matches_the_obvious_loop_on_small_alphabets(text: str) -> None:
    assert BPETokenizer.train(text, 290).merges == slow_merges(text, 290)


def test_vocab_size_256_learns_nothing_and_encodes_bytes() -> None:
    tok = BPETokenizer.train("hello hello", 256)
    assert tok.merges == {}
    assert tok.encode("héllo") == list("héllo".encode())


def test_vocab_size_below_256_is_rejected() -> None:
    with pytest.raises(ValueError, match="256"):
        BPETokenizer.train("hello", 255)


def test_training_stops_when_no_pair_is_left() -> None:
    assert BPETokenizer.train("ab", 1000).merges == {(97, 98): 256}


def test_train_merges_counts_each_chunk_with_its_frequency() -> None:
    # (98,99) occurs 3 times via one chunk of frequency 3; (97,98) twice.
    assert train_merges({b"ab": 2, b"bc": 3}, 1) == {(98, 99): 256}


def test_special_tokens_given_to_train_are_not_learned_from() -> None:
    text = f"hi{EOT}" * 50
    tok = BPETokenizer.train(text, 300, special_tokens={EOT: 300})
    assert all(b"|" not in token for token in tok.vocab.values() if len(token) > 1)
    assert tok.encode(text, allowed_special="all")[-1] == 300


# Encoding against tiktoken


def test_pydoc_corpus_encodes_like_tiktoken(tok: BPETokenizer, enc: tiktoken.Encoding) -> None:
    tok.clear_cache()
    assert tok.encode(CORPUS) == enc.encode(CORPUS)


@pytest.mark.parametrize("text", [FRENCH, EMOJI, CODE, "", " ", "\n\n\n", "  x  \n  "])
def test_text_encodes_like_tiktoken(tok: BPETokenizer, enc: tiktoken.Encoding, text: str) -> None:
    assert tok.encode(text) == enc.encode(text)


def test_a_long_chunk_encodes_like_tiktoken(tok: BPETokenizer, enc: tiktoken.Encoding) -> None:
    word = "".join(w.strip() for w in CORPUS[:20_000].split() if w.isalpha())  # one chunk
    assert tok.encode(word) == enc.encode(word)


@settings(max_examples=300)
@given(st.text())
def test_random_unicode_encodes_like_tiktoken(
    tok: BPETokenizer, enc: tiktoken.Encoding, text: str
) -> None:
    assert tok.encode(text, disallowed_special=()) == enc.encode(text, disallowed_special=())


@settings(max_examples=300)
@given(st.text())
def test_decode_inverts_encode(tok: BPETokenizer, text: str) -> None:
    assert tok.decode(tok.encode(text, disallowed_special=())) == text


def test_lone_surrogates_become_replacement_characters_like_tiktoken(
    tok: BPETokenizer, enc: tiktoken.Encoding
) -> None:
    text = "a\ud800b"
    assert tok.encode(text) == enc.encode(text)


# Decoding


def test_decode_joins_bytes_before_decoding(tok: BPETokenizer) -> None:
    euro = list("€".encode())  # three byte tokens, one character
    assert tok.decode(euro) == "€"
    assert tok.decode(euro[:2]) == "€".encode()[:2].decode("utf-8", errors="replace")
    assert tok.decode_bytes(euro[:2]) == "€".encode()[:2]


def test_decode_matches_tiktoken_on_any_ids(tok: BPETokenizer, enc: tiktoken.Encoding) -> None:
    ids = list(range(0, 1026, 7))
    assert tok.decode(ids) == enc.decode(ids)
    assert tok.decode_bytes(ids) == enc.decode_bytes(ids)


def test_decode_rejects_unknown_ids(tok: BPETokenizer) -> None:
    with pytest.raises(ValueError, match="5000"):
        tok.decode([5000])


# Special tokens, with tiktoken's rules


def test_special_tokens_are_refused_by_default_like_tiktoken(
    tok: BPETokenizer, enc: tiktoken.Encoding
) -> None:
    text = f"hello {EOT} world"
    with pytest.raises(ValueError):
        enc.encode(text)
    with pytest.raises(ValueError, match="endoftext"):
        tok.encode(text)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"allowed_special": "all"},
        {"allowed_special": {EOT}},
        {"allowed_special": {FIM}, "disallowed_special": ()},
        {"disallowed_special": ()},
        {"allowed_special": {EOT}, "disallowed_special": {"<|fim"}},
    ],
)
def test_special_token_options_match_tiktoken(
    tok: BPETokenizer, enc: tiktoken.Encoding, kwargs: dict[str, object]
) -> None:
    text = f"a{EOT}b {FIM}{EOT}\n{EOT}{EOT}<|end{FIM}x"
    try:
        expected: object = enc.encode(text, **kwargs)  # type: ignore[arg-type]
    except ValueError:
        expected = ValueError
    try:
        got: object = tok.encode(text, **kwargs)  # type: ignore[arg-type]
    except ValueError:
        got = ValueError
    assert got == expected


@settings(max_examples=150)
@given(st.lists(st.sampled_from(["a", " ", "b\n", "é", "<|", "|>", EOT, FIM, "🎉"]), max_size=20))
def test_special_tokens_in_any_position_encode_like_tiktoken(
    tok: BPETokenizer, enc: tiktoken.Encoding, parts: list[str]
) -> None:
    text = "".join(parts)
    assert tok.encode(text, allowed_special="all") == enc.encode(text, allowed_special="all")
    assert tok.decode(tok.encode(text, allowed_special="all")) == text


def test_special_token_ids_cannot_reuse_an_ordinary_id(tok: BPETokenizer) -> None:
    with pytest.raises(ValueError, match="in use"):
        BPETokenizer(tok.merges).register_special_tokens({EOT: 300})


# tiktoken's rank file


def test_rank_file_round_trips(tok: BPETokenizer, tmp_path: Path) -> None:
    path = tmp_path / "ranks.tiktoken"
    tok.save(path)
    loaded = BPETokenizer.load(path, special_tokens=tok.special_tokens)
    assert loaded.merges == tok.merges
    assert loaded.encode(CODE) == tok.encode(CODE)


def test_tiktoken_reads_our_rank_file(tok: BPETokenizer, tmp_path: Path) -> None:
    path = tmp_path / "ranks.tiktoken"
    tok.save(path)
    assert tiktoken.load.load_tiktoken_bpe(str(path)) == tok.mergeable_ranks()


def write_rank_file(ranks: dict[bytes, int], path: Path) -> None:
    """tiktoken's format, written here by hand: base64 token, space, rank."""
    lines = [f"{base64.b64encode(token).decode()} {rank}\n" for token, rank in ranks.items()]
    path.write_text("".join(reversed(lines)))  # line order carries no meaning


def test_rank_files_are_read_whatever_the_line_order(tok: BPETokenizer, tmp_path: Path) -> None:
    path = tmp_path / "ranks.tiktoken"
    write_rank_file(tok.mergeable_ranks(), path)
    assert tiktoken.load.load_tiktoken_bpe(str(path)) == tok.mergeable_ranks()
    assert BPETokenizer.load(path).merges == tok.merges


def test_rank_files_whose_first_ranks_are_not_the_bytes_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "ranks.tiktoken"
    write_rank_file({bytes([i]): 255 - i for i in range(256)}, path)
    with pytest.raises(ValueError, match=r"0\.\.255"):
        BPETokenizer.load(path)
