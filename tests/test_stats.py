"""`drill stats`: per kata and per topic, in the terminal, as JSON and as HTML plots."""

from __future__ import annotations

from drills.render import sparkline
from drills.schedule import attempts_from
from drills.stats import KataStats, TopicStats, kata_stats, topic_stats
from drills.stats_html import page
from grader.kata import all_katas
from grader.paths import BUILTIN_KATAS
from tests.test_schedule import grade

HISTORY = [
    grade("kv-cache", "k1", 9, 45.0, failing=("t.py::test_wraps",), elapsed_s=2000),
    grade("kv-cache", "k2", 6, 70.0, failing=("t.py::test_wraps",), elapsed_s=1700),
    grade("kv-cache", "k3", 3, 96.0, elapsed_s=1300),
    grade("sampling", "s1", 1, 100.0, elapsed_s=780),
]


def stats() -> tuple[list[KataStats], list[TopicStats]]:
    per_kata = kata_stats(all_katas(BUILTIN_KATAS), attempts_from(HISTORY))
    return per_kata, topic_stats(per_kata)


def test_each_kata_tried_has_its_attempts_best_last_trend_and_fastest_pass() -> None:
    per_kata, _ = stats()
    by = {k.kata: k.to_json() for k in per_kata}
    assert set(by) == {"kv-cache", "sampling"}
    kv = by["kv-cache"]
    assert (kv["attempts"], kv["passes"], kv["best"], kv["last"]) == (3, 1, 96.0, 96.0)
    assert kv["trend"] == 51.0 and kv["scores"] == [45.0, 70.0, 96.0]
    assert kv["fastest_pass_min"] == 21.7  # 1300 s
    assert by["sampling"]["trend"] is None and by["sampling"]["fastest_pass_min"] == 13.0


def test_a_topic_sums_its_katas_and_averages_their_last_scores() -> None:
    _, per_topic = stats()
    inference = next(t for t in per_topic if t.topic == "inference").to_json()
    assert inference == {
        "topic": "inference",
        "katas": 2,
        "attempts": 4,
        "passes": 2,
        "mean_last": 98.0,
    }


def test_the_sparkline_runs_from_the_lowest_block_to_the_highest() -> None:
    assert sparkline([0.0, 50.0, 100.0, 120.0]) == "▁▅██"


def test_the_html_page_has_three_plots_and_the_table_and_is_the_same_every_time() -> None:
    per_kata, per_topic = stats()
    first = page(per_kata, per_topic)
    assert first.count("<svg") == 3 and "<script" not in first
    assert "<td>kv-cache</td><td>3</td><td>1</td><td>96.0</td>" in first
    assert page(per_kata, per_topic) == first
