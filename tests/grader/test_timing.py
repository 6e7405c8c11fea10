"""The ABBA comparison, on a fake clock: its arithmetic, not this machine's noise."""

from __future__ import annotations

import random

import pytest

from grader.judge import timing


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_ratio_is_the_median_of_paired_rounds(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr("grader.judge.timing.time.perf_counter", clock)

    def slow() -> None:
        clock.now += 0.002

    def fast() -> None:
        clock.now += 0.001

    result = timing.compare(slow, fast, rounds=9, block_s=0.01)
    assert result.ratio == pytest.approx(2.0)
    assert result.a_s == pytest.approx(0.002)
    assert result.b_s == pytest.approx(0.001)
    assert result.rounds == 9


def test_one_slow_round_does_not_move_the_median(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr("grader.judge.timing.time.perf_counter", clock)
    calls = {"n": 0}

    def a() -> None:
        calls["n"] += 1
        # One burst of load lands on A alone, in a single block of one round.
        clock.now += 0.05 if calls["n"] == 40 else 0.001

    def b() -> None:
        clock.now += 0.001

    result = timing.compare(a, b, rounds=11, block_s=0.005)
    assert result.ratio == pytest.approx(1.0)


def test_stops_at_the_time_limit_after_the_minimum_rounds(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr("grader.judge.timing.time.perf_counter", clock)

    def slow() -> None:
        clock.now += 1.0

    result = timing.compare(slow, slow, rounds=50, min_rounds=3, max_s=2.0, warmup=0)
    assert result.rounds == 3


def test_the_median_interval_is_unbounded_below_five_rounds() -> None:
    assert timing.median_interval([1.0] * 4) == (0.0, float("inf"))
    assert timing.median_interval([float(i) for i in range(1, 6)]) == (1.0, 5.0)
    assert timing.median_interval([float(i) for i in range(1, 9)]) == (1.0, 8.0)
    assert timing.median_interval([float(i) for i in range(1, 26)]) == (7.0, 19.0)


class Steady:
    """A side whose block takes `per_call` seconds per call on the fake clock."""

    def __init__(self, clock: FakeClock, per_call: float) -> None:
        self.clock, self.per_call = clock, per_call

    def block(self, n: int) -> float:
        self.clock.now += n * self.per_call
        return self.per_call


def test_rounds_stop_once_the_interval_clears_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr("grader.judge.timing.time.perf_counter", clock)
    a, b = Steady(clock, 0.001), Steady(clock, 0.001)
    settled = timing.compare_sides(a, b, rounds=41, budget=3.0)
    assert settled.rounds == 5 and settled.high < 3.0
    unsettled = timing.compare_sides(a, b, rounds=41)
    assert unsettled.rounds == 41


def test_rounds_run_on_while_the_interval_straddles_the_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FakeClock()
    monkeypatch.setattr("grader.judge.timing.time.perf_counter", clock)
    draws = random.Random(0)

    class Wobbly(Steady):
        def block(self, n: int) -> float:
            self.per_call = draws.choice((0.002, 0.004))  # rounds of 2x, 3x and 4x
            return super().block(n)

    result = timing.compare_sides(Wobbly(clock, 0.003), Steady(clock, 0.001), rounds=21, budget=3.0)
    assert result.rounds == 21 and result.low <= 3.0 <= result.high


def comparison(ratio: float, low: float, high: float, spread: float) -> timing.Comparison:
    return timing.Comparison(ratio, 0.0, 0.0, 21, low=low, high=high, b_spread=spread)


def test_an_interval_within_or_past_the_budget_decides_whatever_the_noise() -> None:
    assert comparison(1.0, 0.8, 1.3, spread=0.5).verdict(3.0) == "pass"
    assert comparison(5.0, 4.1, 6.0, spread=0.5).verdict(3.0) == "fail"


def test_across_the_budget_a_steady_reference_lets_the_median_decide() -> None:
    # A quiet machine: the noise was the candidate's own (it cannot buy an "unsure").
    assert comparison(2.9, 2.0, 4.0, spread=0.05).verdict(3.0) == "pass"
    assert comparison(3.2, 2.0, 4.0, spread=0.05).verdict(3.0) == "fail"


def test_across_the_budget_a_busy_machine_is_unsure() -> None:
    assert comparison(3.2, 2.0, 4.0, spread=0.3).verdict(3.0) == "unsure"


def test_spread_is_how_far_a_sides_two_blocks_of_a_round_differ() -> None:
    assert timing.spread([(1.0, 1.0), (2.0, 2.0)]) == 0.0  # steady, whatever the level
    assert timing.spread([(1.0, 1.5), (1.0, 1.5), (1.0, 1.0)]) == pytest.approx(0.4)
