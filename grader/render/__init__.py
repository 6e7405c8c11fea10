"""Renderers of a `Report`: Rich for a terminal, JSON, JUnit XML, and markdown.

`Format` is the one list of them: `drill grade --format` offers exactly these."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from grader.report import Report


class Format(StrEnum):
    rich = "rich"  # a terminal's: grader.render.terminal writes it to a console
    json = "json"
    junit = "junit"
    markdown = "markdown"


def render_text(report: Report, fmt: Format | str) -> str:
    """Every format but `rich`, as text. (Imported here: the CLI lists the formats on
    every start, and renders one only when asked.)"""
    match Format(fmt):
        case Format.json:
            return report.dumps() + "\n"
        case Format.junit:
            from grader.render.junit import to_junit

            return to_junit(report)
        case Format.markdown:
            from grader.render.markdown import to_markdown

            return to_markdown(report)
        case Format.rich:
            raise ValueError("rich output goes to a console: grader.render.terminal")
