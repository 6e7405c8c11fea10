"""The feedback report and the replay, on a timeline written by hand."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from drills.__main__ import run
from drills.mock import chart, report, snapshots, store, timeline
from drills.mock.interview import Mock
from drills.mock.replay import frames
from drills.mock.state import GradeRun, Mark, VisibleRun
from drills.mock.timeline import Event

STARTED = "2030-01-01T10:00:00+00:00"


def at(t: float) -> str:
    return f"2030-01-01T10:{int(t) // 60:02d}:{int(t) % 60:02d}.000000+00:00"


def write_interview(mock: Mock) -> None:
    """A 20-minute interview: fail, hint, pass at 5m, grade, scores, a follow-up, a note."""
    session = mock.session()
    session.started_at = STARTED
    mock.ws.save(session)
    path = store.timeline_path(mock.root)
    path.unlink()
    (mock.root / "solution.py").write_text("def top_k_indices(xs, k):\n    return []\n")
    wrong = snapshots.take(mock.root)
    (mock.root / "solution.py").write_text(
        "def top_k_indices(xs, k):\n    return sorted(range(len(xs)), key=lambda i: -xs[i])[:k]\n"
    )
    right = snapshots.take(mock.root)
    failing = {"status": "fail", "score": 3.5, "max": 20, "reason": "4.1x the reference's time"}
    script: list[tuple[str, str, float, dict[str, object]]] = [
        ("start", "candidate", 0, {"snapshot": wrong}),
        ("test", "candidate", 120, {"passed": 0, "failed": 1, "ok": False, "snapshot": wrong}),
        ("hint", "interviewer", 150, {"index": 1, "snapshot": wrong}),
        ("snapshot", "watcher", 250, {"snapshot": right}),
        ("test", "candidate", 300, {"passed": 1, "failed": 0, "ok": True, "snapshot": right}),
        ("phase", "interviewer", 320, {"index": 2}),
        (
            "grade",
            "candidate",
            600,
            {
                "score": 78.5,
                "passed": False,
                "checks": {"tests": {"status": "pass", "score": 60, "max": 60}, "speed": failing},
                "only": [],
                "snapshot": right,
            },
        ),
        ("follow_up", "interviewer", 700, {"index": 1}),
        ("score", "interviewer", 800, {"dimension": "correctness", "value": 3}),
        ("score", "interviewer", 801, {"dimension": "code_quality", "value": 2}),
        ("score", "interviewer", 802, {"dimension": "complexity", "value": 2}),
        ("score", "interviewer", 803, {"dimension": "testing", "value": 4}),
        ("note", "interviewer", 810, {"text": "talked through ties | well"}),
    ]
    for kind, by, t, data in script:
        timeline.append(path, Event(kind, by, t, at(t), dict(data)))


@pytest.fixture
def finished(mock: Mock) -> Mock:
    write_interview(mock)
    return mock


def test_the_markdown_report_shows_the_whole_interview(finished: Mock) -> None:
    text = report.to_markdown(report.build(finished))
    for needle in (
        "# Mock interview: Indices of the k largest values",
        "Last grade at 10m00s: **78.5/100, not passed**",
        "| speed | fail | 3.5/20 | `4.1x the reference's time` |",  # a reason quotes code
        "Total 11/16 (4 of 4 scored).",
        "| Code quality and types | 2/4 | typed loosely |",
        "| 2 | 2m30s | A key of (-value, index) gives the order you need. |",  # hint 2, given at 2m30s
        "Time to first passing visible test: **5m00s**.",
        "| 2m00s | test | 0 passed, 1 failed |",
        "| 10m00s | grade | 78.5, not passed (not passing: speed) |",
        "| clarify | 4m | 5m20s (from 0m00s) |",  # planned 2m of 10, fitted to 20; then test
        "| code | 12m | skipped |",
        "| test | 4m | 8m10s (from 5m20s) |",  # until the last event at 13m30s
        "- 11m40s: What breaks at 10x scale?",
        "- 13m30s (interviewer): talked through ties | well",
        "- Sorting by value only, losing index order on ties.",
    ):
        assert needle in text, needle
    advice = text.split("## What to practise next")[1].split("##")[0]
    lines = [line for line in advice.splitlines() if line.startswith("- ")]
    # weakest first, each with the next anchor up; then the failing check; then the hint
    assert lines[0] == '- Code quality and types (2/4): the next level is "clean"'
    assert lines[1] == '- Complexity and memory (2/4): the next level is "heap"'
    assert (
        lines[2]
        == '- Correctness and edge cases (3/4): the next level is "right with edge cases named"'
    )
    assert "- speed: 4.1x the reference's time" in lines
    assert any("without hints" in line and "A key of (-value, index)" in line for line in lines)


class Structure(HTMLParser):
    """Collects tags and checks that every opened element is closed in order."""

    VOID = frozenset({"meta", "br", "img", "link", "input", "hr"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-5:])
        self.stack.pop()


def test_the_html_report_is_self_contained_and_well_formed(finished: Mock) -> None:
    page = report.to_html(report.build(finished))
    parser = Structure()
    parser.feed(page)
    parser.close()
    assert parser.stack == []
    names = [t for t, _ in parser.tags]
    assert "script" not in names and "link" not in names and "img" not in names
    assert not any("src" in attrs or "href" in attrs for _, attrs in parser.tags)
    assert re.findall(r"https?://[^\"' ]+", page) == [
        "http://www.w3.org/2000/svg"
    ]  # the SVG namespace
    assert names.count("svg") == 1
    assert names.count("circle") == 2 and names.count("rect") == 1  # two tests, one grade
    assert "talked through ties | well" in page and "<code>drill start" in page


def test_text_that_quotes_the_candidate_is_a_code_span_in_both_formats() -> None:
    from grader.render.markdown import code_span

    said = "fixed `x` ![p](https://evil.example/p.png) **now** </code><img src=x>"
    quoted = code_span(said)
    assert quoted == f"``{said}``"
    page = report._inline(f"The candidate's diagnosis: {quoted} and **bold**")
    assert page == (
        "The candidate&#x27;s diagnosis: <code>fixed `x` ![p](https://evil.example/p.png) "
        "**now** &lt;/code&gt;&lt;img src=x&gt;</code> and <strong>bold</strong>"
    ).replace("&#x27;", "'")
    assert report._inline(code_span("`tick`")) == "<code>`tick`</code>"  # padded fence


def test_the_chart_places_runs_by_minute_and_percent() -> None:
    """Hand-worked in chart.py: over 20 minutes, 10m is x = 334 and 50% is y = 111."""
    tests = [VisibleRun(600.0, 1, 1, False), VisibleRun(1200.0, 2, 0, True)]
    grades = [GradeRun(600.0, 50.0, False, {})]
    svg = chart.runs_svg(tests, grades, [Mark(0, 300.0)], span_s=1200.0)
    assert '<circle class="test" cx="334.0" cy="111.0" r="4" fill="#c62828">' in svg
    assert '<circle class="test" cx="624.0" cy="16.0" r="4" fill="#2e7d32">' in svg
    assert '<rect class="grade" x="330.0" y="107.0"' in svg
    assert '<line x1="189.0" y1="16" x2="189.0"' in svg  # the hint at 5m: 44 + 580/4
    assert [chart.tick_step(s) for s in (300, 1200, 2700, 5400, 20000)] == [1, 2, 5, 10, 60]


def test_the_report_command_writes_html_for_an_html_file(
    finished: Mock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "feedback.html"
    assert run(["mock", "report", "--dir", str(finished.root), "--output", str(out)]) == 0
    assert out.read_text().startswith("<!DOCTYPE html>")
    capsys.readouterr()
    assert run(["mock", "report", "--dir", str(finished.root)]) == 0
    assert capsys.readouterr().out.startswith("# Mock interview:")


def test_a_report_before_anything_happened_says_so(mock: Mock) -> None:
    text = report.to_markdown(report.build(mock))
    assert "No grade was run" in text
    assert "No hints were given." in text and "No tests or grades were run." in text
    assert "Finish with a full `drill grade`" in text


def test_replay_folds_unchanged_moments_and_diffs_each_change(finished: Mock) -> None:
    steps = frames(finished.root, finished.state().moments)
    assert [[m.what for m in f.moments] for f in steps] == [
        ["start", "test: 0 passed, 1 failed", "hint 2 revealed"],
        ["edited", "test: 1 passed, 0 failed", "grade: 78.5/100, not passed"],
    ]
    assert [f.t for f in steps] == [0, 250]
    second = "".join(steps[1].diff)
    assert "-    return []\n" in second
    assert "+    return sorted(range(len(xs)), key=lambda i: -xs[i])[:k]\n" in second
    assert steps[0].diff[0].startswith("--- /dev/null")


def test_the_replay_command_prints_every_step_with_its_time(
    finished: Mock, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["mock", "replay", "--all", "--dir", str(finished.root)]) == 0
    out = capsys.readouterr().out
    assert "frame 1/2 at 0m00s" in out and "frame 2/2 at 4m10s" in out
    assert out.index("2m30s  hint 2 revealed") < out.index("frame 2/2")
    assert "+    return sorted(" in out


def test_a_missing_snapshot_is_named_not_fatal(finished: Mock) -> None:
    for f in store.snapshots_dir(finished.root).iterdir():
        f.unlink()
    steps = frames(finished.root, finished.state().moments)
    assert "is missing from this copy of the workspace" in "".join(steps[0].diff)


def test_a_mock_without_drill_test_runs_says_so_beside_a_passing_grade() -> None:
    from drills.mock.report import _runs
    from drills.mock.state import GradeRun, MockState

    state = MockState(grades=[GradeRun(600.0, 95.0, True, {"tests": {"status": "pass"}})])
    text = " ".join(_runs(state, 900.0).paragraphs)
    assert "`drill test` was never run" in text
    assert "Every hidden test passed in the grade at 10m00s" in text
    assert "never passed" not in text


def _add(mock: Mock, kind: str, t: float, **data: object) -> None:
    timeline.append(store.timeline_path(mock.root), Event(kind, "candidate", t, at(t), data))


def test_a_partial_grade_is_never_the_mocks_grade(
    finished: Mock, capsys: pytest.CaptureFixture[str]
) -> None:
    """After the full grade (78.5 at 10m), `drill grade --only types` passes at 15m."""
    types = {"types": {"status": "pass", "score": 10, "max": 10, "reason": ""}}
    _add(finished, "grade", 900, partial=["types"], passed=True, checks=types)
    text = report.to_markdown(report.build(finished))
    auto = text.split("## Auto-grade")[1].split("\n## ")[0]
    assert "Last grade at 10m00s: **78.5/100, not passed**." in auto
    assert (
        "Partial runs (`drill grade --only`: not grades of the kata, no score out of 100): "
        "types: passed at 15m00s." in auto
    )
    assert "| speed | fail |" in auto  # the full grade's checks, not the partial's
    assert "| 15m00s | grade --only | types: passed |" in text
    assert "- speed: 4.1x the reference's time" in text  # advice from the full grade
    page = report.to_html(report.build(finished))
    assert page.count('<rect class="grade"') == 1  # a partial run has no score to plot
    capsys.readouterr()
    assert run(["mock", "interviewer", "--print", "--dir", str(finished.root)]) == 0
    out = capsys.readouterr().out
    assert "last grade at 10m00s: 78.5/100, not passed; tests pass, speed fail" in out
    assert "grade --only at 15m00s: partial: types (every check that ran passed); types pass" in out
    assert "/100, passed" not in out


def test_a_grade_recorded_before_partial_grades_were_marked_is_read_as_partial(
    mock: Mock,
) -> None:
    """An older timeline wrote `only` and a score of the checks that ran: 100.0 for a stub's
    types. It must not become the report's grade."""
    _add(mock, "grade", 60, score=10.0, passed=False, checks={}, only=[])
    _add(mock, "grade", 90, score=100.0, passed=True, checks={}, only=["types"])
    state = mock.state()
    assert [g.score for g in state.grades] == [10.0]
    assert [p.ran for p in state.partials] == [("types",)]
    assert [m.what for m in state.moments] == ["start"]  # these two had no snapshot
    auto = report.to_markdown(report.build(mock)).split("## Auto-grade")[1].split("\n## ")[0]
    assert "**10.0/100, not passed**" in auto and "100.0" not in auto


def test_a_grade_after_the_model_answer_was_seen_is_not_counted(finished: Mock) -> None:
    _add(finished, "review", 900)
    _add(finished, "grade", 950, score=100.0, passed=True, checks={})
    state = finished.state()
    assert state.counted_grade() == state.grades[0]
    auto = report.to_markdown(report.build(finished)).split("## Auto-grade")[1].split("\n## ")[0]
    assert "Last grade at 10m00s: **78.5/100, not passed**." in auto
    assert (
        "The candidate opened the model answer (`drill review`) at 15m00s; not counted, "
        "as they came after it: 100.0 at 15m50s." in auto
    )


@pytest.mark.parametrize(
    ("name", "fmt", "message"),
    [
        (
            "r.pdf",
            None,
            "--output r.pdf: the report is written as markdown (.md) or HTML (.html, .htm)",
        ),
        ("r.md", "html", "--output r.md is a markdown file, but --format says html"),
    ],
)
def test_the_report_refuses_an_output_it_would_not_write_as_named(
    finished: Mock,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    fmt: str | None,
    message: str,
) -> None:
    out = tmp_path / name
    args = ["mock", "report", "--dir", str(finished.root), "--output", str(out)]
    capsys.readouterr()
    assert run([*args, *(["--format", fmt] if fmt else [])]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"drill: {message}"]
    assert not out.exists()


@pytest.mark.parametrize(
    ("name", "start"), [("r.md", "# Mock"), ("r.htm", "<!DOCTYPE"), ("r", "# Mock")]
)
def test_the_report_writes_each_suffix_it_knows(
    finished: Mock, tmp_path: Path, name: str, start: str
) -> None:
    out = tmp_path / name
    assert run(["mock", "report", "--dir", str(finished.root), "--output", str(out)]) == 0
    assert out.read_text().startswith(start)


def test_the_replay_prompt_says_that_each_key_needs_enter(
    finished: Mock, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    from drills.console import console

    prompts: list[str] = []
    answers = iter(["", "p", "q"])

    def answer(prompt: str) -> str:
        prompts.append(prompt)
        return next(answers)

    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.setattr(console, "input", answer)
    assert run(["mock", "replay", "--dir", str(finished.root)]) == 0
    assert len(prompts) == 3  # frame 1, frame 2, back to frame 1, then q: done
    assert prompts[0] == "[dim]Enter: next · p Enter: previous · q Enter: quit[/] "
    frames_shown = re.findall(r"frame (\d)/2", capsys.readouterr().out)
    assert frames_shown == ["1", "2", "1"]
