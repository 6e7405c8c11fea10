"""Sizes and times for a person, worded one way wherever a grade speaks of them: in a
stage's reason and in every renderer; and text a solution chose, made safe to show."""

from __future__ import annotations

import re
from typing import Any

# Control characters but tab and newline (C0, DEL, C1); the bidirectional overrides and
# isolates that reorder what a reader sees; what no UTF-8 or XML text may hold.
_UNPRINTABLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]"
)


def printable(text: str) -> str:
    """`text` with its control characters written out (`\\x1b`, `\\u202e`): a string a
    solution chose (an exception's message) must not drive the terminal of whoever reads
    the grade, hide text behind a carriage return, or break a JUnit file."""
    return _UNPRINTABLE.sub(_written_out, text)


def printable_value(value: Any) -> Any:
    """`value` (JSON-like: numbers, strings, lists and dicts of them) with every string
    in it, keys included, made printable."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable_value(k): printable_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [printable_value(v) for v in value]
    if isinstance(value, tuple):  # a named tuple too: JSON makes it a list anyway
        return tuple(printable_value(v) for v in value)
    return value


def _written_out(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def minutes(seconds: float | None) -> str:
    """`12m05s`; `-` for no time at all."""
    if seconds is None:
        return "-"
    s = round(abs(seconds))
    return f"{s // 60}m{s % 60:02d}s"


def size(n: float) -> str:
    """Bytes: 812 B, 64.0 KiB, 1.5 MiB, 2.00 GiB."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(n) >= scale:
            return f"{n / scale:.{2 if unit == 'GiB' else 1}f} {unit}"
    return f"{int(n)} B"


def duration(seconds: float) -> str:
    """A call's time: `2.67 ms`, `87.5 us`."""
    return f"{seconds * 1e3:.3g} ms" if seconds >= 1e-4 else f"{seconds * 1e6:.3g} us"
