"""Options the practice and mock commands share, worded once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def _writable(value: Path | None) -> Path | None:
    """Refuse an output path before any work is done (a grade takes a minute)."""
    from drills.workspace import check_output
    from grader.errors import BadInput

    if value is not None:
        try:
            check_output(value)
        except BadInput as exc:
            raise typer.BadParameter(str(exc)) from None
    return value


DirOption = Annotated[
    Path,
    typer.Option("--dir", "-d", help="The workspace (default: this folder or the nearest parent)."),
]
KataArgument = Annotated[
    str,
    typer.Argument(help="Kata id, e.g. kv-cache; bug-hunt: the bug hunt with most left to see."),
]
NewDirOption = Annotated[
    Path | None, typer.Option("--dir", "-d", help="Workspace folder (default ./KATA).")
]
TimedOption = Annotated[
    str | None, typer.Option("--timed", "-t", help="Time limit: 30m, 45m, 1h30m, 90s.")
]
ForceOption = Annotated[
    bool, typer.Option("--force", help="Move an existing folder aside to a backup first.")
]
ResumeOption = Annotated[bool, typer.Option("--resume", help="Carry on in an existing workspace.")]
BugOption = Annotated[
    str | None,
    typer.Option(
        "--bug",
        help="Bug hunts: plant this bug (a name from the kata's mutants.yaml; with bug-hunt, "
        "from any family) instead of drawing one not seen yet; for interviewers and courses.",
    ),
]
OutputOption = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Write to this file.", callback=_writable),
]
HtmlOption = Annotated[
    Path | None,
    typer.Option("--html", help="Also write the plots to this HTML file.", callback=_writable),
]
