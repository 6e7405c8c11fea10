"""The interviewer's sections as lines of text, shared by the console and the printout.

One function per section, data in, `(text, style)` lines out; the console shows the
styles, the printout drops them. Both therefore say exactly the same thing.
"""

from __future__ import annotations

from typing import Any

from drills.mock.script import Script
from drills.mock.state import GradeRun, MockState, PartialRun, describe_grade, describe_partial
from drills.workspace import Session
from grader.wording import minutes

Line = tuple[str, str]  # (text, Rich style or "")


def clock(session: Session, elapsed_s: float) -> Line:
    left = session.limit_s - elapsed_s
    used = f"{minutes(elapsed_s)} used of {minutes(session.limit_s)}"
    if left >= 0:
        return f"{used}, {minutes(left)} left", "bold"
    return f"{used}, {minutes(-left)} over time", "bold red"


def phase_starts(script: Script, state: MockState) -> list[float | None]:
    """When each phase actually began (the first move to it), None if it never did."""
    starts: list[float | None] = [0.0] + [None] * (len(script.phases) - 1)
    for mark in state.phases:
        if 0 <= mark.index < len(starts) and starts[mark.index] is None:
            starts[mark.index] = mark.t
    return starts


def current_phase(script: Script, state: MockState, elapsed_s: float) -> int:
    marked = state.current_phase()
    return marked if marked is not None else script.planned_phase(elapsed_s)


def phases(script: Script, state: MockState, elapsed_s: float, move_on: str = "") -> list[Line]:
    current = current_phase(script, state, elapsed_s)
    starts = phase_starts(script, state)
    width = max(len(p.name) for p in script.phases)
    lines: list[Line] = []
    for i, phase in enumerate(script.phases):
        begin, end = script.phase_start_s(i), script.phase_start_s(i + 1)
        text = f"{'>' if i == current else ' '} {phase.name:<{width}}  {begin / 60:g}-{end / 60:g}m"
        start = starts[i]
        style = ""
        if i == current and start is not None:
            spent = elapsed_s - start
            text += f"  {minutes(spent)} in"
            over = spent - 60 * phase.minutes
            style = "bold red" if over > 0 else "bold"
            if over > 0:
                text += f", {minutes(over)} over"
        elif i == current:
            style = "bold"
        elif start is not None and i < current:
            following = next((s for s in starts[i + 1 :] if s is not None), None)
            if following is not None:
                text += f"  took {minutes(following - start)}"
            style = "dim"
        lines.append((text, style))
    if not state.phases:
        lines.append((f"  (following the plan{'; ' + move_on if move_on else ''})", "dim"))
    return lines


def planted(script: Script) -> list[Line]:
    """A bug hunt's planted bug, for the interviewer's eyes: read the symptom out, keep
    the rest until the candidate has found it (or time is up)."""
    bug = script.bug
    if bug is None:
        return []
    lines: list[Line] = [
        ("Planted bug (do not read out)", "bold red"),
        (f"    {bug.name}: {bug.bug}", ""),
        ("Read out as the user's report:", "bold"),
        (f"    {bug.symptom}", ""),
        ("Why it is subtle:", "bold"),
        (f"    {bug.subtle}", ""),
        ("The planted change (- correct, + planted):", "bold"),
        *((f"    {line}", "dim") for line in bug.patch.splitlines()),
    ]
    if script.nudges:
        lines.append(("Nudges on method (free to say):", "bold"))
        lines += [(f"    - {n}", "") for n in script.nudges]
    return [*lines, ("", "")]


def clarifications(script: Script) -> list[Line]:
    lines: list[Line] = []
    for i, c in enumerate(script.clarifications, 1):
        lines += [(f"Q{i}. {c.question}", "bold"), (f"    {c.answer}", ""), ("", "")]
    return lines[:-1]


def hints(script: Script, state: MockState, reveal: str) -> list[Line]:
    given = {h.index: h.t for h in state.hints}
    lines: list[Line] = []
    for i, text in enumerate(script.hints):
        if i in given:
            lines.append((f"{i + 1}. [given at {minutes(given[i])}] {text}", "green"))
        else:
            lines.append((f"{i + 1}. [not given] {text}", ""))
    nxt = next((i for i in range(len(script.hints)) if i not in given), None)
    lines.append(
        (f"Next on the ladder: hint {nxt + 1} ({reveal})", "dim")
        if nxt is not None
        else ("Every hint has been given.", "dim")
    )
    return lines


def follow_ups(script: Script, state: MockState) -> list[Line]:
    asked = {m.index: m.t for m in state.follow_ups}
    return [
        (f"{i + 1}. [asked at {minutes(asked[i])}] {text}", "green")
        if i in asked
        else (f"{i + 1}. {text}", "")
        for i, text in enumerate(script.follow_ups)
    ]


def _statuses(checks: dict[str, dict[str, Any]]) -> str:
    return ", ".join(f"{name} {c.get('status', '?')}" for name, c in checks.items())


def grade_line(g: GradeRun) -> str:
    checks = _statuses(g.checks)
    return f"last grade at {minutes(g.t)}: {describe_grade(g.score, g.passed)}" + (
        f"; {checks}" if checks else ""
    )


def partial_line(p: PartialRun) -> str:
    """A `drill grade --only` run: the checks that ran, no score out of 100."""
    checks = _statuses(p.checks)
    return f"grade --only at {minutes(p.t)}: {describe_partial(p.ran, p.passed)}" + (
        f"; {checks}" if checks else ""
    )


def latest_run(state: MockState) -> str:
    """The candidate's most recent test, grade or partial grade, in one line."""
    runs: list[tuple[float, str]] = [(g.t, grade_line(g)) for g in state.grades[-1:]]
    runs += [(p.t, partial_line(p)) for p in state.partials[-1:]]
    runs += [
        (t.t, f"test at {minutes(t.t)}: {t.passed} passed, {t.failed} failed")
        for t in state.tests[-1:]
    ]
    if not runs:
        return "no runs yet"
    return max(runs, key=lambda r: r[0])[1]  # of equal times, the first: a grade


def candidate(state: MockState) -> list[Line]:
    lines: list[Line] = []
    if state.tests:
        t = state.tests[-1]
        lines.append(
            (
                f"last test at {minutes(t.t)}: {t.passed} passed, {t.failed} failed",
                "green" if t.ok else "red",
            )
        )
        first = state.first_pass_t
        lines.append(
            (f"first passing test at {minutes(first)}", "")
            if first is not None
            else ("no passing `drill test` run yet", "")
        )
        lines.append((f"{len(state.tests)} test run(s)", "dim"))
    else:
        lines.append(("no test run yet", "dim"))
    # The mock's grade is the last full one: a partial run (--only) has no score out of
    # 100, and a grade after the candidate saw the model answer is not theirs alone.
    g = state.counted_grade()
    if g is not None:
        lines.append((grade_line(g), "green" if g.passed else "red"))
        for name, c in g.checks.items():
            if c.get("status") != "pass" and c.get("reason"):
                lines.append((f"  {name}: {c['reason']}", "dim"))
    else:
        lines.append(("no full grade yet", "dim"))
    latest = state.partials[-1] if state.partials else None
    if latest is not None and (g is None or latest.t > g.t):
        lines.append((partial_line(latest), "dim"))
    if state.reviewed_t is not None:
        later = state.runs_after_review()
        lines.append(
            (
                f"model answer opened at {minutes(state.reviewed_t)}"
                + (f"; {later} grade(s) after it not counted" if later else ""),
                "dim",
            )
        )
    return lines


def rubric(script: Script, state: MockState) -> list[Line]:
    lines: list[Line] = []
    for d in script.rubric:
        scored = state.scores.get(d.key)
        lines.append((f"{d.title}: {f'{scored.value}/4' if scored else 'not scored'}", "bold"))
        for n, text in d.anchors.items():
            chosen = scored is not None and scored.value == n
            lines.append((f"  {n}  {text}", "green" if chosen else ""))
    return lines


def scores(script: Script, state: MockState) -> list[Line]:
    parts = [
        f"{d.key.replace('_', ' ')} {state.scores[d.key].value if d.key in state.scores else '-'}"
        for d in script.rubric
    ]
    total = sum(s.value for s in state.scores.values())
    return [(" · ".join(parts), ""), (f"total {total}/{4 * len(script.rubric)}", "bold")]


def notes(state: MockState) -> list[Line]:
    return [(f"{minutes(n.t)}  {n.text}", "") for n in state.notes] or [("no notes yet", "dim")]


def mistakes(script: Script) -> list[Line]:
    return [(f"- {m}", "") for m in script.common_mistakes]
