"""The two consoles: results on stdout, messages and progress on stderr.

Messages are Rich markup. Anything in them that drill did not write itself (a path, a
grade's reason, a name from a file) goes through `shown`, so that a folder called
`ws[/x]` prints as it is named instead of breaking the markup, and a control
character a solution chose prints written out.
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from grader.wording import printable

console = Console()
err_console = Console(stderr=True)


def shown(value: object) -> str:
    """`value` as text to put inside a markup string, shown exactly as it is."""
    return escape(printable(str(value)))
