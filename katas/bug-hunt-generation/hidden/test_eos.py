"""EOS: a row returns its tokens up to and including its first EOS, and nothing after.

The expected outputs are worked out from a run without EOS: with eos_id set to a token
the model emits at step k (for the first time), the row must return exactly the first
k + 1 tokens of that run, and the other rows are unaffected.
"""

from __future__ import annotations

from collections import Counter

import solution as sol
from oracle import build, one_by_one, prompts


def _first(free: list[int], eos: int) -> list[int]:
    """The tokens of a run without EOS, cut after the first `eos`."""
    return free[: free.index(eos) + 1] if eos in free else free


def test_a_row_stops_right_after_its_eos_and_returns_it() -> None:
    model, _ = build(sol)
    prompt = prompts(30, [6])[0]
    free = sol.generate(model, [prompt], 14)[0]
    eos = free[4]
    got = sol.generate(model, [prompt], 14, eos_id=eos)[0]
    assert got == _first(free, eos), (
        f"eos_id={eos} on {free}: expected {_first(free, eos)}, got {got}"
    )


def test_eos_as_the_first_new_token_returns_just_the_eos() -> None:
    model, _ = build(sol)
    prompt = prompts(31, [5])[0]
    eos = sol.generate(model, [prompt], 1)[0][0]
    got = sol.generate(model, [prompt], 10, eos_id=eos)
    assert got == [[eos]], f"the first new token is the EOS {eos}: expected [[{eos}]], got {got}"


def test_each_row_of_a_batch_stops_at_its_own_eos() -> None:
    model, _ = build(sol)
    batch = prompts(32, [3, 7, 5, 2])
    free = sol.generate(model, batch, 14)
    eos = free[1][2]
    got = sol.generate(model, batch, 14, eos_id=eos)
    want = [_first(row, eos) for row in free]
    assert got == want, f"eos_id={eos}: expected {want}, got {got}"


def test_other_rows_keep_generating_after_one_row_finishes() -> None:
    model, _ = build(sol)
    batch = prompts(33, [4, 9])
    free = sol.generate(model, batch, 14)
    eos = free[0][0]  # row 0 finishes at once
    got = sol.generate(model, batch, 14, eos_id=eos)
    want = [[eos], _first(free[1], eos)]
    assert got == want, f"eos_id={eos}: expected {want}, got {got}"


def test_nothing_follows_an_eos_in_any_row() -> None:
    model, _ = build(sol)
    batch = prompts(34, [2, 4, 6, 8, 10, 12])
    free = sol.generate(model, batch, 20)
    eos = Counter(t for row in free for t in row).most_common(1)[0][0]  # in several rows
    got = sol.generate(model, batch, 20, eos_id=eos)
    for row, out in enumerate(got):
        assert eos not in out[:-1], f"row {row}: tokens after its EOS {eos}: {out}"
        assert len(out) == 20 or out[-1:] == [eos], (
            f"row {row}: stopped after {len(out)} tokens without an EOS: {out}"
        )


def test_without_eos_every_row_gets_max_new_tokens() -> None:
    model, _ = build(sol)
    got = sol.generate(model, prompts(35, [3, 8, 1]), 9)
    assert [len(r) for r in got] == [9, 9, 9], f"expected 9 tokens per row, got {got}"


def test_a_batch_with_eos_matches_one_by_one() -> None:
    model, _ = build(sol)
    batch = prompts(36, [5, 1, 8, 3])
    eos = sol.generate(model, batch, 12)[2][3]
    got = sol.generate(model, batch, 12, eos_id=eos)
    want = one_by_one(sol, model, batch, max_new_tokens=12, eos_id=eos)
    assert got == want, f"eos_id={eos}: batched {got}, one at a time {want}"


def test_zero_new_tokens_gives_empty_lists() -> None:
    model, _ = build(sol)
    got = sol.generate(model, prompts(37, [3, 5]), 0, eos_id=1)
    assert got == [[], []], f"max_new_tokens=0: expected [[], []], got {got}"
