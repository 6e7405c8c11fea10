"""The Sampler over decode steps: greedy rows, log-probs of the processed distribution,
seeded draws that do not depend on the batch, the caller's logits left alone, and draws
that follow the processed distribution."""

from __future__ import annotations

import math
from typing import Any

import solution as sol
import torch
from oracle import expected_row, randn
from torch import Tensor

VOCAB = 32

# Chi-square critical values at significance 1e-4 by degrees of freedom (scipy's
# chi2.ppf(1 - 1e-4, df)); the draws come from a fixed seed, so the verdict is fixed.
CHI2_CRITICAL = {3: 21.11, 4: 23.51, 5: 25.74}

# Each request's logits at each step come from its own seed, whatever batch it is in.
ROW_SEED = {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6}


def row_logits(rid: str, step: int) -> Tensor:
    return randn(VOCAB, seed=100 * ROW_SEED[rid] + step, scale=1.5)


def start(specs: dict[str, tuple[dict[str, Any], list[int]]], seed: int = 0) -> Any:
    sampler = sol.Sampler(seed)
    for rid, (params, history) in specs.items():
        sampler.add_request(rid, sol.SamplingParams(**params), history)
    return sampler


def step(sampler: Any, batch: list[str], n: int) -> tuple[Tensor, Tensor]:
    x = torch.stack([row_logits(rid, n) for rid in batch])
    tokens, logprobs = sampler(x, batch)
    assert tokens.dtype == torch.int64 and tuple(tokens.shape) == (len(batch),), (
        f"tokens must be int64 [batch] = [{len(batch)}], got {tokens.dtype} {list(tokens.shape)}"
    )
    assert logprobs.dtype == torch.float32 and tuple(logprobs.shape) == (len(batch),), (
        f"logprobs must be float32 [batch], got {logprobs.dtype} {list(logprobs.shape)}"
    )
    return tokens, logprobs


def run(
    specs: dict[str, tuple[dict[str, Any], list[int]]], batch: list[str], steps: int, seed: int = 0
) -> dict[str, tuple[list[int], list[float]]]:
    """Every request's tokens and log-probs over `steps` decode steps of one batch."""
    sampler = start({rid: specs[rid] for rid in batch}, seed)
    out: dict[str, tuple[list[int], list[float]]] = {rid: ([], []) for rid in batch}
    for n in range(steps):
        tokens, logprobs = step(sampler, batch, n)
        for i, rid in enumerate(batch):
            out[rid][0].append(int(tokens[i]))
            out[rid][1].append(float(logprobs[i]))
    return out


MIXED: dict[str, tuple[dict[str, Any], list[int]]] = {
    "a": ({"temperature": 0.9, "seed": 11, "presence_penalty": 0.5, "frequency_penalty": 0.3}, [5]),
    "b": ({"temperature": 0.0, "repetition_penalty": 1.3}, []),
    "c": ({"temperature": 1.1, "seed": 12, "top_p": 0.9}, [1, 2, 3, 4, 5, 6, 7]),
    "d": (
        {"temperature": 0.7, "seed": 13, "top_k": 8, "min_p": 0.05, "repetition_penalty": 1.5},
        [],
    ),
}


def test_greedy_rows_return_the_argmax_with_the_lowest_index_on_ties() -> None:
    sampler = start({"a": ({"temperature": 0.0}, []), "b": ({"temperature": 0.0}, [])})
    tokens, _ = sampler(torch.tensor([[1.0, 3.0, 3.0], [0.0, 0.0, 5.0]]), ["a", "b"])
    assert tokens.tolist() == [1, 2], (
        f"temperature 0 takes the argmax, the lowest index on ties: [1, 2]; got {tokens.tolist()}"
    )


def test_greedy_takes_the_argmax_after_penalties() -> None:
    params = {"temperature": 0.0, "frequency_penalty": 1.0}
    sampler = start({"a": (params, [3])})
    x = torch.tensor([[0.0, 0.0, 5.0, 5.5, 1.0]])
    got = [int(sampler(x, ["a"])[0][0]) for _ in range(3)]
    assert got == [2, 3, 2], (
        f"greedy with frequency_penalty 1 on [0, 0, 5, 5.5, 1] and history [3]: token 3 "
        f"is penalised to 4.5, so the steps give 2, then 3 (4 vs 4.5), then 2 (4 vs 3.5); "
        f"got {got}"
    )
    history = sampler.output_tokens("a")
    assert history == [3, 2, 3, 2], f"the history must grow by each token: got {history}"


def test_logprobs_are_those_of_the_processed_distribution() -> None:
    batch = ["a", "b", "c", "d"]
    sampler = start(MIXED)
    histories = {rid: list(MIXED[rid][1]) for rid in batch}
    for n in range(6):
        tokens, logprobs = step(sampler, batch, n)
        for i, rid in enumerate(batch):
            want = expected_row(row_logits(rid, n).double().tolist(), MIXED[rid][0], histories[rid])
            token = int(tokens[i])
            assert token in want.kept(), (
                f"step {n}, request {rid} ({MIXED[rid][0]}): token {token} is not among the "
                f"tokens the filters keep, {want.kept()}"
            )
            if want.certain():
                lp = want.logprob(token)
                assert math.isclose(float(logprobs[i]), lp, abs_tol=1e-4), (
                    f"step {n}, request {rid}: the log-prob of token {token} under the "
                    f"processed distribution is {lp:.5f}, got {float(logprobs[i]):.5f}"
                )
            histories[rid].append(token)


def test_a_batched_step_equals_each_request_run_alone() -> None:
    together = run(MIXED, ["a", "b", "c", "d"], steps=6)
    for rid in MIXED:
        alone = run(MIXED, [rid], steps=6)
        assert together[rid][0] == alone[rid][0], (
            f"request {rid} ({MIXED[rid][0]}) generates {alone[rid][0]} alone but "
            f"{together[rid][0]} in a batch of 4"
        )
        for n, (x, y) in enumerate(zip(together[rid][1], alone[rid][1], strict=True)):
            assert math.isclose(x, y, abs_tol=1e-5), (
                f"request {rid}, step {n}: log-prob {y:.5f} alone, {x:.5f} in a batch of 4"
            )


def test_a_seeded_request_does_not_depend_on_unseeded_or_greedy_neighbours() -> None:
    specs: dict[str, tuple[dict[str, Any], list[int]]] = {
        "a": ({"temperature": 1.0, "seed": 7}, []),
        "b": ({"temperature": 1.0}, []),  # unseeded
        "c": ({"temperature": 0.0}, []),
        "e": ({"temperature": 0.8, "top_p": 0.95}, []),  # unseeded
    }
    alone = run(specs, ["a"], steps=10)["a"][0]
    for batch in (["b", "a"], ["a", "c"], ["c", "e", "a", "b"]):
        got = run(specs, batch, steps=10, seed=3)["a"][0]
        assert got == alone, (
            f"request a (seed 7) generates {alone} alone but {got} in the batch {batch}: "
            "a seeded request must draw only from its own generator"
        )


def test_the_same_seed_repeats_its_tokens_and_another_seed_does_not() -> None:
    specs: dict[str, tuple[dict[str, Any], list[int]]] = {
        "a": ({"temperature": 1.2, "seed": 42}, []),
        "b": ({"temperature": 1.2, "seed": 43}, []),
    }
    first = run(specs, ["a"], steps=12)["a"][0]
    again = run(specs, ["a"], steps=12, seed=99)["a"][0]
    other = run(specs, ["b"], steps=12)["b"][0]
    assert first == again, f"seed 42 gave {first}, then {again}"
    assert first != other, f"seeds 42 and 43 both gave {first}: the seed must matter"


def test_the_sampler_does_not_modify_the_logits_it_is_given() -> None:
    sampler = start({"a": (MIXED["a"][0], [0, 1]), "d": (MIXED["d"][0], [2])})
    x = randn(2, VOCAB, seed=20)
    before = x.clone()
    sampler(x, ["a", "d"])
    assert torch.equal(x, before), (
        f"sampling must leave the caller's logits alone: {int((x != before).sum())} values changed"
    )


def test_two_requests_sampled_from_the_same_logits_agree() -> None:
    params = {"temperature": 0.6, "top_k": 10, "seed": 5}
    sampler = start({"a": (params, []), "b": (params, [])})
    x = randn(1, VOCAB, seed=21)
    ta, la = sampler(x, ["a"])
    tb, lb = sampler(x, ["b"])
    assert ta.tolist() == tb.tolist() and math.isclose(float(la), float(lb), abs_tol=1e-6), (
        "two requests with the same settings and seed, sampled in turn from the same "
        f"logits, must agree: ({int(ta)}, {float(la):.5f}) then ({int(tb)}, {float(lb):.5f})"
    )


def test_sample_draws_seeded_rows_from_their_own_generator() -> None:
    probs = torch.softmax(randn(3, 12, seed=22), dim=-1)
    greedy = torch.tensor([False, False, False])
    g_batch = torch.Generator().manual_seed(9)
    g_alone = torch.Generator().manual_seed(9)
    shared = torch.Generator().manual_seed(0)
    for n in range(8):
        batched = sol.sample(probs, greedy, [None, g_batch, None], shared)
        alone = sol.sample(probs[1:2], greedy[:1], [g_alone], None)
        assert int(batched[1]) == int(alone[0]), (
            f"draw {n}: row 1 has its own generator, so it must draw {int(alone[0])} as it "
            f"does alone; it drew {int(batched[1])} next to two rows on the shared generator"
        )


def test_sample_follows_the_probabilities() -> None:
    p = torch.tensor([0.35, 0.25, 0.2, 0.1, 0.07, 0.03, 0.0, 0.0])
    n = 6000
    probs = p.expand(n, -1).contiguous()
    out = sol.sample(
        probs, torch.zeros(n, dtype=torch.bool), [None] * n, torch.Generator().manual_seed(1)
    )
    counts = torch.bincount(out, minlength=8).tolist()
    assert counts[6] == counts[7] == 0, f"tokens of probability 0 were drawn: {counts}"
    chi2 = sum(
        (c - n * float(q)) ** 2 / (n * float(q)) for c, q in zip(counts[:6], p[:6], strict=True)
    )
    assert chi2 < CHI2_CRITICAL[5], (
        f"{n} draws from {p.tolist()} gave counts {counts}: chi-square {chi2:.1f} exceeds "
        f"{CHI2_CRITICAL[5]} (significance 1e-4)"
    )


def test_sampled_tokens_follow_the_processed_distribution() -> None:
    # Penalised and scaled: [1.67, 1.5, 1.88, 1.5, 1.25, 1.13, 0.63, 0]; top-k keeps 6,
    # top-p 0.85 drops the 6th (mass 0.887 before it): 5 tokens, 4 degrees of freedom.
    params = {"temperature": 0.8, "top_k": 6, "top_p": 0.85, "repetition_penalty": 1.5}
    history = [0, 1]
    x = torch.tensor([[2.0, 1.8, 1.5, 1.2, 1.0, 0.9, 0.5, 0.0]])
    want = expected_row(x[0].double().tolist(), params, history)
    sampler = sol.Sampler(4)
    n = 1500
    rids = [f"r{i}" for i in range(n)]
    shared_params = sol.SamplingParams(**params)  # one object in the worker, used by all
    for rid in rids:
        sampler.add_request(rid, shared_params, history)
    tokens, _ = sampler(x.expand(n, -1).contiguous(), rids)
    counts = torch.bincount(tokens, minlength=8).tolist()
    q = want.probs()
    kept = want.kept()
    assert all(counts[i] == 0 for i in range(8) if i not in kept), (
        f"only tokens {kept} survive the filters; counts over {n} draws: {counts}"
    )
    chi2 = sum((counts[i] - n * q[i]) ** 2 / (n * q[i]) for i in kept)
    assert kept == [0, 1, 2, 3, 4], f"the oracle keeps {kept}: the test's own arithmetic is off"
    assert chi2 < CHI2_CRITICAL[4], (
        f"{n} draws gave {counts}, expected about {[round(n * v) for v in q]}: "
        f"chi-square {chi2:.1f} exceeds {CHI2_CRITICAL[4]} (significance 1e-4)"
    )
