"""reference.beam_search against transformers' `generate(num_beams=...)`.

Two kinds of model drive both searches:

- a *table*: each sequence's next-token probabilities looked up by its generated
  suffix (crafted so that one convention decides the answer), or drawn from a hash of
  the whole sequence (random, no ties). transformers runs its tiny model and a logits
  processor replaces the log-probs with the table's; the reference's model function
  returns the table's log-probs as logits, and log_softmax leaves them as they are;
- a tiny random Mistral, the reference's model function calling the same transformers
  model on whole sequences.

transformers pads finished sequences with the pad token (EOS here); the reference
returns each hypothesis at its own length.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor
from transformers import LogitsProcessor, LogitsProcessorList, MistralConfig, MistralForCausalLM

from reference.beam_search import BeamSearch, beam_search

SETTINGS = settings(derandomize=True, database=None, deadline=None, max_examples=40)
EOS = 0
ModelFn = Callable[[Tensor], Tensor]
Table = dict[tuple[int, ...], Sequence[float]]


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """Tiny matmuls run faster on one thread, and spare a shared machine's other cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


_MODELS: dict[int, Any] = {}


def tiny_mistral(vocab: int) -> Any:
    if vocab not in _MODELS:
        torch.manual_seed(0)
        kwargs: dict[str, Any] = {
            "hidden_size": 64,
            "intermediate_size": 96,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "vocab_size": vocab,
            "attn_implementation": "eager",
            "initializer_range": 0.2,  # logits spread enough for EOS to win sometimes
        }
        model: Any = MistralForCausalLM(MistralConfig(**kwargs))
        _MODELS[vocab] = model.eval()
    return _MODELS[vocab]


class Replace(LogitsProcessor):
    """Replaces transformers' log-probs with log_softmax of `fn`'s logits."""

    def __init__(self, fn: ModelFn) -> None:
        self.fn = fn

    def __call__(self, input_ids: Tensor, scores: Tensor) -> Tensor:
        return torch.log_softmax(self.fn(input_ids), dim=-1)


def transformers_search(
    model: Any, fn: ModelFn | None, prompts: Tensor, **kw: Any
) -> tuple[list[list[int]], Tensor]:
    """transformers' sequences (cut after their first generated EOS: the rest is padding)
    and sequence scores."""
    processors = LogitsProcessorList([Replace(fn)] if fn is not None else [])
    eos = kw.pop("eos_token_id", EOS)
    with torch.no_grad():
        out = model.generate(
            prompts,
            attention_mask=torch.ones_like(prompts),
            do_sample=False,
            eos_token_id=eos,
            pad_token_id=eos,
            logits_processor=processors,
            return_dict_in_generate=True,
            output_scores=True,
            **kw,
        )
    sequences = []
    for row in out.sequences.tolist():
        generated = row[prompts.shape[1] :]
        end = generated.index(eos) + 1 if eos in generated else len(generated)
        sequences.append(row[: prompts.shape[1]] + generated[:end])
    return sequences, out.sequences_scores


def table_model(tables: dict[int, Table], prompt_len: int) -> ModelFn:
    """Probabilities by (first prompt token, generated suffix); `()` missing: the row's
    "default" entry, under the key (-1,)."""

    def fn(ids: Tensor) -> Tensor:
        rows = []
        for seq in ids.tolist():
            table = tables[seq[0]]
            rows.append(table.get(tuple(seq[prompt_len:]), table[(-1,)]))
        return torch.tensor(rows).log()

    return fn


def both(
    tables: dict[int, Table], prompts: list[list[int]], **kw: Any
) -> tuple[tuple[list[list[int]], Tensor], tuple[list[list[int]], Tensor]]:
    """(reference, transformers) on the same table model, vocabulary 4."""
    x = torch.tensor(prompts)
    fn = table_model(tables, x.shape[1])
    ours = beam_search(
        fn,
        x,
        kw["num_beams"],
        EOS,
        kw["max_new_tokens"],
        kw.get("length_penalty", 1.0),
        kw.get("early_stopping", False),
        kw.get("num_return_sequences", 1),
    )
    return ours, transformers_search(tiny_mistral(4), fn, x, **kw)


def assert_agree(
    ours: tuple[list[list[int]], Tensor], theirs: tuple[list[list[int]], Tensor]
) -> None:
    assert ours[0] == theirs[0]
    torch.testing.assert_close(ours[1], theirs[1], rtol=1e-6, atol=1e-6)


L = math.log
PROMPT = [3, 1, 2]
# The module docstring's example: EOS at rank 1 of step 1; at step 2 EOS at rank 0
# (kept) and at rank 2 (dropped). A later step would offer a strong EOS hypothesis.
EXAMPLE: Table = {
    (): [0.25, 0.5, 0.15, 0.10],
    (1,): [0.6, 0.05, 0.25, 0.10],
    (2,): [0.7, 0.1, 0.15, 0.05],
    (-1,): [0.95, 0.03, 0.015, 0.005],
}


def test_worked_example_with_early_stopping_matches_transformers() -> None:
    ours, theirs = both(
        {3: EXAMPLE}, [PROMPT], num_beams=2, max_new_tokens=5, early_stopping=True,
        num_return_sequences=2,
    )  # fmt: skip
    assert_agree(ours, theirs)
    # Lengths 2 and 1: the prompt is not counted, the EOS is.
    assert ours[0] == [[*PROMPT, 1, 0], [*PROMPT, 0]]
    torch.testing.assert_close(ours[1], torch.tensor([(L(0.5) + L(0.6)) / 2, L(0.25)]))


def test_eos_candidate_beyond_rank_num_beams_is_dropped() -> None:
    """[2, 0] (score -2.254, ranked by -1.127) would beat [0] (-1.386), but it was third."""
    ours, theirs = both(
        {3: EXAMPLE}, [PROMPT], num_beams=2, max_new_tokens=5, early_stopping=True,
        num_return_sequences=2,
    )  # fmt: skip
    assert [*PROMPT, 2, 0] not in theirs[0] and [*PROMPT, 2, 0] not in ours[0]


def test_early_stopping_false_searches_past_a_full_set_of_hypotheses() -> None:
    table = {**EXAMPLE, (-1,): [0.05, 0.4, 0.35, 0.2]}
    ours, theirs = both(
        {3: table}, [PROMPT], num_beams=2, max_new_tokens=3, early_stopping=False,
        num_return_sequences=2,
    )  # fmt: skip
    assert_agree(ours, theirs)
    # Step 3 is the last: its best candidate is finished at length 3 and beats [0].
    assert ours[0] == [[*PROMPT, 1, 0], [*PROMPT, 1, 2, 1]]
    torch.testing.assert_close(ours[1][1], torch.tensor((L(0.5) + L(0.25) + L(0.4)) / 3))


def test_heuristic_stops_a_row_whose_best_running_beam_cannot_beat_the_worst() -> None:
    """After step 2 the hypotheses are [1, 0] (-0.525) and [2, 0] (-1.127); the best
    running beam, [1, 1] at -2.900, gives -2.900 / 2 = -1.45 <= -1.127: done. Searching
    on would have found [1, 1, 0] at -3.005 / 3 = -1.002."""
    table: Table = {
        (): [0.25, 0.5, 0.15, 0.10],
        (1,): [0.7, 0.11, 0.1, 0.09],
        (2,): [0.7, 0.1, 0.15, 0.05],
        (1, 1): [0.9, 0.04, 0.03, 0.03],
        (-1,): [0.2, 0.3, 0.4, 0.1],
    }
    ours, theirs = both(
        {3: table}, [PROMPT], num_beams=2, max_new_tokens=4, early_stopping=False,
        num_return_sequences=2,
    )  # fmt: skip
    assert_agree(ours, theirs)
    assert ours[0] == [[*PROMPT, 1, 0], [*PROMPT, 2, 0]]


# Short hypothesis [0] (-1.204, length 1) against the 3-token [1, 1, 1] (-1.533), which
# is never ended by EOS: it is finished at max_new_tokens.
LENGTHS: Table = {
    (): [0.3, 0.6, 0.06, 0.04],
    (1,): [0.05, 0.6, 0.2, 0.15],
    (1, 1): [0.01, 0.6, 0.2, 0.19],
    (-1,): [0.01, 0.3, 0.3, 0.39],
}


@pytest.mark.parametrize(
    ("length_penalty", "winner", "score"),
    [(0.0, [0], L(0.3)), (1.0, [1, 1, 1], 3 * L(0.6) / 3), (2.0, [1, 1, 1], 3 * L(0.6) / 9)],
)
def test_length_penalty_decides_between_short_and_long_hypotheses(
    length_penalty: float, winner: list[int], score: float
) -> None:
    ours, theirs = both(
        {3: LENGTHS}, [PROMPT], num_beams=2, max_new_tokens=3, length_penalty=length_penalty
    )
    assert_agree(ours, theirs)
    assert ours[0] == [PROMPT + winner]
    torch.testing.assert_close(ours[1], torch.tensor([score]))


def test_rows_finish_at_different_steps_independently() -> None:
    """Row 0 is done after step 2 (early stopping), row 1 runs to max_new_tokens."""
    tables = {3: EXAMPLE, 2: LENGTHS}
    prompts = [PROMPT, [2, 1, 2]]
    kw: dict[str, Any] = {"num_beams": 2, "max_new_tokens": 3, "early_stopping": True}
    ours, theirs = both(tables, prompts, num_return_sequences=2, **kw)
    assert_agree(ours, theirs)
    alone = [both({p[0]: tables[p[0]]}, [p], num_return_sequences=2, **kw)[0] for p in prompts]
    assert ours[0] == alone[0][0] + alone[1][0]


def hashed_model(seed: int, vocab: int, eos_boost: float) -> ModelFn:
    """Random logits per whole sequence (a hash of it seeds them): no ties, and EOS
    raised by `eos_boost` so that hypotheses end at many different steps."""

    def fn(ids: Tensor) -> Tensor:
        out = torch.empty(ids.shape[0], vocab)
        for i, seq in enumerate(ids.tolist()):
            g = torch.Generator().manual_seed(zlib.crc32(repr((seed, seq)).encode()))
            out[i] = torch.randn(vocab, generator=g) * 2
        out[:, EOS] += eos_boost
        return out

    return fn


@SETTINGS
@given(
    st.integers(0, 2**31 - 1),
    st.integers(1, 3),  # batch
    st.integers(2, 4),  # beams
    st.integers(1, 8),  # max_new_tokens
    st.sampled_from([1.0, 0.0, 2.0, -1.0, 0.5]),
    st.booleans(),
    st.sampled_from([0.0, 1.5, 3.0]),
    st.data(),
)
def test_random_tables_give_transformers_sequences_and_scores(
    seed: int,
    batch: int,
    beams: int,
    new: int,
    length_penalty: float,
    early_stopping: bool,
    eos_boost: float,
    data: st.DataObject,
) -> None:
    vocab = 16
    n = data.draw(st.integers(1, beams))
    g = torch.Generator().manual_seed(seed)
    prompts = torch.randint(1, vocab, (batch, data.draw(st.integers(1, 4))), generator=g)
    fn = hashed_model(seed, vocab, eos_boost)
    kw: dict[str, Any] = {
        "num_beams": beams, "max_new_tokens": new, "length_penalty": length_penalty,
        "early_stopping": early_stopping, "num_return_sequences": n,
    }  # fmt: skip
    ours = beam_search(fn, prompts, beams, EOS, new, length_penalty, early_stopping, n)
    assert_agree(ours, transformers_search(tiny_mistral(vocab), fn, prompts, **kw))


@pytest.mark.parametrize("eos", [13, 22, 55])  # tokens some hypotheses end with
@pytest.mark.parametrize("early_stopping", [False, True])
def test_tiny_mistral_beam_search_equals_transformers_generate(
    eos: int, early_stopping: bool
) -> None:
    """Without a cache transformers computes the same logits bit for bit; with its cache
    they differ in the last bits, so the scores agree within float32 rounding."""
    model = tiny_mistral(64)
    prompts = torch.randint(1, 64, (3, 5), generator=torch.Generator().manual_seed(1))

    def fn(ids: Tensor) -> Tensor:
        with torch.no_grad():
            logits: Tensor = model(ids).logits[:, -1]
        return logits

    kw: dict[str, Any] = {"num_beams": 4, "max_new_tokens": 10, "num_return_sequences": 2}
    ours = beam_search(fn, prompts, 4, eos, 10, 1.0, early_stopping, 2)
    assert any(s[-1] == eos for s in ours[0])  # EOS takes part
    for cache in (False, True):
        theirs = transformers_search(
            model, None, prompts, eos_token_id=eos, early_stopping=early_stopping,
            use_cache=cache, **kw,
        )  # fmt: skip
        assert ours[0] == theirs[0]
        tol = 0.0 if not cache else 1e-5
        torch.testing.assert_close(ours[1], theirs[1], rtol=tol, atol=tol)


# -- the stepping interface (the reference's own contract) --------------------------------


def test_step_returns_flat_beam_indices_and_done_rows_keep_their_slots() -> None:
    search = BeamSearch(2, 2, EOS, max_new_tokens=5, early_stopping=True)
    fn = table_model({3: EXAMPLE, 2: LENGTHS}, 3)
    seqs = torch.tensor([PROMPT, PROMPT, [2, 1, 2], [2, 1, 2]])
    tokens, idx = search.step(seqs, fn(seqs))
    assert tokens.tolist() == [1, 2, 1, 2] and idx.tolist() == [0, 0, 2, 2]
    seqs = torch.cat([seqs[idx], tokens[:, None]], dim=1)
    tokens, idx = search.step(seqs, fn(seqs))  # row 0 finishes here
    assert tokens.tolist()[:2] == [2, 3] and idx.tolist()[:2] == [0, 0]
    assert not search.is_done
    seqs = torch.cat([seqs[idx], tokens[:, None]], dim=1)
    tokens, idx = search.step(seqs, fn(seqs))
    assert tokens.tolist()[:2] == [EOS, EOS] and idx.tolist()[:2] == [0, 1]
    assert min(idx.tolist()[2:]) >= 2


def test_bfloat16_logits_are_scored_in_float32() -> None:
    logits = torch.randn(2, 8, generator=torch.Generator().manual_seed(3)).bfloat16()
    search = BeamSearch(1, 2, EOS, max_new_tokens=1)
    search.step(torch.zeros(2, 1, dtype=torch.long), logits)
    _, scores = search.finalize(2)
    want = torch.log_softmax(logits[0].float(), -1).topk(2).values
    assert torch.equal(scores, want)


def test_misuse_raises() -> None:
    search = BeamSearch(1, 2, EOS, max_new_tokens=1)
    with pytest.raises(RuntimeError):
        search.finalize()
    with pytest.raises(ValueError):
        search.step(torch.zeros(3, 1, dtype=torch.long), torch.zeros(3, 8))
    search.step(torch.zeros(2, 1, dtype=torch.long), torch.randn(2, 8))
    with pytest.raises(RuntimeError):
        search.step(torch.zeros(2, 2, dtype=torch.long), torch.randn(2, 8))
    with pytest.raises(ValueError):
        search.finalize(3)
