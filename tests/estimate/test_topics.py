"""The generators: seeded and deterministic, answers that follow from their parameters,
derivations that arrive at the answer."""

from __future__ import annotations

import math
import re

import pytest

from drills.estimate import formulas as f
from drills.estimate.names import TOPIC_NAMES
from drills.estimate.specs import ACCELERATORS, DTYPE_BYTES, MODELS
from drills.estimate.topics import Question, generate, session_questions
from drills.estimate.units import parse

SEEDS = range(60)


def first(topic: str, **params: object) -> Question:
    """The first seed of `topic` whose parameters include `params`."""
    for seed in range(2000):
        q = generate(topic, seed)
        if all(q.params.get(k) == v for k, v in params.items()):
            return q
    raise AssertionError(f"no {topic} question with {params} in 2000 seeds")


@pytest.mark.parametrize("topic", TOPIC_NAMES)
def test_the_same_seed_is_the_same_question(topic: str) -> None:
    for seed in SEEDS:
        assert generate(topic, seed) == generate(topic, seed)
    assert len({generate(topic, seed).text for seed in SEEDS}) > 5  # and seeds vary it


@pytest.mark.parametrize("topic", TOPIC_NAMES)
def test_every_derivation_arrives_at_the_answer(topic: str) -> None:
    for seed in SEEDS:
        q = generate(topic, seed)
        assert q.expected > 0 and math.isfinite(q.expected)
        assert any(q.expected_text() in line for line in q.derivation), (seed, q.derivation)
        # the expected value, written as the session shows it, earns full marks
        assert parse(q.expected_text().split(" (")[0], q.kind) == pytest.approx(
            q.expected, rel=0.01
        )


def test_a_session_is_seeded_too() -> None:
    a, b = session_questions(None, 7), session_questions(None, 7)
    assert [a(i) for i in range(10)] == [b(i) for i in range(10)]
    assert {a(i).topic for i in range(30)} != {"weights"}  # a mix of topics
    assert {session_questions("moe", 7)(i).topic for i in range(10)} == {"moe"}


def test_kv_cache_question_of_mistral_7b_per_token() -> None:
    q = first("kv-cache", model="mistral-7b", kv_dtype="bf16", ask="per token")
    assert q.expected == 131_072  # 2 x 32 x 8 x 128 x 2
    assert (
        "2 (K and V) x 32 layers x 8 KV heads x 128 head dim x 2 bytes per bf16 value"
        in (q.derivation[0])
    )


def test_kv_cache_question_of_mistral_7b_past_its_window() -> None:
    q = first("kv-cache", model="mistral-7b", kv_dtype="bf16", seq_len=16384, ask="per sequence")
    assert q.expected == 4096 * 131_072  # the window keeps 4,096 of the 16,384 tokens
    assert any("sliding window of 4,096" in line for line in q.derivation)


def test_batch_answers_follow_from_their_parameters() -> None:
    for seed in SEEDS:
        q = generate("batch", seed)
        p = q.params
        m, acc = MODELS[str(p["model"])], ACCELERATORS[str(p["accelerator"])]
        budget = int(p["gpus"]) * acc.memory * 0.9
        weights = f.total_params(m) * DTYPE_BYTES[str(p["weights_dtype"])]
        per_seq = f.kv_bytes_per_sequence(m, int(p["seq_len"]), DTYPE_BYTES[str(p["kv_dtype"])])
        assert q.expected == (budget - weights) // per_seq


def test_decode_and_cost_answers_follow_from_their_parameters() -> None:
    q = first("decode", model="llama-3-8b", accelerator="h100", weights_dtype="bf16", batch=1)
    m = MODELS["llama-3-8b"]
    step = f.decode_read_params(m, 1) * 2 + f.kv_bytes_per_sequence(m, int(q.params["context"]), 2)
    assert q.expected == pytest.approx(3.35e12 / step)
    for seed in SEEDS:
        c = generate("cost", seed)
        price, rate, util = (
            float(c.params[k]) for k in ("price_per_hour", "per_gpu_tok_s", "utilisation")
        )
        assert c.expected == pytest.approx(price / (rate * util * 3600) * 1e6)


def test_moe_questions_only_use_moe_models() -> None:
    assert {generate("moe", s).params["model"] for s in SEEDS} == {"mixtral-8x7b", "mixtral-8x22b"}


def _worked_sum(text: str) -> int:
    """`32 layers x (attention 41,943,040 + MLP 176,160,768) + output head 128,256 x 4,096`
    evaluated, the names of its parts left out."""
    names = r"top-\d+ of \d+ experts|\b(?!x\b)[A-Za-z]+\b"  # all words but the x of times
    arithmetic = re.sub(names, "", text).replace(",", "")
    assert re.fullmatch(r"[\d\s()+x]+", arithmetic), text
    return int(eval(arithmetic.replace("x", "*")))  # digits, brackets, + and * only


@pytest.mark.parametrize("model", sorted(MODELS))
def test_the_prefill_derivation_names_every_part_its_number_counts(model: str) -> None:
    # A dense model's MLP is most of its matmul weights: the line must say it counts it.
    q = first("prefill", model=model)
    m = MODELS[model]
    (line,) = [s for s in q.derivation if s.startswith("Matmul weights a token goes through:")]
    parts, total = line.split(": ", 1)[1].split(" = ")
    named = (
        ("attention", "router", "experts", "output head")
        if m.is_moe
        else ("attention", "MLP", "output head")
    )
    assert all(name in parts for name in named), line
    assert _worked_sum(parts) == f.matmul_params(m, m.top_k if m.is_moe else 1)
    assert total.startswith(f"{f.matmul_params(m, m.top_k if m.is_moe else 1):,} ")


def test_moe_derivations_name_what_their_numbers_count() -> None:
    # An MoE layer has several MLPs: the 3 x d x ffn line is one expert's, not the layer's.
    q = first("moe", model="mixtral-8x7b", ask="active")
    assert any(line.startswith("One expert: 3 matrices") for line in q.derivation)
    assert not any("MLP per layer" in line for line in q.derivation)
    # What a decode step reads counts the norms too (f.decode_read_params): it says so.
    d = first("decode", model="mixtral-8x7b")
    read = f.decode_read_params(MODELS["mixtral-8x7b"], 2)
    (line,) = [s for s in d.derivation if s.startswith("At batch 1 a step reads")]
    assert f"{read:,}" in line and "norms" in line and "output head" in line
