"""`drill mock report`: the feedback report of a mock interview, in markdown or HTML.

The report is built once as a list of sections (a title, paragraphs, a table, bullet
points) and then written out by either renderer, so the two formats cannot disagree.
The HTML file is self-contained: inline CSS and an inline SVG chart (chart.py), no
scripts, fonts or images from elsewhere.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from drills.mock.chart import runs_svg
from drills.mock.interview import Mock
from drills.mock.script import Script
from drills.mock.state import GradeRun, MockState, PartialRun
from drills.mock.views import phase_starts
from drills.workspace import Session, now
from grader.checks import TITLES
from grader.kata import Kata
from grader.render.markdown import code_span
from grader.wording import minutes


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]


@dataclass(frozen=True)
class Section:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    table: Table | None = None
    bullets: list[str] = field(default_factory=list)
    chart: str = ""  # inline SVG, HTML only


@dataclass(frozen=True)
class MockReport:
    title: str
    meta: list[str]
    sections: list[Section]


def build(mock: Mock, at: datetime | None = None) -> MockReport:
    session, state, script, kata = mock.session(), mock.state(), mock.script, mock.kata
    when = at or now()
    end_t = max(state.last_t, 0.0)
    span = max(session.limit_s, end_t)
    meta = [
        f"kata `{kata.id}`, started {session.started_at}, attempt {session.attempt}",
        f"last activity at {minutes(end_t)} of {minutes(session.limit_s)}"
        + (f" ({minutes(end_t - session.limit_s)} over time)" if end_t > session.limit_s else ""),
        f"report written {when.isoformat(timespec='seconds')}",
    ]
    sections = [
        _auto_grade(state),
        *([_bug_hunt(mock)] if script.bug is not None else []),
        _rubric(script, state),
        _hints(script, state),
        _runs(state, span),
        _phases(script, state, end_t),
        _follow_ups(script, state),
        _notes(state),
        Section("What to practise next", bullets=practise_next(kata, script, session, state)),
        Section("Common mistakes to review", bullets=list(script.common_mistakes)),
    ]
    return MockReport(f"Mock interview: {kata.title}", meta, sections)


def _auto_grade(state: MockState) -> Section:
    """The mock's grade: the last full `drill grade` before the model answer was seen.
    Partial runs (--only) are listed as such, with no score: they are not grades."""
    g = state.counted_grade()
    paragraphs: list[str] = []
    table = None
    if g is None:
        paragraphs.append(
            "No full grade was run (`drill grade` in the workspace)."
            if state.grades or state.partials
            else "No grade was run (`drill grade` in the workspace)."
        )
    else:
        verdict = "passed" if g.passed else "not passed"
        paragraphs.append(f"Last grade at {minutes(g.t)}: **{g.score:.1f}/100, {verdict}**.")
        counted = [x for x in state.grades if x.t <= g.t]
        if len(counted) > 1:
            paragraphs.append(
                f"{len(counted)} grades in all; scores: "
                + ", ".join(f"{x.score:.1f} at {minutes(x.t)}" for x in counted)
                + "."
            )
        rows = [
            (
                TITLES.get(name, name),
                str(c.get("status", "?")),
                f"{c.get('score', 0)}/{c.get('max', 0)}",
                code_span(str(c.get("reason", ""))),  # it may quote the candidate's code
            )
            for name, c in g.checks.items()
        ]
        table = Table(("check", "status", "points", "reason"), rows)
    notes: list[str] = []  # after the grade's table: they are not about that grade
    if state.partials:
        notes.append(
            "Partial runs (`drill grade --only`: not grades of the kata, no score out of 100): "
            + ", ".join(f"{_partial_result(p)} at {minutes(p.t)}" for p in state.partials)
            + "."
        )
    if state.reviewed_t is not None:
        later = [x for x in state.grades if x.t > state.reviewed_t]
        notes.append(
            f"The candidate opened the model answer (`drill review`) at {minutes(state.reviewed_t)}"
            + (
                "; not counted, as they came after it: "
                + ", ".join(f"{x.score:.1f} at {minutes(x.t)}" for x in later)
                if later
                else ""
            )
            + "."
        )
    return Section("Auto-grade", paragraphs, table, notes)


def _partial_result(p: PartialRun) -> str:
    failing = [n for n, c in p.checks.items() if c.get("status") != "pass"]
    text = f"{', '.join(p.ran)}: {'passed' if p.passed else 'not passed'}"
    return text + (f" (not passing: {', '.join(failing)})" if failing else "")


def _bug_hunt(mock: Mock) -> Section:
    """The planted bug beside what the candidate said it was."""
    from drills.hunt import read_diagnosis

    bug = mock.script.bug
    assert bug is not None
    diagnosis = read_diagnosis(mock.root)
    said = code_span(diagnosis) if diagnosis else "none written (diagnosis.txt)"
    return Section(
        "The planted bug",
        [
            f"**{bug.name}**: {bug.bug}",
            f"The candidate's diagnosis: {said}",
            f"Why it is subtle: {bug.subtle}",
        ],
    )


def _rubric(script: Script, state: MockState) -> Section:
    rows = []
    for d in script.rubric:
        s = state.scores.get(d.key)
        rows.append(
            (d.title, f"{s.value}/4" if s else "-", d.anchors[s.value] if s else "not scored")
        )
    total = sum(s.value for s in state.scores.values())
    scored = len(state.scores)
    paragraphs = [
        f"Total {total}/{4 * len(script.rubric)} ({scored} of {len(script.rubric)} scored)."
    ]
    return Section(
        "Rubric", paragraphs, Table(("dimension", "score", "what that score means"), rows)
    )


def _hints(script: Script, state: MockState) -> Section:
    if not state.hints:
        return Section("Hints", ["No hints were given."])
    rows = [
        (str(h.index + 1), minutes(h.t), script.hints[h.index])
        for h in state.hints
        if h.index < len(script.hints)
    ]
    return Section(
        "Hints",
        [f"{len(state.hints)} of {len(script.hints)} hints given."],
        Table(("hint", "given at", "text"), rows),
    )


def _runs(state: MockState, span_s: float) -> Section:
    first = state.first_pass_t
    graded: list[GradeRun | PartialRun] = sorted(
        [*state.grades, *state.partials], key=lambda g: g.t
    )
    hidden_pass = next(
        (
            g.t
            for g in graded
            if g.checks.get("tests", {}).get("status") == "pass"
            and (state.reviewed_t is None or g.t <= state.reviewed_t)
        ),
        None,
    )
    if first is not None:
        line = f"Time to first passing visible test: **{minutes(first)}**."
    elif not state.tests:
        line = "`drill test` was never run: the grades were the only test runs."
    else:
        line = "No `drill test` run passed."
    if first is None and hidden_pass is not None:
        line += f" Every hidden test passed in the grade at {minutes(hidden_pass)}."
    paragraphs = [line]
    runs: list[tuple[float, tuple[str, ...]]] = [
        (r.t, (minutes(r.t), "test", f"{r.passed} passed, {r.failed} failed")) for r in state.tests
    ]
    after = state.reviewed_t
    runs += [
        (
            g.t,
            (
                minutes(g.t),
                "grade",
                _grade_result(g)
                + (", after the model answer" if after is not None and g.t > after else ""),
            ),
        )
        for g in state.grades
    ]
    runs += [(p.t, (minutes(p.t), "grade --only", _partial_result(p))) for p in state.partials]
    rows = [row for _, row in sorted(runs, key=lambda r: r[0])]
    if not rows:
        return Section("Test and grade runs", ["No tests or grades were run."])
    chart = runs_svg(state.tests, state.grades, state.hints, span_s)
    return Section(
        "Test and grade runs", paragraphs, Table(("at", "run", "result"), rows), chart=chart
    )


def _grade_result(g: GradeRun) -> str:
    failing = [n for n, c in g.checks.items() if c.get("status") != "pass"]
    text = f"{g.score:.1f}, {'passed' if g.passed else 'not passed'}"
    return text + (f" (not passing: {', '.join(failing)})" if failing else "")


def _phases(script: Script, state: MockState, end_t: float) -> Section:
    if not state.phases:
        rows = [(p.name, f"{p.minutes:g}m", "not marked") for p in script.phases]
        return Section(
            "Phases",
            ["The interviewer did not mark phase changes."],
            Table(("phase", "planned", "actual"), rows),
        )
    starts = phase_starts(script, state)
    rows = []
    for i, p in enumerate(script.phases):
        start = starts[i]
        following = next((s for s in starts[i + 1 :] if s is not None), None)
        if start is None:
            actual = "skipped"
        else:
            stop = following if following is not None else end_t
            actual = f"{minutes(stop - start)} (from {minutes(start)})"
        rows.append((p.name, f"{p.minutes:g}m", actual))
    return Section("Phases", [], Table(("phase", "planned", "actual"), rows))


def _follow_ups(script: Script, state: MockState) -> Section:
    asked = [
        f"{minutes(m.t)}: {script.follow_ups[m.index]}"
        for m in state.follow_ups
        if m.index < len(script.follow_ups)
    ]
    if not asked:
        return Section("Follow-ups asked", ["No follow-ups were marked as asked."])
    return Section("Follow-ups asked", bullets=asked)


def _notes(state: MockState) -> Section:
    if not state.notes:
        return Section("Notes", ["No notes."])
    return Section("Notes", bullets=[f"{minutes(n.t)} ({n.by}): {n.text}" for n in state.notes])


def practise_next(kata: Kata, script: Script, session: Session, state: MockState) -> list[str]:
    """Concrete next steps, weakest first: rubric gaps, failing checks, hints, time."""
    advice: list[str] = []
    for d in sorted(
        script.rubric, key=lambda d: state.scores[d.key].value if d.key in state.scores else 5
    ):
        s = state.scores.get(d.key)
        if s is not None and s.value < 4:
            advice.append(f'{d.title} ({s.value}/4): the next level is "{d.anchors[s.value + 1]}"')
    grade = state.counted_grade()
    if grade is None:
        advice.append(
            "Finish with a full `drill grade`: the hidden tests, types, memory and speed were never measured."
        )
    else:
        for name, c in grade.checks.items():
            if c.get("status") != "pass":
                reason = c.get("reason") or "did not pass"
                advice.append(f"{TITLES.get(name, name)}: {reason}")
    if state.first_pass_t is None:
        advice.append(
            "Get the visible tests passing early: a simple, correct version first, then make it fast."
        )
    else:
        code_end = _phase_end_s(script, "code")
        if code_end is not None and state.first_pass_t > code_end:
            advice.append(
                f"The first passing test came at {minutes(state.first_pass_t)}, after the planned "
                f"coding time ended ({minutes(code_end)}): write the plainest correct version first."
            )
    if state.hints:
        advice.append(
            f"Redo `{kata.id}` without hints (`drill start {kata.id} --timed {kata.minutes}m`); "
            f'the first hint you needed was: "{script.hints[state.hints[0].index]}"'
        )
    if state.last_t > session.limit_s:
        advice.append(
            f"Time: the session ran {minutes(state.last_t - session.limit_s)} over; practise with `--timed` and keep to the phases."
        )
    if not advice:
        advice.append("Nothing stood out: take a harder kata next (`drill list`).")
    return advice


def _phase_end_s(script: Script, name: str) -> float | None:
    for i, p in enumerate(script.phases):
        if p.name == name:
            return script.phase_start_s(i + 1)
    return None


# --- markdown ---------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(r: MockReport) -> str:
    out = [f"# {r.title}", "", *[f"- {m}" for m in r.meta]]
    for s in r.sections:
        out += ["", f"## {s.title}", ""]
        for p in s.paragraphs:
            out += [p, ""]
        if s.table:
            out.append("| " + " | ".join(s.table.headers) + " |")
            out.append("|" + "|".join("---" for _ in s.table.headers) + "|")
            out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in s.table.rows]
            out.append("")
        out += [f"- {b}" for b in s.bullets]
        while out and out[-1] == "":
            out.pop()
    return "\n".join(out) + "\n"


# --- HTML -------------------------------------------------------------------------------

CSS = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; vertical-align: top; padding: .3rem .6rem; border-bottom: 1px solid #eee; }
th { background: #f5f5f5; } .meta { color: #666; } code { background: #f3f3f3; padding: 0 .2rem; }
.legend span { margin-right: 1rem; } svg { max-width: 100%; height: auto; }
"""
LEGEND = (
    '<p class="legend"><span style="color:#2e7d32">● tests all passed</span>'
    '<span style="color:#c62828">● tests failing</span>'
    '<span style="color:#1565c0">■ grade passed</span>'
    '<span style="color:#ef6c00">■ grade not passed</span>'
    '<span style="color:#b8860b">┆ hint</span></p>'
)


# A code span as markdown writes it: a fence of backticks, the same fence to close it.
_CODE = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.S)


def _inline(text: str) -> str:
    """Escape, then the two bits of markdown the sections use: `code` (any fence, as
    `code_span` writes text that quotes the candidate) and **bold** outside it."""
    out, last = [], 0
    for m in _CODE.finditer(text):
        out.append(_bold(html.escape(text[last : m.start()], quote=False)))
        inner = m.group(2)
        if inner.startswith(" ") and inner.endswith(" ") and inner.strip():
            inner = inner[1:-1]
        out.append(f"<code>{html.escape(inner, quote=False)}</code>")
        last = m.end()
    out.append(_bold(html.escape(text[last:], quote=False)))
    return "".join(out)


def _bold(escaped: str) -> str:
    parts = escaped.split("**")
    return "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(parts))


def to_html(r: MockReport) -> str:
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        '<head><meta charset="utf-8">',
        f"<title>{html.escape(r.title)}</title>",
        f"<style>{CSS}</style></head>",
        "<body>",
        f"<h1>{html.escape(r.title)}</h1>",
        '<ul class="meta">' + "".join(f"<li>{_inline(m)}</li>" for m in r.meta) + "</ul>",
    ]
    for s in r.sections:
        out.append(f"<section><h2>{html.escape(s.title)}</h2>")
        out += [f"<p>{_inline(p)}</p>" for p in s.paragraphs]
        if s.chart:
            out += [s.chart, LEGEND]
        if s.table:
            head = "".join(f"<th>{html.escape(h)}</th>" for h in s.table.headers)
            body = "".join(
                "<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>"
                for row in s.table.rows
            )
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        if s.bullets:
            out.append("<ul>" + "".join(f"<li>{_inline(b)}</li>" for b in s.bullets) + "</ul>")
        out.append("</section>")
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


def render(r: MockReport, fmt: str) -> str:
    return to_html(r) if fmt == "html" else to_markdown(r)
