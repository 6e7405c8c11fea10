"""Folding the timeline, the phase clock and the script, on hand-written events."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from drills.mock import views
from drills.mock.script import DIMENSIONS, load_script
from drills.mock.state import fold
from drills.mock.timeline import Event
from grader.kata import Kata, load_kata_from
from grader.validate import check_structure, missing_follow_ups


def ev(kind: str, t: float, by: str = "interviewer", **data: Any) -> Event:
    at = f"2030-01-01T{int(t) // 3600:02d}:{int(t) // 60 % 60:02d}:{int(t) % 60:02d}+00:00"
    return Event(kind, by, t, at, data)


def test_a_hint_revealed_twice_counts_once_at_its_first_time() -> None:
    state = fold([ev("hint", 60, index=0), ev("hint", 65, index=0), ev("hint", 300, index=1)])
    assert [(h.index, h.t) for h in state.hints] == [(0, 60), (1, 300)]


def test_the_latest_score_per_dimension_counts_and_out_of_range_ones_do_not() -> None:
    state = fold(
        [
            ev("score", 10, dimension="correctness", value=2),
            ev("score", 20, dimension="correctness", value=3),
            ev("score", 30, dimension="testing", value=7),
        ]
    )
    assert {k: s.value for k, s in state.scores.items()} == {"correctness": 3}


def test_first_passing_test_is_the_first_ok_run() -> None:
    runs = [
        ev("test", 100, "candidate", passed=0, failed=2, ok=False),
        ev("test", 400, "candidate", passed=2, failed=0, ok=True),
        ev("test", 500, "candidate", passed=1, failed=1, ok=False),
    ]
    assert fold(runs).first_pass_t == 400
    assert fold(runs[:1]).first_pass_t is None


def test_moments_name_what_happened_at_each_snapshot() -> None:
    state = fold(
        [
            ev("start", 0, "candidate", snapshot="a"),
            ev("snapshot", 50, "watcher", snapshot="b"),
            ev("test", 60, "candidate", passed=1, failed=0, ok=True, snapshot="b"),
            ev("hint", 70, index=1, snapshot="b"),
            ev("grade", 80, "candidate", score=85.0, passed=True, checks={}, snapshot="b"),
        ]
    )
    assert [m.what for m in state.moments] == [
        "start",
        "edited",
        "test: 1 passed, 0 failed",
        "hint 2 revealed",
        "grade: 85.0/100, passed",
    ]


@pytest.fixture
def script(toy_kata: Kata) -> Any:
    return load_script(toy_kata)


def test_the_script_is_read_in_rubric_order_with_integer_anchors(script: Any) -> None:
    # the toy kata plans clarify 2m, code 6m, test 2m
    assert [(p.name, p.minutes) for p in script.phases] == [
        ("clarify", 2),
        ("code", 6),
        ("test", 2),
    ]
    assert tuple(d.key for d in script.rubric) == DIMENSIONS
    assert script.dimension("complexity").anchors[2] == "full sort"


def test_without_marks_the_clock_follows_the_plan(script: Any) -> None:
    state = fold([])
    assert views.current_phase(script, state, 119) == 0
    assert views.current_phase(script, state, 120) == 1  # code starts at 2m
    assert views.current_phase(script, state, 9999) == 2
    lines = [text for text, _ in views.phases(script, state, 150)]
    assert lines[1].startswith("> code")
    assert lines[0].startswith("  clarify")


def test_a_marked_phase_shows_time_spent_and_overrun(script: Any) -> None:
    state = fold([ev("phase", 100, index=1)])  # code began at 1m40s
    text, style = views.phases(script, state, 100 + 6 * 60 + 40)[1]
    assert text.startswith("> code") and "6m40s in" in text and "0m40s over" in text
    assert style == "bold red"
    clarify = views.phases(script, state, 500)[0][0]
    assert "took 1m40s" in clarify


@pytest.mark.parametrize(
    ("follow_ups", "missing"),
    [
        (["Batch this across 1000 inputs and parallelise it.", "What breaks at 10x scale?"], []),
        (["Run 1,000 requests in parallel.", "Scale it ten times: what breaks?"], []),
        (["Batch 10000 rows", "What breaks at 100x scale?"], [0, 1]),
        (["Batch this across 1000 inputs.", "What about 10x the memory?"], [1]),
    ],
)
def test_the_required_follow_ups_are_recognised(follow_ups: list[str], missing: list[int]) -> None:
    ideas = ["to batch it across 1000 inputs and parallelise it", "what breaks at 10x scale"]
    assert missing_follow_ups(follow_ups) == [ideas[i] for i in missing]


def edited_interview(kata: Kata, tmp_path: Path, old: str, new: str) -> Kata:
    """A copy of `kata` whose interview.yaml has `old` replaced by `new`."""
    folder = tmp_path / kata.id
    shutil.copytree(kata.folder, folder)
    interview = folder / "interview.yaml"
    text = interview.read_text()
    assert old in text
    interview.write_text(text.replace(old, new))
    return load_kata_from(folder)


def test_validate_rejects_an_interview_without_the_10x_follow_up(
    toy_kata: Kata, tmp_path: Path
) -> None:
    edited = edited_interview(
        toy_kata, tmp_path, "  - What breaks at 10x scale?\n", "  - Why a heap?\n"
    )
    findings = {f.item: f for f in check_structure(edited)}
    assert findings["interview.yaml"].ok  # the schema alone still passes
    bad = findings["interview.yaml follow-ups"]
    assert not bad.ok and "10x scale" in bad.detail
    assert {f.item: f.ok for f in check_structure(toy_kata)}["interview.yaml follow-ups"]


def test_phases_fill_the_sessions_limit_in_proportion() -> None:
    from drills.mock.script import Phase, Script

    script = Script((Phase("clarify", 3), Phase("code", 21), Phase("test", 6)), (), (), (), (), ())
    fitted = script.fitted(45 * 60)
    assert [p.minutes for p in fitted.phases] == [4.5, 31.5, 9.0]
    assert fitted.phase_start_s(3) == 45 * 60
    assert script.fitted(None) == script


def test_validate_rejects_phases_that_do_not_add_up_to_the_katas_minutes(
    toy_kata: Kata, tmp_path: Path
) -> None:
    edited = edited_interview(
        toy_kata, tmp_path, "{name: code, minutes: 6}", "{name: code, minutes: 96}"
    )
    bad = {f.item: f for f in check_structure(edited)}["interview.yaml phases"]
    assert not bad.ok and bad.detail == "100 minutes planned for a 10-minute kata"
    assert {f.item: f.ok for f in check_structure(toy_kata)}["interview.yaml phases"]
