"""The report's chart: test and grade runs over the interview, as inline SVG.

x is minutes since the start, y is percent: the share of visible tests passing for a
`drill test` (a circle, green when all passed), the score for a `drill grade` (a square,
blue when it passed, orange when not). Hints are dashed vertical lines. The SVG has no
scripts and no external references, so the report stays one self-contained file.

Geometry, worked by hand for the defaults (640 x 240, margins left 44, right 16, top 16,
bottom 34): the plot spans x in [44, 624] and y in [16, 206]. Over a 20-minute span a run
at 10m sits at x = 44 + 580 * 10/20 = 334; a score of 50 sits at y = 16 + 190 * 0.5 = 111.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from drills.mock.state import GradeRun, Mark, VisibleRun
from grader.wording import minutes

GREEN, RED, BLUE, ORANGE, GOLD, GREY = (
    "#2e7d32",
    "#c62828",
    "#1565c0",
    "#ef6c00",
    "#b8860b",
    "#9e9e9e",
)


@dataclass(frozen=True)
class Plot:
    span_s: float
    width: int = 640
    height: int = 240
    left: int = 44
    right: int = 16
    top: int = 16
    bottom: int = 34

    def x(self, t: float) -> float:
        inner = self.width - self.left - self.right
        return self.left + inner * min(max(t, 0.0), self.span_s) / self.span_s

    def y(self, percent: float) -> float:
        inner = self.height - self.top - self.bottom
        return self.top + inner * (1.0 - min(max(percent, 0.0), 100.0) / 100.0)


def tick_step(span_s: float) -> int:
    """Minutes between x ticks: the smallest of 1, 2, 5, 10, 15, 30 giving at most 10 ticks."""
    span_m = span_s / 60
    return next((s for s in (1, 2, 5, 10, 15, 30) if span_m / s <= 10), 60)


def passing_percent(run: VisibleRun) -> float:
    total = run.passed + run.failed
    return 100.0 * run.passed / total if total else 0.0


def _f(v: float) -> str:
    return f"{v:.1f}"


def runs_svg(
    tests: list[VisibleRun], grades: list[GradeRun], hints: list[Mark], span_s: float
) -> str:
    p = Plot(span_s=max(span_s, 60.0))
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{p.width}" height="{p.height}" '
        f'viewBox="0 0 {p.width} {p.height}" role="img" '
        'aria-label="test and grade runs over time" font-family="sans-serif" font-size="11">'
    ]
    for pct in (0, 50, 100):  # horizontal grid with labels
        y = _f(p.y(pct))
        out.append(
            f'<line x1="{p.left}" y1="{y}" x2="{p.width - p.right}" y2="{y}" stroke="#e0e0e0"/>'
        )
        out.append(f'<text x="{p.left - 6}" y="{y}" text-anchor="end" dy="4">{pct}%</text>')
    step = tick_step(p.span_s)
    base = _f(p.y(0))
    for m in range(0, int(p.span_s // 60) + 1, step):
        x = _f(p.x(60.0 * m))
        out.append(f'<line x1="{x}" y1="{base}" x2="{x}" y2="{_f(p.y(0) + 4)}" stroke="{GREY}"/>')
        out.append(f'<text x="{x}" y="{_f(p.y(0) + 16)}" text-anchor="middle">{m}m</text>')
    for h in hints:
        x = _f(p.x(h.t))
        out.append(
            f'<line x1="{x}" y1="{p.top}" x2="{x}" y2="{base}" stroke="{GOLD}" '
            f'stroke-dasharray="4 3"><title>hint {h.index + 1} at {minutes(h.t)}</title></line>'
        )
        out.append(
            f'<text x="{x}" y="{p.top - 4}" text-anchor="middle" fill="{GOLD}">H{h.index + 1}</text>'
        )
    if len(grades) > 1:
        points = " ".join(f"{_f(p.x(g.t))},{_f(p.y(g.score))}" for g in grades)
        out.append(
            f'<polyline points="{points}" fill="none" stroke="{BLUE}" stroke-opacity="0.5"/>'
        )
    for r in tests:
        label = escape(f"test at {minutes(r.t)}: {r.passed} passed, {r.failed} failed")
        out.append(
            f'<circle class="test" cx="{_f(p.x(r.t))}" cy="{_f(p.y(passing_percent(r)))}" r="4" '
            f'fill="{GREEN if r.ok else RED}"><title>{label}</title></circle>'
        )
    for g in grades:
        label = escape(
            f"grade at {minutes(g.t)}: {g.score:.1f}, {'passed' if g.passed else 'not passed'}"
        )
        out.append(
            f'<rect class="grade" x="{_f(p.x(g.t) - 4)}" y="{_f(p.y(g.score) - 4)}" width="8" '
            f'height="8" fill="{BLUE if g.passed else ORANGE}"><title>{label}</title></rect>'
        )
    out.append("</svg>")
    return "\n".join(out)
