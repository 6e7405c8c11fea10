"""The generators: seeded and deterministic, answers that follow from their parameters,
derivations that arrive at the answer."""

from __future__ import annotations

import math

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
