"""`drill stats --html FILE`: the same figures as the terminal's, as plots in one page.

matplotlib draws each plot as SVG, inlined in a page that needs nothing else to open
(no script, no network). The same history always writes the same bytes.
"""

from __future__ import annotations

import html
import io
from typing import TYPE_CHECKING, Any

from drills.stats import KataStats, TopicStats

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>drill stats</title>
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;color:#222}}
table{{border-collapse:collapse}}td,th{{padding:.2rem .8rem;border-bottom:1px solid #ddd;
text-align:right}}td:first-child,th:first-child{{text-align:left}}</style></head>
<body><h1>drill stats</h1>
{sections}
</body></html>
"""


def page(per_kata: list[KataStats], per_topic: list[TopicStats]) -> str:
    sections = [
        "<h2>Score per attempt</h2>",
        _svg(_scores(per_kata)),
        "<h2>Time used by each pass, against the kata's limit</h2>",
        _svg(_pass_times(per_kata)),
        "<h2>Per topic: mean of each kata's last score</h2>",
        _svg(_topics(per_topic)),
        "<h2>Per kata</h2>",
        _table(per_kata),
    ]
    return PAGE.format(sections="\n".join(sections))


def _figure(height: float = 3.2) -> Figure:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, height), layout="constrained")
    return fig


def _scores(per_kata: list[KataStats]) -> Figure:
    fig = _figure()
    ax = fig.add_subplot()
    for k in per_kata:
        at: Any = [a.at for a in k.attempts]  # matplotlib plots datetimes; its stubs say floats
        ax.plot(at, k.scores, marker="o", label=k.kata)
    ax.axhline(80, color="#999", linestyle=":", linewidth=1)
    ax.set_ylim(0, 105)
    ax.set_ylabel("score")
    ax.legend(loc="lower right", fontsize="small")
    fig.autofmt_xdate()
    return fig


def _pass_times(per_kata: list[KataStats]) -> Figure:
    fig = _figure()
    ax = fig.add_subplot()
    names = [k.kata for k in per_kata]
    for i, k in enumerate(per_kata):
        times = [a.elapsed_s / 60 for a in k.attempts if a.passed and a.elapsed_s is not None]
        ax.scatter([i] * len(times), times, color="tab:blue", zorder=3)
        ax.hlines(k.minutes, i - 0.35, i + 0.35, color="tab:red", linewidth=2)
    ax.set_xticks(range(len(names)), names, rotation=20, ha="right")
    ax.set_ylabel("minutes (red: the limit)")
    ax.set_ylim(bottom=0)
    return fig


def _topics(per_topic: list[TopicStats]) -> Figure:
    fig = _figure(2.8)
    ax = fig.add_subplot()
    names = [t.topic for t in per_topic]
    ax.barh(names, [t.mean_last or 0.0 for t in per_topic], color="tab:green")
    ax.set_xlim(0, 100)
    ax.invert_yaxis()
    ax.set_xlabel("mean last score")
    return fig


def _svg(fig: Figure) -> str:
    import matplotlib

    matplotlib.rcParams["svg.hashsalt"] = "drill"  # ids from a fixed salt: same bytes
    out = io.StringIO()
    fig.savefig(out, format="svg", metadata={"Date": None})
    text = out.getvalue()
    return text[text.index("<svg") :]  # inline: no XML prolog or doctype


def _table(per_kata: list[KataStats]) -> str:
    rows = ["<table><tr><th>kata</th><th>attempts</th><th>passes</th><th>best</th>"
            "<th>last</th><th>fastest pass</th><th>limit</th></tr>"]  # fmt: skip
    for k in per_kata:
        fastest = k.fastest_pass_min
        cells = [
            html.escape(k.kata),
            str(len(k.attempts)),
            str(k.passes),
            f"{k.best:.1f}" if k.best is not None else "",
            f"{k.last:.1f}" if k.last is not None else "",
            f"{fastest:.0f} min" if fastest is not None else "",
            f"{k.minutes} min",
        ]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return "\n".join([*rows, "</table>"])
