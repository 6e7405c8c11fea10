"""The ABBA comparison, on a fake clock: its arithmetic, not this machine's noise."""

from __future__ import annotations

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
