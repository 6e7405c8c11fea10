"""The conventions on hand-worked tables (vocabulary 4, EOS 0, 2 beams): which EOS
candidates become hypotheses, how hypotheses are ranked, when a row stops."""

from __future__ import annotations

import pytest
import solution as sol
import torch
from oracle import (
    EOS,
    EXAMPLE,
    HEURISTIC,
    LENGTHS,
    PROMPT,
    L,
    Run,
    Table,
    compare,
    drive,
    reference_run,
    table_model,
)


def run(
    table: Table,
    max_new_tokens: int,
    length_penalty: float = 1.0,
    early_stopping: bool = False,
    n: int = 2,
    prompt: list[int] = PROMPT,
) -> Run:
    search = sol.BeamSearch(1, 2, EOS, max_new_tokens, length_penalty, early_stopping)
    fn = table_model({prompt[0]: table}, len(prompt))
    return drive(search, fn, [prompt], 2, max_new_tokens, n)


def close(got: list[float], want: list[float]) -> bool:
    return torch.allclose(torch.tensor(got), torch.tensor(want), rtol=1e-5, atol=1e-6)


def test_worked_example_keeps_the_rank_zero_and_rank_one_eos_hypotheses() -> None:
    got = run(EXAMPLE, 5, early_stopping=True)
    want = [[*PROMPT, 1, 0], [*PROMPT, 0]]
    assert got.sequences == want, f"the worked example's hypotheses are {want}, got {got.sequences}"


def test_hypothesis_length_counts_the_eos_and_not_the_prompt() -> None:
    got = run(EXAMPLE, 5, length_penalty=2.0, early_stopping=True)
    want = [(L(0.5) + L(0.6)) / 2**2, L(0.25) / 1**2]
    assert close(got.scores, want), (
        f"with length_penalty 2, [1, 0] scores (log 0.5 + log 0.6) / 2^2 and [0] scores "
        f"log 0.25 / 1^2 (lengths 2 and 1: EOS counted, prompt of 3 not): expected "
        f"{want}, got {got.scores}"
    )


def test_prompt_length_does_not_change_scores() -> None:
    short = run(EXAMPLE, 5, early_stopping=True, prompt=[3])
    long = run(EXAMPLE, 5, early_stopping=True, prompt=[3, 2, 2, 1, 1, 2, 1])
    assert close(short.scores, long.scores), (
        f"the same generated tokens after a prompt of 1 and of 7 tokens must score the "
        f"same: {short.scores} vs {long.scores}"
    )


def test_eos_candidate_ranked_after_num_beams_is_dropped() -> None:
    got = run(EXAMPLE, 5, early_stopping=True)
    assert [*PROMPT, 2, 0] not in got.sequences, (
        "[2, 0] is an EOS candidate at rank 2 of step 2 (after num_beams = 2): it must be "
        f"dropped, not become a hypothesis; got {got.sequences}"
    )


def test_scores_are_sums_of_log_probs_divided_by_length() -> None:
    got = run(EXAMPLE, 5, early_stopping=True)
    want = [(L(0.5) + L(0.6)) / 2, L(0.25)]
    assert close(got.scores, want), f"expected scores {want}, got {got.scores}"


@pytest.mark.parametrize(
    ("length_penalty", "winner", "score"),
    [(0.0, [0], L(0.3)), (1.0, [1, 1, 1], L(0.6)), (2.0, [1, 1, 1], L(0.6) / 3)],
)
def test_length_penalty_decides_between_a_short_and_a_long_hypothesis(
    length_penalty: float, winner: list[int], score: float
) -> None:
    got = run(LENGTHS, 3, length_penalty=length_penalty, n=1)
    want = [[*PROMPT, *winner]]
    assert got.sequences == want, (
        f"[0] sums to log 0.3 at length 1, [1, 1, 1] to 3 log 0.6 at length 3: with "
        f"length_penalty {length_penalty} the best is {want}, got {got.sequences}"
    )
    assert close(got.scores, [score]), f"expected score {score}, got {got.scores}"


def test_running_beams_are_finished_at_max_new_tokens() -> None:
    got = run(LENGTHS, 3, n=2)
    assert got.sequences[0] == [*PROMPT, 1, 1, 1], (
        "at max_new_tokens the running candidates among the first num_beams ranks become "
        f"hypotheses of length max_new_tokens: expected [1, 1, 1] first, got {got.sequences}"
    )
    assert close(got.scores[:1], [L(0.6)]), f"[1, 1, 1] scores 3 log 0.6 / 3, got {got.scores}"


def test_max_new_tokens_one_finishes_the_first_step_candidates() -> None:
    got = run(LENGTHS, 1, n=2)
    want = [[*PROMPT, 1], [*PROMPT, 0]]
    assert got.sequences == want and len(got.steps) == 1, (
        f"max_new_tokens 1: one step, then the two best candidates {want}; got "
        f"{got.sequences} after {len(got.steps)} steps"
    )


def test_early_stopping_true_stops_once_num_beams_hypotheses_are_held() -> None:
    got = run(EXAMPLE, 5, early_stopping=True)
    assert len(got.steps) == 2, (
        f"two hypotheses are held after step 2: early_stopping=True must be done then, "
        f"took {len(got.steps)} steps (hypotheses {got.sequences})"
    )


def test_early_stopping_false_searches_on_while_the_best_running_beam_could_win() -> None:
    """After step 2 the best running beam scores -2.079 / 2 = -1.04 > -1.386, the worst
    hypothesis: go on. Step 3 ends [1, 2] with EOS (0.95): -2.130 / 3 = -0.710 beats [0]."""
    got = run(EXAMPLE, 5, early_stopping=False)
    want = [[*PROMPT, 1, 0], [*PROMPT, 1, 2, 0]]
    assert got.sequences == want, (
        f"early_stopping=False must search on after step 2 here: expected {want}, got "
        f"{got.sequences}"
    )


def test_early_stopping_false_stops_when_the_best_running_beam_cannot_win() -> None:
    got = run(HEURISTIC, 4, early_stopping=False)
    want = [[*PROMPT, 1, 0], [*PROMPT, 2, 0]]
    assert got.sequences == want and len(got.steps) == 2, (
        "after step 2 the best running beam, -2.900 / 2 = -1.45, cannot beat the worst "
        f"hypothesis, -1.127: the row is done with {want}; got {got.sequences} after "
        f"{len(got.steps)} steps"
    )


@pytest.mark.parametrize("early_stopping", [True, False])
@pytest.mark.parametrize("table", ["example", "heuristic", "lengths"])
def test_crafted_tables_match_the_reference_step_by_step(table: str, early_stopping: bool) -> None:
    tables = {"example": EXAMPLE, "heuristic": HEURISTIC, "lengths": LENGTHS}
    got = run(tables[table], 4, early_stopping=early_stopping)
    fn = table_model({PROMPT[0]: tables[table]}, len(PROMPT))
    want = reference_run(fn, [PROMPT], 2, 4, early_stopping=early_stopping, num_return_sequences=2)
    compare(got, want, f"{table} table, early_stopping={early_stopping}")
