"""The errors a user can cause, each mapped to an exit code and one line of text.

The CLI catches `DrillError` in a single place and prints `str(error)`; anything
else is an internal failure (exit 3) and shows a traceback only with `--debug`.
"""

from __future__ import annotations


class DrillError(Exception):
    """An error with a message meant for the user and an exit code (docs/guide.md)."""

    exit_code = 3


class BadInput(DrillError):
    """Unknown kata, bad duration, not a workspace, existing directory: exit 2."""

    exit_code = 2


class KataError(BadInput):
    """A kata folder that does not match its schema; the message names file and field."""


class InternalError(DrillError):
    """Something on our side broke (a grader child crashed in a way it never should)."""

    exit_code = 3
