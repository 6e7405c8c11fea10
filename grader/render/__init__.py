"""Renderers of a `Report`: Rich for a terminal, JSON, JUnit XML, and markdown."""

from __future__ import annotations

from grader.render.junit import to_junit
from grader.render.markdown import to_markdown
from grader.report import Report

FORMATS = ("rich", "json", "junit", "markdown")


def render_text(report: Report, fmt: str) -> str:
    """Every format but `rich`, which writes to a console (see `grader.render.terminal`)."""
    if fmt == "json":
        return report.dumps() + "\n"
    if fmt == "junit":
        return to_junit(report)
    if fmt == "markdown":
        return to_markdown(report)
    raise ValueError(f"unknown format {fmt!r}")
